"""Kernels for ``covariance_type='full'``.

``prec[k]`` is the upper-triangular U_k with precision U_k U_k^T (sklearn's
``precisions_cholesky_``); ``const[k] = log w_k + sum(log diag U_k)
- d/2 log(2 pi)``, and

    log N(x | mu_k, Sigma_k) = const_k - 1/2 |(x - mu_k)^T U_k|^2.

Statistics are shifted by ``means`` (the current means m_k): N_k = sum r_ik,
S1_k = sum r_ik (x_i - m_k), S2_k = sum r_ik (x_i - m_k)(x_i - m_k)^T, upper
triangle only, flat (K*d*d).

The unrolled scatter of :mod:`full_small` sums the rows of a component near
the shared centre c (``_prepare``) around c instead: the block's x - c is
computed once for every component, and each block's sums are moved to m_k
afterwards (``add_block_stats``), which spares d subtractions per row and
component (mid, one thread, statistics from given responsibilities:
44-47 -> 40-44 ms).
"""

import numpy as np
from numba import prange

from .._config import jit, jit_exact, jit_fma, jit_inline, jit_reduce, pjit, prefer_wide_vectors
from ._common import (
    BLOCK,
    PITCH,
    SHIFT_SAFE,
    add_into,
    aligned_empty,
    block_outputs,
    block_resp,
    block_buffers,
    bias_row,
    block_diff_t,
    block_diff_weighted,
    chunk_group,
    chunk_rows,
    given_resp,
    load_block,
    n_chunks,
    nonzero,
    rows_bounded,
    scatter_upper,
    task_range,
    n_tasks,
    total,
    triangular_maha,
)
from .linalg import full_covariances, inverse_cholesky_range
from .mstep import all_finite, failed, finite_stats, log_or_nan, mixture_const, split, weights_means


@jit_inline
def S2_SIZE(K, d):
    return K * d * d


#: whether ``_scatter_k`` sums the components near c around c (reading its
#: ``shifted`` argument): the unrolled kernels of :mod:`full_small` do (their
#: clones see True); the generic one does not, and a compile-time False spares
#: its blocks the ``_shift`` passes
_SCATTER_SHIFTED = False

#: the number of features the kernels are built for: 0 (this module) for any
#: d; the clones of :mod:`full_small` for one d set it. Numba prunes a branch
#: on a global constant before typing, so a clone compiles only its own
#: path. For d = 2 that is the two-feature loops ``_logprob_2d`` and
#: ``_scatter_2d``, not the triangular products and tiles (with
#: :mod:`tied_small`, an empty-cache fit and score of the four covariance
#: types on 1,000 x 2: 55.1 -> 43.9 s, mean of two runs each, alternating);
#: below ``BY_COMPONENT_MIN_D`` no clone has the by-component passes
_FEATURES = 0


#: bound on the whitened distance |U_k^T (c - m_k)|^2 (taken with absolute
#: values, below) of the shared centre c from a component's mean for its
#: rows to be summed around c: sums around c carry rounding errors of about
#: eps * (1 + that distance) relative to the component's covariance, at most
#: 1e4 * 2.2e-16 = 2.2e-12 here (scikit-learn's centred sums: eps)
NEAR_LIMIT = 1.0e4


#: bound on the whitened size of a mean, max_j sum_l |U_k[l, j] m_kl|, for the
#: log-densities to be taken from x U_k - m_k U_k as they are: the bias
#: trick's rounding is eps times that size (2.2e-12 here), which a constant
#: column of 1e18 (a timestamp) makes 1e5. Beyond it the block is moved to
#: a reference mean first (``_logprob_input``).
CENTRE_LIMIT = 1.0e4


@jit_inline
def _abs_whitened(U, v, j):
    """sum_{l <= j} |U[l, j]| |v_l|: a bound on |(v U)_j| for upper-triangular
    U that no cancellation between entries can undercut."""
    s = 0.0
    for l in range(j + 1):
        s += abs(U[l, j]) * abs(v[l])
    return s


@jit
def _reference(means, prec, const):
    """(x0, means - x0, whether to centre): x0 the mean of the largest const_k
    (any mean makes x - x0 exactly 0 in a constant column), used only when
    some whitened mean exceeds ``CENTRE_LIMIT`` (never on data near the
    origin: no cost there)."""
    K, d = means.shape
    size = 0.0
    for k in range(K):
        for j in range(d):
            # max leaves size as it is for NaN (no finite mean)
            size = max(size, _abs_whitened(prec[k], means[k], j))
    if not size > CENTRE_LIMIT:
        return np.empty(0), np.empty((0, d)), False
    k0 = 0
    for k in range(1, K):
        if const[k] > const[k0]:
            k0 = k
    x0 = means[k0].copy()
    return x0, means - x0, True


@jit_inline
def _logprob_input(Xt, nb, means, aux, Xc):
    """(rows, means) for ``_logprob_k``: Xt and the means, or, when ``aux``
    says so, the block's x - x0 (into Xc) and the means - x0: then the
    rounding is eps |x - x0| |U|, not eps |x| |U|."""
    if aux[4]:
        block_diff_t(Xt, nb, aux[2], Xc)
        return Xc, aux[3]
    return Xt, means


@jit
def _prepare(means, prec, const, center):
    """(delta, near, x0, means - x0, centre): delta_k = m_k - c, and near_k
    when component k's rows may be summed around c: delta_k = 0, or U_k has
    a positive diagonal and || |U_k|^T |delta_k| ||^2 <= ``NEAR_LIMIT`` (an
    upper bound on the whitened |U_k^T delta_k|^2 that no cancellation
    between entries can undercut); never unless every |c_j|, |m_kj| <=
    ``SHIFT_SAFE`` (finite products). The last three: ``_reference``."""
    K, d = means.shape
    if _FEATURES == 2:  # x - m_k taken row by row: no bias trick to centre
        x0, moved, centre = np.empty(0), np.empty((0, d)), False
    else:
        x0, moved, centre = _reference(means, prec, const)
    if not _SCATTER_SHIFTED:  # the generic kernels and d = 2 do not read the first two
        return np.empty((0, d)), np.zeros(0, dtype=np.bool_), x0, moved, centre
    delta = np.empty((K, d))
    near = np.zeros(K, dtype=np.bool_)
    c_bounded = True
    for j in range(d):
        c_bounded = c_bounded and abs(center[j]) <= SHIFT_SAFE  # False for NaN
    for k in range(K):
        bounded = c_bounded
        zero = True
        for j in range(d):
            delta[k, j] = means[k, j] - center[j]
            bounded = bounded and abs(means[k, j]) <= SHIFT_SAFE
            zero = zero and delta[k, j] == 0.0
        q = 0.0
        definite = True
        for j in range(d):
            definite = definite and prec[k, j, j] > 0.0
            s = _abs_whitened(prec[k], delta[k], j)
            q += s * s
        near[k] = bounded and (zero or (definite and q <= NEAR_LIMIT))
    return delta, near, x0, moved, centre


@jit_inline
def _work(K, d, scatter, aux):
    e = d if scatter else 0
    u = e if _SCATTER_SHIFTED else 0  # used by the unrolled kernels only
    return (
        aligned_empty(d, PITCH),  # A: x - m_k, feature-major
        aligned_empty(4, PITCH),  # Y: triangular_maha scratch
        aligned_empty(1, BLOCK)[0],  # maha
        aligned_empty(e, PITCH),  # W = r * A
        np.empty(d),  # bias row -m_k U_k of the log-density
        aligned_empty(u, PITCH),  # x - c, when some components are not near c
        np.empty(1 + u + u * u),  # a block's sums of one component
        aligned_empty(d if aux[4] else 0, PITCH),  # x - x0 (_logprob_input)
    )


@jit_fma
def _logprob_2d(x0, x1, nb, means, prec, const, lp):
    """d = 2 (the clone for it: ``_FEATURES``), every component in one
    register-resident loop per component."""
    prefer_wide_vectors()
    for k in range(means.shape[0]):
        m0 = means[k, 0]
        m1 = means[k, 1]
        u00 = prec[k, 0, 0]
        u01 = prec[k, 0, 1]
        u11 = prec[k, 1, 1]
        c = const[k]
        lk = lp[k, :nb]
        for b in range(nb):
            z0 = x0[b] - m0
            z1 = x1[b] - m1
            y0 = u00 * z0
            y1 = u01 * z0 + u11 * z1
            lk[b] = c - 0.5 * (y0 * y0 + y1 * y1)


@jit_reduce
def _scatter_2d(x0, x1, nb, m0, m1, rk, out, K, k):
    """d = 2: the six sums of one component in one loop, into ``out``."""
    prefer_wide_vectors()
    n = s0 = s1 = s00 = s01 = s11 = 0.0
    for b in range(nb):
        r = rk[b]
        z0 = x0[b] - m0
        z1 = x1[b] - m1
        w0 = r * z0
        w1 = r * z1
        n += r
        s0 += w0
        s1 += w1
        s00 += w0 * z0
        s01 += w0 * z1
        s11 += w1 * z1
    out[k] += n
    out[K + 2 * k] += s0
    out[K + 2 * k + 1] += s1
    base = 3 * K + 4 * k
    out[base] += s00
    out[base + 1] += s01
    out[base + 3] += s11


@jit_inline
def _logprob_k(Xt, nb, means, prec, const, k, work, lp):
    Y, maha, bias = work[1], work[2], work[4]
    mh = maha[:nb]
    bias_row(prec[k], means[k], bias)
    triangular_maha(prec[k], bias, Xt, nb, Y, mh)
    lk = lp[k, :nb]
    c = const[k]
    for b in range(nb):
        lk[b] = c - 0.5 * mh[b]


@jit_inline
def _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp):
    K, d = means.shape
    if _FEATURES == 2:  # x - m_k taken row by row: no bias trick
        _logprob_2d(Xt[0], Xt[1], nb, means, prec, const, lp)
        return
    Xl, Ml = _logprob_input(Xt, nb, means, aux, work[7])
    for k in range(K):
        _logprob_k(Xl, nb, Ml, prec, const, k, work, lp)


@jit_inline
def _scatter_k(Xt, Xs, nb, means, r, k, work, out, shifted, aux):
    """Adds component k's N_k, S1_k and upper S2_k of a block to ``out``
    (the clone for d = 2: ``_block_scatter``). ``shifted``: ``Xs`` holds the
    block's x - c for the components near c (read by the unrolled kernels of
    :mod:`full_small`, with ``aux`` from ``_prepare``)."""
    K, d = means.shape
    A, W = work[0], work[3]
    rk = r[k, :nb]
    if not nonzero(rk):
        return
    out[k] += total(rk, nb)
    block_diff_weighted(Xt, nb, means[k], rk, A, W, out, K + k * d)
    scatter_upper(A, W, nb, out, K + K * d + k * d * d, d)


@jit
def _shift(Xt, nb, center, aux, work):
    """(Xs, shifted) for ``_scatter_k``, after the log-densities: shifted
    when the clones sum around c, some component is near c and every
    |x| <= ``SHIFT_SAFE``; Xs then holds the block's x - c, written over Xt
    when every component is near (a separate buffer costs mid 4% more, one
    thread), else into ``work[5]`` (the others read x)."""
    Xs = work[5]
    near = aux[1]
    if not (_SCATTER_SHIFTED and np.any(near) and rows_bounded(Xt, nb)):
        return Xs, False
    if np.all(near):
        Xs = Xt
    block_diff_t(Xt, nb, center, Xs)
    return Xs, True


@jit_inline
def _block_scatter(X, Xt, i0, nb, means, center, aux, r, work, out):
    """Adds the block's N_k, S1_k and upper S2_k to ``out`` (the chunk's
    statistics vector): S2_k += sum_b r_kb z_b z_b^T, z_b = x_b - m_k.
    May overwrite Xt (``_shift``). The clone for d = 2 calls ``_scatter_2d``
    from here: passing the work tuples to ``_scatter_k`` for each component cost
    small-2d 6% of its pass."""
    K, d = means.shape
    if _FEATURES == 2:
        for k in range(K):
            rk = r[k, :nb]
            if nonzero(rk):
                _scatter_2d(Xt[0], Xt[1], nb, means[k, 0], means[k, 1], rk, out, K, k)
        return
    Xs, shifted = _shift(Xt, nb, center, aux, work)
    for k in range(means.shape[0]):
        _scatter_k(Xt, Xs, nb, means, r, k, work, out, shifted, aux)


@jit_inline
def _finish(K, d, work, out):
    """Zeros the entries below the diagonals that the scatter's tiles wrote."""
    for k in range(K):
        base = K + K * d + k * d * d
        for j in range(1, d):
            for l in range(j):
                out[base + j * d + l] = 0.0


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
    for j in range(out.shape[0]):
        out[j] = 0.0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        load_block(X, i0, nb, Xt)
        if given:
            given_resp(R, sw, i0, nb, r)
        else:
            _block_logprob(Xt, nb, means, prec, const, center, aux, work, lp)
            block_resp(lp, nb, sw, i0, r, mx, ssum, lse, T)
        _block_scatter(X, Xt, i0, nb, means, center, aux, r, work, out)
    _finish(K, d, work, out)
    n = out.shape[0]
    out[n - 3] = T[0]
    out[n - 2] = T[1]
    out[n - 1] = T[2]


#: features from which ``_by_component`` may choose the by-component passes
BY_COMPONENT_MIN_D = 16


@jit_inline
def _by_component(n, K, d):
    """Few rows (at most 16 blocks) of many large components: the passes run
    in parallel over components, block after block, instead of over chunks
    of rows. No chunk partials of K (d^2 + d + 1) values to zero and add
    (1,797 x 41 digits, K = 200: 2.7 MB per chunk), and no whole blocks
    left to share unevenly between threads (7 blocks on 2 threads). The
    choice depends on the shape only: results never depend on threads."""
    return n <= 16 * BLOCK and K >= 16 and d >= BY_COMPONENT_MIN_D


@jit
def _task_work(nt, K, d, scatter, aux):
    """``_work`` for each task, as (task, ...) arrays; one x - c and one
    x - x0 for all."""
    e = d if scatter else 0
    u = e if _SCATTER_SHIFTED else 0
    return (
        aligned_empty(nt * d, PITCH).reshape((nt, d, PITCH)),
        aligned_empty(nt * 4, PITCH).reshape((nt, 4, PITCH)),
        aligned_empty(nt, BLOCK),
        aligned_empty(nt * e, PITCH).reshape((nt, e, PITCH)),
        np.empty((nt, d)),
        aligned_empty(u, PITCH),
        np.empty((nt, 1 + u + u * u)),
        aligned_empty(d if aux[4] else 0, PITCH),
    )


@jit
def _task(works, t):
    w = works
    return (w[0][t], w[1][t], w[2][t], w[3][t], w[4][t], w[5], w[6][t], w[7])


@pjit(inline_serial=("_chunk",))
def stats(X, sw, R, means, prec, const, center):
    n = X.shape[0]
    K, d = means.shape
    width = K + K * d + S2_SIZE(K, d) + 3
    aux = _prepare(means, prec, const, center)
    if (_FEATURES == 0 or _FEATURES >= BY_COMPONENT_MIN_D) and _by_component(n, K, d):
        out = np.zeros(width)
        nt = n_tasks(K)
        works = _task_work(nt, K, d, np.bool_(True), aux)
        Xt, lp, r, mx, ssum, lse = block_buffers(K, d)
        T = np.zeros(3)
        given = R.shape[0] != 0
        for i0 in range(0, n, BLOCK):
            nb = min(BLOCK, n - i0)
            load_block(X, i0, nb, Xt)
            if given:
                given_resp(R, sw, i0, nb, r)
            else:
                Xl, Ml = _logprob_input(Xt, nb, means, aux, works[7])
                for t in prange(nt):
                    for k in range(*task_range(t, nt, K)):
                        _logprob_k(Xl, nb, Ml, prec, const, k, _task(works, t), lp)
                block_resp(lp, nb, sw, i0, r, mx, ssum, lse, T)
            Xs, shifted = _shift(Xt, nb, center, aux, _task(works, np.int64(0)))
            for t in prange(nt):
                for k in range(*task_range(t, nt, K)):
                    _scatter_k(Xt, Xs, nb, means, r, k, _task(works, t), out, shifted, aux)
        _finish(K, d, _task(works, np.int64(0)), out)
        out[width - 3] = T[0]
        out[width - 2] = T[1]
        out[width - 1] = T[2]
        return out
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
    n = X.shape[0]
    K, d = means.shape
    aux = _prepare(means, prec, const, center)
    if (_FEATURES == 0 or _FEATURES >= BY_COMPONENT_MIN_D) and _by_component(n, K, d):
        nt = n_tasks(K)
        works = _task_work(nt, K, d, np.bool_(False), aux)
        Xt, lp, r, mx, ssum, lse = block_buffers(K, d)
        no_weights = np.empty(0)
        for i0 in range(0, n, BLOCK):
            nb = min(BLOCK, n - i0)
            load_block(X, i0, nb, Xt)
            Xl, Ml = _logprob_input(Xt, nb, means, aux, works[7])
            for t in prange(nt):
                for k in range(*task_range(t, nt, K)):
                    _logprob_k(Xl, nb, Ml, prec, const, k, _task(works, t), lp)
            block_resp(lp, nb, no_weights, i0, r, mx, ssum, lse, no_weights)
            block_outputs(lp, r, i0, nb, lse, lpn, resp, labels)
        return
    for c in prange(n_chunks(n)):
        _score_chunk(X, c, means, prec, const, center, aux, lpn, resp, labels)



# --- the M-step (see :mod:`mstep`) -------------------------------------------
@jit_exact
def kernel_const(weights, means, prec, const, center):
    K, d = means.shape
    logdet = np.zeros(K)
    for k in range(K):
        for j in range(d):
            logdet[k] += log_or_nan(prec[k, j, j])
    mixture_const(weights, logdet, d, means, const, center)


@jit_exact
def update(total, means, center, reg):
    K, d = means.shape
    none = np.empty((0, 0, 0))
    if not finite_stats(total):
        return failed(none)
    N, S1, S2 = split(total, K, d)
    nk, m, w, delta = weights_means(N, S1, means)
    C = np.empty((K, d, d))
    full_covariances(N, S1, S2.reshape((K, d * d)), delta, nk, reg, C)
    U = np.empty((K, d, d))
    if not all_finite(C) or inverse_cholesky_range(C, U, np.int64(0), K) >= 0:
        return failed(none)
    const = np.empty(K)
    c = np.empty(d)
    kernel_const(w, m, U, const, c)
    return True, w, m, C, U, const, c
