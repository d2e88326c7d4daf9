"""Results are bitwise identical whatever the number of threads."""

import json
import os
import subprocess
import sys


SCRIPT = r"""
import hashlib, json, warnings
import numpy as np
import numba
from fastgmm import GaussianMixture
rng = np.random.default_rng(0)
X = rng.normal(size=(20000, 3)) + rng.integers(0, 4, size=(20000, 1)) * 3
out = {"threads": numba.get_num_threads()}
for cov in ["full", "tied", "diag", "spherical"]:
    for dtype in [np.float64, np.float32]:
        Xd = X.astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(4, covariance_type=cov, random_state=0, max_iter=20).fit(Xd)
        h = hashlib.sha256()
        for a in (gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_,
                  np.asarray(gm.lower_bounds_), gm.predict_proba(Xd), gm.score_samples(Xd)):
            h.update(np.ascontiguousarray(a).tobytes())
        out[cov + str(np.dtype(dtype))] = h.hexdigest()
print(json.dumps(out))
"""


def _run(threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_bitwise_identical_for_one_and_two_threads():
    one, two = _run(1), _run(2)
    assert one.pop("threads") == 1
    assert two.pop("threads") == 2
    assert one == two
