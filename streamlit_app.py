"""hyperagents: the Streamlit entry point (``streamlit run streamlit_app.py``).

A router and frame only: page config, ``st.navigation`` over the seven scripts in ``views/``,
and the sidebar (current run, OpenAI status). The pages hold layout; shared pieces live in
``app/``; the science lives in ``engine/``.

The page scripts live in ``views/``, not ``pages/``: Streamlit treats a folder named ``pages``
next to the entry script as a legacy multipage app until ``st.navigation`` first runs, so a
fresh server whose first request is a deep link (``/archive?run=...``) would run the page
without this script (no sidebar, no navigation), and ``AppTest`` reruns would skip it too.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `streamlit run` adds it; other launchers may not
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import layout, state  # noqa: E402

st.set_page_config(page_title="hyperagents", page_icon=":material/psychology:", layout="wide",
                   menu_items={"About": "hyperagents: metacognitive self-modification, "
                                        "after the HyperAgents paper (arXiv:2603.19461)."})
state.init()
navigation = st.navigation([
    st.Page("views/overview.py", url_path="overview", title="Overview",
            icon=":material/monitoring:", default=True),
    st.Page("views/ablation.py", url_path="ablation", title="Ablation",
            icon=":material/science:"),
    st.Page("views/archive.py", url_path="archive", title="Archive",
            icon=":material/account_tree:"),
    st.Page("views/agent_detail.py", url_path="agent", title="Agent Detail",
            icon=":material/smart_toy:"),
    st.Page("views/events.py", url_path="events", title="Events", icon=":material/list_alt:"),
    st.Page("views/runs.py", url_path="runs", title="Runs", icon=":material/storage:"),
    st.Page("views/live_review.py", url_path="review", title="Live Review",
            icon=":material/rate_review:"),
])
frame = st.sidebar.container()
navigation.run()
with frame:
    layout.sidebar()
