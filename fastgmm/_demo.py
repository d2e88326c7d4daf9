"""``fastgmm demo``: the Gaussian-mixture walkthrough of the Python Data Science
Handbook ("In Depth: Gaussian Mixture Models") on data bundled with
scikit-learn (nothing is downloaded), fitted with fastgmm.

1. blobs: k-means' hard, circular clusters against a mixture's soft
   assignments (``predict_proba``);
2. stretched blobs: a full covariance recovers elongated clusters that
   k-means (and a spherical mixture) cut wrongly;
3. moons: 2 components make a poor clustering, 16 a good density model; new
   points sampled from it; BIC and AIC over K = 1..20;
4. digits: PCA(0.99, whiten=True) to 41 dimensions, AIC over the number of
   components, the minimum's model samples 100 new digits, mapped back to
   pixels with ``inverse_transform``.

:func:`run` prints what it finds, returns it as a dict and, given an output
folder and matplotlib, writes the figures there as PNG files.
"""

import os
import sys
import time

import numpy as np

__all__ = ["run"]

#: the seed tutorial's grid for the digits, and the quick one
DIGITS_KS = tuple(range(50, 201, 10))
DIGITS_KS_QUICK = (5, 10, 20, 30)
MOONS_KS = tuple(range(1, 21))
MOONS_KS_QUICK = tuple(range(1, 13))


def _gmm(n_components, **params):
    from fastgmm import GaussianMixture

    params.setdefault("random_state", 0)
    return GaussianMixture(n_components, **params)


def _criteria(X, ks, criterion, covariance_type="full", random_state=0):
    """BIC and AIC for each K, and the model minimising ``criterion``.

    Uses :func:`fastgmm.select_model` (one validation of X, k-means shared,
    BLAS single-threaded) when available, else a plain loop of fits; both
    give the fits of ``GaussianMixture(K, covariance_type, random_state)``.
    """
    try:
        from fastgmm import select_model
    except ImportError:  # pragma: no cover - select_model ships with fastgmm
        select_model = None
    if select_model is not None:
        result = select_model(X, n_components=list(ks), covariance_type=covariance_type,
                              criterion=criterion, random_state=random_state)
        table = result.table_
        return (np.asarray(table["bic"], dtype=float), np.asarray(table["aic"], dtype=float),
                result.best_estimator_, result)
    bic, aic, best, best_value = [], [], None, np.inf
    for k in ks:
        gm = _gmm(k, covariance_type=covariance_type, random_state=random_state).fit(X)
        bic.append(gm.bic(X))
        aic.append(gm.aic(X))
        value = bic[-1] if criterion == "bic" else aic[-1]
        if value < best_value:
            best, best_value = gm, value
    return np.asarray(bic), np.asarray(aic), best, None


class _Figures:
    """Writes figures to a folder when one is given and matplotlib is there."""

    def __init__(self, output_dir, out):
        self.dir = None
        self.paths = []
        if output_dir is None:
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("matplotlib is not installed: no figures are written "
                  "(pip install fastgmm[plot])", file=out)
            return
        os.makedirs(output_dir, exist_ok=True)
        self.dir = os.fspath(output_dir)

    @property
    def enabled(self):
        return self.dir is not None

    def new(self, nrows=1, ncols=1, size=(4.0, 3.6)):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        return fig, axes.ravel()

    def save(self, fig, name, dpi=72):
        path = os.path.join(self.dir, name)
        fig.savefig(path, dpi=dpi)
        self.paths.append(path)
        return path


def _kmeans_panel(ax, X, km, title):
    """The handbook's ``plot_kmeans``: labels and the hard circular boundaries."""
    from matplotlib.patches import Circle

    labels = km.labels_
    ax.scatter(X[:, 0], X[:, 1], c=labels, s=20, cmap="viridis", zorder=2, linewidths=0)
    for i, centre in enumerate(km.cluster_centers_):
        radius = np.sqrt(((X[labels == i] - centre) ** 2).sum(axis=1)).max()
        ax.add_patch(Circle(centre, radius, fc="#CCCCCC", ec="0.5", lw=1, alpha=0.5, zorder=1))
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_title(title)


def _fmt_row(row):
    return "[" + " ".join(f"{v:5.3f}" for v in row) + "]"


def _blobs(out, figs):
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    from sklearn.metrics import adjusted_rand_score

    X, y = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    X = X[:, ::-1]  # as in the handbook: flip axes for better plotting
    km = KMeans(4, random_state=0).fit(X)
    gm = _gmm(4, random_state=42).fit(X)
    proba = gm.predict_proba(X)
    certainty = proba.max(axis=1)
    uncertain = np.flatnonzero(certainty < 0.9)
    found = {
        "kmeans_ari": float(adjusted_rand_score(y, km.labels_)),
        "gmm_ari": float(adjusted_rand_score(y, gm.predict(X))),
        "proba_head": proba[:5].round(3).tolist(),
        "n_uncertain": int(uncertain.size),
    }
    print("1. Blobs (400 points, 4 centres): k-means against a 4-component mixture", file=out)
    print(f"   agreement with the true blobs (adjusted Rand index): "
          f"k-means {found['kmeans_ari']:.3f}, GaussianMixture {found['gmm_ari']:.3f}", file=out)
    print("   soft assignments, predict_proba of the first 5 points:", file=out)
    for row in proba[:5]:
        print("     " + _fmt_row(row), file=out)
    if uncertain.size:
        i = uncertain[np.argmin(certainty[uncertain])]
        print(f"   {uncertain.size} points lie between components (top probability < 0.9); "
              f"least certain: {_fmt_row(proba[i])}", file=out)
    if figs.enabled:
        from fastgmm.plotting import plot_gmm

        fig, (a1, a2) = figs.new(1, 2)
        _kmeans_panel(a1, X, km, "k-means: hard, circular clusters")
        plot_gmm(gm, X, ax=a2)
        a2.set_title("GaussianMixture: marker size = certainty")
        figs.save(fig, "blobs.png")
    return X, y, found


def _stretched(X, y, out, figs):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.RandomState(13)
    Xs = X @ rng.randn(2, 2)
    km = KMeans(4, random_state=0).fit(Xs)
    full = _gmm(4, covariance_type="full", random_state=42).fit(Xs)
    spherical = _gmm(4, covariance_type="spherical", random_state=42).fit(Xs)
    found = {
        "kmeans_ari": float(adjusted_rand_score(y, km.labels_)),
        "gmm_full_ari": float(adjusted_rand_score(y, full.predict(Xs))),
        "gmm_spherical_ari": float(adjusted_rand_score(y, spherical.predict(Xs))),
    }
    found["recovered"] = bool(found["gmm_full_ari"] > 0.95)
    print("2. Stretched blobs (the same points times a random 2 x 2 matrix)", file=out)
    print(f"   adjusted Rand index: k-means {found['kmeans_ari']:.3f}, spherical mixture "
          f"{found['gmm_spherical_ari']:.3f}, full covariance {found['gmm_full_ari']:.3f}",
          file=out)
    print("   -> a full covariance " + ("recovers" if found["recovered"] else "does not recover")
          + " the stretched clusters", file=out)
    if figs.enabled:
        from fastgmm.plotting import plot_gmm

        fig, axes = figs.new(1, 3)
        _kmeans_panel(axes[0], Xs, km, "k-means")
        plot_gmm(spherical, Xs, ax=axes[1])
        axes[1].set_title("covariance_type='spherical'")
        plot_gmm(full, Xs, ax=axes[2])
        axes[2].set_title("covariance_type='full'")
        figs.save(fig, "stretched.png")
    return found


def _moons(ks, out, figs):
    from sklearn.datasets import make_moons

    X, _ = make_moons(200, noise=0.05, random_state=0)
    X_new_moons, _ = make_moons(200, noise=0.05, random_state=1)
    curve, _ = make_moons(2000, noise=0.0)
    gm2 = _gmm(2, covariance_type="full").fit(X)
    gm16 = _gmm(16, covariance_type="full").fit(X)
    samples16 = gm16.sample(400)[0]
    samples2 = gm2.sample(400)[0]

    def on_moons(points):  # share of points within 0.15 of the noise-free moons
        d2 = ((points[:, None, :] - curve[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        return float(np.mean(d2 < 0.15**2))

    bic, aic, best_bic_model, _ = _criteria(X, ks, "bic")
    ks = np.asarray(ks)
    found = {
        "heldout_loglik_2": float(gm2.score(X_new_moons)),
        "heldout_loglik_16": float(gm16.score(X_new_moons)),
        "samples_on_moons_2": on_moons(samples2),
        "samples_on_moons_16": on_moons(samples16),
        "ks": ks.tolist(),
        "bic": bic.tolist(),
        "aic": aic.tolist(),
        "best_k_bic": int(ks[np.argmin(bic)]),
        "best_k_aic": int(ks[np.argmin(aic)]),
    }
    print("3. Moons (200 points): a mixture as a density estimator", file=out)
    print(f"   mean log-likelihood of 200 fresh moon points: "
          f"{found['heldout_loglik_2']:.3f} (2 components), "
          f"{found['heldout_loglik_16']:.3f} (16)", file=out)
    print(f"   400 new points sampled from each; within 0.15 of the moons: "
          f"{found['samples_on_moons_2']:.0%} (2 components), "
          f"{found['samples_on_moons_16']:.0%} (16)", file=out)
    print(f"   full covariance, K = {ks[0]}..{ks[-1]}: BIC is lowest at K = "
          f"{found['best_k_bic']}, AIC at K = {found['best_k_aic']}", file=out)
    if figs.enabled:
        from fastgmm.plotting import plot_criterion, plot_density, plot_gmm

        fig, axes = figs.new(2, 2, size=(4.2, 3.2))
        plot_gmm(gm2, X, ax=axes[0])
        axes[0].set_title("2 components: a poor clustering")
        plot_gmm(gm16, X, ax=axes[1], label=False, size=12)
        axes[1].set_title("16 components: a density model")
        plot_density(gm16, X, ax=axes[2], scatter_kws=dict(s=4))
        axes[2].set_title("its log-density")
        axes[3].scatter(X[:, 0], X[:, 1], s=8, color="0.7", label="data", linewidths=0)
        axes[3].scatter(samples16[:, 0], samples16[:, 1], s=8, color="C1",
                        label="400 sampled", linewidths=0)
        axes[3].set_aspect("equal", adjustable="datalim")
        axes[3].legend(loc="lower left", fontsize=8)
        axes[3].set_title("new points from the 16-component model")
        figs.save(fig, "moons.png")
        fig, (ax,) = figs.new(1, 1, size=(5.0, 3.6))
        plot_criterion(ks, bic, aic, ax=ax)
        ax.set_title("moons: information criteria (full covariance)")
        figs.save(fig, "moons_criteria.png")
    return found


def _digits(ks, out, figs):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    pca = PCA(0.99, whiten=True)
    data = pca.fit_transform(digits.data)
    print(f"4. Digits ({digits.data.shape[0]} x {digits.data.shape[1]} pixels): "
          f"PCA(0.99, whiten=True) keeps {data.shape[1]} dimensions "
          f"({pca.explained_variance_ratio_.sum():.1%} of the variance)", file=out)
    bic, aic, best, _ = _criteria(data, ks, "aic")
    ks = np.asarray(ks)
    i = int(np.argmin(aic))
    new = best.sample(100)[0]
    digits_new = pca.inverse_transform(new)
    found = {
        "n_samples": int(digits.data.shape[0]),
        "n_pixels": int(digits.data.shape[1]),
        "pca_dims": int(data.shape[1]),
        "ks": ks.tolist(),
        "aic": aic.tolist(),
        "best_k_aic": int(ks[i]),
        "best_converged": bool(best.converged_),
        "generated_shape": list(digits_new.shape),
        "generated_pixel_range": [float(digits_new.min()), float(digits_new.max())],
    }
    grid = ", ".join(str(k) for k in ks) if len(ks) <= 6 else f"{ks[0]}, {ks[1]}, ..., {ks[-1]}"
    at_edge = " (the edge of the grid)" if i in (0, len(ks) - 1) and len(ks) > 1 else ""
    print(f"   AIC over K = {grid} (full covariance): lowest at K = {ks[i]}{at_edge}, "
          f"converged: {best.converged_}", file=out)
    print(f"   100 points sampled in the {data.shape[1]} dimensions, inverse_transform -> "
          f"{digits_new.shape[0]} new {digits_new.shape[1]}-pixel digits", file=out)
    if figs.enabled:
        from matplotlib.figure import Figure

        from fastgmm.plotting import plot_criterion, plot_image_grid

        fig, (ax,) = figs.new(1, 1, size=(5.0, 3.6))
        plot_criterion(ks, aic=aic, ax=ax)
        ax.set_title(f"digits in {data.shape[1]} PCA dimensions: AIC")
        figs.save(fig, "digits_aic.png")
        figs.save(plot_image_grid(digits.data[:100], vmin=0, vmax=16, fig=Figure()),
                  "digits_data.png", dpi=60)
        figs.save(plot_image_grid(digits_new, vmin=0, vmax=16, fig=Figure()),
                  "digits_generated.png", dpi=60)
    return found


def run(output_dir=None, *, quick=False, file=None):
    """Run the walkthrough: print the findings, return them, optionally save figures.

    Parameters
    ----------
    output_dir : str or path-like, optional
        Folder for the PNG figures (created if needed). Figures need
        matplotlib (``pip install fastgmm[plot]``); without it the demo says
        so once and runs on.
    quick : bool, default False
        Smaller grids of K (moons: 1..12 instead of 1..20; digits: 5, 10, 20,
        30 instead of the tutorial's 50, 60, ..., 200): seconds instead of
        minutes.
    file : file-like, optional
        Where to print; default ``sys.stdout``.

    Returns
    -------
    findings : dict
        ``"blobs"``, ``"stretched"``, ``"moons"``, ``"digits"`` (each a dict of
        what that section found, such as the adjusted Rand indices, the best
        K by BIC and AIC, the number of PCA dimensions), ``"figures"`` (paths
        of the PNG files written), ``"quick"`` and ``"seconds"``.
    """
    out = sys.stdout if file is None else file
    t0 = time.perf_counter()
    print(f"fastgmm demo{' (quick)' if quick else ''}: the Python Data Science Handbook's "
          "GMM walkthrough (data from scikit-learn)", file=out)
    figs = _Figures(output_dir, out)
    findings = {"quick": bool(quick)}

    def section(name, func, *args):
        t = time.perf_counter()
        print(file=out)
        result = func(*args, out, figs)
        found = result[-1] if isinstance(result, tuple) else result
        found["seconds"] = round(time.perf_counter() - t, 3)
        findings[name] = found
        return result

    X, y, _ = section("blobs", _blobs)
    section("stretched", _stretched, X, y)
    section("moons", _moons, MOONS_KS_QUICK if quick else MOONS_KS)
    section("digits", _digits, DIGITS_KS_QUICK if quick else DIGITS_KS)
    findings["figures"] = list(figs.paths)
    findings["seconds"] = round(time.perf_counter() - t0, 3)
    print(file=out)
    if figs.paths:
        print(f"{len(figs.paths)} figures in {figs.dir}: "
              + ", ".join(os.path.basename(p) for p in figs.paths), file=out)
    print(f"done in {findings['seconds']:.1f} s", file=out)
    return findings
