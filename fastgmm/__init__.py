"""fastgmm: scikit-learn's GaussianMixture on fused, parallel Numba kernels.

Importing fastgmm compiles nothing; kernels compile on first use (and are
cached on disk) or all at once with :func:`warmup`.
"""

from ._gaussian_mixture import GaussianMixture
from ._selection import SelectionResult, select_model
from ._threading import num_threads
from ._warmup import warmup

__version__ = "0.1.0"

__all__ = ["GaussianMixture", "SelectionResult", "select_model", "num_threads", "warmup", "__version__"]
