"""Calling an OpenAI-compatible server: structured chat completions, failures in words, the key
kept out of everything, call records, prompt files and the per-process concurrency limit.

The optional LLM features live in four modules:

- ``engine.llm_config``: ``LLMConfig`` (key, model, base URL, limits) and ``status()``;
- ``engine.llm`` (this one): the shared call machinery and reply validation helpers;
- ``engine.llm_operator``: ``LLMOperator``, a mutation operator the loop is handed;
- ``engine.llm_reviewer``: ``review_repository`` -> ``Review``;
- ``engine.llm_ablation``: ``run_llm_ablation``, conditions x seeds in threads.

Prompt texts live in ``engine/prompts/*.md`` and are only read from there.
``from engine.llm import LLMOperator`` (and the other names above) also works.

Public names: CallResult, ReplyError, chat_json, make_client, describe_error, redact,
call_record, concurrency_limit, json_schema_format, load_prompt, render_prompt,
parse_json_object, need, number, choice, text, text_list, PROMPTS_DIR, CALL_FIELDS.
"""

from __future__ import annotations

import json
import logging
import math
import re
import string
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.llm_config import LLMConfig, note_error

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).with_name("prompts")
# The fields of one ``llm_calls`` row, in order (the store's ``log_llm_call`` takes this dict).
CALL_FIELDS: tuple[str, ...] = (
    "run_id", "iteration", "purpose", "model", "prompt", "response", "prompt_tokens",
    "completion_tokens", "latency_s", "outcome", "error",
)
MAX_ERROR_CHARS = 300

_LAZY = {
    "LLMConfig": "engine.llm_config", "LLMStatus": "engine.llm_config",
    "LLMOperator": "engine.llm_operator", "review_repository": "engine.llm_reviewer",
    "Review": "engine.llm_reviewer", "run_llm_ablation": "engine.llm_ablation",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine.llm' has no attribute {name!r}")


# ---- prompts -------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def load_prompt(name: str) -> str:
    """The text of ``engine/prompts/<name>.md``.

    Raises:
        ValueError: no such prompt file (the message lists the available ones).
    """
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        names = sorted(p.stem for p in PROMPTS_DIR.glob("*.md"))
        raise ValueError(f"no prompt {name!r} in {PROMPTS_DIR}; expected one of {names}")
    return path.read_text(encoding="utf-8").strip() + "\n"


def render_prompt(name: str, **values: object) -> str:
    """Fill the ``$placeholders`` of prompt ``name`` (``string.Template`` syntax).

    Raises:
        ValueError: a placeholder has no value.
    """
    try:
        return string.Template(load_prompt(name)).substitute(
            {k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise ValueError(f"prompt {name!r}: no value for ${exc.args[0]}") from None


# ---- secrets -------------------------------------------------------------------------------------
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(?i)bearer\s+\S+")


def redact(text: str | None, key: str | None) -> str | None:
    """``text`` with the key, anything shaped like an OpenAI key and bearer tokens masked."""
    if text is None:
        return None
    if key:
        text = text.replace(key, "***")
    return _BEARER.sub("Bearer ***", _KEY_LIKE.sub("sk-***", text))


# ---- concurrency ---------------------------------------------------------------------------------
_semaphores: dict[int, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def concurrency_limit(size: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore that bounds simultaneous calls to ``size``."""
    with _semaphores_lock:
        sem = _semaphores.get(size)
        if sem is None:
            sem = _semaphores[size] = threading.BoundedSemaphore(size)
        return sem


# ---- one call ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallResult:
    """The outcome of one chat-completions call (after the client's own retries).

    Attributes:
        ok: a non-empty reply arrived.
        content: the reply text (``None`` when not ok).
        outcome: ``ok``, ``timeout``, ``rate_limited``, ``server_error``, ``auth_error``,
            ``connection_error``, ``api_error``, ``refused`` or ``invalid_reply``.
        error: what went wrong, in words, with the key redacted (``None`` when ok).
        latency_s: wall-clock seconds of the call including retries.
        prompt_tokens, completion_tokens: from the reply's ``usage``, when given.
    """

    ok: bool
    content: str | None
    outcome: str
    error: str | None
    latency_s: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def make_client(config: LLMConfig):
    """A real ``openai.OpenAI`` client for ``config``; key and URL come only from ``config``.

    A server on this machine (127.0.0.1, localhost, ::1) is reached directly, never through a
    proxy named in the environment.
    """
    from urllib.parse import urlsplit

    import openai

    kw: dict = {}
    if urlsplit(config.endpoint).hostname in _LOOPBACK:
        kw["http_client"] = openai.DefaultHttpxClient(trust_env=False)
    return openai.OpenAI(api_key=config.client_key(), base_url=config.endpoint,
                         timeout=config.timeout_s, max_retries=config.max_retries, **kw)


def json_schema_format(name: str, schema: dict) -> dict:
    """The ``response_format`` argument asking for structured output matching ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True,
                                                   "schema": schema}}


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(exc, "message", "") or exc)


def describe_error(exc: BaseException, config: LLMConfig) -> tuple[str, str]:
    """``(outcome, words)`` for a failed call; the key never appears in the words."""
    import openai

    retries = f"after {config.max_retries} retr{'y' if config.max_retries == 1 else 'ies'}"
    msg = _server_message(exc)
    if isinstance(exc, openai.APITimeoutError):
        outcome, words = "timeout", (f"no reply from {config.endpoint} within "
                                     f"{config.timeout_s:g} s (timeout) {retries}")
    elif isinstance(exc, openai.APIConnectionError):
        outcome, words = "connection_error", f"cannot reach {config.endpoint} {retries}: {msg}"
    elif isinstance(exc, openai.RateLimitError):
        outcome, words = "rate_limited", f"rate limited (HTTP 429) {retries}: {msg}"
    elif isinstance(exc, openai.AuthenticationError):
        outcome, words = "auth_error", (f"authentication failed (HTTP 401): check "
                                        f"OPENAI_API_KEY: {msg}")
    elif isinstance(exc, openai.NotFoundError):
        outcome, words = "api_error", (f"not found (HTTP 404): check OPENAI_MODEL "
                                       f"({config.model}) and OPENAI_BASE_URL: {msg}")
    elif isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        outcome, words = "server_error", (f"server error (HTTP {exc.status_code}) "
                                          f"{retries}: {msg}")
    elif isinstance(exc, openai.APIStatusError):
        outcome, words = "api_error", f"request rejected (HTTP {exc.status_code}): {msg}"
    else:
        outcome, words = "api_error", f"{type(exc).__name__}: {msg}"
    words = redact(words, config.api_key)
    if len(words) > MAX_ERROR_CHARS:
        words = words[:MAX_ERROR_CHARS - 3] + "..."
    return outcome, words


def chat_json(client, config: LLMConfig, messages: list[dict], schema_name: str,
              schema: dict, *, seed: int | None = None) -> CallResult:
    """Ask for a JSON reply matching ``schema``; never raises for server or network failures.

    The call waits for a slot of ``concurrency_limit(config.concurrency)``; a failure is also
    remembered as this process's last error (``engine.llm_config.last_error``).
    """
    import httpx
    import openai

    kwargs: dict = {"model": config.model, "messages": messages,
                    "response_format": json_schema_format(schema_name, schema)}
    if seed is not None:
        kwargs["seed"] = seed
    if config.temperature is not None:
        kwargs["temperature"] = config.temperature
    with concurrency_limit(config.concurrency):
        t0 = time.perf_counter()
        try:
            resp = client.chat.completions.create(**kwargs)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            latency = time.perf_counter() - t0
            outcome, words = describe_error(exc, config)
            note_error(words)
            log.debug("llm call %s failed: %s", schema_name, words)
            return CallResult(False, None, outcome, words, latency)
        latency = time.perf_counter() - t0
    usage = getattr(resp, "usage", None)
    pt = getattr(usage, "prompt_tokens", None) if usage is not None else None
    ct = getattr(usage, "completion_tokens", None) if usage is not None else None
    choices = getattr(resp, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    refusal = getattr(message, "refusal", None)
    content = getattr(message, "content", None)
    if message is None:
        outcome, error = "invalid_reply", "the reply had no choices"
    elif refusal:
        outcome, error = "refused", f"the model refused: {str(refusal)[:200]}"
    elif not isinstance(content, str) or not content.strip():
        outcome, error = "invalid_reply", "the reply was empty"
    else:
        log.debug("llm call %s ok in %.3f s", schema_name, latency)
        return CallResult(True, content, "ok", None, latency, pt, ct)
    error = redact(error, config.api_key)
    note_error(error)
    return CallResult(False, content if isinstance(content, str) else None, outcome, error,
                      latency, pt, ct)


def call_record(config: LLMConfig, purpose: str, messages: list[dict], result: CallResult,
                *, outcome: str | None = None, error: str | None = None,
                run_id: object = None, iteration: int | None = None) -> dict:
    """One ``llm_calls`` row (keys ``CALL_FIELDS``): prompt and raw reply, key redacted.

    ``outcome``/``error`` override the call's own when validation judged the reply.
    """
    key = config.api_key
    return {"run_id": run_id, "iteration": iteration, "purpose": purpose,
            "model": config.model,
            "prompt": redact(json.dumps(messages, ensure_ascii=False), key),
            "response": redact(result.content, key),
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "latency_s": round(result.latency_s, 6),
            "outcome": outcome or result.outcome,
            "error": redact(error if error is not None else result.error, key)}


# ---- reply validation ----------------------------------------------------------------------------
class ReplyError(ValueError):
    """The reply does not match what was asked for; the message says what was expected."""


def _reject_constant(name: str):
    raise ReplyError(f"the reply contains {name}; expected finite numbers only")


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_json_object(content: str) -> dict:
    """Parse a reply as one JSON object (a surrounding Markdown code fence is tolerated).

    Raises:
        ReplyError: not JSON, not an object, or containing NaN/Infinity.
    """
    fenced = _FENCE.match(content.strip())
    body = fenced.group(1) if fenced else content
    try:
        obj = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply is not valid JSON ({exc.msg} at character {exc.pos}); "
                         "expected one JSON object matching the schema") from None
    if not isinstance(obj, dict):
        raise ReplyError(f"the reply is a JSON {type(obj).__name__}; expected a JSON object")
    return obj


def need(obj: dict, path: str):
    """The value at dotted ``path`` (e.g. ``task.weights.security``).

    Raises:
        ReplyError: a part of the path is missing or not an object.
    """
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ReplyError(f"the reply is missing field {path}")
        value = value[part]
    return value


def _show(value) -> str:
    shown = json.dumps(value) if not isinstance(value, float) else repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def number(obj: dict, path: str, bounds: tuple[float, float]) -> tuple[float, bool]:
    """``(value clamped to bounds, whether it was clamped)`` for the number at ``path``.

    Raises:
        ReplyError: missing, not a number (strings and booleans are refused), or not finite.
    """
    value = need(obj, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReplyError(f"{path}: expected a number, got {type(value).__name__} "
                         f"{_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ReplyError(f"{path}: expected a finite number, got {value!r}")
    low, high = bounds
    clamped = low if value < low else high if value > high else value
    return clamped, clamped != value


def choice(obj: dict, path: str, allowed: tuple[str, ...]) -> str:
    """The string at ``path``, which must be one of ``allowed``.

    Raises:
        ReplyError: missing or not one of ``allowed``.
    """
    value = need(obj, path)
    if not isinstance(value, str) or value not in allowed:
        raise ReplyError(f"{path}: expected one of {', '.join(allowed)}, got {_show(value)}")
    return value


def text(obj: dict, path: str, max_chars: int) -> str:
    """The string at ``path``, stripped and cut to ``max_chars``.

    Raises:
        ReplyError: missing or not a string.
    """
    value = need(obj, path)
    if not isinstance(value, str):
        raise ReplyError(f"{path}: expected a string, got {type(value).__name__} "
                         f"{_show(value)}")
    value = " ".join(value.split())
    return value if len(value) <= max_chars else value[:max_chars - 3] + "..."


def text_list(obj: dict, path: str, max_items: int, max_chars: int) -> tuple[str, ...]:
    """The list of strings at ``path``: at most ``max_items``, each cut to ``max_chars``.

    Raises:
        ReplyError: missing, not a list, or an item that is not a string.
    """
    value = need(obj, path)
    if not isinstance(value, list):
        raise ReplyError(f"{path}: expected a list of strings, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value[:max_items]):
        if not isinstance(item, str):
            raise ReplyError(f"{path}[{i}]: expected a string, got {type(item).__name__} "
                             f"{_show(item)}")
        item = " ".join(item.split())
        if item:
            out.append(item if len(item) <= max_chars else item[:max_chars - 3] + "...")
    return tuple(out)
