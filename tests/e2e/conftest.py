"""Browser-test fixtures: a real ``streamlit run`` on 127.0.0.1 with a temporary database,
and Debian's Chromium driven by Playwright (its own browser download is never used).

Without Chromium (or the playwright package) the browser tests skip with a message, except
under CI (``CI`` set), where they fail: CI installs Chromium and must run them.

Screenshots go to a temporary folder, so a test run leaves the working tree clean. To
regenerate the images the README embeds, name a folder in ``HYPERAGENTS_SCREENSHOTS``
(a relative path is taken from the repository root)::

    HYPERAGENTS_SCREENSHOTS=docs/screenshots python -m pytest -q tests/e2e
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_ENV = "HYPERAGENTS_SCREENSHOTS"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--headless"]
BIG_ARCHIVE = 5000
SERVER_START_TIMEOUT_S = 60


def _missing(what: str) -> None:
    message = f"browser tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: these tests must run in CI)", pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        _missing("Chromium (`apt-get install -y chromium`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package (`pip install -r requirements-dev.txt`)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed_big_run(db: Path) -> str:
    """A saved run with ``BIG_ARCHIVE`` variants (for the Archive timing)."""
    from engine.dataset import classic
    from engine.run import Run
    from engine.store import Store

    run = Run(classic(), "hyperagent", 7)
    run.run(BIG_ARCHIVE)
    with Store(db) as store:
        run_id = store.create_run(run, "classic")
        store.finish_run(run_id)
    return run_id


@pytest.fixture(scope="session")
def server(chromium, tmp_path_factory):
    """``streamlit run streamlit_app.py`` on a free 127.0.0.1 port; yields (url, big_run_id)."""
    tmp = tmp_path_factory.mktemp("e2e")
    db = tmp / "e2e.db"
    big = _seed_big_run(db)
    port = _free_port()
    env = {**os.environ, "HYPERAGENTS_DB": str(db), "HYPERAGENTS_USE_OPENAI": "0"}
    env.pop("OPENAI_API_KEY", None)
    log = (tmp / "server.log").open("w")
    # No file watcher: an edit to the sources during the run would otherwise put a lasting
    # "File change. Rerun" prompt into the status widget, which the tests wait to be gone.
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("streamlit did not become healthy:\n"
                            + (tmp / "server.log").read_text()[-3000:], pytrace=False)
            time.sleep(0.2)
        yield url, big
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """The folder the click-through saves its screenshots in: ``$HYPERAGENTS_SCREENSHOTS``
    when set (e.g. ``docs/screenshots`` to regenerate the README images), else a temporary
    folder, so that running the tests never rewrites committed images."""
    target = os.environ.get(SCREENSHOTS_ENV, "").strip()
    if not target:
        return tmp_path_factory.mktemp("screenshots")
    folder = ROOT / Path(target).expanduser()  # an absolute path replaces ROOT
    folder.mkdir(parents=True, exist_ok=True)
    return folder
