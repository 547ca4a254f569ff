"""A sum tree with fanout ``FANOUT``: proportional sampling and point updates in
O(FANOUT x log_FANOUT n), with the inner loops in C (``reduce``, ``itertools.accumulate``,
``bisect``) rather than one Python iteration per binary level.

Level 0 holds the leaves; entry ``b`` of level ``h`` is the left-to-right sum of entries
``b*F .. b*F+F-1`` of level ``h-1`` (``functools.reduce(operator.add, ...)``: the same bits on
every Python version, which the builtin ``sum`` of floats is not from 3.12 on); levels are
added while the top one has more than ``F`` entries, and the total is the sum of the top level.
Every node is recomputed from its children (never adjusted by a delta) and the shape depends
only on the number of leaves, so the tree is a pure function of its leaves: rebuilding it from
the same leaf values, in any order of updates, samples exactly the same indices.

Public names: SumTree, FANOUT.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import reduce
from itertools import accumulate
from operator import add

FANOUT = 32


class SumTree:
    """Non-negative weights over indices 0..n-1 (an index never set weighs 0)."""

    def __init__(self) -> None:
        self._levels: list[list[float]] = [[]]

    def _reshape(self) -> None:
        """After leaves were appended: extend every level, adding levels as needed."""
        levels = self._levels
        h = 0
        while len(levels[h]) > FANOUT:
            below = levels[h]
            size = -(-len(below) // FANOUT)
            if h + 1 == len(levels):
                levels.append([reduce(add, below[k:k + FANOUT], 0.0)
                               for k in range(0, len(below), FANOUT)])
            else:
                up = levels[h + 1]
                # new entries cover only new (zero) leaves
                up.extend([0.0] * (size - len(up)))
            h += 1

    def set(self, index: int, weight: float) -> None:
        """Set the weight of ``index`` (>= 0)."""
        levels = self._levels
        leaves = levels[0]
        if index >= len(leaves):
            leaves.extend([0.0] * (index + 1 - len(leaves)))
            self._reshape()
        leaves[index] = weight
        i = index
        below = leaves
        for h in range(1, len(levels)):
            i //= FANOUT
            start = i * FANOUT
            level = levels[h]
            level[i] = reduce(add, below[start:start + FANOUT], 0.0)
            below = level

    def set_many(self, weights) -> None:
        """Replace all leaves with ``weights`` (index 0..len-1) and rebuild."""
        leaves = [float(w) for w in weights]
        levels = [leaves]
        while len(levels[-1]) > FANOUT:
            below = levels[-1]
            levels.append([reduce(add, below[k:k + FANOUT], 0.0)
                               for k in range(0, len(below), FANOUT)])
        self._levels = levels

    @property
    def total(self) -> float:
        return reduce(add, self._levels[-1], 0.0)

    def get(self, index: int) -> float:
        leaves = self._levels[0]
        return leaves[index] if index < len(leaves) else 0.0

    def sample(self, u: float) -> int:
        """The index whose cumulative-weight interval holds ``u * total`` (u in [0, 1)).

        Only indices with a positive weight are returned (the total must be positive).
        """
        levels = self._levels
        x = u * reduce(add, levels[-1], 0.0)
        b = 0
        for h in range(len(levels) - 1, -1, -1):
            start = b * FANOUT
            seg = levels[h][start:start + FANOUT]
            acc = list(accumulate(seg))
            k = bisect_right(acc, x)
            if k == len(seg):
                # rounding carried x past the end: take the last entry with weight
                k -= 1
                while k > 0 and not seg[k] > 0.0:
                    k -= 1
            if k:
                x -= acc[k - 1]
            b = start + k
        return b
