"""Numba flags, chunk size and environment opt-ins, read once at import.

Environment variables
---------------------
FASTGMM_CACHE
    ``0`` turns the on-disk cache of compiled kernels off (default on).
FASTGMM_FASTMATH
    ``1`` compiles every kernel with ``fastmath=True`` (which also assumes no
    NaN or infinity: the handling of points beyond every component is then no
    longer guaranteed). Default off.
FASTGMM_WIDE_VECTORS
    ``0`` keeps LLVM's own vector width in the kernels marked with
    :func:`prefer_wide_vectors` (256 bits on CPUs with AVX-512). Default on.

Reductions over the rows of a block (dot products, sums) are compiled with
the two LLVM flags ``reassoc`` and ``contract`` only (:func:`jit_reduce`):
they let the loop vectoriser keep several partial sums and fuse multiply-adds.
No assumption about NaN or infinity is made, the summation order is fixed by
the compiled code, so results stay bitwise identical for any number of
threads and from run to run; they may differ in the last bits between CPUs
with different vector widths. The vectorised exp is compiled with
``contract`` alone (:func:`jit_fma`): fused multiply-adds in its polynomial.
"""

import os
import types

import numba
from numba.extending import intrinsic, register_jitable


_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def _flag(name, default):
    """An on/off environment variable; unset or empty gives ``default``, a
    value that is neither on nor off is an error (``FASTGMM_FASTMATH=disabled``
    must not turn fast-math on)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _ON + _OFF:
        raise ValueError(
            f"{name}={os.environ[name]!r}: expected one of {', '.join(_ON)} (on) "
            f"or {', '.join(_OFF)} (off), or unset for the default"
        )
    return value in _ON


#: Rows per chunk of every parallel pass on large data. Chunking depends on
#: the number of rows only (never on the thread count), so that sums are
#: bitwise identical for any number of threads.
CHUNK_SIZE = 4096

#: Data of fewer than ``MIN_CHUNKS * CHUNK_SIZE`` rows are cut into about
#: ``MIN_CHUNKS`` chunks (whole blocks of rows, at least one), so that small
#: data with many components still use every core (``_common.chunk_size``).
MIN_CHUNKS = 16

#: Data of fewer than ``BALANCE_CHUNKS * CHUNK_SIZE`` rows are cut into about
#: ``BALANCE_CHUNKS`` chunks of at least ``BALANCE_MIN_ROWS`` rows. Threads
#: take whole chunks in equal runs: 25 chunks (100k rows of 4096) keep 16
#: threads busy 25/32 of the time and 2 threads 25/26.
BALANCE_CHUNKS = 64
BALANCE_MIN_ROWS = 1024

#: Rows per block inside a chunk: kernels work on feature-major blocks
#: ``Xt[:, :nb]`` with the rows innermost, so that every loop vectorises.
#: At most 1023: a block's log-likelihood multiplies one mantissa in [1, 2)
#: per row (``_common._block_loglik``), which must stay below 2^1024.
BLOCK = 256


@register_jitable  # a plain function in Python, callable from the kernels
def chunk_size(n):
    """Rows per chunk for data of n rows: ``CHUNK_SIZE``; for fewer than
    ``BALANCE_CHUNKS * CHUNK_SIZE`` rows the whole number of blocks that makes
    about ``BALANCE_CHUNKS`` chunks, but at least ``BALANCE_MIN_ROWS`` rows or
    ``MIN_CHUNKS`` chunks (of at least one block), whichever is fewer rows.
    (Compiled as ``_kernels._common.chunk_size``: plain arithmetic only.)"""
    few = -(-n // MIN_CHUNKS)
    few = -(-few // BLOCK) * BLOCK  # whole blocks, about MIN_CHUNKS chunks
    many = -(-n // BALANCE_CHUNKS)
    many = -(-many // BLOCK) * BLOCK  # about BALANCE_CHUNKS chunks
    c = max(many, min(BALANCE_MIN_ROWS, few))
    return min(CHUNK_SIZE, max(BLOCK, c))


#: Chunk counts of at least this many are rounded up to a multiple of it (at
#: most one chunk per block), and every chunk count shares the rows out in
#: whole blocks as evenly as possible: threads take equal runs of chunks, so
#: 1, 2, 4, 8 or 16 threads get equal work. (123 chunks of 4,096 rows, mid's
#: 500k, gave 16 threads 8 chunks at most against 7.7 on average; 56 chunks
#: of 1,792 rows, wide's 100k, gave them 4 against 3.5.)
CHUNK_MULTIPLE = 16


@register_jitable
def n_chunks(n):
    """Number of chunks of data of n rows."""
    c = -(-n // chunk_size(n))
    if c >= CHUNK_MULTIPLE:
        c = min(-(-n // BLOCK), -(-c // CHUNK_MULTIPLE) * CHUNK_MULTIPLE)
    return c


def chunk_rows(c, n):
    """Rows [lo, hi) of chunk c of data of n rows: blocks
    [c B / m, (c + 1) B / m) of the B = ceil(n / BLOCK) blocks, m = n_chunks(n),
    the last block ragged. (Compiled as ``_kernels._common.chunk_rows``.)"""
    m = n_chunks(n)
    blocks = -(-n // BLOCK)
    return c * blocks // m * BLOCK, min(n, (c + 1) * blocks // m * BLOCK)


#: Parallel tasks of the full kernels' component-parallel passes (few rows,
#: many large components): equal shares on 1, 2, 4, 8 or 16 threads.
COMPONENT_TASKS = 16

#: Estimated multiply-adds of a kernel call below which it runs serially:
#: waking the thread pool costs a few microseconds, a busy core far more.
PARALLEL_MIN_WORK = 2**18

#: Upper bound, in bytes, on the per-chunk partial statistics held at once
#: (one allocation per kernel call). Below glibc's largest dynamic mmap
#: threshold (32 MiB), so that the block is reused from the heap instead of
#: being mapped, faulted in and zeroed by the kernel on every call (35 MB:
#: 15 ms per call against 1.2 ms to write it).
PARTIALS_BYTES = 24 * 2**20

CACHE = _flag("FASTGMM_CACHE", True)
FASTMATH = _flag("FASTGMM_FASTMATH", False)
WIDE_VECTORS = _flag("FASTGMM_WIDE_VECTORS", True)

#: Suffix of every kernel's qualified name under non-default code generation:
#: Numba's disk cache tells entries apart by function name and bytecode, not
#: by compile options or by what an intrinsic emits, so without it a warm
#: cache would hand back code compiled under the other setting.
CODEGEN_TAG = ("__fastmath" if FASTMATH else "") + ("" if WIDE_VECTORS else "__narrow")

#: LLVM function attribute set by :func:`prefer_wide_vectors`
_WIDE_ATTRIBUTE = '"prefer-vector-width"="512"'


@intrinsic
def prefer_wide_vectors(typingctx):
    """Called first in a kernel: LLVM may vectorise its loops 512 bits wide
    on CPUs with AVX-512, where its default for them is 256 (the
    "prefer-vector-width" function attribute, as clang's
    ``-mprefer-vector-width=512``). No effect on other CPUs, or under
    ``FASTGMM_WIDE_VECTORS=0``. Only in kernels that measure faster (one
    statistics pass, 2 threads, against 256 bits: mid 0.84, small-2d 0.87,
    wide 0.91; with scratch on cache lines, ``_common.aligned_empty``: mid
    0.77, small-2d 0.89, wide 0.87; tall-diag's memory-bound loops 1.01,
    d = 50's 4 x 4 scatter tiles and deviation passes 1.10)."""

    def codegen(context, builder, signature, args):
        if WIDE_VECTORS:
            try:
                # FunctionAttributes.add() accepts LLVM's enum attributes
                # only; a string attribute is stored and printed as given
                set.add(builder.function.attributes, _WIDE_ATTRIBUTE)
            except TypeError:  # a future llvmlite without a set underneath
                pass
        return context.get_dummy_value()

    return numba.types.void(), codegen


def _decorate(func, cache=True, **options):
    if CODEGEN_TAG and CODEGEN_TAG not in func.__qualname__:
        func = _renamed(func, CODEGEN_TAG)
    options.setdefault("nogil", True)
    # IEEE division (x / 0 -> inf or nan) instead of Python's ZeroDivisionError:
    # kernels never raise, and the check would stop loops from vectorising
    options.setdefault("error_model", "numpy")
    options.setdefault("fastmath", FASTMATH)
    if CACHE and cache:
        try:
            dispatcher = numba.njit(cache=True, **options)(func)
        except RuntimeError:
            # No writable cache location (read-only install, no home dir):
            # compile in memory instead, quietly.
            dispatcher = numba.njit(cache=False, **options)(func)
    else:
        dispatcher = numba.njit(cache=False, **options)(func)
    dispatcher.fastgmm_options = options
    return dispatcher


#: LLVM fast-math flags of the row reductions (see the module docstring)
REDUCE_FLAGS = {"reassoc", "contract"}


def jit(func, cache=True):
    """Serial kernel helper: ``njit(nogil=True)``, cached when possible.

    A call from compiled code with a constant argument (``f(a, 0)``), or
    with a loop counter that starts at a constant (``k = 0`` then ``k += 2``),
    compiles ``f`` for ``Literal[int](0)`` besides ``int64``: type inference
    meets the constant before the loop's other values. Callers write
    ``np.int64(0)`` (``np.bool_(True)`` for flags) where one signature will
    do; kept literal only where the constant is meant to specialise."""
    return _decorate(func, cache)


def jit_inline(func):
    """A thin block-level wrapper (a few lines that pick a loop or pass
    scratch along): Numba inlines its IR into each caller instead of
    compiling it on its own. Every separately compiled function is an LLVM
    module that optimises and emits again all the code it calls, so a chain
    of wrappers above the loops multiplied the loops' compile time; flags and
    the vector width are per function, so only plain helpers (no fast-math
    flags, no :func:`prefer_wide_vectors`) may be inlined, and none that
    allocates or holds array expressions is inlined into a ``parallel``
    driver (Numba's parfor passes would rewrite them)."""
    return _decorate(func, inline="always")


def jit_reduce(func, cache=True):
    """Serial reduction helper: like :func:`jit` with ``REDUCE_FLAGS``."""
    return _decorate(func, cache, fastmath=True if FASTMATH else REDUCE_FLAGS)


def jit_fma(func, cache=True):
    """Serial helper whose multiply-adds may be fused (``contract`` only)."""
    return _decorate(func, cache, fastmath=True if FASTMATH else {"contract"})


def jit_exact(func, cache=True):
    """Like :func:`jit`, but IEEE arithmetic even under FASTGMM_FASTMATH: for
    code that must round as NumPy does and whose finiteness checks decide
    (the compiled M-step, the k-means loop): fast-math assumes no inf or nan
    and drops ``math.isfinite``."""
    return _decorate(func, cache, fastmath=False)


def jit_contract(func, cache=True):
    """Like :func:`jit_fma`, but ``contract`` only even under FASTGMM_FASTMATH:
    for code whose rounding tricks reassociation would undo (the exp's
    round-to-integer by adding 1.5 * 2^52)."""
    return _decorate(func, cache, fastmath={"contract"})


def _renamed(func, suffix, env=None):
    """The same function under another qualified name (and, given ``env``,
    other globals): its compiled code gets its own disk-cache entry instead
    of colliding with the original's."""
    twin = types.FunctionType(
        func.__code__,
        func.__globals__ if env is None else env,
        func.__name__,
        func.__defaults__,
        func.__closure__,
    )
    twin.__qualname__ = func.__qualname__ + suffix
    twin.__module__ = func.__module__
    return twin


def pjit(func=None, *, inline_serial=()):
    """Parallel kernel driver: ``njit(parallel=True, nogil=True)``, cached.

    The dispatcher carries ``.serial``, the same driver compiled without
    threads (``prange`` runs as ``range``; identical results), compiled only
    if used: for calls too small to wake the threads, and in a child forked
    after a fork-unsafe threading layer started.

    ``inline_serial`` names the per-chunk functions the driver calls in its
    ``prange`` loop: the serial twin compiles them into its own body (Numba
    IR inlining, :func:`_serial_twin`) instead of linking their separately
    compiled code, which LLVM would optimise and emit once for the function
    and again for the twin. A process whose calls are all small (a fit of a
    few thousand rows) compiles each chunk function once instead of twice;
    one that also runs the parallel driver compiles the chunk function's
    typing twice instead (this step alone, empty cache: four covariance
    types on 1,000 x 2, 41 -> 32-35 s; fits of 100k x 10 and 20k x 41,
    59.5 -> 61.4 s).
    """
    if func is None:
        return lambda f: pjit(f, inline_serial=inline_serial)
    dispatcher = _decorate(func, parallel=True)
    dispatcher.inline_serial = tuple(inline_serial)
    dispatcher.serial = _serial_twin(func, "__serial", func.__globals__, inline_serial)
    return dispatcher


def _serial_twin(func, suffix, env, inline, **options):
    """``func`` renamed with ``suffix``, with globals ``env``, compiled
    without threads; each global name in ``inline`` (a plain :func:`jit`
    function of ``env``) read as ``<name>__inline``, added to ``env``: the
    same function inlined at Numba IR level. Renaming the names the code
    object reads (not copying the globals) keeps them live: a driver may
    call functions defined after it."""
    twin = _renamed(func, suffix, env)
    if inline:
        names = func.__code__.co_names
        missing = [name for name in inline if name not in names]
        if missing:
            raise ValueError(f"{func.__qualname__} reads no global {missing}")
        twin.__code__ = func.__code__.replace(
            co_names=tuple(n + "__inline" if n in inline else n for n in names)
        )
        for name in inline:
            # the (possibly cloned) function as it is, globals included;
            # always made anew, never reused: a clone's env starts as a copy
            # of full's globals, whose <name>__inline is the generic one
            env[name + "__inline"] = jit_inline(_renamed(env[name].py_func, "__inline"))
    return _decorate(twin, **options)


def rejit(dispatcher, env, suffix):
    """A kernel compiled as ``dispatcher`` is, with the globals ``env`` and
    ``suffix`` added to its qualified name (a parallel driver gets its serial
    twin too): specialised copies of a module's functions, each cached on disk
    under its own name."""
    func = dispatcher.py_func
    options = dict(dispatcher.fastgmm_options)
    clone = _decorate(_renamed(func, suffix, env), **options)
    if hasattr(dispatcher, "serial"):
        options.pop("parallel")
        clone.inline_serial = dispatcher.inline_serial
        clone.serial = _serial_twin(
            func, suffix + "__serial", env, clone.inline_serial, **options
        )
    return clone


def rejit_all(env, names, suffix):
    """Replaces the kernels ``names`` in ``env`` (a copy of a kernel module's
    globals, with some overridden: block functions, constants) by their
    :func:`rejit` against ``env``: the module's kernels specialised for one
    case, compiled on first use and cached on disk under their own names.
    ``names`` are every function that reads an overridden global, and their
    callers up to the drivers. Returns ``env``."""
    for name in names:
        env[name] = rejit(env[name], env, suffix)
    return env


def source_tag(path, *texts):
    """8 hex digits of the SHA-1 of the file ``path`` and of ``texts``: for
    the names of specialised kernels, whose disk-cache entries Numba checks
    against the generic module's file only, so that a change to what
    specialises them (the file ``path``, generated code) renames them."""
    import hashlib

    with open(path, "rb") as f:
        digest = hashlib.sha1(f.read())
    for text in texts:
        digest.update(text.encode())
    return digest.hexdigest()[:8]
