"""Fetch registered sources through their package clients, verify every file's SHA-256.

Layout under the data root (see :func:`data_root`)::

    <root>/raw/<name>/<file>            the verified files (git-ignored)
    <root>/raw/<name>/manifest.json     what was fetched, from where, when, with which hashes
    <root>/raw/<name>/.verified.json    cheap re-verification stamp: size + mtime per file

Nothing is downloaded at import time; only :func:`fetch` runs a client. The sources themselves
are listed in :mod:`ibn.data.registry` and described on the Data page.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import registry
from .registry import FileSpec, Source

__all__ = [
    "ChecksumError",
    "MissingDataError",
    "FetchError",
    "data_root",
    "raw_dir",
    "sha256_file",
    "fetch",
    "verify",
    "status",
]

MANIFEST = "manifest.json"
STAMP = ".verified.json"


class ChecksumError(RuntimeError):
    """A stored or downloaded file does not have its pinned SHA-256 (the file has been removed).

    The message names the file, both hashes and the ``ibn data fetch`` command that fetches the
    source again.

    Args:
        path: the file whose hash differs (kept as the attribute ``path``, a
            ``pathlib.Path``).
        expected: the pinned lowercase hex SHA-256 (attribute ``expected``).
        actual: the lowercase hex SHA-256 of the bytes found (attribute ``actual``).
        name: the registered source the file belongs to (attribute ``name``), e.g. ``"mnist"``.
    """

    def __init__(self, path: Path, expected: str, actual: str, name: str) -> None:
        self.path, self.expected, self.actual, self.name = Path(path), expected, actual, name
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            f"The file was removed; run `ibn data fetch {name}` to fetch it again."
        )


class MissingDataError(FileNotFoundError):
    """A source (or one of its files) has not been fetched; the message names the
    ``ibn data fetch`` command that fetches it."""


class FetchError(RuntimeError):
    """A package client (npm, apt-get, dpkg, pip) failed or produced no usable artifact."""


def _repo_root() -> Path | None:
    here = Path(__file__).resolve().parent.parent.parent
    if (here / "pyproject.toml").is_file() or (here / ".git").exists():
        return here
    return None


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data root: ``root`` argument > env ``IBN_DATA`` > ``<repo root>/data`` >
    ``./data``.

    The repository root is the folder holding the ``ibn`` package when it has a
    ``pyproject.toml`` or ``.git`` (an editable checkout); otherwise the current directory.

    Args:
        root: an explicit data root (``~`` is expanded); None = use the environment variable
            ``IBN_DATA`` if set, else the repository's or the current directory's ``data``.

    Returns:
        The data root as a ``pathlib.Path`` (not created, not checked to exist).
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("IBN_DATA")
    if env:
        return Path(env).expanduser()
    repo = _repo_root()
    return (repo if repo is not None else Path.cwd()) / "data"


def raw_dir(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<data root>/raw/<name>``: where the files of source ``name`` live.

    Args:
        name: the registered source name (e.g. ``"mnist"``); not checked against the registry.
        root: the data root, resolved by :func:`data_root` (None = the default root).

    Returns:
        The folder path (not created, not checked to exist).
    """
    return data_root(root) / "raw" / name


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Lowercase hex SHA-256 of a file, read in chunks.

    Args:
        path: the file to hash.
        chunk: bytes read at a time (default 1 MiB); it only bounds memory use, the hash does
            not depend on it.

    Returns:
        The 64-character lowercase hex digest.

    Raises:
        OSError: the file cannot be opened or read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_stamp(path: Path, stamp: dict) -> None:
    """Best effort: a read-only data folder only costs re-hashing next time."""
    try:
        _write_json_atomic(path, stamp)
    except OSError:
        pass


def _fetch_hint(name: str) -> str:
    return f"run `ibn data fetch {name}` (or `ibn.data.fetch({name!r})` in Python)"


# ---------------------------------------------------------------- verification


def _check_file(d: Path, f: FileSpec, stamp: dict, full: bool) -> tuple[str, str | None]:
    """Return (state, actual_hash) for one file: state in {'missing', 'ok', 'bad'}."""
    p = d / f.path
    if not p.is_file():
        return "missing", None
    st = p.stat()
    s = stamp.get(f.path)
    if (
        not full
        and s is not None
        and s.get("size") == st.st_size
        and s.get("mtime_ns") == st.st_mtime_ns
        and s.get("sha256") == f.sha256
    ):
        return "ok", f.sha256
    actual = sha256_file(p)
    if actual == f.sha256:
        stamp[f.path] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": actual}
        return "ok", actual
    return "bad", actual


def verify(name: str, root: str | os.PathLike[str] | None = None, *, full: bool = False) -> Path:
    """Check every file of source ``name`` against its pinned SHA-256 and return its folder.

    A file whose size and mtime match the stamp written at its last successful check is not
    re-hashed unless ``full``.

    Args:
        name: a registered source name (see ``ibn.data.SOURCES``).
        root: the data root, resolved by :func:`data_root` (None = the default root).
        full: re-hash every file even when the stamp says it is unchanged.

    Returns:
        The source's folder ``<data root>/raw/<name>``.

    Raises:
        KeyError: ``name`` is not a registered source.
        MissingDataError: a file of the source is absent.
        ChecksumError: a file's hash differs from the pinned one; the file is removed first.
    """
    src = registry.get_source(name)
    d = raw_dir(name, root)
    stamp_path = d / STAMP
    stamp = _read_json(stamp_path)
    before = dict(stamp)
    try:
        for f in src.files:
            state, actual = _check_file(d, f, stamp, full)
            if state == "missing":
                raise MissingDataError(f"{name} is not fetched: {d / f.path} is missing; {_fetch_hint(name)}")
            if state == "bad":
                (d / f.path).unlink(missing_ok=True)
                stamp.pop(f.path, None)
                raise ChecksumError(d / f.path, f.sha256, actual or "", name)
    finally:
        if stamp != before and d.is_dir():
            _save_stamp(stamp_path, stamp)
    return d


def status(name: str, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Non-destructive state of source ``name``: nothing is removed or downloaded.

    Files not covered by a valid stamp are hashed (and the stamp updated when they match).

    Args:
        name: a registered source name (see ``ibn.data.SOURCES``).
        root: the data root, resolved by :func:`data_root` (None = the default root).

    Returns:
        A dict with ``name``, ``source`` (the client spec, :attr:`Source.spec`), ``state``
        (``"missing"``, ``"partial"``, ``"corrupt"`` or ``"verified"``), ``files`` (the string
        ``"present/total"``), ``bytes`` (total size of the files present), ``fetched_at`` (from
        the manifest, or None) and ``path`` (the source's folder as a string).

    Raises:
        KeyError: ``name`` is not a registered source.
    """
    src = registry.get_source(name)
    d = raw_dir(name, root)
    stamp = _read_json(d / STAMP)
    before = dict(stamp)
    states = [_check_file(d, f, stamp, False)[0] for f in src.files]
    if stamp != before and d.is_dir():
        _save_stamp(d / STAMP, stamp)
    present = sum(s != "missing" for s in states)
    if "bad" in states:
        state = "corrupt"
    elif present == 0:
        state = "missing"
    elif present < len(states):
        state = "partial"
    else:
        state = "verified"
    size = sum((d / f.path).stat().st_size for f, s in zip(src.files, states) if s != "missing")
    return {
        "name": name,
        "source": src.spec,
        "state": state,
        "files": f"{present}/{len(states)}",
        "bytes": size,
        "fetched_at": _read_json(d / MANIFEST).get("fetched_at"),
        "path": str(d),
    }


# ---------------------------------------------------------------- clients


def _run(cmd: list[str], cwd: Path, hint: str = "") -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise FetchError(f"`{cmd[0]}` is not installed or not on PATH (needed for {' '.join(cmd)}). {hint}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-1500:]
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}\n{hint}".rstrip())
    return proc


def _only_file(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise FetchError(f"expected one {what} ({pattern}) in {folder}, found {[p.name for p in found]}")
    return found[0]


def _download(src: Source, tmp: Path) -> Path:
    """Run the source's client in ``tmp``; return the artifact (file or extracted folder)."""
    if src.client == "npm":
        _run(["npm", "pack", "--silent", f"{src.package}@{src.version}"], tmp, "npm must reach the npm registry.")
        return _only_file(tmp, "*.tgz", "npm tarball")
    if src.client == "apt":
        spec = f"{src.package}={src.version}" if src.version else src.package
        _run(
            ["apt-get", "download", spec],
            tmp,
            "If apt cannot locate the package, its lists may be stale: run `apt-get update` (as root) and retry.",
        )
        deb = _only_file(tmp, "*.deb", "Debian package")
        out = tmp / "deb-root"
        out.mkdir()
        _run(["dpkg", "-x", str(deb), str(out)], tmp, "dpkg -x needs no root rights.")
        return out
    if src.client in ("pip", "pip-sdist"):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
        if src.client == "pip-sdist":
            cmd += ["--no-binary", ":all:"]
        dl = tmp / "pip"
        dl.mkdir()
        _run(cmd + ["-d", str(dl), f"{src.package}=={src.version}"], tmp, "pip must reach PyPI (or a mirror).")
        return _only_file(dl, "*", "pip artifact")
    if src.client == "local":
        p = Path(src.package)
        if not p.exists():
            raise FetchError(f"local artifact {p} for source {src.name!r} does not exist")
        return p
    raise FetchError(f"unknown client {src.client!r} for source {src.name!r}")


def _copy_member(container: Path, member: str, out: Path) -> None:
    """Copy ``member`` of a folder, zip or tar archive ``container`` to the file ``out``."""
    if container.is_dir():
        p = container / member
        if not p.is_file():
            raise FetchError(f"{member} not found in {container}")
        shutil.copyfile(p, out)
        return
    if zipfile.is_zipfile(container):
        with zipfile.ZipFile(container) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                raise FetchError(f"{member} not found in {container.name}") from None
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return
    if tarfile.is_tarfile(container):
        with tarfile.open(container) as t:
            try:
                fh = t.extractfile(member)
            except KeyError:
                fh = None
            if fh is None:
                raise FetchError(f"{member} not found (or not a file) in {container.name}")
            with fh, open(out, "wb") as dst:
                shutil.copyfileobj(fh, dst, 1 << 20)
        return
    raise FetchError(f"{container} is neither a folder, a zip nor a tar archive")


def _extract_chain(artifact: Path, chain: tuple[str, ...], out: Path, work: Path) -> None:
    cur = artifact
    for i, member in enumerate(chain):
        target = out if i == len(chain) - 1 else work / f"chain-{i}-{Path(member).name}"
        if i < len(chain) - 1 and target.exists():  # already extracted for a sibling file
            cur = target
            continue
        _copy_member(cur, member, target)
        cur = target


def fetch(name: str, *, root: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Fetch source ``name`` into ``<root>/raw/<name>/`` and return that folder.

    Idempotent: when every file is present and verified, nothing is downloaded (unless
    ``force``).  Every extracted file is hashed before it is moved into place, and a
    ``manifest.json`` records what was fetched, from where and with which hashes.

    Args:
        name: a registered source name (see ``ibn.data.SOURCES``; the Data page
            describes each).
        root: the data root, resolved by :func:`data_root` (None = the default root).
        force: download and re-extract every file even when the stored ones verify.

    Returns:
        The source's folder ``<data root>/raw/<name>``.

    Raises:
        KeyError: ``name`` is not a registered source.
        FetchError: the package client is missing or fails, or the artifact lacks a member.
        ChecksumError: an extracted file does not have its pinned hash; nothing of it is kept.
    """
    src = registry.get_source(name)
    d = raw_dir(name, root)
    if not force:
        try:
            return verify(name, root)
        except (MissingDataError, ChecksumError):
            pass  # (re)fetch below; a bad file was removed by verify
    d.mkdir(parents=True, exist_ok=True)
    for part in d.rglob("*.part"):
        part.unlink()
    stamp = {} if force else _read_json(d / STAMP)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"ibn-fetch-{name}-") as tmpname:
        tmp = Path(tmpname)
        artifact = _download(src, tmp)
        for f in src.files:
            dest = d / f.path
            if not force and _check_file(d, f, stamp, False)[0] == "ok":
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            try:
                _extract_chain(artifact, f.member, part, tmp)
                actual = sha256_file(part)
                if actual != f.sha256:
                    raise ChecksumError(dest, f.sha256, actual, name)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            os.replace(part, dest)
            st = dest.stat()
            stamp[f.path] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": f.sha256}
    seconds = time.perf_counter() - t0
    _write_json_atomic(d / STAMP, stamp)
    _write_json_atomic(
        d / MANIFEST,
        {
            "name": name,
            "source": src.spec,
            "description": src.description,
            "license": src.license,
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "files": {f.path: f.sha256 for f in src.files},
        },
    )
    return d
