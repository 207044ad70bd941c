"""Sphinx extension of the ibn book: generates pages' parts at build time, before reading.

- ``book/_generated/claims.md`` (and ``claims_a.md``, ``claims_b.md``): the claims at a glance,
  one row per verdict record of ``data/verdicts/*.json``.
- ``book/_generated/results_table.md``: one row per cached result (``data/results/*/*.json``,
  the provenance records written by ``ibn.results.cached``): scale, commit, date, hardware,
  run time. An empty or missing ``data/results`` gives a sentence saying so.
- ``book/_generated/data_sources.md``: the data appendix's table, from ``ibn.data.registry``.
- ``book/_generated/api_modules.md``: the list of the API reference's pages, one per module
  that exists at build time (a module that exists but fails to import is a build warning,
  hence an error under ``-W``), and ``book/api/<module>.md``, each module's page (committed,
  so that the table of contents finds them; kept equal to ``API_MODULES``).

It also warns (an error under ``-W``) when the notebooks are inconsistent: a source
``notebooks/NAME.py`` without its executed ``book/notebooks/NAME.ipynb``, an executed notebook
without source, holding an error, or missing from the TOC. A *stale* executed notebook (its
cells differ from the source) gets a visible warning on its page instead, or a build warning
with ``IBN_BOOK_STRICT=1``.

The files are written only when their content changes. Also runnable as a script
(``python book/_ext/ibn_book_ext.py``) to regenerate them without building.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "book" / "_generated"

#: The modules of the API page, in reading order; only those present at build time are listed.
API_MODULES = [
    ("ibn.transforms", "Möbius and zeta butterflies (AND and OR)"),
    ("ibn.and_or", "AND-OR interactions: the sparsest decomposition"),
    ("ibn.multiorder", "Multi-order interactions and relative strength"),
    ("ibn.multiorder.interactions", "Multi-order interactions: exact and sampled"),
    ("ibn.multiorder.profiles", "Order profiles from recorded values"),
    ("ibn.multiorder.theory", "Paper A's closed forms"),
    ("ibn.multiorder.gradients", "Contextual variability: per-context gradients"),
    ("ibn.games", "Games: from a model, an input and a masker to values"),
    ("ibn.maskers", "Maskers: baselines for images, text and tables"),
    ("ibn.distributions", "Decay and spindle distributions, disentangling"),
    ("ibn.data", "Data sets"),
    ("ibn.models", "Models"),
    ("ibn.train", "Training, order-steering losses"),
    ("ibn.train.robustness", "Accuracy under attacks and corruptions"),
    ("ibn.explanation", "Explanations: one call from a model and inputs to named interactions"),
    ("ibn.study", "Studies on Dask: many samples and models, restartable"),
    ("ibn.results", "Cached results and provenance"),
    ("ibn.model_store", "Trained models, trained once"),
    ("ibn.book", "Helpers for the book's notebooks"),
    ("papers.reference", "The reference recipe: both papers' image models, trained once"),
    ("papers.protocol_a", "Paper A's discovery at the reference protocol"),
    ("papers.steering_a", "Paper A's order-steering losses on a CNN"),
    ("papers.protocol_b", "Paper B at its own protocol (Appendix K)"),
    ("papers.protocol_b_text", "Paper B's text setup at its protocol"),
    ("papers.claims_b", "Paper B's Fig. 2 rules, controls and records"),
    ("papers.claims_b_figs", "Paper B's Figs. 4, 5, 7 and 8: rules, controls and records"),
    ("papers.figures_b", "Paper B's Figs. 4, 5, 7 and 8: the figures"),
    ("papers.claims_b_chapters", "Paper B's Figs. 3, 9, 6 and Appendix J: rules, controls and records"),
    ("papers.solver_compare", "The exact optimum against the lab's SGD (B_beyond_solver)"),
    ("papers.claims_a", "Paper A's cause, modulation and consequences: rules, controls and records"),
    ("papers.claims_a.cause", "Paper A's cause: rules, control and records (A2)"),
    ("papers.claims_a.modulation", "Paper A's modulation: rules, control and records (A3)"),
    ("papers.claims_a.consequences", "Paper A's consequences: rules, control and records (A4)"),
    ("papers.verdicts", "Verdicts as data"),
    ("papers.bottleneck", "Paper A's pipelines: the interaction bottleneck"),
    ("papers.generalizable", "Paper B's pipelines: generalizable and non-generalizable interactions"),
    ("papers.generalizable_text", "Paper B's pipelines on text"),
    ("papers.dynamics", "Paper B's pipelines: training dynamics"),
    ("papers.noise", "Paper B's pipelines: noise and newly emerged interactions"),
    ("papers.penalty", "Paper B's pipelines: penalty training"),
    ("papers.llm", "Paper B's pipelines: a language model's AND-OR logic"),
    ("papers.text_models", "The text classifiers of both papers' text experiments"),
]


def _write_if_changed(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def results_table(root: Path = ROOT) -> str:
    """Markdown of the table of every cached result's provenance (scale, hardware, time...)."""
    sys.path.insert(0, str(root))
    try:
        from ibn.book import provenance_rows
    finally:
        sys.path.pop(0)
    results = root / "data" / "results"
    records = sorted(results.glob("*/*.json")) if results.is_dir() else []
    lines, problems = [], []
    for path in records:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            rows = dict(provenance_rows(record))
        except (OSError, ValueError) as err:
            problems.append(f"- `{path.relative_to(root).as_posix()}`: unreadable ({err})")
            continue
        name = path.relative_to(results).with_suffix("").as_posix()
        lines.append("| " + " | ".join(_cell(v) for v in (
            f"`{name}`", rows["scale"], rows["commit"], rows["date"], rows["hardware"],
            rows["run time"])) + " |")
    if not lines and not problems:
        return ("*No cached results yet:* `data/results/` holds no provenance records at the "
                "time this book was built. Run a notebook (see above) to create some.\n")
    out = []
    if lines:
        out += [f"{len(lines)} cached result(s) at build time.", "",
                "| result | scale | commit | date | hardware | run time |",
                "|---|---|---|---|---|---|", *lines]
    if problems:
        out += ["", "Records that could not be read:", "", *problems]
    return "\n".join(out) + "\n"


def data_sources(root: Path = ROOT) -> str:
    """Markdown of the data appendix's table: every source of ``ibn.data.registry`` with where
    it comes from, its license, what it stands in for and the SHA-256 of each file."""
    sys.path.insert(0, str(root))
    try:
        from ibn.data.registry import SOURCES
    finally:
        sys.path.pop(0)
    lines = ["| source | what | from | license | stands in for |", "|---|---|---|---|---|"]
    hashes = []
    for s in SOURCES.values():
        lines.append("| " + " | ".join(_cell(v) for v in (
            f"`{s.name}`", s.description, f"`{s.spec}`", s.license, s.notes or "")) + " |")
        hashes += [f"| `{s.name}` | `{f.path}` | `{f.sha256}` |" for f in s.files]
    return "\n".join(lines + ["", "```{dropdown} The SHA-256 of every file", "",
                               "| source | file | SHA-256 |", "|---|---|---|", *hashes,
                               "```"]) + "\n"


def api_slug(name: str) -> str:
    """The page of a module in the API reference: ``book/api/<slug>.md``."""
    return name.replace(".", "_")


def api_page(name: str, title: str) -> str:
    """The API reference page of one module (its docstrings through autodoc)."""
    return (f"# `{name}`: {title}\n\n```{{eval-rst}}\n.. automodule:: {name}\n"
            f"   :members:\n```\n")


def api_modules() -> tuple[str, list[str]]:
    """(Markdown listing the API pages of the modules present, [import problems])."""
    parts, problems = [], []
    for name, title in API_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            spec = None
        # absent, or a bare directory without __init__.py (a package still being written)
        if spec is None or spec.origin in (None, "namespace"):
            continue
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - reported as a build warning
            problems.append(f"{name} exists but fails to import: {type(err).__name__}: {err}")
            continue
        parts.append(f"- {{doc}}`{name} <api/{api_slug(name)}>`: {title}")
    return "\n".join(parts) + "\n", problems


def _toc_files(root: Path) -> set[str]:
    """The ``file:`` entries (and root) of ``_toc.yml``, without suffix."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    found.add(str(Path(value).with_suffix("")) if Path(value).suffix in
                              (".md", ".ipynb", ".rst") else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def _cells(nb) -> list[tuple[str, str]]:
    """(type, source) of a notebook's cells, without papermill's injected-parameters cell."""
    out = []
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        out.append((cell.cell_type, cell.source.strip()))
    return out


def notebook_problems(root: Path = ROOT) -> list[str]:
    """Inconsistencies between notebooks/*.py, the executed book/notebooks/*.ipynb and the TOC.

    - a notebook source without its executed notebook, or an executed notebook without source;
    - an executed notebook whose cells differ from its source (stale: rerun it);
    - an executed notebook with an error output or a failed papermill status;
    - an executed notebook that is not a chapter of ``_toc.yml``.
    """
    import jupytext
    import nbformat

    problems = []
    sources = {p.stem: p for p in (root / "notebooks").glob("*.py") if not p.name.startswith("_")}
    executed = {p.stem: p for p in (root / "book" / "notebooks").glob("*.ipynb")}
    toc = _toc_files(root)
    rerun = "rerun it: scripts/book --rerun book --only {}"
    for name in sorted(set(sources) - set(executed)):
        problems.append(f"notebooks/{name}.py{NOT_EXECUTED_MARK}book/notebooks/{name}.ipynb "
                        f"({rerun.format(name)})")
    for name in sorted(set(executed) - set(sources)):
        problems.append(f"book/notebooks/{name}.ipynb has no source notebooks/{name}.py")
    for name in sorted(set(executed)):
        try:
            nb = nbformat.read(executed[name], as_version=4)
        except Exception as err:  # noqa: BLE001 - reported
            problems.append(f"book/notebooks/{name}.ipynb is unreadable: {err}")
            continue
        if name in sources and _cells(jupytext.read(sources[name])) != _cells(nb):
            problems.append(f"book/notebooks/{name}.ipynb is stale: its cells differ from "
                            f"notebooks/{name}.py ({rerun.format(name)})")
        status = nb.metadata.get("papermill", {}).get("exception")
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        if status or errors:
            problems.append(f"book/notebooks/{name}.ipynb holds an error output "
                            f"(the run failed; {rerun.format(name)})")
        if f"book/notebooks/{name}" not in toc:
            problems.append(f"book/notebooks/{name}.ipynb is not a chapter of _toc.yml")
    return problems


#: The paper parts of the TOC: (caption prefix, generated status file, paper label).
PARTS = [("Paper A", "paper_a_status.md", "paper A"), ("Paper B", "paper_b_status.md", "paper B")]


def _notebook_title(path: Path) -> str:
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - the notebook check reports unreadable notebooks
        return path.stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def part_status(root: Path, caption_prefix: str, label: str) -> str:
    """Markdown: the notebook chapters of the TOC part whose caption starts with the prefix,
    and the part's notebooks (``notebooks/X*.py`` for "Paper X") not executed yet."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    files: list[str] = []
    for part in toc.get("parts", []) or []:
        if str(part.get("caption", "")).startswith(caption_prefix):
            stack = list(part.get("chapters", []) or [])
            while stack:
                entry = stack.pop(0)
                if isinstance(entry, dict):
                    if isinstance(entry.get("file"), str):
                        files.append(str(Path(entry["file"]).with_suffix("")))
                    stack = list(entry.get("sections", []) or []) + stack
    chapters = [f for f in files if f.startswith("book/notebooks/")
                and (root / f"{f}.ipynb").is_file()]
    letter = caption_prefix.split()[-1]
    pending = sorted(p.stem for p in (root / "notebooks").glob(f"{letter}*.py")
                     if not (root / "book" / "notebooks" / f"{p.stem}.ipynb").is_file())
    lines = []
    if not chapters:
        lines += [":::{note}", f"**Not reproduced yet.** No figure of {label} is reproduced in "
                  "this build: the planned chapters are listed below.", ":::"]
    else:
        lines += [f"Chapters of {label} in this build (each states which figures it reproduces, "
                  "and whether the numbers agree with the paper):", ""]
        for f in chapters:
            lines.append(f"- {{doc}}`{_notebook_title(root / f'{f}.ipynb')} </{f}>`")
    if pending:
        names = ", ".join(f"`notebooks/{name}.py`" for name in pending)
        lines += ["", f"Written but not executed yet, hence not in this build: {names}."]
    return "\n".join(lines) + "\n"


#: the background colour of each verdict category (the word is always shown too).
VERDICT_COLOURS = {"reproduced": "#c8e6c9", "partly reproduced": "#fff3c4",
                   "not reproduced": "#ffcdd2", "inconclusive": "#e0e0e0"}


#: the longest reason the claims table shows (the chapter's header box has the whole record)
WHY_CHARS = 160


def short_why(why: str, limit: int = WHY_CHARS) -> str:
    """The first clause of a record's ``why`` (up to its first "; "), cut at a word boundary
    with "…" when longer than ``limit`` characters: one line of the claims table."""
    first = why.split("; ", 1)[0].strip()
    depth, opened = 0, []
    for i, ch in enumerate(first):  # a clause cut inside brackets ends before the open one
        if ch == "(":
            depth += 1
            opened.append(i)
        elif ch == ")" and depth:
            depth -= 1
            opened.pop()
    if opened:
        first = first[:opened[0]].rstrip(" ,:")
    if len(first) <= limit:
        return first + ("; …" if first != why.strip() else "")
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def claims_table(root: Path = ROOT, paper: str | None = None) -> str:
    """Markdown: one row per verdict record of ``data/verdicts/*.json`` (the ``book`` runs),
    of one paper or of both: claim, figure, setup and scale, verdict, the reason in one line
    (:func:`short_why`), chapter."""
    records = []
    for path in sorted((root / "data" / "verdicts").glob("*.json")):
        try:
            records += json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"*The verdict records could not be read ({path.name}: {exc}).*\n"
    records = [r for r in records if paper is None or r.get("paper") == paper]
    if not records:
        return ("*No verdict of this part has been recorded at `book` scale yet: the chapters "
                "below show what has been run.*\n")
    lines = ["| claim | verdict | setups | why | chapter |",
             "|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: r["claim"]):
        setups = r.get("setups", [])
        models = ", ".join(f"{s['model']}/{s['dataset']}" for s in setups)
        ns = "/".join(sorted({str(s["n_players"]) for s in setups}))
        samples = "/".join(sorted({str(s["n_samples"]) for s in setups}))
        stem = Path(r["chapter"]).stem
        colour = VERDICT_COLOURS.get(r["verdict"], "#ffffff")
        verdict = (f'<span style="background-color: {colour}; padding: 0 0.3em; '
                   f'white-space: nowrap">{r["verdict"]}</span>')
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"{r['claim']} ({r['figure']})", verdict,
            f"{models} (n = {ns}, {samples} samples; {r['scale']})", short_why(r["why"]),
            f"{{doc}}`{stem} </book/notebooks/{stem}>`")) + " |")
    return "\n".join(lines) + "\n"


def generate(root: Path = ROOT) -> list[str]:
    """Write the generated files; return the problems to report as build warnings."""
    _write_if_changed(GENERATED / "claims.md", claims_table(root))
    _write_if_changed(GENERATED / "claims_a.md", claims_table(root, "A"))
    _write_if_changed(GENERATED / "claims_b.md", claims_table(root, "B"))
    for prefix, filename, label in PARTS:
        _write_if_changed(GENERATED / filename, part_status(root, prefix, label))
    _write_if_changed(GENERATED / "results_table.md", results_table(root))
    _write_if_changed(GENERATED / "data_sources.md", data_sources(root))
    api_md, problems = api_modules()
    _write_if_changed(GENERATED / "api_modules.md", api_md)
    for name, title in API_MODULES:
        _write_if_changed(root / "book" / "api" / f"{api_slug(name)}.md", api_page(name, title))
    return problems + notebook_problems(root)


_TABLE_RULE = re.compile(r"^\|\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_SPANS = re.compile(r"(``.+?``|`[^`]*`)")


def _escape_bars(line: str) -> str:
    """Escape ``|`` outside backtick spans: the project's docstrings write plain-text math such
    as ``|S|``, which reStructuredText would read as a substitution reference."""
    parts = _SPANS.split(line)
    return "".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def _split_row(line: str) -> list[str]:
    """The cells of a Markdown table row, splitting on bars outside backtick spans."""
    cells, cur = [], ""
    for i, part in enumerate(_SPANS.split(line.strip())):
        if i % 2:
            cur += part
            continue
        pieces = part.split("|")
        cur += pieces[0]
        for piece in pieces[1:]:
            cells.append(cur)
            cur = piece
    cells.append(cur)
    cells = [c.strip() for c in cells]
    if cells and cells[0] == "":
        cells = cells[1:]
    if cells and cells[-1] == "":
        cells = cells[:-1]
    return cells


def normalize_docstring(lines: list[str]) -> list[str]:
    """Make plain-text docstrings valid reStructuredText, in place of their authors' Markdown.

    - a Markdown pipe table (header row, ``|---|`` rule, rows) becomes a ``list-table``;
    - any other ``|`` outside backtick spans is escaped (plain-text math: ``|S|``).
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if (stripped.startswith("|") and i + 1 < len(lines)
                and _TABLE_RULE.match(lines[i + 1].strip())):
            indent = line[: len(line) - len(line.lstrip())]
            rows = [_split_row(line)]
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_split_row(lines[i]))
                i += 1
            width = max(len(r) for r in rows)
            if out and out[-1].strip():
                out.append("")
            out += [f"{indent}.. list-table::", f"{indent}   :header-rows: 1", ""]
            for row in rows:
                row = row + [""] * (width - len(row))
                for k, cell in enumerate(row):
                    out.append(f"{indent}   {'*' if k == 0 else ' '} - {cell}".rstrip())
            out.append("")
            continue
        out.append(_escape_bars(line))
        i += 1
    return out


def _on_docstring(app, what, name, obj, options, lines):
    lines[:] = normalize_docstring(lines)


STALE_MARK = " is stale: "
NOT_EXECUTED_MARK = " has no executed "
#: Notebook states shown on the pages (a warning on the page, a paper part's status list) rather
#: than failing the build, unless IBN_BOOK_STRICT=1.
SOFT_MARKS = (STALE_MARK, NOT_EXECUTED_MARK)


def stale_notebooks(problems: list[str]) -> dict[str, str]:
    """{docname: message} of the stale executed notebooks among ``problems``."""
    out = {}
    for problem in problems:
        if STALE_MARK in problem and problem.startswith("book/notebooks/"):
            out[problem.split(".ipynb", 1)[0]] = problem
    return out


def _on_config_inited(app, config):
    """Generate the included files; report notebook inconsistencies.

    A stale executed notebook (its source changed since it ran) does not fail the build: its
    page gets a visible warning instead (see :func:`_mark_stale`); a notebook not executed yet
    is listed as such on its paper part's page. With the environment variable
    ``IBN_BOOK_STRICT=1`` (``scripts/book --strict``) both are build warnings too, hence errors
    under ``-W``. Every other inconsistency is always a build warning.
    """
    import os

    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    strict = os.environ.get("IBN_BOOK_STRICT", "") not in ("", "0")
    problems = generate(ROOT)
    app.ibn_stale = stale_notebooks(problems)
    for problem in problems:
        if strict or not any(mark in problem for mark in SOFT_MARKS):
            logger.warning("[ibn book] %s", problem)
        else:
            logger.info("[ibn book] %s (the book says so)", problem)


def _mark_stale(app, doctree):
    """Put a warning at the top of the page of a stale executed notebook."""
    from docutils import nodes

    docname = app.env.docname
    message = getattr(app, "ibn_stale", {}).get(docname)
    if not message:
        return
    name = docname.rsplit("/", 1)[-1]
    warning = nodes.warning("", nodes.paragraph(
        text=(f"Stale outputs: notebooks/{name}.py has changed since the outputs shown on this "
              f"page were computed, so they may not match the code above them. To refresh: "
              f"scripts/book --rerun book --only {name}")))
    section = doctree.next_node(nodes.section)
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, warning)
    else:
        doctree.insert(0, warning)


def _offline_scripts(app, pagename, templatename, context, doctree):
    """Per page: drop duplicate inline scripts and sphinx-thebe's loader.

    Sphinx 7.4 registers an inline script added at ``builder-inited`` twice (once as ``None``,
    once as ``''``), which re-declares ``const THEBE_JS_URL`` (a console error). The book has no
    launch buttons, so sphinx-thebe's scripts (which name a CDN URL) are dropped altogether.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    kept, seen = [], set()
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {}) or {}
        body = attributes.get("body", "")
        if "THEBE_JS_URL" in body or str(filename).endswith("sphinx-thebe.js"):
            continue
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("config-inited", _on_config_inited)
    app.connect("autodoc-process-docstring", _on_docstring)
    app.connect("html-page-context", _offline_scripts)
    app.connect("doctree-read", _mark_stale)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    issues = generate(ROOT)
    print(f"wrote {GENERATED.relative_to(ROOT)}/results_table.md and api_modules.md")
    for issue in issues:
        print("warning:", issue, file=sys.stderr)
    sys.exit(1 if issues else 0)
