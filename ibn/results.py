"""Cached experiment results with provenance.

A result is a dict of tensors, numpy arrays, scalars, strings, lists/tuples and nested dicts,
computed from JSON-serializable ``params``.  It is stored as::

    <data root>/results/<name>/<hash>.pt     the result (torch.save; loaded with weights_only=True)
    <data root>/results/<name>/<hash>.json   name, params, provenance, top-level scalars

where ``<hash>`` is the first 12 hex digits of the SHA-256 of the canonical JSON of
``params`` (its key, :func:`key_params`: an entry ``scale`` — smoke / book / paper — anywhere in
``params`` is a label of the run, recorded in the provenance and left out of the key).
``data/results/`` is committed to git, so results should stay small (a warning is given above
5 MB); a large tensor that is mostly zeros (the sparsest AND-OR effects of many games) is stored
as its nonzero entries and the gaps between their flat positions, both compressed as below, and a
large dense one as its bytes, grouped by significance and compressed (xz; zlib in older results;
the byte order recorded); both are loaded back dense, bit for bit (a checkout older than these
forms loads them as the dicts they are stored as).  Both files
are first written to temporaries beside them, then renamed (``os.replace``), the ``.json``
before the ``.pt``: an interrupted run leaves the old result or none, never a corrupt one, and a
``.pt`` always has its provenance beside it.

``root`` arguments name the data root (:func:`ibn.data.fetch.data_root`); None = the
environment variable ``IBN_DATA``, else the repository's ``data`` folder.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import platform
import re
import shutil
import subprocess
import tempfile
import sys
import time
import zlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data.fetch import _repo_root, data_root

__all__ = [
    "params_hash",
    "key_params",
    "scale_label",
    "hardware",
    "git_info",
    "provenance",
    "result_path",
    "cached",
    "Parts",
    "load_result",
    "load_provenance",
    "list_results",
    "write_atomically",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: the results this process has computed and stored (``IBN_RECOMPUTE=1`` recomputes each once)
_COMPUTED_HERE: set[Path] = set()
_ND = "__ndarray__"
_SPARSE = "__mostly_zeros__"
_DEFLATED = "__deflated__"
SIZE_WARNING_BYTES = 5 * 2**20
#: a floating tensor of at least this many entries, at least this share of them zeros, is stored
#: as its nonzero entries (the gaps between their flat positions and their values, compressed;
#: loaded back dense, bit for bit); at half zeros that form is already the smaller one, since the
#: grouped dense form repeats the zero pattern in every byte group
SPARSE_MIN_ENTRIES, SPARSE_MIN_ZEROS = 1 << 14, 0.5
#: any other floating tensor of at least SPARSE_MIN_ENTRIES entries is stored compressed when that
#: saves at least this share of its bytes
DEFLATE_MIN_SAVING = 0.1


# ---------------------------------------------------------------- params and hashes


def _jsonable(obj: Any, where: str = "params") -> Any:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r}")
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where}: {type(obj).__name__} is not JSON-serializable; use numbers, strings, lists and dicts")


def _canonical(params: Mapping[str, Any]) -> str:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    return json.dumps(_jsonable(params), sort_keys=True, separators=(",", ":"), allow_nan=True)


#: the entry of ``params`` (at any depth) that names the scale a run was made for: a label, not
#: part of the key (:func:`key_params`)
SCALE_LABEL = "scale"


def key_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without its :data:`SCALE_LABEL` entries, at every depth of nested dicts: what
    names a result (the same settings at two scales are one result).

    Args:
        params: the settings of a run, a dict (nested dicts and lists are searched too).

    Returns:
        a new dict without the ``scale`` entries.

    Raises:
        TypeError: ``params`` is not a dict.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")

    def strip(obj: Any) -> Any:
        if isinstance(obj, Mapping):
            return {k: strip(v) for k, v in obj.items() if k != SCALE_LABEL}
        if isinstance(obj, (list, tuple)):
            return [strip(v) for v in obj]
        return obj

    return strip(params)


def scale_label(params: Mapping[str, Any]) -> str | None:
    """The :data:`SCALE_LABEL` of ``params``: the top level first, then nested dicts.

    Args:
        params: the settings of a run, a dict.

    Returns:
        the scale as a string (``"smoke"``, ``"book"`` or ``"paper"``), or None if absent.
    """
    if params.get(SCALE_LABEL) is not None:
        return str(params[SCALE_LABEL])
    for value in params.values():
        if isinstance(value, Mapping) and (found := scale_label(value)) is not None:
            return found
    return None


def params_hash(params: Mapping[str, Any]) -> str:
    """The first 12 hex digits of the SHA-256 of the canonical (sorted-key) JSON of the key of
    ``params`` (:func:`key_params`).

    Args:
        params: the settings of a run, a dict of JSON-serializable values (string keys).

    Returns:
        a 12-character lower-case hex string.

    Raises:
        TypeError: ``params`` is not a dict, or holds something that is not JSON-serializable.
    """
    return hashlib.sha256(_canonical(key_params(params)).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- provenance


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware() -> dict[str, Any]:
    """A hostname-free description of this machine and its software.

    Returns:
        a dict: ``cpu`` (the CPU model), ``cores``, ``torch_threads``, ``os``, ``python``,
        ``torch``, ``numpy``, ``cuda_device`` and ``cuda_version`` (None without CUDA).
    """
    cuda = torch.cuda.is_available()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
        "cuda_version": torch.version.cuda if cuda else None,
    }


def git_info(repo: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The commit of the ibn checkout and whether its tracked files are changed.

    Args:
        repo: the folder of the git checkout; None = the project's repository root (else the
            current folder).

    Returns:
        ``{"commit": sha or None, "dirty": bool or None}`` (None where git gives no answer).
    """
    cwd = Path(repo) if repo is not None else (_repo_root() or Path.cwd())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=20
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=20
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(
    params: Mapping[str, Any],
    *,
    scale: str | None = None,
    start: str | None = None,
    end: str | None = None,
    elapsed_s: float | None = None,
) -> dict[str, Any]:
    """The provenance record, the project's one schema: ``scale`` (smoke / book / paper, or
    None), ``params``, ``params_hash``, ``ibn_version``, ``git`` (commit, dirty),
    ``hardware``, ``start``, ``end`` (ISO-8601 UTC; ``end`` defaults to now, ``start`` to
    ``end``) and ``elapsed_s``. The scale is recorded here, not hashed with the params:
    ``scale`` or, when None, the params' own label (:func:`scale_label`); ``params`` is their key
    (:func:`key_params`).

    Args:
        params: the settings of the run, a dict of JSON-serializable values.
        scale: the scale the run was made for (``"smoke"``, ``"book"`` or ``"paper"``); None =
            the label in ``params``, if any.
        start: when the run started, an ISO-8601 UTC string; None = ``end``.
        end: when it ended, an ISO-8601 UTC string; None = now.
        elapsed_s: the run time in seconds (rounded to ms), or None.

    Returns:
        the record, a JSON-serializable dict.
    """
    from . import __version__

    end = end or _now()
    return {
        "scale": scale if scale is not None else scale_label(params),
        "params": _jsonable(key_params(params)),
        "params_hash": params_hash(params),
        "ibn_version": __version__,
        "git": git_info(),
        "hardware": hardware(),
        "start": start or end,
        "end": end,
        "elapsed_s": None if elapsed_s is None else round(float(elapsed_s), 3),
    }


# ---------------------------------------------------------------- encoding results


def _encode(obj: Any, where: str = "result") -> Any:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        return _pack(obj.detach().cpu().clone())
    if isinstance(obj, np.ndarray):
        if obj.dtype == object or obj.dtype.kind in "USV":
            raise TypeError(f"{where}: numpy arrays of dtype {obj.dtype} cannot be stored; use a list")
        return {_ND: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r}")
            if k in (_ND, _SPARSE, _DEFLATED):
                raise ValueError(f"{where}: the key {k!r} is reserved")
            out[k] = _encode(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return tuple(_encode(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(
        f"{where}: cannot store {type(obj).__name__}; results hold tensors, numpy arrays, scalars, "
        f"strings, lists/tuples and dicts with string keys"
    )


def _pack(t: torch.Tensor) -> Any:
    """``t`` itself, or, for a large floating tensor, a smaller form that ``_decode`` rebuilds
    bit for bit: when at least SPARSE_MIN_ZEROS of its entries are zeros, its shape, the gaps
    between the flat positions of its nonzero entries and their values, each compressed like a
    dense tensor (-0.0 counts as nonzero so that its sign bit is kept; ``_unpack``); otherwise,
    when that saves enough, its bytes grouped by significance (byte k of every entry together)
    and compressed (``_inflate``)."""
    if not t.is_floating_point() or t.numel() < SPARSE_MIN_ENTRIES or t.numel() >= 2**31:
        return t
    if t.element_size() == 1:  # float8: no signbit
        return _deflate(t)
    flat = t.reshape(-1)
    keep = (flat != 0) | torch.signbit(flat)
    if int(keep.sum()) > (1 - SPARSE_MIN_ZEROS) * flat.numel():
        return _deflate(t)
    pos = keep.nonzero().flatten()
    gaps = torch.diff(pos, prepend=pos.new_zeros(1)).to(torch.int32)
    return {_SPARSE: {"shape": list(t.shape), "gaps": _deflate(gaps), "values": _deflate(flat[pos])}}


def _deflate(t: torch.Tensor) -> Any:
    """``t``'s bytes grouped by significance and xz-compressed, or ``t`` itself when that saves
    less than DEFLATE_MIN_SAVING of them."""
    raw = t.contiguous().reshape(-1).view(torch.uint8).reshape(-1, t.element_size()).T.contiguous()
    packed = lzma.compress(raw.numpy().tobytes())
    if len(packed) > (1 - DEFLATE_MIN_SAVING) * raw.numel():
        return t
    return {_DEFLATED: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."),
                        "byteorder": sys.byteorder, "codec": "xz",
                        "bytes": torch.frombuffer(bytearray(packed), dtype=torch.uint8)}}


def _unpack(packed: Mapping[str, Any]) -> torch.Tensor:
    values = _decode(packed["values"])
    if "gaps" in packed:
        positions = _decode(packed["gaps"]).long().cumsum(0)
    else:  # stored before the gaps were
        positions = packed["positions"].long()
    out = torch.zeros(int(np.prod(packed["shape"])), dtype=values.dtype)
    out[positions] = values
    return out.reshape(packed["shape"])


def _inflate(packed: Mapping[str, Any]) -> torch.Tensor:
    dtype = getattr(torch, packed["dtype"])
    decompress = lzma.decompress if packed.get("codec") == "xz" else zlib.decompress
    raw = torch.frombuffer(bytearray(decompress(packed["bytes"].numpy().tobytes())), dtype=torch.uint8)
    width = torch.empty((), dtype=dtype).element_size()
    groups = raw.reshape(width, -1)
    if packed["byteorder"] != sys.byteorder:  # the groups run from the other end of each entry
        groups = groups.flip(0)
    return groups.T.contiguous().view(dtype).reshape(packed["shape"])


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ND}:
            return obj[_ND].numpy()
        if set(obj) == {_SPARSE}:
            return _unpack(obj[_SPARSE])
        if set(obj) == {_DEFLATED}:
            return _inflate(obj[_DEFLATED])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_decode(v) for v in obj)
    return obj


def _scalars(result: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in result.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_complex():
            v = v.item()
        if v is None or isinstance(v, (bool, int, float, str)):
            if isinstance(v, str) and len(v) > 200:
                continue
            out[k] = v
    return out


# ---------------------------------------------------------------- storage


def result_path(name: str, params: Mapping[str, Any], root: str | os.PathLike[str] | None = None) -> Path:
    """Where the result ``(name, params)`` is stored.

    Args:
        name: the result's name: letters, digits, ``_``, ``.`` and ``-``, starting with a
            letter or digit.
        params: its settings (:func:`params_hash` of them names the file).
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        ``<data root>/results/<name>/<params hash>.pt`` (the ``.json`` sits beside it).

    Raises:
        ValueError: ``name`` is not a valid name.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"result name must match {_NAME_RE.pattern} (letters, digits, _ . -), got {name!r}")
    return data_root(root) / "results" / name / f"{params_hash(params)}.pt"


def _umask() -> int:
    """The process's umask: read from /proc where it is shown, else set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tmp_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path``, with the mode an ordinary new file gets
    (0o666 less the umask) rather than mkstemp's 0o600, so the renamed result has it too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


def write_atomically(writes: Sequence[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write each target through ``write(temporary)`` to a temporary beside it (mode from the
    umask), then rename them into place in the given order; after a failure or an interrupt the
    temporaries are removed and no target is left half-written.

    Args:
        writes: ``(target, write)`` pairs: ``write(path)`` writes the content of ``target`` to
            the temporary file ``path`` (the target's folder is created when missing).
    """
    tmps: list[Path] = []
    try:
        for target, write in writes:
            tmps.append(_tmp_beside(target))
            write(tmps[-1])
        for (target, _), tmp in zip(writes, tmps):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def _save(name: str, params: Mapping[str, Any], result: Mapping[str, Any], prov: dict, root) -> Path:
    """Write both files atomically, the ``.json`` renamed into place before the ``.pt``."""
    path = result_path(name, params, root)
    encoded = _encode(dict(result))
    meta = {
        "name": name,
        "params_hash": params_hash(params),
        "params": _jsonable(key_params(params)),
        "provenance": prov,
        "keys": sorted(result),
        "scalars": _scalars(result),
    }
    text = json.dumps(meta, indent=1, sort_keys=True) + "\n"
    write_atomically([(path.with_suffix(".json"), lambda p: p.write_text(text)),
                      (path, lambda p: torch.save(encoded, p))])
    size = path.stat().st_size
    if size > SIZE_WARNING_BYTES:
        warnings.warn(f"result {path} is {size / 2**20:.1f} MB; data/results is committed to git, keep results small")
    return path


def _load_pt(path: Path) -> dict[str, Any]:
    """A stored result or part, decoded (numpy arrays back as numpy, tensors on the CPU)."""
    return _decode(torch.load(path, map_location="cpu", weights_only=True))


def load_result(
    name: str,
    params: Mapping[str, Any],
    *,
    root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Load a stored result (numpy arrays come back as numpy, tensors as CPU tensors).

    Args:
        name: the result's name.
        params: its settings.
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        the result dict, as ``compute()`` returned it to :func:`cached`.

    Raises:
        FileNotFoundError: no result is stored for these params (the message names the path).
    """
    path = result_path(name, params, root)
    if not path.is_file():
        raise FileNotFoundError(f"no stored result {name!r} for params {_canonical(params)} (expected {path})")
    return _load_pt(path)


def load_provenance(
    name: str, params: Mapping[str, Any], *, root: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The ``.json`` record stored beside a result.

    Args:
        name: the result's name.
        params: its settings.
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        the record: ``name``, ``params_hash``, ``params``, ``provenance`` (:func:`provenance`),
        ``keys`` (the result's keys) and ``scalars`` (its top-level scalar entries).

    Raises:
        FileNotFoundError: no record is stored for these params.
    """
    path = result_path(name, params, root).with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"no provenance for result {name!r} (expected {path})")
    return json.loads(path.read_text())


class Parts:
    """The finished parts of one result whose ``compute`` is still running, so that an interrupted
    run resumes where it stopped.

    ``Parts(name, params).get(key, compute_part)`` returns part ``key``'s stored dict, or runs
    ``compute_part()``, stores its dict (atomically, as a result is) and returns it. The parts lie
    in ``<data root>/results/<name>/.parts-<params hash>/``; :func:`cached` removes them once the
    whole result is saved, and before it starts when asked to recompute.

    Args:
        name: the result's name, as given to :func:`cached`.
        params: its settings, as given to :func:`cached`.
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Raises:
        ValueError: ``name`` is not a valid result name.
    """

    def __init__(self, name: str, params: Mapping[str, Any], *,
                 root: str | os.PathLike[str] | None = None) -> None:
        path = result_path(name, params, root)
        self.folder = path.parent / f".parts-{path.stem}"

    def _path(self, key: str | int) -> Path:
        key = str(key)
        if not _NAME_RE.match(key):
            raise ValueError(f"part key must match {_NAME_RE.pattern}, got {key!r}")
        return self.folder / f"{key}.pt"

    def done(self) -> list[str]:
        """The keys of the stored parts.

        Returns:
            the keys, as strings, sorted.
        """
        return sorted(p.stem for p in self.folder.glob("*.pt")) if self.folder.is_dir() else []

    def get(self, key: str | int, compute_part: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        """Part ``key``: loaded when stored, else computed and stored.

        Args:
            key: the part's name: letters, digits, ``_``, ``.`` and ``-`` (an int is taken as
                its decimal string).
            compute_part: a function of no arguments that returns the part's dict (the same
                kinds of values as a result).

        Returns:
            the part's dict, decoded as :func:`load_result` decodes a result.

        Raises:
            ValueError: ``key`` is not a valid part name.
            TypeError: ``compute_part()`` does not return a dict.
        """
        path = self._path(key)
        if path.is_file():
            return _load_pt(path)
        part = compute_part()
        if not isinstance(part, Mapping):
            raise TypeError(f"compute_part() for part {key!r} must return a dict, got {type(part).__name__}")
        encoded = _encode(dict(part))
        write_atomically([(path, lambda p: torch.save(encoded, p))])
        return _decode(encoded)

    def clear(self) -> None:
        """Remove the stored parts."""
        shutil.rmtree(self.folder, ignore_errors=True)


def cached(
    name: str,
    params: Mapping[str, Any],
    compute: Callable[[], Mapping[str, Any]],
    *,
    root: str | os.PathLike[str] | None = None,
    recompute: bool = False,
    scale: str | None = None,
) -> dict[str, Any]:
    """Return the stored result for ``(name, params)``, or run ``compute()`` and store it with
    provenance.

    ``scale`` is recorded in the provenance (not in the key: the params alone name a result,
    and a ``scale`` entry in them is a label, :func:`key_params`).

    ``compute`` takes no arguments (close over ``params``) and returns a dict.  With
    ``recompute=True``, or the environment variable ``IBN_RECOMPUTE=1`` (used by CI so that
    every notebook really computes at smoke scale), the stored result is ignored and overwritten;
    under the environment variable, once per process (a result this process has already
    computed, as the input of several others, is loaded).
    A ``compute`` that keeps its finished parts in :class:`Parts` (same ``name`` and ``params``)
    resumes from them when rerun after an interruption; they are removed once the result is
    saved, and before ``compute`` starts when recomputing.

    Args:
        name: the result's name: letters, digits, ``_``, ``.`` and ``-``.
        params: its settings, a dict of JSON-serializable values (:func:`params_hash` of its
            key names the file).
        compute: a function of no arguments that returns the result as a dict of tensors,
            numpy arrays, scalars, strings, lists/tuples and nested dicts with string keys.
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).
        recompute: ignore a stored result and compute it again.
        scale: the scale label recorded in the provenance; None = the one in ``params``.

    Returns:
        the result dict, as loaded back from its file (so a first run and a cached run return
        the same thing).

    Raises:
        ValueError: ``name`` is not a valid name.
        TypeError: ``params`` is not JSON-serializable, or ``compute()`` does not return a
            dict or returns something that cannot be stored.
    """
    path = result_path(name, params, root)
    recompute = recompute or (os.environ.get("IBN_RECOMPUTE", "") not in ("", "0")
                              and path not in _COMPUTED_HERE)
    if not recompute and path.is_file():
        return load_result(name, params, root=root)
    parts = Parts(name, params, root=root)
    if recompute:
        parts.clear()
    start, t0 = _now(), time.perf_counter()
    result = compute()
    elapsed = time.perf_counter() - t0
    if not isinstance(result, Mapping):
        raise TypeError(f"compute() for result {name!r} must return a dict, got {type(result).__name__}")
    prov = provenance(params, scale=scale, start=start, end=_now(), elapsed_s=elapsed)
    _save(name, params, result, prov, root)
    _COMPUTED_HERE.add(path)
    parts.clear()
    return load_result(name, params, root=root)


def list_results(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per stored result, for the reproducibility page.

    Args:
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        the rows, dicts with the keys ``name``, ``params_hash``, ``params``, ``commit``,
        ``dirty``, ``hardware`` (one line), ``cuda_device``, ``start``, ``elapsed_s``,
        ``bytes`` and ``path``, sorted by name then start; empty when there is no results
        folder.
    """
    base = data_root(root) / "results"
    rows = []
    if not base.is_dir():
        return rows
    for js in sorted(base.glob("*/*.json")):
        pt = js.with_suffix(".pt")
        if js.name.startswith(".") or not pt.is_file():
            continue
        try:
            meta = json.loads(js.read_text())
        except ValueError:
            continue
        prov = meta.get("provenance", {})
        hw = prov.get("hardware", {})
        git = prov.get("git", {})
        rows.append(
            {
                "name": meta.get("name", js.parent.name),
                "params_hash": meta.get("params_hash", js.stem),
                "params": meta.get("params"),
                "commit": git.get("commit"),
                "dirty": git.get("dirty"),
                "hardware": f"{hw.get('cpu', '?')} ({hw.get('cores', '?')} cores), torch {hw.get('torch', '?')}",
                "cuda_device": hw.get("cuda_device"),
                "start": prov.get("start"),
                "elapsed_s": prov.get("elapsed_s"),
                "bytes": pt.stat().st_size,
                "path": str(pt),
            }
        )
    rows.sort(key=lambda r: (r["name"], r["start"] or ""))
    return rows
