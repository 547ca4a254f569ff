"""The LLM mutation operator: an OpenAI-compatible model proposes the child.

``LLMOperator(config)`` has the heuristic operator's signature,
``op(parent, evaluation, train, rng, *, freeze_meta, iteration) -> Proposal``.
It sends the parent's task and meta policy, its **training** errors (FP/FN ids and feature
values), the training class means, the memory notes, the parent's note and the bounds; the prompt
texts are ``engine/prompts/mutation_system.md`` and ``mutation_user.md``. The reply (structured
output, ``mutation_schema``) is validated: every field present, numbers finite, clamped to the
bounds (clamped fields are listed in ``info["clamped"]``), styles and focus metrics from the
allowed sets, unknown fields ignored. A frozen meta policy stays the parent's whatever the reply
says. The memory note and rationale go into the child's lineage note (``Proposal.summary``) and
``info``; the loop appends the structured outcome note to the meta memory as usual.

On a bad or missing reply, a timeout, or a 429/5xx after the client's retries, or once the run's
call budget is spent, the step falls back to ``engine.mutate.heuristic`` with the same generator
and ``info["reason"]`` says why. The LLM path draws nothing from the generator (the request's
``seed`` is a hash of its state), so a run against the same replies is reproducible, and a run in
which every call fails equals the heuristic run bit for bit.

Public names: LLMOperator, build_messages, mutation_schema, parse_mutation, ParsedMutation,
MAX_LISTED_ERRORS, BUDGET_REASON.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine.dataset import Split
from engine.evaluate import Evaluation
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
)
from engine.llm_config import LLMConfig, note_error
from engine.mutate import Proposal, heuristic
from engine.policy import (
    EXPLORATION_BOUNDS,
    FEATURES,
    FOCUS_METRICS,
    GROW_BOUNDS,
    META_RATE_BOUNDS,
    SHRINK_BOUNDS,
    STYLES,
    THRESHOLD_BOUNDS,
    THRESHOLD_STEP_BOUNDS,
    WEIGHT_BOUNDS,
    WEIGHT_STEP_BOUNDS,
    HyperAgent,
    MetaPolicy,
    TaskPolicy,
)

MAX_LISTED_ERRORS = 15
MAX_NOTE_CHARS = 300
BUDGET_REASON = "budget exhausted"
# Runs whose call counts are remembered (older ones are long finished).
_MAX_TRACKED_RUNS = 1024
META_NUMBERS: tuple[tuple[str, tuple[float, float]], ...] = (
    ("weight_step", WEIGHT_STEP_BOUNDS), ("threshold_step", THRESHOLD_STEP_BOUNDS),
    ("exploration_scale", EXPLORATION_BOUNDS), ("meta_rate", META_RATE_BOUNDS),
    ("shrink", SHRINK_BOUNDS), ("grow", GROW_BOUNDS),
)

CallLogger = Callable[[dict], None]


# ---- the request ---------------------------------------------------------------------------------
def _obj(props: dict) -> dict:
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def mutation_schema(freeze_meta: bool) -> dict:
    """The JSON schema of a reply (without ``meta`` when the meta policy is frozen)."""
    num = {"type": "number"}
    task = _obj({"weights": _obj({f: num for f in FEATURES}), "threshold": num,
                 "review_style": {"type": "string", "enum": list(STYLES)}})
    props: dict = {"task": task}
    if not freeze_meta:
        props["meta"] = _obj({"focus_metric": {"type": "string", "enum": list(FOCUS_METRICS)},
                              **{name: num for name, _ in META_NUMBERS}})
    props["memory_note"] = {"type": "string"}
    props["rationale"] = {"type": "string"}
    return _obj(props)


def _r(x: float) -> float:
    return round(float(x), 4)


def _features(x) -> dict:
    return {f: _r(v) for f, v in zip(FEATURES, x)}


def _error_lines(ids: tuple[str, ...], train: Split) -> str:
    if not ids:
        return "(none)"
    row = {rid: k for k, rid in enumerate(train.ids)}
    lines = [json.dumps({"id": rid, **_features(train.X[row[rid]])})
             for rid in ids[:MAX_LISTED_ERRORS]]
    if len(ids) > MAX_LISTED_ERRORS:
        lines.append(f"... and {len(ids) - MAX_LISTED_ERRORS} more")
    return "\n".join(lines)


def _bounds() -> dict:
    return {"weights (each)": list(WEIGHT_BOUNDS), "threshold": list(THRESHOLD_BOUNDS),
            "review_style": list(STYLES), "focus_metric": list(FOCUS_METRICS),
            **{name: list(b) for name, b in META_NUMBERS}}


def build_messages(parent: HyperAgent, evaluation: Evaluation, train: Split, *,
                   freeze_meta: bool, iteration: int) -> list[dict]:
    """The chat messages for one mutation; built from the train split only."""
    task = parent.task
    meta = {k: v for k, v in parent.meta.to_dict().items() if k != "memory"}
    memory = "\n".join(n.text for n in parent.meta.memory) or "(none yet)"
    user = render_prompt(
        "mutation_user", iteration=iteration,
        task=json.dumps({"weights": _features(task.weights), "threshold": _r(task.threshold),
                         "review_style": task.review_style}),
        meta=json.dumps({k: (_r(v) if isinstance(v, float) else v) for k, v in meta.items()}),
        meta_instruction=("frozen in this condition: leave it unchanged (the reply has no meta "
                          "field)" if freeze_meta else
                          "propose the child's meta policy in the meta field"),
        accuracy=f"{evaluation.accuracy:.4f}", n=evaluation.n, n_fp=evaluation.n_fp,
        n_fn=evaluation.n_fn, pos_mean=json.dumps(_features(train.pos_mean)),
        neg_mean=json.dumps(_features(train.neg_mean)),
        false_positives=_error_lines(evaluation.fp_ids, train),
        false_negatives=_error_lines(evaluation.fn_ids, train),
        memory=memory, note=parent.note or "(none)", bounds=json.dumps(_bounds()))
    return [{"role": "system", "content": render_prompt("mutation_system")},
            {"role": "user", "content": user}]


# ---- the reply -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedMutation:
    """A validated reply: the child's policies, its notes and the fields that were clamped."""

    task: TaskPolicy
    meta: MetaPolicy
    memory_note: str
    rationale: str
    clamped: tuple[str, ...]


def parse_mutation(content: str, parent: HyperAgent, *, freeze_meta: bool) -> ParsedMutation:
    """Validate a reply against ``mutation_schema`` and build the child's policies.

    Raises:
        ReplyError: malformed JSON, a missing field, a non-number or non-finite number, or a
            style/focus outside the allowed set (the message names the field).
    """
    obj = parse_json_object(content)
    clamped: list[str] = []

    def num(path: str, bounds: tuple[float, float]) -> float:
        value, was_clamped = number(obj, path, bounds)
        if was_clamped:
            clamped.append(path)
        return value

    weights = tuple(num(f"task.weights.{f}", WEIGHT_BOUNDS) for f in FEATURES)
    threshold = num("task.threshold", THRESHOLD_BOUNDS)
    task = TaskPolicy(weights, threshold, choice(obj, "task.review_style", STYLES))
    if freeze_meta:
        meta = parent.meta
    else:
        focus = choice(obj, "meta.focus_metric", FOCUS_METRICS)
        values = {name: num(f"meta.{name}", b) for name, b in META_NUMBERS}
        meta = MetaPolicy(focus, memory=parent.meta.memory, **values)
    return ParsedMutation(task, meta, text(obj, "memory_note", MAX_NOTE_CHARS),
                          text(obj, "rationale", MAX_NOTE_CHARS), tuple(clamped))


def _request_seed(rng: np.random.Generator) -> int:
    """A per-step request seed from the generator state, without drawing from it."""
    return zlib.crc32(repr(rng.bit_generator.state).encode()) & 0x7FFFFFFF


# ---- the operator --------------------------------------------------------------------------------
class LLMOperator:
    """A mutation operator backed by an OpenAI-compatible chat model.

    Args:
        config: endpoint, model and limits (``max_calls_per_run``, ``concurrency``).
        call_logger: called with one ``engine.llm.call_record`` dict per call (e.g. the
            store's ``log_llm_call``); must be thread-safe when runs share the operator.
        run_id: written into every call record (``None`` when the logger adds it).
        client: an ``openai.OpenAI``-like client; made lazily from ``config`` when omitted and
            never pickled.

    The call budget is counted per run (per generator object the loop hands in), so one
    operator can serve every run of an ablation; a resumed run starts a fresh budget.
    """

    source = "llm"

    def __init__(self, config: LLMConfig, *, call_logger: CallLogger | None = None,
                 run_id: object = None, client=None) -> None:
        self.config = config
        self.call_logger = call_logger
        self.run_id = run_id
        self.last_error: str | None = None
        self._client = client
        self._lock = threading.Lock()
        self._calls: OrderedDict[int, list] = OrderedDict()

    def __repr__(self) -> str:
        return f"LLMOperator(model={self.config.model!r}, endpoint={self.config.endpoint!r})"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_client"] = None
        state["_calls"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._calls = OrderedDict()

    # ---- helpers -----------------------------------------------------------------------------
    def client(self):
        """The openai client, made on first use."""
        with self._lock:
            if self._client is None:
                self._client = make_client(self.config)
            return self._client

    def calls_made(self, rng: np.random.Generator) -> int:
        """LLM calls made so far by the run that owns ``rng``."""
        with self._lock:
            entry = self._calls.get(id(rng))
            return entry[1] if entry is not None and entry[0] is rng else 0

    def _reserve_call(self, rng: np.random.Generator) -> bool:
        with self._lock:
            entry = self._calls.get(id(rng))
            if entry is None or entry[0] is not rng:
                # Keep the generator itself so its id cannot be reused by another run's.
                entry = self._calls[id(rng)] = [rng, 0]
                while len(self._calls) > _MAX_TRACKED_RUNS:
                    self._calls.popitem(last=False)
            if entry[1] >= self.config.max_calls_per_run:
                return False
            entry[1] += 1
            return True

    def _log(self, messages, result: CallResult, iteration: int, outcome: str | None = None,
             error: str | None = None) -> None:
        if self.call_logger is not None:
            self.call_logger(call_record(self.config, "mutation", messages, result,
                                         outcome=outcome, error=error, run_id=self.run_id,
                                         iteration=iteration))

    def _fallback(self, parent, evaluation, train, rng, freeze_meta, iteration, reason: str,
                  call: CallResult | None) -> Proposal:
        prop = heuristic(parent, evaluation, train, rng, freeze_meta=freeze_meta,
                         iteration=iteration)
        info = self._info("fallback", reason, call)
        return replace(prop, summary=f"{prop.summary} [heuristic fallback: {reason}]",
                       info=info)

    def _info(self, outcome: str, reason: str | None, call: CallResult | None,
              **extra) -> dict:
        return {"operator": "llm", "outcome": outcome, "reason": reason,
                "clamped": [], "model": self.config.model,
                "call_outcome": None if call is None else call.outcome,
                "latency_s": None if call is None else round(call.latency_s, 6),
                "prompt_tokens": None if call is None else call.prompt_tokens,
                "completion_tokens": None if call is None else call.completion_tokens,
                **extra}

    # ---- the operator ------------------------------------------------------------------------
    def __call__(self, parent: HyperAgent, evaluation: Evaluation, train: Split,
                 rng: np.random.Generator, *, freeze_meta: bool = False,
                 iteration: int = 0) -> Proposal:
        """Propose a child of ``parent`` (see the module docstring for the fallbacks)."""
        args = (parent, evaluation, train, rng, freeze_meta, iteration)
        if not self.config.available:
            return self._fallback(*args, "no OpenAI key configured", None)
        if not self._reserve_call(rng):
            return self._fallback(*args, BUDGET_REASON, None)
        messages = build_messages(parent, evaluation, train, freeze_meta=freeze_meta,
                                  iteration=iteration)
        call = chat_json(self.client(), self.config, messages, "mutation",
                         mutation_schema(freeze_meta), seed=_request_seed(rng))
        if not call.ok:
            self.last_error = call.error
            self._log(messages, call, iteration)
            return self._fallback(*args, call.error or call.outcome, call)
        try:
            parsed = parse_mutation(call.content, parent, freeze_meta=freeze_meta)
        except ReplyError as exc:
            reason = f"invalid reply: {exc}"
            self.last_error = reason
            note_error(reason)
            self._log(messages, call, iteration, "invalid_reply", reason)
            return self._fallback(*args, reason, call)
        outcome = "clamped" if parsed.clamped else "ok"
        self._log(messages, call, iteration, outcome)
        # The model never sees the key, but a misbehaving server could echo it.
        key = self.config.api_key
        parsed = replace(parsed, memory_note=redact(parsed.memory_note, key),
                         rationale=redact(parsed.rationale, key))
        summary = f"llm: {parsed.rationale} | memory: {parsed.memory_note}"
        if parsed.clamped:
            summary += f" | clamped: {', '.join(parsed.clamped)}"
        info = self._info("clamped" if parsed.clamped else "llm", None, call,
                          memory_note=parsed.memory_note, rationale=parsed.rationale)
        info["clamped"] = list(parsed.clamped)
        return Proposal(parsed.task, parsed.meta, summary, "llm", info)
