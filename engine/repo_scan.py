"""Measure the five features of a real code repository, each in [0, 1].

Input: a local folder (:func:`scan_folder`), an uploaded ``.zip`` (:func:`scan_zip`, extracted
safely by :mod:`engine.scan_zip` into a temporary folder that is always removed) or a git URL
(:func:`scan_git_url`, ``git clone --depth 1`` with a timeout; needs network access).
:func:`scan` dispatches on the kind of input. Every formula below uses named constants, defined
here or, for the measuring side, in :mod:`engine.scan_measure` (file walking, skipping and
per-file measurement) and :mod:`engine.scan_security` (risky calls, secrets, dependency pins).
``clip`` means clamping to [0, 1] and
``ramp(x, good, bad)`` is 1 at or below ``good``, 0 at or above ``bad`` and linear in between.
Averages over functions are weighted by the function's NLOC, so one huge function counts for as
much code as it holds.

- ``maintainability = 0.4 func_len + 0.2 file_len + 0.4 dup`` (``MAINTAINABILITY_WEIGHTS``):
  ``func_len`` = mean of ``ramp(nloc, FUNC_NLOC_GOOD, FUNC_NLOC_BAD)`` over functions found by
  lizard; ``file_len`` = line-weighted mean of ``ramp(lines, FILE_LINES_GOOD, FILE_LINES_BAD)``
  over code files; ``dup = 1 - clip(dup_share / DUP_SHARE_BAD)`` where ``dup_share`` is the
  share of normalised code lines (stripped, blank and punctuation-only lines dropped) covered by
  a ``DUP_WINDOW``-line window whose hash occurs more than once in the repository.
- ``security = 0.5 patterns + 0.2 secrets + 0.15 policy + 0.15 deps`` (``SECURITY_WEIGHTS``):
  ``patterns = 1 / (1 + risk / max(KLOC_FLOOR, kloc) / RISK_PER_KLOC_HALF)`` where ``risk`` sums
  the severities in ``RISKY_PATTERNS`` over hits in non-test code files and ``kloc`` is
  thousands of non-test code lines; ``secrets`` = 0 if any text file holds a committed secret
  (``SECRET_PATTERNS``) else 1; ``policy`` = 1 if a SECURITY file exists; ``deps`` = 1 with a
  lock file, else the share of requirement lines (requirements*.txt, pyproject dependencies)
  with a pin or upper bound (``PINNED_RE``: ``==``, ``<``, ``~=``, ``^``), ``DEPS_UNLOCKED``
  for other manifests without a lock, ``NEUTRAL`` with no manifest at all. What counts as a
  hit is described in :mod:`engine.scan_security`.
- ``test_coverage = 0.6 clip(test_lines / source_lines / TEST_RATIO_TARGET) + 0.2 runner +
  0.2 ci`` (``TEST_WEIGHTS``): non-blank code lines in test files vs. other code files;
  ``runner`` / ``ci`` = 1 when a test-runner config / CI workflow is present.
- ``documentation = 0.45 readme + 0.45 inline + 0.1 docs_folder`` (``DOC_WEIGHTS``):
  ``readme = 0.5 clip(chars / README_TARGET_CHARS) + 0.25 clip(headings /
  README_TARGET_HEADINGS) + 0.25 clip(code_blocks / README_TARGET_CODE_BLOCKS)``; ``inline`` is
  the source-line-weighted mean of Python docstring coverage (``ast``: module, public classes
  and functions) and, for other languages, ``clip(comment_lines / code_lines /
  COMMENT_RATIO_TARGET)`` (0 without source code); ``docs_folder`` = 1 when a ``docs/`` or
  ``doc/`` folder has files.
- ``simplicity = 0.6 ccn + 0.4 nesting`` (``SIMPLICITY_WEIGHTS``): NLOC-weighted means of
  ``ramp(cyclomatic complexity, CCN_GOOD, CCN_BAD)`` (lizard) and ``ramp(max nesting depth,
  ND_GOOD, ND_BAD)``; nesting counts nested compound statements, from ``ast`` for Python
  (``elif`` adds no level; lizard's count is unreliable there) and from lizard's ND extension
  for other languages.

Function length, complexity or duplication that cannot be measured (no functions, no code)
scores ``NEUTRAL``. Features are rounded to ``ROUND_DIGITS`` decimals so repeated scans are
identical (file order is sorted; nothing depends on time or hash seeds). What is skipped while
reading is listed in :mod:`engine.scan_measure`; the full write-up is docs/repo_scan.md.

Local paths: :func:`local_paths_allowed` is True when ``HYPERAGENTS_ALLOW_LOCAL_PATHS`` is
``1/true/yes/on``, False when it is ``0/false/no/off``, and otherwise True unless the process
looks like Streamlit Community Cloud (``HOSTNAME == "streamlit"``, ``IS_STREAMLIT_CLOUD`` or
``STREAMLIT_SHARING_MODE`` set, or the folder ``CLOUD_SOURCE_DIR`` exists). :func:`scan` refuses
local folders, local zip paths and ``file://`` clones when it is False; uploads are always fine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine import scan_measure
from engine.scan_measure import DUP_WINDOW, ND_BAD, ND_GOOD, _dup_share, _measure, _readme_stats
from engine.scan_zip import ScanError, clone_git, redact_url, safe_extract

__all__ = [
    "FEATURES", "ScanError", "ScanResult", "add_scan_parser", "bench_scan", "cmd_scan",
    "local_paths_allowed", "scan", "scan_folder", "scan_git_url", "scan_zip",
]

FEATURES = ("maintainability", "security", "test_coverage", "documentation", "simplicity")

# --- formula constants (see the module docstring and docs/repo_scan.md) -----------------------
ROUND_DIGITS = 4
NEUTRAL = 0.5
MAINTAINABILITY_WEIGHTS = {"func_len": 0.4, "file_len": 0.2, "dup": 0.4}
FUNC_NLOC_GOOD, FUNC_NLOC_BAD = 20, 80
FILE_LINES_GOOD, FILE_LINES_BAD = 300, 1000
DUP_SHARE_BAD = 0.3
SECURITY_WEIGHTS = {"patterns": 0.5, "secrets": 0.2, "policy": 0.15, "deps": 0.15}
RISK_PER_KLOC_HALF = 1.0
KLOC_FLOOR = 1.0
DEPS_UNLOCKED = 0.25
TEST_WEIGHTS = {"ratio": 0.6, "runner": 0.2, "ci": 0.2}
TEST_RATIO_TARGET = 0.5
DOC_WEIGHTS = {"readme": 0.45, "inline": 0.45, "docs_folder": 0.1}
README_PART_WEIGHTS = {"length": 0.5, "headings": 0.25, "code_blocks": 0.25}
README_TARGET_CHARS, README_TARGET_HEADINGS, README_TARGET_CODE_BLOCKS = 1500, 3, 2
COMMENT_RATIO_TARGET = 0.15
SIMPLICITY_WEIGHTS = {"ccn": 0.6, "nesting": 0.4}
CCN_GOOD, CCN_BAD = 5, 20

# --- output and local-path limits (scanning limits are in engine.scan_measure) --------------------
README_EXCERPT_CHARS = 1500
MAX_TREE_ENTRIES = 200
MAX_FINDINGS = 50
CLOUD_SOURCE_DIR = "/mount/src"
CLOUD_ENV_FLAGS = ("IS_STREAMLIT_CLOUD", "STREAMLIT_SHARING_MODE")
LOCAL_PATHS_ENV = "HYPERAGENTS_ALLOW_LOCAL_PATHS"
_URL_RE = re.compile(r"^((https?|ssh|git|file)://|git@[\w.-]+:)", re.IGNORECASE)
_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class ScanResult:
    """What a scan measured: features in [0, 1], evidence per feature, totals and context."""

    source: str
    features: dict[str, float]
    evidence: dict[str, dict]
    files_scanned: int
    lines: int
    code_lines: int
    test_lines: int
    languages: dict[str, int]
    skipped: dict[str, int]
    readme_excerpt: str
    file_tree: tuple[str, ...]
    findings: tuple[dict, ...]
    findings_total: int

    def vector(self) -> list[float]:
        """The features in ``FEATURES`` order."""
        return [self.features[name] for name in FEATURES]

    def to_dict(self) -> dict:
        """A JSON-serialisable copy (tuples become lists)."""
        return {
            "source": self.source, "features": dict(self.features),
            "evidence": json.loads(json.dumps(self.evidence)),
            "files_scanned": self.files_scanned, "lines": self.lines,
            "code_lines": self.code_lines, "test_lines": self.test_lines,
            "languages": dict(self.languages), "skipped": dict(self.skipped),
            "readme_excerpt": self.readme_excerpt, "file_tree": list(self.file_tree),
            "findings": [dict(f) for f in self.findings], "findings_total": self.findings_total,
        }


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _ramp(x: float, good: float, bad: float) -> float:
    return _clip((bad - x) / (bad - good))


def _r(x: float) -> float:
    return round(float(x), ROUND_DIGITS)


def _weighted(pairs: list[tuple[float, float]]) -> float:
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total else NEUTRAL


def _combine(weights: dict[str, float], parts: dict[str, float]) -> float:
    return _clip(sum(weights[k] * parts[k] for k in weights))


def _features(acc: scan_measure._Acc) -> tuple[dict[str, float], dict[str, dict]]:
    funcs = acc.funcs
    parts_m = {
        "func_len": _weighted([(n, _ramp(n, FUNC_NLOC_GOOD, FUNC_NLOC_BAD)) for n, _, _ in funcs]),
        "file_len": _weighted([(n, _ramp(n, FILE_LINES_GOOD, FILE_LINES_BAD))
                               for n in acc.file_sizes]),
    }
    dup_share = _dup_share(acc)
    parts_m["dup"] = 1 - _clip(dup_share / DUP_SHARE_BAD) if acc.norm_lines else NEUTRAL
    kloc = (acc.code_lines - acc.test_lines) / 1000
    secrets = [f for f in acc.findings if f["secret"]]
    pinned, total_reqs = acc.reqs
    if acc.locks:
        deps = 1.0
    elif total_reqs:
        deps = pinned / total_reqs
    else:
        deps = DEPS_UNLOCKED if acc.manifests else NEUTRAL
    parts_s = {
        "patterns": 1 / (1 + acc.risk / max(KLOC_FLOOR, kloc) / RISK_PER_KLOC_HALF),
        "secrets": 0.0 if secrets else 1.0, "policy": float(bool(acc.policy)), "deps": deps,
    }
    source_lines = acc.code_lines - acc.test_lines
    ratio = acc.test_lines / source_lines if source_lines else 0.0
    parts_t = {"ratio": _clip(ratio / TEST_RATIO_TARGET), "runner": float(bool(acc.runner)),
               "ci": float(bool(acc.ci))}
    readme = _readme_stats(acc.readme[1]) if acc.readme else {"chars": 0, "headings": 0,
                                                              "code_blocks": 0}
    readme_parts = {"length": _clip(readme["chars"] / README_TARGET_CHARS),
                    "headings": _clip(readme["headings"] / README_TARGET_HEADINGS),
                    "code_blocks": _clip(readme["code_blocks"] / README_TARGET_CODE_BLOCKS)}
    doc_cov = acc.py_doc[0] / acc.py_doc[1] if acc.py_doc[1] else 0.0
    comment_ratio = acc.other_comment_lines / acc.other_src_lines if acc.other_src_lines else 0.0
    inline = _weighted([(acc.py_src_lines, doc_cov), (acc.other_src_lines,
                                                      _clip(comment_ratio / COMMENT_RATIO_TARGET))])
    parts_d = {"readme": _combine(README_PART_WEIGHTS, readme_parts),
               "inline": inline if acc.py_src_lines + acc.other_src_lines else 0.0,
               "docs_folder": float(acc.docs_files > 0)}
    parts_c = {
        "ccn": _weighted([(n, _ramp(c, CCN_GOOD, CCN_BAD)) for n, c, _ in funcs]),
        "nesting": _weighted([(n, _ramp(d, ND_GOOD, ND_BAD)) for n, _, d in funcs]),
    }
    features = {
        "maintainability": _combine(MAINTAINABILITY_WEIGHTS, parts_m),
        "security": _combine(SECURITY_WEIGHTS, parts_s),
        "test_coverage": _combine(TEST_WEIGHTS, parts_t),
        "documentation": _combine(DOC_WEIGHTS, parts_d),
        "simplicity": _combine(SIMPLICITY_WEIGHTS, parts_c),
    }
    nlocs = sorted(n for n, _, _ in funcs)
    w_m, w_s, w_t = MAINTAINABILITY_WEIGHTS, SECURITY_WEIGHTS, TEST_WEIGHTS
    w_d, w_c = DOC_WEIGHTS, SIMPLICITY_WEIGHTS

    def rounded(d: dict) -> dict:
        return {k: _r(v) if isinstance(v, float) else v for k, v in d.items()}

    evidence = {
        "maintainability": rounded({
            **parts_m, "functions": len(funcs), "median_function_nloc":
            nlocs[len(nlocs) // 2] if nlocs else 0, "max_function_nloc": max(nlocs, default=0),
            "code_files": len(acc.file_sizes), "max_file_lines": max(acc.file_sizes, default=0),
            "duplicated_line_share": dup_share,
            "formula": f"{w_m['func_len']} ramp(function NLOC {FUNC_NLOC_GOOD}..{FUNC_NLOC_BAD})"
                       f" + {w_m['file_len']} ramp(file lines {FILE_LINES_GOOD}..{FILE_LINES_BAD})"
                       f" + {w_m['dup']} (1 - clip(duplicated {DUP_WINDOW}-line-window share"
                       f" / {DUP_SHARE_BAD}))"}),
        "security": rounded({
            **parts_s, "risky_hits": sum(not f["secret"] for f in acc.findings),
            "risk_weight": acc.risk, "source_kloc": kloc, "secret_hits": len(secrets),
            "security_policy": sorted(acc.policy), "lock_files": sorted(acc.locks),
            "requirements_pinned": pinned, "requirements_total": total_reqs,
            "formula": f"{w_s['patterns']} / (1 + weighted risky hits per KLOC"
                       f" / {RISK_PER_KLOC_HALF}) + {w_s['secrets']} no committed secrets"
                       f" + {w_s['policy']} SECURITY policy + {w_s['deps']} locked or pinned"
                       " dependencies"}),
        "test_coverage": rounded({
            **parts_t, "test_lines": acc.test_lines, "source_lines": source_lines,
            "test_to_source_ratio": ratio, "runner_config": sorted(acc.runner)[:10],
            "ci_config": sorted(acc.ci)[:10],
            "formula": f"{w_t['ratio']} clip(test/source lines / {TEST_RATIO_TARGET})"
                       f" + {w_t['runner']} test runner config + {w_t['ci']} CI workflow"}),
        "documentation": rounded({
            **parts_d, "readme": acc.readme[0] if acc.readme else None, **{
                f"readme_{k}": v for k, v in readme.items()},
            "python_docstring_coverage": doc_cov, "python_definitions": acc.py_doc[1],
            "comment_line_ratio": comment_ratio, "docs_folder_files": acc.docs_files,
            "formula": f"{w_d['readme']} README (length/{README_TARGET_CHARS} chars,"
                       f" headings/{README_TARGET_HEADINGS}, code blocks/"
                       f"{README_TARGET_CODE_BLOCKS}) + {w_d['inline']} docstring or comment"
                       f" coverage + {w_d['docs_folder']} docs folder"}),
        "simplicity": rounded({
            **parts_c, "functions": len(funcs),
            "max_cyclomatic_complexity": max((c for _, c, _ in funcs), default=0),
            "max_nesting_depth": max((d for _, _, d in funcs), default=0),
            "formula": f"{w_c['ccn']} ramp(cyclomatic complexity {CCN_GOOD}..{CCN_BAD})"
                       f" + {w_c['nesting']} ramp(nesting depth {ND_GOOD}..{ND_BAD}),"
                       " NLOC-weighted over functions"}),
    }
    return {k: _r(v) for k, v in features.items()}, evidence


def _scan_root(root: Path, source: str, extra_skipped: dict | None = None) -> ScanResult:
    acc, files = _measure(root, extra_skipped)
    features, evidence = _features(acc)
    findings = sorted(acc.findings, key=lambda f: (f["path"], f["line"], f["kind"]))
    return ScanResult(
        source=source, features=features, evidence=evidence, files_scanned=acc.files,
        lines=acc.lines, code_lines=acc.code_lines, test_lines=acc.test_lines,
        languages=dict(sorted(acc.languages.items())), skipped=dict(sorted(acc.skipped.items())),
        readme_excerpt=acc.readme[1][:README_EXCERPT_CHARS] if acc.readme else "",
        file_tree=tuple(rel for rel, _ in files[:MAX_TREE_ENTRIES]),
        findings=tuple(findings[:MAX_FINDINGS]), findings_total=len(findings),
    )


# --- public API ---------------------------------------------------------------------------------
def local_paths_allowed(env=os.environ) -> bool:
    """May this process read local folder paths? (See the module docstring for the rule.)"""
    explicit = str(env.get(LOCAL_PATHS_ENV, "")).strip().lower()
    if explicit in _TRUE:
        return True
    if explicit in _FALSE:
        return False
    cloud = (
        env.get("HOSTNAME") == "streamlit"
        or any(str(env.get(k, "")).strip() for k in CLOUD_ENV_FLAGS)
        or os.path.isdir(CLOUD_SOURCE_DIR)
    )
    return not cloud


def scan_folder(path: str | os.PathLike) -> ScanResult:
    """Scan a repository folder (no local-path permission check: see :func:`scan`)."""
    root = Path(path)
    if not root.is_dir():
        raise ScanError(f"not a folder: {path}; expected a repository folder")
    return _scan_root(root, str(path))


def scan_zip(source, *, name: str | None = None) -> ScanResult:
    """Scan a ``.zip`` given as a path, a binary file object or bytes (e.g. an upload)."""
    if name is None:
        raw = getattr(source, "name", source if isinstance(source, (str, os.PathLike)) else "")
        name = Path(str(raw)).name or "upload.zip"
    with tempfile.TemporaryDirectory(prefix="hyperagents-scan-") as tmp:
        root, symlinks = safe_extract(source, Path(tmp))
        return _scan_root(root, name, {"symlinks": symlinks} if symlinks else None)


def scan_git_url(url: str, *, allow_local: bool | None = None) -> ScanResult:
    """Shallow-clone a git URL into a temporary folder and scan it (needs network access)."""
    url = str(url).strip()
    allowed = local_paths_allowed() if allow_local is None else allow_local
    if not _URL_RE.match(url):
        if not (allowed and Path(url).exists()):
            raise ScanError(f"not a git URL: {redact_url(url)!r}; expected https://..., "
                            "ssh://..., git@host:owner/repo.git or a path ending in .git")
        url = Path(url).resolve().as_uri()
    if url.lower().startswith("file://") and not allowed:
        raise ScanError("cloning a local repository (file://) is disabled here; "
                        f"set {LOCAL_PATHS_ENV}=1 or give a remote git URL")
    with tempfile.TemporaryDirectory(prefix="hyperagents-clone-") as tmp:
        dest = Path(tmp) / "repo"
        clone_git(url, dest, allow_file=allowed)
        return _scan_root(dest, redact_url(url))


def scan(source, *, allow_local: bool | None = None) -> ScanResult:
    """Scan a folder path, a ``.zip`` (path, bytes or file object) or a git URL.

    Local paths (folders, zip files, ``file://``) are read only when ``allow_local`` is True,
    or, when it is None, when :func:`local_paths_allowed` says so.
    """
    if isinstance(source, (bytes, bytearray, memoryview)) or hasattr(source, "read"):
        return scan_zip(source)
    allowed = local_paths_allowed() if allow_local is None else allow_local
    text = str(source).strip()
    if isinstance(source, str) and (_URL_RE.match(text) or text.endswith(".git")):
        return scan_git_url(text, allow_local=allowed)
    if not allowed:
        raise ScanError(f"reading local paths is disabled here (set {LOCAL_PATHS_ENV}=1 to "
                        "allow); upload a .zip of the repository or give a git URL instead")
    path = Path(text).expanduser()
    if path.is_dir():
        return scan_folder(path)
    if path.is_file():
        return scan_zip(path)
    raise ScanError(f"no such file or folder: {text!r}; expected a repository folder, a .zip "
                    "archive or a git URL (https://..., git@host:..., ....git)")


def _write_bench_repo(root: Path, n_lines: int) -> int:
    """Write a synthetic repository of about ``n_lines`` lines; returns the exact count."""
    written, i = 0, 0
    (root / "README.md").write_text("# Bench\n\nSynthetic repository.\n\n```sh\nmake\n```\n")
    written += 7
    while written < n_lines:
        kind = i % 10
        if kind < 7:
            body = [f'"""Module {i}."""', "import os", ""]
            for j in range(12):
                body += [f"def func_{i}_{j}(value_{j}, limit={j + i}):",
                         f'    """Return a score for item {i}.{j}."""',
                         f"    total_{j} = value_{j} * {j + 1}",
                         "    for k in range(limit):",
                         f"        if k % {j + 2} == 0 and total_{j} > {i}:",
                         f"            total_{j} += k - {i}",
                         f"    return os.fspath(str(total_{j} + {j}))", ""]
            path = root / "pkg" / f"mod_{i}.py"
        elif kind < 9:
            body = [f"// Module {i}"]
            for j in range(12):
                body += [f"function f{i}_{j}(a, b) {{", f"  let t = a * {j + 1};",
                         "  for (let k = 0; k < b; k++) {",
                         f"    if (k % {j + 2} === 0) {{ t += k; }}", "  }",
                         f"  return t + {i};", "}", ""]
            path = root / "web" / f"mod_{i}.js"
        else:
            body = [f"from pkg.mod_{i - 3} import func_{i - 3}_0", ""]
            for j in range(20):
                body += [f"def test_{i}_{j}():", f"    assert func_{i - 3}_0({j}) is not None", ""]
            path = root / "tests" / f"test_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(body) + "\n")
        written += len(body)
        i += 1
    return written


def bench_scan(n_lines: int = 50_000, workdir: str | os.PathLike | None = None) -> dict:
    """Time :func:`scan_folder` on a synthetic repository of ``n_lines`` lines."""
    with tempfile.TemporaryDirectory(prefix="hyperagents-bench-", dir=workdir) as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        lines = _write_bench_repo(root, n_lines)
        start = time.perf_counter()
        scan_folder(root)
        elapsed = time.perf_counter() - start
    return {"scan_50k_lines_s": round(elapsed, 3), "lines": lines}


def add_scan_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``scan`` subcommand on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "scan", help="measure the five features of a repository folder, .zip or git URL")
    parser.add_argument("source", metavar="PATH_OR_ZIP_OR_URL",
                        help="a folder, a .zip file, or a git URL (https://, git@..., ....git)")
    parser.set_defaults(func=cmd_scan)
    return parser


def cmd_scan(args: argparse.Namespace) -> int:
    """Print the scan as JSON on stdout (exit 0) or a message on stderr (exit 2)."""
    try:
        result = scan(args.source, allow_local=True)
    except ScanError as exc:
        print(f"scan: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    return 0
