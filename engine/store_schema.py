"""The store's schema as numbered migrations, the checks made before a file is opened, and
the validation of rows that come from outside the loop (reviews, LLM calls, ablations).

The schema version lives in ``PRAGMA user_version``. Opening a file applies every migration
above its version, each in its own ``BEGIN IMMEDIATE`` transaction together with the new
version number, so a crash mid-upgrade leaves the file at the previous version. A file whose
version is above ``SCHEMA_VERSION`` was written by a newer program and is refused untouched, as
is a file that is not SQLite at all, or a SQLite database of another program (version 0 with
tables in it).

Migrations (append only; never edit a released one):

- ``m001_create_runs``: ``datasets``, ``runs``, ``agents``, ``metrics``, ``events``.
- ``m002_create_reviews_and_llm_calls``: ``reviews`` (Live Review), ``llm_calls`` (OpenAI).
- ``m003_create_ablations``: ``ablations``, ``ablation_metrics``; ``runs.kind`` and
  ``runs.group_id`` to group runs.

Public names: StoreError, UnknownRunError, MIGRATIONS, SCHEMA_VERSION, SQLITE_HEADER,
REVIEW_FIELDS, REVIEW_SOURCES, LLM_CALL_FIELDS, AGENT_COLS, INSERT_AGENT, INSERT_METRIC,
INSERT_EVENT, INSERT_STEP_EVENT, RUN_HEAD, UPDATE_STEP, check_file, read_version, migrate,
translate_error, now, encode, encode_info, meta_json, task_json, rng_json, agent_row, review_row,
llm_call_row, ablation_rows, redact.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from engine.policy import FEATURES, HyperAgent
from engine.run import METRIC_COLUMNS

SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(Exception):
    """A database that cannot be used as asked; the message says why and what to do."""


class UnknownRunError(StoreError, KeyError):
    """No run (or ablation) with that id; also a ``KeyError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_M001 = """
CREATE TABLE datasets (
    hash TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
    n_train INTEGER NOT NULL, n_test INTEGER NOT NULL, rows TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, condition TEXT NOT NULL, seed INTEGER NOT NULL,
    dataset TEXT NOT NULL, dataset_hash TEXT NOT NULL REFERENCES datasets(hash),
    config TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
    iterations INTEGER NOT NULL, best_agent_id INTEGER, best_train REAL, best_test REAL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, state_version INTEGER NOT NULL,
    rng_state TEXT NOT NULL, writer_pid INTEGER, writer_token TEXT
);
CREATE INDEX runs_created ON runs(created_at);
CREATE INDEX runs_dataset ON runs(dataset_hash);
CREATE TABLE agents (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, agent_id INTEGER NOT NULL,
    parent_id INTEGER, generation INTEGER NOT NULL, iteration INTEGER NOT NULL,
    train_accuracy REAL NOT NULL, test_accuracy REAL NOT NULL, margin REAL NOT NULL,
    n_fp INTEGER NOT NULL, n_fn INTEGER NOT NULL, fp_ids TEXT NOT NULL, fn_ids TEXT NOT NULL,
    threshold REAL NOT NULL, review_style TEXT NOT NULL, w_maintainability REAL NOT NULL,
    w_security REAL NOT NULL, w_test_coverage REAL NOT NULL, w_documentation REAL NOT NULL,
    w_simplicity REAL NOT NULL, focus_metric TEXT NOT NULL, weight_step REAL NOT NULL,
    threshold_step REAL NOT NULL, exploration_scale REAL NOT NULL, task TEXT NOT NULL,
    meta TEXT NOT NULL, source TEXT NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, iteration INTEGER NOT NULL,
    condition TEXT NOT NULL, seed INTEGER NOT NULL, best_fitness REAL NOT NULL,
    best_test_accuracy REAL NOT NULL, child_train_accuracy REAL NOT NULL,
    child_test_accuracy REAL NOT NULL, archive_size INTEGER NOT NULL,
    weight_step REAL NOT NULL, threshold_step REAL NOT NULL, exploration_scale REAL NOT NULL,
    focus_metric TEXT NOT NULL, mutation_source TEXT NOT NULL, parent_id INTEGER,
    child_id INTEGER NOT NULL, PRIMARY KEY (run_id, iteration)
) WITHOUT ROWID;
CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, iteration INTEGER NOT NULL,
    parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL, parent_fitness REAL NOT NULL,
    child_fitness REAL NOT NULL, delta REAL NOT NULL, improved INTEGER NOT NULL,
    source TEXT NOT NULL, summary TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, iteration)
) WITHOUT ROWID;
"""

# A review outlives the run whose agent made it (run_id is cleared); an LLM call belongs to its
# run and goes with it.
_M002 = """
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
    run_id TEXT REFERENCES runs(run_id) ON DELETE SET NULL, agent_id INTEGER, repo TEXT,
    source TEXT NOT NULL CHECK (source IN ('sliders', 'folder', 'zip', 'url')),
    features TEXT NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected')),
    label TEXT CHECK (label IS NULL OR label IN ('accepted', 'rejected')), llm_review TEXT
);
CREATE INDEX reviews_created ON reviews(created_at);
CREATE INDEX reviews_run ON reviews(run_id);
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
    run_id TEXT REFERENCES runs(run_id) ON DELETE CASCADE, iteration INTEGER,
    purpose TEXT NOT NULL, model TEXT NOT NULL, prompt TEXT NOT NULL, response TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX llm_calls_run ON llm_calls(run_id, id);
"""

_M003 = """
CREATE TABLE ablations (
    ablation_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, dataset TEXT,
    conditions TEXT NOT NULL, n_seeds INTEGER NOT NULL, iterations INTEGER NOT NULL,
    n_rows INTEGER NOT NULL, config TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ablations_created ON ablations(created_at);
CREATE TABLE ablation_metrics (
    ablation_id TEXT NOT NULL REFERENCES ablations(ablation_id) ON DELETE CASCADE,
    row INTEGER NOT NULL, condition TEXT NOT NULL, seed INTEGER NOT NULL,
    iteration INTEGER NOT NULL, best_fitness REAL NOT NULL, best_test_accuracy REAL NOT NULL,
    child_train_accuracy REAL NOT NULL, child_test_accuracy REAL NOT NULL,
    archive_size INTEGER NOT NULL, weight_step REAL NOT NULL, threshold_step REAL NOT NULL,
    exploration_scale REAL NOT NULL, focus_metric TEXT NOT NULL, mutation_source TEXT NOT NULL,
    parent_id INTEGER, child_id INTEGER NOT NULL, PRIMARY KEY (ablation_id, row)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';
ALTER TABLE runs ADD COLUMN group_id TEXT;
CREATE INDEX runs_group ON runs(group_id);
"""

# (number, name, SQL). The number is the ``user_version`` after the migration.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "m001_create_runs", _M001),
    (2, "m002_create_reviews_and_llm_calls", _M002),
    (3, "m003_create_ablations", _M003),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a path that is a folder or a non-empty non-SQLite file.

    An empty file is accepted: SQLite treats it as an empty database.

    Raises:
        StoreError: the path is a folder, unreadable, or not a SQLite database.
    """
    if path.is_dir():
        raise StoreError(f"{path} is a folder: expected a SQLite database file "
                         f"(for example {path / 'hyperagents.db'})")
    if not path.exists():
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror or exc}); expected a readable "
                         "SQLite database file") from None
    if head and head != SQLITE_HEADER:
        raise StoreError(f"{path} is not a SQLite database (its first bytes are not "
                         f"'SQLite format 3'); it was left untouched. Choose another file with "
                         f"--db or HYPERAGENTS_DB.")


def read_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, refusing one newer than this program understands and another
    program's database.

    Raises:
        StoreError: newer schema, foreign database, locked file, or a file SQLite cannot read.
    """
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise translate_error(exc, path) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this program supports "
            f"(up to {SCHEMA_VERSION}); it was written by a newer hyperagents and was left "
            f"untouched. Upgrade hyperagents or choose another file.")
    if version == 0:
        # Version 0 with tables: another program's database (our first migration sets the
        # version in the same transaction that creates the tables).
        try:
            foreign = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")]
        except sqlite3.DatabaseError as exc:
            raise translate_error(exc, path) from None
        if foreign:
            raise StoreError(f"{path} is a SQLite database of another program (it holds "
                             f"{', '.join(foreign[:5])}); hyperagents opens only its own "
                             "files or a new or empty one. It was left untouched; choose "
                             "another file with --db or HYPERAGENTS_DB.")
    return version


def migrate(conn: sqlite3.Connection, path: Path, target: int | None = None) -> int:
    """Apply every migration above the file's version up to ``target`` (default: latest).

    ``conn`` must be in autocommit mode (``isolation_level=None``). Returns the new version.

    Raises:
        StoreError: as ``read_version``, or a migration failed (the file keeps its version).
    """
    target = SCHEMA_VERSION if target is None else int(target)
    version = read_version(conn, path)
    for number, name, sql in MIGRATIONS:
        if number <= version or number > target:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Re-read inside the lock: another process may have migrated meanwhile.
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= number:
                conn.execute("COMMIT")
                continue
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{path}: migration {name} failed: {translate_error(exc, path)}") \
                from None
        version = number
    return read_version(conn, path)


def translate_error(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    """A ``StoreError`` that says in plain words what a SQLite error means for ``path``."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(f"{path} is locked by another program (SQLite: {text}); close the "
                          f"program that holds it, or choose another file with --db or "
                          f"HYPERAGENTS_DB. The file was left untouched.")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is not a usable SQLite database (SQLite: {text}); it was "
                          f"left untouched. Choose another file with --db or HYPERAGENTS_DB.")
    if "unable to open" in text:
        return StoreError(f"cannot open or create {path} (SQLite: {text}); check that its "
                          "folder exists and is writable, or choose another file with --db")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path} is read-only (SQLite: {text}); make it writable or choose "
                          "another file with --db or HYPERAGENTS_DB")
    return StoreError(f"{path}: SQLite error: {text}")


# ---- rows the loop writes --------------------------------------------------------------------
AGENT_COLS = ("run_id, agent_id, parent_id, generation, iteration, train_accuracy, "
               "test_accuracy, margin, n_fp, n_fn, fp_ids, fn_ids, threshold, review_style, "
               + ", ".join(f"w_{f}" for f in FEATURES)
               + ", focus_metric, weight_step, threshold_step, exploration_scale, task, meta, "
                 "source, summary")
INSERT_AGENT = f"INSERT INTO agents ({AGENT_COLS}) VALUES ({', '.join('?' * 27)})"
INSERT_METRIC = (f"INSERT INTO metrics (run_id, {', '.join(METRIC_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * (len(METRIC_COLUMNS) + 1))})")
INSERT_EVENT = ("INSERT INTO events (run_id, iteration, parent_id, child_id, parent_fitness, "
                 "child_fitness, delta, improved, source, summary, info) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# The step's event reads the parent's fitness from its stored row (a StepRecord carries the
# parent agent, not its evaluation).
INSERT_STEP_EVENT = (
    "INSERT INTO events (run_id, iteration, parent_id, child_id, parent_fitness, child_fitness, "
    "delta, improved, source, summary, info) SELECT ?1, ?2, ?3, ?4, train_accuracy, ?5, "
    "?5 - train_accuracy, ?6, ?7, ?8, ?9 FROM agents WHERE run_id = ?1 AND agent_id = ?3")
RUN_HEAD = ("SELECT r.iterations, r.condition, r.seed, r.best_agent_id, a.train_accuracy, "
             "a.margin FROM runs r LEFT JOIN agents a ON a.run_id = r.run_id AND "
             "a.agent_id = r.best_agent_id WHERE r.run_id = ?")
# Updating only when the stored iteration is the one before this step makes a step written
# twice, out of order, or to a deleted run change nothing (rowcount 0) instead of forking it.
UPDATE_STEP = (
    "UPDATE runs SET iterations = ?2, best_agent_id = ?3, best_train = ?4, best_test = ?5, "
    "rng_state = ?6, updated_at = ?7, status = 'running', writer_pid = ?8, writer_token = ?9 "
    "WHERE run_id = ?1 AND iterations = ?2 - 1")


# The frozen policy records serialise as their fields in declaration order: the same JSON as
# ``json.dumps(x.to_dict())`` at a fraction of ``dataclasses.asdict``'s cost (a test holds the
# two equal).
encode = json.JSONEncoder(default=vars).encode
encode_info = json.JSONEncoder(default=str).encode


# A child's memory is its parent's notes plus one: each note object is encoded once.
_NOTES: dict[int, tuple[object, str]] = {}


def _num(x) -> str:
    """A number as ``json.dumps`` writes it (numpy scalars as the Python number they hold)."""
    return repr(x) if type(x) in (float, int) else repr(float(x))


def meta_json(m) -> str:
    """``json.dumps(m.to_dict())``, spelled out (floats and ints print as ``repr`` in both;
    the focus is one of ``FOCUS_METRICS``, which need no escaping)."""
    parts = []
    for note in m.memory:
        hit = _NOTES.get(id(note))
        if hit is None or hit[0] is not note:
            if len(_NOTES) > 4096:
                _NOTES.clear()
            hit = _NOTES[id(note)] = (note, encode(vars(note)))
        parts.append(hit[1])
    return (f'{{"focus_metric": "{m.focus_metric}", "weight_step": {_num(m.weight_step)}, '
            f'"threshold_step": {_num(m.threshold_step)}, '
            f'"exploration_scale": {_num(m.exploration_scale)}, '
            f'"meta_rate": {_num(m.meta_rate)}, "shrink": {_num(m.shrink)}, '
            f'"grow": {_num(m.grow)}, "memory": [{", ".join(parts)}]}}')


def task_json(t) -> str:
    """``json.dumps(t.to_dict())``, spelled out (the style is one of ``STYLES``)."""
    w = ", ".join(map(_num, t.weights))
    return (f'{{"weights": [{w}], "threshold": {_num(t.threshold)}, '
            f'"review_style": "{t.review_style}"}}')


_PCG64_KEYS = ["bit_generator", "state", "has_uint32", "uinteger"]


def rng_json(state: dict) -> str:
    """``json.dumps(state)`` of a generator state; numpy's PCG64 layout is spelled out."""
    inner = state.get("state")
    if (list(state) == _PCG64_KEYS and state["bit_generator"] == "PCG64"
            and isinstance(inner, dict) and list(inner) == ["state", "inc"]):
        return (f'{{"bit_generator": "PCG64", "state": {{"state": {inner["state"]}, '
                f'"inc": {inner["inc"]}}}, "has_uint32": {state["has_uint32"]}, '
                f'"uinteger": {state["uinteger"]}}}')
    return encode(state)


def agent_row(run_id: str, a: HyperAgent, ev, test_accuracy: float) -> tuple:
    t, m = a.task, a.meta
    return (run_id, a.id, a.parent_id, a.generation, a.iteration, float(ev.accuracy),
            float(test_accuracy), float(ev.margin), ev.n_fp, ev.n_fn, encode(ev.fp_ids),
            encode(ev.fn_ids), t.threshold, t.review_style, *t.weights, m.focus_metric,
            m.weight_step, m.threshold_step, m.exploration_scale, task_json(t),
            meta_json(m), a.source, a.note)


# ---- rows from outside the loop ----------------------------------------------------------------
REVIEW_FIELDS: tuple[str, ...] = (
    "created_at", "run_id", "agent_id", "repo", "source", "features", "score", "threshold",
    "decision", "label", "llm_review",
)
REVIEW_SOURCES: tuple[str, ...] = ("sliders", "folder", "zip", "url")
LLM_CALL_FIELDS: tuple[str, ...] = (
    "created_at", "run_id", "iteration", "purpose", "model", "prompt", "response",
    "prompt_tokens", "completion_tokens", "latency_s", "outcome", "error",
)
_DECISIONS = ("accepted", "rejected")
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(?i)bearer\s+\S+")


def redact(text: str | None) -> str | None:
    """``text`` with anything shaped like an OpenAI key, bearer tokens and the value of
    ``$OPENAI_API_KEY`` masked."""
    if text is None:
        return None
    key = os.environ.get("OPENAI_API_KEY", "")
    if len(key) >= 8:
        text = text.replace(key, "***")
    return _BEARER.sub("Bearer ***", _KEY_LIKE.sub("sk-***", text))


def _fields(record, allowed: tuple[str, ...], required: tuple[str, ...], what: str) -> dict:
    if not isinstance(record, Mapping):
        raise StoreError(f"{what}: expected a dict, got {type(record).__name__}")
    extra = sorted(set(record) - set(allowed))
    missing = [k for k in required if record.get(k) is None]
    if extra or missing:
        raise StoreError(f"{what}: unexpected fields {extra}, missing fields {missing}; "
                         f"expected {', '.join(allowed)} (API keys are never stored)")
    return {k: record.get(k) for k in allowed}


def _number(value, name: str, what: str, *, integer: bool = False, optional: bool = False,
            low: float = -math.inf, high: float = math.inf):
    if value is None and optional:
        return None
    try:
        bad = isinstance(value, bool) or (integer and float(value) != int(value))
        v = int(value) if integer else float(value)
    except (TypeError, ValueError, OverflowError):
        bad = True
    if bad or not (math.isfinite(v) and low <= v <= high):
        kind = "an integer" if integer else "a finite number"
        raise StoreError(f"{what}: {name} must be {kind} in [{low}, {high}], got {value!r}")
    return v


def _text(value, name: str, what: str, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{what}: {name} must be text, got {type(value).__name__}")
    return value


def _choice(value, name: str, choices: tuple[str, ...], what: str) -> str:
    if isinstance(value, bool) and choices == _DECISIONS:
        return "accepted" if value else "rejected"
    if value not in choices:
        raise StoreError(f"{what}: {name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _json_value(value, name: str, what: str):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise StoreError(f"{what}: {name} must be JSON text or a dict") from None
    return value


def review_row(record: Mapping, created_at: str) -> dict:
    """The ``reviews`` row of one Live Review decision, validated.

    ``features``: the five ``FEATURES`` values in [0, 1] (dict, list or JSON text);
    ``score``/``threshold``: finite numbers; ``decision``/``label``: accepted/rejected (or a
    bool; ``label`` may be None); ``source``: one of ``REVIEW_SOURCES``; ``llm_review``: None, a
    dict or JSON text; ``run_id``/``agent_id``/``repo``: optional.

    Raises:
        StoreError: naming the field and what was expected.
    """
    what = "review"
    r = _fields(record, REVIEW_FIELDS, ("features", "score", "threshold", "decision", "source"),
                what)
    feats = _json_value(r["features"], "features", what)
    if isinstance(feats, Mapping):
        missing = [f for f in FEATURES if f not in feats]
        if missing:
            raise StoreError(f"{what}: features lacks {missing}; expected {', '.join(FEATURES)}")
        feats = [feats[f] for f in FEATURES]
    if not isinstance(feats, list | tuple) or len(feats) != len(FEATURES):
        raise StoreError(f"{what}: features must give the {len(FEATURES)} values "
                         f"{', '.join(FEATURES)}")
    values = {f: _number(v, f, what, low=0.0, high=1.0) for f, v in zip(FEATURES, feats)}
    llm = _json_value(r["llm_review"], "llm_review", what)
    return {
        "created_at": _text(r["created_at"], "created_at", what) or created_at,
        "run_id": None if r["run_id"] is None else str(r["run_id"]),
        "agent_id": _number(r["agent_id"], "agent_id", what, integer=True, optional=True),
        "repo": _text(r["repo"], "repo", what),
        "source": _choice(r["source"], "source", REVIEW_SOURCES, what),
        "features": json.dumps(values),
        "score": _number(r["score"], "score", what),
        "threshold": _number(r["threshold"], "threshold", what),
        "decision": _choice(r["decision"], "decision", _DECISIONS, what),
        "label": None if r["label"] is None else _choice(r["label"], "label", _DECISIONS, what),
        "llm_review": None if llm is None else json.dumps(llm),
    }


def llm_call_row(record: Mapping, created_at: str) -> dict:
    """The ``llm_calls`` row of one call, validated, with every text field ``redact``-ed.

    Required: ``purpose``, ``model``, ``prompt``, ``outcome`` (text). Optional: ``run_id``,
    ``iteration``, ``response``, ``prompt_tokens``, ``completion_tokens`` (integers >= 0),
    ``latency_s`` (seconds >= 0), ``error``, ``created_at``.

    Raises:
        StoreError: naming the field and what was expected (an ``api_key`` field included).
    """
    what = "llm call"
    r = _fields(record, LLM_CALL_FIELDS, ("purpose", "model", "prompt", "outcome"), what)
    out = {"created_at": _text(r["created_at"], "created_at", what) or created_at,
           "run_id": None if r["run_id"] is None else str(r["run_id"]),
           "iteration": _number(r["iteration"], "iteration", what, integer=True, optional=True,
                                low=0)}
    for k in ("purpose", "model", "prompt", "outcome"):
        out[k] = redact(_text(r[k], k, what, optional=False))
    for k in ("response", "error"):
        out[k] = redact(_text(r[k], k, what))
    for k in ("prompt_tokens", "completion_tokens"):
        out[k] = _number(r[k], k, what, integer=True, optional=True, low=0)
    out["latency_s"] = _number(r["latency_s"], "latency_s", what, optional=True, low=0.0)
    return out


def ablation_rows(df: pd.DataFrame, config: Mapping) -> tuple[tuple, list[tuple]]:
    """The ``ablations`` head (dataset, conditions, n_seeds, iterations, n_rows, config JSON)
    and the ``METRIC_COLUMNS`` rows of an ablation frame, as plain Python values.

    Raises:
        StoreError: not a DataFrame, empty, missing columns, or config not JSON-serialisable.
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise StoreError("ablation: expected a non-empty DataFrame with columns "
                         f"{', '.join(METRIC_COLUMNS)}")
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise StoreError(f"ablation: missing columns {missing}; expected "
                         f"{', '.join(METRIC_COLUMNS)}")
    try:
        config_json = json.dumps(dict(config), sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"ablation config: expected a JSON-serialisable dict ({exc})") from None
    cols = [[None if pd.isna(v) else v for v in df[c].tolist()] for c in METRIC_COLUMNS]
    rows = list(zip(*cols))
    conditions = ",".join(dict.fromkeys(str(c) for c in df["condition"]))
    head = (config.get("dataset"), conditions, int(df["seed"].nunique()),
            int(df["iteration"].max()), len(rows), config_json)
    return head, rows
