"""Score one repository by hand with one agent, and say what would flip the decision.

Pure functions (no Streamlit): the Live Review page draws what :func:`review` returns.
A repository is the five features in [0, 1]; the agent accepts it when
``score = weights . features >= threshold + STYLE_OFFSET[style]`` (``engine.evaluate``).

Public names: Flip, ReviewResult, review, review_record, validate_features.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from engine.evaluate import contributions
from engine.policy import FEATURES, STYLE_OFFSET, STYLES, HyperAgent


@dataclass(frozen=True)
class Flip:
    """One change that would flip the decision.

    Attributes:
        kind: ``feature``, ``threshold`` or ``style``.
        name: the feature name, ``threshold`` or the style that flips it.
        current: the current value (feature value or effective threshold; NaN for a style).
        needed: the value at which the decision flips (NaN for a style).
        text: the change in words.
    """

    kind: str
    name: str
    current: float
    needed: float
    text: str


@dataclass(frozen=True)
class ReviewResult:
    """The decision of one agent on one repository.

    Attributes:
        features: the five feature values, ``FEATURES`` order.
        score: ``weights . features``.
        threshold: the effective threshold (threshold plus the style offset).
        accepted: ``score >= threshold``.
        contributions: per-feature ``weight * value``, summing to ``score``.
        flips: the single changes that would flip the decision.
    """

    features: dict[str, float]
    score: float
    threshold: float
    accepted: bool
    contributions: dict[str, float]
    flips: tuple[Flip, ...]

    @property
    def decision(self) -> str:
        return "accepted" if self.accepted else "rejected"

    @property
    def margin(self) -> float:
        """Score minus effective threshold (>= 0 means accepted)."""
        return self.score - self.threshold


def validate_features(values) -> dict[str, float]:
    """Return the five features as a dict in ``FEATURES`` order.

    Args:
        values: a mapping with every feature name, or a sequence of five numbers.

    Raises:
        ValueError: a missing feature, a wrong count, or a value outside [0, 1].
    """
    if isinstance(values, dict):
        missing = [f for f in FEATURES if f not in values]
        if missing:
            raise ValueError(f"features: missing {missing}; expected all of {list(FEATURES)}")
        seq = [values[f] for f in FEATURES]
    else:
        seq = list(values)
        if len(seq) != len(FEATURES):
            raise ValueError(f"features: expected {len(FEATURES)} values "
                             f"({', '.join(FEATURES)}), got {len(seq)}")
    out = {}
    for name, v in zip(FEATURES, seq):
        x = float(v)
        if math.isnan(x) or not 0.0 <= x <= 1.0:
            raise ValueError(f"feature {name}: expected a number in [0, 1], got {v!r}")
        out[name] = x
    return out


def _flips(agent: HyperAgent, x: np.ndarray, score: float, threshold: float) -> list[Flip]:
    accepted = score >= threshold
    gap = threshold - score  # > 0 when rejected: the score must rise by at least this much
    out: list[Flip] = []
    for j, name in enumerate(FEATURES):
        w = agent.task.weights[j]
        if w <= 0.0:
            continue
        needed = float(x[j] + gap / w)
        if accepted and needed > 0.0:
            out.append(Flip("feature", name, float(x[j]), needed,
                            f"{name} below {needed:.3f} (now {x[j]:.3f}) would reject it"))
        elif not accepted and needed <= 1.0:
            out.append(Flip("feature", name, float(x[j]), needed,
                            f"{name} at {needed:.3f} or more (now {x[j]:.3f}) would accept it"))
    if accepted:
        out.append(Flip("threshold", "threshold", threshold, score,
                        f"an effective threshold above {score:.3f} (now {threshold:.3f}) "
                        "would reject it"))
    else:
        out.append(Flip("threshold", "threshold", threshold, score,
                        f"an effective threshold at or below {score:.3f} (now "
                        f"{threshold:.3f}) would accept it"))
    base = agent.task.threshold
    for style in STYLES:
        if style == agent.task.review_style:
            continue
        if (score >= base + STYLE_OFFSET[style]) != accepted:
            verb = "reject" if accepted else "accept"
            out.append(Flip("style", style, math.nan, math.nan,
                            f"the {style} review style would {verb} it"))
    return out


def review(agent: HyperAgent, features) -> ReviewResult:
    """Score ``features`` (mapping or five numbers in [0, 1]) with ``agent``'s task policy.

    Raises:
        ValueError: see :func:`validate_features`.
    """
    feats = validate_features(features)
    x = np.array([feats[f] for f in FEATURES])
    contrib = contributions(agent.task, x)
    score = float(contrib.sum())
    threshold = float(agent.task.effective_threshold)
    return ReviewResult(feats, score, threshold, score >= threshold,
                        {f: float(c) for f, c in zip(FEATURES, contrib)},
                        tuple(_flips(agent, x, score, threshold)))


def review_record(result: ReviewResult, agent: HyperAgent, run_id: str | None,
                  repo: str = "", source: str = "sliders", label: str | None = None,
                  llm_review: dict | None = None) -> dict:
    """The row the store keeps for one review (``Store.add_review``)."""
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "agent_id": agent.id,
        "repo": repo.strip() or "(unnamed)",
        "features": json.dumps(result.features),
        "score": round(result.score, 6),
        "threshold": round(result.threshold, 6),
        "decision": result.decision,
        "source": source,
        "label": label,
        "llm_review": None if llm_review is None else json.dumps(llm_review),
    }
