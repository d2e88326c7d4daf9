"""Every Numba kernel against its plain-NumPy twin in tests/naive.py."""

import numpy as np
import pytest

from fastgmm._config import CHUNK_SIZE
from fastgmm._covariance import COVARIANCE_TYPES
from fastgmm._kernels import kmeans as kk
from fastgmm._kernels._common import split_stats
from fastgmm._stats import kernel_args, Params

from . import naive
from .conftest import COV_TYPES, DTYPES, random_params

N_ROWS = 2 * CHUNK_SIZE + 123  # crosses chunk boundaries, ragged last chunk


def _data(rng, n, d, dtype, means=None):
    X = rng.normal(size=(n, d)) * 2
    if means is not None:
        X += means[rng.integers(0, len(means), size=n)]
    return np.ascontiguousarray(X.astype(dtype))


def _tol(dtype):
    return dict(rtol=1e-9, atol=1e-9)


#: feature counts that reach every code path: d = 1, the d = 2 special case,
#: tile remainders (scatter tiles are 2 x 4, triangular tiles 1 x 4 below 16
#: features and 4 x 4 from 16), and the tiled path with a ragged last tile
DIMS = [1, 2, 4, 7, 17]


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("d", DIMS)
def test_estep_stats_matches_naive(rng, cov_type, dtype, weighted, d):
    K = 3
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    X = _data(rng, N_ROWS, d, dtype, means)
    sw = rng.uniform(0, 3, size=N_ROWS) if weighted else None
    ct = COVARIANCE_TYPES[cov_type]
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    got = ct.kernels.stats(
        X, np.empty(0) if sw is None else sw, np.empty((0, 0), X.dtype), m, Uk, const, center
    )
    want = naive.stats(X, sw, None, weights, means, U, center, cov_type)
    np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # the twins' log(0)
@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
@pytest.mark.parametrize("d", DIMS + [20])
def test_paired_components_and_float32_rows(rng, cov_type, d):
    """diag handles components two at a time, single where a neighbour has
    no responsibility. K = 6 with components 1 and 4 weightless (all-zero
    responsibilities) gives a single, a skip, a pair, a skip and a single.
    Statistics and scores against the NumPy twins; float32 rows are widened
    (exactly) as they are loaded into the float64 block, so float32 data
    give bitwise the results of their float64 copy."""
    K = 6
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    weights[[1, 4]] = 0.0
    weights /= weights.sum()
    ct = COVARIANCE_TYPES[cov_type]
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    X32 = _data(rng, N_ROWS, d, np.float32, means)
    results = []
    for X in (X32, X32.astype(np.float64)):
        got = ct.kernels.stats(X, np.empty(0), np.empty((0, 0), X.dtype), m, Uk, const, center)
        want = naive.stats(X, None, None, weights, means, U, center, cov_type)
        np.testing.assert_allclose(got, want, **_tol(X.dtype))
        N = split_stats(got, K, d)[0]
        assert N[1] == N[4] == 0.0
        lpn, resp = np.empty(N_ROWS), np.empty((N_ROWS, K))
        ct.kernels.score_rows(X, m, Uk, const, center, lpn, resp, np.empty(0, np.int64))
        want_lpn, want_resp, _ = naive.score_rows(X, weights, means, U, cov_type)
        np.testing.assert_allclose(lpn, want_lpn, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(resp, want_resp, rtol=1e-9, atol=1e-12)
        results.append((got, lpn, resp))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_given_resp_stats_matches_naive(rng, cov_type, dtype):
    K, d = 4, 3
    X = _data(rng, N_ROWS, d, dtype)
    R = rng.dirichlet(np.ones(K), size=N_ROWS).astype(dtype)
    sw = rng.uniform(0, 2, size=N_ROWS)
    center = X.mean(axis=0).astype(np.float64)
    means = np.ascontiguousarray(np.broadcast_to(center, (K, d)))
    ct = COVARIANCE_TYPES[cov_type]
    got = ct.kernels.stats(X, sw, R, means, np.zeros(ct.shape(K, d)), np.zeros(K), center)
    want = naive.stats(X, sw, R, None, means, None, center, cov_type)
    np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", DIMS)
def test_score_rows_matches_naive(rng, cov_type, dtype, d):
    K = 5
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    X = _data(rng, N_ROWS, d, dtype, means)
    ct = COVARIANCE_TYPES[cov_type]
    kargs = kernel_args(ct, Params(weights, means, covs, U))
    _assert_scores_match_naive(ct.kernels.score_rows, ct.kernels.score_rows, X, kargs,
                               (weights, means, U), cov_type)


def _assert_scores_match_naive(score_rows, again, X, kargs, params, cov_type):
    """``score_rows(X, *kargs, ...)`` against the NumPy twin for ``params``
    (weights, means, U); then ``again`` (the same kernel or another path of
    it) with the optional outputs skipped gives the same log-likelihoods."""
    n, K = X.shape[0], kargs[0].shape[0]
    lpn, resp, labels = np.empty(n), np.empty((n, K)), np.empty(n, dtype=np.int64)
    score_rows(X, *kargs, lpn, resp, labels)
    want_lpn, want_resp, want_labels = naive.score_rows(X, *params, cov_type)
    np.testing.assert_allclose(lpn, want_lpn, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(resp, want_resp, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(labels, want_labels)
    lpn2 = np.empty(n)
    again(X, *kargs, lpn2, np.empty((0, 0)), np.empty(0, np.int64))
    np.testing.assert_array_equal(lpn2, lpn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("given", [False, True], ids=["estep", "given-resp"])
def test_full_by_component_matches_naive(rng, dtype, weighted, given):
    """Few rows of many large components: the full kernels run in parallel
    over components (``full._by_component``); same statistics and scores,
    bitwise equal for any thread count."""
    from fastgmm import num_threads
    from fastgmm._kernels import full

    n, K, d = 3 * 256 + 37, 18, 17
    assert full._by_component(n, K, d)
    weights, means, covs, U = random_params(rng, K, d, "full")
    X = _data(rng, n, d, dtype, means)
    sw = rng.uniform(0, 3, size=n) if weighted else None
    ct = COVARIANCE_TYPES["full"]
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    R = rng.dirichlet(np.ones(K), size=n).astype(dtype) if given else np.empty((0, 0), dtype)
    args = (X, np.empty(0) if sw is None else sw, R, m, Uk, const, center)
    got = ct.kernels.stats(*args)
    want = naive.stats(X, sw, R if given else None, weights, means, U, center, "full")
    np.testing.assert_allclose(got, want, **_tol(dtype))
    with num_threads(1):
        np.testing.assert_array_equal(ct.kernels.stats(*args), got)
    np.testing.assert_array_equal(ct.kernels.stats.serial(*args), got)

    lpn, resp, labels = np.empty(n), np.empty((n, K)), np.empty(n, dtype=np.int64)
    ct.kernels.score_rows(X, m, Uk, const, center, lpn, resp, labels)
    want_lpn, want_resp, want_labels = naive.score_rows(X, weights, means, U, "full")
    np.testing.assert_allclose(lpn, want_lpn, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(resp, want_resp, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(labels, want_labels)
    lpn1 = np.empty(n)
    with num_threads(1):
        ct.kernels.score_rows(X, m, Uk, const, center, lpn1, np.empty((0, 0)), np.empty(0, np.int64))
    np.testing.assert_array_equal(lpn1, lpn)


#: the ends of the unrolled range, and d = 7 and 10: scatter sweeps that end
#: inside S1 and inside S2 (groups of 20 sums)
UNROLLED_DIMS = [3, 7, 10, 16]

#: the drivers are the same cloned code for every d (the generated per-row
#: functions, tested alone for every UNROLLED_DIMS, are what differs), and
#: compiling them is the cost of the test below (cold, AMD machine: d = 3, 7,
#: 10, 16 took 8, 52, 46, 70 s)
UNROLLED_DRIVER_DIMS = [3, 10]


@pytest.mark.parametrize("d", UNROLLED_DRIVER_DIMS)
def test_full_unrolled_kernels_match_naive(rng, d):
    """The full kernels generated for a fixed d (``full_small``) against the
    NumPy twins: statistics (weighted, float32) and scores, serial and
    parallel drivers, by chunks of rows (below 16 features the clones have no
    by-component passes: the test below)."""
    from fastgmm._kernels import full_small

    ct = COVARIANCE_TYPES["full"]
    kernels = ct.kernels_for(d)
    assert kernels is full_small.kernels_for(d) and kernels.n_features == d
    for n, K, dtype, weighted in ((N_ROWS, 3, np.float64, True), (700, 17, np.float32, False)):
        weights, means, covs, U = random_params(rng, K, d, "full")
        X = _data(rng, n, d, dtype, means)
        sw = rng.uniform(0, 3, size=n) if weighted else None
        m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
        args = (X, np.empty(0) if sw is None else sw, np.empty((0, 0), dtype), m, Uk, const, center)
        got = kernels.stats(*args)
        want = naive.stats(X, sw, None, weights, means, U, center, "full")
        np.testing.assert_allclose(got, want, **_tol(dtype))
        np.testing.assert_array_equal(kernels.stats.serial(*args), got)
        lpn, resp = np.empty(n), np.empty((n, K))
        kernels.score_rows(X, m, Uk, const, center, lpn, resp, np.empty(0, np.int64))
        want_lpn, want_resp, _ = naive.score_rows(X, weights, means, U, "full")
        np.testing.assert_allclose(lpn, want_lpn, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(resp, want_resp, rtol=1e-9, atol=1e-12)


def test_full_unrolled_by_component_matches_naive(rng):
    """The one unrolled clone with by-component passes (16 features; see
    ``full._FEATURES``), few rows of many components, parallel drivers only
    (the serial twins compile the generated code again): statistics and
    scores against the NumPy twins. A clone below 16 features compiles
    without them."""
    from fastgmm._kernels import full

    n, K, d = 700, 17, full.BY_COMPONENT_MIN_D
    assert full._by_component(n, K, d) and not full._by_component(n, K, d - 1)
    ct = COVARIANCE_TYPES["full"]
    kernels = ct.kernels_for(d)
    weights, means, covs, U = random_params(rng, K, d, "full")
    X = _data(rng, n, d, np.float32, means)
    sw = rng.uniform(0, 3, size=n)
    kargs = kernel_args(ct, Params(weights, means, covs, U))
    got = kernels.stats(X, sw, np.empty((0, 0), X.dtype), *kargs)
    want = naive.stats(X, sw, None, weights, means, U, kargs[3], "full")
    np.testing.assert_allclose(got, want, **_tol(X.dtype))
    _assert_scores_match_naive(kernels.score_rows, kernels.score_rows, X, kargs,
                               (weights, means, U), "full")


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_kernels_on_one_feature_are_diags(rng, dtype):
    """d = 1 runs diag's kernels on the (K, 1, 1) factors (``full_1d``):
    the statistics and scores of the generic full kernels and of the NumPy
    twins, serial and parallel, weighted, initialisation's given
    responsibilities too."""
    from fastgmm._kernels import diag, full, full_1d

    ct = COVARIANCE_TYPES["full"]
    kernels = ct.kernels_for(1)
    assert kernels is full_1d.KERNELS and kernels.stats.kernel is diag.stats
    K, n = 5, N_ROWS
    weights, means, covs, U = random_params(rng, K, 1, "full")
    assert U.shape == (K, 1, 1)
    X = _data(rng, n, 1, dtype, means)
    sw = rng.uniform(0, 3, size=n)
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    R = rng.dirichlet(np.ones(K), size=n).astype(dtype)
    for resp_in in (np.empty((0, 0), dtype), R):
        args = (X, sw, resp_in, m, Uk, const, center)
        got = kernels.stats(*args)
        np.testing.assert_array_equal(kernels.stats.serial(*args), got)
        np.testing.assert_allclose(got, full.stats(*args), rtol=1e-12, atol=1e-12)
        want = naive.stats(X, sw, resp_in if resp_in.size else None, weights, means, U, center,
                           "full")
        np.testing.assert_allclose(got, want, **_tol(dtype))
    lpn, resp, labels = np.empty(n), np.empty((n, K)), np.empty(n, np.int64)
    kernels.score_rows(X, m, Uk, const, center, lpn, resp, labels)
    want_lpn, want_resp, want_labels = naive.score_rows(X, weights, means, U, "full")
    np.testing.assert_allclose(lpn, want_lpn, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(resp, want_resp, rtol=1e-9, atol=1e-12)
    assert np.mean(labels == want_labels) > 0.999


def test_kernels_for_each_number_of_features():
    from fastgmm._kernels import full, full_small, tied, tied_small

    ct = COVARIANCE_TYPES["full"]
    assert ct.kernels_for(17) is full and ct.kernels_for(2) is full_small._build(2)
    tied_ct = COVARIANCE_TYPES["tied"]
    assert tied_ct.kernels_for(12) is tied
    assert tied_ct.kernels_for(1) is tied_ct.kernels_for(11) is tied_small._build()
    assert COVARIANCE_TYPES["diag"].kernels_for(10) is COVARIANCE_TYPES["diag"].kernels


#: the kernels the covariance table picks that are not its generic module
#: (besides full's unrolled 3..16): full on 2 features, tied below 12, and
#: either side of tied's switch
SPECIALISED = [("full", 2), ("tied", 1), ("tied", 2), ("tied", 11), ("tied", 12)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type, d", SPECIALISED)
def test_specialised_kernels_match_naive(rng, cov_type, d, dtype):
    """``kernels_for(d)`` against the NumPy twins: weighted E-step statistics,
    statistics from given responsibilities, scores, and the serial twins
    bitwise equal to the parallel drivers."""
    K = 4
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    X = _data(rng, N_ROWS, d, dtype, means)
    sw = rng.uniform(0, 3, size=N_ROWS)
    ct = COVARIANCE_TYPES[cov_type]
    kernels = ct.kernels_for(d)
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    args = (X, sw, np.empty((0, 0), X.dtype), m, Uk, const, center)
    got = kernels.stats(*args)
    np.testing.assert_allclose(got, naive.stats(X, sw, None, weights, means, U, center, cov_type),
                               **_tol(dtype))
    np.testing.assert_array_equal(kernels.stats.serial(*args), got)
    R = rng.dirichlet(np.ones(K), size=N_ROWS).astype(dtype)
    got = kernels.stats(X, sw, R, m, Uk, const, center)
    np.testing.assert_allclose(got, naive.stats(X, sw, R, None, means, None, center, cov_type),
                               **_tol(dtype))
    _assert_scores_match_naive(kernels.score_rows, kernels.score_rows.serial, X,
                               (m, Uk, const, center), (weights, means, U), cov_type)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_mstep_from_stats_matches_sklearn_formulas(rng, cov_type):
    from fastgmm._stats import mstep

    K, d = 3, 4
    X = _data(rng, 3000, d, np.float64)
    R = rng.dirichlet(np.ones(K), size=3000)
    center = X.mean(axis=0)
    shift = np.broadcast_to(center, (K, d))
    ct = COVARIANCE_TYPES[cov_type]
    total = naive.stats(X, None, R, None, np.ascontiguousarray(shift), None, center, cov_type)
    got = mstep(ct, total, shift, 1e-6, np.float64)
    w, mu, cov = naive.sklearn_mstep(X, R, 1e-6, cov_type)
    np.testing.assert_allclose(got.weights, w, rtol=1e-12)
    np.testing.assert_allclose(got.means, mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.covariances, cov, rtol=1e-9, atol=1e-12)


def test_empty_and_unreachable_components_stay_finite(rng):
    """Zero weight -> -inf log-prob for that component, zero responsibility."""
    K, d = 3, 2
    weights, means, covs, U = random_params(rng, K, d, "full")
    weights = np.array([0.5, 0.5, 0.0])
    X = _data(rng, 500, d, np.float64, means)
    ct = COVARIANCE_TYPES["full"]
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    got = ct.kernels.stats(X, np.empty(0), np.empty((0, 0)), m, Uk, const, center)
    assert np.all(np.isfinite(got))
    assert got[2] == 0.0  # N of the weightless component
    assert got[-1] == 0.0  # no non-finite rows


def test_nonfinite_rows_are_counted_not_propagated(rng):
    K, d = 2, 2
    weights, means, covs, U = random_params(rng, K, d, "diag")
    X = _data(rng, 100, d, np.float64)
    ct = COVARIANCE_TYPES["diag"]
    m, Uk, _, center = kernel_args(ct, Params(weights, means, covs, U))
    const = np.full(K, -np.inf)
    got = ct.kernels.stats(X, np.empty(0), np.empty((0, 0)), m, Uk, const, center)
    N_S1_S2 = got[:-3]
    assert np.all(N_S1_S2 == 0.0)
    assert got[-3] == -np.inf and got[-1] == 100.0


@pytest.mark.parametrize("d", [2, 10, 17], ids=["d2", "unrolled-d10", "d17"])
def test_rows_beyond_float_range_add_nothing(rng, d):
    """A row far outside every component (|x - m| ~ 1e200: its squared
    deviation overflows) gets zero responsibility and must not turn the
    other rows' statistics into NaN; it is counted as non-finite. Mixed
    blocks also take the per-row log path of ``block_resp``."""
    K, n = 4, 3000
    ct = COVARIANCE_TYPES["full"]
    weights, means, covs, U = random_params(rng, K, d, "full")
    X = _data(rng, n, d, np.float64, means)
    bad = [5, 700, 2999]
    X[bad] = 1e200
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    got = ct.kernels_for(d).stats(X, np.empty(0), np.empty((0, 0)), m, Uk, const, center)
    keep = np.setdiff1d(np.arange(n), bad)
    want = naive.stats(X[keep], None, None, weights, means, U, center, "full")
    np.testing.assert_allclose(got[:-3], want[:-3], rtol=1e-9, atol=1e-9)
    assert got[-1] == len(bad)


@pytest.mark.parametrize("e", [1, 2, 3, 5, 8, 11, 12, 13, 14, 15, 16, 17, 41, 50])
def test_scatter_upper_matches_numpy(rng, e):
    """Both tilings (2 x 4 below SCATTER_TILE4_MIN rows, 4 x 4 from it) and
    ragged last tiles: the upper triangle of W A^T added at base, row stride
    ``stride``; nothing written outside the rows' upper triangles but the
    diagonal tiles' few entries below the diagonal."""
    from fastgmm._kernels._common import PITCH, scatter_upper

    nb, base, stride = 197, 3, e + 2
    A = np.zeros((e, PITCH))
    W = np.zeros((e, PITCH))
    A[:, :nb] = rng.normal(size=(e, nb))
    W[:, :nb] = rng.normal(size=(e, nb))
    S = np.full(base + e * stride + 5, 0.5)
    scatter_upper(A, W, nb, S, base, stride)
    want = W[:, :nb] @ A[:, :nb].T
    got = S[base : base + e * stride].reshape(e, stride)
    upper = np.triu(np.ones((e, e), dtype=bool))
    np.testing.assert_allclose(got[:, :e][upper], 0.5 + want[upper], rtol=1e-12, atol=1e-12)
    assert np.all(got[:, e:] == 0.5) and np.all(S[:base] == 0.5)
    assert np.all(S[base + e * stride :] == 0.5)
    far_below = np.tril(np.ones((e, e), dtype=bool), -4)
    assert np.all(got[:, :e][far_below] == 0.5)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 15, 16, 17, 18, 19, 20, 50])
def test_triangular_rows_matches_numpy(rng, d):
    """(Z U)^T for upper-triangular U: one output row at a time below 16
    features, 4 x 4 tiles from 16 (ragged last tiles write their missing
    rows to the scratch, never past Vt's d rows)."""
    from fastgmm._kernels._common import PITCH, triangular_rows

    nb = 197
    U = np.triu(rng.normal(size=(d, d)))
    Zt = np.zeros((d, PITCH))
    Zt[:, :nb] = rng.normal(size=(d, nb))
    Vt = np.full((d + 1, PITCH), 0.5)
    Y = np.empty((4, PITCH))
    triangular_rows(U, Zt, nb, Vt[:d], Y)
    np.testing.assert_allclose(Vt[:d, :nb], (Zt[:, :nb].T @ U).T, rtol=1e-12, atol=1e-12)
    assert np.all(Vt[:d, nb:] == 0.5) and np.all(Vt[d] == 0.5)


def test_block_diff_weighted(rng):
    from fastgmm._kernels._common import PITCH, block_diff_weighted

    d, nb = 7, 131
    Xt = np.zeros((d, PITCH))
    Xt[:, :nb] = rng.normal(size=(d, nb))
    mean, r = rng.normal(size=d), rng.uniform(size=PITCH)
    Dt, Wt = np.zeros((d, PITCH)), np.zeros((d, PITCH))
    S1 = np.ones(d + 4)
    block_diff_weighted(Xt, nb, mean, r, Dt, Wt, S1, 2)
    Z = Xt[:, :nb] - mean[:, None]
    np.testing.assert_array_equal(Dt[:, :nb], Z)
    np.testing.assert_array_equal(Wt[:, :nb], r[:nb] * Z)
    np.testing.assert_allclose(S1[2 : 2 + d], 1.0 + (r[:nb] * Z).sum(axis=1), rtol=1e-13)
    assert np.all(S1[:2] == 1.0) and np.all(S1[2 + d :] == 1.0)


def test_rows_bounded_and_block_diff_t(rng):
    from fastgmm._kernels._common import PITCH, block_diff_t, rows_bounded

    d, nb = 5, 100
    Xt = np.zeros((d, PITCH))
    Xt[:, :nb] = rng.normal(size=(d, nb))
    cases = [Xt]
    for value in (2.0**509, -(2.0**509), np.nextafter(2.0**509, np.inf), 1e200, -1e300, np.nan):
        big = Xt.copy()
        big[3, nb - 1] = value
        cases.append(big)
    tail = Xt.copy()
    tail[0, nb] = 1e300  # beyond the block's rows: not looked at
    cases.append(tail)
    for X_ in cases:
        assert rows_bounded(X_, nb) == naive.rows_bounded(X_, nb)
    assert rows_bounded(tail, nb)
    center = rng.normal(size=d)
    Xs = np.full((d, PITCH), 7.0)
    block_diff_t(Xt, nb, center, Xs)
    np.testing.assert_array_equal(Xs[:, :nb], Xt[:, :nb] - center[:, None])
    assert np.all(Xs[:, nb:] == 7.0)
    inplace = Xt.copy()
    block_diff_t(inplace, nb, center, inplace)
    want = np.where(np.arange(PITCH) < nb, Xt - center[:, None], Xt)
    np.testing.assert_array_equal(inplace, want)


def test_full_prepare_near_center(rng):
    """Which components the unrolled scatter sums around the shared centre:
    the NumPy twin's choice, on random models and the edge cases (zero
    shift with an all-zero U, as the initial statistics pass; a zero or
    NaN diagonal; shifts beyond 2^510; a distance at the limit)."""
    from fastgmm._kernels import full, full_small

    d, K = 4, 6
    prepare = full_small._build(d).prepare
    weights, means, covs, U = random_params(rng, K, d, "full")
    center = rng.normal(size=d)
    means = means * rng.uniform(0, 60, size=(K, 1))
    cases = [(means, U, center), (np.broadcast_to(center, (K, d)).copy(), np.zeros_like(U), center)]
    cases.append((means, np.zeros_like(U), center))
    odd_U = U.copy()
    odd_U[1, 2, 2] = 0.0
    odd_U[2, 0, 0] = np.nan
    cases.append((means, odd_U, center))
    far = means.copy()
    far[3, 1] = 2.0**510
    far[4, 0] = np.nan
    cases.append((far, U, center))
    cases.append((means, U, np.where(np.arange(d) == 2, 2.0**510, center)))
    for m, U_, c in cases:
        delta, near = prepare(m, U_, np.zeros(K), c)[:2]
        want_delta, want_near = naive.near_center(m, U_, c, full.NEAR_LIMIT)
        np.testing.assert_array_equal(delta, want_delta)
        np.testing.assert_array_equal(near, want_near)
    # one unit direction: the bound is |u| |delta|, near up to sqrt(NEAR_LIMIT)
    U3 = np.eye(3)[None]
    for dist, want in ((100.0, True), (np.nextafter(100.0, 200.0), False)):
        assert full_small._build(3).prepare(np.array([[dist, 0, 0]]), U3, np.zeros(1), np.zeros(3))[1][0] == want
    # the generic kernels (d = 2, d >= 17) do not sum around c: nothing to prepare
    assert full._prepare(means, U, np.zeros(K), center)[1].shape == (0,)


@pytest.mark.parametrize("d", UNROLLED_DIMS)
def test_unrolled_logprob_matches_naive(rng, d):
    """The generated log-density of one component (``full_small``'s
    ``_logprob_k``) on a block: const_k - |U_k^T (x - m_k)|^2 / 2 in every
    row up to nb, as NumPy computes it; the other rows and components
    untouched."""
    from fastgmm._kernels import full_small
    from fastgmm._kernels._common import PITCH

    K, nb = 3, 201
    built = full_small._build(d)
    weights, means, covs, U = random_params(rng, K, d, "full")
    Xt = np.zeros((d, PITCH))
    Xt[:, :nb] = _data(rng, nb, d, np.float64, means).T
    const = rng.normal(size=K)
    work = built.work(K, d, True, built.prepare(means, U, const, means[0]))
    lp = np.full((K, PITCH), 7.0)
    built.logprob_k(Xt, nb, means, U, const, 1, work, lp)
    want = const[1] - 0.5 * np.sum(((Xt[:, :nb].T - means[1]) @ U[1]) ** 2, axis=1)
    np.testing.assert_allclose(lp[1, :nb], want, rtol=1e-12, atol=1e-12)
    assert np.all(lp[1, nb:] == 7.0) and np.all(lp[[0, 2]] == 7.0)


@pytest.mark.parametrize("d", UNROLLED_DIMS)
def test_unrolled_scatter_around_the_centre_or_the_means(rng, d):
    """The unrolled scatter sums a component's rows around the shared centre
    (``shifted``, near) or around its mean (deviations stored with 0 in the
    rows of zero responsibility): the same sums to rounding, and the NumPy
    twin's. Data far from the origin (1e3): the centre must remove it."""
    from fastgmm._kernels import full_small
    from fastgmm._kernels._common import PITCH

    K, nb = 3, 201
    scatter_k = full_small._build(d).scatter_k
    Xt = np.zeros((d, PITCH))
    Xt[:, :nb] = rng.normal(size=(d, nb)) * 3 + 1e3
    means = rng.normal(size=(K, d)) + 1e3
    center = means.mean(axis=0)
    U = np.broadcast_to(np.eye(d) / 3, (K, d, d)).copy()
    aux = full_small._build(d).prepare(means, U, np.zeros(K), center)
    assert aux[1].all()
    r = np.zeros((K, PITCH))
    r[:, :nb] = rng.uniform(size=(K, nb))
    r[:, 3:nb:7] = 0.0
    outs = []
    for shifted in (True, False):
        work = full_small._build(d).work(K, d, True, aux)
        Xs = Xt - center[:, None]
        out = np.zeros(K + K * d + K * d * d)
        for k in range(K):
            scatter_k(Xt, Xs, nb, means, r, k, work, out, shifted, aux)
        outs.append(out)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-11, atol=1e-10)
    for out in outs:
        for k in range(K):
            N, S1, S2 = naive.scatter(Xt[:, :nb].T, r[k, :nb], means[k])
            np.testing.assert_allclose(out[k], N, rtol=1e-13)
            np.testing.assert_allclose(out[K + k * d : K + (k + 1) * d], S1, rtol=1e-11, atol=1e-10)
            got = out[K + K * d + k * d * d : K + K * d + (k + 1) * d * d].reshape(d, d)
            np.testing.assert_allclose(np.triu(got), S2, rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("d", [3, 10])
def test_unrolled_stats_of_far_tight_components(rng, d):
    """Tight components far from the mixture's centre in their own units
    (sd 1e-3 at 1e3, next to wide ones at 0 that pull the centre there) are
    summed around their means, the wide ones around the centre: every
    component's moments keep their relative precision (sums of the tight
    ones around the centre would lose about 1e12 eps of it)."""
    from fastgmm._kernels import full_small

    ct = COVARIANCE_TYPES["full"]
    K, n = 4, 3000
    means = np.zeros((K, d))
    means[2:] = 1e3 + rng.normal(size=(2, d))
    sd = np.array([1e3, 2e3, 1e-3, 2e-3])
    U = np.stack([np.eye(d) / s for s in sd])
    covs = np.stack([np.eye(d) * s**2 for s in sd])
    weights = np.array([0.45, 0.45, 0.05, 0.05])
    labels = rng.choice(K, size=n, p=weights)
    X = means[labels] + rng.normal(size=(n, d)) * sd[labels, None]
    m, Uk, const, center = kernel_args(ct, Params(weights, means, covs, U))
    assert list(full_small._build(d).prepare(m, Uk, const, center)[1]) == [True, True, False, False]
    got = ct.kernels_for(d).stats(X, np.empty(0), np.empty((0, 0)), m, Uk, const, center)
    want = naive.stats(X, None, None, weights, means, U, center, "full")
    N, S1, S2, _ = split_stats(got, K, d)
    wN, wS1, wS2, _ = split_stats(want, K, d)
    np.testing.assert_allclose(N, wN, rtol=1e-12)
    S2, wS2 = np.triu(S2.reshape(K, d, d)), np.triu(wS2.reshape(K, d, d))
    for k in range(K):
        np.testing.assert_allclose(S1[k], wS1[k], rtol=0, atol=1e-10 * sd[k] * wN[k])
        np.testing.assert_allclose(S2[k], wS2[k], rtol=0, atol=1e-10 * sd[k] ** 2 * wN[k])


# --- k-means kernels --------------------------------------------------------
def _pre(X, xmean, blocks):
    return kk.centred_blocks(X, xmean) if blocks else kk.no_blocks()


@pytest.mark.parametrize("blocks", [False, True], ids=["transposed-per-pass", "centred-blocks"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_distance_kernels(rng, dtype, blocks):
    n, d = N_ROWS, 3
    X = _data(rng, n, d, dtype)
    xmean = X.mean(axis=0)
    pre = _pre(X, xmean, blocks)
    c = rng.normal(size=d)
    single = dtype == np.float32
    closest = np.empty(n, dtype=dtype)
    kk.min_sqdist(X, xmean, pre, c, closest, True, single)
    want = naive.sqdist_rows(X, xmean, c)
    np.testing.assert_allclose(closest, want.astype(dtype), rtol=1e-6 if single else 1e-12)
    c2 = rng.normal(size=d)
    kk.min_sqdist(X, xmean, pre, c2, closest, False, single)
    want2 = np.minimum(want, naive.sqdist_rows(X, xmean, c2))
    np.testing.assert_allclose(closest, want2.astype(dtype), rtol=1e-6 if single else 1e-12)

    cands = rng.normal(size=(4, d))
    sw = rng.uniform(0, 2, size=n)
    pots = kk.candidate_pots(X, sw, xmean, pre, cands, closest, single)
    want_pots = [sw @ np.minimum(closest, naive.sqdist_rows(X, xmean, c)) for c in cands]
    np.testing.assert_allclose(pots, want_pots, rtol=1e-6 if single else 1e-12)

    dev = X.astype(np.float64) - xmean.astype(np.float64)
    for w in (np.empty(0), sw):
        sums = kk.centered_sq_sums(X, w, xmean.astype(np.float64))
        ww = w if w.shape[0] else np.ones(n)
        np.testing.assert_allclose(sums[:d], ww @ dev**2, rtol=1e-12)
        np.testing.assert_allclose(sums[d:], ww @ dev, rtol=1e-9, atol=1e-12 * np.abs(ww @ np.abs(dev)).max())


@pytest.mark.parametrize("blocks", [False, True], ids=["transposed-per-pass", "centred-blocks"])
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_step_matches_naive(rng, weighted, blocks):
    n, d, K = N_ROWS, 2, 4
    X = _data(rng, n, d, np.float64)
    xmean = X.mean(axis=0)
    pre = _pre(X, xmean, blocks)
    centers = rng.normal(size=(K, d))
    sw = rng.uniform(0, 2, size=n) if weighted else None
    labels = np.full(n, -1, dtype=np.int32)
    labels[::2] = 1
    want_labels, want = naive.lloyd_step(X, sw, xmean, centers, labels)
    got = kk.lloyd_step(X, np.empty(0) if sw is None else sw, xmean, pre, centers, labels, True)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    dist = np.empty(n)
    kk.assigned_sqdist(X, xmean, centers, labels, dist)
    np.testing.assert_allclose(dist, ((X - xmean - centers[labels]) ** 2).sum(1), rtol=1e-12)


@pytest.mark.parametrize("n", [1000, 200_000])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumsum_search_matches_numpy(rng, weighted, dtype, n):
    # (200k float32 values: a float64 running sum would find other indices)
    closest = rng.uniform(0, 2, size=n).astype(dtype)
    closest[::7] = 0  # flat steps: ties resolve to the first index
    sw = rng.uniform(0, 2, size=n).astype(dtype) if weighted else None
    total = float(np.sum(closest if sw is None else sw * closest))
    values = np.r_[rng.uniform(0, total, 50), 0.0, total * 2, closest[0]]
    out = np.empty(values.size, dtype=np.intp)
    kk.cumsum_search(closest, np.empty(0, dtype) if sw is None else sw, values, out)
    np.testing.assert_array_equal(out, naive.cumsum_search(closest, sw, values))


@pytest.mark.parametrize("blocks", [False, True], ids=["transposed-per-pass", "centred-blocks"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_plusplus_steps_matches_naive(rng, dtype, blocks):
    n, d, K, trials = N_ROWS, 5, 12, 4
    X = _data(rng, n, d, dtype, rng.normal(size=(6, d)) * 8)
    xmean = X.mean(axis=0)
    pre = _pre(X, xmean, blocks)
    draws = rng.uniform(size=(K - 1, trials))
    single = dtype == np.float32
    results = []
    for kernel in (kk.plusplus_steps, kk.plusplus_steps.serial):
        closest = np.empty(n, dtype=dtype)
        indices = np.full(K, -1, dtype=np.intp)
        centers = np.empty((K, d))
        indices[0] = 3
        centers[0] = X[3] - xmean
        kk.min_sqdist(X, xmean, pre, centers[0], closest, True, single)
        kernel(X, xmean, pre, draws, single, closest, indices, centers)
        results.append((indices, centers))
    np.testing.assert_array_equal(results[0][0], naive.plusplus_steps(X, xmean, draws, 3))
    np.testing.assert_array_equal(results[0][1], (X[results[0][0]] - xmean).astype(np.float64))
    np.testing.assert_array_equal(results[1][0], results[0][0])


def test_centred_blocks_layout(rng):
    X = _data(rng, 2 * 256 + 7, 3, np.float32)
    xmean = X.mean(axis=0)
    pre = kk.centred_blocks(X, xmean)
    assert pre.dtype == np.float64 and pre.shape[:2] == (3, 3)
    rows = np.concatenate([pre[b, :, :256].T for b in range(3)])
    np.testing.assert_array_equal(rows[: X.shape[0]], (X - xmean).astype(np.float64))
    assert np.all(rows[X.shape[0]:] == 0)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_full_covariances_matches_numpy(rng, d):
    from fastgmm._kernels.linalg import full_covariances

    K = 4
    N = rng.uniform(1, 5, size=K)
    S1 = rng.normal(size=(K, d))
    S2 = rng.normal(size=(K, d * d))
    delta = rng.normal(size=(K, d))
    nk = N + 1e-15
    got = np.empty((K, d, d))
    full_covariances(N, S1, S2, delta, nk, 1e-6, got)
    np.testing.assert_array_equal(got, naive.full_covariances(N, S1, S2, delta, nk, 1e-6))


@pytest.mark.parametrize("d", [1, 2, 5, 50])
def test_tied_covariance_matches_numpy(rng, d):
    from fastgmm._kernels.linalg import tied_covariance

    K = 4
    N = rng.uniform(1, 5, size=K)
    S1 = rng.normal(size=(K, d))
    S2 = rng.normal(size=d * d)
    delta = rng.normal(size=(K, d))
    nk = N + 1e-15
    got = np.full((d, d), np.nan)
    tied_covariance(N, S1, S2, delta, nk.sum(), 1e-6, got)
    want = naive.tied_covariance(N, S1, S2, delta, nk, 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * np.abs(want).max())
    np.testing.assert_array_equal(got, got.T)  # S2's lower triangle is never read


@pytest.mark.parametrize("d", [1, 2, 5, 50])
def test_upper_gram_matches_numpy(rng, d):
    from fastgmm._kernels.linalg import upper_gram

    U = np.triu(rng.normal(size=(3, d, d)))
    U[:, np.tril_indices(d, -1)[0], np.tril_indices(d, -1)[1]] = np.nan  # never read
    P = np.empty_like(U)
    upper_gram(U, P)
    want = np.matmul(np.triu(np.nan_to_num(U)), np.swapaxes(np.triu(np.nan_to_num(U)), 1, 2))
    np.testing.assert_allclose(P, want, rtol=1e-12, atol=1e-13 * np.abs(want).max())
    np.testing.assert_array_equal(P, np.swapaxes(P, 1, 2))


def test_inverse_cholesky_matches_numpy(rng):
    from fastgmm._kernels.linalg import PANEL_MIN, inverse_cholesky_upper

    assert 5 < PANEL_MIN <= 20  # the dimensions below reach both algorithms
    # the plain algorithm below PANEL_MIN; from it, panels of four: whole,
    # ragged, and matrices of many panels
    for d in (1, 2, 5, 17, 19, 20, 21, 22, 23, 50, 131):
        A = rng.normal(size=(6, d, d))
        C = A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(d)
        want = np.swapaxes(np.linalg.inv(np.linalg.cholesky(C)), 1, 2)
        C[:, np.triu_indices(d, 1)[0], np.triu_indices(d, 1)[1]] = np.nan  # never read
        U = np.full_like(C, np.nan)
        assert inverse_cholesky_upper(C, U) == -1
        np.testing.assert_allclose(U, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
        assert np.all(np.tril(U, -1) == 0.0)
        # the first matrix that is not positive definite is reported, its
        # failing pivot in the first panel, inside a later one, or the last
        C[4, 0, 0] = -1.0
        C[5, d - 1, d - 1] = np.nan
        if d > 5:
            C[3, d // 2 + 1, d // 2 + 1] = -(abs(C[3]).max() * d)
        U = np.empty_like(C)
        assert inverse_cholesky_upper(C, U) == (3 if d > 5 else 4)
    # more matrices than parallel tasks, failures in several tasks: the
    # serial twin agrees bitwise and reports the same first failure
    A = rng.normal(size=(37, 5, 5))
    C = A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(5)
    U1, U2 = np.empty_like(C), np.empty_like(C)
    assert inverse_cholesky_upper(C, U1) == inverse_cholesky_upper.serial(C, U2) == -1
    np.testing.assert_array_equal(U1, U2)
    C[[30, 12, 33], 2, 2] = -1.0
    assert inverse_cholesky_upper(C, U1) == inverse_cholesky_upper.serial(C, U2) == 12


def test_vectorised_exp_and_log_are_accurate(rng):
    from fastgmm._kernels._common import exp_le0, log_ge1

    a = np.concatenate([-rng.uniform(0, 750, 5000), [0.0, -708.0, -708.5, -np.inf]])
    out = np.array([exp_le0(v) for v in a])
    want = np.exp(a)
    want[a <= -708.0] = 0.0  # documented flush from -708 down
    np.testing.assert_allclose(out, want, rtol=3e-16, atol=0)
    x = np.concatenate([1.0 + rng.uniform(0, 1e3, 5000), [1.0, 2.0, np.sqrt(2.0)]])
    got = np.empty_like(x)
    log_ge1(x, got, x.size)
    np.testing.assert_allclose(got, np.log(x), rtol=5e-16, atol=1e-300)


def test_block_loglik_is_the_sum_of_row_logs(rng):
    from fastgmm._kernels._common import _block_loglik

    for K in (2, 7, 1000):
        m = rng.normal(size=256) * 50
        s = 1.0 + rng.uniform(0, K - 1, size=256)
        s[:3] = [1.0, float(K), np.nextafter(2.0, 0)]
        total, bad = _block_loglik(m, s, 256)
        assert bad == 0
        np.testing.assert_allclose(total, np.sum(m + np.log(s)), rtol=1e-14)
        assert _block_loglik(m, s, 100)[0] == pytest.approx(np.sum(m[:100] + np.log(s[:100])), rel=1e-14)
    m[[5, 9]] = [-np.inf, np.nan]
    assert _block_loglik(m, s, 256)[1] == 2


@pytest.mark.parametrize("n, size", [
    (2, 256), (5000, 512), (16_384, 1024), (20_000, 1024), (65_536, 1024),
    (100_000, 1792), (262_144, 4096), (500_000, 4096),
])
def test_chunk_sizes(n, size):
    """Rows per chunk depend on n only; from 16k rows on, about 64 chunks of at
    least 1,024 rows until chunks reach CHUNK_SIZE (Python and Numba agree)."""
    from fastgmm import _config
    from fastgmm._kernels import _common

    assert _config.chunk_size(n) == _common.chunk_size(n) == size


def test_chunk_sizes_properties():
    from fastgmm import _config as cfg

    for n in np.unique(np.geomspace(1, 2_000_000, 400).astype(int)):
        c = cfg.chunk_size(n)
        assert c % cfg.BLOCK == 0 and cfg.BLOCK <= c <= cfg.CHUNK_SIZE
        if n >= cfg.MIN_CHUNKS * cfg.BALANCE_MIN_ROWS:
            # enough chunks for many threads to share evenly (rounding chunks
            # up to whole blocks leaves at least 52 of the 64 aimed at)
            assert cfg.n_chunks(n) >= min(52, n // cfg.BALANCE_MIN_ROWS)


@pytest.mark.parametrize("n, count, rows", [
    (1, 1, {1}), (257, 2, {256, 1}), (5000, 10, {512, 392}), (65_536, 64, {1024}),
    (100_000, 64, {1536, 1792, 1696}), (500_000, 128, {3840, 4096, 3872}),
    (1_000_000, 256, {3840, 4096, 3904}),
])
def test_chunk_rows(n, count, rows):
    """Chunks of whole blocks, as even as the blocks allow, in a count that
    is a multiple of 16 from 16 chunks on: mid's 500k rows in 128 chunks
    (16 threads: 8 each) instead of 123 of 4,096 rows (8 or 7)."""
    from fastgmm import _config
    from fastgmm._kernels import _common

    assert _config.n_chunks(n) == _common.n_chunks(n) == count
    got = [_config.chunk_rows(c, n) for c in range(count)]
    assert got == [_common.chunk_rows(c, n) for c in range(count)]
    assert {hi - lo for lo, hi in got} == rows


def test_chunk_rows_properties():
    from fastgmm import _config as cfg

    for n in np.unique(np.geomspace(1, 3_000_000, 300).astype(int)):
        m = cfg.n_chunks(n)
        blocks = -(-n // cfg.BLOCK)
        assert 1 <= m <= blocks
        if m >= cfg.CHUNK_MULTIPLE:
            assert m % cfg.CHUNK_MULTIPLE == 0 or m == blocks
            assert m < -(-n // cfg.chunk_size(n)) + cfg.CHUNK_MULTIPLE
        else:
            assert m == -(-n // cfg.chunk_size(n))
        rows = [cfg.chunk_rows(c, n) for c in range(m)]
        assert rows[0][0] == 0 and rows[-1][1] == n
        assert all(a[1] == b[0] and a[1] % cfg.BLOCK == 0 for a, b in zip(rows, rows[1:]))
        sizes = [-(-(hi - lo) // cfg.BLOCK) for lo, hi in rows]  # blocks per chunk
        assert max(sizes) - min(sizes) <= 1 and max(sizes) * cfg.BLOCK <= cfg.CHUNK_SIZE


@pytest.mark.parametrize("nch, width", [
    (0, 10), (1, 10), (56, 81_635), (64, 81_635), (16, 344_603), (123, 1779),
    (1221, 1779), (7, 10**8), (128, 65_536), (20, 2**20 // 8 * 3 // 2),
])
def test_chunk_groups_are_equal_and_bounded(nch, width):
    """Partials held at once stay under PARTIALS_BYTES (or are one chunk's),
    in the fewest groups: groups of a multiple of 16 chunks where that fits
    (128 chunks of which 48 fit: 48 + 48 + 32, not 43 + 43 + 42), else the
    last short of the others by fewer chunks than there are groups (56
    chunks of wide's old partials: 28 + 28, not 38 + 18)."""
    from fastgmm._config import CHUNK_MULTIPLE, PARTIALS_BYTES
    from fastgmm._kernels._common import chunk_group

    g = chunk_group(nch, width)
    assert g >= 1
    assert g == 1 or 8 * width * g <= PARTIALS_BYTES
    groups = -(-nch // g)
    fewest = -(-nch // max(1, PARTIALS_BYTES // (8 * width)))
    assert groups == fewest
    if groups > 1 and g % CHUNK_MULTIPLE:
        assert g - groups < nch - (groups - 1) * g <= g
    if (nch, width) == (128, 65_536):
        assert g == 48


def test_scratch_starts_on_cache_lines():
    """512-bit loads from scratch 32 bytes into a cache line span two lines:
    every row of the drivers' scratch starts on a 64-byte line."""
    from fastgmm._kernels import _common, full

    for rows, cols in [(1, 1), (3, 5), (0, _common.PITCH), (10, _common.PITCH)]:
        for _ in range(20):  # successive allocations land at various offsets
            a = _common.aligned_empty(rows, cols)
            assert a.shape == (rows, cols) and a.flags.c_contiguous
            assert a.ctypes.data % _common.LINE == 0
    assert _common.PITCH * 8 % _common.LINE == 0
    K, d = 3, 10
    # means far from the origin: the x - x0 buffer (_logprob_input) is made too
    aux = full._prepare(np.full((K, d), 1e9), np.broadcast_to(np.eye(d), (K, d, d)).copy(),
                        np.zeros(K), np.zeros(d))
    assert aux[4]
    work = full._work(K, d, True, aux)
    buffers = _common.block_buffers(K, d) + work[:4] + work[7:]
    for buf in buffers:
        assert buf.size
        rows = buf.reshape(-1, buf.shape[-1])
        assert all(row.ctypes.data % _common.LINE == 0 for row in rows)
    works = full._task_work(4, K, d, True, aux)
    for buf in works[:4] + works[7:]:
        assert buf.ctypes.data % _common.LINE == 0


def test_full_logprob_reference_matches_naive(rng):
    """When and where the full kernels move a block before the log-densities:
    the NumPy twin's choice, on either side of the limit, with ties in
    const and a NaN mean."""
    from fastgmm._kernels import full

    K, d = 5, 4
    _, means, _, U = random_params(rng, K, d, "full")
    const = np.array([0.5, 2.0, -1.0, 2.0, 0.0])
    size = np.einsum("klj,kl->kj", np.abs(U), np.abs(means)).max()
    for scale in (1.0, full.CENTRE_LIMIT / size, np.nextafter(full.CENTRE_LIMIT / size, 1e9), 1e12):
        got = full._reference(means * scale, U, const)
        want = naive.logprob_reference(means * scale, U, const, full.CENTRE_LIMIT)
        assert got[2] == want[2]
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    nan = means * 1e12
    nan[0, 0] = np.nan
    assert full._reference(nan, U, const)[2]  # the finite means still decide


@pytest.mark.parametrize(
    "d, K, n",
    [(1, 3, 700), (3, 3, 700), (10, 3, N_ROWS), (17, 3, 700), (17, 16, 700)],
    ids=["d1", "unrolled-d3", "unrolled-d10-chunks", "generic-d17", "by-component-d17"],
)
def test_full_logprob_far_from_the_origin(rng, d, K, n):
    """x U - m U (the bias trick) rounds to eps |x| |U|: a constant column of
    1.7e18 (a timestamp) with the variance reg_covar leaves, there, 1e5 where
    the whitened deviation is 0. The kernels move such blocks to a reference
    mean first; the fit's lower bound and score_samples equal the centred
    NumPy twin's, on every path (d = 1, unrolled, generic, by component)."""
    from scipy.special import logsumexp

    from fastgmm import GaussianMixture

    offset = np.full(d, 1e8)
    offset[0] = 1.7e18
    spread = np.ones(d)
    spread[0] = 0.0  # constant column
    X = offset + rng.normal(size=(n, d)) * spread * rng.uniform(0.5, 2, size=(n, 1))
    means = X[rng.choice(n, K, replace=False)]
    var = np.ones(d)
    var[0] = 1e-6
    precisions = np.broadcast_to(np.diag(1 / var), (K, d, d)).copy()
    gm = GaussianMixture(K, covariance_type="full", weights_init=np.full(K, 1 / K),
                         means_init=means, precisions_init=precisions, max_iter=1, tol=0)
    with pytest.warns(Warning):  # not converged
        gm.fit(X)
    U = np.broadcast_to(np.diag(1 / np.sqrt(var)), (K, d, d))
    want = logsumexp(naive.log_gaussian(X, means, U, "full") - np.log(K), axis=1)
    np.testing.assert_allclose(gm.lower_bounds_[0], want.mean(), rtol=1e-10)
    got = gm.score_samples(X)
    want = logsumexp(naive.log_gaussian(X, gm.means_, gm.precisions_cholesky_, "full")
                     + np.log(gm.weights_), axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
