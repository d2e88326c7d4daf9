"""Benchmarks: fastgmm against scikit-learn (and daal4py when available).

Modes (ratios are only meaningful within one run; numbers are best-of or
median as stated in the output):

``python -m fastgmm.bench [--problems ...] [--repeat 3] [--extra 3] [--threads N]
[--dtype float64|float32] [--daal4py-python PYTHON] [--no-peakmem]``
    The side-by-side table on the standard problems: seconds per EM iteration
    for fastgmm, sklearn and daal4py with ratios; the FLOP rate of the
    full-covariance problems (2·n·K·d(d+1) flops per iteration) against numpy's
    float64 matmul rate measured in the same run with the same threads; the
    peak memory a fit adds, per library, in fresh processes.
``python -m fastgmm.bench --scaling [--problems mid] [--thread-counts 1,2,4,8,16]``
    fastgmm's seconds per iteration with 1..NUMBA_NUM_THREADS threads (or the
    given counts, measured round-robin), speed-up, and numpy's matmul speed-up
    at the same counts for reference. For the speed-ups the machine's cores
    give other kinds of work, next to fastgmm's pass and iteration, see
    ``python -m fastgmm.bench_ceiling``.
``python -m fastgmm.bench --dtype-ratio [--problems tall-diag stream-diag]``
    fastgmm's seconds per iteration on float64 and float32 data, the ratio,
    and the rate at which the float64 pass reads X (``stream-diag``: 4M x 20,
    K=2, diag, whose pass is nearly memory-bound on two cores).
``python -m fastgmm.bench --startup [--runs 7]``
    Fresh interpreters that import, fit 1,000 x 2 (K=3) and predict: fastgmm vs
    sklearn with a warm Numba cache (median); then fastgmm with an empty cache
    fitting and scoring all four covariance types.
``python -m fastgmm.bench --seed-workload [--repeat 3] [--threads N]``
    digits, ``PCA(0.99, whiten=True)`` (41 dims), full covariance, defaults,
    ``random_state=0``, K = 50..200 step 10, AIC of each fit: total time of
    fastgmm vs sklearn and the largest relative AIC difference.
``python -m fastgmm.bench --memory``
    5,000,000 x 10 float64, K=16, full and diag, default parameters: peak
    resident memory a fit adds beyond X, in fresh processes.
``python -m fastgmm.bench --scale``
    All large cases (``SCALE_CASES``, 20M x 10 float32 included): fit time,
    memory, and ``predict_proba``.
``python -m fastgmm.bench --small [--problems tiny-2d tiny-5d tiny-1d] [--extra 100]``
    Small data (``SMALL_PROBLEMS``), each with the four covariance types:
    microseconds per EM iteration, fastgmm vs sklearn.

Per-iteration times use the same initial parameters for every library
(``weights_init``, ``means_init``, ``precisions_init``), ``tol=0`` and compiled
kernels, and are measured as ``(t(max_iter=a+m) - t(max_iter=a)) / m`` so that
validation, initialisation and the final E-step cancel out. ``--threads N``
caps Numba (``fastgmm.num_threads``) and BLAS/OpenMP (threadpoolctl) in this
process and sets ``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS`` in child processes.

This file must stay importable with numpy alone: ``--daal4py-python`` loads it
by path in another interpreter.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

PROBLEMS = {
    # name: (n_samples, n_features, n_components, covariance_type)
    "small-2d": (100_000, 2, 4, "full"),
    "mid": (500_000, 10, 16, "full"),
    "wide": (100_000, 50, 32, "full"),
    "tall-diag": (1_000_000, 20, 8, "diag"),
}

#: Beyond the standard four, for ``--dtype-ratio``: a diag problem light
#: enough in arithmetic per byte (K=2) that a pass streams X about as fast as
#: the memory delivers it on two cores, where float32's halved traffic shows
STREAM_PROBLEMS = {
    "stream-diag": (4_000_000, 20, 2, "diag"),
}

#: Beyond the standard four, for ``--problems``: many features. ``tied-200``:
#: one triangular product per row serves every component; ``full-400``: few
#: rows per feature, so the M-step's Cholesky factors and their inverses
#: (K d^3 / 3 multiply-adds) cost as much as a sizeable part of the pass.
WIDE_PROBLEMS = {
    "tied-200": (20_000, 200, 5, "tied"),
    "full-400": (5_000, 400, 4, "full"),
}


#: Small data, for ``--small``, each with the four covariance types: the
#: Python between two passes weighs there (a pass of tiny-2d takes about
#: 16 us); tiny-1d: one feature, the most common small case
SMALL_PROBLEMS = {
    "tiny-2d": (2_000, 2, 3, "full"),
    "tiny-5d": (500, 5, 4, "full"),
    "tiny-1d": (20_000, 1, 5, "full"),
}

#: ``--small``'s default number of iterations in the timed difference
SMALL_EXTRA = 100

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def problem_spec(name):
    """(n_samples, n_features, n_components, covariance_type) of a problem."""
    for group in (PROBLEMS, STREAM_PROBLEMS, WIDE_PROBLEMS, SMALL_PROBLEMS):
        if name in group:
            return group[name]
    raise KeyError(name)


MB = 2**20

#: Shown instead of a per-iteration time whose difference came out <= 0.
NOISE = "noise"


def make_problem(name, dtype=np.float64, cov_type=None):
    """Data and shared initial parameters for a standard problem (with
    another covariance type than its own, given ``cov_type``)."""
    n, d, K, own_type = problem_spec(name)
    cov_type = cov_type or own_type
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=4.0, size=(K, d))
    scales = rng.uniform(0.5, 1.5, size=(K, d))
    labels = rng.integers(0, K, size=n)
    X = centers[labels] + rng.normal(size=(n, d)) * scales[labels]
    X = np.ascontiguousarray(X, dtype=dtype)
    init_means = X[rng.choice(n, K, replace=False)].astype(np.float64)
    weights = np.full(K, 1.0 / K)
    var = X.var(axis=0).astype(np.float64)
    precisions = {
        "full": np.stack([np.diag(1.0 / var)] * K),
        "tied": np.diag(1.0 / var),
        "diag": np.tile(1.0 / var, (K, 1)),
        "spherical": np.full(K, 1.0 / var.mean()),
    }[cov_type]
    params = dict(
        n_components=K,
        covariance_type=cov_type,
        tol=0.0,
        weights_init=weights,
        means_init=init_means,
        precisions_init=precisions,
    )
    return X, params


def make_blobs(n, d, K, dtype="float64", block=100_000):
    """``n x d`` Gaussian blobs around K centres, generated in blocks so that
    no temporary larger than a block (or a float64 copy) is ever made."""
    rng = np.random.default_rng(0)
    X = np.empty((n, d), dtype=dtype)
    centers = rng.normal(scale=4.0, size=(K, d))
    for a in range(0, n, block):
        b = min(n, a + block)
        X[a:b] = centers[rng.integers(0, K, size=b - a)] + rng.normal(size=(b - a, d))
    return X


# --------------------------------------------------------------------------
# Small helpers (tested in tests/test_bench.py)


def em_flops(n, d, K):
    """Flops of one full-covariance EM iteration, counted as 2·n·K·d(d+1):
    per row and component, d(d+1)/2 multiply-adds for the triangular product
    with the precision Cholesky factor and as many for the upper-triangle
    scatter of the second moments."""
    return 2 * n * K * d * (d + 1)


def best_timing(values):
    """The smallest positive timing of ``values``; without one, the first
    value (None: not measured; <= 0: a stalled run, shown as noise)."""
    good = [v for v in values if v is not None and v > 0]
    return min(good) if good else values[0]


def ratio(a, b):
    """a / b, or None when either is missing or negative, or b is zero."""
    if a is None or b is None or a < 0 or b <= 0:
        return None
    return a / b


#: Below this many MB a fit's added memory is within the resident set's noise
#: (a few pages): ratios to it are shown as "at least" the ratio to it.
MEMORY_FLOOR_MB = 1.0


def memory_ratio(a_mb, b_mb):
    """a / b for added memory, as a string; ">a/floor" when b is below
    :data:`MEMORY_FLOOR_MB` (0.0 MB would give any ratio), None if missing."""
    if a_mb is None or b_mb is None:
        return None
    if b_mb < MEMORY_FLOOR_MB:
        return f">{a_mb / MEMORY_FLOOR_MB:.1f}"
    return f"{a_mb / b_mb:.1f}"


def pct(a, b):
    """100 * a / b, or None (see :func:`ratio`)."""
    r = ratio(a, b)
    return None if r is None else 100.0 * r


def format_table(columns, rows):
    """A fixed-width text table.

    ``columns`` is a list of ``(title, format_spec)``; a spec starting with
    ``<`` left-aligns the column, any other right-aligns it. ``rows`` are
    sequences of values; ``None`` prints as ``-`` and strings as they are.
    """
    cells = [
        ["-" if v is None else v if isinstance(v, str) else format(v, spec)
         for v, (_, spec) in zip(row, columns)]
        for row in rows
    ]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, (t, _) in enumerate(columns)]
    left = [spec.startswith("<") for _, spec in columns]

    def line(items):
        return "  ".join(
            s.ljust(w) if lft else s.rjust(w) for s, w, lft in zip(items, widths, left)
        ).rstrip()

    head = line([t for t, _ in columns])
    return "\n".join([head, "-" * len(head)] + [line(r) for r in cells])


def machine_line(note=True):
    """CPUs and load average: timings taken while other processes run are
    unreliable (BLAS and OpenMP barriers stall when cores are oversubscribed)."""
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover (Windows)
        load = "unknown"
    cpus = os.cpu_count()
    busy = ""
    if note and load != "unknown" and os.getloadavg()[0] > (cpus or 1):
        busy = " (busy: timings unreliable, multi-threaded ones most; --threads 1 is more robust)"
    return f"machine: {cpus} CPUs, load average {load}{busy}"


def _time_fit(cls, X, params, max_iter):
    est = cls(max_iter=max_iter, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t0


#: Seconds to wait before a timing so that thread pools left spinning by the
#: previous measurement go to sleep: OpenBLAS workers busy-wait for about
#: 0.1 s after each threaded call, and on a 2-core machine they take a core
#: from the next library's threads (fastgmm's small-2d right after the matmul
#: rate: 1.5 ms per iteration instead of 0.75).
SETTLE_SECONDS = 0.5


def _difference(time_run, base, extra, repeat):
    """(min t(base + extra) - min t(base)) / extra: fixed costs cancel, and
    each minimum is taken separately, which is robust to noise."""
    time.sleep(SETTLE_SECONDS)
    t_long = min(time_run(base + extra) for _ in range(repeat))
    t_short = min(time_run(base) for _ in range(repeat))
    return (t_long - t_short) / extra


def per_iteration(cls, X, params, base=1, extra=3, repeat=3):
    """Seconds per EM iteration of an sklearn-style estimator class."""
    return _difference(lambda it: _time_fit(cls, X, params, it), base, extra, repeat)


#: The table's matmul reference grows until one product takes this long: on the
#: 2-core machine 2048 x 2048 ran at 155-170 GFLOP/s and 4096 x 4096 at 173-175,
#: and the size the old 0.1 s picked depended on the machine's speed at the time
TABLE_MATMUL_SECONDS = 0.3


def matmul_gflops(min_seconds=0.1, repeat=5, size=None):
    """numpy's float64 square matmul rate in GFLOP/s (2·m³ flops per product),
    best of ``repeat``. Without ``size``, m doubles from 256 until one product
    takes ``min_seconds``. Returns ``(gflops, m)``."""
    m = size or 256
    while True:
        a = np.random.default_rng(1).standard_normal((m, m))
        b = a.T.copy()
        a @ b  # warm-up (BLAS thread start, page faults)
        best = min(_timed(lambda: a @ b) for _ in range(repeat))
        if size is not None or best >= min_seconds or m >= 16384:
            return 2.0 * m**3 / best / 1e9, m
        m *= 2


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextlib.contextmanager
def thread_cap(n):
    """Cap fastgmm's Numba threads and BLAS/OpenMP threads (threadpoolctl) to
    ``n`` in this process for the duration; ``None`` changes nothing."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    from fastgmm._threading import num_threads

    with num_threads(n), threadpool_limits(limits=n):
        yield


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return None
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts) if counts else None


def _child_env(threads=None):
    """Environment of child processes: this fastgmm importable, and the
    thread cap (when given) set for Numba, OpenMP and the BLAS libraries."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    if threads is not None:
        for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def time_script(code, env=None, python=None):
    """Wall-clock seconds of ``python -c code`` in a fresh interpreter."""
    t0 = time.perf_counter()
    out = subprocess.run([python or sys.executable, "-c", code], env=env,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"script failed: {out.stderr.strip()[-2000:]}")
    return seconds


# --------------------------------------------------------------------------
# daal4py (oneDAL) per-iteration time


def _daal4py_per_iteration(X, params, extra=3, repeat=3, threads=None):
    """Seconds per EM iteration of ``daal4py.em_gmm`` (oneDAL), or None
    (daal4py not installed, or no such covariance storage). Its precision
    follows X's dtype (``fptype`` 'float' for float32, as fastgmm keeps X)."""
    try:
        import daal4py
    except ImportError:
        return None
    # em_gmm stores full covariances (K of d x d) or diagonal ones (K of 1 x d)
    storage = {"full": "full", "diag": "diagonal"}.get(params["covariance_type"])
    if storage is None:
        return None
    if threads is not None:
        daal4py.daalinit(int(threads))
    K = params["n_components"]
    prec = params["precisions_init"]
    cov = list(np.linalg.inv(prec) if storage == "full" else (1.0 / prec)[:, None, :])
    weights = params["weights_init"][None, :]

    def run(iters):
        algo = daal4py.em_gmm(
            nComponents=K, maxIterations=iters, accuracyThreshold=0.0,
            fptype="float" if X.dtype == np.float32 else "double",
            covarianceStorage=storage,
        )
        t0 = time.perf_counter()
        res = algo.compute(X, weights, params["means_init"], cov)
        seconds = time.perf_counter() - t0
        if int(np.ravel(res.nIterations)[0]) != iters:
            raise RuntimeError("daal4py stopped early: not comparable")
        return seconds

    run(1)  # warm-up
    return _difference(run, 1, extra, repeat)  # RuntimeError: stopped early


def _daal4py_in_subprocess(python, name, dtype, extra, repeat, threads=None):
    """Run the daal4py timing with another interpreter (daal4py releases may
    not import next to the installed scikit-learn); same data, same seed."""
    code = (
        "import importlib.util, sys, numpy as np\n"
        "import daal4py  # asked for: its absence is an error here\n"
        f"spec = importlib.util.spec_from_file_location('b', {os.path.abspath(__file__)!r})\n"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        f"X, p = b.make_problem({name!r}, np.dtype({dtype!r}))\n"
        f"print(b._daal4py_per_iteration(X, p, extra={extra}, repeat={repeat}, "
        f"threads={threads!r}))\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True,
                         env=_child_env(threads))
    try:
        value = out.stdout.strip().splitlines()[-1]
        return None if value == "None" else float(value)  # None: no such storage
    except (IndexError, ValueError):
        why = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        print(f"daal4py not timed on {name} with {python}: {why}", file=sys.stderr)
        return None


def _daal4py_timing(python, X, params, name, dtype, extra, repeat, threads):
    """daal4py's seconds per iteration: in ``python`` when given (same data,
    rebuilt there from ``name``), else in this process; None without it."""
    if python:
        return _daal4py_in_subprocess(python, name, dtype, extra, repeat, threads)
    try:
        return _daal4py_per_iteration(X, params, extra=extra, repeat=repeat, threads=threads)
    except RuntimeError as exc:
        print(f"daal4py not timed on {name}: {exc}", file=sys.stderr)
        return None


# --------------------------------------------------------------------------
# Peak memory of a fit, in a fresh process

MEMORY_METHOD = (
    "rise of the peak resident set (VmHWM) over the resident set just before the "
    "call, the peak reset first (/proc/self/clear_refs); a fresh process per fit, "
    "data and compiled kernels already in memory"
)
MEMORY_METHOD_FALLBACK = (
    "peak resident set (VmHWM or ru_maxrss) minus the resident set just before the call; "
    "the peak could not be reset, so earlier peaks count: an upper bound"
)


def _proc_status_bytes(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _maxrss_bytes():
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def reset_peak_rss():
    """Reset the process's peak resident set to its current one (Linux >= 4.0);
    returns False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_bytes():
    """Current resident set size (peak so far where unknown)."""
    return _proc_status_bytes("VmRSS") or _maxrss_bytes()


def peak_rss_bytes():
    """Peak resident set size since start or the last reset."""
    return _proc_status_bytes("VmHWM") or _maxrss_bytes()


@contextlib.contextmanager
def peak_memory():
    """``with peak_memory() as m: ...`` sets ``m['added']`` (bytes the peak
    resident set rose above the resident set at entry) and ``m['method']``."""
    import gc

    gc.collect()
    m = {"method": MEMORY_METHOD if reset_peak_rss() else MEMORY_METHOD_FALLBACK}
    base = rss_bytes()
    yield m
    m["added"] = max(0, peak_rss_bytes() - base)


def _child_fit(job):
    """Child-process side of :func:`fit_memory`: build the data, warm up,
    fit once under :func:`peak_memory`, print one JSON line."""
    if job.get("problem"):
        X, params = make_problem(job["problem"], np.dtype(job["dtype"]))
        params["max_iter"] = job["max_iter"]
    else:
        n, d, K, cov, dtype = job["case"]
        X = make_blobs(n, d, K, dtype)
        params = dict(n_components=K, covariance_type=cov, random_state=0)
    if job["library"] == "fastgmm":
        from fastgmm import GaussianMixture as cls
    else:
        from sklearn.mixture import GaussianMixture as cls
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = cls(**{**params, "max_iter": 1}).fit(X[:2000])  # compile, lazy imports
        if job.get("proba"):
            small.predict_proba(X[:2000])
        del small
        if job["library"] == "fastgmm":  # 2,000 rows load only the serial twins
            from fastgmm._config import CHUNK_SIZE
            from fastgmm._warmup import warm_fit

            warm_fit(params["covariance_type"], X[: 2 * CHUNK_SIZE + 1])
        with peak_memory() as fit_mem:
            t0 = time.perf_counter()
            est = cls(**params).fit(X)
            fit_s = time.perf_counter() - t0
    out = dict(x_mb=X.nbytes / MB, fit_s=fit_s, n_iter=int(est.n_iter_),
               fit_mb=fit_mem["added"] / MB, method=fit_mem["method"])
    if job.get("proba"):
        with peak_memory() as proba_mem:
            t0 = time.perf_counter()
            proba = est.predict_proba(X)
            out["proba_s"] = time.perf_counter() - t0
        out["proba_mb"] = proba.nbytes / MB
        out["proba_extra_mb"] = max(0.0, (proba_mem["added"] - proba.nbytes) / MB)
    print(json.dumps(out))


def fit_memory(job, threads=None):
    """Run :func:`_child_fit` in a fresh interpreter; its result dict, or
    ``{'error': message}``."""
    code = "import json, sys; from fastgmm.bench import _child_fit; _child_fit(json.loads(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, json.dumps(job)],
                         env=_child_env(threads), capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# Modes


def run_table(problems, repeat=3, extra=3, dtype="float64", threads=None,
              daal4py_python=None, peakmem=True):
    """The default mode: per-iteration table, FLOP rates, peak memory."""
    import numba
    from sklearn.mixture import GaussianMixture as SkGM

    from fastgmm import GaussianMixture, warmup

    warmup(dtypes=(dtype,))
    rows, rates, mems = [], [], []
    with thread_cap(threads):
        print(f"threads: numba {numba.get_num_threads()}, BLAS {_blas_threads()}; "
              f"dtype {dtype}; best of {repeat} (fastgmm, daal4py: best of {repeat} in each "
              "of two windows, before and after scikit-learn); seconds per EM iteration")
        mm, mm_size = matmul_gflops(min_seconds=TABLE_MATMUL_SECONDS)
        for name in problems:
            n, d, K, cov = problem_spec(name)
            X, params = make_problem(name, np.dtype(dtype))
            _time_fit(GaussianMixture, X, params, 1)  # compile for these shapes/dtype

            # fastgmm and daal4py in two windows, before and after scikit-learn's
            # long run: a slow minute of a shared machine then rarely decides
            # the ratio of the two fast libraries
            fast, daal = [], []
            for window in range(2):
                fast.append(per_iteration(GaussianMixture, X, params, extra=extra,
                                          repeat=repeat))
                if window == 0 or daal[0] is not None:  # None: not installed, or tied/spherical
                    daal.append(_daal4py_timing(daal4py_python, X, params, name, dtype, extra,
                                                repeat, threads))
                if window == 0:
                    sk = per_iteration(SkGM, X, params, extra=extra, repeat=repeat)
            fast, daal = best_timing(fast), best_timing(daal)
            times = [t if t is None or t > 0 else NOISE for t in (fast, sk, daal)]
            rows.append((name, f"{n} x {d}, {K}, {cov}", *times,
                         ratio(sk, fast), ratio(daal, fast)))
            if cov == "full":
                gf = em_flops(n, d, K) / 1e9
                rates.append((name, gf, ratio(gf, fast), ratio(gf, daal)))
            del X
        mm = max(mm, matmul_gflops(size=mm_size)[0])  # best of both ends of the run
    rates = [(name, gf, f, pct(f, mm), dl, pct(dl, mm)) for name, gf, f, dl in rates]

    print(format_table(
        [("problem", "<"), ("n x d, K, cov", "<"), ("fastgmm", ".4f"), ("sklearn", ".4f"),
         ("daal4py", ".4f"), ("sk/fast", ".1f"), ("daal/fast", ".2f")], rows))
    if any(NOISE in row for row in rows):
        print(f"{NOISE}: t(1 + extra iterations) came out no longer than t(1) (a stalled "
              "run); rerun, or raise --repeat / --extra")
    if rates:
        print(f"\nFLOP rate, full covariance (2*n*K*d*(d+1) flops per iteration), and "
              f"% of numpy's {mm_size}x{mm_size} float64 matmul rate with the same "
              f"threads: {mm:.1f} GFLOP/s")
        print(format_table(
            [("problem", "<"), ("GFLOP/iter", ".3f"), ("fastgmm GF/s", ".1f"),
             ("fastgmm %mm", ".0f"), ("daal4py GF/s", ".1f"), ("daal4py %mm", ".0f")], rates))
    if not peakmem:
        return
    method = None
    for name in problems:
        job = dict(problem=name, dtype=dtype, max_iter=2)
        res = [fit_memory(dict(job, library=lib), threads) for lib in ("fastgmm", "sklearn")]
        method = method or next((r["method"] for r in res if "method" in r), None)
        fast_mb, sk_mb = (r.get("fit_mb") for r in res)
        mems.append((name, res[0].get("x_mb"), fast_mb, sk_mb, memory_ratio(sk_mb, fast_mb)))
    print("\nPeak memory of a fit (shared initial parameters, max_iter=2), MB added "
          f"beyond X: {method}")
    print(format_table([("problem", "<"), ("X MB", ".0f"), ("fastgmm +MB", ".1f"),
                        ("sklearn +MB", ".1f"), ("sk/fast", ".1f")], mems))


def run_small(problems, repeat=3, extra=SMALL_EXTRA, threads=None):
    """Microseconds per EM iteration on small data, each problem with the
    four covariance types: fastgmm against scikit-learn."""
    from sklearn.mixture import GaussianMixture as SkGM

    from fastgmm import GaussianMixture, warmup

    warmup(dtypes=("float64",), n_features=sorted({problem_spec(p)[1] for p in problems}))
    rows = []
    with thread_cap(threads):
        print(f"small data: microseconds per EM iteration, best of {repeat}, "
              f"{extra} iterations in the timed difference")
        for name in problems:
            n, d, K, _ = problem_spec(name)
            for cov in COVARIANCE_TYPES:
                X, params = make_problem(name, cov_type=cov)
                _time_fit(GaussianMixture, X, params, 1)  # compiled for these shapes
                fast, sk = (per_iteration(cls, X, params, extra=extra, repeat=repeat)
                            for cls in (GaussianMixture, SkGM))
                times = [NOISE if t <= 0 else 1e6 * t for t in (fast, sk)]
                rows.append((name, f"{n} x {d}, {K}, {cov}", *times, ratio(sk, fast)))
    print(format_table([("problem", "<"), ("n x d, K, cov", "<"), ("fastgmm us", ".1f"),
                        ("sklearn us", ".1f"), ("sk/fast", ".1f")], rows))


def run_scaling(problems, repeat=3, extra=3, dtype="float64", counts=None):
    """fastgmm's seconds per iteration for each thread count in ``counts``
    (default 1..NUMBA_NUM_THREADS), next to numpy's matmul speed-up at the
    same counts (the machine's own ceiling for dense floating-point work).

    The counts are measured round-robin, ``repeat`` rounds, each keeping its
    best: on a shared machine a slow phase then touches every count instead
    of distorting one count's speed-up."""
    import numba

    from fastgmm import GaussianMixture

    top = numba.config.NUMBA_NUM_THREADS
    counts = list(counts or range(1, top + 1))
    with thread_cap(counts[0]):
        mm_size = matmul_gflops()[1]
    print(f"thread scaling (fastgmm, {dtype}, best of {repeat} interleaved rounds; Numba and "
          f"BLAS capped together; {os.cpu_count()} CPUs, NUMBA_NUM_THREADS={top}; matmul: "
          f"numpy's {mm_size}x{mm_size} float64 product at the same threads)")
    for name in problems:
        n, d, K, cov = problem_spec(name)
        X, params = make_problem(name, np.dtype(dtype))
        _time_fit(GaussianMixture, X, params, 1)
        t_long = {t: [] for t in counts}
        t_short = {t: [] for t in counts}
        mm = {t: [] for t in counts}
        for _ in range(repeat):
            for t in counts:
                with thread_cap(t):
                    mm[t].append(matmul_gflops(size=mm_size, repeat=3)[0])
                    time.sleep(SETTLE_SECONDS)
                    t_long[t].append(_time_fit(GaussianMixture, X, params, 1 + extra))
                    t_short[t].append(_time_fit(GaussianMixture, X, params, 1))
        per_iter = {t: (min(t_long[t]) - min(t_short[t])) / extra for t in counts}
        per_iter = {t: s if s > 0 else None for t, s in per_iter.items()}
        # speed-up and efficiency against the first count (1 thread by default)
        first = counts[0]
        one = per_iter[first]
        rows = []
        for t in counts:
            s = per_iter[t]
            gf = ratio(em_flops(n, d, K) / 1e9, s) if cov == "full" else None
            rows.append((t, s or NOISE, ratio(one, s),
                         pct(one * first if one else None, s * t if s else None),
                         gf, ratio(max(mm[t]), max(mm[first]))))
        print(f"\n{name}: {n} x {d}, K={K}, {cov}" + (f" (speed-ups against {first} threads)"
                                                       if first != 1 else ""))
        print(format_table([("threads", "d"), ("s/iter", ".4f"), ("speed-up", ".2f"),
                            ("efficiency %", ".0f"), ("GFLOP/s", ".1f"),
                            ("matmul speed-up", ".2f")], rows))


def run_dtype_ratio(problems, repeat=3, extra=3):
    """fastgmm's seconds per iteration on float64 vs float32 data."""
    from fastgmm import GaussianMixture, warmup

    warmup()
    rows = []
    for name in problems:
        times = []
        for dtype in (np.float64, np.float32):
            X, params = make_problem(name, dtype)
            _time_fit(GaussianMixture, X, params, 1)
            times.append(per_iteration(GaussianMixture, X, params, extra=extra, repeat=repeat))
            del X
        n, d = problem_spec(name)[:2]
        rate = ratio(n * d * 8 / 1e9, times[0])
        rows.append((name, *times, ratio(*times), rate))
    print(f"float32 vs float64 (fastgmm, best of {repeat}, seconds per EM iteration; "
          "f64 GB/s: float64 X's bytes over its seconds per iteration)")
    print(format_table([("problem", "<"), ("float64", ".4f"), ("float32", ".4f"),
                        ("f64/f32", ".2f"), ("f64 GB/s", ".1f")], rows))


STARTUP_SCRIPT = """
import numpy as np
from {module} import GaussianMixture
X = np.random.default_rng(0).normal(size=(1000, 2))
GaussianMixture(3, random_state=0).fit(X).predict(X)
"""

COLD_CACHE_SCRIPT = """
import numpy as np
from fastgmm import GaussianMixture
X = np.random.default_rng(0).normal(size=(1000, 2))
for cov in ("full", "tied", "diag", "spherical"):
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    gm.score_samples(X); gm.predict(X)
"""


def run_startup(runs=7, threads=None):
    """Fresh-interpreter start-up, warm and empty Numba cache."""
    import tempfile

    env = _child_env(threads)
    fast_code = STARTUP_SCRIPT.format(module="fastgmm")
    sk_code = STARTUP_SCRIPT.format(module="sklearn.mixture")
    time_script(fast_code, env)  # fills the cache if it is not yet
    fast, sk = [], []
    for _ in range(runs):  # interleaved, so drifting load hits both alike
        fast.append(time_script(fast_code, env))
        sk.append(time_script(sk_code, env))
    f, s = statistics.median(fast), statistics.median(sk)
    print("start-up: fresh interpreter, import + fit 1,000 x 2 (K=3) + predict, warm "
          f"Numba cache, median of {runs} (min)")
    print(f"  fastgmm {f:.3f} s ({min(fast):.3f})   sklearn {s:.3f} s ({min(sk):.3f})   "
          f"fastgmm/sklearn {f / s:.2f} (target <= 1.5)")
    with tempfile.TemporaryDirectory(prefix="fastgmm-cold-") as cache:
        cold = time_script(COLD_CACHE_SCRIPT, dict(env, NUMBA_CACHE_DIR=cache))
    print("empty Numba cache (NUMBA_CACHE_DIR=new temp dir): import + fit, score_samples "
          f"and predict for all four covariance types: {cold:.1f} s (target <= 60)")


def seed_data():
    """The seed workload's data: sklearn's digits (bundled, no download),
    ``PCA(0.99, whiten=True)``: 1,797 x 41."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


def seed_fit_aic(cls, X, K):
    """One fit of the seed workload and its AIC: full covariance, defaults,
    ``random_state=0``. Returns the fitted model and the AIC."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = cls(K, covariance_type="full", random_state=0).fit(X)
        return gm, gm.aic(X)


def run_seed_workload(ks=range(50, 201, 10), repeat=1):
    """The seed workload: AIC over n_components on PCA-whitened digits; each
    fit (with its AIC) is timed ``repeat`` times, the fastest counts."""
    from sklearn.mixture import GaussianMixture as SkGM

    from fastgmm import GaussianMixture, warmup

    X = seed_data()
    print(f"seed workload: digits {X.shape[0]} x 64 -> PCA(0.99, whiten=True) -> "
          f"{X.shape[1]} dims ({'ok' if X.shape[1] == 41 else 'EXPECTED 41'}); full, "
          f"defaults, random_state=0; kernels compiled beforehand; best of {repeat} per fit")
    warmup(dtypes=("float64",))
    from threadpoolctl import threadpool_info, threadpool_limits

    # scikit-learn's default BLAS/OpenMP threads are the user's setting; on
    # 1,797 rows one thread is often faster, so that is timed too
    one_thread = contextlib.nullcontext if all(
        p["num_threads"] == 1 for p in threadpool_info()) else (lambda: threadpool_limits(1))
    libs = [("fastgmm", GaussianMixture, contextlib.nullcontext),
            ("sklearn", SkGM, contextlib.nullcontext), ("sklearn1", SkGM, one_thread)]
    rows, tot = [], dict.fromkeys([lib for lib, _, _ in libs], 0.0)
    for K in ks:
        res = {}
        for lib, cls, cap in libs:
            # the previous K's sklearn fit leaves OpenBLAS workers spinning
            time.sleep(SETTLE_SECONDS)
            with cap():
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    gm, aic = seed_fit_aic(cls, X, K)
                    seconds = time.perf_counter() - t0
                    res[lib] = (min(seconds, res.get(lib, (np.inf,))[0]), aic, gm.n_iter_)
            tot[lib] += res[lib][0]
        (tf, af, itf), (ts, as_, its), (t1, _, _) = res["fastgmm"], res["sklearn"], res["sklearn1"]
        rows.append((K, tf, ts, t1, ratio(ts, tf), ratio(t1, tf), f"{itf}/{its}", af,
                     abs(af - as_) / abs(as_)))
    print(format_table([("K", "d"), ("fastgmm s", ".3f"), ("sklearn s", ".3f"),
                        ("sk 1thr s", ".3f"), ("sk/fast", ".1f"), ("sk1/fast", ".1f"),
                        ("iters f/s", ">"), ("AIC fastgmm", ".2f"), ("AIC rel diff", ".1e")],
                       rows))
    print(f"total: fastgmm {tot['fastgmm']:.2f} s, sklearn {tot['sklearn']:.2f} s with its "
          f"default threads, sklearn/fastgmm {tot['sklearn'] / tot['fastgmm']:.1f}x (target "
          f">= 10); sklearn on 1 BLAS/OpenMP thread {tot['sklearn1']:.2f} s, "
          f"{tot['sklearn1'] / tot['fastgmm']:.1f}x; max relative AIC difference "
          f"{max(r[-1] for r in rows):.1e} (target <= 1e-6)")


SCALE_CASES = {
    # name: (n_samples, n_features, n_components, covariance_type, dtype)
    "20M-diag-f32": (20_000_000, 10, 8, "diag", "float32"),
    "5M-full-f64": (5_000_000, 10, 16, "full", "float64"),
    "5M-diag-f64": (5_000_000, 10, 16, "diag", "float64"),
}

MEMORY_CASES = ["5M-full-f64", "5M-diag-f64"]


def run_scale(cases=None, target_mb=None, proba=True, threads=None):
    """Default-parameter fits of large data in fresh processes: time and memory."""
    rows, method = [], None
    for name in cases or SCALE_CASES:
        r = fit_memory(dict(case=SCALE_CASES[name], library="fastgmm", proba=proba), threads)
        if "error" in r:
            print(f"{name}: failed: {r['error']}")
            continue
        method = r["method"]
        rows.append((name, r["x_mb"], r["fit_s"], r["n_iter"], r["fit_mb"],
                     r.get("proba_s"), r.get("proba_mb"), r.get("proba_extra_mb")))
    cols = [("case", "<"), ("X MB", ".0f"), ("fit s", ".1f"), ("iters", "d"),
            ("fit +MB", ".1f")]
    if proba:
        cols += [("proba s", ".2f"), ("proba MB", ".0f"), ("proba +MB", ".1f")]
    print("fastgmm, default parameters (k-means init, random_state=0), fresh process per case")
    print(format_table(cols, [r[: len(cols)] for r in rows]))
    print(f"fit +MB: peak resident memory added by fit beyond X: {method}"
          + ("; proba +MB: beyond predict_proba's own output" if proba else ""))
    if target_mb is not None and rows:
        worst = max(r[4] for r in rows)
        print(f"largest: {worst:.1f} MB (target <= {target_mb} MB: "
              f"{'met' if worst <= target_mb else 'NOT met'})")


def _counts(text):
    """argparse type of ``--thread-counts``: positive integers, comma-separated."""
    try:
        counts = [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1: {text!r}")
    return counts


def main(argv=None):
    from fastgmm.__main__ import _positive_int  # not at the top: see the module docstring

    parser = argparse.ArgumentParser(
        prog="python -m fastgmm.bench",
        description=__doc__.split("\n\n")[0],
        epilog="Modes and what they measure: see the module docstring (pydoc fastgmm.bench).",
    )
    parser.add_argument("--problems", nargs="+",
                        choices=[*PROBLEMS, *STREAM_PROBLEMS, *WIDE_PROBLEMS, *SMALL_PROBLEMS],
                        help="standard problems, stream-diag, tied-200, full-400 or (--small) "
                        "tiny-2d, tiny-5d, tiny-1d (default: the four standard ones; "
                        "--scaling: mid; --dtype-ratio: tall-diag stream-diag; --small: "
                        "the three tiny ones)")
    parser.add_argument("--repeat", type=_positive_int, default=3)
    parser.add_argument("--extra", type=_positive_int,
                        help=f"iterations in the timed difference (default 3; --small: "
                        f"{SMALL_EXTRA})")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--threads", type=int, metavar="N",
                        help="run with N Numba threads and N BLAS/OpenMP threads")
    parser.add_argument("--daal4py-python", metavar="PYTHON",
                        help="interpreter with daal4py installed, when it cannot be imported here")
    parser.add_argument("--no-peakmem", action="store_true",
                        help="skip the peak-memory fits of the default table")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--scaling", action="store_true",
                       help="seconds per iteration for 1..NUMBA_NUM_THREADS threads")
    modes.add_argument("--dtype-ratio", action="store_true",
                       help="float64 vs float32 seconds per iteration")
    modes.add_argument("--startup", action="store_true",
                       help="fresh-interpreter start-up, warm and empty Numba cache")
    modes.add_argument("--seed-workload", action="store_true",
                       help="digits/PCA/AIC over K=50..200: total time vs sklearn")
    modes.add_argument("--memory", action="store_true",
                       help="5M x 10 float64, K=16, full and diag: memory added beyond X")
    modes.add_argument("--scale", action="store_true",
                       help="all large cases: fit time, memory, predict_proba")
    modes.add_argument("--small", action="store_true",
                       help="small data, four covariance types: microseconds per iteration "
                       "vs sklearn")
    parser.add_argument("--runs", type=_positive_int, default=7, help="--startup: runs per library")
    parser.add_argument("--thread-counts", type=_counts, metavar="1,2,4,...",
                        help="--scaling: thread counts (default: 1..NUMBA_NUM_THREADS)")
    args = parser.parse_args(argv)

    if args.threads is not None:
        import numba

        if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
            parser.error(f"--threads must be between 1 and NUMBA_NUM_THREADS="
                         f"{numba.config.NUMBA_NUM_THREADS} (set NUMBA_NUM_THREADS to go higher)")
    if args.scaling and args.threads is not None:
        parser.error("--scaling sets its own thread counts: use --thread-counts, not --threads")
    if args.thread_counts is not None:
        import numba

        top = numba.config.NUMBA_NUM_THREADS
        if not args.scaling:
            parser.error("--thread-counts goes with --scaling")
        if max(args.thread_counts) > top:
            parser.error(f"--thread-counts: at most NUMBA_NUM_THREADS={top}")
    table_only = [name for name, given in (("--daal4py-python", args.daal4py_python),
                                           ("--no-peakmem", args.no_peakmem)) if given]
    if table_only and (args.scaling or args.dtype_ratio or args.startup or args.seed_workload
                       or args.memory or args.scale or args.small):
        parser.error(f"{' and '.join(table_only)}: only for the default table")
    if args.daal4py_python and shutil.which(args.daal4py_python) is None:
        parser.error(f"--daal4py-python: {args.daal4py_python} is not an executable "
                     "file or a command on PATH")
    small = set(args.problems or ()) & set(SMALL_PROBLEMS)
    if args.small and set(args.problems or ()) - small:
        parser.error("--small runs the tiny problems only: "
                     f"{', '.join(SMALL_PROBLEMS)}")
    if small and not args.small:
        parser.error(f"{', '.join(sorted(small))}: with --small")
    if args.extra is None:
        args.extra = SMALL_EXTRA if args.small else 3
    print(machine_line())
    if args.small:
        run_small(args.problems or list(SMALL_PROBLEMS), args.repeat, args.extra, args.threads)
    elif args.scaling:
        run_scaling(args.problems or ["mid"], args.repeat, args.extra, args.dtype,
                    args.thread_counts)
    elif args.dtype_ratio:
        with thread_cap(args.threads):
            run_dtype_ratio(args.problems or ["tall-diag", "stream-diag"], args.repeat,
                            args.extra)
    elif args.startup:
        run_startup(args.runs, args.threads)
    elif args.seed_workload:
        with thread_cap(args.threads):
            run_seed_workload(repeat=args.repeat)
    elif args.memory:
        run_scale(MEMORY_CASES, target_mb=150, proba=False, threads=args.threads)
    elif args.scale:
        run_scale(threads=args.threads)
    else:
        run_table(args.problems or list(PROBLEMS), args.repeat, args.extra, args.dtype,
                  args.threads, args.daal4py_python, not args.no_peakmem)
    print(f"at the end: {machine_line(note=False)}")


if __name__ == "__main__":
    main()
