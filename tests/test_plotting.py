"""fastgmm.plotting: the artists drawn and their geometry, rendered with Agg."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

from fastgmm import GaussianMixture  # noqa: E402
from fastgmm import plotting  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _data(d=2, n=150, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4, size=(3, d))
    A = rng.normal(size=(d, d))
    X = np.concatenate([c + rng.normal(size=(n // 3, d)) @ A for c in centres])
    return X


@pytest.fixture(scope="module")
def models():
    """Fitted models keyed by (library, covariance type, n_features)."""
    out = {}
    for d in (2, 4):
        X = _data(d)
        for cov in COV_TYPES:
            out["fastgmm", cov, d] = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
            out["sklearn", cov, d] = SkGaussianMixture(
                3, covariance_type=cov, random_state=0).fit(X)
    return out


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _full_cov(gm):
    K, d = gm.means_.shape
    c = np.asarray(gm.covariances_)
    return {
        "full": lambda: c,
        "tied": lambda: np.repeat(c[None], K, axis=0),
        "diag": lambda: np.stack([np.diag(v) for v in c]),
        "spherical": lambda: np.stack([v * np.eye(d) for v in c]),
    }[gm.covariance_type]()


def _ellipse_cov(e, n_sigma):
    """The covariance whose n_sigma ellipse is the patch e."""
    theta = np.radians(e.angle)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    sd = np.array([e.width, e.height]) / (2 * n_sigma)
    return R @ np.diag(sd**2) @ R.T


def _check_ellipses(ax, means2, covs2, sigmas):
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == len(means2) * len(sigmas)
    it = iter(ellipses)
    for k, (mean, cov) in enumerate(zip(means2, covs2)):
        evals, evecs = np.linalg.eigh(cov)
        major = evecs[:, 1]
        for s in sigmas:
            e = next(it)
            assert e.get_gid() == f"component-{k}-sigma-{s:g}"
            np.testing.assert_allclose(e.center, mean, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(e.width, 2 * s * np.sqrt(evals[1]), rtol=1e-8)
            np.testing.assert_allclose(e.height, 2 * s * np.sqrt(evals[0]), rtol=1e-8)
            np.testing.assert_allclose(_ellipse_cov(e, s), cov, rtol=1e-7, atol=1e-10)
            if evals[1] > evals[0] * (1 + 1e-6):  # the major axis is defined
                t = np.radians(e.angle)
                # the ellipse's width runs along the major eigenvector (up to sign)
                assert abs(abs(np.dot([np.cos(t), np.sin(t)], major)) - 1) < 1e-8
                assert -90 < e.angle <= 90
    return ellipses


def _save_png(fig, tmp_path, name="plot.png"):
    path = tmp_path / name
    fig.savefig(path, dpi=40)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 500
    return path


# --------------------------------------------------------------------------
# import behaviour
# --------------------------------------------------------------------------


def test_matplotlib_is_optional():
    """Importing fastgmm does not import matplotlib; fastgmm.plotting without
    matplotlib raises an ImportError that says how to install it (one
    subprocess for both: importing fastgmm takes a while)."""
    code = (
        "import sys\n"
        "import fastgmm\n"
        "assert 'matplotlib' not in sys.modules, 'importing fastgmm imported matplotlib'\n"
        "sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` fail
        "try:\n"
        "    import fastgmm.plotting\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('fastgmm.plotting imported without matplotlib')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install fastgmm[plot]" in out.stdout


# --------------------------------------------------------------------------
# plot_gmm / plot_ellipses
# --------------------------------------------------------------------------


@pytest.mark.parametrize("lib", ["fastgmm", "sklearn"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_plot_gmm_2d(models, lib, cov, tmp_path):
    gm = models[lib, cov, 2]
    X = _data(2)
    fig, ax = plt.subplots()
    assert plotting.plot_gmm(gm, X, ax=ax) is ax
    _check_ellipses(ax, gm.means_, _full_cov(gm), (1, 2, 3))

    (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert scatter.get_gid() == "data"
    np.testing.assert_allclose(scatter.get_offsets(), X)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(scatter.get_sizes(), 40 * proba.max(axis=1) ** 2)
    np.testing.assert_array_equal(scatter.get_array(), gm.predict(X))
    # ellipse opacity follows the weights, the heaviest at alpha
    alphas = [p.get_alpha() for p in ax.patches[::3]]
    np.testing.assert_allclose(alphas, 0.2 * gm.weights_ / gm.weights_.max())
    _save_png(fig, tmp_path)


def test_plot_gmm_options(models, tmp_path):
    gm = models["fastgmm", "full", 2]
    X = _data(2)
    fig, (a1, a2, a3) = plt.subplots(1, 3)
    plotting.plot_gmm(gm, X, ax=a1, n_sigma=2)
    _check_ellipses(a1, gm.means_, gm.covariances_, (1, 2))
    plotting.plot_gmm(gm, X, ax=a2, n_sigma=(0.5, 1.5), label=False)
    _check_ellipses(a2, gm.means_, gm.covariances_, (0.5, 1.5))
    (scatter,) = a2.collections
    assert scatter.get_array() is None  # one colour, no labels
    np.testing.assert_allclose(scatter.get_sizes(), [40])
    plotting.plot_gmm(gm, X, ax=a3, size=10, size_by_certainty=False)
    np.testing.assert_allclose(a3.collections[0].get_sizes(), [10])
    _save_png(fig, tmp_path)


def test_plot_ellipses_uses_current_axes(models):
    gm = models["sklearn", "tied", 2]
    plt.figure()
    ax = plotting.plot_ellipses(gm, n_sigma=1)
    assert ax is plt.gca()
    _check_ellipses(ax, gm.means_, _full_cov(gm), (1,))


@pytest.mark.parametrize("lib", ["fastgmm", "sklearn"])
@pytest.mark.parametrize("cov", COV_TYPES)
def test_projected_ellipses(models, lib, cov, tmp_path):
    gm = models[lib, cov, 4]
    X = _data(4)
    covs = _full_cov(gm)
    P = np.random.default_rng(1).normal(size=(4, 2))
    fig, (a1, a2) = plt.subplots(1, 2)

    plotting.plot_gmm(gm, X, ax=a1, projection=P)
    _check_ellipses(a1, gm.means_ @ P, np.einsum("ia,kij,jb->kab", P, covs, P), (1, 2, 3))
    np.testing.assert_allclose(a1.collections[0].get_offsets(), X @ P)

    plotting.plot_gmm(gm, X, ax=a2, dims=(3, 1))
    _check_ellipses(a2, gm.means_[:, [3, 1]], covs[:, [3, 1]][:, :, [3, 1]], (1, 2, 3))
    np.testing.assert_allclose(a2.collections[0].get_offsets(), X[:, [3, 1]])
    _save_png(fig, tmp_path)


def test_projection_by_pca(models):
    gm = models["fastgmm", "full", 4]
    X = _data(4)
    for whiten in (False, True):
        pca = PCA(3, whiten=whiten).fit(X)
        fig, ax = plt.subplots()
        plotting.plot_gmm(gm, X, ax=ax, projection=pca)
        np.testing.assert_allclose(ax.collections[0].get_offsets(), pca.transform(X)[:, :2],
                                   atol=1e-10)
        Z = pca.transform(gm.means_)[:, :2]
        # whitened PCA: y = (x - m) V^T / s, a linear map P = V^T / s
        P = pca.components_[:2].T
        if whiten:
            P = P / np.sqrt(pca.explained_variance_[:2])
        covs2 = np.einsum("ia,kij,jb->kab", P, gm.covariances_, P)
        _check_ellipses(ax, Z, covs2, (1, 2, 3))


def test_bad_arguments(models):
    gm = models["fastgmm", "diag", 4]
    X = _data(4)
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_gmm(gm, X, projection=np.ones((3, 2)))
    with pytest.raises(ValueError, match="either dims or projection"):
        plotting.plot_ellipses(gm, dims=(0, 1), projection=np.ones((4, 2)))
    with pytest.raises(ValueError, match="out of range"):
        plotting.plot_ellipses(gm, dims=(0, 4))
    with pytest.raises(ValueError, match="two different features"):
        plotting.plot_ellipses(gm, dims=(1, -3))
    with pytest.raises(ValueError, match="n_samples, 4"):
        plotting.plot_gmm(gm, X[:, :2])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plotting.plot_gmm(GaussianMixture(2), X)


def test_dataframe_input(models):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_data(2), columns=["a", "b"])
    gm = SkGaussianMixture(2, random_state=0).fit(X)
    fig, ax = plt.subplots()
    plotting.plot_gmm(gm, X, ax=ax)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), X.to_numpy())


# --------------------------------------------------------------------------
# density
# --------------------------------------------------------------------------


def _mixture_logpdf(weights, means, covs, points):
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    comps = [np.log(w) + multivariate_normal(m, c).logpdf(points)
             for w, m, c in zip(weights, means, covs)]
    return logsumexp(np.stack(comps, axis=1), axis=1)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_density_2d(models, cov, tmp_path):
    gm = models["fastgmm", cov, 2]
    X = _data(2)
    xx, yy, z = plotting.density_grid(gm, X, grid_size=40)
    assert xx.shape == yy.shape == z.shape == (40, 40)
    # the grid spans the data's range
    assert xx.min() < X[:, 0].min() and xx.max() > X[:, 0].max()
    assert yy.min() < X[:, 1].min() and yy.max() > X[:, 1].max()
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    np.testing.assert_allclose(z.ravel(), gm.score_samples(pts), rtol=1e-10)
    expected = _mixture_logpdf(gm.weights_, gm.means_, _full_cov(gm), pts)
    np.testing.assert_allclose(z.ravel(), expected, rtol=1e-8)

    fig, (a1, a2) = plt.subplots(1, 2)
    plotting.plot_density(gm, X, ax=a1, grid_size=40, levels=7)
    (cs,) = [c for c in a1.collections if isinstance(c, ContourSet)]
    assert len(cs.levels) == 7
    assert z.max() - 10 <= cs.levels.min() and cs.levels.max() <= z.max()
    (data,) = [c for c in a1.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(data.get_offsets(), X)

    plotting.plot_density(gm, ax=a2, grid_size=30, log=False, filled=True,
                          levels=[0.001, 0.01, 0.05])
    (cs,) = [c for c in a2.collections if isinstance(c, ContourSet)]
    assert cs.filled
    np.testing.assert_allclose(cs.levels, [0.001, 0.01, 0.05])
    _save_png(fig, tmp_path)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_density_projected(models, cov, tmp_path):
    gm = models["sklearn", cov, 4]
    X = _data(4)
    covs = _full_cov(gm)
    xx, yy, z = plotting.density_grid(gm, X, dims=(2, 0), grid_size=30)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    sub = [2, 0]
    expected = _mixture_logpdf(gm.weights_, gm.means_[:, sub], covs[:, sub][:, :, sub], pts)
    np.testing.assert_allclose(z.ravel(), expected, rtol=1e-8)

    P = np.random.default_rng(3).normal(size=(4, 2))
    xx, yy, z = plotting.density_grid(gm, X, projection=P, grid_size=30)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    covs2 = np.einsum("ia,kij,jb->kab", P, covs, P)
    expected = _mixture_logpdf(gm.weights_, gm.means_ @ P, covs2, pts)
    np.testing.assert_allclose(z.ravel(), expected, rtol=1e-8)

    fig, ax = plt.subplots()
    plotting.plot_density(gm, X, ax=ax, projection=P, grid_size=30)
    assert any(isinstance(c, ContourSet) for c in ax.collections)
    _save_png(fig, tmp_path)


# --------------------------------------------------------------------------
# information criteria
# --------------------------------------------------------------------------


def _line(ax, gid):
    (line,) = [ln for ln in ax.lines if ln.get_gid() == gid]
    return line


def test_criterion_from_arrays(tmp_path):
    ks = np.arange(1, 9)
    bic = np.array([50.0, 30, 21, 20.5, 22, 25, 29, 33])
    aic = np.array([48.0, 27, 17, 15, 14, 14.5, 16, 18])
    fig, ax = plt.subplots()
    assert plotting.plot_criterion(ks, bic, aic, ax=ax) is ax
    np.testing.assert_array_equal(_line(ax, "bic").get_xdata(), ks)
    np.testing.assert_array_equal(_line(ax, "bic").get_ydata(), bic)
    np.testing.assert_array_equal(_line(ax, "aic").get_ydata(), aic)
    np.testing.assert_array_equal(_line(ax, "bic-min").get_xydata(), [[4, 20.5]])
    np.testing.assert_array_equal(_line(ax, "aic-min").get_xydata(), [[5, 14]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["BIC (min at K=4)", "AIC (min at K=5)"]
    assert ax.get_xlabel() == "n_components"
    _save_png(fig, tmp_path)


def test_criterion_mapping_nan_and_no_marker():
    ks = [2, 4, 6]
    fig, ax = plt.subplots()
    plotting.plot_criterion(ks, {"score": [3.0, np.nan, 1.0]}, ax=ax)
    np.testing.assert_array_equal(_line(ax, "score-min").get_xydata(), [[6, 1.0]])
    fig, ax = plt.subplots()
    plotting.plot_criterion(ks, aic=[3, 2, 1], ax=ax, mark_min=False)
    assert [ln.get_gid() for ln in ax.lines] == ["aic"]
    with pytest.raises(ValueError, match="values"):
        plotting.plot_criterion(ks, [1, 2])
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_criterion(ks)


class _Result:
    """Stand-in for fastgmm.select_model's result: a per-fit table."""

    def __init__(self, table):
        self.table_ = table
        self.best_estimator_ = None


def test_criterion_from_result_object():
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({
        "n_components": [3, 1, 2, 1, 2, 3],
        "covariance_type": ["full", "full", "full", "diag", "diag", "diag"],
        "bic": [9.0, 12, 8, 20, 15, 16],
        "aic": [7.0, 11, 6.5, 19, 13, 12],
    })
    # one covariance type: plain BIC / AIC curves, sorted by K
    plt.figure()
    ax = plotting.plot_criterion(_Result(table[table.covariance_type == "full"]))
    assert ax is plt.gca()
    np.testing.assert_array_equal(_line(ax, "bic").get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(_line(ax, "bic").get_ydata(), [12, 8, 9])
    np.testing.assert_array_equal(_line(ax, "bic-min").get_xydata(), [[2, 8]])

    # several covariance types: one curve per type and criterion; a DataFrame
    # or a to_frame() object works too
    class WithFrame:
        best_estimator_ = None

        def to_frame(self):
            return table

    for obj in (_Result(table), WithFrame(), table):
        fig, ax = plt.subplots()
        plotting.plot_criterion(obj, ax=ax, criteria=["bic"])
        assert sorted(ln.get_gid() for ln in ax.lines) == [
            "bic (diag)", "bic (diag)-min", "bic (full)", "bic (full)-min"]
        np.testing.assert_array_equal(_line(ax, "bic (diag)").get_ydata(), [20, 15, 16])
        np.testing.assert_array_equal(_line(ax, "bic (diag)-min").get_xydata(), [[2, 15]])

    # a plain dict table
    fig, ax = plt.subplots()
    plotting.plot_criterion(_Result({"n_components": [1, 2], "aic": [2.0, 1.0]}), ax=ax)
    np.testing.assert_array_equal(_line(ax, "aic-min").get_xydata(), [[2, 1]])


def test_criterion_from_real_fits(tmp_path):
    X = _data(2)
    ks = np.arange(1, 6)
    fits = [SkGaussianMixture(k, random_state=0).fit(X) for k in ks]
    bic = [m.bic(X) for m in fits]
    aic = [m.aic(X) for m in fits]
    fig, ax = plt.subplots()
    plotting.plot_criterion(ks, bic, aic, ax=ax)
    np.testing.assert_array_equal(_line(ax, "bic-min").get_xdata(), [ks[np.argmin(bic)]])
    np.testing.assert_array_equal(_line(ax, "aic-min").get_ydata(), [np.min(aic)])
    _save_png(fig, tmp_path)


def test_criterion_from_select_model(tmp_path):
    import fastgmm

    if not hasattr(fastgmm, "select_model"):
        pytest.skip("fastgmm.select_model is not available")
    X = _data(2)
    result = fastgmm.select_model(X, n_components=[1, 2, 3, 4], covariance_type="full",
                                  random_state=0)
    fig, ax = plt.subplots()
    plotting.plot_criterion(result, ax=ax)
    bic = [GaussianMixture(k, random_state=0).fit(X).bic(X) for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(_line(ax, "bic").get_ydata(), bic, rtol=1e-9)
    np.testing.assert_array_equal(_line(ax, "bic").get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(_line(ax, "bic-min").get_xdata(), [1 + int(np.argmin(bic))])
    _save_png(fig, tmp_path)


# --------------------------------------------------------------------------
# image grid
# --------------------------------------------------------------------------


def test_image_grid_flat_digits(tmp_path):
    images = np.random.default_rng(0).uniform(0, 16, size=(23, 64))
    fig = plotting.plot_image_grid(images, n_cols=10, vmin=0, vmax=16)
    assert len(fig.axes) == 30
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 23
    for ax, img in zip(shown, images):
        (im,) = ax.images
        assert isinstance(im, AxesImage)
        np.testing.assert_array_equal(im.get_array(), img.reshape(8, 8))
        assert im.get_clim() == (0, 16)
    assert all(not ax.axison for ax in fig.axes[23:])
    _save_png(fig, tmp_path)


def test_image_grid_shapes(tmp_path):
    images = np.arange(6 * 3 * 5, dtype=float).reshape(6, 3, 5)
    fig = plotting.plot_image_grid(images, n_cols=4, titles=list("abcdef"))
    assert sum(len(ax.images) for ax in fig.axes) == 6
    assert fig.axes[0].images[0].get_clim() == (0, images.max())
    assert fig.axes[5].get_title() == "f"
    _save_png(fig, tmp_path)

    from matplotlib.figure import Figure

    target = Figure()
    out = plotting.plot_image_grid(images.reshape(6, 15), image_shape=(3, 5), fig=target)
    assert out is target and out.axes[0].images[0].get_array().shape == (3, 5)
    with pytest.raises(ValueError, match="square"):
        plotting.plot_image_grid(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="does not hold"):
        plotting.plot_image_grid(np.zeros((2, 10)), image_shape=(3, 3))
