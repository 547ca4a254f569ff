"""AppTest of the Runs page: list, load, continue, delete, compare, export, ablations."""

from __future__ import annotations

from test_app_support import charts, goto, no_exception, open_app, seed_run, texts

from app.exports import metrics_csv
from engine.experiment import run_experiment
from engine.store import Store


def test_empty_database_renders(tmp_path, monkeypatch):
    """No runs and no ablations: the page says so and offers the way to start."""
    at, _ = open_app(tmp_path, monkeypatch, "runs")
    no_exception(at)
    assert "No run yet" in texts(at)
    assert "None yet: run one on the Ablation page." in texts(at)


def test_runs_are_listed_newest_first(tmp_path, monkeypatch):
    """The table lists every saved run with its condition, seed, iterations and best."""
    at, db = open_app(tmp_path, monkeypatch)
    a, _ = seed_run(db, iterations=3, seed=1)
    b, run_b = seed_run(db, iterations=5, seed=2, condition="no_archive")
    goto(at, "runs")
    no_exception(at)
    table = at.dataframe[0].value
    assert set(table["run_id"]) == {a, b}
    row = table.set_index("run_id").loc[b]
    best = run_b.archive.column("fitness")[run_b.archive.best()]
    assert (row["condition"], row["seed"], row["iterations"], row["best_train"]) == \
        ("no_archive", 2, 5, best)


def test_delete_asks_first_then_removes_the_run(tmp_path, monkeypatch):
    """Delete needs a confirmation; then the run is gone and the app stays usable."""
    at, db = open_app(tmp_path, monkeypatch)
    keep, _ = seed_run(db, iterations=3, seed=1)
    gone, _ = seed_run(db, iterations=3, seed=2)
    goto(at, "runs", {"run": gone})
    at.button(key="ha_rn_delete").click().run()
    assert f"Delete run {gone} with all its agents" in texts(at)
    at.button(key="ha_rn_no").click().run()
    with Store(db) as store:
        assert len(store.list_runs()) == 2
    at.button(key="ha_rn_delete").click().run()
    at.button(key="ha_rn_yes").click().run()
    no_exception(at)
    assert f"Deleted run {gone}." in texts(at)
    with Store(db) as store:
        assert store.list_runs()["run_id"].tolist() == [keep]
    assert at.session_state["ha_run_id"] == keep
    for page in ("overview", "archive", "agent_detail", "events", "live_review"):
        goto(at, page)
        no_exception(at)
    goto(at, "archive", {"run": gone})
    assert at.error[0].value.startswith(f"Run '{gone}' does not exist")


def test_continue_adds_iterations_to_the_chosen_run(tmp_path, monkeypatch):
    """Continue runs more steps of a saved run and reports its new length."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=4, seed=1)
    goto(at, "runs", {"run": run_id})
    at.number_input(key="ha_rn_more").set_value(6)
    at.button(key="ha_rn_continue").click().run()
    no_exception(at)
    assert f"Run {run_id} now has 10 iterations." in texts(at)
    _, straight = seed_run(tmp_path / "straight.db", iterations=10, seed=1)
    with Store(db) as store:
        got = store.metrics(run_id)["best_fitness"].tolist()
    assert got == straight.metrics_frame()["best_fitness"].tolist()


def test_load_makes_it_current_and_opens_overview(tmp_path, monkeypatch):
    """Load selects the run and switches to Overview showing it."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=4, seed=1)
    goto(at, "runs", {"run": run_id})
    at.button(key="ha_rn_load").click().run()
    no_exception(at)
    assert at.title[0].value == "Overview"
    assert f"**Run {run_id}**" in texts(at)


def test_compare_draws_two_runs_and_export_matches_the_store(tmp_path, monkeypatch):
    """Two or more chosen runs get one comparison chart; the CSV is the store's export."""
    at, db = open_app(tmp_path, monkeypatch)
    a, _ = seed_run(db, iterations=3, seed=1)
    b, _ = seed_run(db, iterations=3, seed=2)
    goto(at, "runs")
    before = len(charts(at))
    at.multiselect(key="ha_rn_compare").set_value([a, b]).run()
    assert len(charts(at)) == before + 1
    assert charts(at)[-1]["title"] == "Best so far, per run"
    with Store(db) as store:
        text = metrics_csv(store, a).decode()
        assert text.splitlines()[0].endswith(",run_id")
        assert len(text.splitlines()) == 1 + 4
        assert len(metrics_csv(store).decode().splitlines()) == 1 + 8
    labels = [d.label for d in at.get("download_button")]
    assert labels[1] == "CSV of all runs" and labels[0].startswith("CSV of run ")


def test_ablations_open_and_delete(tmp_path, monkeypatch):
    """A saved ablation is listed, opens on the Ablation page, and can be deleted."""
    at, db = open_app(tmp_path, monkeypatch)
    with Store(db) as store:
        ablation_id = store.save_ablation(run_experiment(["hyperagent"], 2, 2, "classic"),
                                          {"dataset": "classic"})
    goto(at, "runs")
    assert at.selectbox(key="ha_rn_ablation").value == ablation_id
    at.button(key="ha_rn_open_ablation").click().run()
    no_exception(at)
    assert at.title[0].value == "Ablation"
    assert at.selectbox(key="ha_ab_saved").value == ablation_id
    goto(at, "runs")
    at.button(key="ha_rn_delete_ablation").click().run()
    assert f"Deleted ablation {ablation_id}." in texts(at)
    with Store(db) as store:
        assert store.list_ablations().empty
