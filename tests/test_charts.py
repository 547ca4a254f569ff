"""engine.charts: pure Altair builders over aggregated data, saved as PNG and HTML."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest

from engine.charts import (
    MAX_CURVE_POINTS,
    drift_data,
    learning_curve_data,
    learning_curves_chart,
    meta_policy_drift_chart,
    reference_data,
    save_chart,
)
from engine.dataset import classic
from engine.reference import references
from engine.stats import DRIFT_COLUMNS, REQUIRED_COLUMNS, check_metrics

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def _metrics(conditions=("hyperagent", "baseline"), seeds=3, iterations=5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for c in conditions:
        for s in range(seeds):
            best = 0.65
            for it in range(iterations + 1):
                best = min(1.0, best + (0.05 if it and rng.random() < 0.5 else 0.0))
                rows.append({"condition": c, "seed": s, "iteration": it, "best_fitness": best,
                             "best_test_accuracy": best - 0.05, "weight_step": 0.05 + 0.001 * it,
                             "threshold_step": 0.02, "exploration_scale": 1.0 + 0.01 * s})
    return check_metrics(pd.DataFrame(rows), REQUIRED_COLUMNS + DRIFT_COLUMNS)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_curve_data_is_aggregated_per_panel_condition_iteration():
    """One row per panel x condition x iteration (never one per raw row), with exact means."""
    df = _metrics(seeds=3, iterations=5)
    cd = learning_curve_data(df)
    assert len(cd) == 2 * 2 * 6 < len(df)
    assert set(cd["panel"]) == {"train", "test"}
    it0 = cd[(cd["panel"] == "train") & (cd["iteration"] == 0)]
    assert it0["mean"].tolist() == pytest.approx([0.65, 0.65])
    test_last = cd[(cd["panel"] == "test") & (cd["iteration"] == 5)
                   & (cd["condition"] == "baseline")]["mean"].iloc[0]
    raw = df[(df["condition"] == "baseline") & (df["iteration"] == 5)]["best_test_accuracy"]
    assert test_last == pytest.approx(raw.mean())


def test_long_runs_are_thinned_keeping_first_and_last():
    """More iterations than MAX_CURVE_POINTS are thinned to that many, ends included."""
    df = _metrics(conditions=("a",), seeds=2, iterations=MAX_CURVE_POINTS * 2)
    cd = learning_curve_data(df)
    its = sorted(cd.loc[cd["panel"] == "train", "iteration"])
    assert len(its) == MAX_CURVE_POINTS and its[0] == 0 and its[-1] == MAX_CURVE_POINTS * 2


def test_learning_curves_chart_has_two_panels_band_line_and_references():
    """Facet over train/test; layers: CI band, mean line, reference rules with their values."""
    df = _metrics()
    refs = reference_data(references(classic()))
    chart = learning_curves_chart(learning_curve_data(df), refs)
    assert isinstance(chart, alt.FacetChart)
    spec = chart.to_dict()
    assert spec["facet"]["column"]["field"] == "panel"
    marks = [layer["mark"]["type"] for layer in spec["spec"]["layer"]]
    assert marks == ["area", "line", "rule"]
    data = next(iter(spec["datasets"].values()))
    ref_rows = {(r["panel"], r["reference"]): r["value"] for r in data
                if r["kind"] == "reference"}
    assert ref_rows[("train", "seed agent")] == 0.65
    assert ref_rows[("test", "majority class")] == 0.6
    assert ref_rows[("train", "ceiling")] == 1.0


def test_one_seed_draws_no_band():
    """With one seed there is no CI, so the chart has no band layer."""
    chart = learning_curves_chart(learning_curve_data(_metrics(seeds=1)))
    assert [layer["mark"]["type"] for layer in chart.to_dict()["spec"]["layer"]] == ["line"]


def test_drift_chart_three_panels_independent_scales():
    """Weight step, threshold step, exploration scale: one panel each, own y scale."""
    dd = drift_data(_metrics())
    assert list(pd.unique(dd["panel"])) == ["weight step", "threshold step", "exploration scale"]
    spec = meta_policy_drift_chart(dd).to_dict()
    assert spec["resolve"]["scale"]["y"] == "independent"
    last = dd[(dd["panel"] == "weight step") & (dd["iteration"] == 5)]["mean"]
    assert last.tolist() == pytest.approx([0.055, 0.055])


def test_save_chart_writes_png_and_html(tmp_path):
    """save_chart produces a real PNG of sensible size and an HTML page embedding the spec."""
    chart = learning_curves_chart(learning_curve_data(_metrics()))
    png, html = save_chart(chart, tmp_path / "out", "curves")
    w, h = _png_size(png)
    assert 600 < w < 4000 and 200 < h < 2000
    text = html.read_text(encoding="utf-8")
    assert "vegaEmbed" in text and '"panel"' in text


def test_engine_chart_modules_do_not_import_streamlit():
    """The app reuses these builders; engine/ must stay free of streamlit."""
    pattern = re.compile(r"^\s*(import|from)\s+streamlit", re.MULTILINE)
    for name in ("charts.py", "stats.py", "reference.py", "cli_stats.py"):
        assert not pattern.search((ENGINE / name).read_text(encoding="utf-8")), name
