"""docs/methods.md must agree with the code: every quoted `NAME` = value is checked."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from engine.conditions import CONDITIONS
from engine.run import METRIC_COLUMNS

DOC = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
MODULES = ("engine.policy", "engine.mutate", "engine.select", "engine.archive", "engine.dataset",
           "engine.stats", "engine.reference", "engine.charts")
# A quoted name, " = ", then one Python literal: tuple, dict, list, string or number.
PAIR = re.compile(
    r"`(?P<name>[A-Z][A-Z0-9_]*|[A-Za-z_]\w*\.\w+)`\s*=\s*"
    r"(?P<value>\([^()]*\)|\{[^{}]*\}|\[[^\[\]]*\]|\"[^\"]*\"|'[^']*'"
    r"|[-+]?\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?)")
KEY_CONSTANTS = (
    "FEATURES", "STYLES", "FOCUS_METRICS", "WEIGHT_BOUNDS", "THRESHOLD_BOUNDS", "STYLE_OFFSET",
    "WEIGHT_STEP_BOUNDS",
    "THRESHOLD_STEP_BOUNDS", "EXPLORATION_BOUNDS", "META_RATE_BOUNDS", "SHRINK_BOUNDS",
    "GROW_BOUNDS", "MEMORY_SIZE", "SEED_WEIGHTS", "SEED_THRESHOLD", "FOCUS_BOOST",
    "THRESHOLD_NOISE", "THRESHOLD_PRESSURE_CAP", "STYLE_SWITCH_MARGIN", "STYLE_SWITCH_P",
    "META_META_RATE", "MEMORY_PATIENCE", "NOVELTY_FLOOR", "SCORE_CHILD_LAMBDA", "NOVELTY_K",
    "SYN_TRUE_WEIGHTS",
    "SYN_INTERACTION", "SYN_DECEPTIVE_SHARE", "CI_LEVEL", "ALPHA", "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED", "A12_SMALL", "A12_MEDIUM", "A12_LARGE", "IMP_K_DEFAULT", "MILP_MAX_ROWS",
    "MILP_MARGIN", "REFINE_STEPS", "REFINE_SIGMA", "REFINE_SEED", "MAX_CURVE_POINTS",
    "MetaPolicy.weight_step", "MetaPolicy.threshold_step", "MetaPolicy.exploration_scale",
    "MetaPolicy.meta_rate", "MetaPolicy.shrink", "MetaPolicy.grow", "synthetic.noise",
)


def doc_pairs(text: str) -> list[tuple[str, object]]:
    """Every `NAME` = literal in the text, parsed."""
    return [(m["name"], ast.literal_eval(m["value"])) for m in PAIR.finditer(text)]


def code_value(name: str):
    """The value of a module constant, a dataclass field default or a parameter default."""
    owner, _, attr = name.partition(".")
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        if not hasattr(mod, owner):
            continue
        obj = getattr(mod, owner)
        if not attr:
            return obj
        if dataclasses.is_dataclass(obj):
            return {f.name: f.default for f in dataclasses.fields(obj)}[attr]
        return inspect.signature(obj).parameters[attr].default
    raise KeyError(f"docs/methods.md quotes `{name}`, which no module in {MODULES} defines")


def normalise(value):
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def test_parser_reads_the_forms_used_in_the_doc():
    """The extractor reads tuples, dicts, strings, exponents and ignores trailing punctuation."""
    text = ("`A_B` = (0.0, 1.0), `C` = {\"x\": 1}. `D` = 1e-05; `E` = 0.6. `F.g` = \"s\" "
            "`H` = 20_000 `I` =\n(1, 2)")
    assert doc_pairs(text) == [("A_B", (0.0, 1.0)), ("C", {"x": 1}), ("D", 1e-05), ("E", 0.6),
                               ("F.g", "s"), ("H", 20000), ("I", (1, 2))]


def test_every_quoted_constant_matches_the_code():
    """Each `NAME` = value in docs/methods.md equals the value in the engine."""
    pairs = doc_pairs(DOC.read_text(encoding="utf-8"))
    assert len(pairs) >= len(KEY_CONSTANTS)
    wrong = [(name, doc, normalise(code_value(name))) for name, doc in pairs
             if normalise(doc) != normalise(code_value(name))]
    assert not wrong, f"doc and code disagree (name, doc, code): {wrong}"


@pytest.mark.parametrize("name", KEY_CONSTANTS)
def test_key_constant_is_documented(name):
    """Every constant that shapes the loop or the statistics is quoted with its value."""
    names = {n for n, _ in doc_pairs(DOC.read_text(encoding="utf-8"))}
    assert name in names, f"docs/methods.md does not quote `{name}` = value"


def test_a_wrong_value_would_be_caught():
    """The check has teeth: a doc line with a changed value disagrees with the code."""
    (name, doc), = doc_pairs("`SCORE_CHILD_LAMBDA` = 12.0")
    assert normalise(doc) != normalise(code_value(name))


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_conditions_table_matches_registry(name):
    """Each condition's row names its selection strategy and whether the meta policy adapts."""
    c = CONDITIONS[name]
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"no single table row for condition {name}"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[1] == f"`{c.selection}`"
    assert cells[2] == ("adaptive" if c.adaptive_meta else "frozen")


def test_metric_columns_are_described():
    """Every column of the metrics CSV is named in the measurements section."""
    text = DOC.read_text(encoding="utf-8")
    missing = [c for c in METRIC_COLUMNS if f"`{c}`" not in text]
    assert not missing, missing
