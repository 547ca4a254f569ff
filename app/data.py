"""Cached reads from the store, and their invalidation after a write.

Every reader takes the database path first so each file has its own cache entries; entries
are bounded (``max_entries``) and expire (``ttl``), and :func:`invalidate` clears them all after
this process writes (a step, a delete, a review). Lists and run rows expire after ``LIST_TTL_S``
so runs written by another process show up soon; a run's agents, events and metrics are keyed
by its iteration count and last update as well, so they refresh as soon as the run grows.
Returned DataFrames are copies owned by the caller (``st.cache_data`` copies on every hit).

Public names: TTL_S, LIST_TTL_S, runs, run_info, run_exists, run_version, agents, agent,
agent_exists, events, metrics, dataset, ablations, ablation_metrics, reviews, refresh_lists,
invalidate.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.state import db_path, store
from engine.dataset import Dataset
from engine.policy import HyperAgent

TTL_S = 300
LIST_TTL_S = 10


def _db(db: str | None) -> str:
    return db or db_path()


@st.cache_data(ttl=LIST_TTL_S, max_entries=8, show_spinner=False)
def _runs(db: str) -> pd.DataFrame:
    return store(db).list_runs()


def runs(db: str | None = None) -> pd.DataFrame:
    """Every saved run (``run_id``, ``kind``, ``condition``, ``seed``, ...), newest first."""
    return _runs(_db(db))


@st.cache_data(ttl=LIST_TTL_S, max_entries=64, show_spinner=False)
def _run_info(db: str, run_id: str) -> dict | None:
    return store(db).get_run(run_id)


def run_info(run_id: str, db: str | None = None) -> dict | None:
    """The run's row (condition, seed, iterations, best_agent_id, best_train, ...) or None."""
    return _run_info(_db(db), str(run_id))


def run_exists(run_id: str) -> bool:
    return run_info(run_id) is not None


def _version(db: str, run_id: str) -> str:
    info = _run_info(db, run_id)
    return "" if info is None else f"{info['iterations']}@{info['updated_at']}"


def run_version(run_id: str, db: str | None = None) -> str:
    """Changes whenever the run gains a step (a cache key for what is drawn from it)."""
    return _version(_db(db), str(run_id))


@st.cache_data(ttl=TTL_S, max_entries=16, show_spinner=False)
def _agents(db: str, run_id: str, version: str) -> pd.DataFrame:
    return store(db).agents_frame(run_id)


def agents(run_id: str, db: str | None = None) -> pd.DataFrame:
    """One row per agent of the run, by id (see ``Store.agents_frame``)."""
    db = _db(db)
    return _agents(db, str(run_id), _version(db, str(run_id)))


@st.cache_data(ttl=TTL_S, max_entries=256, show_spinner=False)
def _agent(db: str, run_id: str, agent_id: int) -> HyperAgent | None:
    return store(db).agent(run_id, agent_id)


def agent(run_id: str, agent_id: int, db: str | None = None) -> HyperAgent | None:
    """One agent of a run, or None."""
    return _agent(_db(db), str(run_id), int(agent_id))


def agent_exists(run_id: str, agent_id: int) -> bool:
    info = run_info(run_id)
    return info is not None and 0 <= int(agent_id) <= int(info["iterations"])


@st.cache_data(ttl=TTL_S, max_entries=16, show_spinner=False)
def _events(db: str, run_id: str, version: str) -> pd.DataFrame:
    return store(db).events(run_id)


def events(run_id: str, db: str | None = None) -> pd.DataFrame:
    """The run's mutation log, by iteration."""
    db = _db(db)
    return _events(db, str(run_id), _version(db, str(run_id)))


@st.cache_data(ttl=TTL_S, max_entries=32, show_spinner=False)
def _metrics(db: str, run_ids: tuple[str, ...], versions: tuple[str, ...]) -> pd.DataFrame:
    return store(db).metrics(list(run_ids))


def metrics(run_ids, db: str | None = None) -> pd.DataFrame:
    """``METRIC_COLUMNS`` + ``run_id`` of one run id or a sequence of them."""
    db = _db(db)
    ids = (run_ids,) if isinstance(run_ids, str) else tuple(str(r) for r in run_ids)
    return _metrics(db, ids, tuple(_version(db, r) for r in ids))


@st.cache_data(ttl=TTL_S, max_entries=16, show_spinner=False)
def _dataset(db: str, run_id: str) -> Dataset:
    return store(db).dataset_for_run(run_id)


def dataset(run_id: str, db: str | None = None) -> Dataset:
    """The exact dataset the run was made on."""
    return _dataset(_db(db), str(run_id))


@st.cache_data(ttl=LIST_TTL_S, max_entries=8, show_spinner=False)
def _ablations(db: str) -> pd.DataFrame:
    return store(db).list_ablations()


def ablations(db: str | None = None) -> pd.DataFrame:
    """Saved ablations, newest first."""
    return _ablations(_db(db))


@st.cache_data(ttl=TTL_S, max_entries=16, show_spinner=False)
def _ablation_metrics(db: str, ablation_id: str) -> pd.DataFrame:
    return store(db).ablation_metrics(ablation_id)


def ablation_metrics(ablation_id: str, db: str | None = None) -> pd.DataFrame:
    """The tidy metrics of one saved ablation."""
    return _ablation_metrics(_db(db), str(ablation_id))


@st.cache_data(ttl=LIST_TTL_S, max_entries=8, show_spinner=False)
def _reviews(db: str, limit: int) -> pd.DataFrame:
    return store(db).reviews(limit)


def reviews(limit: int = 50, db: str | None = None) -> pd.DataFrame:
    """The newest saved reviews."""
    return _reviews(_db(db), int(limit))


_CACHED = (_runs, _run_info, _agents, _agent, _events, _metrics, _dataset, _ablations,
           _ablation_metrics, _reviews)


def refresh_lists() -> None:
    """Forget the cached lists of runs and ablations (something new may exist)."""
    _runs.clear()
    _ablations.clear()


def invalidate() -> None:
    """Forget every cached read (call after any write)."""
    for fn in _CACHED:
        fn.clear()
