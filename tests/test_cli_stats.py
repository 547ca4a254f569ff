"""`python -m engine plot` and `report`: real subprocesses on real ablation output, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.cli_stats import bench_report_plot, build_report, render_markdown
from engine.stats import check_metrics

ROOT = Path(__file__).resolve().parents[1]


def _engine(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def ablation(tmp_path_factory) -> Path:
    """A real 3 conditions x 3 seeds x 8 iterations ablation CSV made by the CLI."""
    out = tmp_path_factory.mktemp("ablate") / "m.csv"
    res = _engine("ablate", "--iterations", "8", "--seeds", "3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    return out


def _fail(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_plot_writes_four_files(ablation, tmp_path):
    """plot writes learning_curves and meta_policy_drift as .png and .html."""
    res = _engine("plot", "--metrics", str(ablation), "--out", str(tmp_path / "figs"))
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["learning_curves.html", "learning_curves.png", "meta_policy_drift.html",
                     "meta_policy_drift.png"]
    assert all((tmp_path / "figs" / n).stat().st_size > 1000 for n in names)


def test_report_prints_markdown_and_writes_the_same_file(ablation, tmp_path):
    """report prints the tables and sentences; --out writes exactly what was printed."""
    out = tmp_path / "summary.md"
    res = _engine("report", "--metrics", str(ablation), "--out", str(out), "--k", "2,8")
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert out.read_text(encoding="utf-8") == text
    for heading in ("## In short", "## Final iteration (8)", "## Reference lines (same splits)",
                    "## Pairwise comparisons", "## imp@k", "## What the data supports",
                    "## Notes"):
        assert heading in text
    assert "| imp@2: mean [95% CI] | imp@8: mean [95% CI] |" in text
    assert text.count("hyperagent vs baseline") >= 3
    assert "Wilcoxon signed-rank" in text and "smallest p the test can return is 0.25" in text
    assert "Does the adaptive meta policy help?" in text and "Does the archive help?" in text


def test_missing_columns_exit_2_without_traceback(tmp_path):
    """A CSV without the metric columns fails with a message, not a traceback."""
    bad = tmp_path / "bad.csv"
    bad.write_text("condition,seed,iteration\nhyperagent,0,0\n", encoding="utf-8")
    res = _engine("report", "--metrics", str(bad))
    assert res.returncode == 2
    assert "missing column(s) best_fitness, best_test_accuracy" in res.stderr
    assert "Traceback" not in res.stderr


def test_nan_and_missing_file_and_wrong_dataset_are_clear(ablation, tmp_path, capsys):
    """NaNs name the line; a missing file names the path; a wrong dataset says what to pass."""
    df = pd.read_csv(ablation)
    df.loc[4, "best_test_accuracy"] = None
    nan_csv = tmp_path / "nan.csv"
    df.to_csv(nan_csv, index=False)
    assert "best_test_accuracy has 1 empty" in _fail(["report", "--metrics", str(nan_csv)],
                                                     capsys)
    assert "CSV line 6" in _fail(["plot", "--metrics", str(nan_csv), "--out", str(tmp_path)],
                                 capsys)
    assert "not found" in _fail(["report", "--metrics", str(tmp_path / "nope.csv")], capsys)
    err = _fail(["report", "--metrics", str(ablation), "--dataset", "synthetic"], capsys)
    assert "another dataset" in err and "--no-references" in err
    assert "imp@k: k = 50" in _fail(["report", "--metrics", str(ablation), "--k", "50"], capsys)
    assert "--k expects" in _fail(["report", "--metrics", str(ablation), "--k", "x"], capsys)
    assert "dataset: expected" in _fail(["report", "--metrics", str(ablation), "--dataset",
                                         "nonsense"], capsys)


def test_one_condition_reports_without_comparisons(ablation, tmp_path, capsys):
    """One condition: a report with its tables and a note that comparisons need two."""
    df = pd.read_csv(ablation)
    one = tmp_path / "one.csv"
    df[df["condition"] == "hyperagent"].to_csv(one, index=False)
    assert main(["report", "--metrics", str(one)]) == 0
    text = capsys.readouterr().out
    assert "Only one condition (hyperagent): pairwise comparisons need at least two" in text
    assert "## Pairwise comparisons" not in text and "## Final iteration (8)" in text


def test_one_seed_says_why_there_is_no_ci(ablation, tmp_path, capsys):
    """One seed: means without CI, no tests, and the reason in words; plot still draws."""
    df = pd.read_csv(ablation)
    one = tmp_path / "seed0.csv"
    df[df["seed"] == 0].to_csv(one, index=False)
    assert main(["report", "--metrics", str(one)]) == 0
    text = capsys.readouterr().out
    assert "(no CI: 1 seed)" in text
    assert "both are built from the spread across seeds, and one seed has none" in text
    assert "not testable with one seed per condition" in text
    assert "(hyperagent vs baseline) Not testable with one seed" in text
    assert "Unpaired comparisons" not in text
    assert main(["plot", "--metrics", str(one), "--out", str(tmp_path / "f")]) == 0
    assert "plotting means only" in capsys.readouterr().err
    assert (tmp_path / "f" / "learning_curves.png").exists()


def test_report_sentences_follow_the_data():
    """A clear separation over 8 paired seeds is reported as a difference with its direction."""
    rows = []
    for cond, final in (("hyperagent", 0.95), ("baseline", 0.7)):
        for s in range(8):
            for it, v in enumerate((0.5, final + 0.001 * s)):
                rows.append({"condition": cond, "seed": s, "iteration": it, "best_fitness": v,
                             "best_test_accuracy": v})
    rep = build_report(check_metrics(pd.DataFrame(rows)))
    text = render_markdown(rep)
    assert ("Does the adaptive meta policy help? (hyperagent vs baseline) final train accuracy: "
            "hyperagent is higher") in text
    assert "final train accuracy, hyperagent vs baseline: hyperagent is higher than baseline" \
        in text


@pytest.mark.timeout(120)
def test_report_and_plot_on_90k_rows_under_10_seconds():
    """Speed budget: report + plot on 3 x 30 x 1,000 rows need under 10 s of CPU together.

    CPU time of this process (all threads) rather than wall time, so that other jobs sharing
    the machine cannot make the test flaky.
    """
    out = bench_report_plot(90_000)
    assert out["report_plot_rows"] == 90_000
    assert out["report_plus_plot_cpu_s"] < 10.0, out


def test_unpaired_no_references_and_start(ablation, capsys):
    """--unpaired forces Mann-Whitney U, --no-references drops the lines, --start moves imp@k."""
    assert main(["report", "--metrics", str(ablation), "--unpaired", "--no-references",
                 "--start", "4", "--k", "4"]) == 0
    text = capsys.readouterr().out
    assert "Mann-Whitney U" in text and "Wilcoxon" not in text.split("## Notes")[0]
    assert "## Reference lines" not in text and "dataset `" not in text
    assert "from iteration 4)" in text and "| imp@4: mean [95% CI] |" in text
    assert "3 + 3" in text
