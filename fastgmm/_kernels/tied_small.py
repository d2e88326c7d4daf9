"""Tied-covariance kernels for fewer than 12 features.

Below ``_common.UNTILED_MAX + 1`` features neither the triangular product nor
the scatter of :mod:`tied` uses its 4 x 4 tiles, but choosing the path at run
time compiles the tiled code for every d. ``kernels_for(d)`` returns, for
such d, the module's block functions and drivers cloned with
``_SMALL_D = True`` (a constant: Numba prunes the branch on it before
typing), under their own names, compiled on first use and cached on disk;
from 12 features :mod:`tied` itself.
"""

import functools
import threading
import types

from .. import _config
from . import _common, tied

#: the functions of :mod:`tied` that read ``_SMALL_D``, and their callers up to
#: the drivers, callees first
_CLONED = ("_block_logprob", "_block_scatter", "_chunk", "stats", "_score_chunk", "score_rows")

_lock = threading.Lock()


def kernels_for(d):
    """The kernels of :mod:`tied` for data of d features."""
    if d > _common.UNTILED_MAX:
        return tied
    with _lock:  # two threads' first fits build it once
        return _build()


@functools.lru_cache(maxsize=None)
def _build():
    env = dict(vars(tied), _SMALL_D=True)
    _config.rejit_all(env, _CLONED, "__small_" + _config.source_tag(__file__))
    return types.SimpleNamespace(
        stats=env["stats"], score_rows=env["score_rows"], S2_SIZE=tied.S2_SIZE
    )
