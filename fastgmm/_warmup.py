"""Ahead-of-time compilation of every kernel on tiny data."""

import itertools
import warnings

import numpy as np


def warmup(dtypes=("float64", "float32")):
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
    """
    from ._config import CHUNK_SIZE

    rng = np.random.RandomState(0)
    for dtype, n in itertools.product(dtypes, (40, CHUNK_SIZE + 1)):
        X = rng.normal(size=(n, 2)).astype(dtype)
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
