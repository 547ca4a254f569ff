"""Read side of the store: SQL in, pandas DataFrames and live objects out.

The module functions take an open ``sqlite3.Connection`` and only read; ``StoreReads`` (mixed
into ``engine.store.Store``) wraps them in one read transaction each, a consistent snapshot.
Column names and dtypes match the in-memory objects they mirror: ``metrics`` equals
``Run.metrics_frame()`` plus ``run_id``, ``parent_id`` is pandas ``Int64``.

A run's status as read: ``running`` while its writer process lives (the writer is recorded as
pid and ``pid:start-time`` token, so a reused pid is told apart), otherwise ``interrupted``.

Public names: RUN_COLUMNS, AGENT_COLUMNS, EVENT_COLUMNS, REVIEW_COLUMNS, LLM_CALL_COLUMNS,
ABLATION_COLUMNS, StoreReads, process_token, writer_alive, read_status, dataset_from_record,
frame, runs, metrics, agents_frame, agent_records, events, reviews, llm_calls, ablations,
ablation_metrics.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from engine.dataset import Dataset, Split
from engine.policy import FEATURES, HyperAgent
from engine.run import METRIC_COLUMNS, STATE_VERSION, Run
from engine.store_schema import StoreError, UnknownRunError

RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "kind", "group_id", "condition", "seed", "dataset", "iterations",
    "best_agent_id", "best_train", "best_test", "status", "created_at", "updated_at",
)
AGENT_COLUMNS: tuple[str, ...] = (
    "id", "parent_id", "generation", "iteration", "train_accuracy", "test_accuracy", "margin",
    "n_fp", "n_fn", "fp_ids", "fn_ids", "review_style", "threshold", "focus_metric",
    "weight_step", "threshold_step", "exploration_scale", "source", "summary",
    *(f"w_{f}" for f in FEATURES),
)
EVENT_COLUMNS: tuple[str, ...] = (
    "iteration", "parent_id", "child_id", "parent_fitness", "child_fitness", "delta",
    "improved", "source", "summary", "info",
)
REVIEW_COLUMNS: tuple[str, ...] = (
    "id", "created_at", "run_id", "agent_id", "repo", "source", *FEATURES, "score",
    "threshold", "decision", "label", "llm_review",
)
LLM_CALL_COLUMNS: tuple[str, ...] = (
    "id", "created_at", "run_id", "iteration", "purpose", "model", "prompt", "response",
    "prompt_tokens", "completion_tokens", "latency_s", "outcome", "error",
)
ABLATION_COLUMNS: tuple[str, ...] = (
    "ablation_id", "created_at", "dataset", "conditions", "n_seeds", "iterations", "n_rows",
    "config",
)
_METRIC_SQL = ", ".join(METRIC_COLUMNS)


def frame(conn: sqlite3.Connection, sql: str, params: Sequence = (),
          columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``sql`` as a DataFrame (columns from the cursor, or ``columns``)."""
    cur = conn.execute(sql, tuple(params))
    names = list(columns) if columns is not None else [d[0] for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=names)


def _int64(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        df[c] = df[c].astype("Int64")
    return df


def runs(conn: sqlite3.Connection) -> pd.DataFrame:
    """Every run, newest first, with ``RUN_COLUMNS`` plus ``writer_pid`` and ``writer_token``
    (the caller turns a dead writer's ``running`` into ``interrupted``)."""
    cols = ", ".join(RUN_COLUMNS)
    df = frame(conn, f"SELECT {cols}, writer_pid, writer_token FROM runs "
                     "ORDER BY created_at DESC, rowid DESC")
    return _int64(df, "best_agent_id", "writer_pid")


def metrics(conn: sqlite3.Connection, run_ids: Sequence[str]) -> pd.DataFrame:
    """``METRIC_COLUMNS`` + ``run_id`` of the given runs, in the given order, by iteration."""
    parts = []
    for rid in run_ids:
        df = frame(conn, f"SELECT {_METRIC_SQL}, run_id FROM metrics WHERE run_id = ? "
                         "ORDER BY iteration", (rid,), [*METRIC_COLUMNS, "run_id"])
        parts.append(df)
    if not parts:
        df = pd.DataFrame(columns=[*METRIC_COLUMNS, "run_id"])
    else:
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return _int64(df, "parent_id")


def agents_frame(conn: sqlite3.Connection, run_id: str) -> pd.DataFrame:
    """One row per agent (``AGENT_COLUMNS`` + ``children``), by id; FP/FN ids as lists."""
    sql_cols = ["agent_id" if c == "id" else c for c in AGENT_COLUMNS]
    df = frame(conn, f"SELECT {', '.join(sql_cols)} FROM agents WHERE run_id = ? "
                     "ORDER BY agent_id", (run_id,), AGENT_COLUMNS)
    df["fp_ids"] = [json.loads(s) for s in df["fp_ids"]]
    df["fn_ids"] = [json.loads(s) for s in df["fn_ids"]]
    _int64(df, "parent_id")
    counts = df["parent_id"].value_counts()
    df["children"] = df["id"].map(counts).fillna(0).astype("int64")
    return df.set_index("id", drop=False)


def agent_records(conn: sqlite3.Connection, run_id: str,
                  agent_id: int | None = None) -> list[dict]:
    """``HyperAgent.to_dict()`` dicts of a run's agents in id order (or of one agent)."""
    sql = ("SELECT agent_id, parent_id, generation, iteration, task, meta, summary, source "
           "FROM agents WHERE run_id = ?")
    params: tuple = (run_id,)
    if agent_id is not None:
        sql += " AND agent_id = ?"
        params = (run_id, int(agent_id))
    out = []
    for aid, pid, gen, it, task, meta, note, source in conn.execute(
            sql + " ORDER BY agent_id", params):
        out.append({"id": aid, "parent_id": pid, "generation": gen, "iteration": it,
                    "task": json.loads(task), "meta": json.loads(meta), "note": note,
                    "source": source})
    return out


def events(conn: sqlite3.Connection, run_id: str) -> pd.DataFrame:
    """The mutation log of a run (``EVENT_COLUMNS``) by iteration; ``info`` is JSON text."""
    df = frame(conn, f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE run_id = ? "
                     "ORDER BY iteration", (run_id,), EVENT_COLUMNS)
    df["improved"] = df["improved"].astype(bool)
    return df


def reviews(conn: sqlite3.Connection, limit: int) -> pd.DataFrame:
    """The newest ``limit`` reviews (``REVIEW_COLUMNS``), newest first."""
    rows = []
    for r in conn.execute(
            "SELECT id, created_at, run_id, agent_id, repo, source, features, score, threshold,"
            " decision, label, llm_review FROM reviews ORDER BY id DESC LIMIT ?", (int(limit),)):
        feats = json.loads(r[6])
        rows.append((*r[:6], *(feats.get(f) for f in FEATURES), *r[7:]))
    df = pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))
    return _int64(df, "agent_id")


def llm_calls(conn: sqlite3.Connection, run_id: str | None) -> pd.DataFrame:
    """Logged LLM calls (``LLM_CALL_COLUMNS``) in call order, of one run or all."""
    cols = ", ".join(LLM_CALL_COLUMNS)
    if run_id is None:
        df = frame(conn, f"SELECT {cols} FROM llm_calls ORDER BY id", (), LLM_CALL_COLUMNS)
    else:
        df = frame(conn, f"SELECT {cols} FROM llm_calls WHERE run_id = ? ORDER BY id",
                   (run_id,), LLM_CALL_COLUMNS)
    return _int64(df, "iteration", "prompt_tokens", "completion_tokens")


def ablations(conn: sqlite3.Connection) -> pd.DataFrame:
    """Saved ablations (``ABLATION_COLUMNS``), newest first; ``config`` is JSON text."""
    return frame(conn, f"SELECT {', '.join(ABLATION_COLUMNS)} FROM ablations "
                       "ORDER BY created_at DESC, rowid DESC", (), ABLATION_COLUMNS)


def ablation_metrics(conn: sqlite3.Connection, ablation_id: str) -> pd.DataFrame:
    """The tidy ``METRIC_COLUMNS`` frame of one ablation, in the order it was saved."""
    df = frame(conn, f"SELECT {_METRIC_SQL} FROM ablation_metrics WHERE ablation_id = ? "
                     "ORDER BY row", (ablation_id,), METRIC_COLUMNS)
    return _int64(df, "parent_id")


# ---- writers and status ------------------------------------------------------------------------
def _proc_start(pid: int) -> str | None:
    """Start time of ``pid`` (clock ticks since boot), ``"Z"`` for a zombie, None if unknown."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    return "Z" if fields[0] == b"Z" else fields[19].decode()


_TOKEN: tuple[int, str] | None = None


def process_token() -> str:
    """``pid:start`` of this process, recorded with the runs it writes."""
    global _TOKEN
    pid = os.getpid()
    if _TOKEN is None or _TOKEN[0] != pid:
        _TOKEN = (pid, f"{pid}:{_proc_start(pid) or secrets.token_hex(8)}")
    return _TOKEN[1]


def writer_alive(pid, token: str | None) -> bool:
    """Whether the process that recorded ``token`` still runs."""
    if pid is None or token is None or pd.isna(pid):
        return False
    pid = int(pid)
    if pid == os.getpid():
        return token == process_token()
    start = _proc_start(pid)
    if start is not None:
        return token == f"{pid}:{start}"
    if os.name != "posix" or Path("/proc/self/stat").exists():
        return False
    try:
        os.kill(pid, 0)  # no /proc (macOS): the pid alone
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(status: str, pid, token: str | None) -> str:
    """The status to show: a ``running`` run whose writer is gone reads ``interrupted``."""
    if status == "running" and not writer_alive(pid, token):
        return "interrupted"
    return status


def dataset_from_record(name: str, description: str, rows_json: str) -> Dataset:
    """Rebuild the exact ``Dataset`` stored as ``to_csv_rows`` rows plus ``difficulty``."""
    rows = json.loads(rows_json)

    def split(part: str) -> Split:
        sel = [r for r in rows if r["split"] == part]
        X = np.array([[r[f] for f in FEATURES] for r in sel], dtype=np.float64)
        return Split(tuple(r["id"] for r in sel), tuple(r["name"] for r in sel),
                     X.reshape(len(sel), len(FEATURES)),
                     np.array([r["label"] == "accepted" for r in sel], dtype=bool),
                     tuple(r.get("difficulty", "unknown") for r in sel))

    return Dataset(name, split("train"), split("test"), description)


# ---- the read methods of Store -----------------------------------------------------------------
class StoreReads:
    """Read methods of ``engine.store.Store`` (which provides ``path``, ``_read`` and
    ``_datasets``). Unknown run ids raise ``UnknownRunError`` (a ``KeyError``)."""

    path: Path
    _datasets: dict[str, Dataset]

    def _unknown(self, run_id: str) -> UnknownRunError:
        return UnknownRunError(f"no run {run_id!r} in {self.path}; "
                               "`python -m engine runs list` shows the saved runs")

    def _require(self, conn: sqlite3.Connection, run_ids: Sequence[str]) -> None:
        for rid in run_ids:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (rid,)).fetchone() is None:
                raise self._unknown(rid)

    def list_runs(self) -> pd.DataFrame:
        """Every run (``RUN_COLUMNS``), newest first."""
        with self._read() as conn:
            df = runs(conn)
        df["status"] = [read_status(s, p, t) for s, p, t in
                        zip(df["status"], df["writer_pid"], df["writer_token"])]
        return df[list(RUN_COLUMNS)]

    def get_run(self, run_id: str) -> dict | None:
        """The run's row (``config`` decoded, ``dataset_name`` added, no generator state)."""
        with self._read() as conn:
            cur = conn.execute("SELECT r.*, d.name AS dataset_name FROM runs r JOIN datasets d "
                               "ON d.hash = r.dataset_hash WHERE run_id = ?", (str(run_id),))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            return None
        out = dict(zip(names, row))
        out["status"] = read_status(out["status"], out["writer_pid"], out.pop("writer_token"))
        out["config"] = json.loads(out["config"])
        del out["rng_state"]
        return out

    def dataset_for_run(self, run_id: str) -> Dataset:
        """The exact dataset the run was made on (stored with it)."""
        with self._read() as conn:
            row = conn.execute("SELECT d.hash, d.name, d.description, d.rows FROM runs r JOIN "
                               "datasets d ON d.hash = r.dataset_hash WHERE r.run_id = ?",
                               (run_id,)).fetchone()
        if row is None:
            raise self._unknown(run_id)
        ds = self._datasets.get(row[0])
        if ds is None:
            ds = self._datasets.setdefault(row[0], dataset_from_record(*row[1:]))
        return ds

    def load_run(self, run_id: str, operator=None) -> Run:
        """A live ``Run`` at the run's last committed step, ready to ``step()`` on.

        Raises:
            UnknownRunError: no such run. StoreError: a state this program cannot rebuild.
        """
        with self._read() as conn:
            row = conn.execute("SELECT condition, seed, iterations, rng_state, state_version "
                               "FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(run_id)
            agents = agent_records(conn, run_id)
            mrows = conn.execute(f"SELECT {_METRIC_SQL} FROM metrics WHERE run_id = ? "
                                 "ORDER BY iteration", (run_id,)).fetchall()
        condition, seed, iterations, rng_state, version = row
        if version != STATE_VERSION:
            raise StoreError(f"run {run_id!r} was saved with state version {version}; this "
                             f"program continues version {STATE_VERSION} only")
        if not len(agents) == len(mrows) == iterations + 1:
            raise StoreError(f"run {run_id!r} is inconsistent: {iterations} iterations, "
                             f"{len(agents)} agents, {len(mrows)} metric rows")
        ds = self.dataset_for_run(run_id)
        try:
            return Run.from_agents(ds, condition, seed,
                                   [HyperAgent.from_dict(a) for a in agents],
                                   json.loads(rng_state), iterations, operator, mrows)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"run {run_id!r} cannot be rebuilt: {exc}") from None

    def archive_frame(self, run_id: str) -> pd.DataFrame:
        """``Archive.to_frame()`` of the run rebuilt from the file (what the pages show)."""
        return self.load_run(run_id).archive.to_frame()

    def metrics(self, run_ids: str | Sequence[str]) -> pd.DataFrame:
        """``METRIC_COLUMNS`` + ``run_id``: the runs in the given order, each by iteration."""
        ids = [run_ids] if isinstance(run_ids, str) else [str(r) for r in run_ids]
        with self._read() as conn:
            self._require(conn, ids)
            return metrics(conn, ids)

    def agents_frame(self, run_id: str) -> pd.DataFrame:
        """One row per agent (``AGENT_COLUMNS`` + ``children``), indexed by id."""
        with self._read() as conn:
            self._require(conn, [run_id])
            return agents_frame(conn, run_id)

    def agent(self, run_id: str, agent_id: int) -> HyperAgent | None:
        """One stored agent, or None (unknown run or agent)."""
        with self._read() as conn:
            rec = agent_records(conn, run_id, agent_id)
        return HyperAgent.from_dict(rec[0]) if rec else None

    def events(self, run_id: str) -> pd.DataFrame:
        """The run's mutation log (``EVENT_COLUMNS``), by iteration."""
        with self._read() as conn:
            self._require(conn, [run_id])
            return events(conn, run_id)

    def export_csv(self, path, run_id: str | None = None) -> int:
        """Write the metrics of one run (or of every run, oldest first) as CSV
        (``METRIC_COLUMNS`` + ``run_id``); returns the number of rows.

        Raises:
            UnknownRunError: no such run. StoreError: ``path`` is the database itself.
        """
        out = Path(path).expanduser()
        if out.resolve() == self.path.resolve():
            raise StoreError(f"{out} is the database file itself; choose another CSV path")
        ids = list(self.list_runs()["run_id"])[::-1] if run_id is None else [run_id]
        df = self.metrics(ids)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(out, index=False, lineterminator="\n")
        except OSError as exc:
            raise StoreError(f"cannot write {out} ({exc.strerror or exc}); choose a writable "
                             "path") from None
        return len(df)

    def list_ablations(self) -> pd.DataFrame:
        """Saved ablations (``ABLATION_COLUMNS``), newest first."""
        with self._read() as conn:
            return ablations(conn)

    def _unknown_ablation(self, ablation_id: str) -> UnknownRunError:
        return UnknownRunError(f"no ablation {ablation_id!r} in {self.path}")

    def ablation_metrics(self, ablation_id: str) -> pd.DataFrame:
        """The saved ``METRIC_COLUMNS`` frame of one ablation, in the order it was saved."""
        with self._read() as conn:
            if conn.execute("SELECT 1 FROM ablations WHERE ablation_id = ?",
                            (ablation_id,)).fetchone() is None:
                raise self._unknown_ablation(ablation_id)
            return ablation_metrics(conn, ablation_id)

    def reviews(self, limit: int = 100) -> pd.DataFrame:
        """The newest ``limit`` reviews (``REVIEW_COLUMNS``), newest first."""
        with self._read() as conn:
            return reviews(conn, limit)

    def llm_calls(self, run_id: str | None = None) -> pd.DataFrame:
        """Logged LLM calls (``LLM_CALL_COLUMNS``) in call order, of one run or all."""
        with self._read() as conn:
            return llm_calls(conn, run_id)
