"""EM on the standard problems (DESIGN.md section 5): fastgmm and scikit-learn
from identical initial parameters, tol=0, a fixed number of iterations,
kernels compiled in setup()."""

import warnings

import numpy as np
from sklearn.mixture import GaussianMixture as SkGM

from fastgmm import GaussianMixture
from fastgmm.bench import make_problem

PROBLEMS = ["small-2d", "mid", "wide", "tall-diag"]
N_ITER = 3


def _fit(cls, X, params, max_iter=N_ITER):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(max_iter=max_iter, **params).fit(X)


class EMIterations:
    """Seconds for N_ITER EM iterations (plus validation; no random init)."""

    params = (PROBLEMS, ["fastgmm", "sklearn"])
    param_names = ["problem", "library"]
    timeout = 600
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, problem, library):
        self.X, self.params = make_problem(problem)
        self.cls = GaussianMixture if library == "fastgmm" else SkGM
        if library == "fastgmm":
            _fit(self.cls, self.X[:5000], self.params, 1)  # compile

    def time_fit(self, problem, library):
        _fit(self.cls, self.X, self.params)


class FitMemory:
    """Peak resident memory of a whole fit (X included)."""

    params = (["mid", "tall-diag"], ["fastgmm", "sklearn"])
    param_names = ["problem", "library"]
    timeout = 600

    def setup(self, problem, library):
        self.X, self.params = make_problem(problem)
        self.cls = GaussianMixture if library == "fastgmm" else SkGM
        if library == "fastgmm":
            _fit(self.cls, self.X[:5000], self.params, 1)

    def peakmem_fit(self, problem, library):
        _fit(self.cls, self.X, self.params, 2)


class LowerBound:
    """The final lower bound, to catch numerical regressions."""

    params = PROBLEMS
    param_names = ["problem"]
    timeout = 600
    unit = "mean log-likelihood"

    def setup(self, problem):
        self.X, self.params = make_problem(problem)

    def track_lower_bound(self, problem):
        return float(_fit(GaussianMixture, self.X, self.params, 5).lower_bound_)


class StartUp:
    """Fresh interpreter: import, fit 1000 x 2 with K=3 and predict (warm cache)."""

    timeout = 300

    def timeraw_import_fit_predict_fastgmm(self):
        return """
import numpy as np
from fastgmm import GaussianMixture
X = np.random.default_rng(0).normal(size=(1000, 2))
GaussianMixture(3, random_state=0).fit(X).predict(X)
"""

    def timeraw_import_fit_predict_sklearn(self):
        return """
import numpy as np
from sklearn.mixture import GaussianMixture
X = np.random.default_rng(0).normal(size=(1000, 2))
GaussianMixture(3, random_state=0).fit(X).predict(X)
"""
