"""Small dense linear algebra of the M-step, compiled: per-component calls to
LAPACK through scipy cost ~15 us each in argument checking, more than the
whole E-step of a small problem."""

import math

import numpy as np
from numba import prange

from .._config import jit, jit_reduce, pjit
from ._common import n_tasks, task_range


#: Below this many features a matrix sits in L1 and the plain algorithm,
#: one column or row at a time, is faster (one matrix, one thread, plain /
#: panels: d = 10 0.7 / 1.1 us, 16 1.4 / 1.6 us, 32 5.8 / 4.3 us)
PANEL_MIN = 20


@jit_reduce
def _inverse_cholesky_small(C, U, L):
    """``_inverse_cholesky_one`` for small d: Cholesky by columns, then inv(L)
    by forward substitution on the identity, as LAPACK's potrf and trtrs."""
    d = C.shape[0]
    for j in range(d):
        s = C[j, j]
        for p in range(j):
            s -= L[j, p] * L[j, p]
        if not s > 0.0:
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, d):
            t = C[i, j]
            for p in range(j):
                t -= L[i, p] * L[j, p]
            L[i, j] = t / ljj
    for c in range(d):
        for i in range(c):
            U[c, i] = 0.0  # U is upper: U[c, i] = inv(L)[i, c] = 0 for i < c
        for i in range(c, d):
            t = 1.0 if i == c else 0.0
            for p in range(c, i):
                t -= L[i, p] * U[c, p]
            U[c, i] = t / L[i, i]
    return True


@jit_reduce
def _inverse_cholesky_one(C, U, L, A):
    """U = inv(L)^T for L L^T = C (d x d, d >= PANEL_MIN; only C's lower
    triangle is read), with ``L`` and ``A`` (4 x d) as scratch. False when C
    is not numerically positive definite (a pivot <= 0 or NaN).

    Both steps go four rows or columns at a time, so that each row of L or
    of inv(L) read from memory feeds four dot products or four updates
    (d = 500: a matrix is 2 MB, outside L2; one matrix, one thread, against
    ``_inverse_cholesky_small``, d = 50 / 200 / 400 / 500: 17.2 / 846 / 6,784
    / 13,400 us, 10.2 / 229 / 1,077 / 2,360 us with panels):
    Cholesky left-looking by panels of four columns (``_cholesky_panel``),
    then inv(L) by forward substitution on rows, four rows at a time
    (``_inverse_rows``), written over U and transposed in place.
    """
    d = C.shape[0]
    for j0 in range(0, d, 4):
        if not _cholesky_panel(L, C, j0, min(d, j0 + 4)):
            return False
    for i0 in range(0, d, 4):
        _inverse_rows(L, U, i0, min(d, i0 + 4), A)
    # U holds X = inv(L) (lower); U = X^T
    for i in range(d):
        for c in range(i):
            U[c, i] = U[i, c]
            U[i, c] = 0.0
    return True


@jit_reduce
def _cholesky_panel(L, C, j0, j1):
    """Columns j0 <= j < j1 (at most four) of L, row by row from row j0:
    the sums over p < j0 for the four columns together, then the row's
    entries in order, L[i, j] = (C[i, j] - sum_{p < j} L[i, p] L[j, p]) /
    L[j, j] and, on the diagonal, L[i, i] = sqrt(C[i, i] - sum_{p < i}
    L[i, p]^2). The panel's own rows come first; the rows below it (only
    the last panel can be narrower than four, and has none) then read the
    panel's 4 x 4 block from registers. False at a pivot <= 0 or NaN."""
    d = C.shape[0]
    last = j1 - 1
    a0 = L[j0]
    a1 = L[min(j0 + 1, last)]
    a2 = L[min(j0 + 2, last)]
    a3 = L[min(j0 + 3, last)]
    b0 = b1 = b2 = b3 = e10 = e20 = e30 = e21 = e31 = e32 = 0.0
    for i in range(j0, d):
        li = L[i]
        s0 = s1 = s2 = s3 = 0.0
        for p in range(j0):
            x = li[p]
            s0 += x * a0[p]
            s1 += x * a1[p]
            s2 += x * a2[p]
            s3 += x * a3[p]
        if i >= j1:
            x0 = (C[i, j0] - s0) / b0
            x1 = (C[i, j0 + 1] - s1 - x0 * e10) / b1
            x2 = (C[i, j0 + 2] - s2 - x0 * e20 - x1 * e21) / b2
            li[j0] = x0
            li[j0 + 1] = x1
            li[j0 + 2] = x2
            li[j0 + 3] = (C[i, j0 + 3] - s3 - x0 * e30 - x1 * e31 - x2 * e32) / b3
            continue
        # a row of the panel's diagonal block
        li[j0] = C[i, j0] - s0
        if j0 + 1 <= i:
            li[j0 + 1] = C[i, j0 + 1] - s1
        if j0 + 2 <= i:
            li[j0 + 2] = C[i, j0 + 2] - s2
        if j0 + 3 <= i:
            li[j0 + 3] = C[i, j0 + 3] - s3
        for j in range(j0, i + 1):
            t = li[j]
            lj = L[j]
            for p in range(j0, j):
                t -= li[p] * lj[p]
            if j < i:
                li[j] = t / lj[j]
            elif t > 0.0:
                li[j] = math.sqrt(t)
            else:
                return False
        if i == last and j1 < d:
            b0, b1, b2, b3 = L[j0, j0], L[j0 + 1, j0 + 1], L[j0 + 2, j0 + 2], L[j0 + 3, j0 + 3]
            e10, e20, e30 = L[j0 + 1, j0], L[j0 + 2, j0], L[j0 + 3, j0]
            e21, e31, e32 = L[j0 + 2, j0 + 1], L[j0 + 3, j0 + 1], L[j0 + 3, j0 + 2]
    return True


@jit_reduce
def _inverse_rows(L, X, i0, i1, A):
    """Rows i0 <= i < i1 (at most four) of X = inv(L), lower triangular, by
    forward substitution on rows: X[i, :] = (e_i - sum_{p < i} L[i, p]
    X[p, :]) / L[i, i]. The sums over the rows p < i0 done before are taken
    for the four rows together (each row of X read feeds four of them), in
    the accumulators ``A`` (4 x d); the few p inside the panel after."""
    last = i1 - 1
    for q in range(4):
        for c in range(i1):
            A[q, c] = 0.0
    a0 = A[0]
    a1 = A[1]
    a2 = A[2]
    a3 = A[3]
    l0 = L[i0]
    l1 = L[min(i0 + 1, last)]
    l2 = L[min(i0 + 2, last)]
    l3 = L[min(i0 + 3, last)]
    for p in range(i0):
        xp = X[p]
        m0 = l0[p]
        m1 = l1[p]
        m2 = l2[p]
        m3 = l3[p]
        for c in range(p + 1):
            x = xp[c]
            a0[c] += m0 * x
            a1[c] += m1 * x
            a2[c] += m2 * x
            a3[c] += m3 * x
    for i in range(i0, i1):
        a = A[i - i0]
        li = L[i]
        for p in range(i0, i):
            m = li[p]
            xp = X[p]
            for c in range(p + 1):
                a[c] += m * xp[c]
        xi = X[i]
        lii = li[i]
        for c in range(i):
            xi[c] = -a[c] / lii
        xi[i] = 1.0 / lii  # (right of the diagonal: written by the caller's transpose)


@pjit
def inverse_cholesky_upper(C, U):
    """U[k] = inv(L_k)^T for L_k L_k^T = C[k] (so U[k] U[k]^T = inv(C[k])).

    ``C`` and ``U`` are (K, d, d) float64; only the lower triangle of ``C``
    is read. Below ``PANEL_MIN`` features Cholesky by columns, then inv(L)
    by forward substitution on the identity, as LAPACK's potrf and trtrs
    compute them; from it the same by panels of four (``_inverse_cholesky_one``);
    components in parallel. Returns the index of the first matrix that is not numerically
    positive definite (a pivot <= 0 or NaN), or -1.
    """
    K = C.shape[0]
    nt = n_tasks(K)
    bad = np.empty(nt, dtype=np.int64)
    for t in prange(nt):
        lo, hi = task_range(t, nt, K)
        bad[t] = inverse_cholesky_range(C, U, lo, hi)
    for t in range(nt):
        if bad[t] >= 0:
            return bad[t]
    return -1


@jit
def inverse_cholesky_range(C, U, lo, hi):
    """``inverse_cholesky_upper`` of the matrices [lo, hi), serially: the
    first k whose matrix is not positive definite (the rest are left
    undone), or -1."""
    d = C.shape[1]
    L = np.empty((d, d))
    A = np.empty((4, d if d >= PANEL_MIN else 0))
    for k in range(lo, hi):
        if d < PANEL_MIN:  # chosen here, one call layer less (d = 2: 0.69 -> 0.50 us)
            ok = _inverse_cholesky_small(C[k], U[k], L)
        else:
            ok = _inverse_cholesky_one(C[k], U[k], L, A)
        if not ok:
            return k
    return -1


@jit
def full_covariances(N, S1, S2, delta, nk, reg, C):
    """C[k] = (S2_k - S1_k delta_k^T - delta_k S1_k^T + N_k delta_k delta_k^T)
    / nk_k + reg I, with S2_k given by its flat upper triangle (K, d*d).

    The same operations in the same order as the NumPy expression in
    ``_covariance._full_cov`` it replaces (one pass instead of eight
    temporaries of K*d*d)."""
    K, d = S1.shape
    for k in range(K):
        S = S2[k]
        for j in range(d):
            for l in range(d):
                s = S[j * d + l] if l >= j else S[l * d + j]
                s -= S1[k, j] * delta[k, l] + delta[k, j] * S1[k, l]
                s += N[k] * delta[k, j] * delta[k, l]
                s /= nk[k]
                if j == l:
                    s += reg
                C[k, j, l] = s


@jit
def tied_covariance(N, S1, S2, delta, nk_sum, reg, C):
    """C = (S2 - S1^T delta - delta^T S1 + delta^T diag(N) delta) / nk_sum +
    reg I, the pooled covariance of 'tied' from statistics shifted by one
    centre (``delta`` = means - centre, (K, d); S2 a flat upper triangle,
    d*d). Compiled rather than three NumPy products: right after a parallel
    pass, multithreaded BLAS waits for cores that Numba's threads still hold
    (tied-200, 2 cores: 11 ms per iteration with one BLAS thread, 14-16 ms
    with two)."""
    K, d = S1.shape
    for j in range(d):  # the upper triangle, mirrored at the end: symmetric
        for l in range(j, d):
            C[j, l] = S2[j * d + l]
    for k in range(K):
        for j in range(d):
            s1j = S1[k, j]
            dj = delta[k, j]
            ndj = N[k] * dj
            cj = C[j, j:]  # slices from j, indexed from 0: vectorised (see _upper_gram_one)
            dk = delta[k, j:]
            sk = S1[k, j:]
            for l in range(d - j):
                cj[l] += ndj * dk[l] - (s1j * dk[l] + dj * sk[l])
    for j in range(d):
        C[j, j] = C[j, j] / nk_sum + reg
        for l in range(j + 1, d):
            C[j, l] /= nk_sum
            C[l, j] = C[j, l]


@jit
def upper_gram(U, P):
    """P[k] = U[k] U[k]^T for upper-triangular U[k] ((K, d, d) float64):
    P[j, l] = sum_{p >= max(j, l)} U[j, p] U[l, p], the upper triangle by
    row dot products, mirrored (exactly symmetric). The precisions from
    their Cholesky factors, compiled for the reason given in
    ``tied_covariance``: a threaded BLAS product at the end of a fit left
    OpenBLAS's threads spinning for 0.1 s, on the cores of the next call
    (score_samples right after fit, tied-200: 20-25 ms instead of 8)."""
    for k in range(U.shape[0]):
        _upper_gram_one(U[k], P[k])


@jit_reduce
def _upper_gram_one(U, P):
    """``upper_gram`` of one matrix, four rows j0..j0+3 at a time: each row
    l below them read once feeds the four dot products (the four rows stay
    in L1), the few entries inside the 4 x 4 diagonal block one by one.
    The sums run over slices starting at l, indexed from 0: indexed from l
    instead, LLVM did not vectorise them (d = 400: 3.2 ms -> 0.49 ms;
    numpy's matmul on one BLAS thread: 1.2 ms)."""
    d = U.shape[0]
    for j0 in range(0, d, 4):
        last = min(d, j0 + 4) - 1
        for j in range(j0, last + 1):  # the diagonal block
            for l in range(j, last + 1):
                uj = U[j, l:]
                ul = U[l, l:]
                s = 0.0
                for p in range(d - l):
                    s += uj[p] * ul[p]
                P[j, l] = s
                P[l, j] = s
        if last + 1 == d:
            continue  # a ragged block is the last one: no rows below it
        for l in range(last + 1, d):
            ul = U[l, l:]
            r0 = U[j0, l:]
            r1 = U[j0 + 1, l:]
            r2 = U[j0 + 2, l:]
            r3 = U[j0 + 3, l:]
            s0 = s1 = s2 = s3 = 0.0
            for p in range(d - l):
                x = ul[p]
                s0 += r0[p] * x
                s1 += r1[p] * x
                s2 += r2[p] * x
                s3 += r3[p] * x
            P[j0, l] = P[l, j0] = s0
            P[j0 + 1, l] = P[l, j0 + 1] = s1
            P[j0 + 2, l] = P[l, j0 + 2] = s2
            P[j0 + 3, l] = P[l, j0 + 3] = s3
