"""AppTest of the Ablation page: run, save, reopen, read."""

from __future__ import annotations

import json

from test_app_support import charts, goto, no_exception, open_app, texts

from engine import stats
from engine.experiment import run_experiment
from engine.store import Store


def test_empty_database_renders_and_bounds_the_inputs(tmp_path, monkeypatch):
    """With no ablation the page renders; seeds are 1..100 and iterations 1..100000."""
    at, _ = open_app(tmp_path, monkeypatch, "ablation")
    no_exception(at)
    assert "No ablation yet" in texts(at)
    seeds = at.number_input(key="ha_ab_seeds")
    iters = at.number_input(key="ha_ab_iterations")
    assert (seeds.min, seeds.max, seeds.value) == (1, 100, 5)
    assert (iters.min, iters.max, iters.value) == (1, 100_000, 30)
    assert at.multiselect(key="ha_ab_conditions").value == ["hyperagent", "baseline",
                                                             "no_archive"]


def test_an_ablation_fills_the_table_and_is_saved(tmp_path, monkeypatch):
    """Running 2 conditions x 3 seeds x 8 iterations saves it and shows its final table."""
    at, db = open_app(tmp_path, monkeypatch, "ablation")
    at.multiselect(key="ha_ab_conditions").set_value(["hyperagent", "no_archive"])
    at.number_input(key="ha_ab_seeds").set_value(3)
    at.number_input(key="ha_ab_iterations").set_value(8)
    at.button(key="ha_ab_run").click().run()
    no_exception(at)
    with Store(db) as store:
        saved = store.list_ablations()
        assert len(saved) == 1
        ablation_id = saved.iloc[0]["ablation_id"]
        df = store.ablation_metrics(ablation_id)
    expected = run_experiment(["hyperagent", "no_archive"], 3, 8, "classic")
    assert df["best_fitness"].tolist() == expected["best_fitness"].tolist()
    final = at.dataframe[0].value
    assert final["condition"].tolist() == ["hyperagent", "no_archive"]
    assert final["seeds"].tolist() == [3, 3]
    last = expected[expected["iteration"] == 8].groupby("condition", sort=False)
    assert final["train mean"].tolist() == last["best_fitness"].mean().tolist()
    comparisons = at.dataframe[1].value
    assert len(comparisons) == len(stats.COMPARED_METRICS)
    sentences = [c.sentence for c in stats.compare_conditions(stats.per_seed(expected))]
    assert all(f"- {s}" in texts(at) for s in sentences)
    assert at.info[0].value == sentences[0]
    titles = [c.get("title") for c in charts(at)]
    assert len(titles) == 2  # learning curves with CI, meta-policy drift
    assert [b.label for b in at.get("download_button")] == ["Download CSV", "Download PNG"]
    assert at.query_params["ablation"] == ablation_id


def test_no_difference_between_hyperagent_and_baseline_is_said_in_words(tmp_path, monkeypatch):
    """When hyperagent and baseline do not differ the page says so (the stats reading)."""
    at, _ = open_app(tmp_path, monkeypatch, "ablation")
    at.multiselect(key="ha_ab_conditions").set_value(["hyperagent", "baseline"])
    at.number_input(key="ha_ab_seeds").set_value(2)
    # One step: the meta policy has not yet had a chance to matter, so the arms are equal.
    at.number_input(key="ha_ab_iterations").set_value(1)
    at.button(key="ha_ab_run").click().run()
    no_exception(at)
    assert at.info[0].value == ("final train accuracy, hyperagent vs baseline: no difference "
                                "detected (all paired values equal).")


def test_a_saved_ablation_reopens_from_a_link(tmp_path, monkeypatch):
    """?ablation=ID shows a saved ablation; an unknown id is named in an error."""
    at, db = open_app(tmp_path, monkeypatch)
    df = run_experiment(["hyperagent", "baseline"], 2, 3, "classic")
    with Store(db) as store:
        ablation_id = store.save_ablation(df, {"dataset": "classic"})
    goto(at, "ablation", {"ablation": ablation_id})
    no_exception(at)
    assert at.selectbox(key="ha_ab_saved").value == ablation_id
    assert at.dataframe[0].value["condition"].tolist() == ["hyperagent",
                                                                          "baseline"]
    goto(at, "ablation", {"ablation": "ab-missing"})
    assert at.error[0].value.startswith("Ablation 'ab-missing' does not exist")


def test_reference_lines_are_kept_with_the_ablation(tmp_path, monkeypatch):
    """The saved config holds the majority, seed-agent and ceiling references it drew."""
    at, db = open_app(tmp_path, monkeypatch, "ablation")
    at.multiselect(key="ha_ab_conditions").set_value(["hyperagent"])
    at.number_input(key="ha_ab_seeds").set_value(1)
    at.number_input(key="ha_ab_iterations").set_value(2)
    at.button(key="ha_ab_run").click().run()
    no_exception(at)
    with Store(db) as store:
        config = json.loads(store.list_ablations().iloc[0]["config"])
    assert config["references"] == {"majority class": [0.6, 0.6, True],
                                    "seed agent": [0.65, 0.7, True],
                                    "ceiling": [1.0, 1.0, True]}
    assert at.info[0].value == "Only one condition: nothing to compare."
