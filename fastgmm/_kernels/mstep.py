"""The M-step and the kernels' per-component constants, compiled.

On small problems the NumPy M-step (``_stats.mstep``) and the kernels'
arguments (``_stats.kernel_args``) cost more than the statistics pass
itself: about 25 us of NumPy calls against a 16 us pass (2,000 x 2, K=3).
Each covariance type's kernel module defines, with these signatures:

``update(total, means, center, reg)``
    One M-step from statistics shifted by ``means`` ('tied': by ``center``),
    the E-step's kernel arguments: ``(ok, weights, means, covariances, U,
    const, center)``. The same operations in the same order as
    ``_stats.mstep`` (bitwise the same parameters); ``ok`` is False where
    that M-step raises (non-finite statistics, rows of zero density, a
    covariance that is non-finite or not positive definite), and the caller
    then runs it for its error. The precision factors are computed
    serially: for small factorisations only (``CovarianceType.factor_work``).
``kernel_const(weights, means, U, const, center)``
    ``const[k] = log w_k + log det U_k - d/2 log(2 pi)`` and the mixture
    mean ``center = sum_k w_k m_k`` (``means[0]`` when a weight is not
    finite), in place.

Here are the parts they share.
"""

import math

import numpy as np

from .._config import jit_exact

LOG_2PI = math.log(2.0 * math.pi)
_EPS10 = 10.0 * np.finfo(np.float64).eps  # the M-step's nk = N + 10 eps


@jit_exact
def pairwise_sum(a):
    """``np.sum(a)`` of a contiguous float64 vector, in NumPy's order (its
    pairwise summation: eight running sums for up to 128 values, halves in
    multiples of eight above), so that it rounds as NumPy does."""
    return 0.0 + _pairwise(a)  # NumPy adds the sum to 0.0: -0.0 sums to 0.0


@jit_exact
def _pairwise(a):
    n = a.shape[0]
    if n < 8:
        s = 0.0
        if n > 0:
            s = a[0]
        for i in range(1, n):
            s += a[i]
        return s
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
        r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
        i = 8
        while i < n - n % 8:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            s += a[i]
            i += 1
        return s
    half = n // 2
    half -= half % 8
    return _pairwise(a[:half]) + _pairwise(a[half:])


@jit_exact
def log_or_nan(x):
    """log x, -inf for 0 (an empty component never wins), nan below."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


@jit_exact
def finite_stats(total):
    """The statistics are finite (sums of squares can overflow) and no row
    had zero density under every component (T[2], the last but one)."""
    n = total.shape[0]
    for i in range(n - 3):
        if not math.isfinite(total[i]):
            return False
    return total[n - 1] == 0.0


@jit_exact
def split(total, K, d):
    """Views ``(N, S1, S2 flat)`` of a statistics vector (``split_stats``)."""
    return total[:K], total[K : K + K * d].reshape((K, d)), total[K + K * d : total.shape[0] - 3]


@jit_exact
def weights_means(N, S1, shift):
    """nk = N + 10 eps, means = (N shift + S1) / nk, weights = nk / sum nk
    and delta = means - shift: ``_stats.mstep``'s expressions, element by
    element."""
    K, d = shift.shape
    nk = np.empty(K)
    means = np.empty((K, d))
    delta = np.empty((K, d))
    for k in range(K):
        nk[k] = N[k] + _EPS10
        for j in range(d):
            means[k, j] = (N[k] * shift[k, j] + S1[k, j]) / nk[k]
            delta[k, j] = means[k, j] - shift[k, j]
    weights = nk / pairwise_sum(nk)
    return nk, means, weights, delta


@jit_exact
def all_finite(a):
    for v in a.ravel():
        if not math.isfinite(v):
            return False
    return True


@jit_exact
def mixture_const(weights, logdet, d, means, const, center):
    """const = log w + log det - d/2 log(2 pi); center = sum_k w_k m_k, or
    means[0] when a weight is not finite (a model set by hand)."""
    K = weights.shape[0]
    half = 0.5 * d * LOG_2PI
    finite = True
    for k in range(K):
        const[k] = log_or_nan(weights[k]) + logdet[k] - half
        finite = finite and math.isfinite(weights[k])
    for j in range(center.shape[0]):
        if finite:
            s = 0.0
            for k in range(K):
                s += weights[k] * means[k, j]
            center[j] = s
        else:
            center[j] = means[0, j]


@jit_exact
def failed(none):
    """``update``'s result when the NumPy M-step would raise; ``none``: an
    empty array of the type's covariance shape."""
    return False, np.empty(0), np.empty((0, 0)), none, none, np.empty(0), np.empty(0)
