"""Parent-selection strategies.

- ``weighted``: P(i) proportional to ``fitness_i * exploration_i * (novelty_i + NOVELTY_FLOOR)``
  where fitness is train accuracy, exploration the member's ``meta.exploration_scale`` and
  novelty the mean policy-space distance to its ``NOVELTY_K`` nearest members.
- ``score_child``: the DGM-H rule, P(i) proportional to
  ``sigmoid(SCORE_CHILD_LAMBDA * (fitness_i - mean of top-3 fitness)) / (1 + children_i)``.
- ``greedy``: always the current best (no archive to return to).

A strategy is a small object made by the registry factory: ``update(archive)`` after every
``Archive.add`` (it reads ``archive.last_changed`` and ``archive.last_parent``) and
``select(archive, rng) -> parent id``. Weights sit in a ``SumTree`` so a draw and an update
cost O(log n), not O(n).

Public names: SELECTION, Selector, WeightedSelector, ScoreChildSelector, GreedySelector,
NOVELTY_FLOOR, SCORE_CHILD_LAMBDA.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.archive import Archive
from engine.sumtree import SumTree

NOVELTY_FLOOR = 0.01
SCORE_CHILD_LAMBDA = 10.0


class Selector:
    """Base class: keeps per-member weights in a sum tree and draws in proportion."""

    def __init__(self) -> None:
        self.tree = SumTree()

    def weight(self, archive: Archive, i: int) -> float:
        raise NotImplementedError

    def update(self, archive: Archive) -> None:
        """Re-weigh the members the last ``Archive.add`` changed."""
        for i in archive.last_changed:
            self.tree.set(i, self.weight(archive, i))

    def select(self, archive: Archive, rng: np.random.Generator) -> int:
        u = rng.random()
        n = len(archive)
        if not self.tree.total > 0.0:
            return min(int(u * n), n - 1)
        return min(self.tree.sample(u), n - 1)


class WeightedSelector(Selector):
    """Fitness x exploration x novelty, sampled in proportion."""

    def weight(self, archive: Archive, i: int) -> float:
        return archive.base_weight[i] * (archive.novelty[i] + NOVELTY_FLOOR)

    def update(self, archive: Archive) -> None:
        base, nov, tset = archive.base_weight, archive.novelty, self.tree.set
        for i in archive.last_changed:
            tset(i, base[i] * (nov[i] + NOVELTY_FLOOR))


class ScoreChildSelector(Selector):
    """DGM-H: sigmoid of fitness above the top-3 mean, damped by the number of children."""

    def __init__(self) -> None:
        super().__init__()
        self._top3 = math.nan

    def weight(self, archive: Archive, i: int) -> float:
        z = SCORE_CHILD_LAMBDA * (archive.fitness[i] - self._top3)
        return 1.0 / ((1.0 + math.exp(-z)) * (1.0 + archive.children_count[i]))

    def update(self, archive: Archive) -> None:
        """Rebuild when the top-3 mean moved; else re-weigh the new member and its parent."""
        top3 = archive.top3_mean()
        if top3 != self._top3:
            self._top3 = top3
            z = SCORE_CHILD_LAMBDA * (archive.column("fitness") - top3)
            w = 1.0 / ((1.0 + np.exp(-z)) * (1.0 + archive.column("children")))
            self.tree.set_many(w.tolist())
            return
        i = len(archive) - 1
        self.tree.set(i, self.weight(archive, i))
        if archive.last_parent >= 0:
            self.tree.set(archive.last_parent, self.weight(archive, archive.last_parent))


class GreedySelector(Selector):
    """The current best (train fitness, then margin, then age); draws nothing from ``rng``."""

    def update(self, archive: Archive) -> None:
        pass

    def select(self, archive: Archive, rng: np.random.Generator) -> int:
        return archive.best()


SELECTION: dict[str, Callable[[], Selector]] = {
    "weighted": WeightedSelector,
    "score_child": ScoreChildSelector,
    "greedy": GreedySelector,
}
