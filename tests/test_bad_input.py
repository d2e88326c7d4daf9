"""Hostile and unusual input: a clear error or a sane model, never a crash,
a hang, NaN parameters, or a modified input array."""

import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGM

from fastgmm import GaussianMixture
from fastgmm._config import CHUNK_SIZE

from .conftest import COV_TYPES

PARAMS = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]


def fit(X, sample_weight=None, **params):
    params.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(**params).fit(X, sample_weight=sample_weight)


def assert_sane(gm, X):
    for name in PARAMS:
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.isfinite(gm.lower_bound_)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(gm.score_samples(X)))


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(200, 3))


@pytest.mark.parametrize("convert", [lambda X: X > 0, lambda X: (X * 10).astype(int),
                                     lambda X: X.astype(np.float16)],
                         ids=["bool", "int", "float16"])
def test_other_dtypes_are_converted_like_sklearn(X, convert):
    Xc = convert(X)
    ours = fit(Xc, n_components=2)
    theirs = SkGM(2, random_state=0).fit(Xc)
    assert ours.means_.dtype == theirs.means_.dtype == np.float64
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.means_, fit(Xc.astype(np.float64), n_components=2).means_)


@pytest.mark.parametrize("view", [np.asfortranarray, lambda X: X[::2], lambda X: X[:, ::-1]],
                         ids=["fortran", "strided-rows", "reversed-columns"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_contiguous_input_gives_the_contiguous_result(X, view, dtype):
    V = view(X.astype(dtype))
    a, b = fit(V, n_components=3), fit(np.ascontiguousarray(V), n_components=3)
    for name in PARAMS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.predict_proba(V), b.predict_proba(np.ascontiguousarray(V)))


def test_readonly_input(X):
    want = fit(X.copy(), n_components=2).predict_proba(X)
    X.setflags(write=False)
    gm = fit(X, n_components=2)
    assert_sane(gm, X)
    np.testing.assert_array_equal(gm.predict_proba(X), want)
    assert not X.flags.writeable


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_model_loaded_read_only_predicts_and_warm_starts(tmp_path, X, cov_type):
    """joblib.load(mmap_mode="r") gives the fitted arrays as read-only
    memmaps (a service sharing one model file between processes): the same
    predictions, and a warm start leaves the loaded arrays as they were
    (writing one would fault: the pages are mapped read-only)."""
    import joblib

    gm = fit(X, n_components=3, covariance_type=cov_type)
    joblib.dump(gm, tmp_path / "gm.joblib")
    loaded = joblib.load(tmp_path / "gm.joblib", mmap_mode="r")
    arrays = {k: v for k, v in vars(loaded).items() if isinstance(v, np.memmap)}
    assert "means_" in arrays and not any(v.flags.writeable for v in arrays.values())
    np.testing.assert_array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X))
    copies = {k: np.array(v) for k, v in arrays.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.set_params(warm_start=True, max_iter=2).fit(X)
        gm.set_params(warm_start=True, max_iter=2).fit(X)
    np.testing.assert_array_equal(loaded.means_, gm.means_)
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, copies[k])


def test_kernel_view_aliases_read_only_memory():
    """What the kernels get for a read-only array: the same memory under a
    writable flag (one compiled signature), alive after the caller's array
    is gone; a writable or empty array as it is."""
    import gc

    from fastgmm._base import kernel_view

    a = np.arange(12.0).reshape(3, 4)
    assert kernel_view(a) is a
    a.setflags(write=False)
    v = kernel_view(a)
    assert v.flags.writeable and v.flags.c_contiguous and not a.flags.writeable
    assert v.dtype == a.dtype and v.shape == a.shape and np.shares_memory(v, a)
    del a
    gc.collect()
    np.testing.assert_array_equal(v, np.arange(12.0).reshape(3, 4))
    empty = np.empty((0, 2))
    empty.setflags(write=False)
    assert kernel_view(empty) is empty


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_memmap_is_not_copied(tmp_path, dtype):
    n, d = 200_000, 32  # X (25-51 MB) dwarfs the k-means++ n-vectors
    mm = np.memmap(tmp_path / "X.dat", dtype=dtype, mode="w+", shape=(n, d))
    mm[:] = np.random.default_rng(0).normal(size=(n, d))
    mm.flush()
    X = np.memmap(tmp_path / "X.dat", dtype=dtype, mode="r", shape=(n, d))
    gm = GaussianMixture(2, random_state=0, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X[: 2 * CHUNK_SIZE])  # two chunks: compiles the parallel drivers
        tracemalloc.start()
        gm.fit(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < X.nbytes / 2, (peak, X.nbytes)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda X: np.c_[X[:, :2], np.full(len(X), 5.0)],  # constant column
        lambda X: np.repeat(X[:20], 10, axis=0),  # duplicate rows
        lambda X: np.ones((50, 3)),  # all rows identical
        lambda X: X[:5],  # n_samples == n_components
        lambda X: np.repeat(X[:3], 20, axis=0),  # more components than distinct points
        lambda X: X[:, :1],  # d = 1
        lambda X: X * 1e-300,  # tiny magnitudes
        lambda X: np.r_[X, [[1e6, 1e6, 1e6]]],  # a point far from everything
        lambda X: X + 1e8,  # far from the origin
    ],
    ids=["const-col", "dup-rows", "identical", "n-eq-K", "K-gt-distinct", "d1",
         "1e-300", "far-point", "offset-1e8"],
)
def test_degenerate_data_gives_sane_model(X, make, cov_type):
    Xd = make(X)
    gm = fit(Xd, n_components=5, covariance_type=cov_type)
    assert_sane(gm, Xd)


def test_large_dimension_and_many_components():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 300))
    assert_sane(fit(X, n_components=3, max_iter=5), X)
    X2 = rng.normal(size=(1500, 2))
    assert_sane(fit(X2, n_components=300, covariance_type="diag", max_iter=5), X2)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_overflowing_magnitudes_raise_clear_errors(X, cov_type):
    with pytest.raises(ValueError, match="overflows float64.*Scale the input data"):
        fit(X * 1e300, n_components=2, covariance_type=cov_type)
    with pytest.raises(ValueError, match="do not fit in float32.*float64"):
        fit((X * 3e19).astype(np.float32), n_components=2, covariance_type=cov_type)
    # the same data in float64 is fine
    assert_sane(fit(X * 3e19, n_components=2, covariance_type=cov_type), X * 3e19)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_a_row_of_zero_density_everywhere_raises(X, cov_type):
    """Its squared distance to every mean overflows: it used to be dropped
    silently (a model of the other rows, lower_bound_ -inf, 100 iterations
    of RuntimeWarnings). A row of weight 0 there is absent, as elsewhere."""
    d = X.shape[1]
    far = np.r_[X, [[1e160] * d]]
    precisions = {"full": np.eye(d)[None], "tied": np.eye(d), "diag": np.ones((1, d)),
                  "spherical": np.ones(1)}[cov_type]
    init = dict(n_components=1, covariance_type=cov_type, weights_init=[1.0],
                means_init=X.mean(axis=0)[None],
                precisions_init=precisions, max_iter=3, tol=0)
    with pytest.raises(ValueError, match="1 sample.*zero density under every component"):
        fit(far, **init)
    weights = np.r_[np.ones(len(X)), 0.0]
    np.testing.assert_array_equal(fit(far, sample_weight=weights, **init).means_,
                                  fit(X, **init).means_)


def test_failed_fit_leaves_a_previous_model_untouched(X):
    gm = fit(X, n_components=2)
    means = gm.means_.copy()
    with pytest.raises(ValueError):
        gm.fit((X * 3e19).astype(np.float32))
    np.testing.assert_array_equal(gm.means_, means)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("bad", ["few-rows", "wide-float32-overflow"])
def test_failed_refit_keeps_the_model_usable(X, cov_type, bad):
    # validate_data resets n_features_in_ before the fit fails; the kernels
    # trust shapes, so predicting 8-feature data with the 3-feature model
    # used to write past a scratch buffer (heap corruption, abort)
    import pandas as pd

    Xdf = pd.DataFrame(X, columns=["a", "b", "c"])
    gm = fit(Xdf, n_components=3, covariance_type=cov_type)
    labels = gm.predict(Xdf)
    wide = np.random.default_rng(1).normal(size=(2, 8))
    if bad == "wide-float32-overflow":
        wide = (np.random.default_rng(1).normal(size=(50, 8)) * 3e19).astype(np.float32)
    with pytest.raises(ValueError):
        gm.fit(wide)
    assert gm.n_features_in_ == 3
    np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(gm.predict(Xdf), labels)
    with pytest.raises(ValueError, match="X has 8 features, but GaussianMixture is expecting 3"):
        gm.predict(np.random.default_rng(2).normal(size=(1000, 8)))


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("d_new", [2, 5])
def test_warm_start_on_another_feature_count_raises(cov_type, d_new):
    # sklearn: numpy's shape error; fastgmm's kernels would read or write
    # past their buffers, so the driver checks the model against X first
    rng = np.random.default_rng(0)
    gm = fit(rng.normal(size=(200, 3)), n_components=2, covariance_type=cov_type,
             warm_start=True)
    before = {name: getattr(gm, name).copy() for name in PARAMS}
    with pytest.raises(ValueError, match=r"means_ has shape \(2, 3\).*X with %d features" % d_new):
        gm.fit(rng.normal(size=(200, d_new)))
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(gm, name), value)
    assert gm.n_features_in_ == 3


@pytest.mark.parametrize("old, new", [("diag", "tied"), ("spherical", "tied"),
                                      ("full", "diag"), ("tied", "spherical")])
def test_warm_start_with_another_covariance_type_raises(old, new):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    gm = fit(X, n_components=2, covariance_type=old, warm_start=True)
    gm.set_params(covariance_type=new)
    with pytest.raises(ValueError, match="precisions_cholesky_ has shape .* covariance_type=%r" % new):
        gm.fit(X)
    with pytest.raises(ValueError, match="does not match its parameters"):
        gm.predict(X)


def test_parameters_set_by_hand_are_checked_before_the_kernels(X):
    gm = fit(X, n_components=2)
    gm.means_ = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"means_ has shape \(2, 5\)"):
        gm.score_samples(X)
    gm = fit(X, n_components=2)
    gm.weights_ = np.full(3, 1 / 3)
    with pytest.raises(ValueError, match=r"weights_ has shape \(3,\), expected \(2,\)"):
        gm.predict_proba(X)


def test_a_first_fit_that_fails_under_warm_start_leaves_no_model(X):
    # the failed fit must not leave converged_ behind: the next fit would
    # take it for a previous model and start from parameters that do not exist
    gm = GaussianMixture(2, covariance_type="diag", reg_covar=0, warm_start=True,
                         means_init=[[0.553] * 3, [20.0] * 3])
    collapsed = np.r_[np.full((10, 3), 0.553), X[:10] + 20]
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        gm.fit(collapsed)
    assert not hasattr(gm, "converged_")
    gm.set_params(reg_covar=1e-6, means_init=None)
    assert_sane(fit_again(gm, X), X)


def fit_again(gm, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.fit(X)


@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])  # tied pools: not singular
@pytest.mark.parametrize("where", [0.0, 0.553, 3e7], ids=["at-origin", "repeated-point", "far"])
@pytest.mark.parametrize("copies", [1, 10])
def test_collapsed_component_without_regularisation_raises(cov_type, where, copies):
    # a component collapses onto copies of one point: its variance is zero
    # (or rounding noise, ~1e-32 at 0.553, left by the 10 eps guard, which
    # sklearn would keep as a model)
    rest = np.random.default_rng(0).normal(size=(10, 2)) * (1 + where) + 20 * (1 + where)
    X = np.r_[np.full((copies, 2), where), rest]
    means = np.array([[where, where], rest.mean(axis=0)])
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        fit(X, n_components=2, covariance_type=cov_type, reg_covar=0, means_init=means)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("offset, spread", [(1e8, 1e-6), (1e4, 1e-10)])
def test_small_relative_spread_is_not_a_collapse(cov_type, offset, spread):
    # 1e-14 relative (45 eps): real spread, not repeated points; sklearn fits
    # 'full' to it, and fastgmm's centred statistics fit every type
    X = offset + spread * np.random.default_rng(0).normal(size=(100, 2))
    gm = fit(X, n_components=1, covariance_type=cov_type, reg_covar=0)
    # exact variances (X's values are 67 ulps apart at 1e8, so numpy's own
    # X.var differs from them by up to 0.2%)
    cols = [[Fraction(v) for v in col] for col in X.T]
    var = np.array([float(sum((v - sum(c) / len(c)) ** 2 for v in c) / len(c)) for c in cols])
    cov = gm.covariances_.reshape(-1)
    got = cov[[0, 3]] if cov_type in ("full", "tied") else cov
    want = var.mean() if cov_type == "spherical" else var
    np.testing.assert_allclose(got, want, rtol=1e-3)
    if cov_type == "full":
        sk = SkGM(1, reg_covar=0, random_state=0).fit(X)
        np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-2,
                                   atol=1e-2 * spread**2)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_features_of_very_different_scales_are_not_a_collapse(cov_type):
    """Each feature's variance is measured against its own scale: values near
    1e-12 (spread 1e-13) next to a feature near 1e4 fit, as in sklearn."""
    rng = np.random.default_rng(0)
    X = np.c_[1e4 + rng.normal(size=400), 1e-12 * (1 + 0.1 * rng.normal(size=400))]
    gm = fit(X, n_components=2, covariance_type=cov_type, reg_covar=0, random_state=0)
    sk = SkGM(2, covariance_type=cov_type, reg_covar=0, random_state=0).fit(X)
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-9)


@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_collapse_onto_a_line_raises(cov_type):
    """A direction of no variance that is no feature's: points on y = x far
    from the origin (scaled per feature, the least eigenvalue is noise)."""
    t = np.random.default_rng(0).normal(size=50)
    X = 1e8 + np.c_[t, t]
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        fit(X, n_components=1, covariance_type=cov_type, reg_covar=0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_empty_component_and_zero_weight_stay_finite(X, cov_type):
    # one component placed far away: it gets no responsibility at all
    means = np.array([[0.0, 0.0, 0.0], [1e4, 1e4, 1e4]])
    gm = fit(X, n_components=2, covariance_type=cov_type, means_init=means, max_iter=5, tol=0)
    assert_sane(gm, X)
    # sklearn's rule for an empty component: mean 0, covariance reg_covar
    assert gm.weights_[1] < 1e-10


def test_points_far_from_every_component(X):
    gm = fit(X, n_components=3)
    far = np.array([[1e200, 1e200, 1e200], [1e10, -1e10, 0.0]])
    proba = gm.predict_proba(far)
    assert not np.any(np.isnan(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scores = gm.score_samples(far)
    assert scores[0] == -np.inf and np.isfinite(scores[1])
    assert gm.predict(far).dtype == np.int64


@pytest.mark.parametrize("d", [8, 17, 20])
def test_tied_deviation_overflowing_to_inf_scores_minus_inf(d):
    """A row whose deviation from the tied kernel's centre overflows (finite
    X near the float64 limit, a mean set by hand near -1e308) scores -inf,
    as in scikit-learn: the tiled triangular product (d >= 16) must not
    multiply the infinite deviation by U's zeros below the diagonal."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, d))
    gm = GaussianMixture(2, covariance_type="tied", random_state=0).fit(X)
    T = X[:4].copy()
    T[1, 5] = 1.7e308  # the second column of its 4 x 4 tile
    T[2, 5] = -1.7e308
    T[3, d - 1] = 1.7e308
    gm.means_[0, 5] = -1e308  # centre about -5e307: x - centre overflows for row 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = gm.score_samples(T)
        proba = gm.predict_proba(T)
    assert np.isfinite(scores[0]) and np.all(scores[1:] == -np.inf)
    assert not np.any(np.isnan(proba))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_zero_initial_weight_stays_finite(X, cov_type):
    # log(0) = -inf for a component: no responsibility, weight ~1e-17 after
    gm = fit(X, n_components=2, covariance_type=cov_type, weights_init=[1.0, 0.0], max_iter=5)
    assert_sane(gm, X)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("K", [2, 3])
def test_max_iter_0_with_given_precisions_has_their_inverse(cov_type, K):
    """sklearn sets no covariances_ here; ours are inv(precisions_init). 'diag'
    used to go through np.linalg.inv as if (K, d) were a matrix: an error for
    K != d, a silently wrong covariances_ for K == d."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    from .conftest import precisions_from, random_params

    _, means, covs, _ = random_params(rng, K, 3, cov_type)
    gm = GaussianMixture(K, covariance_type=cov_type, max_iter=0, means_init=means,
                         precisions_init=precisions_from(covs, cov_type)).fit(X)
    np.testing.assert_allclose(gm.covariances_, covs, rtol=1e-12)


def _hand_set(cls, cov_type, U):
    """A model built from known parameters, as a user would set them."""
    gm = cls(2, covariance_type=cov_type)
    gm.weights_ = np.array([0.3, 0.7])
    gm.means_ = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 1.0]])
    gm.precisions_cholesky_ = U
    return gm


@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_hand_set_lower_cholesky_factor_scores_like_sklearn(cov_type):
    """np.linalg.cholesky(precision) is lower triangular: sklearn's x L - m L
    works with it, and the kernels (upper triangle only) get the upper factor
    of the same precision."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 3, 3))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(3)
    if cov_type == "tied":
        P = P[0]
    L = np.linalg.cholesky(P)
    X = rng.normal(size=(50, 3)) * 2
    ours, theirs = _hand_set(GaussianMixture, cov_type, L), _hand_set(SkGM, cov_type, L)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_array_equal(ours.precisions_cholesky_, L)  # the attribute is kept


@pytest.mark.parametrize("cov_type, U", [
    ("full", np.ones((2, 3, 3)) + np.eye(3)),  # not triangular
    ("full", -np.array([np.eye(3)] * 2)),  # negative diagonal
    ("tied", np.triu(np.ones((3, 3))) - 2 * np.eye(3)),
    ("diag", np.array([[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]])),
    ("spherical", np.array([1.0, np.nan])),
])
def test_hand_set_factor_without_log_determinant_is_refused(cov_type, U):
    X = np.zeros((4, 3))
    gm = _hand_set(GaussianMixture, cov_type, U)
    for method in (gm.score_samples, gm.predict, gm.predict_proba):
        with pytest.raises(ValueError, match="precisions_cholesky_ must be the triangular"):
            method(X)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_nan_under_assume_finite_is_named(X, cov_type):
    """sklearn.set_config(assume_finite=True) skips the NaN check: a NaN row
    gets NaN probabilities (as in sklearn, not zeros), and a fit that fails
    on NaN data says so instead of blaming the data's magnitude."""
    import sklearn

    gm = fit(X, n_components=2, covariance_type=cov_type, random_state=0)
    q = np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 0.0]])
    bad = X.copy()
    bad[5, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        proba = gm.predict_proba(q)
        assert np.all(np.isfinite(proba[0])) and np.all(np.isnan(proba[1]))
        assert np.isnan(gm.score_samples(q)[1])
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(bad)
