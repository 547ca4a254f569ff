"""Pure Altair chart builders for ablation results (the app reuses them; no Streamlit here).

Charts never plot raw rows: ``learning_curve_data`` and ``drift_data`` aggregate a checked
metrics frame to one point per condition, iteration and panel (mean and bootstrap CI across
seeds, ``engine.stats.summarise``), and runs longer than ``MAX_CURVE_POINTS`` iterations are
thinned to evenly spaced iterations (always keeping the first and the last).

Public names: CURVE_PANELS, DRIFT_PANELS, MAX_CURVE_POINTS, PANEL_WIDTH, PANEL_HEIGHT,
learning_curve_data, reference_data, drift_data, learning_curves_chart, meta_policy_drift_chart,
save_chart.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from engine.reference import Reference
from engine.stats import summarise

CURVE_PANELS: dict[str, str] = {"best_fitness": "train", "best_test_accuracy": "test"}
DRIFT_PANELS: dict[str, str] = {"weight_step": "weight step", "threshold_step": "threshold step",
                                "exploration_scale": "exploration scale"}
MAX_CURVE_POINTS = 200
PANEL_WIDTH = 320
PANEL_HEIGHT = 220
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
_DASHES = {"majority class": [2, 2], "seed agent": [6, 3], "ceiling": [1, 0]}


def _thin(df: pd.DataFrame) -> pd.DataFrame:
    """Keep at most ``MAX_CURVE_POINTS`` evenly spaced iterations (first and last included)."""
    its = np.sort(df["iteration"].unique())
    if len(its) <= MAX_CURVE_POINTS:
        return df
    keep = its[np.unique(np.linspace(0, len(its) - 1, MAX_CURVE_POINTS).round().astype(int))]
    return df[df["iteration"].isin(keep)]


def _panels(df: pd.DataFrame, panels: dict[str, str]) -> pd.DataFrame:
    thin = _thin(df)
    out = pd.concat([summarise(thin, col).assign(panel=label) for col, label in panels.items()],
                    ignore_index=True)
    return out[["panel", "condition", "iteration", "n", "mean", "sd", "ci_low", "ci_high"]]


def learning_curve_data(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregated best-so-far curves: panel (train/test), condition, iteration, n, mean, sd,
    ci_low, ci_high (one row per panel, condition and kept iteration)."""
    return _panels(df, CURVE_PANELS)


def drift_data(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregated meta-policy parameters of each iteration's new agent, same columns as
    ``learning_curve_data`` with panels weight step / threshold step / exploration scale."""
    return _panels(df, DRIFT_PANELS)


def reference_data(refs: tuple[Reference, ...] | list[Reference]) -> pd.DataFrame:
    """Reference lines as rows: panel (train/test), reference, value."""
    rows = [{"panel": panel, "reference": r.name + ("" if r.exact else " (lower bound)"),
             "value": getattr(r, panel)} for r in refs for panel in ("train", "test")]
    return pd.DataFrame(rows, columns=["panel", "reference", "value"])


def _color(conditions: list[str]) -> alt.Color:
    return alt.Color("condition:N", title="condition",
                     scale=alt.Scale(domain=conditions,
                                     range=list(_PALETTE[: max(1, len(conditions))])),
                     sort=conditions,
                     legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3, symbolOpacity=1))


def _curve_layers(data: pd.DataFrame, y_title: str, conditions: list[str]) -> list:
    x = alt.X("iteration:Q", title="iteration")
    color = _color(conditions)
    curve = alt.Chart().transform_filter(alt.datum.kind == "curve")
    layers = []
    if data["ci_low"].notna().any():
        layers.append(curve.mark_area(opacity=0.18).encode(
            x, alt.Y("ci_low:Q", title=y_title, scale=alt.Scale(zero=False)),
            alt.Y2("ci_high:Q"), color))
    layers.append(curve.mark_line(strokeWidth=1.8).encode(
        x, alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False)), color,
        tooltip=[alt.Tooltip("condition:N"), alt.Tooltip("iteration:Q"),
                 alt.Tooltip("n:Q", title="seeds"), alt.Tooltip("mean:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f", title="95% CI low"),
                 alt.Tooltip("ci_high:Q", format=".3f", title="95% CI high")]))
    return layers


def learning_curves_chart(curves: pd.DataFrame, references: pd.DataFrame | None = None,
                          title: str = "Best-so-far accuracy: mean and 95% bootstrap CI "
                                       "across seeds") -> alt.FacetChart:
    """Two panels (train, test): per condition the mean curve and its CI band, plus dashed
    horizontal reference lines.

    Args:
        curves: ``learning_curve_data`` output.
        references: ``reference_data`` output, or None for no reference lines.
    """
    conditions = list(pd.unique(curves["condition"]))
    data = curves.assign(kind="curve")
    layers = _curve_layers(curves, "accuracy", conditions)
    if references is not None and len(references):
        data = pd.concat([data, references.assign(kind="reference")], ignore_index=True)
        names = list(pd.unique(references["reference"]))
        dashes = [_DASHES.get(n.replace(" (lower bound)", ""), [4, 4]) for n in names]
        layers.append(alt.Chart().transform_filter(alt.datum.kind == "reference")
                      .mark_rule(color="#555555", strokeWidth=1.2).encode(
            alt.Y("value:Q"),
            alt.StrokeDash("reference:N", title="reference (same split)",
                           scale=alt.Scale(domain=names, range=dashes), sort=names),
            tooltip=[alt.Tooltip("reference:N"), alt.Tooltip("value:Q", format=".3f")]))
    panels = [p for p in CURVE_PANELS.values() if p in set(data["panel"])]
    return (alt.layer(*layers, data=data)
            .properties(width=PANEL_WIDTH, height=PANEL_HEIGHT)
            .facet(column=alt.Column("panel:N", title=None, sort=panels,
                                     header=alt.Header(labelFontSize=13)))
            .properties(title=title))


def meta_policy_drift_chart(drift: pd.DataFrame,
                            title: str = "Meta-policy drift of each new agent: mean and 95% "
                                         "bootstrap CI across seeds") -> alt.FacetChart:
    """Three panels (weight step, threshold step, exploration scale), independent y scales.

    Args:
        drift: ``drift_data`` output.
    """
    conditions = list(pd.unique(drift["condition"]))
    panels = [p for p in DRIFT_PANELS.values() if p in set(drift["panel"])]
    return (alt.layer(*_curve_layers(drift, "value", conditions), data=drift.assign(kind="curve"))
            .properties(width=PANEL_WIDTH - 80, height=PANEL_HEIGHT)
            .facet(column=alt.Column("panel:N", title=None, sort=panels,
                                     header=alt.Header(labelFontSize=13)))
            .resolve_scale(y="independent")
            .properties(title=title))


def save_chart(chart: alt.TopLevelMixin, out_dir: str | Path, name: str,
               scale_factor: float = 2.0) -> list[Path]:
    """Write ``name.png`` (vl-convert) and ``name.html`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, html = out / f"{name}.png", out / f"{name}.html"
    chart.save(str(png), format="png", scale_factor=scale_factor)
    chart.save(str(html), format="html")
    return [png, html]
