"""Kernel compilation: lazy import, disk cache, quiet fallback, opt-outs."""

import os
import subprocess
import sys

import numba
import numpy as np


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


def test_cache_can_be_switched_off():
    out = _python(
        "import numpy as np, fastgmm; from fastgmm._kernels import full; "
        "fastgmm.GaussianMixture(2, random_state=0).fit(np.random.rand(50, 2)); "
        "print(fastgmm._config.CACHE, type(full.stats._cache).__name__)",
        FASTGMM_CACHE="0",
    )
    assert out.split() == ["False", "NullCache"]


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


def test_warmup_compiles_everything():
    out = _python(
        "import fastgmm; from fastgmm._kernels import full, tied, diag, spherical, kmeans; "
        "fastgmm.warmup(); "
        "print(all(len(f.signatures) >= 2 for m in (full, tied, diag, spherical) "
        "for f in (m.stats, m.stats.serial, m.score_rows, m.score_rows.serial)), "
        "min(len(kmeans.lloyd_step.signatures), len(kmeans.lloyd_step.serial.signatures)))"
    )
    ok, n_lloyd = out.split()
    assert ok == "True" and int(n_lloyd) >= 2


def test_warmup_compiles_the_unrolled_kernels_it_is_asked_for():
    out = _python(
        "import fastgmm; from fastgmm._kernels import full_small; "
        "fastgmm.warmup(dtypes=('float64',), n_features=(3,)); "
        "k = full_small.kernels_for(3); "
        "print(all(len(f.signatures) >= 1 for f in "
        "(k.stats, k.stats.serial, k.score_rows, k.score_rows.serial)))"
    )
    assert out.split()[-1] == "True"


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
