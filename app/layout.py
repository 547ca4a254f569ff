"""The frame around every page: the sidebar, and moves between pages.

Public names: sidebar, open_agent, empty_state.
"""

from __future__ import annotations

import streamlit as st

from app import data, state


def sidebar() -> None:
    """The current run (condition, seed, iterations, best fitness) and the OpenAI status."""
    state.init()
    run_id = state.selected_run_id()
    info = data.run_info(run_id) if run_id else None
    st.subheader("Current run")
    if info is None:
        st.caption("No run selected. Start one on Overview or load one on Runs.")
    else:
        st.markdown(f"**{run_id}** · {info['condition']} · seed {info['seed']}")
        best = info.get("best_train")
        test = info.get("best_test")
        st.markdown(f"{info['iterations']} iterations · best fitness "
                    f"**{best:.3f}** (test {test:.3f})" if best is not None else
                    f"{info['iterations']} iterations")
        st.caption(f"status: {info['status']} · dataset: {info.get('dataset_name', '')}")
    st.subheader("OpenAI")
    on, model, detail = state.openai_status()
    if on:
        st.markdown(f"**on** · {model}")
    else:
        st.markdown("**off**")
    st.caption(detail)
    st.caption(f"database: {state.db_path()}")


def open_agent(run_id: str, agent_id: int) -> None:
    """Select ``agent_id`` of ``run_id`` and switch to Agent Detail (does not return)."""
    state.select_run(run_id, agent_id)
    st.switch_page("views/agent_detail.py",
                   query_params={"run": str(run_id), "agent": str(int(agent_id))})


def empty_state(link: bool = True) -> None:
    """Say there is no run yet (with a link to Overview unless on it)."""
    if not link:
        st.info("No run yet: choose a condition, dataset, seed and iterations, then press Run.")
        return
    st.info("No run yet. Start one on the Overview page, or load a saved one on the Runs page.")
    st.page_link("views/overview.py", label="Go to Overview", icon=":material/monitoring:")
