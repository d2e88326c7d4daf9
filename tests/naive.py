"""Plain-NumPy twins of every fastgmm kernel (no Numba), for the tests.

Written for clarity, in float64, with whole (n, K) arrays: the opposite of
the kernels' chunked, fused loops.
"""

import numpy as np
from scipy.special import logsumexp

LOG_2PI = np.log(2 * np.pi)


def log_gaussian(X, means, U, cov_type):
    """(n, K) log N(x_i | mu_k, Sigma_k) from precision Cholesky factors."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = means.shape[0]
    out = np.empty((n, K))
    for k in range(K):
        D = X - means[k]
        if cov_type == "full":
            maha = np.sum((D @ U[k]) ** 2, axis=1)
            logdet = np.sum(np.log(np.diag(U[k])))
        elif cov_type == "tied":
            maha = np.sum((D @ U) ** 2, axis=1)
            logdet = np.sum(np.log(np.diag(U)))
        elif cov_type == "diag":
            maha = np.sum((D * U[k]) ** 2, axis=1)
            logdet = np.sum(np.log(U[k]))
        else:
            maha = np.sum(D**2, axis=1) * U[k] ** 2
            logdet = d * np.log(U[k])
        out[:, k] = -0.5 * (d * LOG_2PI + maha) + logdet
    return out


def score_rows(X, weights, means, U, cov_type):
    """(log-likelihood per row, responsibilities, labels)."""
    wlp = log_gaussian(X, means, U, cov_type) + np.log(weights)
    lse = logsumexp(wlp, axis=1)
    return lse, np.exp(wlp - lse[:, None]), np.argmax(wlp, axis=1)


def stats(X, sw, R, weights, means, U, center, cov_type):
    """The flat statistics vector of ``_kernels.<type>.stats``."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = means.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    T = np.zeros(3)
    if R is None:
        lse, resp, _ = score_rows(X, weights, means, U, cov_type)
        T[:] = [np.sum(w * lse), np.sum(w), 0.0]
    else:
        resp = np.asarray(R, dtype=np.float64)
    resp = resp * w[:, None]
    shift = np.broadcast_to(center, (K, d)) if cov_type == "tied" else means
    N = resp.sum(axis=0)
    S1 = np.stack([resp[:, k] @ (X - shift[k]) for k in range(K)])
    if cov_type == "full":
        S2 = np.stack(
            [np.triu((resp[:, k, None] * (X - means[k])).T @ (X - means[k])) for k in range(K)]
        )
    elif cov_type == "tied":
        Z = X - center
        S2 = np.triu((resp.sum(axis=1)[:, None] * Z).T @ Z)
    elif cov_type == "diag":
        S2 = np.stack([resp[:, k] @ (X - means[k]) ** 2 for k in range(K)])
    else:
        S2 = np.array([resp[:, k] @ np.sum((X - means[k]) ** 2, axis=1) for k in range(K)])
    return np.concatenate([N, S1.ravel(), S2.ravel(), T])


def sklearn_mstep(X, resp, reg_covar, cov_type, weight_norm=None):
    """sklearn's M-step formulas (uncentred where sklearn's are), float64."""
    X = np.asarray(X, dtype=np.float64)
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ X / nk[:, None]
    d = X.shape[1]
    if cov_type == "full":
        cov = np.empty((len(nk), d, d))
        for k in range(len(nk)):
            D = X - means[k]
            cov[k] = (resp[:, k] * D.T) @ D / nk[k]
            cov[k].flat[:: d + 1] += reg_covar
    elif cov_type == "tied":
        cov = (X.T @ X - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        cov = resp.T @ (X * X) / nk[:, None] - means**2 + reg_covar
        if cov_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nk / (nk.sum() if weight_norm is None else weight_norm)
    return weights, means, cov


def rows_bounded(Xt, nb):
    """Every |x| of the block at most 2^509."""
    return bool(np.all(np.abs(Xt[:, :nb]) <= 2.0**509))


def near_center(means, U, center, limit):
    """(delta, near) of the full kernels' ``_prepare``: delta = m - c; near
    when delta = 0, or U has a positive diagonal and |||U|^T |delta|||^2 <=
    limit; never when some |c_j| or |m_j| is beyond 2^509 or NaN."""
    delta = means - center
    q = np.einsum("klj,kl->kj", np.abs(U), np.abs(delta)) ** 2
    definite = np.all(np.diagonal(U, axis1=1, axis2=2) > 0, axis=1)
    bounded = np.all(np.abs(means) <= 2.0**509, axis=1) & np.all(np.abs(center) <= 2.0**509)
    zero = np.all(delta == 0, axis=1)
    return delta, bounded & (zero | (definite & (q.sum(axis=1) <= limit)))


def logprob_reference(means, U, const, limit):
    """(x0, means - x0, centre) of the full kernels' ``_reference``: centre
    when some whitened mean max_j (|U_k|^T |m_k|)_j exceeds limit; x0 the
    mean of the largest const_k (the first of equals)."""
    size = np.einsum("klj,kl->kj", np.abs(U), np.abs(means))
    if not size.max() > limit:
        return np.empty(0), np.empty((0, means.shape[1])), False
    x0 = means[np.argmax(const)]
    return x0, means - x0, True


def scatter(X, r, m):
    """(N, S1, upper S2) of one component: sums of r, r z, r z z^T, z = x - m."""
    Z = X - m
    return r.sum(), r @ Z, np.triu((r[:, None] * Z).T @ Z)


# --- k-means ----------------------------------------------------------------
def sqdist_rows(X, xmean, c):
    Xc = (np.asarray(X) - xmean).astype(np.float64)
    return np.sum((Xc - c) ** 2, axis=1)


def lloyd_step(X, sw, xmean, centers, labels):
    """Returns (new labels, [sums, weights, n_changed]) as ``lloyd_step``."""
    Xc = (np.asarray(X) - xmean).astype(np.float64)
    w = np.ones(len(X)) if sw is None else sw
    D = ((Xc[:, None, :] - centers[None]) ** 2).sum(-1)
    new = np.argmin(D, axis=1).astype(np.int32)
    K, d = centers.shape
    sums = np.zeros((K, d))
    wts = np.zeros(K)
    for k in range(K):
        m = new == k
        sums[k] = w[m] @ Xc[m]
        wts[k] = w[m].sum()
    changed = float(np.sum(new != labels))
    return new, np.concatenate([sums.ravel(), wts, [changed]])


def full_covariances(N, S1, S2, delta, nk, reg):
    """Full covariances from shifted statistics (S2: flat upper triangles)."""
    K, d = S1.shape
    A = np.triu(S2.reshape(K, d, d))
    C = A + np.swapaxes(np.triu(A, 1), -1, -2)
    C -= S1[:, :, None] * delta[:, None, :] + delta[:, :, None] * S1[:, None, :]
    C += N[:, None, None] * delta[:, :, None] * delta[:, None, :]
    C /= nk[:, None, None]
    C[:, np.arange(d), np.arange(d)] += reg
    return C


def tied_covariance(N, S1, S2, delta, nk, reg):
    """The tied covariance from statistics shifted by one centre (S2: one
    flat upper triangle)."""
    d = S1.shape[1]
    A = np.triu(S2.reshape(d, d))
    C = A + np.triu(A, 1).T
    C -= S1.T @ delta + delta.T @ S1
    C += (delta * N[:, None]).T @ delta
    C /= nk.sum()
    C.flat[:: d + 1] += reg
    return C


def cumsum_search(closest, sw, values):
    """``np.searchsorted(np.cumsum(w * closest), values)`` clipped to n - 1."""
    c = np.cumsum(closest if sw is None else sw * closest)
    return np.minimum(np.searchsorted(c, values), len(closest) - 1)


def plusplus_steps(X, xmean, draws, first):
    """Unweighted k-means++ seeds after ``first``, given each step's uniforms."""
    Xc = (np.asarray(X) - xmean).astype(np.float64)
    closest = sqdist_rows(X, xmean, Xc[first]).astype(X.dtype)
    ids = [first]
    for u in draws:
        cand = cumsum_search(closest, None, u * np.sum(closest, dtype=np.float64))
        dist = [np.minimum(closest, sqdist_rows(X, xmean, Xc[i]).astype(X.dtype)) for i in cand]
        best = int(np.argmin([np.sum(v, dtype=np.float64) for v in dist]))
        closest = dist[best]
        ids.append(int(cand[best]))
    return np.array(ids)


def average_centers(sums, weights):
    """sklearn's ``_average_centers`` loop, in place on a copy."""
    centers = sums.copy()
    heaviest = int(np.argmax(weights))
    for j in range(centers.shape[0]):
        if weights[j] > 0:
            centers[j] *= 1.0 / weights[j]
        else:
            centers[j] = centers[heaviest]
    return centers
