"""Long work in chunks: start, continue and ablate, writing to the store as it goes.

The engine ``Run`` of the run being worked on stays in the session (``app.state``), so a rerun
of the page never repeats work; every step is written by the store's observer in its own
transaction, so a page that is left mid-run leaves a consistent, continuable run (marked
``interrupted``). Progress is reported after each chunk of ``chunk_size`` iterations.

Public names: MIN_CHUNK, MAX_CHUNK, chunk_size, make_operator, start_run, continue_run,
ensure_loaded, run_ablation.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from app import data, state
from engine.dataset import Dataset
from engine.experiment import run_experiment
from engine.mutate import bind_run
from engine.run import Run

MIN_CHUNK, MAX_CHUNK = 50, 200
Progress = Callable[[int, int], None]


def chunk_size(total: int) -> int:
    """Iterations per chunk: about 1/20 of the work, within [MIN_CHUNK, MAX_CHUNK]."""
    return max(MIN_CHUNK, min(MAX_CHUNK, total // 20))


def _advance(run: Run, run_id: str, iterations: int, progress: Progress | None) -> None:
    bind_run(run.operator, run_id)  # started or continued: the calls belong to this run
    st_ = state.store()
    observer = st_.observer(run_id)
    size, done = chunk_size(iterations), 0
    try:
        while done < iterations:
            k = min(size, iterations - done)
            run.run(k, observer)
            done += k
            if progress is not None:
                progress(done, iterations)
    except BaseException:
        # A rerun (the user clicked elsewhere) stops the script here: keep what was written.
        st_.finish_run(run_id, "interrupted")
        data.invalidate()
        raise
    st_.finish_run(run_id, "finished")
    data.invalidate()


def make_operator(name: str = "heuristic", config=None):
    """The mutation operator called ``name``: None (the engine's heuristic default) or the LLM
    operator on ``config``, logging its calls to the store.

    Raises:
        ValueError: an unknown name, or ``llm`` without a key or local server.
    """
    if name == "heuristic":
        return None
    from engine.cli_llm import operator_from_args

    return operator_from_args(name, config=config, call_logger=state.store().log_llm_call)


def start_run(dataset: Dataset, dataset_spec: str, condition: str, seed: int,
              iterations: int, progress: Progress | None = None, operator: str = "heuristic",
              llm_config=None) -> str:
    """Create a run, save it, select it, and run ``iterations`` steps; returns its id.

    ``operator`` is ``heuristic`` or ``llm`` (on ``llm_config``, calls logged to the store).
    """
    run = Run(dataset, condition, int(seed), make_operator(operator, llm_config))
    config = {"source": "app", "requested_iterations": int(iterations), "operator": operator}
    run_id = state.store().create_run(run, dataset_spec, config)
    state.set_session_run(run_id, run)
    state.select_run(run_id)
    _advance(run, run_id, int(iterations), progress)
    return run_id


def ensure_loaded(run_id: str) -> Run:
    """The session's ``Run`` of ``run_id``, loading it from the store when needed."""
    run = state.session_run(run_id)
    info = state.store().get_run(run_id)
    if info is None:
        raise KeyError(f"run {run_id!r} does not exist")
    if run is None or run.iteration != int(info["iterations"]):
        run = state.store().load_run(run_id)
        state.set_session_run(run_id, run)
    return run


def continue_run(run_id: str, iterations: int, progress: Progress | None = None,
                 operator: str = "heuristic", llm_config=None) -> Run:
    """Run ``iterations`` more steps of a saved run (loaded into the session if needed) with
    the ``operator`` chosen now (``heuristic`` or ``llm``).

    Raises:
        KeyError: no such run. StoreError: another process is writing it.
    """
    if data.run_info(run_id) is None:
        raise KeyError(f"run {run_id!r} does not exist")
    run = ensure_loaded(run_id)
    op = make_operator(operator, llm_config)
    if op is not None:
        run.operator = op
    else:
        from engine.mutate import heuristic

        run.operator = heuristic
    _advance(run, run_id, int(iterations), progress)
    return run


def run_ablation(conditions: list[str], seeds: int, iterations: int, dataset: Dataset,
                 dataset_spec: str, progress: Progress | None = None) -> tuple[str, pd.DataFrame]:
    """Run conditions x seeds x iterations (seeds in parallel worker processes when the
    ablation is large) and save it; returns ``(ablation_id, tidy metrics)``."""
    from app.widgets import references_for

    df = run_experiment(conditions, int(seeds), int(iterations), dataset, progress=progress)
    # The reference lines are kept with the ablation: an uploaded dataset is not stored.
    config = {"conditions": list(conditions), "seeds": int(seeds),
              "iterations": int(iterations), "dataset": dataset_spec,
              "dataset_name": dataset.name,
              "references": {k: list(v) for k, v in references_for(dataset).items()}}
    ablation_id = state.store().save_ablation(df, config)
    data.invalidate()
    return ablation_id, df
