import numpy as np
import pytest
from scipy import linalg

COV_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = [np.float64, np.float32]


def random_params(rng, K, d, cov_type):
    """Random weights, means, covariances and precision Cholesky factors."""
    weights = rng.dirichlet(np.ones(K) * 3)
    means = rng.normal(scale=3, size=(K, d))
    if cov_type in ("full", "tied"):
        n_mat = K if cov_type == "full" else 1
        covs = []
        for _ in range(n_mat):
            A = rng.normal(size=(d, d))
            covs.append(A @ A.T / d + 0.5 * np.eye(d))
        covs = np.stack(covs)
        U = np.stack(
            [linalg.solve_triangular(linalg.cholesky(c, lower=True), np.eye(d), lower=True).T for c in covs]
        )
        if cov_type == "tied":
            covs, U = covs[0], U[0]
    elif cov_type == "diag":
        covs = rng.uniform(0.3, 2.0, size=(K, d))
        U = 1 / np.sqrt(covs)
    else:
        covs = rng.uniform(0.3, 2.0, size=K)
        U = 1 / np.sqrt(covs)
    return weights, means, covs, U


def precisions_from(covs, cov_type):
    if cov_type in ("full", "tied"):
        return np.linalg.inv(covs)
    return 1.0 / covs


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# Hypothesis profiles: a bounded one for the default (CI) run, a longer one
# for local runs: HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py
try:
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(
        "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass
