"""engine.run: determinism, seeds, resume equivalence, observer, and test-split isolation."""

import json

import numpy as np
import pandas as pd
import pytest

from engine.conditions import CONDITIONS
from engine.dataset import classic, synthetic
from engine.run import METRIC_COLUMNS, Run

DS = classic()


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_same_seed_gives_identical_metrics(condition):
    """Same seed + same config -> identical DataFrame, bit for bit."""
    a, b = Run(DS, condition, 11), Run(DS, condition, 11)
    a.run(60)
    b.run(60)
    pd.testing.assert_frame_equal(a.metrics_frame(), b.metrics_frame(), check_exact=True)


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_different_seeds_differ(condition):
    """Different seeds give different runs in every condition, the greedy arm included."""
    a, b = Run(DS, condition, 1), Run(DS, condition, 2)
    a.run(30)
    b.run(30)
    assert not a.metrics_frame().equals(b.metrics_frame())
    assert [x.task for x in a.archive.agents] != [x.task for x in b.archive.agents]


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_resume_equals_uninterrupted(condition):
    """10 iterations, export through JSON, restore, 10 more == 20 in one go, bit for bit."""
    ds = synthetic(40, 20, 0.1, 0)
    whole = Run(ds, condition, 5)
    whole.run(20)
    first = Run(ds, condition, 5)
    first.run(10)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = Run.from_state(state, ds)
    resumed.run(10)
    pd.testing.assert_frame_equal(whole.metrics_frame(), resumed.metrics_frame(),
                                  check_exact=True)
    assert [a.to_dict() for a in whole.archive.agents] == \
        [a.to_dict() for a in resumed.archive.agents]


def test_from_state_refuses_unknown_version():
    """A state from another version is refused with the expected version."""
    state = Run(DS, "hyperagent", 0).state_dict()
    state["version"] = 99
    with pytest.raises(ValueError, match="expected 1"):
        Run.from_state(state, DS)


def test_observer_gets_every_step_in_order():
    """run(n, observer) calls the observer once per iteration with consistent records."""
    seen = []
    run = Run(DS, "hyperagent", 3)
    last = run.run(15, seen.append)
    assert [r.iteration for r in seen] == list(range(1, 16)) and last is seen[-1]
    for r in seen:
        assert r.child.parent_id == r.parent.id and r.child.generation == r.parent.generation + 1
        assert r.metrics["child_id"] == r.child.id and set(r.metrics) == set(METRIC_COLUMNS)
        assert r.improved == (r.evaluation.accuracy > run.archive.evaluation(r.parent.id).accuracy)


def test_metrics_rows_shape_and_iteration_zero():
    """Iteration 0 is the seed agent, then one row per iteration; best is monotone."""
    run = Run(DS, "no_archive", 0)
    run.run(25)
    df = run.metrics_frame()
    assert list(df.columns) == list(METRIC_COLUMNS) and len(df) == 26
    assert df.loc[0, "mutation_source"] == "seed" and pd.isna(df.loc[0, "parent_id"])
    assert df.loc[0, "best_fitness"] == 0.65
    assert (np.diff(df["best_fitness"]) >= 0).all()
    assert df["archive_size"].tolist() == list(range(1, 27))


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_test_labels_never_influence_the_search(condition):
    """Permuting the test labels leaves every selection, mutation and train number identical."""
    ds = synthetic(60, 40, 0.1, 1)
    perm = np.random.default_rng(0).permutation(len(ds.test))
    shuffled = type(ds)(ds.name, ds.train, ds.test.with_labels(ds.test.y[perm]))
    a, b = Run(ds, condition, 9), Run(shuffled, condition, 9)
    a.run(80)
    b.run(80)
    assert [x.to_dict() for x in a.archive.agents] == [x.to_dict() for x in b.archive.agents]
    train_cols = [c for c in METRIC_COLUMNS if "test" not in c]
    pd.testing.assert_frame_equal(a.metrics_frame()[train_cols], b.metrics_frame()[train_cols])
    assert not a.metrics_frame()["child_test_accuracy"].equals(
        b.metrics_frame()["child_test_accuracy"])


def test_deferred_notes_read_like_plain_fields():
    """Notes of heuristic children are formatted on first read without changing the record:
    its __dict__ keeps its keys, and copies, pickles and replace() see the same text."""
    import copy
    import pickle
    from dataclasses import replace

    run = Run(classic(), "hyperagent", 3)
    run.run(60)
    agents = run.archive.agents[1:]
    keys = [set(vars(a)) for a in agents]
    notes = [a.note for a in agents]
    assert [set(vars(a)) for a in agents] == keys
    assert all(n.startswith("focus ") and " FN): w[" in n for n in notes)
    for a in agents[:10]:
        assert copy.deepcopy(a) == a and pickle.loads(pickle.dumps(a)).note == a.note
        assert replace(a).note == a.note and a.to_dict()["note"] == a.note
    rec = run.step()  # the record's summary is the child's note
    assert rec.summary == rec.child.note
