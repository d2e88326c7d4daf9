"""Thread and process safety of parallel kernel calls.

fastgmm never changes Numba's threading layer for the process. It guards
against the two layers that are unsafe somewhere:

- ``workqueue`` aborts the process when two Python threads run parallel
  kernels at once: kernel calls are serialised behind a lock until the first
  call has shown which layer is in use, and for good when it is
  ``workqueue``. The OpenMP and TBB layers take concurrent calls.
- GNU OpenMP (Numba's ``omp`` layer on Linux with libgomp) terminates a child
  process forked after the parent ran a parallel region ("fork() called from
  a process already using GNU OpenMP"); ``workqueue``'s threads do not exist
  in a forked child either. Such a child runs every kernel's serial twin
  instead: the same code without threads, the same results.
"""

import contextlib
import os
import threading

import numba

from ._config import PARALLEL_MIN_WORK, n_chunks

_lock = threading.RLock()
_layer = None
_serial_only = False
_min_work = PARALLEL_MIN_WORK


def threading_layer():
    """The Numba threading layer in use, or None before the first kernel call."""
    return _layer


def _fork_unsafe(layer):
    if layer == "workqueue":
        return True
    if layer == "omp":
        try:
            from numba.np.ufunc import omppool

            return getattr(omppool, "openmp_vendor", "GNU") == "GNU"
        except ImportError:  # pragma: no cover
            return True
    return False


def _after_fork_in_child():
    global _serial_only, _lock
    _lock = threading.RLock()  # the parent's lock may have been held
    if _layer is not None and _fork_unsafe(_layer):
        _serial_only = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def call_kernel(kernel, X, *args, work=None):
    """Run a parallel kernel whose first argument is the data ``X``.

    ``work`` estimates the call's multiply-adds (default: one per value of
    X). Data of one chunk, or calls under ``PARALLEL_MIN_WORK``, run the
    serial twin: waking the thread pool would cost more than the work. The
    twin is the same code with the same chunks: the same results.
    """
    n = X.shape[0]
    if work is None:
        work = X.size
    if n_chunks(n) == 1:
        return kernel.serial(X, *args)
    return call_tasks(kernel, X, *args, work=work)


def runs_serial(n, work):
    """Whether :func:`call_kernel` runs the serial twin on ``n`` rows."""
    return n_chunks(n) == 1 or _tasks_serial(work)


def _tasks_serial(work):
    """Whether :func:`call_tasks` runs the serial twin."""
    return _serial_only or work < _min_work


def call_tasks(kernel, *args, work):
    """Run a parallel kernel whose parallel loop is not over chunks of rows
    (components, matrices), under the same rules as :func:`call_kernel`: the
    serial twin below ``PARALLEL_MIN_WORK`` multiply-adds and in a forked
    child."""
    global _layer
    if _tasks_serial(work):
        return kernel.serial(*args)
    if _layer is not None and _layer != "workqueue":
        return kernel(*args)
    with _lock:
        out = kernel(*args)
        if _layer is None:
            try:
                _layer = numba.threading_layer()
            except ValueError:  # no parallel region has run yet
                pass
        return out


@contextlib.contextmanager
def parallel_always():
    """Every call of more than one chunk runs the parallel kernel, whatever
    its work (``warmup`` compiles the parallel drivers on small data)."""
    global _min_work
    _min_work = 0
    try:
        yield
    finally:
        _min_work = PARALLEL_MIN_WORK


def _note_layer():
    """Record the threading layer once Numba's pool has started, so that a
    child forked before the first kernel call still gets the serial twins
    (a started GNU OpenMP pool alone makes a forked child abort)."""
    global _layer
    if _layer is None:
        try:
            _layer = numba.threading_layer()
        except ValueError:  # pragma: no cover (the pool has not started)
            pass


def _check_num_threads(n):
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an integer number of threads, got {n!r}")
    n = int(n.__index__())
    limit = numba.config.NUMBA_NUM_THREADS
    if not 1 <= n <= limit:
        raise ValueError(
            f"n must be between 1 and {limit} (Numba's thread pool size, fixed per "
            f"process by the NUMBA_NUM_THREADS environment variable), got {n}"
        )
    return n


class num_threads:
    """Run fastgmm's kernels on at most ``n`` threads in the calling thread.

    A thin wrapper around ``numba.set_num_threads`` / ``numba.get_num_threads``.
    The setting takes effect at once (when the object is made, as
    threadpoolctl's limits do) and applies to kernels called from the
    calling Python thread only (Numba keeps it per thread); used as a context
    manager it sets ``n`` on entry (an object made ahead of its ``with`` too)
    and on exit restores the value it replaced in that thread, exceptions
    included; one object may be entered again, nested, or from several
    threads::

        with fastgmm.num_threads(1):
            gm.fit(X)             # single-threaded
        fastgmm.num_threads(2)    # plain call: stays in effect for this thread

    Results are bitwise identical for any ``n``. The process-wide ceiling is
    Numba's pool size, ``NUMBA_NUM_THREADS`` (an environment variable read
    when Numba is imported); threadpoolctl and ``OMP_NUM_THREADS`` do not
    limit Numba once it has started.

    Parameters
    ----------
    n : int
        Number of threads, ``1 <= n <= numba.config.NUMBA_NUM_THREADS``.

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n`` is outside that range.
    """

    def __init__(self, n):
        self.n = _check_num_threads(n)
        self._saved = {}  # thread id -> stack of the values it replaced there
        self._made_in = threading.get_ident()  # applied when made, not yet entered
        self._apply()
        _note_layer()

    def _apply(self):
        me = threading.get_ident()
        # get_num_threads() also starts Numba's thread pool
        self._saved.setdefault(me, []).append(numba.get_num_threads())
        numba.set_num_threads(self.n)

    @property
    def previous(self):
        """The value this object replaced last in the calling thread."""
        return self._saved[threading.get_ident()][-1]

    def __enter__(self):
        if self._made_in == threading.get_ident():
            # its first ``with``, in the thread that made it: the value it
            # replaced is saved; set n again (it may have changed since)
            self._made_in = None
            numba.set_num_threads(self.n)
        else:  # entered again, nested, or in another thread
            self._apply()
        return self

    def __exit__(self, *exc_info):
        me = threading.get_ident()
        stack = self._saved[me]
        numba.set_num_threads(stack.pop())
        if not stack:
            del self._saved[me]
        return False

    def __repr__(self):
        return f"num_threads({self.n})"
