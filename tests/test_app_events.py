"""AppTest of the Events page: the mutation log and its filters."""

from __future__ import annotations

from test_app_support import goto, no_exception, open_app, seed_run, texts


def test_empty_database_says_there_is_no_run(tmp_path, monkeypatch):
    """Without runs the page renders an empty state."""
    at, _ = open_app(tmp_path, monkeypatch, "events")
    no_exception(at)
    assert "No run yet" in texts(at)


def test_log_lists_every_mutation_and_filters_by_improvement(tmp_path, monkeypatch):
    """One row per iteration; 'improved only' keeps exactly the children beating their parent."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=25, seed=2)
    goto(at, "events", {"run": run_id})
    no_exception(at)
    log = at.dataframe[0].value
    assert log["iteration"].tolist() == list(range(1, 26))
    arch = run.archive
    fit = arch.column("fitness")
    moves = [f"{arch.agent(i).parent_id} -> {i}" for i in range(1, 26)]
    assert log["move"].tolist() == moves
    improved = [i for i in range(1, 26) if fit[i] > fit[arch.agent(i).parent_id]]
    at.selectbox(key="ha_ev_improved").set_value("improved").run()
    assert at.dataframe[0].value["iteration"].tolist() == improved
    assert f"{len(improved)} of 25 events shown; {len(improved)} improved" in texts(at)
    at.selectbox(key="ha_ev_improved").set_value("not").run()
    assert len(at.dataframe[0].value) == 25 - len(improved)


def test_text_and_source_filters(tmp_path, monkeypatch):
    """The text filter matches summaries case-insensitively; the source filter by source."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=20, seed=1)
    goto(at, "events", {"run": run_id})
    notes = {i: run.archive.agent(i).note for i in range(1, 21)}
    at.text_input(key="ha_ev_text").set_value("STYLE").run()
    assert at.dataframe[0].value["iteration"].tolist() == \
        [i for i, n in notes.items() if "style" in n.lower()]
    at.text_input(key="ha_ev_text").set_value("")
    at.multiselect(key="ha_ev_sources").set_value(["heuristic"]).run()
    assert len(at.dataframe[0].value) == 20
