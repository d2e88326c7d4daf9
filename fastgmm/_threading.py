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

import os
import threading

import numba

_lock = threading.RLock()
_layer = None
_serial_only = False


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


def call_kernel(kernel, *args):
    global _layer
    if _serial_only:
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
