"""Shared helpers of the AppTest suites (``tests/test_app_*.py``), and the tests of the frame
itself: the entry script's navigation and its sidebar.

Every app test points ``HYPERAGENTS_DB`` at a file in ``tmp_path`` before the app runs, and
clears Streamlit's caches so no store or read leaks from one test into the next.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from engine.dataset import classic
from engine.run import Run
from engine.store import Store

ENTRY = Path(__file__).resolve().parents[1] / "streamlit_app.py"
TIMEOUT_S = 30


def open_app(tmp_path, monkeypatch, page: str | None = None,
             params: dict | None = None) -> tuple[AppTest, Path]:
    """A fresh app on an empty database in ``tmp_path``, run once (on ``page`` if given)."""
    db = tmp_path / "app.db"
    monkeypatch.setenv("HYPERAGENTS_DB", str(db))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "HYPERAGENTS_USE_OPENAI"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT_S).run()
    if page is not None:
        goto(at, page, params)
    return at, db


def goto(at: AppTest, page: str, params: dict | None = None) -> AppTest:
    """Switch to ``views/<page>.py`` (with query parameters) and run it."""
    at.query_params.clear()
    at.query_params.update(params or {})
    return at.switch_page(f"views/{page}.py").run()


def seed_run(db: Path, iterations: int = 30, seed: int = 0,
             condition: str = "hyperagent") -> tuple[str, Run]:
    """Save a finished run of ``iterations`` steps on the classic dataset."""
    run = Run(classic(), condition, seed)
    run.run(iterations)
    with Store(db) as store:
        run_id = store.create_run(run, "classic")
        store.finish_run(run_id)
    return run_id, run


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at: AppTest) -> str:
    """Every markdown, caption, subheader, error, info and success text, one per line."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning",
                 "info", "success"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)


def charts(at: AppTest) -> list[dict]:
    """The Vega-Lite specs on the page."""
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def chart_rows(at: AppTest) -> list[int]:
    """Rows shipped to the browser by each Vega-Lite chart (all its datasets together)."""
    import pyarrow as pa

    out = []
    for e in at.get("vega_lite_chart"):
        sets = [*e.proto.datasets] + ([] if not e.proto.data.data else [e.proto])
        out.append(sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in sets))
    return out


def graph_args(at: AppTest) -> dict:
    """The lineage graph's nodes and edges (the agraph component's arguments)."""
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    return json.loads(args["data"]) | {"config": json.loads(args["config"])}


# ---- the frame -----------------------------------------------------------------------------------
def test_navigation_lists_the_seven_pages(tmp_path, monkeypatch):
    """Every page of the issue can be reached from the entry script and renders empty."""
    at, _ = open_app(tmp_path, monkeypatch)
    no_exception(at)
    assert at.title[0].value == "Overview"
    titles = {}
    for page in ("overview", "ablation", "archive", "agent_detail", "events", "runs",
                 "live_review"):
        goto(at, page)
        no_exception(at)
        titles[page] = at.title[0].value
    assert titles == {"overview": "Overview", "ablation": "Ablation", "archive": "Archive",
                      "agent_detail": "Agent Detail", "events": "Events", "runs": "Runs",
                      "live_review": "Live Review"}


def test_sidebar_shows_the_current_run(tmp_path, monkeypatch):
    """The sidebar names the current run's condition, seed, iterations and best fitness."""
    at, db = open_app(tmp_path, monkeypatch)
    assert "No run selected" in "\n".join(c.value for c in at.sidebar.caption)
    run_id, run = seed_run(db, iterations=12, seed=3, condition="baseline")
    goto(at, "archive", {"run": run_id})
    side = "\n".join(m.value for m in at.sidebar.markdown)
    best = run.archive.column("fitness")[run.archive.best()]
    assert f"**{run_id}** · baseline · seed 3" in side
    assert f"12 iterations · best fitness **{best:.3f}**" in side


def test_sidebar_openai_status_never_shows_the_key(tmp_path, monkeypatch):
    """OpenAI reads off without a key, on with the model given a key, and never prints it."""
    at, _ = open_app(tmp_path, monkeypatch)
    assert "**off**" in [m.value for m in at.sidebar.markdown]
    secret = "sk-test-DO-NOT-SHOW-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_MODEL", "gpt-test-mini")
    at.run()
    side = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert "**on** · gpt-test-mini" in side
    assert "key from environment" in "\n".join(side)
    everything = texts(at) + "\n".join(side)
    assert secret not in everything


def test_sidebar_reads_the_key_from_streamlit_secrets(tmp_path, monkeypatch):
    """A key in st.secrets turns OpenAI on (secrets before the environment)."""
    at, _ = open_app(tmp_path, monkeypatch)
    at.secrets["OPENAI_API_KEY"] = "sk-from-secrets-abcdef123456"
    at.run()
    side = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert "**on** · gpt-4o-mini" in side
    assert "key from secrets" in "\n".join(side)
    assert "sk-from-secrets" not in "\n".join(side)


def test_no_pages_folder_next_to_the_entry_script():
    """The page scripts stay in views/: a folder named pages/ switches Streamlit into its
    legacy multipage mode until st.navigation runs, breaking deep links on a fresh server."""
    root = ENTRY.parent
    assert not (root / "pages").exists(), "move page scripts to views/ (see streamlit_app.py)"
    scripts = sorted(p.name for p in (root / "views").glob("*.py"))
    assert scripts == ["ablation.py", "agent_detail.py", "archive.py", "events.py",
                       "live_review.py", "overview.py", "runs.py"]
    assert all(f'"views/{name}"' in ENTRY.read_text() for name in scripts)
