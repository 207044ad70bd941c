"""Tests of the book's tooling: ibn.book helpers, the Sphinx extension's generators and
docstring normalizer, the papermill runner's argument handling, the site checker's URL rules
(and, when Debian's chromium is installed, the checker itself on a tiny synthetic site)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from ibn.book import SCALES, provenance_rows, scale_params, show_provenance

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ext = _load("ibn_book_ext", ROOT / "book" / "_ext" / "ibn_book_ext.py")
runner = _load("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
checker = _load("check_site", ROOT / "scripts" / "check_site.py")

RECORD = {
    "name": "curves",
    "params": {"n": 10},
    "provenance": {
        "scale": "book",
        "params": {"n": 10},
        "git": {"commit": "0123456789abcdef0123", "dirty": False},
        "hardware": {"cpu": "Some CPU", "cores": 2, "cuda_device": None},
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-01-01T00:02:00+00:00",
        "elapsed_s": 120.0,
    },
}


# ------------------------------------------------------------------------------- ibn.book
def test_scale_params_picks_and_overrides():
    presets = {s: {"n": i + 4, "k": 1} for i, s in enumerate(SCALES)}
    assert scale_params("book", presets) == {"n": 5, "k": 1}
    assert scale_params("smoke", presets, k=3, seed=None) == {"n": 4, "k": 3}
    presets["smoke"]["n"] = 99  # the result is a copy
    assert scale_params("smoke", {"smoke": {"n": 4}}) == {"n": 4}


@pytest.mark.parametrize("scale", ["big", "Smoke", None, 1])
def test_scale_params_unknown_scale(scale):
    with pytest.raises(ValueError, match="smoke, book, paper"):
        scale_params(scale, {"smoke": {}})


def test_scale_params_scale_missing_from_presets():
    with pytest.raises(ValueError, match="defines no settings for scale 'paper'"):
        scale_params("paper", {"smoke": {}, "book": {}})


def test_provenance_rows_of_a_results_record(tmp_path, capsys):
    rows = dict(provenance_rows(RECORD))
    assert rows == {"scale": "book", "commit": "0123456789ab", "date": "2026-01-01 00:02 UTC",
                    "hardware": "Some CPU, 2 cores", "run time": "2.0 min"}
    # the same through a result path with a sibling .json
    (tmp_path / "r.json").write_text(json.dumps(RECORD))
    assert dict(provenance_rows(tmp_path / "r.pt")) == rows
    show_provenance(str(tmp_path / "r.json"))
    out = capsys.readouterr().out
    assert "provenance" in out and "Some CPU" in out and "2.0 min" in out


def test_provenance_missing_fields_are_marked(capsys):
    rows = show_provenance({"scale": "smoke"})
    assert dict(rows)["commit"] == "?"
    assert "no provenance fields" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        provenance_rows("/nonexistent/result.pt")
    with pytest.raises(TypeError):
        provenance_rows(42)


# -------------------------------------------------------------------- Sphinx extension
def test_results_table_empty_and_filled(tmp_path):
    assert "No cached results yet" in ext.results_table(tmp_path)
    d = tmp_path / "data" / "results" / "curves"
    d.mkdir(parents=True)
    (d / "abc.json").write_text(json.dumps(RECORD))
    (d / "bad.json").write_text("{not json")
    table = ext.results_table(tmp_path)
    assert "| `curves/abc` | book | 0123456789ab |" in table
    assert "Some CPU, 2 cores | 2.0 min |" in table
    assert "curves/bad.json" in table and "unreadable" in table


def test_api_modules_lists_only_present_modules():
    text, problems = ext.api_modules()
    assert "- {doc}`ibn.transforms <api/ibn_transforms>`" in text
    assert problems == []
    for name, _ in ext.API_MODULES:
        spec = importlib.util.find_spec(name)
        present = spec is not None and spec.origin not in (None, "namespace")
        assert (f"<api/{ext.api_slug(name)}>`" in text) == present


def test_every_api_module_has_its_committed_page_in_the_toc():
    toc = (ext.ROOT / "_toc.yml").read_text()
    for name, title in ext.API_MODULES:
        page = ext.ROOT / "book" / "api" / f"{ext.api_slug(name)}.md"
        assert page.read_text() == ext.api_page(name, title)
        assert f"- file: book/api/{ext.api_slug(name)}\n" in toc


def test_normalize_docstring_escapes_bars_and_converts_tables():
    lines = [
        "Order |S| and ``|x|`` and :math:`|y|`.",
        "",
        "| name | what |",
        "|---|---|",
        "| ``a|b`` | first |",
        "| c | second |",
        "",
        "after",
    ]
    out = ext.normalize_docstring(lines)
    assert out[0] == "Order \\|S\\| and ``|x|`` and :math:`|y|`."
    assert ".. list-table::" in out
    assert "   * - ``a|b``" in out and "     - first" in out
    assert out[-1] == "after"


# ------------------------------------------------------------------------- runner, checker
def test_run_notebooks_parameter_parsing_and_selection():
    assert runner._parse_value("3") == 3
    assert runner._parse_value("0.5") == 0.5
    assert runner._parse_value("True") is True
    assert runner._parse_value("none") is None
    assert runner._parse_value("cifar10") == "cifar10"
    names = [p.stem for p in runner.find_notebooks(None)]
    assert "00_quickstart" in names
    assert [p.stem for p in runner.find_notebooks(["00_quickstart.py"])] == ["00_quickstart"]
    with pytest.raises(SystemExit, match="no notebook named nope"):
        runner.find_notebooks(["nope"])


def test_executed_notebook_records_project_paths_and_hides_machinery(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np\npapers.setup(scale)"),
                nbformat.v4.new_code_cell("print(1)")]
    nb.metadata["papermill"] = {"input_path": "/tmp/x/A.ipynb", "output_path": str(tmp_path)}
    out = runner.OUTPUT.parent / "_test_executed.ipynb"

    def tagged(source: str):
        """``nb`` written, passed through hide_machinery as the notebook ``source``, read back."""
        try:
            nbformat.write(nb, out)
            runner.hide_machinery(out, runner.SOURCES / source)
            return nbformat.read(out, as_version=4)
        finally:
            out.unlink(missing_ok=True)

    back = tagged("00_quickstart.py")
    assert back.metadata["papermill"] == {"input_path": "notebooks/00_quickstart.py",
                                          "output_path": "book/_test_executed.ipynb"}
    assert "remove-cell" in back.cells[0].metadata["tags"] and not back.cells[1].metadata.get("tags")
    # in a chapter, the code that is not machinery is folded behind a toggle
    chapter = tagged("A1_protocol.py")
    assert chapter.cells[1].metadata["tags"] == ["remove-cell"]  # no output: left out
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    chapter = tagged("A1_protocol.py")
    assert chapter.cells[1].metadata["tags"] == ["hide-input"]
    nb.cells[1].source = "show_provenance(name, params)"
    chapter = tagged("A1_protocol.py")
    assert chapter.cells[1].metadata["tags"] == ["remove-input", "hide-output"]
    assert "hide-input" not in chapter.cells[0].metadata["tags"]
    committed = sorted((ROOT / "book" / "notebooks").glob("*.ipynb"))
    absolute = [p.name for p in committed for key in ("input_path", "output_path")
                if str(nbformat.read(p, as_version=4).metadata.get("papermill", {}).get(key) or "")
                .startswith("/")]
    assert committed and not absolute


def test_quickstart_has_parameters_cell():
    import jupytext

    nb = jupytext.read(ROOT / "notebooks" / "00_quickstart.py")
    assert runner.has_parameters_cell(nb)
    tags = [t for cell in nb.cells for t in cell.metadata.get("tags", [])]
    assert "nbval-check-output" in tags


def test_checker_url_rules(tmp_path):
    assert checker.is_local("http://127.0.0.1:8000/x.js", 8000)
    assert checker.is_local("data:image/png;base64,xx", 8000)
    assert not checker.is_local("http://127.0.0.1:9/x.js", 8000)
    assert not checker.is_local("https://cdn.jsdelivr.net/npm/mathjax", 8000)
    page = tmp_path / "p.html"
    page.write_text(
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css">'
        '<link rel="canonical" href="https://example.org/p.html">'
        '<a href="https://example.org">a link is fine</a>'
        '<script src="//unpkg.com/thebe"></script><script src="_static/local.js"></script>'
        '<img src="x.png" style="background: url(https://example.org/bg.png)">'
    )
    assert checker.static_external_refs(page) == [
        "https://fonts.googleapis.com/css", "//unpkg.com/thebe", "https://example.org/bg.png"]


def test_committed_mathjax_is_the_vendored_file():
    import hashlib

    script = (ROOT / "scripts" / "vendor_mathjax").read_text()
    want = script.split('sha256="')[1].split('"')[0]
    data = (ROOT / "book" / "_static" / "mathjax" / "tex-svg-full.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == want


@pytest.mark.slow
@pytest.mark.skipif(not (Path(checker.CHROMEDRIVER).exists() and shutil.which("chromium")),
                    reason="needs Debian's chromium and chromium-driver")
def test_checker_catches_problems_on_a_synthetic_site(tmp_path):
    site = tmp_path / "html"
    (site / "book" / "notebooks").mkdir(parents=True)
    (site / "index.html").write_text("<html><head><title>ok</title></head><body>fine</body></html>")
    (site / "book" / "notebooks" / "nb.html").write_text(
        "<html><body><p>raw $$x$$ math</p><img src='missing.png'>"
        "<script>console.error('boom')</script></body></html>")
    code = checker.main(["--site", str(site), "--screenshots", str(tmp_path / "shots")])
    assert code == 1
    assert (tmp_path / "shots" / "index.png").is_file()


def test_notebook_problems_finds_missing_stale_failed_and_untoc(tmp_path):
    import jupytext
    import nbformat

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book" / "notebooks").mkdir(parents=True)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: book/notebooks/ok\n"
        "- file: book/notebooks/stale.ipynb\n")
    src = '# %% tags=["parameters"]\nscale = "smoke"\n\n# %%\nprint(1)\n'
    for name in ("ok", "stale", "failed", "untoc", "noexec"):
        (tmp_path / "notebooks" / f"{name}.py").write_text(src)
    for name in ("ok", "stale", "failed", "untoc", "nosource"):
        nb = jupytext.reads(src.replace("print(1)", "print(2)") if name == "stale" else src,
                            fmt="py:percent")
        if name == "failed":
            nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="E", evalue="x",
                                                           traceback=[])]
        nbformat.write(nb, tmp_path / "book" / "notebooks" / f"{name}.ipynb")
    text = "\n".join(ext.notebook_problems(tmp_path))
    assert "notebooks/noexec.py has no executed" in text
    assert "nosource.ipynb has no source" in text
    assert "stale.ipynb is stale" in text
    assert "failed.ipynb holds an error" in text
    assert "untoc.ipynb is not a chapter" in text
    assert "ok.ipynb" not in text
    assert ext.notebook_problems(ROOT) == [] or all(
        "00_quickstart" not in p for p in ext.notebook_problems(ROOT))


def test_part_status_lists_the_parts_notebook_chapters(tmp_path):
    import nbformat

    (tmp_path / "book" / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Fig. 2: spindles")])
    nbformat.write(nb, tmp_path / "book" / "notebooks" / "B2.ipynb")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "- caption: 'Paper A: x'\n  chapters:\n  - file: book/paper_a/index\n"
        "- caption: 'Paper B: y'\n  chapters:\n  - file: book/paper_b/index\n"
        "  - file: book/notebooks/B2\n")
    assert "Not reproduced yet" in ext.part_status(tmp_path, "Paper A", "paper A")
    status = ext.part_status(tmp_path, "Paper B", "paper B")
    assert "{doc}`Fig. 2: spindles </book/notebooks/B2>`" in status
    assert "Not reproduced" not in status
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "B3.py").write_text("")
    (tmp_path / "notebooks" / "B2.py").write_text("")
    status = ext.part_status(tmp_path, "Paper B", "paper B")
    assert "not executed yet, hence not in this build: `notebooks/B3.py`." in status


def test_stale_notebooks_are_picked_out():
    problems = ["book/notebooks/B2.ipynb is stale: its cells differ from notebooks/B2.py",
                "book/notebooks/B4.ipynb is not a chapter of _toc.yml"]
    assert list(ext.stale_notebooks(problems)) == ["book/notebooks/B2"]


def test_claims_table_lists_every_record(tmp_path):
    assert "No verdict" in ext.claims_table(tmp_path)
    d = tmp_path / "data" / "verdicts"
    d.mkdir(parents=True)
    rec = {"claim": "B.fig2.decay", "paper": "B", "figure": "Fig. 2", "verdict": "reproduced",
           "why": "1 of 1 | pass", "scale": "book", "chapter": "notebooks/B1_protocol.py",
           "setups": [{"model": "resnet20", "dataset": "mnist", "n_players": 10, "n_samples": 50}]}
    (d / "B1_protocol.json").write_text(json.dumps([rec, {**rec, "claim": "A.discovery.u_shape",
                                                          "paper": "A", "verdict": "inconclusive"}]))
    table = ext.claims_table(tmp_path)
    rows = [ln for ln in table.splitlines() if ln.startswith("| A.") or ln.startswith("| B.")]
    assert len(rows) == 2 and "1 of 1 \\| pass" in table
    assert "#c8e6c9" in table and "resnet20/mnist (n = 10, 50 samples; book)" in table
    assert "</book/notebooks/B1_protocol>" in table
    only_b = ext.claims_table(tmp_path, "B")
    assert "B.fig2.decay" in only_b and "A.discovery" not in only_b


def test_claims_table_reason_is_one_short_line():
    assert ext.short_why("3 of 3 pass") == "3 of 3 pass"
    assert ext.short_why("3 of 3 pass; scope; more") == "3 of 3 pass; …"
    assert ext.short_why("4 of 6 move J^(m) (low (down) at 4: 0.4; x)") == "4 of 6 move J^(m); …"
    long = "word " * 60 + "; tail"
    cut = ext.short_why(long)
    assert len(cut) <= ext.WHY_CHARS + 2 and cut.endswith(" …") and "tail" not in cut


def test_verdict_header_box_states_claims_verdicts_setups_departures_and_reading():
    from papers import verdicts as V

    ctl = V.Control("planted", "detected", "found")
    setups = [{"model": "resnet20", "dataset": "mnist", "n_players": 10, "n_samples": 50},
              {"model": "vgg11", "dataset": "mnist", "n_players": 10, "n_samples": 50}]
    recs = [V.Verdict("B.x.one", "B", "Fig. 2", "Decay <holds>.", "reproduced", "2 of 2 pass",
                      "book", setups, ctl, "notebooks/B1_protocol.py"),
            V.Verdict("B.x.two", "B", "Fig. 4", "Spindle fits.", "not reproduced", "R² 0.7",
                      "book", setups[:1], ctl, "notebooks/B1_protocol.py")]
    html = V.header(recs, departures="k = 5 baselines", reading="blue decays", link=True).data
    assert html.startswith('<div class="ibn-header">')
    assert "Decay &lt;holds&gt;." in html and "R² 0.7" in html  # escaped, with the reasons
    assert html.count('class="ibn-verdict"') == 2 and "not reproduced" in html
    assert "resnet20/mnist, vgg11/mnist (n = 10, 50 samples; book scale)" in html
    assert "k = 5 baselines" in html and "blue decays" in html
    assert '<a href="B1_protocol.html">' in html and "<details" in html
    empty = V.header([], departures="d", reading="r").data
    assert "no record" in empty and "<details" not in empty
