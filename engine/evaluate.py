"""Vectorised scoring of an agent on a split.

``score = X @ weights`` (shape (n,)), ``accept = score >= threshold + STYLE_OFFSET[style]``.
The ``margin`` is the mean signed distance of the scores from the effective threshold
(positive when on the correct side), used only to break ties between equal accuracies.

Public names: Evaluation, evaluate, accuracy, scores, contributions.
"""

from __future__ import annotations

import numpy as np

from engine.dataset import Split
from engine.policy import N_FEATURES, STYLE_OFFSET, TaskPolicy

_new = object.__new__


class Evaluation:
    """The result of scoring one task policy on one split (read-only by convention).

    Attributes:
        accuracy: share of correct decisions, in [0, 1].
        n: number of repositories.
        n_fp, n_fn: number of false positives (accepted, should be rejected) and false
            negatives (rejected, should be accepted).
        margin: mean of ``sign * (score - effective threshold)``, sign = +1 for accepted labels.
        fp_sum, fn_sum: (5,) feature sums over the FPs / FNs, as lists (zeros when none).
        fp_ids, fn_ids: ids of the false positives / false negatives, in split order.
        fp_mean, fn_mean: (5,) mean features of the FPs / FNs, or ``None`` when there are none.

    ``evaluate`` keeps the decision vector and derives ``fp_ids`` and ``fn_ids`` on first
    access (most variants of a long run are never read that closely).
    """

    __slots__ = ("accuracy", "n", "n_fp", "n_fn", "margin", "fp_sum", "fn_sum", "_split",
                 "_pred", "_fp_ids", "_fn_ids", "_means")

    def __init__(self, accuracy: float, n: int, fp_ids: tuple[str, ...],
                 fn_ids: tuple[str, ...], fp_mean: np.ndarray | None,
                 fn_mean: np.ndarray | None, margin: float) -> None:
        self.accuracy, self.n, self.margin = accuracy, n, margin
        self.n_fp, self.n_fn = len(fp_ids), len(fn_ids)
        self.fp_sum = [0.0] * N_FEATURES if fp_mean is None else [
            float(v) * self.n_fp for v in fp_mean]
        self.fn_sum = [0.0] * N_FEATURES if fn_mean is None else [
            float(v) * self.n_fn for v in fn_mean]
        self._split = self._pred = None
        self._fp_ids, self._fn_ids = tuple(fp_ids), tuple(fn_ids)
        # the means as given, returned as given (the sums above serve the mutation)
        self._means = (None if fp_mean is None else np.asarray(fp_mean, dtype=np.float64),
                       None if fn_mean is None else np.asarray(fn_mean, dtype=np.float64))

    def _ids(self, false_positive: bool) -> tuple[str, ...]:
        y, pred = self._split.y, self._pred
        mask = pred > y if false_positive else y > pred
        return tuple(self._split.id_array[mask].tolist())

    @property
    def fp_ids(self) -> tuple[str, ...]:
        if self._fp_ids is None:
            self._fp_ids = self._ids(True) if self.n_fp else ()
        return self._fp_ids

    @property
    def fn_ids(self) -> tuple[str, ...]:
        if self._fn_ids is None:
            self._fn_ids = self._ids(False) if self.n_fn else ()
        return self._fn_ids

    @property
    def fp_mean(self) -> np.ndarray | None:
        if self._means is not None:
            return self._means[0]
        return np.array(self.fp_sum) / self.n_fp if self.n_fp else None

    @property
    def fn_mean(self) -> np.ndarray | None:
        if self._means is not None:
            return self._means[1]
        return np.array(self.fn_sum) / self.n_fn if self.n_fn else None

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={self.accuracy!r}, n={self.n}, n_fp={self.n_fp}, "
                f"n_fn={self.n_fn}, margin={self.margin!r})")

    def to_dict(self) -> dict:
        fp_mean, fn_mean = self.fp_mean, self.fn_mean
        return {"accuracy": self.accuracy, "n": self.n, "fp_ids": list(self.fp_ids),
                "fn_ids": list(self.fn_ids), "margin": self.margin,
                "fp_mean": None if fp_mean is None else fp_mean.tolist(),
                "fn_mean": None if fn_mean is None else fn_mean.tolist()}


def scores(task: TaskPolicy, split: Split) -> np.ndarray:
    """(n,) scores of every repository in ``split``."""
    return split.X.dot(np.array(task.weights, dtype=np.float64))


def contributions(task: TaskPolicy, x) -> np.ndarray:
    """(5,) per-feature contribution ``weight * feature`` to the score of one repository."""
    return np.asarray(task.weights) * np.asarray(x, dtype=np.float64)


def accuracy(task: TaskPolicy, split: Split) -> float:
    """Share of correct decisions of ``task`` on ``split``."""
    delta = split.X.dot(np.array(task.weights))
    delta -= task.threshold + STYLE_OFFSET[task.review_style]
    pred = delta >= 0.0
    n = len(pred)
    return (n - int(np.count_nonzero(pred != split.y))) / n


def evaluate(task: TaskPolicy, split: Split) -> Evaluation:
    """Score ``task`` on ``split`` and break down its errors."""
    delta = split.X.dot(np.array(task.weights))
    delta -= task.threshold + STYLE_OFFSET[task.review_style]
    pred = delta >= 0.0
    y = split.y
    n = len(pred)
    # rows: FP and FN indicators; one product gives their feature sums and (last column) counts
    masks = np.empty((2, n))
    np.greater(pred, y, out=masks[0])
    np.greater(y, pred, out=masks[1])
    fp_sum, fn_sum = masks.dot(split.X1).tolist()
    n_fp, n_fn = int(fp_sum.pop()), int(fn_sum.pop())
    ev = _new(Evaluation)
    ev.accuracy, ev.n, ev.n_fp, ev.n_fn = (n - n_fp - n_fn) / n, n, n_fp, n_fn
    ev.margin = float(delta.dot(split.sign)) / n
    ev.fp_sum, ev.fn_sum = fp_sum, fn_sum
    ev._split, ev._pred, ev._fp_ids, ev._fn_ids, ev._means = split, pred, None, None, None
    return ev
