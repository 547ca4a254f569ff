"""Mutation operators, driven by the parent's meta policy.

An operator is a callable
``operator(parent, evaluation, train, rng, *, freeze_meta, iteration) -> Proposal``
where ``evaluation`` is the parent's evaluation on the **train** split (the only split an
operator ever sees). The heuristic operator makes four moves:

1. **Error pressure** (signed, both directions). With class means ``mu+`` (accepted) and
   ``mu-`` (rejected) of the train split and the mean features of the parent's false negatives
   ``f_fn`` and false positives ``f_fp``: ``d_fn = f_fn - mu-`` (raise weights where missed
   accepts stand out from the rejects, lower them where they fall short) and
   ``d_fp = mu+ - f_fp`` (lower weights where false accepts look better than true accepts).
   The focus metric picks ``d_fp``, ``d_fn``, or their count-weighted mean; a feature focus
   multiplies that feature's component by ``FOCUS_BOOST``. The direction is scaled to max-norm
   1 and multiplied by ``weight_step``.
2. **Noise**: ``N(0, (weight_step * exploration_scale)^2)`` per weight.
3. **Threshold and style**: ``threshold += threshold_step * clip(n_fp - n_fn, -3, 3)`` plus
   ``N(0, (THRESHOLD_NOISE * threshold_step * exploration_scale)^2)``; an excess of
   ``STYLE_SWITCH_MARGIN`` FPs (FNs) moves the style one notch stricter (more lenient) with
   probability ``STYLE_SWITCH_P``.
4. **Meta-policy update** (skipped when the condition freezes the meta policy): log-normal
   self-adaptation ``meta_rate *= exp(META_META_RATE * z0)``, then
   ``weight_step *= exp(meta_rate * z1)``, ``threshold_step *= exp(meta_rate * z2)``,
   ``shrink``/``grow`` drift by ``exp(META_META_RATE / 2 * z3)``; the focus switches when the
   last ``MEMORY_PATIENCE`` memory notes used the current focus and none improved.

After evaluation the loop calls ``adapt_after_evaluation``: improved -> exploration *= shrink,
otherwise exploration *= grow; a memory note records the outcome.

Every field is clamped to its bounds (``engine.policy``).

Public names: Proposal, Operator, heuristic, adapt_after_evaluation, FOCUS_BOOST,
THRESHOLD_NOISE, STYLE_SWITCH_MARGIN, STYLE_SWITCH_P, META_META_RATE, MEMORY_PATIENCE,
THRESHOLD_PRESSURE_CAP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.dataset import Split
from engine.evaluate import Evaluation
from engine.policy import (
    FEATURES,
    STYLES,
    HyperAgent,
    MemoryNote,
    MetaPolicy,
    TaskPolicy,
)

FOCUS_BOOST = 2.0
THRESHOLD_NOISE = 0.5
THRESHOLD_PRESSURE_CAP = 3
STYLE_SWITCH_MARGIN = 2
STYLE_SWITCH_P = 0.5
META_META_RATE = 0.1
MEMORY_PATIENCE = 2


@dataclass(frozen=True)
class Proposal:
    """A proposed child: its task and meta policy, a summary, and how it was made.

    ``info`` carries operator details (for example why an LLM reply fell back).
    """

    task: TaskPolicy
    meta: MetaPolicy
    summary: str
    source: str = "heuristic"
    info: dict = field(default_factory=dict)


class Operator(Protocol):
    def __call__(self, parent: HyperAgent, evaluation: Evaluation, train: Split,
                 rng: np.random.Generator, *, freeze_meta: bool,
                 iteration: int) -> Proposal: ...


def error_direction(ev: Evaluation, train: Split, focus: str) -> np.ndarray:
    """(5,) signed error-pressure direction before normalisation (zeros when no errors)."""
    pos, neg = train.pos_mean, train.neg_mean
    n_fp, n_fn = ev.n_fp, ev.n_fn
    d_fp = pos - ev.fp_mean if n_fp else None
    d_fn = ev.fn_mean - neg if n_fn else None
    if focus == "false_positives" and d_fp is not None:
        return d_fp
    if focus == "false_negatives" and d_fn is not None:
        return d_fn
    if d_fp is None and d_fn is None:
        return np.zeros(len(FEATURES))
    if d_fp is None:
        g = d_fn.copy()
    elif d_fn is None:
        g = d_fp.copy()
    else:
        g = (n_fp * d_fp + n_fn * d_fn) / (n_fp + n_fn)
    if focus in FEATURES:
        g[FEATURES.index(focus)] *= FOCUS_BOOST
    return g


def _next_focus(meta: MetaPolicy, ev: Evaluation, g: np.ndarray) -> tuple[str, str]:
    """Read the memory: switch focus after ``MEMORY_PATIENCE`` fruitless tries of it."""
    recent = meta.memory[-MEMORY_PATIENCE:]
    focus = meta.focus_metric
    if len(recent) < MEMORY_PATIENCE or any(
            n.focus != focus or n.outcome == "improved" for n in recent):
        return focus, ""
    if ev.n_fp > ev.n_fn:
        new = "false_positives"
    elif ev.n_fn > ev.n_fp:
        new = "false_negatives"
    else:
        new = "balanced"
    if new == focus:
        new = FEATURES[int(np.argmax(np.abs(g)))] if np.any(g) else "balanced"
    if new == focus:
        new = "balanced" if focus != "balanced" else "false_negatives"
    return new, f"focus {focus} -> {new} after {MEMORY_PATIENCE} tries without gain"


def heuristic(parent: HyperAgent, evaluation: Evaluation, train: Split,
              rng: np.random.Generator, *, freeze_meta: bool = False,
              iteration: int = 0) -> Proposal:
    """The four-step heuristic mutation (see module docstring)."""
    task, meta = parent.task, parent.meta
    ev = evaluation
    g = error_direction(ev, train, meta.focus_metric)
    scale = float(np.abs(g).max())
    pressure = g * (meta.weight_step / scale) if scale > 0.0 else g
    noise = rng.normal(0.0, meta.weight_step * meta.exploration_scale, len(FEATURES))
    old_w = task.weights
    new_w = np.asarray(old_w) + pressure + noise

    imbalance = ev.n_fp - ev.n_fn
    pressure_t = meta.threshold_step * max(-THRESHOLD_PRESSURE_CAP,
                                           min(THRESHOLD_PRESSURE_CAP, imbalance))
    threshold = (task.threshold + pressure_t + THRESHOLD_NOISE * meta.threshold_step
                 * meta.exploration_scale * rng.normal())
    style = task.review_style
    s_idx = STYLES.index(style)
    r = float(rng.random())
    if imbalance >= STYLE_SWITCH_MARGIN and s_idx > 0 and r < STYLE_SWITCH_P:
        style = STYLES[s_idx - 1]
    elif -imbalance >= STYLE_SWITCH_MARGIN and s_idx < 2 and r < STYLE_SWITCH_P:
        style = STYLES[s_idx + 1]
    child_task = TaskPolicy.clamped(new_w.tolist(), threshold, style)

    z = rng.normal(size=4)
    why_meta = ""
    if freeze_meta:
        child_meta = meta
    else:
        meta_rate = meta.meta_rate * math.exp(META_META_RATE * z[0])
        drift = math.exp(0.5 * META_META_RATE * z[3])
        focus, why_meta = _next_focus(meta, ev, g)
        child_meta = MetaPolicy.clamped(
            focus, meta.weight_step * math.exp(meta_rate * z[1]),
            meta.threshold_step * math.exp(meta_rate * z[2]), meta.exploration_scale,
            meta_rate, meta.shrink * drift, 1.0 + (meta.grow - 1.0) * drift, meta.memory)

    dw = [b - a for a, b in zip(old_w, child_task.weights)]
    order = sorted(range(len(dw)), key=lambda j: -abs(dw[j]))[:2]
    parts = [f"focus {meta.focus_metric} ({ev.n_fp} FP, {ev.n_fn} FN): "
             + ", ".join(f"w[{FEATURES[j]}] {dw[j]:+.3f}" for j in order)]
    if child_task.threshold != task.threshold:
        why = "more FP" if imbalance > 0 else "more FN" if imbalance < 0 else "noise"
        parts.append(f"threshold {task.threshold:.3f}->{child_task.threshold:.3f} ({why})")
    if style != task.review_style:
        parts.append(f"style {task.review_style}->{style}")
    if not freeze_meta:
        parts.append(f"weight_step {meta.weight_step:.3f}->{child_meta.weight_step:.3f}")
    if why_meta:
        parts.append(why_meta)
    return Proposal(child_task, child_meta, "; ".join(parts), "heuristic")


def adapt_after_evaluation(meta: MetaPolicy, parent_fitness: float, child_fitness: float,
                           iteration: int) -> MetaPolicy:
    """Loop step 4: shrink exploration after an improvement, grow it otherwise; remember."""
    delta = child_fitness - parent_fitness
    outcome = "improved" if delta > 0 else "same" if delta == 0 else "worse"
    factor = meta.shrink if delta > 0 else meta.grow
    note = MemoryNote(iteration, meta.focus_metric, outcome, round(delta, 6))
    return MetaPolicy.clamped(meta.focus_metric, meta.weight_step, meta.threshold_step,
                              meta.exploration_scale * factor, meta.meta_rate, meta.shrink,
                              meta.grow, (*meta.memory, note))
