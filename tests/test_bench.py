"""The benchmark script's helpers on tiny inputs (no timing assertions)."""

import json

import numpy as np
import pytest

from fastgmm import GaussianMixture, bench


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(bench.PROBLEMS, "tiny", (3000, 3, 2, "full"))
    monkeypatch.setitem(bench.PROBLEMS, "tiny-diag", (3000, 3, 2, "diag"))
    # a fake matmul rate: the real one takes seconds
    monkeypatch.setattr(bench, "matmul_gflops", lambda min_seconds=0.1, repeat=5, size=None: (10.0, 64))
    return "tiny"


def test_em_flops():
    assert bench.em_flops(1, 1, 1) == 4
    assert bench.em_flops(100_000, 50, 32) == 2 * 100_000 * 32 * 50 * 51
    assert bench.em_flops(10, 2, 3) == 2 * bench.em_flops(5, 2, 3)


def test_memory_ratio_floors_tiny_denominators():
    assert bench.memory_ratio(387.3, 1.7) == "227.8"
    assert bench.memory_ratio(20.6, 0.0) == ">20.6"  # not 2643x of a rounding
    assert bench.memory_ratio(None, 1.0) is None and bench.memory_ratio(1.0, None) is None


def test_ratio_and_pct():
    assert bench.ratio(3.0, 2.0) == 1.5
    assert bench.ratio(None, 2.0) is None
    assert bench.ratio(1.0, None) is None
    assert bench.ratio(1.0, 0.0) is None and bench.ratio(1.0, -1.0) is None
    assert bench.ratio(-1.0, 2.0) is None
    assert bench.pct(1.0, 4.0) == 25.0 and bench.pct(None, 4.0) is None


def test_best_timing():
    assert bench.best_timing([0.3, 0.2]) == 0.2
    assert bench.best_timing([-0.1, 0.4]) == 0.4  # a stalled window is not the best
    assert bench.best_timing([None]) is None
    assert bench.best_timing([-0.1, -0.2]) == -0.1  # both stalled: noise


def test_format_table():
    text = bench.format_table(
        [("name", "<"), ("seconds", ".3f"), ("ratio", ".1f")],
        [("a", 1.23456, None), ("longer-name", 10.0, 2.25), ("b", "noise", 1.0)],
    )
    lines = text.splitlines()
    assert lines[0].split() == ["name", "seconds", "ratio"]
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    assert lines[2].startswith("a ") and lines[2].endswith("-")
    assert "1.235" in lines[2]
    assert lines[3].startswith("longer-name") and lines[3].endswith("2.2")
    assert lines[4].split() == ["b", "noise", "1.0"]
    # right-aligned numeric columns end at the same position
    assert lines[2].index("1.235") + 5 == lines[3].index("10.000") + 6


def test_difference_cancels_fixed_cost():
    # t(iters) = 2 s fixed + 0.5 s per iteration, with one noisy slow run
    calls = []

    def run(iters):
        calls.append(iters)
        return 2.0 + 0.5 * iters + (5.0 if len(calls) == 1 else 0.0)

    assert bench._difference(run, 1, 4, repeat=2) == pytest.approx(0.5)
    assert calls == [5, 5, 1, 1]


def test_make_problem_and_blobs(tiny):
    X, params = bench.make_problem("tiny", np.float32)
    assert X.shape == (3000, 3) and X.dtype == np.float32 and X.flags.c_contiguous
    assert params["tol"] == 0.0 and params["n_components"] == 2
    assert params["means_init"].shape == (2, 3)
    assert params["precisions_init"].shape == (2, 3, 3)
    B = bench.make_blobs(2500, 4, 3, "float32", block=1000)
    assert B.shape == (2500, 4) and B.dtype == np.float32 and np.isfinite(B).all()
    assert np.array_equal(B, bench.make_blobs(2500, 4, 3, "float32", block=1000))


def test_per_iteration_on_a_tiny_problem(tiny):
    X, params = bench.make_problem("tiny")
    s = bench.per_iteration(GaussianMixture, X, params, extra=1, repeat=1)
    assert np.isfinite(s)


def test_matmul_gflops_fixed_size():
    rate, m = bench.matmul_gflops(size=32, repeat=1)
    assert m == 32 and rate > 0


def test_peak_memory_sees_an_allocation():
    with bench.peak_memory() as m:
        a = np.ones(40 * bench.MB // 8)
        del a
    assert m["method"] in (bench.MEMORY_METHOD, bench.MEMORY_METHOD_FALLBACK)
    if m["method"] == bench.MEMORY_METHOD:  # the peak could be reset (Linux)
        assert 35 * bench.MB < m["added"] < 80 * bench.MB


def test_fit_memory_child_process():
    res = bench.fit_memory(dict(case=[3000, 2, 2, "diag", "float64"], library="fastgmm",
                                proba=True))
    assert "error" not in res, res
    assert res["x_mb"] == pytest.approx(3000 * 2 * 8 / bench.MB)
    assert res["fit_mb"] >= 0 and res["proba_extra_mb"] >= 0 and res["n_iter"] >= 1
    json.dumps(res)
    bad = bench.fit_memory(dict(case=[3000, 2, 2, "nope", "float64"], library="fastgmm"))
    assert "error" in bad


def test_machine_line():
    line = bench.machine_line()
    assert line.startswith("machine: ") and "CPUs" in line


def test_time_script():
    assert bench.time_script("pass") > 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bench.time_script("1 / 0")


def test_run_table_output(tiny, capsys):
    bench.run_table(["tiny", "tiny-diag"], repeat=1, extra=1, threads=1, peakmem=False)
    out = capsys.readouterr().out
    assert "threads: numba 1, BLAS 1" in out
    assert "sk/fast" in out and "daal/fast" in out
    assert "FLOP rate" in out and "10.0 GFLOP/s" in out and "fastgmm %mm" in out
    table, rates = out.split("FLOP rate")
    assert "tiny-diag" in table and "tiny-diag" not in rates  # only full covariance


def test_run_scaling_output(tiny, capsys):
    bench.run_scaling(["tiny"], repeat=1, extra=1)
    out = capsys.readouterr().out
    assert "speed-up" in out and "tiny: 3000 x 3, K=2, full" in out
    assert "matmul speed-up" in out


def test_run_scaling_thread_counts(tiny, capsys):
    bench.run_scaling(["tiny"], repeat=2, extra=1, counts=[1, 1])
    table = capsys.readouterr().out.split("-\n")[-1].splitlines()
    assert [line.split()[0] for line in table] == ["1", "1"]
    bench.run_scaling(["tiny"], repeat=1, extra=1, counts=[1])
    assert "speed-ups against" not in capsys.readouterr().out


def test_run_scaling_relative_to_the_first_count(tiny, monkeypatch, capsys):
    """Speed-up and efficiency are relative to the first count, which need
    not be one thread: 2 threads taking 1 s and 4 taking 0.5 s is 2.00x, 100%."""
    seconds = {2: 1.0, 4: 0.5}
    current = {}

    class Cap:
        def __init__(self, t):
            current["t"] = t

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(bench, "thread_cap", Cap)
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(bench, "_time_fit", lambda cls, X, params, it: it * seconds.get(current.get("t"), 1.0))
    bench.run_scaling(["tiny"], repeat=1, extra=1, counts=[2, 4])
    out = capsys.readouterr().out
    assert "speed-ups against 2 threads" in out
    row4 = out.split("-\n")[-1].splitlines()[1].split()
    assert row4[:4] == ["4", "0.5000", "2.00", "100"]


def test_run_dtype_ratio_output(tiny, monkeypatch, capsys):
    """float64 and float32 per-iteration times, their ratio and the float64
    pass's read rate (X's bytes over its time); the stream problem is known."""
    seconds = iter([0.02, 0.01])
    monkeypatch.setattr(bench, "per_iteration", lambda *a, **k: next(seconds))
    bench.run_dtype_ratio(["tiny-diag"], repeat=1, extra=1)
    row = capsys.readouterr().out.split("-\n")[-1].split()
    assert row == ["tiny-diag", "0.0200", "0.0100", "2.00", "0.0"]  # 3000 x 3 x 8 B / 0.02 s
    assert bench.problem_spec("stream-diag") == (4_000_000, 20, 2, "diag")
    assert "stream-diag" not in bench.PROBLEMS  # not in the default table
    assert bench.problem_spec("tied-200") == (20_000, 200, 5, "tied")
    assert bench.problem_spec("full-400") == (5_000, 400, 4, "full")
    assert not set(bench.WIDE_PROBLEMS) & set(bench.PROBLEMS)
    with pytest.raises(KeyError):
        bench.problem_spec("no-such-problem")


def _table_rows(out):
    """The rows below a table's line of dashes."""
    lines = out.splitlines()
    return lines[max(i for i, line in enumerate(lines) if set(line) == {"-"}) + 1:]


def test_run_small_output(monkeypatch, capsys):
    """Each small problem with the four covariance types, in microseconds;
    a difference that came out <= 0 reads "noise"."""
    monkeypatch.setattr(bench, "SMALL_PROBLEMS", {"tiny-3": (600, 3, 2, "full")})
    bench.run_small(["tiny-3"], repeat=1, extra=2, threads=1)
    out = capsys.readouterr().out
    assert "microseconds per EM iteration, best of 1, 2 iterations" in out
    rows = _table_rows(out)
    assert [r.split()[5] for r in rows] == list(bench.COVARIANCE_TYPES)  # "600 x 3, 2, full"
    seconds = iter([2e-5, 1e-3, -1.0, 1e-3] * 4)
    monkeypatch.setattr(bench, "per_iteration", lambda *a, **k: next(seconds))
    bench.run_small(["tiny-3"], repeat=1, extra=2)
    rows = _table_rows(capsys.readouterr().out)
    assert rows[0].split()[-3:] == ["20.0", "1000.0", "50.0"]
    assert rows[1].split()[-3:] == ["noise", "1000.0", "-"]
    X, params = bench.make_problem("tiny-3", cov_type="spherical")
    assert params["covariance_type"] == "spherical" and params["precisions_init"].shape == (2,)


@pytest.mark.parametrize("argv, message", [
    (["--scaling", "--thread-counts", "0,1"], "must be >= 1"),
    (["--scaling", "--thread-counts", "1,x"], "not comma-separated integers"),
    (["--thread-counts", "1"], "goes with --scaling"),
    (["--scaling", "--thread-counts", "1,100000"], "at most NUMBA_NUM_THREADS"),
    (["--scaling", "--threads", "1"], "use --thread-counts"),
    (["--repeat", "0"], "must be >= 1"),
    (["--extra", "x"], "invalid int value"),
    (["--startup", "--runs", "-1"], "must be >= 1"),
    (["--daal4py-python", "/nonexistent/python"], "not an executable file"),
    (["--daal4py-python", "no-such-python-here"], "or a command on PATH"),
    (["--startup", "--no-peakmem"], "only for the default table"),
    (["--memory", "--daal4py-python", "/bin/sh"], "only for the default table"),
    (["--small", "--no-peakmem"], "only for the default table"),
    (["--small", "--problems", "mid"], "runs the tiny problems only"),
    (["--problems", "tiny-2d"], "tiny-2d: with --small"),
])
def test_thread_counts_errors(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


def test_every_mode_is_documented():
    parser_modes = ["--scaling", "--dtype-ratio", "--startup", "--seed-workload", "--memory",
                    "--scale", "--small", "--threads", "--daal4py-python"]
    for flag in parser_modes:
        assert flag in bench.__doc__
    with pytest.raises(SystemExit):
        bench.main(["--startup", "--memory"])  # modes are mutually exclusive


def test_run_ceiling_output(tiny, capsys):
    import numba

    from fastgmm import bench_ceiling

    counts = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
    bench_ceiling.run_ceiling("tiny", counts, sweeps=1, scale=0.01)
    out = capsys.readouterr().out
    assert "ceiling: tiny" in out and "sweep 1" in out
    rows = [line for line in out.splitlines() if line.strip().startswith("threads")]
    assert len(rows) == len(counts)
    for name in ("busy", "fma", "matmul", "stats", "iter"):
        assert f"{name} " in rows[0]
    assert "x 1.00" in rows[0]


@pytest.mark.parametrize("argv, message", [
    (["--thread-counts", "0"], "must be >= 1"),
    (["--thread-counts", "100000"], "at most NUMBA_NUM_THREADS"),
    (["--sweeps", "0"], "must be >= 1"),
    (["--problem", "nope"], "invalid choice"),
])
def test_ceiling_argument_errors(argv, message, capsys):
    from fastgmm import bench_ceiling

    with pytest.raises(SystemExit):
        bench_ceiling.main(argv)
    assert message in capsys.readouterr().err


class _FakeEmGmm:
    """Stands in for ``daal4py.em_gmm``: records what it is given."""

    calls = []

    def __init__(self, nComponents, maxIterations, accuracyThreshold, fptype,
                 covarianceStorage):
        self.kw = dict(K=nComponents, iters=maxIterations, storage=covarianceStorage)

    def compute(self, X, weights, means, covariances):
        _FakeEmGmm.calls.append(dict(self.kw, weights=weights, means=means, covs=covariances))

        class Result:
            nIterations = np.array([[self.kw["iters"]]])

        return Result()


@pytest.mark.parametrize("cov", ["full", "diag", "tied", "spherical"])
def test_daal4py_starts_from_the_shared_parameters(tiny, monkeypatch, cov):
    import sys
    import types

    monkeypatch.setitem(bench.PROBLEMS, "tiny-any", (3000, 3, 2, cov))
    monkeypatch.setitem(sys.modules, "daal4py", types.SimpleNamespace(em_gmm=_FakeEmGmm))
    _FakeEmGmm.calls.clear()
    X, params = bench.make_problem("tiny-any")
    seconds = bench._daal4py_per_iteration(X, params, extra=1, repeat=1)
    if cov in ("tied", "spherical"):  # em_gmm has no such storage
        assert seconds is None and not _FakeEmGmm.calls
        return
    assert _FakeEmGmm.calls and {c["storage"] for c in _FakeEmGmm.calls} == {
        {"full": "full", "diag": "diagonal"}[cov]}
    call = _FakeEmGmm.calls[-1]
    np.testing.assert_array_equal(call["means"], params["means_init"])
    np.testing.assert_array_equal(call["weights"], params["weights_init"][None, :])
    # the same covariances as fastgmm's and scikit-learn's precisions_init
    covs = np.stack(call["covs"])
    if cov == "full":
        np.testing.assert_allclose(np.linalg.inv(covs), params["precisions_init"])
    else:
        assert covs.shape == (2, 1, 3)
        np.testing.assert_allclose(1.0 / covs[:, 0, :], params["precisions_init"])


@pytest.mark.parametrize("argv, message", [
    (["moons", "--repeat", "0"], "must be >= 1"),
    (["moons", "--sklearn-repeat", "0"], "must be >= 1"),
    (["--sklearn-only"], "takes one problem"),
])
def test_bench_select_argument_errors(argv, message, capsys):
    from fastgmm import bench_select

    with pytest.raises(SystemExit):
        bench_select.main(argv)
    assert message in capsys.readouterr().err


def test_daal4py_failure_is_reported(tiny, capsys):
    """An interpreter without daal4py: a '-' in the table and the reason on
    stderr, not a silent '-'."""
    got = bench._daal4py_in_subprocess("/bin/false", "tiny", "float64", 1, 1)
    assert got is None
    assert "daal4py not timed on tiny with /bin/false" in capsys.readouterr().err


def test_run_seed_workload_output(capsys):
    """Both scikit-learn baselines: its default threads and one thread."""
    bench.run_seed_workload(ks=[2, 3])
    out = capsys.readouterr().out
    assert "-> 41 dims (ok)" in out
    assert "sk/fast" in out and "sk1/fast" in out
    total = out.splitlines()[-1]
    assert total.startswith("total: fastgmm") and "with its default threads" in total
    assert "sklearn on 1 BLAS/OpenMP thread" in total and "max relative AIC difference" in total
