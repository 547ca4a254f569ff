"""A sum tree: proportional sampling and point updates in O(log n).

Internal nodes are always recomputed as ``left + right`` (never updated by adding a delta), so
the tree is a pure function of its leaves: rebuilding it from the same leaf values, in any
order of updates and with any power-of-two capacity, samples exactly the same indices.

Public names: SumTree.
"""

from __future__ import annotations


class SumTree:
    """Non-negative weights over indices 0..n-1."""

    def __init__(self, capacity: int = 64) -> None:
        cap = 1
        while cap < capacity:
            cap *= 2
        self._cap = cap
        self._t = [0.0] * (2 * cap)

    def _grow(self, index: int) -> None:
        leaves = self._t[self._cap:]
        cap = self._cap
        while cap <= index:
            cap *= 2
        self._cap = cap
        self._t = [0.0] * (2 * cap)
        self._t[cap:cap + len(leaves)] = leaves
        t = self._t
        for i in range(cap - 1, 0, -1):
            t[i] = t[2 * i] + t[2 * i + 1]

    def set(self, index: int, weight: float) -> None:
        """Set the weight of ``index`` (>= 0)."""
        if index >= self._cap:
            self._grow(index)
        t = self._t
        i = index + self._cap
        t[i] = weight
        i >>= 1
        while i:
            t[i] = t[2 * i] + t[2 * i + 1]
            i >>= 1

    def set_many(self, weights) -> None:
        """Replace all leaves with ``weights`` (index 0..len-1) and rebuild."""
        n = len(weights)
        if n > self._cap:
            self._grow(n - 1)
        cap = self._cap
        t = self._t
        t[cap:cap + n] = [float(w) for w in weights]
        for i in range(cap - 1, 0, -1):
            t[i] = t[2 * i] + t[2 * i + 1]

    @property
    def total(self) -> float:
        return self._t[1]

    def get(self, index: int) -> float:
        return self._t[index + self._cap] if index < self._cap else 0.0

    def sample(self, u: float) -> int:
        """The index whose cumulative-weight interval holds ``u * total`` (u in [0, 1))."""
        t = self._t
        x = u * t[1]
        i = 1
        cap = self._cap
        while i < cap:
            left = 2 * i
            if x < t[left] or t[left + 1] == 0.0:
                i = left
            else:
                x -= t[left]
                i = left + 1
        return i - cap
