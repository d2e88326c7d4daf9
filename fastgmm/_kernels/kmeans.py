"""Kernels for fastgmm's k-means (sklearn's k-means++ seeding and Lloyd steps).

Rows are centred on the fly as ``X[i] - xmean`` computed in X's dtype (as
sklearn's KMeans centres a copy of X), then squared distances are taken in
float64 and rounded to X's dtype where sklearn keeps them in X's dtype, so the
seeding draws the same candidates. Reductions follow the chunk-order rule.

Every pass takes ``pre``: either the centred rows already in feature-major
blocks, ``(n_blocks, d, PITCH)`` float64 from :func:`centred_blocks` (small
data: k-means++ makes 2 K passes, and transposing each block again would
cost more than the distances), or an empty array (each block is transposed
when used).
"""

import numpy as np
from numba import prange

from .._config import jit, jit_exact, jit_inline, jit_reduce, pjit
from ._common import BLOCK, PITCH, add_into, chunk_group, chunk_rows, n_chunks, row_weight
from .mstep import pairwise_sum


@jit
def _sqdist(X, i, xmean, c):
    s = 0.0
    for j in range(X.shape[1]):
        t = np.float64(X[i, j] - xmean[j]) - c[j]
        s += t * t
    return s


@jit
def _load_centred(X, xmean, i0, nb, Xt):
    """Xt[:, :nb] = (X[i0:i0+nb] - xmean).T, the difference in X's dtype."""
    d = X.shape[1]
    for b in range(nb):
        for j in range(d):
            Xt[j, b] = np.float64(X[i0 + b, j] - xmean[j])


def centred_blocks(X, xmean):
    """``pre`` for the kernels: block b holds (X[b*BLOCK:(b+1)*BLOCK] - xmean).T,
    the difference taken in X's dtype as :func:`_load_centred` does."""
    n, d = X.shape
    full, rest = divmod(n, BLOCK)
    pre = np.zeros((full + (rest > 0), d, PITCH))
    head = X[: full * BLOCK] - xmean
    pre[:full, :, :BLOCK] = head.reshape(full, BLOCK, d).transpose(0, 2, 1)
    if rest:
        pre[full, :, :rest] = (X[full * BLOCK :] - xmean).T
    return pre


def no_blocks():
    return np.empty((0, 0, 0))


@jit_inline
def _block(X, xmean, pre, i0, nb, Xt):
    """The centred feature-major block of rows i0:i0+nb (i0 is a multiple
    of BLOCK: chunks are whole blocks)."""
    if pre.shape[0] != 0:
        return pre[i0 // BLOCK]
    _load_centred(X, xmean, i0, nb, Xt)
    return Xt


@jit
def _block_sqdist(Xt, nb, c, single, out):
    """out[:nb] = |Xt[:, b] - c|^2: the same operations, in the same order,
    as :func:`_sqdist`, with rows innermost so that the loops vectorise
    (four features per sweep: a quarter of the loads and stores of out)."""
    d = Xt.shape[0]
    o = out[:nb]
    for b in range(nb):
        o[b] = 0.0
    j = 0
    while j + 4 <= d:
        c0 = c[j]
        c1 = c[j + 1]
        c2 = c[j + 2]
        c3 = c[j + 3]
        x0 = Xt[j, :nb]
        x1 = Xt[j + 1, :nb]
        x2 = Xt[j + 2, :nb]
        x3 = Xt[j + 3, :nb]
        for b in range(nb):
            t0 = x0[b] - c0
            t1 = x1[b] - c1
            t2 = x2[b] - c2
            t3 = x3[b] - c3
            o[b] = o[b] + t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
        j += 4
    while j < d:
        cj = c[j]
        xt = Xt[j, :nb]
        for b in range(nb):
            t = xt[b] - cj
            o[b] += t * t
        j += 1
    if single:
        for b in range(nb):
            o[b] = np.float64(np.float32(o[b]))


@pjit
def centered_sq_sums(X, sw, mean):
    """Column sums of w (X - mean)^2, then of w (X - mean), in float64
    (chunk-ordered); ``sw`` empty: w = 1."""
    n, d = X.shape
    weighted = sw.shape[0] != 0
    nch = n_chunks(n)
    part = np.zeros((nch, 2 * d))
    for c in prange(nch):
        lo, hi = chunk_rows(c, n)
        for i in range(lo, hi):
            w = sw[i] if weighted else 1.0
            if w == 0.0:  # removed: 0 * (a far row's square, inf) would be NaN
                continue
            for j in range(d):
                t = X[i, j] - mean[j]
                part[c, j] += w * (t * t)
                part[c, d + j] += w * t
    total = np.zeros(2 * d)
    for c in range(nch):
        add_into(total, part[c])
    return total


@jit
def _min_chunk(X, xmean, pre, c, closest, first, single, ch):
    n, d = X.shape
    lo, hi = chunk_rows(ch, n)
    Xt = np.empty((d, PITCH))
    v = np.empty(BLOCK)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        Xb = _block(X, xmean, pre, i0, nb, Xt)
        _block_sqdist(Xb, nb, c, single, v)
        for b in range(nb):
            if first or v[b] < closest[i0 + b]:
                closest[i0 + b] = v[b]


@pjit(inline_serial=("_min_chunk",))
def min_sqdist(X, xmean, pre, c, closest, first, single):
    """closest[i] = min(closest[i], |X[i] - xmean - c|^2) (or = when first)."""
    for ch in prange(n_chunks(X.shape[0])):
        _min_chunk(X, xmean, pre, c, closest, first, single, ch)


@jit_reduce
def _weighted_min_sum(sw, i0, nb, v, closest):
    """sum_b w_b min(closest[i0 + b], v[b]) (vectorised; sklearn sums these
    with a BLAS product, in no particular order either)."""
    s = 0.0
    c = closest[i0 : i0 + nb]
    if sw.shape[0] == 0:
        for b in range(nb):
            s += min(np.float64(c[b]), v[b])
    else:
        w = sw[i0 : i0 + nb]
        for b in range(nb):
            t = w[b] * min(np.float64(c[b]), v[b])
            s += t if w[b] != 0.0 else 0.0  # a row of weight 0 at distance inf: 0
    return s


@jit
def _pots_chunk(X, sw, xmean, pre, cands, closest, single, ch, part):
    """part[t] = this chunk's sum_i w_i min(closest_i, |X[i] - xmean - cands[t]|^2)."""
    n, d = X.shape
    lo, hi = chunk_rows(ch, n)
    Xt = np.empty((d, PITCH))
    v = np.empty(BLOCK)
    for t in range(cands.shape[0]):
        part[t] = 0.0
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        Xb = _block(X, xmean, pre, i0, nb, Xt)
        for t in range(cands.shape[0]):
            _block_sqdist(Xb, nb, cands[t], single, v)
            part[t] += _weighted_min_sum(sw, i0, nb, v, closest)


@pjit(inline_serial=("_pots_chunk",))
def candidate_pots(X, sw, xmean, pre, cands, closest, single):
    """pot[t] = sum_i w_i min(closest_i, |X[i] - xmean - cands[t]|^2)."""
    nch = n_chunks(X.shape[0])
    part = np.empty((nch, cands.shape[0]))
    for ch in prange(nch):
        _pots_chunk(X, sw, xmean, pre, cands, closest, single, ch, part[ch])
    total = np.zeros(cands.shape[0])
    for ch in range(nch):
        add_into(total, part[ch])
    return total


@jit_reduce
def closest_pot(closest):
    """sum_i closest_i in float64 (unweighted k-means++'s potential)."""
    s = 0.0
    for i in range(closest.shape[0]):
        s += np.float64(closest[i])
    return s


@jit
def _argmin(v):
    """First index of the smallest value (np.argmin for NaN-free v), serial:
    np.argmin in a parallel driver becomes a parallel reduction."""
    best = 0
    for i in range(1, v.shape[0]):
        if v[i] < v[best]:
            best = i
    return best


@pjit(inline_serial=("_min_chunk", "_pots_chunk"))
def plusplus_steps(X, xmean, pre, draws, single, closest, indices, centers):
    """Seeds 1..K-1 of unweighted k-means++, each step as in
    ``_initialization.kmeans_plusplus``'s loop (sampling by the cumulative
    sum, candidate potentials, the best candidate's distances), in one call.
    ``draws`` (K-1, trials) are the uniforms the loop would draw step by
    step; ``closest``, ``indices[0]`` and ``centers[0]`` hold the first seed."""
    n, d = X.shape
    K = centers.shape[0]
    trials = draws.shape[1]
    nch = n_chunks(n)
    part = np.empty((nch, trials))
    pots = np.empty(trials)
    vals = np.empty(trials)
    ids = np.empty(trials, dtype=np.int64)
    cands = np.empty((trials, d))
    no_w = np.empty(0)
    pot = closest_pot(closest)
    for c in range(1, K):
        for t in range(trials):
            vals[t] = draws[c - 1, t] * pot
        cumsum_search(closest, no_w, vals, ids)
        for t in range(trials):
            for j in range(d):
                cands[t, j] = np.float64(X[ids[t], j] - xmean[j])
        for ch in prange(nch):
            _pots_chunk(X, no_w, xmean, pre, cands, closest, single, ch, part[ch])
        for t in range(trials):
            pots[t] = 0.0
        for ch in range(nch):
            add_into(pots, part[ch])
        best = _argmin(pots)
        for ch in prange(nch):
            _min_chunk(X, xmean, pre, cands[best], closest, False, single, ch)
        pot = closest_pot(closest)
        indices[c] = ids[best]
        for j in range(d):
            centers[c, j] = cands[best, j]


@jit
def _lloyd_chunk(X, sw, xmean, pre, centers, labels, lo, hi, update, out):
    K, d = centers.shape
    for j in range(out.shape[0]):
        out[j] = 0.0
    Xt = np.empty((d, PITCH))
    dist = np.empty(BLOCK)
    best_d = np.empty(BLOCK)
    best = np.empty(BLOCK, dtype=np.int64)
    for i0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - i0)
        Xb = _block(X, xmean, pre, i0, nb, Xt)
        _block_sqdist(Xb, nb, centers[0], np.bool_(False), best_d)
        for b in range(nb):
            best[b] = 0
        for k in range(1, K):
            _block_sqdist(Xb, nb, centers[k], np.bool_(False), dist)
            for b in range(nb):
                closer = dist[b] < best_d[b]
                best_d[b] = dist[b] if closer else best_d[b]
                best[b] = k if closer else best[b]
        for b in range(nb):
            i = i0 + b
            kb = best[b]
            if labels[i] != kb:
                out[K * d + K] += 1.0
                labels[i] = kb
            w = row_weight(sw, i)
            if update and w != 0.0:  # 0 * a far row's inf would be NaN
                out[K * d + kb] += w
                for j in range(d):
                    out[kb * d + j] += w * Xb[j, b]


@pjit(inline_serial=("_lloyd_chunk",))
def lloyd_step(X, sw, xmean, pre, centers, labels, update):
    """Assign labels (in place) and, with ``update``, return the flat vector
    [weighted sums (K*d), weights (K), number of labels changed]."""
    n = X.shape[0]
    K, d = centers.shape
    width = K * d + K + 1
    nch = n_chunks(n)
    group = chunk_group(nch, width)
    total = np.zeros(width)
    part = np.empty((group, width))
    for g0 in range(0, nch, group):
        g = min(group, nch - g0)
        for c in prange(g):
            lo, hi = chunk_rows(g0 + c, n)
            _lloyd_chunk(X, sw, xmean, pre, centers, labels, lo, hi, update, part[c])
        for c in range(g):
            add_into(total, part[c])
    return total


#: the serial twin, as a global that compiled code can call
_lloyd_step_serial = lloyd_step.serial

#: lloyd_run's outcomes
LLOYD_STRICT, LLOYD_TOL, LLOYD_MAX_ITER, LLOYD_EMPTY = 0, 1, 2, 3


@jit_exact
def lloyd_run(X, sw, xmean, pre, centers, labels, tol, max_iter):
    """Up to ``max_iter`` Lloyd steps of ``kmeans_labels`` in one call
    (serial: for data whose steps would not wake the threads, where the
    Python between two steps cost more than a step). Each step is the
    serial ``lloyd_step``, then the centres sums_k * (1 / w_k) and the shift
    sum((new - old)^2) in NumPy's order, so that every step rounds as the
    Python loop's; it stops on no label changed (``LLOYD_STRICT``), shift
    <= tol (``LLOYD_TOL``) or ``max_iter`` steps (``LLOYD_MAX_ITER``).
    A step that leaves a cluster empty returns at once (``LLOYD_EMPTY``)
    with its sums and the centres it started from, for the caller to
    relocate (scikit-learn's ``argpartition`` ties) and go on.

    Returns (outcome, steps done, centres, the last step's sums)."""
    K, d = centers.shape
    c = centers.copy()
    total = np.zeros(K * d + K + 1)
    sq = np.empty(K * d)
    for it in range(max_iter):
        total = _lloyd_step_serial(X, sw, xmean, pre, c, labels, np.bool_(True))
        for k in range(K):
            if total[K * d + k] == 0.0:
                return LLOYD_EMPTY, it, c, total
        new = np.empty((K, d))
        for k in range(K):
            inv = 1.0 / total[K * d + k]
            for j in range(d):
                v = total[k * d + j] * inv
                t = v - c[k, j]
                sq[k * d + j] = t * t
                new[k, j] = v
        shift = pairwise_sum(sq)
        c = new
        if total[K * d + K] == 0.0:
            return LLOYD_STRICT, it + 1, c, total
        if shift <= tol:
            return LLOYD_TOL, it + 1, c, total
    return LLOYD_MAX_ITER, max_iter, c, total


@pjit
def assigned_sqdist(X, xmean, centers, labels, out):
    """out[i] = |X[i] - xmean - centers[labels[i]]|^2 (rounded to out's dtype)."""
    n = X.shape[0]
    for ch in prange(n_chunks(n)):
        lo, hi = chunk_rows(ch, n)
        for i in range(lo, hi):
            out[i] = _sqdist(X, i, xmean, centers[labels[i]])


@jit
def uniform_choice(n, p, u):
    """``rs.choice(n, p=[p] * n)`` given its one draw ``u``: numpy takes
    cdf = cumsum(p) (sequential, float64), cdf /= cdf[-1], and the first
    index with cdf > u. Same arithmetic, no n-vector."""
    total = 0.0
    for i in range(n):
        total += p
    c = 0.0
    for i in range(n):
        c += p
        if c / total > u:
            return i
    return n - 1


@jit
def _order(values):
    """Indices that sort the few ``values`` (n_local_trials of them), by
    insertion: ``np.argsort`` compiles Numba's quicksort (about 1 s)."""
    order = np.arange(values.shape[0])
    for i in range(1, order.shape[0]):
        o = order[i]
        j = i
        while j > 0 and values[order[j - 1]] > values[o]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = o
    return order


@jit
def cumsum_search(closest, sw, values, out):
    """``np.searchsorted(np.cumsum(w * closest), values)`` (side='left'),
    clipped to n - 1, without the n-vectors: the cumulative sum runs in
    ``closest``'s dtype, sequentially, as numpy's. ``sw`` empty means w = 1.
    The sum never decreases (w, closest >= 0), so the values are found in
    increasing order in one pass that stops at the last of them. Rows of
    weight 0 are never found, as if removed (a potential of 0 would find the
    first row, a value beyond the total the last one)."""
    n = closest.shape[0]
    T = values.shape[0]
    order = _order(values)
    j = 0
    last = n - 1
    acc = np.zeros(1, closest.dtype)[0]  # (closest[0] * 0 would be float64)
    for i in range(n):
        if j == T:
            break
        if sw.shape[0] == 0:
            acc += closest[i]
        elif sw[i] != 0:
            acc += sw[i] * closest[i]
        else:
            continue
        last = i
        a = np.float64(acc)
        while j < T and a >= values[order[j]]:
            out[order[j]] = i
            j += 1
    while j < T:  # beyond the total: clipped to the last row (of weight > 0)
        out[order[j]] = last
        j += 1
