"""``python -m engine plot`` and ``python -m engine report``: the ablation, read like a paper.

``build_report`` gathers every figure of the report into a ``Report`` (the app can show its
tables directly); ``render_markdown`` prints it. ``write_plots`` draws the two figures.

Public names: Report, build_report, render_markdown, load_for_analysis, write_plots,
add_parsers, bench_report_plot.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Heavy imports (numpy, pandas, scipy, altair) happen inside functions: `python -m engine`
# imports this module to build its parser, and `run` or `ablate` must not pay for them.
if TYPE_CHECKING:
    import pandas as pd

    from engine.reference import Reference
    from engine.stats import Comparison

# The two questions the ablation answers: (full system, arm without the part) -> question.
QUESTIONS: dict[tuple[str, str], str] = {
    ("hyperagent", "baseline"): "Does the adaptive meta policy help?",
    ("hyperagent", "no_archive"): "Does the archive help?",
}
_ONE_SEED = ("no confidence interval and no test: both are built from the spread across seeds, "
             "and one seed has none")


@dataclass(frozen=True, eq=False)
class Report:
    """Everything the report states.

    Attributes:
        source: where the metrics came from (shown in the header).
        n_rows: metric rows read.
        seeds: seeds per condition, conditions in order of first appearance.
        first_iteration, final_iteration: the iterations every run covers.
        start: imp@k start iteration.
        finals: per condition ``n`` and ``{final_train,final_test,auc_train}_{mean,sd,low,high}``.
        comparisons: every pair on every ``COMPARED_METRICS`` metric.
        imp: ``imp_at_k`` output.
        references: reference lines (empty when not computed); dataset: their dataset name.
        headlines: one answer per ``QUESTIONS`` entry whose conditions are both present.
        notes: caveats a reader must see; conclusions: one sentence per finding.
    """

    source: str
    n_rows: int
    seeds: dict[str, tuple[int, ...]]
    first_iteration: int
    final_iteration: int
    start: int
    finals: pd.DataFrame
    comparisons: tuple[Comparison, ...]
    imp: pd.DataFrame
    references: tuple[Reference, ...]
    dataset: str | None
    notes: tuple[str, ...]
    conclusions: tuple[str, ...]
    headlines: tuple[str, ...] = ()

    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(self.seeds)


def _finals(seeds: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from engine.stats import COMPARED_METRICS, bootstrap_ci

    rows = []
    for c in pd.unique(seeds["condition"]):
        g = seeds[seeds["condition"] == c]
        row: dict = {"condition": c, "n": len(g)}
        for m in COMPARED_METRICS:
            v = g[m].to_numpy()
            lo, hi = bootstrap_ci(v)
            row.update({f"{m}_mean": float(v.mean()),
                        f"{m}_sd": float(v.std(ddof=1)) if len(v) > 1 else np.nan,
                        f"{m}_low": lo, f"{m}_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def _notes(seeds: dict[str, tuple[int, ...]], comps: list[Comparison]) -> list[str]:
    from engine.stats import ALPHA, min_attainable_p

    notes = []
    if len(seeds) < 2:
        notes.append(f"Only one condition ({next(iter(seeds))}): pairwise comparisons need at "
                     "least two conditions.")
    lone = [c for c, s in seeds.items() if len(s) < 2]
    if lone:
        notes.append(f"One seed for {', '.join(lone)}: {_ONE_SEED}. Run more seeds "
                     "(`python -m engine ablate --seeds N`).")
    if comps and len(lone) < len(seeds):
        paired = {(c.a, c.b): c.paired for c in comps}
        if all(paired.values()):
            ss = next(iter(seeds.values()))
            notes.append(
                f"Every condition ran seeds {ss[0]}..{ss[-1]}; runs with the same seed start "
                "from the same SeedSequence, so comparisons pair runs by seed: Wilcoxon "
                "signed-rank, two-sided, zero differences dropped (scipy's default).")
        else:
            unp = [f"{a} vs {b}" for (a, b), p in paired.items() if not p]
            notes.append(f"Unpaired comparisons (different seeds, or --unpaired): "
                         f"{', '.join(unp)}: Mann-Whitney U, two-sided.")
        family = len(paired)
        worst = []
        for (a, b), p in paired.items():
            na, nb = len(seeds[a]), len(seeds[b])
            if min(na, nb) >= 2:
                pmin = min_attainable_p(na, nb, p)
                if pmin * family >= ALPHA:
                    worst.append((a, b, pmin))
        if worst:
            a, b, pmin = worst[0]
            notes.append(
                f"Power: with {len(seeds[a])} seeds the smallest p the test can return is "
                f"{pmin:.3g} ({a} vs {b}), or {min(1.0, pmin * family):.3g} after the Holm "
                f"adjustment over {family} comparisons, so no difference can reach "
                f"alpha = {ALPHA} whatever the data. \"No difference detected\" here means the "
                "design cannot tell; run more seeds for a test with power.")
    return notes


def _ceiling_sentences(finals: pd.DataFrame, refs: tuple[Reference, ...]) -> list[str]:
    named = {r.name: r for r in refs}
    if "ceiling" not in named or "seed agent" not in named:
        return []
    ceil, seed = named["ceiling"], named["seed agent"]
    bound = "" if ceil.exact else " (a lower bound)"
    out = []
    for _, r in finals.iterrows():
        gap = ceil.train - r["final_train_mean"]
        where = (f"{gap:.3f} below the train ceiling {ceil.train:.3f}{bound}" if gap > 5e-4
                 else f"at the train ceiling {ceil.train:.3f}{bound}" if gap > -5e-4
                 else f"{-gap:.3f} above the ceiling's lower bound {ceil.train:.3f}")
        out.append(f"{r['condition']}: final train {r['final_train_mean']:.3f}, up from the seed "
                   f"agent's {seed.train:.3f} and {where}; final test {r['final_test_mean']:.3f} "
                   f"(ceiling scorer {ceil.test:.3f}, seed agent {seed.test:.3f}).")
    return out


def _headlines(comps: list[Comparison]) -> list[str]:
    from engine.stats import ALPHA, COMPARED_METRICS, min_attainable_p

    out = []
    for (a, b), question in QUESTIONS.items():
        cs = [c for c in comps if {c.a, c.b} == {a, b}]
        if not cs:
            continue
        found = []
        for c in cs:
            if c.p_holm < ALPHA:
                diff = c.difference if c.a == a else -c.difference
                found.append(f"{COMPARED_METRICS[c.metric]}: {a if diff > 0 else b} is higher "
                             f"({a} - {b} = {diff:+.3f}, Holm-adjusted p = {c.p_holm:.3g}, "
                             f"{c.magnitude} effect)")
        if found:
            rest = "; no difference detected on the other metrics" if len(found) < len(cs) else ""
            out.append(f"{question} ({a} vs {b}) " + "; ".join(found) + rest + ".")
            continue
        c = cs[0]
        if min(c.n_a, c.n_b) < 2:
            out.append(f"{question} ({a} vs {b}) Not testable with one seed (see Notes).")
            continue
        text = (f"{question} ({a} vs {b}) No difference detected on "
                + ", ".join(COMPARED_METRICS[c.metric] for c in cs))
        family = len({(x.a, x.b) for x in comps})
        if min_attainable_p(c.n_a, c.n_b, c.paired) * family >= ALPHA:
            text += (", but with these seeds no test could have reached significance "
                     "(see Notes)")
        out.append(text + ".")
    return out


def build_report(df: pd.DataFrame, references: tuple[Reference, ...] = (),
                 dataset: str | None = None, ks: list[int] | None = None, start: int = 0,
                 paired: bool | None = None, source: str = "metrics") -> Report:
    """Assemble the report from a checked metrics frame (``engine.stats.check_metrics``)."""
    import pandas as pd

    from engine.stats import compare_conditions, condition_order, default_ks, imp_at_k, per_seed

    seeds_df = per_seed(df)
    seeds = {c: tuple(int(s) for s in seeds_df.loc[seeds_df["condition"] == c, "seed"])
             for c in condition_order(df)}
    first, final = int(df["iteration"].min()), int(df["iteration"].max())
    ks = default_ks(first, final, start) if ks is None else ks
    imp = imp_at_k(df, ks, start) if ks else pd.DataFrame(
        columns=["condition", "k", "n", "mean", "sd", "ci_low", "ci_high"])
    comps = compare_conditions(seeds_df, paired)
    finals = _finals(seeds_df)
    conclusions = [c.sentence for c in comps] + _ceiling_sentences(finals, tuple(references))
    notes = _notes(seeds, comps)
    ceil = next((r for r in references if r.name == "ceiling"), None)
    if ceil is not None and ceil.exact and (seeds_df["final_train"] >= ceil.train - 1e-12).all():
        notes.append(f"Every run of every condition ends at the exact train ceiling "
                     f"({ceil.train:.3f}): this benchmark is saturated, so final accuracy cannot "
                     "separate the conditions; only the speed (AUC, imp@k) and a harder "
                     "benchmark can.")
    return Report(source, len(df), seeds, first, final, start, finals, tuple(comps), imp,
                  tuple(references), dataset, tuple(notes), tuple(conclusions),
                  tuple(_headlines(comps)))


# ---- Markdown --------------------------------------------------------------------------------
def _num(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _ci(mean: float, lo: float, hi: float) -> str:
    if not math.isfinite(lo):
        return f"{mean:.3f} (no CI: 1 seed)"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def render_markdown(rep: Report) -> str:
    """The report as Markdown (ends with a newline)."""
    from engine.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CI_LEVEL, COMPARED_METRICS

    conds = rep.conditions
    n_seeds = sorted({len(s) for s in rep.seeds.values()})
    seeds_txt = " / ".join(str(n) for n in n_seeds)
    pct = f"{CI_LEVEL:.0%}"
    lines = ["# Ablation report", "",
             f"Metrics: `{rep.source}`: {len(conds)} condition(s) ({', '.join(conds)}) x "
             f"{seeds_txt} seed(s) x iterations {rep.first_iteration}..{rep.final_iteration} "
             f"({rep.n_rows} rows)."
             + (f" Reference lines on dataset `{rep.dataset}`." if rep.dataset else ""), "",
             f"Mean over seeds, sample sd, and a {pct} percentile bootstrap CI of the mean "
             f"({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}). Accuracy is of the "
             "best agent so far (chosen on train). AUC = area under the best-so-far train "
             "curve / iteration span (1.0 = perfect from the start).", "",
             ]
    if rep.headlines:
        lines += ["## In short", ""] + [f"- {h}" for h in rep.headlines] + [""]
    lines += [f"## Final iteration ({rep.final_iteration})", ""]
    f = rep.finals
    lines += _table(
        ["condition", "seeds", f"train: mean [{pct} CI]", "train sd",
         f"test: mean [{pct} CI]", "test sd", f"train AUC: mean [{pct} CI]"],
        [[r["condition"], str(r["n"]),
          _ci(r["final_train_mean"], r["final_train_low"], r["final_train_high"]),
          _num(r["final_train_sd"]),
          _ci(r["final_test_mean"], r["final_test_low"], r["final_test_high"]),
          _num(r["final_test_sd"]),
          _ci(r["auc_train_mean"], r["auc_train_low"], r["auc_train_high"])]
         for _, r in f.iterrows()])
    if rep.references:
        lines += ["", "## Reference lines (same splits)", ""]
        lines += _table(["reference", "train", "test", "how"],
                        [[r.name, _num(r.train), _num(r.test), r.method]
                         for r in rep.references])
    if rep.comparisons:
        lines += ["", "## Pairwise comparisons", "",
                  "Two-sided rank tests; Holm adjustment over the pairs of one metric. "
                  "A12 = P(A > B) + P(A = B)/2 over all seed pairs (0.5 = no effect); "
                  "Cliff's delta = 2 A12 - 1.", ""]
        lines += _table(
            ["metric", "A vs B", "test", "n", "mean A - B", "p", "p (Holm)", "A12",
             "Cliff's delta", "effect"],
            [[COMPARED_METRICS[c.metric], f"{c.a} vs {c.b}",
              c.test.name + (" (" + c.test.reason + ")" if c.test.reason else ""),
              f"{c.n_a} pairs" if c.paired else f"{c.n_a} + {c.n_b}",
              f"{c.difference:+.4f}", _p(c.test.p_value), _p(c.p_holm), f"{c.a12:.2f}",
              f"{c.delta:+.2f}", c.magnitude] for c in rep.comparisons])
    if len(rep.imp):
        ks = sorted(rep.imp["k"].unique())
        lines += ["", f"## imp@k (best train accuracy gained in k iterations from iteration "
                  f"{rep.start})", ""]
        rows = []
        for c in conds:
            g = rep.imp[rep.imp["condition"] == c].set_index("k")
            rows.append([c] + [_ci(g.loc[k, "mean"], g.loc[k, "ci_low"], g.loc[k, "ci_high"])
                               for k in ks])
        lines += _table(["condition"] + [f"imp@{k}: mean [{pct} CI]" for k in ks], rows)
    lines += ["", "## What the data supports", ""]
    lines += [f"- {s}" for s in rep.conclusions] or ["- Nothing to compare."]
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    return "\n".join(lines) + "\n"


# ---- commands --------------------------------------------------------------------------------
def load_for_analysis(metrics: str, dataset: str | None, columns: tuple[str, ...] | None = None):
    """Read and check the metrics; compute reference lines on ``dataset`` (None: skip).

    Raises:
        ValueError: bad metrics, unknown dataset, or metrics from another dataset.
    """
    from engine.dataset import load_dataset
    from engine.reference import check_metrics_match, references
    from engine.stats import REQUIRED_COLUMNS, read_metrics

    df = read_metrics(metrics, columns or REQUIRED_COLUMNS)
    if dataset is None:
        return df, (), None
    ds = load_dataset(dataset)
    at0 = df.loc[df["iteration"] == 0, "best_fitness"]
    check_metrics_match(float(at0.iloc[0]) if len(at0) else None, ds)
    return df, references(ds), dataset


def write_plots(df: pd.DataFrame, out_dir: str | Path,
                refs: tuple[Reference, ...] = ()) -> list[Path]:
    """Draw learning_curves and meta_policy_drift (.png and .html) into ``out_dir``."""
    from engine.charts import (
        drift_data,
        learning_curve_data,
        learning_curves_chart,
        meta_policy_drift_chart,
        reference_data,
        save_chart,
    )

    curves = learning_curves_chart(learning_curve_data(df),
                                   reference_data(refs) if refs else None)
    return (save_chart(curves, out_dir, "learning_curves")
            + save_chart(meta_policy_drift_chart(drift_data(df)), out_dir, "meta_policy_drift"))


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        ks = []
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(
            f"--k expects comma-separated whole numbers >= 1 (for example 10,30), got {text!r}")
    return ks


def _nonneg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return v


def cmd_plot(args: argparse.Namespace) -> int:
    from engine.stats import DRIFT_COLUMNS, REQUIRED_COLUMNS

    df, refs, _ = load_for_analysis(args.metrics, None if args.no_references else args.dataset,
                                    REQUIRED_COLUMNS + DRIFT_COLUMNS)
    if df.groupby("condition")["seed"].nunique().min() < 2:
        print(f"note: a condition has one seed: {_ONE_SEED}; plotting means only",
              file=sys.stderr)
    for p in write_plots(df, args.out, refs):
        print(f"wrote {p}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    df, refs, name = load_for_analysis(args.metrics,
                                       None if args.no_references else args.dataset)
    # Only the file name: the report must not depend on where it was run from.
    rep = build_report(df, refs, name, args.k, args.start, False if args.unpaired else None,
                       Path(args.metrics).name)
    text = render_markdown(rep)
    sys.stdout.write(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", default="results/raw_metrics.csv",
                   help="metrics CSV from `python -m engine ablate` "
                        "(default results/raw_metrics.csv)")
    p.add_argument("--dataset", default="classic", metavar="classic|synthetic|PATH.csv",
                   help="the dataset the ablation ran on, for the reference lines "
                        "(default classic)")
    p.add_argument("--no-references", action="store_true",
                   help="skip the reference lines (majority class, seed agent, ceiling)")


def add_parsers(sub) -> None:
    """Register ``plot`` and ``report`` on the ``python -m engine`` subparsers."""
    p = sub.add_parser("plot", help="learning curves and meta-policy drift as PNG and HTML")
    _common(p)
    p.add_argument("--out", default="results", help="output folder (default results/)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="Markdown report: CIs, rank tests, effect sizes, imp@k")
    _common(p)
    p.add_argument("--k", type=_ks, default=None,
                   help="imp@k horizons, comma-separated (default: 10 and the whole run)")
    p.add_argument("--start", type=_nonneg, default=0,
                   help="imp@k start iteration (default 0)")
    p.add_argument("--unpaired", action="store_true",
                   help="Mann-Whitney U even when conditions share seeds")
    p.add_argument("--out", default=None, help="also write the report to this file")
    p.set_defaults(func=cmd_report)


def bench_report_plot(rows: int = 90_000) -> dict:
    """Time ``report`` + ``plot`` on a generated metrics CSV of 3 conditions x 30 seeds.

    ``rows // 90`` iterations per run (0..), classic reference lines, in this process (so
    without interpreter start-up); returns seconds.
    """
    import contextlib
    import io
    import tempfile
    import time

    import numpy as np
    import pandas as pd

    from engine.cli import main
    from engine.stats import DRIFT_COLUMNS

    iters = max(2, rows // 90)
    rng = np.random.default_rng(np.random.SeedSequence(0))
    shape = (3, 30, iters)
    gain = rng.random(shape) < 0.02
    best = np.minimum(1.0, 0.65 + np.cumsum(gain * rng.uniform(0, 0.05, shape), axis=2))
    best[..., 0] = 0.65  # the classic seed agent, so the dataset check passes
    test = np.minimum(1.0, best + rng.normal(0, 0.02, shape).round(2))
    c, s, i = np.meshgrid(np.arange(3), np.arange(30), np.arange(iters), indexing="ij")
    df = pd.DataFrame({"condition": np.array(["hyperagent", "baseline", "no_archive"])[c.ravel()],
                       "seed": s.ravel(), "iteration": i.ravel(), "best_fitness": best.ravel(),
                       "best_test_accuracy": test.ravel()})
    for col, base in zip(DRIFT_COLUMNS, (0.05, 0.02, 1.0)):
        df[col] = base * np.exp(np.cumsum(rng.normal(0, 0.05, shape), axis=2)).ravel()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.csv"
        df.to_csv(path, index=False)
        t0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["report", "--metrics", str(path)])
            t1 = time.perf_counter()
            main(["plot", "--metrics", str(path), "--out", tmp])
        t2, c2 = time.perf_counter(), time.process_time()
    # Wall-clock seconds, plus the CPU seconds of this process (all threads, so vl-convert's
    # renderer counts), which other jobs on a shared machine cannot inflate.
    return {"report_plot_rows": len(df), "report_s": round(t1 - t0, 3),
            "plot_s": round(t2 - t1, 3), "report_plus_plot_s": round(t2 - t0, 3),
            "report_plus_plot_cpu_s": round(c2 - c0, 3)}
