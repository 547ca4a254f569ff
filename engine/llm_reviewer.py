"""An LLM review of a repository: recommendation, score, strengths, issues, summary.

``review_repository(summary, config)`` sends a repository summary (the five features and
whatever else the caller has: name, file tree, README excerpt, scan findings, the agent's
decision) with the prompts ``engine/prompts/review_system.md`` and ``review_user.md``, asks for
structured output (``REVIEW_SCHEMA``) and validates the reply like the mutation operator does.
A failed call or a bad reply gives a ``Review`` with ``ok=False`` and the reason in ``error``;
it never raises for server or reply problems.

Public names: Review, review_repository, review_messages, parse_review, RECOMMENDATIONS,
SCORE_BOUNDS, REVIEW_SCHEMA.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from engine.llm import (
    CallResult,
    ReplyError,
    call_record,
    chat_json,
    choice,
    make_client,
    number,
    parse_json_object,
    redact,
    render_prompt,
    text,
    text_list,
)
from engine.llm_config import LLMConfig, note_error
from engine.policy import FEATURES

RECOMMENDATIONS: tuple[str, ...] = ("merge-ready", "needs-work", "reject")
SCORE_BOUNDS = (1, 10)
MAX_ITEMS = 10
MAX_ITEM_CHARS = 300
MAX_SUMMARY_CHARS = 1200
# Bounds on what a summary may put into the prompt.
MAX_FIELD_CHARS = 4000
MAX_LIST_ITEMS = 200

REVIEW_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "recommendation": {"type": "string", "enum": list(RECOMMENDATIONS)},
        "score": {"type": "integer"},
        "strengths": {"type": "array", "items": {"type": "string"}},
        "issues": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    },
    "required": ["recommendation", "score", "strengths", "issues", "summary"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Review:
    """The outcome of one review request.

    Attributes:
        ok: a valid review arrived; otherwise ``error`` says why and the other fields are empty.
        recommendation: one of ``RECOMMENDATIONS`` (``None`` when not ok).
        score: integer in ``SCORE_BOUNDS`` (``None`` when not ok).
        strengths, issues: at most ``MAX_ITEMS`` short strings each.
        summary: a few sentences.
        clamped: fields that were out of range and clamped (``score``) or rounded.
        error: the failure in words (key redacted), ``None`` when ok.
        model: the model asked.
        latency_s, prompt_tokens, completion_tokens: call figures, when a call was made.
    """

    ok: bool
    recommendation: str | None = None
    score: int | None = None
    strengths: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    summary: str = ""
    clamped: tuple[str, ...] = ()
    error: str | None = None
    model: str = ""
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (what the store saves with the review)."""
        d = asdict(self)
        for k in ("strengths", "issues", "clamped"):
            d[k] = list(d[k])
        return d


def _bounded(value, depth: int = 0):
    """``value`` with long strings and lists cut so one summary cannot flood the prompt."""
    if isinstance(value, str):
        return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "..."
    if isinstance(value, dict) and depth < 4:
        return {str(k): _bounded(v, depth + 1) for k, v in list(value.items())[:MAX_LIST_ITEMS]}
    if isinstance(value, list | tuple) and depth < 4:
        return [_bounded(v, depth + 1) for v in value[:MAX_LIST_ITEMS]]
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return str(value)[:MAX_FIELD_CHARS]


def review_messages(summary: dict) -> list[dict]:
    """The chat messages for a review of ``summary``.

    Raises:
        ValueError: ``summary`` is not a dict, or a feature is missing or outside [0, 1].
    """
    if not isinstance(summary, dict):
        raise ValueError(f"repository summary: expected a dict, got {type(summary).__name__}")
    for f in FEATURES:
        v = summary.get(f)
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
                math.isfinite(v) and 0.0 <= v <= 1.0):
            raise ValueError(f"repository summary: expected {f} as a number in [0, 1], "
                             f"got {v!r}")
    body = _bounded(summary)
    return [{"role": "system", "content": render_prompt("review_system")},
            {"role": "user", "content": render_prompt(
                "review_user", summary=json.dumps(body, indent=1, ensure_ascii=False))}]


def parse_review(content: str) -> Review:
    """Validate a reply against ``REVIEW_SCHEMA``; a non-integer score is rounded and an
    out-of-range one clamped (both listed in ``clamped``).

    Raises:
        ReplyError: malformed JSON, a missing field, a wrong type or recommendation.
    """
    obj = parse_json_object(content)
    recommendation = choice(obj, "recommendation", RECOMMENDATIONS)
    raw, was_clamped = number(obj, "score", (float(SCORE_BOUNDS[0]), float(SCORE_BOUNDS[1])))
    score = int(round(raw))
    clamped = ("score",) if was_clamped or score != raw else ()
    return Review(True, recommendation, score,
                  text_list(obj, "strengths", MAX_ITEMS, MAX_ITEM_CHARS),
                  text_list(obj, "issues", MAX_ITEMS, MAX_ITEM_CHARS),
                  text(obj, "summary", MAX_SUMMARY_CHARS), clamped)


def review_repository(summary: dict, config: LLMConfig, *,
                      call_logger: Callable[[dict], None] | None = None,
                      client=None, run_id: object = None) -> Review:
    """Ask the model for a review of the repository described by ``summary``.

    Args:
        summary: at least the five ``FEATURES`` in [0, 1]; any other JSON-able context
            (name, file tree, README excerpt, findings, the agent's decision) is passed on,
            cut to ``MAX_FIELD_CHARS`` per string and ``MAX_LIST_ITEMS`` per list.
        config: the LLM configuration.
        call_logger: receives the ``llm_calls`` record (purpose ``review``).
        client: an ``openai.OpenAI``-like client; made from ``config`` when omitted.

    Returns:
        A ``Review``; ``ok=False`` with ``error`` in words when no key is configured, the call
        failed (timeout, 429/5xx after retries, ...) or the reply was invalid.

    Raises:
        ValueError: ``summary`` is malformed (see ``review_messages``).
    """
    messages = review_messages(summary)
    if client is None and not config.available:
        return Review(False, error="no OpenAI key configured: set OPENAI_API_KEY (or "
                                   "OPENAI_BASE_URL for a local server)", model=config.model)
    call: CallResult = chat_json(client or make_client(config), config, messages, "review",
                                 REVIEW_SCHEMA)
    figures = {"model": config.model, "latency_s": round(call.latency_s, 6),
               "prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens}
    outcome, error = call.outcome, call.error
    review = None
    if call.ok:
        try:
            review = parse_review(call.content)
        except ReplyError as exc:
            outcome, error = "invalid_reply", f"invalid reply: {exc}"
            note_error(error)
        else:
            outcome = "clamped" if review.clamped else "ok"
    if call_logger is not None:
        call_logger(call_record(config, "review", messages, call, outcome=outcome, error=error,
                                run_id=run_id))
    if review is None:
        return Review(False, error=error, **figures)
    key = config.api_key
    return replace(review, strengths=tuple(redact(s, key) for s in review.strengths),
                   issues=tuple(redact(s, key) for s in review.issues),
                   summary=redact(review.summary, key), **figures)
