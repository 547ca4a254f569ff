"""Events: the mutation log of a run, filterable."""

import streamlit as st

from app import data, layout, state, widgets

IMPROVEMENT = {"all": "all", "improved": "improved only", "not": "not improved"}


def main() -> None:
    run_id, _ = state.deep_link(data.run_exists)
    st.title("Events")
    st.caption("Every mutation: which parent was picked, what changed and whether it helped.")
    run_id = widgets.run_picker("Run", "ha_ev_run", run_id)
    if run_id is None:
        layout.empty_state()
        return
    log = data.events(run_id)
    c1, c2, c3 = st.columns([1, 1, 2])
    improved = c1.selectbox("Improvement", list(IMPROVEMENT), format_func=IMPROVEMENT.get,
                            key="ha_ev_improved")
    sources = c2.multiselect("Source", sorted(log["source"].unique()), key="ha_ev_sources")
    text = c3.text_input("Summary contains", key="ha_ev_text")
    view = log
    if improved != "all":
        view = view[view["improved"] == (improved == "improved")]
    if sources:
        view = view[view["source"].isin(sources)]
    if text:
        view = view[view["summary"].str.contains(text, case=False, regex=False)]
    view = view.assign(move=[f"{p} -> {c}" for p, c in zip(view["parent_id"], view["child_id"])])
    st.dataframe(
        view[["iteration", "move", "parent_fitness", "child_fitness", "delta", "improved",
              "source", "summary"]],
        hide_index=True, key="ha_ev_table",
        column_config={"move": "parent -> child",
                       "parent_fitness": st.column_config.NumberColumn(format="%.3f"),
                       "child_fitness": st.column_config.NumberColumn(format="%.3f"),
                       "delta": st.column_config.NumberColumn("fitness delta", format="%+.3f")})
    n_imp = int(log["improved"].sum())
    st.caption(f"{len(view)} of {len(log)} events shown; {n_imp} improved on their parent.")


main()
