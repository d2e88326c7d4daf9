"""Ahead-of-time compilation of every kernel on tiny data."""

import itertools
import numbers
import warnings

import numpy as np


def warmup(dtypes=("float64", "float32"), n_features=(2, 17)):
    """Compile (or load from the on-disk cache) every fastgmm kernel.

    Fits and scores a tiny model for each covariance type and dtype, which
    exercises the k-means initialisation, the fused EM pass and the scoring
    kernels, on data of one chunk (which run the kernels' serial twins) and of
    several chunks (the parallel drivers). Call it once at service start-up to
    keep compilation out of the first real request.

    Parameters
    ----------
    dtypes : {'float64', 'float32'} or a sequence of them, default=('float64', 'float32')
        The input dtypes to compile for.
    n_features : int or sequence of int, default=(2, 17)
        Feature counts to compile for. The default covers every count but 3
        to 16 for the full covariance type, whose kernels are built for each
        such count (``_kernels.full_small``) and compiled on first use: list
        the counts a service will fit. (Kernels shared by several counts:
        full on 2 features has its own, 1 runs diag's, from 17 the generic
        ones; tied has one set below 12 features and one from 12, diag and
        spherical one for all.)
    """
    from ._config import CHUNK_SIZE

    dtypes, n_features = _warmup_args(dtypes, n_features)
    rng = np.random.RandomState(0)
    for dtype, n, d in itertools.product(dtypes, (40, CHUNK_SIZE + 1), n_features):
        X = rng.normal(size=(n, d)).astype(dtype)
        for cov in ("full", "tied", "diag", "spherical"):
            warm_fit(cov, X)
        if n == 40:
            _warm_lloyd_step(X)


def _warm_lloyd_step(X):
    """The serial Lloyd step as Python calls it: small data run their k-means
    steps inside the compiled ``lloyd_run``, and call the step alone only for
    the final labels (stopped by tol or the step limit) and after an empty
    cluster, which warmup's fits do not reach."""
    from ._initialization import _centred_blocks
    from ._kernels import kmeans
    from ._stats import no_weights

    xmean = np.ascontiguousarray(X.mean(axis=0), dtype=X.dtype)
    centers = np.zeros((2, X.shape[1]))
    labels = np.zeros(X.shape[0], dtype=np.int32)
    kmeans.lloyd_step.serial(X, no_weights(), xmean, _centred_blocks(X, xmean), centers, labels, False)


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


def _warmup_args(dtypes, n_features):
    """``warmup``'s arguments as tuples, a single value accepted; anything
    but float32/float64 and positive integer counts is refused."""
    if isinstance(dtypes, (str, type, np.dtype)):
        dtypes = (dtypes,)
    if isinstance(n_features, numbers.Integral):
        n_features = (n_features,)
    if isinstance(n_features, str):
        raise TypeError(f"warmup: n_features must be an int or a sequence of ints, got {n_features!r}")
    try:
        dtypes = tuple(np.dtype(t) for t in dtypes)
        n_features = tuple(n_features)
    except TypeError as exc:
        raise TypeError(f"warmup: dtypes and n_features must be sequences ({exc})") from None
    for t in dtypes:
        if t not in (np.float32, np.float64):
            raise ValueError(f"warmup: dtypes must be float32 or float64, got {t}")
    for d in n_features:
        if not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 1:
            raise ValueError(f"warmup: n_features must be positive integers, got {d!r}")
    return dtypes, tuple(int(d) for d in n_features)
