"""Kernels for ``covariance_type='tied'``.

``prec`` is the single upper-triangular U (precision U U^T). With a centre
``c`` (any fixed point near the data, for accuracy) and z = x - c:

    (x - mu_k)^T U = z^T U - (mu_k - c)^T U = v - a_k,

so each row costs one triangular product plus K*d subtractions; ``a_k`` is
precomputed once per pass.

Statistics are shifted by ``c`` for every component: N_k = sum r_ik,
S1_k = sum r_ik z_i, and S2 = sum_i (sum_k r_ik) z_i z_i^T (upper triangle,
flat d*d): the M-step recovers the pooled within-component scatter from them.
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
    return d * d


@jit
def _prepare(means, prec, center):
    K, d = means.shape
    a = np.zeros((K, d))
    for k in range(K):
        for l in range(d):
            t = means[k, l] - center[l]
            ak = a[k, l:]
            u = prec[l, l:]
            for j in range(ak.shape[0]):
                ak[j] += t * u[j]
    return a


@jit
def _scratch(K, d):
    return np.empty(2 * d)


@jit
def _row_shift(x, means, center, diff, y):
    d = x.shape[0]
    for j in range(d):
        y[j] = x[j] - center[j]


@jit
def _row_logprob(x, means, prec, const, center, aux, diff, y, lp):
    K, d = means.shape
    _row_shift(x, means, center, diff, y)
    for j in range(d):
        y[d + j] = 0.0
    for l in range(d):
        a = y[l]
        v = y[d + l : 2 * d]
        u = prec[l, l:]
        for j in range(v.shape[0]):
            v[j] += a * u[j]
    for k in range(K):
        maha = 0.0
        for j in range(d):
            t = y[d + j] - aux[k, j]
            maha += t * t
        lp[k] = const[k] - 0.5 * maha


@jit
def _row_accumulate(r, diff, y, N, S1, S2):
    K, d = diff.shape
    rs = 0.0
    for k in range(K):
        rk = r[k]
        if rk == 0.0:
            continue
        rs += rk
        N[k] += rk
        for j in range(d):
            S1[k, j] += rk * y[j]
    if rs == 0.0:
        return
    for j in range(d):
        a = rs * y[j]
        s2 = S2[j * d + j : j * d + d]
        z = y[j:d]
        for l in range(s2.shape[0]):
            s2[l] += a * z[l]


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
