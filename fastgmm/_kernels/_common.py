"""Helpers shared by the per-covariance-type kernels.

Summation-order rule: every reduction over rows is done per chunk of rows
(``chunk_rows(c, n)``: whole blocks of about ``CHUNK_SIZE`` rows, fewer for
small data, a function of n only) and the chunk partials are added in chunk
order by a plain loop, so results never depend on the number of threads.
"""

import math

import numpy as np

from .. import _config
from .._config import (
    BLOCK,
    CHUNK_MULTIPLE,
    PARTIALS_BYTES,
    jit,
    jit_contract,
    jit_fma,
    jit_inline,
    jit_reduce,
    prefer_wide_vectors,
)
from ._bits import as_float, as_int

#: row stride of (rows, BLOCK) scratch: a 2 KiB stride would put every row
#: of a feature-major block in the same two L1 cache sets; 64 more bytes
#: spread them over all sets (k-means min_sqdist, 1797 x 41: 198 -> 45 us)
PITCH = BLOCK + 8

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with trailing zero bits: n*_LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.0  # exp(x) is taken as 0 below (exp(-708) = 3.3e-308)


chunk_size = jit(_config.chunk_size)
n_chunks = jit(_config.n_chunks)


@jit
def n_tasks(K):
    """Parallel tasks over K components (or matrices): contiguous ranges,
    ``COMPONENT_TASKS`` at most, so equal shares on 1, 2, 4, 8 or 16 threads;
    the split changes which thread computes a component, never how."""
    return min(K, _config.COMPONENT_TASKS)


@jit
def task_range(t, nt, K):
    """Components [lo, hi) of task t of nt."""
    return t * K // nt, (t + 1) * K // nt


@jit
def chunk_group(nch, width):
    """Chunks whose partials (``width`` float64 each) are held at once: the
    fewest groups under ``PARTIALS_BYTES``, of equal size (each group is a
    parallel loop, shared evenly only if no group is left short), rounded up
    to a multiple of ``CHUNK_MULTIPLE`` where that still fits (equal shares
    for 16 threads in every group but the last)."""
    most = max(1, PARTIALS_BYTES // (8 * max(width, 1)))
    groups = max(1, (nch + most - 1) // most)
    g = max(1, (nch + groups - 1) // groups)
    whole = -(-g // CHUNK_MULTIPLE) * CHUNK_MULTIPLE
    return max(1, min(nch, whole)) if whole <= most else g


chunk_rows = jit(_config.chunk_rows)


@jit
def add_into(total, part):
    """``total += part`` as a plain ordered loop (no parallel reduction)."""
    for j in range(total.shape[0]):
        total[j] += part[j]


@jit_inline
def copy_into(out, at, src):
    """``out[at : at + len(src)] = src`` as a loop: Numba's slice assignment
    compiles its broadcasting and overlap checks (0.1 s a statement)."""
    for j in range(src.shape[0]):
        out[at + j] = src[j]


@jit
def row_weight(sw, i):
    if sw.shape[0] == 0:
        return 1.0
    return sw[i]


@jit
def accumulate_T(T, w, lse):
    """T = (sum w * loglik, sum w, number of rows of weight > 0 with a
    non-finite loglik); a row of weight 0 counts as absent."""
    if math.isfinite(lse):
        T[0] += w * lse
    elif w > 0.0:
        T[0] += lse
        T[2] += 1.0
    T[1] += w


def split_stats(total, K, d):
    """Views ``(N, S1, S2 flat, T)`` of a flat statistics vector."""
    N = total[:K]
    S1 = total[K : K + K * d].reshape(K, d)
    S2 = total[K + K * d : -3]
    T = total[-3:]
    return N, S1, S2, T


@jit
def load_block(X, i0, nb, Xt):
    """Xt[:, :nb] = X[i0:i0+nb].T (a float64 feature-major block; float32
    rows are widened here, exactly).

    Few features: one strided column at a time, which vectorises (d = 2,
    100k rows: 0.17 -> 0.07 ms); more: row by row, contiguous reads, and
    float32 rows eight at a time (d = 20, 200k rows: 1.50 -> 1.25 ms;
    float64 gains nothing at d = 20: tall-diag 0.031 -> 0.035 s per
    iteration).
    """
    d = X.shape[1]
    if d == 2:
        x0 = Xt[0, :nb]
        x1 = Xt[1, :nb]
        for b in range(nb):
            x0[b] = X[i0 + b, 0]
            x1[b] = X[i0 + b, 1]
        return
    if d <= 4:
        for j in range(d):
            xj = Xt[j, :nb]
            for b in range(nb):
                xj[b] = X[i0 + b, j]
        return
    b0 = 0  # rows before b0 are done eight at a time (float32 only)
    if X.itemsize == 4:
        while b0 + 8 <= nb:  # one 8-wide store per row of Xt
            r = i0 + b0
            for j in range(d):
                xj = Xt[j]
                xj[b0] = X[r, j]
                xj[b0 + 1] = X[r + 1, j]
                xj[b0 + 2] = X[r + 2, j]
                xj[b0 + 3] = X[r + 3, j]
                xj[b0 + 4] = X[r + 4, j]
                xj[b0 + 5] = X[r + 5, j]
                xj[b0 + 6] = X[r + 6, j]
                xj[b0 + 7] = X[r + 7, j]
            b0 += 8
    for b in range(b0, nb):
        for j in range(d):
            Xt[j, b] = X[i0 + b, j]


#: 1.5 * 2^52 + the exponent bias: t = v log2(e) + _ROUND has the integer
#: nearest to v log2(e), plus 1023, in its low mantissa bits
_ROUND = 6755399441055744.0 + 1023.0


@jit_contract
def exp_le0(v):
    """exp(v) for v <= 0 (NaN and v <= -708 give 0), vectorisable when
    inlined in a loop.

    Cody-Waite reduction v = n ln2 + r, |r| <= ln2/2, a degree-11 polynomial
    for exp(r) (Horner, fused multiply-adds), times 2^n. The polynomial
    interpolates exp at the 12 Chebyshev nodes of [-ln2/2, ln2/2] (solved in
    60-digit decimal arithmetic, coefficients rounded to double): relative
    error 4.2e-18 on the interval, against 6e-15 for the Taylor polynomial of
    the same degree; two multiply-adds fewer than degree-13 Taylor (small-2d's
    responsibilities 0.47 -> 0.42 ms per 100k rows). n is
    rounded by adding 1.5 * 2^52 (whose float keeps n + 1023 in its low
    bits), and 2^n is those bits shifted into the exponent field: no
    float-to-integer conversion. Error <= 1 ulp on (-708, 0]; exactly 0 from
    -708 down.
    """
    keep = v > _EXP_MIN
    v = v if keep else _EXP_MIN
    t = v * _LOG2E + _ROUND
    n = t - _ROUND
    r = (v - n * _LN2_HI) - n * _LN2_LO
    p = 2.5110037605963777e-08
    p = p * r + 2.763263963904103e-07
    p = p * r + 2.755724091857897e-06
    p = p * r + 2.4801485482328494e-05
    p = p * r + 0.00019841269890047113
    p = p * r + 0.0013888888952314775
    p = p * r + 0.008333333333319601
    p = p * r + 0.0416666666664881
    p = p * r + 0.1666666666666668
    p = p * r + 0.5000000000000019
    p = p * r + 1.0
    p = p * r + 1.0
    return p * as_float(as_int(t) << 52) if keep else 0.0


@jit_contract
def log_ge1(x, out, nb):
    """out[:nb] = log(x[:nb]) for finite x >= 1 (a row's sum of exp(lp - max),
    between 1 and K), elementwise and vectorisable; other values give garbage.

    x = 2^e f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(t),
    t = (f - 1) / (f + 1), |t| <= 0.1716, by its series to t^23 (truncation
    < 1e-18); e ln 2 added in two parts. Error about 1 ulp.
    """
    for i in range(nb):
        v = as_int(x[i])
        e = np.float64((v >> 52) - 1023)
        m = as_float((v & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)
        big = m > 1.4142135623730951
        m = m * 0.5 if big else m
        e = e + 1.0 if big else e
        t = (m - 1.0) / (m + 1.0)
        t2 = t * t
        p = 1.0 / 23.0
        p = p * t2 + 1.0 / 21.0
        p = p * t2 + 1.0 / 19.0
        p = p * t2 + 1.0 / 17.0
        p = p * t2 + 1.0 / 15.0
        p = p * t2 + 1.0 / 13.0
        p = p * t2 + 1.0 / 11.0
        p = p * t2 + 1.0 / 9.0
        p = p * t2 + 1.0 / 7.0
        p = p * t2 + 1.0 / 5.0
        p = p * t2 + 1.0 / 3.0
        out[i] = e * _LN2_HI + (2.0 * t + (2.0 * t * t2 * p + e * _LN2_LO))


@jit_reduce
def _block_loglik(m, s, nb):
    """(sum_b m_b + log s_b, number of non-finite m_b) over a block, the logs
    summed as the log of one product: s_b = 2^e_b f_b with f_b in [1, 2),
    so sum log s_b = (sum e_b) ln 2 + log(prod f_b), and prod f_b < 2^256
    never overflows (one log per block instead of one per row)."""
    tm = 0.0
    bad = 0.0
    e = 0.0
    p = 1.0
    for b in range(nb):
        mb = m[b]
        bad += 0.0 if mb - mb == 0.0 else 1.0
        tm += mb
        v = as_int(s[b])
        e += np.float64((v >> 52) - 1023)
        p *= as_float((v & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)
    return tm + (e * _LN2_HI + (e * _LN2_LO + math.log(p))), bad


@jit
def block_resp(lp, nb, sw, i0, r, mx, ssum, lse, T):
    """Responsibilities of a block: r[k, b] = w_b exp(lp[k, b] - lse_b).

    ``lp`` is (K, BLOCK); rows are innermost in every loop. With an empty
    ``T``, ``lse[:nb]`` receives each row's log-sum-exp; otherwise the rows
    are added to ``T`` (:func:`block_T`), without per-row logs when the rows
    are unweighted and finite. A row whose maximum is not finite (every
    component at -inf, or overflowed parameters) gets zero responsibilities
    and keeps its non-finite log-likelihood.
    """
    prefer_wide_vectors()
    K = lp.shape[0]
    m = mx[:nb]
    s = ssum[:nb]
    l0 = lp[0, :nb]
    for b in range(nb):
        m[b] = l0[b]
    for k in range(1, K):
        lk = lp[k, :nb]
        for b in range(nb):
            m[b] = lk[b] if lk[b] > m[b] else m[b]
    for b in range(nb):
        s[b] = 0.0
    for k in range(K):
        rk = r[k, :nb]
        lk = lp[k, :nb]
        for b in range(nb):
            e = exp_le0(lk[b] - m[b])
            rk[b] = e
            s[b] += e
    weighted = sw.shape[0] != 0
    per_row = True
    if T.shape[0] != 0 and not weighted:
        total_ll, bad = _block_loglik(m, s, nb)
        if bad == 0.0:
            T[0] += total_ll
            T[1] += nb
            per_row = False
            for b in range(nb):
                s[b] = 1.0 / s[b]
    if per_row:
        log_ge1(s, lse, nb)
        for b in range(nb):
            finite = m[b] - m[b] == 0.0
            lse[b] = m[b] + lse[b] if finite else m[b]
            s[b] = 1.0 / s[b] if finite else 0.0
        if T.shape[0] != 0:
            block_T(T, sw, i0, nb, lse)
    if weighted:
        w = sw[i0 : i0 + nb]
        for b in range(nb):
            s[b] = w[b] * s[b]
    for k in range(K):
        rk = r[k, :nb]
        for b in range(nb):
            rk[b] *= s[b]


@jit
def given_resp(R, sw, i0, nb, r):
    """r[k, b] = R[i0 + b, k] * w_b (initialisation)."""
    K = r.shape[0]
    for b in range(nb):
        w = row_weight(sw, i0 + b)
        for k in range(K):
            r[k, b] = R[i0 + b, k] * w


@jit
def block_T(T, sw, i0, nb, lse):
    """Adds a block's rows to T: a vectorised sum when every log-likelihood
    is finite (the usual case), else row by row."""
    weighted = sw.shape[0] != 0
    total, bad = _finite_sum(sw, i0, nb, lse, weighted)
    if bad == 0.0:
        T[0] += total
        T[1] += weight_sum(sw, i0, nb, weighted)
        return
    for b in range(nb):
        accumulate_T(T, row_weight(sw, i0 + b), lse[b])


@jit_reduce
def _finite_sum(sw, i0, nb, lse, weighted):
    """(sum_b w_b lse_b, number of non-finite lse_b) over a block."""
    total = 0.0
    bad = 0.0
    if weighted:
        w = sw[i0 : i0 + nb]
        for b in range(nb):
            total += w[b] * lse[b]
            bad += 0.0 if lse[b] - lse[b] == 0.0 else 1.0
    else:
        for b in range(nb):
            total += lse[b]
            bad += 0.0 if lse[b] - lse[b] == 0.0 else 1.0
    return total, bad


@jit_reduce
def weight_sum(sw, i0, nb, weighted):
    if not weighted:
        return float(nb)
    return total(sw[i0 : i0 + nb], nb)


@jit
def block_outputs(lp, r, i0, nb, lse, lpn, resp, labels):
    """Write a block of ``score_rows``' outputs (each optional: an empty
    array is not written).

    A row whose every log-density underflowed to -inf (a point absurdly far
    from every component) keeps its -inf log-likelihood and gets uniform
    probabilities: no component can be preferred, and rows always sum to 1.
    A NaN log-likelihood (NaN in X that validation was told to skip, or in
    hand-set parameters) gives NaN probabilities, as in scikit-learn.
    """
    K = lp.shape[0]
    if lpn.shape[0] != 0:
        for b in range(nb):
            lpn[i0 + b] = lse[b]
    if resp.shape[0] != 0:
        for b in range(nb):
            if lse[b] == -np.inf:
                for k in range(K):
                    resp[i0 + b, k] = 1.0 / K
            elif lse[b] != lse[b]:
                for k in range(K):
                    resp[i0 + b, k] = np.nan
            else:
                for k in range(K):
                    resp[i0 + b, k] = r[k, b]
    if labels.shape[0] != 0:
        for b in range(nb):
            best = 0
            for k in range(1, K):
                if lp[k, b] > lp[best, b]:
                    best = k
            labels[i0 + b] = best


@jit
def nonzero(rk):
    for b in range(rk.shape[0]):
        if rk[b] != 0.0:
            return True
    return False


@jit_reduce
def dot(u, v, nb):
    """sum_b u[b] v[b] over the first ``nb`` entries (a vectorised reduction)."""
    s = 0.0
    for b in range(nb):
        s += u[b] * v[b]
    return s


@jit_reduce
def total(u, nb):
    """sum_b u[b] over the first ``nb`` entries (a vectorised reduction)."""
    s = 0.0
    for b in range(nb):
        s += u[b]
    return s


@jit_reduce
def shifted_moments(r, x, m, nb):
    """(sum_b r_b (x_b - m), sum_b r_b (x_b - m)^2) in one pass."""
    s1 = 0.0
    s2 = 0.0
    for b in range(nb):
        t = x[b] - m
        w = r[b] * t
        s1 += w
        s2 += w * t
    return s1, s2


#: rows from which scatter_upper uses 4 x 4 tiles
SCATTER_TILE4_MIN = 12

#: features from which the triangular products (``triangular_maha``,
#: ``triangular_rows``) use 4 x 4 register tiles
TRIANGULAR_TILE_MIN = 16

#: features below which neither product uses 4 x 4 tiles: kernels built for
#: such d call ``scatter_upper_2x4`` and ``triangular_rows_by_column``
#: directly, and the tiled code is not compiled for them (``tied_small``)
UNTILED_MAX = min(SCATTER_TILE4_MIN, TRIANGULAR_TILE_MIN) - 1


@jit
def scatter_upper(A, W, nb, S, base, stride):
    """S[base + j stride + l] += sum_b W[j, b] A[l, b] for j <= l < e
    (e = rows of A): ``scatter_upper_2x4`` for fewer than
    ``SCATTER_TILE4_MIN`` rows, else ``_scatter_upper_4x4``."""
    if A.shape[0] < SCATTER_TILE4_MIN:
        scatter_upper_2x4(A, W, nb, S, base, stride)
    else:
        _scatter_upper_4x4(A, W, nb, S, base, stride)


@jit_reduce
def _scatter_upper_4x4(A, W, nb, S, base, stride):
    """``scatter_upper`` as a symmetric rank-nb update on feature-major
    blocks, computed as 4 x 4 register tiles of dot products: eight row loads
    feed sixteen multiply-adds (2 x 4 tiles, six loads for eight: d = 50, one
    block, 34 -> 44 GFLOP/s). Rows and columns past the end of a ragged last
    tile repeat the last one and are not written. Tiles that straddle the
    diagonal also write a few entries below it, which callers never read.
    """
    e = A.shape[0]
    last = e - 1
    for j in range(0, e, 4):
        w0 = W[j, :nb]
        w1 = W[min(j + 1, last), :nb]
        w2 = W[min(j + 2, last), :nb]
        w3 = W[min(j + 3, last), :nb]
        for l in range(j, e, 4):
            a0 = A[l, :nb]
            a1 = A[min(l + 1, last), :nb]
            a2 = A[min(l + 2, last), :nb]
            a3 = A[min(l + 3, last), :nb]
            s00 = s01 = s02 = s03 = 0.0
            s10 = s11 = s12 = s13 = 0.0
            s20 = s21 = s22 = s23 = 0.0
            s30 = s31 = s32 = s33 = 0.0
            for b in range(nb):
                x0 = w0[b]
                x1 = w1[b]
                x2 = w2[b]
                x3 = w3[b]
                y0 = a0[b]
                y1 = a1[b]
                y2 = a2[b]
                y3 = a3[b]
                s00 += x0 * y0
                s01 += x0 * y1
                s02 += x0 * y2
                s03 += x0 * y3
                s10 += x1 * y0
                s11 += x1 * y1
                s12 += x1 * y2
                s13 += x1 * y3
                s20 += x2 * y0
                s21 += x2 * y1
                s22 += x2 * y2
                s23 += x2 * y3
                s30 += x3 * y0
                s31 += x3 * y1
                s32 += x3 * y2
                s33 += x3 * y3
            _add_tile_row(S, base + j * stride, l, e, s00, s01, s02, s03)
            if j + 1 < e:
                _add_tile_row(S, base + (j + 1) * stride, l, e, s10, s11, s12, s13)
            if j + 2 < e:
                _add_tile_row(S, base + (j + 2) * stride, l, e, s20, s21, s22, s23)
            if j + 3 < e:
                _add_tile_row(S, base + (j + 3) * stride, l, e, s30, s31, s32, s33)


@jit
def _add_tile_row(S, row, l, e, s0, s1, s2, s3):
    """S[row + l + u] += s_u for the columns l + u < e of a tile row."""
    S[row + l] += s0
    if l + 1 < e:
        S[row + l + 1] += s1
    if l + 2 < e:
        S[row + l + 2] += s2
    if l + 3 < e:
        S[row + l + 3] += s3


@jit_reduce
def scatter_upper_2x4(A, W, nb, S, base, stride):
    """``scatter_upper`` in 2 x 4 tiles (few rows: less spent on the
    repeated rows of a ragged 4 x 4 tile; d = 5: 8.5 -> 12.4 GFLOP/s)."""
    e = A.shape[0]
    j = 0
    while j < e:
        two = j + 1 < e
        j1 = j + 1 if two else j
        w0 = W[j, :nb]
        w1 = W[j1, :nb]
        r0 = base + j * stride
        r1 = base + j1 * stride
        l = j
        while l + 4 <= e:
            a0 = A[l, :nb]
            a1 = A[l + 1, :nb]
            a2 = A[l + 2, :nb]
            a3 = A[l + 3, :nb]
            s0 = s1 = s2 = s3 = 0.0
            t0 = t1 = t2 = t3 = 0.0
            for b in range(nb):
                x = w0[b]
                y = w1[b]
                p = a0[b]
                q = a1[b]
                u = a2[b]
                v = a3[b]
                s0 += x * p
                s1 += x * q
                s2 += x * u
                s3 += x * v
                t0 += y * p
                t1 += y * q
                t2 += y * u
                t3 += y * v
            S[r0 + l] += s0
            S[r0 + l + 1] += s1
            S[r0 + l + 2] += s2
            S[r0 + l + 3] += s3
            if two:
                S[r1 + l] += t0
                S[r1 + l + 1] += t1
                S[r1 + l + 2] += t2
                S[r1 + l + 3] += t3
            l += 4
        while l < e:
            al = A[l, :nb]
            s0 = t0 = 0.0
            for b in range(nb):
                s0 += w0[b] * al[b]
                t0 += w1[b] * al[b]
            S[r0 + l] += s0
            if two:
                S[r1 + l] += t0
            l += 1
        j += 2


@jit_reduce
def triangular_maha(U, c, Xt, nb, Y, mh):
    """mh[:nb] = |c + X U|^2 row by row, for upper-triangular U (d x d), a
    bias row c (d) and Xt = X^T (feature-major rows); ``Y`` is (4, BLOCK)
    scratch. With c = -m U this is |(X - m) U|^2, as scikit-learn computes it
    (X U - m U): no pass over the block to subtract m.

    y_j = c_j + sum_{l <= j} U[l, j] Xt[l, :], mh = sum_j y_j^2, rows
    innermost. Small d: one output column at a time, four input rows per
    load/store of y. d >= TRIANGULAR_TILE_MIN: 4 x 4 register tiles (four
    outputs share each input row), which halves the memory traffic per
    multiply-add.
    """
    d = U.shape[0]
    m = mh[:nb]
    for b in range(nb):
        m[b] = 0.0
    if d >= TRIANGULAR_TILE_MIN:
        _triangular_maha_tiled(U, c, Xt, nb, Y, m)
        return
    yy = Y[0, :nb]
    for j in range(d):
        _triangular_column(U, Xt, nb, j, yy, c[j])
        for b in range(nb):
            m[b] += yy[b] * yy[b]


@jit
def bias_row(U, mean, c):
    """c = -mean U for upper-triangular U: c_j = -sum_{l <= j} mean_l U[l, j]."""
    for j in range(U.shape[0]):
        s = 0.0
        for l in range(j + 1):
            s += mean[l] * U[l, j]
        c[j] = -s


@jit
def _upper(U, l, j):
    """U[l, j] of an upper-triangular U, 0 outside it (and beyond its size)."""
    d = U.shape[0]
    return U[l, j] if l <= j and j < d else 0.0


@jit_reduce
def _triangular_maha_tiled(U, c, Xt, nb, Y, m):
    prefer_wide_vectors()  # the sum of squares below; the tiles ask in _triangular_tile
    d = U.shape[0]
    y0 = Y[0, :nb]
    y1 = Y[1, :nb]
    y2 = Y[2, :nb]
    y3 = Y[3, :nb]
    for j0 in range(0, d, 4):
        _triangular_tile(U, c, Xt, nb, j0, y0, y1, y2, y3, False)
        for b in range(nb):
            m[b] += (y0[b] * y0[b] + y1[b] * y1[b]) + (y2[b] * y2[b] + y3[b] * y3[b])


@jit_reduce
def _triangular_tile(U, c, Xt, nb, j0, y0, y1, y2, y3, exact):
    """y_q[:nb] = c_j + sum_{l <= j} U[l, j] Xt[l, :nb] for the four output
    columns j = j0 + q (q = 0..3) of upper-triangular U: a 4 x 4 register
    tile, four outputs per load of an input row. Columns j >= d come out 0;
    an empty ``c`` is no bias. The tile on the diagonal multiplies U's zeros
    below it by its input rows, unless ``exact``: then each of those rows
    updates only the columns j >= l, so that an infinite input (a deviation
    x - c that overflowed) gives inf, not 0 * inf = NaN, in the columns
    before it."""
    prefer_wide_vectors()
    d = U.shape[0]
    biased = c.shape[0] != 0
    c0 = c[j0] if biased else 0.0
    c1 = c[j0 + 1] if biased and j0 + 1 < d else 0.0
    c2 = c[j0 + 2] if biased and j0 + 2 < d else 0.0
    c3 = c[j0 + 3] if biased and j0 + 3 < d else 0.0
    for b in range(nb):
        y0[b] = c0
        y1[b] = c1
        y2[b] = c2
        y3[b] = c3
    end = min(d, j0 + 4)  # input rows l < end reach columns j0..j0+3
    stop = j0 if exact else end  # 4-row steps; exact: only above the diagonal tile
    l = np.int64(0)  # one signature of _upper (see _config.jit)
    while l + 4 <= stop:
        u00, u01, u02, u03 = _upper(U, l, j0), _upper(U, l, j0 + 1), _upper(U, l, j0 + 2), _upper(U, l, j0 + 3)
        u10, u11, u12, u13 = _upper(U, l + 1, j0), _upper(U, l + 1, j0 + 1), _upper(U, l + 1, j0 + 2), _upper(U, l + 1, j0 + 3)
        u20, u21, u22, u23 = _upper(U, l + 2, j0), _upper(U, l + 2, j0 + 1), _upper(U, l + 2, j0 + 2), _upper(U, l + 2, j0 + 3)
        u30, u31, u32, u33 = _upper(U, l + 3, j0), _upper(U, l + 3, j0 + 1), _upper(U, l + 3, j0 + 2), _upper(U, l + 3, j0 + 3)
        d0 = Xt[l, :nb]
        d1 = Xt[l + 1, :nb]
        d2 = Xt[l + 2, :nb]
        d3 = Xt[l + 3, :nb]
        for b in range(nb):
            p = d0[b]
            q = d1[b]
            r = d2[b]
            s = d3[b]
            y0[b] += u00 * p + u10 * q + u20 * r + u30 * s
            y1[b] += u01 * p + u11 * q + u21 * r + u31 * s
            y2[b] += u02 * p + u12 * q + u22 * r + u32 * s
            y3[b] += u03 * p + u13 * q + u23 * r + u33 * s
        l += 4
    while l < end:
        u00, u01, u02, u03 = _upper(U, l, j0), _upper(U, l, j0 + 1), _upper(U, l, j0 + 2), _upper(U, l, j0 + 3)
        d0 = Xt[l, :nb]
        if not exact or l <= j0:
            for b in range(nb):
                p = d0[b]
                y0[b] += u00 * p
                y1[b] += u01 * p
                y2[b] += u02 * p
                y3[b] += u03 * p
        elif l == j0 + 1:
            for b in range(nb):
                p = d0[b]
                y1[b] += u01 * p
                y2[b] += u02 * p
                y3[b] += u03 * p
        elif l == j0 + 2:
            for b in range(nb):
                p = d0[b]
                y2[b] += u02 * p
                y3[b] += u03 * p
        else:
            for b in range(nb):
                y3[b] += u03 * d0[b]
        l += 1


@jit_fma
def _triangular_column(U, Zt, nb, j, yy, start):
    """yy[:nb] = start + sum_{l <= j} U[l, j] Zt[l, :nb], four terms per
    load/store."""
    for b in range(nb):
        yy[b] = start
    l = 0
    while l + 4 <= j + 1:
        u0 = U[l, j]
        u1 = U[l + 1, j]
        u2 = U[l + 2, j]
        u3 = U[l + 3, j]
        d0 = Zt[l, :nb]
        d1 = Zt[l + 1, :nb]
        d2 = Zt[l + 2, :nb]
        d3 = Zt[l + 3, :nb]
        for b in range(nb):
            yy[b] += u0 * d0[b] + u1 * d1[b] + u2 * d2[b] + u3 * d3[b]
        l += 4
    while l <= j:
        u0 = U[l, j]
        d0 = Zt[l, :nb]
        for b in range(nb):
            yy[b] += u0 * d0[b]
        l += 1


@jit
def triangular_rows(U, Zt, nb, Vt, Y):
    """Vt[j, :nb] = sum_{l <= j} U[l, j] Zt[l, :nb] (= (Z U)^T for upper U),
    rows innermost; ``Y`` is (4, >= nb) scratch. d >= TRIANGULAR_TILE_MIN:
    4 x 4 register tiles, as ``triangular_maha`` (the rows of a ragged last
    tile past d go to ``Y``); smaller d: ``triangular_rows_by_column``."""
    d = U.shape[0]
    if d < TRIANGULAR_TILE_MIN:
        triangular_rows_by_column(U, Zt, nb, Vt, Y)
        return
    no_bias = Y[0, :0]
    for j0 in range(0, d, 4):
        _triangular_tile(
            U, no_bias, Zt, nb, j0, Vt[j0, :nb],
            Vt[j0 + 1, :nb] if j0 + 1 < d else Y[1, :nb],
            Vt[j0 + 2, :nb] if j0 + 2 < d else Y[2, :nb],
            Vt[j0 + 3, :nb] if j0 + 3 < d else Y[3, :nb],
            True,  # Zt holds deviations x - c, which may have overflowed
        )


@jit
def triangular_rows_by_column(U, Zt, nb, Vt, Y):
    """``triangular_rows`` one output row at a time (any d; the product for
    fewer than TRIANGULAR_TILE_MIN features)."""
    yy = Y[0, :nb]
    for j in range(U.shape[0]):
        _triangular_column(U, Zt, nb, j, yy, 0.0)
        vj = Vt[j, :nb]
        for b in range(nb):
            vj[b] = yy[b]


@jit
def block_diff_t(Xt, nb, mean, Dt):
    """Dt[:, :nb] = Xt[:, :nb] - mean (Dt may be Xt)."""
    for l in range(mean.shape[0]):
        m = mean[l]
        xt = Xt[l, :nb]
        dt = Dt[l, :nb]
        for b in range(nb):
            dt[b] = xt[b] - m


@jit_reduce
def block_diff_weighted(Xt, nb, mean, r, Dt, Wt, S1, at):
    """Dt = Xt - mean, Wt = r Dt (rows innermost) and S1[at + l] += the sum
    of row l of Wt, in one pass (three passes over (d, BLOCK) scratch that
    leaves L1 at d = 50: 13.8 -> 7 ms of wide's 125 ms per 25k rows)."""
    for l in range(mean.shape[0]):
        m = mean[l]
        xt = Xt[l, :nb]
        dt = Dt[l, :nb]
        wt = Wt[l, :nb]
        s = 0.0
        for b in range(nb):
            a = xt[b] - m
            w = r[b] * a
            dt[b] = a
            wt[b] = w
            s += w
        S1[at + l] += s


#: |x|, |c| <= 2^509 bound |x - c| by 2^510 and a product of two such
#: deviations by 2^1020: finite, whatever order a reassociated product
#: r (z_j z_l) is taken in, so 0 where r is 0
SHIFT_SAFE = 2.0**509


@jit_reduce
def rows_bounded(Xt, nb):
    """Every |x| of the block's rows at most ``SHIFT_SAFE`` (NaN is not)."""
    beyond = 0.0
    for j in range(Xt.shape[0]):
        xt = Xt[j, :nb]
        for b in range(nb):
            beyond += 0.0 if abs(xt[b]) <= SHIFT_SAFE else 1.0
    return beyond == 0.0


@jit
def add_block_stats(acc, delta, near, out, K, k):
    """Adds one component's sums of a block, ``acc`` = [n, s1 (d), s2 (d x d,
    upper)], to the statistics vector ``out`` (N, S1, S2 flat). Sums taken
    around c (``near``) move to m_k = c + delta:
    sum r (x - m) = s1 - n delta, and
    sum r (x - m)_j (x - m)_l = s2_jl - delta_j (s1_l - n delta_l) - s1_j delta_l."""
    d = delta.shape[0]
    n = acc[0]
    out[k] += n
    at1 = K + k * d
    at2 = K + K * d + k * d * d
    if not near:
        for j in range(d):
            out[at1 + j] += acc[1 + j]
        for j in range(d):
            for l in range(j, d):
                out[at2 + j * d + l] += acc[1 + d + j * d + l]
        return
    for j in range(d):
        out[at1 + j] += acc[1 + j] - n * delta[j]
    for j in range(d):
        for l in range(j, d):
            s1m = acc[1 + l] - n * delta[l]
            out[at2 + j * d + l] += acc[1 + d + j * d + l] - delta[j] * s1m - acc[1 + j] * delta[l]


@jit
def block_diff_live(Xt, nb, mean, r, Dt):
    """``block_diff_t`` with 0 in the rows whose responsibility r_b is 0."""
    for l in range(mean.shape[0]):
        m = mean[l]
        xt = Xt[l, :nb]
        dt = Dt[l, :nb]
        for b in range(nb):
            dt[b] = xt[b] - m if r[b] != 0.0 else 0.0


#: bytes of a cache line: scratch starts on one (``aligned_empty``)
LINE = 64


@jit_inline
def aligned_empty(rows, cols):
    """``np.empty((rows, cols))`` starting on a cache line. Numba aligns
    arrays to 32 bytes only, and a 512-bit load from an address 32 bytes
    into a line reads two lines (mid, one statistics pass, 2 threads, time
    against the 256-bit kernels: 0.84 on 32-byte scratch, 0.77 on lines).
    The sizes go on as int64: callers pass constants (``PITCH``, 4), and
    each literal would be another compiled signature."""
    return _aligned_empty(np.int64(rows), np.int64(cols))


@jit
def _aligned_empty(rows, cols):
    per_line = LINE // 8
    flat = np.empty(rows * cols + per_line)
    skip = (-(flat.ctypes.data // 8)) % per_line
    return flat[skip : skip + rows * cols].reshape((rows, cols))


@jit
def block_buffers(K, d):
    """Per-chunk scratch of the drivers: (Xt, lp, r, mx, ssum, lse), rows
    on cache lines (``PITCH`` is a whole number of lines). The feature-major
    block Xt is float64 for either dtype of X: float32 rows are widened once,
    as they are loaded, rather than in every pass that reads them (a float32
    diag statistics pass against float64, 1M x 20, K = 8, 1 and 2 threads,
    Zen 4: 0.95-1.03 on a float32 block, 1.07-1.13 on a float64 one)."""
    return (
        aligned_empty(d, PITCH),
        aligned_empty(K, PITCH),
        aligned_empty(K, PITCH),
        aligned_empty(1, BLOCK)[0],
        aligned_empty(1, BLOCK)[0],
        aligned_empty(1, BLOCK)[0],
    )
