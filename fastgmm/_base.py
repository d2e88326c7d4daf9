"""The generic EM driver: validation order, initialisation, restarts,
convergence, warm start, verbose output, best-run choice, final E-step, and
predict / score / sample. It follows ``sklearn.mixture.BaseMixture`` (1.9.1)
step by step; the per-type work goes through the covariance table and the
fused kernels, so no (n_samples, n_components) array is built in ``fit``.
"""

import numbers
import warnings
from time import time

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._covariance import covariances_from_prec_chol, upper_factor
from ._stats import Params, em_step, kernel_args, mean_loglik, no_weights
from ._threading import call_kernel

_FLOAT_DTYPES = [np.float64, np.float32]

#: what ``validate_data(reset=True)`` sets from X
_DATA_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


def check_sample_weight(sample_weight, n_samples):
    """Validated float64 sample weights, or an empty array for "all ones"."""
    if sample_weight is None:
        return no_weights()
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight)  # in its own dtype
    try:
        sw = np.asarray(sample_weight)
        is_complex = sw.dtype.kind == "c"  # float64 would drop the imaginary part
        sw = sw if is_complex else sw.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_weight must be numeric: {exc}") from None
    if is_complex:
        raise ValueError("Complex data not supported in sample_weight")
    if sw.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {sw.ndim}D array "
            f"of shape {sw.shape}."
        )
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sw.shape}, expected ({n_samples},)!"
        )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight must contain only finite values (no NaN or inf).")
    if np.any(sw < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    if not np.any(sw > 0):
        raise ValueError("Sample weights must contain at least one non-zero value.")
    return np.ascontiguousarray(sw)


class _WritableAlias:
    """Holds a read-only array's memory under NumPy's array interface, marked
    writable, and the array itself (the memory lives as long as the alias)."""

    __slots__ = ("__array_interface__", "base")

    def __init__(self, a):
        interface = dict(a.__array_interface__)
        interface["data"] = (interface["data"][0], False)  # (pointer, read-only)
        self.__array_interface__ = interface
        self.base = a


def kernel_view(a):
    """``a`` itself, or a writable alias of its memory where ``a`` is read-only.

    Numba compiles each kernel once per argument type, and a read-only array
    is a type of its own: a read-only X (``np.load(mmap_mode="r")``, joblib's
    memmaps in scikit-learn's parallel searches, pandas' ``.values`` under
    copy-on-write) compiled every kernel a second time, which ``warmup()``
    does not cover. The kernels never write X or the sample weights (the
    tests check the caller's arrays afterwards), so they get the same memory,
    not a copy, under the one compiled signature. The caller's array keeps
    its flag; nothing else sees the alias.
    """
    if a.flags.writeable or a.size == 0:
        return a
    return np.asarray(_WritableAlias(a))


def power_of_two_scaled(sw):
    """``sw`` times the power of two that puts its smallest positive value in
    [1, 2), unless that takes ``n * max`` beyond 2**100.

    The fitted model does not depend on the weights' scale, but the
    arithmetic does: the M-step's ``N_k + 10 eps`` guard is absolute (with
    the smallest weight at 1, a component of any rows keeps N_k >= 1, as
    without weights), and k-means' float32 draw probabilities over- or
    underflow (hence the cap). A power of two is exact, so weights whose
    smallest positive value is in [1, 2) (integer counts with a 1) are used
    as they are, and any weights times 2**k give the same model bit for bit.
    """
    if sw.shape[0] == 0:
        return sw
    smallest = np.frexp(np.min(sw, where=sw > 0, initial=np.inf))[1] - 1
    cap = np.frexp(sw.max())[1] + int(sw.shape[0]).bit_length() - 100
    exponent = max(smallest, cap)
    return sw if exponent == 0 else np.ldexp(sw, -exponent)


def _float_dtype(dtype):
    """The dtype scikit-learn's validation gives an array: float32 stays,
    everything else becomes float64."""
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _log_prob_dtype(ct, X_dtype, w_dtype, m_dtype, u_dtype):
    """dtype of sklearn's weighted log-probabilities: 'full' and 'tied' fill
    an array of X's dtype and add log det U and log w; 'diag' and
    'spherical' compute with the means too."""
    means = () if ct.is_matrix else (m_dtype,)
    return np.result_type(X_dtype, w_dtype, u_dtype, *means)


def _unchecked_nonfinite(X):
    """Whether validation was told to skip X's NaN/inf check (scikit-learn's
    ``assume_finite``) and X has such values: looked at only after a fit
    failed, so the error names the cause rather than its symptom."""
    if not get_config()["assume_finite"]:
        return False
    try:
        A = np.asarray(X)
        return A.dtype.kind in "fc" and not np.all(np.isfinite(A))
    except (TypeError, ValueError):
        return False


class BaseMixture(DensityMixin, BaseEstimator):
    """Generic EM fitting on fused kernels (see :class:`GaussianMixture`)."""

    # --- hooks implemented by the concrete mixture -------------------------
    def _covariance(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_parameters(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_params(self, X, sw, random_state):  # pragma: no cover
        raise NotImplementedError

    # --- fitting ------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with the EM algorithm.

        The model is fitted ``n_init`` times and the parameters of the run
        with the largest lower bound (mean log-likelihood) are kept. Each run
        stops after ``max_iter`` iterations or when the lower bound changes by
        less than ``tol``. With ``warm_start=True`` the previous fit is the
        starting point and ``n_init`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 and float64 are used as they are; other
            numeric types are converted to float64.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights; a weight acts as a count (an integer
            weight gives the same model as repeating the row). ``None`` means
            all ones. Not available in scikit-learn.

        Returns
        -------
        self : object
            The fitted mixture.
        """
        self._fit(X, sample_weight, want_labels=False)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and predict the labels of ``X``.

        Equal to ``fit(X).predict(X)`` for any ``max_iter``, ``tol`` and
        ``random_state``: a final E-step follows the choice of the best run.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights (see :meth:`fit`).

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            Component labels.
        """
        return self._fit(X, sample_weight, want_labels=True)

    def _fit(self, X, sample_weight, want_labels):
        # _validated: set by select_model for one fit whose parameters and X
        # (a C-contiguous float ndarray) it has already checked
        validated = getattr(self, "_validated", False)
        if not validated:
            self._validate_params()
        # validate_data resets these before anything can fail; a failed fit
        # puts them back, so a previously fitted model stays usable as it was
        saved = {k: v for k, v in vars(self).items() if k in _DATA_ATTRIBUTES}
        try:
            return self._fit_checked(X, sample_weight, want_labels, validated)
        except BaseException as exc:
            for k in _DATA_ATTRIBUTES:
                vars(self).pop(k, None)
            vars(self).update(saved)
            if isinstance(exc, ValueError) and _unchecked_nonfinite(X):
                raise ValueError(
                    "Input X contains NaN or infinity (sklearn's assume_finite=True "
                    "skipped the check that says so)."
                ) from exc
            raise

    def _fit_checked(self, X, sample_weight, want_labels, validated=False):
        if validated:
            self.n_features_in_ = X.shape[1]  # as validate_data records it
        else:
            X = kernel_view(validate_data(
                self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2, order="C"
            ))
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {X.shape[0]}"
            )
        self._check_parameters(X)
        sw = kernel_view(power_of_two_scaled(check_sample_weight(sample_weight, X.shape[0])))
        positive = np.count_nonzero(sw) if sw.shape[0] else X.shape[0]
        if positive < 2:  # a row of weight 0 acts as removed
            raise ValueError(
                f"Found {positive} sample(s) of positive sample_weight while a minimum "
                f"of 2 is required by {type(self).__name__}."
            )
        if positive < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {positive} (samples of positive sample_weight)"
            )
        ct = self._covariance()
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init:  # checked before anything about the model changes
            params = self._current_params(X.shape[1])
        start = self._start_dtypes(X, do_init)
        dtype = self._model_dtype(X, start)
        n_init = self.n_init if do_init else 1
        max_lower_bound = -np.inf
        best_lower_bounds = []
        best_params = None
        best_n_iter = 0
        best_converged = False
        random_state = check_random_state(self.random_state)

        for init in range(n_init):
            self._print_verbose_msg_init_beg(init)
            if do_init:
                params = self._initial_params(X, sw, random_state)
            lower_bound = -np.inf if do_init else self.lower_bound_
            current_lower_bounds = []

            if self.max_iter == 0:
                best_params = params
                best_n_iter = 0
                continue
            converged = False
            for n_iter in range(1, self.max_iter + 1):
                prev_lower_bound = lower_bound
                total, params = em_step(ct, X, sw, params, self.reg_covar, dtype)
                lower_bound = dtype.type(mean_loglik(total))
                current_lower_bounds.append(lower_bound)
                change = lower_bound - prev_lower_bound
                self._print_verbose_msg_iter_end(n_iter, change)
                if abs(change) < self.tol:
                    converged = True
                    break
            self._print_verbose_msg_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params = params
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                best_converged = converged

        if not best_converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        if self.max_iter == 0:  # sklearn keeps each starting array's dtype
            self._set_parameters(best_params, start, X.dtype, keep=True)
        else:
            self._set_parameters(best_params, (dtype,) * 3, X.dtype)
        self.converged_ = best_converged
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        if want_labels:
            return self._score_rows(X, want_resp=False, want_labels=True)[2]
        return None

    # --- parameters -----------------------------------------------------------
    def _start_dtypes(self, X, do_init):
        """dtypes of the starting (weights, means, precision factors), as
        sklearn holds them: the ``*_init`` arrays' (validated to float32 or
        float64) or X's where not given; under warm start the fitted ones."""
        if do_init:
            start = self._init_arrays() or (None, None, None)
        else:
            start = (self.weights_, self.means_, self.precisions_cholesky_)
        return tuple(
            X.dtype if a is None else _float_dtype(np.asarray(a).dtype) for a in start
        )

    def _model_dtype(self, X, start):
        """dtype of the fitted attributes, as sklearn's arithmetic gives it:
        that of the first E-step's log-probabilities (``_log_prob_dtype``),
        which every later step keeps."""
        return _log_prob_dtype(self._covariance(), X.dtype, *start)

    def _init_arrays(self):
        return ()

    def _current_params(self, n_features):
        """The fitted parameters in float64, checked against each other, the
        covariance type and data of ``n_features`` features.

        The kernels trust shapes, so a model that no longer matches is refused
        here (scikit-learn's numpy arithmetic refuses it with a shape error):
        after a refit that failed (``n_features_in_`` already reset), under
        ``warm_start`` with other data or another ``covariance_type``, or with
        attributes set by hand.
        """
        ct = self._covariance()
        cov = getattr(self, "covariances_", None)
        # a model loaded read-only (joblib.load(mmap_mode="r")) reaches the
        # kernels under their one signature too
        params = Params(
            kernel_view(np.asarray(self.weights_, dtype=np.float64)),
            kernel_view(np.asarray(self.means_, dtype=np.float64)),
            None if cov is None else kernel_view(np.asarray(cov, dtype=np.float64)),
            kernel_view(np.asarray(self.precisions_cholesky_, dtype=np.float64)),
        )
        means = params.means
        if means.ndim != 2 or means.shape[1] != n_features:
            raise ValueError(
                f"The model does not match the data: means_ has shape {means.shape}, "
                f"expected (n_components, {n_features}) for X with {n_features} "
                "features. Refit the model (without warm_start)."
            )
        shapes = ct.param_shapes(means.shape[0], n_features)
        for name, value in zip(("weights_", "precisions_cholesky_", "covariances_"),
                               (params.weights, params.precisions_cholesky, params.covariances)):
            if value is not None and value.shape != shapes[name]:
                raise ValueError(
                    f"The model does not match its parameters: {name} has shape "
                    f"{value.shape}, expected {shapes[name]} for covariance_type="
                    f"{ct.name!r}, {means.shape[0]} components and {n_features} "
                    "features. Refit the model (without warm_start)."
                )
        params.precisions_cholesky = upper_factor(ct, params.precisions_cholesky)
        return params

    def _set_parameters(self, params, dtypes, X_dtype, keep=False):
        """Store float64 parameters in sklearn's attribute dtypes, ``dtypes``
        of (weights, means, precision factors); refuse (before touching the
        model) values that overflow those dtypes. ``keep``: the parameters
        are the starting ones (max_iter=0), each stored in its own dtype."""
        ct = self._covariance()
        U = params.precisions_cholesky
        cov = params.covariances
        if cov is None:  # precisions given by the user and max_iter=0
            cov = covariances_from_prec_chol(ct, U)
        w_dtype, m_dtype, u_dtype = dtypes
        cov_dtype = X_dtype if ct.covariances_in_X_dtype and not keep else u_dtype
        with np.errstate(over="ignore"):
            values = {
                "weights_": params.weights.astype(w_dtype),
                "means_": params.means.astype(m_dtype),
                "covariances_": np.asarray(cov).astype(cov_dtype),
                "precisions_cholesky_": U.astype(cov_dtype),
                "precisions_": ct.precisions(U).astype(cov_dtype),
            }
        for name, value in values.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(
                    f"The fitted {name} do not fit in {value.dtype.name}: the data's "
                    "magnitude is too large for that precision. Fit on float64 data "
                    "(X.astype(np.float64)) or scale the input data."
                )
        for name, value in values.items():
            setattr(self, name, value)

    # --- inference ------------------------------------------------------------
    def _validate_X_predict(self, X):
        check_is_fitted(self)
        return kernel_view(validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES, order="C"))

    def _score_rows(self, X, want_resp, want_labels):
        """One parallel pass: (log-likelihood, responsibilities, labels).

        Only what is asked for is allocated: the log-likelihoods when
        neither responsibilities nor labels are wanted (``score_samples``).
        """
        ct = self._covariance()
        means, U, const, center = kernel_args(ct, self._current_params(X.shape[1]))
        n = X.shape[0]
        K = means.shape[0]
        # as a fit's first E-step from these parameters would give it
        out_dtype = self._model_dtype(X, self._start_dtypes(X, do_init=False))
        want_lpn = not (want_resp or want_labels)
        lpn = np.empty(n if want_lpn else 0, dtype=out_dtype)
        resp = np.empty((n if want_resp else 0, K if want_resp else 0), dtype=out_dtype)
        labels = np.empty(n if want_labels else 0, dtype=np.int64)
        work = n * ct.row_work(K, X.shape[1]) // 2
        call_kernel(
            ct.kernels_for(X.shape[1]).score_rows,
            X, means, U, const, center, lpn, resp, labels, work=work,
        )
        return lpn, resp, labels

    def score_samples(self, X):
        """Compute the log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            Log-likelihood of each sample (float32 for float32 X and model).
        """
        X = self._validate_X_predict(X)
        return self._score_rows(X, False, False)[0]

    def score(self, X, y=None):
        """Compute the per-sample average log-likelihood of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            Mean log-likelihood of ``X`` under the model.
        """
        return float(np.mean(self.score_samples(X)))

    def predict(self, X):
        """Predict the component label of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            Component labels (arg-max of the weighted log-density).
        """
        X = self._validate_X_predict(X)
        return self._score_rows(X, False, True)[2]

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities; each row sums to 1. The only array of this
            shape that is allocated.
        """
        X = self._validate_X_predict(X)
        return self._score_rows(X, True, False)[1]

    def sample(self, n_samples=1):
        """Generate random samples from the fitted mixture.

        As in scikit-learn: rows are grouped by component, and an integer
        ``random_state`` gives the same samples on every call.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype float64
            Generated samples.
        y : ndarray of shape (n_samples,), dtype int64
            Component of each sample.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % (self.n_components)
            )
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        blocks = self._covariance().sample(rng, self.means_, self.covariances_, counts)
        X = np.vstack(blocks)
        y = np.concatenate(
            [np.full(int(c), i, dtype=np.int64) for i, c in enumerate(counts)]
        )
        return X, y

    # --- verbose (sklearn's wording) -----------------------------------------
    def _print_verbose_msg_init_beg(self, n_init):
        if self.verbose == 1:
            print("Initialization %d" % n_init)
        elif self.verbose >= 2:
            print("Initialization %d" % n_init)
            self._init_prev_time = time()
            self._iter_prev_time = self._init_prev_time

    def _print_verbose_msg_iter_end(self, n_iter, diff_ll):
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            elif self.verbose >= 2:
                cur_time = time()
                print(
                    "  Iteration %d\t time lapse %.5fs\t ll change %.5f"
                    % (n_iter, cur_time - self._iter_prev_time, diff_ll)
                )
                self._iter_prev_time = cur_time

    def _print_verbose_msg_init_end(self, lb, init_has_converged):
        converged_msg = "converged" if init_has_converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {converged_msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(
                f"Initialization {converged_msg}. time lapse {t:.5f}s\t lower bound"
                f" {lb:.5f}."
            )

