"""Store figures for ``python -m engine bench`` (merged into its JSON by ``engine.bench``).

- ``run_1k_store_s``: a fresh file, ``create_run``, 1,000 iterations each written by the
  observer as its own transaction, ``finish_run`` (best of a few repeats, wall-clock seconds);
- ``run_1k_mem_s``: the same run in memory, timed alongside (same machine state);
- ``store_overhead_x``: ``run_1k_store_s / run_1k_mem_s`` (target: at most 3);
- ``load_run_1k_s``: ``Store.load_run`` of that 1,000-iteration run (rebuild from the file).

Public names: bench_figures, BENCH_ITERATIONS.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from engine.dataset import classic
from engine.run import Run

BENCH_ITERATIONS = 1_000


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_figures(quick: bool = False, iterations: int = BENCH_ITERATIONS) -> dict:
    """Time persisted against in-memory runs of ``iterations`` steps in a temporary folder.

    Returns:
        ``{"run_1k_store_s", "run_1k_mem_s", "store_overhead_x", "load_run_1k_s"}``; seconds
        rounded to 4 places, the ratio to 2.
    """
    from engine.store import Store

    ds = classic()
    reps = 1 if quick else 3
    best_store = best_mem = best_load = float("inf")
    with tempfile.TemporaryDirectory(prefix="hyperagents-bench-") as tmp:
        for rep in range(reps):
            best_mem = min(best_mem, _timed(lambda: Run(ds, "hyperagent", 0).run(iterations)))
            path = Path(tmp) / f"bench-{rep}.db"
            ids: list[str] = []

            def persisted(path=path, ids=ids) -> None:
                with Store(path) as store:
                    run = Run(ds, "hyperagent", 0)
                    run_id = store.create_run(run, "classic", {"bench": True})
                    run.run(iterations, observer=store.observer(run_id))
                    store.finish_run(run_id)
                    ids.append(run_id)

            best_store = min(best_store, _timed(persisted))
            with Store(path) as store:
                best_load = min(best_load, _timed(lambda s=store, i=ids[0]: s.load_run(i)))
    return {"run_1k_store_s": round(best_store, 4), "run_1k_mem_s": round(best_mem, 4),
            "store_overhead_x": round(best_store / best_mem, 2),
            "load_run_1k_s": round(best_load, 4)}
