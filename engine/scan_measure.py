"""Walk a repository and measure its files (helpers of :mod:`engine.repo_scan`).

:func:`_measure` runs the scan: :func:`_walk` lists the regular files in sorted order,
:func:`_read` reads each one and :func:`_process` adds what one file holds to the running totals
of an :class:`_Acc`: lines, code lines per language (``LANGUAGES``), test or source
(``TEST_FILE_RE``, ``TEST_DIR_NAMES``), comment lines, Python docstring coverage,
``DUP_WINDOW``-line window hashes for duplication (:func:`_dup_share`), per-function NLOC and
cyclomatic complexity (lizard) and nesting depth (``ast`` for Python, lizard's ND extension
otherwise), test-runner and CI configuration, the README (:func:`_readme_stats`) and the
security measurements of :mod:`engine.scan_security`.

Skipped and counted in ``ScanResult.skipped``: folders in ``SKIP_DIRS`` (and ``*.egg-info``),
symlinks, ``BINARY_EXTENSIONS`` and files with a NUL byte in the first ``BINARY_SNIFF_BYTES``,
files above ``MAX_FILE_BYTES``, lock files and minified code (average line longer than
``MINIFIED_AVG_LINE_CHARS``) as "generated", and anything beyond ``MAX_SCAN_FILES`` files or
``MAX_SCAN_BYTES`` bytes read ("limit").
"""

from __future__ import annotations

import ast
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine.scan_security import (
    LOCK_FILES,
    OTHER_MANIFESTS,
    REQUIREMENTS_RE,
    SECURITY_POLICY_RE,
    _count_requirements,
    _pyproject_specs,
    _scan_risky,
    _scan_secrets,
)

# --- formula constants used while measuring (the others are in engine.repo_scan) ----------------
DUP_WINDOW = 6
ND_GOOD, ND_BAD = 2, 6

# --- scanning limits ----------------------------------------------------------------------------
MAX_FILE_BYTES = 1_000_000
MAX_SCAN_FILES = 20_000
MAX_SCAN_BYTES = 50 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192
MINIFIED_AVG_LINE_CHARS = 200

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "bower_components", "vendor", "third_party",
    "third-party", "dist", "build", "target", ".venv", "venv", "__pycache__", ".tox", ".nox",
    "site-packages", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".next", ".cache",
    ".gradle", "Pods", "htmlcov",
})
BINARY_EXTENSIONS = frozenset({
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "tif", "tiff", "psd", "pdf", "zip", "gz",
    "tgz", "bz2", "xz", "7z", "rar", "jar", "war", "whl", "egg", "exe", "dll", "so", "dylib", "a",
    "o", "obj", "class", "pyc", "pyo", "pyd", "bin", "dat", "db", "sqlite", "sqlite3", "mp3",
    "mp4", "wav", "ogg", "flac", "avi", "mov", "mkv", "webm", "ttf", "otf", "woff", "woff2", "eot",
    "parquet", "feather", "npy", "npz", "pkl", "pickle", "h5", "hdf5", "onnx", "pt", "pth", "ckpt",
    "safetensors", "iso", "dmg",
})
LANGUAGES = {
    "py": "Python", "js": "JavaScript", "mjs": "JavaScript", "cjs": "JavaScript",
    "jsx": "JavaScript", "ts": "TypeScript", "tsx": "TypeScript", "java": "Java", "go": "Go",
    "rs": "Rust", "c": "C", "h": "C", "cc": "C++", "cpp": "C++", "cxx": "C++", "hpp": "C++",
    "cs": "C#", "rb": "Ruby", "php": "PHP", "swift": "Swift", "kt": "Kotlin", "scala": "Scala",
    "lua": "Lua", "sh": "Shell", "bash": "Shell", "r": "R", "m": "Objective-C", "pl": "Perl",
    "sol": "Solidity", "erl": "Erlang",
}
HASH_COMMENT_LANGUAGES = frozenset({"Python", "Ruby", "Shell", "R", "Perl"})
COMMENT_PREFIXES = {"hash": ("#",), "Lua": ("--",), "PHP": ("//", "/*", "*", "#"),
                    "c": ("//", "/*", "*")}
TEST_DIR_NAMES = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "e2e"})
TEST_FILE_RE = re.compile(
    r"^(test_.+|.+_test\.\w+|.+\.(test|spec)\.\w+|Test.+\.java|.+Tests?\.(java|kt|cs|scala|swift)"
    r"|.+_spec\.rb|conftest\.py|tests\.py)$"
)
RUNNER_FILE_RE = re.compile(
    r"^(pytest\.ini|tox\.ini|noxfile\.py|conftest\.py|phpunit\.xml(\.dist)?|\.rspec"
    r"|karma\.conf\.[cm]?js|\.mocharc\.\w+|(jest|vitest|playwright|cypress)\.config\.\w+)$"
)
RUNNER_CONTENT = {  # file name -> pattern that marks a test-runner configuration inside it
    "pyproject.toml": re.compile(r"^\[tool\.pytest", re.MULTILINE),
    "setup.cfg": re.compile(r"^\[tool:pytest\]", re.MULTILINE),
    "package.json": re.compile(r'"(jest|vitest|mocha|ava|jasmine)"|"test"\s*:\s*"(?!echo)'),
    "Makefile": re.compile(r"^test\s*:", re.MULTILINE),
}
CI_RE = re.compile(
    r"^(\.github/workflows/.+\.ya?ml|\.gitlab-ci\.yml|\.circleci/.+|\.travis\.yml"
    r"|azure-pipelines\.yml|Jenkinsfile|\.ci/.+|bitbucket-pipelines\.yml|\.drone\.yml"
    r"|appveyor\.yml|\.buildkite/.+|\.woodpecker(\.yml|/.+))$"
)
README_RE = re.compile(r"^readme(\.(md|markdown|rst|txt))?$", re.IGNORECASE)
_PUNCT_ONLY_RE = re.compile(r"^[\s{}()\[\];,.:]*$")


@dataclass
class _Acc:
    """Mutable running totals of one scan."""

    files: int = 0
    lines: int = 0
    code_lines: int = 0
    test_lines: int = 0
    bytes_read: int = 0
    languages: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    funcs: list = field(default_factory=list)  # (nloc, ccn, nesting) per function
    file_sizes: list = field(default_factory=list)
    windows: Counter = field(default_factory=Counter)
    file_windows: list = field(default_factory=list)
    norm_lines: int = 0
    py_doc: list = field(default_factory=lambda: [0, 0])  # documented, total
    py_src_lines: int = 0
    other_src_lines: int = 0
    other_comment_lines: int = 0
    risk: float = 0.0
    findings: list = field(default_factory=list)
    runner: set = field(default_factory=set)
    ci: set = field(default_factory=set)
    policy: set = field(default_factory=set)
    locks: set = field(default_factory=set)
    manifests: set = field(default_factory=set)
    reqs: list = field(default_factory=lambda: [0, 0])  # pinned, total
    readme: tuple | None = None  # (path, text)
    docs_files: int = 0


def _is_test(rel: str, name: str) -> bool:
    return bool(TEST_FILE_RE.match(name)) or any(
        part.lower() in TEST_DIR_NAMES for part in rel.split("/")[:-1]
    )


_LIZARD: dict = {}


def _lizard_functions(name: str, text: str, nesting: bool) -> list[tuple[int, int, int, int]]:
    """(nloc, cyclomatic complexity, max nesting depth, start line) per function, via lizard;
    its nesting-depth extension (slower) only runs when ``nesting`` is asked for."""
    import lizard
    from lizard_languages import get_reader_for

    if get_reader_for(name) is None:
        return []
    if nesting not in _LIZARD:
        try:
            analyzer = lizard.FileAnalyzer(lizard.get_extensions(["nd"] if nesting else []))
        except Exception:  # noqa: BLE001 - a lizard without the ND extension still gives CCN
            analyzer = lizard.analyze_file
        _LIZARD[nesting] = analyzer
    try:
        info = _LIZARD[nesting].analyze_source_code(name, text)
    except Exception:  # noqa: BLE001 - a parser crash on odd code must not stop the scan
        return []
    return [(f.nloc, f.cyclomatic_complexity, getattr(f, "max_nesting_depth", 0) or 0,
             f.start_line) for f in info.function_list]


def _parse_python(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


_NEST_NODES = tuple(getattr(ast, n) for n in ("If", "For", "AsyncFor", "While", "With",
                                              "AsyncWith", "Try", "TryStar", "Match")
                    if hasattr(ast, n))
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _max_depth(stmts: list, depth: int = 0) -> int:
    """Deepest nesting of compound statements in ``stmts`` (``elif`` adds no level)."""
    best = depth
    for node in stmts:
        if isinstance(node, _SCOPE_NODES) or not isinstance(node, _NEST_NODES):
            continue
        blocks = [getattr(node, "body", []), *(h.body for h in getattr(node, "handlers", ())),
                  *(c.body for c in getattr(node, "cases", ())), getattr(node, "finalbody", [])]
        orelse = getattr(node, "orelse", [])
        if isinstance(node, ast.If) and len(orelse) == 1 and isinstance(orelse[0], ast.If):
            best = max(best, _max_depth(orelse, depth))
        else:
            blocks.append(orelse)
        best = max([best, *(_max_depth(block, depth + 1) for block in blocks)])
    return best


def _python_facts(tree: ast.Module) -> tuple[int, int, dict[int, int]]:
    """(documented, total) over the module and its public classes and functions, and the line
    of each ``def`` -> its nesting depth (lizard's nesting count is unreliable for Python)."""
    documented = total = 0
    if tree.body:
        total, documented = 1, int(ast.get_docstring(tree) is not None)
    depths = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if not node.name.startswith("_"):
            total += 1
            documented += ast.get_docstring(node) is not None
        if not isinstance(node, ast.ClassDef):
            try:
                depths[node.lineno] = _max_depth(node.body)
            except RecursionError:
                depths[node.lineno] = ND_BAD
    return documented, total, depths


def _comment_prefixes(lang: str) -> tuple[str, ...]:
    if lang in HASH_COMMENT_LANGUAGES:
        return COMMENT_PREFIXES["hash"]
    return COMMENT_PREFIXES.get(lang, COMMENT_PREFIXES["c"])


def _process_code(acc: _Acc, rel: str, name: str, lang: str, text: str, lines: list[str]):
    is_test = _is_test(rel, name)
    stripped = [line.strip() for line in lines]
    nonblank = [line for line in stripped if line]
    n = len(nonblank)
    acc.code_lines += n
    acc.languages[lang] += n
    acc.file_sizes.append(n)
    tree = _parse_python(text) if lang == "Python" else None
    documented, defs, depths = _python_facts(tree) if tree is not None else (0, 0, {})
    if is_test:
        acc.test_lines += n
    else:
        prefixes = _comment_prefixes(lang)
        if tree is not None:
            acc.py_doc[0] += documented
            acc.py_doc[1] += defs
            acc.py_src_lines += n
        else:
            acc.other_src_lines += n
            acc.other_comment_lines += sum(1 for line in nonblank if line.startswith(prefixes))
        _scan_risky(acc, rel, text, lang, prefixes)
    if lang == "Rust" and "#[test]" in text:
        acc.runner.add(rel)
    norm = [line for line in nonblank if not _PUNCT_ONLY_RE.match(line)]
    acc.norm_lines += len(norm)
    hashes = [hash(tuple(norm[i:i + DUP_WINDOW])) for i in range(len(norm) - DUP_WINDOW + 1)]
    acc.windows.update(hashes)
    acc.file_windows.append(hashes)
    funcs = _lizard_functions(name, text, nesting=tree is None)
    acc.funcs.extend((nloc, ccn, depths.get(line, nd)) for nloc, ccn, nd, line in funcs)


def _process(acc: _Acc, rel: str, text: str) -> None:
    name = rel.rsplit("/", 1)[-1]
    lines = text.splitlines()
    acc.lines += len(lines)
    if RUNNER_FILE_RE.match(name) or name.endswith("_test.go"):
        acc.runner.add(rel)
    pattern = RUNNER_CONTENT.get(name)
    if pattern is not None and pattern.search(text):
        acc.runner.add(rel)
    if CI_RE.match(rel):
        acc.ci.add(rel)
    if SECURITY_POLICY_RE.match(rel):
        acc.policy.add(rel)
    if "/" not in rel and README_RE.match(name) and acc.readme is None:
        acc.readme = (rel, text)
    if REQUIREMENTS_RE.search(rel):
        _count_requirements(acc, lines)
    elif name == "pyproject.toml":
        _count_requirements(acc, _pyproject_specs(text))
    if name in OTHER_MANIFESTS:
        acc.manifests.add(rel)
    if rel.split("/", 1)[0].lower() in ("docs", "doc") and "/" in rel:
        acc.docs_files += 1
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    lang = LANGUAGES.get(ext)
    _scan_secrets(acc, rel, text, _is_test(rel, name))
    if lang is not None:
        _process_code(acc, rel, name, lang, text, lines)


def _walk(root: Path, skipped: Counter) -> list[tuple[str, str]]:
    """Sorted (relative posix path, absolute path) of regular files, pruning skipped folders."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in dirnames:
            if d in SKIP_DIRS or d.endswith(".egg-info"):
                skipped["dirs"] += 1
            elif os.path.islink(os.path.join(dirpath, d)):
                skipped["symlinks"] += 1
            else:
                keep.append(d)
        dirnames[:] = keep
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                skipped["symlinks"] += 1
                continue
            out.append((name if rel_dir == "." else f"{rel_dir}/{name}", full))
    out.sort()
    return out


def _read(acc: _Acc, rel: str, full: str) -> str | None:
    """The file's text, or None (counted in ``acc.skipped``) when it is not scanned."""
    name = rel.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if name in LOCK_FILES:
        acc.locks.add(rel)
        reason = "generated"
    elif name.endswith((".min.js", ".min.css", ".map")):
        reason = "generated"
    elif ext in BINARY_EXTENSIONS:
        reason = "binary"
    else:
        try:
            size = os.stat(full).st_size
        except OSError:
            size = -1
        if size < 0:
            reason = "unreadable"
        elif size > MAX_FILE_BYTES:
            reason = "huge"
        elif acc.files >= MAX_SCAN_FILES or acc.bytes_read + size > MAX_SCAN_BYTES:
            reason = "limit"
        else:
            try:
                with open(full, "rb") as fh:
                    data = fh.read(MAX_FILE_BYTES + 1)
            except OSError:
                data = None
            if data is None:
                reason = "unreadable"
            elif b"\0" in data[:BINARY_SNIFF_BYTES]:
                reason = "binary"
            elif ext in LANGUAGES and len(data) > MINIFIED_AVG_LINE_CHARS * (
                data.count(b"\n") + 1
            ):
                reason = "generated"  # minified or bundled code
            else:
                acc.files += 1
                acc.bytes_read += len(data)
                return data.decode("utf-8-sig", "replace")
    acc.skipped[reason] += 1
    return None


def _measure(root: Path, extra_skipped: dict | None = None) -> tuple[_Acc, list[tuple[str, str]]]:
    """Walk ``root`` and measure every file read: the totals and the (relative, absolute) paths."""
    acc = _Acc()
    acc.skipped.update(extra_skipped or {})
    files = _walk(root, acc.skipped)
    for rel, full in files:
        text = _read(acc, rel, full)
        if text is not None:
            _process(acc, rel, text)
    return acc, files


def _dup_share(acc: _Acc) -> float:
    covered = 0
    for hashes in acc.file_windows:
        until = 0  # first normalised line index not yet counted
        for i, h in enumerate(hashes):
            if acc.windows[h] > 1:
                covered += i + DUP_WINDOW - max(until, i)
                until = i + DUP_WINDOW
    return covered / acc.norm_lines if acc.norm_lines else 0.0


def _readme_stats(text: str) -> dict:
    headings = code_blocks = fences = 0
    in_fence, previous = False, ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("```", "~~~")):
            in_fence, fences = not in_fence, fences + 1
        elif not in_fence:
            if re.match(r"^#{1,6}\s+\S", s) or (
                previous and len(s) >= 3 and len(set(s)) == 1 and s[0] in "=-~^*#"
            ):
                headings += 1
            if s.startswith(".. code") or (s.endswith("::") and not s.startswith("..")):
                code_blocks += 1
        previous = s
    return {"chars": len(text.strip()), "headings": headings,
            "code_blocks": code_blocks + fences // 2}
