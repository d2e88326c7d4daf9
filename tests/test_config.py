"""Kernel compilation: lazy import, disk cache, quiet fallback, opt-outs."""

import os
import subprocess
import sys

import llvmlite.binding as ll
import numba
import numpy as np
import pytest


def _python(code, **env):
    full_env = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    ).stdout


def test_import_compiles_nothing():
    out = _python(
        "import fastgmm, fastgmm._kernels.full as f; "
        "print(len(f.stats.signatures), fastgmm.__version__)"
    )
    n_sigs, version = out.split()
    assert n_sigs == "0"
    assert version.count(".") == 2


def test_cache_is_on_by_default():
    out = _python(
        "import fastgmm; from fastgmm._kernels import full; "
        "print(fastgmm._config.CACHE, type(full.stats._cache).__name__)"
    )
    assert out.split() == ["True", "FunctionCache"]


def test_quiet_fallback_without_writable_cache(monkeypatch):
    from fastgmm import _config

    real_njit = numba.njit

    def njit_without_locator(*args, cache=False, **kwargs):
        if cache:
            def decorate(func):
                raise RuntimeError("cannot cache function: no locator available")
            return decorate
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(_config.numba, "njit", njit_without_locator)

    def twice(x):
        return 2 * x

    kernel = _config.jit(twice)
    assert kernel(np.float64(2.0)) == 4.0


#: with the disk cache off (a callee shows its signatures only where it was
#: compiled, not loaded from the cache): a fit and score of each covariance
#: type, then the same from read-only X, sample weights and initial
#: parameters, and a prediction and warm start of a model whose arrays are
#: read-only; prints the cache setting, the signatures of the chunk and
#: block functions compiled on their own and the fewest of a serial twin, how
#: many fastgmm functions were compiled, the tiled products and by-component
#: scratch compiled (none is needed for 2 features), and those compiled for a
#: Literal[int] or a read-only array
_NO_CACHE_FITS = """
import gc, numpy as np, fastgmm
from numba.core import types
from numba.core.dispatcher import Dispatcher
from fastgmm._kernels import full, kmeans
X = np.random.RandomState(0).normal(size=(500, 2))
for c in ("full", "tied", "diag", "spherical"):
    gm = fastgmm.GaussianMixture(3, covariance_type=c, random_state=0).fit(X)
    gm.score(X)
    ro = [a.copy() for a in (X, np.linspace(1, 2, 500), gm.weights_, gm.means_, gm.precisions_)]
    for a in ro:
        a.flags.writeable = False
    fastgmm.GaussianMixture(3, covariance_type=c, weights_init=ro[2], means_init=ro[3],
                            precisions_init=ro[4]).fit(ro[0], sample_weight=ro[1]).score(ro[0])
    assert not any(a.flags.writeable for a in ro)
    for a in vars(gm).values():  # a model loaded with joblib.load(mmap_mode="r")
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    gm.predict(X)
    gm.set_params(warm_start=True, max_iter=2, tol=0).fit(X)
from fastgmm._covariance import COVARIANCE_TYPES as C
ds = [o for o in gc.get_objects() if isinstance(o, Dispatcher)
      and o.py_func.__module__.startswith("fastgmm") and o.signatures]
# by name: the specialised copies (full_small, tied_small) count too
alone = [f for f in ds if f.py_func.__name__ in ("_chunk", "_score_chunk", "_block_logprob",
         "_block_scatter", "_finish", "_work", "_min_chunk", "_pots_chunk", "_lloyd_chunk",
         "_block", "_scatter_k", "_logprob_k")]
twins = [f for ct in C.values() for f in (ct.kernels_for(2).stats.serial,
         ct.kernels_for(2).score_rows.serial)] + [
    kmeans.plusplus_steps.serial, kmeans.lloyd_step.serial]
unneeded = [f for f in ds if f.py_func.__name__ in ("_triangular_tile", "_triangular_maha_tiled",
            "triangular_maha", "_scatter_upper_4x4", "_task_work")]
def names(test):
    return ",".join(sorted({d.py_func.__qualname__ for d in ds
                            if any(test(s) for s in d.signatures)})) or "-"
print(fastgmm._config.CACHE, type(full.stats._cache).__name__,
      sum(len(f.signatures) for f in alone), min(len(f.signatures) for f in twins), len(ds),
      ",".join(f.py_func.__qualname__ for f in unneeded) or "-",
      names(lambda s: "Literal[int]" in str(s)),
      names(lambda s: any(isinstance(t, types.Array) and not t.mutable for t in s)))
"""


def test_uncached_small_fits_compile_each_function_once():
    """One subprocess with the disk cache off (``FASTGMM_CACHE=0``), which
    compiles every function a small fit needs (about a minute on 2 cores):

    - the cache can be switched off;
    - calls too small for threads run the serial twins, which inline their
      chunk functions (pjit's ``inline_serial``); the thin block wrappers are
      inlined everywhere (``jit_inline``): none is compiled by itself;
    - a constant argument, or a loop counter started at a constant, compiled
      the callee a second time for ``Literal[int]`` (see ``_config.jit``;
      cold cache, all four types: 63 and 59 s against 52 and 54 s without):
      none is (flags, ``Literal[bool]``, may specialise on purpose);
    - the kernels for 2 features (``full_small``, ``tied_small``) leave the
      4 x 4 tiled products and the by-component passes out (see
      ``full._FEATURES``);
    - a read-only array is a type of its own: read-only X, weights, initial
      parameters or fitted parameters compiled the kernels again
      (``_base.kernel_view``); none does, and the caller's arrays stay
      read-only.
    """
    out = _python(_NO_CACHE_FITS, FASTGMM_CACHE="0")
    cache, cache_type, n_alone, min_twin, n_compiled, unneeded, literal, readonly = out.split()
    assert (cache, cache_type) == ("False", "NullCache")
    assert n_alone == "0" and min_twin == "1"
    assert int(n_compiled) > 20  # the callees were compiled here
    assert unneeded == "-"
    assert literal == "-"
    assert readonly == "-"


def test_inline_serial_names_globals_the_driver_reads():
    from fastgmm import _config

    def driver(x):
        return x

    with pytest.raises(ValueError, match="reads no global"):
        _config.pjit(driver, inline_serial=("_chunk",))


def test_warmup_compiles_everything():
    # the kernels each type runs on any number of features but full's 3..16
    # (tied's switch at 12 too) after warmup on its default 2 and 17
    out = _python(
        "import fastgmm; from fastgmm._kernels import kmeans; "
        "from fastgmm._covariance import COVARIANCE_TYPES as C; "
        "fastgmm.warmup(); "
        "print(all(len(f.signatures) >= 2 for m in (ct.kernels_for(d) for ct in C.values() "
        "for d in (2, 12, 17) if (ct.name, d) != ('full', 12)) "
        "for f in (m.stats, m.stats.serial, m.score_rows, m.score_rows.serial)), "
        "min(len(kmeans.lloyd_step.signatures), len(kmeans.lloyd_step.serial.signatures), "
        "len(kmeans.lloyd_run.signatures)), "
        "all(len(f.signatures) == 1 for m in (ct.kernels for ct in C.values()) "
        "for f in (m.update, m.kernel_const)))"
    )
    ok, n_lloyd, mstep_once = out.split()
    # the compiled M-step: one specialisation whatever X's dtype
    assert ok == "True" and int(n_lloyd) >= 2 and mstep_once == "True"


def test_a_small_fit_compiles_each_kernel_once():
    """Initialisation and EM call the statistics kernels with the same argument
    types (a read-only array is another signature: the kernel compiled twice)."""
    out = _python(
        "import numpy as np, fastgmm; from fastgmm._covariance import COVARIANCE_TYPES as C; "
        "X = np.random.RandomState(0).normal(size=(500, 2)); "
        "[fastgmm.GaussianMixture(3, covariance_type=c, random_state=0).fit(X) for c in C]; "
        "print(*[len(ct.kernels_for(2).stats.serial.signatures) for ct in C.values()])"
    )
    assert out.split() == ["1"] * 4


def test_warmup_compiles_the_unrolled_kernels_it_is_asked_for():
    out = _python(
        "import fastgmm; from fastgmm._kernels import full_small; "
        "fastgmm.warmup(dtypes=('float64',), n_features=(3,)); "
        "k = full_small.kernels_for(3); "
        "print(all(len(f.signatures) >= 1 for f in "
        "(k.stats, k.stats.serial, k.score_rows, k.score_rows.serial)))"
    )
    assert out.split()[-1] == "True"


def test_warmup_arguments():
    from fastgmm._warmup import _warmup_args

    f64, f32 = np.dtype(np.float64), np.dtype(np.float32)
    assert _warmup_args("float32", 5) == ((f32,), (5,))
    assert _warmup_args((np.float64, "float32"), np.arange(2, 4)) == ((f64, f32), (2, 3))
    for bad in [(2.5,), (0,), (-1,), (True,)]:
        with pytest.raises(ValueError, match="n_features must be positive integers"):
            _warmup_args("float64", bad)
    with pytest.raises(ValueError, match="float32 or float64"):
        _warmup_args(("int64",), 2)
    with pytest.raises(TypeError, match="n_features must be an int or a sequence"):
        _warmup_args("float64", "abc")


def test_fastmath_opt_in_keeps_exp_and_log_accurate():
    # the exp rounds to an integer by adding 1.5 * 2^52: reassociation would
    # fold that away, so these two keep 'contract' only under the opt-in
    out = _python(
        "import numpy as np; from fastgmm._kernels._common import exp_le0, log_ge1; "
        "a = -np.linspace(0, 700, 5001); o = np.empty_like(a); "
        "o[:] = [exp_le0(v) for v in a]; "
        "x = 1 + np.linspace(0, 1e3, 5001); g = np.empty_like(x); log_ge1(x, g, x.size); "
        "print(np.max(np.abs(o / np.exp(a) - 1)), np.max(np.abs(g - np.log(x)) / np.log(x[-1])))",
        FASTGMM_FASTMATH="1",
        FASTGMM_CACHE="0",
    )
    exp_err, log_err = map(float, out.split())
    assert exp_err < 1e-15 and log_err < 1e-15


_WIDE = '"prefer-vector-width"="512"'

#: compiles full._scatter_2d (marked) alone, without the disk cache (Numba
#: does not show the code of cached functions), and prints: the name the
#: drivers compile under, whether the attribute is in its IR, whether its
#: machine code uses 512-bit registers, whether LLVM's own choice for an
#: unmarked loop does (256 bits on most AVX-512 CPUs, 512 on AMD Zen 4), the sums
_SCATTER_2D = (
    "import numpy as np, numba; from fastgmm._kernels import full; "
    "rng = np.random.default_rng(0); x0, x1, r = rng.normal(size=(3, 256)); "
    "out = np.zeros(3 * 2 + 4 * 2); "
    "full._scatter_2d(x0, x1, 256, 0.5, -0.5, np.abs(r), out, 2, 1); "
    "f = full._scatter_2d; sig = f.signatures[0]; "
    "g = numba.njit(lambda a, b, c: a * b + c); g(x0, x1, r); "
    "print(full.stats.py_func.__qualname__, "
    f"{_WIDE!r} in f.inspect_llvm(sig), 'zmm' in f.inspect_asm(sig), "
    "'zmm' in g.inspect_asm(g.signatures[0]), repr(out.tolist()))"
)


def test_marked_kernels_prefer_wide_vectors():
    from fastgmm import _config

    def twice(x):
        _config.prefer_wide_vectors()
        return 2 * x

    kernel = _config.jit(twice, cache=False)
    assert kernel(np.float64(2.0)) == 4.0
    assert _WIDE in kernel.inspect_llvm(kernel.signatures[0])
    name, wide, zmm, _, _ = _python(_SCATTER_2D, FASTGMM_CACHE="0").split(" ", 4)
    assert name == "stats" and wide == "True"
    has_avx512 = "+avx512f" in ll.get_host_cpu_features().flatten()
    assert zmm == str(has_avx512)  # 512-bit vectors exactly where the CPU has them


def test_wide_vectors_opt_out_and_its_own_cache_entries():
    # what the intrinsic emits is not part of Numba's cache key: the opt-out
    # (and FASTGMM_FASTMATH) compile under names of their own
    name, wide, zmm, llvm_zmm, sums = _python(
        _SCATTER_2D, FASTGMM_CACHE="0", FASTGMM_WIDE_VECTORS="0"
    ).split(" ", 4)
    assert name == "stats__narrow" and wide == "False" and zmm == llvm_zmm  # LLVM's width
    sums_default = _python(_SCATTER_2D, FASTGMM_CACHE="0").split(" ", 4)[4]
    np.testing.assert_allclose(eval(sums), eval(sums_default), rtol=1e-13)
    name = _python(_SCATTER_2D, FASTGMM_CACHE="0", FASTGMM_FASTMATH="1").split(" ", 1)[0]
    assert name == "stats__fastmath"


@pytest.mark.parametrize("value, expected", [("", False), ("1", True), (" On ", True),
                                             ("no", False), ("FALSE", False)])
def test_flags_read_on_and_off(monkeypatch, value, expected):
    from fastgmm._config import _flag

    monkeypatch.setenv("FASTGMM_FASTMATH", value)
    assert _flag("FASTGMM_FASTMATH", False) is expected


@pytest.mark.parametrize("value", ["disabled", "none", "n", "2"])
def test_a_flag_neither_on_nor_off_is_an_error(monkeypatch, value):
    # any unknown word used to mean "on": FASTGMM_FASTMATH=disabled enabled it
    from fastgmm._config import _flag

    monkeypatch.setenv("FASTGMM_FASTMATH", value)
    with pytest.raises(ValueError, match=f"FASTGMM_FASTMATH='{value}': expected one of"):
        _flag("FASTGMM_FASTMATH", False)
