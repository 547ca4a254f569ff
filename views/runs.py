"""Runs: saved runs and ablations; load, continue, delete, compare, export."""

import streamlit as st

from app import data, layout, plots, runner, state, widgets
from app.exports import metrics_csv
from engine.store import StoreError

RUN_COLUMNS = ["run_id", "condition", "seed", "dataset", "iterations", "best_train",
               "best_test", "status", "created_at"]


def actions(run_id: str) -> None:
    c1, c2, c3, c4 = st.columns([1, 2, 1, 2])
    if c1.button("Load", key="ha_rn_load", help="Make it the current run and open Overview"):
        state.select_run(run_id)
        st.switch_page("views/overview.py", query_params={"run": run_id})
    more = c2.number_input("Iterations to add", 1, widgets.ITERATIONS_MAX, 30,
                           key="ha_rn_more")
    if c3.button("Continue", key="ha_rn_continue"):
        try:
            runner.continue_run(run_id, int(more), widgets.progress_bar(f"Continuing {run_id}"))
            st.success(f"Run {run_id} now has {data.run_info(run_id)['iterations']} iterations.")
        except (StoreError, KeyError) as exc:
            st.error(f"Could not continue {run_id}: {exc}")
    if c4.button("Delete…", key="ha_rn_delete"):
        st.session_state["ha_rn_confirm"] = run_id
    if st.session_state.get("ha_rn_confirm") == run_id:
        st.warning(f"Delete run {run_id} with all its agents, metrics and events? This cannot "
                   "be undone.")
        y, n, _ = st.columns([1, 1, 4])
        if y.button("Yes, delete", type="primary", key="ha_rn_yes"):
            st.session_state["ha_rn_confirm"] = None
            try:
                state.store().delete_run(run_id)
            except KeyError:
                pass  # already gone (another session): the outcome is the same
            state.forget_run(run_id)
            data.invalidate()
            state.flash(f"Deleted run {run_id}.")
            st.rerun()
        if n.button("Cancel", key="ha_rn_no"):
            st.session_state["ha_rn_confirm"] = None
            st.rerun()


def compare(runs) -> None:
    st.subheader("Compare runs")
    ids = runs["run_id"].tolist()
    labels = {r["run_id"]: widgets.run_label(r) for _, r in runs.iterrows()}
    chosen = st.multiselect("Runs to compare (two or more)", ids, format_func=labels.get,
                            key="ha_rn_compare")
    if len(chosen) >= 2:
        key = tuple(f"{r}:{data.run_version(r)}" for r in chosen)
        widgets.chart(key, plots.compare_curves, data.metrics(chosen), "run_id")


def ablations() -> None:
    st.subheader("Saved ablations")
    saved = data.ablations()
    if saved.empty:
        st.caption("None yet: run one on the Ablation page.")
        return
    st.dataframe(saved.drop(columns=["config"]), hide_index=True, key="ha_rn_ablations")
    chosen = st.selectbox("Ablation", saved["ablation_id"].tolist(), key="ha_rn_ablation")
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Open", key="ha_rn_open_ablation"):
        st.session_state[state.K_ABLATION_ID] = chosen
        st.switch_page("views/ablation.py", query_params={"ablation": chosen})
    if c2.button("Delete ablation", key="ha_rn_delete_ablation"):
        state.store().delete_ablation(chosen)
        data.invalidate()
        state.flash(f"Deleted ablation {chosen}.")
        st.rerun()


def main() -> None:
    run_id, _ = state.deep_link(data.run_exists)
    st.title("Runs")
    state.show_flash()
    runs = data.runs()
    if runs.empty:
        layout.empty_state()
    else:
        st.dataframe(runs[RUN_COLUMNS], hide_index=True, key="ha_rn_table",
                     column_config={"best_train": st.column_config.NumberColumn(format="%.3f"),
                                    "best_test": st.column_config.NumberColumn(format="%.3f")})
        run_id = widgets.run_picker("Run", "ha_rn_run", run_id, kind=None)
        actions(run_id)
        c1, c2, _ = st.columns([1, 1, 3])
        widgets.download(c1, f"CSV of run {run_id}", lambda: metrics_csv(state.store(), run_id),
                         f"run_{run_id}.csv", "text/csv", "ha_rn_csv")
        widgets.download(c2, "CSV of all runs", lambda: metrics_csv(state.store(), None),
                         "runs.csv", "text/csv", "ha_rn_csv_all")
        compare(runs)
    ablations()


main()
