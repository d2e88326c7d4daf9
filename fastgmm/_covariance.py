"""The covariance-type table: kernels, shapes, parameter counts, M-step.

The driver looks a type up once (``COVARIANCE_TYPES[name]``) and then only
calls the entry's functions; it never compares type strings itself.

All functions here work on float64 parameters. ``U`` is sklearn's
``precisions_cholesky_`` (upper-triangular, precision = U U^T, for full and
tied; 1/sigma for diag and spherical).
"""

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np
from scipy import linalg

from ._kernels import diag, full, full_small, spherical, tied, tied_small
from ._kernels.linalg import (
    full_covariances,
    inverse_cholesky_upper,
    tied_covariance,
    upper_gram,
)
from ._threading import call_tasks

ILL_DEFINED = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)
ILL_DEFINED_FLOAT32 = (
    " The numerical accuracy can also be improved by passing float64"
    " data instead of float32."
)


OVERFLOW = (
    "Fitting the mixture model failed because the empirical covariance of some "
    "components overflows float64 (the data's magnitude is too large). Scale the "
    "input data, for example with sklearn.preprocessing.StandardScaler."
)


UNREACHABLE = (
    "Fitting the mixture model failed because {} sample(s) have zero density "
    "under every component (their distance to every mean overflows float64: "
    "the data's magnitude is too large). Scale the input data, for example "
    "with sklearn.preprocessing.StandardScaler."
)


def ill_defined_error(dtype):
    msg = ILL_DEFINED
    if np.dtype(dtype) == np.float32:
        msg += ILL_DEFINED_FLOAT32
    return ValueError(msg)


def _check_finite_covariance(cov, dtype):
    if not np.all(np.isfinite(cov)):
        if np.any(np.isinf(cov)):
            raise ValueError(OVERFLOW)
        raise ill_defined_error(dtype)


def _full_prec_chol(cov, dtype):
    """U[k] with U U^T = inv(cov[k]), as sklearn: U = inv(cholesky(cov, lower)).T."""
    _check_finite_covariance(cov, dtype)
    C = np.ascontiguousarray(cov, dtype=np.float64)
    U = np.empty_like(C)
    K, d, _ = C.shape
    if call_tasks(inverse_cholesky_upper, C, U, work=K * d**3 // 2) >= 0:  # factor_work
        raise ill_defined_error(dtype)
    return U


def _chol_upper_inverse(cov, dtype):
    return _full_prec_chol(cov[None], dtype)[0]


def _chol_from_precision(P):
    """Upper U with U U^T = P, by the flip trick (sklearn #26415)."""
    return np.flipud(np.fliplr(linalg.cholesky(np.flipud(np.fliplr(P)), lower=True)))


def _positive_sqrt_inv(cov, dtype):
    _check_finite_covariance(cov, dtype)
    if np.any(cov <= 0.0):
        raise ill_defined_error(dtype)
    return 1.0 / np.sqrt(cov)


# --- full -----------------------------------------------------------------
def _full_cov(N, S1, S2, delta, nk, reg, d):
    K = N.shape[0]
    C = np.empty((K, d, d))
    c = np.ascontiguousarray
    full_covariances(c(N), c(S1), c(S2).reshape(K, d * d), c(delta), c(nk), float(reg), C)
    return C


def _full_precisions(U):
    U = np.ascontiguousarray(U, dtype=np.float64)
    P = np.empty_like(U)
    upper_gram(U, P)
    return P


def _full_from_precisions(P):
    return np.stack([_chol_from_precision(p) for p in P])


def _full_sample(rng, means, cov, counts):
    return [rng.multivariate_normal(m, c, int(s)) for m, c, s in zip(means, cov, counts)]


def _full_seed_cov(gram, seeds, nk, means, reg, d):
    # sklearn's (r_k (x - m_k))^T (x - m_k) / nk on one row
    diff = seeds - means
    C = diff[:, :, None] * diff[:, None, :] / nk[:, None, None]
    C[:, np.arange(d), np.arange(d)] += reg
    return C


# --- tied -----------------------------------------------------------------
def _tied_cov(N, S1, S2, delta, nk, reg, d):
    C = np.empty((d, d))
    c = np.ascontiguousarray
    tied_covariance(c(N), c(S1), c(S2).reshape(d * d), c(delta), float(nk.sum()), float(reg), C)
    return C


def _tied_seed_cov(gram, seeds, nk, means, reg, d):
    # sklearn's (X^T X - nk m^T m) / sum nk over all rows, not the seeds' scatter
    # einsum's own loops, not a threaded BLAS product (see tied_covariance)
    C = (gram() - np.einsum("k,ki,kj->ij", nk, means, means)) / nk.sum()
    C.flat[:: d + 1] += reg
    return C


def _tied_precisions(U):
    return _full_precisions(U[None])[0]


def _tied_sample(rng, means, cov, counts):
    return [rng.multivariate_normal(m, cov, int(s)) for m, s in zip(means, counts)]


# --- diag -----------------------------------------------------------------
def _diag_cov(N, S1, S2, delta, nk, reg, d):
    S2 = S2.reshape(-1, d)
    return (S2 - 2.0 * S1 * delta + N[:, None] * delta**2) / nk[:, None] + reg


def _square(U):
    return U**2


def _sqrt(P):
    return np.sqrt(P)


def _diag_sample(rng, means, cov, counts):
    d = means.shape[1]
    return [
        m + rng.standard_normal(size=(int(s), d)) * np.sqrt(c)
        for m, c, s in zip(means, cov, counts)
    ]


def _diag_seed_cov(gram, seeds, nk, means, reg, d):
    # sklearn's E[x^2] - m^2 + reg on one row: about 10 eps x^2 + reg
    return (seeds * seeds) / nk[:, None] - means**2 + reg


# --- spherical ------------------------------------------------------------
def _spherical_cov(N, S1, S2, delta, nk, reg, d):
    num = S2 - 2.0 * np.sum(S1 * delta, axis=1) + N * np.sum(delta**2, axis=1)
    return num / nk / d + reg


def _scaled_eigen_min(cov, scale2):
    """Smallest eigenvalue of D^-1 C D^-1, D = diag(sqrt(scale2)): the least
    variance of any direction relative to its features' own scales (NaN
    where a scale is 0, a feature exactly constant at 0)."""
    d = cov.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 / np.sqrt(scale2)
        return np.linalg.eigvalsh(cov.reshape(-1, d, d) * s[:, :, None] * s[:, None, :])[:, 0]


def _full_relative_variance(cov, means):
    return _scaled_eigen_min(cov, means**2 + np.einsum("kii->ki", cov))


def _tied_relative_variance(cov, means):
    return _scaled_eigen_min(cov, np.max(means**2, axis=0)[None] + np.diagonal(cov)[None])


def _diag_relative_variance(cov, means):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.min(cov / (means**2 + cov), axis=1)


def _spherical_relative_variance(cov, means):
    with np.errstate(divide="ignore", invalid="ignore"):
        return cov / (np.max(means**2, axis=1) + cov)


def check_not_collapsed(ct, cov, means, nk, dtype):
    """With reg_covar=0: a variance below (tol x its scale)^2 is zero to the
    data's precision (a component collapsed onto repeated points); sklearn's
    ill-defined-covariance error, not a model of noise.

    The scale of feature j is m_j^2 + C_jj (its own magnitude: a feature of
    values near 1e-12 next to one near 1e4 is not collapsed); a direction's
    variance is measured relative to its features' scales (the least
    eigenvalue of the covariance scaled to them). The noise a collapsed
    component keeps: the M-step's guard nk = N + 10 eps moves its mean off
    the point by 10 eps / N of the scale, plus a few eps of rounding, so
    tol = (8 + 20 / N) eps, at most 64 eps. Data spread over more than that
    (1e8 + 1e-6 noise: 45 eps) is kept, as sklearn keeps it.
    """
    rel = ct.relative_variance(cov, means)  # per component, or one for 'tied'
    tol = np.minimum(64.0, 8.0 + 20.0 / nk) * np.finfo(np.float64).eps  # nk >= 10 eps
    if not np.all(rel > tol**2):
        raise ill_defined_error(dtype)


def covariances_from_prec_chol(ct, U):
    """inv(U U^T) in float64, for a model whose precisions were given.

    Matrices as V^T V with V = inv(U) by triangular solves: the residual of
    a triangular inverse is small whatever the conditioning, so the result
    matches U to rounding (``U^T C U = I``); inv(U U^T) would not. Per-feature
    variances as 1 / U^2.
    """
    U = np.asarray(U, dtype=np.float64)
    if not ct.is_matrix:
        return 1.0 / (U * U)
    d = U.shape[-1]
    V = np.stack([linalg.solve_triangular(u, np.eye(d), lower=False) for u in U.reshape(-1, d, d)])
    return (np.swapaxes(V, -1, -2) @ V).reshape(U.shape)


def upper_factor(ct, U):
    """U as the kernels read it: an upper-triangular factor with a positive
    diagonal (per-feature values > 0 for 'diag' and 'spherical').

    scikit-learn uses ``precisions_cholesky_`` only through ``x U - m U`` and
    ``sum log diag U``, which hold for a lower-triangular factor too, as
    ``np.linalg.cholesky(precision)`` gives it; such a factor is replaced by
    the upper one of the same precision (the kernels read the upper triangle
    only). A factor that is not triangular, or a diagonal <= 0, has no log
    determinant there: it is refused.
    """
    bad = ("precisions_cholesky_ must be the triangular Cholesky factor of the "
           "precisions, with a positive diagonal (as scikit-learn computes it)")
    if not ct.is_matrix:
        if not np.all(U > 0):
            raise ValueError(f"{bad}: it has values <= 0 or NaN")
        return U
    d = U.shape[-1]
    A = U.reshape(-1, d, d)
    if not np.all(np.diagonal(A, axis1=1, axis2=2) > 0):
        raise ValueError(f"{bad}: its diagonal has values <= 0 or NaN")
    lower = np.any(np.tril(A, -1) != 0, axis=(1, 2))
    if not lower.any():
        return U
    if np.any(lower & np.any(np.triu(A, 1) != 0, axis=(1, 2))):
        raise ValueError(f"{bad}: it is not triangular")
    A = A.copy()
    for k in np.flatnonzero(lower):
        A[k] = _chol_from_precision(A[k] @ A[k].T)
    return A.reshape(U.shape)


@dataclass(frozen=True)
class CovarianceType:
    """Everything type-specific the generic driver needs."""

    name: str
    kernels: ModuleType
    #: shape of precisions_init / precisions_ / covariances_ for (K, d)
    shape: Callable
    #: number of free covariance parameters for (K, d)
    n_cov_params: Callable
    #: (N, S1, S2, delta, nk, reg, d) -> covariances
    covariances: Callable
    #: (covariances, dtype) -> U, raising sklearn's ill-defined error
    prec_chol: Callable
    #: U -> precisions
    precisions: Callable
    #: precisions -> U
    prec_chol_from_precisions: Callable
    #: (rng, means, covariances, counts) -> list of sample blocks
    sample: Callable
    #: (K, d) -> multiply-adds per row of a statistics pass (a cost estimate
    #: that decides whether a call is worth the thread pool)
    row_work: Callable = None
    #: (K, d) -> multiply-adds of the M-step's precision factors (large ones
    #: run in parallel, outside the compiled M-step: ``_stats.em_step``)
    factor_work: Callable = lambda K, d: 0
    #: statistics are shifted by a single centre rather than by the means
    shift_is_center: bool = False
    #: (gram, seeds, nk, means, reg, d) -> sklearn's covariances for
    #: one-hot responsibilities on K seed rows ('k-means++',
    #: 'random_from_data'), by its formula for the type (see
    #: ``_stats.seed_params``); ``gram()`` gives X^T W X of all rows
    seed_covariances: Callable = None
    #: (covariances, means) -> least variance relative to its features'
    #: scales, per component (one for 'tied'), see ``check_not_collapsed``
    relative_variance: Callable = None
    #: sklearn allocates this type's covariances (and so precisions) in X's
    #: dtype, whatever the dtype of user-given initial parameters
    covariances_in_X_dtype: bool = False
    #: d -> the kernels for data of d features, when they are specialised
    kernels_by_d: Callable = None
    #: parameters are (stacks of) d x d matrices, not per-feature variances
    is_matrix: bool = False

    def kernels_for(self, d):
        """The kernel module (or namespace with the same functions) for data
        of ``d`` features: 'full' has kernels built for each d <= 16, 'tied'
        for d < 12 (``_kernels.full_small``, ``_kernels.tied_small``)."""
        return self.kernels if self.kernels_by_d is None else self.kernels_by_d(d)

    def param_shapes(self, K, d):
        """Shape of each fitted array beside ``means_`` for K components and
        d features."""
        s = tuple(self.shape(K, d))
        return {"weights_": (K,), "covariances_": s, "precisions_cholesky_": s,
                "precisions_": s}


COVARIANCE_TYPES = {
    "full": CovarianceType(
        "full",
        full,
        lambda K, d: (K, d, d),
        lambda K, d: K * d * (d + 1) / 2.0,
        _full_cov,
        _full_prec_chol,
        _full_precisions,
        _full_from_precisions,
        _full_sample,
        # at least diag's 3 K d: one feature runs diag's kernels (full_1d)
        row_work=lambda K, d: K * (3 * d if d == 1 else d * (d + 3) // 2),  # d = 1: diag's
        factor_work=lambda K, d: K * d**3 // 2,
        seed_covariances=_full_seed_cov,
        relative_variance=_full_relative_variance,
        covariances_in_X_dtype=True,
        kernels_by_d=full_small.kernels_for,
        is_matrix=True,
    ),
    "tied": CovarianceType(
        "tied",
        tied,
        lambda K, d: (d, d),
        lambda K, d: d * (d + 1) / 2.0,
        _tied_cov,
        _chol_upper_inverse,
        _tied_precisions,
        _chol_from_precision,
        _tied_sample,
        row_work=lambda K, d: d * (d + 1) // 2 + 2 * K * d,
        factor_work=lambda K, d: d**3 // 2,
        shift_is_center=True,
        seed_covariances=_tied_seed_cov,
        kernels_by_d=tied_small.kernels_for,
        relative_variance=_tied_relative_variance,
        is_matrix=True,
    ),
    "diag": CovarianceType(
        "diag",
        diag,
        lambda K, d: (K, d),
        lambda K, d: K * d,
        _diag_cov,
        _positive_sqrt_inv,
        _square,
        _sqrt,
        _diag_sample,
        row_work=lambda K, d: 3 * K * d,
        seed_covariances=_diag_seed_cov,
        relative_variance=_diag_relative_variance,
    ),
    "spherical": CovarianceType(
        "spherical",
        spherical,
        lambda K, d: (K,),
        lambda K, d: K,
        _spherical_cov,
        _positive_sqrt_inv,
        _square,
        _sqrt,
        _diag_sample,
        row_work=lambda K, d: 3 * K * d,
        seed_covariances=lambda *args: np.mean(_diag_seed_cov(*args), axis=1),
        relative_variance=_spherical_relative_variance,
    ),
}
