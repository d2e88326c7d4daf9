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
BLOCK = 64
#: lanes of the striped second-moment accumulators used for small d
LANES = 8
#: up to this dimension the scatter runs rows-innermost on striped lanes;
#: above it, features-innermost on four rows at a time
SMALL_D = 16


@jit
def _load_block(X, i0, nb, Xt):
    """Xt[:, :nb] = X[i0:i0+nb].T in float64 (feature-major block)."""
    d = X.shape[1]
    for b in range(nb):
        for j in range(d):
            Xt[j, b] = X[i0 + b, j]


@jit
def _block_diff_t(Xt, nb, mean, Dt):
    for l in range(mean.shape[0]):
        m = mean[l]
        xt = Xt[l, :nb]
        dt = Dt[l, :nb]
        for b in range(nb):
            dt[b] = xt[b] - m


@jit
def _block_logprob(Xt, nb, means, prec, const, Dt, y, maha, lp):
    """lp[k, b] = const_k - |(x_b - mu_k)^T U_k|^2 / 2 for the block's rows.

    Rows are innermost (vectorised for any d); four terms of the triangular
    product are added per load/store of y. Inner loops run from 0 over 1-D
    slices so that LLVM can vectorise them.
    """
    K, d = means.shape
    yy = y[:nb]
    mh = maha[:nb]
    for k in range(K):
        _block_diff_t(Xt, nb, means[k], Dt)
        for b in range(nb):
            mh[b] = 0.0
        for j in range(d):
            for b in range(nb):
                yy[b] = 0.0
            l = 0
            while l + 4 <= j + 1:
                u0 = prec[k, l, j]
                u1 = prec[k, l + 1, j]
                u2 = prec[k, l + 2, j]
                u3 = prec[k, l + 3, j]
                d0 = Dt[l, :nb]
                d1 = Dt[l + 1, :nb]
                d2 = Dt[l + 2, :nb]
                d3 = Dt[l + 3, :nb]
                for b in range(nb):
                    yy[b] += u0 * d0[b] + u1 * d1[b] + u2 * d2[b] + u3 * d3[b]
                l += 4
            while l <= j:
                u0 = prec[k, l, j]
                d0 = Dt[l, :nb]
                for b in range(nb):
                    yy[b] += u0 * d0[b]
                l += 1
            for b in range(nb):
                mh[b] += yy[b] * yy[b]
        lk = lp[k, :nb]
        c = const[k]
        for b in range(nb):
            lk[b] = c - 0.5 * mh[b]


@jit
def _scatter_rows_inner(k, nb, Dt, Wt, S2L):
    """S2L[k, j*d + l, t] += sum over rows b = t (mod LANES) of W_jb D_lb."""
    d = Dt.shape[0]
    for j in range(d):
        wt = Wt[j]
        for l in range(j, d):
            dl = Dt[l]
            acc = S2L[k, j * d + l]
            b0 = 0
            while b0 + LANES <= nb:
                for t in range(LANES):
                    acc[t] += wt[b0 + t] * dl[b0 + t]
                b0 += LANES
            for t in range(nb - b0):
                acc[t] += wt[b0 + t] * dl[b0 + t]


@jit
def _scatter_features_inner(X, i0, nb, mean, rk, D, W, S2, base):
    """S2[base + j*d + l] += sum_b r_b (x_b - m)_j (x_b - m)_l, four rows a step."""
    d = mean.shape[0]
    for b in range(nb):
        for j in range(d):
            D[b, j] = X[i0 + b, j] - mean[j]
            W[b, j] = rk[b] * D[b, j]
    b = 0
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
def _block_scatter(X, Xt, i0, nb, means, r, Dt, Wt, D, W, N, S1, S2, S2L):
    """N, S1, S2 += the block's contribution (fixed order for every entry)."""
    K, d = means.shape
    for k in range(K):
        rk = r[k, :nb]
        nz = False
        for b in range(nb):
            if rk[b] != 0.0:
                nz = True
        if not nz:
            continue
        n_k = N[k]
        for b in range(nb):
            n_k += rk[b]
        N[k] = n_k
        _block_diff_t(Xt, nb, means[k], Dt)
        for j in range(d):
            wt = Wt[j, :nb]
            dt = Dt[j, :nb]
            for b in range(nb):
                wt[b] = rk[b] * dt[b]
            s1 = S1[k, j]
            for b in range(nb):
                s1 += wt[b]
            S1[k, j] = s1
        if d <= SMALL_D:
            _scatter_rows_inner(k, nb, Dt, Wt, S2L)
        else:
            _scatter_features_inner(X, i0, nb, means[k], rk, D, W, S2, k * d * d)


@jit
def _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, out):
    K, d = means.shape
    for j in range(out.shape[0]):
        out[j] = 0.0
    N = out[:K]
    S1 = out[K : K + K * d].reshape((K, d))
    S2 = out[K + K * d : out.shape[0] - 3]
    T = out[out.shape[0] - 3 :]
    Xt = np.empty((d, BLOCK))
    Dt = np.empty((d, BLOCK))
    Wt = np.empty((d, BLOCK))
    y = np.empty(BLOCK)
    maha = np.empty(BLOCK)
    lp = np.empty((K, BLOCK))
    r = np.empty((K, BLOCK))
    lpb = np.empty(K)
    rb = np.empty(K)
    small = d <= SMALL_D
    S2L = np.zeros((K if small else 0, d * d, LANES))
    D = np.empty((0 if small else BLOCK, d))
    W = np.empty((0 if small else BLOCK, d))
    given = R.shape[0] != 0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        _load_block(X, i0, nb, Xt)
        if given:
            for b in range(nb):
                w = row_weight(sw, i0 + b)
                for k in range(K):
                    r[k, b] = R[i0 + b, k] * w
        else:
            _block_logprob(Xt, nb, means, prec, const, Dt, y, maha, lp)
            for b in range(nb):
                w = row_weight(sw, i0 + b)
                for k in range(K):
                    lpb[k] = lp[k, b]
                accumulate_T(T, w, row_resp(lpb, w, rb))
                for k in range(K):
                    r[k, b] = rb[k]
        _block_scatter(X, Xt, i0, nb, means, r, Dt, Wt, D, W, N, S1, S2, S2L)
    if small:
        # fold the striped lanes, in lane order
        for k in range(K):
            for j in range(d):
                for l in range(j, d):
                    acc = S2L[k, j * d + l]
                    s = 0.0
                    for t in range(LANES):
                        s += acc[t]
                    S2[k * d * d + j * d + l] = s


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
    Xt = np.empty((d, BLOCK))
    Dt = np.empty((d, BLOCK))
    y = np.empty(BLOCK)
    maha = np.empty(BLOCK)
    lp = np.empty((K, BLOCK))
    lpb = np.empty(K)
    r = np.empty(K)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        _load_block(X, i0, nb, Xt)
        _block_logprob(Xt, nb, means, prec, const, Dt, y, maha, lp)
        for b in range(nb):
            for k in range(K):
                lpb[k] = lp[k, b]
            finish_row(lpb, i0 + b, row_resp(lpb, 1.0, r), r, lpn, resp, labels)


@pjit
def score_rows(X, means, prec, const, center, lpn, resp, labels):
    aux = _prepare(means, prec, center)
    for c in prange(n_chunks(X.shape[0])):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)
