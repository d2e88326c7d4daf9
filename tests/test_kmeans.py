"""fastgmm's k-means reproduces sklearn's KMeans(n_init=1) and kmeans_plusplus
draw for draw (sklearn is called here, in the tests, never in fastgmm)."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.datasets import make_blobs

from fastgmm._initialization import kmeans_labels
from fastgmm._initialization import kmeans_plusplus as fast_kmeans_plusplus


def _sk_labels(X, K, seed, sw=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(K, n_init=1, random_state=np.random.RandomState(seed))
        return km.fit(X, sample_weight=sw).labels_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
def test_kmeans_plusplus_draws_the_same_points(dtype, seed):
    X, _ = make_blobs(2000, centers=7, n_features=3, random_state=seed)
    X = X.astype(dtype)
    _, want = kmeans_plusplus(X, 7, random_state=np.random.RandomState(seed))
    got, _ = fast_kmeans_plusplus(X, 7, np.random.RandomState(seed))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_labels_equal_sklearn(dtype, seed, weighted):
    X, _ = make_blobs(3000, centers=5, n_features=4, cluster_std=2.0, random_state=seed)
    X = X.astype(dtype)
    if not weighted:
        got, centers = kmeans_labels(X, 6, np.random.RandomState(seed))
        np.testing.assert_array_equal(got, _sk_labels(X, 6, seed))
        assert centers.shape == (6, 4)
        return
    # weights are counts: sklearn's KMeans on the rows repeated (its own
    # sample_weight leaves the stopping tolerance unweighted)
    sw = np.random.RandomState(seed).randint(0, 4, size=len(X)).astype(float)
    got, _ = kmeans_labels(X, 6, np.random.RandomState(seed), sw)
    first_copies = np.cumsum(sw)[sw > 0].astype(int) - sw[sw > 0].astype(int)
    want = _sk_labels(np.repeat(X, sw.astype(int), axis=0), 6, seed)[first_copies]
    np.testing.assert_array_equal(got[sw > 0], want)


def test_kmeans_stopping_tolerance_weights_the_variances():
    """Zero-weight rows far out would inflate an unweighted tolerance (sklearn's
    KMeans(sample_weight=...)): Lloyd would stop early, unlike on the rows removed."""
    X, _ = make_blobs(3000, centers=5, n_features=4, cluster_std=2.0, random_state=0)
    Xz = np.concatenate([X, np.full((40, 4), 1e3)])
    sw = np.r_[np.ones(len(X)), np.zeros(40)]
    for seed in range(6):
        got, centers = kmeans_labels(Xz, 6, np.random.RandomState(seed), sw)
        want, want_centers = kmeans_labels(X, 6, np.random.RandomState(seed))
        np.testing.assert_array_equal(got[: len(X)], want)
        np.testing.assert_allclose(centers, want_centers, rtol=1e-9)


def test_kmeans_consumes_the_random_state_like_sklearn():
    X, _ = make_blobs(500, centers=3, random_state=0)
    ours, theirs = np.random.RandomState(5), np.random.RandomState(5)
    kmeans_labels(X, 3, ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        KMeans(3, n_init=1, random_state=theirs).fit(X)
    assert ours.random_sample() == theirs.random_sample()


def test_empty_cluster_relocation_matches_sklearn():
    # many duplicates and more clusters than groups: empty clusters appear
    rng = np.random.RandomState(0)
    X = np.r_[np.repeat(rng.normal(size=(4, 2)), 50, axis=0), rng.normal(size=(6, 2)) * 30]
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, _ = kmeans_labels(X, 9, np.random.RandomState(seed))
        np.testing.assert_array_equal(got, _sk_labels(X, 9, seed))


def _kmeans_both_ways(monkeypatch, X, K, seed, sw=None):
    """kmeans_labels with its compiled Lloyd loop and with the Python loop."""
    from fastgmm import _initialization as init

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = kmeans_labels(X, K, np.random.RandomState(seed), sw)
        with monkeypatch.context() as m:
            m.setattr(init, "runs_serial", lambda n, work: False)
            python = kmeans_labels(X, K, np.random.RandomState(seed), sw)
    return compiled, python


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_lloyd_loop_equals_the_python_loop(monkeypatch, dtype):
    """The Lloyd steps run in one compiled call on small data: the same
    labels and centres, bitwise, as step by step (also weighted, with many
    components and features, stopping on tol, on no change or on empty
    clusters, which go back to Python to relocate)."""
    from fastgmm import _initialization as init
    from fastgmm._kernels import kmeans as kk

    outcomes = []
    run = kk.lloyd_run

    def recorded(*args):
        out = run(*args)
        outcomes.append(out[0])
        return out

    monkeypatch.setattr(kk, "lloyd_run", recorded)
    rng = np.random.RandomState(0)
    dup = np.r_[np.repeat(rng.normal(size=(4, 2)), 50, axis=0), rng.normal(size=(6, 2)) * 30]
    cases = [
        (make_blobs(2000, centers=3, n_features=2, random_state=1)[0], 3),
        (make_blobs(500, centers=6, n_features=41, cluster_std=4.0, random_state=2)[0], 9),
        (rng.normal(size=(300, 1)), 5),
        (dup, 9),
        # 5 distinct rows for 6 clusters: a step leaves one empty
        (np.r_[np.repeat(rng.normal(size=(3, 2)), 30, axis=0), rng.normal(size=(2, 2)) * 0.01], 6),
        (np.round(rng.normal(size=(200, 2))), 7),  # ties on a grid
    ]
    for X, K in cases:
        X = X.astype(dtype)
        for seed in range(3):
            for sw in (None, rng.uniform(0, 3, X.shape[0])):
                (lc, cc), (lp, cp) = _kmeans_both_ways(monkeypatch, X, K, seed, sw)
                np.testing.assert_array_equal(lc, lp)
                np.testing.assert_array_equal(cc, cp)
    seen = set(outcomes)
    assert {kk.LLOYD_STRICT, kk.LLOYD_TOL, kk.LLOYD_EMPTY} <= seen, seen
    with monkeypatch.context() as m:  # the step limit
        m.setattr(init, "KMEANS_MAX_ITER", 2)
        (lc, cc), (lp, cp) = _kmeans_both_ways(monkeypatch, *cases[1], 0)
        assert outcomes[-1] == kk.LLOYD_MAX_ITER
        np.testing.assert_array_equal(lc, lp)
        np.testing.assert_array_equal(cc, cp)


def _labelled_data(seed, n, K, dtype, d=3):
    """Rows, labels with cluster K - 2 empty, X's mean and K shifts."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * 3 + 10).astype(dtype)
    labels = rng.integers(0, K, n).astype(np.int32)
    labels[labels == K - 2] = 1  # an empty cluster
    center = np.ascontiguousarray(X.mean(0), dtype=np.float64)
    centers = rng.normal(size=(K, d)) + 10
    return rng, X, labels, center, centers


@pytest.mark.parametrize("small_pieces", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_label_stats_equal_one_hot_resp_stats(monkeypatch, dtype, small_pieces):
    """The k-means init's per-cluster statistics equal the statistics of the
    one-hot responsibilities, for every type, weighted or not, also when the
    rows are gathered in several pieces."""
    from fastgmm import _initialization as init
    from fastgmm._covariance import COVARIANCE_TYPES
    from fastgmm._stats import stats_shift

    if small_pieces:
        monkeypatch.setattr(init, "BLOCK_BYTES", 1)  # pieces of 8 * CHUNK_SIZE rows
    rng, X, labels, center, centers = _labelled_data(3, 80000, 6, dtype)
    n, K = X.shape[0], centers.shape[0]
    for sw in (np.empty(0), rng.uniform(0, 2, n)):
        for ct in COVARIANCE_TYPES.values():
            shift = stats_shift(ct, center, centers)
            want = init.resp_stats(ct, X, sw, init._one_hot_blocks(labels, K, X.dtype), center, shift)
            got = init.label_stats(ct, X, sw, labels, K, center, shift)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_label_stats_one_pass_equals_per_cluster(monkeypatch, dtype):
    """On small data label_stats takes one pass over one-hot rows; it agrees
    with the per-cluster passes (to rounding: another summation order)."""
    from fastgmm import _initialization as init
    from fastgmm._covariance import COVARIANCE_TYPES
    from fastgmm._stats import stats_shift

    rng, X, labels, center, centers = _labelled_data(4, 300, 7, dtype)
    n, K = X.shape[0], centers.shape[0]
    calls = []
    one_pass = init.resp_stats
    monkeypatch.setattr(init, "resp_stats", lambda *a: calls.append(1) or one_pass(*a))
    for sw in (np.empty(0), rng.uniform(0, 2, n)):
        for ct in COVARIANCE_TYPES.values():
            shift = stats_shift(ct, center, centers)
            monkeypatch.setattr(init, "ONE_PASS_MAX_WORK", 0)
            want = init.label_stats(ct, X, sw, labels, K, center, shift)
            assert not calls
            monkeypatch.setattr(init, "ONE_PASS_MAX_WORK", 2**16)
            got = init.label_stats(ct, X, sw, labels, K, center, shift)
            assert calls.pop()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_average_centers_matches_sklearns_loop():
    from fastgmm._initialization import _average_centers

    from . import naive

    rng = np.random.RandomState(0)
    sums = rng.normal(size=(7, 3)) * 10
    for weights in ([3.0, 0, 5.5, 1, 0, 2, 0], [0, 1.0, 2, 0, 0, 9, 4], [0.0] * 7, [1.0, 2, 3, 4, 5, 6, 7]):
        weights = np.array(weights)
        np.testing.assert_array_equal(_average_centers(sums, weights), naive.average_centers(sums, weights))
