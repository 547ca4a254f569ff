"""The OpenAI key never reaches the database file, exports, logs, step records or messages."""

from __future__ import annotations

import json
import logging
import pickle

from fake_openai_server import FakeOpenAI, Reply, Status, mutation_reply, review_reply

from engine.dataset import classic
from engine.llm import describe_error, redact
from engine.llm_config import LLMConfig, clear_last_error, last_error
from engine.llm_operator import LLMOperator
from engine.llm_reviewer import review_repository
from engine.run import Run
from engine.store import Store

# Not shaped like an OpenAI key and not in the environment, so only exact redaction of the
# configured key can keep it out (the store's pattern-based masking would not catch it).
KEY = "hk-secret-Zq9xW7vU5tS3rQ1pO"
FEATURES = {"maintainability": 0.7, "security": 0.4, "test_coverage": 0.5,
            "documentation": 0.8, "simplicity": 0.6}


def test_key_appears_nowhere_after_a_run(tmp_path, caplog):
    """After a run with failures, echoes and reviews, the key is in no file, log or record."""
    caplog.set_level(logging.DEBUG)
    clear_last_error()
    records = []
    with FakeOpenAI() as server, Store(tmp_path / "hyperagents.db") as store:
        server.script(Status(401, "Incorrect API key provided: {auth}"),
                      Reply(mutation_reply(rationale=f"the key is {KEY}")),
                      Status(500, "upstream rejected Bearer {auth}"),
                      Reply("not json " + KEY))
        config = LLMConfig(api_key=KEY, base_url=server.base_url, timeout_s=5.0,
                           max_retries=0, key_source="environment")
        run = Run(classic(), "hyperagent", 0)
        run_id = store.create_run(run, "classic", config=config.to_dict())
        op = LLMOperator(config, call_logger=store.log_llm_call, run_id=run_id)
        run.operator = op
        write = store.observer(run_id)

        def observe(rec):
            records.append(rec)
            write(rec)

        run.run(6, observer=observe)
        store.finish_run(run_id)
        server.script(Status(401, "Incorrect API key provided: {auth}"))
        failed = review_repository(FEATURES, config, call_logger=store.log_llm_call,
                                   run_id=run_id)
        server.script(Reply(review_reply(summary=f"echo {KEY}")))
        review = review_repository(FEATURES, config, call_logger=store.log_llm_call)
        for r in (failed, review):
            store.add_review({"run_id": run_id, "source": "sliders", "features": FEATURES,
                              "score": 0.6, "threshold": 0.6, "decision": "accepted",
                              "llm_review": r.to_dict()})
        store.export_csv(tmp_path / "metrics.csv", run_id)
        calls = store.llm_calls(run_id)
        events = store.events(run_id)
        sent = [h["Authorization"] for h in server.headers]
    assert sent == [f"Bearer {KEY}"] * 8
    assert [r.info["outcome"] for r in records] == [
        "fallback", "llm", "fallback", "fallback", "llm", "llm"]
    assert records[0].info["reason"].startswith(
        "authentication failed (HTTP 401): check OPENAI_API_KEY: Incorrect API key provided: ***")
    assert records[1].child.note.startswith("llm: the key is ***")
    assert list(calls["outcome"])[:4] == ["auth_error", "ok", "server_error", "invalid_reply"]
    assert len(events) == 6
    assert failed.ok is False and "***" in failed.error
    assert review.summary == "echo ***"
    # Everything written or said: every file under tmp_path, logs, records, status, objects.
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"hyperagents.db", "metrics.csv"}
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p.name
    assert "HTTP Request: POST" in caplog.text
    assert any(r.name.startswith("openai") and r.levelno == logging.DEBUG
               for r in caplog.records)
    assert KEY not in caplog.text
    for rec in records:
        assert KEY not in json.dumps(rec.info) + rec.summary + json.dumps(rec.child.to_dict())
    texts = [repr(config), str(config), json.dumps(config.to_dict()), config.status().text,
             repr(op), op.last_error, last_error(), json.dumps(failed.to_dict()),
             json.dumps(review.to_dict())]
    assert all(KEY not in t for t in texts)
    assert op.config.api_key == KEY  # the key was held in memory all along
    clear_last_error()


def test_describe_error_and_redact_mask_the_key():
    """Error words and redacted text never contain the configured key or sk- tokens."""
    import openai

    config = LLMConfig(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    exc = openai.APIConnectionError(message=f"boom {KEY}", request=None)
    outcome, words = describe_error(exc, config)
    assert outcome == "connection_error"
    assert words == "cannot reach http://127.0.0.1:9/v1 after 2 retries: boom ***"
    assert redact(f"a {KEY} b sk-abcdef123456 Bearer xyz", KEY) == "a *** b sk-*** Bearer ***"
    assert redact(None, KEY) is None


def test_config_pickles_for_workers_but_never_prints_the_key():
    """The key survives pickling (workers need it) but not repr, str, to_dict or status."""
    config = LLMConfig(api_key=KEY, use_openai=True, key_source="secrets")
    assert pickle.loads(pickle.dumps(config)).api_key == KEY
    shown = repr(config) + str(config) + json.dumps(config.to_dict()) + config.status("").text
    assert KEY not in shown
    assert config.to_dict()["api_key_set"] is True
