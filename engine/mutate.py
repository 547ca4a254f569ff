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

Public names: Proposal, Operator, heuristic, adapt_after_evaluation, bind_run, FOCUS_BOOST,
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
    EXPLORATION_BOUNDS,
    FEATURES,
    GROW_BOUNDS,
    MEMORY_SIZE,
    META_RATE_BOUNDS,
    N_FEATURES,
    SHRINK_BOUNDS,
    STYLES,
    THRESHOLD_BOUNDS,
    THRESHOLD_STEP_BOUNDS,
    WEIGHT_STEP_BOUNDS,
    DeferredText,
    HyperAgent,
    MemoryNote,
    MetaPolicy,
    TaskPolicy,
    build,
    clamp,
    clamp_weights,
)

FOCUS_BOOST = 2.0
THRESHOLD_NOISE = 0.5
THRESHOLD_PRESSURE_CAP = 3
STYLE_SWITCH_MARGIN = 2
STYLE_SWITCH_P = 0.5
META_META_RATE = 0.1
MEMORY_PATIENCE = 2
_FEATURE_INDEX = {f: j for j, f in enumerate(FEATURES)}


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


Proposal.summary = DeferredText("summary")


def bind_run(operator, run_id: str | None) -> None:
    """Tag what ``operator`` logs from now on with ``run_id`` (operators that log calls, like
    the LLM operator, have a ``run_id`` attribute; others are left alone)."""
    if hasattr(operator, "run_id"):
        operator.run_id = run_id


class Operator(Protocol):
    def __call__(self, parent: HyperAgent, evaluation: Evaluation, train: Split,
                 rng: np.random.Generator, *, freeze_meta: bool,
                 iteration: int) -> Proposal: ...


def _direction(ev: Evaluation, train: Split, focus: str) -> list[float] | None:
    """The error-pressure direction as a list of floats, ``None`` when there are no errors."""
    n_fp, n_fn = ev.n_fp, ev.n_fn
    if not (n_fp or n_fn):
        return None
    pos, neg = train.class_means
    d_fp = [p - s / n_fp for p, s in zip(pos, ev.fp_sum)] if n_fp else None
    d_fn = [s / n_fn - q for q, s in zip(neg, ev.fn_sum)] if n_fn else None
    if focus == "false_positives" and d_fp is not None:
        return d_fp
    if focus == "false_negatives" and d_fn is not None:
        return d_fn
    if d_fp is None:
        g = d_fn
    elif d_fn is None:
        g = d_fp
    else:
        total = n_fp + n_fn
        g = [(n_fp * a + n_fn * b) / total for a, b in zip(d_fp, d_fn)]
    if focus in _FEATURE_INDEX:
        g[_FEATURE_INDEX[focus]] *= FOCUS_BOOST
    return g


def error_direction(ev: Evaluation, train: Split, focus: str) -> np.ndarray:
    """(5,) signed error-pressure direction before normalisation (zeros when no errors)."""
    g = _direction(ev, train, focus)
    return np.zeros(N_FEATURES) if g is None else np.array(g)


def _next_focus(meta: MetaPolicy, ev: Evaluation, g: list[float] | None) -> tuple[str, str]:
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
        if g is not None and any(g):
            mags = [abs(v) for v in g]
            new = FEATURES[mags.index(max(mags))]
        else:
            new = "balanced"
    if new == focus:
        new = "balanced" if focus != "balanced" else "false_negatives"
    return new, f"focus {focus} -> {new} after {MEMORY_PATIENCE} tries without gain"


_CAP = THRESHOLD_PRESSURE_CAP
_N_RANDOM = N_FEATURES + 5  # weight noise, threshold noise, four meta-update normals


def heuristic(parent: HyperAgent, evaluation: Evaluation, train: Split,
              rng: np.random.Generator, *, freeze_meta: bool = False,
              iteration: int = 0) -> Proposal:
    """The four-step heuristic mutation (see module docstring)."""
    task, meta = parent.task, parent.meta
    ev = evaluation
    n_fp, n_fn = ev.n_fp, ev.n_fn
    ws, ts, ex = meta.weight_step, meta.threshold_step, meta.exploration_scale
    z = rng.standard_normal(_N_RANDOM).tolist()
    r = rng.random()

    # 1-2. error pressure (max-norm ws) plus noise, clamped.
    old_w = task.weights
    sd = ws * ex
    g = _direction(ev, train, meta.focus_metric)
    scale = max(map(abs, g)) if g is not None else 0.0
    if scale > 0.0:
        k = ws / scale
        raw = [a + gi * k + sd * zi for a, gi, zi in zip(old_w, g, z)]
    else:
        raw = [a + sd * zi for a, zi in zip(old_w, z)]
    new_w = clamp_weights(raw)

    # 3. threshold and style.
    imbalance = n_fp - n_fn
    pressure = _CAP if imbalance > _CAP else -_CAP if imbalance < -_CAP else imbalance
    th = clamp(task.threshold + ts * pressure + THRESHOLD_NOISE * ts * ex * z[N_FEATURES],
               THRESHOLD_BOUNDS)
    style = task.review_style
    if r < STYLE_SWITCH_P:
        s_idx = STYLES.index(style)
        if imbalance >= STYLE_SWITCH_MARGIN and s_idx > 0:
            style = STYLES[s_idx - 1]
        elif -imbalance >= STYLE_SWITCH_MARGIN and s_idx < 2:
            style = STYLES[s_idx + 1]
    child_task = build(TaskPolicy, weights=new_w, threshold=th, review_style=style)

    # 4. the meta policy changes itself (log-normal self-adaptation).
    why_meta = ""
    if freeze_meta:
        child_meta = meta
    else:
        z0, z1, z2, z3 = z[N_FEATURES + 1:]
        meta_rate = clamp(meta.meta_rate * math.exp(META_META_RATE * z0), META_RATE_BOUNDS)
        drift = math.exp(0.5 * META_META_RATE * z3)
        focus, why_meta = _next_focus(meta, ev, g)
        child_meta = build(
            MetaPolicy, focus_metric=focus,
            weight_step=clamp(ws * math.exp(meta_rate * z1), WEIGHT_STEP_BOUNDS),
            threshold_step=clamp(ts * math.exp(meta_rate * z2), THRESHOLD_STEP_BOUNDS),
            exploration_scale=ex, meta_rate=meta_rate,
            shrink=clamp(meta.shrink * drift, SHRINK_BOUNDS),
            grow=clamp(1.0 + (meta.grow - 1.0) * drift, GROW_BOUNDS), memory=meta.memory)

    # what changed and why, formatted only when someone reads it (see ``_summary``)
    parts = (meta.focus_metric, n_fp, n_fn, old_w, new_w, task.threshold, th, task.review_style,
             style, None if freeze_meta else (ws, child_meta.weight_step), why_meta)
    return build(Proposal, task=child_task, meta=child_meta,
                 _summary_parts=[_summary, parts, None], source="heuristic", info={})


def _summary(focus: str, n_fp: int, n_fn: int, old_w: tuple, new_w: tuple, old_th: float,
             th: float, old_style: str, style: str, steps: tuple | None, why_meta: str) -> str:
    """The heuristic's note: the two largest weight moves, then threshold, style and meta."""
    dw = [b - a for a, b in zip(old_w, new_w)]
    order = sorted(range(len(dw)), key=lambda j: -abs(dw[j]))[:2]
    parts = [f"focus {focus} ({n_fp} FP, {n_fn} FN): "
             + ", ".join(f"w[{FEATURES[j]}] {dw[j]:+.3f}" for j in order)]
    if th != old_th:
        imbalance = n_fp - n_fn
        why = "more FP" if imbalance > 0 else "more FN" if imbalance < 0 else "noise"
        parts.append(f"threshold {old_th:.3f}->{th:.3f} ({why})")
    if style != old_style:
        parts.append(f"style {old_style}->{style}")
    if steps is not None:
        parts.append(f"weight_step {steps[0]:.3f}->{steps[1]:.3f}")
    if why_meta:
        parts.append(why_meta)
    return "; ".join(parts)


def adapt_after_evaluation(meta: MetaPolicy, parent_fitness: float, child_fitness: float,
                           iteration: int) -> MetaPolicy:
    """Loop step 4: shrink exploration after an improvement, grow it otherwise; remember."""
    delta = child_fitness - parent_fitness
    if delta > 0:
        outcome, factor = "improved", meta.shrink
    else:
        outcome, factor = ("same" if delta == 0 else "worse"), meta.grow
    focus = meta.focus_metric
    note = build(MemoryNote, iteration=iteration, focus=focus, outcome=outcome,
                 delta=round(delta, 6))
    memory = meta.memory
    memory = (*memory[1 - MEMORY_SIZE:], note) if len(memory) >= MEMORY_SIZE else (*memory, note)
    return build(MetaPolicy, focus_metric=focus, weight_step=meta.weight_step,
                 threshold_step=meta.threshold_step,
                 exploration_scale=clamp(meta.exploration_scale * factor, EXPLORATION_BOUNDS),
                 meta_rate=meta.meta_rate, shrink=meta.shrink, grow=meta.grow, memory=memory)
