"""Append-only, columnar archive of every hyperagent of one run, with lineage queries.

Numeric fields live in numpy arrays that share one index (the agent id) and grow geometrically,
so adding an agent and reading a column cost O(1) amortised and selection works on array
prefixes instead of scanning Python objects. The agent records and their train evaluations are
kept in plain lists indexed by id (read by id, never scanned).

Novelty of a member is the mean Euclidean distance, in policy space (five weights plus the
effective threshold), to its ``NOVELTY_K`` nearest other members. Scanning the whole archive
for every new member would make each step O(n), so the neighbours are found on a neighbour
graph, as in NN-descent: a child is compared with its parent, the parent's neighbours and their
neighbours, the parent's last ``NOVELTY_CHILD_CANDIDATES`` children and the last
``NOVELTY_RECENT_CANDIDATES`` members (a child is a small mutation of its parent, so its true
neighbours are almost always among these). Every candidate it is closer to than that
candidate's current k-th neighbour takes it into its own list. All distances are exact; the
neighbour sets are approximate (they can miss a closer member far away in the lineage, which
makes novelty an upper bound).

Public names: Archive, NOVELTY_K, NOVELTY_CHILD_CANDIDATES, NOVELTY_RECENT_CANDIDATES,
policy_vector.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from engine.evaluate import Evaluation
from engine.policy import N_FEATURES, HyperAgent, TaskPolicy

NOVELTY_K = 3
NOVELTY_CHILD_CANDIDATES = 8
NOVELTY_RECENT_CANDIDATES = 4
_INITIAL_CAPACITY = 64
_DIM = N_FEATURES + 1


def policy_vector(task: TaskPolicy) -> np.ndarray:
    """(6,) the point of a task policy in policy space: weights, then effective threshold."""
    return np.array((*task.weights, task.effective_threshold))


class Archive:
    """Every variant of a run, in creation order; ids are indices (the seed is 0)."""

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        self._n = 0
        self._cap = max(int(capacity), 4)
        self.agents: list[HyperAgent] = []
        self.evaluations: list[Evaluation] = []
        self._cols: dict[str, np.ndarray] = {}
        self._alloc(self._cap)
        self._best = -1
        self._top: list[float] = []
        self._kids: list[list[int]] = []
        # Nearest-neighbour lists (distances ascending, and the matching ids), one per member.
        self._nn_d: list[list[float]] = []
        self._nn_i: list[list[int]] = []
        self.last_changed: list[int] = []

    def _alloc(self, cap: int) -> None:
        spec = {"parent": (np.int64, -1), "generation": (np.int64, 0),
                "iteration": (np.int64, 0), "fitness": (np.float64, 0.0),
                "test": (np.float64, 0.0), "margin": (np.float64, 0.0),
                "exploration": (np.float64, 0.0), "children": (np.int64, 0),
                "n_fp": (np.int64, 0), "n_fn": (np.int64, 0), "novelty": (np.float64, 1.0),
                "base_weight": (np.float64, 0.0)}
        new = {k: np.full(cap, fill, dtype=dt) for k, (dt, fill) in spec.items()}
        new["vec"] = np.zeros((cap, _DIM))
        for k, arr in self._cols.items():
            new[k][: self._n] = arr[: self._n]
        self._cols = new
        self._cap = cap

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one column over the current members, shape (n,) or (n, d)."""
        view = self._cols[name][: self._n]
        view.flags.writeable = False
        return view

    def add(self, agent: HyperAgent, evaluation: Evaluation, test_accuracy: float) -> int:
        """Append ``agent`` (its id must equal ``len(self)``) and return its id."""
        i = self._n
        if agent.id != i:
            raise ValueError(f"agent id {agent.id} != next archive index {i}")
        parent = -1 if agent.parent_id is None else agent.parent_id
        if parent >= i:
            raise ValueError(f"parent {parent} of agent {i} is not in the archive")
        if i == self._cap:
            self._alloc(self._cap * 2)
        c = self._cols
        vec = policy_vector(agent.task)
        fit = evaluation.accuracy
        c["parent"][i] = parent
        c["generation"][i] = agent.generation
        c["iteration"][i] = agent.iteration
        c["fitness"][i] = fit
        c["test"][i] = test_accuracy
        c["margin"][i] = evaluation.margin
        c["exploration"][i] = agent.meta.exploration_scale
        c["base_weight"][i] = fit * agent.meta.exploration_scale
        c["n_fp"][i] = evaluation.n_fp
        c["n_fn"][i] = evaluation.n_fn
        c["vec"][i] = vec
        self._kids.append([])
        changed = [i]
        if parent >= 0:
            c["children"][parent] += 1
            changed += self._update_novelty(i, vec, parent)
        else:
            self._nn_d.append([])
            self._nn_i.append([])
            changed.append(parent)
            self._kids[parent].append(i)
        self.last_changed = changed
        self.agents.append(agent)
        self.evaluations.append(evaluation)
        self._n = i + 1
        b = self._best
        if b < 0 or fit > c["fitness"][b] or (fit == c["fitness"][b]
                                              and evaluation.margin > c["margin"][b]):
            self._best = i
        top = self._top
        if len(top) < 3 or fit > top[-1]:
            top.append(fit)
            top.sort(reverse=True)
            del top[3:]
        return i

    def _update_novelty(self, i: int, vec: np.ndarray, parent: int) -> list[int]:
        """Set the new member's neighbours; return the ids whose novelty changed."""
        nn_d, nn_i = self._nn_d, self._nn_i
        cand = {parent, *range(max(0, i - NOVELTY_RECENT_CANDIDATES), i)}
        cand.update(self._kids[parent][-NOVELTY_CHILD_CANDIDATES:])
        for j in nn_i[parent]:
            cand.add(j)
            cand.update(nn_i[j])
        ids = sorted(cand)
        diff = self._cols["vec"][ids] - vec
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff)).tolist()
        pairs = sorted(zip(d, ids))[:NOVELTY_K]
        nn_d.append([p[0] for p in pairs])
        nn_i.append([p[1] for p in pairs])
        nov = self._cols["novelty"]
        nov[i] = sum(nn_d[i]) / len(pairs)
        changed = []
        for dj, j in zip(d, ids):
            row = nn_d[j]
            if len(row) < NOVELTY_K or dj < row[-1]:
                pos = bisect_right(row, dj)
                row.insert(pos, dj)
                nn_i[j].insert(pos, i)
                del row[NOVELTY_K:], nn_i[j][NOVELTY_K:]
                nov[j] = sum(row) / len(row)
                changed.append(j)
        return changed

    # ---- queries -------------------------------------------------------------------------
    def best(self) -> int:
        """Id of the best member: highest train fitness, then margin, then the oldest."""
        if self._n == 0:
            raise ValueError("archive is empty")
        return self._best

    def top3_mean(self) -> float:
        """Mean train fitness of the (up to) three fittest members."""
        return sum(self._top) / len(self._top)

    def agent(self, agent_id: int) -> HyperAgent:
        return self.agents[agent_id]

    def evaluation(self, agent_id: int) -> Evaluation:
        return self.evaluations[agent_id]

    def children_counts(self) -> np.ndarray:
        """(n,) number of direct children of every member."""
        return self.column("children")

    def children(self, agent_id: int) -> list[int]:
        """Ids of the direct children of ``agent_id``."""
        return np.flatnonzero(self.column("parent") == agent_id).tolist()

    def lineage(self, agent_id: int) -> list[int]:
        """Ids from the seed down to ``agent_id`` (inclusive).

        Raises:
            KeyError: ``agent_id`` is not in the archive.
        """
        if not 0 <= agent_id < self._n:
            raise KeyError(f"agent {agent_id} is not in the archive (0..{self._n - 1})")
        parent = self._cols["parent"]
        path = [agent_id]
        while parent[path[-1]] >= 0:
            path.append(int(parent[path[-1]]))
        return path[::-1]

    def to_frame(self):
        """The archive as a pandas DataFrame, one row per agent, indexed by id."""
        import pandas as pd

        from engine.policy import FEATURES

        n = self._n
        c = self._cols
        agents = self.agents
        df = pd.DataFrame({
            "id": np.arange(n),
            "parent_id": pd.array([None if p < 0 else int(p) for p in c["parent"][:n]],
                                  dtype="Int64"),
            "generation": c["generation"][:n].copy(),
            "iteration": c["iteration"][:n].copy(),
            "train_accuracy": c["fitness"][:n].copy(),
            "test_accuracy": c["test"][:n].copy(),
            "margin": c["margin"][:n].copy(),
            "n_fp": c["n_fp"][:n].copy(),
            "n_fn": c["n_fn"][:n].copy(),
            "children": c["children"][:n].copy(),
            "novelty": c["novelty"][:n].copy(),
            "threshold": [a.task.threshold for a in agents],
            "review_style": [a.task.review_style for a in agents],
            "focus_metric": [a.meta.focus_metric for a in agents],
            "weight_step": [a.meta.weight_step for a in agents],
            "threshold_step": [a.meta.threshold_step for a in agents],
            "exploration_scale": c["exploration"][:n].copy(),
            "source": [a.source for a in agents],
            "note": [a.note for a in agents],
        })
        w = np.array([a.task.weights for a in agents]).reshape(n, len(FEATURES))
        for j, f in enumerate(FEATURES):
            df[f"w_{f}"] = w[:, j]
        return df.set_index("id", drop=False)
