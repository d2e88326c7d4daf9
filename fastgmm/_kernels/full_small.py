"""Full-covariance kernels built for a fixed number of features, 2 to 16.

The generic block functions of :mod:`full` loop over features at run time, so
every partial result of the triangular product and of the scatter goes
through L1 between loops. For a known d from 3, the per-component functions
below are generated as straight-line code inside one loop over the rows of a
block: the triangular products y = U_k^T x - U_k^T m_k and the scatter sums
stay in registers for each vector of rows (d = 10, 16 components, 100k rows,
one thread: log-densities 9.3 -> 3.9 ms, scatter 6.1 -> 3.4 ms). The scatter
reads deviations from the block's x - c, shared by the components near the
centre c (see :mod:`full`), and adds each block's sums once. For d = 2 the
module's own two-feature loops are kept and only they are compiled.

``kernels_for(d)`` returns the kernels of :mod:`full` (``stats``,
``score_rows``, ``S2_SIZE``) built for d: the module's drivers and block loops
are cloned with ``_FEATURES = d`` and, from 3, the generated ``_logprob_k``
and ``_scatter_k`` as globals (Numba binds a function's globals when it
compiles it), under their own names (``stats__d10_<digest>``...), so each d
is compiled only when first used and cached on disk like the generic kernels.
From 17 features it returns :mod:`full`, for one feature :mod:`full_1d`.
"""

import functools
import threading
import types

from .. import _config
from . import _common, full, full_1d

MIN_D = 3
MAX_D = 16

#: statistics accumulated per sweep over a block's rows: enough to reuse each
#: loaded row of deviations several times, few enough to stay in registers
#: (d = 10: groups of 8 / 12 / 20 / 28 / 55 sums: 4.1 / 3.8 / 3.4 / 3.9 / 4.3 ms)
SCATTER_GROUP = 24

#: the functions of :mod:`full` that reach ``_logprob_k``, ``_scatter_k``,
#: ``_SCATTER_SHIFTED`` or ``_FEATURES``, callees first
_CLONED = (
    "_prepare",
    "_work",
    "_task_work",
    "_block_logprob",
    "_shift",
    "_block_scatter",
    "_chunk",
    "stats",
    "_score_chunk",
    "score_rows",
)


def logprob_source(d):
    """``_logprob_k`` for d features: lp[k, b] = const_k - |U_k^T (x_b - m_k)|^2 / 2,
    with y = U_k^T x_b - U_k^T m_k, the bias U_k^T m_k taken once per block (as
    scikit-learn computes it: no subtraction per row and feature, d = 10:
    logprob 6.1 -> 5.2 ms per 100k rows and 16 components), each y_j squared
    and summed as soon as it is complete (fewer live registers)."""
    out = ["def _logprob_k(Xt, nb, means, prec, const, k, work, lp):", "    prefer_wide_vectors()"]
    out += [f"    m{j} = means[k, {j}]" for j in range(d)]
    out += [f"    u{l}_{j} = prec[k, {l}, {j}]" for j in range(d) for l in range(j + 1)]
    out += [f"    c{j} = -(" + " + ".join(f"u{l}_{j} * m{l}" for l in range(j + 1)) + ")" for j in range(d)]
    out += [f"    x{j} = Xt[{j}, :nb]" for j in range(d)]
    out += ["    c = const[k]", "    lk = lp[k, :nb]", "    for b in range(nb):"]
    out += [f"        v{j} = x{j}[b]" for j in range(d)]
    out.append("        q = 0.0")
    for j in range(d):
        out.append(f"        y = c{j} + " + " + ".join(f"u{l}_{j} * v{l}" for l in range(j + 1)))
        out.append("        q += y * y")
    out.append("        lk[b] = c - 0.5 * q")
    return "\n".join(out) + "\n"


def scatter_source(d, group=SCATTER_GROUP):
    """``_scatter_k`` for d features: a block's N_k, S1_k and upper S2_k,
    ``group`` sums per sweep over the rows, into ``work[6]``, then added to
    ``out`` by ``add_block_stats``. The sweeps read deviations from memory:
    the block's x - c (``Xs``), shared by the components near c
    (``_prepare``), or x - m_k stored for the others with 0 in the rows where
    r = 0 (their sums are reassociated, (r z_j) z_l may become r (z_j z_l),
    and 0 * inf must stay 0)."""
    sums = [("n",)] + [("s1", j) for j in range(d)]
    sums += [("s2", j, l) for j in range(d) for l in range(j, d)]
    out = [
        "def _scatter_k(Xt, Xs, nb, means, r, k, work, out, shifted, aux):",
        "    prefer_wide_vectors()",
        "    rk = r[k, :nb]",
        "    if not nonzero(rk):",
        "        return",
        "    near = shifted and aux[1][k]",
        "    if near:",
        "        A = Xs",
        "    else:",
        "        A = work[0]",
        "        block_diff_live(Xt, nb, means[k], rk, A)",
        "    acc = work[6]",
    ]
    out += [f"    a{j} = A[{j}, :nb]" for j in range(d)]
    n_groups = -(-len(sums) // group)
    for g in range(n_groups):  # equal sweeps: no short last one
        part = sums[g * len(sums) // n_groups : (g + 1) * len(sums) // n_groups]
        zs = sorted({s[i] for s in part if s[0] != "n" for i in range(1, len(s))})
        ws = sorted({s[1] for s in part if s[0] != "n"})
        names = [_sum_name(s) for s in part]
        out += [f"    {v} = 0.0" for v in names]
        out += ["    for b in range(nb):", "        rb = rk[b]"]
        out += [f"        z{j} = a{j}[b]" for j in zs]
        out += [f"        w{j} = rb * z{j}" for j in ws]
        for s, v in zip(part, names):
            term = "rb" if s[0] == "n" else f"w{s[1]}" if s[0] == "s1" else f"w{s[1]} * z{s[2]}"
            out.append(f"        {v} += {term}")
        for s, v in zip(part, names):
            out.append(f"    acc[{_sum_index(s, d)}] = {v}")
    out.append("    add_block_stats(acc, aux[0][k], near, out, means.shape[0], k)")
    return "\n".join(out) + "\n"


def _sum_name(s):
    return "_".join(str(p) for p in s)


def _sum_index(s, d):
    """Position of a sum in a component's block sums [n, s1 (d), s2 (d x d)]."""
    if s[0] == "n":
        return 0
    if s[0] == "s1":
        return 1 + s[1]
    return 1 + d + s[1] * d + s[2]


def _compile(source, name, tag, decorate, namespace):
    exec(compile(source, f"<fastgmm.full_small {name} {tag}>", "exec"), namespace)
    # a name of its own: Numba's symbol for a function is its module, its
    # qualified name and a per-process counter, and cached drivers loaded in
    # another process would otherwise link to another d's function
    namespace[name].__qualname__ = f"{name}__{tag}"
    # generated text has no file for Numba's disk cache: it is compiled into
    # the (cached) drivers that call it, not on its own
    return decorate(namespace[name], cache=False)


_lock = threading.Lock()


def kernels_for(d):
    """The kernels of :mod:`full` for data of d features (see the module
    docstring); for one feature those of :mod:`full_1d`; :mod:`full`
    itself from 17 features."""
    if d == 1:
        return full_1d.KERNELS
    if not 2 <= d <= MAX_D:
        return full
    with _lock:  # two threads' first fits at one d build it once
        return _build(d)


@functools.lru_cache(maxsize=None)
def _build(d):
    overrides = dict(_FEATURES=d)
    sources = ()
    if d >= MIN_D:
        sources = (logprob_source(d), scatter_source(d))
        overrides.update(
            block_diff_live=_common.block_diff_live,
            add_block_stats=_common.add_block_stats,
            prefer_wide_vectors=_config.prefer_wide_vectors,
            _SCATTER_SHIFTED=True,
        )
    # this file and the generated text in the names: see _config.source_tag
    tag = _config.source_tag(__file__, *sources)
    env = dict(vars(full), **overrides)
    if sources:
        env["_logprob_k"] = _compile(sources[0], "_logprob_k", tag, _config.jit_fma, env)
        env["_scatter_k"] = _compile(sources[1], "_scatter_k", tag, _config.jit_reduce, env)
    _config.rejit_all(env, _CLONED, f"__d{d}_{tag}")
    return types.SimpleNamespace(
        stats=env["stats"],
        score_rows=env["score_rows"],
        S2_SIZE=full.S2_SIZE,
        n_features=d,
        logprob_k=env["_logprob_k"],  # for the tests
        scatter_k=env["_scatter_k"],
        prepare=env["_prepare"],
        work=env["_work"],
    )
