"""Kernels for ``covariance_type='spherical'``.

``prec[k] = 1 / sigma_k``; ``const[k] = log w_k + d log prec[k]
- d/2 log(2 pi)`` and

    log N(x | mu_k, sigma_k^2 I) = const_k - 1/2 prec_k^2 |x - mu_k|^2.

Statistics are shifted by ``means``: N_k, S1_k = sum r_ik (x_i - m_k) and
S2_k = sum r_ik |x_i - m_k|^2 (flat, K).
"""

import math

import numpy as np
from numba import prange

from .._config import jit, jit_exact, jit_inline, pjit
from ._common import (
    BLOCK,
    add_into,
    block_outputs,
    block_resp,
    block_buffers,
    chunk_group,
    chunk_rows,
    copy_into,
    given_resp,
    load_block,
    n_chunks,
    nonzero,
    shifted_moments,
    total,
)
from .mstep import failed, finite_stats, log_or_nan, mixture_const, pairwise_sum, split, weights_means


@jit_inline
def S2_SIZE(K, d):
    return K


@jit
def _prepare(means, prec, const, center):
    return np.empty((0, 0))


@jit_inline
def _work(K, d, scatter, aux):
    ks = K if scatter else 0
    return (
        np.empty(BLOCK),  # |x - m|^2
        np.zeros(ks),  # N
        np.zeros(ks * d),  # S1
        np.zeros(ks),  # S2
    )


@jit_inline
def _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp):
    K, d = means.shape
    q = work[0][:nb]
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


@jit_inline
def _block_scatter(X, Xt, i0, nb, means, center, r, work):
    K, d = means.shape
    N, S1, S2 = work[1], work[2], work[3]
    for k in range(K):
        rk = r[k, :nb]
        if not nonzero(rk):
            continue
        N[k] += total(rk, nb)
        s2 = 0.0
        for j in range(d):
            s1, t = shifted_moments(rk, Xt[j], means[k, j], nb)
            S1[k * d + j] += s1
            s2 += t
        S2[k] += s2


@jit_inline
def _finish(K, d, work, out):
    copy_into(out, 0, work[1])
    copy_into(out, K, work[2])
    copy_into(out, K + K * d, work[3])


# --- drivers: the same text in every covariance module. Numba binds the block
# functions above as this module's globals, so each module compiles its own
# drivers; sharing one driver through closures or function arguments would
# defeat Numba's on-disk cache (numba issues #6264, #6251). ----------------
@jit
def _chunk(X, sw, R, lo, hi, means, prec, const, center, aux, out):
    K, d = means.shape
    Xt, lp, r, mx, ssum, lse = block_buffers(K, d)
    work = _work(K, d, True, aux)
    T = np.zeros(3)
    given = R.shape[0] != 0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        load_block(X, i0, nb, Xt)
        if given:
            given_resp(R, sw, i0, nb, r)
        else:
            _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp)
            block_resp(lp, nb, sw, i0, r, mx, ssum, lse, T)
        _block_scatter(X, Xt, i0, nb, means, center, r, work)
    _finish(K, d, work, out)
    n = out.shape[0]
    out[n - 3] = T[0]
    out[n - 2] = T[1]
    out[n - 1] = T[2]


@pjit(inline_serial=("_chunk",))
def stats(X, sw, R, means, prec, const, center):
    n = X.shape[0]
    K, d = means.shape
    width = K + K * d + S2_SIZE(K, d) + 3
    aux = _prepare(means, prec, const, center)
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
    Xt, lp, r, mx, ssum, lse = block_buffers(K, d)
    no_weights = np.empty(0)
    work = _work(K, d, False, aux)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        load_block(X, i0, nb, Xt)
        _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp)
        block_resp(lp, nb, no_weights, i0, r, mx, ssum, lse, no_weights)
        block_outputs(lp, r, i0, nb, lse, lpn, resp, labels)


@pjit(inline_serial=("_score_chunk",))
def score_rows(X, means, prec, const, center, lpn, resp, labels):
    aux = _prepare(means, prec, const, center)
    for c in prange(n_chunks(X.shape[0])):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)


# --- the M-step (see :mod:`mstep`) -------------------------------------------
@jit_exact
def kernel_const(weights, means, prec, const, center):
    K, d = means.shape
    logdet = np.empty(K)
    for k in range(K):
        logdet[k] = d * log_or_nan(prec[k])
    mixture_const(weights, logdet, d, means, const, center)


@jit_exact
def update(total, means, center, reg):
    K, d = means.shape
    none = np.empty(0)
    if not finite_stats(total):
        return failed(none)
    N, S1, S2 = split(total, K, d)
    nk, m, w, delta = weights_means(N, S1, means)
    C = np.empty(K)
    U = np.empty(K)
    row = np.empty(d)
    for k in range(K):
        for j in range(d):
            row[j] = S1[k, j] * delta[k, j]
        cross = pairwise_sum(row)
        for j in range(d):
            row[j] = delta[k, j] * delta[k, j]
        v = (S2[k] - 2.0 * cross + N[k] * pairwise_sum(row)) / nk[k] / d + reg
        if not (math.isfinite(v) and v > 0.0):
            return failed(none)
        C[k] = v
        U[k] = 1.0 / math.sqrt(v)
    const = np.empty(K)
    c = np.empty(d)
    kernel_const(w, m, U, const, c)
    return True, w, m, C, U, const, c
