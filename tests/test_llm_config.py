"""LLM configuration: sources of the key, defaults, validation and the status in words."""

from __future__ import annotations

import pytest

from engine.llm import load_prompt, render_prompt
from engine.llm_config import (
    DEFAULT_MODEL,
    LOCAL_PLACEHOLDER_KEY,
    OPENAI_API_URL,
    LLMConfig,
    clear_last_error,
    last_error,
    note_error,
)

KEY = "sk-config-test-abcdef123456"


class MissingSecrets:
    """Like ``st.secrets`` without a secrets.toml: every lookup raises."""

    def get(self, name, default=None):
        raise FileNotFoundError("No secrets files found")


def test_defaults_without_anything_configured():
    """With an empty environment: gpt-4o-mini, the OpenAI endpoint, nothing available, off."""
    cfg = LLMConfig.from_env({})
    assert (cfg.model, cfg.endpoint, cfg.api_key, cfg.key_source) == (
        DEFAULT_MODEL, OPENAI_API_URL, None, "none")
    assert (cfg.available, cfg.operator_enabled, cfg.use_openai) == (False, False, False)
    assert (cfg.timeout_s, cfg.max_retries, cfg.max_calls_per_run, cfg.concurrency) == (
        30.0, 2, 200, 4)
    status = cfg.status(last_error="")
    assert status.state == "off" and not status.reviewer_available
    assert status.text == ("LLM operator off: no OPENAI_API_KEY set (add it to "
                           ".streamlit/secrets.toml, the environment, or the key field). "
                           "No errors.")
    with pytest.raises(ValueError, match="no OpenAI key configured: set OPENAI_API_KEY"):
        cfg.client_key()


def test_secrets_win_over_environment():
    """st.secrets first, then the environment; a failing secrets lookup means no secrets."""
    env = {"OPENAI_API_KEY": "sk-from-env-000000", "OPENAI_MODEL": "gpt-env"}
    cfg = LLMConfig.from_env(env, {"OPENAI_API_KEY": KEY})
    assert (cfg.api_key, cfg.key_source, cfg.model) == (KEY, "secrets", "gpt-env")
    cfg = LLMConfig.from_env(env, MissingSecrets())
    assert (cfg.api_key, cfg.key_source) == ("sk-from-env-000000", "environment")
    cfg = LLMConfig.from_env({"OPENAI_API_KEY": "  "}, {"OPENAI_API_KEY": ""})
    assert (cfg.api_key, cfg.key_source) == (None, "none")


def test_environment_settings_are_read():
    """Every documented variable is read and the operator turns on with a key."""
    env = {"OPENAI_API_KEY": KEY, "OPENAI_MODEL": "llama3.1:8b",
           "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/", "HYPERAGENTS_USE_OPENAI": "1",
           "HYPERAGENTS_OPENAI_TIMEOUT": "12.5", "HYPERAGENTS_OPENAI_MAX_RETRIES": "0",
           "HYPERAGENTS_OPENAI_MAX_CALLS": "50", "HYPERAGENTS_OPENAI_CONCURRENCY": "8",
           "HYPERAGENTS_OPENAI_TEMPERATURE": "0.3"}
    cfg = LLMConfig.from_env(env)
    assert cfg == LLMConfig(model="llama3.1:8b", base_url="http://127.0.0.1:11434/v1",
                            use_openai=True, timeout_s=12.5, max_retries=0,
                            max_calls_per_run=50, concurrency=8, temperature=0.3,
                            key_source="environment")
    assert cfg.operator_enabled
    assert cfg.status(last_error="").text == (
        "LLM operator on: llama3.1:8b at http://127.0.0.1:11434/v1. No errors.")


def test_local_server_needs_no_key():
    """A custom base URL without a key is usable with a placeholder key."""
    cfg = LLMConfig.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1",
                              "HYPERAGENTS_USE_OPENAI": "true"})
    assert cfg.available and cfg.operator_enabled and not cfg.has_key
    assert cfg.client_key() == LOCAL_PLACEHOLDER_KEY


def test_flag_off_keeps_heuristic_but_reviews_work():
    """A key without HYPERAGENTS_USE_OPENAI=1: operator off, reviews available."""
    cfg = LLMConfig.from_env({"OPENAI_API_KEY": KEY, "HYPERAGENTS_USE_OPENAI": "0"})
    status = cfg.status(last_error="")
    assert (status.state, status.reviewer_available) == ("off", True)
    assert status.text == ("LLM operator off: HYPERAGENTS_USE_OPENAI is not 1 (the heuristic "
                           "operator is used); reviews use gpt-4o-mini at "
                           "https://api.openai.com/v1. No errors.")


@pytest.mark.parametrize("env,message", [
    ({"HYPERAGENTS_USE_OPENAI": "maybe"},
     "HYPERAGENTS_USE_OPENAI: expected 1/0 (or true/false, yes/no, on/off), got 'maybe'"),
    ({"HYPERAGENTS_OPENAI_TIMEOUT": "soon"},
     "HYPERAGENTS_OPENAI_TIMEOUT: expected a number in [0.001, 600.0], got 'soon'"),
    ({"HYPERAGENTS_OPENAI_TIMEOUT": "nan"},
     "HYPERAGENTS_OPENAI_TIMEOUT: expected a value in [0.001, 600.0], got 'nan'"),
    ({"HYPERAGENTS_OPENAI_CONCURRENCY": "0"},
     "HYPERAGENTS_OPENAI_CONCURRENCY: expected a value in [1, 64], got '0'"),
    ({"HYPERAGENTS_OPENAI_MAX_CALLS": "2.5"},
     "HYPERAGENTS_OPENAI_MAX_CALLS: expected an integer in [0, 1000000], got '2.5'"),
    ({"OPENAI_BASE_URL": "127.0.0.1:11434/v1"},
     "OPENAI_BASE_URL: expected an http:// or https:// URL"),
])
def test_bad_settings_say_what_was_expected(env, message):
    """A malformed setting raises a ValueError naming it and the expected form."""
    with pytest.raises(ValueError) as info:
        LLMConfig.from_env({"OPENAI_API_KEY": KEY, **env})
    assert message in str(info.value)
    assert KEY not in str(info.value)


def test_with_key_from_the_session():
    """A key typed into the app is used; a blank field keeps the configured one."""
    cfg = LLMConfig.from_env({})
    typed = cfg.with_key(f" {KEY} ")
    assert (typed.api_key, typed.key_source, typed.available) == (KEY, "session", True)
    assert typed.with_key("   ") is typed
    assert KEY not in repr(typed) and KEY not in str(typed.to_dict())


def test_last_error_is_shown_in_words():
    """The status ends with the last recorded error of the process."""
    clear_last_error()
    cfg = LLMConfig.from_env({"OPENAI_API_KEY": KEY, "HYPERAGENTS_USE_OPENAI": "1"})
    assert cfg.status().last_error is None
    note_error("rate limited (HTTP 429) after 2 retries: slow down")
    assert last_error() == "rate limited (HTTP 429) after 2 retries: slow down"
    assert cfg.status().text.endswith(
        ". Last error: rate limited (HTTP 429) after 2 retries: slow down")
    clear_last_error()
    assert cfg.status().text.endswith(". No errors.")


def test_prompts_are_files_with_placeholders_filled():
    """Prompt texts come from engine/prompts; a missing value or file is a clear error."""
    assert load_prompt("mutation_system").startswith("You are the mutation operator")
    assert render_prompt("review_user", summary="{}") == "Repository summary (JSON):\n{}\n"
    with pytest.raises(ValueError, match=r"prompt 'review_user': no value for \$summary"):
        render_prompt("review_user")
    with pytest.raises(ValueError, match="no prompt 'nope'"):
        load_prompt("nope")
