"""Configuration of the optional OpenAI operator and reviewer, and its status in words.

The key comes from the Streamlit secrets mapping, else the environment, else a key typed into
the app (``LLMConfig.with_key``); it is held only in memory. It never appears in ``repr``,
``str``, ``to_dict``, ``status()`` or any error message this module raises.

Settings (secrets or environment; the first five are documented in ``.env.example``):

- ``OPENAI_API_KEY``: the key (local servers ignore it; see ``LOCAL_PLACEHOLDER_KEY``).
- ``OPENAI_MODEL``: model name, default ``gpt-4o-mini``.
- ``OPENAI_BASE_URL``: any OpenAI-compatible server (Ollama, vLLM, LM Studio), e.g.
  ``http://127.0.0.1:11434/v1``; default the OpenAI API.
- ``HYPERAGENTS_USE_OPENAI``: ``1`` turns the LLM mutation operator on by default.
- ``HYPERAGENTS_OPENAI_TIMEOUT`` (seconds per request, default 30),
  ``HYPERAGENTS_OPENAI_MAX_RETRIES`` (the client's retries on 429/5xx/timeouts, default 2),
  ``HYPERAGENTS_OPENAI_MAX_CALLS`` (calls per run before the heuristic takes over, default 200),
  ``HYPERAGENTS_OPENAI_CONCURRENCY`` (simultaneous calls per process, default 4),
  ``HYPERAGENTS_OPENAI_TEMPERATURE`` (sent only when set; some models accept only the default).

Public names: LLMConfig, LLMStatus, DEFAULT_MODEL, OPENAI_API_URL, LOCAL_PLACEHOLDER_KEY,
note_error, last_error, clear_last_error.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_API_URL = "https://api.openai.com/v1"
# Sent to a custom base URL when no key is configured: local servers ignore the key, but the
# openai client refuses to start without one.
LOCAL_PLACEHOLDER_KEY = "not-needed"
KEY_SOURCES = ("secrets", "environment", "session", "argument", "none")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}: expected 1/0 (or true/false, yes/no, on/off), got {text!r}")


def _number(name: str, text: str, low: float, high: float, integer: bool = False):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name}: expected {kind} in [{low}, {high}], got {text!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name}: expected a value in [{low}, {high}], got {text!r}")
    return value


@dataclass(frozen=True)
class LLMConfig:
    """Everything needed to call an OpenAI-compatible chat-completions endpoint.

    Attributes:
        api_key: the key; excluded from repr, equality and ``to_dict``.
        model: model name sent with every request.
        base_url: server root including ``/v1``; ``None`` means the OpenAI API.
        use_openai: whether the LLM mutation operator is the default operator.
        timeout_s: seconds per HTTP request, in (0, 600].
        max_retries: the openai client's own retries (429, 5xx, timeouts), in [0, 10].
        max_calls_per_run: LLM calls one run may make; later steps use the heuristic.
        concurrency: simultaneous calls per process (a shared semaphore), in [1, 64].
        temperature: sampling temperature, or ``None`` to leave the server's default.
        key_source: where the key came from, one of ``KEY_SOURCES``.
    """

    api_key: str | None = field(default=None, repr=False, compare=False)
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    use_openai: bool = False
    timeout_s: float = 30.0
    max_retries: int = 2
    max_calls_per_run: int = 200
    concurrency: int = 4
    temperature: float | None = None
    key_source: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("OPENAI_MODEL: expected a non-empty model name, e.g. gpt-4o-mini")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("OPENAI_BASE_URL: expected an http:// or https:// URL such as "
                             f"http://127.0.0.1:11434/v1, got {self.base_url!r}")
        checks = (("timeout_s", self.timeout_s, 1e-3, 600.0),
                  ("max_retries", self.max_retries, 0, 10),
                  ("max_calls_per_run", self.max_calls_per_run, 0, 1_000_000),
                  ("concurrency", self.concurrency, 1, 64))
        for name, value, low, high in checks:
            if not (isinstance(value, int | float) and math.isfinite(value)
                    and low <= value <= high):
                raise ValueError(f"{name}: expected a value in [{low}, {high}], got {value!r}")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature: expected a value in [0, 2], got {self.temperature!r}")
        if self.key_source not in KEY_SOURCES:
            raise ValueError(f"key_source: expected one of {KEY_SOURCES}")

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 secrets: Mapping | None = None) -> LLMConfig:
        """Read the settings from ``secrets`` (e.g. ``st.secrets``) first, then ``env``.

        Raises:
            ValueError: a setting has the wrong form (the message names it and what was
                expected; it never repeats the key).
        """
        env = os.environ if env is None else env

        def get(name: str) -> tuple[str | None, str]:
            if secrets is not None:
                try:
                    value = secrets.get(name)
                except Exception:  # noqa: BLE001 - a missing secrets.toml means "no secrets"
                    value = None
                if value is not None and str(value).strip():
                    return str(value).strip(), "secrets"
            value = env.get(name)
            if value is not None and value.strip():
                return value.strip(), "environment"
            return None, "none"

        key, key_source = get("OPENAI_API_KEY")
        kw: dict = {"api_key": key, "key_source": key_source}
        model, _ = get("OPENAI_MODEL")
        if model:
            kw["model"] = model
        base_url, _ = get("OPENAI_BASE_URL")
        if base_url:
            kw["base_url"] = base_url.rstrip("/")
        use, _ = get("HYPERAGENTS_USE_OPENAI")
        if use is not None:
            kw["use_openai"] = _flag("HYPERAGENTS_USE_OPENAI", use)
        numeric = (("HYPERAGENTS_OPENAI_TIMEOUT", "timeout_s", 1e-3, 600.0, False),
                   ("HYPERAGENTS_OPENAI_MAX_RETRIES", "max_retries", 0, 10, True),
                   ("HYPERAGENTS_OPENAI_MAX_CALLS", "max_calls_per_run", 0, 1_000_000, True),
                   ("HYPERAGENTS_OPENAI_CONCURRENCY", "concurrency", 1, 64, True),
                   ("HYPERAGENTS_OPENAI_TEMPERATURE", "temperature", 0.0, 2.0, False))
        for name, attr, low, high, integer in numeric:
            text, _ = get(name)
            if text is not None:
                kw[attr] = _number(name, text, low, high, integer)
        return cls(**kw)

    def with_key(self, key: str | None, source: str = "session") -> LLMConfig:
        """A copy using ``key`` (e.g. typed into a password field); blank keeps this one."""
        if key is None or not key.strip():
            return self
        return replace(self, api_key=key.strip(), key_source=source)

    # ---- derived ---------------------------------------------------------------------------
    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def available(self) -> bool:
        """A call can be attempted: a key, or a custom (local) server that needs none."""
        return self.has_key or self.base_url is not None

    @property
    def operator_enabled(self) -> bool:
        """The LLM operator is on by default (``HYPERAGENTS_USE_OPENAI=1`` and available)."""
        return self.use_openai and self.available

    @property
    def endpoint(self) -> str:
        return self.base_url or OPENAI_API_URL

    def client_key(self) -> str:
        """The key handed to the openai client (a placeholder for a keyless local server).

        Raises:
            ValueError: no key and no custom server.
        """
        if self.api_key:
            return self.api_key
        if self.base_url is not None:
            return LOCAL_PLACEHOLDER_KEY
        raise ValueError("no OpenAI key configured: set OPENAI_API_KEY (or OPENAI_BASE_URL "
                         "for a local OpenAI-compatible server)")

    def to_dict(self) -> dict:
        """Every setting except the key (safe to export, log or store)."""
        return {"model": self.model, "base_url": self.endpoint, "use_openai": self.use_openai,
                "timeout_s": self.timeout_s, "max_retries": self.max_retries,
                "max_calls_per_run": self.max_calls_per_run, "concurrency": self.concurrency,
                "temperature": self.temperature, "key_source": self.key_source,
                "api_key_set": self.has_key}

    def status(self, last_error: str | None = None) -> LLMStatus:
        """Operator status for the app: on/off, model, endpoint, and the last error in words.

        ``last_error`` defaults to the last error any call in this process recorded.
        """
        if last_error is None:
            last_error = _current_error()
        if not self.available:
            reason = "no OPENAI_API_KEY set (add it to .streamlit/secrets.toml, the " \
                     "environment, or the key field)"
        elif not self.use_openai:
            reason = "HYPERAGENTS_USE_OPENAI is not 1 (the heuristic operator is used)"
        else:
            reason = ""
        return LLMStatus("on" if not reason else "off", self.model, self.endpoint,
                         self.key_source, reason, self.available, last_error)


@dataclass(frozen=True)
class LLMStatus:
    """What the app shows about the LLM.

    Attributes:
        state: ``on`` when the LLM operator is the default, else ``off``.
        model, endpoint, key_source: as configured (never the key).
        reason: why the operator is off, in words (empty when on).
        reviewer_available: an OpenAI review can be requested.
        last_error: the last failed call in words, or ``None``.
    """

    state: str
    model: str
    endpoint: str
    key_source: str
    reason: str
    reviewer_available: bool
    last_error: str | None

    @property
    def text(self) -> str:
        head = (f"LLM operator on: {self.model} at {self.endpoint}" if self.state == "on"
                else f"LLM operator off: {self.reason}")
        if self.state == "off" and self.reviewer_available:
            head += f"; reviews use {self.model} at {self.endpoint}"
        tail = f" Last error: {self.last_error}" if self.last_error else " No errors."
        return head + "." + tail


# ---- the last error of this process (shown by the app) ----------------------------------------
_last_error_lock = threading.Lock()
_last_error: tuple[str, float] | None = None


def note_error(text: str) -> None:
    """Remember ``text`` (already redacted) as the last LLM error of this process."""
    global _last_error
    with _last_error_lock:
        _last_error = (text, time.time())


def last_error() -> str | None:
    """The last LLM error of this process in words, or ``None``."""
    with _last_error_lock:
        return None if _last_error is None else _last_error[0]


_current_error = last_error


def clear_last_error() -> None:
    global _last_error
    with _last_error_lock:
        _last_error = None
