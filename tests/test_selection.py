"""select_model: same models as separate fits (bitwise), the table, the
criterion, seeds, sample weights, progress, argument errors."""

import math
import sys
import types
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import fastgmm
from fastgmm import GaussianMixture, SelectionResult, select_model
from fastgmm import _selection

COV = ("full", "tied", "diag", "spherical")
ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


@pytest.fixture(scope="module")
def X():
    X, _ = make_moons(120, noise=0.05, random_state=0)
    return X


def _recording_bic(store):
    """A callable criterion that keeps every fitted model's arrays."""

    def criterion(est, X):
        store[(est.n_components, est.covariance_type)] = {
            **{a: getattr(est, a).copy() for a in ARRAYS},
            "lower_bound_": est.lower_bound_,
            "n_iter_": est.n_iter_,
            "converged_": est.converged_,
        }
        return est.bic(X)

    return criterion


def _assert_same_model(fitted, separate):
    for name in ARRAYS:
        a, b = fitted[name], getattr(separate, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name
    assert fitted["lower_bound_"] == separate.lower_bound_
    assert fitted["n_iter_"] == separate.n_iter_
    assert fitted["converged_"] == separate.converged_


@pytest.mark.parametrize("n_init, n_jobs", [(1, 1), (2, 2)])
def test_every_fit_equals_the_separate_fit_bitwise(X, n_init, n_jobs):
    store = {}
    ks = [1, 2, 4]
    res = select_model(
        X, ks, COV, criterion=_recording_bic(store), n_init=n_init, random_state=3,
        max_iter=30, n_jobs=n_jobs,
    )
    assert len(res) == len(ks) * len(COV) == len(store)
    for i, row in enumerate(res.rows()):
        k, ct = row["n_components"], row["covariance_type"]
        gm = GaussianMixture(k, covariance_type=ct, random_state=3, n_init=n_init,
                             max_iter=30).fit(X)
        _assert_same_model(store[(k, ct)], gm)
        # the table's numbers are the estimator's own (not just close)
        assert row["bic"] == gm.bic(X)
        assert row["aic"] == gm.aic(X)
        assert row["score"] == gm.score(X)
        assert row["criterion"] == gm.bic(X)
        assert row["n_parameters"] == gm._n_parameters()
        assert row["n_iter"] == gm.n_iter_ and row["converged"] == gm.converged_
        assert row["seconds"] > 0
    best = res.best_estimator_
    assert type(best) is GaussianMixture
    assert best.random_state == 3 and best.n_init == n_init
    assert not hasattr(best, "_kmeans")  # the cache hook is removed after each fit
    assert not hasattr(best, "_validated")  # so is the mark that skips re-validation
    assert best.n_features_in_ == X.shape[1]
    ref = GaussianMixture(best.n_components, covariance_type=best.covariance_type,
                          random_state=3, n_init=n_init, max_iter=30).fit(X)
    _assert_same_model({**{a: getattr(best, a) for a in ARRAYS},
                        "lower_bound_": best.lower_bound_, "n_iter_": best.n_iter_,
                        "converged_": best.converged_}, ref)
    np.testing.assert_array_equal(best.predict(X), ref.predict(X))


def test_other_init_params_and_float32_are_also_identical(X):
    X32 = X.astype(np.float32)
    for init in ("random", "k-means++"):
        store = {}
        select_model(X32, [2, 3], ("full", "diag"), criterion=_recording_bic(store),
                     random_state=0, init_params=init, max_iter=20)
        for (k, ct), fitted in store.items():
            gm = GaussianMixture(k, covariance_type=ct, random_state=0, init_params=init,
                                 max_iter=20).fit(X32)
            _assert_same_model(fitted, gm)
            assert fitted["means_"].dtype == np.float32


def test_fits_on_the_validated_copy_equal_fits_on_the_raw_input():
    """select_model validates X once and its fits skip validation: integer,
    Fortran-ordered or list input gives the models a plain fit gives."""
    rng = np.random.RandomState(0)
    Xi = np.asfortranarray(rng.randint(-50, 50, size=(120, 3)))
    for data in (Xi, Xi.tolist()):
        store = {}
        select_model(data, [1, 3], ("full", "spherical"), criterion=_recording_bic(store),
                     random_state=1, max_iter=15)
        for (k, ct), fitted in store.items():
            gm = GaussianMixture(k, covariance_type=ct, random_state=1, max_iter=15).fit(data)
            _assert_same_model(fitted, gm)
            assert fitted["means_"].dtype == np.float64


def test_best_is_the_lowest_criterion_and_the_table(X):
    res = select_model(X, range(1, 7), ("full", "spherical"), random_state=0)
    assert isinstance(res, SelectionResult)
    t = res.table_
    assert list(t) == list(_selection.COLUMNS)
    assert t["n_components"].tolist() == [k for k in range(1, 7) for _ in range(2)]
    assert t["covariance_type"].tolist() == ["full", "spherical"] * 6
    i = int(np.argmin(t["bic"]))
    assert res.best_index_ == i
    assert res.best_score_ == t["bic"][i]
    assert res.best_params_ == {"n_components": int(t["n_components"][i]),
                                "covariance_type": t["covariance_type"][i]}
    assert res.best_estimator_.n_components == res.best_params_["n_components"]
    assert res.criterion == "bic" and res.random_state_ == 0
    rows = res.rows()
    assert len(rows) == 12 and isinstance(rows[0]["bic"], float)
    assert isinstance(rows[0]["converged"], bool)
    text = res.to_string()
    assert text.splitlines()[1 + i].startswith("*")
    assert "SelectionResult(criterion='bic', n_fits=12" in repr(res)
    # AIC picks its own minimum from the same fits
    res_aic = select_model(X, range(1, 7), ("full", "spherical"), criterion="AIC",
                           random_state=0)
    np.testing.assert_array_equal(res_aic.table_["aic"], t["aic"])
    assert res_aic.best_index_ == int(np.argmin(t["aic"]))


def test_to_frame(X):
    pd = pytest.importorskip("pandas")
    res = select_model(X, [1, 2], "diag", random_state=0)
    df = res.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(_selection.COLUMNS) and len(df) == 2
    assert df["n_components"].dtype == np.int64 and df["converged"].dtype == bool
    assert df["bic"].tolist() == res.table_["bic"].tolist()


def test_single_values_duplicates_and_ranges(X):
    res = select_model(X, 2, "tied", random_state=0)
    assert len(res) == 1 and res.best_params_ == {"n_components": 2,
                                                    "covariance_type": "tied"}
    res = select_model(X, np.array([2, 1, 2]), ["diag", "diag"], random_state=0)
    assert res.table_["n_components"].tolist() == [2, 1]
    res = select_model(X, range(3, 0, -2), "diag", random_state=0)
    assert res.table_["n_components"].tolist() == [3, 1]


def test_callable_criterion_nan_is_worst_and_ties_keep_the_first(X):
    def held_out(est, X_):
        return -est.score(X_[::2])

    res = select_model(X, [1, 2, 3], "full", criterion=held_out, random_state=0)
    assert res.criterion is held_out and res.criterion_name == "held_out"
    assert "criterion" in res.table_
    assert res.best_score_ == res.table_["criterion"].min()

    # called in the calling thread in grid order, also with several fits at once
    for n_jobs in (1, 2):
        seen = []
        values = iter([math.nan, 5.0, 5.0, 7.0])

        def scripted(est, X_):
            seen.append(est.n_components)
            return next(values)

        res = select_model(X, [1, 2, 3, 4], "diag", criterion=scripted, random_state=0,
                           n_jobs=n_jobs)
        assert seen == [1, 2, 3, 4]
        assert res.best_index_ == 1 and res.best_params_["n_components"] == 2
    with pytest.warns(RuntimeWarning, match="every grid point's <lambda> is NaN"):
        res = select_model(X, [1, 2], "diag", criterion=lambda e, X_: math.nan,
                           random_state=0)
    assert res.best_index_ == 0


def test_a_far_row_of_weight_zero_is_removed_from_the_table_too(X):
    # its log-density is -inf: the table must not take 0 * -inf (NaN everywhere)
    Xo = np.vstack([X, [[1e200, 0.0]]])
    w = np.ones(Xo.shape[0])
    w[-1] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = select_model(Xo, [1, 2, 3], "full", sample_weight=w, random_state=0)
    ref = select_model(X, [1, 2, 3], "full", random_state=0)
    for name in ("bic", "aic", "score"):
        np.testing.assert_allclose(res.table_[name], ref.table_[name], rtol=1e-12)
    assert res.best_index_ == ref.best_index_


def test_weights_scale_the_criteria_not_the_models(X):
    # subnormal weights: the score as accurate as with counts
    res = select_model(X, [2], "diag", sample_weight=np.full(X.shape[0], 2.0**-1070),
                       random_state=0)
    ref = select_model(X, [2], "diag", sample_weight=np.ones(X.shape[0]), random_state=0)
    assert res.table_["score"][0] == ref.table_["score"][0]
    with pytest.raises(ValueError, match="sample_weight sums to inf"):
        select_model(X, [2], "diag", sample_weight=np.full(X.shape[0], 1e307))


def test_random_state_none_and_instance_draw_one_seed(X):
    res = select_model(X, [1, 2], "full", random_state=np.random.RandomState(7))
    seed = np.random.RandomState(7).randint(np.iinfo(np.int32).max)
    assert res.random_state_ == seed and res.best_estimator_.random_state == seed
    again = select_model(X, [1, 2], "full", random_state=seed)
    np.testing.assert_array_equal(res.table_["bic"], again.table_["bic"])

    np.random.seed(11)
    res = select_model(X, [2], "full")
    np.random.seed(11)
    assert res.random_state_ == np.random.randint(np.iinfo(np.int32).max)
    assert isinstance(res.random_state_, int)
    assert select_model(X, [1], "full", random_state=True).random_state_ == 1  # as the estimator


def test_sample_weight_counts(X):
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, size=X.shape[0])
    w[:2] = 1
    store = {}
    res = select_model(X, [1, 3], ("full", "diag"), criterion=_recording_bic(store),
                       random_state=0, sample_weight=w)
    Xr = np.repeat(X, w, axis=0)
    for i, row in enumerate(res.rows()):
        k, ct = row["n_components"], row["covariance_type"]
        gm = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X, sample_weight=w)
        _assert_same_model(store[(k, ct)], gm)
        # weights are counts: the criteria of the repeated data
        np.testing.assert_allclose(row["bic"], gm.bic(Xr), rtol=1e-10)
        np.testing.assert_allclose(row["aic"], gm.aic(Xr), rtol=1e-10)
        np.testing.assert_allclose(row["score"], gm.score(Xr), rtol=1e-10)


def test_kmeans_is_shared_across_covariance_types(X, monkeypatch):
    calls = []
    real = _selection.kmeans_labels

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(_selection, "kmeans_labels", counting)
    select_model(X, [2, 3], COV, n_init=2, random_state=0, max_iter=5)
    assert sorted(calls) == [2, 2, 3, 3]  # once per (K, restart), not per type


def test_threads_plan(monkeypatch):
    import numba

    monkeypatch.setattr(numba, "get_num_threads", lambda: 8)
    plan = _selection._plan_threads
    small = np.zeros((200, 2))
    assert plan(small, range(1, 21), ["full"], None) == (1, 1)  # mostly Python: 1 at a time
    assert plan(small, range(1, 21), ["full"], 3) == (3, 1)
    digits = np.zeros((1797, 41))  # 8 chunks (small data: about 16 chunks of whole blocks)
    assert plan(digits, range(50, 201, 10), ["full"], None) == (1, 8)
    two_chunks = np.zeros((300, 41))
    assert plan(two_chunks, range(50, 201, 10), ["full"], None) == (4, 2)
    assert plan(two_chunks, [50, 60], ["full"], None) == (2, 2)  # no more than the Ks
    big = np.zeros((100 * 4096, 3))
    assert plan(big, range(1, 21), ["full"], None) == (1, 8)


def test_kmeans_warnings_are_emitted_for_every_fit():
    # 3 distinct points, K=4: k-means warns; each separate fit warns once
    Xd = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 5, axis=0)

    def kmeans_warnings(run):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
        return sum("distinct clusters" in str(w.message) for w in caught)

    for n_jobs in (1, 2):
        with_select = kmeans_warnings(
            lambda: select_model(Xd, [4, 5], ("full", "diag"), random_state=0, max_iter=3,
                                 reg_covar=1e-3, n_jobs=n_jobs)
        )

        def separate():
            for k in (4, 5):
                for ct in ("full", "diag"):
                    GaussianMixture(k, covariance_type=ct, random_state=0, max_iter=3,
                                    reg_covar=1e-3).fit(Xd)

        assert with_select == kmeans_warnings(separate) == 4


def test_convergence_warnings_pass_through(X):
    with pytest.warns(ConvergenceWarning):
        res = select_model(X, [3], "full", random_state=0, max_iter=1)
    assert not res.table_["converged"][0]


def test_dataframe_feature_names(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b"])
    res = select_model(df, [2], "full", random_state=0)
    ref = GaussianMixture(2, random_state=0).fit(df)
    best = res.best_estimator_
    assert list(best.feature_names_in_) == ["a", "b"] and best.n_features_in_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning
        np.testing.assert_array_equal(best.predict(df), ref.predict(df))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fit_error_names_the_grid_point(n_jobs):
    Xd = np.zeros((10, 2))
    Xd[5:] = 1.0
    with pytest.raises(ValueError, match="ill-defined") as info:
        select_model(Xd, [1, 2, 3], "full", random_state=0, reg_covar=0, n_jobs=n_jobs)
    if hasattr(info.value, "__notes__"):
        assert "n_components=1, covariance_type='full'" in info.value.__notes__[0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_components=[]), ValueError, "n_components is empty"),
        (dict(n_components=range(0)), ValueError, "n_components is empty"),
        (dict(n_components=[0, 1]), ValueError, "must be >= 1, got 0"),
        (dict(n_components=-2), ValueError, "must be >= 1"),
        (dict(n_components=121), ValueError, "<= n_samples = 120, got 121"),
        # checked by the ends, never listed (a MemoryError or GBs before)
        (dict(n_components=range(1, 10**12)), ValueError,
         "<= n_samples = 120, got 121 \\(the first such value in range\\(1, 1000000000000\\)\\)\\.$"),
        (dict(n_components=range(5, 10**12, 7)), ValueError, "<= n_samples = 120, got 124 \\(the"),
        (dict(n_components=range(10**12, 0, -1)), ValueError, "got 1000000000000"),
        (dict(n_components=range(-10**12, 5)), ValueError, "must be >= 1, got -1000000000000"),
        (dict(n_components=range(100, -10**12, -3)), ValueError, "must be >= 1, got -2 \\(the"),
        (dict(n_components=(k for k in [3, 200, 1.5])), ValueError, "got 200"),
        (dict(n_components=[1.5]), TypeError, "must contain ints"),
        (dict(n_components="3"), TypeError, "an int or an iterable"),
        (dict(n_components=[True]), TypeError, "must contain ints"),
        (dict(covariance_type=[]), ValueError, "covariance_type is empty"),
        (dict(covariance_type="ful"), ValueError, "Unknown covariance_type 'ful'"),
        (dict(covariance_type=("full", "other")), ValueError, "Unknown covariance_type"),
        (dict(criterion="loglik"), ValueError, "Unknown criterion 'loglik'"),
        (dict(criterion=None), ValueError, "Unknown criterion"),
        (dict(max_iter=-1), InvalidParameterError, "max_iter"),
        (dict(n_init=0), InvalidParameterError, "n_init"),
        (dict(tol="x"), InvalidParameterError, "tol"),
        (dict(init_params="bad"), InvalidParameterError, "init_params"),
        (dict(n_component=3), TypeError, "unexpected keyword"),
        (dict(random_state="seed"), InvalidParameterError, "random_state"),
        (dict(random_state=np.random.default_rng(0)), InvalidParameterError, "random_state"),
        (dict(sample_weight=-np.ones(120)), ValueError, "Negative"),
        (dict(sample_weight=np.ones(3)), ValueError, "sample_weight.shape"),
        (dict(n_jobs=0), ValueError, "n_jobs must be"),
        (dict(n_jobs=1.5), ValueError, "n_jobs must be"),
        (dict(n_jobs=True), ValueError, "n_jobs must be"),
    ],
)
def test_argument_errors_before_any_fit(X, monkeypatch, kwargs, error, match):
    def no_fit(*args, **kw):  # pragma: no cover - must not be reached
        raise AssertionError("fitted before the arguments were checked")

    monkeypatch.setattr(GaussianMixture, "fit", no_fit)
    kwargs.setdefault("n_components", [1, 2])
    with pytest.raises(error, match=match):
        select_model(X, **kwargs)


@pytest.mark.parametrize("cov_type", ["diag", "spherical", "full"])
@pytest.mark.parametrize("which", ["means_init", "precisions_init"])
def test_non_finite_init_arrays_are_refused_as_in_a_plain_fit(X, cov_type, which):
    # select_model fits under assume_finite=True (X is checked once), which
    # used to skip the *_init arrays' NaN/inf check: inf precisions gave a
    # degenerate "converged" model
    shape = {"diag": (2, 2), "spherical": (2,), "full": (2, 2, 2)}[cov_type]
    arrays = {"means_init": np.array([[0.0, 0.0], [1.0, 0.5]]),
              "precisions_init": np.ones(shape) if cov_type != "full"
              else np.stack([np.eye(2)] * 2)}
    arrays[which] = arrays[which].copy()
    arrays[which].flat[0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixture(2, covariance_type=cov_type, **arrays).fit(X)
    with pytest.raises(ValueError, match="infinity"):
        select_model(X, [2], cov_type, random_state=0, **arrays)


def test_bad_X():
    with pytest.raises(ValueError, match="NaN"):
        select_model(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), [1])
    with pytest.raises(ValueError, match="minimum of 2"):
        select_model(np.array([[1.0, 2.0]]), [1])


def test_progress_fallback_lines(X, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    select_model(X, [1, 2], ("full", "diag"), random_state=0, progress=True, n_jobs=2)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4
    assert err[0].startswith("select_model [1/4] K=1 full: bic=")
    assert err[3].startswith("select_model [4/4] K=2 diag: bic=")
    select_model(X, [1, 2], ("full", "diag"), random_state=0, progress=False)
    select_model(X, [1, 2], ("full", "diag"), random_state=0)  # stderr is not a tty
    assert capsys.readouterr().err == ""


def test_progress_uses_tqdm_when_installed(X, monkeypatch):
    events = []

    class FakeTqdm:
        def __init__(self, total, **kwargs):
            events.append(("total", total))

        def set_postfix_str(self, text, refresh=True):
            events.append(("postfix", text))

        def update(self, n):
            events.append(("update", n))

        def close(self):
            events.append(("close",))

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    select_model(X, [1, 2], "full", random_state=0, progress=True)
    assert events[0] == ("total", 2) and events[-1] == ("close",)
    assert events.count(("update", 1)) == 2
    assert ("postfix", events[1][1]) == events[1] and events[1][1].startswith("K=1 full bic=")


def test_exported():
    assert fastgmm.select_model is select_model
    assert "select_model" in fastgmm.__all__
