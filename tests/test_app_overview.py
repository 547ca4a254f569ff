"""AppTest of the Overview page: run, continue, reset, and bad input."""

from __future__ import annotations

from test_app_support import charts, goto, no_exception, open_app, seed_run, texts

from engine.dataset import CSV_COLUMNS
from engine.store import Store


def test_empty_database_renders_with_the_controls(tmp_path, monkeypatch):
    """On an empty database the page renders and says there is no run yet."""
    at, _ = open_app(tmp_path, monkeypatch)
    no_exception(at)
    assert "No run yet" in texts(at)
    assert [b.label for b in at.button] == ["Run", "Continue", "Reset"]
    at.button(key="ha_ov_continue").click().run()
    assert "Nothing to continue yet" in texts(at)
    assert len(charts(at)) == 1  # the dataset profile


def test_iterations_and_seed_are_bounded_in_the_widgets(tmp_path, monkeypatch):
    """Iterations are refused outside 1..100000 by the widget itself."""
    at, _ = open_app(tmp_path, monkeypatch)
    it = at.number_input(key="ha_ov_iterations")
    assert (it.min, it.max, it.value) == (1, 100_000, 30)
    seed = at.number_input(key="ha_ov_seed")
    assert (seed.min, seed.max) == (0, 1_000_000)


def test_run_adds_iterations_and_continue_adds_more(tmp_path, monkeypatch):
    """Run saves a run with the chosen iterations; Continue extends the same run."""
    at, db = open_app(tmp_path, monkeypatch)
    at.number_input(key="ha_ov_iterations").set_value(12)
    at.selectbox(key="ha_ov_condition").set_value("baseline")
    at.button(key="ha_ov_run").click().run()
    no_exception(at)
    with Store(db) as store:
        runs = store.list_runs()
        assert len(runs) == 1
        run = runs.iloc[0]
        assert (run["condition"], run["iterations"], run["status"]) == ("baseline", 12, "finished")
        assert len(store.metrics(run["run_id"])) == 13
    assert at.query_params["run"] == run["run_id"]
    assert f"**Run {run['run_id']}** · baseline · seed 0 · 12 iterations" in texts(at)
    with Store(db) as store:
        best = store.agent(run["run_id"], int(run["best_agent_id"]))
    assert (f"train accuracy **{run['best_train']:.3f}** · test accuracy "
            f"**{run['best_test']:.3f}** · generation **{best.generation}**") in texts(at)
    curve = charts(at)[-1]
    assert curve["title"] == f"Learning curve of run {run['run_id']}"

    at.number_input(key="ha_ov_iterations").set_value(5)
    at.button(key="ha_ov_continue").click().run()
    no_exception(at)
    with Store(db) as store:
        assert store.get_run(run["run_id"])["iterations"] == 17
        assert len(store.list_runs()) == 1


def test_run_equals_the_engine_run_with_the_same_seed(tmp_path, monkeypatch):
    """The app's run is the engine's run: same seed, same best fitness, bit for bit."""
    at, db = open_app(tmp_path, monkeypatch)
    at.number_input(key="ha_ov_seed").set_value(4)
    at.number_input(key="ha_ov_iterations").set_value(20)
    at.button(key="ha_ov_run").click().run()
    _, reference = seed_run(tmp_path / "ref.db", iterations=20, seed=4)
    with Store(db) as store:
        df = store.metrics(store.list_runs().iloc[0]["run_id"])
    assert df["best_fitness"].tolist() == reference.metrics_frame()["best_fitness"].tolist()


def test_reset_clears_the_current_run_but_keeps_it_saved(tmp_path, monkeypatch):
    """Reset forgets the session's run; the saved run stays in the database."""
    at, db = open_app(tmp_path, monkeypatch)
    at.number_input(key="ha_ov_iterations").set_value(3)
    at.button(key="ha_ov_run").click().run()
    at.button(key="ha_ov_reset").click().run()
    no_exception(at)
    assert "Cleared" in texts(at)
    assert "run" not in at.query_params
    assert at.session_state["ha_run_id"] is None
    with Store(db) as store:
        assert len(store.list_runs()) == 1


def test_a_bad_csv_shows_its_message_and_changes_nothing(tmp_path, monkeypatch):
    """An uploaded CSV that fails validation shows the import's message; Run is refused."""
    at, db = open_app(tmp_path, monkeypatch)
    at.radio(key="ha_ov_dataset_kind").set_value("upload").run()
    header = ",".join(CSV_COLUMNS)
    bad = f"{header}\nr1,a,train,0.5,0.5,0.5,0.5,1.7,accepted\n".encode()
    at.file_uploader(key="ha_ov_upload").upload("bad.csv", bad, "text/csv")
    at.run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert errors == ["bad.csv: line 2, column simplicity: expected a number in [0, 1], got "
                      "'1.7'. Nothing was changed."]
    assert at.button(key="ha_ov_run").disabled
    with Store(db) as store:
        assert store.list_runs().empty


def test_a_valid_csv_runs_on_the_uploaded_repositories(tmp_path, monkeypatch):
    """A valid upload is the run's dataset, stored with it."""
    at, db = open_app(tmp_path, monkeypatch)
    at.radio(key="ha_ov_dataset_kind").set_value("upload").run()
    rows = [",".join(CSV_COLUMNS),
            "a,alpha,train,0.9,0.9,0.9,0.9,0.9,accepted",
            "b,beta,train,0.1,0.1,0.1,0.1,0.1,rejected",
            "c,gamma,test,0.8,0.8,0.8,0.8,0.8,accepted"]
    at.file_uploader(key="ha_ov_upload").upload("mine.csv", "\n".join(rows).encode(), "text/csv")
    at.run()
    at.number_input(key="ha_ov_iterations").set_value(2)
    at.button(key="ha_ov_run").click().run()
    no_exception(at)
    with Store(db) as store:
        run = store.list_runs().iloc[0]
        assert run["dataset"] == "upload:mine.csv"
        ds = store.dataset_for_run(run["run_id"])
    assert ds.train.ids == ("a", "b") and ds.test.ids == ("c",)


def test_deep_link_selects_a_saved_run_and_a_missing_one_says_so(tmp_path, monkeypatch):
    """?run=ID shows that run; an unknown id is named in an error."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=4)
    goto(at, "overview", {"run": run_id})
    no_exception(at)
    assert f"**Run {run_id}** · hyperagent · seed 0 · 4 iterations" in texts(at)
    goto(at, "overview", {"run": "nope1234"})
    assert [e.value for e in at.error][0].startswith("Run 'nope1234' does not exist")


def test_llm_operator_is_disabled_without_a_key(tmp_path, monkeypatch):
    """Without a key or base URL the operator toggle is disabled and says why."""
    at, _ = open_app(tmp_path, monkeypatch)
    no_exception(at)
    toggle = at.radio(key="ha_ov_operator_off")
    assert list(toggle.options) == ["heuristic", "llm"] and toggle.disabled
    assert toggle.value == "heuristic"
    page = texts(at)
    assert "llm unavailable: no OPENAI_API_KEY or OPENAI_BASE_URL is configured" in page
    assert "LLM operator off: no OPENAI_API_KEY set" in page


def test_a_run_with_the_llm_operator_logs_its_calls(tmp_path, monkeypatch):
    """With a (fake) OpenAI-compatible server, llm runs the search through it; the calls are
    logged in the store and the key never reaches the page."""
    from fake_openai_server import FakeOpenAI

    from engine.llm_config import clear_last_error

    clear_last_error()
    at, db = open_app(tmp_path, monkeypatch)
    secret = "sk-overview-DO-NOT-SHOW-24680"
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        at.run()
        toggle = at.radio(key="ha_ov_operator")
        assert not toggle.disabled and toggle.value == "heuristic"
        toggle.set_value("llm")
        at.number_input(key="ha_ov_iterations").set_value(3)
        at.button(key="ha_ov_run").click().run()
        no_exception(at)
        assert server.n_requests == 3
        at.number_input(key="ha_ov_iterations").set_value(2)
        at.button(key="ha_ov_continue").click().run()
        no_exception(at)
        assert server.n_requests == 5
    with Store(db) as store:
        calls = store.llm_calls()
        run = store.list_runs().iloc[0]
    assert len(calls) == 5 and run["iterations"] == 5
    assert "No errors." in texts(at)
    assert secret not in texts(at)


def test_the_last_llm_error_is_shown_in_words(tmp_path, monkeypatch):
    """A failing server is reported on Overview (the key redacted), and the run still ends."""
    from fake_openai_server import FakeOpenAI, Status

    from engine.llm_config import clear_last_error

    clear_last_error()
    at, db = open_app(tmp_path, monkeypatch)
    secret = "sk-overview-error-DO-NOT-SHOW-13579"
    with FakeOpenAI(default=Status(401, "invalid key {auth}")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        at.run()
        at.radio(key="ha_ov_operator").set_value("llm")
        at.number_input(key="ha_ov_iterations").set_value(1)
        at.button(key="ha_ov_run").click().run()
        at.run()
        no_exception(at)
    page = texts(at)
    assert "Last error:" in page
    assert secret not in page
    clear_last_error()
