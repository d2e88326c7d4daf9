"""Kernels for ``covariance_type='spherical'``.

``prec[k] = 1 / sigma_k``; ``const[k] = log w_k + d log prec[k]
- d/2 log(2 pi)`` and

    log N(x | mu_k, sigma_k^2 I) = const_k - 1/2 prec_k^2 |x - mu_k|^2.

Statistics are shifted by ``means``: N_k, S1_k = sum r_ik (x_i - m_k) and
S2_k = sum r_ik |x_i - m_k|^2 (flat, K).
"""

import numpy as np
from numba import prange

from .._config import jit, pjit
from ._common import (
    BLOCK,
    LANES,
    add_into,
    block_outputs,
    block_resp,
    block_buffers,
    block_T,
    chunk_group,
    chunk_rows,
    fold_lanes,
    given_resp,
    lane_dot,
    lane_sum,
    load_block,
    n_chunks,
    nonzero,
)


@jit
def S2_SIZE(K, d):
    return K


@jit
def _prepare(means, prec, center):
    return np.empty((0, 0))


@jit
def _work(K, d, scatter):
    ks = K if scatter else 0
    return (
        np.empty(BLOCK),  # x - m
        np.empty(BLOCK),  # r (x - m)
        np.empty(BLOCK),  # |x - m|^2
        np.zeros((ks, LANES)),  # N lanes
        np.zeros((ks * d, LANES)),  # S1 lanes
        np.zeros((ks, LANES)),  # S2 lanes
    )


@jit
def _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp):
    K, d = means.shape
    q = work[2][:nb]
    for k in range(K):
        for b in range(nb):
            q[b] = 0.0
        for j in range(d):
            m = means[k, j]
            xt = Xt[j, :nb]
            for b in range(nb):
                t = xt[b] - m
                q[b] += t * t
        lk = lp[k, :nb]
        c = const[k]
        h = 0.5 * (prec[k] * prec[k])
        for b in range(nb):
            lk[b] = c - h * q[b]


@jit
def _block_scatter(X, Xt, i0, nb, means, center, r, work):
    K, d = means.shape
    tb, wb, q = work[0][:nb], work[1][:nb], work[2][:nb]
    NL, S1L, S2L = work[3], work[4], work[5]
    for k in range(K):
        rk = r[k, :nb]
        if not nonzero(rk):
            continue
        lane_sum(NL[k], rk, nb)
        for b in range(nb):
            q[b] = 0.0
        for j in range(d):
            m = means[k, j]
            xt = Xt[j, :nb]
            for b in range(nb):
                tb[b] = xt[b] - m
                wb[b] = rk[b] * tb[b]
                q[b] += tb[b] * tb[b]
            lane_sum(S1L[k * d + j], wb, nb)
        lane_dot(S2L[k], rk, q, nb)


@jit
def _finish(K, d, work, out):
    fold_lanes(work[3], out[:K])
    fold_lanes(work[4], out[K : K + K * d])
    fold_lanes(work[5], out[K + K * d : K + K * d + K])


# --- drivers: the same text in every covariance module. Numba binds the block
# functions above as this module's globals, so each module compiles its own
# drivers; sharing one driver through closures or function arguments would
# defeat Numba's on-disk cache (numba issues #6264, #6251). ----------------
@jit
def _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, out):
    K, d = means.shape
    Xt, lp, r, mx, ssum, lse, bits = block_buffers(K, d)
    work = _work(K, d, True)
    T = np.zeros(3)
    given = R.shape[0] != 0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        load_block(X, i0, nb, Xt)
        if given:
            given_resp(R, sw, i0, nb, r)
        else:
            _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp)
            block_resp(lp, nb, sw, i0, r, mx, ssum, bits, lse)
            block_T(T, sw, i0, nb, lse)
        _block_scatter(X, Xt, i0, nb, means, center, r, work)
    _finish(K, d, work, out)
    n = out.shape[0]
    out[n - 3] = T[0]
    out[n - 2] = T[1]
    out[n - 1] = T[2]


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
    Xt, lp, r, mx, ssum, lse, bits = block_buffers(K, d)
    no_weights = np.empty(0)
    work = _work(K, d, False)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        load_block(X, i0, nb, Xt)
        _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp)
        block_resp(lp, nb, no_weights, i0, r, mx, ssum, bits, lse)
        block_outputs(lp, r, i0, nb, lse, lpn, resp, labels)


@pjit
def score_rows(X, means, prec, const, center, lpn, resp, labels):
    aux = _prepare(means, prec, center)
    for c in prange(n_chunks(X.shape[0])):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)
