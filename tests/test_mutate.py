"""engine.mutate: the four steps, bounds under many mutations, and the meta update."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dataset import classic
from engine.evaluate import evaluate
from engine.mutate import adapt_after_evaluation, error_direction, heuristic
from engine.policy import (
    EXPLORATION_BOUNDS,
    FOCUS_METRICS,
    GROW_BOUNDS,
    MEMORY_SIZE,
    META_RATE_BOUNDS,
    SHRINK_BOUNDS,
    STYLES,
    THRESHOLD_BOUNDS,
    THRESHOLD_STEP_BOUNDS,
    WEIGHT_BOUNDS,
    WEIGHT_STEP_BOUNDS,
    HyperAgent,
    MemoryNote,
    MetaPolicy,
    TaskPolicy,
    seed_agent,
)

DS = classic()


def _inside(v, b):
    return b[0] <= v <= b[1]


def test_error_pressure_is_signed_in_both_directions():
    """For the seed, FN pressure raises security/test weights and lowers documentation."""
    ev = evaluate(seed_agent().task, DS.train)
    g = error_direction(ev, DS.train, "false_negatives")
    assert g[1] > 0 and g[2] > 0 and g[3] < 0
    g_fp = error_direction(ev, DS.train, "false_positives")
    assert g_fp[1] > 0 and g_fp[3] < 0
    assert (np.sign(g) < 0).any() and (np.sign(g) > 0).any()


def test_feature_focus_boosts_that_feature():
    """A feature focus doubles that feature's component of the balanced direction."""
    ev = evaluate(seed_agent().task, DS.train)
    base = error_direction(ev, DS.train, "balanced")
    boosted = error_direction(ev, DS.train, "security")
    assert boosted[1] == pytest.approx(2 * base[1])
    assert np.delete(boosted, 1) == pytest.approx(np.delete(base, 1))


def test_heuristic_moves_towards_fewer_errors_without_noise():
    """With minimal exploration the first move fixes errors of the seed on train."""
    a = seed_agent()
    a = HyperAgent(0, None, 0, 0, a.task, MetaPolicy(exploration_scale=EXPLORATION_BOUNDS[0]))
    ev = evaluate(a.task, DS.train)
    p = heuristic(a, ev, DS.train, np.random.default_rng(0), iteration=1)
    assert evaluate(p.task, DS.train).accuracy > ev.accuracy
    assert "FN" in p.summary and "w[" in p.summary


def test_frozen_meta_keeps_the_meta_policy():
    """freeze_meta returns the parent's meta policy object unchanged."""
    a = seed_agent()
    p = heuristic(a, evaluate(a.task, DS.train), DS.train, np.random.default_rng(1),
                  freeze_meta=True)
    assert p.meta is a.meta and "weight_step" not in p.summary


def test_focus_switches_after_fruitless_memory():
    """Memory of MEMORY_PATIENCE failures on the current focus makes the mutation switch."""
    notes = (MemoryNote(1, "balanced", "same", 0.0), MemoryNote(2, "balanced", "worse", -0.05))
    a = HyperAgent(0, None, 0, 0, seed_agent().task, MetaPolicy(memory=notes))
    p = heuristic(a, evaluate(a.task, DS.train), DS.train, np.random.default_rng(2))
    # the seed has 4 FP and 3 FN on classic train
    assert p.meta.focus_metric == "false_positives" and "after 2 tries" in p.summary
    ok = (MemoryNote(1, "balanced", "improved", 0.05), notes[1])
    a2 = HyperAgent(0, None, 0, 0, seed_agent().task, MetaPolicy(memory=ok))
    p2 = heuristic(a2, evaluate(a2.task, DS.train), DS.train, np.random.default_rng(2))
    assert p2.meta.focus_metric == "balanced"


def test_adapt_after_evaluation_shrinks_or_grows_and_remembers():
    """Improvement shrinks exploration by `shrink`, no change grows it by `grow`."""
    m = MetaPolicy(exploration_scale=1.0, shrink=0.9, grow=1.1)
    up = adapt_after_evaluation(m, 0.6, 0.7, 5)
    same = adapt_after_evaluation(m, 0.6, 0.6, 5)
    assert up.exploration_scale == pytest.approx(0.9) and up.memory[-1].outcome == "improved"
    assert same.exploration_scale == pytest.approx(1.1) and same.memory[-1].outcome == "same"
    many = m
    for i in range(MEMORY_SIZE + 4):
        many = adapt_after_evaluation(many, 0.6, 0.5, i)
    assert len(many.memory) == MEMORY_SIZE and many.memory[-1].iteration == MEMORY_SIZE + 3


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 40),
       weights=st.lists(st.floats(0, 1), min_size=5, max_size=5),
       threshold=st.floats(*THRESHOLD_BOUNDS), style=st.sampled_from(STYLES),
       focus=st.sampled_from(FOCUS_METRICS), ws=st.floats(*WEIGHT_STEP_BOUNDS),
       ex=st.floats(*EXPLORATION_BOUNDS))
def test_every_field_stays_in_bounds(seed, steps, weights, threshold, style, focus, ws, ex):
    """Property: any chain of mutations keeps every task and meta field inside its bounds."""
    rng = np.random.default_rng(seed)
    a = HyperAgent(0, None, 0, 0, TaskPolicy(tuple(weights), threshold, style),
                   MetaPolicy(focus, ws, 0.05, ex, 0.5, 0.5, 2.0))
    for it in range(1, steps + 1):
        ev = evaluate(a.task, DS.train)
        p = heuristic(a, ev, DS.train, rng, iteration=it)
        meta = adapt_after_evaluation(p.meta, ev.accuracy,
                                      evaluate(p.task, DS.train).accuracy, it)
        a = HyperAgent(it, it - 1, it, it, p.task, meta, p.summary, p.source)
        assert all(_inside(w, WEIGHT_BOUNDS) for w in a.task.weights)
        assert _inside(a.task.threshold, THRESHOLD_BOUNDS) and a.task.review_style in STYLES
        m = a.meta
        assert _inside(m.weight_step, WEIGHT_STEP_BOUNDS)
        assert _inside(m.threshold_step, THRESHOLD_STEP_BOUNDS)
        assert _inside(m.exploration_scale, EXPLORATION_BOUNDS)
        assert _inside(m.meta_rate, META_RATE_BOUNDS)
        assert _inside(m.shrink, SHRINK_BOUNDS) and _inside(m.grow, GROW_BOUNDS)
        assert m.focus_metric in FOCUS_METRICS and len(m.memory) <= MEMORY_SIZE
