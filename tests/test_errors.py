"""Errors and warnings: same exception types and messages as scikit-learn."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGM

from fastgmm import GaussianMixture

from .conftest import COV_TYPES

rng = np.random.RandomState(0)
X3 = rng.normal(size=(20, 3))


def same_error(action, **params):
    """Run ``action(estimator)`` on both; assert same exception type and text."""
    caught = []
    for cls in (SkGM, GaussianMixture):
        est = cls(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(Exception) as info:
                action(est)
        caught.append(info)
    theirs, ours = caught
    assert type(ours.value) is type(theirs.value), (ours.value, theirs.value)
    assert _sets_sorted(str(ours.value)) == _sets_sorted(str(theirs.value))
    return ours.value


def _sets_sorted(message):
    """The message with the items of each ``{...}`` sorted: a set of options
    prints in its iteration order, which for a set literal follows the hash
    seed of the process that compiled the module (sklearn's .pyc, not ours)."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}",
                  message)


def fitted(cls, X=X3, **params):
    return cls(**params).fit(X)


@pytest.mark.parametrize(
    "X",
    [
        np.array([[1.0, 2.0, 3.0]]),  # one sample
        np.empty((0, 3)),  # no samples
        np.empty((10, 0)),  # no features
        np.array([[np.nan, 1.0], [1.0, 2.0]]),
        np.array([[np.inf, 1.0], [1.0, 2.0]]),
        np.arange(5.0),  # 1-D
        np.ones((3, 2, 2)),  # 3-D
        sp.csr_matrix(np.ones((5, 2))),
        np.array([["a", "b"], ["c", "d"]], dtype=object),
        np.array([[1 + 2j, 1.0], [1.0, 2.0], [3.0, 1.0]]),
        np.array([[object(), 1.0], [1.0, 2.0]], dtype=object),
    ],
    ids=["one-row", "empty", "no-features", "nan", "inf", "1d", "3d", "sparse", "strings",
         "complex", "objects"],
)
def test_bad_X_in_fit(X):
    same_error(lambda est: est.fit(X), n_components=1)


def test_fewer_samples_than_components():
    err = same_error(lambda est: est.fit(X3[:3]), n_components=5)
    assert "n_components = 5, n_samples = 3" in str(err)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
@pytest.mark.parametrize(
    "X",
    [
        X3[:, :2],
        np.empty((0, 3)),
        np.array([[np.nan, 1.0, 2.0]]),
        np.arange(3.0),
    ],
    ids=["n-features", "no-rows", "nan", "1d"],
)
def test_bad_X_at_predict(method, X):
    def action(est):
        est.fit(X3)
        getattr(est, method)(X)

    same_error(action, n_components=2, random_state=0)


@pytest.mark.parametrize(
    "method, args",
    [
        ("predict", (X3,)),
        ("predict_proba", (X3,)),
        ("score", (X3,)),
        ("score_samples", (X3,)),
        ("sample", (0,)),
        ("bic", (X3,)),
        ("aic", (X3,)),
    ],
)
def test_not_fitted(method, args):
    err = same_error(lambda est: getattr(est, method)(*args), n_components=2)
    assert isinstance(err, NotFittedError)


def test_sample_zero():
    def action(est):
        est.fit(X3)
        est.sample(0)

    err = same_error(action, n_components=2, random_state=0)
    assert "'n_samples': 2 ." in str(err)  # sklearn prints n_components here


@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=0),
        dict(n_components=2.0),
        dict(covariance_type="foo"),
        dict(tol=-1),
        dict(reg_covar=-1e-3),
        dict(max_iter=-1),
        dict(n_init=0),
        dict(init_params="bar"),
        dict(warm_start="yes"),
        dict(random_state=np.random.default_rng(0)),
        dict(weights_init="abc"),
        dict(verbose_interval=0),
    ],
)
def test_invalid_parameters(params):
    err = same_error(lambda est: est.fit(X3), **params)
    assert isinstance(err, ValueError) and isinstance(err, TypeError)


def _described(constraints):
    """Each parameter's constraints as text (StrOptions' sets sorted)."""
    def text(c):
        if hasattr(c, "options"):
            return f"{type(c).__name__}{sorted(c.options)}"
        return str(c)

    return {name: sorted(map(text, cs)) for name, cs in constraints.items()}


def test_parameter_constraints_are_sklearns():
    """Written out (importing sklearn.mixture costs start-up time), and the
    same as scikit-learn's."""
    assert _described(GaussianMixture._parameter_constraints) == _described(
        SkGM._parameter_constraints
    )


def test_import_does_not_load_sklearn_mixture():
    import subprocess
    import sys

    code = "import sys, fastgmm; print('sklearn.mixture' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=2, weights_init=[[0.5], [0.5]]),
        dict(n_components=2, weights_init=[1.5, -0.5]),
        dict(n_components=2, weights_init=[0.3, 0.3]),
        dict(n_components=2, means_init=np.zeros((3, 3))),
        dict(n_components=2, precisions_init=np.ones((2, 3))),
        dict(n_components=2, precisions_init=-np.stack([np.eye(3)] * 2)),
        dict(n_components=2, covariance_type="tied", precisions_init=np.ones((3, 3)) * 5),
        dict(n_components=2, covariance_type="diag", precisions_init=-np.ones((2, 3))),
        dict(n_components=2, covariance_type="spherical", precisions_init=np.array([1.0, 0.0])),
        dict(n_components=2, covariance_type="spherical", precisions_init=np.ones((2, 3))),
    ],
)
def test_bad_initial_parameters(params):
    same_error(lambda est: est.fit(X3), **params)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ill_defined_covariance(cov_type, dtype):
    # all rows at the origin: every covariance estimate is exactly zero
    X = np.zeros((10, 2), dtype=dtype)
    err = same_error(lambda est: est.fit(X), n_components=1, covariance_type=cov_type, reg_covar=0)
    assert str(err).startswith("Fitting the mixture model failed")
    assert ("float64 data instead of float32" in str(err)) == (dtype == np.float32)


def test_x_without_shape_for_bic_raises_attribute_error():
    def action(est):
        est.fit(X3)
        est.bic(X3.tolist())

    same_error(action, n_components=2, random_state=0)


def test_duplicate_points_warn_like_kmeans():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 5, axis=0)
    for cls in (SkGM, GaussianMixture):
        with pytest.warns(Warning, match=re.escape("Number of distinct clusters (2) found smaller than n_clusters (3)")):
            cls(3, random_state=0, reg_covar=1e-3).fit(X)
