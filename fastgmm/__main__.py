"""``python -m fastgmm`` / ``fastgmm``: fit a mixture and print it.

With no data file, fits the iris measurements bundled with scikit-learn (no
download) and says so.
"""

import argparse
import sys
import time

import numpy as np


def _load(path):
    if path is None:
        from sklearn.datasets import load_iris

        return load_iris().data, "iris (bundled with scikit-learn, 150 x 4)"
    if path.endswith(".npy"):
        return np.load(path), path
    return np.loadtxt(path, delimiter=",", ndmin=2), path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="fastgmm",
        description="Fit a Gaussian mixture with fastgmm and print the model, BIC and AIC.",
    )
    parser.add_argument("data", nargs="?", help="CSV (no header) or .npy file; default: iris")
    parser.add_argument("-k", "--n-components", type=int, default=3)
    parser.add_argument(
        "--covariance-type", default="full", choices=["full", "tied", "diag", "spherical"]
    )
    parser.add_argument("--n-init", type=int, default=1)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    from fastgmm import GaussianMixture

    try:
        X, name = _load(args.data)
        gm = GaussianMixture(
            args.n_components,
            covariance_type=args.covariance_type,
            n_init=args.n_init,
            random_state=args.random_state,
        )
        t0 = time.perf_counter()
        gm.fit(X)
        seconds = time.perf_counter() - t0
    except (OSError, ValueError) as exc:
        print(f"fastgmm: error: {exc}", file=sys.stderr)
        return 2

    np.set_printoptions(precision=4, suppress=True)
    print(f"data: {name}")
    print(f"model: GaussianMixture(n_components={args.n_components}, "
          f"covariance_type={args.covariance_type!r})")
    print(f"converged: {gm.converged_} after {gm.n_iter_} iterations "
          f"({seconds:.3f} s including compilation on first use)")
    print(f"weights: {gm.weights_}")
    print("means:")
    print(gm.means_)
    print(f"mean log-likelihood: {gm.score(X):.6f}")
    print(f"BIC: {gm.bic(X):.4f}")
    print(f"AIC: {gm.aic(X):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
