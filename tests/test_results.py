"""results/ is reproducible: regenerating it with the documented commands gives the same files."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.run import METRIC_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _engine(*args: str) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _datasets(html: Path) -> dict:
    """The data embedded in an Altair HTML page (independent of the Altair version)."""
    text = html.read_text(encoding="utf-8")
    spec = json.loads(re.search(r"var spec = (\{.*?\});\n", text, re.DOTALL).group(1))
    return spec["datasets"]


def test_raw_metrics_regenerate_byte_identical(tmp_path):
    """The default ablation rerun from the CLI equals the committed CSV byte for byte."""
    out = tmp_path / "raw_metrics.csv"
    _engine("ablate", "--iterations", "30", "--seeds", "5", "--out", str(out))
    assert out.read_bytes() == (RESULTS / "raw_metrics.csv").read_bytes()


def test_raw_metrics_shape():
    """3 conditions x 5 seeds x iterations 0..30, with the engine's metric columns."""
    df = pd.read_csv(RESULTS / "raw_metrics.csv")
    assert tuple(df.columns) == METRIC_COLUMNS
    assert len(df) == 3 * 5 * 31
    assert list(pd.unique(df["condition"])) == ["hyperagent", "baseline", "no_archive"]
    assert sorted(df["seed"].unique()) == [0, 1, 2, 3, 4]


def test_summary_regenerates_identically(tmp_path):
    """`report` on the committed metrics reproduces results/summary.md exactly."""
    out = tmp_path / "summary.md"
    res = _engine("report", "--metrics", "results/raw_metrics.csv", "--out", str(out))
    committed = (RESULTS / "summary.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed == res.stdout


def test_figures_are_valid_and_regenerate_the_same_data(tmp_path):
    """Committed PNGs are real images of the regenerated size; the HTML carries the same data."""
    _engine("plot", "--metrics", "results/raw_metrics.csv", "--out", str(tmp_path))
    for name in ("learning_curves", "meta_policy_drift"):
        w, h = _png_size(RESULTS / f"{name}.png")
        assert 800 < w < 4000 and 300 < h < 2000
        assert (w, h) == _png_size(tmp_path / f"{name}.png")
        assert _datasets(RESULTS / f"{name}.html") == _datasets(tmp_path / f"{name}.html")


def test_readme_lists_the_regeneration_commands():
    """results/README.md gives the exact commands that made these files."""
    text = (RESULTS / "README.md").read_text(encoding="utf-8")
    for cmd in ("python -m engine ablate --iterations 30 --seeds 5 --out results/raw_metrics.csv",
                "python -m engine plot --metrics results/raw_metrics.csv --out results/",
                "python -m engine report --metrics results/raw_metrics.csv --out "
                "results/summary.md",
                "python -m engine ablate --iterations 300 --seeds 30 --dataset synthetic"):
        assert cmd in text


def test_sweep_reports_are_the_30_by_300_design():
    """The committed sweep reports cover 30 seeds x 300 iterations on each benchmark."""
    for name, dataset in (("classic", "classic"), ("synthetic", "synthetic")):
        text = (RESULTS / f"sweep_{name}_30x300.md").read_text(encoding="utf-8")
        assert "x 30 seed(s) x iterations 0..300 (27090 rows)" in text
        assert f"Reference lines on dataset `{dataset}`" in text
        assert "## What the data supports" in text
