"""fastgmm's demo (``fastgmm demo``): the quick walkthrough's findings and figures."""

import io
import struct
import sys

import numpy as np
import pytest

from fastgmm import _demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    findings = _demo.run(out_dir, quick=True, file=buf)
    return findings, buf.getvalue(), out_dir


def test_blobs(quick):
    blobs = quick[0]["blobs"]
    assert blobs["kmeans_ari"] > 0.95 and blobs["gmm_ari"] > 0.95
    proba = np.array(blobs["proba_head"])
    assert proba.shape == (5, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=2e-3)
    assert 0 < blobs["n_uncertain"] < 40  # a few points between the middle blobs


def test_stretched_blobs_recovered_by_full_covariance(quick):
    s = quick[0]["stretched"]
    assert s["recovered"] is True
    assert s["gmm_full_ari"] > 0.95
    assert s["kmeans_ari"] < 0.9 and s["gmm_spherical_ari"] < 0.9


def test_moons(quick):
    m = quick[0]["moons"]
    assert m["ks"] == list(_demo.MOONS_KS_QUICK)
    assert len(m["bic"]) == len(m["aic"]) == len(m["ks"])
    assert m["best_k_bic"] == m["ks"][int(np.argmin(m["bic"]))]
    assert m["best_k_aic"] == m["ks"][int(np.argmin(m["aic"]))]
    assert 4 <= m["best_k_bic"] <= m["best_k_aic"]  # BIC prefers the simpler model
    assert m["heldout_loglik_16"] > m["heldout_loglik_2"] + 0.5
    assert m["samples_on_moons_16"] > 0.9 > 0.6 > m["samples_on_moons_2"]


def test_digits(quick):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    d = quick[0]["digits"]
    expected_dims = PCA(0.99, whiten=True).fit(load_digits().data).n_components_
    assert d["pca_dims"] == expected_dims == 41
    assert (d["n_samples"], d["n_pixels"]) == (1797, 64)
    assert d["ks"] == list(_demo.DIGITS_KS_QUICK)
    assert d["best_k_aic"] == d["ks"][int(np.argmin(d["aic"]))]
    assert d["best_converged"] is True
    assert d["generated_shape"] == [100, 64]
    lo, hi = d["generated_pixel_range"]
    assert np.isfinite([lo, hi]).all() and lo < 3 and hi > 10  # pixels of digits: 0..16


def test_printed_report(quick):
    findings, text, _ = quick
    assert text.startswith("fastgmm demo (quick)")
    for needle in ("1. Blobs", "2. Stretched blobs", "3. Moons", "4. Digits",
                   "keeps 41 dimensions", "predict_proba",
                   f"BIC is lowest at K = {findings['moons']['best_k_bic']}",
                   f"AIC at K = {findings['moons']['best_k_aic']}",
                   "100 new 64-pixel digits", "figures in"):
        assert needle in text, needle
    assert findings["quick"] is True and findings["seconds"] > 0
    assert len(text.splitlines()) < 40


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")
    return width, height


def test_figures_are_valid_pngs(quick):
    import matplotlib.image

    findings, _, out_dir = quick
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted([
        "blobs.png", "stretched.png", "moons.png", "moons_criteria.png",
        "digits_aic.png", "digits_data.png", "digits_generated.png",
    ])
    assert sorted(findings["figures"]) == sorted(str(out_dir / n) for n in names)
    for name in names:
        width, height = _png_size(out_dir / name)
        assert 200 < width < 2000 and 200 < height < 2000
        pixels = matplotlib.image.imread(out_dir / name)
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01  # not blank


def test_no_figures_without_output_dir(capsys):
    buf = io.StringIO()
    figs = _demo._Figures(None, buf)
    assert not figs.enabled and buf.getvalue() == ""
    X, y, found = _demo._blobs(buf, figs)
    _demo._stretched(X, y, buf, figs)
    assert figs.paths == []
    assert capsys.readouterr().out == ""  # everything went to `file`
    assert "Stretched blobs" in buf.getvalue()


def test_without_matplotlib_says_so_once(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    buf = io.StringIO()
    figs = _demo._Figures(tmp_path / "figs", buf)
    assert not figs.enabled
    assert buf.getvalue().count("pip install fastgmm[plot]") == 1
    assert not (tmp_path / "figs").exists()
