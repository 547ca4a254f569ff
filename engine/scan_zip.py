"""Bring an untrusted repository into a temporary folder (helpers of :mod:`engine.repo_scan`).

:func:`safe_extract` unpacks an uploaded ``.zip``; :func:`clone_git` makes a shallow clone.
The app may run on a shared server, so an upload is treated as hostile. :func:`safe_extract`
refuses, with a :class:`ScanError` saying what was expected, an upload that

- is not a zip archive at all (or is corrupt: a CRC or size mismatch while reading);
- has more than ``MAX_ZIP_ENTRIES`` entries;
- declares more than ``MAX_ZIP_TOTAL_BYTES`` uncompressed bytes, or actually produces more while
  extracting (bytes written are counted, declared sizes are not trusted);
- has a compression ratio above ``MAX_COMPRESSION_RATIO`` (whole archive, or any entry), once at
  least ``RATIO_MIN_BYTES`` are involved (small files may legitimately compress very well);
- has an entry with an absolute path, a drive letter or a ``..`` component (zip-slip);
- has a symlink entry whose target is absolute or leaves the archive (symlinks that stay inside
  are not created, only counted);
- has an encrypted entry (general-purpose flag bit 0).

Every entry is checked before the first byte is written, and extraction only ever writes below
the destination folder given by the caller (a ``tempfile.TemporaryDirectory``).

:func:`clone_git` runs ``git clone --depth 1`` in its own process group with
``GIT_CLONE_TIMEOUT_S`` (the whole group is killed on timeout), no terminal or SSH password
prompts, only the protocols in ``GIT_PROTOCOLS`` (plus ``file`` when local paths are allowed),
``core.symlinks=false`` (symlinks become plain files) and Git LFS downloads switched off.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import stat
import subprocess
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_TOTAL_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100.0
RATIO_MIN_BYTES = 1024 * 1024
MAX_SYMLINK_TARGET_BYTES = 4096
COPY_CHUNK_BYTES = 64 * 1024
ZIP_ENCRYPTED_FLAG = 0x1
IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})
GIT_CLONE_TIMEOUT_S = 60
GIT_PROTOCOLS = ("https", "http", "ssh", "git")

_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class ScanError(ValueError):
    """An input that cannot or may not be scanned; the message says what was expected."""


def _open_zip(source: str | os.PathLike | bytes | bytearray | BinaryIO) -> zipfile.ZipFile:
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ScanError(f"no such file: {path}; expected a .zip archive of a repository")
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ScanError(
            "the upload is not a readable zip archive; expected a .zip of a repository "
            f"(e.g. GitHub's 'Download ZIP') [{exc}]"
        ) from None


def _entry_parts(name: str) -> tuple[str, ...]:
    """Relative path components of an entry name; ScanError for absolute or escaping names."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE_RE.match(norm):
        raise ScanError(f"refused zip: entry {name!r} has an absolute path")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ScanError(f"refused zip: entry {name!r} points outside the archive ('..')")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_symlink(zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...]) -> None:
    if info.file_size > MAX_SYMLINK_TARGET_BYTES:
        raise ScanError(f"refused zip: symlink entry {info.filename!r} has an oversized target")
    target = zf.read(info).decode("utf-8", "replace").replace("\\", "/")
    if target.startswith("/") or _DRIVE_RE.match(target):
        raise ScanError(f"refused zip: symlink {info.filename!r} points to an absolute path")
    depth = 0
    for part in (*parts[:-1], *PurePosixPath(target).parts):
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise ScanError(f"refused zip: symlink {info.filename!r} points outside the archive")


def _validate(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ScanError(
            f"refused zip: {len(infos)} entries, more than the limit of {MAX_ZIP_ENTRIES}"
        )
    declared = compressed = 0
    plan = []
    for info in infos:
        parts = _entry_parts(info.filename)
        if info.flag_bits & ZIP_ENCRYPTED_FLAG:
            raise ScanError(f"refused zip: entry {info.filename!r} is encrypted")
        if info.file_size >= RATIO_MIN_BYTES and (
            info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size)
        ):
            raise ScanError(
                f"refused zip: entry {info.filename!r} has a compression ratio above "
                f"{MAX_COMPRESSION_RATIO:g} (possible zip bomb)"
            )
        declared += info.file_size
        compressed += info.compress_size
        if _is_symlink(info):
            _check_symlink(zf, info, parts)
        if parts:
            plan.append((info, parts))
    if declared > MAX_ZIP_TOTAL_BYTES:
        raise ScanError(
            f"refused zip: {declared} uncompressed bytes, more than the limit of "
            f"{MAX_ZIP_TOTAL_BYTES}"
        )
    if declared >= RATIO_MIN_BYTES and declared > MAX_COMPRESSION_RATIO * max(1, compressed):
        raise ScanError(
            f"refused zip: compression ratio above {MAX_COMPRESSION_RATIO:g} (possible zip bomb)"
        )
    return plan


def safe_extract(
    source: str | os.PathLike | bytes | bytearray | BinaryIO, dest: Path
) -> tuple[Path, int]:
    """Extract a zip below ``dest`` after validating every entry.

    Returns ``(root, symlinks_skipped)``, where ``root`` is the single top-level folder when
    the archive has exactly one (GitHub's "Download ZIP" layout), else ``dest``.
    """
    dest = Path(dest).resolve()
    with _open_zip(source) as zf:
        plan = _validate(zf)
        written = 0
        symlinks = 0
        try:
            for info, parts in plan:
                target = dest.joinpath(*parts)
                if not target.resolve().is_relative_to(dest):
                    raise ScanError(f"refused zip: entry {info.filename!r} escapes the folder")
                if _is_symlink(info):
                    symlinks += 1
                    continue
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(COPY_CHUNK_BYTES):
                        written += len(chunk)
                        if written > MAX_ZIP_TOTAL_BYTES:
                            raise ScanError(
                                "refused zip: extraction exceeded the limit of "
                                f"{MAX_ZIP_TOTAL_BYTES} bytes (declared sizes were wrong)"
                            )
                        out.write(chunk)
        except FileExistsError:
            raise ScanError(f"refused zip: entry {info.filename!r} appears twice") from None
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
            msg = f"refused zip: entry {info.filename!r} cannot be read ({exc})"
            raise ScanError(msg) from None
        except OSError as exc:
            msg = f"refused zip: entry {info.filename!r} cannot be written ({exc})"
            raise ScanError(msg) from None
    return _unwrap(dest), symlinks


def _unwrap(dest: Path) -> Path:
    for junk in IGNORED_TOP_LEVEL:
        if (dest / junk).is_dir():
            shutil.rmtree(dest / junk)
    children = list(dest.iterdir())
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return dest


_USERINFO_RE = re.compile(r"//[^/@\s]+@")


def redact_url(url: str) -> str:
    """The URL with any ``user:token@`` part hidden, for messages and results."""
    return _USERINFO_RE.sub("//***@", url)


def clone_git(url: str, dest: Path, *, allow_file: bool) -> None:
    """Shallow-clone ``url`` into the (not yet existing) folder ``dest``; ScanError on failure."""
    git = shutil.which("git")
    if git is None:
        raise ScanError("cannot clone: git is not installed; upload a .zip of the repository")
    env = {
        **os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_ALLOW_PROTOCOL": ":".join(GIT_PROTOCOLS + (("file",) if allow_file else ())),
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
    }
    cmd = [git, "-c", "core.symlinks=false", "clone", "--depth", "1", "--single-branch",
           "--no-tags", "--quiet", "--", url, str(dest)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=GIT_CLONE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ScanError(
            f"could not clone {redact_url(url)}: no answer within {GIT_CLONE_TIMEOUT_S} s; "
            "upload a .zip of the repository instead"
        ) from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        reason = redact_url(lines[-1]) if lines else f"git exited with code {proc.returncode}"
        raise ScanError(
            f"could not clone {redact_url(url)}: {reason}. Cloning needs network access to the "
            "git host (this machine may be offline); upload a .zip of the repository instead"
        )
