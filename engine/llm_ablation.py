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

from engine.dataset import Dataset
from engine.experiment import Progress, jobs_frame, plan_jobs, run_job
from engine.mutate import Operator


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
    ds, jobs = plan_jobs(conditions, seeds, iterations, dataset)
    if concurrency is None:
        config = getattr(operator, "config", None)
        concurrency = getattr(config, "concurrency", 1)
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    results: dict[tuple[str, int], list[tuple]] = {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)),
                            thread_name_prefix="llm-ablation") as pool:
        futs = {pool.submit(run_job, ds, c, s, iterations, operator): (c, s) for c, s in jobs}
        for k, fut in enumerate(as_completed(futs), start=1):
            results[futs[fut]] = fut.result()
            if progress:
                progress(k, len(jobs))
    return jobs_frame(jobs, results)
