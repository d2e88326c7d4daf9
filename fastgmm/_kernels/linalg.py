"""Small dense linear algebra of the M-step, compiled: per-component calls to
LAPACK through scipy cost ~15 us each in argument checking, more than the
whole E-step of a small problem."""

import math

import numpy as np
from numba import prange

from .._config import jit, jit_reduce, pjit
from ._common import n_tasks, task_range


@jit_reduce
def _inverse_cholesky_one(C, U, L):
    """U = inv(L)^T for L L^T = C (d x d; only C's lower triangle is read),
    with ``L`` as scratch. False when C is not numerically positive definite
    (a pivot <= 0 or NaN)."""
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


@pjit
def inverse_cholesky_upper(C, U):
    """U[k] = inv(L_k)^T for L_k L_k^T = C[k] (so U[k] U[k]^T = inv(C[k])).

    ``C`` and ``U`` are (K, d, d) float64; only the lower triangle of ``C``
    is read. Cholesky by columns, then inv(L) by forward substitution on the
    identity, as LAPACK's potrf and trtrs compute them; components in
    parallel. Returns the index of the first matrix that is not numerically
    positive definite (a pivot <= 0 or NaN), or -1.
    """
    K, d, _ = C.shape
    ok = np.empty(K, dtype=np.bool_)
    nt = n_tasks(K)
    for t in prange(nt):
        L = np.empty((d, d))
        for k in range(*task_range(t, nt, K)):
            ok[k] = _inverse_cholesky_one(C[k], U[k], L)
    for k in range(K):
        if not ok[k]:
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
