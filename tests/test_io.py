"""Model files (.npz, no pickle): round trip and refusal of other files."""

import json
import os
import struct
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_iris

from fastgmm import GaussianMixture
from fastgmm._io import ModelFileError, load_model, save_model

COV = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def iris():
    return load_iris().data


@pytest.mark.parametrize("cov", COV)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_predicts_identically(tmp_path, iris, cov, dtype):
    X = iris.astype(dtype)
    gm = GaussianMixture(3, covariance_type=cov, random_state=0, tol=1e-4).fit(X)
    path = save_model(gm, tmp_path / "model")
    assert path.endswith("model.npz")
    back = load_model(path)
    assert type(back) is GaussianMixture
    assert back.get_params() == gm.get_params()
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                 "precisions_"):
        a, b = getattr(gm, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.converged_ == gm.converged_ and back.n_iter_ == gm.n_iter_
    assert back.lower_bound_ == gm.lower_bound_
    assert type(back.lower_bound_) is type(gm.lower_bound_)
    assert back.lower_bounds_ == gm.lower_bounds_
    assert back.n_features_in_ == 4
    np.testing.assert_array_equal(back.predict(X), gm.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), gm.predict_proba(X))
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
    assert back.bic(X) == gm.bic(X) and back.aic(X) == gm.aic(X)
    np.testing.assert_array_equal(back.sample(7)[0], gm.sample(7)[0])


def test_feature_names_and_random_state_instance(tmp_path, iris):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(iris, columns=["a", "b", "c", "d"])
    gm = GaussianMixture(2, random_state=np.random.RandomState(0)).fit(df)
    back = load_model(save_model(gm, tmp_path / "m.npz"))
    assert list(back.feature_names_in_) == ["a", "b", "c", "d"]
    assert back.random_state is None  # a RandomState instance is not saved
    np.testing.assert_array_equal(back.predict(df), gm.predict(df))


def test_the_file_has_no_pickled_object(tmp_path, iris):
    gm = GaussianMixture(2, random_state=0).fit(iris)
    path = save_model(gm, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:  # would raise on object arrays
        assert str(z["format"]) == "fastgmm-model"
        assert json.loads(str(z["params"]))["n_components"] == 2


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    np.savez(dst, **data)
    return dst


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_max_iter_0_seed_models_round_trip(tmp_path, iris, init_params):
    # one seed row per component and no EM step: the weights sum to K/n
    from sklearn.mixture import GaussianMixture as SkGM

    for cls in (GaussianMixture, SkGM):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # not converged
            gm = cls(3, init_params=init_params, max_iter=0, random_state=0).fit(iris)
        assert gm.weights_.sum() < 0.1
        loaded = load_model(save_model(gm, tmp_path / "m.npz"))
        np.testing.assert_array_equal(loaded.weights_, gm.weights_)
        np.testing.assert_allclose(loaded.score_samples(iris), gm.score_samples(iris),
                                   rtol=1e-10)
    path = _rewrite(tmp_path / "m.npz", tmp_path / "heavy.npz", weights_=np.full(3, 0.5))
    with pytest.raises(ModelFileError, match="sum to at most 1"):
        load_model(path)


def test_refuses_other_files(tmp_path, iris):
    gm = GaussianMixture(2, random_state=0).fit(iris)
    good = save_model(gm, tmp_path / "m.npz")

    (tmp_path / "data.csv").write_text("1,2\n3,4\n")
    np.save(tmp_path / "a.npy", iris)
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with open(tmp_path / "pickled.npy", "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "broken.npz").write_bytes(open(good, "rb").read()[:100])
    cases = {
        "data.csv": "not a .npz archive",
        "a.npy": "a single .npy array",
        "other.npz": "no 'format' entry",
        "pickled.npy": "not a .npz archive",
        "broken.npz": "not a fastgmm model file",
    }
    for name, match in cases.items():
        with pytest.raises(ModelFileError, match=match):
            load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")

    bad = {
        "wrong_shape": dict(means_=np.zeros((3, 4))),
        "nan": dict(weights_=np.array([np.nan, 1.0])),
        "cov_shape": dict(covariances_=np.zeros((2, 4))),
        "type": dict(params=np.asarray(json.dumps({"covariance_type": "nope"}))),
        "param": dict(params=np.asarray(json.dumps({"covariance_type": "full",
                                                    "n_components": 2, "tol": -1}))),
        "no_weights": dict(weights_=None),
        "object": dict(format=np.asarray(["fastgmm-model", "x"])),
        "n_iter": dict(n_iter_=np.asarray(-5)),
        "lower_bound": dict(lower_bound_=np.asarray(np.nan)),
        "lower_bound_inf": dict(lower_bound_=np.asarray(np.inf)),
        "type_list": dict(params=np.asarray(json.dumps({"covariance_type": ["full"]}))),
        "params_missing": dict(params=np.asarray(json.dumps(
            {k: v for k, v in json.loads(str(np.load(good)["params"])).items()
             if k != "tol"}))),
        "version_0": dict(format_version=np.asarray(0)),
        "lower_bounds_2d": dict(lower_bounds_=np.zeros((2, 2))),
        "lower_bounds_nan": dict(lower_bounds_=np.array([1.0, np.nan])),
    }
    for name, change in bad.items():
        path = _rewrite(good, tmp_path / f"{name}.npz", **change)
        with pytest.raises(ModelFileError, match="not a fastgmm model file"):
            load_model(path)
    # zip members this zipfile cannot read: an unknown compression method
    # (NotImplementedError), the encrypted flag (RuntimeError)
    raw = open(good, "rb").read()
    for name, offset, value in (("method_99", 8, 99), ("encrypted", 6, 1)):
        blob = bytearray(raw)
        for sig, off in ((b"PK\x03\x04", offset), (b"PK\x01\x02", offset + 2)):
            i = blob.find(sig)  # the first member, local and central headers
            blob[i + off : i + off + 2] = struct.pack("<H", value)
        (tmp_path / f"{name}.npz").write_bytes(bytes(blob))
        with pytest.raises(ModelFileError, match="not a fastgmm model file"):
            load_model(tmp_path / f"{name}.npz")
    newer = _rewrite(good, tmp_path / "newer.npz", format_version=np.asarray(99))
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(newer)
    assert issubclass(ModelFileError, ValueError)
    assert zipfile.is_zipfile(good)


@pytest.mark.parametrize("cov", COV)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loads_sklearn_models_of_ill_conditioned_data(tmp_path, cov, dtype):
    """The value checks allow a fit's rounding: sklearn's tied covariance
    after cancellation (data far from the origin) is not even symmetric."""
    from sklearn.mixture import GaussianMixture as SkGM

    rng = np.random.default_rng(1)
    if dtype == np.float64:
        X = rng.normal(size=(400, 6)) @ np.diag([1e3, 1, 1e-2, 5, 1e-1, 1]) + 1e4
    else:  # what sklearn can fit in float32 at all
        X = rng.normal(size=(400, 6)) @ np.diag([30, 1, 0.1, 5, 0.3, 1]) + 50
    for G, reg in ((SkGM, 1e-9), (GaussianMixture, 1e-9), (SkGM, 1e-6)):
        gm = G(3, covariance_type=cov, reg_covar=reg, random_state=0, max_iter=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(X.astype(dtype))
        back = load_model(save_model(gm, tmp_path / "m.npz"))
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_array_equal(getattr(back, name), getattr(gm, name))


def _tampered(gm, cov):
    """Files no fit writes, each with the part of the message that names it."""
    U, C = gm.precisions_cholesky_, gm.covariances_
    cases = {
        "negative weight": (dict(weights_=gm.weights_ * [-1, 1, 1]), "weights_"),
        "weights sum to 2": (dict(weights_=gm.weights_ * 2), "sum to 2"),
        "negated factor": (dict(precisions_cholesky_=-U), "precisions_cholesky_"),
        "covariances doubled": (dict(covariances_=2 * C), "inverse"),
        "precisions halved": (dict(precisions_=gm.precisions_ / 2), "'precisions_'"),
    }
    if cov in ("full", "diag", "spherical"):  # components' covariances swapped
        cases["swapped components"] = (dict(covariances_=C[[1, 0, 2]]), "inverse")
    if cov in ("full", "tied"):
        cases["lower factor"] = (
            dict(precisions_cholesky_=np.swapaxes(U, -1, -2)), "upper triangular")
        d = C.shape[-1]  # flat index d: entry (1, 0) of the first matrix
        cases["covariances one entry off"] = (
            dict(covariances_=C + 1e-3 * (np.arange(C.size).reshape(C.shape) == d)),
            "inverse|symmetric")
        cases["upper triangle off"] = (  # sample() reads both triangles
            dict(covariances_=C + 0.5 * (np.arange(C.size).reshape(C.shape) == 1)),
            "not symmetric")
    return cases


@pytest.mark.parametrize("cov", COV)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_refuses_values_no_fit_writes(tmp_path, iris, cov, dtype):
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(iris.astype(dtype))
    good = save_model(gm, tmp_path / "m.npz")
    for name, (change, match) in _tampered(gm, cov).items():
        path = _rewrite(good, tmp_path / "bad.npz", **change)
        with pytest.raises(ModelFileError, match=match):
            load_model(path)
            pytest.fail(name)
    strings = _rewrite(good, tmp_path / "bad.npz", lower_bounds_=np.array(["a", "b"]))
    with pytest.raises(ModelFileError, match="lower_bounds_"):
        load_model(strings)


@pytest.mark.parametrize("saved, read", [("tied", "diag"), ("diag", "tied")])
def test_refuses_tied_and_diag_arrays_swapped(tmp_path, saved, read):
    """K == d: a tied model's (d, d) arrays have a diag model's (K, d) shape."""
    X = np.random.default_rng(0).normal(size=(200, 3))
    gm = GaussianMixture(3, covariance_type=saved, random_state=0).fit(X)
    params = json.loads(json.dumps(gm.get_params() | {"covariance_type": read}))
    path = _rewrite(save_model(gm, tmp_path / "m.npz"), tmp_path / "swap.npz",
                    params=np.asarray(json.dumps(params)))
    with pytest.raises(ModelFileError, match="precisions_cholesky_"):
        load_model(path)



def test_save_to_a_directory_name_is_refused(tmp_path, iris, monkeypatch):
    """'.', '..' and 'dir/' would become the hidden files '..npz', '...npz'
    and 'dir/.npz'; a plain name that happens to be a directory still gets
    its '.npz' (NumPy's rule), beside the directory."""
    gm = GaussianMixture(2, random_state=0).fit(iris)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for name in (".", "..", "models/", str(tmp_path) + os.sep, "models/.."):
        with pytest.raises(ValueError, match="names a directory"):
            save_model(gm, name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]
    assert list((tmp_path / "models").iterdir()) == []
    assert save_model(gm, "models") == "models.npz"
    assert load_model("models.npz").n_components == 2


@pytest.mark.parametrize("cov", COV)
def test_save_refuses_what_load_would_refuse(tmp_path, iris, cov):
    """A model whose arrays were changed by hand is refused when saved, not
    written as a file that load_model then refuses."""
    import copy

    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(iris)
    for name, (change, match) in _tampered(gm, cov).items():
        bad = copy.deepcopy(gm)
        for attr, value in change.items():
            setattr(bad, attr, value)
        if name == "lower factor":  # saved as its upper twin, whose product is not P
            match = "'precisions_'"
        with pytest.raises(ValueError, match=f"cannot save.*({match})"):
            save_model(bad, tmp_path / "bad.npz")
            pytest.fail(name)
    assert not (tmp_path / "bad.npz").exists()
    bad = copy.deepcopy(gm)
    bad.means_ = bad.means_.astype(np.float16)
    with pytest.raises(ValueError, match="cannot save.*'means_' has dtype float16"):
        save_model(bad, tmp_path / "bad.npz")
    bad.means_ = gm.means_[:2]
    with pytest.raises(ValueError, match="cannot save.*'means_' has shape"):
        save_model(bad, tmp_path / "bad.npz")


@pytest.mark.parametrize("cov", ["full", "tied"])
def test_hand_set_lower_factor_saves_as_its_upper_twin(tmp_path, iris, cov):
    """np.linalg.cholesky(precisions_) is how a model is often built by hand:
    it predicts (through the upper factor of the same precisions), and its file
    loads and predicts the same."""
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(iris)
    gm.precisions_cholesky_ = np.linalg.cholesky(gm.precisions_)
    expected = gm.predict_proba(iris), gm.score_samples(iris)
    back = load_model(save_model(gm, tmp_path / "m.npz"))
    U = back.precisions_cholesky_
    assert not np.any(np.tril(U, -1))
    np.testing.assert_allclose(U @ np.swapaxes(U, -1, -2), gm.precisions_, rtol=1e-12,
                               atol=1e-12 * np.abs(gm.precisions_).max())
    np.testing.assert_allclose(back.predict_proba(iris), expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back.score_samples(iris), expected[1], rtol=1e-12)
    assert np.any(np.tril(gm.precisions_cholesky_, -1))  # the model's own attribute kept
