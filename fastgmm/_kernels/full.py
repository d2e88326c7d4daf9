"""Kernels for ``covariance_type='full'``.

``prec[k]`` is the upper-triangular U_k with precision U_k U_k^T (sklearn's
``precisions_cholesky_``); ``const[k] = log w_k + sum(log diag U_k)
- d/2 log(2 pi)``, and

    log N(x | mu_k, Sigma_k) = const_k - 1/2 |(x - mu_k)^T U_k|^2.

Statistics are shifted by ``means`` (the current means m_k): N_k = sum r_ik,
S1_k = sum r_ik (x_i - m_k), S2_k = sum r_ik (x_i - m_k)(x_i - m_k)^T, upper
triangle only, flat (K*d*d).
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
    return K * d * d


@jit
def _prepare(means, prec, center):
    return np.empty((0, 0))


#: rows per block: each U_k and S2_k is loaded once per block, not per row
BLOCK = 32


@jit
def _block_diff(X, i0, nb, mean, D):
    d = mean.shape[0]
    for b in range(nb):
        for j in range(d):
            D[b, j] = X[i0 + b, j] - mean[j]


@jit
def _block_logprob(X, i0, nb, means, prec, const, D, Y, lp):
    """lp[b, k] for rows i0..i0+nb, component by component."""
    K, d = means.shape
    for k in range(K):
        _block_diff(X, i0, nb, means[k], D)
        # Y = D U_k, U_k upper-triangular: rows of U_k reused across the block.
        # Inner loops run from 0 over 1-D slices so that LLVM vectorises them.
        for b in range(nb):
            for j in range(d):
                Y[b, j] = 0.0
        for l in range(d):
            u = prec[k, l, l:]
            for b in range(nb):
                a = D[b, l]
                y = Y[b, l:]
                for t in range(y.shape[0]):
                    y[t] += a * u[t]
        for b in range(nb):
            maha = 0.0
            for j in range(d):
                maha += Y[b, j] * Y[b, j]
            lp[b, k] = const[k] - 0.5 * maha


@jit
def _block_scatter(X, i0, nb, means, r, D, W, N, S1, S2):
    """N, S1, S2 += the block's contribution, rows in order for every entry."""
    K, d = means.shape
    for k in range(K):
        nz = False
        for b in range(nb):
            if r[b, k] != 0.0:
                nz = True
        if not nz:
            continue
        _block_diff(X, i0, nb, means[k], D)
        for b in range(nb):
            rk = r[b, k]
            N[k] += rk
            for j in range(d):
                W[b, j] = rk * D[b, j]
                S1[k, j] += W[b, j]
        base = k * d * d
        b = 0
        # four rows at a time: four products per load/store of S2
        while b + 4 <= nb:
            for j in range(d):
                a0 = W[b, j]
                a1 = W[b + 1, j]
                a2 = W[b + 2, j]
                a3 = W[b + 3, j]
                s2 = S2[base + j * d + j : base + j * d + d]
                d0 = D[b, j:]
                d1 = D[b + 1, j:]
                d2 = D[b + 2, j:]
                d3 = D[b + 3, j:]
                for t in range(s2.shape[0]):
                    s2[t] += a0 * d0[t] + a1 * d1[t] + a2 * d2[t] + a3 * d3[t]
            b += 4
        while b < nb:
            for j in range(d):
                a0 = W[b, j]
                s2 = S2[base + j * d + j : base + j * d + d]
                d0 = D[b, j:]
                for t in range(s2.shape[0]):
                    s2[t] += a0 * d0[t]
            b += 1


@jit
def _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, out):
    K, d = means.shape
    for j in range(out.shape[0]):
        out[j] = 0.0
    N = out[:K]
    S1 = out[K : K + K * d].reshape((K, d))
    S2 = out[K + K * d : out.shape[0] - 3]
    T = out[out.shape[0] - 3 :]
    D = np.empty((BLOCK, d))
    Y = np.empty((BLOCK, d))
    lp = np.empty((BLOCK, K))
    r = np.empty((BLOCK, K))
    given = R.shape[0] != 0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        if given:
            for b in range(nb):
                w = row_weight(sw, i0 + b)
                for k in range(K):
                    r[b, k] = R[i0 + b, k] * w
        else:
            _block_logprob(X, i0, nb, means, prec, const, D, Y, lp)
            for b in range(nb):
                w = row_weight(sw, i0 + b)
                accumulate_T(T, w, row_resp(lp[b], w, r[b]))
        _block_scatter(X, i0, nb, means, r, D, Y, N, S1, S2)


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
    D = np.empty((BLOCK, d))
    Y = np.empty((BLOCK, d))
    lp = np.empty((BLOCK, K))
    r = np.empty(K)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        _block_logprob(X, i0, nb, means, prec, const, D, Y, lp)
        for b in range(nb):
            finish_row(lp[b], i0 + b, row_resp(lp[b], 1.0, r), r, lpn, resp, labels)


@pjit
def score_rows(X, means, prec, const, center, lpn, resp, labels):
    aux = _prepare(means, prec, center)
    for c in prange(n_chunks(X.shape[0])):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)
