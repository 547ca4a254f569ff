"""Ablation: conditions x seeds x iterations, with confidence intervals and tests."""

import json

import streamlit as st

from app import ablation, background, data, runner, state, widgets
from engine.conditions import CONDITIONS
from engine.stats import MetricsError


def form() -> None:
    conditions = st.multiselect("Conditions", list(CONDITIONS), default=list(CONDITIONS),
                                key="ha_ab_conditions")
    for name in conditions:
        st.caption(f"**{name}**: {CONDITIONS[name].isolates}")
    c1, c2 = st.columns(2)
    seeds = c1.number_input("Seeds per condition", 1, widgets.SEEDS_MAX, 5, key="ha_ab_seeds",
                            help=f"1 .. {widgets.SEEDS_MAX}; seeds 0..n-1")
    with c2:
        iterations = widgets.iterations_input("Iterations per run", "ha_ab_iterations", 30)
    ds, spec = widgets.dataset_input("ha_ab")
    go = st.button("Run ablation", type="primary", key="ha_ab_run",
                   disabled=not conditions or ds is None)
    if go:
        bar = widgets.progress_bar("Runs finished")
        ablation_id, _ = runner.run_ablation(conditions, int(seeds), iterations, ds, spec, bar)
        st.session_state[state.K_ABLATION_ID] = ablation_id
        st.query_params["ablation"] = ablation_id


def pick_saved() -> str | None:
    saved = data.ablations()
    link = st.query_params.get("ablation")
    if link is not None and link not in set(saved["ablation_id"]):
        st.error(f"Ablation {link!r} does not exist (it may have been deleted).")
    elif link is not None:
        st.session_state[state.K_ABLATION_ID] = link
    if saved.empty:
        return None
    ids = saved["ablation_id"].tolist()
    labels = {r.ablation_id: f"{r.ablation_id} · {r.conditions} · {r.n_seeds} seeds · "
                             f"{r.iterations} it · {r.dataset} · {r.created_at}"
              for r in saved.itertuples()}
    current = st.session_state.get(state.K_ABLATION_ID)
    st.session_state["ha_ab_saved"] = current if current in ids else ids[0]
    return st.selectbox("Saved ablation", ids, format_func=labels.get, key="ha_ab_saved",
                        on_change=_chosen)


def _chosen() -> None:
    st.session_state[state.K_ABLATION_ID] = st.session_state["ha_ab_saved"]
    st.query_params["ablation"] = st.session_state["ha_ab_saved"]


def results(ablation_id: str) -> None:
    df = data.ablation_metrics(ablation_id)
    row = data.ablations().set_index("ablation_id").loc[ablation_id]
    config = json.loads(row["config"] or "{}")
    try:
        result = ablation.saved_analysis(state.db_path(), ablation_id, df,
                                         config.get("references"))
    except MetricsError as exc:
        st.error(f"This ablation cannot be analysed: {exc}")
        return
    st.info(result["headline"])
    st.vega_lite_chart(result["curves"])
    st.subheader("Final iteration")
    st.dataframe(result["final"], hide_index=True, key="ha_ab_final",
                 column_config={"train mean": st.column_config.NumberColumn(format="%.3f"),
                                "test mean": st.column_config.NumberColumn(format="%.3f")})
    st.dataframe(result["comparisons"], hide_index=True, key="ha_ab_comparisons",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("mean a", "mean b", "difference", "p", "p (Holm)",
                                          "A12", "Cliff's delta")})
    with st.expander("Reading, in plain words", expanded=True):
        for sentence in result["sentences"]:
            st.markdown(f"- {sentence}")
    st.vega_lite_chart(result["drift"])
    c1, c2 = st.columns(2)
    c1.download_button("Download CSV", df.to_csv(index=False, lineterminator="\n"),
                       file_name=f"{ablation_id}.csv", mime="text/csv", key="ha_ab_csv")
    widgets.download(c2, "Download PNG", lambda: ablation.png_bytes(result["curves"]),
                     f"{ablation_id}.png", "image/png", "ha_ab_png")


def main() -> None:
    state.init()
    background.warm("scipy.stats")  # the tests' first import takes a second: start it now
    st.title("Ablation")
    st.caption("Which part of the system matters? Every condition runs the same seeds; curves "
               "show the mean and 95% bootstrap CI across seeds.")
    form()
    chosen = pick_saved()
    if chosen is None:
        st.info("No ablation yet: choose conditions and seeds above and press Run ablation.")
        return
    results(chosen)


main()
