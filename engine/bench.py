"""``python -m engine bench``: throughput of the loop and how its cost grows.

Every figure is the best of a few repeats (wall-clock seconds, ``time.perf_counter``). Also
merged: the store's ``run_1k_store_s``, the scanner's ``scan_50k_lines_s`` and, without
``--quick``, ``report`` + ``plot`` on 90,000 metric rows.
"""

from __future__ import annotations

import time

from engine.dataset import classic
from engine.experiment import run_experiment
from engine.run import Run


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_bench(quick: bool = False) -> dict:
    """Time the engine; returns a JSON-serialisable dict of seconds and ratios."""
    ds = classic()
    reps = 1 if quick else 3
    out: dict = {}
    out["run_1k_s"] = round(_best_of(lambda: Run(ds, "hyperagent", 0).run(1_000), reps), 4)
    out["run_10k_s"] = round(_best_of(lambda: Run(ds, "hyperagent", 0).run(10_000),
                                      1 if quick else 2), 4)
    out["growth_10k_over_1k"] = round(out["run_10k_s"] / out["run_1k_s"], 2)
    out["ablation_default_s"] = round(_best_of(
        lambda: run_experiment(None, 5, 30, ds, workers=1), reps), 4)
    for name in ("engine.store_bench", "engine.repo_scan"):
        try:
            module = __import__(name, fromlist=["bench"])
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        extra = getattr(module, "bench_figures", None) or getattr(module, "bench_scan", None)
        if extra is not None:
            out.update(extra(**({"quick": quick} if name == "engine.store_bench" else {})))
    if not quick:
        from engine.cli_stats import bench_report_plot

        out.update(bench_report_plot())
    return out
