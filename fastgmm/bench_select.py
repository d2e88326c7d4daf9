"""select_model against Python loops of separate fits (fastgmm and sklearn).

    python -m fastgmm.bench_select [moons] [moons4] [digits] [--repeat N] [--sklearn-repeat M]

moons: the seed tutorial's make_moons(200, noise=.05), K=1..20, full, BIC;
moons4: the same over all four covariance types; digits: load_digits() ->
PCA(0.99, whiten=True), K=50..200 step 10, full, AIC.

Each repeat times, in turn: select_model (default n_jobs), select_model with
n_jobs=1, a loop of fastgmm fits (+ bic and aic, as the seed tutorial does).
The sklearn loop runs M times in fresh interpreters (no Numba loaded), once
with OMP/OpenBLAS limited to 1 thread and once with default threads. Best of
N is reported (the machine is shared and noisy), wall and process CPU time,
and the ratio to select_model. Kernels are compiled before timing. Also
checks that select_model's table equals the loop's bic/aic bitwise.
"""

import sys
import time
import warnings


def moons_data():
    from sklearn.datasets import make_moons

    X, _ = make_moons(200, noise=0.05, random_state=0)
    return X


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    return PCA(0.99, whiten=True).fit_transform(digits.data)


PROBLEMS = {
    # name: (data, ks, covariance types, criterion)
    "moons": (moons_data, range(1, 21), ("full",), "bic"),
    "moons4": (moons_data, range(1, 21), ("full", "tied", "diag", "spherical"), "bic"),
    "digits": (digits_data, range(50, 201, 10), ("full",), "aic"),
}


def loop(cls, X, ks, cts, criterion):
    values = []
    for k in ks:
        for ct in cts:
            gm = cls(k, covariance_type=ct, random_state=0).fit(X)
            values.append((gm.bic(X), gm.aic(X)))
    return values


def sklearn_in_subprocess(name, single_thread):
    import json
    import os
    import subprocess

    env = dict(os.environ)
    if single_thread:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--sklearn-only", name], env=env,
                         capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))


def sklearn_only(name):
    import json

    from sklearn.mixture import GaussianMixture as SkGM

    make, ks, cts, criterion = PROBLEMS[name]
    X = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loop(SkGM, X, ks[:1], cts[:1], criterion)  # imports, first-call costs
        t, c = time.perf_counter(), time.process_time()
        loop(SkGM, X, ks, cts, criterion)
    print(json.dumps([time.perf_counter() - t, time.process_time() - c]))


def timed(f):
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return (time.perf_counter() - t, time.process_time() - c), out


def bench(name, repeat=3, sklearn_repeat=1):
    import numba

    import fastgmm

    make, ks, cts, criterion = PROBLEMS[name]
    X = make()
    fastgmm.warmup(("float64",))
    times = {"select_model": [], "select_model n_jobs=1": [], "fastgmm loop": [],
             "sklearn loop, 1 thread": [], "sklearn loop, default threads": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            t, res = timed(lambda: fastgmm.select_model(
                X, ks, cts, criterion=criterion, random_state=0, progress=False))
            times["select_model"].append(t)
            t, _ = timed(lambda: fastgmm.select_model(
                X, ks, cts, criterion=criterion, random_state=0, progress=False, n_jobs=1))
            times["select_model n_jobs=1"].append(t)
            t, ref = timed(lambda: loop(fastgmm.GaussianMixture, X, ks, cts, criterion))
            times["fastgmm loop"].append(t)
        for _ in range(sklearn_repeat):
            # in fresh interpreters without Numba: what a sklearn user runs
            times["sklearn loop, 1 thread"].append(sklearn_in_subprocess(name, True))
            times["sklearn loop, default threads"].append(sklearn_in_subprocess(name, False))
    same = (res.table_["bic"].tolist() == [b for b, _ in ref]
            and res.table_["aic"].tolist() == [a for _, a in ref])
    best_sel = min(w for w, _ in times["select_model"])
    best_sel_cpu = min(c for _, c in times["select_model"])
    print(f"\n{name}: X {X.shape[0]} x {X.shape[1]}, K {ks.start}..{ks.stop - 1}"
          f"{'' if ks.step == 1 else ' step %d' % ks.step}, {','.join(cts)}, "
          f"{criterion}; {len(res)} fits; numba threads {numba.get_num_threads()}; "
          f"best of {repeat} (sklearn: {sklearn_repeat})")
    print(f"  table equals the fastgmm loop's bic/aic bitwise: {same}; best "
          f"{res.best_params_}")
    print(f"  {'':30s} {'wall s':>8s} {'x':>6s}  {'cpu s':>8s} {'x':>6s}   all wall")
    for label, ts in times.items():
        b = min(w for w, _ in ts)
        c = min(c for _, c in ts)
        print(f"  {label:30s} {b:8.3f} {b / best_sel:6.2f}  {c:8.3f} {c / best_sel_cpu:6.2f}"
              f"   ({', '.join('%.2f' % w for w, _ in ts)})")


def main(argv=None):
    import argparse

    from fastgmm.__main__ import _positive_int

    parser = argparse.ArgumentParser(prog="python -m fastgmm.bench_select",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("problems", nargs="*", metavar="PROBLEM",
                        help=f"any of {', '.join(PROBLEMS)} (default: all)")
    parser.add_argument("--repeat", type=_positive_int, default=3)
    parser.add_argument("--sklearn-repeat", type=_positive_int, default=1)
    parser.add_argument("--sklearn-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.problems) - set(PROBLEMS))
    if unknown:
        parser.error(f"unknown problem(s) {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")
    if args.sklearn_only:  # internal: the timed child of bench()
        if len(args.problems) != 1:
            parser.error("--sklearn-only takes one problem")
        sklearn_only(args.problems[0])
        return
    for name in args.problems or list(PROBLEMS):
        bench(name, args.repeat, args.sklearn_repeat)


if __name__ == "__main__":
    main()
