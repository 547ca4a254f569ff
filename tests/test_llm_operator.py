"""The LLM mutation operator against a local OpenAI-compatible server (the real openai client)."""

from __future__ import annotations

import copy
import json
import math
import pickle
import re
import time

import numpy as np
import pytest
from fake_openai_server import (
    FakeOpenAI,
    Reply,
    Slow,
    Status,
    mutation_payload,
    mutation_reply,
)

from engine.dataset import Dataset, classic
from engine.evaluate import evaluate
from engine.llm import CALL_FIELDS
from engine.llm_config import LLMConfig
from engine.llm_operator import BUDGET_REASON, LLMOperator, mutation_schema
from engine.mutate import heuristic
from engine.policy import MetaPolicy, TaskPolicy, seed_agent
from engine.run import Run

KEY = "sk-test-operator-0123456789"
CLASSIC_TEST_IDS = tuple(f"te{i:02d}" for i in range(1, 11))


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def make_op(server: FakeOpenAI, log: list | None = None, **kw) -> LLMOperator:
    cfg = LLMConfig(api_key=KEY, base_url=server.base_url, timeout_s=kw.pop("timeout_s", 5.0),
                    max_retries=kw.pop("max_retries", 2), **kw)
    return LLMOperator(cfg, call_logger=None if log is None else log.append)


def one_step(op, *, freeze_meta=False, rng_seed=1):
    """Mutate the seed agent once; returns (proposal, heuristic proposal from the same rng)."""
    ds = classic()
    parent = seed_agent()
    ev = evaluate(parent.task, ds.train)
    rng = np.random.default_rng(rng_seed)
    twin = copy.deepcopy(rng)
    prop = op(parent, ev, ds.train, rng, freeze_meta=freeze_meta, iteration=1)
    ref = heuristic(parent, ev, ds.train, twin, freeze_meta=freeze_meta, iteration=1)
    return prop, ref, rng, twin


def test_good_reply_becomes_the_child(server):
    """A valid reply is used exactly as proposed, and the LLM path draws nothing from rng."""
    log: list = []
    prop, _, rng, _ = one_step(make_op(server, log))
    assert prop.source == "llm"
    assert prop.task == TaskPolicy((0.3, 0.25, 0.2, 0.15, 0.1), 0.5, "strict")
    assert prop.meta == MetaPolicy("false_negatives", 0.08, 0.03, 0.7, 0.25, 0.8, 1.3)
    assert prop.info["outcome"] == "llm" and prop.info["reason"] is None
    assert prop.info["clamped"] == []
    assert (prop.info["prompt_tokens"], prop.info["completion_tokens"]) == (120, 40)
    assert prop.summary == "llm: fewer false negatives | memory: raised maintainability"
    assert rng.bit_generator.state == np.random.default_rng(1).bit_generator.state
    [rec] = log
    assert tuple(rec) == CALL_FIELDS
    assert (rec["purpose"], rec["outcome"], rec["error"], rec["model"]) == (
        "mutation", "ok", None, "gpt-4o-mini")
    assert rec["response"] == mutation_reply()
    assert json.loads(rec["prompt"]) == server.bodies[0]["messages"]


def test_request_uses_structured_output_and_train_errors(server):
    """The request asks for the mutation JSON schema and lists the parent's train FP/FN ids."""
    one_step(make_op(server))
    [body] = server.bodies
    assert server.paths == ["/v1/chat/completions"]
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "mutation", "strict": True, "schema": mutation_schema(False)}}
    user = body["messages"][1]["content"]
    ev = evaluate(seed_agent().task, classic().train)
    assert (ev.fp_ids, ev.fn_ids) == (("tr15", "tr16", "tr17", "tr18"), ("tr11", "tr12", "tr13"))
    for rid in ev.fp_ids + ev.fn_ids:
        assert f'"id": "{rid}"' in user
    assert "accuracy 0.6500 on 20 repositories, 4 false positives" in user


def test_run_step_with_good_reply(server):
    """In the loop, the child carries the proposed task policy, source llm and the memory note."""
    rec = Run(classic(), "hyperagent", 0, make_op(server)).step()
    assert rec.child.task == TaskPolicy((0.3, 0.25, 0.2, 0.15, 0.1), 0.5, "strict")
    assert rec.child.source == "llm" and rec.metrics["mutation_source"] == "llm"
    assert "memory: raised maintainability" in rec.child.note
    assert rec.child.meta.weight_step == 0.08
    assert rec.child.meta.memory[-1].iteration == 1


def _without(path: str) -> str:
    payload = mutation_payload()
    *parents, last = path.split(".")
    node = payload
    for p in parents:
        node = node[p]
    del node[last]
    return json.dumps(payload)


def _with(path: str, value) -> str:
    payload = mutation_payload()
    *parents, last = path.split(".")
    node = payload
    for p in parents:
        node = node[p]
    node[last] = value
    return json.dumps(payload)


BAD_REPLIES = [
    ("malformed", Reply('{"task": {"weights": '), "the reply is not valid JSON", "invalid_reply"),
    ("not an object", Reply("[0.3, 0.5]"), "the reply is a JSON list", "invalid_reply"),
    ("missing field", Reply(_without("task.threshold")),
     "the reply is missing field task.threshold", "invalid_reply"),
    ("missing weight", Reply(_without("task.weights.security")),
     "the reply is missing field task.weights.security", "invalid_reply"),
    ("missing meta", Reply(_without("meta")), "missing field meta.focus_metric", "invalid_reply"),
    ("missing note", Reply(_without("memory_note")), "missing field memory_note",
     "invalid_reply"),
    ("string for number", Reply(_with("task.threshold", "0.5")),
     'task.threshold: expected a number, got str "0.5"', "invalid_reply"),
    ("bool for number", Reply(_with("meta.grow", True)),
     "meta.grow: expected a number, got bool true", "invalid_reply"),
    ("NaN", Reply(_with("task.weights.security", math.nan)),
     "the reply contains NaN; expected finite numbers only", "invalid_reply"),
    ("overflow", Reply(_with("task.threshold", 1).replace('"threshold": 1', '"threshold": 1e999')),
     "task.threshold: expected a finite number, got inf", "invalid_reply"),
    ("unknown style", Reply(_with("task.review_style", "harsh")),
     'task.review_style: expected one of strict, balanced, lenient, got "harsh"', "invalid_reply"),
    ("unknown focus", Reply(_with("meta.focus_metric", "speed")),
     "meta.focus_metric: expected one of balanced", "invalid_reply"),
    ("empty", Reply(""), "the reply was empty", "invalid_reply"),
    ("refusal", Reply("", refusal="I cannot help"), "the model refused: I cannot help",
     "refused"),
]


@pytest.mark.parametrize("name,reply,reason,outcome", BAD_REPLIES, ids=[b[0] for b in BAD_REPLIES])
def test_bad_reply_falls_back_to_heuristic(server, name, reply, reason, outcome):
    """A bad reply yields exactly the heuristic child from the same rng, with the reason."""
    server.script(reply)
    log: list = []
    prop, ref, rng, twin = one_step(make_op(server, log))
    assert prop.source == "heuristic"
    assert (prop.task, prop.meta) == (ref.task, ref.meta)
    assert rng.bit_generator.state == twin.bit_generator.state
    assert prop.info["outcome"] == "fallback"
    assert reason in prop.info["reason"]
    assert prop.summary.startswith(ref.summary + " [heuristic fallback: ")
    [rec] = log
    assert rec["outcome"] == outcome and reason in rec["error"]


def test_out_of_range_values_are_clamped_and_recorded(server):
    """Out-of-range numbers are clamped to the bounds and every clamped field is listed."""
    server.script(Reply(mutation_reply(weights=(1.7, -0.2, 0.2, 0.15, 0.1), threshold=1.5,
                                       meta={"exploration_scale": 99, "grow": 0.5})))
    log: list = []
    prop, _, _, _ = one_step(make_op(server, log))
    assert prop.source == "llm" and prop.info["outcome"] == "clamped"
    assert prop.task == TaskPolicy((1.0, 0.0, 0.2, 0.15, 0.1), 0.95, "strict")
    assert prop.meta == MetaPolicy("false_negatives", 0.08, 0.03, 3.0, 0.25, 0.8, 1.01)
    assert prop.info["clamped"] == ["task.weights.maintainability", "task.weights.security",
                                    "task.threshold", "meta.exploration_scale", "meta.grow"]
    assert prop.summary.endswith("| clamped: task.weights.maintainability, "
                                 "task.weights.security, task.threshold, "
                                 "meta.exploration_scale, meta.grow")
    assert log[0]["outcome"] == "clamped"


def test_unknown_fields_are_ignored(server):
    """Extra fields in the reply do not prevent using it."""
    payload = mutation_payload()
    payload["confidence"] = 0.9
    payload["task"]["bias"] = 3
    server.script(Reply(json.dumps(payload)))
    prop, _, _, _ = one_step(make_op(server))
    assert prop.source == "llm" and prop.info["outcome"] == "llm"
    assert prop.task.threshold == 0.5


def test_fenced_json_is_accepted(server):
    """A reply wrapped in a Markdown code fence (common with local models) is still parsed."""
    server.script(Reply("```json\n" + mutation_reply() + "\n```"))
    prop, _, _, _ = one_step(make_op(server))
    assert prop.source == "llm"


def test_frozen_meta_keeps_parent_meta(server):
    """With a frozen meta policy the child's meta is the parent's, whatever the reply says."""
    server.script(Reply(mutation_reply(meta={"weight_step": 0.2, "focus_metric": "security"})))
    prop, _, _, _ = one_step(make_op(server), freeze_meta=True)
    assert prop.source == "llm"
    assert prop.meta == seed_agent().meta
    assert prop.task == TaskPolicy((0.3, 0.25, 0.2, 0.15, 0.1), 0.5, "strict")
    body = server.bodies[0]
    assert "meta" not in body["response_format"]["json_schema"]["schema"]["properties"]
    assert "frozen in this condition" in body["messages"][1]["content"]


def test_frozen_meta_reply_without_meta_is_valid(server):
    """A frozen-meta reply may omit meta entirely."""
    server.script(Reply(_without("meta")))
    prop, _, _, _ = one_step(make_op(server), freeze_meta=True)
    assert prop.source == "llm" and prop.meta == seed_agent().meta


def test_slow_reply_past_timeout_falls_back(server):
    """A reply slower than the timeout ends in the heuristic child with a timeout reason."""
    server.script(Slow(3.0))
    log: list = []
    t0 = time.perf_counter()
    prop, ref, _, _ = one_step(make_op(server, log, timeout_s=0.3, max_retries=0))
    assert time.perf_counter() - t0 < 2.0
    assert prop.source == "heuristic" and (prop.task, prop.meta) == (ref.task, ref.meta)
    assert prop.info["call_outcome"] == "timeout"
    assert "within 0.3 s (timeout) after 0 retries" in prop.info["reason"]
    assert log[0]["outcome"] == "timeout" and log[0]["response"] is None


@pytest.mark.parametrize("code", [500, 429])
def test_transient_error_then_success_uses_llm(server, code):
    """A 500 or 429 followed by a good reply is retried by the client and the reply is used."""
    server.script(Status(code))
    prop, _, _, _ = one_step(make_op(server))
    assert server.n_requests == 2
    assert prop.source == "llm" and prop.task.threshold == 0.5


def test_persistent_500_falls_back_after_retries(server):
    """A server that keeps failing is retried max_retries times, then the heuristic is used."""
    server.default = Status(500, "overloaded")
    log: list = []
    prop, ref, _, _ = one_step(make_op(server, log, max_retries=2))
    assert server.n_requests == 3
    assert prop.source == "heuristic" and (prop.task, prop.meta) == (ref.task, ref.meta)
    assert prop.info["reason"] == "server error (HTTP 500) after 2 retries: overloaded"
    assert log[0]["outcome"] == "server_error"


def test_persistent_429_falls_back(server):
    """Rate limiting that outlasts the retries falls back with a rate-limit reason."""
    server.default = Status(429, "slow down")
    prop, _, _, _ = one_step(make_op(server, max_retries=1))
    assert server.n_requests == 2
    assert prop.info["reason"] == "rate limited (HTTP 429) after 1 retry: slow down"


def test_unreachable_server_falls_back():
    """No server listening: a connection error in words, then the heuristic child."""
    with FakeOpenAI() as s:
        url = s.base_url
    op = LLMOperator(LLMConfig(api_key=KEY, base_url=url, timeout_s=1.0, max_retries=0))
    prop, ref, _, _ = one_step(op)
    assert prop.source == "heuristic" and prop.task == ref.task
    assert prop.info["reason"].startswith(f"cannot reach {url} after 0 retries")


def test_call_budget_per_run(server):
    """After max_calls_per_run calls a run uses the heuristic; another run has its own budget."""
    op = make_op(server, max_calls_per_run=2)
    run = Run(classic(), "hyperagent", 0, op)
    recs = [run.step() for _ in range(4)]
    assert [r.child.source for r in recs] == ["llm", "llm", "heuristic", "heuristic"]
    assert [r.info["reason"] for r in recs[2:]] == [BUDGET_REASON, BUDGET_REASON]
    assert server.n_requests == 2 and op.calls_made(run.rng) == 2
    other = Run(classic(), "hyperagent", 1, op)
    assert other.step().child.source == "llm"
    assert server.n_requests == 3


SEQUENCE = (Reply(mutation_reply()), Reply("{broken"), Status(500),
            Reply(mutation_reply(weights=(0.1, 0.4, 0.3, 0.1, 0.1), threshold=0.55)),
            Reply(mutation_reply(threshold=7.0)), Reply(_with("task.threshold", "x")))


def test_run_is_reproducible_with_the_same_replies(server):
    """Two runs against the same scripted replies (with fallbacks) are identical."""
    results = []
    for _ in range(2):
        server.script(*SEQUENCE)
        run = Run(classic(), "hyperagent", 3, make_op(server, max_retries=0))
        run.run(len(SEQUENCE))
        results.append((run.metrics_rows(), [a.to_dict() for a in run.archive.agents],
                        run.rng.bit_generator.state))
    assert results[0] == results[1]
    sources = [r["mutation_source"] for r in results[0][0][1:]]
    assert sources == ["llm", "heuristic", "heuristic", "llm", "llm", "heuristic"]
    assert server.raw_bodies[:4] == server.raw_bodies[6:10]


def test_always_failing_llm_equals_heuristic_run(server):
    """When every call fails the run equals the heuristic run bit for bit."""
    server.default = Status(500)
    run = Run(classic(), "hyperagent", 5, make_op(server, max_retries=0))
    run.run(6)
    ref = Run(classic(), "hyperagent", 5)
    ref.run(6)
    assert run.metrics_rows() == ref.metrics_rows()
    assert [a.task for a in run.archive.agents] == [a.task for a in ref.archive.agents]


def test_operator_pickles_without_client(server):
    """The operator pickles after use (client dropped) and the copy makes its own calls."""
    op = make_op(server)
    one_step(op)
    assert op._client is not None
    clone = pickle.loads(pickle.dumps(op))
    assert clone._client is None and clone.config == op.config
    prop, _, _, _ = one_step(clone)
    assert prop.source == "llm" and server.n_requests == 2
    assert KEY not in repr(op)


def test_prompts_never_contain_the_test_split(server):
    """No test id or test accuracy enters a request: flipping the test split changes nothing."""
    ds = classic()
    assert ds.test.ids == CLASSIC_TEST_IDS
    replies = [Reply(mutation_reply(weights=(0.1 + 0.05 * k, 0.3, 0.25, 0.2, 0.15),
                                    threshold=0.45 + 0.02 * k)) for k in range(8)]
    bodies = []
    tests = []
    flipped = Dataset(ds.name, ds.train, ds.test.with_labels(~ds.test.y), ds.description)
    for data in (ds, flipped):
        server.script(*replies)
        start = server.n_requests
        run = Run(data, "hyperagent", 2, make_op(server))
        run.run(len(replies))
        bodies.append(server.raw_bodies[start:])
        tests.append(run.archive.column("test").tolist())
    assert len(bodies[0]) == len(replies)
    pattern = re.compile(r"\bte\d\d\b")
    assert not any(pattern.search(b) for b in bodies[0])
    assert not any("test_accuracy" in b or "test accuracy" in b for b in bodies[0])
    assert all(abs(a + b - 1.0) < 1e-12 for a, b in zip(*tests))
    assert bodies[0] == bodies[1]
