"""python -m engine run/ablate --db and runs list|show|export|delete|continue."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import build_parser, main
from engine.dataset import classic
from engine.experiment import run_experiment
from engine.run import METRIC_COLUMNS, Run
from engine.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=300)


def _main(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_persists_and_prints_run_id_last(tmp_path):
    """run --db saves every step and prints run_id=ID as its last line (real subprocess)."""
    db = tmp_path / "h.db"
    r = _cli("run", "--iterations", "8", "--seed", "4", "--condition", "baseline", "--db", db)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("run_id=")
    rid = last.removeprefix("run_id=")
    store = Store(db)
    info = store.get_run(rid)
    assert (info["condition"], info["seed"], info["iterations"], info["status"]) == (
        "baseline", 4, 8, "finished")
    assert info["config"] == {"iterations": 8, "operator": "heuristic", "source": "cli"}
    whole = Run(classic(), "baseline", 4)
    whole.run(8)
    pd.testing.assert_frame_equal(store.metrics(rid)[list(METRIC_COLUMNS)],
                                  whole.metrics_frame(), check_exact=True)


def test_run_uses_hyperagents_db_from_the_environment(tmp_path, capsys, monkeypatch):
    """Without --db, run writes to $HYPERAGENTS_DB, else ./hyperagents.db; --no-db nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYPERAGENTS_DB", str(tmp_path / "env.db"))
    assert _main(capsys, "run", "--iterations", "3")[0] == 0
    assert len(Store(tmp_path / "env.db").list_runs()) == 1
    monkeypatch.delenv("HYPERAGENTS_DB")
    code, out, _ = _main(capsys, "run", "--iterations", "3", "--no-db")
    assert code == 0 and "run_id=" not in out
    assert not (tmp_path / "hyperagents.db").exists()
    code, out, _ = _main(capsys, "run", "--iterations", "3")
    assert code == 0 and len(Store(tmp_path / "hyperagents.db").list_runs()) == 1


def test_bad_files_and_unknown_ids_exit_2_without_traceback(tmp_path, capsys):
    """A non-SQLite --db and an unknown run id exit 2 with one clear line; nothing changes."""
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n")
    r = _cli("runs", "list", "--db", bad)  # one real process: no traceback reaches the user
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and "is not a SQLite database" in r.stderr
    for args in (("run", "--iterations", "2", "--db", bad),
                 ("ablate", "--iterations", "2", "--seeds", "1", "--out", tmp_path / "x.csv",
                  "--db", bad),
                 ("runs", "continue", "abc", "--iterations", "2", "--db", bad),
                 ("runs", "export", "--out", tmp_path / "y.csv", "--db", bad)):
        code, out, err = _main(capsys, *args)
        assert code == 2 and "is not a SQLite database" in err, args
    assert bad.read_text() == "not a database\n"
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()
    code, _, err = _main(capsys, "runs", "show", "deadbeef", "--db", tmp_path / "ok.db")
    assert code == 2 and "no run 'deadbeef'" in err


def test_runs_actions_in_process(tmp_path, capsys):
    """list, show, continue, export and delete do what they say on one file."""
    db = tmp_path / "h.db"
    code, out, _ = _main(capsys, "runs", "list", "--db", db)
    assert code == 0 and out.startswith("no runs in")
    code, out, _ = _main(capsys, "run", "--iterations", "5", "--seed", "3", "--db", db)
    rid = out.strip().splitlines()[-1].removeprefix("run_id=")
    code, out, _ = _main(capsys, "run", "--iterations", "2", "--seed", "9", "--db", db)
    other = out.strip().splitlines()[-1].removeprefix("run_id=")
    code, out, _ = _main(capsys, "runs", "list", "--db", db)
    assert code == 0 and rid in out and other in out and "2 run(s)" in out
    assert out.index(other) < out.index(rid)  # newest first
    code, out, _ = _main(capsys, "runs", "show", rid, "--db", db)
    assert code == 0 and f"run_id={rid}" in out and "iterations=5" in out
    assert "status=finished" in out and "best_train_accuracy=" in out
    code, out, err = _main(capsys, "runs", "continue", rid, "--iterations", "4", "--db", db)
    assert code == 0 and out.strip().splitlines()[-1] == f"run_id={rid}"
    assert "iterations=9" in out and "4/4" in err
    whole = Run(classic(), "hyperagent", 3)
    whole.run(9)
    code, out, _ = _main(capsys, "runs", "export", rid, "--out", tmp_path / "one.csv",
                         "--db", db)
    assert code == 0 and "wrote 10 rows" in out
    one = pd.read_csv(tmp_path / "one.csv")
    assert one["best_fitness"].tolist() == whole.metrics_frame()["best_fitness"].tolist()
    code, out, _ = _main(capsys, "runs", "export", "--out", tmp_path / "all.csv", "--db", db)
    assert code == 0 and len(pd.read_csv(tmp_path / "all.csv")) == 13
    code, out, _ = _main(capsys, "runs", "delete", rid, "--db", db)
    assert code == 0 and f"deleted run {rid}" in out
    code, _, err = _main(capsys, "runs", "delete", rid, "--db", db)
    assert code == 2 and f"no run '{rid}'" in err
    assert list(Store(db).list_runs()["run_id"]) == [other]


def test_ablate_db_saves_the_ablation(tmp_path, capsys):
    """ablate --db saves the same rows it writes to the CSV, id on the last line."""
    db, out_csv = tmp_path / "h.db", tmp_path / "m.csv"
    code, out, _ = _main(capsys, "ablate", "--conditions", "hyperagent,baseline", "--seeds",
                         "2", "--iterations", "3", "--out", out_csv, "--db", db)
    assert code == 0
    aid = out.strip().splitlines()[-1].removeprefix("ablation_id=")
    store = Store(db)
    saved = store.ablation_metrics(aid)
    again = run_experiment(["hyperagent", "baseline"], 2, 3, "classic", workers=1)
    pd.testing.assert_frame_equal(saved, again, check_exact=True)
    csv = pd.read_csv(out_csv, float_precision="round_trip").astype({"parent_id": "Int64"})
    pd.testing.assert_frame_equal(saved, csv, check_exact=True)
    row = store.list_ablations().iloc[0]
    assert (row["conditions"], row["n_seeds"], row["iterations"], row["n_rows"]) == (
        "hyperagent,baseline", 2, 3, 16)


def test_runs_usage_errors_name_what_is_expected(capsys):
    """runs without an action, continue without --iterations or with 0, list the choices."""
    parser = build_parser()
    for argv, expected in ((["runs"], "ACTION"),
                           (["runs", "continue", "abc"], "--iterations"),
                           (["runs", "continue", "abc", "--iterations", "0"], "[1, 1000000]"),
                           (["runs", "export"], "--out")):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        assert exc.value.code == 2 and expected in capsys.readouterr().err
    help_text = parser.parse_known_args(["runs", "list"])[0]
    assert help_text.db is None


def test_help_documents_every_store_option():
    """--help of run, ablate and every runs action lists --db (and their other options)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert "--db" in sub["run"].format_help() and "--no-db" in sub["run"].format_help()
    assert "--db" in sub["ablate"].format_help()
    actions = next(a for a in sub["runs"]._actions if a.dest == "action").choices
    assert set(actions) == {"list", "show", "export", "delete", "continue"}
    for name, p in actions.items():
        assert "--db" in p.format_help(), name
    assert "--out" in actions["export"].format_help()
    assert "--iterations" in actions["continue"].format_help()
