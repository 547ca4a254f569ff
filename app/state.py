"""Session state, the shared store handle, deep links and the OpenAI status.

Session keys are prefixed ``ha_`` and initialised once with ``setdefault`` (:func:`init`).
The selected run and agent live in the session and are mirrored in the URL
(``?run=ID&agent=ID``) so every page can be linked to; a link wins over the session.

Public names: K_RUN_ID, K_AGENT_ID, K_RUN, K_RUN_FOR, K_ABLATION_ID, K_FLASH, init, db_path,
store, selected_run_id, selected_agent_id, select_run, select_agent, session_run,
set_session_run, forget_run, deep_link, flash, show_flash, openai_status.
"""

from __future__ import annotations

import os

import streamlit as st

from engine.store import Store

K_RUN_ID = "ha_run_id"            # the selected run (str) or None
K_AGENT_ID = "ha_agent_id"        # the selected agent (int) or None
K_RUN = "ha_run"                  # the engine Run of a run loaded in this session
K_RUN_FOR = "ha_run_for"          # the run id that K_RUN belongs to
K_ABLATION_ID = "ha_ablation_id"  # the ablation shown on the Ablation page
K_FLASH = "ha_flash"              # messages shown once, after a page switch
DEFAULTS = {K_RUN_ID: None, K_AGENT_ID: None, K_RUN: None, K_RUN_FOR: None,
            K_ABLATION_ID: None, K_FLASH: []}
DEFAULT_DB = "hyperagents.db"


def init() -> None:
    """Create every ``ha_`` session key that does not exist yet."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, list(value) if isinstance(value, list) else value)


def db_path() -> str:
    """The database file: ``HYPERAGENTS_DB`` or ``hyperagents.db`` in the working folder."""
    return os.environ.get("HYPERAGENTS_DB") or DEFAULT_DB


@st.cache_resource(show_spinner=False, max_entries=8)
def _store(path: str) -> Store:
    # One Store per file for the whole server process: it is safe to share across threads.
    return Store(path)


def store(path: str | None = None) -> Store:
    """The shared ``Store`` of ``path`` (default :func:`db_path`)."""
    return _store(path or db_path())


# ---- selection ---------------------------------------------------------------------------------
def selected_run_id() -> str | None:
    return st.session_state.get(K_RUN_ID)


def selected_agent_id() -> int | None:
    return st.session_state.get(K_AGENT_ID)


def _mirror() -> None:
    run_id, agent_id = selected_run_id(), selected_agent_id()
    want = {}
    if run_id is not None:
        want["run"] = str(run_id)
        if agent_id is not None:
            want["agent"] = str(agent_id)
    if dict(st.query_params) != want:
        st.query_params.from_dict(want)


def select_run(run_id: str | None, agent_id: int | None = None) -> None:
    """Select a run (and optionally an agent) in the session and the URL."""
    if run_id != selected_run_id():
        st.session_state[K_AGENT_ID] = None
    st.session_state[K_RUN_ID] = run_id
    if agent_id is not None:
        st.session_state[K_AGENT_ID] = int(agent_id)
    _mirror()


def select_agent(agent_id: int | None) -> None:
    st.session_state[K_AGENT_ID] = None if agent_id is None else int(agent_id)
    _mirror()


def session_run(run_id: str | None):
    """The engine ``Run`` of ``run_id`` if this session holds it, else None."""
    if run_id is not None and st.session_state.get(K_RUN_FOR) == run_id:
        return st.session_state.get(K_RUN)
    return None


def set_session_run(run_id: str, run) -> None:
    st.session_state[K_RUN] = run
    st.session_state[K_RUN_FOR] = run_id


def forget_run(run_id: str) -> None:
    """Drop every reference to ``run_id`` (after it was deleted)."""
    if st.session_state.get(K_RUN_FOR) == run_id:
        st.session_state[K_RUN] = None
        st.session_state[K_RUN_FOR] = None
    if selected_run_id() == run_id:
        st.session_state[K_RUN_ID] = None
        st.session_state[K_AGENT_ID] = None
        _mirror()


def deep_link(run_exists, agent_exists=None) -> tuple[str | None, int | None]:
    """Apply ``?run=ID&agent=ID`` to the selection and return the selected (run, agent).

    Args:
        run_exists: ``run_exists(run_id) -> bool``.
        agent_exists: ``agent_exists(run_id, agent_id) -> bool``; None ignores ``agent``.

    A link to a run or agent that does not exist shows an error saying so and selects
    nothing in its place; without a link the session's selection is written to the URL.
    """
    init()
    params = st.query_params
    run_q, agent_q = params.get("run"), params.get("agent")
    if run_q is None:
        run_id = selected_run_id()
        if run_id is not None and not run_exists(run_id):
            forget_run(run_id)
        _mirror()
        return selected_run_id(), selected_agent_id()
    if not run_exists(run_q):
        st.error(f"Run {run_q!r} does not exist (it may have been deleted). "
                 "Pick a saved run on the Runs page or start one on the Overview page.")
        return None, None
    if run_q != selected_run_id():
        st.session_state[K_RUN_ID] = run_q
        st.session_state[K_AGENT_ID] = None
    if agent_q is None or agent_exists is None:
        return run_q, selected_agent_id()
    try:
        agent_id = int(agent_q)
    except ValueError:
        st.error(f"Agent {agent_q!r} is not an agent id: expected a whole number such as 0.")
        return run_q, None
    if not agent_exists(run_q, agent_id):
        st.error(f"Agent {agent_id} does not exist in run {run_q}.")
        return run_q, None
    st.session_state[K_AGENT_ID] = agent_id
    return run_q, agent_id


# ---- messages shown once -----------------------------------------------------------------------
def flash(message: str, kind: str = "success") -> None:
    """Queue a message to show on the next page drawn (survives ``st.switch_page``)."""
    init()
    st.session_state[K_FLASH].append((kind, message))


def show_flash() -> None:
    init()
    for kind, message in st.session_state[K_FLASH]:
        getattr(st, kind)(message)
    st.session_state[K_FLASH] = []


# ---- OpenAI ------------------------------------------------------------------------------------
def openai_status() -> tuple[bool, str, str]:
    """``(on, model, detail)``: whether an OpenAI-compatible model can be called (a key from
    ``st.secrets``, the environment or the session's password field, or a local base URL), its
    model, and a line of detail. The key itself is never returned."""
    from app.llm_panel import config as llm_config  # llm_panel imports this module

    config, error = llm_config()
    if config is None:
        return False, "", error or "settings error"
    status = config.status()
    if not config.available:
        return False, config.model, "no OPENAI_API_KEY (secrets, environment or session)"
    op = "LLM mutation operator on" if status.state == "on" else "heuristic mutation operator"
    return True, config.model, f"{op}; key from {config.key_source}"
