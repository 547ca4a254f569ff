"""AppTest of the Agent Detail page: policies, lineage, errors, diff, navigation."""

from __future__ import annotations

from test_app_support import charts, goto, no_exception, open_app, seed_run, texts

from engine.dataset import classic
from engine.evaluate import evaluate


def test_empty_database_says_there_is_no_run(tmp_path, monkeypatch):
    """Without runs the page renders an empty state."""
    at, _ = open_app(tmp_path, monkeypatch, "agent_detail")
    no_exception(at)
    assert "No run yet" in texts(at)


def test_default_is_the_best_agent_with_its_breakdown(tmp_path, monkeypatch):
    """Without ?agent the best agent is shown: weights chart, meta policy, lineage, diff."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=25, seed=5)
    goto(at, "agent_detail", {"run": run_id})
    no_exception(at)
    best = run.archive.best()
    assert at.subheader[0].value == f"Agent #{best} (the best agent)"
    assert at.query_params["agent"] == str(best)
    (weights,) = [c for c in charts(at) if c.get("title") == "Task weights"]
    assert weights["mark"]["type"] == "bar"
    lineage = at.dataframe[1].value
    assert lineage["id"].tolist() == run.archive.lineage(best)


def test_seed_agent_errors_and_diff_are_exact(tmp_path, monkeypatch):
    """The seed's wrong train repositories are exactly the engine's FPs and FNs; no parent."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=3)
    goto(at, "agent_detail", {"run": run_id, "agent": "0"})
    no_exception(at)
    ev = evaluate(run.archive.agent(0).task, classic().train)
    wrong = at.dataframe[2].value
    assert sorted(wrong["id"]) == sorted(ev.fp_ids + ev.fn_ids)
    assert set(wrong.loc[wrong["error"] == "false positive", "id"]) == set(ev.fp_ids)
    assert (wrong["score"] - wrong[["maintainability", "security", "test_coverage",
                                    "documentation", "simplicity"]].sum(axis=1)).abs().max() \
        < 1e-3
    assert "The seed agent has no parent." in texts(at)
    assert "Memory notes" in texts(at) and "_no notes yet (the seed)_" in texts(at)


def test_diff_against_the_parent_marks_what_changed(tmp_path, monkeypatch):
    """The diff lists every field before -> after and flags exactly the changed ones."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=10, seed=3)
    child = run.archive.agent(4)
    parent = run.archive.agent(child.parent_id)
    goto(at, "agent_detail", {"run": run_id, "agent": "4"})
    no_exception(at)
    diff = at.dataframe[-1].value.set_index("field")
    assert len(diff) == 16  # 5 weights, threshold, style, effective threshold, 8 meta fields
    for j, f in enumerate(("maintainability", "security", "test_coverage", "documentation",
                           "simplicity")):
        row = diff.loc[f"task.w[{f}]"]
        assert row["agent"] == f"{child.task.weights[j]:.4f}"
        assert row["parent"] == f"{parent.task.weights[j]:.4f}"
        assert bool(row["changed"]) == (child.task.weights[j] != parent.task.weights[j])
    assert diff.loc["meta.memory", "agent"] == f"{len(child.meta.memory)} notes"


def test_open_parent_moves_to_the_parent(tmp_path, monkeypatch):
    """The 'Open parent' button shows the parent and updates the link."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=10, seed=3)
    parent = run.archive.agent(6).parent_id
    goto(at, "agent_detail", {"run": run_id, "agent": "6"})
    at.button(key="ha_ag_parent").click().run()
    no_exception(at)
    assert at.subheader[0].value.startswith(f"Agent #{parent}")
    assert at.query_params["agent"] == str(parent)


def test_missing_agent_link_says_so(tmp_path, monkeypatch):
    """?agent=ID that the run does not have is named; a non-number is refused in words."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3)
    goto(at, "agent_detail", {"run": run_id, "agent": "12"})
    assert at.error[0].value == f"Agent 12 does not exist in run {run_id}."
    goto(at, "agent_detail", {"run": run_id, "agent": "x"})
    assert at.error[0].value == "Agent 'x' is not an agent id: expected a whole number such as 0."
    no_exception(at)
