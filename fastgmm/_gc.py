"""Garbage collection during Numba's import."""

import contextlib
import gc


@contextlib.contextmanager
def young_only():
    """Automatic collections inside the block walk only the objects made in it.

    Importing Numba makes some 26,000 objects, enough to trigger full
    collections, each of which walks every object of the process (SciPy's and
    scikit-learn's, some 120,000) although none of the old ones is garbage.
    The objects older than the block are set aside (:func:`gc.freeze`) and put
    back when it ends (:func:`gc.unfreeze`); garbage made in the block is
    collected as usual. Nothing is set aside when some objects are frozen
    already: a program that froze its own (before forking, say) keeps them
    frozen. Measured on 2 cores: garbage collection in the start-up script
    (import, fit 1,000 x 2, predict) 0.14 -> 0.08 s of about 1 s.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
