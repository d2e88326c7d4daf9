"""Kernels for ``covariance_type='diag'``.

``prec[k, j] = 1 / sigma_kj`` (sklearn's ``precisions_cholesky_``);
``const[k] = log w_k + sum_j log prec[k, j] - d/2 log(2 pi)`` and

    log N(x | mu_k, Sigma_k) = const_k - 1/2 sum_j ((x_j - mu_kj) prec_kj)^2.

Statistics are shifted by ``means``: N_k, S1_k = sum r_ik (x_i - m_k) and
S2_kj = sum r_ik (x_ij - m_kj)^2 (flat, K*d).
"""

import numpy as np
from numba import prange

from .._config import jit, pjit
from ._common import (
    accumulate_T,
    add_into,
    chunk_group,
    chunk_rows,
    finish_row,
    n_chunks,
    row_resp,
    row_weight,
)


@jit
def S2_SIZE(K, d):
    return K * d


@jit
def _prepare(means, prec, center):
    return np.empty((0, 0))


@jit
def _scratch(K, d):
    return np.empty(1)


@jit
def _row_shift(x, means, center, diff, y):
    K, d = means.shape
    for k in range(K):
        for j in range(d):
            diff[k, j] = x[j] - means[k, j]


@jit
def _row_logprob(x, means, prec, const, center, aux, diff, y, lp):
    K, d = means.shape
    _row_shift(x, means, center, diff, y)
    for k in range(K):
        maha = 0.0
        for j in range(d):
            t = diff[k, j] * prec[k, j]
            maha += t * t
        lp[k] = const[k] - 0.5 * maha


@jit
def _row_accumulate(r, diff, y, N, S1, S2):
    K, d = diff.shape
    for k in range(K):
        rk = r[k]
        if rk == 0.0:
            continue
        N[k] += rk
        for j in range(d):
            a = rk * diff[k, j]
            S1[k, j] += a
            S2[k * d + j] += a * diff[k, j]


@jit
def _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, out):
    K, d = means.shape
    for j in range(out.shape[0]):
        out[j] = 0.0
    N = out[:K]
    S1 = out[K : K + K * d].reshape((K, d))
    S2 = out[K + K * d : out.shape[0] - 3]
    T = out[out.shape[0] - 3 :]
    x = np.empty(d)
    diff = np.empty((K, d))
    y = _scratch(K, d)
    lp = np.empty(K)
    r = np.empty(K)
    given = R.shape[0] != 0
    for i in range(lo, hi):
        for j in range(d):
            x[j] = X[i, j]
        w = row_weight(sw, i)
        if given:
            _row_shift(x, means, center, diff, y)
            for k in range(K):
                r[k] = R[i, k] * w
        else:
            _row_logprob(x, means, prec, const, center, aux, diff, y, lp)
            accumulate_T(T, w, row_resp(lp, w, r))
        _row_accumulate(r, diff, y, N, S1, S2)


@pjit
def stats(X, sw, R, means, prec, const, center):
    n = X.shape[0]
    K, d = means.shape
    width = K + K * d + S2_SIZE(K, d) + 3
    aux = _prepare(means, prec, center)
    nch = n_chunks(n)
    group = chunk_group(nch, width)
    total = np.zeros(width)
    part = np.empty((group, width))
    for g0 in range(0, nch, group):
        g = min(group, nch - g0)
        for c in prange(g):
            lo, hi = chunk_rows(g0 + c, n)
            _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, part[c])
        for c in range(g):
            add_into(total, part[c])
    return total


@jit
def _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels):
    K, d = means.shape
    lo, hi = chunk_rows(c, X.shape[0])
    x = np.empty(d)
    diff = np.empty((K, d))
    y = _scratch(K, d)
    lp = np.empty(K)
    r = np.empty(K)
    for i in range(lo, hi):
        for j in range(d):
            x[j] = X[i, j]
        _row_logprob(x, means, prec, const, center, aux, diff, y, lp)
        finish_row(lp, i, row_resp(lp, 1.0, r), r, lpn, resp, labels)


@pjit
def score_rows(X, means, prec, const, center, lpn, resp, labels):
    aux = _prepare(means, prec, center)
    for c in prange(n_chunks(X.shape[0])):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)
