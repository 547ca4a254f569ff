"""LLM calls made by a run started or continued from the app carry that run's id.

The Overview page is driven with AppTest (its Run and Continue buttons call
``app.runner.start_run`` and ``app.runner.continue_run``), the LLM operator talks to the local
fake OpenAI-compatible server, and the calls are read back from the real SQLite file.
"""

from __future__ import annotations

from fake_openai_server import FakeOpenAI
from test_app_support import no_exception, open_app

from engine.llm_config import clear_last_error
from engine.store import Store

KEY = "sk-test-run-id-0123456789"


def _llm_overview(tmp_path, monkeypatch, server: FakeOpenAI):
    """The Overview page on an empty database in ``tmp_path`` with ``llm`` chosen."""
    clear_last_error()
    at, db = open_app(tmp_path, monkeypatch)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    at.run()
    toggle = at.radio(key="ha_ov_operator")
    assert not toggle.disabled
    toggle.set_value("llm")
    return at, db


def _click(at, button: str, iterations: int) -> None:
    at.number_input(key="ha_ov_iterations").set_value(iterations)
    at.button(key=button).click().run()
    no_exception(at)


def test_llm_calls_of_an_app_started_run_carry_its_id(tmp_path, monkeypatch):
    """Run (``runner.start_run``): every logged call has the new run's id."""
    with FakeOpenAI() as server:
        at, db = _llm_overview(tmp_path, monkeypatch, server)
        _click(at, "ha_ov_run", 3)
        assert server.n_requests == 3
    with Store(db) as store:
        [run_id] = store.list_runs()["run_id"].tolist()
        calls = store.llm_calls()
        assert len(store.llm_calls(run_id)) == len(calls)
    assert at.query_params["run"] == run_id
    assert len(calls) == 3
    assert calls["run_id"].tolist() == [run_id] * 3
    assert (calls["purpose"] == "mutation").all()
    clear_last_error()


def test_llm_calls_of_an_app_continued_run_carry_its_id(tmp_path, monkeypatch):
    """Continue (``runner.continue_run``), in the same session and after the session lost the
    run (loaded back from the store): every logged call has the continued run's id."""
    with FakeOpenAI() as server:
        at, db = _llm_overview(tmp_path, monkeypatch, server)
        _click(at, "ha_ov_run", 2)
        _click(at, "ha_ov_continue", 2)
        # A second session (same file): the run is loaded from the store, then continued.
        at2, _ = _llm_overview(tmp_path, monkeypatch, server)
        with Store(db) as store:
            [run_id] = store.list_runs()["run_id"].tolist()
        at2.query_params["run"] = run_id
        at2.run()
        _click(at2, "ha_ov_continue", 3)
        assert server.n_requests == 7
    with Store(db) as store:
        info = store.get_run(run_id)
        calls = store.llm_calls()
    assert info["iterations"] == 7 and info["status"] == "finished"
    assert len(calls) == 7
    assert calls["run_id"].tolist() == [run_id] * 7
    assert calls["iteration"].tolist() == list(range(1, 8))
    clear_last_error()


def test_llm_calls_of_a_store_continued_run_carry_its_id(tmp_path):
    """``Store.continue_run`` with an LLM operator (as ``runs continue`` could pass): the
    continuation's calls carry the run's id even though the operator was built without it."""
    from engine.cli_llm import operator_from_args
    from engine.dataset import classic
    from engine.run import Run

    with FakeOpenAI() as server, Store(tmp_path / "runs.db") as store:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY}
        run = Run(classic(), "hyperagent", 1)
        run_id = store.create_run(run, "classic")
        run.run(2, store.observer(run_id))
        store.finish_run(run_id)
        op = operator_from_args("llm", env=env, call_logger=store.log_llm_call)
        assert op.run_id is None
        store.continue_run(run_id, 3, operator=op)
        calls = store.llm_calls()
        assert server.n_requests == 3
    assert calls["run_id"].tolist() == [run_id] * 3
    clear_last_error()
