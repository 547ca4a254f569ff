"""Live Review: score a repository with any agent of any run, see why, save the review."""

import streamlit as st

from app import data, layout, llm_panel, review_panel, state, widgets
from app.review import review


def main() -> None:
    run_id, agent_id = state.deep_link(data.run_exists, data.agent_exists)
    st.title("Live Review")
    st.caption("Describe a repository by its five features and let an agent decide; see which "
               "features carried the decision and what would change it.")
    c1, c2 = st.columns([3, 1])
    with c1:
        run_id = widgets.run_picker("Run", "ha_lr_run", run_id)
    if run_id is None:
        layout.empty_state()
        return
    best_id = int(data.run_info(run_id)["best_agent_id"])
    with c2:
        chosen = widgets.agent_picker("Agent (default: the best)", "ha_lr_agent", run_id,
                                      agent_id if agent_id is not None else best_id)
    if chosen != agent_id:
        state.select_agent(chosen)
    agent = data.agent(run_id, chosen)
    st.caption(f"Agent #{chosen}: threshold {agent.task.threshold:.3f}, style "
               f"{agent.task.review_style}, effective threshold "
               f"{agent.task.effective_threshold:.3f}.")
    review_panel.scan_panel()
    st.text_input("Repository name", key="ha_lr_repo")
    values = review_panel.feature_sliders()
    result = review(agent, values)
    review_panel.outcome(result)
    llm_panel.review_section(values, st.session_state.get("ha_lr_repo", ""), result.decision)
    review_panel.save_panel(result, agent, run_id, values, llm_panel.current_review(values))
    review_panel.dataset_panel()
    st.subheader("Recent reviews")
    recent = data.reviews(20)
    if recent.empty:
        st.caption("No reviews saved yet.")
    else:
        st.dataframe(recent.drop(columns=["llm_review"]), hide_index=True, key="ha_lr_recent")


main()
