"""Append-only archive of every hyperagent of one run, with lineage queries.

Per-member numbers (parent, fitness, test accuracy, margin, exploration, children, novelty...)
are kept as plain Python lists that share one index (the agent id): appending costs O(1) and
reading one member is a list lookup, which is what the loop does every iteration. ``column``
turns one of them into a numpy array for whole-archive work (frames, selection rebuilds).
The agent records and their train evaluations are kept in lists indexed by id too.

Novelty of a member is the mean Euclidean distance, in policy space (five weights plus the
effective threshold), to its ``NOVELTY_K`` nearest other members, kept exact as members arrive.
The policy vectors also sit in a numpy array with their squared norms, so one matrix-vector
product gives, for every older member, ``h = v.x - |x|^2 / 2`` (the squared distance to the
newcomer is ``|v|^2 - 2 h``; C speed). That pass only *selects*: the newcomer's k nearest (the
k largest ``h``, plus any member within a slack of the k-th) and the members the newcomer is
closer to than their current k-th neighbour. Their distances are then recomputed exactly
(``math.dist``) and sorted before any list changes; the slack is far above the rounding of the
product, so no neighbour is missed and every stored distance is exact. Cost: O(n) per member
in C plus O(k) in Python. Means are summed left to right (``functools.reduce``), which gives the
same bits on every Python version (``sum`` of floats is compensated from Python 3.12 on).

Public names: Archive, COLUMNS, NOVELTY_K, policy_vector.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import reduce
from math import dist
from operator import add

import numpy as np

from engine.evaluate import Evaluation
from engine.policy import STYLE_OFFSET, HyperAgent, TaskPolicy

NOVELTY_K = 3
_DIM = 6  # five weights and the effective threshold
# squared-distance slack of the selecting pass: orders of magnitude above its rounding error
# (|v|^2 <= 6, float64) and far below any distance that matters; only widens the selection.
_D2_SLACK = 1e-9

# column name -> numpy dtype of ``Archive.column``.
COLUMNS: dict[str, type] = {
    "parent": np.int64, "generation": np.int64, "iteration": np.int64,
    "fitness": np.float64, "test": np.float64, "margin": np.float64,
    "exploration": np.float64, "children": np.int64, "n_fp": np.int64, "n_fn": np.int64,
    "novelty": np.float64, "base_weight": np.float64, "vec": np.float64,
}


def policy_vector(task: TaskPolicy) -> tuple[float, ...]:
    """(6,) the point of a task policy in policy space: weights, then effective threshold."""
    return (*task.weights, task.threshold + STYLE_OFFSET[task.review_style])


class Archive:
    """Every variant of a run, in creation order; ids are indices (the seed is 0).

    ``last_changed`` lists the members whose novelty changed in the last ``add`` (the new member
    first) and ``last_parent`` the parent whose children count changed (``-1`` for the seed):
    selection strategies read them to update their weights.
    """

    def __init__(self) -> None:
        self.agents: list[HyperAgent] = []
        self.evaluations: list[Evaluation] = []
        self.parent: list[int] = []
        self.generation: list[int] = []
        self.iteration: list[int] = []
        self.fitness: list[float] = []
        self.test: list[float] = []
        self.margin: list[float] = []
        self.exploration: list[float] = []
        self.children_count: list[int] = []
        self.n_fp: list[int] = []
        self.n_fn: list[int] = []
        self.novelty: list[float] = []
        self.base_weight: list[float] = []
        self.vec: list[tuple[float, ...]] = []
        # for the novelty scan, arrays grown geometrically: ``_a`` holds one column per member,
        # its six coordinates and then ``-|x|^2 / 2`` (a long-row matrix-vector product is
        # several times faster than a tall one); ``_hk`` half its squared k-th neighbour
        # distance (inf until it has k).
        self._a = np.zeros((_DIM + 1, 64))
        self._hk = np.full(64, np.inf)
        self._best = -1
        self._top: list[float] = []
        self._kids: list[list[int]] = []
        # Nearest-neighbour lists (distances ascending, and the matching ids), one per member.
        self._nn_d: list[list[float]] = []
        self._nn_i: list[list[int]] = []
        self.last_changed: list[int] = []
        self.last_parent = -1

    def __len__(self) -> int:
        return len(self.agents)

    def column(self, name: str) -> np.ndarray:
        """One column over the current members as a new numpy array, shape (n,) or (n, 6)."""
        if name not in COLUMNS:
            raise KeyError(f"unknown archive column {name!r}; expected one of {sorted(COLUMNS)}")
        values = self.children_count if name == "children" else getattr(self, name)
        if name == "vec":
            return np.array(values, dtype=np.float64).reshape(len(values), _DIM)
        return np.array(values, dtype=COLUMNS[name])

    def add(self, agent: HyperAgent, evaluation: Evaluation, test_accuracy: float) -> int:
        """Append ``agent`` (its id must equal ``len(self)``) and return its id."""
        i = len(self.agents)
        if agent.id != i:
            raise ValueError(f"agent id {agent.id} != next archive index {i}")
        parent = -1 if agent.parent_id is None else agent.parent_id
        if parent >= i:
            raise ValueError(f"parent {parent} of agent {i} is not in the archive")
        vec = policy_vector(agent.task)
        fit = evaluation.accuracy
        margin = evaluation.margin
        ex = agent.meta.exploration_scale
        self.parent.append(parent)
        self.generation.append(agent.generation)
        self.iteration.append(agent.iteration)
        self.fitness.append(fit)
        self.test.append(test_accuracy)
        self.margin.append(margin)
        self.exploration.append(ex)
        self.base_weight.append(fit * ex)
        self.n_fp.append(evaluation.n_fp)
        self.n_fn.append(evaluation.n_fn)
        self.children_count.append(0)
        self.vec.append(vec)
        if i == len(self._hk):
            self._a = np.concatenate([self._a, np.zeros_like(self._a)], axis=1)
            self._hk = np.concatenate([self._hk, np.full(i, np.inf)])
        self._a[:, i] = (*vec, -0.5 * sum(x * x for x in vec))
        self._kids.append([])
        self.agents.append(agent)
        self.evaluations.append(evaluation)
        if parent >= 0:
            self.children_count[parent] += 1
            self._kids[parent].append(i)
            self.last_changed = self._update_novelty(i, vec, parent)
        else:
            self._nn_d.append([])
            self._nn_i.append([])
            self.novelty.append(1.0)
            self.last_changed = [i]
        self.last_parent = parent
        b = self._best
        if b < 0 or fit > self.fitness[b] or (fit == self.fitness[b] and margin > self.margin[b]):
            self._best = i
        top = self._top
        if len(top) < 3 or fit > top[-1]:
            top.append(fit)
            top.sort(reverse=True)
            del top[3:]
        return i

    def _update_novelty(self, i: int, vec: tuple[float, ...], parent: int) -> list[int]:
        """Set the new member's exact neighbours; return it and the ids whose novelty changed.

        With ``h_j = v . x_j - |x_j|^2 / 2`` (one product with the columns of ``_a``), the
        squared distance is ``d2_j = |v|^2 - 2 h_j``: the newcomer's nearest are the largest
        ``h_j``, and member ``j`` takes it in when ``d2_j < kth2_j``, i.e.
        ``h_j + kth2_j / 2 > |v|^2 / 2``. Only the few members these tests pick get an exact
        ``math.dist`` (the slack keeps rounding from losing one) before any list changes.
        """
        nn_d, nn_i, vecs, nov, hk = self._nn_d, self._nn_i, self.vec, self.novelty, self._hk
        a = self._a
        half_vv = -a[_DIM, i]
        h = np.array((*vec, 1.0)) @ a[:, :i]  # (matmul: no copy of the strided slice)
        picked = set()
        if i > NOVELTY_K:
            # the k largest h, by k passes of argmax (cheaper than a partition), then every
            # member within the slack of the k-th (members whose distances differ by less than
            # the rounding of h): the exact sort below decides among them
            taken = []
            for _ in range(NOVELTY_K):
                j = int(h.argmax())
                taken.append((j, h[j]))
                h[j] = -np.inf
            cut = taken[-1][1] - _D2_SLACK
            if h.max() >= cut:
                picked.update(np.flatnonzero(h >= cut).tolist())
            for j, val in taken:
                h[j] = val
                picked.add(j)
        else:
            picked.update(range(i))
        h += hk[:i]
        picked.update(np.flatnonzero(h > half_vv - _D2_SLACK).tolist())
        mine = []
        changed = [i]
        for j in picked:
            d = dist(vec, vecs[j])
            mine.append((d, j))
            row = nn_d[j]
            if len(row) < NOVELTY_K or d < row[-1]:
                pos = bisect_right(row, d)
                row.insert(pos, d)
                ids = nn_i[j]
                ids.insert(pos, i)
                if len(row) > NOVELTY_K:
                    del row[NOVELTY_K:], ids[NOVELTY_K:]
                if len(row) == NOVELTY_K:
                    hk[j] = 0.5 * row[-1] * row[-1]
                nov[j] = reduce(add, row, 0.0) / len(row)
                changed.append(j)
        # own neighbours: nearest first, ties by the lower id
        mine.sort()
        del mine[NOVELTY_K:]
        row = [p[0] for p in mine]
        nn_d.append(row)
        nn_i.append([p[1] for p in mine])
        if len(row) == NOVELTY_K:
            hk[i] = 0.5 * row[-1] * row[-1]
        nov.append(reduce(add, row, 0.0) / len(row))
        return changed

    # ---- queries -------------------------------------------------------------------------
    def best(self) -> int:
        """Id of the best member: highest train fitness, then margin, then the oldest."""
        if not self.agents:
            raise ValueError("archive is empty")
        return self._best

    def top3_mean(self) -> float:
        """Mean train fitness of the (up to) three fittest members."""
        return reduce(add, self._top, 0.0) / len(self._top)

    def agent(self, agent_id: int) -> HyperAgent:
        return self.agents[agent_id]

    def evaluation(self, agent_id: int) -> Evaluation:
        return self.evaluations[agent_id]

    def children_counts(self) -> np.ndarray:
        """(n,) number of direct children of every member."""
        return self.column("children")

    def children(self, agent_id: int) -> list[int]:
        """Ids of the direct children of ``agent_id``, oldest first."""
        return list(self._kids[agent_id])

    def lineage(self, agent_id: int) -> list[int]:
        """Ids from the seed down to ``agent_id`` (inclusive).

        Raises:
            KeyError: ``agent_id`` is not in the archive.
        """
        n = len(self.agents)
        if not 0 <= agent_id < n:
            raise KeyError(f"agent {agent_id} is not in the archive (0..{n - 1})")
        parent = self.parent
        path = [agent_id]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        return path[::-1]

    def to_frame(self):
        """The archive as a pandas DataFrame, one row per agent, indexed by id."""
        import pandas as pd

        from engine.policy import FEATURES

        n = len(self.agents)
        col = self.column
        agents = self.agents
        df = pd.DataFrame({
            "id": np.arange(n),
            "parent_id": pd.array([None if p < 0 else p for p in self.parent], dtype="Int64"),
            "generation": col("generation"),
            "iteration": col("iteration"),
            "train_accuracy": col("fitness"),
            "test_accuracy": col("test"),
            "margin": col("margin"),
            "n_fp": col("n_fp"),
            "n_fn": col("n_fn"),
            "children": col("children"),
            "novelty": col("novelty"),
            "threshold": [a.task.threshold for a in agents],
            "review_style": [a.task.review_style for a in agents],
            "focus_metric": [a.meta.focus_metric for a in agents],
            "weight_step": [a.meta.weight_step for a in agents],
            "threshold_step": [a.meta.threshold_step for a in agents],
            "exploration_scale": col("exploration"),
            "source": [a.source for a in agents],
            "note": [a.note for a in agents],
        })
        w = np.array([a.task.weights for a in agents]).reshape(n, len(FEATURES))
        for j, f in enumerate(FEATURES):
            df[f"w_{f}"] = w[:, j]
        return df.set_index("id", drop=False)
