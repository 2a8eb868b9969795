"""The HTML report: self-contained, every figure drawn, rendered by headless Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rhocat.errors import InputError
from rhocat.evaluate.results import ResultsDir
from rhocat.evaluate.tables import summarize
from rhocat.report import build_report
from rhocat.report.figures import to_png
from tests.conftest import chromium_path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _curve(start: float, rate: float, n: int) -> list[float]:
    return [start * rate**i for i in range(n)]


def _rows(n_per_split: int = 6) -> list[dict]:
    """Result rows with the fields the runner writes, values drawn at random."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:24, 0:24]
    rows = []
    for split in ("train", "test_binary", "test_ternary"):
        for k in range(n_per_split):
            base_iters = int(rng.integers(7, 14))
            warm_iters = int(base_iters - rng.integers(-1, 5))
            b = _curve(5e-2, 0.12, base_iters)
            w = _curve(5e-2 * 10 ** rng.uniform(-1.5, 0.3), 0.12, warm_iters)
            true = np.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 10) + np.exp(
                -((xx - 17) ** 2 + (yy - 16) ** 2) / 14
            )
            err = rng.uniform(0.002, 0.05)
            pred = true * (1 + err * np.sin(xx / 3))
            tb = rng.uniform(2, 20)
            ti = rng.uniform(0.05, 0.3)
            tw = tb * warm_iters / base_iters
            from rhocat.evaluate.metrics import s_auc

            rows.append(
                {
                    "id": f"{split}-{k}",
                    "formula": ["NiSi", "SiC", "GaAs", "CuNi", "FeSi", "RhSi"][k % 6],
                    "split": split,
                    "status": "ok",
                    "s_auc": s_auc(b, w),
                    "iterations_saved": (base_iters - warm_iters) / base_iters,
                    "mae": float(np.mean(np.abs(pred - true))),
                    "nmae": err / 2,
                    "energy_diff_ry": 1e-9,
                    "band_gap_diff_ev": 0.0,
                    "inference_s": ti,
                    "scf_s": tw,
                    "baseline_scf_s": tb,
                    "wall_clock_saving": (tb - ti - tw) / tb,
                    "becsum_source": "none",
                    "baseline": {"iterations": base_iters, "scf_accuracy_ry": b},
                    "learned": {"iterations": warm_iters, "scf_accuracy_ry": w},
                    "projection": {"axis": 2, "true": true.tolist(), "predicted": pred.tolist()},
                }
            )
    rows.append(
        {
            "id": "test_binary-broken",
            "split": "test_binary",
            "status": "failed",
            "error": "pw.x did not converge",
        }
    )
    return rows


def _results(tmp_path: Path) -> Path:
    res = ResultsDir(tmp_path / "results", "ab" * 32, {"model": "toy.pt", "dataset": "toy"})
    for r in _rows():
        res.write_row(r)
    return res.path


def test_report_is_self_contained_with_every_figure(tmp_path):
    out = build_report(_results(tmp_path), tmp_path / "report.html")
    text = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 6  # wall clock, Fig 6, Fig 4, Fig 5, Fig 2, Fig 3
    for img in images:
        assert base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "nothing to draw" not in text
    # no external resource: nothing fetched over http(s) or from a relative file
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "Tables 2 and 3" in text and "Figure 6" in text
    assert "test (all)" in text  # the pooled row of both test splits
    assert "pw.x did not converge" in text  # the failed structure is listed


def test_report_refuses_an_empty_or_foreign_folder(tmp_path):
    with pytest.raises(InputError):
        build_report(tmp_path, tmp_path / "r.html")
    ResultsDir(tmp_path / "empty", "cd" * 32)
    with pytest.raises(InputError):
        build_report(tmp_path / "empty", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_cli_report(tmp_path):
    from rhocat.cli.main import main

    res = _results(tmp_path)
    assert main(["report", str(res), "-o", str(tmp_path / "rep.html")]) == 0
    assert (tmp_path / "rep.html").stat().st_size > 50_000
    assert main(["report", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.html")]) == 2


@pytest.mark.needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    chromium = chromium_path()
    out = build_report(_results(tmp_path), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    cmd = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        out.as_uri(),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)}
    )
    assert shot.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    rgb = img[..., :3]
    # non-blank: a good share of pixels are not white, and there is colour (figures)
    not_white = np.mean(np.any(rgb < 0.95, axis=-1))
    colourful = np.mean(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.25)
    assert not_white > 0.05, not_white
    assert colourful > 0.01, colourful
    if os.environ.get("RHOCAT_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["RHOCAT_KEEP_SCREENSHOT"])


def test_summary_of_rows_counts_failed():
    s = summarize(_rows(2))
    assert s["failed"]["test_binary"] == 1
    assert s["s_auc"]["test_binary"]["N"] == 2


def test_to_png_gives_png_bytes():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([1, 2])
    assert to_png(fig)[:4] == b"\x89PNG"
