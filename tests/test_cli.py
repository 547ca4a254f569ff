"""python -m engine: run, ablate, bench and usage errors, as real subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.run import METRIC_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=300)


def test_help_documents_every_option():
    """--help of run and ablate lists every option."""
    run_help = _cli("run", "--help").stdout
    for opt in ("--condition", "--iterations", "--seed", "--dataset"):
        assert opt in run_help
    ab = _cli("ablate", "--help").stdout
    for opt in ("--conditions", "--seeds", "--iterations", "--out", "--dataset", "--workers"):
        assert opt in ab


def test_ablate_writes_the_documented_csv(tmp_path):
    """ablate writes conditions x seeds x (iterations+1) rows with the documented columns."""
    out = tmp_path / "m.csv"
    r = _cli("ablate", "--iterations", "5", "--seeds", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == list(METRIC_COLUMNS) and len(df) == 3 * 2 * 6
    assert "ablate [" in r.stderr


def test_usage_errors_list_valid_values(tmp_path):
    """Unknown condition, iterations out of range and seeds < 1 exit 2 with the valid values."""
    r = _cli("run", "--condition", "magic")
    assert r.returncode == 2 and "hyperagent" in r.stderr and "no_archive" in r.stderr
    r = _cli("run", "--iterations", "0")
    assert r.returncode == 2 and "[1, 1000000]" in r.stderr
    r = _cli("run", "--iterations", "1000001")
    assert r.returncode == 2 and "[1, 1000000]" in r.stderr
    r = _cli("ablate", "--seeds", "0", "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "seeds" in r.stderr
    r = _cli("ablate", "--conditions", "hyperagent,bogus", "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "baseline" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n")
    r = _cli("run", "--dataset", str(bad))
    assert r.returncode == 2 and "missing columns" in r.stderr and "Traceback" not in r.stderr


def test_run_prints_a_summary():
    """run prints the best agent's train and test accuracy."""
    r = _cli("run", "--condition", "hyperagent", "--iterations", "30", "--seed", "7", "--no-db")
    assert r.returncode == 0, r.stderr
    assert "best_train_accuracy=" in r.stdout and "condition=hyperagent" in r.stdout


def test_bench_prints_json_with_required_keys():
    """bench --quick prints one JSON object with the required figures."""
    r = _cli("bench", "--quick")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    for key in ("run_1k_s", "run_10k_s", "growth_10k_over_1k", "ablation_default_s",
                "floor_10k_s"):
        assert data[key] > 0
    # the yardstick does strictly less work per step than the engine
    assert data["floor_10k_s"] < data["run_10k_s"]
