"""Saving and loading fitted models as ``.npz`` files, without pickle.

A model file is a NumPy ``.npz`` archive of plain arrays:

=========================  ===================================================
``format``                 ``"fastgmm-model"`` (identifies the file)
``format_version``         ``1``
``fastgmm_version``        the fastgmm version that wrote it
``params``                 the constructor parameters, as a JSON string
``weights_`` ... ``precisions_``
                           the fitted arrays, in their fitted dtypes
``converged_``, ``n_iter_``, ``lower_bound_``, ``lower_bounds_``
``feature_names_in_``      only when the model was fitted on named columns
=========================  ===================================================

:func:`load_model` reads it with ``allow_pickle=False`` (a file cannot run
code), checks every array's shape, dtype and finiteness against the
covariance type and their values against each other (see
:func:`_values_problem`), and returns a fitted :class:`GaussianMixture` whose
``predict``, ``predict_proba``, ``score_samples``, ``bic``/``aic`` and
``sample`` give exactly the results of the saved model. Initial arrays
(``weights_init``, ``means_init``, ``precisions_init``) and a RandomState
instance given as ``random_state`` are not saved (they are set to None).
"""

import json
import numbers
import os
import zipfile

import numpy as np

from ._covariance import COVARIANCE_TYPES, upper_factor
from ._gaussian_mixture import GaussianMixture

FORMAT = "fastgmm-model"
FORMAT_VERSION = 1

#: what reading a damaged archive raises (zipfile: NotImplementedError for an
#: unknown compression method, RuntimeError for an encrypted member)
_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError,
               RuntimeError)

_ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")
_SCALAR_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
)


class ModelFileError(ValueError):
    """The file is not a readable fastgmm model."""


def _json_param(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None  # e.g. a RandomState instance: not saved


def save_model(model, path):
    """Save a fitted :class:`GaussianMixture` as a ``.npz`` file (no pickle).

    Parameters
    ----------
    model : GaussianMixture
        A fitted fastgmm (or scikit-learn) GaussianMixture.
    path : str or path-like
        Destination; NumPy appends ``.npz`` when the name has no suffix
        ``.npz``, so the name actually written is returned.

    Returns
    -------
    path : str
        The file written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The model is not fitted.
    ValueError
        Its arrays could not come from one fit (shapes, dtypes, non-finite
        values, a precision factor that is not triangular, precisions that
        do not match it): :func:`load_model` would refuse such a file. A
        lower-triangular ``precisions_cholesky_`` set by hand is written as
        the upper-triangular factor of the same precisions. Or ``path`` names
        a directory (``.``, ``..``, or a name ending in a separator), which
        would make a hidden file such as ``..npz``.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    params = {name: _json_param(getattr(model, name)) for name in _SCALAR_PARAMS}
    from . import __version__

    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAYS}
    ct = COVARIANCE_TYPES[model.covariance_type]
    shape = arrays["means_"].shape
    why = _means_problem(arrays["means_"], model.n_components) or _form_problem(ct, arrays, *shape)
    if why is None:
        # a hand-set lower factor (np.linalg.cholesky's) predicts through its
        # upper twin of the same precision: that is the one written
        try:
            arrays["precisions_cholesky_"] = upper_factor(ct, arrays["precisions_cholesky_"])
            why = _values_problem(ct, arrays, shape[1], int(model.n_iter_))
        except ValueError as exc:
            why = str(exc)
    if why:
        raise ValueError("cannot save this model: its arrays are not a fitted model's, "
                         f"and load_model would refuse the file ({why})")
    extra = {
        "converged_": np.asarray(bool(model.converged_)),
        "n_iter_": np.asarray(int(model.n_iter_), dtype=np.int64),
        "lower_bound_": np.asarray(model.lower_bound_),
        "lower_bounds_": np.asarray(getattr(model, "lower_bounds_", []), dtype=np.float64),
    }
    if hasattr(model, "feature_names_in_"):
        extra["feature_names_in_"] = np.asarray(model.feature_names_in_, dtype=str)
    path = os.fspath(path)
    if os.path.split(path)[1] in ("", ".", ".."):
        # '.', '..' or 'dir/' would become the hidden files '..npz', '...npz', 'dir/.npz'
        raise ValueError(f"cannot save a model to {path!r}: it names a directory, not a file")
    if not path.endswith(".npz"):
        path += ".npz"
    with open(path, "wb") as f:
        np.savez(
            f,
            format=np.asarray(FORMAT),
            format_version=np.asarray(FORMAT_VERSION),
            fastgmm_version=np.asarray(__version__),
            params=np.asarray(json.dumps(params)),
            **arrays,
            **extra,
        )
    return path


def _bad(path, why):
    return ModelFileError(f"{path} is not a fastgmm model file ({why})")


def load_model(path):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file from :func:`save_model` (read without pickle).

    Returns
    -------
    model : GaussianMixture
        The fitted model, predicting exactly as the saved one.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError (a ValueError)
        The file is not a fastgmm model, is of a newer format version, or
        holds inconsistent arrays.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _UNREADABLE:
        raise _bad(path, "not a .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _bad(path, "a single .npy array, not a .npz archive")
    try:
        with archive:
            data = {name: archive[name] for name in archive.files}
    except _UNREADABLE as exc:
        raise _bad(path, f"unreadable array: {exc}") from None
    return _from_arrays(path, data)


def _scalar(path, data, name, kind):
    if name not in data:
        raise _bad(path, f"no '{name}' entry")
    a = data[name]
    if a.shape != () or a.dtype.kind not in kind:
        raise _bad(path, f"'{name}' has shape {a.shape} and dtype {a.dtype}")
    return a.item()


def _swap(A):
    return np.swapaxes(A, -1, -2)


def _means_problem(means, n_components):
    """Why ``means`` is not (n_components, d >= 1), or None."""
    if means.ndim != 2 or means.shape[0] != n_components or means.shape[1] < 1:
        return f"'means_' has shape {means.shape}, n_components is {n_components}"
    return None


def _form_problem(ct, data, K, d):
    """Why the fitted arrays in ``data`` are not a model's for (K, d), or None:
    a dtype other than float32/float64, non-finite values, a wrong shape."""
    for name in _ARRAYS:
        a = data[name]
        if a.dtype not in (np.float32, np.float64):
            return f"'{name}' has dtype {a.dtype}"
        if not np.all(np.isfinite(a)):
            return f"'{name}' has non-finite values"
    for name, shape in ct.param_shapes(K, d).items():
        if data[name].shape != shape:
            return f"'{name}' has shape {data[name].shape}, expected {shape}"
    return None


def _values_problem(ct, data, d, n_iter):
    """Why the arrays are ones no fit could have written together, or None:
    weights off the simplex (after an EM step, ``n_iter > 0``: a
    ``max_iter=0`` fit keeps its initial weights, which sum to K/n when every
    component starts from one seed row), a precision factor that is not
    upper triangular with a positive diagonal, precisions or covariances
    that do not match it.

    The two match tests allow the rounding of a fit and of the file's dtype,
    bounded elementwise (a-posteriori bounds, so ill-conditioned models of
    either dtype pass): ``P = U U^T`` within ``c eps |U| |U|^T``; for full
    and tied ``U^T C U = I`` within ``c eps u u^T``, ``u = |U|^T sqrt(diag C)``
    (``|C_ij| <= sqrt(C_ii C_jj)`` for a covariance), for diag and spherical
    ``C U^2 = 1`` within ``c eps``; ``c = 64 (d + 2)``.
    """
    w = data["weights_"]
    total = float(np.sum(w, dtype=np.float64))
    if n_iter == 0:
        if np.any(w < 0) or not 0 < total <= 1 + np.sqrt(np.finfo(w.dtype).eps):
            return f"'weights_' must be >= 0 and sum to at most 1, they sum to {total:.6g}"
    elif np.any(w < 0) or abs(total - 1.0) > np.sqrt(np.finfo(w.dtype).eps):
        return f"'weights_' must be >= 0 and sum to 1, they sum to {total:.6g}"
    names = ("precisions_cholesky_", "precisions_", "covariances_")
    eps = max(np.finfo(data[name].dtype).eps for name in names)
    tol = 64 * (d + 2) * eps
    U, P, C = (data[name].astype(np.float64) for name in names)
    if not ct.is_matrix:
        if np.any(U <= 0):
            return "'precisions_cholesky_' has values <= 0"
        if np.any(np.abs(P - U * U) > tol * (U * U)):
            return "'precisions_' is not precisions_cholesky_ squared"
        if np.any(np.abs(C * (U * U) - 1) > tol):
            return "'covariances_' is not the inverse of 'precisions_'"
        return None
    U, P, C = (a.reshape(-1, d, d) for a in (U, P, C))
    if np.any(np.tril(U, -1)) or np.any(np.diagonal(U, axis1=1, axis2=2) <= 0):
        return "'precisions_cholesky_' is not upper triangular with a positive diagonal"
    absU = np.abs(U)
    if np.any(np.abs(P - U @ _swap(U)) > tol * (absU @ _swap(absU))):
        return "'precisions_' is not precisions_cholesky_ @ its transpose"
    # symmetric to sqrt(eps) of the scale and of the means' products, which
    # bound scikit-learn's tied cancellation (E[x x^T] - sum_k w_k m_k m_k^T)
    m = np.abs(data["means_"].astype(np.float64))
    scale = np.sqrt(np.einsum("kii->ki", C).clip(0))
    loose = np.sqrt(eps) * (scale[:, :, None] * scale[:, None, :]
                            + len(w) * np.einsum("k,ki,kj->ij", w.astype(np.float64), m, m))
    if np.any(np.abs(C - _swap(C)) > loose):
        return "'covariances_' is not symmetric"
    # the lower triangle is what a Cholesky factorisation reads
    C = np.tril(C) + _swap(np.tril(C, -1))
    var = np.diagonal(C, axis1=1, axis2=2)
    if np.any(var <= 0):
        return "'covariances_' has variances <= 0"
    u = (_swap(absU) @ np.sqrt(var)[..., None])[..., 0]
    M = _swap(U) @ C @ U
    if np.any(np.abs(M - np.eye(d)) > tol * (u[:, :, None] * u[:, None, :])):
        return "'covariances_' is not the inverse of 'precisions_'"
    return None


def _from_arrays(path, data):
    if _scalar(path, data, "format", "U") != FORMAT:
        raise _bad(path, "wrong 'format' marker")
    version = _scalar(path, data, "format_version", "iu")
    if version < 1:
        raise _bad(path, f"format version {version}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} is a fastgmm model of format version {version}; this fastgmm "
            f"reads version {FORMAT_VERSION} and older: upgrade fastgmm"
        )
    try:
        params = json.loads(_scalar(path, data, "params", "U"))
    except json.JSONDecodeError as exc:
        raise _bad(path, f"'params' is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise _bad(path, "'params' is not a JSON object")
    params = {k: v for k, v in params.items() if k in _SCALAR_PARAMS}
    missing = [name for name in _SCALAR_PARAMS if name not in params]
    if missing:  # save_model writes every one
        raise _bad(path, f"'params' lacks {', '.join(missing)}")
    ct_name = params["covariance_type"]
    if not isinstance(ct_name, str) or ct_name not in COVARIANCE_TYPES:
        raise _bad(path, f"unknown covariance_type {ct_name!r}")
    model = GaussianMixture(**params)
    try:
        model._validate_params()
    except ValueError as exc:
        raise _bad(path, f"invalid parameters: {exc}") from None

    for name in _ARRAYS:
        if name not in data:
            raise _bad(path, f"no '{name}' array")
    means = data["means_"]
    why = _means_problem(means, model.n_components)
    if why:
        raise _bad(path, why)
    K, d = means.shape
    ct = COVARIANCE_TYPES[ct_name]
    n_iter = int(_scalar(path, data, "n_iter_", "iu"))
    if n_iter < 0:
        raise _bad(path, f"'n_iter_' is {n_iter}")
    why = _form_problem(ct, data, K, d) or _values_problem(ct, data, d, n_iter)
    if why:
        raise _bad(path, why)

    for name in _ARRAYS:
        setattr(model, name, data[name])
    model.converged_ = bool(_scalar(path, data, "converged_", "b"))
    model.n_iter_ = n_iter
    lower_bound = _scalar(path, data, "lower_bound_", "f")
    if np.isnan(lower_bound) or lower_bound == np.inf:  # -inf: max_iter=0
        raise _bad(path, f"'lower_bound_' is {lower_bound}")
    model.lower_bound_ = data["lower_bound_"][()]  # the NumPy scalar, as fitted
    lbs = data.get("lower_bounds_", np.empty(0))
    if lbs.dtype.kind not in "fiu" or lbs.ndim != 1 or np.any(np.isnan(lbs)):
        raise _bad(path, f"'lower_bounds_' has shape {lbs.shape} and dtype {lbs.dtype}"
                   " (a list of numbers, none NaN)")
    model.lower_bounds_ = [model.lower_bound_.dtype.type(v) for v in lbs]
    model.n_features_in_ = d
    if "feature_names_in_" in data:
        names = data["feature_names_in_"]
        if names.ndim != 1 or names.shape[0] != d or names.dtype.kind != "U":
            raise _bad(path, "'feature_names_in_' does not match the means")
        model.feature_names_in_ = names.astype(object)
    return model
