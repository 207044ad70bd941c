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
           "records_for", "verdict_path", "table", "header", "finding_box"]

CATEGORIES = ("reproduced", "partly reproduced", "not reproduced", "inconclusive")
OUTCOMES = ("detected", "missed", "none")


@dataclass(frozen=True)
class Control:
    """A positive control: a case with a known, planted effect run through the same rule, which
    shows that the rule can fire.

    Args:
        kind: what was planted (one sentence).
        outcome: one of :data:`OUTCOMES`: ``"detected"`` (the rule fired on the planted effect),
            ``"missed"`` (it did not) or ``"none"`` (no control could be run).
        why: one sentence with the control's numbers.

    Raises:
        ValueError: ``outcome`` is not one of :data:`OUTCOMES`.
    """

    kind: str
    outcome: str
    why: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"control outcome must be one of {OUTCOMES}, got {self.outcome!r}")


@dataclass(frozen=True)
class Verdict:
    """One claim's record (fields as in the book's claims table).

    Args:
        claim: the claim's id, starting with the paper's letter and a dot (e.g.
            ``"B.fig2.decay"``).
        paper: ``"A"`` or ``"B"``.
        figure: the paper's figure (or section) the claim belongs to, e.g. ``"Fig. 2"``.
        statement: the claim, in one sentence.
        verdict: one of :data:`CATEGORIES` (see :func:`categorize`).
        why: the numbers behind the verdict, in one or a few sentences.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        setups: one mapping per setup the claim was judged on, each with at least ``model``,
            ``dataset``, ``n_players`` and ``n_samples``.
        control: the positive :class:`Control`.
        chapter: the chapter (notebook) that judges the claim; its stem names the record file
            (:func:`verdict_path`).
        provenance: the commit, date, hardware and run time (filled in by :func:`write`).

    Raises:
        ValueError: a ``paper``, ``verdict`` or ``scale`` out of its values, a ``claim`` id
            that does not start with the paper's letter, a setup without one of the four keys,
            or a ``"not reproduced"`` verdict whose control did not detect the effect.
    """

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
        """The record as plain data (what :func:`write` stores as JSON).

        Returns:
            A dict of the fields, ``control`` as a dict and ``setups`` as a list of dicts.
        """
        d = dataclasses.asdict(self)
        d["setups"] = [dict(s) for s in self.setups]
        d["provenance"] = dict(self.provenance)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Verdict":
        """The record of a mapping written by :meth:`to_dict`.

        Args:
            d: the fields, ``control`` as a mapping of :class:`Control`'s fields.

        Returns:
            The :class:`Verdict`.

        Raises:
            ValueError: the fields do not make a valid record.
            TypeError: a missing or an unknown field.
        """
        d = dict(d)
        d["control"] = Control(**d["control"])
        return cls(**d)


def categorize(present: Sequence[bool], control: Control, *, powered: bool) -> str:
    """The category of a claim (the book's "How a claim is judged" rules: a control that did
    not detect its planted effect, or an absence without power, is inconclusive).

    Args:
        present: per judged setup, whether the claimed effect was present (empty: no setup
            could be judged).
        control: the claim's positive control.
        powered: whether the run had power at the paper's protocol (only then does an absence
            in every setup count as "not reproduced").

    Returns:
        One of :data:`CATEGORIES`: ``"inconclusive"`` when the control's outcome is not
        ``"detected"`` or ``present`` is empty; else ``"reproduced"`` when the effect is present
        in every setup, ``"partly reproduced"`` when in some, and ``"not reproduced"`` (with
        ``powered``) or ``"inconclusive"`` (without) when in none.
    """
    if control.outcome != "detected" or not present:
        return "inconclusive"
    if all(present):
        return "reproduced"
    if any(present):
        return "partly reproduced"
    return "not reproduced" if powered else "inconclusive"


def verdict_path(chapter: str, scale: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The file of a chapter's records.

    Args:
        chapter: the chapter's name or path (its stem names the file).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        root: the data root (None: :func:`ibn.data.data_root`'s default).

    Returns:
        ``<root>/verdicts/<chapter>.json`` at ``book`` scale,
        ``<root>/verdicts/<scale>/<chapter>.json`` at the other scales.
    """
    base = data_root(root) / "verdicts"
    stem = Path(chapter).stem
    return base / f"{stem}.json" if scale == "book" else base / scale / f"{stem}.json"


def write(records: Iterable[Verdict], *, root: str | os.PathLike[str] | None = None,
          elapsed_s: float | None = None) -> Path:
    """Write the records of one chapter, all of one scale, atomically (:func:`verdict_path`).

    Each record's provenance gets the commit, the date, the hardware and ``elapsed_s`` unless
    the record sets them itself.

    Args:
        records: the records, all of one chapter and one scale.
        root: the data root (None: :func:`ibn.data.data_root`'s default).
        elapsed_s: the chapter's run time in seconds, recorded in the provenance (None: not
            known).

    Returns:
        The path written.

    Raises:
        ValueError: no records, or records of more than one chapter or scale.
    """
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
    """Every record of a scale.

    Args:
        scale: ``"smoke"``, ``"book"`` (default) or ``"paper"``.
        root: the data root (None: :func:`ibn.data.data_root`'s default).

    Returns:
        The records of every file of that scale under ``<root>/verdicts``, sorted by claim id.
    """
    path = verdict_path("x", scale, root).parent
    recs: list[Verdict] = []
    for f in sorted(path.glob("*.json")):
        recs += [Verdict.from_dict(d) for d in json.loads(f.read_text())]
    return sorted(recs, key=lambda r: r.claim)


def records_for(prefixes: Sequence[str], scale: str = "book", *,
                root: str | os.PathLike[str] | None = None) -> list[Verdict]:
    """The records whose claim id starts with one of some prefixes (for a chapter that
    explores claims another chapter judges: it shows their verdicts first).

    Args:
        prefixes: the claim-id prefixes, e.g. ``["B.fig2."]``.
        scale: ``"smoke"``, ``"book"`` (default) or ``"paper"``.
        root: the data root (None: :func:`ibn.data.data_root`'s default).

    Returns:
        The matching records of :func:`load_all`, sorted by claim id.
    """
    return [r for r in load_all(scale, root=root) if r.claim.startswith(tuple(prefixes))]


_COLOURS = {"reproduced": "#c8e6c9", "partly reproduced": "#fff3c4", "not reproduced": "#ffcdd2",
            "inconclusive": "#e0e0e0"}


def table(records: Sequence[Verdict], *, link: bool = False):
    """The records as a styled table: claim, figure, verdict (with its colour), why, setups
    and the control's outcome.

    Args:
        records: the records, one row each.
        link: add a column with the chapter that wrote each record, linked to its page.

    Returns:
        A pandas ``Styler`` of the table, or an empty ``DataFrame`` when there are no
        records.
    """
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


def finding_box(findings: Sequence[str], *, scope: str, reading: str):
    """The box a chapter that judges none of the papers' claims opens with (the same look as
    :func:`header`): its findings, computed by the chapter, what they were measured on, and how
    to read the main figure.

    Args:
        findings: one sentence per finding, with its numbers.
        scope: the setups and scale the findings come from.
        reading: how to read the chapter's main figure.

    Returns:
        An ``IPython.display.HTML`` object for the notebook.
    """
    from html import escape

    from IPython.display import HTML

    rows = [f"<tr><th>Finding</th><td>{escape(f)}</td></tr>" for f in findings]
    rows.append(f"<tr><th>Measured on</th><td>{escape(scope)}</td></tr>")
    rows.append(f"<tr><th>Main figure</th><td>{escape(reading)}</td></tr>")
    return HTML(_glance_box(rows))


def _glance_box(rows: Sequence[str]) -> str:
    """The "At a glance" box of a chapter around its table rows (``<tr>`` strings)."""
    return ('<div class="ibn-header"><p class="ibn-header-title">At a glance</p>'
            f'<table class="ibn-header-table">{"".join(rows)}</table></div>')


def header(records: Sequence[Verdict], *, departures: str, reading: str, link: bool = False):
    """The box every chapter opens with: each claim and its verdict (coloured), the setups and
    scale it was judged at, the departures from the paper's protocol and how to read the main
    figure; then, folded, the records' table (:func:`table`).

    Args:
        records: the records of the chapter's claims (empty: the box says there is none yet).
        departures: where the chapter departs from the paper's protocol (one or a few
            sentences).
        reading: how to read the chapter's main figure.
        link: the records come from another chapter (linked in the box and the table).

    Returns:
        An ``IPython.display.HTML`` object for the notebook.
    """
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
    box = _glance_box(rows)
    details = table(records, link=link) if records else None
    more = details.to_html() if details is not None and hasattr(details, "to_html") else ""
    return HTML(box + (f'<details class="ibn-records"><summary>Each record: why, setups, '
                       f"positive control</summary>{more}</details>" if more else ""))
