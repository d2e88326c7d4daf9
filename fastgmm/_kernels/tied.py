"""Kernels for ``covariance_type='tied'``.

``prec`` is the single upper-triangular U (precision U U^T). With a centre
``c`` (any fixed point near the data, for accuracy) and z = x - c:

    (x - mu_k)^T U = z^T U - (mu_k - c)^T U = v - a_k,

so each row costs one triangular product plus K*d subtractions; ``a_k`` is
precomputed once per pass (``_prepare``).

Statistics are shifted by ``c`` for every component: N_k = sum r_ik,
S1_k = sum r_ik z_i, and S2 = sum_i (sum_k r_ik) z_i z_i^T (upper triangle,
flat d*d): the M-step recovers the pooled within-component scatter from them.
"""

import numpy as np
from numba import prange

from .._config import jit, jit_exact, jit_inline, pjit
from ._common import (
    BLOCK,
    PITCH,
    add_into,
    aligned_empty,
    block_outputs,
    block_resp,
    block_buffers,
    block_diff_t,
    chunk_group,
    chunk_rows,
    copy_into,
    given_resp,
    dot,
    load_block,
    n_chunks,
    nonzero,
    scatter_upper,
    scatter_upper_2x4,
    total,
    triangular_rows,
    triangular_rows_by_column,
)
from .linalg import inverse_cholesky_range, tied_covariance
from .mstep import (
    all_finite,
    failed,
    finite_stats,
    log_or_nan,
    mixture_const,
    pairwise_sum,
    split,
    weights_means,
)


@jit_inline
def S2_SIZE(K, d):
    return d * d


#: the kernels are built for at most ``_common.UNTILED_MAX`` features, whose
#: products use no 4 x 4 tiles: True in the clones of :mod:`tied_small`,
#: whose block functions then call the untiled loops directly, and Numba,
#: pruning the branch on this constant before typing, does not compile the
#: tiled ones (see ``full._FEATURES`` for what the two cut from an
#: empty-cache start)
_SMALL_D = False


@jit
def _prepare(means, prec, const, center):
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


@jit_inline
def _work(K, d, scatter, aux):
    ks = K if scatter else 0
    return (
        aligned_empty(d, PITCH),  # Zt
        aligned_empty(d, PITCH),  # Vt (log-density), weighted z (scatter)
        aligned_empty(4, PITCH),  # Y: triangular_rows scratch
        aligned_empty(1, BLOCK)[0],  # maha
        aligned_empty(1, BLOCK)[0],  # sum_k r
        np.zeros(ks),  # N
        np.zeros(ks * d),  # S1
        np.zeros(d * d if scatter else 0),  # S2, upper triangle
    )


@jit_inline
def _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp):
    K, d = means.shape
    Zt, Vt, Y, maha = work[0], work[1], work[2], work[3]
    block_diff_t(Xt, nb, center, Zt)
    if _SMALL_D:
        triangular_rows_by_column(prec, Zt, nb, Vt, Y)
    else:
        triangular_rows(prec, Zt, nb, Vt, Y)
    mh = maha[:nb]
    for k in range(K):
        for b in range(nb):
            mh[b] = 0.0
        for j in range(d):
            a = aux[k, j]
            vj = Vt[j, :nb]
            for b in range(nb):
                t = vj[b] - a
                mh[b] += t * t
        lk = lp[k, :nb]
        c = const[k]
        for b in range(nb):
            lk[b] = c - 0.5 * mh[b]


@jit_inline
def _block_scatter(X, Xt, i0, nb, means, center, r, work):
    K, d = means.shape
    Zt, Wt, rsum = work[0], work[1], work[4]
    N, S1, S2 = work[5], work[6], work[7]
    block_diff_t(Xt, nb, center, Zt)
    rs = rsum[:nb]
    for b in range(nb):
        rs[b] = 0.0
    for k in range(K):
        rk = r[k, :nb]
        for b in range(nb):
            rs[b] += rk[b]
        if not nonzero(rk):
            continue
        N[k] += total(rk, nb)
        for j in range(d):
            S1[k * d + j] += dot(rk, Zt[j], nb)
    for j in range(d):
        wt = Wt[j, :nb]
        zt = Zt[j, :nb]
        for b in range(nb):
            wt[b] = rs[b] * zt[b]
    if _SMALL_D:  # int64: see _config.jit
        scatter_upper_2x4(Zt, Wt, nb, S2, np.int64(0), d)
    else:
        scatter_upper(Zt, Wt, nb, S2, np.int64(0), d)


@jit_inline
def _finish(K, d, work, out):
    copy_into(out, 0, work[5])
    copy_into(out, K, work[6])
    S2 = work[7]
    for j in range(d):
        for l in range(d):
            out[K + K * d + j * d + l] = S2[j * d + l] if l >= j else 0.0


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
    logdet = 0.0
    for j in range(d):
        logdet += log_or_nan(prec[j, j])
    mixture_const(weights, np.full(K, logdet), d, means, const, center)


@jit_exact
def update(total, means, center, reg):
    K, d = means.shape
    none = np.empty((0, 0))
    if not finite_stats(total):
        return failed(none)
    N, S1, S2 = split(total, K, d)
    shift = np.empty((K, d))
    for k in range(K):  # statistics shifted by the one centre
        for j in range(d):  # (a loop: slice assignment compiles an error path, 1 s)
            shift[k, j] = center[j]
    nk, m, w, delta = weights_means(N, S1, shift)
    C = np.empty((d, d))
    tied_covariance(N, S1, S2, delta, pairwise_sum(nk), reg, C)
    U = np.empty((1, d, d))
    if not all_finite(C) or inverse_cholesky_range(C.reshape((1, d, d)), U, np.int64(0), np.int64(1)) >= 0:
        return failed(none)
    const = np.empty(K)
    c = np.empty(d)
    kernel_const(w, m, U[0], const, c)
    return True, w, m, C, U[0], const, c
