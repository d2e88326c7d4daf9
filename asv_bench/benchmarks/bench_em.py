"""fastgmm against scikit-learn on the standard problems (small-2d, mid, wide,
tall-diag: ``fastgmm.bench.PROBLEMS``), and in ``EM`` and ``LowerBound`` also
on two with many features (tied-200, full-400: ``fastgmm.bench.WIDE_PROBLEMS``).

Every library starts from the same initial parameters (``weights_init``,
``means_init``, ``precisions_init`` from :func:`fastgmm.bench.make_problem`),
``tol=0``; fastgmm's kernels are compiled (or loaded from the disk cache) in
``setup()``, so no timing includes compilation except ``timeraw_cold_cache_*``.

- ``EM.time_fit``: a fit with ``max_iter=N_ITER`` (validation, N_ITER EM
  iterations; scikit-learn's ``fit`` also runs a final E-step, fastgmm's
  only in ``fit_predict``), what a user's ``fit`` costs.
- ``EM.track_seconds_per_iteration``: ``(t(1 + N_ITER) - t(1)) / N_ITER`` with
  fixed-iteration fits, the difference technique of ``python -m fastgmm.bench``
  (best of 3): validation and the final E-step cancel out.
- ``Small.track_seconds_per_iteration``: the same on small data
  (``fastgmm.bench.SMALL_PROBLEMS``: tiny-2d, tiny-5d, tiny-1d) with each
  covariance type, ``SMALL_EXTRA`` iterations in the difference: where the
  Python between two passes weighs (``python -m fastgmm.bench --small``).
- ``FitMemory.peakmem_fit``: peak resident memory of the process during a
  ``max_iter=2`` fit, X included; the transient peak of generating the data in
  ``setup()`` is excluded (the peak is reset at the end of setup on Linux).
- ``Float32.track_float64_over_float32``: fastgmm's seconds per iteration on
  float64 data over those on the same data in float32 (``fastgmm.bench
  --dtype-ratio``), on tall-diag and stream-diag (4M x 20, K=2, diag, close
  to memory-bound on two cores): above 1 where float32 is faster.
- ``LowerBound.track_lower_bound``: the lower bound after 5 iterations, to
  catch numerical regressions.
- ``SeedWorkload.time_fit_aic``: the seed workload's fit and AIC (PCA-whitened
  digits, 1,797 x 41, full, defaults, ``random_state=0``) for K = 50 and 200:
  k-means initialisation, EM to convergence, the AIC's scoring pass.
- ``Select.time_select``: choosing K on moons (20 fits, full; 80 fits, four
  covariance types) with ``select_model`` and with a loop of fastgmm fits
  (``python -m fastgmm.bench_select moons moons4``).
- ``StartUp.timeraw_*``: fresh interpreters: import + fit 1,000 x 2 (K=3) +
  predict with a warm Numba cache, fastgmm and sklearn, timed by asv inside
  the child (its start and exit are not counted; ``fastgmm.bench --startup``
  times whole processes).
- ``ColdCache.timeraw_cold_cache_all_covariance_types``: fastgmm with an empty
  Numba cache (a new ``NUMBA_CACHE_DIR``) fitting and scoring all four
  covariance types: the compile cost.

``asv run --python=same --quick`` (each benchmark once) takes 3-6 minutes
on a 2-core machine, most of it scikit-learn's fits and the cold-cache
compilation; it benchmarks the fastgmm the interpreter imports (asv drops
``PYTHONPATH``).
"""

import warnings

import numpy as np
from sklearn.mixture import GaussianMixture as SkGM

from fastgmm import GaussianMixture, bench

N_ITER = 3
PROBLEMS = list(bench.PROBLEMS)
#: many features: tied-200 (one triangular product per row for all
#: components), full-400 (the M-step's Cholesky factors weigh in)
WIDE_PROBLEMS = list(bench.WIDE_PROBLEMS)
LIBRARIES = {"fastgmm": GaussianMixture, "sklearn": SkGM}


def _fit(cls, X, params, max_iter=N_ITER):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(max_iter=max_iter, **params).fit(X)


def _setup(problem, library):
    X, params = bench.make_problem(problem)
    cls = LIBRARIES[library]
    # lazy imports (both); fastgmm on all of X, so that the parallel kernels
    # are loaded too (5,000 rows of small-2d run only their serial twins)
    _fit(cls, X if library == "fastgmm" else X[:5000], params, 1)
    return X, params, cls


class EM:
    """EM iterations from identical initial parameters, tol=0."""

    params = (PROBLEMS + WIDE_PROBLEMS, list(LIBRARIES))
    param_names = ["problem", "library"]
    timeout = 900
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, problem, library):
        self.X, self.params, self.cls = _setup(problem, library)

    def time_fit(self, problem, library):
        _fit(self.cls, self.X, self.params)

    def track_seconds_per_iteration(self, problem, library):
        return bench.per_iteration(self.cls, self.X, self.params, base=1, extra=N_ITER,
                                   repeat=3)  # best of 3: one sample read 50x off

    track_seconds_per_iteration.unit = "seconds"


class Small:
    """EM iterations on small data, four covariance types, tol=0."""

    params = (list(bench.SMALL_PROBLEMS), list(bench.COVARIANCE_TYPES), list(LIBRARIES))
    param_names = ["problem", "covariance_type", "library"]
    timeout = 600

    def setup(self, problem, covariance_type, library):
        self.X, self.params = bench.make_problem(problem, cov_type=covariance_type)
        self.cls = LIBRARIES[library]
        _fit(self.cls, self.X, self.params, 1)  # compiled (or loaded), lazy imports

    def track_seconds_per_iteration(self, problem, covariance_type, library):
        return bench.per_iteration(self.cls, self.X, self.params, base=1,
                                   extra=bench.SMALL_EXTRA, repeat=3)

    track_seconds_per_iteration.unit = "seconds"


class FitMemory:
    """Peak resident memory of the process during a whole fit (X included)."""

    params = (PROBLEMS, list(LIBRARIES))
    param_names = ["problem", "library"]
    timeout = 900

    def setup(self, problem, library):
        self.X, self.params, self.cls = _setup(problem, library)
        bench.reset_peak_rss()  # forget make_problem's temporaries (Linux)

    def peakmem_fit(self, problem, library):
        _fit(self.cls, self.X, self.params, 2)


class Float32:
    """float64 over float32 seconds per iteration (fastgmm)."""

    params = ["tall-diag", "stream-diag"]
    param_names = ["problem"]
    timeout = 900
    unit = "float64 time / float32 time"

    def setup(self, problem):
        self.data = []
        for dtype in (np.float64, np.float32):
            X, params = bench.make_problem(problem, dtype)
            _fit(GaussianMixture, X, params, 1)  # kernels for this dtype
            self.data.append((X, params))

    def track_float64_over_float32(self, problem):
        t64, t32 = (bench.per_iteration(GaussianMixture, X, params, base=1, extra=N_ITER,
                                        repeat=3) for X, params in self.data)
        r = bench.ratio(t64, t32)  # None when a difference came out <= 0
        return float("nan") if r is None else r


class LowerBound:
    """fastgmm's lower bound after 5 iterations, to catch numerical regressions."""

    params = PROBLEMS + WIDE_PROBLEMS
    param_names = ["problem"]
    timeout = 600
    unit = "mean log-likelihood"

    def setup(self, problem):
        self.X, self.params, _ = _setup(problem, "fastgmm")

    def track_lower_bound(self, problem):
        return float(_fit(GaussianMixture, self.X, self.params, 5).lower_bound_)


class SeedWorkload:
    """One fit + AIC of the seed workload (``python -m fastgmm.bench
    --seed-workload`` sums K = 50..200 step 10)."""

    params = ([50, 200], list(LIBRARIES))
    param_names = ["n_components", "library"]
    timeout = 600
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, n_components, library):
        from fastgmm import warmup

        self.X = bench.seed_data()
        self.cls = LIBRARIES[library]
        warmup(dtypes=("float64",))  # serial and parallel kernels compiled or loaded
        bench.seed_fit_aic(self.cls, self.X, 5)  # lazy imports

    def time_fit_aic(self, n_components, library):
        bench.seed_fit_aic(self.cls, self.X, n_components)


class Select:
    """Choosing K on small data (``python -m fastgmm.bench_select``): moons
    200 x 2, K = 1..20, full (20 fits) or all four covariance types (80),
    BIC; ``select_model`` and a loop of fastgmm fits. Here each fit's fixed
    costs (validation, the k-means start, the Python between passes) weigh."""

    params = (["moons", "moons4"], ["select_model", "fastgmm loop"])
    param_names = ["grid", "method"]

    def setup(self, grid, method):
        from fastgmm import bench_select, warmup

        make, self.ks, self.cts, self.criterion = bench_select.PROBLEMS[grid]
        self.X = make()
        warmup(dtypes=("float64",))
        self._run(method)  # lazy imports

    def _run(self, method):
        from fastgmm import bench_select, select_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "select_model":
                select_model(self.X, self.ks, self.cts, criterion=self.criterion,
                             random_state=0, progress=False)
            else:
                bench_select.loop(GaussianMixture, self.X, self.ks, self.cts, self.criterion)

    def time_select(self, grid, method):
        self._run(method)


class StartUp:
    """Fresh interpreters: start-up and compile cost."""

    timeout = 600
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0

    def setup(self):
        from fastgmm import warmup

        warmup(dtypes=("float64",))  # the warm-cache runs find compiled kernels

    def timeraw_import_fit_predict_fastgmm(self):
        return bench.STARTUP_SCRIPT.format(module="fastgmm")

    def timeraw_import_fit_predict_sklearn(self):
        return bench.STARTUP_SCRIPT.format(module="sklearn.mixture")


class ColdCache:
    """fastgmm with an empty Numba cache: import, fit, score_samples and predict
    for all four covariance types (compilation included)."""

    timeout = 900
    number = 1
    repeat = (1, 1, 600.0)
    warmup_time = 0

    def timeraw_cold_cache_all_covariance_types(self):
        setup = (
            "import os, tempfile\n"
            "os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(prefix='fastgmm-asv-')\n"
        )
        stmt = bench.COLD_CACHE_SCRIPT + (
            "import shutil\nshutil.rmtree(os.environ['NUMBA_CACHE_DIR'], ignore_errors=True)\n"
        )
        return stmt, setup
