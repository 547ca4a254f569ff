"""``python -m engine runs list|show|export|delete|continue``: the saved runs of a SQLite file.

Every action takes ``--db PATH`` (default ``$HYPERAGENTS_DB``, else ``./hyperagents.db``). An
unknown run id, a file that is not a hyperagents database or is locked exits with code 2 and
one line on stderr saying what was expected; nothing is written to such a file.

Public names: add_parsers, add_db_argument, open_store, dataset_label, DB_HELP.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

DB_HELP = ("SQLite file of saved runs (default: $HYPERAGENTS_DB if set, else hyperagents.db in "
           "the working folder)")


def add_db_argument(p: argparse.ArgumentParser, help: str = DB_HELP) -> None:
    p.add_argument("--db", default=None, metavar="PATH", help=help)


def open_store(path: str | None):
    """``Store(path)`` (``None``: the default file)."""
    from engine.store import Store

    return Store(path)


def dataset_label(spec: str) -> str:
    """The label a run keeps of its dataset: ``classic``, ``synthetic`` or the CSV's file name."""
    return spec if spec in ("classic", "synthetic") else Path(spec).name


def _errors_exit_2(handler):
    """Store errors (unknown id, bad or locked file) -> ``error: ...`` on stderr, exit code 2."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from engine.store import StoreError

        try:
            return handler(args)
        except StoreError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return run


def _iterations(text: str) -> int:
    from engine.cli import MAX_ITERATIONS

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_ITERATIONS:
        raise argparse.ArgumentTypeError(
            f"iterations must be an integer in [1, {MAX_ITERATIONS}], got {text!r}")
    return value


@_errors_exit_2
def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    df = store.list_runs()
    if df.empty:
        print(f"no runs in {store.path}")
        return 0
    cols = ["run_id", "kind", "condition", "seed", "dataset", "iterations", "best_train",
            "best_test", "status", "updated_at"]
    out = df[cols].copy()
    out["best_train"] = out["best_train"].round(4)
    out["best_test"] = out["best_test"].round(4)
    out["updated_at"] = out["updated_at"].str.slice(0, 19)
    print(out.to_string(index=False))
    print(f"{len(df)} run(s) in {store.path}")
    return 0


def _summary(store, run_id: str) -> list[str]:
    from engine.policy import FEATURES
    from engine.store import UnknownRunError

    info = store.get_run(run_id)
    if info is None:
        raise UnknownRunError(f"no run {run_id!r} in {store.path}; "
                              "`python -m engine runs list` shows the saved runs")
    best = store.agent(run_id, info["best_agent_id"])
    return [
        f"run_id={run_id} kind={info['kind']} status={info['status']}",
        f"condition={info['condition']} seed={info['seed']} iterations={info['iterations']} "
        f"dataset={info['dataset']}",
        f"created_at={info['created_at']} updated_at={info['updated_at']}",
        f"config={json.dumps(info['config'], sort_keys=True)}",
        f"archive_size={info['iterations'] + 1} best_id={best.id} generation={best.generation}",
        f"best_train_accuracy={info['best_train']:.4f} best_test_accuracy={info['best_test']:.4f}",
        "weights=" + json.dumps(dict(zip(FEATURES, [round(w, 4) for w in best.task.weights]))),
        f"threshold={best.task.threshold:.4f} style={best.task.review_style} "
        f"focus={best.meta.focus_metric}",
    ]


@_errors_exit_2
def cmd_show(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    print("\n".join(_summary(store, args.run_id)))
    return 0


@_errors_exit_2
def cmd_export(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    n = store.export_csv(args.out, args.run_id)
    what = f"run {args.run_id}" if args.run_id else "every run"
    print(f"wrote {n} rows ({what}) to {args.out}")
    return 0


@_errors_exit_2
def cmd_delete(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    store.delete_run(args.run_id)
    print(f"deleted run {args.run_id} from {store.path}")
    return 0


@_errors_exit_2
def cmd_continue(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    total = args.iterations

    def progress(done: int, n: int) -> None:
        if done == n or done % max(1, n // 30) == 0:
            fill = int(30 * done / n)
            sys.stderr.write(f"\rcontinue [{'#' * fill}{'.' * (30 - fill)}] {done}/{n}")
            if done == n:
                sys.stderr.write("\n")
            sys.stderr.flush()

    store.continue_run(args.run_id, total, progress=progress)
    print("\n".join(_summary(store, args.run_id)[1:]))
    print(f"run_id={args.run_id}")
    return 0


def add_parsers(sub) -> None:
    """Register ``runs`` and its actions on the ``python -m engine`` subparsers."""
    runs = sub.add_parser("runs", help="saved runs: list, show, export, delete, continue",
                          description="Saved runs in the SQLite file (see --db).")
    actions = runs.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="every saved run, newest first")
    add_db_argument(p)
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("show", help="one run: status, progress, its best agent")
    p.add_argument("run_id", metavar="RUN_ID")
    add_db_argument(p)
    p.set_defaults(func=cmd_show)

    p = actions.add_parser("export", help="metrics CSV of one run, or of every run")
    p.add_argument("run_id", metavar="RUN_ID", nargs="?", default=None,
                   help="the run to export (default: every run)")
    p.add_argument("--out", required=True, metavar="PATH", help="CSV file to write")
    add_db_argument(p)
    p.set_defaults(func=cmd_export)

    p = actions.add_parser("delete", help="delete a run and all its rows")
    p.add_argument("run_id", metavar="RUN_ID")
    add_db_argument(p)
    p.set_defaults(func=cmd_delete)

    p = actions.add_parser("continue", help="run more iterations of a saved (or interrupted) "
                                            "run; same result as one longer run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--iterations", type=_iterations, required=True,
                   help="iterations to add, 1..1000000")
    add_db_argument(p)
    p.set_defaults(func=cmd_continue)
