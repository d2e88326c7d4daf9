"""Helpers shared by the per-covariance-type kernels.

Summation-order rule: every reduction over rows is done per fixed-size chunk
(``CHUNK_SIZE`` rows) and the chunk partials are added in chunk order by a
plain loop, so results never depend on the number of threads.
"""

import math

import numpy as np

from .._config import CHUNK_SIZE, PARTIALS_BYTES, jit


@jit
def n_chunks(n):
    return (n + CHUNK_SIZE - 1) // CHUNK_SIZE


@jit
def chunk_group(nch, width):
    """Chunks whose partials (``width`` float64 each) are held at once."""
    g = PARTIALS_BYTES // (8 * max(width, 1))
    return max(1, min(nch, g))


@jit
def chunk_rows(c, n):
    lo = c * CHUNK_SIZE
    return lo, min(n, lo + CHUNK_SIZE)


@jit
def add_into(total, part):
    """``total += part`` as a plain ordered loop (no parallel reduction)."""
    for j in range(total.shape[0]):
        total[j] += part[j]


@jit
def row_weight(sw, i):
    if sw.shape[0] == 0:
        return 1.0
    return sw[i]


@jit
def row_resp(lp, w, r):
    """Log-sum-exp of ``lp`` and responsibilities ``r = w * exp(lp - lse)``.

    Uses one exponential per component: ``r_k = w e_k / sum(e)`` with
    ``e_k = exp(lp_k - max(lp))``. A row whose log-sum-exp is not finite
    (every component at -inf, or NaN parameters) gets zero responsibilities;
    its non-finite log-likelihood is returned for the caller to report.
    """
    K = lp.shape[0]
    m = lp[0]
    for k in range(1, K):
        if lp[k] > m:
            m = lp[k]
    if not math.isfinite(m):
        for k in range(K):
            r[k] = 0.0
        return m
    s = 0.0
    for k in range(K):
        e = math.exp(lp[k] - m)
        r[k] = e
        s += e
    lse = m + math.log(s)
    if not math.isfinite(lse):
        for k in range(K):
            r[k] = 0.0
        return lse
    scale = w / s
    for k in range(K):
        r[k] *= scale
    return lse


@jit
def argmax_first(lp):
    best = 0
    for k in range(1, lp.shape[0]):
        if lp[k] > lp[best]:
            best = k
    return best


@jit
def finish_row(lp, i, lse, r, lpn, resp, labels):
    """Write one row of ``score_rows``' outputs (each optional)."""
    lpn[i] = lse
    if resp.shape[0] != 0:
        for k in range(lp.shape[0]):
            resp[i, k] = r[k]
    if labels.shape[0] != 0:
        labels[i] = argmax_first(lp)


@jit
def accumulate_T(T, w, lse):
    """T = (sum w * loglik, sum w, number of rows with a non-finite loglik)."""
    if math.isfinite(lse):
        T[0] += w * lse
    else:
        T[0] += lse
        T[2] += 1.0
    T[1] += w


def stats_width(K, d, s2_size):
    return K + K * d + s2_size + 3


def split_stats(total, K, d):
    """Views ``(N, S1, S2 flat, T)`` of a flat statistics vector."""
    N = total[:K]
    S1 = total[K : K + K * d].reshape(K, d)
    S2 = total[K + K * d : -3]
    T = total[-3:]
    return N, S1, S2, T


def empty_like_rows(dtype):
    return np.empty(0, dtype=dtype)
