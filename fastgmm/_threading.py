"""Thread safety of parallel kernel calls.

Numba's ``workqueue`` threading layer aborts the process when two Python
threads run parallel kernels at once. fastgmm does not change the layer for
the process; it serialises kernel calls behind a lock until the first call
has shown which layer is in use, and for good when that layer is
``workqueue``. The OpenMP and TBB layers take concurrent calls.
"""

import threading

import numba

_lock = threading.RLock()
_layer = None


def threading_layer():
    """The Numba threading layer in use, or None before the first kernel call."""
    return _layer


def call_kernel(kernel, *args):
    global _layer
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
