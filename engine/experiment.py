"""Ablations: conditions x seeds x iterations -> one tidy DataFrame (``METRIC_COLUMNS``).

Seeds run in parallel worker processes (a ``spawn`` context, so it is safe from a thread of the
Streamlit server); every job builds its own ``Run`` from ``SeedSequence(seed)``, so a parallel
ablation equals the serial one row for row.

Public names: run_experiment, run_job, plan_jobs, jobs_frame, default_workers, AUTO_SERIAL_STEPS.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import pandas as pd

from engine.conditions import CONDITIONS, get_condition
from engine.dataset import Dataset, load_dataset
from engine.mutate import Operator
from engine.run import METRIC_COLUMNS, Run

# Below this many total iterations, starting worker processes costs more than it saves.
AUTO_SERIAL_STEPS = 20_000

Progress = Callable[[int, int], None]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_job(dataset: Dataset | str, condition: str, seed: int, iterations: int,
            operator: Operator | None = None) -> list[tuple]:
    """One (condition, seed) run; returns its metric rows as tuples in ``METRIC_COLUMNS``."""
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    run = Run(ds, condition, seed, operator)
    run.run(iterations)
    return [tuple(r.values()) for r in run.metrics_rows()]


def run_experiment(conditions: Sequence[str] | None = None, seeds: int | Sequence[int] = 5,
                   iterations: int = 30, dataset: Dataset | str = "classic",
                   workers: int | None = None, operator: Operator | None = None,
                   progress: Progress | None = None) -> pd.DataFrame:
    """Run every condition for every seed.

    Args:
        conditions: names from ``CONDITIONS`` (all when None).
        seeds: a count ``n`` (seeds 0..n-1) or explicit seeds.
        iterations: iterations per run (>= 1).
        dataset: a ``Dataset`` or a spec for ``load_dataset``.
        workers: worker processes; None = serial for small ablations, else all cores.
        operator: mutation operator shared by every condition (heuristic when None); must be
            picklable when ``workers > 1``.
        progress: called as ``progress(done_jobs, total_jobs)`` after each run finishes.

    Returns:
        DataFrame with ``METRIC_COLUMNS``, sorted by condition (given order), seed, iteration.
    """
    ds, jobs = plan_jobs(conditions, seeds, iterations, dataset)
    if workers is None:
        workers = 1 if len(jobs) * iterations < AUTO_SERIAL_STEPS else default_workers()
    workers = max(1, min(workers, len(jobs)))
    results: dict[tuple[str, int], list[tuple]] = {}
    if workers == 1:
        for k, (c, s) in enumerate(jobs, start=1):
            results[(c, s)] = run_job(ds, c, s, iterations, operator)
            if progress:
                progress(k, len(jobs))
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futs = {pool.submit(run_job, ds, c, s, iterations, operator): (c, s)
                    for c, s in jobs}
            for k, fut in enumerate(as_completed(futs), start=1):
                results[futs[fut]] = fut.result()
                if progress:
                    progress(k, len(jobs))
    return jobs_frame(jobs, results)


def plan_jobs(conditions: Sequence[str] | None, seeds: int | Sequence[int], iterations: int,
              dataset: Dataset | str) -> tuple[Dataset, list[tuple[str, int]]]:
    """Validate an experiment's arguments; return the dataset and its (condition, seed) jobs.

    Raises:
        ValueError: an unknown condition, no condition or seed, or iterations < 1.
    """
    names = list(conditions) if conditions is not None else list(CONDITIONS)
    for c in names:
        get_condition(c)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not names or not seed_list:
        raise ValueError("an experiment needs at least one condition and one seed")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    return ds, [(c, s) for c in names for s in seed_list]


def jobs_frame(jobs: list[tuple[str, int]],
               results: dict[tuple[str, int], list[tuple]]) -> pd.DataFrame:
    """The tidy ``METRIC_COLUMNS`` frame of finished jobs, in job order."""
    rows = [r for job in jobs for r in results[job]]
    df = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    df["parent_id"] = df["parent_id"].astype("Int64")
    return df
