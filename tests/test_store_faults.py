"""engine.store under faults: cascade deletes, foreign files, newer schemas, locks, old schemas,
and a writer killed with SIGKILL mid-run."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlite_utils

from engine.dataset import classic
from engine.run import METRIC_COLUMNS, STATE_VERSION, Run
from engine.store import SCHEMA_VERSION, Store, StoreError, dataset_record
from engine.store_query import process_token, writer_alive
from engine.store_schema import agent_row, migrate

ROOT = Path(__file__).resolve().parents[1]
DS = classic()
RUN_TABLES = ("agents", "metrics", "events", "llm_calls")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


def _saved(store, seed, iterations, ds=DS):
    run = Run(ds, "hyperagent", seed)
    rid = store.create_run(run, "classic")
    run.run(iterations, observer=store.observer(rid))
    store.finish_run(rid)
    return rid


def _count(db, table, run_id):
    return db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]).fetchone()[0]


def test_cascade_delete_leaves_no_orphan(tmp_path):
    """Deleting a run removes its agents, metrics, events, LLM calls and unused dataset."""
    from engine.dataset import synthetic

    store = Store(tmp_path / "h.db")
    a, b = _saved(store, 1, 5), _saved(store, 2, 4)
    c = _saved(store, 3, 3, synthetic(10, 6, 0.0, 1))
    call = {"purpose": "mutate", "model": "m", "prompt": "p", "outcome": "ok"}
    store.log_llm_call({**call, "run_id": a})
    store.log_llm_call({**call, "run_id": b})
    review = {"source": "sliders", "features": [0.5] * 5, "score": 0.5, "threshold": 0.6,
              "decision": "rejected", "agent_id": 2}
    kept_review = store.add_review({**review, "run_id": a})
    db = sqlite_utils.Database(tmp_path / "h.db")
    before_b = {t: _count(db, t, b) for t in RUN_TABLES}
    assert before_b == {"agents": 5, "metrics": 5, "events": 4, "llm_calls": 1}
    store.delete_run(a)
    assert {t: _count(db, t, a) for t in RUN_TABLES} == dict.fromkeys(RUN_TABLES, 0)
    assert {t: _count(db, t, b) for t in RUN_TABLES} == before_b
    assert db["datasets"].count == 2
    rv = store.reviews()
    assert list(rv["id"]) == [kept_review] and rv.iloc[0]["run_id"] is None
    store.delete_run(c)
    assert db["datasets"].count == 1
    # The cascade is in the schema: a plain DELETE with foreign keys on does the same.
    db.execute("PRAGMA foreign_keys = ON")
    with db.conn:
        db.execute("DELETE FROM runs WHERE run_id = ?", [b])
    for t in RUN_TABLES:
        assert db[t].count == 0
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store.list_runs().empty


def test_non_sqlite_file_is_refused_untouched(tmp_path):
    """A text file is refused with a clear message and neither it nor its folder changes."""
    for name, content in (("notes.db", b"my thesis notes\n" * 50),
                          ("data.csv", b"id,name\n1,x\n"), ("short.db", b"SQLite")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(StoreError, match="is not a SQLite database.*left untouched"):
            Store(path)
        assert path.read_bytes() == content and _siblings(path) == [name]
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(tmp_path / "notes.db" / "inner.db")


def test_newer_schema_is_refused_untouched(tmp_path):
    """A file at a schema version above SCHEMA_VERSION is refused and not modified."""
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, future TEXT)")
        conn.execute("INSERT INTO runs VALUES ('r1', 'x')")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    digest, mtime = _digest(path), path.stat().st_mtime_ns
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 5}, newer than "
                                         f"this program supports \\(up to {SCHEMA_VERSION}\\)"):
        Store(path)
    assert _digest(path) == digest and path.stat().st_mtime_ns == mtime
    assert _siblings(path) == ["future.db"]


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("CREATE TABLE notes (x TEXT)")
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO notes VALUES ('mine')")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


def test_file_locked_by_another_program_is_refused_untouched(tmp_path):
    """While another process holds an exclusive lock, opening fails clearly; no bytes change."""
    path = tmp_path / "busy.db"
    proc = subprocess.Popen([sys.executable, "-c", _LOCKER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        digest, names = _digest(path), _siblings(path)
        t0 = time.perf_counter()
        with pytest.raises(StoreError, match="locked by another program.*left untouched"):
            Store(path, timeout=0.3)
        assert time.perf_counter() - t0 < 5
        assert _digest(path) == digest and _siblings(path) == names
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    digest = _digest(path)
    with pytest.raises(StoreError, match="database of another program.*notes.*left untouched"):
        Store(path)  # released, it is still someone else's database
    assert _digest(path) == digest


def test_empty_file_becomes_a_store(tmp_path):
    """An empty file (what SQLite itself treats as a new database) is initialised."""
    path = tmp_path / "empty.db"
    path.touch()
    assert Store(path).schema_version == SCHEMA_VERSION


def _v1_file(path: Path, run: Run) -> str:
    """A file as the first schema's program left it: one finished run, no later tables."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, target=1) == 1
    ds = dataset_record(run.dataset)
    arch = run.archive
    fit, test = arch.column("fitness"), arch.column("test")
    b = arch.best()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO datasets VALUES (:hash, :name, :description, :n_train, :n_test, "
                 ":rows, :created_at)", ds)
    conn.execute("INSERT INTO runs (run_id, condition, seed, dataset, dataset_hash, config, "
                 "status, iterations, best_agent_id, best_train, best_test, created_at, "
                 "updated_at, state_version, rng_state, writer_pid, writer_token) VALUES "
                 "('old1', ?, ?, 'classic', ?, '{}', 'finished', ?, ?, ?, ?, "
                 "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00', ?, ?, 1, '1:1')",
                 (run.condition.name, run.seed, ds["hash"], run.iteration, b, float(fit[b]),
                  float(test[b]), STATE_VERSION, json.dumps(run.rng.bit_generator.state)))
    for a in arch.agents:
        conn.execute(f"INSERT INTO agents VALUES ({', '.join('?' * 27)})",
                     agent_row("old1", a, arch.evaluation(a.id), float(test[a.id])))
    for r in run.metrics_rows():
        conn.execute(f"INSERT INTO metrics (run_id, {', '.join(METRIC_COLUMNS)}) VALUES "
                     f"('old1', {', '.join('?' * len(METRIC_COLUMNS))})",
                     [r[c] for c in METRIC_COLUMNS])
    conn.execute("COMMIT")
    conn.close()
    return "old1"


def test_migration_from_the_first_schema(tmp_path):
    """A version-1 file upgrades to the latest schema, keeps its run, and continues it."""
    path = tmp_path / "old.db"
    old = Run(DS, "baseline", 4)
    old.run(6)
    rid = _v1_file(path, old)
    db = sqlite_utils.Database(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "reviews" not in db.table_names() and "kind" not in db["runs"].columns_dict
    db.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    db = sqlite_utils.Database(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"reviews", "llm_calls", "ablations", "ablation_metrics"} <= set(db.table_names())
    row = store.list_runs().iloc[0]
    assert (row["run_id"], row["kind"], row["group_id"], row["iterations"], row["status"]) == (
        rid, "run", None, 6, "finished")
    store.continue_run(rid, 5)
    whole = Run(DS, "baseline", 4)
    whole.run(11)
    pd.testing.assert_frame_equal(store.metrics(rid)[list(METRIC_COLUMNS)],
                                  whole.metrics_frame(), check_exact=True)
    assert Store(path).schema_version == SCHEMA_VERSION  # reopening changes nothing


def test_writer_liveness_tells_dead_and_reused_pids_apart():
    """This process is alive; a dead pid, or a live pid with another start time, is not."""
    assert writer_alive(os.getpid(), process_token())
    assert not writer_alive(os.getpid(), f"{os.getpid()}:0")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not writer_alive(proc.pid, f"{proc.pid}:123")
    assert not writer_alive(None, None)


def _poll_iterations(path: Path, at_least: int, proc, deadline_s: float = 60.0) -> int:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
                    row = conn.execute("SELECT iterations FROM runs").fetchone()
                conn.close()
                if row and row[0] >= at_least:
                    return row[0]
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.02)
    raise AssertionError(f"the writer did not reach {at_least} iterations in {deadline_s}s")


def test_sigkill_mid_run_leaves_a_consistent_continuable_file(tmp_path):
    """SIGKILL mid-run: integrity ok, every committed step present, run interrupted, and the
    continuation equals an uninterrupted run of the same total, bit for bit."""
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "run", "--iterations", "1000000",
                             "--seed", "5", "--condition", "hyperagent", "--db", str(path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _poll_iterations(path, 40, proc)
        busy = Store(path)
        rid = busy.list_runs().iloc[0]["run_id"]
        assert busy.get_run(rid)["status"] == "running"
        with pytest.raises(StoreError, match=f"being written by process {proc.pid}"):
            busy.continue_run(rid, 1)
        busy.close()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        raw_status = conn.execute("SELECT status FROM runs").fetchone()[0]
    conn.close()
    assert raw_status == "running"  # nobody has looked yet
    store = Store(path)
    info = store.get_run(rid)
    k = info["iterations"]
    assert info["status"] == "interrupted" and k >= 40
    db = sqlite_utils.Database(path)
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    assert [r[0] for r in db.execute("SELECT agent_id FROM agents ORDER BY agent_id")] == list(
        range(k + 1))
    assert [r[0] for r in db.execute("SELECT iteration FROM events ORDER BY 1")] == list(
        range(1, k + 1))
    stored = store.metrics(rid)
    assert stored["iteration"].tolist() == list(range(k + 1))
    whole = Run(DS, "hyperagent", 5)
    whole.run(k + 15)
    pd.testing.assert_frame_equal(stored[list(METRIC_COLUMNS)],
                                  whole.metrics_frame().iloc[: k + 1], check_exact=True)
    cont = store.continue_run(rid, 15)
    pd.testing.assert_frame_equal(store.metrics(rid)[list(METRIC_COLUMNS)],
                                  whole.metrics_frame(), check_exact=True)
    assert store.load_run(rid).archive.agents == whole.archive.agents
    assert cont.rng.bit_generator.state == whole.rng.bit_generator.state
    assert store.get_run(rid)["status"] == "finished"
    assert store.integrity_check() == "ok"
