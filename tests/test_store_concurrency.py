"""engine.store under concurrency: many threads of one process (Streamlit sessions) and a
second process writing the same file, with readers browsing meanwhile."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from engine.dataset import classic
from engine.run import METRIC_COLUMNS, Run
from engine.store import Store

ROOT = Path(__file__).resolve().parents[1]
DS = classic()
CONDS = ("hyperagent", "baseline", "no_archive")


def test_eight_threads_write_eight_runs_at_once(tmp_path):
    """8 writer threads (two Store objects on one file) and a reader: 0 errors, every row."""
    path = tmp_path / "h.db"
    stores = [Store(path), Store(path)]
    n_threads, iterations = 8, 40
    barrier = threading.Barrier(n_threads + 1)
    errors: list[BaseException] = []
    done = threading.Event()
    runs: dict[int, tuple[str, Run]] = {}
    reads = [0]

    def writer(i: int) -> None:
        try:
            store = stores[i % 2]
            run = Run(DS, CONDS[i % 3], i)
            barrier.wait(timeout=30)
            rid = store.create_run(run, "classic", {"thread": i})
            obs = store.observer(rid)
            for _ in range(iterations):
                obs(run.step())
            store.finish_run(rid)
            runs[i] = (rid, run)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    def reader() -> None:
        try:
            barrier.wait(timeout=30)
            while not done.is_set():
                df = stores[0].list_runs()
                for rid in df["run_id"]:
                    stores[1].metrics(rid)
                reads[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n_threads)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads[:-1]:
        t.join(timeout=120)
    done.set()
    threads[-1].join(timeout=60)
    assert errors == []
    assert len(runs) == n_threads and reads[0] > 0
    check = Store(path)
    assert check.counts()["metrics"] == n_threads * (iterations + 1)
    listed = check.list_runs()
    assert sorted(listed["run_id"]) == sorted(rid for rid, _ in runs.values())
    assert set(listed["status"]) == {"finished"}
    for rid, run in runs.values():
        pd.testing.assert_frame_equal(check.metrics(rid)[list(METRIC_COLUMNS)],
                                      run.metrics_frame(), check_exact=True)
        assert len(check.events(rid)) == iterations
    assert check.integrity_check() == "ok"


def test_another_process_writes_the_same_file_meanwhile(tmp_path):
    """A CLI run in a second process and a run in this one share a file without errors."""
    path = tmp_path / "h.db"
    store = Store(path)
    proc = subprocess.Popen([sys.executable, "-m", "engine", "run", "--iterations", "600",
                             "--seed", "2", "--db", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while store.list_runs().empty or store.list_runs().iloc[0]["iterations"] < 1:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    other = store.list_runs().iloc[0]["run_id"]
    mine = Run(DS, "baseline", 1)
    rid = store.create_run(mine, "classic")
    mine.run(200, observer=store.observer(rid))
    store.finish_run(rid)
    assert store.get_run(other)["status"] == "running"  # the two writers overlapped
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1] == f"run_id={other}"
    theirs = Run(DS, "hyperagent", 2)
    theirs.run(600)
    for run_id, run in ((rid, mine), (other, theirs)):
        pd.testing.assert_frame_equal(store.metrics(run_id)[list(METRIC_COLUMNS)],
                                      run.metrics_frame(), check_exact=True)
    assert set(store.list_runs()["status"]) == {"finished"}
