"""The compiled M-step (``_kernels.mstep`` and each type's ``update`` and
``kernel_const``) against the NumPy M-step of ``_stats`` and NumPy twins:
bitwise the same parameters, and the same fits."""

import os

import numpy as np
import pytest

from fastgmm import GaussianMixture
from fastgmm import _stats
from fastgmm._covariance import COVARIANCE_TYPES
from fastgmm._kernels.mstep import pairwise_sum
from fastgmm._stats import Params, em_step, estep_stats, kernel_args, mstep

from .conftest import COV_TYPES, random_params

F64 = np.dtype(np.float64)
FIT_ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_",
                  "precisions_", "lower_bound_", "n_iter_")


def test_pairwise_sum_rounds_as_numpy(rng):
    # up to 128 values: eight running sums; above: halves in multiples of 8
    for n in list(range(0, 140)) + [255, 256, 257, 1000, 1031]:
        a = rng.normal(size=n) * 10.0 ** rng.integers(-6, 6, size=n)
        assert pairwise_sum(a) == np.sum(a), n
        A = rng.normal(size=(2, n))  # np.sum(axis=1) of a row, as the M-step does
        assert pairwise_sum(A[1]) == np.sum(A, axis=1)[1], n
        # the sign of a zero sum too (NumPy adds the sum to 0.0)
        z = np.full(n, -0.0)
        assert np.signbit(pairwise_sum(z)) == np.signbit(np.sum(z)), n


def test_update_checks_finiteness_under_the_fastmath_opt_in():
    """FASTGMM_FASTMATH=1 compiles the kernels with fast-math, which assumes
    no inf or nan: the compiled M-step keeps IEEE arithmetic, so overflowed
    statistics still send the fit to the NumPy M-step and its error."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from fastgmm._covariance import COVARIANCE_TYPES as C; "
        "means = np.array([[0.0, 0.0], [1.0, 1.0]]); "
        "good = np.r_[[10.0, 10.0], np.zeros(4), np.full(4, 5.0), [0.0, 20.0, 0.0]]; "
        "out = []\n"
        "for bad in (np.inf, np.nan, -100.0):\n"
        "    t = good.copy(); t[6] = bad\n"
        "    out.append(C['diag'].kernels.update(t, means, means.mean(0), 1e-6)[0])\n"
        "print(C['diag'].kernels.update.py_func.__qualname__, *out)"
    )
    env = dict(os.environ, FASTGMM_FASTMATH="1", FASTGMM_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["update__fastmath", "False", "False", "False"]


def _statistics(rng, cov_type, n, d, K):
    """A statistics vector of a real E-step, and that step's parameters."""
    X = rng.normal(size=(n, d)) * 2
    X[: n // 2] += 3
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    params = Params(weights, means * 0.3, covs, U)
    ct = COVARIANCE_TYPES[cov_type]
    total, shift = estep_stats(ct, X, np.empty(0), params)
    return ct, X, params, total, shift


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("n, d, K", [(600, 1, 3), (600, 2, 5), (900, 9, 12), (700, 21, 2),
                                     (300, 130, 2), (3000, 3, 140)])
def test_update_is_bitwise_the_numpy_mstep(rng, cov_type, n, d, K):
    """d = 9 and 130: spherical's per-component sums in NumPy's pairwise
    order; K = 140: nk.sum() in halves; d = 21: the panel inverse Cholesky."""
    ct, X, params, total, shift = _statistics(rng, cov_type, n, d, K)
    means, _, _, center = kernel_args(ct, params)
    ok, w, m, cov, U, const, c = ct.kernels.update(total, means, center, 1e-3)
    assert ok
    want = mstep(ct, total, shift, 1e-3, F64)
    for got, ref in zip((w, m, cov, U), want.astuple()):
        assert got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)
    # the kernels' arguments given with them are those of the new parameters
    for got, ref in zip((m, U, const, c), kernel_args(ct, want)):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_update_declines_where_the_numpy_mstep_raises(rng, cov_type):
    """Each failure the NumPy M-step raises for gives ok=False (the caller
    runs it for its error); the NumPy M-step does raise on each."""
    ct, X, params, total, shift = _statistics(rng, cov_type, 400, 3, 2)
    means, _, _, center = kernel_args(ct, params)
    K, d = means.shape
    broken = {}
    t = total.copy()
    t[K + K * d] = np.inf  # a sum of squares overflowed
    broken["overflow"] = (t, 1e-3)
    t = total.copy()
    t[-1] = 2.0  # two rows of zero density under every component
    broken["unreachable"] = (t, 1e-3)
    t = total.copy()
    t[:K] = 0.0  # no responsibilities: nk = 10 eps, covariance of 0 / 10 eps
    t[K : K + K * d] = 1.0
    broken["not positive definite"] = (t, 1e-300)
    t = total.copy()
    t[K : K + K * d] = np.nan
    broken["nan"] = (t, 1e-3)
    for name, (t, reg) in broken.items():
        ok = ct.kernels.update(t, means, center, reg)[0]
        assert not ok, name
        with pytest.raises(ValueError):
            mstep(ct, t, shift, reg, F64)


def _naive_const(cov_type, weights, means, U):
    d = means.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if cov_type == "full":
            logdet = np.sum(np.log(np.diagonal(U, axis1=1, axis2=2)), axis=1)
        elif cov_type == "tied":
            logdet = np.sum(np.log(np.diag(U)))
        elif cov_type == "diag":
            logdet = np.sum(np.log(U), axis=1)
        else:
            logdet = d * np.log(U)
        const = np.log(weights) + logdet - 0.5 * d * np.log(2 * np.pi)
    return np.broadcast_to(const, weights.shape), weights @ means


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3, 20])
def test_kernel_const_matches_naive(rng, cov_type, d):
    K = 4
    weights, means, covs, U = random_params(rng, K, d, cov_type)
    weights[2] = 0.0  # an empty component: log 0 = -inf, never wins
    ct = COVARIANCE_TYPES[cov_type]
    _, _, const, center = kernel_args(ct, Params(weights, means, covs, U))
    want_const, want_center = _naive_const(cov_type, weights, means, U)
    np.testing.assert_allclose(const, want_const, rtol=1e-14)
    assert const[2] == -np.inf
    np.testing.assert_allclose(center, want_center, rtol=1e-13, atol=1e-14)
    # a weight that is not finite (a model set by hand): the centre is means[0]
    weights[1] = np.nan
    _, _, const, center = kernel_args(ct, Params(weights, means, covs, U))
    assert np.isnan(const[1]) and np.all(np.isfinite(const[[0, 3]]))
    np.testing.assert_array_equal(center, means[0])


def _fit(X, cov_type, **kw):
    return GaussianMixture(3, covariance_type=cov_type, random_state=0, **kw).fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fits_are_bitwise_those_of_the_numpy_mstep(rng, monkeypatch, cov_type, dtype):
    """A whole fit with the compiled M-step against the same fit with every
    M-step in NumPy (no factorisation counted small), with and without
    sample weights, two initialisations."""
    X = (rng.normal(size=(800, 4)) + np.repeat(np.eye(4)[:2] * 4, 400, axis=0)).astype(dtype)
    sw = rng.uniform(0.5, 2.0, size=800)
    calls = []
    real_mstep = _stats.mstep
    monkeypatch.setattr(_stats, "mstep", lambda *a, **k: calls.append(1) or real_mstep(*a, **k))

    def fits():
        return (_fit(X, cov_type, max_iter=30, tol=0, n_init=2),
                GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X, sample_weight=sw))

    fast = fits()
    assert calls == []  # every iteration took the compiled M-step
    monkeypatch.setattr(_stats, "PARALLEL_MIN_WORK", -1)
    slow = fits()
    assert len(calls) == 60 + slow[1].n_iter_
    for a, b in zip(fast, slow):
        for name in FIT_ATTRIBUTES:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_em_step_takes_the_numpy_mstep_where_it_must(rng, monkeypatch, cov_type):
    """reg_covar=0 (the collapse check) and large factorisations run the
    NumPy M-step."""
    ct, X, params, total, shift = _statistics(rng, cov_type, 400, 3, 2)
    calls = []
    real_mstep = _stats.mstep
    monkeypatch.setattr(_stats, "mstep", lambda *a, **k: calls.append(1) or real_mstep(*a, **k))
    em_step(ct, X, np.empty(0), params, 1e-6, F64)
    assert calls == []
    em_step(ct, X, np.empty(0), params, 0.0, F64)
    assert calls == [1]
    if ct.is_matrix:
        monkeypatch.setattr(_stats, "PARALLEL_MIN_WORK", ct.factor_work(2, 3))
        em_step(ct, X, np.empty(0), params, 1e-6, F64)
        assert calls == [1, 1]
