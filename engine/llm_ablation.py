"""Ablations with the LLM operator: conditions x seeds in threads, calls bounded per process.

``engine.experiment.run_experiment`` runs seeds in worker processes, which suits the CPU-bound
heuristic but would give every process its own concurrency limit and client. An LLM ablation is
bound by the network instead, so ``run_llm_ablation`` runs the jobs in a thread pool of
``concurrency`` threads sharing one operator (its call budget is counted per run) and the
process-wide semaphore of ``engine.llm.concurrency_limit``. Every job builds its own ``Run`` from
``SeedSequence(seed)`` and the same operator serves every condition, so the result has the same
rows, order and dtypes as ``run_experiment`` with that operator.

Public names: run_llm_ablation.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

import pandas as pd

from engine.conditions import CONDITIONS, get_condition
from engine.dataset import Dataset, load_dataset
from engine.experiment import Progress, run_job
from engine.mutate import Operator
from engine.run import METRIC_COLUMNS


def run_llm_ablation(conditions: Sequence[str] | None = None,
                     seeds: int | Sequence[int] = 5, iterations: int = 30,
                     dataset: Dataset | str = "classic", *, operator: Operator,
                     concurrency: int | None = None,
                     progress: Progress | None = None) -> pd.DataFrame:
    """Run every condition for every seed with ``operator``, up to ``concurrency`` at once.

    Args:
        conditions: names from ``CONDITIONS`` (all when None).
        seeds: a count ``n`` (seeds 0..n-1) or explicit seeds.
        iterations: iterations per run (>= 1).
        dataset: a ``Dataset`` or a spec for ``load_dataset``.
        operator: the mutation operator shared by every condition (e.g. ``LLMOperator``);
            it is called from several threads at once.
        concurrency: simultaneous runs; default ``operator.config.concurrency`` (1 for an
            operator without a config).
        progress: called as ``progress(done_jobs, total_jobs)`` from the calling thread.

    Returns:
        DataFrame with ``METRIC_COLUMNS``, sorted by condition (given order), seed, iteration.

    Raises:
        ValueError: an unknown condition, no condition or seed, iterations < 1, or
            concurrency < 1.
    """
    names = list(conditions) if conditions is not None else list(CONDITIONS)
    for c in names:
        get_condition(c)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not names or not seed_list:
        raise ValueError("an experiment needs at least one condition and one seed")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if concurrency is None:
        config = getattr(operator, "config", None)
        concurrency = getattr(config, "concurrency", 1)
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    jobs = [(c, s) for c in names for s in seed_list]
    results: dict[tuple[str, int], list[tuple]] = {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)),
                            thread_name_prefix="llm-ablation") as pool:
        futs = {pool.submit(run_job, ds, c, s, iterations, operator): (c, s) for c, s in jobs}
        for k, fut in enumerate(as_completed(futs), start=1):
            results[futs[fut]] = fut.result()
            if progress:
                progress(k, len(jobs))
    rows = [r for job in jobs for r in results[job]]
    df = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    df["parent_id"] = df["parent_id"].astype("Int64")
    return df
