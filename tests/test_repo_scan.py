"""Tests for engine.repo_scan and engine.scan_zip: features, safety of uploads, CLI."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from engine import repo_scan, scan_measure, scan_zip
from engine.repo_scan import (
    FEATURES,
    ScanError,
    ScanResult,
    add_scan_parser,
    bench_scan,
    cmd_scan,
    local_paths_allowed,
    scan,
    scan_folder,
    scan_git_url,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

TIDY_README = """# Tidy

A small, well kept library that adds numbers and formats them for people to read.
It exists to show what a carefully maintained repository looks like to the scanner.

## Install

```sh
pip install -r requirements.txt
```

## Usage

```python
from tidy.core import add, describe
print(describe(add(2, 3)))
```

## Design

The package is split into small modules. Every public function has a docstring, every
module has tests next to it, and continuous integration runs the tests on every push.
Dependencies are pinned so that builds are reproducible, and security reports go through
the policy in SECURITY.md rather than public issues.

## Development

Run the tests with pytest from the repository root. Keep functions short, avoid deep
nesting, and prefer plain data over clever abstractions. Each change comes with a test
that fails before it and passes after it, and the changelog says why it was made.

## License

MIT. See the LICENSE file for the full text of the license and its conditions of use.
"""

TIDY_CORE = '''"""Core arithmetic helpers."""


def add(a, b):
    """Return the sum of a and b."""
    return a + b


def scale(value, factor):
    """Return value multiplied by factor."""
    return value * factor


def describe(value):
    """Return a short human description of value."""
    if value < 0:
        return "negative"
    return f"value {value}"


class Counter:
    """Count how often add was called."""

    def __init__(self):
        self.calls = 0

    def bump(self):
        """Increase the call count by one."""
        self.calls += 1
        return self.calls
'''

TIDY_TESTS = '''"""Tests for tidy.core."""

from tidy.core import Counter, add, describe, scale


def test_add():
    assert add(2, 3) == 5


def test_scale():
    assert scale(2, 4) == 8


def test_describe_negative():
    assert describe(-1) == "negative"


def test_describe_positive():
    assert describe(3) == "value 3"


def test_counter():
    counter = Counter()
    assert counter.bump() == 1
    assert counter.bump() == 2
'''


def make_tidy(root: Path) -> Path:
    """A tidy repository: tests, README, docstrings, CI, SECURITY.md, pinned requirements."""
    files = {
        "README.md": TIDY_README,
        "SECURITY.md": "# Security\n\nReport vulnerabilities to security@example.org.\n",
        "requirements.txt": "requests==2.31.0\nnumpy>=1.26,<3\n",
        "pyproject.toml": '[project]\nname = "tidy"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n',
        ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
        "docs/usage.md": "# Usage\n\nCall `add`.\n",
        "src/tidy/__init__.py": '"""Tidy package."""\n',
        "src/tidy/core.py": TIDY_CORE,
        "tests/test_core.py": TIDY_TESTS,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _sloppy_function(name: str) -> str:
    lines = [f"def {name}(data, cmd):", "    result = []"]
    for i in range(30):
        lines += [
            f"    if data[{i}] > {i}:",
            f"        for x in range(data[{i}]):",
            "            while x > 0:",
            f"                if x % {i + 2} == 0:",
            "                    if x > 3:",
            f"                        result.append(eval(str(x) + '+{i}'))",
            "                    x -= 1",
            "                else:",
            "                    x -= 2",
        ]
    lines += ["    subprocess.run(cmd, shell=True)", "    return result", ""]
    return "\n".join(lines)


def make_sloppy(root: Path) -> Path:
    """A sloppy repository: long deeply nested functions, eval, shell=True, duplication."""
    root.mkdir(parents=True, exist_ok=True)
    body = "import subprocess\n\n" + _sloppy_function("process")
    (root / "app.py").write_text(body)
    (root / "app_copy.py").write_text(body.replace("def process", "def process2"))
    return root


def _zip_folder(folder: Path, zip_path: Path, prefix: str) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return zip_path


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture
def isolated_tmp(tmp_path, monkeypatch):
    """tempfile writes to an empty tmp_path subfolder, so leftovers can be detected."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    return tmpdir


def test_features_tuple_has_the_five_names_in_order():
    """FEATURES lists exactly the five feature names in the engine's order."""
    assert FEATURES == (
        "maintainability", "security", "test_coverage", "documentation", "simplicity"
    )


def test_tidy_beats_sloppy_on_every_feature(tmp_path):
    """Each of the five features ranks the tidy repository above the sloppy one."""
    tidy = scan_folder(make_tidy(tmp_path / "tidy"))
    sloppy = scan_folder(make_sloppy(tmp_path / "sloppy"))
    for name in FEATURES:
        assert tidy.features[name] > sloppy.features[name], (name, tidy.features, sloppy.features)
    kinds = {f["kind"] for f in sloppy.findings}
    assert {"eval", "shell_true"} <= kinds
    assert sloppy.evidence["maintainability"]["duplicated_line_share"] > 0.5


def test_scan_of_this_project_gives_unit_interval_values():
    """Scanning this very repository works and every feature lies in [0, 1]."""
    result = scan_folder(REPO_ROOT)
    assert set(result.features) == set(FEATURES)
    assert all(0.0 <= v <= 1.0 for v in result.features.values())
    assert result.files_scanned > 0 and result.code_lines > 0
    assert len(result.file_tree) <= repo_scan.MAX_TREE_ENTRIES
    assert not any(p.startswith(".git/") for p in result.file_tree)
    json.dumps(result.to_dict())


def test_scan_is_deterministic(tmp_path):
    """Two scans of the same folder give equal results, features rounded to 4 decimals."""
    root = make_tidy(tmp_path / "tidy")
    first, second = scan_folder(root), scan_folder(root)
    assert first == second
    assert first.to_dict() == second.to_dict()
    assert all(round(v, 4) == v for v in first.features.values())


def test_result_is_frozen_json_serialisable_and_explained(tmp_path):
    """ScanResult is immutable, to_dict() is JSON, and every feature has a formula line."""
    result = scan_folder(make_tidy(tmp_path / "tidy"))
    assert isinstance(result, ScanResult)
    with pytest.raises(AttributeError):
        result.features = {}  # type: ignore[misc]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["features"] == result.features
    assert result.vector() == [result.features[n] for n in FEATURES]
    for name in FEATURES:
        assert isinstance(result.evidence[name]["formula"], str)
    assert result.readme_excerpt.startswith("# Tidy")
    assert "src/tidy/core.py" in result.file_tree


def test_folder_scan_skips_vendored_binary_and_huge_files(tmp_path):
    """Vendored/build folders, .git, binaries and files above MAX_FILE_BYTES are skipped."""
    root = make_tidy(tmp_path / "tidy")
    for rel in ("node_modules/lib/index.js", ".git/config", "build/out.py", "venv/x.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("eval(x)\n")
    (root / "logo.png").write_bytes(b"\x89PNG")
    (root / "blob.txt").write_bytes(b"abc\x00def")
    (root / "big.py").write_text("x = 1\n" * (scan_measure.MAX_FILE_BYTES // 6 + 10))
    result = scan_folder(root)
    assert result.skipped["dirs"] == 4
    assert result.skipped["binary"] == 2
    assert result.skipped["huge"] == 1
    assert not any(p.startswith(("node_modules", ".git/", "build/", "venv/")) for p in
                   result.file_tree)
    assert result.findings_total == 0


def test_findings_cover_patterns_secrets_and_ignore_strings(tmp_path):
    """Risky calls and committed secrets are found; strings, comments, prose, defs are not."""
    root = tmp_path / "risky"
    root.mkdir()
    aws = "AKIA" + "ABCDEFGHIJKLMNOP"
    key_header = "-----BEGIN " + "RSA PRIVATE KEY-----"
    (root / "mod.py").write_text(
        '"""Never call os.system( or use shell=True here."""\n'
        "import os, pickle, yaml, requests\n"
        "# eval(x) in a comment is fine\n"
        "os.system('ls')\n"
        "pickle.loads(blob)\n"
        "yaml.load(stream)\n"
        "yaml.load(stream, Loader=yaml.SafeLoader)\n"
        "requests.get(url, verify=False)\n"
        f"AWS = '{aws}'\n"
        "api_key = 'sk-live-1234567890abcdef'\n"
        "password = 'your-password-here'\n"
    )
    (root / "id_rsa").write_text(key_header + "\nMIIE\n")
    (root / "notes.md").write_text("Never do this: `api_key = 'sk-live-1234567890abcdef'`\n")
    (root / "frame.py").write_text(
        "class Frame:\n"
        "    def eval(self, expr):\n"
        "        match expr:\n"
        "            case 'x':\n"
        "                return self.take(expr, verify=False)\n"
    )
    result = scan_folder(root)
    got = {(f["path"], f["line"], f["kind"]) for f in result.findings}
    assert got == {
        ("mod.py", 4, "os_system"), ("mod.py", 5, "unsafe_deserialise"),
        ("mod.py", 6, "yaml_load"), ("mod.py", 8, "verify_false"),
        ("mod.py", 9, "aws_access_key"), ("mod.py", 10, "credential_literal"),
        ("id_rsa", 1, "private_key"),
    }
    assert result.evidence["security"]["secrets"] == 0.0


def test_github_style_zip_scans_like_the_folder(tmp_path, isolated_tmp):
    """A 'Download ZIP' archive (one top folder) gives the same features as the folder."""
    root = make_tidy(tmp_path / "tidy")
    archive = _zip_folder(root, tmp_path / "tidy-main.zip", "tidy-main")
    from_folder = scan_folder(root)
    from_path = repo_scan.scan_zip(archive)
    from_bytes = repo_scan.scan_zip(archive.read_bytes())
    from_fileobj = repo_scan.scan_zip(io.BytesIO(archive.read_bytes()))
    for result in (from_path, from_bytes, from_fileobj):
        assert result.features == from_folder.features
        assert result.evidence == from_folder.evidence
        assert result.file_tree == from_folder.file_tree
    assert from_path.source == "tidy-main.zip"
    assert list(isolated_tmp.iterdir()) == []


def _unsafe_zip(kind: str, path: Path, monkeypatch) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("repo/README.md", "# ok\n")
        if kind == "zip_slip":
            zf.writestr("repo/../../evil.txt", "pwned")
        elif kind == "absolute":
            zf.writestr(zipfile.ZipInfo(str(path.parent / "evil_abs.txt")), "pwned")
        elif kind == "symlink":
            info = zipfile.ZipInfo("repo/link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "../../../etc/passwd")
        elif kind == "too_many":
            monkeypatch.setattr(scan_zip, "MAX_ZIP_ENTRIES", 10)
            for i in range(12):
                zf.writestr(f"repo/f{i}.py", "x = 1\n")
        elif kind == "too_big":
            monkeypatch.setattr(scan_zip, "MAX_ZIP_TOTAL_BYTES", 50_000)
            zf.writestr("repo/data.txt", os.urandom(40_000).hex())
        elif kind == "high_ratio":
            zf.writestr("repo/zeros.txt", b"0" * (2 * scan_zip.RATIO_MIN_BYTES))
        elif kind == "encrypted":
            zf.writestr("repo/secret.py", "x = 1\n")
            zf.infolist()[-1].flag_bits |= 0x1
    return path


UNSAFE = {
    "zip_slip": "outside the archive", "absolute": "absolute path",
    "symlink": "symlink", "too_many": "entries", "too_big": "uncompressed bytes",
    "high_ratio": "compression ratio", "encrypted": "encrypted",
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_unsafe_zip_is_refused_and_writes_nothing(kind, tmp_path, isolated_tmp, monkeypatch):
    """Zip-slip, absolute, escaping symlink, too many/big, bomb ratio, encrypted: refused."""
    archive = _unsafe_zip(kind, tmp_path / f"{kind}.zip", monkeypatch)
    before = _snapshot(tmp_path)
    with pytest.raises(ScanError, match=UNSAFE[kind]):
        repo_scan.scan_zip(archive)
    with pytest.raises(ScanError, match=UNSAFE[kind]):
        repo_scan.scan_zip(archive.read_bytes())
    assert _snapshot(tmp_path) == before
    assert list(isolated_tmp.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "evil_abs.txt").exists()


def test_zip_with_lying_sizes_is_refused(tmp_path, isolated_tmp, monkeypatch):
    """Declared sizes are not trusted: an entry producing more than it declares is refused."""
    monkeypatch.setattr(scan_zip, "MAX_ZIP_TOTAL_BYTES", 100_000)
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("repo/big.txt", b"a" * 200_000)
    data = bytearray(archive.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    with pytest.raises(ScanError, match="refused zip"):
        repo_scan.scan_zip(bytes(data))
    assert list(isolated_tmp.iterdir()) == []


def test_symlink_inside_archive_is_skipped_not_created(tmp_path, isolated_tmp):
    """A symlink entry pointing inside the archive is counted as skipped and never created."""
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("repo/README.md", "# ok\n")
        info = zipfile.ZipInfo("repo/docs/link.md")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../README.md")
    result = repo_scan.scan_zip(archive)
    assert result.skipped.get("symlinks") == 1
    assert "docs/link.md" not in result.file_tree


def test_non_zip_upload_is_refused(tmp_path, isolated_tmp):
    """Bytes or a file that are not a zip archive are refused with a clear message."""
    with pytest.raises(ScanError, match="not a readable zip archive"):
        repo_scan.scan_zip(b"just some text, not a zip\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    with pytest.raises(ScanError, match="zip"):
        scan(notes, allow_local=True)
    assert list(isolated_tmp.iterdir()) == []


def test_local_paths_allowed_rule(tmp_path, monkeypatch):
    """Local paths: on unless Community Cloud is detected; the env var forces either way."""
    monkeypatch.setattr(repo_scan, "CLOUD_SOURCE_DIR", str(tmp_path / "absent"))
    assert local_paths_allowed({}) is True
    assert local_paths_allowed({"HOSTNAME": "streamlit"}) is False
    assert local_paths_allowed({"IS_STREAMLIT_CLOUD": "true"}) is False
    assert local_paths_allowed({"HOSTNAME": "streamlit", "HYPERAGENTS_ALLOW_LOCAL_PATHS": "1"})
    assert local_paths_allowed({"HYPERAGENTS_ALLOW_LOCAL_PATHS": "0"}) is False
    monkeypatch.setattr(repo_scan, "CLOUD_SOURCE_DIR", str(tmp_path))
    assert local_paths_allowed({}) is False


def test_scan_refuses_local_paths_when_not_allowed(tmp_path, monkeypatch):
    """scan() reads no local folder, zip path or file:// URL when local paths are disallowed."""
    root = make_tidy(tmp_path / "tidy")
    archive = _zip_folder(root, tmp_path / "t.zip", "t")
    for source in (root, str(archive), root.as_uri() + "/.git"):
        with pytest.raises(ScanError, match="disabled"):
            scan(source, allow_local=False)
    monkeypatch.setenv("HYPERAGENTS_ALLOW_LOCAL_PATHS", "0")
    with pytest.raises(ScanError, match="HYPERAGENTS_ALLOW_LOCAL_PATHS"):
        scan(str(root))
    monkeypatch.setenv("HYPERAGENTS_ALLOW_LOCAL_PATHS", "1")
    assert scan(str(root)).features == scan_folder(root).features


def test_scan_of_missing_path_says_what_was_expected(tmp_path):
    """A path that does not exist is refused with the expected kinds of input named."""
    with pytest.raises(ScanError, match="expected a repository folder, a .zip"):
        scan(tmp_path / "nope", allow_local=True)


def test_failed_clone_gives_clear_message(isolated_tmp):
    """An unreachable git URL is refused with a message about cloning and network access."""
    with pytest.raises(ScanError, match="could not clone .*network access"):
        scan_git_url("https://127.0.0.1:9/x.git")
    with pytest.raises(ScanError, match="not a git URL"):
        scan_git_url("not a url at all", allow_local=False)
    assert list(isolated_tmp.iterdir()) == []


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_clone_of_local_bare_repo_scans_like_the_folder(tmp_path, isolated_tmp):
    """A file:// clone (shallow) gives the same features as scanning the working folder."""
    work = make_tidy(tmp_path / "work")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
           "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*git, *args], cwd=work, check=True, env=env)
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, env=env)
    result = scan_git_url(bare.as_uri(), allow_local=True)
    assert result.features == scan_folder(work).features
    assert result.source == bare.as_uri()
    assert scan(str(bare), allow_local=True).features == result.features
    assert list(isolated_tmp.iterdir()) == []


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="engine")
    add_scan_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cmd_scan_exit_code_2_on_missing_path(tmp_path, capsys):
    """`scan` on a nonexistent path prints a message on stderr and returns 2."""
    args = _cli(["scan", str(tmp_path / "missing")])
    assert args.func is cmd_scan
    assert cmd_scan(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no such file or folder" in captured.err


def test_cmd_scan_prints_json_for_a_folder(tmp_path, capsys):
    """`scan` on a folder prints the ScanResult as sorted, indented JSON and returns 0."""
    root = make_tidy(tmp_path / "tidy")
    assert cmd_scan(_cli(["scan", str(root)])) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["features"] == scan_folder(root).features
    assert out == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_bench_scan_reports_time_and_lines(tmp_path):
    """bench_scan generates a repository of the asked size, times it, and cleans up."""
    out = bench_scan(n_lines=2_000, workdir=tmp_path)
    assert set(out) == {"scan_50k_lines_s", "lines"}
    assert out["lines"] >= 2_000 and out["scan_50k_lines_s"] > 0
    assert list(tmp_path.iterdir()) == []
