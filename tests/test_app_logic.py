"""The app's pure helpers on small, exact cases (no Streamlit session needed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from app import ablation, background, detail, lineage, plots, review, runner
from engine.dataset import classic, synthetic
from engine.evaluate import evaluate
from engine.experiment import run_experiment
from engine.policy import FEATURES, HyperAgent, MetaPolicy, TaskPolicy, seed_agent
from engine.run import Run


def agent(weights, threshold=0.5, style="balanced", aid=3) -> HyperAgent:
    return HyperAgent(aid, 0, 1, 1, TaskPolicy(tuple(weights), threshold, style), MetaPolicy())


def tree_frame(parents: list[int | None], fitness: list[float]) -> pd.DataFrame:
    gen = []
    for p in parents:
        gen.append(0 if p is None else gen[p] + 1)
    return pd.DataFrame({"id": range(len(parents)),
                         "parent_id": pd.array(parents, dtype="Int64"),
                         "generation": gen, "iteration": range(len(parents)),
                         "train_accuracy": fitness, "test_accuracy": fitness})


# ---- review ------------------------------------------------------------------------------------
def test_review_rejects_below_threshold_and_names_each_flip():
    """Score 0.4 < 0.5: each weighted feature's value that accepts, and the threshold."""
    r = review.review(agent((0.5, 0.5, 0, 0, 0)), [0.4, 0.4, 0.9, 0.9, 0.9])
    assert (r.score, r.threshold, r.accepted, r.decision) == (0.4, 0.5, False, "rejected")
    assert r.contributions == {"maintainability": 0.2, "security": 0.2, "test_coverage": 0.0,
                               "documentation": 0.0, "simplicity": 0.0}
    assert [(f.kind, f.name, round(f.needed, 9)) for f in r.flips] == [
        ("feature", "maintainability", 0.6), ("feature", "security", 0.6),
        ("threshold", "threshold", 0.4)]
    assert r.flips[0].text == "maintainability at 0.600 or more (now 0.400) would accept it"


def test_review_flips_skip_unreachable_values_and_list_styles():
    """A feature that would need a value above 1 is not offered; a stricter style is."""
    r = review.review(agent((0.05, 0.5, 0, 0, 0)), [0.4, 1.0, 0, 0, 0])
    assert r.accepted and math.isclose(r.score, 0.52)
    # maintainability would have to fall below 0.4 - 0.02 / 0.05 < 0: not offered
    assert [f.name for f in r.flips] == ["security", "threshold", "strict"]
    assert math.isclose(r.flips[0].needed, 0.96)
    assert r.flips[-1].text == "the strict review style would reject it"
    low = review.review(agent((0.1, 0.1, 0, 0, 0)), [0.2, 0.2, 0, 0, 0])
    assert [f.kind for f in low.flips] == ["threshold"]  # 0.04 -> 0.5 needs values above 1


def test_review_validates_features():
    """Five values in [0, 1] are required; the message says which and what was expected."""
    with pytest.raises(ValueError, match=r"feature security: expected a number in \[0, 1\]"):
        review.review(seed_agent(), [0.5, 1.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="expected 5 values"):
        review.validate_features([0.5] * 4)
    with pytest.raises(ValueError, match="missing"):
        review.validate_features({"security": 0.5})


def test_review_record_matches_the_store_fields():
    """The record has the fields Store.add_review accepts, with accepted/rejected."""
    r = review.review(seed_agent(), [0.9] * 5)
    rec = review.review_record(r, seed_agent(), "abc", "  ", label="accepted")
    assert rec["decision"] == "accepted" and rec["repo"] == "(unnamed)"
    assert rec["source"] == "sliders" and rec["agent_id"] == 0
    assert set(rec) == {"created_at", "run_id", "agent_id", "repo", "features", "score",
                        "threshold", "decision", "source", "label", "llm_review"}


# ---- lineage -----------------------------------------------------------------------------------
PARENTS = [None, 0, 0, 1, 1, 3, 2, 5]
FITNESS = [0.5, 0.6, 0.55, 0.7, 0.4, 0.8, 0.6, 0.75]


def test_scopes_on_a_small_tree():
    """Each scope picks the documented agents of an 8-agent tree (best = 5)."""
    f = tree_frame(PARENTS, FITNESS)
    best = 5
    assert lineage.best_path(f, best) == [0, 1, 3, 5]
    assert lineage.scope_ids(f, lineage.Scope("best_path"), best) == [0, 1, 2, 3, 4, 5, 7]
    assert lineage.scope_ids(f, lineage.Scope("selected", selected=1), best) == [0, 1, 3, 4]
    assert lineage.scope_ids(f, lineage.Scope("selected", selected=99), best) == [0, 1, 3, 5, 7]
    assert lineage.scope_ids(f, lineage.Scope("last_generations", generations=1), best) == [7]
    assert lineage.scope_ids(f, lineage.Scope("last_generations", generations=3), best) \
        == [3, 4, 5, 6, 7]
    assert lineage.scope_ids(f, lineage.Scope("top_k", top_k=2), best) == [0, 1, 3, 5, 7]


def test_scope_cap_keeps_the_point_of_the_scope_first():
    """With a cap the scope's own agents come before their relatives."""
    f = tree_frame(PARENTS, FITNESS)
    assert lineage.scope_ids(f, lineage.Scope("top_k", top_k=2, cap=3), 5) == [3, 5, 7]
    assert lineage.scope_ids(f, lineage.Scope("best_path", cap=2), 5) == [3, 5]
    assert lineage.scope_ids(f, lineage.Scope("selected", selected=7, cap=3), 5) == [3, 5, 7]
    with pytest.raises(ValueError, match="scope: expected one of"):
        lineage.Scope("everything")
    with pytest.raises(ValueError, match="scope cap: expected an integer >= 1"):
        lineage.Scope(cap=0)


def test_graph_elements_colour_and_highlight():
    """Fitness colours run red to green; path edges are red and thick; edges need both ends."""
    f = tree_frame(PARENTS, FITNESS)
    nodes, edges = lineage.graph_elements(f, [0, 1, 3, 5, 7], [0, 1, 3, 5], selected=7)
    by_id = {n.id: n for n in nodes}
    assert by_id["0"].color["background"] == lineage.fitness_color(0.5, 0.5, 0.8)
    assert lineage.fitness_color(0.5, 0.5, 0.8) == "#c91d1d"
    assert lineage.fitness_color(0.8, 0.5, 0.8) == "#1dc91d"
    assert by_id["7"].borderWidth == 5 and by_id["5"].borderWidth == 3
    assert [(e.source, e.to, e.color, e.width) for e in edges] == [
        ("0", "1", lineage.PATH_COLOR, 4), ("1", "3", lineage.PATH_COLOR, 4),
        ("3", "5", lineage.PATH_COLOR, 4), ("5", "7", lineage.EDGE_COLOR, 1)]
    config = lineage.graph_config()
    assert config.layout["hierarchical"]["sortMethod"] == "directed" and config.groups == {}


def test_parent_links_point_at_agent_detail():
    """Every non-seed row links to its parent's Agent Detail page."""
    f = tree_frame(PARENTS[:3], FITNESS[:3])
    assert lineage.parent_links(f, "r1") == [None, "agent?run=r1&agent=0",
                                             "agent?run=r1&agent=0"]


# ---- detail ------------------------------------------------------------------------------------
def test_error_breakdown_is_the_engine_evaluation():
    """The seed agent's wrong classic train repositories, with weight x value per feature."""
    ds = classic()
    seed = seed_agent()
    table = detail.error_breakdown(seed, ds.train)
    ev = evaluate(seed.task, ds.train)
    assert sorted(table["id"]) == sorted(ev.fp_ids + ev.fn_ids) and len(table) == 7
    row = table[table["id"] == "tr11"].iloc[0]
    assert row["error"] == "false negative" and row["label"] == "accepted"
    assert math.isclose(row["security"], 0.2 * 0.85) and math.isclose(row["score"], 0.58)


def test_policy_diff_of_the_seed_and_a_child():
    """Changed fields are flagged with their signed change; the seed has no parent column."""
    parent = seed_agent()
    child = HyperAgent(1, 0, 1, 1, TaskPolicy((0.3, 0.2, 0.2, 0.2, 0.2), 0.6, "strict"),
                       MetaPolicy(focus_metric="security"))
    diff = detail.policy_diff(parent, child).set_index("field")
    assert diff["changed"].sum() == 4  # w[maintainability], style, effective threshold, focus
    assert diff.loc["task.w[maintainability]", "change"] == "+0.1000"
    assert diff.loc["task.review_style", "change"] == "balanced -> strict"
    assert diff.loc["meta.focus_metric", "change"] == "balanced -> security"
    assert diff.loc["task.threshold", "change"] == "="
    assert (detail.policy_diff(None, parent)["parent"] == "").all()


# ---- plots, ablation, runner, background ---------------------------------------------------
def test_step_points_keep_only_changes():
    """A step curve keeps its first point, each change and its last point."""
    it = np.arange(6)
    x, y = plots.step_points(it, np.array([0.5, 0.5, 0.7, 0.7, 0.7, 0.9]))
    assert x.tolist() == [0, 2, 5] and y.tolist() == [0.5, 0.7, 0.9]
    x, y = plots.step_points(it, np.full(6, 0.5))
    assert x.tolist() == [0, 5]


def test_learning_curve_bins_children_of_long_runs():
    """Past MAX_CURVE_POINTS children the points are per-bin means, never raw rows."""
    n = 2500
    m = pd.DataFrame({"iteration": np.arange(n + 1), "best_fitness": 0.5,
                      "best_test_accuracy": 0.5, "child_train_accuracy": np.linspace(0, 1, n + 1),
                      "child_test_accuracy": 0.3})
    kids = plots._children(m)
    assert len(kids) == 2 * math.ceil(n / 3)  # bins of 3 iterations, train and test
    assert len(plots._best_lines(m)) == 4


def test_thin_iterations_and_final_table():
    """Thinning keeps first and last iterations; the final table is mean and CI per arm."""
    df = run_experiment(["hyperagent", "baseline"], 3, 5, "classic")
    # linspace(0, 5, 3) = 0, 2.5, 5; numpy rounds half to even
    assert ablation.thin_iterations(df, 3)["iteration"].unique().tolist() == [0, 2, 5]
    assert ablation.thin_iterations(df) is df
    final = ablation.final_table(df)
    last = df[df["iteration"] == 5].groupby("condition", sort=False)["best_fitness"].mean()
    assert final["condition"].tolist() == ["hyperagent", "baseline"]
    assert final["train mean"].tolist() == pytest.approx(last.tolist())
    one = ablation.final_table(df[df["seed"] == 0])
    assert one["train 95% CI"].tolist() == ["n/a (one seed)"] * 2


def test_ablation_png_is_a_png_of_the_chart():
    """The PNG download renders the learning-curve chart with vl-convert."""
    df = run_experiment(["hyperagent"], 2, 3, "classic")
    spec = ablation.analyse(df).curves.to_dict()
    png = ablation.png_bytes(spec, scale=1.0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width > 400  # two panels side by side


def test_chunk_size_bounds():
    """Chunks are 1/20 of the work within [50, 200] iterations."""
    assert [runner.chunk_size(n) for n in (1, 30, 1000, 3000, 100_000)] == [50, 50, 50, 150,
                                                                              200]


def test_dataset_key_follows_content():
    """Equal datasets share a key; a different seed or name changes it."""
    assert background.dataset_key(classic()) == background.dataset_key(classic())
    assert background.dataset_key(synthetic(seed=1)) != background.dataset_key(synthetic(seed=2))
    fut = background.references(classic())
    assert fut.result(timeout=60)["seed agent"] == (0.65, 0.7, True)
    assert background.references(classic()) is fut


def test_weights_chart_has_one_bar_per_feature():
    """The weights chart carries the five weights in feature order."""
    spec = plots.weights_chart(dict(zip(FEATURES, (0.1, 0.2, 0.3, 0.4, 0.5)))).to_dict()
    (values,) = spec["datasets"].values()
    assert [v["feature"] for v in values] == list(FEATURES)
    assert [v["weight"] for v in values] == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_every_chart_builder_makes_a_valid_vega_lite_spec():
    """Each builder's chart passes Altair's schema validation (the app skips it for speed)."""
    run = Run(classic(), "hyperagent", 0)
    run.run(12)
    metrics = run.metrics_frame()
    frame = run.archive.to_frame()
    path = run.archive.lineage(run.archive.best())
    refs = {"seed agent": (0.65, 0.7, True), "ceiling": (1.0, 1.0, True)}
    ds = classic()
    built = [plots.learning_curve(metrics, refs, "t"), plots.learning_curve(metrics),
             plots.compare_curves(metrics.assign(run_id="a"), label="run_id"),
             plots.archive_overview(frame, path),
             plots.weights_chart(dict(zip(FEATURES, seed_agent().task.weights))),
             plots.contributions_chart(review.review(seed_agent(), [0.5] * 5).contributions,
                                       0.6),
             plots.dataset_profile(ds.train.X, ds.train.y, ds.name)]
    for chart in built:
        assert chart.to_dict(validate=True)["$schema"].startswith("https://vega.github.io")
