"""Vectorised scoring of an agent on a split.

``score = X @ weights`` (shape (n,)), ``accept = score >= threshold + STYLE_OFFSET[style]``.
The ``margin`` is the mean signed distance of the scores from the effective threshold
(positive when on the correct side), used only to break ties between equal accuracies.

Public names: Evaluation, evaluate, accuracy, scores, contributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dataset import Split
from engine.policy import TaskPolicy

_EMPTY = np.zeros(0)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The result of scoring one task policy on one split.

    Attributes:
        accuracy: share of correct decisions, in [0, 1].
        n: number of repositories.
        fp_ids, fn_ids: ids of false positives (accepted, should be rejected) and false
            negatives (rejected, should be accepted).
        fp_mean, fn_mean: (5,) mean features of the FPs / FNs, or ``None`` when there are none.
        margin: mean of ``sign * (score - effective threshold)``, sign = +1 for accepted labels.
    """

    accuracy: float
    n: int
    fp_ids: tuple[str, ...]
    fn_ids: tuple[str, ...]
    fp_mean: np.ndarray | None
    fn_mean: np.ndarray | None
    margin: float

    @property
    def n_fp(self) -> int:
        return len(self.fp_ids)

    @property
    def n_fn(self) -> int:
        return len(self.fn_ids)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "n": self.n, "fp_ids": list(self.fp_ids),
                "fn_ids": list(self.fn_ids), "margin": self.margin,
                "fp_mean": None if self.fp_mean is None else self.fp_mean.tolist(),
                "fn_mean": None if self.fn_mean is None else self.fn_mean.tolist()}


def scores(task: TaskPolicy, split: Split) -> np.ndarray:
    """(n,) scores of every repository in ``split``."""
    return split.X @ np.asarray(task.weights)


def contributions(task: TaskPolicy, x) -> np.ndarray:
    """(5,) per-feature contribution ``weight * feature`` to the score of one repository."""
    return np.asarray(task.weights) * np.asarray(x, dtype=np.float64)


def accuracy(task: TaskPolicy, split: Split) -> float:
    """Share of correct decisions of ``task`` on ``split``."""
    pred = split.X @ np.array(task.weights) >= task.effective_threshold
    return np.count_nonzero(pred == split.y) / len(split.y)


def evaluate(task: TaskPolicy, split: Split) -> Evaluation:
    """Score ``task`` on ``split`` and break down its errors."""
    X, y = split.X, split.y
    delta = X @ np.array(task.weights)
    delta -= task.effective_threshold
    pred = delta >= 0.0
    fp = pred > y
    fn = y > pred
    n = len(y)
    n_fp, n_fn = int(np.count_nonzero(fp)), int(np.count_nonzero(fn))
    if n_fp:
        fp_idx = np.flatnonzero(fp)
        fp_ids = tuple(split.id_array[fp_idx].tolist())
        fp_mean = X[fp_idx].sum(axis=0) / n_fp
    else:
        fp_ids, fp_mean = (), None
    if n_fn:
        fn_idx = np.flatnonzero(fn)
        fn_ids = tuple(split.id_array[fn_idx].tolist())
        fn_mean = X[fn_idx].sum(axis=0) / n_fn
    else:
        fn_ids, fn_mean = (), None
    margin = float(delta @ split.sign) / n
    return Evaluation((n - n_fp - n_fn) / n, n, fp_ids, fn_ids, fp_mean, fn_mean, margin)
