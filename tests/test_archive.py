"""engine.archive and engine.sumtree: columnar growth, best, lineage tree, novelty."""

import numpy as np
import pytest

from engine.archive import NOVELTY_K, Archive
from engine.dataset import classic
from engine.evaluate import Evaluation
from engine.run import Run
from engine.sumtree import SumTree


def _ev(acc, margin=0.0):
    return Evaluation(acc, 10, (), (), None, None, margin)


def test_best_breaks_ties_by_margin_then_age():
    """best(): highest fitness, then margin, then the oldest."""
    run = Run(classic(), "hyperagent", 0)
    arch = Archive()
    agents = [run.archive.agent(0)]
    seed = agents[0]
    from dataclasses import replace
    arch.add(seed, _ev(0.5, 0.1), 0.5)
    arch.add(replace(seed, id=1, parent_id=0), _ev(0.7, 0.1), 0.5)
    arch.add(replace(seed, id=2, parent_id=1), _ev(0.7, 0.2), 0.5)
    arch.add(replace(seed, id=3, parent_id=1), _ev(0.7, 0.2), 0.9)
    assert arch.best() == 2
    assert arch.lineage(3) == [0, 1, 3] and arch.children(1) == [2, 3]
    assert arch.children_counts().tolist() == [1, 2, 0, 0]
    assert arch.top3_mean() == pytest.approx(0.7)
    with pytest.raises(ValueError, match="next archive index"):
        arch.add(replace(seed, id=9, parent_id=0), _ev(0.1), 0.1)
    with pytest.raises(KeyError):
        arch.lineage(99)


def test_lineage_is_a_tree_rooted_at_the_seed():
    """Every agent's parent is older, and every lineage starts at the seed (id 0)."""
    run = Run(classic(), "hyperagent", 3)
    run.run(300)
    arch = run.archive
    parent = arch.column("parent")
    assert parent[0] == -1
    assert all(0 <= parent[i] < i for i in range(1, len(arch)))
    gen = arch.column("generation")
    assert all(gen[i] == gen[parent[i]] + 1 for i in range(1, len(arch)))
    for i in (1, 57, 299):
        path = arch.lineage(i)
        assert path[0] == 0 and path[-1] == i and len(path) == gen[i] + 1
    assert arch.children_counts().sum() == len(arch) - 1


def test_columns_and_frame_match_the_agent_records():
    """Hundreds of adds keep every column consistent with the agent records."""
    run = Run(classic(), "baseline", 1)
    run.run(200)
    arch = run.archive
    df = arch.to_frame()
    assert len(df) == 201 and df["id"].tolist() == list(range(201))
    assert df["parent_id"].isna().sum() == 1
    assert (df["w_security"].to_numpy() == [a.task.weights[1] for a in arch.agents]).all()
    assert arch.column("fitness").tolist() == [e.accuracy for e in arch.evaluations]
    assert arch.column("vec").shape == (201, 6)
    assert arch.column("children").dtype == np.int64
    with pytest.raises(KeyError, match="unknown archive column"):
        arch.column("nope")


@pytest.mark.parametrize("condition", ["hyperagent", "baseline"])
def test_children_lists_match_the_parent_column(condition):
    """Every member's children (the novelty candidates) are exactly the ids naming it parent."""
    run = Run(classic(), condition, 8)
    run.run(300)
    arch = run.archive
    parent = arch.column("parent")
    for i in range(len(arch)):
        assert arch.children(i) == np.flatnonzero(parent == i).tolist()
    assert arch.children_counts().tolist() == [len(arch.children(i)) for i in range(len(arch))]


def test_novelty_is_mean_distance_to_found_neighbours():
    """A member's novelty equals the mean of its recorded neighbour distances (exact values)."""
    run = Run(classic(), "hyperagent", 5)
    run.run(100)
    arch = run.archive
    vec = arch.column("vec")
    for i in (1, 40, 100):
        ids = arch._nn_i[i]
        assert 1 <= len(ids) <= NOVELTY_K
        d = [float(np.linalg.norm(vec[i] - vec[j])) for j in ids]
        assert arch._nn_d[i] == pytest.approx(d)
        assert arch.column("novelty")[i] == pytest.approx(np.mean(d))


@pytest.mark.parametrize("condition", ["hyperagent", "baseline", "no_archive"])
def test_novelty_equals_brute_force_nearest_neighbours(condition):
    """Every member's novelty is the mean distance to its true k nearest (a full scan)."""
    run = Run(classic(), condition, 6)
    run.run(600)
    arch = run.archive
    vec = arch.column("vec")
    nov = arch.column("novelty")
    exact = []
    for i in range(len(arch)):
        d = np.sqrt(((vec - vec[i]) ** 2).sum(axis=1))
        d[i] = np.inf
        exact.append(np.sort(d)[:NOVELTY_K].mean())
    assert nov[1:] == pytest.approx(exact[1:], rel=1e-12, abs=1e-15)


def test_sumtree_samples_in_proportion_and_is_history_free():
    """Sampling follows the weights; rebuilt trees sample the same indices."""
    t = SumTree()
    for i, w in enumerate([1.0, 0.0, 3.0, 0.0, 4.0]):
        t.set(i, w)
    assert t.total == 8.0
    assert [t.sample(u) for u in (0.0, 0.12, 0.13, 0.49, 0.51, 0.99)] == [0, 0, 2, 2, 4, 4]
    t2 = SumTree()
    t2.set_many([1.0, 0.0, 3.0, 0.0, 4.0])
    us = np.random.default_rng(0).random(200)
    assert [t.sample(u) for u in us] == [t2.sample(u) for u in us]


def test_large_sumtree_matches_cumulative_weights_and_update_order():
    """Several levels deep: draws equal a cumulative-sum search, whatever the update order."""
    rng = np.random.default_rng(3)
    w = rng.random(5_000) * (rng.random(5_000) < 0.7)
    t = SumTree()
    for i, x in enumerate(w):
        t.set(i, float(x))
    for i in rng.permutation(5_000)[:500]:  # re-set some leaves, in a random order
        t.set(int(i), float(w[i]))
    t2 = SumTree()
    t2.set_many(w.tolist())
    cum = np.cumsum(w)
    us = rng.random(2_000)
    got = [t.sample(u) for u in us]
    assert got == [t2.sample(u) for u in us]
    assert all(w[g] > 0 for g in got)
    ref = np.searchsorted(cum, us * cum[-1], side="right")
    assert np.mean(np.array(got) == ref) > 0.99  # equal up to float rounding at boundaries
    assert t.total == pytest.approx(w.sum()) and t.get(7) == w[7] and t.get(10**6) == 0.0


def test_newcomer_neighbours_exact_among_near_ties():
    """Members whose distances to a newcomer differ by less than the scan's rounding: the
    exact recomputation still keeps the true nearest (found by a reviewer; regression test)."""
    from engine.policy import HyperAgent, MetaPolicy, TaskPolicy

    rng = np.random.default_rng(2)
    v = np.full(6, 0.9)
    pts = []
    for s in range(8):  # shells 5e-5 from v, radii 1e-12 apart, each with 3 close companions
        u = rng.normal(size=6)
        u /= np.linalg.norm(u)
        shell = v + 5e-5 * (1 + s * 2e-8) * u
        pts.append(shell)
        pts.extend(shell + 1e-6 * (u + 0.3 * rng.normal(size=6)) for _ in range(3))
    pts.append(v)
    arch = Archive()
    for i, p in enumerate(pts):
        task = TaskPolicy(tuple(float(x) for x in p[:5]), float(p[5]), "balanced")
        arch.add(HyperAgent(i, None if i == 0 else i - 1, min(i, 1), i, task, MetaPolicy()),
                 _ev(0.5), 0.5)
    vec = arch.column("vec")
    last = len(arch) - 1
    true = sorted((float(np.linalg.norm(vec[last] - vec[j])), j) for j in range(last))
    assert arch._nn_i[last] == [j for _, j in true[:NOVELTY_K]]
    assert arch.novelty[last] == pytest.approx(np.mean([d for d, _ in true[:NOVELTY_K]]),
                                               rel=1e-12)


def test_empty_archive_columns_have_their_shape():
    """column() of an empty archive: (0,) and (0, 6) arrays, not an error."""
    arch = Archive()
    assert arch.column("fitness").shape == (0,)
    assert arch.column("vec").shape == (0, 6)
