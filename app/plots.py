"""Pure Altair builders for the single-run views (the ablation charts live in engine.charts).

Every builder takes DataFrames and returns an ``alt.Chart``; data are reduced in pandas first
(change points of step curves, per-bin means of child points, a bounded sample of the archive)
so a chart never ships more than a few thousand rows to the browser.

Public names: MAX_CURVE_POINTS, MAX_OVERVIEW_POINTS, step_points, learning_curve,
compare_curves, archive_overview, weights_chart, contributions_chart, dataset_profile.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from engine.policy import FEATURES

MAX_CURVE_POINTS = 1000
MAX_OVERVIEW_POINTS = 1500
SERIES_COLORS = {"train": "#1f77b4", "test": "#ff7f0e"}


def step_points(iterations: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a step curve where its value changes, plus the first and last point."""
    n = len(values)
    if n <= 2:
        return iterations, values
    keep = np.flatnonzero(np.diff(values) != 0) + 1
    keep = np.unique(np.concatenate(([0], keep, [n - 1])))
    return iterations[keep], values[keep]


def _children(metrics: pd.DataFrame) -> pd.DataFrame:
    """Child accuracies per iteration, averaged over bins when there are too many."""
    kids = metrics[metrics["iteration"] > 0]
    cols = {"child_train_accuracy": "train", "child_test_accuracy": "test"}
    if len(kids) > MAX_CURVE_POINTS:
        width = int(np.ceil(len(kids) / MAX_CURVE_POINTS))
        binned = (kids["iteration"] - 1) // width
        kids = kids.groupby(binned).agg(
            iteration=("iteration", "max"), child_train_accuracy=("child_train_accuracy", "mean"),
            child_test_accuracy=("child_test_accuracy", "mean"))
    long = kids.melt(id_vars="iteration", value_vars=list(cols), var_name="split",
                     value_name="accuracy")
    long["split"] = long["split"].map(cols)
    return long


def _best_lines(metrics: pd.DataFrame, group: str | None = None) -> pd.DataFrame:
    frames = []
    groups = metrics.groupby(group, sort=False) if group else [(None, metrics)]
    for key, g in groups:
        it = g["iteration"].to_numpy()
        for col, split in (("best_fitness", "train"), ("best_test_accuracy", "test")):
            x, y = step_points(it, g[col].to_numpy(dtype=float))
            f = pd.DataFrame({"iteration": x, "accuracy": y, "split": split})
            if group:
                f[group] = key
            frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["iteration", "accuracy", "split"])


def learning_curve(metrics: pd.DataFrame, references: dict | None = None,
                   title: str = "Learning curve") -> alt.Chart:
    """Best-so-far (lines) and every child (points), train and test, with reference rules.

    Args:
        metrics: one run's rows with ``iteration``, ``best_fitness``, ``best_test_accuracy``,
            ``child_train_accuracy``, ``child_test_accuracy`` (iteration 0 = the seed).
        references: reference lines, name -> (train accuracy, test accuracy, ...), e.g. the
            seed agent and the ceiling; drawn dashed in the colour of their split.
    """
    color = alt.Color("split:N", scale=alt.Scale(domain=list(SERIES_COLORS),
                                                 range=list(SERIES_COLORS.values())),
                      title="split")
    x = alt.X("iteration:Q", title="iteration")
    y = alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]))
    tip = [alt.Tooltip("split:N"), alt.Tooltip("iteration:Q"),
           alt.Tooltip("accuracy:Q", format=".3f")]
    lines = alt.Chart(_best_lines(metrics)).mark_line(interpolate="step-after").encode(
        x=x, y=y, color=color, tooltip=tip)
    points = alt.Chart(_children(metrics)).mark_circle(size=22, opacity=0.35).encode(
        x=x, y=y, color=color, tooltip=tip)
    layers = [points, lines]
    if references:
        refs = pd.DataFrame([{"reference": f"{name} ({split})", "split": split,
                              "accuracy": float(values[k])}
                             for name, values in references.items()
                             for k, split in enumerate(("train", "test"))])
        layers.append(alt.Chart(refs).mark_rule(strokeDash=[5, 4], opacity=0.8).encode(
            y=alt.Y("accuracy:Q"), color=color,
            tooltip=[alt.Tooltip("reference:N"), alt.Tooltip("accuracy:Q", format=".3f")]))
        labels = refs[refs["split"] == "train"]
        layers.append(alt.Chart(labels).mark_text(align="left", dx=4, dy=-6,
                                                  color="#444444").encode(
            y=alt.Y("accuracy:Q"), x=alt.XValue(4), text=alt.Text("reference:N")))
    return alt.layer(*layers).properties(title=title, height=320)


def compare_curves(metrics: pd.DataFrame, label: str = "run") -> alt.Chart:
    """Best-so-far train (solid) and test (dashed) of several runs, one colour per ``label``."""
    data = _best_lines(metrics, group=label)
    return alt.Chart(data).mark_line(interpolate="step-after").encode(
        x=alt.X("iteration:Q"), y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(f"{label}:N"), strokeDash=alt.StrokeDash("split:N"),
        tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip("split:N"), alt.Tooltip("iteration:Q"),
                 alt.Tooltip("accuracy:Q", format=".3f")],
    ).properties(title="Best so far, per run", height=320)


def _overview_sample(frame: pd.DataFrame, path: list[int]) -> pd.DataFrame:
    n = len(frame)
    if n <= MAX_OVERVIEW_POINTS:
        return frame
    stride = int(np.ceil(n / (MAX_OVERVIEW_POINTS // 2)))
    top = np.argsort(-frame["train_accuracy"].to_numpy(), kind="stable")[: MAX_OVERVIEW_POINTS // 4]
    keep = np.unique(np.concatenate((np.arange(0, n, stride), top, np.asarray(path, int))))
    return frame.iloc[keep]


def archive_overview(frame: pd.DataFrame, path: list[int]) -> alt.Chart:
    """Every agent (a bounded sample beyond ``MAX_OVERVIEW_POINTS``) at (iteration, train
    fitness), with a grey segment to its parent and the best path in red."""
    sample = _overview_sample(frame, path)
    by_id = frame.set_index("id")
    pts = sample[["id", "iteration", "generation", "train_accuracy", "test_accuracy"]].copy()
    pts["on_best_path"] = pts["id"].isin(set(path))
    kids = sample[sample["parent_id"].notna()]
    pid = kids["parent_id"].astype(int).to_numpy()
    edges = pd.DataFrame({
        "iteration": kids["iteration"].to_numpy(), "train_accuracy": kids["train_accuracy"],
        "parent_iteration": by_id["iteration"].to_numpy()[pid],
        "parent_train": by_id["train_accuracy"].to_numpy()[pid],
        "on_best_path": kids["id"].isin(set(path)).to_numpy(),
    })
    x = alt.X("iteration:Q", title="iteration created")
    y = alt.Y("train_accuracy:Q", title="train fitness", scale=alt.Scale(zero=False))
    x2, y2 = alt.X2("parent_iteration:Q"), alt.Y2("parent_train:Q")
    tips = [alt.Tooltip("id:Q"), alt.Tooltip("generation:Q"), alt.Tooltip("iteration:Q"),
            alt.Tooltip("train_accuracy:Q", format=".3f"),
            alt.Tooltip("test_accuracy:Q", format=".3f")]
    on = edges["on_best_path"]
    layers = [
        alt.Chart(edges[~on]).mark_rule(strokeWidth=0.6, color="#cccccc").encode(x, y, x2, y2),
        alt.Chart(pts[~pts["on_best_path"]]).mark_circle(size=28).encode(
            x, y, alt.Color("generation:Q", scale=alt.Scale(scheme="viridis")), tooltip=tips),
        alt.Chart(edges[on]).mark_rule(strokeWidth=2.5, color="#d62728").encode(x, y, x2, y2),
        alt.Chart(pts[pts["on_best_path"]]).mark_circle(size=60, color="#d62728").encode(
            x, y, tooltip=tips),
    ]
    note = "" if len(sample) == len(frame) else f" (sample of {len(sample)} of {len(frame)})"
    return alt.layer(*layers).properties(
        title=f"Archive overview: every variant by iteration and fitness{note}", height=300)


def weights_chart(weights: dict[str, float]) -> alt.Chart:
    """Bar chart of the task weights, one bar per feature."""
    df = pd.DataFrame({"feature": list(weights), "weight": list(weights.values())})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("weight:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("feature:N", sort=list(FEATURES), title=None, axis=alt.Axis(labelLimit=200)),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("weight:Q", format=".3f")],
    ).properties(title="Task weights", height=alt.Step(28))


def contributions_chart(contributions: dict[str, float], threshold: float) -> alt.Chart:
    """Stacked per-feature contributions to the score against the effective threshold."""
    df = pd.DataFrame({"feature": list(contributions),
                       "contribution": list(contributions.values()), "row": "score"})
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("sum(contribution):Q", title="score = sum of weight x feature"),
        y=alt.Y("row:N", title=None),
        color=alt.Color("feature:N", sort=list(FEATURES),
                        legend=alt.Legend(orient="bottom", columns=3, title=None)),
        order=alt.Order("feature:N"),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("contribution:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(
        color="#000000", strokeWidth=2).encode(
        x=alt.X("threshold:Q"), tooltip=[alt.Tooltip("threshold:Q", format=".3f")])
    return alt.layer(bars, rule).properties(title="Contributions vs threshold (black line)",
                                            height=alt.Step(44))


def dataset_profile(train_X: np.ndarray, train_y: np.ndarray, name: str) -> alt.Chart:
    """Mean of each feature over the accepted and the rejected train repositories."""
    rows = [{"feature": f, "label": label, "mean": float(train_X[mask, j].mean())}
            for label, mask in (("accepted", train_y), ("rejected", ~train_y)) if mask.any()
            for j, f in enumerate(FEATURES)]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("mean:Q", scale=alt.Scale(domain=[0, 1]), title="mean feature value"),
        y=alt.Y("feature:N", sort=list(FEATURES), title=None),
        yOffset=alt.YOffset("label:N"),
        color=alt.Color("label:N", scale=alt.Scale(domain=["accepted", "rejected"],
                                                   range=["#2ca02c", "#d62728"])),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("label:N"),
                 alt.Tooltip("mean:Q", format=".3f")],
    ).properties(title=f"{name[:40]}: mean train features by label", height=alt.Step(9))
