"""Additive sufficient statistics and the M-step computed from them.

A statistics vector (see ``_kernels``) holds, for responsibilities r_ik
(times the sample weight) and a shift m_k (the current means, or one centre
for 'tied'): N_k = sum_i r_ik, S1_k = sum_i r_ik (x_i - m_k), the type's
second-order sum S2, and T = (sum w_i loglik_i, sum w_i, #non-finite rows).
Statistics of disjoint row blocks add up, so chunked, out-of-core and
distributed fits reuse the same M-step.
"""

from dataclasses import dataclass

import numpy as np

from ._config import PARALLEL_MIN_WORK
from ._covariance import OVERFLOW, UNREACHABLE, check_not_collapsed
from ._kernels._common import split_stats
from ._threading import call_kernel


@dataclass
class Params:
    """Mixture parameters in float64 (sklearn's names, minus the underscore)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    #: ``kernel_args`` of these parameters, where the M-step gave them
    kernel: tuple = None

    def copy(self):
        return Params(*(None if a is None else a.copy() for a in self.astuple()))

    def astuple(self):
        return (self.weights, self.means, self.covariances, self.precisions_cholesky)


def kernel_args(ct, params):
    """(means, U, const, center): the kernels' view of the parameters
    (``const`` and the mixture mean ``center``: ``_kernels.mstep``)."""
    if params.kernel is not None:
        return params.kernel
    means = np.ascontiguousarray(params.means, dtype=np.float64)
    U = np.ascontiguousarray(params.precisions_cholesky, dtype=np.float64)
    weights = np.ascontiguousarray(params.weights, dtype=np.float64)
    const = np.empty(means.shape[0])  # writable: a read-only const would
    center = np.empty(means.shape[1])  # compile a second specialisation
    ct.kernels.kernel_const(weights, means, U, const, center)
    return means, U, const, center


def no_resp(X):
    """The empty responsibilities argument: compute them from the parameters."""
    return np.empty((0, 0), dtype=X.dtype)


def no_weights():
    return np.empty(0, dtype=np.float64)


def stats_shift(ct, center, per_component):
    """The shift (K, d) of a type's statistics: one centre for every component
    ('tied'), else ``per_component`` (the current means, or initial centres)."""
    if ct.shift_is_center:
        return np.broadcast_to(center, per_component.shape)
    return per_component


def _stats_pass(ct, X, sw, args):
    means, U, const, center = args
    work = X.shape[0] * ct.row_work(*means.shape)
    return call_kernel(
        ct.kernels_for(X.shape[1]).stats, X, sw, no_resp(X), means, U, const, center, work=work
    )


def estep_stats(ct, X, sw, params):
    """One fused pass: statistics shifted by the current parameters."""
    args = kernel_args(ct, params)
    return _stats_pass(ct, X, sw, args), stats_shift(ct, args[3], args[0])


def em_step(ct, X, sw, params, reg_covar, dtype):
    """One EM iteration from ``params``: (statistics, new parameters).

    Where the precision factors are a small computation (and reg_covar > 0:
    no collapse check), the M-step runs compiled and gives the kernels'
    arguments for the next pass with it (``_kernels.mstep``: bitwise the
    parameters of :func:`mstep`, which runs instead where it fails, to raise
    its error).
    """
    args = kernel_args(ct, params)
    means, center = args[0], args[3]
    total = _stats_pass(ct, X, sw, args)
    if reg_covar > 0 and ct.factor_work(*means.shape) < PARALLEL_MIN_WORK:
        ok, w, m, cov, U, const, c = ct.kernels.update(total, means, center, float(reg_covar))
        if ok:
            return total, Params(w, m, cov, U, kernel=(m, U, const, c))
    return total, mstep(ct, total, stats_shift(ct, center, means), reg_covar, dtype)


def mstep(ct, total, shift, reg_covar, dtype, weight_norm=None, covariances=True):
    """Parameters from statistics, following sklearn's M-step.

    nk = N + 10 eps; means = (N m + S1) / nk; covariances from the centred
    second moments; weights = nk / sum(nk), or nk / weight_norm at
    initialisation (sklearn divides by n_samples there). ``eps`` is float64's
    for every input dtype: the statistics are float64, and sklearn's float32
    eps pulls means towards the origin by 1.2e-6 relative (0.12 at 1e5,
    which breaks EM's monotonicity when variances are small).
    ``covariances=False``: weights and means only (the caller sets the rest).
    """
    K, d = shift.shape
    if not np.all(np.isfinite(total[:-3])):
        raise ValueError(OVERFLOW)  # sums of squared deviations overflowed
    N, S1, S2, T = split_stats(total, K, d)
    if T[2] > 0:  # rows an E-step found with zero density everywhere
        raise ValueError(UNREACHABLE.format(int(T[2])))
    nk = N + 10.0 * np.finfo(np.float64).eps
    means = (N[:, None] * shift + S1) / nk[:, None]
    norm = nk.sum() if weight_norm is None else weight_norm
    weights = nk / norm
    if not covariances:
        return Params(weights, means, None, None)
    cov = ct.covariances(N, S1, S2, means - shift, nk, reg_covar, d)
    return _factored(ct, weights, means, cov, nk, reg_covar, dtype)


def _factored(ct, weights, means, cov, nk, reg_covar, dtype):
    """Params with the precision factors of ``cov``; with reg_covar=0 a
    collapsed component raises first (``check_not_collapsed``)."""
    if reg_covar == 0:
        check_not_collapsed(ct, cov, means, nk, dtype)
    return Params(weights, means, cov, ct.prec_chol(cov, dtype))


def seed_params(ct, seeds, gram, reg_covar, dtype, weight_norm, seed_weight=1.0,
                covariances=True):
    """sklearn's initial M-step for single-point inits ('k-means++',
    'random_from_data'), formula by formula on the K seed rows: one-hot
    responsibilities give nk = 1 + 10 eps, means = seed / nk and the type's
    own covariance formula (``CovarianceType.seed_covariances``; for 'tied'
    it reads X^T W X of all rows in units of ``seed_weight``, ``gram()``).
    sklearn's diag and spherical formula E[x^2] - m^2 leaves about 10 eps x^2
    of variance there, which its fits start from.

    Every seed weighs ``seed_weight`` whatever its own sample weight (with
    counts, one copy of a repeated row: the lightest weight, so that scaling
    all weights changes nothing): weights = seed_weight nk / weight_norm,
    equal, as sklearn's first E-step sees them.
    """
    K, d = seeds.shape
    nk = np.full(K, 1.0 + 10.0 * np.finfo(np.float64).eps)
    means = seeds / nk[:, None]
    weights = seed_weight * nk / weight_norm
    if not covariances:
        return Params(weights, means, None, None)
    cov = ct.seed_covariances(gram, seeds, nk, means, reg_covar, d)
    return _factored(ct, weights, means, cov, nk, reg_covar, dtype)


def mean_loglik(total):
    """Weighted mean log-likelihood from a statistics vector."""
    T = total[-3:]
    return T[0] / T[1]
