"""The loop: select a parent, mutate it with its own meta policy, evaluate, adapt, archive.

``Run`` owns one archive and one ``numpy.random.Generator`` built from ``SeedSequence(seed)``;
storage, progress bars and LLM clients are handed in (``observer``, ``operator``), never
imported here. ``state_dict()`` / ``Run.from_state()`` capture everything needed to continue:
10 iterations, export, restore, 10 more equals 20 in one go, bit for bit.

Public names: Run, StepRecord, METRIC_COLUMNS, STATE_VERSION.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.archive import Archive
from engine.conditions import Condition, get_condition
from engine.dataset import Dataset
from engine.evaluate import Evaluation, accuracy, evaluate
from engine.mutate import Operator, Proposal, adapt_after_evaluation, heuristic
from engine.policy import HyperAgent, build, deferred_parts, seed_agent
from engine.select import SELECTION

METRIC_COLUMNS: tuple[str, ...] = (
    "condition", "seed", "iteration", "best_fitness", "best_test_accuracy",
    "child_train_accuracy", "child_test_accuracy", "archive_size", "weight_step",
    "threshold_step", "exploration_scale", "focus_metric", "mutation_source", "parent_id",
    "child_id",
)
STATE_VERSION = 1


@dataclass(frozen=True, eq=False)
class StepRecord:
    """What one iteration did, handed to the observer.

    Attributes:
        iteration: 1-based iteration number.
        parent: the selected parent.
        child: the new agent (already in the archive).
        evaluation: the child's train evaluation.
        test_accuracy: the child's test accuracy (reported only, never used by the loop).
        improved: child train fitness > parent train fitness.
        summary: the operator's human-readable summary.
        metrics: the ``METRIC_COLUMNS`` row of this iteration.
        info: operator details (for example an LLM fallback reason).
        rng_state: the generator state after the step (enough, with the agents, to resume).
    """

    iteration: int
    parent: HyperAgent
    child: HyperAgent
    evaluation: Evaluation
    test_accuracy: float
    improved: bool
    summary: str
    metrics: dict
    info: dict
    rng_state: dict


Observer = Callable[[StepRecord], None]


class Run:
    """One search: ``Run(dataset, condition, seed, operator)``; ``step()``, ``run(n)``."""

    def __init__(self, dataset: Dataset, condition: str | Condition = "hyperagent",
                 seed: int = 0, operator: Operator | None = None) -> None:
        self.dataset = dataset
        self.condition = get_condition(condition)
        self.seed = int(seed)
        self.operator: Operator = operator if operator is not None else heuristic
        self.rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        self.archive = Archive()
        self.iteration = 0
        self._selector = SELECTION[self.condition.selection]()
        self._rows: list[tuple] = []
        seed_a = seed_agent()
        ev = evaluate(seed_a.task, dataset.train)
        self._add(seed_a, ev)

    # ---- internals -------------------------------------------------------------------------
    def _add(self, agent: HyperAgent, ev: Evaluation, test_acc: float | None = None) -> tuple:
        if test_acc is None:
            test_acc = accuracy(agent.task, self.dataset.test)
        arch = self.archive
        arch.add(agent, ev, test_acc)
        self._selector.update(arch)
        b = arch._best
        m = agent.meta
        row = (self.condition.name, self.seed, agent.iteration, arch.fitness[b], arch.test[b],
               ev.accuracy, test_acc, len(arch.agents), m.weight_step, m.threshold_step,
               m.exploration_scale, m.focus_metric, agent.source, agent.parent_id, agent.id)
        self._rows.append(row)
        return row

    def _step(self) -> tuple:
        """One iteration; returns what ``StepRecord`` needs, without building it."""
        arch = self.archive
        it = self.iteration + 1
        pid = self._selector.select(arch, self.rng)
        parent = arch.agents[pid]
        parent_ev = arch.evaluations[pid]
        frozen = not self.condition.adaptive_meta
        train = self.dataset.train
        prop: Proposal = self.operator(parent, parent_ev, train, self.rng,
                                       freeze_meta=frozen, iteration=it)
        task = prop.task
        ev = evaluate(task, train)
        meta = prop.meta if frozen else adapt_after_evaluation(
            prop.meta, parent_ev.accuracy, ev.accuracy, it)
        parts = deferred_parts(prop, "summary")
        note = {"_note_parts": parts} if parts is not None else {"note": prop.summary}
        child = build(HyperAgent, id=len(arch.agents), parent_id=pid,
                      generation=parent.generation + 1, iteration=it, task=task, meta=meta,
                      source=prop.source, **note)
        row = self._add(child, ev, accuracy(task, self.dataset.test))
        self.iteration = it
        return parent, parent_ev, child, ev, prop, row

    def _record(self, parts: tuple) -> StepRecord:
        parent, parent_ev, child, ev, prop, row = parts
        return StepRecord(row[2], parent, child, ev, row[6], ev.accuracy > parent_ev.accuracy,
                          prop.summary, dict(zip(METRIC_COLUMNS, row)), prop.info,
                          self.rng.bit_generator.state)

    # ---- the loop --------------------------------------------------------------------------
    def step(self) -> StepRecord:
        """Run one iteration and return what it did."""
        return self._record(self._step())

    def run(self, n: int, observer: Observer | None = None) -> StepRecord | None:
        """Run ``n`` iterations, calling ``observer(record)`` after each; return the last."""
        if n < 0:
            raise ValueError(f"iterations must be >= 0, got {n}")
        if n == 0:
            return None
        # The archive holds many small long-lived objects; cyclic GC passes over them would make
        # long runs superlinear, and the loop creates no reference cycles.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            if observer is None:
                # nobody reads the intermediate records: build only the last one
                step = self._step
                for _ in range(n - 1):
                    step()
                return self._record(step())
            rec = None
            for _ in range(n):
                rec = self._record(self._step())
                observer(rec)
            return rec
        finally:
            if gc_was_enabled:
                gc.enable()

    # ---- results ---------------------------------------------------------------------------
    @property
    def best(self) -> HyperAgent:
        return self.archive.agent(self.archive.best())

    def metrics_rows(self) -> list[dict]:
        """One dict per iteration (0 = the seed agent), keys ``METRIC_COLUMNS``."""
        return [dict(zip(METRIC_COLUMNS, r)) for r in self._rows]

    def metrics_frame(self):
        """The ``raw_metrics.csv`` rows of this run as a DataFrame."""
        import pandas as pd

        df = pd.DataFrame(self._rows, columns=list(METRIC_COLUMNS))
        df["parent_id"] = df["parent_id"].astype("Int64")
        return df

    # ---- resume ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run (JSON-serialisable; the dataset apart)."""
        return {"version": STATE_VERSION, "condition": self.condition.name, "seed": self.seed,
                "iteration": self.iteration, "rng_state": self.rng.bit_generator.state,
                "agents": [a.to_dict() for a in self.archive.agents],
                "metrics": [list(r) for r in self._rows]}

    @classmethod
    def from_state(cls, state: dict, dataset: Dataset,
                   operator: Operator | None = None) -> Run:
        """Rebuild a run from ``state_dict()`` output (agents are re-evaluated, exactly).

        Raises:
            ValueError: unsupported state version or an inconsistent state.
        """
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"run state version {state.get('version')!r} is not supported "
                             f"(expected {STATE_VERSION})")
        agents = [HyperAgent.from_dict(a) for a in state["agents"]]
        return cls.from_agents(dataset, state["condition"], state["seed"], agents,
                               state["rng_state"], state["iteration"], operator,
                               [tuple(r) for r in state.get("metrics", ())])

    @classmethod
    def from_agents(cls, dataset: Dataset, condition: str | Condition, seed: int,
                    agents: list[HyperAgent], rng_state: dict, iteration: int,
                    operator: Operator | None = None,
                    metric_rows: list[tuple] | None = None) -> Run:
        """Rebuild a run from its agents in id order and the generator state after the last
        step (what the store keeps). Metric rows are recomputed when not given."""
        run = cls.__new__(cls)
        run.dataset = dataset
        run.condition = get_condition(condition)
        run.seed = int(seed)
        run.operator = operator if operator is not None else heuristic
        run._selector = SELECTION[run.condition.selection]()
        run.archive = Archive()
        run._rows = []
        if not agents or agents[0].parent_id is not None:
            raise ValueError("run state: the first agent must be the seed")
        for a in agents:
            run._add(a, evaluate(a.task, dataset.train))
        if metric_rows is not None:
            if len(metric_rows) != len(agents):
                raise ValueError("run state: metrics and agents disagree in length")
            run._rows = [tuple(r) for r in metric_rows]
        run.iteration = int(iteration)
        run.rng = np.random.default_rng()
        run.rng.bit_generator.state = rng_state
        return run
