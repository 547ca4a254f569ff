"""Tables of the Agent Detail page (pure pandas, no Streamlit).

Public names: policy_fields, policy_diff, error_breakdown, lineage_notes, memory_notes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.dataset import Split
from engine.evaluate import evaluate
from engine.policy import FEATURES, HyperAgent


def policy_fields(agent: HyperAgent) -> dict[str, object]:
    """Every task and meta field of ``agent`` as ``name -> value`` (weights one per feature;
    the memory as its number of notes)."""
    t, m = agent.task, agent.meta
    out: dict[str, object] = {f"task.w[{f}]": w for f, w in zip(FEATURES, t.weights)}
    out.update({"task.threshold": t.threshold, "task.review_style": t.review_style,
                "task.effective_threshold": t.effective_threshold,
                "meta.focus_metric": m.focus_metric, "meta.weight_step": m.weight_step,
                "meta.threshold_step": m.threshold_step,
                "meta.exploration_scale": m.exploration_scale, "meta.meta_rate": m.meta_rate,
                "meta.shrink": m.shrink, "meta.grow": m.grow,
                "meta.memory": f"{len(m.memory)} notes"})
    return out


def _fmt(v: object) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def policy_diff(parent: HyperAgent | None, agent: HyperAgent) -> pd.DataFrame:
    """Every task and meta field: ``field``, ``parent``, ``agent``, ``change`` (before -> after,
    or the signed difference of numbers) and ``changed``; parent columns empty for the seed."""
    mine = policy_fields(agent)
    theirs = policy_fields(parent) if parent is not None else {}
    rows = []
    for name, after in mine.items():
        before = theirs.get(name)
        changed = before is not None and before != after
        if before is None:
            change = ""
        elif isinstance(after, float) and isinstance(before, float):
            change = f"{after - before:+.4f}" if changed else "="
        else:
            change = f"{before} -> {after}" if changed else "="
        rows.append({"field": name, "parent": "" if before is None else _fmt(before),
                     "agent": _fmt(after), "change": change, "changed": changed})
    return pd.DataFrame(rows)


def error_breakdown(agent: HyperAgent, split: Split) -> pd.DataFrame:
    """The repositories of ``split`` the agent gets wrong: id, name, error (false positive /
    false negative), label, score, effective threshold, and ``weight * value`` per feature."""
    ev = evaluate(agent.task, split)
    wrong = {i: "false positive" for i in ev.fp_ids} | {i: "false negative" for i in ev.fn_ids}
    pos = [k for k, rid in enumerate(split.ids) if rid in wrong]
    contrib = split.X[pos] * np.asarray(agent.task.weights) if pos else np.zeros((0, 5))
    df = pd.DataFrame({
        "id": [split.ids[k] for k in pos], "name": [split.names[k] for k in pos],
        "error": [wrong[split.ids[k]] for k in pos],
        "label": ["accepted" if split.y[k] else "rejected" for k in pos],
        "score": contrib.sum(axis=1),
        "threshold": agent.task.effective_threshold,
    })
    for j, f in enumerate(FEATURES):
        df[f] = contrib[:, j]
    return df


def lineage_notes(frame: pd.DataFrame, path: list[int]) -> pd.DataFrame:
    """The agents on ``path`` (seed first): id, iteration, train, test, source, note."""
    rows = frame.loc[path, ["id", "iteration", "train_accuracy", "test_accuracy", "source",
                            "summary"]]
    return rows.rename(columns={"summary": "note"}).reset_index(drop=True)


def memory_notes(agent: HyperAgent) -> list[str]:
    """The meta policy's memory notes as text, oldest first."""
    return [n.text for n in agent.meta.memory]
