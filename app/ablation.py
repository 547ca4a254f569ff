"""What the Ablation page shows, computed from a tidy metrics frame with engine.stats and
engine.charts (no statistics of its own).

Curves are computed on at most ``engine.charts.MAX_CURVE_POINTS`` evenly spaced iterations
(the same iterations ``engine.charts`` keeps), so a long ablation is summarised in the time a
short one takes; the per-seed comparisons use every iteration.

Public names: Analysis, thin_iterations, analyse, final_table, comparison_table, headline,
png_bytes, saved_analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from engine import charts, stats
from engine.reference import Reference


@dataclass(frozen=True)
class Analysis:
    """Charts and tables of one ablation."""

    curves: alt.TopLevelMixin
    drift: alt.TopLevelMixin
    final: pd.DataFrame
    comparisons: pd.DataFrame
    sentences: tuple[str, ...]
    headline: str


def thin_iterations(df: pd.DataFrame, max_points: int = charts.MAX_CURVE_POINTS) -> pd.DataFrame:
    """Rows of at most ``max_points`` evenly spaced iterations (first and last kept)."""
    its = np.sort(df["iteration"].unique())
    if len(its) <= max_points:
        return df
    keep = its[np.unique(np.linspace(0, len(its) - 1, max_points).round().astype(int))]
    return df[df["iteration"].isin(keep)]


def _references(saved: dict | None) -> list[Reference]:
    return [Reference(name, float(v[0]), float(v[1]), "", bool(v[2]) if len(v) > 2 else True)
            for name, v in (saved or {}).items()]


def final_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per condition at the final iteration: seeds, mean and 95% CI of train and test."""
    last = int(df["iteration"].max())
    rows = {}
    for col, label in (("best_fitness", "train"), ("best_test_accuracy", "test")):
        s = stats.summarise(df[df["iteration"] == last], col)
        for r in s.itertuples(index=False):
            row = rows.setdefault(r.condition, {"condition": r.condition, "seeds": r.n})
            row[f"{label} mean"] = r.mean
            row[f"{label} 95% CI"] = ("n/a (one seed)" if np.isnan(r.ci_low)
                                      else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]")
    return pd.DataFrame(list(rows.values()))


def comparison_table(comps: list[stats.Comparison]) -> pd.DataFrame:
    """One row per (metric, pair): means, difference, test, p, Holm p, A12, delta, size."""
    return pd.DataFrame([{
        "metric": stats.COMPARED_METRICS[c.metric], "a": c.a, "b": c.b,
        "mean a": c.mean_a, "mean b": c.mean_b, "difference": c.difference,
        "test": c.test.name + (" (paired)" if c.paired else ""), "p": c.test.p_value,
        "p (Holm)": c.p_holm, "A12": c.a12, "Cliff's delta": c.delta, "effect": c.magnitude,
    } for c in comps])


def headline(comps: list[stats.Comparison]) -> str:
    """The reading of hyperagent vs baseline on final train accuracy (else the first pair)."""
    train = [c for c in comps if c.metric == "final_train"]
    for c in train:
        if {c.a, c.b} == {"hyperagent", "baseline"}:
            return c.sentence
    return train[0].sentence if train else "Only one condition: nothing to compare."


def analyse(df: pd.DataFrame, references: dict | None = None) -> Analysis:
    """Charts, final-iteration table and comparisons of a tidy ablation frame.

    Raises:
        engine.stats.MetricsError: a frame that cannot be analysed (says why).
    """
    checked = stats.check_metrics(df, (*stats.REQUIRED_COLUMNS, *stats.DRIFT_COLUMNS))
    thin = thin_iterations(checked)
    refs = charts.reference_data(_references(references)) if references else None
    curves = charts.learning_curves_chart(charts.learning_curve_data(thin), refs)
    drift = charts.meta_policy_drift_chart(charts.drift_data(thin))
    comps = stats.compare_conditions(stats.per_seed(checked))
    return Analysis(curves, drift, final_table(checked), comparison_table(comps),
                    tuple(c.sentence for c in comps), headline(comps))


def png_bytes(chart: alt.TopLevelMixin | dict, scale: float = 2.0) -> bytes:
    """The chart (an Altair chart or its Vega-Lite dict) as PNG, rendered by vl-convert."""
    import json

    import vl_convert

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    return vl_convert.vegalite_to_png(json.dumps(spec), scale=scale)


@st.cache_data(max_entries=16, show_spinner=False)
def saved_analysis(db: str, ablation_id: str, _metrics: pd.DataFrame,
                   _references: dict | None) -> dict:
    """``analyse`` of a saved (immutable) ablation, cached by database and id, with the
    charts as Vega-Lite dicts.

    Raises:
        engine.stats.MetricsError: see ``analyse``.
    """
    a = analyse(_metrics, _references)
    return {"curves": a.curves.to_dict(validate=False), "drift": a.drift.to_dict(validate=False),
            "final": a.final, "comparisons": a.comparisons, "sentences": a.sentences,
            "headline": a.headline}
