"""sample_weight in fit / fit_predict (an extension over scikit-learn)."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from fastgmm import GaussianMixture

from . import naive
from .conftest import COV_TYPES, precisions_from, random_params


def _fixed_init(rng, K, d, cov_type, X):
    weights, _, covs, _ = random_params(rng, K, d, cov_type)
    means = X[rng.choice(len(X), K, replace=False)]
    return dict(
        weights_init=weights, means_init=means, precisions_init=precisions_from(covs, cov_type)
    )


def _fit(X, sw=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(**params).fit(X, sample_weight=sw)


def _assert_same(a, b, rtol=1e-7):
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(60, 2)) + c for c in ([0, 0], [5, 5], [0, 6])])
    sw = rng.integers(0, 4, size=len(X))
    return X, sw


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(data, cov_type):
    X, sw = data
    init = _fixed_init(np.random.default_rng(1), 3, 2, cov_type, X)
    params = dict(n_components=3, covariance_type=cov_type, tol=0, max_iter=8, **init)
    _assert_same(_fit(X, sw, **params), _fit(np.repeat(X, sw, axis=0), **params))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows_with_kmeans_init(data, cov_type):
    """Weighted k-means++ draws pick the same points as on the repeated rows."""
    X, sw = data
    params = dict(n_components=3, covariance_type=cov_type, random_state=0)
    _assert_same(_fit(X, sw, **params), _fit(np.repeat(X, sw, axis=0), **params), rtol=1e-6)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("max_iter", [0, 100])
def test_integer_weights_equal_repeated_rows_with_kmeans_plusplus(data, cov_type, max_iter):
    """A k-means++ seed of weight w starts its component as one row (one copy of
    the repeated row), not w: equal initial weights, the same fit."""
    X, sw = data
    params = dict(n_components=3, covariance_type=cov_type, init_params="k-means++",
                  max_iter=max_iter, random_state=0)
    _assert_same(_fit(X, sw, **params), _fit(np.repeat(X, sw, axis=0), **params), rtol=1e-6)


@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
def test_counts_without_a_one_still_fit_as_repeated_rows(data, cov_type):
    """Lightest count 2: the seeds' equal initial weights make the first E-step
    that of the repeated rows, so the fit is theirs (README: only max_iter=0's
    weights_ and 'tied' differ)."""
    X, sw = data
    sw = 2 * sw
    params = dict(n_components=3, covariance_type=cov_type, init_params="k-means++",
                  random_state=0)
    _assert_same(_fit(X, sw, **params), _fit(np.repeat(X, sw, axis=0), **params), rtol=1e-6)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_zero_weight_equals_removed_row(data, cov_type):
    X, sw = data
    sw = (sw > 0).astype(float)
    init = _fixed_init(np.random.default_rng(2), 3, 2, cov_type, X)
    params = dict(n_components=3, covariance_type=cov_type, tol=0, max_iter=8, **init)
    _assert_same(_fit(X, sw, **params), _fit(X[sw > 0], **params))


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("seed", range(4))
def test_zero_weight_rows_are_never_seeds(data, init_params, seed):
    """Seeds (and 'random' responsibilities) are drawn for the rows of positive
    weight only: the same model as with those rows removed, even for a far
    outlier that D^2 sampling would pick."""
    X, sw = data
    X = np.concatenate([X, [[1000.0, -1000.0]]]) + 100
    sw = np.concatenate([(sw > 0).astype(float), [0.0]])
    params = dict(n_components=3, random_state=seed, init_params=init_params)
    _assert_same(_fit(X, sw, **params), _fit(X[sw > 0], **params))


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("cov_type", ["full", "tied"])
@pytest.mark.parametrize("far", [1e12, 1e200])
def test_a_far_row_of_weight_zero_moves_nothing(data, init_params, cov_type, far):
    """The centre of the statistics and of k-means' tolerance is the weighted
    mean: a weight-0 row at 1e12 used to set it (k-means variances came out
    negative; fits raised 'ill-defined covariance' where the rows removed fit).
    At 1e200 its squared distances are inf: k-means++'s potential, its draws,
    Lloyd's sums and the variances used to take 0 * inf = NaN, and an empty
    cluster moved onto that row."""
    X, sw = data
    sw = (sw > 0).astype(float)
    Xz = np.concatenate([X[:40], [[far, -far]], X[40:]])
    swz = np.r_[sw[:40], 0.0, sw[40:]]
    for max_iter in (0, 100):
        params = dict(n_components=3, covariance_type=cov_type, init_params=init_params,
                      random_state=0, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            got = _fit(Xz, swz, **params)
        _assert_same(got, _fit(X[sw > 0], **params), rtol=1e-6)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_zero_potential_never_draws_a_row_of_weight_zero(init_params, dtype):
    """Fewer distinct points of positive weight than K: k-means++'s potential
    reaches 0, and its draw of 0 used to find the first row, of weight 0."""
    pos = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5, dtype=dtype)
    Xz = np.concatenate([np.array([[0.5, 0.3]], dtype=dtype), pos])
    swz = np.r_[0.0, np.ones(10)]
    params = dict(n_components=3, init_params=init_params, random_state=0, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means: fewer distinct clusters than K
        _assert_same(_fit(Xz, swz, **params), _fit(pos, **params))


def test_fewer_weighted_rows_than_components_raises(data):
    X, _ = data
    sw = np.zeros(len(X))
    sw[[3, 70]] = 1.0
    with pytest.raises(ValueError, match="n_components = 3, n_samples = 2 .*positive sample_weight"):
        GaussianMixture(3).fit(X, sample_weight=sw)
    GaussianMixture(2, max_iter=2).fit(X, sample_weight=sw)  # two rows, two components


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("max_iter", [0, 100])
def test_scaling_all_weights_changes_nothing(data, cov_type, init_params, max_iter):
    X, sw = data
    sw = sw + 0.5
    params = dict(n_components=3, covariance_type=cov_type, random_state=0,
                  init_params=init_params, max_iter=max_iter)
    _assert_same(_fit(X, sw, **params), _fit(X, sw * 7.25, **params), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("scale", [2.0**-1070, 2.0**-1000, 2.0**-60, 2.0**-48, 2.0**127, 2.0**1000])
def test_weights_of_any_scale_give_the_same_model(data, dtype, init_params, scale):
    """Tiny weights used to meet the M-step's absolute 10 eps guard (another
    model, or a false 'overflows' error for subnormal ones) and float32
    k-means' draw probabilities (NaN, or not summing to 1, for huge ones).
    Powers of two, so the model is the same bit for bit."""
    X, sw = data
    X = X.astype(dtype)
    sw = sw + 0.5
    params = dict(n_components=3, covariance_type="full", random_state=0,
                  init_params=init_params)
    _assert_same(_fit(X, sw, **params), _fit(X, sw * scale, **params), rtol=0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_one_heavy_weight_leaves_the_light_rows_their_precision(cov_type):
    """Scaling by the largest weight (a first version) made 1,000 rows of
    weight 1 next to one of 1e12 weigh 1e-12 each, and the 10 eps guard then
    moved their component's mean by 1.2 (a review's finding). Scaled by the
    smallest weight, they keep it, at any power-of-two scale of the weights."""
    rng = np.random.default_rng(0)
    A = 1e6 + 1e-3 * rng.normal(size=(1000, 2))
    X = np.vstack([A, [[0.0, 0.0]]])
    sw = np.r_[np.ones(1000), 1e12]
    params = dict(n_components=2, covariance_type=cov_type, means_init=[[1e6, 1e6], [0, 0]],
                  reg_covar=1e-6, random_state=0)
    gm = _fit(X, sw, **params)
    np.testing.assert_allclose(gm.means_[0], A.mean(axis=0), rtol=0, atol=1e-8)
    for scale in (2.0**-900, 2.0**-70, 2.0**70):
        _assert_same(gm, _fit(X, sw * scale, **params), rtol=0)


def test_unit_weights_equal_no_weights(data):
    X, _ = data
    a = _fit(X, np.ones(len(X)), n_components=3, random_state=0)
    b = _fit(X, None, n_components=3, random_state=0)
    _assert_same(a, b, rtol=1e-12)


def test_lower_bound_is_weighted_mean_loglik(data):
    X, sw = data
    sw = sw + 0.25
    rng = np.random.default_rng(3)
    init = _fixed_init(rng, 3, 2, "full", X)
    gm = _fit(X, sw, n_components=3, max_iter=1, tol=0, **init)
    U = np.stack([np.linalg.cholesky(p[::-1, ::-1])[::-1, ::-1] for p in init["precisions_init"]])
    wlp = naive.log_gaussian(X, init["means_init"], U, "full") + np.log(init["weights_init"])
    expected = np.average(logsumexp(wlp, axis=1), weights=sw)
    np.testing.assert_allclose(gm.lower_bounds_[0], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda n: -np.ones(n), "Negative values"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "finite"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "finite"),
        (lambda n: np.ones(n - 1), "shape"),
        (lambda n: np.zeros(n), "non-zero"),
        (lambda n: np.ones((n, 1)), "1D"),
        (lambda n: ["a"] * n, "numeric"),
        (lambda n: np.r_[np.ones(n - 1), 5j], "Complex"),  # not silently 0
        (lambda n: [1.0] * (n - 1) + [1j], "Complex"),
        (lambda n: 2 + 1j, "Complex"),
        (lambda n: np.complex128(1j), "Complex"),
        (lambda n: np.r_[1.0, np.zeros(n - 1)], "1 sample.*minimum of 2"),  # as X[:1]
    ],
)
def test_bad_sample_weight_raises(data, bad, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X, sample_weight=bad(len(X)))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit_predict(X, sample_weight=bad(len(X)))


def test_inputs_are_not_modified(data):
    X, sw = data
    X0, sw0 = X.copy(), sw.copy()
    X.setflags(write=False)
    labels = GaussianMixture(3, random_state=0).fit_predict(X, sample_weight=sw)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(sw, sw0)
    assert labels.shape == (len(X),)
