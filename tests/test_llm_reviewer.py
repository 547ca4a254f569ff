"""The LLM repository reviewer against a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from fake_openai_server import FakeOpenAI, Reply, Status, review_reply

from engine.llm_config import LLMConfig
from engine.llm_reviewer import MAX_FIELD_CHARS, REVIEW_SCHEMA, Review, review_repository

KEY = "sk-test-reviewer-0123456789"
SUMMARY = {"name": "fastqueue", "maintainability": 0.82, "security": 0.85,
           "test_coverage": 0.8, "documentation": 0.78, "simplicity": 0.8,
           "readme_excerpt": "A fast queue.", "findings": ["no CI config"]}


@pytest.fixture
def server():
    with FakeOpenAI(default=Reply(review_reply())) as s:
        yield s


def config(server, **kw) -> LLMConfig:
    return LLMConfig(api_key=KEY, base_url=server.base_url, timeout_s=5.0,
                     max_retries=kw.pop("max_retries", 1), **kw)


def test_good_reply_gives_a_review(server):
    """A valid reply becomes a Review with exactly its fields, and the call is logged."""
    log: list = []
    review = review_repository(SUMMARY, config(server), call_logger=log.append)
    assert review == Review(True, "needs-work", 6, ("clear README",), ("few tests",),
                            "Solid but under-tested.", (), None, "gpt-4o-mini",
                            review.latency_s, 120, 40)
    assert review.latency_s > 0
    body = server.bodies[0]
    assert body["response_format"]["json_schema"] == {"name": "review", "strict": True,
                                                      "schema": REVIEW_SCHEMA}
    sent = json.loads(body["messages"][1]["content"].split("\n", 1)[1])
    assert sent == SUMMARY
    [rec] = log
    assert (rec["purpose"], rec["outcome"], rec["error"], rec["iteration"]) == (
        "review", "ok", None, None)
    assert review.to_dict()["strengths"] == ["clear README"]


@pytest.mark.parametrize("score,expected,clamped", [(12, 10, ("score",)), (0, 1, ("score",)),
                                                    (7.6, 8, ("score",)), (9.0, 9, ())])
def test_score_is_clamped_and_rounded(server, score, expected, clamped):
    """Scores outside 1..10 are clamped and fractional ones rounded, and both are recorded."""
    server.script(Reply(review_reply(score=score)))
    review = review_repository(SUMMARY, config(server))
    assert review.ok and (review.score, review.clamped) == (expected, clamped)


BAD = [
    ("malformed", Reply("{'recommendation': 'reject'"), "the reply is not valid JSON"),
    ("missing summary", Reply(json.dumps({k: v for k, v in json.loads(review_reply()).items()
                                          if k != "summary"})),
     "the reply is missing field summary"),
    ("score as string", Reply(review_reply(score="7")), 'score: expected a number, got str "7"'),
    ("NaN score", Reply(review_reply(score=float("nan"))), "the reply contains NaN"),
    ("unknown recommendation", Reply(review_reply(recommendation="approve")),
     'recommendation: expected one of merge-ready, needs-work, reject, got "approve"'),
    ("strengths not a list", Reply(review_reply(strengths="good")),
     "strengths: expected a list of strings, got str"),
    ("issue not a string", Reply(review_reply(issues=("ok", 3))),
     "issues[1]: expected a string, got int 3"),
    ("empty", Reply(""), "the reply was empty"),
    ("server error", Status(500, "down"), "server error (HTTP 500) after 1 retry: down"),
]


@pytest.mark.parametrize("name,reply,error", BAD, ids=[b[0] for b in BAD])
def test_bad_reply_gives_an_error_result(server, name, reply, error):
    """A bad reply or failed call gives ok=False with the reason, never an exception."""
    server.default = reply
    log: list = []
    review = review_repository(SUMMARY, config(server), call_logger=log.append)
    assert review.ok is False
    assert error in review.error
    assert (review.recommendation, review.score, review.strengths) == (None, None, ())
    assert log[0]["error"] == review.error


def test_no_key_gives_an_error_without_a_call():
    """Without a key or local server the review says so and makes no request."""
    review = review_repository(SUMMARY, LLMConfig())
    assert review == Review(False, error="no OpenAI key configured: set OPENAI_API_KEY (or "
                                         "OPENAI_BASE_URL for a local server)",
                            model="gpt-4o-mini")


@pytest.mark.parametrize("summary,message", [
    ({"maintainability": 0.5}, "expected security as a number in [0, 1], got None"),
    ({**SUMMARY, "security": 1.5}, "expected security as a number in [0, 1], got 1.5"),
    ({**SUMMARY, "simplicity": "high"}, "expected simplicity as a number in [0, 1], got 'high'"),
    (["not", "a", "dict"], "repository summary: expected a dict, got list"),
])
def test_bad_summary_is_refused(summary, message):
    """A malformed summary raises a ValueError saying what was expected."""
    with pytest.raises(ValueError) as info:
        review_repository(summary, LLMConfig(api_key=KEY))
    assert message in str(info.value)


def test_long_context_is_cut(server):
    """A huge README excerpt or file tree cannot flood the prompt."""
    big = {**SUMMARY, "readme_excerpt": "x" * 50_000, "file_tree": [f"f{i}.py" for i in range(999)]}
    assert review_repository(big, config(server)).ok
    sent = json.loads(server.bodies[0]["messages"][1]["content"].split("\n", 1)[1])
    assert len(sent["readme_excerpt"]) == MAX_FIELD_CHARS + 3
    assert len(sent["file_tree"]) == 200
