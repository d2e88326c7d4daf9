"""Model selection: fit a grid of numbers of components x covariance types
and keep the model with the lowest information criterion.

:func:`select_model` gives, for every grid point, the same model as a
separate ``GaussianMixture(...).fit(X)`` with the same seed (bitwise), only
faster:

- ``X`` (and ``sample_weight``) are validated once; the fits then run under
  ``sklearn.config_context(assume_finite=True)``, which skips the repeated
  finiteness scan of ``X`` and nothing else;
- the k-means initialisation depends on ``(X, K, seed, sample_weight)`` but
  not on the covariance type, so it is computed once per ``K`` (and per
  restart) and reused by every covariance type (a cache keyed by the
  RandomState's state, which it also restores, so the draws are unchanged);
- a fit runs on at most one Numba thread per chunk of rows (chunks of
  ``CHUNK_SIZE`` rows, fewer for small data; data of one chunk run the
  kernels' serial twins): threads beyond that have no rows to work on.
  When the fits are large enough, the threads left over fit other numbers
  of components at once (a thread pool; the kernels release the GIL). Results do not depend on the thread count
  (chunks depend on the number of rows only, summed in order);
- the kernels of the grid's covariance types are compiled (or loaded from
  the disk cache) before the first timed fit, so ``seconds`` measures fitting.
"""

import bisect
import contextlib
import math
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn import config_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._base import _FLOAT_DTYPES, check_sample_weight, kernel_view, power_of_two_scaled
from ._config import CHUNK_SIZE, n_chunks
from ._covariance import COVARIANCE_TYPES
from ._gaussian_mixture import GaussianMixture
from ._initialization import kmeans_labels, warn_if_few_clusters
from ._warmup import warm_fit

__all__ = ["select_model", "SelectionResult"]

#: columns of :attr:`SelectionResult.table_`, in order
COLUMNS = (
    "n_components",
    "covariance_type",
    "bic",
    "aic",
    "score",
    "n_parameters",
    "converged",
    "n_iter",
    "seconds",
)

#: grids with more fits than this show progress when stderr is a terminal
AUTO_PROGRESS_MIN_FITS = 4

_CRITERIA = ("bic", "aic")


# --------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------
class SelectionResult:
    """The outcome of :func:`select_model`.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The fitted model with the lowest criterion (the first in grid order
        on ties).
    best_params_ : dict
        ``{"n_components": int, "covariance_type": str}`` of the best model.
    best_score_ : float
        The best model's criterion value (lower is better).
    best_index_ : int
        Row of the best model in :attr:`table_`.
    criterion : str or callable
        ``"bic"``, ``"aic"`` or the callable that was given.
    random_state_ : int
        The integer seed every fit used.
    table_ : dict of str -> ndarray
        One row per fit, in grid order (``n_components`` outer,
        ``covariance_type`` inner): ``n_components``, ``covariance_type``,
        ``bic``, ``aic``, ``score`` (mean log-likelihood of the training
        data, weighted by ``sample_weight``), ``n_parameters``,
        ``converged``, ``n_iter``, ``seconds`` (wall time of the fit; fits of
        different K overlap when several run at once), and
        ``criterion`` when the criterion is a callable. ``pandas`` is not
        needed; :meth:`to_frame` makes a DataFrame.
    """

    def __init__(self, table, best_index, best_estimator, criterion, random_state):
        self.table_ = table
        self.best_index_ = int(best_index)
        self.best_estimator_ = best_estimator
        self.criterion = criterion
        self.random_state_ = random_state
        self.best_params_ = {
            "n_components": int(table["n_components"][best_index]),
            "covariance_type": str(table["covariance_type"][best_index]),
        }
        self.best_score_ = float(self._criterion_column()[best_index])

    def _criterion_column(self):
        if callable(self.criterion):
            return self.table_["criterion"]
        return self.table_[self.criterion]

    @property
    def criterion_name(self):
        """``"bic"``, ``"aic"``, or the callable's name."""
        if callable(self.criterion):
            return getattr(self.criterion, "__name__", "criterion")
        return self.criterion

    def __len__(self):
        return len(self.table_["n_components"])

    def rows(self):
        """The table as a list of dicts (one per fit), with Python scalars."""
        names = list(self.table_)
        return [
            {name: _py(self.table_[name][i]) for name in names} for i in range(len(self))
        ]

    def to_frame(self):
        """The table as a :class:`pandas.DataFrame` (needs pandas).

        Returns
        -------
        frame : pandas.DataFrame
            One row per fit, the columns of :attr:`table_`.
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a test dependency
            raise ImportError(
                "to_frame() needs pandas (pip install pandas); the table is also "
                "available without it as result.table_ (dict of NumPy columns) "
                "or result.rows() (list of dicts)."
            ) from None
        return pd.DataFrame({name: col for name, col in self.table_.items()})

    def to_string(self, mark_best=True):
        """The table as aligned text, the best row marked with ``*``.

        Returns
        -------
        text : str
        """
        cols = list(self.table_)
        fmt = {
            "bic": "{:.4f}",
            "aic": "{:.4f}",
            "score": "{:.6f}",
            "criterion": "{:.6g}",
            "seconds": "{:.3f}",
        }
        header = ["K" if c == "n_components" else c for c in cols]
        cells = []
        for i in range(len(self)):
            row = []
            for c in cols:
                v = _py(self.table_[c][i])
                row.append(fmt.get(c, "{}").format(v))
            cells.append(row)
        widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(header)]
        lines = ["  " + "  ".join(h.rjust(w) for h, w in zip(header, widths))]
        for i, row in enumerate(cells):
            mark = "* " if (mark_best and i == self.best_index_) else "  "
            lines.append(mark + "  ".join(v.rjust(w) for v, w in zip(row, widths)))
        return "\n".join(lines)

    def __repr__(self):
        return (
            f"SelectionResult(criterion={self.criterion_name!r}, n_fits={len(self)}, "
            f"best_params_={self.best_params_}, best_score_={self.best_score_:.6g})"
        )


def _py(value):
    """A NumPy scalar as the Python scalar (object-column strings as they are)."""
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def _as_grid_of_k(n_components, n_samples):
    if isinstance(n_components, numbers.Integral) and not isinstance(n_components, bool):
        ks = [n_components]
    elif isinstance(n_components, (str, bytes)) or not np.iterable(n_components):
        raise TypeError(
            "n_components must be an int or an iterable of ints (e.g. range(1, 11)), "
            f"got {n_components!r}."
        )
    elif isinstance(n_components, range) and n_components:
        # checked by bisection: range(1, 10**9) is refused before it is
        # listed, naming its first K out of [1, n_samples] as a list would
        ks = n_components
        _check_k(ks[0], n_samples, ks)
        up = ks if ks.step > 0 else ks[::-1]
        lo, hi = bisect.bisect_left(up, 1), bisect.bisect_right(up, n_samples)
        if hi < len(up):
            _check_k(up[hi], n_samples, ks)
        if lo > 0:
            _check_k(up[lo - 1], n_samples, ks)
    else:
        ks = n_components
    out, seen = [], set()
    for k in ks:  # one pass: the first bad K stops it
        k = _check_k(k, n_samples)
        if k not in seen:
            seen.add(k)
            out.append(k)
    if not out:
        raise ValueError("n_components is empty: give at least one number of components.")
    return out


def _check_k(k, n_samples, within=None):
    """k as an int in [1, n_samples]; ``within``: the range k was taken from,
    named in the error."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"n_components must contain ints, got {k!r}.")
    k = int(k)
    where = "" if within is None else f" (the first such value in {within!r})"
    if k < 1:
        raise ValueError(f"n_components must be >= 1, got {k}{where}.")
    if k > n_samples:
        raise ValueError(f"n_components must be <= n_samples = {n_samples}, got {k}{where}.")
    return k


def _as_grid_of_types(covariance_type):
    if isinstance(covariance_type, str):
        cts = [covariance_type]
    elif np.iterable(covariance_type):
        cts = list(covariance_type)
    else:
        raise TypeError(
            "covariance_type must be a string or an iterable of strings, "
            f"got {covariance_type!r}."
        )
    if not cts:
        raise ValueError("covariance_type is empty: give at least one covariance type.")
    out = []
    for ct in cts:
        if ct not in COVARIANCE_TYPES:
            raise ValueError(
                f"Unknown covariance_type {ct!r}: expected one of "
                f"{', '.join(repr(c) for c in COVARIANCE_TYPES)}."
            )
        if ct not in out:
            out.append(ct)
    return out


def _check_criterion(criterion):
    if callable(criterion):
        return criterion
    if isinstance(criterion, str) and criterion.lower() in _CRITERIA:
        return criterion.lower()
    raise ValueError(
        f"Unknown criterion {criterion!r}: expected 'bic', 'aic' or a callable "
        "(estimator, X) -> float (lower is better)."
    )


def _seed(random_state):
    """One integer seed for every fit."""
    if isinstance(random_state, numbers.Integral):  # True is seed 1, as in the estimator
        return int(random_state)
    rs = check_random_state(random_state)  # None -> numpy's global RandomState
    return int(rs.randint(np.iinfo(np.int32).max))


# --------------------------------------------------------------------------
# speed helpers
# --------------------------------------------------------------------------
class _KMeansCache:
    """``kmeans_labels`` computed once per (K, RandomState state).

    A lookup restores the RandomState to the state the computation left it
    in, so restarts (``n_init > 1``) draw exactly as without the cache, and
    repeats k-means' warning about empty clusters, as each separate fit
    would. One cache serves one K of one select_model call (one X, one
    sample_weight) in one thread.
    """

    def __init__(self):
        self._store = {}

    @staticmethod
    def _key(K, rs):
        name, keys, pos, has_gauss, cached = rs.get_state()
        return (K, name, keys.tobytes(), int(pos), int(has_gauss), float(cached))

    def __call__(self, X, K, rs, sw=None, center=None):
        key = self._key(K, rs)
        hit = self._store.get(key)
        if hit is None:
            labels, centers = kmeans_labels(X, K, rs, sw, center)
            self._store[key] = (labels, centers, rs.get_state())
        else:
            labels, centers, state = hit
            rs.set_state(state)
            warn_if_few_clusters(labels, K, stacklevel=3)
        return labels.copy(), centers.copy()


_WARM = set()


def _warm(dtype, covariance_types, n_samples):
    """Compile (or load) the kernels a grid uses, once per process.

    Data of one chunk run the kernels' serial twins, larger data the
    parallel kernels (and the serial ones on small calls): both are warmed
    for data of several chunks.
    """
    sizes = [40] if n_chunks(n_samples) == 1 else [40, CHUNK_SIZE + 40]
    rng = np.random.RandomState(0)
    for rows in sizes:
        todo = [ct for ct in covariance_types
                if (np.dtype(dtype).name, ct, rows > CHUNK_SIZE) not in _WARM]
        if not todo:
            continue
        Xw = rng.normal(size=(rows, 2)).astype(dtype)
        for ct in todo:
            warm_fit(ct, Xw)
            _WARM.add((np.dtype(dtype).name, ct, rows > CHUNK_SIZE))


#: Kernel work per EM iteration (rows x components x per-row cost, averaged
#: over the grid) above which fitting several K at once pays: below it a fit
#: is mostly Python (the M-step's bookkeeping, which holds the GIL) and
#: threads only contend for the GIL. Measured on 2 cores: threads were 0.6x
#: at 4e4, 0.95x at 3.5e5, 1.2-1.4x at 5e5-1.4e6, 1.8x for the digits sweep.
PARALLEL_MIN_WORK = 5e5


def _work_per_iteration(n_samples, n_features, ks, cts):
    d = n_features
    per_row = {"full": d * (d + 3) / 2, "tied": d * (d + 3) / 2, "diag": 2 * d,
               "spherical": 2 * d}
    return n_samples * float(np.mean(ks)) * float(np.mean([per_row[ct] for ct in cts]))


def _plan_threads(X, ks, cts, n_jobs):
    """(fits at once, Numba threads per fit).

    Kernels split X into chunks (``n_chunks``), summed in order, so results
    do not depend on the thread count. A fit cannot use more threads than X
    has chunks (extra threads only add a barrier to
    every kernel call); the Numba threads left over can fit other numbers of
    components at once, which ``n_jobs=None`` does when the kernels' work
    outweighs the Python part of a fit.
    """
    import numba

    threads = numba.get_num_threads()
    n_samples, n_features = X.shape
    per_fit = max(1, min(threads, n_chunks(n_samples)))
    if n_jobs is None:
        n_jobs = max(1, threads // per_fit)
        if _work_per_iteration(n_samples, n_features, ks, cts) < PARALLEL_MIN_WORK:
            n_jobs = 1
    return max(1, min(n_jobs, len(ks))), per_fit


@contextlib.contextmanager
def _numba_threads(n):
    """``numba.set_num_threads(n)`` for the calling thread, then restored."""
    import numba

    before = numba.get_num_threads()
    if n == before:
        yield
        return
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _check_n_jobs(n_jobs):
    if n_jobs is None or n_jobs == -1:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1:
        raise ValueError(f"n_jobs must be None, -1 or a positive int, got {n_jobs!r}.")
    return int(n_jobs)


class _Progress:
    """tqdm when installed, else one line per fit on stderr."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled
        self.done = 0
        self._bar = None
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self._bar = tqdm(total=total, desc="select_model", unit="fit", file=sys.stderr)

    def update(self, K, ct, value, name, seconds):
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(f"K={K} {ct} {name}={value:.6g}", refresh=False)
            self._bar.update(1)
        else:
            width = len(str(self.total))
            print(
                f"select_model [{self.done:>{width}}/{self.total}] K={K} {ct}: "
                f"{name}={value:.6g} ({seconds:.2f} s)",
                file=sys.stderr,
                flush=True,
            )

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _show_progress(progress, n_fits):
    if progress is None:
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        return bool(tty and n_fits > AUTO_PROGRESS_MIN_FITS)
    return bool(progress)


# --------------------------------------------------------------------------
# select_model
# --------------------------------------------------------------------------
def _information_criteria(gm, X, sw):
    """(bic, aic, mean log-likelihood, n_parameters), with
    :meth:`GaussianMixture.bic`'s and ``aic``'s formulas.

    Unweighted, the values are exactly ``gm.bic(X)``, ``gm.aic(X)`` and
    ``gm.score(X)``. With sample weights (counts) the log-likelihood is
    the weighted sum and n is ``sum(sample_weight)``: for integer weights
    the values of the data with each row repeated that many times.
    """
    p = gm._n_parameters()
    lpn = gm._score_rows(X, False, False)[0]  # score_samples(X), X checked already
    if sw is None:
        n = X.shape[0]
        score = float(np.mean(lpn))
    else:
        n = float(np.sum(sw))
        # the weighted mean over the rows of positive weight (a row of weight
        # 0 may score -inf: removed, not 0 * -inf), on weights scaled by a
        # power of two (no loss on subnormal weights)
        scaled = power_of_two_scaled(sw)
        pos = scaled > 0
        # (NumPy's pairwise sum, never a threaded BLAS dot: see linalg.tied_covariance)
        score = float(np.sum(scaled[pos] * lpn[pos].astype(np.float64)) / np.sum(scaled))
    bic = -2 * score * n + p * math.log(n)
    aic = -2 * score * n + 2 * p
    return bic, aic, score, p


class _FitTask:
    """Fits of one K for every covariance type, in order, sharing k-means."""

    def __init__(self, X, sw, cts, n_init, seed, gmm_params, threads):
        self.X, self.sw, self.cts = X, sw, cts
        self.n_init, self.seed, self.gmm_params = n_init, seed, gmm_params
        self.threads = threads
        self.share_kmeans = gmm_params.get("init_params", "kmeans") == "kmeans" and len(cts) > 1

    def __call__(self, k):
        out = []
        cache = _KMeansCache() if self.share_kmeans else None
        # sklearn's configuration and Numba's thread count are per thread
        with _numba_threads(self.threads), config_context(assume_finite=True):
            for ct in self.cts:
                gm = GaussianMixture(
                    k,
                    covariance_type=ct,
                    n_init=self.n_init,
                    random_state=self.seed,
                    **self.gmm_params,
                )
                if cache is not None:
                    gm._kmeans = cache
                gm._validated = True  # select_model checked X and the parameters
                t0 = time.perf_counter()
                try:
                    gm.fit(self.X, sample_weight=self.sw)
                except Exception as exc:
                    if hasattr(exc, "add_note"):
                        exc.add_note(
                            f"(select_model: fitting n_components={k}, "
                            f"covariance_type={ct!r})"
                        )
                    raise
                finally:
                    gm.__dict__.pop("_kmeans", None)
                    gm.__dict__.pop("_validated", None)
                seconds = time.perf_counter() - t0
                out.append((k, ct, gm, seconds, _information_criteria(gm, self.X, self.sw)))
        return out


def _run_tasks(task, ks, n_workers):
    """Yield each K's fits in grid order; ``n_workers`` Ks at once."""
    if n_workers == 1:
        for k in ks:
            yield task(k)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n_workers, thread_name_prefix="fastgmm-select") as pool:
        futures = [pool.submit(task, k) for k in ks]
        try:
            for i in range(len(futures)):
                fits = futures[i].result()
                futures[i] = None  # drop the reference: only the best model is kept
                yield fits
        finally:
            for future in futures:
                if future is not None:
                    future.cancel()


def select_model(
    X,
    n_components=range(1, 11),
    covariance_type=("full", "tied", "diag", "spherical"),
    criterion="bic",
    n_init=1,
    random_state=None,
    sample_weight=None,
    progress=None,
    n_jobs=None,
    **gmm_params,
):
    """Fit every number of components x covariance type; keep the best.

    Each grid point is ``GaussianMixture(K, covariance_type=ct,
    n_init=n_init, random_state=seed, **gmm_params).fit(X, sample_weight)``
    and gives bitwise the same model as that call made on its own; the grid
    is faster than such a loop because the data are validated once, the
    k-means initialisation of each K is shared by all covariance types,
    data with fewer 4096-row chunks than threads fit several K at once
    (when the fits are large enough to gain) instead of waking threads that
    have no rows to work on, and the kernels are compiled before the first
    timed fit.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data (float32 and float64 are used as they are).
    n_components : int or iterable of int, default=range(1, 11)
        The numbers of components to try, each between 1 and n_samples.
        Duplicates are fitted once.
    covariance_type : str or iterable of str, \
            default=("full", "tied", "diag", "spherical")
        The covariance types to try.
    criterion : {"bic", "aic"} or callable, default="bic"
        What the best model minimises. A callable is called as
        ``criterion(estimator, X)`` with each fitted estimator and the
        validated training data (a C-contiguous float ndarray; sample
        weights are not passed: bind them with a closure if needed) and
        must return a float, **lower is better** (negate a score such as
        ``estimator.score(X_val)``). NaN counts as the worst value.
    n_init : int, default=1
        Initialisations per fit; the best of them is kept (as in
        :class:`GaussianMixture`).
    random_state : int, RandomState instance or None, default=None
        Seed of every fit. An int is used as it is, so each fit equals the
        separate fit with ``random_state=that int``. ``None`` or a
        RandomState draws **one** int seed up front (``None``: from NumPy's
        global RandomState), used by every fit; it is stored in
        ``result.random_state_`` and as ``best_estimator_.random_state``, so
        the best model can be refitted exactly.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights acting as counts, as in
        :meth:`GaussianMixture.fit`. The table's ``bic``, ``aic`` and
        ``score`` then use :meth:`GaussianMixture.bic`'s and ``aic``'s
        formulas on the weighted data: ``score`` is the weighted mean
        log-likelihood and ``n_samples`` is ``sum(sample_weight)`` (the
        estimator's own ``bic(X)`` takes no weights; for integer weights the
        table's values are ``bic``/``aic`` of X with each row repeated that
        many times). Weights are counts here: BIC's ``log(n_samples)``
        term uses their sum, so weights scaled to sum to 1 take BIC's
        penalty away (the fitted models do not depend on the weights'
        scale; the criteria do).
    progress : bool or None, default=None
        Show progress (``tqdm`` when installed, else one line per fit on
        stderr). ``None``: only when stderr is a terminal and the grid has
        more than 4 fits; ``False``: never.
    n_jobs : int or None, default=None
        Numbers of components fitted at once, in threads (the kernels
        release the GIL). A fit runs on at most one Numba thread per chunk
        of 4096 rows; ``None`` (or -1) fits as many K at once as the Numba
        threads left over allow (several for small data, one for large
        data), unless the fits are so small that their Python part
        dominates (then threads would only contend for the GIL, and one fit
        at a time is faster). ``1``: one fit at a time, in the calling
        thread. Results do not depend on it.
    **gmm_params
        Other :class:`GaussianMixture` parameters (``max_iter``, ``tol``,
        ``reg_covar``, ``init_params``, ...), the same for every fit. Invalid
        values raise the estimator's own ``InvalidParameterError`` before any
        fit.

    Returns
    -------
    result : SelectionResult
        ``best_estimator_`` (fitted :class:`GaussianMixture`),
        ``best_params_``, ``best_score_``, ``criterion``, ``random_state_``,
        ``table_`` (dict of NumPy columns, one row per fit in grid order:
        ``n_components``, ``covariance_type``, ``bic``, ``aic``, ``score``,
        ``n_parameters``, ``converged``, ``n_iter``, ``seconds``, plus
        ``criterion`` for a callable), ``to_frame()`` (pandas DataFrame),
        ``rows()`` and ``to_string()``.

    Raises
    ------
    ValueError
        Empty grid, a number of components below 1 or above n_samples, an
        unknown covariance type or criterion, invalid ``X`` or
        ``sample_weight``, or a fit that fails (its error carries a note
        naming the grid point).

    Notes
    -----
    The table is in grid order, ``n_components`` outer and
    ``covariance_type`` inner, whatever ``n_jobs``; the callable criterion
    and the progress display are called in the calling thread, in that
    order. Only the best model is kept. Warnings of the fits (such as
    ``ConvergenceWarning``) are emitted as the separate fits would emit
    them (from worker threads when several Ks are fitted at once).

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from fastgmm import select_model
    >>> X, _ = make_moons(200, noise=0.05, random_state=0)
    >>> result = select_model(X, range(1, 21), "full", random_state=0)
    >>> result.best_params_
    {'n_components': 7, 'covariance_type': 'full'}
    >>> result.best_estimator_.n_components
    7
    """
    criterion = _check_criterion(criterion)
    n_jobs = _check_n_jobs(n_jobs)
    cts = _as_grid_of_types(covariance_type)
    # The estimator validates its own parameters (InvalidParameterError),
    # random_state included, before anything is fitted or a seed is drawn;
    # an unknown keyword is a TypeError here.
    unknown = sorted(set(gmm_params) - set(GaussianMixture().get_params()))
    if unknown:
        raise TypeError(
            f"select_model() got unexpected keyword argument(s) {unknown}: the extra "
            "keywords must be GaussianMixture parameters."
        )
    proto = GaussianMixture(
        1, covariance_type=cts[0], n_init=n_init, random_state=random_state, **gmm_params
    )
    proto._validate_params()
    seed = _seed(random_state)
    # X once (records feature names / n_features_in_ on the prototype)
    X = kernel_view(validate_data(proto, X, dtype=_FLOAT_DTYPES, ensure_min_samples=2, order="C"))
    ks = _as_grid_of_k(n_components, X.shape[0])
    sw_checked = kernel_view(check_sample_weight(sample_weight, X.shape[0]))
    sw = sw_checked if sw_checked.shape[0] else None
    if sw is not None and not np.isfinite(np.sum(sw)):
        raise ValueError(
            "sample_weight sums to inf: BIC and AIC take sum(sample_weight) as the "
            "number of samples (weights are counts); scale the weights down."
        )

    grid = [(k, ct) for k in ks for ct in cts]
    show = _show_progress(progress, len(grid))
    n_workers, per_fit = _plan_threads(X, ks, cts, n_jobs)
    task = _FitTask(X, sw, cts, n_init, seed, gmm_params, per_fit)

    rows = {name: [] for name in COLUMNS}
    if callable(criterion):
        rows["criterion"] = []
    best = (math.inf, -1, None)  # (value, index, estimator)
    bar = _Progress(len(grid), show)
    with _numba_threads(per_fit):
        _warm(X.dtype, cts, X.shape[0])
    try:
        for fits in _run_tasks(task, ks, n_workers):
            for k, ct, gm, seconds, (bic, aic, score, p) in fits:
                index = len(rows["n_components"])
                if callable(criterion):
                    value = float(criterion(gm, X))
                    rows["criterion"].append(value)
                else:
                    value = bic if criterion == "bic" else aic
                for name, v in zip(
                    COLUMNS,
                    (k, ct, bic, aic, score, p, bool(gm.converged_), int(gm.n_iter_),
                     seconds),
                ):
                    rows[name].append(v)
                key = math.inf if math.isnan(value) else value  # NaN: worst
                if best[1] < 0 or key < best[0]:  # ties: first in grid order
                    best = (key, index, gm)
                bar.update(k, ct, value, _criterion_label(criterion), seconds)
    finally:
        bar.close()

    values = rows["criterion" if callable(criterion) else criterion]
    if all(math.isnan(v) for v in values):
        warnings.warn(
            f"every grid point's {_criterion_label(criterion)} is NaN: the first one "
            "is returned as the best, arbitrarily.",
            RuntimeWarning,
            stacklevel=2,
        )
    best_estimator = best[2]
    if hasattr(proto, "feature_names_in_"):  # X was a DataFrame: as fit(X) sets it
        best_estimator.feature_names_in_ = proto.feature_names_in_
    table = {
        "n_components": np.asarray(rows["n_components"], dtype=np.int64),
        "covariance_type": np.asarray(rows["covariance_type"], dtype=object),
        "bic": np.asarray(rows["bic"], dtype=np.float64),
        "aic": np.asarray(rows["aic"], dtype=np.float64),
        "score": np.asarray(rows["score"], dtype=np.float64),
        "n_parameters": np.asarray(rows["n_parameters"], dtype=np.int64),
        "converged": np.asarray(rows["converged"], dtype=bool),
        "n_iter": np.asarray(rows["n_iter"], dtype=np.int64),
        "seconds": np.asarray(rows["seconds"], dtype=np.float64),
    }
    if callable(criterion):
        table["criterion"] = np.asarray(rows["criterion"], dtype=np.float64)
    return SelectionResult(table, best[1], best_estimator, criterion, seed)


def _criterion_label(criterion):
    if callable(criterion):
        return getattr(criterion, "__name__", "criterion")
    return criterion
