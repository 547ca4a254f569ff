"""Security measurements of a repository (helpers of :mod:`engine.repo_scan`).

Risky calls (:func:`_scan_risky`): the ``RISKY_PATTERNS`` hits on code lines of non-test code
files (eval/exec, shell=True, os.system/popen, pickle/dill/marshal loads, yaml.load without
SafeLoader, ``verify=False`` next to an HTTP client (``RISKY_CONTEXT``), other disabled TLS
verification); comment lines are ignored and, for Python, so are string literals. Committed
secrets (:func:`_scan_secrets`): the ``SECRET_PATTERNS`` hits in any text file (AWS key id,
private key block, credential literal outside tests and prose that is not a placeholder).
Dependency pinning: ``LOCK_FILES``, ``OTHER_MANIFESTS`` and the requirement lines
(requirements*.txt, pyproject dependencies) with a pin or upper bound (``PINNED_RE``), counted
by :func:`_count_requirements`. Security policy: a file matching ``SECURITY_POLICY_RE``.
Only a line holding one of the cheap ``*_KEYWORDS_RE`` keywords is matched against the full
patterns. How these combine into the ``security`` feature is in :mod:`engine.repo_scan`.
"""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.scan_measure import _Acc

LOCK_FILES = frozenset({
    "poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "package-lock.json", "yarn.lock",
    "pnpm-lock.yaml", "Cargo.lock", "go.sum", "Gemfile.lock", "composer.lock", "bun.lockb",
})
OTHER_MANIFESTS = frozenset({"package.json", "Cargo.toml", "Gemfile", "composer.json",
                             "Pipfile", "setup.py", "pom.xml", "build.gradle", "go.mod"})
SECURITY_POLICY_RE = re.compile(r"^(\.github/|docs/)?security(\.md|\.rst|\.txt)?$", re.IGNORECASE)
REQUIREMENTS_RE = re.compile(r"(^|/)requirements[^/]*\.(txt|in)$")
PINNED_RE = re.compile(r"==|<|~=|\^")
RISKY_PATTERNS = {  # kind -> (regex over a code line, severity)
    "eval": (re.compile(r"(?<!def )(?<!function )(?<![\w.])eval\s*\("), 1.0),
    "exec": (re.compile(r"(?<!def )(?<!function )(?<![\w.])exec\s*\("), 1.0),
    "shell_true": (re.compile(r"\bshell\s*=\s*True\b"), 1.0),
    "os_system": (re.compile(r"\bos\.(system|popen)\s*\("), 1.0),
    "unsafe_deserialise": (re.compile(r"\b(c?pickle|dill|marshal)\.loads?\s*\("), 1.0),
    "yaml_load": (re.compile(r"\byaml\.(load\s*\((?!.*SafeLoader)|unsafe_load\s*\()"), 1.0),
    "verify_false": (re.compile(r"\bverify\s*=\s*False\b"), 1.0),
    "tls_verify_off": (re.compile(
        r"rejectUnauthorized\s*:\s*false|InsecureSkipVerify\s*:\s*true"
        r"|_create_unverified_context|CERT_NONE|NODE_TLS_REJECT_UNAUTHORIZED"), 1.0),
}
# A hit of these kinds counts only when the file's code (strings and comments blanked for
# Python) also matches the context: ``verify=False`` is a TLS switch only next to HTTP clients.
RISKY_CONTEXT = {"verify_false": re.compile(r"\b(requests|httpx|urllib3|aiohttp|ssl)\b")}
SECRET_PATTERNS = {
    "aws_access_key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private_key": re.compile(r"-----BEGIN (RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"),
    "credential_literal": re.compile(
        r"\b(api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|password|secret)"
        r"\s*[:=]\s*[\"']([^\"'\s]{8,})[\"']", re.IGNORECASE),
}
PROSE_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".adoc", ".ipynb")
PLACEHOLDER_RE = re.compile(r"(?i)example|your|xxx|placeholder|changeme|dummy|fake|<|\$\{|\*\*")

# Cheap filters over the lower-cased text: a line is matched against the full patterns above only
# when it holds one of these keywords (every pattern needs one of them).
RISKY_KEYWORDS_RE = re.compile(r"eval|exec|shell|os\.system|os\.popen|pickle|dill|marshal|yaml"
                               r"|verify|rejectunauthorized|unverified|cert_none|node_tls")
SECRET_KEYWORDS_RE = re.compile(r"akia|-----begin|api|secret|token|password")
_RISKY_REGEXES = {kind: pattern for kind, (pattern, _) in RISKY_PATTERNS.items()}


def _mask_python(text: str) -> str:
    """The text with string literals and comments blanked out, line structure kept."""
    rows = [list(line) for line in io.StringIO(text).readlines()]
    blank = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type not in blank:
                continue
            (sr, sc), (er, ec) = tok.start, tok.end
            for r in range(sr, er + 1):
                row = rows[r - 1]
                for c in range(sc if r == sr else 0, ec if r == er else len(row)):
                    if row[c] not in "\r\n":
                        row[c] = " "
    except (tokenize.TokenError, SyntaxError, ValueError, IndexError):
        return text
    return "".join("".join(row) for row in rows)


def _candidate_lines(text: str, keywords: re.Pattern) -> list[int]:
    """0-based numbers of the lines whose lower-cased text contains one of ``keywords``."""
    low = text.lower()  # may change the length of a line, never the number of lines
    found, pos, line = [], 0, 0
    for match in keywords.finditer(low):
        line += low.count("\n", pos, match.start())
        pos = match.start()
        if not found or found[-1] != line:
            found.append(line)
    return found


def _line_hits(text: str, keywords: re.Pattern, patterns: dict) -> list[tuple[int, str, re.Match]]:
    """(1-based line, kind, match) for each pattern hit, on lines passing the keyword filter."""
    candidates = _candidate_lines(text, keywords)
    if not candidates:
        return []
    lines = text.split("\n")
    hits = []
    for index in candidates:
        for kind, pattern in patterns.items():
            match = pattern.search(lines[index])
            if match:
                hits.append((index + 1, kind, match))
    return hits


def _scan_secrets(acc: _Acc, rel: str, text: str, is_test: bool) -> None:
    """Committed secrets in any text file; credential literals are not looked for in tests and
    prose (where examples abound), nor when the value looks like a placeholder."""
    prose = rel.lower().endswith(PROSE_SUFFIXES)
    for number, kind, match in _line_hits(text, SECRET_KEYWORDS_RE, SECRET_PATTERNS):
        if kind == "credential_literal" and (
            is_test or prose or PLACEHOLDER_RE.search(match.group(2))
        ):
            continue
        acc.findings.append({"path": rel, "line": number, "kind": kind, "secret": True})


def _scan_risky(acc: _Acc, rel: str, text: str, lang: str, prefixes: tuple[str, ...]) -> None:
    """Risky calls on code lines (a line starting with one of ``prefixes`` is a comment); for
    Python, hits inside strings and comments are dropped."""
    hits = _line_hits(text, RISKY_KEYWORDS_RE, _RISKY_REGEXES)
    if not hits:
        return
    lines = (_mask_python(text) if lang == "Python" else text).split("\n")
    code = "\n".join(lines)
    for number, kind, _ in hits:
        line = lines[number - 1]
        if line.lstrip().startswith(prefixes) or not _RISKY_REGEXES[kind].search(line):
            continue
        if kind in RISKY_CONTEXT and not RISKY_CONTEXT[kind].search(code):
            continue
        acc.risk += RISKY_PATTERNS[kind][1]
        acc.findings.append({"path": rel, "line": number, "kind": kind, "secret": False})


def _count_requirements(acc: _Acc, specs: list[str]) -> None:
    for spec in specs:
        spec = spec.split("#", 1)[0].strip()
        if spec and not spec.startswith("-"):
            acc.reqs[1] += 1
            acc.reqs[0] += bool(PINNED_RE.search(spec))


def _pyproject_specs(text: str) -> list[str]:
    """Dependency specifiers of a pyproject.toml ([project] and Poetry); [] when unreadable."""
    try:
        data = tomllib.loads(text)
        project = data.get("project", {})
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs.extend(extra)
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
        for name, value in poetry.items():
            if name != "python":
                specs.append(value if isinstance(value, str) else str(value.get("version", "")))
    except (tomllib.TOMLDecodeError, ValueError, AttributeError, TypeError):
        return []
    return [s for s in specs if isinstance(s, str) and s.strip()]
