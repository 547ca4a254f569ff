"""engine.select: every strategy in the registry, and the exact weights they use."""

import math

import numpy as np
import pytest

from engine.dataset import classic
from engine.run import Run
from engine.select import (
    NOVELTY_FLOOR,
    SCORE_CHILD_LAMBDA,
    SELECTION,
    ScoreChildSelector,
    WeightedSelector,
)


@pytest.mark.parametrize("name", sorted(SELECTION))
def test_every_strategy_returns_a_member(name):
    """Each registered strategy returns a valid archive index every time."""
    run = Run(classic(), "hyperagent", 0)
    run.run(50)
    sel = SELECTION[name]()
    arch = run.archive
    for i in range(len(arch)):
        arch.last_changed = [i]
        sel.update(arch)
    rng = np.random.default_rng(0)
    picks = [sel.select(arch, rng) for _ in range(100)]
    assert all(0 <= p < len(arch) for p in picks)
    if name == "greedy":
        assert set(picks) == {arch.best()}


def test_weighted_weights_are_fitness_exploration_novelty():
    """weighted: weight = fitness * exploration * (novelty + floor) for every member."""
    run = Run(classic(), "hyperagent", 2)
    run.run(40)
    sel, arch = run._selector, run.archive
    assert isinstance(sel, WeightedSelector)
    expected = (arch.column("fitness") * arch.column("exploration")
                * (arch.column("novelty") + NOVELTY_FLOOR))
    got = [sel.tree.get(i) for i in range(len(arch))]
    assert got == pytest.approx(expected.tolist())


def test_score_child_weights_follow_dgm_rule():
    """score_child: sigmoid(lambda (f - top3 mean)) / (1 + children)."""
    run = Run(classic(), "hyperagent", 2)
    run.run(40)
    arch = run.archive
    sel = ScoreChildSelector()
    sel.update(arch)
    f, kids = arch.column("fitness"), arch.column("children")
    top3 = np.sort(f)[-3:].mean()
    for i in (0, 5, 39):
        w = 1 / ((1 + math.exp(-SCORE_CHILD_LAMBDA * (f[i] - top3))) * (1 + kids[i]))
        assert sel.tree.get(i) == pytest.approx(w)


def test_score_child_in_a_run_keeps_exact_weights():
    """A run with score_child selection keeps every member's DGM-H weight up to date."""
    from engine.conditions import Condition

    cond = Condition("dgm_h", "score_child", True, "score_child selection, adaptive meta")
    run = Run(classic(), cond, 4)
    run.run(150)
    arch, sel = run.archive, run._selector
    assert isinstance(sel, ScoreChildSelector)
    f, kids = arch.column("fitness"), arch.column("children")
    top3 = np.sort(f)[-3:].mean()
    expected = 1 / ((1 + np.exp(-SCORE_CHILD_LAMBDA * (f - top3))) * (1 + kids))
    got = [sel.tree.get(i) for i in range(len(arch))]
    assert got == pytest.approx(expected.tolist())
    assert math.isfinite(sel.tree.total) and sel.tree.total == pytest.approx(expected.sum())


def test_weighted_selection_frequency_matches_weights():
    """Empirical pick frequencies track the weights (chi-square-free tolerance check)."""
    run = Run(classic(), "hyperagent", 4)
    run.run(10)
    sel, arch = run._selector, run.archive
    w = np.array([sel.tree.get(i) for i in range(len(arch))])
    rng = np.random.default_rng(1)
    counts = np.bincount([sel.select(arch, rng) for _ in range(20_000)], minlength=len(arch))
    assert np.abs(counts / 20_000 - w / w.sum()).max() < 0.02
