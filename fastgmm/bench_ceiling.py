"""What a machine's cores allow, next to fastgmm's thread scaling.

    python -m fastgmm.bench_ceiling [--problem mid] [--thread-counts 1,2,4,8,16] [--sweeps 2]

On a shared or virtual machine, n threads rarely run n times faster, and how
much faster depends on the kind of work. Each sweep times, at every thread
count (best of several calls each):

busy
    a latency-bound scalar loop (dependent multiply-adds, one chain per
    element), the work that profits most from shared cores;
fma
    vectorised multiply-adds on L1-resident data, throughput-bound like
    fastgmm's kernels;
matmul
    numpy's 2048 x 2048 float64 product (BLAS threads capped alike);
stats
    fastgmm's fused statistics pass (log-densities, responsibilities and
    sufficient statistics) on the problem, from a fitted model's parameters;
iter
    fastgmm's whole EM iteration on the problem,
    ``(t(max_iter=1+m) - t(max_iter=1)) / m``;

and prints the milliseconds and the speed-up over the first count. Sweeps
repeat the whole set, so that one slow phase of the machine shows as a
disagreement between sweeps rather than as a false scaling figure.
"""

import argparse
import time
import warnings

import numpy as np


def _kernels():
    """The two reference loops, compiled on first use (not cached: they are
    measuring tools, not part of fastgmm)."""
    from numba import njit, prange

    @njit(parallel=True)
    def busy(a, reps):
        out = np.empty(a.shape[0])
        for i in prange(a.shape[0]):
            s = 0.0
            x = a[i]
            for _ in range(reps):
                s = s * 0.999 + x * 1.0001
                x = x * 0.9999 + 1e-9
            out[i] = s
        return out

    @njit(parallel=True)
    def fma(ntask, reps):
        out = np.empty(ntask)
        for t in prange(ntask):
            y = np.empty(512)
            for j in range(512):
                y[j] = j * 1e-3 + t
            for _r in range(reps):
                for j in range(512):
                    v = y[j]
                    for _s in range(8):
                        v = v * 0.9999 + 1e-4
                    y[j] = v
            out[t] = y.sum()
        return out

    return busy, fma


def run_ceiling(problem="mid", counts=(1, 2, 4, 8, 16), sweeps=2, scale=1.0):
    """Print one table per sweep; ``scale`` shrinks the reference loops and the
    number of calls (tests)."""
    from fastgmm import GaussianMixture
    from fastgmm._stats import estep_stats, no_weights
    from fastgmm.bench import _timed, make_problem, per_iteration, thread_cap

    busy, fma = _kernels()
    X, params = make_problem(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(**dict(params, max_iter=2)).fit(X)
    p, ct, sw = gm._current_params(X.shape[1]), gm._covariance(), no_weights()
    a = np.random.default_rng(0).random(16 * 256)
    m = np.random.default_rng(0).random((2048, 2048))
    reps = max(1, int(4000 * scale))
    calls = max(1, int(7 * scale))
    busy(a, 1), fma(64, 1), estep_stats(ct, X, sw, p), m @ m  # compile, start pools
    work = {
        "busy": (lambda: busy(a, reps), calls),
        "fma": (lambda: fma(64, reps // 2), calls),
        "matmul": (lambda: m @ m, max(1, calls - 2)),
        "stats": (lambda: estep_stats(ct, X, sw, p), 2 * calls),
    }
    print(f"ceiling: {problem}, thread counts {','.join(map(str, counts))}; ms (best of "
          "several calls) and speed-up over the first count")
    for sweep in range(sweeps):
        print(f"sweep {sweep + 1}")
        first = None
        for t in counts:
            with thread_cap(t):
                time.sleep(0.3)  # let the previous count's BLAS threads go to sleep
                row = {name: min(_timed(fn) for _ in range(k)) for name, (fn, k) in work.items()}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row["iter"] = per_iteration(GaussianMixture, X, params, extra=6,
                                                repeat=max(1, calls // 2))
            first = first or row
            print(f"  threads {t:2d}  " + "  ".join(
                f"{name} {s * 1e3:8.2f} x{first[name] / s:5.2f}" if min(s, first[name]) > 0
                else f"{name} -"  # a noisy difference of two fits (iter)
                for name, s in row.items()), flush=True)


def main(argv=None):
    from fastgmm.__main__ import _positive_int
    from fastgmm.bench import PROBLEMS, _counts, machine_line

    parser = argparse.ArgumentParser(prog="python -m fastgmm.bench_ceiling",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="mid", choices=list(PROBLEMS))
    parser.add_argument("--thread-counts", type=_counts, metavar="1,2,4,...",
                        help="default: 1, 2, 4, ... up to NUMBA_NUM_THREADS")
    parser.add_argument("--sweeps", type=_positive_int, default=2)
    args = parser.parse_args(argv)
    import numba

    top = numba.config.NUMBA_NUM_THREADS
    counts = args.thread_counts or sorted({min(2**i, top) for i in range(top.bit_length())} | {top})
    if max(counts) > top:
        parser.error(f"--thread-counts: at most NUMBA_NUM_THREADS={top}")
    print(machine_line())
    run_ceiling(args.problem, counts, args.sweeps)
    print(f"at the end: {machine_line(note=False)}")


if __name__ == "__main__":
    main()
