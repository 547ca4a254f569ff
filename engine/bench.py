"""``python -m engine bench``: throughput of the loop and how its cost grows.

Every figure is the best of a few repeats (wall-clock seconds, ``time.perf_counter``). Also
merged: the store's ``run_1k_store_s``, the scanner's ``scan_50k_lines_s`` and, without
``--quick``, ``report`` + ``plot`` on 90,000 metric rows.

``floor_10k_s`` is a yardstick, not the engine: 10,000 iterations of the least any loop of
this design does per step in Python + numpy (one selection draw, a block of normals, a
perturbed weight vector scored on train and test with the counts it needs, one row appended),
with no archive, novelty, selection or meta policy. ``run_10k_s`` minus it is what those cost.
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


def floor_loop(ds, n: int, seed: int = 0) -> list[tuple]:
    """The yardstick loop behind ``floor_10k_s`` (see the module docstring)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X, y, sign = ds.train.X, ds.train.y, ds.train.sign
    Xt, yt = ds.test.X, ds.test.y
    w = [0.2] * 5
    rows = []
    for it in range(n):
        u = rng.random()
        z = rng.standard_normal(10).tolist()
        w2 = [a + 0.01 * b for a, b in zip(w, z)]
        wa = np.array(w2)
        d = X.dot(wa)
        d -= 0.6
        p = d >= 0.0
        wrong = int(np.count_nonzero(p != y))
        fp = int(np.count_nonzero(p)) - int(np.count_nonzero(y))
        margin = float(d.dot(sign))
        dt = Xt.dot(wa)
        dt -= 0.6
        wrong_t = int(np.count_nonzero((dt >= 0.0) != yt))
        rows.append((it, u, wrong, fp, wrong_t, margin, tuple(w2)))
    return rows


def run_bench(quick: bool = False) -> dict:
    """Time the engine; returns a JSON-serialisable dict of seconds and ratios."""
    ds = classic()
    reps = 1 if quick else 3
    out: dict = {}
    out["run_1k_s"] = round(_best_of(lambda: Run(ds, "hyperagent", 0).run(1_000), reps), 4)
    out["run_10k_s"] = round(_best_of(lambda: Run(ds, "hyperagent", 0).run(10_000),
                                      1 if quick else 2), 4)
    out["growth_10k_over_1k"] = round(out["run_10k_s"] / out["run_1k_s"], 2)
    out["floor_10k_s"] = round(_best_of(lambda: floor_loop(ds, 10_000), reps), 4)
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
