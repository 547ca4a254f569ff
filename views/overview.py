"""Overview: start, continue or reset a run; the best agent; the learning curve."""

import streamlit as st

from app import background, data, layout, llm_panel, plots, runner, state, widgets
from engine.conditions import CONDITIONS
from engine.store import StoreError


def controls(run_id: str | None) -> str | None:
    c1, c2, c3 = st.columns([2, 1, 1])
    condition = c1.selectbox("Condition", list(CONDITIONS), key="ha_ov_condition")
    c1.caption(CONDITIONS[condition].isolates)
    seed = c2.number_input("Seed", 0, widgets.SEED_VALUE_MAX, 0, key="ha_ov_seed")
    with c3:
        iterations = widgets.iterations_input("Iterations", "ha_ov_iterations", 30)
    d1, d2 = st.columns([3, 2])
    with d1:
        ds, spec = widgets.dataset_input("ha_ov")
    if ds is not None:
        with d2:
            widgets.chart(("profile", background.dataset_key(ds)), plots.dataset_profile,
                          ds.train.X, ds.train.y, ds.name)
    operator, llm_config = llm_panel.operator_choice("ha_ov")
    b1, b2, b3, _ = st.columns([1, 1, 1, 3])
    run = b1.button("Run", type="primary", disabled=ds is None, key="ha_ov_run",
                    help="Start a new run with these settings")
    cont = b2.button("Continue", key="ha_ov_continue",
                     help="Add the iterations to the current run")
    reset = b3.button("Reset", key="ha_ov_reset",
                      help="Clear the current run from this session (it stays saved)")
    # A status bar: the current run's state at rest, the progress of a run while it works.
    bar = widgets.progress_bar("No run yet" if run_id is None else f"Run {run_id}: done",
                               0.0 if run_id is None else 1.0)
    try:
        if run:
            run_id = runner.start_run(ds, spec, condition, int(seed), iterations,
                                      bar.label("Running"), operator, llm_config)
            bar.finish(f"Run {run_id}: {iterations} iterations done")
        elif cont and run_id is None:
            st.warning("Nothing to continue yet: press Run to start a run.")
        elif cont:
            runner.continue_run(run_id, iterations, bar.label(f"Continuing {run_id}"),
                                operator, llm_config)
            bar.finish(f"Run {run_id}: {iterations} more iterations done")
        elif reset:
            if run_id is not None:
                state.forget_run(run_id)
            state.select_run(None)
            st.success("Cleared. Saved runs stay on the Runs page.")
            return None
    except (StoreError, KeyError, ValueError) as exc:
        st.error(f"Could not run: {exc}")
    return run_id


def best_agent(run_id: str, info: dict) -> None:
    best_id = int(info["best_agent_id"])
    agent = data.agent(run_id, best_id)
    st.subheader(f"Best agent #{best_id}")
    st.markdown(f"train accuracy **{info['best_train']:.3f}** · test accuracy "
                f"**{info['best_test']:.3f}** · generation **{agent.generation}** · review "
                f"style **{agent.task.review_style}** · focus **{agent.meta.focus_metric}**")
    if st.button(f"Open agent #{best_id}", key="ha_ov_open_best"):
        layout.open_agent(run_id, best_id)


def main() -> None:
    run_id, _ = state.deep_link(data.run_exists)
    st.title("Overview")
    st.caption("A hyperagent edits both how it reviews repositories (task policy) and how it "
               "proposes its own next edits (meta policy). Run the search and watch it learn.")
    run_id = controls(run_id)
    info = data.run_info(run_id) if run_id else None
    if info is None:
        if run_id is None:
            layout.empty_state(link=False)
        else:
            st.warning(f"Run {run_id} is gone (deleted in another session).")
        return
    st.markdown(f"**Run {run_id}** · {info['condition']} · seed {info['seed']} · "
                f"{info['iterations']} iterations · {info['dataset_name']} · {info['status']}")
    best_agent(run_id, info)
    refs = widgets.references_for(data.dataset(run_id))
    lines = {k: v for k, v in refs.items() if k in ("seed agent", "ceiling")}
    widgets.chart((run_id, data.run_version(run_id)), plots.learning_curve,
                  data.metrics(run_id), lines, f"Learning curve of run {run_id}")
    st.caption("Lines: best agent so far (train = fitness, test = held out, never used by the "
               "search). Points: every child. Dashed: the seed agent and the ceiling (the best "
               "any task policy can do on train).")


main()
