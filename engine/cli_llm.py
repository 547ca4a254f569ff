"""``--operator heuristic|llm`` for ``python -m engine run`` and ``ablate``.

Wiring (in ``engine/cli.py``): ``add_operator_argument(p)`` on both parsers; in the handlers,
``op = operator_from_args(args.operator)``, then ``Run(ds, condition, seed, op)`` for ``run`` and
``run_ablation(op, conditions, seeds, iterations, ds, workers=..., progress=...)`` for
``ablate`` (threads bounded by the LLM concurrency limit for the LLM operator, worker processes
for the heuristic one). Without ``--operator`` the LLM operator is used when
``HYPERAGENTS_USE_OPENAI=1`` and a key (or a local ``OPENAI_BASE_URL``) is configured.

Public names: OPERATOR_CHOICES, add_operator_argument, default_operator_name,
operator_from_args, operator_label, run_ablation.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

from engine.llm_config import LLMConfig
from engine.mutate import Operator, heuristic

OPERATOR_CHOICES: tuple[str, ...] = ("heuristic", "llm")


def default_operator_name(env: Mapping[str, str] | None = None,
                          secrets: Mapping | None = None) -> str:
    """``llm`` when the configuration turns the LLM operator on, else ``heuristic``."""
    return "llm" if LLMConfig.from_env(env, secrets).operator_enabled else "heuristic"


def add_operator_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--operator heuristic|llm`` (default: from ``HYPERAGENTS_USE_OPENAI``)."""
    parser.add_argument(
        "--operator", choices=list(OPERATOR_CHOICES), default=None,
        help="mutation operator: heuristic, or llm (an OpenAI-compatible model; needs "
             "OPENAI_API_KEY or OPENAI_BASE_URL). Default: llm when HYPERAGENTS_USE_OPENAI=1, "
             "else heuristic. The same operator serves every condition of an ablation")


def operator_from_args(name: str | None, *, env: Mapping[str, str] | None = None,
                       secrets: Mapping | None = None, config: LLMConfig | None = None,
                       call_logger=None, run_id: object = None) -> Operator:
    """The operator called ``name`` (``None`` = the configured default).

    Args:
        name: ``heuristic``, ``llm`` or ``None``.
        env, secrets: where to read the LLM settings (``os.environ`` by default).
        config: an explicit configuration (overrides ``env``/``secrets``).
        call_logger, run_id: passed to ``LLMOperator`` (e.g. the store's ``log_llm_call``).

    Raises:
        ValueError: an unknown name, or ``llm`` without a key or local server.
    """
    if name is None:
        name = ("llm" if (config or LLMConfig.from_env(env, secrets)).operator_enabled
                else "heuristic")
    if name == "heuristic":
        return heuristic
    if name != "llm":
        raise ValueError(f"--operator: expected one of {', '.join(OPERATOR_CHOICES)}, "
                         f"got {name!r}")
    from engine.llm_operator import LLMOperator

    config = config or LLMConfig.from_env(env, secrets)
    if not config.available:
        raise ValueError("--operator llm needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                         "OpenAI-compatible server such as Ollama); see .env.example")
    return LLMOperator(config, call_logger=call_logger, run_id=run_id)


def operator_label(operator: Operator) -> str:
    """One line naming the operator, e.g. ``llm (gpt-4o-mini at https://...)``; no key."""
    config = getattr(operator, "config", None)
    if isinstance(config, LLMConfig):
        return f"llm ({config.model} at {config.endpoint})"
    return getattr(operator, "__name__", type(operator).__name__)


def run_ablation(operator: Operator, conditions: Sequence[str] | None = None,
                 seeds: int | Sequence[int] = 5, iterations: int = 30, dataset="classic", *,
                 workers: int | None = None, progress=None):
    """An ablation with ``operator``: threads for the LLM operator, else ``run_experiment``.

    ``workers`` bounds simultaneous runs for the LLM operator (default its concurrency) and
    is the number of worker processes otherwise.
    """
    from engine.llm_operator import LLMOperator

    if isinstance(operator, LLMOperator):
        from engine.llm_ablation import run_llm_ablation

        return run_llm_ablation(conditions, seeds, iterations, dataset, operator=operator,
                                concurrency=workers, progress=progress)
    from engine.experiment import run_experiment

    return run_experiment(conditions, seeds, iterations, dataset, workers=workers,
                          operator=operator, progress=progress)
