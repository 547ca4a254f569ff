"""The optional OpenAI parts of the app: the configuration (secrets, environment, or a key kept
in this browser session only), its status in words, the OpenAI review on Live Review and the
mutation-operator choice on Overview. The key is never drawn on the page.

Public names: K_SESSION_KEY, K_REVIEW, K_SCAN_CONTEXT, OPERATORS, config, key_field,
status_caption, current_review, review_section, operator_choice.
"""

from __future__ import annotations

import streamlit as st

from app import state
from engine.llm_config import LLMConfig
from engine.policy import FEATURES

K_SESSION_KEY = "ha_llm_session_key"  # a key typed into the password field (session only)
K_REVIEW = "ha_lr_llm_review"         # (features signature, Review.to_dict()) of the last ask
K_SCAN_CONTEXT = "ha_lr_scan_context"  # readme_excerpt / file_tree / findings of the last scan
KEY_LABEL = "OpenAI API key (kept in this browser session only)"
OPERATORS = ("heuristic", "llm")


def _secrets():
    """``st.secrets``, or None when there is no usable secrets file."""
    try:
        st.secrets.get("OPENAI_API_KEY")
    except Exception:  # noqa: BLE001 - FileNotFoundError, StreamlitSecretNotFoundError, parse
        return None
    return st.secrets


def config() -> tuple[LLMConfig | None, str | None]:
    """``(config, None)`` with the session key applied, or ``(None, error in words)``."""
    try:
        cfg = LLMConfig.from_env(secrets=_secrets())
    except ValueError as exc:
        return None, f"settings error: {exc}"
    return cfg.with_key(st.session_state.get(K_SESSION_KEY) or None), None


def _remember_key(widget_key: str) -> None:
    value = (st.session_state.get(widget_key) or "").strip()
    st.session_state[K_SESSION_KEY] = value or None


def _forget_key(widget_key: str) -> None:
    st.session_state[K_SESSION_KEY] = None
    st.session_state[widget_key] = ""


def key_field(prefix: str) -> None:
    """A password field for a session-only key; the typed key survives page switches."""
    widget_key = f"{prefix}_llm_key"
    st.text_input(KEY_LABEL, type="password", key=widget_key, on_change=_remember_key,
                  args=(widget_key,), help="Used for calls from this session only; never "
                  "saved, logged or shown.")
    if st.session_state.get(K_SESSION_KEY):
        st.button("Forget the session key", key=f"{prefix}_llm_forget", on_click=_forget_key,
                  args=(widget_key,))


def status_caption(cfg: LLMConfig | None, error: str | None) -> None:
    st.caption(f"OpenAI: {error}" if cfg is None else cfg.status().text)


# ---- Live Review ------------------------------------------------------------------------------
def _signature(values: dict) -> tuple:
    return tuple(round(float(values[f]), 6) for f in FEATURES)


def current_review(values: dict) -> dict | None:
    """The OpenAI review asked for these feature values in this session, if any."""
    got = st.session_state.get(K_REVIEW)
    if got and got[0] == _signature(values):
        return got[1]
    return None


def _summary(values: dict, repo: str, decision: str | None) -> dict:
    summary: dict = {f: float(values[f]) for f in FEATURES}
    if repo:
        summary["name"] = repo
    if decision:
        summary["agent_decision"] = decision
    scan = st.session_state.get(K_SCAN_CONTEXT)
    if scan and scan.get("features") == {f: float(values[f]) for f in FEATURES}:
        summary.update({k: v for k, v in scan.items() if k != "features"})
    return summary


def _show(review: dict) -> None:
    if not review.get("ok"):
        st.error(f"The OpenAI review failed: {review.get('error') or 'unknown error'}")
        return
    st.markdown(f"**{review['recommendation']}** · score **{review['score']}**/10 · "
                f"{review.get('model', '')}")
    if review.get("summary"):
        st.markdown(review["summary"])
    c1, c2 = st.columns(2)
    c1.markdown("**Strengths**\n" + ("\n".join(f"- {s}" for s in review["strengths"])
                                    or "\n(none)"))
    c2.markdown("**Issues**\n" + ("\n".join(f"- {s}" for s in review["issues"]) or "\n(none)"))


def review_section(values: dict, repo: str = "", decision: str | None = None) -> None:
    """The OpenAI review of the repository on the sliders (kept for saving)."""
    from engine.llm_reviewer import review_repository

    st.subheader("OpenAI review")
    key_field("ha_lr")
    cfg, error = config()
    status_caption(cfg, error)
    st.caption("The agent's decision above never depends on the OpenAI review.")
    if cfg is None or not cfg.available:
        st.info("OpenAI review unavailable: set OPENAI_API_KEY (secrets or environment), "
                "OPENAI_BASE_URL for a local server, or type a key above.")
        return
    if st.button("Ask OpenAI for a review", key="ha_lr_llm_ask"):
        with st.spinner(f"Asking {cfg.model}..."):
            review = review_repository(_summary(values, repo, decision), cfg,
                                       call_logger=state.store().log_llm_call)
        st.session_state[K_REVIEW] = (_signature(values), review.to_dict())
    got = current_review(values)
    if got is not None:
        _show(got)
        st.caption("Saving the review below keeps this OpenAI review with it.")


# ---- Overview ---------------------------------------------------------------------------------
def operator_choice(prefix: str = "ha_ov") -> tuple[str, LLMConfig | None]:
    """A heuristic / llm radio (llm only when a key or base URL is configured) and the
    operator status; returns ``(name, config)``."""
    with st.expander("OpenAI key for this session"):
        key_field(prefix)
    cfg, error = config()
    available = cfg is not None and cfg.available
    if available:
        default = 1 if cfg.operator_enabled else 0
        name = st.radio("Mutation operator", OPERATORS, index=default, horizontal=True,
                        key=f"{prefix}_operator")
    else:
        name = st.radio("Mutation operator", OPERATORS, index=0, horizontal=True,
                        disabled=True, key=f"{prefix}_operator_off")
        name = "heuristic"
        why = error or "no OPENAI_API_KEY or OPENAI_BASE_URL is configured"
        st.caption(f"llm unavailable: {why}. Only the heuristic operator can run.")
    status_caption(cfg, error)
    return name, cfg
