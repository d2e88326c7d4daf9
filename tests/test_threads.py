"""fastgmm.num_threads: the per-call thread cap (a wrapper of numba.set_num_threads)."""

import os
import subprocess
import sys
import threading
import warnings

import numba
import numpy as np
import pytest

import fastgmm
from fastgmm import GaussianMixture, num_threads

MAX = numba.config.NUMBA_NUM_THREADS


def test_context_manager_sets_and_restores():
    before = numba.get_num_threads()
    with num_threads(1) as cap:
        assert numba.get_num_threads() == 1
        assert cap.n == 1 and cap.previous == before
    assert numba.get_num_threads() == before


def test_the_same_object_entered_again_sets_it_again():
    before = numba.get_num_threads()
    one = num_threads(1)  # takes effect when made, as documented
    assert numba.get_num_threads() == 1
    with one:
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with one:  # it used to run this block on every thread
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def _enter_in_another_thread(cap):
    """Thread counts inside and after ``with cap`` in a new Python thread that
    starts at MAX."""
    import threading

    seen = {}

    def worker():
        numba.set_num_threads(MAX)
        with cap:
            seen["inside"] = numba.get_num_threads()
        seen["after"] = numba.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    return seen


@pytest.mark.skipif(MAX < 2, reason="needs a pool of two threads")
def test_an_object_made_ahead_applies_when_entered():
    """Made, then the count changed elsewhere, then entered; or entered from
    another Python thread (Numba keeps the count per thread): n applies."""
    before = numba.get_num_threads()
    cap = num_threads(1)
    numba.set_num_threads(MAX)
    with cap:
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before  # the value found when it was made

    cap = num_threads(1)
    numba.set_num_threads(before)
    assert _enter_in_another_thread(cap) == {"inside": 1, "after": MAX}
    assert numba.get_num_threads() == before


@pytest.mark.skipif(MAX < 2, reason="needs a pool of two threads")
def test_one_object_shared_by_threads_and_nested_restores_each():
    numba.set_num_threads(MAX)
    cap = num_threads(1)  # made in this thread: replaced MAX here
    assert _enter_in_another_thread(cap) == {"inside": 1, "after": MAX}
    with cap:  # its first with, here: exits to the value it replaced when made
        with cap:  # nested: exits to 1, the outer block's value
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == MAX


def test_restored_after_an_exception():
    before = numba.get_num_threads()
    with pytest.raises(KeyError):
        with num_threads(1):
            raise KeyError("boom")
    assert numba.get_num_threads() == before


def test_nested_and_plain_call():
    before = numba.get_num_threads()
    try:
        num_threads(1)  # plain call: stays in effect
        assert numba.get_num_threads() == 1
        with num_threads(MAX):
            assert numba.get_num_threads() == MAX
            with num_threads(1):
                assert numba.get_num_threads() == 1
            assert numba.get_num_threads() == MAX
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)


def test_setting_is_per_calling_thread():
    before = numba.get_num_threads()
    seen = []

    def other():
        with num_threads(1):
            seen.append(numba.get_num_threads())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [1]
    assert numba.get_num_threads() == before


def test_numpy_integer_accepted():
    with num_threads(np.int64(1)) as cap:
        assert cap.n == 1 and numba.get_num_threads() == 1


@pytest.mark.parametrize("n", [0, -1, MAX + 1])
def test_out_of_range(n):
    before = numba.get_num_threads()
    with pytest.raises(ValueError, match=rf"between 1 and {MAX} .*NUMBA_NUM_THREADS.*got {n}"):
        num_threads(n)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("n", [1.0, 1.5, "2", None, True])
def test_not_an_integer(n):
    with pytest.raises(TypeError, match="n must be an integer"):
        num_threads(n)


def test_exported():
    assert fastgmm.num_threads is num_threads
    assert "num_threads" in fastgmm.__all__


@pytest.mark.skipif(MAX < 2, reason="needs NUMBA_NUM_THREADS >= 2")
@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_bitwise_identical_with_one_and_two_threads(cov):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9000, 3)) + rng.integers(0, 3, size=(9000, 1)) * 3  # 12 chunks

    def fit(n):
        with num_threads(n), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=10).fit(X)
            return [gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_,
                    np.asarray(gm.lower_bounds_), gm.predict_proba(X), gm.score_samples(X)]

    for a, b in zip(fit(1), fit(2)):
        assert a.tobytes() == b.tobytes()


FORK_SCRIPT = r"""
import os, warnings
import numpy as np
import fastgmm
with fastgmm.num_threads(1):   # starts Numba's pool; no kernel has run yet
    pass
pid = os.fork()
if pid == 0:
    X = np.random.default_rng(0).normal(size=(5000, 2))
    warnings.simplefilter("ignore")
    fastgmm.GaussianMixture(2, random_state=0, max_iter=5).fit(X)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_num_threads_before_any_fit():
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr
