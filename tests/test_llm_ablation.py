"""Ablations with the LLM operator (threads, bounded concurrency) and the CLI operator helpers."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest
from fake_openai_server import FakeOpenAI, Reply, Slow, mutation_reply

from engine.cli_llm import (
    add_operator_argument,
    operator_from_args,
    operator_label,
    run_ablation,
)
from engine.experiment import run_experiment
from engine.llm_ablation import run_llm_ablation
from engine.llm_config import LLMConfig
from engine.llm_operator import LLMOperator
from engine.mutate import heuristic
from engine.run import METRIC_COLUMNS

KEY = "sk-test-ablation-0123456789"


def test_ablation_calls_concurrently_up_to_the_limit():
    """Runs call the server at once up to the concurrency limit, and never beyond it."""
    with FakeOpenAI(default=Slow(0.15, Reply(mutation_reply()))) as server:
        cfg = LLMConfig(api_key=KEY, base_url=server.base_url, concurrency=3, timeout_s=5.0)
        op = LLMOperator(cfg)
        done = []
        df = run_llm_ablation(["hyperagent", "baseline"], 3, 2, "classic", operator=op,
                              progress=lambda k, n: done.append((k, n)))
        assert server.n_requests == 12
        assert server.max_in_flight == 3
        assert done == [(k, 6) for k in range(1, 7)]
        server.default = Reply(mutation_reply())
        serial = run_experiment(["hyperagent", "baseline"], 3, 2, "classic", workers=1,
                                operator=op)
    assert list(df.columns) == list(METRIC_COLUMNS) and len(df) == 18
    pd.testing.assert_frame_equal(df, serial)
    children = df[df["iteration"] > 0]
    assert set(children["mutation_source"]) == {"llm"}
    # The same operator for every condition; the frozen-meta arm keeps the seed's meta policy.
    assert set(df[df["condition"] == "baseline"]["weight_step"]) == {0.05}
    assert set(children[children["condition"] == "hyperagent"]["weight_step"]) == {0.08}


def test_semaphore_bounds_calls_even_with_more_threads():
    """More runs in flight than the process-wide limit still make at most `concurrency` calls."""
    with FakeOpenAI(default=Slow(0.1, Reply(mutation_reply()))) as server:
        cfg = LLMConfig(api_key=KEY, base_url=server.base_url, concurrency=2, timeout_s=5.0)
        df = run_llm_ablation(["no_archive"], 6, 1, "classic", operator=LLMOperator(cfg),
                              concurrency=6)
        assert server.max_in_flight == 2 and server.n_requests == 6
    assert list(df["seed"]) == [s for s in range(6) for _ in range(2)]


def test_ablation_rejects_bad_arguments():
    """Unknown conditions, no seeds, zero iterations or concurrency say what was expected."""
    op = LLMOperator(LLMConfig(api_key=KEY))
    with pytest.raises(ValueError, match="unknown condition 'nope'"):
        run_llm_ablation(["nope"], 1, 1, operator=op)
    with pytest.raises(ValueError, match="at least one condition and one seed"):
        run_llm_ablation(None, [], 1, operator=op)
    with pytest.raises(ValueError, match="iterations must be >= 1, got 0"):
        run_llm_ablation(None, 1, 0, operator=op)
    with pytest.raises(ValueError, match="concurrency must be >= 1, got 0"):
        run_llm_ablation(None, 1, 1, operator=op, concurrency=0)


def test_operator_from_args():
    """--operator picks the heuristic or a configured LLM operator; llm without a key fails."""
    assert operator_from_args("heuristic", env={}) is heuristic
    assert operator_from_args(None, env={}) is heuristic
    op = operator_from_args("llm", env={"OPENAI_API_KEY": KEY}, run_id="r1")
    assert isinstance(op, LLMOperator) and op.config.api_key == KEY and op.run_id == "r1"
    on = {"OPENAI_API_KEY": KEY, "HYPERAGENTS_USE_OPENAI": "1", "OPENAI_MODEL": "m"}
    assert isinstance(operator_from_args(None, env=on), LLMOperator)
    assert operator_label(operator_from_args(None, env=on)) == "llm (m at https://api.openai.com/v1)"
    assert operator_label(heuristic) == "heuristic"
    with pytest.raises(ValueError, match="--operator llm needs OPENAI_API_KEY"):
        operator_from_args("llm", env={})
    with pytest.raises(ValueError, match="--operator: expected one of heuristic, llm, got 'gpt'"):
        operator_from_args("gpt", env={})


def test_operator_argument_parses():
    """--operator accepts heuristic|llm, defaults to None (the configured default)."""
    p = argparse.ArgumentParser()
    add_operator_argument(p)
    assert p.parse_args([]).operator is None
    assert p.parse_args(["--operator", "llm"]).operator == "llm"
    with pytest.raises(SystemExit):
        p.parse_args(["--operator", "gpt"])


def test_run_ablation_dispatches_by_operator():
    """The heuristic ablation through run_ablation equals run_experiment."""
    a = run_ablation(heuristic, ["hyperagent"], 2, 3, "classic", workers=1)
    pd.testing.assert_frame_equal(a, run_experiment(["hyperagent"], 2, 3, "classic", workers=1))


def test_operator_works_in_worker_processes():
    """The operator pickles into spawned worker processes, which call the server themselves."""
    with FakeOpenAI(default=Reply(mutation_reply())) as server:
        op = LLMOperator(LLMConfig(api_key=KEY, base_url=server.base_url, timeout_s=10.0))
        procs = run_experiment(["hyperagent", "no_archive"], 1, 2, "classic", workers=2,
                               operator=op)
        assert server.n_requests == 4
        threads = run_llm_ablation(["hyperagent", "no_archive"], 1, 2, "classic", operator=op)
    pd.testing.assert_frame_equal(procs, threads)
    assert set(procs[procs["iteration"] > 0]["mutation_source"]) == {"llm"}
