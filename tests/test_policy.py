"""engine.policy: bounds, clamping and the dict round trip."""

from dataclasses import FrozenInstanceError

import pytest

from engine.policy import (
    FEATURES,
    THRESHOLD_BOUNDS,
    WEIGHT_BOUNDS,
    HyperAgent,
    MemoryNote,
    MetaPolicy,
    TaskPolicy,
    clamp,
    seed_agent,
)


def test_clamp_limits_to_inclusive_bounds():
    """clamp returns the bound when outside and the value when inside."""
    assert clamp(-1.0, (0.0, 1.0)) == 0.0
    assert clamp(2.0, (0.0, 1.0)) == 1.0
    assert clamp(0.25, (0.0, 1.0)) == 0.25


def test_task_policy_clamped_respects_bounds():
    """TaskPolicy.clamped puts every weight and the threshold inside their bounds."""
    t = TaskPolicy.clamped([-0.5, 0.3, 1.7, 0.0, 1.0], 5.0, "strict")
    assert t.weights == (WEIGHT_BOUNDS[0], 0.3, WEIGHT_BOUNDS[1], 0.0, 1.0)
    assert t.threshold == THRESHOLD_BOUNDS[1]
    assert t.effective_threshold == pytest.approx(THRESHOLD_BOUNDS[1] + 0.05)


def test_bad_fields_are_refused_with_the_expected_values():
    """A wrong number of weights, an unknown style or focus raise ValueError naming them."""
    with pytest.raises(ValueError, match="expected 5 values"):
        TaskPolicy((0.1, 0.2), 0.5)
    with pytest.raises(ValueError, match="review_style"):
        TaskPolicy((0.2,) * 5, 0.5, "harsh")
    with pytest.raises(ValueError, match="focus_metric"):
        MetaPolicy(focus_metric="speed")


def test_hyperagent_round_trips_through_dict():
    """to_dict/from_dict is an exact round trip, memory notes included."""
    meta = MetaPolicy("security", 0.031, 0.012, 1.3, 0.22, 0.85, 1.2,
                      (MemoryNote(3, "balanced", "improved", 0.05),))
    a = HyperAgent(4, 2, 3, 9, TaskPolicy((0.1, 0.2, 0.3, 0.4, 0.5), 0.61, "lenient"), meta,
                   "note", "heuristic")
    assert HyperAgent.from_dict(a.to_dict()) == a


def test_records_are_immutable():
    """Agents are frozen: a mutation must build a new record."""
    a = seed_agent()
    with pytest.raises(FrozenInstanceError):
        a.generation = 3  # type: ignore[misc]


def test_seed_agent_is_equal_weights():
    """The seed scores the plain mean of the five features against 0.6."""
    a = seed_agent()
    assert len(a.task.weights) == len(FEATURES)
    assert sum(a.task.weights) == pytest.approx(1.0)
    assert a.task.threshold == 0.6 and a.parent_id is None and a.source == "seed"
