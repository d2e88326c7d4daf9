"""fit never allocates an (n_samples, n_components) array, nor a float64 copy
of float32 X (NumPy allocations traced with tracemalloc; the kernels' own
scratch is O(threads x K x d^2) and independent of n)."""

import tracemalloc
import warnings

import numpy as np
import pytest

from fastgmm import GaussianMixture
from fastgmm._config import CHUNK_SIZE
from fastgmm._threading import parallel_always

from .conftest import COV_TYPES


#: rows of the warm-up fits: two chunks, so the parallel drivers compile there
#: (data of one chunk run the serial twins) and not inside the traced call
WARM = 2 * CHUNK_SIZE


def _warm_fit(gm, X):
    """Compile, outside the traced call, the kernels a fit runs: the serial
    twins (small calls) and, forced, every parallel driver (some run only
    on more work than WARM rows hold; compiling them is not the fit's memory)."""
    gm.fit(X[:WARM])
    with parallel_always():
        gm.fit(X[:WARM])

@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++", "random_from_data"])
def test_fit_allocates_no_n_by_k_array(cov_type, init_params):
    n, d, K = 600_000, 2, 16
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    gm = GaussianMixture(K, covariance_type=cov_type, init_params=init_params,
                         max_iter=3, random_state=0, reg_covar=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_fit(gm, X)
        tracemalloc.start()
        gm.fit(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    n_by_k = n * K * 4  # the smallest (n, K) array: float32, 38 MB
    # legitimate allocations: bounded blocks of initial responsibilities
    # (4 MiB) and a few n-vectors in the k-means++ seeding (as sklearn's)
    assert peak < n_by_k / 2, peak


def test_predict_allocates_only_its_output():
    n, d, K = 100_000, 3, 16
    X = np.random.default_rng(1).normal(size=(n, d))
    gm = GaussianMixture(K, random_state=0, max_iter=2).fit(X[:WARM])
    gm.predict_proba(X[:WARM])  # compiles the parallel scoring driver
    tracemalloc.start()
    labels = gm.predict(X)
    _, peak_predict = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak_predict < labels.nbytes + 2**18  # not even one float per row
    tracemalloc.start()
    proba = gm.predict_proba(X)
    _, peak_proba = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak_proba < proba.nbytes + 2**18
