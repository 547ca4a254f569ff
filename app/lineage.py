"""The lineage graph: which agents to draw (a bounded scope) and the streamlit-agraph elements.

Drawing thousands of nodes with vis-network takes tens of seconds, so the Archive page draws a
bounded subgraph chosen by a scope and capped at ``MAX_GRAPH_NODES``; the whole archive is shown
by the Altair overview instead (``app.plots.archive_overview``).

The agents frame has one row per agent with at least ``id``, ``parent_id`` (NA for the seed),
``generation``, ``iteration``, ``train_accuracy`` and ``test_accuracy``; ids are 0..n-1.

Public names: SCOPES, MAX_GRAPH_NODES, Scope, parents_array, ancestry, children_of,
best_path, scope_ids, parent_links, fitness_color, graph_elements, graph_config.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import pandas as pd

SCOPES: dict[str, str] = {
    "best_path": "path from the seed to the best agent, with the children of its members",
    "selected": "ancestry and children of the selected agent",
    "last_generations": "the last N generations",
    "top_k": "the K fittest agents and their ancestries",
}
MAX_GRAPH_NODES = 150
PATH_COLOR = "#d62728"
EDGE_COLOR = "#b0b0b0"


@dataclass(frozen=True)
class Scope:
    """Which part of the archive to draw.

    Attributes:
        kind: a key of ``SCOPES``.
        selected: the selected agent (``selected`` scope; falls back to the best agent).
        generations: N for ``last_generations`` (>= 1).
        top_k: K for ``top_k`` (>= 1).
        cap: at most this many nodes (>= 1).
    """

    kind: str = "best_path"
    selected: int | None = None
    generations: int = 5
    top_k: int = 20
    cap: int = MAX_GRAPH_NODES

    def __post_init__(self) -> None:
        if self.kind not in SCOPES:
            raise ValueError(f"scope: expected one of {', '.join(SCOPES)}, got {self.kind!r}")
        for name in ("generations", "top_k", "cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"scope {name}: expected an integer >= 1, "
                                 f"got {getattr(self, name)}")


def parents_array(frame: pd.DataFrame) -> np.ndarray:
    """(n,) parent id of every agent, -1 for the seed; position i is agent i.

    Raises:
        ValueError: ids are not exactly 0..n-1 in order.
    """
    ids = frame["id"].to_numpy()
    if len(ids) and not np.array_equal(ids, np.arange(len(ids))):
        raise ValueError("agents frame: expected ids 0..n-1 in order")
    return frame["parent_id"].astype("Float64").fillna(-1).to_numpy(dtype=np.int64)


def ancestry(parents: np.ndarray, agent_id: int) -> list[int]:
    """Ids from the seed down to ``agent_id`` (inclusive).

    Raises:
        KeyError: ``agent_id`` is not an agent.
    """
    if not 0 <= agent_id < len(parents):
        raise KeyError(f"agent {agent_id} is not in this run (0..{len(parents) - 1})")
    path = [int(agent_id)]
    while parents[path[-1]] >= 0:
        path.append(int(parents[path[-1]]))
    return path[::-1]


def children_of(parents: np.ndarray, agent_id: int) -> list[int]:
    """Ids of the direct children of ``agent_id``."""
    return np.flatnonzero(parents == agent_id).tolist()


def best_path(frame: pd.DataFrame, best_id: int) -> list[int]:
    """Ids from the seed to ``best_id``."""
    return ancestry(parents_array(frame), best_id)


def _fittest(frame: pd.DataFrame, k: int) -> list[int]:
    order = np.lexsort((frame["id"].to_numpy(), -frame["train_accuracy"].to_numpy()))
    return frame["id"].to_numpy()[order[:k]].tolist()


def _capped(priority: list[int], rest: list[int], cap: int) -> list[int]:
    """Up to ``cap`` unique ids: ``priority`` first, then ``rest``; sorted."""
    out: dict[int, None] = {}
    for i in (*priority, *rest):
        if len(out) >= cap:
            break
        out.setdefault(int(i), None)
    return sorted(out)


def scope_ids(frame: pd.DataFrame, scope: Scope, best_id: int) -> list[int]:
    """The sorted ids to draw for ``scope`` (at most ``scope.cap``).

    Within the cap, the agents the scope is about come first (the best path, the selected
    agent's ancestry, the newest generation, the fittest agents), then their relatives.
    """
    parents = parents_array(frame)
    n = len(parents)
    if n == 0:
        return []
    path = ancestry(parents, best_id)
    # Ancestors nearest first, so a cap keeps a connected piece around the agents of interest.
    if scope.kind == "best_path":
        kids = np.flatnonzero(np.isin(parents, path)).tolist()
        return _capped(path[::-1], kids, scope.cap)
    if scope.kind == "selected":
        sel = scope.selected if scope.selected is not None and 0 <= scope.selected < n \
            else best_id
        return _capped(ancestry(parents, sel)[::-1], children_of(parents, sel), scope.cap)
    if scope.kind == "last_generations":
        gen = frame["generation"].to_numpy()
        recent = np.flatnonzero(gen > gen.max() - scope.generations)
        # fittest first so the cap keeps the interesting part of a wide generation
        recent = recent[np.lexsort((recent, -frame["train_accuracy"].to_numpy()[recent]))]
        on_path = [i for i in path[::-1] if gen[i] > gen.max() - scope.generations]
        return _capped(on_path, recent.tolist(), scope.cap)
    top = _fittest(frame, scope.top_k)
    lines: list[int] = []
    for i in top:
        lines.extend(ancestry(parents, i)[::-1])
    return _capped(top, lines, scope.cap)


def parent_links(frame: pd.DataFrame, run_id: str) -> list[str | None]:
    """Per row, a relative link to the parent's Agent Detail page (None for the seed)."""
    return [None if pd.isna(p) else f"agent?run={run_id}&agent={int(p)}"
            for p in frame["parent_id"]]


def fitness_color(value: float, low: float, high: float) -> str:
    """Hex colour from red (``low``) through yellow to green (``high``)."""
    t = 0.5 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))
    r, g, b = colorsys.hls_to_rgb(t / 3.0, 0.45, 0.75)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def graph_elements(frame: pd.DataFrame, ids: list[int], path: list[int],
                   selected: int | None = None) -> tuple[list, list]:
    """streamlit-agraph ``Node`` and ``Edge`` lists for the agents ``ids``.

    Nodes are coloured by train fitness (range over the drawn agents); nodes and edges on the
    best ``path`` are larger and red; the ``selected`` agent gets a thick border.
    """
    from streamlit_agraph import Edge, Node

    sub = frame.iloc[ids]
    fit = sub["train_accuracy"].to_numpy(dtype=float)
    low, high = (float(fit.min()), float(fit.max())) if len(fit) else (0.0, 1.0)
    on_path = set(path)
    shown = set(ids)
    nodes, edges = [], []
    for row in sub.itertuples(index=False):
        i = int(row.id)
        color = fitness_color(float(row.train_accuracy), low, high)
        border = PATH_COLOR if i in on_path else color
        nodes.append(Node(
            id=str(i), label=f"#{i}", size=18 if i in on_path else 12,
            title=(f"agent {i} · train {row.train_accuracy:.3f} · test "
                   f"{row.test_accuracy:.3f} · generation {int(row.generation)}"),
            color={"background": color, "border": border,
                   "highlight": {"background": color, "border": "#000000"}},
            borderWidth=5 if i == selected else (3 if i in on_path else 1),
        ))
        parent = row.parent_id
        if not pd.isna(parent) and int(parent) in shown:
            p = int(parent)
            path_edge = p in on_path and i in on_path
            edges.append(Edge(source=str(p), target=str(i),
                              color=PATH_COLOR if path_edge else EDGE_COLOR,
                              width=4 if path_edge else 1))
    return nodes, edges


def graph_config(height: int = 520, width: int = 1000):
    """A hierarchical (top-down, parent above child) agraph ``Config`` without physics."""
    from streamlit_agraph import Config

    config = Config(height=height, width=width, directed=True, physics=False,
                    hierarchical=True, groups={})
    # streamlit-agraph 0.0.45 ignores sortMethod given as a keyword: set it on the layout.
    config.layout["hierarchical"]["sortMethod"] = "directed"
    config.layout["hierarchical"]["levelSeparation"] = 70
    config.layout["hierarchical"]["nodeSpacing"] = 60
    return config
