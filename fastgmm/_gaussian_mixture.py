"""GaussianMixture: parameters, checks of the ``*_init`` arrays, parameter
count and information criteria. The fitting itself is in ``_base``."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn import config_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseMixture
from ._covariance import COVARIANCE_TYPES
from ._initialization import data_center, initial_stats, uncentred_gram
from ._stats import Params, mstep, seed_params


def _check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            "The parameter '%s' should have the shape of %s, but got %s"
            % (name, param_shape, param.shape)
        )


def _check_weights(weights, n_components):
    weights = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(weights, (n_components,), "weights")
    if any(np.less(weights, 0.0)) or any(np.greater(weights, 1.0)):
        # sklearn prints min and max under swapped labels; kept for parity
        raise ValueError(
            "The parameter 'weights' should be in the range "
            "[0, 1], but got max value %.5f, min value %.5f"
            % (np.min(weights), np.max(weights))
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not np.allclose(float(np.abs(1.0 - np.sum(weights))), 0.0, atol=atol):
        raise ValueError(
            "The parameter 'weights' should be normalized, but got sum(weights) = %.5f"
            % np.sum(weights)
        )
    return weights


def _check_means(means, n_components, n_features):
    means = check_array(means, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(means, (n_components, n_features), "means")
    return means


def _check_precision_matrix(precision, covariance_type):
    if not (
        np.all(np.isclose(precision, precision.T))
        and np.all(np.linalg.eigvalsh(precision) > 0.0)
    ):
        raise ValueError(
            "'%s precision' should be symmetric, positive-definite" % covariance_type
        )


def _check_precisions_full(precisions, covariance_type):
    for p in precisions:
        _check_precision_matrix(p, covariance_type)


def _check_precision_positivity(precision, covariance_type):
    if np.any(np.less_equal(precision, 0.0)):
        raise ValueError("'%s precision' should be positive" % covariance_type)


_PRECISION_CHECKS = {
    "full": _check_precisions_full,
    "tied": _check_precision_matrix,
    "diag": _check_precision_positivity,
    "spherical": _check_precision_positivity,
}


def _check_precisions(precisions, covariance_type, n_components, n_features):
    precisions = check_array(
        precisions,
        dtype=[np.float64, np.float32],
        ensure_2d=False,
        allow_nd=covariance_type == "full",
    )
    shape = COVARIANCE_TYPES[covariance_type].shape(n_components, n_features)
    _check_shape(precisions, shape, "%s precision" % covariance_type)
    _PRECISION_CHECKS[covariance_type](precisions, covariance_type)
    return precisions


class GaussianMixture(BaseMixture):
    """Gaussian mixture model fitted by EM on fused, parallel Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`
    (scikit-learn 1.9.1): the same parameters, attributes, methods, warnings
    and errors, and for the same ``random_state`` the same fitted model (to
    floating-point summation order). Each EM iteration is one parallel pass
    over ``X``; no (n_samples, n_components) array is allocated while
    fitting. Additions: ``sample_weight`` in :meth:`fit` and
    :meth:`fit_predict`; float32 data are used without a copy, with float64
    accumulation.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own general covariance matrix;
        'tied': all components share one general covariance matrix;
        'diag': each component has its own diagonal covariance matrix;
        'spherical': each component has its own single variance.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the change of the lower bound
        (the mean log-likelihood) is below it.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariances.
    max_iter : int, default=100
        The number of EM iterations to perform (0: initialisation only).
    n_init : int, default=1
        The number of initialisations; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How the initial responsibilities are chosen. 'kmeans' runs
        fastgmm's own k-means, which reproduces scikit-learn's KMeans.
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (inverse covariances); shape
        (n_components,) 'spherical', (n_features, n_features) 'tied',
        (n_components, n_features) 'diag',
        (n_components, n_features, n_features) 'full'.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation (drawn as scikit-learn draws it) and of
        :meth:`sample`.
    warm_start : bool, default=False
        Reuse the last fit as the initialisation of the next call to fit.
    verbose : int, default=0
        1 prints the current initialisation and iteration; 2 also times.
    verbose_interval : int, default=10
        Number of iterations between two messages.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray (shape depends on ``covariance_type``)
    precisions_ : ndarray (shape depends on ``covariance_type``)
    precisions_cholesky_ : ndarray (shape depends on ``covariance_type``)
        Upper-triangular U with precision U U^T (full, tied), or 1/sigma.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Lower bound (mean log-likelihood) of the best run.
    lower_bounds_ : list of float
        Lower bound at each iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgmm import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
    """

    # scikit-learn's GaussianMixture constraints (tests compare them), written
    # out: importing sklearn.mixture pulls in sklearn.cluster, neighbors and
    # decomposition, 0.13 s of a 1.2 s start-up
    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    def _covariance(self):
        return COVARIANCE_TYPES[self.covariance_type]

    def _check_parameters(self, X):
        """Validate the ``*_init`` arrays and store them back, as sklearn does.

        Always for NaN/inf too: ``select_model`` fits under
        ``assume_finite=True`` (X was checked once), which would skip them."""
        with config_context(assume_finite=False):
            _, n_features = X.shape
            if self.weights_init is not None:
                self.weights_init = _check_weights(self.weights_init, self.n_components)
            if self.means_init is not None:
                self.means_init = _check_means(
                    self.means_init, self.n_components, n_features
                )
            if self.precisions_init is not None:
                self.precisions_init = _check_precisions(
                    self.precisions_init,
                    self.covariance_type,
                    self.n_components,
                    n_features,
                )

    def _init_arrays(self):
        return (self.weights_init, self.means_init, self.precisions_init)

    def _initial_params(self, X, sw, random_state):
        """sklearn's ``_initialize_parameters`` + ``_initialize``, in float64."""
        ct = self._covariance()
        given = (self.weights_init, self.means_init, self.precisions_init)
        params = Params(None, None, None, None)
        if any(p is None for p in given):
            # _kmeans: a k-means cache set by select_model for one fit only
            total, shift, seeds = initial_stats(
                ct, self.init_params, X, sw, self.n_components, random_state,
                kmeans=getattr(self, "_kmeans", None),
            )
            n_total = X.shape[0] if sw.shape[0] == 0 else float(np.sum(sw))
            # given precisions replace any covariances (sklearn factors none then)
            wanted = self.precisions_init is None
            if seeds is None:
                params = mstep(ct, total, shift, self.reg_covar, X.dtype,
                               weight_norm=n_total, covariances=wanted)
            else:
                lightest = float(np.min(sw, where=sw > 0, initial=np.inf)) if sw.shape[0] else 1.0

                def gram():  # X^T W X in units of the lightest weight ('tied' only)
                    return uncentred_gram(ct, X, sw, data_center(X, sw)) / lightest

                params = seed_params(ct, seeds, gram, self.reg_covar, X.dtype,
                                     weight_norm=n_total, seed_weight=lightest,
                                     covariances=wanted)
        # copies: the caller's arrays may be read-only, a compiled signature
        # of its own for the kernels (see _base.kernel_view)
        if self.weights_init is not None:
            params.weights = np.array(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            params.means = np.array(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            P = np.asarray(self.precisions_init, dtype=np.float64)
            params.precisions_cholesky = ct.prec_chol_from_precisions(P)
            params.covariances = None  # derived from the precisions if needed
        return params

    def _n_parameters(self):
        """Return the number of free parameters in the model."""
        _, n_features = self.means_.shape
        cov_params = self._covariance().n_cov_params(self.n_components, n_features)
        mean_params = n_features * self.n_components
        return int(cov_params + mean_params + self.n_components - 1)

    def bic(self, X):
        """Bayesian information criterion for the current model on ``X``.

        ``-2 * score(X) * n_samples + n_parameters * log(n_samples)``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        bic : float
            The lower the better.
        """
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * math.log(
            X.shape[0]
        )

    def aic(self, X):
        """Akaike information criterion for the current model on ``X``.

        ``-2 * score(X) * n_samples + 2 * n_parameters``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        aic : float
            The lower the better.
        """
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()
