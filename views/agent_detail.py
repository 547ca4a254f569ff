"""Agent Detail: one hyperagent's task and meta policy, lineage, errors and diff."""

import streamlit as st

from app import data, detail, layout, lineage, plots, state, widgets
from engine.policy import FEATURES


def policies(agent) -> None:
    c1, c2 = st.columns([3, 2])
    with c1:
        widgets.chart(agent.task.weights, plots.weights_chart,
                      dict(zip(FEATURES, agent.task.weights)))
    with c2:
        st.markdown(f"threshold **{agent.task.threshold:.3f}** · review style "
                    f"**{agent.task.review_style}** · effective threshold "
                    f"**{agent.task.effective_threshold:.3f}**")
        meta = agent.meta
        st.markdown("**Meta policy**")
        st.dataframe({"field": ["focus_metric", "weight_step", "threshold_step",
                                "exploration_scale", "meta_rate", "shrink", "grow"],
                      "value": [meta.focus_metric, f"{meta.weight_step:.4f}",
                                f"{meta.threshold_step:.4f}", f"{meta.exploration_scale:.4f}",
                                f"{meta.meta_rate:.4f}", f"{meta.shrink:.4f}",
                                f"{meta.grow:.4f}"]}, hide_index=True, key="ha_ag_meta")
    st.markdown("**Memory notes** (read by its next mutations)")
    notes = detail.memory_notes(agent)
    st.markdown("\n".join(f"- {n}" for n in notes) if notes else "_no notes yet (the seed)_")


def main() -> None:
    run_id, agent_id = state.deep_link(data.run_exists, data.agent_exists)
    st.title("Agent Detail")
    c1, c2 = st.columns([3, 1])
    with c1:
        run_id = widgets.run_picker("Run", "ha_ag_run", run_id)
    if run_id is None:
        layout.empty_state()
        return
    info = data.run_info(run_id)
    best_id = int(info["best_agent_id"])
    with c2:
        chosen = widgets.agent_picker("Agent", "ha_ag_agent", run_id,
                                      agent_id if agent_id is not None else best_id)
    if chosen != agent_id:
        state.select_agent(chosen)
    agent = data.agent(run_id, chosen)
    frame = data.agents(run_id)
    row = frame.loc[chosen]
    best = " (the best agent)" if chosen == best_id else ""
    st.subheader(f"Agent #{chosen}{best}")
    st.markdown(f"generation {agent.generation} · made at iteration {agent.iteration} by "
                f"**{agent.source}** · train **{row['train_accuracy']:.3f}** · test "
                f"{row['test_accuracy']:.3f} · {row['n_fp']} FP, {row['n_fn']} FN")
    if agent.parent_id is not None and st.button(f"Open parent #{agent.parent_id}",
                                                 key="ha_ag_parent"):
        layout.open_agent(run_id, agent.parent_id)
    policies(agent)
    st.subheader("Lineage notes, from the seed")
    path = lineage.ancestry(lineage.parents_array(frame), chosen)
    st.dataframe(detail.lineage_notes(frame, path), hide_index=True, key="ha_ag_lineage")
    st.subheader("Train repositories it gets wrong")
    wrong = detail.error_breakdown(agent, data.dataset(run_id).train)
    if wrong.empty:
        st.success("None: every train repository is decided correctly.")
    else:
        st.caption("Score = sum of weight x feature; a false positive scores at or above the "
                   "effective threshold, a false negative below it.")
        st.dataframe(wrong.round(3), hide_index=True, key="ha_ag_wrong")
    st.subheader("Diff against its parent")
    parent = data.agent(run_id, agent.parent_id) if agent.parent_id is not None else None
    diff = detail.policy_diff(parent, agent)
    if parent is None:
        st.caption("The seed agent has no parent.")
    st.dataframe(diff, hide_index=True, key="ha_ag_diff")


main()
