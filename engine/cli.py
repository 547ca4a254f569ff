"""``python -m engine``: run, ablate, bench (and the subcommands other modules register).

Handlers are stored with ``set_defaults(func=...)`` and return the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from engine.cli_llm import add_operator_argument
from engine.conditions import CONDITIONS

MAX_ITERATIONS = 1_000_000
MAX_SEEDS = 10_000
# Modules that add their own subcommands: (module, function taking the subparsers).
SUBCOMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("engine.cli_store", "add_parsers"),
    ("engine.cli_stats", "add_parsers"),
    ("engine.repo_scan", "add_scan_parser"),
)


def _int_in(name: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer in [{low}, {high}], got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{name} must be in [{low}, {high}], got {value}")
        return value
    return parse


def _conditions(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in CONDITIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown condition(s) {bad or text!r}; valid: {', '.join(CONDITIONS)}")
    return names


def _dataset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="classic", metavar="classic|synthetic|PATH.csv",
                   help="dataset: the classic 30 repositories (default), the generated "
                        "benchmark, or a CSV of your own labelled repositories")


def _load(spec: str):
    from engine.dataset import load_dataset
    return load_dataset(spec)


def cmd_run(args: argparse.Namespace) -> int:
    from engine.cli_llm import operator_from_args, operator_label
    from engine.cli_store import dataset_label, open_store
    from engine.mutate import bind_run
    from engine.run import Run
    from engine.store import StoreError

    ds = _load(args.dataset)
    store = run_id = None
    try:
        if not args.no_db:
            store = open_store(args.db)
        operator = operator_from_args(
            args.operator, call_logger=None if store is None else store.log_llm_call)
        run = Run(ds, args.condition, args.seed, operator)
        if store is not None:
            run_id = store.create_run(run, dataset_label(args.dataset),
                                      {"iterations": args.iterations,
                                       "operator": operator_label(operator), "source": "cli"})
            bind_run(operator, run_id)
        try:
            run.run(args.iterations, None if store is None else store.observer(run_id))
        except BaseException:
            if store is not None:
                store.finish_run(run_id, "interrupted")
            raise
        if store is not None:
            store.finish_run(run_id)
    except StoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    arch = run.archive
    b = arch.best()
    best = arch.agent(b)
    print(f"condition={args.condition} seed={args.seed} iterations={args.iterations} "
          f"dataset={ds.name}")
    print(f"archive_size={len(arch)} best_id={b} generation={best.generation}")
    print(f"best_train_accuracy={arch.column('fitness')[b]:.4f} "
          f"best_test_accuracy={arch.column('test')[b]:.4f}")
    print("weights=" + json.dumps(dict(zip(__import__('engine.policy').policy.FEATURES,
                                           [round(w, 4) for w in best.task.weights]))))
    print(f"threshold={best.task.threshold:.4f} style={best.task.review_style} "
          f"focus={best.meta.focus_metric}")
    if store is not None:
        print(f"run_id={run_id}")
    return 0


class _Bar:
    """A minimal progress bar on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        width = 30
        fill = int(width * done / total)
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_ablate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.cli_llm import operator_from_args, run_ablation

    store = None
    if args.db is not None:
        from engine.cli_store import open_store
        from engine.store import StoreError

        try:
            store = open_store(args.db)
        except StoreError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2
    operator = operator_from_args(
        args.operator, call_logger=None if store is None else store.log_llm_call)
    df = run_ablation(operator, args.conditions, args.seeds, args.iterations,
                      _load(args.dataset), workers=args.workers, progress=_Bar("ablate"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, lineterminator="\n")
    final = df[df["iteration"] == args.iterations]
    summary = final.groupby("condition", sort=False)[["best_fitness", "best_test_accuracy"]]
    print(summary.mean().round(4).to_string())
    print(f"wrote {len(df)} rows to {out}")
    if store is not None:
        ablation_id = store.save_ablation(df, {
            "conditions": list(args.conditions), "seeds": args.seeds,
            "iterations": args.iterations, "dataset": args.dataset, "operator": "heuristic",
            "source": "cli"})
        print(f"ablation_id={ablation_id}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from engine.bench import run_bench

    print(json.dumps(run_bench(quick=args.quick), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="hyperagents: metacognitive self-modification, from the command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run one search and print a summary")
    p.add_argument("--condition", default="hyperagent", choices=list(CONDITIONS),
                   help="ablation condition (default: hyperagent)")
    p.add_argument("--iterations", type=_int_in("iterations", 1, MAX_ITERATIONS), default=30,
                   help=f"iterations, 1..{MAX_ITERATIONS} (default 30)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _dataset_arg(p)
    add_operator_argument(p)
    p.add_argument("--db", default=None, metavar="PATH",
                   help="SQLite file the run is saved to, step by step (default: "
                        "$HYPERAGENTS_DB if set, else hyperagents.db in the working folder); "
                        "the last line printed is run_id=ID")
    p.add_argument("--no-db", action="store_true", help="do not save the run")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ablate", help="every condition x seeds x iterations -> metrics CSV")
    p.add_argument("--conditions", type=_conditions, default=list(CONDITIONS),
                   help=f"comma-separated subset of {','.join(CONDITIONS)} (default: all)")
    p.add_argument("--seeds", type=_int_in("seeds", 1, MAX_SEEDS), default=5,
                   help="number of seeds, 0..N-1 (default 5)")
    p.add_argument("--iterations", type=_int_in("iterations", 1, MAX_ITERATIONS), default=30,
                   help=f"iterations per run, 1..{MAX_ITERATIONS} (default 30)")
    p.add_argument("--workers", type=_int_in("workers", 1, 256), default=None,
                   help="worker processes (default: serial for small ablations, else all "
                        "cores); results are identical either way")
    p.add_argument("--out", default="results/raw_metrics.csv",
                   help="CSV to write (default results/raw_metrics.csv)")
    _dataset_arg(p)
    add_operator_argument(p)
    p.add_argument("--db", default=None, metavar="PATH",
                   help="also save the ablation in this SQLite file (last line printed: "
                        "ablation_id=ID)")
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("bench", help="time the engine; prints one JSON object")
    p.add_argument("--quick", action="store_true", help="fewer repeats (for smoke tests)")
    p.set_defaults(func=cmd_bench)

    for name, adder in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        getattr(module, adder)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
