"""Initial responsibilities' statistics, drawing from the RandomState as sklearn.

``'kmeans'`` runs fastgmm's own k-means, which reproduces
``sklearn.cluster.KMeans(n_clusters=K, n_init=1, random_state=rs)``: the same
k-means++ seeding (same draws from ``rs``), Lloyd iterations, empty-cluster
relocation and convergence rule (strict label convergence, or a centre shift
within ``1e-4`` times the mean feature variance, at most 300 iterations).
sklearn's KMeans itself is not called (its OpenMP loops deadlock in a child
forked after the parent used them).

Initialisation never builds an (n_samples, n_components) array: one-hot or
random responsibilities are generated block by block.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._config import CHUNK_SIZE
from ._kernels import kmeans as kk
from ._stats import no_weights, stats_shift
from ._threading import call_kernel, runs_serial

#: bytes of responsibilities materialised at once at initialisation
BLOCK_BYTES = 4 * 2**20
#: below this much kernel work (n * row_work(K, d)), label_stats takes one
#: pass over one-hot responsibilities instead of one kernel call per cluster
ONE_PASS_MAX_WORK = 2**16


def _block_rows(K, dtype):
    # bounded memory, but several chunks per block so the pass stays parallel
    return max(8 * CHUNK_SIZE, BLOCK_BYTES // (K * np.dtype(dtype).itemsize))

KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4


def kmeans_plusplus(X, K, rs, sw=None, xmean=None, pre=None):
    """Indices of sklearn's k-means++ seeds (``_kmeans_plusplus``).

    ``xmean`` is the centre subtracted from X first (KMeans centres X;
    the public ``kmeans_plusplus`` does not). Returns ``(indices, centers)``
    with centers in centred coordinates, float64. The draws from ``rs`` are
    sklearn's; without sample weights no n-vector beyond ``closest`` is made.
    ``pre``: X's centred blocks (see :func:`_centred_blocks`), or None.
    """
    n, d = X.shape
    if xmean is None:
        xmean = np.zeros(d, dtype=X.dtype)
    single = X.dtype == np.float32
    n_local_trials = 2 + int(np.log(K))
    if pre is None:
        pre = _centred_blocks(X, xmean)

    if sw is None:
        # p = ones / ones.sum() in X's dtype, as sklearn builds it
        p = X.dtype.type(1) / np.broadcast_to(np.ones(1, dtype=X.dtype), (n,)).sum()
        center_id = kk.uniform_choice(n, float(p), rs.random_sample())
        w = None
    else:
        w = sw.astype(X.dtype)
        center_id = rs.choice(n, p=w / w.sum())
    indices = np.full(K, -1, dtype=int)
    centers = np.empty((K, d))
    indices[0] = center_id
    centers[0] = X[center_id] - xmean
    closest = np.empty(n, dtype=X.dtype)
    work = n * d * n_local_trials  # a seeding step: min_sqdist + candidate_pots
    call_kernel(kk.min_sqdist, X, xmean, pre, centers[0], closest, True, single, work=work)
    if w is None:
        # the whole loop in one compiled call: the K - 1 steps' draws, taken
        # at once, are the same numbers and leave rs in the same state
        draws = rs.uniform(size=(K - 1) * n_local_trials).reshape(K - 1, n_local_trials)
        call_kernel(kk.plusplus_steps, X, xmean, pre, draws, single, closest, indices,
                    centers, work=work)
        return indices, centers
    current_pot = _pot(closest, w)

    candidate_ids = np.empty(n_local_trials, dtype=np.intp)
    for c in range(1, K):
        rand_vals = rs.uniform(size=n_local_trials) * current_pot
        kk.cumsum_search(closest, w, rand_vals, candidate_ids)
        cands = np.ascontiguousarray(X[candidate_ids] - xmean, dtype=np.float64)
        pots = call_kernel(
            kk.candidate_pots, X, sw, xmean, pre, cands, closest, single, work=work
        )
        best = int(np.argmin(pots))
        call_kernel(kk.min_sqdist, X, xmean, pre, cands[best], closest, False, single, work=work)
        current_pot = _pot(closest, w)
        indices[c] = candidate_ids[best]
        centers[c] = cands[best]
    return indices, centers


#: float64 data up to this size are transposed into feature-major blocks
#: once per k-means instead of once per pass (float32 data never are: no
#: float64 copy of float32 X is made)
CENTRED_BLOCKS_BYTES = 16 * 2**20


def _centred_blocks(X, xmean):
    if X.dtype != np.float64 or X.nbytes > CENTRED_BLOCKS_BYTES:
        return kk.no_blocks()
    return kk.centred_blocks(X, xmean)


def _pot(closest, w):
    """sum_i w_i closest_i as sklearn takes it: a BLAS dot in X's dtype; rows
    of weight 0 left out if one of them is at distance inf (0 * inf)."""
    with np.errstate(invalid="ignore"):
        pot = float(closest @ w)
    if math.isnan(pot):
        pot = float(np.where(w > 0, closest, 0) @ w)
    return pot


def data_center(X, sw):
    """X's column means in float64, weighted by ``sw`` as counts (empty:
    unweighted, numpy's mean as sklearn takes it), so that a row of weight 0
    far away moves nothing: the plain mean first (a row of positive weight
    when some weigh 0), then the weighted mean of the deviations from it,
    twice (one pass each, no copy of X)."""
    if sw.shape[0] == 0 or np.all(sw):
        center = np.ascontiguousarray(X.mean(axis=0), dtype=np.float64)
    else:
        # start from a row that counts: a far row of weight 0 (1e200) pulls the
        # plain mean so far that two passes could not come back
        center = X[int(np.argmax(sw > 0))].astype(np.float64)
    if sw.shape[0] == 0:
        return center
    W = float(np.sum(sw))
    d = X.shape[1]
    for _ in range(2):  # the second pass removes the first one's rounding
        center = center + call_kernel(kk.centered_sq_sums, X, sw, center)[d:] / W
    return center


def _variances(X, sw, xmean):
    """Per-feature variances of X, weighted by ``sw`` (empty: unweighted) as
    counts: those of the rows repeated. scikit-learn's KMeans ignores its
    sample_weight here, so zero weights and counts would move its stopping
    tolerance; with them as counts, the model equals the rows' removed or
    repeated. ``xmean``: X's (weighted) mean."""
    n, d = X.shape
    sums = call_kernel(kk.centered_sq_sums, X, sw, xmean.astype(np.float64))
    if sw.shape[0] == 0:
        return sums[:d] / n
    W = float(np.sum(sw))
    return np.maximum(sums[:d] / W - (sums[d:] / W) ** 2, 0.0)


def kmeans_labels(X, K, rs, sw=None, center=None):
    """Labels of ``KMeans(n_clusters=K, n_init=1, random_state=rs).fit(X, sw)``,
    and the final centres (float64, in X's coordinates); the stopping
    tolerance weights the variances (:func:`_variances`), as on repeated rows.
    ``center``: ``data_center(X, sw)`` if the caller has it."""
    n, d = X.shape
    w_kernel = no_weights() if sw is None else sw
    if center is None:
        center = data_center(X, w_kernel)
    # weighted: about the weighted mean (a far row of weight 0 moves nothing);
    # unweighted: X.mean(axis=0), as sklearn's KMeans centres X
    xmean = center.astype(X.dtype)
    tol = float(np.mean(_variances(X, w_kernel, xmean))) * KMEANS_TOL

    pre = _centred_blocks(X, xmean)
    _, centers = kmeans_plusplus(X, K, rs, sw, xmean, pre)
    labels = np.full(n, -1, dtype=np.int32)
    strict = False
    done = 0
    total = None  # a step's sums still to be turned into centres
    if runs_serial(n, n * K * d):
        # the steps in one compiled call; back here only to relocate
        outcome, done, centers, total = kk.lloyd_run(
            X, w_kernel, xmean, pre, centers, labels, tol, KMEANS_MAX_ITER
        )
        strict = outcome == kk.LLOYD_STRICT
        if outcome != kk.LLOYD_EMPTY:
            done = KMEANS_MAX_ITER
    for _ in range(done, KMEANS_MAX_ITER):
        if total is None:
            total = call_kernel(
                kk.lloyd_step, X, w_kernel, xmean, pre, centers, labels, True, work=n * K * d
            )
        sums = total[: K * d].reshape(K, d)
        weights = total[K * d : K * d + K]
        changed = total[-1]
        _relocate_empty_clusters(X, sw, xmean, centers, sums, weights, labels)
        new = _average_centers(sums, weights)
        shift_tot = float(np.sum((new - centers) ** 2))
        centers = new
        total = None
        if changed == 0:
            strict = True
            break
        if shift_tot <= tol:
            break
    if not strict:
        call_kernel(kk.lloyd_step, X, w_kernel, xmean, pre, centers, labels, False, work=n * K * d)
    warn_if_few_clusters(labels, K, stacklevel=3)
    return labels, centers + xmean


def warn_if_few_clusters(labels, K, stacklevel=2):
    """KMeans' warning when fewer than K clusters are not empty."""
    distinct = int(np.count_nonzero(np.bincount(labels, minlength=K)))
    if distinct < K:
        warnings.warn(
            "Number of distinct clusters ({}) found smaller than "
            "n_clusters ({}). Possibly due to duplicate points "
            "in X.".format(distinct, K),
            ConvergenceWarning,
            stacklevel=stacklevel,
        )


def _relocate_empty_clusters(X, sw, xmean, centers, sums, weights, labels):
    """sklearn's ``_relocate_empty_clusters_dense``, in place on sums/weights."""
    empty = np.where(np.equal(weights, 0))[0]
    n_empty = empty.shape[0]
    if n_empty == 0:
        return
    dist = np.empty(X.shape[0], dtype=X.dtype)
    call_kernel(kk.assigned_sqdist, X, xmean, centers, labels, dist)
    if sw is not None:  # a row of weight 0 is removed: never a new centre
        dist[sw == 0] = -np.inf
    far = np.argpartition(dist, -n_empty)[: -n_empty - 1 : -1]
    if np.max(dist) == 0:
        return
    for new_id, far_idx in zip(empty, far):
        wi = 1.0 if sw is None else float(X.dtype.type(sw[far_idx]))
        old_id = labels[far_idx]
        xf = (X[far_idx] - xmean).astype(np.float64)
        sums[old_id] -= xf * wi
        sums[new_id] = xf * wi
        weights[new_id] = wi
        weights[old_id] -= wi


def _average_centers(sums, weights):
    """sklearn's ``_average_centers``: centre j = sums[j] * (1 / weight_j);
    an empty cluster copies the heaviest one as the in-place loop leaves it
    at that point (scaled when the heaviest comes first, raw otherwise)."""
    heaviest = int(np.argmax(weights))
    full = weights > 0
    centers = sums.copy()
    centers[full] *= (1.0 / weights[full])[:, None]
    for j in np.flatnonzero(~full):
        centers[j] = centers[heaviest] if j > heaviest else sums[heaviest]
    return centers


def _one_hot_blocks(labels, K, dtype):
    n = labels.shape[0]
    rows = _block_rows(K, dtype)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        R = np.zeros((b - a, K), dtype=dtype)
        R[np.arange(b - a), labels[a:b]] = 1
        yield a, b, R


def _random_blocks(rs, n, K, dtype, sw=None):
    # rs.uniform(size=(n, K)) drawn block by block gives the same numbers.
    # With weights, only the rows of positive weight draw (in order), so a row
    # of weight 0 acts as removed; its responsibilities (1/K) count for nothing.
    rows = _block_rows(K, np.float64)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        if sw is None:
            R = np.asarray(rs.uniform(size=(b - a, K)), dtype=dtype)
        else:
            R = np.ones((b - a, K), dtype=dtype)
            drawn = sw[a:b] > 0
            R[drawn] = rs.uniform(size=(np.count_nonzero(drawn), K))
        R /= np.sum(R, axis=1)[:, np.newaxis]
        yield a, b, R


def resp_stats(ct, X, sw, blocks, center, shift=None):
    """Statistics of given responsibility blocks, shifted by ``shift`` (K, d)
    (default: ``center`` for every component; 'tied' always uses ``center``)."""
    total = None
    for a, b, R in blocks:
        K = R.shape[1]
        means = np.broadcast_to(center if shift is None else shift, (K, X.shape[1]))
        # a copy: broadcast_to's view is read-only, and a read-only array is
        # another Numba signature (the kernel compiled a second time, ~4 s)
        means = np.array(means, dtype=np.float64, order="C")
        dummy_U = np.zeros(ct.shape(K, X.shape[1]))
        part = call_kernel(
            ct.kernels_for(X.shape[1]).stats,
            X[a:b],
            sw[a:b] if sw.shape[0] else sw,
            R,
            means,
            dummy_U,
            np.zeros(K),
            center,
            work=(b - a) * ct.row_work(K, X.shape[1]),
        )
        total = part if total is None else total + part
    return total


def label_stats(ct, X, sw, labels, K, center, shift):
    """Statistics of one-hot responsibilities (``labels``), shifted by
    ``shift`` (K, d): each bounded block of rows is gathered in label order
    and each cluster's rows go to the kernel as one component, K times less
    work than ``resp_stats`` on one-hot blocks, in O(block) memory."""
    n, d = X.shape
    if n * ct.row_work(K, d) <= ONE_PASS_MAX_WORK:
        # small data: one pass over one-hot rows costs less than a kernel
        # call per cluster (200 x 2, K = 20: about 6 us a call)
        return resp_stats(ct, X, sw, _one_hot_blocks(labels, K, X.dtype), center, shift)
    rows = max(8 * CHUNK_SIZE, BLOCK_BYTES // (2 * d * X.dtype.itemsize))
    one = np.ones((min(n, rows), 1), dtype=X.dtype)
    # a stable sort's order is unique; NumPy's radix sort on 16-bit keys
    # is 9x faster than its int32 sort (20,000 labels: 315 -> 36 us)
    keys = labels.astype(np.int16) if K <= np.iinfo(np.int16).max else labels
    U1 = np.zeros(ct.shape(1, d))
    const = np.zeros(1)
    # a copy: a broadcast shift ('tied') of one row counts as contiguous and
    # would reach the kernel read-only (a compiled signature of its own)
    means = np.array(shift, dtype=np.float64)
    s2_size = ct.kernels_for(d).S2_SIZE.py_func  # plain arithmetic: no compiled kernel to load
    nS2 = s2_size(1, d)
    shared = s2_size(2, d) == nS2  # one S2 for all components
    N = np.zeros(K)
    S1 = np.zeros((K, d))
    S2 = np.zeros((1 if shared else K, nS2))
    T = np.zeros(3)
    work = ct.row_work(1, d)
    weighted = sw.shape[0] != 0
    for p0 in range(0, n, rows):
        p1 = min(n, p0 + rows)
        order = p0 + np.argsort(keys[p0:p1], kind="stable")
        ends = np.cumsum(np.bincount(labels[p0:p1], minlength=K))
        Xs = X[order]
        sws = sw[order] if weighted else sw
        for k in np.flatnonzero(np.diff(ends, prepend=0)):
            a = ends[k - 1] if k else 0
            b = ends[k]
            part = call_kernel(
                ct.kernels_for(X.shape[1]).stats,
                Xs[a:b],
                sws[a:b] if weighted else sw,
                one[: b - a],
                means[k : k + 1],
                U1,
                const,
                center,
                work=(b - a) * work,
            )
            N[k] += part[0]
            S1[k] += part[1 : 1 + d]
            S2[0 if shared else k] += part[1 + d : -3]
            T += part[-3:]
    return np.concatenate([N, S1.ravel(), S2.ravel(), T])


def uncentred_gram(ct_tied, X, sw, center):
    """X^T W X over all rows (float64), from one centred pass of the tied kernel."""
    n, d = X.shape
    blocks = _one_hot_blocks(np.zeros(n, dtype=np.intp), 1, X.dtype)
    total = resp_stats(ct_tied, X, sw, blocks, center)
    W, s1, G = total[0], total[1 : 1 + d], total[1 + d : 1 + d + d * d].reshape(d, d)
    G = np.triu(G) + np.triu(G, 1).T
    return G + np.outer(s1, center) + np.outer(center, s1) + W * np.outer(center, center)


def initial_stats(ct, init_params, X, sw, n_components, rs, kmeans=None):
    """Statistics of the initial responsibilities and their shift (K, d), or
    for single-point inits ('k-means++', 'random_from_data') the K seed rows
    (float64): ``(total, shift, None)`` or ``(None, None, seeds)``.

    Consumes ``rs`` exactly as sklearn's ``_initialize_parameters``.
    ``kmeans`` replaces :func:`kmeans_labels` (same signature and results, same
    use of ``rs``): ``select_model`` passes a cache so that the k-means of one
    (K, seed) is computed once for every covariance type.
    """
    n, d = X.shape
    K = n_components
    sw_opt = sw if sw.shape[0] else None
    if init_params == "kmeans":
        center = data_center(X, sw)
        labels, centers = (kmeans or kmeans_labels)(X, K, rs, sw_opt, center)
        # shifted by each cluster's centre: no cancellation for far clusters
        shift = stats_shift(ct, center, centers)
        total = label_stats(ct, X, sw, labels, K, center, shift)
        return total, shift, None
    elif init_params == "random":
        center = data_center(X, sw)
        total = resp_stats(ct, X, sw, _random_blocks(rs, n, K, X.dtype, sw_opt), center)
    else:
        # seeds among the rows of positive weight only, so that a row of
        # weight 0 acts as removed (all weights positive: sklearn's draws)
        if init_params == "random_from_data":
            rows = np.arange(n) if sw_opt is None else np.flatnonzero(sw_opt)
            indices = rows[rs.choice(rows.shape[0], size=K, replace=False)]
        else:  # 'k-means++', weighted D^2 sampling (sklearn's kmeans_plusplus)
            indices, _ = kmeans_plusplus(X, K, rs, sw_opt)
        # one point per component: its parameters come from the seed rows
        # themselves (_stats.seed_params), no statistics pass
        return None, None, X[indices].astype(np.float64)
    return total, np.broadcast_to(center, (K, d)), None
