"""Threads, forked children and pickles: no abort, no hang, same results."""

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from fastgmm import GaussianMixture

COVS = ["full", "tied", "diag", "spherical"]


def _data(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(12000, 3)) + rng.integers(0, 3, size=(12000, 1)) * 4


def _fit_and_score(seed):
    X = _data(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, covariance_type=COVS[seed % 4], random_state=seed, max_iter=30).fit(X)
    return gm.means_.copy(), gm.predict_proba(X), gm.score_samples(X)


def test_eight_threads_match_sequential_fits():
    expected = [_fit_and_score(s) for s in range(8)]
    results = [None] * 8
    errors = []

    def work(s):
        try:
            results[s] = _fit_and_score(s)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    for got, want in zip(results, expected):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


WORKQUEUE_SCRIPT = r"""
import threading, warnings, numpy as np
from fastgmm import GaussianMixture
# large enough that every EM pass runs the parallel kernels
X = np.random.default_rng(0).normal(size=(20000, 4))
out = {}
def work(i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out[i] = GaussianMixture(3, random_state=i, max_iter=10).fit(X).score(X)
ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
[t.start() for t in ts]; [t.join() for t in ts]
seq = {}
for i in range(6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq[i] = GaussianMixture(3, random_state=i, max_iter=10).fit(X).score(X)
import numba
print(numba.threading_layer(), out == seq)
"""


def test_workqueue_layer_concurrent_calls_are_serialised():
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    res = subprocess.run(
        [sys.executable, "-c", WORKQUEUE_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["workqueue", "True"]


def _child_fit(queue):
    queue.put(_fit_and_score(1)[2].tolist())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_can_fit_after_parent_used_kernels():
    parent = _fit_and_score(1)[2]  # the parent's threading layer is now running
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_fit, args=(queue,))
    proc.start()
    got = queue.get(timeout=300)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    np.testing.assert_array_equal(np.asarray(got), parent)


@pytest.mark.parametrize("library", ["pickle", "joblib"])
def test_pickle_round_trip_in_another_process(tmp_path, library):
    X = _data(3)
    gm = GaussianMixture(3, random_state=0).fit(X)
    path = tmp_path / "model.pkl"
    if library == "pickle":
        path.write_bytes(pickle.dumps(gm))
        load = f"pickle.loads(open({str(path)!r}, 'rb').read())"
    else:
        import joblib

        joblib.dump(gm, path)
        load = f"joblib.load({str(path)!r})"
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, joblib, sys, numpy as np\n"
        f"gm = {load}\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "np.save(sys.argv[1], gm.predict_proba(X))\n"
    )
    out = tmp_path / "proba.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=600)
    np.testing.assert_array_equal(np.load(out), gm.predict_proba(X))
