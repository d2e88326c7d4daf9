"""The command line: ``python -m fastgmm`` in subprocesses (each costs an
interpreter start and a Numba cache load, so they are few and each checks
several things), plus in-process calls of ``main()`` for the parsing and
error paths."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_moons

from fastgmm import GaussianMixture
from fastgmm import __main__ as cli
from fastgmm._io import load_model, save_model

REPO = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "fastgmm", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=600,
    )


def assert_clean_error(proc, match, status=1):
    assert proc.returncode == status, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fastgmm: error: ") and match in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    iris = load_iris().data
    np.savetxt(d / "iris.csv", iris, delimiter=",", header="a,b,c,d", comments="",
               fmt="%.1f")
    np.save(d / "iris.npy", iris)
    moons, _ = make_moons(200, noise=0.05, random_state=0)
    np.savetxt(d / "moons.csv", moons, delimiter=",")
    (d / "ragged.csv").write_text("1,2\n3,4\n5,6,7\n")
    (d / "text.csv").write_text("x,y\n1,2\n3,abc\n")
    return d


# --- subprocess ----------------------------------------------------------------
def test_no_arguments_fits_iris_as_before():
    proc = run()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("data: iris (bundled with scikit-learn, 150 x 4)\n")
    assert "model: GaussianMixture(n_components=3, covariance_type='full')" in out
    assert "converged: True after 17 iterations" in out
    assert "weights: [0.3013 0.3333 0.3654]" in out
    assert "BIC: 580.8613" in out and "AIC: 448.3933" in out
    assert proc.stderr == ""


def test_fit_save_then_predict_score_sample(files, tmp_path):
    model = tmp_path / "m.npz"
    # old form (no subcommand) = fit; a CSV with a header
    proc = run(files / "iris.csv", "-k", "3", "--covariance-type", "diag", "-o", model)
    assert proc.returncode == 0, proc.stderr
    assert "data: " in proc.stdout and "(150 x 4, header skipped)" in proc.stdout
    assert f"saved model: {model}" in proc.stdout
    X = load_iris().data.round(1)
    ref = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    gm = load_model(model)
    np.testing.assert_array_equal(gm.means_, ref.means_)

    proc = run("predict", model, files / "iris.npy")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "label"
    np.testing.assert_array_equal(np.array(lines[1:], dtype=int),
                                  gm.predict(load_iris().data))

    proc = run("score", model, files / "iris.csv", "--outliers", "0.04",
               "-o", tmp_path / "s.csv")
    assert proc.returncode == 0, proc.stderr
    lpn = gm.score_samples(X)
    threshold = np.quantile(lpn, 0.04)
    n_out = int(np.sum(lpn < threshold))
    assert f"outliers: {n_out} of 150 rows" in proc.stderr
    assert f"threshold {threshold:.6g}" in proc.stderr
    table = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 0], lpn, rtol=1e-11)
    np.testing.assert_array_equal(table[:, 1], lpn < threshold)

    proc = run("sample", model, 50, "--random-state", 3, "--labels", "-o", tmp_path / "x.npy")
    assert proc.returncode == 0, proc.stderr
    gm.random_state = 3
    Xs, ys = gm.sample(50)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.column_stack([Xs, ys]))


def test_select_prints_table_and_saves_best(files, tmp_path):
    model = tmp_path / "best.npz"
    proc = run("select", files / "moons.csv", "-k", "1-6,8", "--covariance-type",
               "full,diag", "--criterion", "aic", "-o", model)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "14 fits in" in out and "lowest AIC marked *" in out
    star = [line for line in out.splitlines() if line.startswith("*")]
    assert len(star) == 1
    best = load_model(model)
    assert star[0].split()[1:3] == [str(best.n_components), best.covariance_type]
    assert f"best: n_components={best.n_components}" in out
    X = np.loadtxt(files / "moons.csv", delimiter=",")
    ref = GaussianMixture(best.n_components, covariance_type=best.covariance_type,
                          random_state=0).fit(X)
    np.testing.assert_array_equal(best.means_, ref.means_)
    assert proc.stderr == ""  # progress only on a terminal


@pytest.mark.parametrize(
    "args, match, status",
    [
        (("fit", "missing.csv"), "missing.csv: no such file", 1),
        (("fit", "ragged.csv"), "line 3 has 3 columns", 1),
        (("predict", "iris.csv", "iris.csv"), "is not a fastgmm model file", 1),
        (("select", "-k", "2-x"), "invalid value '2-x'", 2),
    ],
)
def test_errors_are_one_line(files, args, match, status):
    assert_clean_error(run(*args, cwd=files), match, status)


def test_help_of_every_subcommand():
    proc = run("demo", "--help")
    assert proc.returncode == 0 and "--quick" in proc.stdout and "--output" in proc.stdout
    for command in cli.COMMANDS:
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"])
        assert info.value.code == 0


# --- in process -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, ks",
    [
        ("3", [3]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("50-200:10", list(range(50, 201, 10))),
        ("1,2,5", [1, 2, 5]),
        ("1-3, 10-20:5", [1, 2, 3, 10, 15, 20]),
    ],
)
def test_parse_ks(text, ks):
    assert [k for part in cli.parse_ks(text) for k in part] == ks


@pytest.mark.parametrize("text", ["", "a", "1-", "-3", "5-1", "1-10:0", "1.5", "1;2"])
def test_parse_ks_rejects(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_ks(text)


def _error(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastgmm: error: "), err
    return status, err[0]


def test_error_messages(files, capsys, tmp_path):
    d = files
    cases = [
        (["fit", str(d / "text.csv")], "line 3, column 2: 'abc' is not a number"),
        (["fit", str(d / "iris.csv"), "-k", "151"], "n_samples >= n_components"),
        (["fit", str(d / "iris.csv"), "-k", "2", "-o", str(tmp_path) + "/"],
         "names a directory, not a file"),
        (["select", str(d / "moons.csv"), "-k", "0-2"], "n_components must be >= 1, got 0"),
        (["select", str(d / "moons.csv"), "-k", "300"], "<= n_samples = 200, got 300"),
        (["select", str(d / "moons.csv"), "-k", "2,1-1000000000000"], "got 201"),
        (["predict", str(tmp_path / "none.npz"), str(d / "iris.csv")], "no such model file"),
        (["fit", str(d)], "is a directory"),
    ]
    for argv, match in cases:
        status, line = _error(capsys, argv)
        assert status == 1 and match in line, line

    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    assert "empty file" in _error(capsys, ["fit", str(empty)])[1]
    for name, data in (("empty.npy", b""), ("cut.npy", b"\x93NUMPY\x01\x00")):
        (tmp_path / name).write_bytes(data)  # np.load raises EOFError on these
        assert "not a numeric .npy array" in _error(capsys, ["fit", str(tmp_path / name)])[1]
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    assert "no data rows" in _error(capsys, ["fit", str(header_only)])[1]
    strings = tmp_path / "s.npy"
    np.save(strings, np.array([["a", "b"]]))
    assert "expected numbers" in _error(capsys, ["fit", str(strings)])[1]
    nan = tmp_path / "nan.csv"
    nan.write_text("1,2\nnan,3\n4,5\n")
    assert "line 2, column 1: nan (NaN and infinity" in _error(
        capsys, ["fit", str(nan), "-k", "1"])[1]
    nan.write_text("# a comment\nx,y\n\n1,2\n4,inf\n")  # the file's line
    assert "line 5, column 2: inf (NaN and infinity" in _error(
        capsys, ["fit", str(nan), "-k", "1"])[1]
    (tmp_path / "short.npy").write_bytes(b"abc")
    assert "not a .npy file" in _error(capsys, ["fit", str(tmp_path / "short.npy")])[1]
    (tmp_path / "latin1.csv").write_bytes(b"a,b\n1,2\n3,\xe9\n")
    (tmp_path / "text.NPY").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "under.csv").write_text("1_000,2\n3,4\n5,6\n")
    (tmp_path / "tabs.csv").write_text("1\t2\n3\t4\n5\t6\n")
    for name, match in (("latin1.csv", "not UTF-8 text"),
                        ("text.NPY", "not a .npy file (no NumPy header)"),
                        ("under.csv", "line 1, column 1: '1_000' is not a number"),
                        ("tabs.csv", "the file seems separated by '\\t'")):
        line = _error(capsys, ["fit", str(tmp_path / name), "-k", "1"])[1]
        assert match in line and "pickle" not in line, line

    # a model for 4 features, data with 2
    gm = GaussianMixture(2, random_state=0).fit(load_iris().data)
    model = save_model(gm, tmp_path / "m.npz")
    line = _error(capsys, ["predict", model, str(d / "moons.csv")])[1]
    assert "X has 2 features" in line

    for argv in (["fit", "-k", "0"], ["score", model, "x.csv", "--outliers", "1.5"],
                 ["select", "--covariance-type", "ful"], ["nope"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("fastgmm: error: "), err


def test_predict_proba_and_score_outputs(files, capsys, tmp_path):
    X = load_iris().data
    gm = GaussianMixture(3, random_state=0).fit(X)
    model = save_model(gm, tmp_path / "m.npz")
    assert cli.main(["predict", model, str(files / "iris.npy"), "--proba",
                     "-o", str(tmp_path / "p.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), gm.predict_proba(X))
    assert "probabilities: wrote" in capsys.readouterr().err

    assert cli.main(["predict", model, str(files / "iris.npy"), "--proba"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "p0,p1,p2"
    np.testing.assert_allclose(np.loadtxt(out[1:], delimiter=","), gm.predict_proba(X),
                               rtol=1e-11, atol=1e-300)

    assert cli.main(["score", model, str(files / "iris.npy"), "-o",
                     str(tmp_path / "s.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), gm.score_samples(X))
    assert cli.main(["score", model, str(files / "iris.npy"), "--outliers", "5%",
                     "-o", str(tmp_path / "o.npy")]) == 0
    table = np.load(tmp_path / "o.npy")
    lpn = gm.score_samples(X)
    np.testing.assert_array_equal(table[:, 1], lpn < np.quantile(lpn, 0.05))
    capsys.readouterr()

    assert cli.main(["sample", model, "4"]) == 0  # the model's own random_state (0)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "x0,x1,x2,x3"
    np.testing.assert_allclose(np.loadtxt(out[1:], delimiter=","), gm.sample(4)[0],
                               rtol=1e-11)


def _frame(X, columns):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(X, columns=columns)


def test_lines_before_the_header_upper_case_npy_and_a_huge_sample(files, capsys, tmp_path):
    want, _ = cli.load_data(str(files / "iris.csv"))
    text = (files / "iris.csv").read_text()
    for lead in ("\n", "# exported by a tool\n", "\n# a comment\n\n"):
        (tmp_path / "lead.csv").write_text(lead + text)
        X, what = cli.load_data(str(tmp_path / "lead.csv"))
        np.testing.assert_array_equal(X, want)
        assert "header skipped" in what

    gm = GaussianMixture(3, random_state=0).fit(want)
    model = save_model(gm, tmp_path / "m.npz")
    out = tmp_path / "labels.NPY"
    assert cli.main(["predict", model, str(files / "iris.npy"), "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), gm.predict(want))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.NPY", "lead.csv", "m.npz"]
    capsys.readouterr()

    named = GaussianMixture(2, random_state=0).fit(_frame(want, ["a,b", 'c"d', "e\nf", "g"]))
    assert cli.main(["sample", save_model(named, tmp_path / "n.npz"), "2"]) == 0
    assert capsys.readouterr().out.startswith('"a,b","c""d","e\nf",g\n')

    assert cli.main(["sample", model, str(10**20)]) == 1
    assert capsys.readouterr().err.strip() == f"fastgmm: error: N={10**20} is too large"


def test_fit_and_select_defaults_use_iris(capsys):
    assert cli.main(["select", "-k", "2,3", "--covariance-type", "spherical"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("data: iris (bundled with scikit-learn, 150 x 4)")
    assert "2 fits in" in out


def test_demo_calls_demo_run(monkeypatch, capsys, tmp_path):
    from fastgmm import _demo

    calls = []
    monkeypatch.setattr(_demo, "run", lambda **kw: calls.append(kw))
    assert cli.main(["demo", "--quick", "--output", str(tmp_path)]) == 0
    assert calls == [{"output_dir": str(tmp_path), "quick": True}]
    assert cli.main(["demo"]) == 0
    assert calls[-1] == {"output_dir": None, "quick": False}


class _GonePipe:
    """A stdout whose reader has gone away."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_gone_does_not_stop_the_output_file(files, monkeypatch, tmp_path):
    # 'fastgmm select ... -o best.npz | head -1': the model is still written
    monkeypatch.setattr(sys, "stdout", _GonePipe())
    for command, name in (("fit", "m.npz"), ("select", "best.npz")):
        out = tmp_path / name
        args = [command, str(files / "moons.csv"), "-k", "2" if command == "fit" else "1-3",
                "-o", str(out)]
        assert cli.main(args + (["--no-progress"] if command == "select" else [])) == 0
        assert load_model(out).n_components >= 1
    assert isinstance(sys.stdout, _GonePipe)  # put back


def test_stdout_closed_from_the_start(files, tmp_path):
    # 'fastgmm fit ... -o m.npz >&-': Python's sys.stdout is then None
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "fastgmm", "fit", str(files / "moons.csv"), "-k", "2", "-o",
         str(tmp_path / "m.npz")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True, timeout=600,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert load_model(tmp_path / "m.npz").n_components == 2


def test_a_reader_gone_before_exit_is_quiet(files, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONUNBUFFERED", None)  # the output still buffered at the end
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastgmm", "fit", str(files / "moons.csv"), "-k", "2", "-o",
         str(tmp_path / "m.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    proc.stdout.close()  # the reader goes away at once
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 0, err
    assert err == ""  # no "Exception ignored ... BrokenPipeError"
    assert (tmp_path / "m.npz").exists()


def test_compat_argv():
    assert cli._compat_argv([]) == ["fit"]
    assert cli._compat_argv(["data.csv", "-k", "3"]) == ["fit", "data.csv", "-k", "3"]
    assert cli._compat_argv(["-k", "2"]) == ["fit", "-k", "2"]
    assert cli._compat_argv(["select", "-k", "2"]) == ["select", "-k", "2"]
    assert cli._compat_argv(["--help"]) == ["--help"]
