"""Plots of fitted Gaussian mixtures (needs matplotlib: ``pip install fastgmm[plot]``).

Every function works with any fitted mixture that has scikit-learn's
attributes (``weights_``, ``means_``, ``covariances_``, ``covariance_type``):
fastgmm's :class:`~fastgmm.GaussianMixture` or scikit-learn's, with any of the
four covariance types.

- :func:`plot_gmm`: the data coloured by predicted component, marker size by
  the certainty of that prediction, and each component's covariance ellipses
  at 1, 2 and 3 standard deviations.
- :func:`plot_ellipses`: the ellipses alone.
- :func:`plot_density`: contours of the fitted density (:func:`density_grid`
  gives the grid and the values).
- :func:`plot_criterion`: BIC / AIC (or any criterion) against the number of
  components, minimum marked.
- :func:`plot_image_grid`: a grid of images, such as digits sampled from a
  mixture fitted in PCA space.

Data with more than two features is shown in a plane: either a pair of
features (``dims=(i, j)``: the marginal distribution of those two features,
whose covariance is the 2 x 2 sub-block) or a linear projection
(``projection=P`` with ``P`` of shape ``(n_features, 2)``, or a fitted
scikit-learn transformer such as ``PCA``, whose first two output components
are used). A Gaussian mixture stays a Gaussian mixture under any linear map,
so the ellipses and density contours drawn in the plane are exact for the
projected data: means ``means_ @ P`` and covariances ``P.T @ cov @ P``.

Functions take an optional ``ax`` (default: the current Axes) and return the
Axes they drew on; :func:`plot_image_grid` returns a Figure.
"""

from collections.abc import Mapping

import numpy as np

try:
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.patches import Ellipse
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "fastgmm.plotting needs matplotlib, which is not installed: "
        "pip install fastgmm[plot]"
    ) from exc

__all__ = [
    "plot_gmm",
    "plot_ellipses",
    "plot_density",
    "plot_criterion",
    "plot_image_grid",
    "density_grid",
]

_DEFAULT_SIGMAS = (1, 2, 3)


# --------------------------------------------------------------------------
# model geometry
# --------------------------------------------------------------------------


def _check_fitted(gmm):
    for name in ("weights_", "means_", "covariances_"):
        if not hasattr(gmm, name):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(gmm).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before plotting it."
            )


def _full_covariances(gmm):
    """Every component's covariance as a ``(K, d, d)`` array."""
    means = np.asarray(gmm.means_, dtype=np.float64)
    n_components, n_features = means.shape
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    cov_type = getattr(gmm, "covariance_type", "full")
    if cov_type == "full":
        return cov.reshape(n_components, n_features, n_features)
    if cov_type == "tied":
        return np.broadcast_to(cov, (n_components, n_features, n_features)).copy()
    if cov_type == "diag":
        out = np.zeros((n_components, n_features, n_features))
        idx = np.arange(n_features)
        out[:, idx, idx] = cov
        return out
    if cov_type == "spherical":
        return cov.reshape(-1, 1, 1) * np.eye(n_features)
    raise ValueError(f"Unsupported covariance_type {cov_type!r}.")


def _projection(n_features, dims, projection):
    """The affine map to the plane: ``(P, offset)`` with ``y = x @ P + offset``."""
    if projection is not None and dims is not None:
        raise ValueError("Pass either dims or projection, not both.")
    if projection is None:
        if dims is None:
            dims = (0, 1)
        dims = tuple(int(i) for i in dims)
        if len(dims) != 2:
            raise ValueError(f"dims must name two feature indices, got {dims!r}.")
        if n_features < 2:
            raise ValueError(
                f"Plotting in a plane needs at least 2 features; the model has {n_features}."
            )
        P = np.zeros((n_features, 2))
        for col, i in enumerate(dims):
            if not -n_features <= i < n_features:
                raise ValueError(f"Feature index {i} is out of range for {n_features} features.")
            P[i, col] = 1.0
        if dims[0] % n_features == dims[1] % n_features:
            raise ValueError(f"dims must name two different features, got {dims!r}.")
        return P, np.zeros(2)
    if hasattr(projection, "transform"):
        # An affine transformer (PCA, with or without whitening, ...): read its
        # matrix off the images of the origin and of the unit vectors.
        origin = np.asarray(projection.transform(np.zeros((1, n_features))), dtype=np.float64)
        images = np.asarray(projection.transform(np.eye(n_features)), dtype=np.float64)
        if origin.shape[1] < 2:
            raise ValueError("The projection's transform must give at least 2 components.")
        offset = origin[0, :2]
        return images[:, :2] - offset, offset
    P = np.asarray(projection, dtype=np.float64)
    if P.shape != (n_features, 2):
        raise ValueError(
            f"projection must have shape (n_features, 2) = ({n_features}, 2), got {P.shape}."
        )
    return P, np.zeros(2)


def _planar(gmm, dims=None, projection=None):
    """Weights, means ``(K, 2)`` and covariances ``(K, 2, 2)`` in the plane."""
    _check_fitted(gmm)
    means = np.asarray(gmm.means_, dtype=np.float64)
    P, offset = _projection(means.shape[1], dims, projection)
    covs = _full_covariances(gmm)
    means2 = means @ P + offset
    covs2 = np.einsum("ia,kij,jb->kab", P, covs, P)
    covs2 = 0.5 * (covs2 + np.swapaxes(covs2, 1, 2))
    return np.asarray(gmm.weights_, dtype=np.float64), means2, covs2, (P, offset)


def _to_plane(X, P, offset):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != P.shape[0]:
        raise ValueError(
            f"X must have shape (n_samples, {P.shape[0]}) like the model's data, got {X.shape}."
        )
    return X @ P + offset


def _ellipse_geometry(cov2):
    """Semi-axis standard deviations and angle (degrees) of a 2 x 2 covariance.

    The first axis is the major one; the angle is that of its eigenvector,
    in (-90, 90].
    """
    evals, evecs = np.linalg.eigh(cov2)  # ascending
    evals = np.clip(evals, 0.0, None)
    major = evecs[:, 1]
    angle = np.degrees(np.arctan2(major[1], major[0]))
    if angle <= -90:
        angle += 180
    elif angle > 90:
        angle -= 180
    return np.sqrt(evals[1]), np.sqrt(evals[0]), angle


def _sigmas(n_sigma):
    if np.ndim(n_sigma) == 0:
        return tuple(float(s) for s in range(1, int(n_sigma) + 1))
    return tuple(float(s) for s in n_sigma)


def _get_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def _component_colors(n_components, cmap):
    cmap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    norm = Normalize(vmin=0, vmax=max(n_components - 1, 1))
    return [cmap(norm(k)) for k in range(n_components)], cmap, norm


# --------------------------------------------------------------------------
# public plots
# --------------------------------------------------------------------------


def plot_ellipses(
    gmm,
    *,
    ax=None,
    dims=None,
    projection=None,
    n_sigma=_DEFAULT_SIGMAS,
    color=None,
    cmap="viridis",
    alpha=0.2,
    **kwargs,
):
    """Draw each component's covariance ellipses at several standard deviations.

    The ellipse at ``s`` standard deviations of component ``k`` has its axes
    along the eigenvectors of the (projected) 2 x 2 covariance ``C_k``, with
    full lengths ``2 * s * sqrt(eigenvalue)``; its ``width`` is the major
    axis and its ``angle`` the direction of the major eigenvector in degrees.

    Parameters
    ----------
    gmm : fitted GaussianMixture
        fastgmm's or scikit-learn's, any ``covariance_type``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    dims : tuple of two ints, optional
        The pair of features to show (marginal distribution). Default
        ``(0, 1)`` when no ``projection`` is given.
    projection : array-like of shape (n_features, 2) or fitted transformer, optional
        A linear map to the plane (``means_ @ P``, ``P.T @ cov @ P``), or an
        affine transformer with ``transform`` (e.g. a fitted ``PCA``) whose
        first two output components are used.
    n_sigma : int or sequence of float, default (1, 2, 3)
        The standard deviations at which to draw an ellipse; an int ``n``
        means ``1, ..., n``.
    color : color, optional
        One face colour for every component; default the component's colour
        in ``cmap`` (matching :func:`plot_gmm`'s label colours).
    cmap : str or Colormap, default "viridis"
        Colour map of the components when ``color`` is None.
    alpha : float, default 0.2
        Opacity of the heaviest component's ellipses; the others are scaled
        by their weight relative to it, as in the Python Data Science
        Handbook's ``draw_ellipse``.
    **kwargs
        Further :class:`matplotlib.patches.Ellipse` properties.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes; the ellipses are ``ax.patches`` in component order, sigmas
        innermost first, each with gid ``"component-{k}-sigma-{s}"``.
    """
    ax = _get_ax(ax)
    weights, means2, covs2, _ = _planar(gmm, dims, projection)
    sigmas = _sigmas(n_sigma)
    colors, _, _ = _component_colors(len(weights), cmap)
    w_max = weights.max() if weights.size and weights.max() > 0 else 1.0
    for k, (mean, cov) in enumerate(zip(means2, covs2)):
        sd_major, sd_minor, angle = _ellipse_geometry(cov)
        props = dict(
            facecolor=colors[k] if color is None else color,
            edgecolor="none",
            alpha=float(alpha * weights[k] / w_max),
            zorder=1,
        )
        props.update(kwargs)
        for s in sigmas:
            patch = Ellipse(
                xy=tuple(mean), width=2 * s * sd_major, height=2 * s * sd_minor, angle=angle,
                **props,
            )
            patch.set_gid(f"component-{k}-sigma-{s:g}")
            ax.add_patch(patch)
    ax.autoscale_view()
    return ax


def plot_gmm(
    gmm,
    X,
    *,
    ax=None,
    dims=None,
    projection=None,
    n_sigma=_DEFAULT_SIGMAS,
    label=True,
    size=40,
    size_by_certainty=True,
    cmap="viridis",
    alpha=0.2,
    equal_aspect=True,
    scatter_kws=None,
    ellipse_kws=None,
):
    """Scatter the data by predicted component and draw the covariance ellipses.

    The picture of the Python Data Science Handbook's ``plot_gmm``: points
    coloured by ``gmm.predict(X)``, marker area ``size * p**2`` where ``p``
    is the point's largest responsibility (``predict_proba(X).max(1)``), so
    that points between components shrink; then :func:`plot_ellipses`. The
    model must already be fitted (it is not refitted here).

    Parameters
    ----------
    gmm : fitted GaussianMixture
        fastgmm's or scikit-learn's, any ``covariance_type``.
    X : array-like of shape (n_samples, n_features)
        The data to show (usually the training data).
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    dims, projection
        The plane, as in :func:`plot_ellipses`. Labels and certainties are
        computed from all features of ``X``.
    n_sigma : int or sequence of float, default (1, 2, 3)
        Standard deviations of the ellipses.
    label : bool, default True
        Colour points by predicted component; if False, one colour for all
        (density-estimation view) and no certainty sizes.
    size : float, default 40
        Marker area of a point predicted with certainty 1.
    size_by_certainty : bool, default True
        Scale marker area by the squared largest responsibility.
    cmap : str or Colormap, default "viridis"
        Colours of the components (points and ellipses).
    alpha : float, default 0.2
        Opacity of the heaviest component's ellipses.
    equal_aspect : bool, default True
        Equal scaling of both axes, so that ellipses keep their shape.
    scatter_kws, ellipse_kws : dict, optional
        Extra arguments for ``ax.scatter`` and for the ellipses.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes, holding one ``PathCollection`` with ``n_samples`` points
        (gid ``"data"``) and ``n_components * len(n_sigma)`` ellipses.
    """
    ax = _get_ax(ax)
    _check_fitted(gmm)
    n_components = len(gmm.weights_)
    _, _, _, (P, offset) = _planar(gmm, dims, projection)
    Y = _to_plane(X, P, offset)
    scatter = dict(zorder=2, linewidths=0)
    if label:
        proba = np.asarray(gmm.predict_proba(X))
        labels = proba.argmax(axis=1)
        _, cmap_obj, norm = _component_colors(n_components, cmap)
        scatter.update(c=labels, cmap=cmap_obj, norm=norm)
        scatter["s"] = size * proba.max(axis=1) ** 2 if size_by_certainty else size
    else:
        scatter.update(s=size, color="C0")
    scatter.update(scatter_kws or {})
    coll = ax.scatter(Y[:, 0], Y[:, 1], **scatter)
    coll.set_gid("data")
    ellipse = dict(cmap=cmap, alpha=alpha, n_sigma=n_sigma)
    if not label:
        ellipse["color"] = "C0"
    ellipse.update(ellipse_kws or {})
    plot_ellipses(gmm, ax=ax, dims=dims, projection=projection, **ellipse)
    if equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")
    return ax


def _log_density_plane(weights, means2, covs2, points):
    """Log-density of the planar mixture at ``points`` (m, 2)."""
    out = np.empty((len(points), len(weights)))
    for k, (w, mean, cov) in enumerate(zip(weights, means2, covs2)):
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (points - mean).T)
        maha = np.einsum("ij,ij->j", z, z)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        with np.errstate(divide="ignore"):
            out[:, k] = np.log(w) - 0.5 * (2 * np.log(2 * np.pi) + logdet + maha)
    top = out.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return (top + np.log(np.exp(out - top).sum(axis=1, keepdims=True)))[:, 0]


def density_grid(gmm, X=None, *, dims=None, projection=None, grid_size=150, margin=0.1):
    """The fitted (log-)density on a regular grid of the plane.

    For 2-D models in their own coordinates this is ``gmm.score_samples`` on
    the grid; otherwise the exact log-density of the projected mixture.

    Parameters
    ----------
    gmm : fitted GaussianMixture
    X : array-like of shape (n_samples, n_features), optional
        Data whose range (in the plane) the grid spans, widened by
        ``margin`` on each side; default the means +- 3 standard deviations.
    dims, projection
        The plane, as in :func:`plot_ellipses`.
    grid_size : int, default 150
        Grid points per axis.
    margin : float, default 0.1
        Fraction of the range added on each side.

    Returns
    -------
    xx, yy, log_density : ndarray of shape (grid_size, grid_size)
    """
    weights, means2, covs2, (P, offset) = _planar(gmm, dims, projection)
    if X is not None:
        Y = _to_plane(X, P, offset)
        lo, hi = Y.min(axis=0), Y.max(axis=0)
    else:
        sd = np.sqrt(np.einsum("kii->ki", covs2))
        lo, hi = (means2 - 3 * sd).min(axis=0), (means2 + 3 * sd).max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], grid_size),
                         np.linspace(lo[1], hi[1], grid_size))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    n_features = np.shape(gmm.means_)[1]
    own_plane = (
        n_features == 2
        and projection is None
        and (dims is None or tuple(int(i) % 2 for i in dims) == (0, 1))
    )
    if own_plane:
        z = np.asarray(gmm.score_samples(points), dtype=np.float64)
    else:
        z = _log_density_plane(weights, means2, covs2, points)
    return xx, yy, z.reshape(xx.shape)


def plot_density(
    gmm,
    X=None,
    *,
    ax=None,
    dims=None,
    projection=None,
    grid_size=150,
    levels=12,
    log=True,
    log_range=10.0,
    filled=False,
    cmap="viridis",
    scatter=True,
    equal_aspect=True,
    contour_kws=None,
    scatter_kws=None,
):
    """Contours of the fitted density over the data's range.

    Parameters
    ----------
    gmm : fitted GaussianMixture
        fastgmm's or scikit-learn's, any ``covariance_type``.
    X : array-like of shape (n_samples, n_features), optional
        Data: sets the grid's range and, with ``scatter=True``, is drawn under
        the contours.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    dims, projection
        The plane, as in :func:`plot_ellipses`. For more than two features
        the contours are those of the projected mixture's exact density.
    grid_size : int, default 150
        Grid points per axis (the model is evaluated ``grid_size**2`` times).
    levels : int or array-like, default 12
        Number of contour levels, or the levels themselves (in the units of
        the plotted quantity).
    log : bool, default True
        Contour the log-density (``score_samples``), which shows the tails;
        if False, the density itself.
    log_range : float, default 10.0
        With ``log=True`` and an int ``levels``: the levels span the top
        ``log_range`` nats below the grid's highest log-density.
    filled : bool, default False
        Filled contours (``contourf``) instead of lines.
    cmap : str or Colormap, default "viridis"
    scatter : bool, default True
        Draw ``X`` (small grey points) when given.
    equal_aspect : bool, default True
    contour_kws, scatter_kws : dict, optional
        Extra arguments for ``ax.contour``/``ax.contourf`` and ``ax.scatter``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes, holding the contour set (``ax.collections``).
    """
    ax = _get_ax(ax)
    xx, yy, z = density_grid(gmm, X, dims=dims, projection=projection, grid_size=grid_size)
    if not log:
        z = np.exp(z)
    if np.ndim(levels) == 0:
        top = np.nanmax(z)
        if log:
            bottom = max(np.nanmin(z), top - log_range)
        else:
            bottom = 0.0
        levels = np.linspace(bottom, top, int(levels) + 2)[1:-1]
    kws = dict(levels=levels, cmap=cmap, zorder=1)
    kws.update(contour_kws or {})
    (ax.contourf if filled else ax.contour)(xx, yy, z, **kws)
    if X is not None and scatter:
        _, _, _, (P, offset) = _planar(gmm, dims, projection)
        Y = _to_plane(X, P, offset)
        skw = dict(s=6, color="0.3", zorder=2, linewidths=0)
        skw.update(scatter_kws or {})
        ax.scatter(Y[:, 0], Y[:, 1], **skw).set_gid("data")
    if equal_aspect:
        ax.set_aspect("equal", adjustable="box")
    return ax


def _is_result(obj):
    """A model-selection result or a table, rather than a sequence of ks."""
    return any(hasattr(obj, a) for a in ("table_", "best_estimator_", "cv_results_", "columns"))


def _criterion_table(result):
    """Columns of a ``select_model`` result (``table_`` or ``to_frame()``) or a table."""
    if hasattr(result, "columns"):  # a pandas DataFrame itself
        table = result
    elif hasattr(result, "table_"):  # fastgmm.select_model: dict of columns, no pandas
        table = result.table_
    elif hasattr(result, "to_frame"):
        table = result.to_frame()
    elif hasattr(result, "cv_results_"):
        table = result.cv_results_
    else:
        raise TypeError(f"Cannot read a criterion table from {type(result).__name__}.")
    if hasattr(table, "columns"):  # pandas DataFrame
        return {str(c): np.asarray(table[c]) for c in table.columns}
    if isinstance(table, np.ndarray) and table.dtype.names:
        return {name: np.asarray(table[name]) for name in table.dtype.names}
    if isinstance(table, Mapping):
        return {str(k): np.asarray(v) for k, v in table.items()}
    if isinstance(table, (list, tuple)) and table and isinstance(table[0], Mapping):
        keys = list(table[0])
        return {k: np.asarray([row.get(k) for row in table]) for k in keys}
    raise TypeError(f"Cannot read a criterion table from {type(table).__name__}.")


def _find_column(columns, *names):
    lowered = {c.lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _curves_from_result(result, criteria):
    table = _criterion_table(result)
    k_col = _find_column(table, "n_components", "param_n_components", "k")
    if k_col is None:
        raise ValueError(f"No n_components column among {sorted(table)}.")
    wanted = criteria or ("bic", "aic")
    crit_cols = []
    for c in wanted:
        col = _find_column(table, c.lower(), f"mean_{c.lower()}", f"mean_test_{c.lower()}")
        if col is not None:
            crit_cols.append((c.upper(), col))
    if not crit_cols:
        raise ValueError(f"No criterion column ({', '.join(wanted)}) among {sorted(table)}.")
    group_col = _find_column(table, "covariance_type", "param_covariance_type")
    ks_all = np.asarray(table[k_col], dtype=np.float64)
    groups = [None]
    if group_col is not None:
        values = list(dict.fromkeys(np.asarray(table[group_col]).tolist()))
        if len(values) > 1:
            groups = values
    curves = []
    for g in groups:
        mask = np.ones(len(ks_all), bool) if g is None else np.asarray(table[group_col]) == g
        order = np.argsort(ks_all[mask], kind="stable")
        for name, col in crit_cols:
            values = np.asarray(table[col], dtype=np.float64)[mask][order]
            label = name if g is None else f"{name} ({g})"
            curves.append((label, ks_all[mask][order], values))
    return curves


def plot_criterion(
    ks,
    bic=None,
    aic=None,
    *,
    ax=None,
    criteria=None,
    mark_min=True,
    xlabel="n_components",
    ylabel="information criterion",
    legend=True,
    **line_kws,
):
    """Plot information criteria against the number of components; mark each minimum.

    Parameters
    ----------
    ks : array-like of int, or a model-selection result
        The numbers of components; or the result of
        :func:`fastgmm.select_model` (anything with ``to_frame()`` or a
        ``table_`` with ``n_components`` and ``bic`` / ``aic`` columns;
        one curve per covariance type when it holds several).
    bic, aic : array-like, optional
        The criterion values, one per entry of ``ks``. ``bic`` may also be a
        mapping ``{name: values}`` of any number of curves.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    criteria : sequence of str, optional
        With a result object: which columns to draw (default BIC and AIC,
        those present).
    mark_min : bool, default True
        Mark each curve's minimum (NaNs ignored) with a point, gid
        ``"{label}-min"`` (lower case), and name its K in the legend.
    xlabel, ylabel : str
    legend : bool, default True
    **line_kws
        Extra ``ax.plot`` arguments for the curves.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes; each curve is a Line2D with gid its lower-case label.
    """
    ax = _get_ax(ax)
    if _is_result(ks):
        curves = _curves_from_result(ks, criteria)
    else:
        ks_arr = np.asarray(ks, dtype=np.float64).ravel()
        if isinstance(bic, Mapping):
            named = list(bic.items())
        else:
            named = [(n, v) for n, v in (("BIC", bic), ("AIC", aic)) if v is not None]
        if not named:
            raise ValueError("Pass at least one criterion (bic, aic or a mapping of curves).")
        curves = []
        for name, values in named:
            values = np.asarray(values, dtype=np.float64).ravel()
            if values.shape != ks_arr.shape:
                raise ValueError(
                    f"{name} has {values.size} values but there are {ks_arr.size} ks."
                )
            curves.append((str(name), ks_arr, values))
    for i, (name, x, y) in enumerate(curves):
        x_plot = x.astype(int) if np.all(np.isfinite(x)) and np.all(x == np.round(x)) else x
        label = name
        best = None
        if mark_min and np.isfinite(y).any():
            best = int(np.nanargmin(y))
            label = f"{name} (min at K={x_plot[best]})"
        kws = dict(marker=".", label=label, color=f"C{i}")
        kws.update(line_kws)
        (line,) = ax.plot(x_plot, y, **kws)
        line.set_gid(name.lower())
        if best is not None:
            (mk,) = ax.plot(
                [x_plot[best]], [y[best]], marker="o", markersize=9, linestyle="none",
                markerfacecolor="none", markeredgecolor=line.get_color(), markeredgewidth=2,
                label="_nolegend_",
            )
            mk.set_gid(f"{name.lower()}-min")
    if all(np.all(x == np.round(x)) for _, x, _ in curves if np.all(np.isfinite(x))):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(loc="best")
    return ax


def plot_image_grid(
    images,
    *,
    image_shape=None,
    n_cols=10,
    cmap="binary",
    vmin=None,
    vmax=None,
    figsize=None,
    fig=None,
    titles=None,
):
    """Draw images (e.g. digits sampled from a mixture) in a grid.

    Parameters
    ----------
    images : array-like of shape (n, h * w), (n, h, w) or (n, h, w, 3|4)
        The images. Flat rows are reshaped to ``image_shape``, by default
        the square ``(sqrt(h * w),) * 2`` (8 x 8 for scikit-learn's digits).
    image_shape : tuple of two ints, optional
        ``(h, w)`` of flat rows.
    n_cols : int, default 10
        Images per row; the number of rows follows.
    cmap : str, default "binary"
        Colour map of single-channel images.
    vmin, vmax : float, optional
        One colour scale for all images; default the range of all of them
        (for digits, 0 and 16 keep the dataset's scale).
    figsize : tuple, optional
        Default 0.8 inch per image.
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new pyplot figure.
    titles : sequence of str, optional
        A small title per image.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure; its first ``n`` Axes hold one image each, any further
        Axes of the last row are switched off.
    """
    arr = np.asarray(images)
    if arr.ndim == 2:
        n, m = arr.shape
        if image_shape is None:
            side = int(round(np.sqrt(m)))
            if side * side != m:
                raise ValueError(
                    f"Rows of {m} values are not square images; pass image_shape=(h, w)."
                )
            image_shape = (side, side)
        if int(np.prod(image_shape)) != m:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold {m} values.")
        arr = arr.reshape((n,) + tuple(image_shape))
    elif arr.ndim not in (3, 4):
        raise ValueError(f"images must have 2, 3 or 4 dimensions, got shape {arr.shape}.")
    n = arr.shape[0]
    if n == 0:
        raise ValueError("No images to draw.")
    n_cols = max(1, min(int(n_cols), n))
    n_rows = -(-n // n_cols)
    if vmin is None:
        vmin = float(np.nanmin(arr))
    if vmax is None:
        vmax = float(np.nanmax(arr))
    if figsize is None:
        figsize = (0.8 * n_cols, 0.8 * n_rows + (0.2 * n_rows if titles is not None else 0))
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize)
    else:
        fig.set_size_inches(*figsize)
    axes = fig.subplots(n_rows, n_cols, squeeze=False,
                        subplot_kw=dict(xticks=[], yticks=[]))
    fig.subplots_adjust(hspace=0.05 if titles is None else 0.4, wspace=0.05,
                        left=0.02, right=0.98, bottom=0.02, top=0.98)
    for i, axi in enumerate(axes.flat):
        if i >= n:
            axi.set_axis_off()
            continue
        axi.imshow(arr[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles is not None:
            axi.set_title(str(titles[i]), fontsize=7)
    return fig
