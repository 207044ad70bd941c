"""Verdicts as data: one record per claim, written by the chapter that judges it.

A record says whether a claim of paper A or B holds, in one of four categories, with the
setups it was judged on and the positive control that shows the rule can fire (the book's
"How a claim is judged" section of the introduction). Chapters write
``data/verdicts/<chapter>.json`` at ``book`` scale (committed) and
``data/verdicts/<scale>/<chapter>.json`` at other scales; :func:`load_all` reads every record
for the book's claims table.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibn.data import data_root
from ibn.results import git_info, hardware, write_atomically

__all__ = ["CATEGORIES", "OUTCOMES", "Control", "Verdict", "categorize", "write", "load_all",
           "records_for", "verdict_path", "table", "header"]

CATEGORIES = ("reproduced", "partly reproduced", "not reproduced", "inconclusive")
OUTCOMES = ("detected", "missed", "none")


@dataclass(frozen=True)
class Control:
    """A positive control: ``kind`` (what was planted), ``outcome`` (detected / missed / none)
    and ``why`` (one sentence with its numbers)."""

    kind: str
    outcome: str
    why: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"control outcome must be one of {OUTCOMES}, got {self.outcome!r}")


@dataclass(frozen=True)
class Verdict:
    """One claim's record (fields as in the book's claims table)."""

    claim: str
    paper: str
    figure: str
    statement: str
    verdict: str
    why: str
    scale: str
    setups: Sequence[Mapping[str, Any]]
    control: Control
    chapter: str
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.paper not in ("A", "B"):
            raise ValueError(f"paper must be 'A' or 'B', got {self.paper!r}")
        if self.verdict not in CATEGORIES:
            raise ValueError(f"verdict must be one of {CATEGORIES}, got {self.verdict!r}")
        if self.scale not in ("smoke", "book", "paper"):
            raise ValueError(f"scale must be smoke, book or paper, got {self.scale!r}")
        if not self.claim or not self.claim.startswith(self.paper + "."):
            raise ValueError(f"claim id must start with '{self.paper}.', got {self.claim!r}")
        for s in self.setups:
            missing = {"model", "dataset", "n_players", "n_samples"} - set(s)
            if missing:
                raise ValueError(f"setup of {self.claim} lacks {sorted(missing)}")
        if self.verdict == "not reproduced" and self.control.outcome != "detected":
            raise ValueError(f"{self.claim}: 'not reproduced' needs a control that detected the "
                             f"effect (got {self.control.outcome!r}); say 'inconclusive'")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["setups"] = [dict(s) for s in self.setups]
        d["provenance"] = dict(self.provenance)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Verdict":
        d = dict(d)
        d["control"] = Control(**d["control"])
        return cls(**d)


def categorize(present: Sequence[bool], control: Control, *, powered: bool) -> str:
    """The category from whether the effect was present in each setup, the control, and
    whether the run had power at the paper's protocol (VERDICTS rules: a missed control or an
    underpowered absence is inconclusive)."""
    if control.outcome != "detected" or not present:
        return "inconclusive"
    if all(present):
        return "reproduced"
    if any(present):
        return "partly reproduced"
    return "not reproduced" if powered else "inconclusive"


def verdict_path(chapter: str, scale: str, root: str | os.PathLike[str] | None = None) -> Path:
    base = data_root(root) / "verdicts"
    stem = Path(chapter).stem
    return base / f"{stem}.json" if scale == "book" else base / scale / f"{stem}.json"


def write(records: Iterable[Verdict], *, root: str | os.PathLike[str] | None = None,
          elapsed_s: float | None = None) -> Path:
    """Write the records of one chapter (all of one scale) atomically; returns the path.
    Each record's provenance gets the commit, date and hardware unless it has them."""
    recs = list(records)
    if not recs:
        raise ValueError("no verdict records to write")
    chapters, scales = {r.chapter for r in recs}, {r.scale for r in recs}
    if len(chapters) != 1 or len(scales) != 1:
        raise ValueError(f"records of one chapter and one scale expected, got {chapters}, {scales}")
    import datetime as _dt

    base = {"git": git_info(), "hardware": hardware(),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
            "elapsed_s": elapsed_s}
    out = [{**r.to_dict(), "provenance": {**base, **dict(r.provenance)}} for r in recs]
    path = verdict_path(chapters.pop(), scales.pop(), root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1, sort_keys=False) + "\n"
    write_atomically([(path, lambda p: p.write_text(text))])
    return path


def load_all(scale: str = "book", *, root: str | os.PathLike[str] | None = None) -> list[Verdict]:
    """Every record of ``scale`` under ``data/verdicts`` (sorted by claim id)."""
    path = verdict_path("x", scale, root).parent
    recs: list[Verdict] = []
    for f in sorted(path.glob("*.json")):
        recs += [Verdict.from_dict(d) for d in json.loads(f.read_text())]
    return sorted(recs, key=lambda r: r.claim)


def records_for(prefixes: Sequence[str], scale: str = "book", *,
                root: str | os.PathLike[str] | None = None) -> list[Verdict]:
    """The records of ``scale`` whose claim id starts with one of ``prefixes`` (for a chapter
    that explores claims another chapter judges: it shows their verdicts first)."""
    return [r for r in load_all(scale, root=root) if r.claim.startswith(tuple(prefixes))]


_COLOURS = {"reproduced": "#c8e6c9", "partly reproduced": "#fff3c4", "not reproduced": "#ffcdd2",
            "inconclusive": "#e0e0e0"}


def table(records: Sequence[Verdict], *, link: bool = False):
    """The records as a styled table (claim, figure, verdict with its colour, why, setups,
    control; with ``link``, the chapter that wrote each record, linked)."""
    import pandas as pd

    rows = []
    for r in records:
        setups = ", ".join(f"{s['model']}/{s['dataset']}" for s in r.setups)
        n = sorted({s["n_players"] for s in r.setups})
        samples = sorted({s["n_samples"] for s in r.setups})
        chapter = Path(r.chapter).stem
        rows.append({"claim": r.claim, "figure": r.figure, "verdict": r.verdict, "why": r.why,
                     "setups": f"{setups} (n = {'/'.join(map(str, n))}, "
                               f"{'/'.join(map(str, samples))} samples, {r.scale})",
                     "control": r.control.outcome,
                     **({"chapter": f'<a href="{chapter}.html">{chapter}</a>'} if link else {})})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return (df.style.hide(axis="index")
            .map(lambda v: f"background-color: {_COLOURS.get(v, '')}", subset=["verdict"])
            .set_properties(**{"text-align": "left", "white-space": "normal"}))


def _setups_line(records: Sequence[Verdict]) -> str:
    """"resnet20/mnist, vgg11/mnist (n = 10, 50 samples; book scale)" over all ``records``."""
    seen: dict[str, None] = {}
    n: set[int] = set()
    samples: set[int] = set()
    for r in records:
        for s in r.setups:
            seen[f"{s['model']}/{s['dataset']}"] = None
            n.add(int(s["n_players"]))
            samples.add(int(s["n_samples"]))
    scales = sorted({r.scale for r in records})
    return (f"{', '.join(seen)} (n = {'/'.join(map(str, sorted(n)))}, "
            f"{'/'.join(map(str, sorted(samples)))} samples; {'/'.join(scales)} scale)")


def header(records: Sequence[Verdict], *, departures: str, reading: str, link: bool = False):
    """The box every chapter opens with: each claim and its verdict (coloured), the setups and
    scale it was judged at, the departures from the paper's protocol, how to read the main
    figure; then the records' table (:func:`table`). ``link``: the records come from another
    chapter (linked in the box and the table). An HTML object for the notebook."""
    from html import escape

    from IPython.display import HTML

    rows = []
    for r in records:
        colour = _COLOURS.get(r.verdict, "#ffffff")
        where = (f' (judged in <a href="{Path(r.chapter).stem}.html">{Path(r.chapter).stem}</a>)'
                 if link else "")
        rows.append(f"<tr><th>{escape(r.figure)}</th><td>{escape(r.statement)} "
                    f'<span class="ibn-verdict" style="background-color: {colour}">'
                    f"{escape(r.verdict)}</span>{where}"
                    f'<div class="ibn-why">{escape(r.why)}</div></td></tr>')
    if not records:
        rows.append("<tr><th>Verdict</th><td>no record at <code>book</code> scale yet</td></tr>")
    else:
        rows.append(f"<tr><th>Judged on</th><td>{escape(_setups_line(records))}</td></tr>")
    rows.append(f"<tr><th>Departures</th><td>{escape(departures)}</td></tr>")
    rows.append(f"<tr><th>Main figure</th><td>{escape(reading)}</td></tr>")
    box = ('<div class="ibn-header"><p class="ibn-header-title">At a glance</p>'
           f'<table class="ibn-header-table">{"".join(rows)}</table></div>')
    details = table(records, link=link) if records else None
    more = details.to_html() if details is not None and hasattr(details, "to_html") else ""
    return HTML(box + (f'<details class="ibn-records"><summary>Each record: why, setups, '
                       f"positive control</summary>{more}</details>" if more else ""))
