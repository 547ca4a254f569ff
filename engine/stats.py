"""Ablation statistics over a tidy metrics frame (the ``raw_metrics.csv`` columns).

Seeds are the unit of replication: every statistic is taken across the seeds of a condition.

- **Curves**: per condition and iteration, the mean, the sample standard deviation (ddof 1) and
  a ``CI_LEVEL`` percentile **bootstrap** interval of the mean (``BOOTSTRAP_RESAMPLES``
  resamples of the seeds with replacement, drawn from ``SeedSequence(BOOTSTRAP_SEED)``, so the
  interval is reproducible). One seed has no spread: its interval is NaN.
- **AUC**: area under a seed's best-so-far train curve by the trapezoid rule, divided by the
  iteration span, so it is the curve's mean level in [0, 1] (higher = better sooner).
- **imp@k** (HyperAgents paper): ``best(start + k) - best(start)`` per seed.
- **Comparisons** of every pair of conditions on final train accuracy, final test accuracy and
  train AUC: a two-sided Wilcoxon signed-rank test when both conditions ran the same seeds (runs
  with the same seed share their ``SeedSequence``, so they are paired by seed), otherwise a
  two-sided Mann-Whitney U test (both from scipy). p-values are Holm-adjusted over the pairs
  of one metric. Effect size: Vargha-Delaney ``A12 = P(a > b) + P(a = b) / 2`` over all
  cross pairs, Cliff's ``delta = 2 A12 - 1``, read with the thresholds ``A12_SMALL``,
  ``A12_MEDIUM``, ``A12_LARGE`` (Vargha & Delaney 2000).

Public names: REQUIRED_COLUMNS, DRIFT_COLUMNS, CI_LEVEL, ALPHA, BOOTSTRAP_RESAMPLES,
BOOTSTRAP_SEED, A12_SMALL, A12_MEDIUM, A12_LARGE, IMP_K_DEFAULT, COMPARED_METRICS,
MetricsError, read_metrics, check_metrics, condition_order, seed_matrix, bootstrap_ci,
summarise, auc, per_seed, imp_at_k, default_ks, vargha_delaney, cliffs_delta,
effect_magnitude, holm, RankTest, rank_test, min_attainable_p, Comparison, compare_conditions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("condition", "seed", "iteration", "best_fitness",
                                     "best_test_accuracy")
DRIFT_COLUMNS: tuple[str, ...] = ("weight_step", "threshold_step", "exploration_scale")
CI_LEVEL = 0.95
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
A12_SMALL = 0.56
A12_MEDIUM = 0.64
A12_LARGE = 0.71
IMP_K_DEFAULT = 10
COMPARED_METRICS: dict[str, str] = {
    "final_train": "final train accuracy",
    "final_test": "final test accuracy",
    "auc_train": "area under the train curve",
}


class MetricsError(ValueError):
    """A metrics table that cannot be analysed; the message says what was expected."""


# ---- input -----------------------------------------------------------------------------------
def read_metrics(path: str | Path, columns: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read and check a metrics CSV (see ``check_metrics``).

    Raises:
        MetricsError: unreadable file, not a CSV, or a table ``check_metrics`` rejects.
    """
    p = Path(path)
    if not p.is_file():
        raise MetricsError(f"metrics CSV {p} not found: expected a file written by "
                           "`python -m engine ablate --out PATH`")
    try:
        wanted = set(columns)
        df = pd.read_csv(p, dtype={"condition": str}, usecols=lambda c: c in wanted)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MetricsError(f"{p}: cannot read as CSV ({exc.__class__.__name__}); expected "
                           "the metrics CSV written by `python -m engine ablate`") from None
    return check_metrics(df, columns)


def check_metrics(df: pd.DataFrame, columns: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Validate a metrics table and return a clean copy sorted by condition, seed, iteration.

    Conditions keep their order of first appearance. Every run (condition, seed) must cover the
    same iterations exactly once.

    Raises:
        MetricsError: no rows, missing columns, empty / non-numeric / infinite values (with the
            first CSV line), non-integer seeds or iterations, duplicates, or ragged runs.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MetricsError(f"metrics are missing column(s) {', '.join(missing)}; expected the "
                           f"columns written by `python -m engine ablate`: {', '.join(columns)}")
    if len(df) == 0:
        raise MetricsError("metrics have no rows: expected one row per condition, seed and "
                           "iteration")
    out = df[list(dict.fromkeys(columns))].copy()
    cond = out["condition"]
    bad = cond.isna() | (cond.astype(str).str.strip() == "")
    if bad.any():
        raise MetricsError(f"column condition has {int(bad.sum())} empty value(s) (first at "
                           f"CSV line {int(np.flatnonzero(bad.to_numpy())[0]) + 2}); expected "
                           "a condition name on every row")
    out["condition"] = cond.astype(str)
    for c in columns:
        if c == "condition":
            continue
        num = pd.to_numeric(out[c], errors="coerce").astype(np.float64)
        bad = ~np.isfinite(num.to_numpy())
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise MetricsError(f"column {c} has {int(bad.sum())} empty, non-numeric or "
                               f"infinite value(s) (first at CSV line {first + 2}: "
                               f"{df[c].iloc[first]!r}); expected a number on every row")
        if c in ("seed", "iteration"):
            if not np.all(num == np.round(num)) or (c == "iteration" and (num < 0).any()):
                raise MetricsError(f"column {c}: expected whole numbers"
                                   + (" >= 0" if c == "iteration" else ""))
            num = num.astype(np.int64)
        out[c] = num
    order = {c: i for i, c in enumerate(pd.unique(out["condition"]))}
    out["_order"] = out["condition"].map(order)
    out = out.sort_values(["_order", "seed", "iteration"], kind="stable").drop(columns="_order")
    out = out.reset_index(drop=True)
    key = ["condition", "seed", "iteration"]
    dup = out.duplicated(key)
    if dup.any():
        c, s, i = out.loc[dup.idxmax(), key]
        raise MetricsError(f"duplicate rows for condition {c} seed {s} iteration {i}: expected "
                           "one row per (condition, seed, iteration); was one ablation "
                           "appended to another?")
    runs = out.groupby(["condition", "seed"], sort=False)["iteration"]
    sizes = runs.size()
    if sizes.nunique() > 1 or runs.min().nunique() > 1 or runs.max().nunique() > 1:
        lo, hi = runs.min(), runs.max()
        ref = sizes.index[0]
        odd = next(k for k in sizes.index
                   if (sizes[k], lo[k], hi[k]) != (sizes[ref], lo[ref], hi[ref]))
        raise MetricsError(
            f"condition {odd[0]} seed {odd[1]} has {sizes[odd]} iterations ({lo[odd]}..{hi[odd]})"
            f" but condition {ref[0]} seed {ref[1]} has {sizes[ref]} ({lo[ref]}..{hi[ref]}); "
            "expected every run to cover the same iterations (one ablation per CSV)")
    return out


def condition_order(df: pd.DataFrame) -> list[str]:
    """Condition names in order of first appearance."""
    return list(pd.unique(df["condition"]))


def seed_matrix(df: pd.DataFrame, condition: str,
                column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds (n,), iterations (k,), values (n, k)) of one condition from a checked frame."""
    sub = df[df["condition"] == condition]
    wide = sub.pivot(index="seed", columns="iteration", values=column)
    return wide.index.to_numpy(), wide.columns.to_numpy(), wide.to_numpy(dtype=np.float64)


# ---- intervals and curves --------------------------------------------------------------------
def _sorted_quantile(rows: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of each sorted row, linear interpolation (numpy's default method)."""
    h = (rows.shape[1] - 1) * q
    i = int(np.floor(h))
    j = min(i + 1, rows.shape[1] - 1)
    return rows[:, i] + (h - i) * (rows[:, j] - rows[:, i])


def bootstrap_ci(values, level: float = CI_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple:
    """Percentile bootstrap interval of the mean over axis 0.

    Args:
        values: (n,) or (n, k): n seeds, optionally k columns (iterations) bootstrapped with
            the same resamples of the seeds.
        level: coverage in (0, 1); resamples: number of resamples; seed: resampling seed.

    Returns:
        (low, high): floats for (n,) input, (k,) arrays for (n, k); NaN when n < 2.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    x2 = x[:, None] if flat else x
    n = x2.shape[0]
    if n < 2:
        lo = hi = np.full(x2.shape[1], np.nan)
    else:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
        # (k, resamples), each row sorted: a full sort beats np.quantile's partition here.
        means = np.sort((x2.T @ counts.T) / n, axis=1)
        tail = (1.0 - level) / 2.0
        lo, hi = (_sorted_quantile(means, q) for q in (tail, 1.0 - tail))
        # Rounding in the sum can put a constant column's bounds a hair off its mean.
        mean = x2.mean(axis=0)
        lo, hi = np.minimum(lo, mean), np.maximum(hi, mean)
    return (float(lo[0]), float(hi[0])) if flat else (lo, hi)


def summarise(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per condition and iteration: n seeds, mean, sd and bootstrap CI of ``column``.

    Returns:
        DataFrame with columns condition, iteration, n, mean, sd, ci_low, ci_high.
    """
    parts = []
    for c in condition_order(df):
        _, its, m = seed_matrix(df, c, column)
        lo, hi = bootstrap_ci(m)
        sd = m.std(axis=0, ddof=1) if len(m) > 1 else np.full(len(its), np.nan)
        parts.append(pd.DataFrame({"condition": c, "iteration": its, "n": len(m),
                                   "mean": m.mean(axis=0), "sd": sd, "ci_low": lo,
                                   "ci_high": hi}))
    return pd.concat(parts, ignore_index=True)


def auc(values: np.ndarray, iterations: np.ndarray) -> np.ndarray:
    """(n,) normalised area under each row's curve: trapezoid area / iteration span.

    A single iteration has no span: its area is the value itself.
    """
    v = np.asarray(values, dtype=np.float64)
    it = np.asarray(iterations, dtype=np.float64)
    if len(it) < 2:
        return v[:, 0].copy()
    area = ((v[:, 1:] + v[:, :-1]) / 2.0 * np.diff(it)).sum(axis=1)
    return area / (it[-1] - it[0])


def per_seed(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: condition, seed, final_train, final_test, auc_train."""
    parts = []
    for c in condition_order(df):
        seeds, its, train = seed_matrix(df, c, "best_fitness")
        _, _, test = seed_matrix(df, c, "best_test_accuracy")
        parts.append(pd.DataFrame({"condition": c, "seed": seeds, "final_train": train[:, -1],
                                   "final_test": test[:, -1], "auc_train": auc(train, its)}))
    return pd.concat(parts, ignore_index=True)


def default_ks(first: int, final: int, start: int) -> list[int]:
    """imp@k horizons shown by default: ``IMP_K_DEFAULT`` and the whole run from ``start``."""
    span = final - max(start, first)
    return sorted({k for k in (IMP_K_DEFAULT, span) if 0 < k <= span})


def imp_at_k(df: pd.DataFrame, ks, start: int = 0,
             column: str = "best_fitness") -> pd.DataFrame:
    """imp@k: ``column`` at iteration ``start + k`` minus at ``start``, per seed.

    Returns:
        DataFrame with columns condition, k, n, mean, sd, ci_low, ci_high.

    Raises:
        MetricsError: ``start`` or ``start + k`` is not an iteration of the metrics.
    """
    its = set(df["iteration"].unique().tolist())
    last = max(its)
    if start not in its:
        raise MetricsError(f"imp@k: start iteration {start} is not in the metrics (they cover "
                           f"{min(its)}..{last}); expected a start in that range")
    rows = []
    for c in condition_order(df):
        _, iters, m = seed_matrix(df, c, column)
        pos = {int(i): j for j, i in enumerate(iters)}
        for k in ks:
            if k < 1 or start + k not in pos:
                raise MetricsError(f"imp@k: k = {k} needs iteration {start + k}, but the metrics"
                                   f" cover {min(its)}..{last}; expected 1 <= k <= "
                                   f"{last - start}")
            d = m[:, pos[start + k]] - m[:, pos[start]]
            lo, hi = bootstrap_ci(d)
            rows.append({"condition": c, "k": int(k), "n": len(d), "mean": float(d.mean()),
                         "sd": float(d.std(ddof=1)) if len(d) > 1 else np.nan,
                         "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


# ---- effect sizes and tests ------------------------------------------------------------------
def vargha_delaney(a, b) -> float:
    """A12 = P(a > b) + P(a = b) / 2 over all pairs (a_i, b_j), in [0, 1]; 0.5 = no effect."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    gt = (x[:, None] > y[None, :]).mean()
    eq = (x[:, None] == y[None, :]).mean()
    return float(gt + 0.5 * eq)


def cliffs_delta(a, b) -> float:
    """Cliff's delta = P(a > b) - P(a < b) = 2 A12 - 1, in [-1, 1]."""
    return 2.0 * vargha_delaney(a, b) - 1.0


def effect_magnitude(a12: float) -> str:
    """negligible / small / medium / large, from the distance of A12 to 0.5 (either side)."""
    a = max(a12, 1.0 - a12)
    if a < A12_SMALL:
        return "negligible"
    if a < A12_MEDIUM:
        return "small"
    if a < A12_LARGE:
        return "medium"
    return "large"


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values; NaN entries (no test) are left out of the family."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class RankTest:
    """A two-sided rank test: its name, statistic and p-value (NaN with a reason if none)."""

    name: str
    statistic: float
    p_value: float
    reason: str = ""


def rank_test(a, b, paired: bool) -> RankTest:
    """Wilcoxon signed-rank (paired, a[i] with b[i]) or Mann-Whitney U (unpaired), two-sided.

    No test is run when a group has fewer than two values or every value ties.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    name = "Wilcoxon signed-rank" if paired else "Mann-Whitney U"
    if len(x) < 2 or len(y) < 2:
        return RankTest(name, np.nan, np.nan, "one seed per condition: a test needs at least "
                        "two seeds per condition")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample / tie warnings; the report says n
        if paired:
            if np.all(x == y):
                return RankTest(name, np.nan, np.nan, "all paired values equal")
            res = stats.wilcoxon(x, y, alternative="two-sided")
        else:
            if np.all(np.r_[x, y] == x[0]):
                return RankTest(name, np.nan, np.nan, "all values equal")
            res = stats.mannwhitneyu(x, y, alternative="two-sided")
    return RankTest(name, float(res.statistic), float(res.pvalue))


def min_attainable_p(n_a: int, n_b: int, paired: bool) -> float:
    """The smallest two-sided p the test can return for these sizes (complete separation)."""
    if paired:
        return rank_test(np.arange(1.0, n_a + 1), np.zeros(n_a), True).p_value
    return rank_test(np.arange(float(n_a)), np.arange(float(n_b)) + n_a, False).p_value


@dataclass(frozen=True)
class Comparison:
    """Condition ``a`` against ``b`` on one per-seed metric (``COMPARED_METRICS`` key)."""

    metric: str
    a: str
    b: str
    test: RankTest
    paired: bool
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    p_holm: float
    a12: float
    delta: float
    magnitude: str
    sentence: str

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b


def _sentence(metric: str, a: str, b: str, test: RankTest, p_holm: float, diff: float,
              a12: float, mag: str) -> str:
    what = f"{COMPARED_METRICS[metric]}, {a} vs {b}"
    eff = f"A12 = {a12:.2f}, {mag}"
    if test.reason:
        if test.reason.startswith("one seed"):
            return (f"{what}: not testable with one seed per condition (observed difference "
                    f"{diff:+.3f}).")
        return f"{what}: no difference detected ({test.reason})."
    if p_holm < ALPHA:
        hi, lo = (a, b) if diff > 0 or (diff == 0 and a12 > 0.5) else (b, a)
        return (f"{what}: {hi} is higher than {lo} (mean difference {diff:+.3f}, "
                f"{test.name} p = {test.p_value:.3g}, Holm-adjusted {p_holm:.3g}; {eff}).")
    tail = ("" if mag == "negligible" else
            f"; the estimated effect is {mag}, so more seeds could still reveal one")
    return (f"{what}: no difference detected (mean difference {diff:+.3f}, {test.name} "
            f"p = {test.p_value:.3g}, Holm-adjusted {p_holm:.3g}; {eff}{tail}).")


def compare_conditions(seeds: pd.DataFrame, paired: bool | None = None) -> list[Comparison]:
    """Every pair of conditions on every ``COMPARED_METRICS`` column of ``per_seed`` output.

    Args:
        seeds: ``per_seed(df)``.
        paired: None pairs by seed whenever both conditions ran the same seeds; False forces
            the unpaired test; True is the same as None (pairs need matching seeds).
    """
    conds = list(pd.unique(seeds["condition"]))
    groups = {c: seeds[seeds["condition"] == c].set_index("seed") for c in conds}
    out: list[Comparison] = []
    for metric in COMPARED_METRICS:
        staged = []
        for a, b in combinations(conds, 2):
            ga, gb = groups[a], groups[b]
            same = list(ga.index) == list(gb.index)
            use_pair = paired is not False and same and len(ga) > 1
            x, y = ga[metric].to_numpy(), gb[metric].to_numpy()
            staged.append((a, b, x, y, use_pair, rank_test(x, y, use_pair)))
        adj = holm([t.p_value for *_, t in staged])
        for (a, b, x, y, use_pair, t), p_adj in zip(staged, adj):
            a12 = vargha_delaney(x, y)
            mag = effect_magnitude(a12)
            diff = float(x.mean() - y.mean())
            out.append(Comparison(metric, a, b, t, use_pair, len(x), len(y), float(x.mean()),
                                  float(y.mean()), float(p_adj), a12, 2 * a12 - 1, mag,
                                  _sentence(metric, a, b, t, float(p_adj), diff, a12, mag)))
    return out
