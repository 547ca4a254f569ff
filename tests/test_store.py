"""engine.store: every table round-trips, continuation equals one long run, misuse is refused."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
import sqlite_utils

from engine.conditions import CONDITIONS
from engine.dataset import classic, synthetic
from engine.experiment import run_experiment
from engine.policy import FEATURES, TaskPolicy
from engine.run import METRIC_COLUMNS, Run
from engine.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    UnknownRunError,
    default_db_path,
)
from engine.store_schema import agent_row, meta_json, rng_json, task_json

DS = classic()


def _saved(store, condition="hyperagent", seed=1, iterations=12, ds=DS, label="classic",
           config=None):
    run = Run(ds, condition, seed)
    run_id = store.create_run(run, label, config)
    run.run(iterations, observer=store.observer(run_id))
    store.finish_run(run_id)
    return run, run_id


def _metrics_equal(stored: pd.DataFrame, run: Run) -> None:
    pd.testing.assert_frame_equal(stored[list(METRIC_COLUMNS)], run.metrics_frame(),
                                  check_exact=True)


def test_new_file_has_every_table_and_the_latest_schema(tmp_path):
    """A new file gets all tables, WAL journal, user_version = SCHEMA_VERSION, FKs on."""
    store = Store(tmp_path / "h.db")
    db = sqlite_utils.Database(tmp_path / "h.db")
    assert set(db.table_names()) >= {"runs", "agents", "metrics", "events", "reviews",
                                     "llm_calls", "datasets", "ablations", "ablation_metrics"}
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert "ON DELETE CASCADE" in db["agents"].schema
    with store._conn() as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.counts()["runs"] == 0


def test_round_trip_of_runs_datasets_agents_metrics_and_events(tmp_path):
    """Everything a run wrote reads back equal, bit for bit, from a fresh Store."""
    run, rid = _saved(Store(tmp_path / "h.db"), config={"note": "x", "n": 3})
    store = Store(tmp_path / "h.db")
    info = store.get_run(rid)
    assert (info["condition"], info["seed"], info["dataset"], info["iterations"],
            info["status"], info["kind"], info["group_id"]) == (
        "hyperagent", 1, "classic", 12, "finished", "run", None)
    assert info["config"] == {"note": "x", "n": 3}
    b = run.archive.best()
    assert info["best_agent_id"] == b
    assert info["best_train"] == run.archive.column("fitness")[b]
    assert info["best_test"] == run.archive.column("test")[b]
    # datasets
    ds = store.dataset_for_run(rid)
    for a, c in ((ds.train, DS.train), (ds.test, DS.test)):
        assert a.ids == c.ids and a.names == c.names and a.difficulty == c.difficulty
        assert np.array_equal(a.X, c.X) and np.array_equal(a.y, c.y)
    assert (ds.name, ds.description) == (DS.name, DS.description)
    # agents
    assert [store.agent(rid, i) for i in range(13)] == run.archive.agents
    assert store.agent(rid, 13) is None and store.agent("nope", 0) is None
    af = store.agents_frame(rid)
    mem = run.archive.to_frame()
    for col in ("parent_id", "generation", "iteration", "train_accuracy", "test_accuracy",
                "margin", "n_fp", "n_fn", "children", "threshold", "review_style",
                "focus_metric", "weight_step", "threshold_step", "exploration_scale",
                "source", *(f"w_{f}" for f in FEATURES)):
        pd.testing.assert_series_equal(af[col], mem[col], check_exact=True,
                                       check_dtype=False, check_names=False)
    assert list(af["summary"]) == list(mem["note"])
    assert list(af["fp_ids"]) == [list(e.fp_ids) for e in run.archive.evaluations]
    assert list(af["fn_ids"]) == [list(e.fn_ids) for e in run.archive.evaluations]
    # metrics: iteration 0 is the seed agent, 13/20 on train
    m = store.metrics(rid)
    _metrics_equal(m, run)
    assert list(m["run_id"].unique()) == [rid]
    assert m.loc[0, "child_train_accuracy"] == 0.65 and m.loc[0, "archive_size"] == 1
    # events
    ev = store.events(rid)
    fit = run.archive.column("fitness")
    assert list(ev["iteration"]) == list(range(1, 13))
    assert list(ev["child_id"]) == list(range(1, 13))
    parents = [a.parent_id for a in run.archive.agents[1:]]
    assert list(ev["parent_id"]) == parents
    assert list(ev["parent_fitness"]) == [fit[p] for p in parents]
    assert list(ev["child_fitness"]) == list(fit[1:])
    assert list(ev["delta"]) == [fit[i] - fit[p] for i, p in enumerate(parents, start=1)]
    assert list(ev["improved"]) == [bool(fit[i] > fit[p]) for i, p in enumerate(parents, 1)]
    assert list(ev["summary"]) == [a.note for a in run.archive.agents[1:]]
    # the archive DataFrame the pages show
    pd.testing.assert_frame_equal(store.archive_frame(rid), mem, check_exact=True)


def test_meta_task_and_rng_json_equal_json_dumps():
    """The fast serialisations are the exact text ``json.dumps`` gives (what readers parse)."""
    run = Run(DS, "hyperagent", 4)
    run.run(40)
    for a in run.archive.agents:
        row = agent_row("r", a, run.archive.evaluation(a.id), 0.5)
        assert row[-4] == json.dumps(a.task.to_dict())
        assert meta_json(a.meta) == json.dumps(a.meta.to_dict())
    assert any(len(a.meta.memory) == 6 for a in run.archive.agents)
    odd = TaskPolicy((1, 0.0, 0.25, 1e-17, 0.5), 0.05, "strict")  # ints and tiny floats
    assert task_json(odd) == json.dumps(odd.to_dict())
    np_task = TaskPolicy(tuple(np.float64(x) for x in (0.2, 0.1, 0.3, 0.2, 0.2)),
                         np.float64(0.6), "lenient")  # numpy scalars: still valid JSON
    assert json.loads(task_json(np_task)) == json.loads(json.dumps(np_task.to_dict(),
                                                                   default=float))
    state = run.rng.bit_generator.state
    assert rng_json(state) == json.dumps(state)
    state["has_uint32"], state["uinteger"] = 1, 123456  # after a 32-bit draw
    assert rng_json(state) == json.dumps(state)


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_continue_equals_uninterrupted(tmp_path, condition):
    """10 iterations saved, reopened, continued for 10 == one run of 20, bit for bit."""
    ds = synthetic(40, 20, 0.1, 3)
    _, rid = _saved(Store(tmp_path / "h.db"), condition, 7, 10, ds, "synthetic")
    store = Store(tmp_path / "h.db")
    steps = []
    cont = store.continue_run(rid, 10, progress=lambda d, n: steps.append((d, n)))
    whole = Run(ds, condition, 7)
    whole.run(20)
    assert steps == [(k, 10) for k in range(1, 11)]
    _metrics_equal(store.metrics(rid), whole)
    _metrics_equal(cont.metrics_frame(), whole)
    assert store.load_run(rid).archive.agents == whole.archive.agents
    assert cont.rng.bit_generator.state == whole.rng.bit_generator.state
    info = store.get_run(rid)
    assert (info["iterations"], info["status"]) == (20, "finished")
    assert info["best_agent_id"] == whole.archive.best()


def test_load_run_is_live_and_writes_through_its_observer(tmp_path):
    """load_run + observer continues a run just as continue_run does."""
    store = Store(tmp_path / "h.db")
    _, rid = _saved(store, "baseline", 2, 5)
    run = store.load_run(rid)
    run.run(5, observer=store.observer(rid))
    whole = Run(DS, "baseline", 2)
    whole.run(10)
    _metrics_equal(store.metrics(rid), whole)


def test_create_run_saves_a_run_that_already_ran(tmp_path):
    """A run saved after 6 in-memory steps stores those steps and continues exactly."""
    store = Store(tmp_path / "h.db")
    run = Run(DS, "no_archive", 9)
    run.run(6)
    rid = store.create_run(run, "classic", kind="session", group_id="g1")
    assert store.metrics(rid)["iteration"].tolist() == list(range(7))
    assert len(store.events(rid)) == 6
    store.continue_run(rid, 4)
    whole = Run(DS, "no_archive", 9)
    whole.run(10)
    _metrics_equal(store.metrics(rid), whole)
    row = store.list_runs().iloc[0]
    assert (row["kind"], row["group_id"], row["iterations"]) == ("session", "g1", 10)


def test_observer_refuses_a_step_that_does_not_follow(tmp_path):
    """A repeated step or another run's step is refused and leaves the file unchanged."""
    store = Store(tmp_path / "h.db")
    run, rid = _saved(store, iterations=3)
    records = []
    run.run(1, observer=records.append)
    obs = store.observer(rid)
    obs(records[0])
    before = store.counts()
    with pytest.raises(StoreError, match="expected iteration 5 of it, got iteration 4"):
        obs(records[0])
    with pytest.raises(StoreError, match="expected iteration 5"):
        store.observer(rid)(records[0])
    other = Run(DS, "baseline", 1)
    other_recs = []
    other.run(5, observer=other_recs.append)
    with pytest.raises(StoreError, match="baseline"):
        store.observer(rid)(other_recs[4])
    with pytest.raises(UnknownRunError):
        store.observer("missing")(records[0])
    assert store.counts() == before


def test_list_runs_newest_first_and_unknown_ids_raise_key_error(tmp_path):
    """list_runs is newest first with the documented columns; unknown ids raise KeyError."""
    store = Store(tmp_path / "h.db")
    ids = [_saved(store, seed=s, iterations=2)[1] for s in range(3)]
    df = store.list_runs()
    assert list(df.columns) == ["run_id", "kind", "group_id", "condition", "seed", "dataset",
                                "iterations", "best_agent_id", "best_train", "best_test",
                                "status", "created_at", "updated_at"]
    assert list(df["run_id"]) == ids[::-1]
    assert list(store.metrics(ids)["run_id"].drop_duplicates()) == ids
    assert store.get_run("nope") is None
    for call in (lambda: store.load_run("nope"), lambda: store.metrics(["nope"]),
                 lambda: store.events("nope"), lambda: store.agents_frame("nope"),
                 lambda: store.continue_run("nope", 1), lambda: store.delete_run("nope"),
                 lambda: store.finish_run("nope"), lambda: store.dataset_for_run("nope")):
        with pytest.raises(KeyError, match="no run 'nope'"):
            call()
    with pytest.raises(ValueError, match="iterations"):
        store.continue_run(ids[0], -1)
    with pytest.raises(ValueError, match="finished"):
        store.finish_run(ids[0], "running")


def test_export_csv_one_run_and_all_runs(tmp_path):
    """export_csv writes the metrics of one run, or of all runs oldest first."""
    store = Store(tmp_path / "h.db")
    r1, a = _saved(store, seed=1, iterations=4)
    r2, b = _saved(store, seed=2, iterations=3)
    assert store.export_csv(tmp_path / "one.csv", a) == 5
    one = pd.read_csv(tmp_path / "one.csv")
    assert list(one.columns) == [*METRIC_COLUMNS, "run_id"]
    assert one["best_fitness"].tolist() == r1.metrics_frame()["best_fitness"].tolist()
    assert store.export_csv(tmp_path / "out" / "all.csv") == 9
    assert pd.read_csv(tmp_path / "out" / "all.csv")["run_id"].tolist() == [a] * 5 + [b] * 4
    with pytest.raises(StoreError, match="database file itself"):
        store.export_csv(tmp_path / "h.db")


def test_ablation_round_trip(tmp_path):
    """A saved ablation reads back equal to the run_experiment frame; delete removes it."""
    store = Store(tmp_path / "h.db")
    df = run_experiment(["hyperagent", "no_archive"], 2, 4, DS, workers=1)
    aid = store.save_ablation(df, {"dataset": "classic", "seeds": 2})
    pd.testing.assert_frame_equal(store.ablation_metrics(aid), df, check_exact=True)
    row = store.list_ablations().iloc[0]
    assert (row["ablation_id"], row["conditions"], row["n_seeds"], row["iterations"],
            row["n_rows"], row["dataset"]) == (aid, "hyperagent,no_archive", 2, 4, 20, "classic")
    assert json.loads(row["config"]) == {"dataset": "classic", "seeds": 2}
    with pytest.raises(StoreError, match="missing columns"):
        store.save_ablation(df.drop(columns="seed"), {})
    store.delete_ablation(aid)
    assert store.list_ablations().empty and store.counts()["ablation_metrics"] == 0
    with pytest.raises(KeyError, match="no ablation"):
        store.ablation_metrics(aid)


def _review(**kw):
    rec = {"run_id": None, "agent_id": 3, "repo": "octo/demo", "source": "sliders",
           "features": json.dumps(dict(zip(FEATURES, (0.5, 0.9, 0.8, 0.3, 0.4)))),
           "score": 0.61, "threshold": 0.6, "decision": "accepted", "label": None,
           "llm_review": json.dumps({"verdict": "ok"})}
    rec.update(kw)
    return rec


def test_reviews_round_trip_and_validation(tmp_path):
    """Reviews read back newest first with their features; bad fields are named."""
    store = Store(tmp_path / "h.db")
    _, rid = _saved(store, iterations=1)
    first = store.add_review(_review())
    second = store.add_review(_review(run_id=rid, source="zip", decision=False,
                                      label="rejected", features=[0.1] * 5, llm_review=None))
    df = store.reviews()
    assert list(df["id"]) == [second, first]
    top = df.iloc[0]
    assert (top["run_id"], top["source"], top["decision"], top["label"]) == (
        rid, "zip", "rejected", "rejected")
    assert df.iloc[1]["security"] == 0.9 and df.iloc[1]["repo"] == "octo/demo"
    assert json.loads(df.iloc[1]["llm_review"]) == {"verdict": "ok"}
    assert len(store.reviews(limit=1)) == 1
    for bad, msg in ((_review(source="ftp"), "source must be one of"),
                     (_review(features=[0.1] * 4), "features"),
                     (_review(features=[0.1, 0.2, 0.3, 0.4, 1.5]), r"simplicity must be"),
                     (_review(score="high"), "score must be"),
                     (_review(api_key="sk-abcdefgh12345"), "unexpected fields"),
                     (_review(run_id="nope"), "no run 'nope'")):
        with pytest.raises(StoreError, match=msg):
            store.add_review(bad)
    assert store.counts()["reviews"] == 2


def test_llm_calls_round_trip_without_keys(tmp_path, monkeypatch):
    """LLM calls read back in order; key-shaped text and $OPENAI_API_KEY are never stored."""
    monkeypatch.setenv("OPENAI_API_KEY", "plain-secret-value-123")
    store = Store(tmp_path / "h.db")
    _, rid = _saved(store, iterations=1)
    call = {"run_id": rid, "iteration": 1, "purpose": "mutate", "model": "gpt-x",
            "prompt": "use sk-ABCDEFGHIJKLMNOP and plain-secret-value-123",
            "response": '{"ok": true}', "prompt_tokens": 10, "completion_tokens": 5,
            "latency_s": 0.25, "outcome": "ok", "error": "Authorization: Bearer abc.def"}
    i1 = store.log_llm_call(call)
    i2 = store.log_llm_call({**call, "run_id": None, "iteration": None, "outcome": "error"})
    df = store.llm_calls()
    assert list(df["id"]) == [i1, i2]
    assert list(store.llm_calls(rid)["id"]) == [i1]
    assert df.iloc[0]["prompt"] == "use sk-*** and ***"
    assert df.iloc[0]["error"] == "Authorization: Bearer ***"
    assert (df.iloc[0]["prompt_tokens"], df.iloc[0]["latency_s"]) == (10, 0.25)
    raw = (tmp_path / "h.db").read_bytes() + (tmp_path / "h.db-wal").read_bytes()
    assert b"plain-secret-value-123" not in raw and b"sk-ABCDEFGHIJ" not in raw
    with pytest.raises(StoreError, match="unexpected fields"):
        store.log_llm_call({**call, "api_key": "x"})
    with pytest.raises(StoreError, match="prompt_tokens must be an integer"):
        store.log_llm_call({**call, "prompt_tokens": -1})


def test_default_path_comes_from_env_then_working_folder(tmp_path, monkeypatch):
    """HYPERAGENTS_DB wins; otherwise hyperagents.db in the working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYPERAGENTS_DB", raising=False)
    assert str(default_db_path()) == "hyperagents.db"
    assert Store().path == tmp_path / "hyperagents.db"
    monkeypatch.setenv("HYPERAGENTS_DB", str(tmp_path / "sub" / "x.db"))
    store = Store()
    assert store.path == tmp_path / "sub" / "x.db" and store.path.exists()


def test_closed_store_refuses_use(tmp_path):
    """A closed Store says so instead of reopening connections."""
    store = Store(tmp_path / "h.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_numpy_integers_bind(tmp_path):
    """numpy integer ids (as pages pass them) work as agent ids."""
    store = Store(tmp_path / "h.db")
    run, rid = _saved(store, iterations=3)
    assert store.agent(rid, np.int64(2)) == run.archive.agent(2)
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 4
