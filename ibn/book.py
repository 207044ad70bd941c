"""Small helpers the book's notebooks call: per-scale settings and provenance tables.

Every notebook has a papermill ``parameters`` cell with ``scale = "smoke"`` (one of
:data:`SCALES`) and picks its settings with :func:`scale_params`; after computing (or loading a
cached) result it calls :func:`show_provenance` so the page says where the numbers come from.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["SCALES", "scale_params", "provenance", "provenance_rows", "show_provenance"]

#: The three run sizes of every notebook. ``smoke`` takes seconds (CI), ``book`` gives the
#: published pages (minutes on a laptop or one GPU), ``paper`` uses the papers' own settings.
SCALES = ("smoke", "book", "paper")


def scale_params(scale: str, presets: Mapping[str, Mapping[str, Any]], **overrides) -> dict:
    """The settings of ``presets[scale]`` (a copy), updated by ``overrides``; a frozen spec
    (a mapping with ``replace``, such as ``papers.specs.Spec``) comes back as a changed copy of
    itself.

    ``presets`` maps each scale name to a dict of settings, e.g.
    ``{"smoke": {"n": 6}, "book": {"n": 10}, "paper": {"n": 10, "samples": 50}}``.
    Overrides whose value is ``None`` are ignored (handy for optional papermill parameters).

    Args:
        scale: one of :data:`SCALES`.
        presets: ``{scale name: settings}``, a dict (or a frozen spec) of settings per scale.
        **overrides: settings that replace those of the preset (None values are ignored).

    Returns:
        a new dict of settings, or a changed copy of a frozen spec.

    Raises:
        ValueError: an unknown scale, or one that ``presets`` does not define (naming the
            choices).

    >>> scale_params("smoke", {"smoke": {"n": 4}, "book": {"n": 8}})
    {'n': 4}
    """
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    if scale not in presets:
        raise ValueError(
            f"this notebook defines no settings for scale {scale!r} "
            f"(it defines: {', '.join(presets) or 'none'})"
        )
    preset = presets[scale]
    if callable(getattr(preset, "replace", None)) and isinstance(preset, Mapping):
        return preset.replace(**overrides)  # a frozen spec: a changed copy, None left out
    params = dict(preset)
    params.update({k: v for k, v in overrides.items() if v is not None})
    return params


def _load_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def provenance(result_or_params: Any, params: Mapping | None = None) -> dict:
    """The provenance record (the one schema :func:`ibn.results.provenance` writes) of a cached
    result: its *name* with its ``params`` (looked up with ``ibn.results.load_provenance``), a
    path to the ``.json`` written beside a result (or to the result, ``x.pt`` -> ``x.json``),
    or the record itself (a dict; a result's ``.json`` holds it under ``"provenance"``).

    Args:
        result_or_params: a result's name (with ``params``), a path to a result's ``.json`` or
            ``.pt``, or a provenance record (a dict, or a result's whole ``.json`` record).
        params: the result's settings when ``result_or_params`` is its name; None otherwise.

    Returns:
        the provenance record, a new dict.

    Raises:
        FileNotFoundError: no ``.json`` for the path, or no stored result for the name and
            params.
        TypeError: ``result_or_params`` is none of these.
    """
    obj = result_or_params
    if params is not None:
        from ibn.results import load_provenance

        obj = load_provenance(result_or_params, params)
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        cand = path if path.suffix == ".json" else path.with_suffix(".json")
        if not cand.is_file():
            raise FileNotFoundError(f"no provenance .json for {path}")
        obj = _load_json(cand)
    if not isinstance(obj, Mapping):
        raise TypeError(f"cannot find provenance in a {type(obj).__name__}: pass a record (dict), "
                        "a path, or a result name with its params")
    inner = obj.get("provenance")
    return dict(inner) if isinstance(inner, Mapping) else dict(obj)


def _first(record: Mapping, *keys, default=None):
    """The first present, non-empty value among dotted ``keys`` of ``record``."""
    for key in keys:
        node: Any = record
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                node = None
                break
        if node not in (None, "", {}):
            return node
    return default


def _fmt_seconds(seconds) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _fmt_date(value) -> str:
    """An ISO-8601 time as ``YYYY-MM-DD HH:MM UTC`` (other values unchanged)."""
    try:
        when = _dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(_dt.timezone.utc)
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def _fmt_hardware(hw) -> str:
    if isinstance(hw, Mapping):
        parts = [str(hw[k]) for k in ("gpu", "device", "cuda_device", "cpu", "processor")
                 if hw.get(k)]
        if hw.get("cores") and not any("cores" in p for p in parts):
            parts.append(f"{hw['cores']} cores")
        return ", ".join(dict.fromkeys(parts)) or json.dumps(hw, sort_keys=True)
    return str(hw)


def provenance_rows(result_or_params: Any, params: Mapping | None = None
                    ) -> list[tuple[str, str]]:
    """(field, value) rows of a provenance record: scale, commit, date, hardware, run time.

    Args:
        result_or_params: what :func:`provenance` takes: a result's name (with ``params``), a
            path, or a record.
        params: the result's settings when ``result_or_params`` is its name; None otherwise.

    Returns:
        ``(field, value)`` string pairs; a missing field's value is ``"?"``. A record that says
        whether it came from the cache adds a ``"from cache"`` row.
    """
    rec = provenance(result_or_params, params)
    scale = _first(rec, "scale", default="?")
    commit = _first(rec, "git.commit", default="?")
    dirty = _first(rec, "git.dirty")
    commit = str(commit)[:12] + (" (dirty)" if dirty else "")
    date = _first(rec, "end", "start", default="?")
    hardware = _first(rec, "hardware", default=None)
    hardware = _fmt_hardware(hardware) if hardware is not None else "?"
    elapsed = _first(rec, "elapsed_s")
    rows = [
        ("scale", str(scale)),
        ("commit", commit),
        ("date", _fmt_date(date)),
        ("hardware", hardware),
        ("run time", _fmt_seconds(elapsed) if elapsed is not None else "?"),
    ]
    if rec.get("cached") is not None:
        rows.append(("from cache", str(bool(rec["cached"]))))
    return rows


def show_provenance(result_or_params: Any, params: Mapping | None = None
                    ) -> list[tuple[str, str]]:
    """Print a provenance table (scale, commit, date, hardware, run time) and return its rows.

    Missing fields print as ``?``.

    Args:
        result_or_params: what :func:`provenance` takes: a result's name (with ``params``), a
            path, or a record; e.g. ``show_provenance("bottleneck_curves", params)`` for a
            result of :func:`ibn.results.cached`.
        params: the result's settings when ``result_or_params`` is its name; None otherwise.

    Returns:
        the rows of :func:`provenance_rows`.
    """
    rows = provenance_rows(result_or_params, params)
    width = max(len(k) for k, _ in rows)
    if all(value.startswith("?") for key, value in rows if key != "scale"):
        print("(no provenance fields found: pass the record written beside a cached result)")
    print("provenance")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return rows
