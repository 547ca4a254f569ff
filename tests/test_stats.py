"""engine.stats and engine.reference on small cases with values worked out by hand or by scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from engine.dataset import classic, parse_csv, synthetic
from engine.evaluate import accuracy
from engine.policy import SEED_THRESHOLD, STYLE_OFFSET, THRESHOLD_BOUNDS, WEIGHT_BOUNDS
from engine.reference import (
    best_threshold,
    ceiling,
    check_metrics_match,
    majority_class,
    policy_from_direction,
    references,
    seed_reference,
)
from engine.stats import (
    MetricsError,
    auc,
    bootstrap_ci,
    check_metrics,
    cliffs_delta,
    compare_conditions,
    default_ks,
    effect_magnitude,
    holm,
    imp_at_k,
    min_attainable_p,
    per_seed,
    rank_test,
    summarise,
    vargha_delaney,
)


def _frame(curves: dict[str, list[list[float]]], test_offset: float = 0.0) -> pd.DataFrame:
    """Metrics rows from {condition: [per-seed best_fitness curve]} (seeds 0.., iterations 0..)."""
    rows = []
    for cond, runs in curves.items():
        for seed, curve in enumerate(runs):
            for it, v in enumerate(curve):
                rows.append({"condition": cond, "seed": seed, "iteration": it,
                             "best_fitness": v, "best_test_accuracy": v - test_offset})
    return pd.DataFrame(rows)


# ---- bootstrap -------------------------------------------------------------------------------
def test_bootstrap_two_values_covers_both_extremes():
    """Resample means of [0, 1] are 0, 0.5, 1 with P = 1/4, 1/2, 1/4: the 95% CI is [0, 1]."""
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_constant_column_is_a_point():
    """Seeds that agree give a zero-width interval at their value."""
    lo, hi = bootstrap_ci([0.8, 0.8, 0.8, 0.8])
    assert lo == pytest.approx(0.8) and hi == pytest.approx(0.8) and lo <= 0.8 <= hi


def test_bootstrap_is_reproducible_and_seeded():
    """The same data and seed give the same interval; another seed gives another one."""
    x = np.random.default_rng(1).normal(size=12)
    assert bootstrap_ci(x) == bootstrap_ci(x)
    assert bootstrap_ci(x) != bootstrap_ci(x, seed=7)


def test_bootstrap_matches_scipy_percentile_interval():
    """Our vectorised percentile bootstrap agrees with scipy.stats.bootstrap to sampling error."""
    x = np.random.default_rng(3).gamma(2.0, 1.0, size=25)
    lo, hi = bootstrap_ci(x, resamples=20_000)
    ref = sps.bootstrap((x,), np.mean, n_resamples=20_000, method="percentile",
                        confidence_level=0.95, random_state=np.random.default_rng(0))
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.03)


def test_bootstrap_columns_share_resamples():
    """A 2-D input gives one interval per column, equal to bootstrapping that column alone."""
    m = np.random.default_rng(4).random((6, 3))
    lo, hi = bootstrap_ci(m)
    for j in range(3):
        assert (lo[j], hi[j]) == pytest.approx(bootstrap_ci(m[:, j]))


def test_bootstrap_one_seed_has_no_interval():
    """One value has no spread across seeds: the interval is NaN."""
    lo, hi = bootstrap_ci([0.7])
    assert math.isnan(lo) and math.isnan(hi)


# ---- curves, AUC, imp@k ----------------------------------------------------------------------
def test_summarise_mean_sd_per_iteration():
    """Mean and sample sd across seeds at each iteration, exact on a tiny case."""
    df = check_metrics(_frame({"a": [[0.5, 0.7], [0.5, 0.9]]}))
    s = summarise(df, "best_fitness")
    assert s["mean"].tolist() == pytest.approx([0.5, 0.8])
    assert s["sd"].tolist() == pytest.approx([0.0, math.sqrt(0.02)])
    assert s["n"].tolist() == [2, 2]
    assert (s["ci_low"] <= s["mean"]).all() and (s["mean"] <= s["ci_high"]).all()


def test_auc_is_mean_level_of_the_curve():
    """Trapezoid area / span: [0, 1, 1] over iterations 0..2 -> (0.5 + 1) / 2 = 0.75."""
    assert auc(np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), np.array([0, 1, 2])).tolist() == [
        0.75, 1.0]
    assert auc(np.array([[0.4]]), np.array([5])).tolist() == [0.4]


def test_imp_at_k_is_gain_from_start():
    """imp@k = best(start + k) - best(start) per seed, averaged across seeds."""
    df = check_metrics(_frame({"a": [[0.5, 0.6, 0.9], [0.5, 0.5, 0.7]]}))
    imp = imp_at_k(df, [1, 2], start=0).set_index("k")
    assert imp.loc[1, "mean"] == pytest.approx(0.05)
    assert imp.loc[2, "mean"] == pytest.approx(0.3)
    assert imp_at_k(df, [1], start=1)["mean"].iloc[0] == pytest.approx(0.25)


def test_imp_at_k_beyond_the_run_is_a_clear_error():
    """Asking for an iteration the metrics do not have names the range that exists."""
    df = check_metrics(_frame({"a": [[0.5, 0.6], [0.5, 0.7]]}))
    with pytest.raises(MetricsError, match="k = 5 needs iteration 5"):
        imp_at_k(df, [5])
    with pytest.raises(MetricsError, match="start iteration 9"):
        imp_at_k(df, [1], start=9)


def test_default_ks():
    """imp@10 and the whole run; a run shorter than 10 only gets the whole run."""
    assert default_ks(0, 30, 0) == [10, 30]
    assert default_ks(0, 4, 0) == [4]
    assert default_ks(0, 30, 25) == [5]


# ---- effect sizes ------------------------------------------------------------------------------
def test_vargha_delaney_by_hand():
    """A12 counts wins and half ties over all pairs: exact values on small samples."""
    assert vargha_delaney([3, 4], [1, 2]) == 1.0
    assert vargha_delaney([1, 2], [3, 4]) == 0.0
    assert vargha_delaney([1, 2, 3], [1, 2, 3]) == 0.5
    # [1,1,1,1,1] vs [1,1,1,0.9,1]: 5 wins, 20 ties of 25 pairs -> 0.2 + 0.4
    assert vargha_delaney([1] * 5, [1, 1, 1, 0.9, 1]) == pytest.approx(0.6)
    assert cliffs_delta([1] * 5, [1, 1, 1, 0.9, 1]) == pytest.approx(0.2)


def test_vargha_delaney_equals_scipy_u_over_n1n2():
    """A12 = U1 / (n1 n2), with scipy's Mann-Whitney U (ties count half)."""
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 5, 9).astype(float), rng.integers(0, 5, 7).astype(float)
    u = sps.mannwhitneyu(a, b).statistic
    assert vargha_delaney(a, b) == pytest.approx(u / (9 * 7))


def test_effect_magnitude_thresholds_are_symmetric():
    """Vargha-Delaney reading on either side of 0.5."""
    assert [effect_magnitude(a) for a in (0.5, 0.55, 0.56, 0.63, 0.64, 0.70, 0.71, 1.0)] == [
        "negligible", "negligible", "small", "small", "medium", "medium", "large", "large"]
    assert effect_magnitude(0.2) == "large" and effect_magnitude(0.45) == "negligible"


def test_holm_published_style_example():
    """Holm on [0.01, 0.04, 0.03, 0.005]: sorted x4, x3, x2, x1 with a running max."""
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.2, np.nan, 0.01])
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]).tolist() == pytest.approx([1.0, 1.0])


# ---- rank tests ----------------------------------------------------------------------------------
def test_paired_test_is_scipy_wilcoxon():
    """Paired comparisons return scipy's two-sided Wilcoxon signed-rank p-value."""
    a, b = [0.9, 0.8, 0.95, 0.7, 0.85, 0.6], [0.8, 0.82, 0.9, 0.6, 0.7, 0.65]
    t = rank_test(a, b, paired=True)
    assert t.name == "Wilcoxon signed-rank"
    assert t.p_value == pytest.approx(sps.wilcoxon(a, b).pvalue)


def test_unpaired_test_is_scipy_mannwhitney():
    """Unpaired comparisons return scipy's two-sided Mann-Whitney U; separated 5 vs 5 -> 2/252."""
    t = rank_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], paired=False)
    assert t.name == "Mann-Whitney U" and t.p_value == pytest.approx(2 / 252)


def test_all_ties_run_no_test():
    """Identical paired values (scipy would warn or raise) give no p and a reason."""
    t = rank_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], paired=True)
    assert math.isnan(t.p_value) and t.reason == "all paired values equal"
    t = rank_test([1.0, 1.0], [1.0, 1.0, 1.0], paired=False)
    assert math.isnan(t.p_value) and t.reason == "all values equal"


def test_one_seed_runs_no_test():
    """One seed per condition: no test, and the reason says why."""
    t = rank_test([0.9], [0.8], paired=True)
    assert math.isnan(t.p_value) and "one seed" in t.reason


def test_min_attainable_p():
    """5 paired seeds can never go below 2/2^5 = 0.0625; 30 paired seeds easily can."""
    assert min_attainable_p(5, 5, True) == pytest.approx(0.0625)
    assert min_attainable_p(5, 5, False) == pytest.approx(2 / 252)
    assert min_attainable_p(30, 30, True) < 1e-6


def test_compare_conditions_pairs_by_seed_and_adjusts():
    """Same seeds -> Wilcoxon on seed pairs; 3 conditions -> 3 pairs x 3 metrics, Holm applied."""
    fa = [0.9, 0.8, 0.95, 0.9, 0.85, 0.9, 0.75, 0.97]
    fb = [0.6, 0.7, 0.65, 0.6, 0.55, 0.6, 0.5, 0.62]
    df = check_metrics(_frame({"a": [[0.5, v] for v in fa], "b": [[0.5, v] for v in fb],
                               "c": [[0.5, v] for v in fa]}))
    comps = compare_conditions(per_seed(df))
    assert len(comps) == 9 and all(c.paired for c in comps)
    ab = next(c for c in comps if c.metric == "final_train" and (c.a, c.b) == ("a", "b"))
    assert ab.test.p_value == pytest.approx(sps.wilcoxon(fa, fb).pvalue)
    assert ab.test.p_value == pytest.approx(2 / 2**8)  # every difference positive, exact test
    assert ab.a12 == 1.0 and ab.magnitude == "large"
    # a-c ties completely (no test), so the Holm family of this metric has two members.
    assert ab.p_holm == pytest.approx(2 * ab.test.p_value)
    ac = next(c for c in comps if c.metric == "final_train" and (c.a, c.b) == ("a", "c"))
    assert "no difference detected (all paired values equal)" in ac.sentence
    assert "a is higher than b" in ab.sentence


def test_six_seeds_holm_can_hide_a_perfect_separation():
    """6 paired seeds all one way: p = 1/32, but x2 (Holm over 2 tests) = 0.0625 >= 0.05."""
    fa, fb = [0.9, 0.8, 0.95, 0.9, 0.85, 0.91], [0.6, 0.7, 0.65, 0.6, 0.55, 0.6]
    df = check_metrics(_frame({"a": [[0.5, v] for v in fa], "b": [[0.5, v] for v in fb],
                               "c": [[0.5, v] for v in fa]}))
    ab = compare_conditions(per_seed(df))[0]
    assert ab.p_holm == pytest.approx(0.0625)
    assert "no difference detected" in ab.sentence and "more seeds" in ab.sentence


def test_compare_conditions_unpaired_when_seeds_differ():
    """Conditions with different seed sets are compared with Mann-Whitney U."""
    df = _frame({"a": [[0.5, 0.9], [0.5, 0.8], [0.5, 0.7]], "b": [[0.5, 0.6], [0.5, 0.7]]})
    df.loc[df["condition"] == "b", "seed"] += 10
    comps = compare_conditions(per_seed(check_metrics(df)))
    assert not any(c.paired for c in comps)
    assert comps[0].test.name == "Mann-Whitney U"
    forced = compare_conditions(per_seed(check_metrics(_frame(
        {"a": [[0.5, 0.9], [0.5, 0.8]], "b": [[0.5, 0.6], [0.5, 0.7]]}))), paired=False)
    assert not any(c.paired for c in forced)


# ---- input checks ------------------------------------------------------------------------------
def test_missing_columns_are_named():
    """A table without the required columns names them and what was expected."""
    with pytest.raises(MetricsError, match="missing column.*best_test_accuracy"):
        check_metrics(pd.DataFrame({"condition": ["a"], "seed": [0], "iteration": [0],
                                    "best_fitness": [0.5]}))


def test_nan_is_reported_with_its_line():
    """An empty numeric cell is an error naming the column and the CSV line."""
    df = _frame({"a": [[0.5, 0.6, 0.7]]})
    df.loc[2, "best_fitness"] = np.nan
    with pytest.raises(MetricsError, match="best_fitness has 1 .*CSV line 4"):
        check_metrics(df)
    df = _frame({"a": [[0.5, 0.6]]}).astype({"best_test_accuracy": object})
    df.loc[1, "best_test_accuracy"] = "oops"
    with pytest.raises(MetricsError, match="best_test_accuracy.*'oops'"):
        check_metrics(df)


def test_duplicates_and_ragged_runs_are_rejected():
    """Two rows for one (condition, seed, iteration) or runs of unequal length are errors."""
    df = _frame({"a": [[0.5, 0.6]]})
    with pytest.raises(MetricsError, match="duplicate rows for condition a seed 0 iteration 1"):
        check_metrics(pd.concat([df, df.iloc[[1]]]))
    with pytest.raises(MetricsError, match="same iterations"):
        check_metrics(_frame({"a": [[0.5, 0.6, 0.7], [0.5, 0.6]]}))


def test_check_metrics_keeps_condition_order_and_sorts():
    """Conditions keep first-appearance order; rows sort by seed and iteration within each."""
    df = _frame({"z": [[0.5, 0.6]], "a": [[0.5, 0.7]]}).iloc[::-1]
    out = check_metrics(df)
    assert list(pd.unique(out["condition"])) == ["a", "z"]
    assert out["iteration"].tolist() == [0, 1, 0, 1]


# ---- reference lines ---------------------------------------------------------------------------
def test_majority_and_seed_on_classic():
    """Classic: 12 of 20 train and 6 of 10 test are rejected; the seed scores 0.65 / 0.70."""
    ds = classic()
    m = majority_class(ds)
    assert (m.train, m.test) == (0.6, 0.6) and "rejected" in m.method
    s = seed_reference(ds)
    assert (s.train, s.test) == (0.65, 0.7)


def test_ceiling_on_classic_is_exact_and_separates_train():
    """The classic train split is linearly separable inside the bounds: the MILP finds 1.0."""
    c = ceiling(classic())
    assert c.exact and c.train == 1.0
    lo, hi = WEIGHT_BOUNDS
    assert all(lo <= w <= hi for w in c.task.weights)
    assert THRESHOLD_BOUNDS[0] <= c.task.threshold <= THRESHOLD_BOUNDS[1]
    assert c.test == accuracy(c.task, classic().test)


def test_ceiling_exact_on_a_tiny_non_separable_set():
    """XOR-like rows: no linear scorer gets all 4; the exact optimum is 3 of 4."""
    text = "id,name,split,maintainability,security,test_coverage,documentation,simplicity,label\n"
    rows = [("a", 0.2, 0.2, "accepted"), ("b", 0.8, 0.8, "accepted"),
            ("c", 0.2, 0.8, "rejected"), ("d", 0.8, 0.2, "rejected")]
    for rid, f1, f2, lab in rows:
        text += f"{rid},{rid},train,{f1},{f2},0.5,0.5,0.5,{lab}\n"
    text += "t,t,test,0.5,0.5,0.5,0.5,0.5,accepted\n"
    c = ceiling(parse_csv(text))
    assert c.exact and c.train == 0.75


def test_ceiling_large_split_is_a_labelled_lower_bound():
    """Above MILP_MAX_ROWS the ceiling is a lower bound that still beats the seed agent."""
    ds = synthetic(n_train=80, n_test=20, noise=0.1, seed=3)
    c = ceiling(ds)
    assert not c.exact and "lower bound" in c.method
    assert c.train >= seed_reference(ds).train and c.train == accuracy(c.task, ds.train)


def test_best_threshold_by_hand():
    """Scores [0.1, 0.4, 0.6, 0.9] with labels F, F, T, T: cut between 0.4 and 0.6."""
    acc, tau = best_threshold(np.array([0.6, 0.1, 0.9, 0.4]), np.array([True, False, True, False]))
    assert acc == 1.0 and tau == pytest.approx(0.5)
    acc, tau = best_threshold(np.array([0.5, 0.5]), np.array([True, False]))
    assert acc == 0.5 and tau == 0.0  # ties cannot be split; accept all wins the tie


def test_policy_from_direction_keeps_the_classifier():
    """Scaling into the bounds and picking a style keeps accept = direction . x >= tau."""
    d = np.array([1.0, 0.5, 0.0, 0.25, 0.0])
    t = policy_from_direction(d, 1.2)
    eff = t.threshold + STYLE_OFFSET[t.review_style]
    x = np.array([0.9, 0.6, 0.0, 0.0, 0.0])  # d . x = 1.2 -> accepted exactly at tau
    assert np.dot(t.weights, x) / eff == pytest.approx(1.2 / 1.2)
    assert THRESHOLD_BOUNDS[0] <= t.threshold <= THRESHOLD_BOUNDS[1]


def test_references_order_and_dataset_check():
    """references() is majority, seed, ceiling; metrics from another dataset are refused."""
    assert [r.name for r in references(classic())] == ["majority class", "seed agent", "ceiling"]
    check_metrics_match(0.65, classic())
    check_metrics_match(None, classic())
    with pytest.raises(ValueError, match="another dataset.*--dataset"):
        check_metrics_match(0.675, classic())
    assert SEED_THRESHOLD == 0.6
