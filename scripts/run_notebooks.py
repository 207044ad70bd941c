#!/usr/bin/env python3
"""Execute the book's notebooks with papermill: notebooks/NAME.py -> book/notebooks/NAME.ipynb.

Each notebook is a jupytext percent-format file with a cell tagged ``parameters`` defining at
least ``scale = "smoke"``. This script converts it with jupytext, executes it with papermill
(``-p scale SCALE`` plus any ``-p KEY VALUE``; the working directory is the repository root),
writes the executed notebook into ``book/notebooks/``, and prints a per-notebook timing summary,
also saved to ``artifacts/notebook_timings.json``. Exit status 1 if any notebook failed (its
partly executed output is still written, papermill marks the failing cell).

Usage:
    .venv/bin/python scripts/run_notebooks.py --scale smoke
    .venv/bin/python scripts/run_notebooks.py --scale smoke --out artifacts/smoke_notebooks
    .venv/bin/python scripts/run_notebooks.py --scale book --only 00_quickstart -p seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks"
OUTPUT = ROOT / "book" / "notebooks"
TIMINGS = ROOT / "artifacts" / "notebook_timings.json"
SCALES = ("smoke", "book", "paper")


def _parse_value(text: str):
    """papermill-style typing of a -p value: int, float, bool, None, else the string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    return text


def find_notebooks(only: list[str] | None) -> list[Path]:
    available = sorted(p for p in SOURCES.glob("*.py") if not p.name.startswith("_"))
    if not only:
        return available
    by_name = {p.stem: p for p in available}
    missing = [name for name in only if Path(name).stem not in by_name]
    if missing:
        raise SystemExit(
            f"no notebook named {', '.join(missing)} in {SOURCES.relative_to(ROOT)}/ "
            f"(have: {', '.join(by_name) or 'none'})"
        )
    return [by_name[Path(name).stem] for name in only]


def is_machinery(cell) -> bool:
    """A code cell a reader need not see: the parameters, papermill's injected parameters, or
    one that only imports and calls ``papers.setup``."""
    tags = cell.get("metadata", {}).get("tags", [])
    if "parameters" in tags or "injected-parameters" in tags:
        return True
    lines = [ln.strip() for ln in cell.source.splitlines() if ln.strip()]
    return cell.cell_type == "code" and bool(lines) and all(
        ln.startswith(("import ", "from ", "papers.setup(", "#")) for ln in lines)


#: the notebooks that teach the library: their code is the lesson and stays on the page.
TUTORIALS = ("00_quickstart", "T1_own_model")
_SHOWN_OR_HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}


def hide_machinery(path: Path, source: Path | None = None) -> None:
    """Tag the executed notebook's machinery cells ``remove-cell`` (the book leaves them out;
    the notebook keeps them for a rerun) and, in a chapter (not one of :data:`TUTORIALS`),
    fold every other code cell's input behind a toggle (``hide-input``: the reader sees the
    outputs, the code is one click away; a cell without output is left out; the cells that
    print the provenance show it folded, without their code); write papermill's input and output paths relative
    to the project (the source notebook and this file), not as this machine's paths."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pm_meta = nb.metadata.get("papermill")
    if pm_meta is not None:
        pm_meta["input_path"] = _rel(source) if source is not None else None
        pm_meta["output_path"] = _rel(path)
    chapter = (source or path).stem not in TUTORIALS
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if is_machinery(cell) and not cell.get("outputs"):
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        elif chapter and not _SHOWN_OR_HIDDEN & set(tags):
            if "show_provenance(" in cell.source:
                tags += ["remove-input", "hide-output"]  # the provenance: one folded block
            else:
                tags.append("hide-input" if cell.get("outputs") else "remove-cell")
    nbformat.write(nb, path)


def has_parameters_cell(nb) -> bool:
    return any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells)


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def run_one(src: Path, params: dict, kernel: str, timeout: int | None,
            out_dir: Path = OUTPUT) -> dict:
    import jupytext
    import papermill as pm

    out = out_dir / f"{src.stem}.ipynb"
    nb = jupytext.read(src)
    if not has_parameters_cell(nb):
        raise SystemExit(f"{src.relative_to(ROOT)} has no cell tagged 'parameters'")
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata.pop("jupytext", None)  # the executed .ipynb is not paired with the .py
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp_nb = Path(tmp) / f"{src.stem}.ipynb"
        jupytext.write(nb, tmp_nb, fmt="ipynb")
        try:
            pm.execute_notebook(
                str(tmp_nb), str(out), parameters=params, kernel_name=kernel,
                cwd=str(ROOT), progress_bar=False, log_output=False,
                execution_timeout=timeout,
            )
        except Exception as err:  # noqa: BLE001 - reported in the summary
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    if out.is_file():
        hide_machinery(out, src)
    elapsed = time.perf_counter() - t0
    return {"notebook": src.stem, "source": src.relative_to(ROOT).as_posix(),
            "output": _rel(out), "parameters": params,
            "started": started.isoformat(timespec="seconds"), "elapsed_s": round(elapsed, 2),
            "ok": error is None, "error": error}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="smoke", choices=SCALES,
                        help="the notebooks' scale parameter (default: smoke)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this notebook (NAME or NAME.py; repeatable)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("KEY", "VALUE"), help="extra papermill parameter (repeatable)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default: python3)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="per-cell timeout in seconds (default: none)")
    parser.add_argument("--out", type=Path, default=OUTPUT,
                        help="where the executed notebooks go (default: book/notebooks; CI can "
                             "run the smoke scale elsewhere to keep the committed ones)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after a failure")
    args = parser.parse_args(argv)

    params = {"scale": args.scale}
    for key, value in args.parameter:
        if key == "scale":
            parser.error("give the scale with --scale, not -p scale")
        params[key] = _parse_value(value)

    notebooks = find_notebooks(args.only)
    if not notebooks:
        print(f"no notebooks in {SOURCES.relative_to(ROOT)}/", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    results = []
    for src in notebooks:
        print(f"[run_notebooks] {src.relative_to(ROOT)} (scale={args.scale}) ...", flush=True)
        res = run_one(src, params, args.kernel, args.timeout, args.out)
        results.append(res)
        status = "ok" if res["ok"] else f"FAILED: {res['error']}"
        print(f"[run_notebooks]   -> {res['output']} in {res['elapsed_s']:.1f} s, {status}",
              flush=True)
        if not res["ok"] and not args.keep_going:
            break

    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps({"scale": args.scale, "runs": results}, indent=2) + "\n")
    width = max(len(r["notebook"]) for r in results)
    print(f"\n{'notebook':<{width}}  {'seconds':>9}  status")
    for r in results:
        print(f"{r['notebook']:<{width}}  {r['elapsed_s']:>9.1f}  {'ok' if r['ok'] else 'FAILED'}")
    print(f"{'total':<{width}}  {sum(r['elapsed_s'] for r in results):>9.1f}")
    print(f"(timings saved to {TIMINGS.relative_to(ROOT)})")
    failed = [r for r in results if not r["ok"]]
    skipped = len(notebooks) - len(results)
    if failed or skipped:
        print(f"{len(failed)} notebook(s) failed" + (f", {skipped} not run" if skipped else ""),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
