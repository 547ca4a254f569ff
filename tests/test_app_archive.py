"""AppTest of the Archive page: the lineage graph, the overview and the table."""

from __future__ import annotations

from test_app_support import (
    chart_rows,
    charts,
    goto,
    graph_args,
    no_exception,
    open_app,
    seed_run,
    texts,
)

from app.lineage import MAX_GRAPH_NODES, PATH_COLOR
from app.plots import MAX_OVERVIEW_POINTS


def test_empty_database_says_there_is_no_run(tmp_path, monkeypatch):
    """Without runs the page renders an empty state, no graph."""
    at, _ = open_app(tmp_path, monkeypatch, "archive")
    no_exception(at)
    assert "No run yet" in texts(at)
    assert not at.get("component_instance")


def test_graph_draws_the_best_path_and_its_children(tmp_path, monkeypatch):
    """Default scope: the seed-to-best path (red edges) plus the children of its members."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=40, seed=1)
    goto(at, "archive", {"run": run_id})
    no_exception(at)
    arch = run.archive
    path = arch.lineage(arch.best())
    expected = sorted(set(path) | {c for p in path for c in arch.children(p)})
    graph = graph_args(at)
    assert sorted(int(n["id"]) for n in graph["nodes"]) == expected
    red = [(int(e["from"]), int(e["to"])) for e in graph["edges"] if e["color"] == PATH_COLOR]
    assert red == list(zip(path[:-1], path[1:]))
    for e in graph["edges"]:
        assert arch.agent(int(e["to"])).parent_id == int(e["from"])
    assert graph["config"]["layout"]["hierarchical"]["sortMethod"] == "directed"
    assert graph["config"]["layout"]["hierarchical"]["enabled"] is True
    assert at.dataframe[0].value["id"].tolist() == list(range(41))


def test_selected_scope_is_the_ancestry_and_children_of_the_agent(tmp_path, monkeypatch):
    """Choosing an agent draws exactly its lineage from the seed and its direct children."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=40, seed=2)
    goto(at, "archive", {"run": run_id})
    at.radio(key="ha_ar_scope").set_value("selected")
    at.number_input(key="ha_ar_selected").set_value(7).run()
    no_exception(at)
    arch = run.archive
    expected = sorted(set(arch.lineage(7)) | set(arch.children(7)))
    assert sorted(int(n["id"]) for n in graph_args(at)["nodes"]) == expected
    selected = next(n for n in graph_args(at)["nodes"] if n["id"] == "7")
    assert selected["borderWidth"] == 5


def test_large_archive_is_bounded_in_graph_and_overview(tmp_path, monkeypatch):
    """3,000 variants: at most MAX_GRAPH_NODES nodes, a bounded overview, the full table."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=3000, seed=0)
    goto(at, "archive", {"run": run_id})
    at.radio(key="ha_ar_scope").set_value("last_generations")
    at.number_input(key="ha_ar_gens").set_value(1000).run()
    no_exception(at)
    assert len(graph_args(at)["nodes"]) == MAX_GRAPH_NODES
    specs = charts(at)
    (k,) = [i for i, c in enumerate(specs) if "overview" in str(c.get("title", ""))]
    # points plus parent segments of a bounded sample (the best path is always kept)
    assert chart_rows(at)[k] <= 2 * MAX_OVERVIEW_POINTS
    assert "(sample of" in specs[k]["title"]
    assert len(at.dataframe[0].value) == 3001


def test_table_filters_by_fitness_source_and_text(tmp_path, monkeypatch):
    """The filters narrow the table; parents are links to Agent Detail."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, run = seed_run(db, iterations=30, seed=0)
    goto(at, "archive", {"run": run_id})
    table = at.dataframe[0].value
    assert table.loc[table["id"] == 5, "parent"].item() == \
        f"agent?run={run_id}&agent={run.archive.agent(5).parent_id}"
    assert table.loc[table["id"] == 0, "parent"].isna().item()
    at.number_input(key="ha_ar_min").set_value(0.95).run()
    fit = run.archive.column("fitness")
    assert at.dataframe[0].value["id"].tolist() == [i for i in range(31) if fit[i] >= 0.95]
    at.number_input(key="ha_ar_min").set_value(0.0)
    at.multiselect(key="ha_ar_sources").set_value(["seed"]).run()
    assert at.dataframe[0].value["id"].tolist() == [0]
    at.multiselect(key="ha_ar_sources").set_value([])
    at.text_input(key="ha_ar_text").set_value("EQUAL WEIGHTS").run()
    assert at.dataframe[0].value["id"].tolist() == [0]


def test_deep_link_to_a_missing_agent_says_so(tmp_path, monkeypatch):
    """?agent=ID outside the run names the agent and the run."""
    at, db = open_app(tmp_path, monkeypatch)
    run_id, _ = seed_run(db, iterations=5)
    goto(at, "archive", {"run": run_id, "agent": "99"})
    no_exception(at)
    assert at.error[0].value == f"Agent 99 does not exist in run {run_id}."
    assert graph_args(at)["nodes"]
