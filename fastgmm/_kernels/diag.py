"""Kernels for ``covariance_type='diag'``.

``prec[k, j] = 1 / sigma_kj`` (sklearn's ``precisions_cholesky_``);
``const[k] = log w_k + sum_j log prec[k, j] - d/2 log(2 pi)`` and

    log N(x | mu_k, Sigma_k) = const_k - 1/2 sum_j ((x_j - mu_kj) prec_kj)^2.

Statistics are shifted by ``means``: N_k, S1_k = sum r_ik (x_i - m_k) and
S2_kj = sum r_ik (x_ij - m_kj)^2 (flat, K*d).
"""

import math

import numpy as np
from numba import prange

from .._config import jit, jit_exact, jit_fma, jit_inline, jit_reduce, pjit
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
from .mstep import failed, finite_stats, log_or_nan, mixture_const, split, weights_means


@jit_inline
def S2_SIZE(K, d):
    return K * d


@jit
def _prepare(means, prec, const, center):
    return np.empty((0, 0))


@jit_inline
def _work(K, d, scatter, aux):
    ks = K if scatter else 0
    return (
        np.zeros(ks),  # N
        np.zeros(ks * d),  # S1
        np.zeros(ks * d),  # S2
    )


@jit_fma
def _maha(Xt, nb, mean, prec, mh):
    """mh[:nb] = sum_j ((x_j - m_j) p_j)^2, four features per load and store
    of mh (one per feature made the pass load/store-bound); ``_maha2`` does
    two components at once, this one the odd last."""
    d = mean.shape[0]
    for b in range(nb):
        mh[b] = 0.0
    j = 0
    while j + 4 <= d:
        m0, m1, m2, m3 = mean[j], mean[j + 1], mean[j + 2], mean[j + 3]
        p0, p1, p2, p3 = prec[j], prec[j + 1], prec[j + 2], prec[j + 3]
        x0, x1, x2, x3 = Xt[j, :nb], Xt[j + 1, :nb], Xt[j + 2, :nb], Xt[j + 3, :nb]
        for b in range(nb):
            t0 = (x0[b] - m0) * p0
            t1 = (x1[b] - m1) * p1
            t2 = (x2[b] - m2) * p2
            t3 = (x3[b] - m3) * p3
            mh[b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
        j += 4
    while j < d:
        m = mean[j]
        p = prec[j]
        xt = Xt[j, :nb]
        for b in range(nb):
            t = (xt[b] - m) * p
            mh[b] += t * t
        j += 1


@jit_fma
def _maha2(Xt, nb, m, p, k, out):
    """out[k, :nb] and out[k + 1, :nb] = the ``_maha`` of components k and
    k + 1 in one pass: each feature row is loaded once for both (d = 20,
    ns per row, component and feature: 0.046 -> 0.040)."""
    d = m.shape[1]
    h0 = out[k, :nb]
    h1 = out[k + 1, :nb]
    for b in range(nb):
        h0[b] = 0.0
        h1[b] = 0.0
    j = 0
    while j + 4 <= d:
        a0, a1, a2, a3 = m[k, j], m[k, j + 1], m[k, j + 2], m[k, j + 3]
        c0, c1, c2, c3 = m[k + 1, j], m[k + 1, j + 1], m[k + 1, j + 2], m[k + 1, j + 3]
        p0, p1, p2, p3 = p[k, j], p[k, j + 1], p[k, j + 2], p[k, j + 3]
        q0, q1, q2, q3 = p[k + 1, j], p[k + 1, j + 1], p[k + 1, j + 2], p[k + 1, j + 3]
        x0, x1, x2, x3 = Xt[j, :nb], Xt[j + 1, :nb], Xt[j + 2, :nb], Xt[j + 3, :nb]
        for b in range(nb):
            y0 = x0[b]
            y1 = x1[b]
            y2 = x2[b]
            y3 = x3[b]
            t0 = (y0 - a0) * p0
            t1 = (y1 - a1) * p1
            t2 = (y2 - a2) * p2
            t3 = (y3 - a3) * p3
            h0[b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
            u0 = (y0 - c0) * q0
            u1 = (y1 - c1) * q1
            u2 = (y2 - c2) * q2
            u3 = (y3 - c3) * q3
            h1[b] += (u0 * u0 + u1 * u1) + (u2 * u2 + u3 * u3)
        j += 4
    while j < d:
        a, c, pa, pc = m[k, j], m[k + 1, j], p[k, j], p[k + 1, j]
        xt = Xt[j, :nb]
        for b in range(nb):
            y = xt[b]
            t = (y - a) * pa
            u = (y - c) * pc
            h0[b] += t * t
            h1[b] += u * u
        j += 1


@jit_inline
def _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp):
    K, d = means.shape
    k = np.int64(0)
    while k + 2 <= K:
        _maha2(Xt, nb, means, prec, k, lp)
        k += 2
    if k < K:
        _maha(Xt, nb, means[k], prec[k], lp[k, :nb])
    for k in range(K):
        lk = lp[k, :nb]
        c = const[k]
        for b in range(nb):
            lk[b] = c - 0.5 * lk[b]


@jit_inline
def _block_scatter(X, Xt, i0, nb, means, center, r, work):
    K, d = means.shape
    N = work[0]
    k = np.int64(0)
    while k < K:
        live = nonzero(r[k, :nb])
        if live and k + 1 < K and nonzero(r[k + 1, :nb]):
            N[k] += total(r[k, :nb], nb)
            N[k + 1] += total(r[k + 1, :nb], nb)
            _scatter_pair(Xt, nb, means, r, k, work)
            k += 2
            continue
        if live:
            N[k] += total(r[k, :nb], nb)
            _scatter_one(Xt, nb, means, r, k, work)
        k += 1


@jit_inline
def _scatter_one(Xt, nb, means, r, k, work):
    d = means.shape[1]
    S1, S2 = work[1], work[2]
    rk = r[k, :nb]
    j = np.int64(0)
    while j + 4 <= d:
        _moments4(rk, Xt, j, means[k], nb, S1, S2, k * d + j)
        j += 4
    while j < d:
        s1, s2 = shifted_moments(rk, Xt[j], means[k, j], nb)
        S1[k * d + j] += s1
        S2[k * d + j] += s2
        j += 1


@jit_inline
def _scatter_pair(Xt, nb, means, r, k, work):
    """``_scatter_one`` of components k and k + 1, four features per pass
    (the last d % 4 one by one): each feature row is loaded once for both
    (d = 20, ns per row, component and feature: 0.054 -> 0.048)."""
    d = means.shape[1]
    S1, S2 = work[1], work[2]
    j = np.int64(0)
    while j + 4 <= d:
        _moments4x2(r, Xt, j, means, k, nb, S1, S2, d)
        j += 4
    while j < d:
        for c in range(k, k + 2):
            s1, s2 = shifted_moments(r[c, :nb], Xt[j], means[c, j], nb)
            S1[c * d + j] += s1
            S2[c * d + j] += s2
        j += 1


@jit_reduce
def _moments4x2(r, Xt, j, m, k, nb, S1, S2, d):
    """``shifted_moments`` of features j..j+3 for components k, k + 1 in
    one pass, added to S1 and S2 (flat, K*d)."""
    a0, a1, a2, a3 = m[k, j], m[k, j + 1], m[k, j + 2], m[k, j + 3]
    c0, c1, c2, c3 = m[k + 1, j], m[k + 1, j + 1], m[k + 1, j + 2], m[k + 1, j + 3]
    x0, x1, x2, x3 = Xt[j, :nb], Xt[j + 1, :nb], Xt[j + 2, :nb], Xt[j + 3, :nb]
    r0, r1 = r[k, :nb], r[k + 1, :nb]
    s0 = s1 = s2 = s3 = e0 = e1 = e2 = e3 = 0.0
    q0 = q1 = q2 = q3 = f0 = f1 = f2 = f3 = 0.0
    for b in range(nb):
        y0 = x0[b]
        y1 = x1[b]
        y2 = x2[b]
        y3 = x3[b]
        ra = r0[b]
        rc = r1[b]
        t0 = y0 - a0
        t1 = y1 - a1
        t2 = y2 - a2
        t3 = y3 - a3
        u0 = y0 - c0
        u1 = y1 - c1
        u2 = y2 - c2
        u3 = y3 - c3
        w0 = ra * t0
        w1 = ra * t1
        w2 = ra * t2
        w3 = ra * t3
        v0 = rc * u0
        v1 = rc * u1
        v2 = rc * u2
        v3 = rc * u3
        s0 += w0
        s1 += w1
        s2 += w2
        s3 += w3
        e0 += v0
        e1 += v1
        e2 += v2
        e3 += v3
        q0 += w0 * t0
        q1 += w1 * t1
        q2 += w2 * t2
        q3 += w3 * t3
        f0 += v0 * u0
        f1 += v1 * u1
        f2 += v2 * u2
        f3 += v3 * u3
    at = k * d + j
    S1[at] += s0
    S1[at + 1] += s1
    S1[at + 2] += s2
    S1[at + 3] += s3
    S2[at] += q0
    S2[at + 1] += q1
    S2[at + 2] += q2
    S2[at + 3] += q3
    at += d
    S1[at] += e0
    S1[at + 1] += e1
    S1[at + 2] += e2
    S1[at + 3] += e3
    S2[at] += f0
    S2[at + 1] += f1
    S2[at + 2] += f2
    S2[at + 3] += f3


@jit_reduce
def _moments4(r, Xt, j, mean, nb, S1, S2, at):
    """``shifted_moments`` of features j..j+3 in one pass (one load of r for
    four features), added to S1[at:at+4] and S2[at:at+4]."""
    m0, m1, m2, m3 = mean[j], mean[j + 1], mean[j + 2], mean[j + 3]
    x0, x1, x2, x3 = Xt[j, :nb], Xt[j + 1, :nb], Xt[j + 2, :nb], Xt[j + 3, :nb]
    a0 = a1 = a2 = a3 = 0.0
    q0 = q1 = q2 = q3 = 0.0
    for b in range(nb):
        rb = r[b]
        t0 = x0[b] - m0
        t1 = x1[b] - m1
        t2 = x2[b] - m2
        t3 = x3[b] - m3
        w0 = rb * t0
        w1 = rb * t1
        w2 = rb * t2
        w3 = rb * t3
        a0 += w0
        a1 += w1
        a2 += w2
        a3 += w3
        q0 += w0 * t0
        q1 += w1 * t1
        q2 += w2 * t2
        q3 += w3 * t3
    S1[at] += a0
    S1[at + 1] += a1
    S1[at + 2] += a2
    S1[at + 3] += a3
    S2[at] += q0
    S2[at + 1] += q1
    S2[at + 2] += q2
    S2[at + 3] += q3


@jit_inline
def _finish(K, d, work, out):
    copy_into(out, 0, work[0])
    copy_into(out, K, work[1])
    copy_into(out, K + K * d, work[2])


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
    logdet = np.zeros(K)
    for k in range(K):
        for j in range(d):
            logdet[k] += log_or_nan(prec[k, j])
    mixture_const(weights, logdet, d, means, const, center)


@jit_exact
def update(total, means, center, reg):
    K, d = means.shape
    none = np.empty((0, 0))
    if not finite_stats(total):
        return failed(none)
    N, S1, S2 = split(total, K, d)
    nk, m, w, delta = weights_means(N, S1, means)
    C = np.empty((K, d))
    U = np.empty((K, d))
    for k in range(K):
        for j in range(d):
            t = delta[k, j]
            v = (S2[k * d + j] - 2.0 * S1[k, j] * t + N[k] * (t * t)) / nk[k] + reg
            if not (math.isfinite(v) and v > 0.0):
                return failed(none)
            C[k, j] = v
            U[k, j] = 1.0 / math.sqrt(v)
    const = np.empty(K)
    c = np.empty(d)
    kernel_const(w, m, U, const, c)
    return True, w, m, C, U, const, c
