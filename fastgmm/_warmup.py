"""Ahead-of-time compilation of every kernel on tiny data."""

import itertools
import warnings

import numpy as np


def warmup(dtypes=("float64", "float32"), n_features=(2,)):
    """Compile (or load from the on-disk cache) every fastgmm kernel.

    Fits and scores a tiny model for each covariance type and dtype, which
    exercises the k-means initialisation, the fused EM pass and the scoring
    kernels, on data of one chunk (which run the kernels' serial twins) and of
    several chunks (the parallel drivers). Call it once at service start-up to
    keep compilation out of the first real request.

    Parameters
    ----------
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')
        The input dtypes to compile for.
    n_features : sequence of int, default=(2,)
        Feature counts to compile for. Every count shares the same kernels
        except the full covariance type's unrolled ones for 3 to 16 features
        (``_kernels.full_small``), compiled for each such count on first use:
        list the counts a service will fit.
    """
    from ._config import CHUNK_SIZE

    rng = np.random.RandomState(0)
    for dtype, n, d in itertools.product(dtypes, (40, CHUNK_SIZE + 1), n_features):
        X = rng.normal(size=(n, int(d))).astype(dtype)
        for cov in ("full", "tied", "diag", "spherical"):
            warm_fit(cov, X)


def warm_fit(covariance_type, X):
    """Fit, predict and score a 2-component model on ``X``: compiles (or
    loads) every kernel of that type and X's dtype; the parallel drivers too
    when X has several chunks, however little work it holds."""
    from ._gaussian_mixture import GaussianMixture
    from ._threading import parallel_always

    gm = GaussianMixture(2, covariance_type=covariance_type, max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings(), parallel_always():
        warnings.simplefilter("ignore")
        gm.fit_predict(X)
        gm.predict_proba(X)
        gm.score_samples(X)
