"""Persistence of runs, variants, metrics and events in SQLite (through sqlite-utils): the
observer the loop hands each step to, and the read side the app and the CLI use.

File: ``Store(path)``; ``path`` defaults to ``$HYPERAGENTS_DB``, else ``hyperagents.db`` in the
working folder. A non-SQLite file, a file from a newer program, or a file locked by another
program is refused with a ``StoreError`` and never written to.

Transactions and threads: every write (one loop step, a new run, a delete) is one
``BEGIN IMMEDIATE`` transaction, committed before the call returns. One ``Store`` may be shared
by every thread of a process (Streamlit sessions): connections come from a small pool, each
used by one thread at a time, and writes to one file are serialised by a process-wide lock;
other processes wait on SQLite's busy timeout. WAL journal with ``synchronous=NORMAL``: a
committed step survives the process being killed (not necessarily a power cut).

Interrupted runs: a run being written records its writer (pid and that process's start time).
On open, a ``running`` run whose writer process is gone is marked ``interrupted``, and
``list_runs``/``get_run`` report it so without writing. ``continue_run`` picks it up from its
last committed step: the agents and the generator state stored with that step rebuild the
``Run`` exactly, so the continuation equals an uninterrupted run, bit for bit.

Reads live in ``engine.store_query`` (``StoreReads``), the schema and the validation of
outside rows in ``engine.store_schema``.

Public names: Store, StoreError, UnknownRunError, default_db_path, DEFAULT_DB_NAME, SCHEMA_VERSION,
POOL_SIZE, process_token, writer_alive, dataset_record.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from engine import store_schema as sc
from engine.dataset import Dataset, to_csv_rows
from engine.mutate import bind_run
from engine.run import METRIC_COLUMNS, STATE_VERSION, Run, StepRecord
from engine.store_query import StoreReads, process_token, writer_alive
from engine.store_schema import SCHEMA_VERSION, StoreError, UnknownRunError

DEFAULT_DB_NAME = "hyperagents.db"
POOL_SIZE = 8

for _t in (np.int64, np.int32, np.bool_):
    sqlite3.register_adapter(_t, lambda v: v.item())


def default_db_path() -> Path:
    """``$HYPERAGENTS_DB`` if set and non-empty, else ``hyperagents.db`` in the working folder."""
    return Path(os.environ.get("HYPERAGENTS_DB") or DEFAULT_DB_NAME)


# One write lock per database file for the whole process, whatever the number of Store objects.
_LOCKS: dict[str, threading.RLock] = {}
_ACTIVE: set[tuple[str, str]] = set()
_GLOBAL = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    with _GLOBAL:
        return _LOCKS.setdefault(str(path), threading.RLock())


# ---- datasets --------------------------------------------------------------------------------
def dataset_record(ds: Dataset) -> dict:
    """The ``datasets`` row of ``ds``: its rows (``to_csv_rows`` + difficulty) as JSON, keyed
    by the SHA-256 of name, description and rows."""
    rows = to_csv_rows(ds)
    for row, diff in zip(rows, (*ds.train.difficulty, *ds.test.difficulty)):
        row["difficulty"] = diff
    body = json.dumps({"name": ds.name, "description": ds.description, "rows": rows},
                      sort_keys=True)
    return {"hash": hashlib.sha256(body.encode()).hexdigest(), "name": ds.name,
            "description": ds.description, "n_train": len(ds.train), "n_test": len(ds.test),
            "rows": json.dumps(rows), "created_at": sc.now()}


class Store(StoreReads):
    """A SQLite file of runs, agents, metrics, events, ablations, reviews and LLM calls.

    Args:
        path: database file (default ``default_db_path()``); created with its folder if absent.
        timeout: seconds to wait for another process's lock before giving up.

    Raises:
        StoreError: the path is a folder, not SQLite, from a newer schema, or locked.
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 10.0) -> None:
        self.path = Path(path if path is not None else default_db_path()).expanduser().absolute()
        self.timeout = float(timeout)
        sc.check_file(self.path)
        if not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of {self.path} "
                                 f"({exc.strerror or exc}); choose another file with --db or "
                                 "HYPERAGENTS_DB") from None
        self._lock = _write_lock(self.path)
        self._idle: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False
        self._datasets: dict[str, Dataset] = {}
        conn = self._connect()
        try:
            sc.read_version(conn, self.path)
            with self._lock:
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                except sqlite3.DatabaseError as exc:
                    raise sc.translate_error(exc, self.path) from None
                self.schema_version = sc.migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._idle.append(conn)
        self._mark_interrupted()

    # ---- connections -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise sc.translate_error(exc, self.path) from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise sc.translate_error(exc, self.path) from None
        return conn

    def _checkout(self) -> sqlite3.Connection:
        """An idle pooled connection (or a new one), for the calling thread's exclusive use."""
        if self._closed:
            raise StoreError(f"{self.path}: this Store was closed")
        with self._pool_lock:
            conn = self._idle.pop() if self._idle else None
        return conn if conn is not None else self._connect()

    def _checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        with self._pool_lock:
            keep = not self._closed and len(self._idle) < POOL_SIZE
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = self._checkout()
        try:
            yield conn
        finally:
            self._checkin(conn)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (a consistent snapshot)."""
        with self._conn() as conn:
            try:
                conn.execute("BEGIN")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise sc.translate_error(exc, self.path) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with self._lock, self._conn() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise sc.translate_error(exc, self.path) from None

    def close(self) -> None:
        """Close every idle connection; the Store cannot be used afterwards."""
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def database(self):
        """A ``sqlite_utils.Database`` on a new connection of its own (close it when done)."""
        import sqlite_utils

        return sqlite_utils.Database(self._connect())

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        db = self.database()
        try:
            return {name: db[name].count for name in db.table_names()
                    if not name.startswith("sqlite_")}
        finally:
            db.conn.close()

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``'ok'`` or SQLite's description of the damage."""
        with self._read() as conn:
            return "\n".join(r[0] for r in conn.execute("PRAGMA integrity_check"))

    # ---- runs: writes ----------------------------------------------------------------------
    def _mark_interrupted(self) -> None:
        with self._read() as conn:
            rows = conn.execute("SELECT run_id, writer_pid, writer_token FROM runs "
                                "WHERE status = 'running'").fetchall()
        dead = [(rid, tok) for rid, pid, tok in rows if not writer_alive(pid, tok)]
        if dead:
            with self._write() as conn:
                conn.executemany("UPDATE runs SET status = 'interrupted' WHERE run_id = ? AND "
                                 "status = 'running' AND writer_token IS ?", dead)

    def create_run(self, run: Run, dataset_spec: str, config: dict | None = None,
                   kind: str = "run", group_id: str | None = None) -> str:
        """Save ``run`` as it stands (its dataset, every agent, metric row and event so far)
        as a new ``running`` run; returns its id (8 hex digits).

        Raises:
            StoreError: ``config`` is not JSON-serialisable, or the file cannot be written.
        """
        try:
            config_json = json.dumps(config or {}, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"config: expected a JSON-serialisable dict ({exc})") from None
        ds_row = dataset_record(run.dataset)
        arch = run.archive
        fit, test = arch.column("fitness"), arch.column("test")
        run_id = ""
        agents = [sc.agent_row(run_id, a, arch.evaluation(a.id), float(test[a.id]))
                  for a in arch.agents]
        metric_rows = [tuple(r[c] for c in METRIC_COLUMNS) for r in run.metrics_rows()]
        events = [(a.iteration, a.parent_id, a.id, float(fit[a.parent_id]), float(fit[a.id]),
                   float(fit[a.id]) - float(fit[a.parent_id]), int(fit[a.id] > fit[a.parent_id]),
                   a.source, a.note, "{}") for a in arch.agents[1:]]
        best = arch.best()
        stamp = sc.now()
        with self._write() as conn:
            while True:
                run_id = secrets.token_hex(4)
                if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() \
                        is None:
                    break
            conn.execute("INSERT OR IGNORE INTO datasets (hash, name, description, n_train, "
                         "n_test, rows, created_at) VALUES (:hash, :name, :description, "
                         ":n_train, :n_test, :rows, :created_at)", ds_row)
            conn.execute(
                "INSERT INTO runs (run_id, kind, group_id, condition, seed, dataset, "
                "dataset_hash, config, status, iterations, best_agent_id, best_train, "
                "best_test, created_at, updated_at, state_version, rng_state, writer_pid, "
                "writer_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                (run_id, str(kind), group_id, run.condition.name, run.seed, str(dataset_spec),
                 ds_row["hash"], config_json, run.iteration, best, float(fit[best]),
                 float(test[best]), stamp, stamp, STATE_VERSION,
                 json.dumps(run.rng.bit_generator.state), os.getpid(), process_token()))
            conn.executemany(sc.INSERT_AGENT, [(run_id, *r[1:]) for r in agents])
            conn.executemany(sc.INSERT_METRIC, [(run_id, *r) for r in metric_rows])
            conn.executemany(sc.INSERT_EVENT, [(run_id, *e) for e in events])
        return run_id

    def observer(self, run_id: str) -> Callable[[StepRecord], None]:
        """``observer(record)`` writes one step of run ``run_id`` (agent, metrics row, event,
        the run's progress, best agent and generator state) in one transaction.

        Raises (when called):
            UnknownRunError: the run is not (or no longer) in the file.
            StoreError: the record is not the run's next iteration, or the write failed.
        """
        run_id, pid = str(run_id), os.getpid()
        # (best id, its fitness, its margin) after the last step this observer wrote; read
        # from the file on the first call and after any refused step.
        best: list = []

        def refuse(conn: sqlite3.Connection, rec: StepRecord) -> StoreError:
            row = conn.execute(sc.RUN_HEAD, (run_id,)).fetchone()
            if row is None:
                return UnknownRunError(f"run {run_id!r} is not in {self.path} "
                                       "(deleted, or never created)")
            m = rec.metrics
            return StoreError(
                f"run {run_id!r} ({row[1]}, seed {row[2]}) has {row[0]} iterations stored; "
                f"expected iteration {row[0] + 1} of it, got iteration {rec.iteration} of "
                f"({m['condition']}, seed {m['seed']}). Hand the observer the Run it was "
                "created from, or load_run() it first.")

        token = process_token()
        lock, checkout, checkin, path = self._lock, self._checkout, self._checkin, self.path
        metric_values = itemgetter(*METRIC_COLUMNS)

        def write(rec: StepRecord) -> None:
            child, ev, m = rec.child, rec.evaluation, rec.metrics
            agent = sc.agent_row(run_id, child, ev, rec.test_accuracy)
            metric = (run_id, *metric_values(m))
            fit, margin = float(ev.accuracy), float(ev.margin)
            event = (run_id, rec.iteration, child.parent_id, child.id, fit, int(rec.improved),
                     child.source, rec.summary, sc.encode_info(rec.info) if rec.info else "{}")
            tail = (float(m["best_fitness"]), float(m["best_test_accuracy"]),
                    sc.rng_json(rec.rng_state), sc.now(), pid, token)
            # The step's single transaction, inlined (no context managers): this is the hot path.
            with lock:
                conn = checkout()
                try:
                    cur = conn.cursor()
                    cur.execute("BEGIN IMMEDIATE")
                    if not best:
                        row = cur.execute(sc.RUN_HEAD, (run_id,)).fetchone()
                        if row is None or (m["condition"], m["seed"]) != row[1:3]:
                            raise refuse(conn, rec)
                        best[:] = row[3:] if row[4] is not None else (None, -math.inf, -math.inf)
                    # The archive's rule: highest train fitness, then margin, then the oldest.
                    b_id, b_fit, b_margin = best
                    if fit > b_fit or (fit == b_fit and margin > b_margin):
                        b_id, b_fit, b_margin = child.id, fit, margin
                    if cur.execute(sc.UPDATE_STEP,
                                   (run_id, rec.iteration, b_id, *tail)).rowcount != 1:
                        best.clear()
                        raise refuse(conn, rec)
                    cur.execute(sc.INSERT_AGENT, agent)
                    cur.execute(sc.INSERT_METRIC, metric)
                    if cur.execute(sc.INSERT_STEP_EVENT, event).rowcount != 1:
                        raise StoreError(f"run {run_id!r}: the parent {child.parent_id} of "
                                         f"iteration {rec.iteration} is not stored")
                    cur.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    raise sc.translate_error(exc, path) from None
                finally:
                    checkin(conn)
            best[:] = (b_id, b_fit, b_margin)

        return write

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Set a run's status to ``finished`` or ``interrupted``.

        Raises:
            ValueError: another status. UnknownRunError: no such run.
        """
        if status not in ("finished", "interrupted"):
            raise ValueError(f"status: expected 'finished' or 'interrupted', got {status!r}")
        with self._write() as conn:
            cur = conn.execute("UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?",
                               (status, sc.now(), run_id))
            if cur.rowcount == 0:
                raise self._unknown(run_id)

    def _claim(self, run_id: str) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT status, writer_pid, writer_token FROM runs "
                               "WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(run_id)
            status, pid, token = row
            if status == "running" and token != process_token() and writer_alive(pid, token):
                raise StoreError(f"run {run_id!r} is being written by process {pid}; wait for "
                                 "it to finish (or stop it) before continuing it here")
            conn.execute("UPDATE runs SET status = 'running', writer_pid = ?, writer_token = ?, "
                         "updated_at = ? WHERE run_id = ?",
                         (os.getpid(), process_token(), sc.now(), run_id))

    def continue_run(self, run_id: str, iterations: int, operator=None,
                     progress: Callable[[int, int], None] | None = None) -> Run:
        """Load run ``run_id`` and run ``iterations`` more steps, writing each; returns the Run.

        The run is ``running`` meanwhile, ``finished`` after, ``interrupted`` if a step fails
        (the steps before it stay). ``progress(done, iterations)`` is called after each step.

        Raises:
            ValueError: negative iterations. UnknownRunError: no such run.
            StoreError: another process or thread is writing this run.
        """
        if int(iterations) < 0:
            raise ValueError(f"iterations: expected an integer >= 0, got {iterations}")
        key = (str(self.path), str(run_id))
        with _GLOBAL:
            if key in _ACTIVE:
                raise StoreError(f"run {run_id!r} is already being continued in this process")
            _ACTIVE.add(key)
        try:
            self._claim(run_id)
            try:
                run = self.load_run(run_id, operator)
                bind_run(run.operator, run_id)
                write = self.observer(run_id)
                total, done = int(iterations), 0

                def observe(rec: StepRecord) -> None:
                    nonlocal done
                    write(rec)
                    done += 1
                    if progress is not None:
                        progress(done, total)

                run.run(total, observer=observe)
            except BaseException:
                try:
                    self.finish_run(run_id, "interrupted")
                except StoreError:
                    pass
                raise
            self.finish_run(run_id)
            return run
        finally:
            with _GLOBAL:
                _ACTIVE.discard(key)

    def delete_run(self, run_id: str) -> None:
        """Delete a run with all its rows (agents, metrics, events, LLM calls; reviews keep
        their row with ``run_id`` cleared) and its dataset if no other run uses it.

        Raises:
            UnknownRunError: no such run.
        """
        with self._write() as conn:
            row = conn.execute("SELECT dataset_hash FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise self._unknown(run_id)
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM datasets WHERE hash = ?1 AND NOT EXISTS "
                         "(SELECT 1 FROM runs WHERE dataset_hash = ?1)", (row[0],))

    # ---- ablations ---------------------------------------------------------------------------
    def save_ablation(self, df: pd.DataFrame, config: dict | None = None) -> str:
        """Save an ablation's tidy metrics (``METRIC_COLUMNS``); returns its id."""
        head, rows = sc.ablation_rows(df, config or {})
        with self._write() as conn:
            while True:
                aid = "ab-" + secrets.token_hex(4)
                if conn.execute("SELECT 1 FROM ablations WHERE ablation_id = ?",
                                (aid,)).fetchone() is None:
                    break
            conn.execute("INSERT INTO ablations (ablation_id, created_at, dataset, conditions, "
                         "n_seeds, iterations, n_rows, config) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (aid, sc.now(), *head))
            conn.executemany(
                f"INSERT INTO ablation_metrics (ablation_id, row, {', '.join(METRIC_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(METRIC_COLUMNS) + 2))})",
                [(aid, i, *r) for i, r in enumerate(rows)])
        return aid

    def delete_ablation(self, ablation_id: str) -> None:
        """Delete an ablation and its metric rows."""
        with self._write() as conn:
            if conn.execute("DELETE FROM ablations WHERE ablation_id = ?",
                            (ablation_id,)).rowcount == 0:
                raise self._unknown_ablation(ablation_id)

    # ---- reviews and LLM calls ---------------------------------------------------------------
    def add_review(self, record: dict) -> int:
        """Save one Live Review decision (see ``store_schema.review_row``); returns its id."""
        return self._insert_row("reviews", sc.review_row(record, sc.now()))

    def log_llm_call(self, record: dict) -> int:
        """Save one LLM call (see ``store_schema.llm_call_row``; keys are redacted, never
        stored); returns its id."""
        return self._insert_row("llm_calls", sc.llm_call_row(record, sc.now()))

    def _insert_row(self, table: str, row: dict) -> int:
        """Insert a validated row whose optional ``run_id`` must name an existing run."""
        with self._write() as conn:
            if row["run_id"] is not None:
                self._require(conn, [row["run_id"]])
            cols = ", ".join(row)
            return conn.execute(f"INSERT INTO {table} ({cols}) VALUES "
                                f"({', '.join(':' + c for c in row)})", row).lastrowid


__all__ = ["Store", "StoreError", "UnknownRunError", "default_db_path", "DEFAULT_DB_NAME",
           "SCHEMA_VERSION", "POOL_SIZE", "process_token", "writer_alive", "dataset_record"]
