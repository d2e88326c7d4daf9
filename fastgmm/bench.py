"""Side-by-side EM timing: fastgmm vs scikit-learn (and daal4py when installed).

    python -m fastgmm.bench [--problems small-2d mid wide tall-diag] [--repeat 3]

Standard problems (data: a random Gaussian mixture drawn from
``numpy.random.default_rng(0)``); every library starts from the same
initial parameters, ``tol=0``, with compiled kernels. Seconds per EM
iteration are measured as ``(t(max_iter=a+m) - t(max_iter=a)) / m`` so that
validation, initialisation and sklearn's final E-step cancel out; the table
shows the best of ``--repeat`` runs and the ratios measured in the same run.
"""

import argparse
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


def make_problem(name, dtype=np.float64):
    """Data and shared initial parameters for a standard problem."""
    n, d, K, cov_type = PROBLEMS[name]
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


def _time_fit(cls, X, params, max_iter):
    est = cls(max_iter=max_iter, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t0


def _difference(time_run, base, extra, repeat):
    """(min t(base + extra) - min t(base)) / extra: fixed costs cancel, and
    each minimum is taken separately, which is robust to noise."""
    t_long = min(time_run(base + extra) for _ in range(repeat))
    t_short = min(time_run(base) for _ in range(repeat))
    return (t_long - t_short) / extra


def per_iteration(cls, X, params, base=1, extra=3, repeat=3):
    """Seconds per EM iteration of an sklearn-style estimator class."""
    return _difference(lambda it: _time_fit(cls, X, params, it), base, extra, repeat)


def _daal4py_per_iteration(X, params, extra=3, repeat=3):
    """Seconds per EM iteration of ``daal4py.em_gmm`` (oneDAL), or None."""
    try:
        import daal4py
    except ImportError:
        return None
    if params["covariance_type"] != "full":
        return None  # em_gmm's diagonal storage is not compared here
    K = params["n_components"]
    cov = list(np.linalg.inv(params["precisions_init"]))
    weights = params["weights_init"][None, :]

    def run(iters):
        algo = daal4py.em_gmm(
            nComponents=K, maxIterations=iters, accuracyThreshold=0.0, fptype="double"
        )
        t0 = time.perf_counter()
        res = algo.compute(X, weights, params["means_init"], cov)
        seconds = time.perf_counter() - t0
        if int(np.ravel(res.nIterations)[0]) != iters:
            raise RuntimeError("daal4py stopped early: not comparable")
        return seconds

    run(1)  # warm-up
    try:
        return _difference(run, 1, extra, repeat)
    except RuntimeError:
        return None


def _daal4py_in_subprocess(python, name, dtype, extra, repeat):
    """Run the daal4py timing with another interpreter (daal4py releases may
    not import next to the installed scikit-learn); same data, same seed."""
    import subprocess

    code = (
        "import importlib.util, sys, numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('b', {__file__!r})\n"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        f"X, p = b.make_problem({name!r}, np.dtype({dtype!r}))\n"
        f"print(b._daal4py_per_iteration(X, p, extra={extra}, repeat={repeat}))\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    try:
        value = out.stdout.strip().splitlines()[-1]
        return None if value == "None" else float(value)
    except (IndexError, ValueError):
        return None


SCALE_CASES = {
    # name: (n_samples, n_features, n_components, covariance_type, dtype)
    "20M-diag-f32": (20_000_000, 10, 8, "diag", "float32"),
    "5M-full-f64": (5_000_000, 10, 16, "full", "float64"),
}

_SCALE_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
from fastgmm import GaussianMixture, warmup
n, d, K, cov, dtype = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = np.empty((n, d), dtype=dtype)
centers = rng.normal(scale=4.0, size=(K, d))
for a in range(0, n, 1_000_000):  # generated in blocks: no float64 copy
    b = min(n, a + 1_000_000)
    X[a:b] = centers[rng.integers(0, K, size=b - a)] + rng.normal(size=(b - a, d))
warmup(dtypes=(dtype,))
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss()
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    gm = GaussianMixture(K, covariance_type=cov, random_state=0).fit(X)
fit_s = time.perf_counter() - t0
fit_peak = rss()
t0 = time.perf_counter()
proba = gm.predict_proba(X)
proba_s = time.perf_counter() - t0
print(json.dumps(dict(
    x_mb=X.nbytes / 2**20, base_mb=base / 2**20, fit_s=fit_s, n_iter=gm.n_iter_,
    fit_extra_mb=(fit_peak - base) / 2**20, proba_s=proba_s,
    proba_mb=proba.nbytes / 2**20,
    proba_extra_mb=max(0.0, (rss() - fit_peak) / 2**20 - proba.nbytes / 2**20),
    converged=bool(gm.converged_),
)))
"""


def run_scale(cases=None):
    """Fit the large cases in fresh processes; print time and peak memory."""
    import json
    import subprocess
    import sys

    print(f"{'case':<14} {'X MB':>7} {'fit s':>7} {'iters':>5} {'fit +MB':>8} "
          f"{'proba s':>8} {'proba MB':>9} {'proba +MB':>9}")
    for name in cases or SCALE_CASES:
        spec = json.dumps(SCALE_CASES[name])
        out = subprocess.run(
            [sys.executable, "-c", _SCALE_CHILD, spec], capture_output=True, text=True
        )
        if out.returncode != 0:
            print(f"{name:<14} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<14} {r['x_mb']:7.0f} {r['fit_s']:7.1f} {r['n_iter']:5d} "
              f"{r['fit_extra_mb']:8.0f} {r['proba_s']:8.2f} {r['proba_mb']:9.0f} "
              f"{r['proba_extra_mb']:9.0f}")
    print("fit +MB: peak resident memory added by fit beyond X and the warmed-up "
          "process; proba +MB: rise of the peak beyond predict_proba's own output "
          "(0: it stayed within the fit's peak)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastgmm.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--extra", type=int, default=3, help="iterations in the timed difference")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument(
        "--daal4py-python",
        metavar="PYTHON",
        help="interpreter with daal4py installed, when it cannot be imported here",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="instead: fit 20M x 10 float32 (diag, K=8) and 5M x 10 float64 (full, K=16) "
        "and report time and peak memory",
    )
    args = parser.parse_args(argv)
    if args.scale:
        run_scale()
        return

    import numba
    from sklearn.mixture import GaussianMixture as SkGM

    from fastgmm import GaussianMixture, warmup

    warmup()
    print(f"threads: numba {numba.get_num_threads()}; dtype {args.dtype}; "
          f"best of {args.repeat}; seconds per EM iteration")
    header = f"{'problem':<10} {'n x d, K, cov':<24} {'fastgmm':>9} {'sklearn':>9} {'daal4py':>9} {'sk/fast':>8} {'daal/fast':>9}"
    print(header)
    print("-" * len(header))
    for name in args.problems:
        n, d, K, cov = PROBLEMS[name]
        X, params = make_problem(name, np.dtype(args.dtype))
        _time_fit(GaussianMixture, X, params, 1)  # compile for these shapes/dtype
        fast = per_iteration(GaussianMixture, X, params, extra=args.extra, repeat=args.repeat)
        sk = per_iteration(SkGM, X, params, extra=args.extra, repeat=args.repeat)
        if args.daal4py_python:
            daal = _daal4py_in_subprocess(args.daal4py_python, name, args.dtype, args.extra, args.repeat)
        else:
            daal = _daal4py_per_iteration(X, params, extra=args.extra, repeat=args.repeat)
        daal_s = f"{daal:9.4f}" if daal else f"{'-':>9}"
        daal_r = f"{daal / fast:9.2f}" if daal else f"{'-':>9}"
        print(f"{name:<10} {f'{n} x {d}, {K}, {cov}':<24} {fast:9.4f} {sk:9.4f} {daal_s} {sk / fast:8.1f} {daal_r}")


if __name__ == "__main__":
    main()
