"""Archive: every variant of a run, its lineage graph and an overview of the whole archive."""

import streamlit as st
from streamlit_agraph import agraph

from app import data, layout, lineage, plots, state, widgets

TABLE_COLUMNS = ["id", "parent", "generation", "iteration", "train_accuracy", "test_accuracy",
                 "n_fp", "n_fn", "review_style", "focus_metric", "source"]


def graph(run_id: str, frame, best_id: int, path: list[int], selected: int | None) -> None:
    st.subheader("Lineage")
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    kind = c1.radio("Scope", list(lineage.SCOPES), format_func=lineage.SCOPES.get,
                    key="ha_ar_scope")
    gens = c2.number_input("N generations", 1, 10_000, 5, key="ha_ar_gens")
    top_k = c3.number_input("K fittest", 1, lineage.MAX_GRAPH_NODES, 20, key="ha_ar_topk")
    with c4:
        focus = widgets.agent_picker("Selected agent", "ha_ar_selected", run_id,
                                     selected if selected is not None else best_id)
    scope = lineage.Scope(kind, focus, int(gens), int(top_k))
    ids = lineage.scope_ids(frame, scope, best_id)
    nodes, edges = lineage.graph_elements(frame, ids, path, focus)
    clicked = agraph(nodes=nodes, edges=edges, config=lineage.graph_config())
    st.caption(f"{len(ids)} of {len(frame)} agents drawn (at most {lineage.MAX_GRAPH_NODES}); "
               "colour = train fitness (red low, green high); red outline = path to the best "
               "agent. Click a node to open it.")
    if clicked is not None:
        layout.open_agent(run_id, int(clicked))


def table(run_id: str, frame) -> None:
    st.subheader("Every variant")
    c1, c2, c3 = st.columns([2, 2, 1])
    text = c1.text_input("Note contains", key="ha_ar_text")
    sources = c2.multiselect("Mutation source", sorted(frame["source"].unique()),
                             key="ha_ar_sources")
    low = c3.number_input("Min train", 0.0, 1.0, 0.0, 0.05, key="ha_ar_min")
    view = frame[frame["train_accuracy"] >= low]
    if sources:
        view = view[view["source"].isin(sources)]
    if text:
        view = view[view["summary"].str.contains(text, case=False, regex=False)]
    view = view.assign(parent=lineage.parent_links(view, run_id))
    event = st.dataframe(
        view[TABLE_COLUMNS], hide_index=True, key="ha_ar_table", on_select="rerun",
        selection_mode="single-row",
        column_config={"parent": st.column_config.LinkColumn("parent",
                                                             display_text=r"agent=(\d+)$"),
                       "train_accuracy": st.column_config.NumberColumn("train", format="%.3f"),
                       "test_accuracy": st.column_config.NumberColumn("test", format="%.3f"),
                       "n_fp": "FP", "n_fn": "FN", "review_style": "style",
                       "focus_metric": "focus"})
    st.caption(f"{len(view)} of {len(frame)} variants. Select a row to open that agent.")
    rows = event.selection.rows if event is not None else []
    if rows:
        layout.open_agent(run_id, int(view.iloc[rows[0]]["id"]))


def main() -> None:
    run_id, agent_id = state.deep_link(data.run_exists, data.agent_exists)
    st.title("Archive")
    st.caption("Every variant the search kept, with its parent: the stepping stones.")
    run_id = widgets.run_picker("Run", "ha_ar_run", run_id)
    if run_id is None:
        layout.empty_state()
        return
    info = data.run_info(run_id)
    frame = data.agents(run_id)
    best_id = int(info["best_agent_id"])
    path = lineage.best_path(frame, best_id)
    graph(run_id, frame, best_id, path, agent_id)
    widgets.chart((run_id, data.run_version(run_id)), plots.archive_overview, frame, path)
    table(run_id, frame)


main()
