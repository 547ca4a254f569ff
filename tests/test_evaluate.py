"""engine.evaluate: exact scoring on small hand-computed cases."""

import numpy as np
import pytest

from engine.dataset import Split
from engine.evaluate import accuracy, contributions, evaluate, scores
from engine.policy import TaskPolicy


def _split():
    X = np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [0.5, 0.5, 0, 0, 0], [0, 0, 0, 0, 0]])
    return Split(("p", "q", "r", "s"), ("P", "Q", "R", "S"), X,
                 np.array([True, False, True, False]), ("clear",) * 4)


def test_scores_and_decisions_exact():
    """score = X @ w; accept when score >= threshold + style offset."""
    t = TaskPolicy((0.8, 0.2, 0.0, 0.0, 0.0), 0.5, "balanced")
    s = _split()
    assert scores(t, s).tolist() == pytest.approx([0.8, 0.2, 0.5, 0.0])
    ev = evaluate(t, s)
    assert ev.accuracy == 1.0 and ev.fp_ids == () and ev.fn_ids == ()
    # margin: mean of sign * (score - 0.5) = (0.3 + 0.3 + 0.0 + 0.5) / 4
    assert ev.margin == pytest.approx(0.275)


def test_errors_are_broken_down():
    """A strict style raises the threshold: 'r' (0.5) becomes a false negative."""
    t = TaskPolicy((0.8, 0.6, 0.0, 0.0, 0.0), 0.5, "strict")
    ev = evaluate(t, _split())
    assert ev.fp_ids == ("q",) and ev.fn_ids == ()
    t2 = TaskPolicy((0.8, 0.2, 0.0, 0.0, 0.0), 0.5, "strict")
    ev2 = evaluate(t2, _split())
    assert ev2.fn_ids == ("r",) and ev2.n_fn == 1 and ev2.accuracy == 0.75
    assert ev2.fn_mean.tolist() == [0.5, 0.5, 0, 0, 0] and ev2.fp_mean is None
    assert accuracy(t2, _split()) == 0.75


def test_contributions_are_weight_times_feature():
    """Per-feature contributions sum to the score."""
    t = TaskPolicy((0.1, 0.2, 0.3, 0.4, 0.5), 0.5)
    x = [1.0, 0.5, 0.0, 0.5, 1.0]
    c = contributions(t, x)
    assert c.tolist() == pytest.approx([0.1, 0.1, 0.0, 0.2, 0.5])
    assert c.sum() == pytest.approx(0.9)


def test_an_evaluation_made_from_means_returns_them_unchanged():
    """Evaluation(...) with given FP/FN means reads them back exactly (sums feed the mutation)."""
    from engine.evaluate import Evaluation

    m = [0.1, 0.7, 0.3, 0.9, 0.55]
    ev = Evaluation(0.7, 10, ("a", "b", "c"), (), np.array(m), None, 0.0)
    assert ev.fp_mean.tolist() == m and ev.fn_mean is None
    assert ev.n_fp == 3 and ev.fp_sum == pytest.approx([3 * x for x in m])
