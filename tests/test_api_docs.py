"""The API reference's docstrings: every public function, class and method of the modules the
book documents names each of its parameters, and its docstring is valid reStructuredText after
napoleon's Google-style conversion (what the book's ``-W`` build would fail on)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("ibn_book_ext_api",
                                               ROOT / "book" / "_ext" / "ibn_book_ext.py")
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)
MODULES = [name for name, _ in ext.API_MODULES]


def _documented(modname: str):
    """(qualified name, object, docstring) of the module and its public callables."""
    m = importlib.import_module(modname)
    out = [(modname, m, inspect.getdoc(m) or "")]
    for n in getattr(m, "__all__", [n for n in dir(m) if not n.startswith("_")]):
        obj = getattr(m, n, None)
        if inspect.isfunction(obj):
            out.append((n, obj, inspect.getdoc(obj) or ""))
        elif inspect.isclass(obj):
            init = (inspect.getdoc(obj.__init__) or "") if "__init__" in vars(obj) else ""
            out.append((n, obj, (inspect.getdoc(obj) or "") + "\n\n" + init))
            for k, v in vars(obj).items():
                if k.startswith("_"):
                    continue
                if isinstance(v, property):
                    out.append((f"{n}.{k}", v, inspect.getdoc(v.fget) or ""))
                elif inspect.isfunction(v):
                    out.append((f"{n}.{k}", v, inspect.getdoc(v) or ""))
    return out


def _undescribed(obj, doc: str) -> list[str]:
    if isinstance(obj, property) or inspect.ismodule(obj):
        return []
    if inspect.isclass(obj) and hasattr(obj, "__dataclass_fields__"):
        return []  # a dataclass's fields are described in its docstring as a whole
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    params = [p for p in sig.parameters if p not in ("self", "cls") and not p.startswith("_")]
    return [p for p in params
            if not re.search(r"(?<![A-Za-z0-9_])" + re.escape(p) + r"(?![A-Za-z0-9_])", doc)]


@pytest.mark.parametrize("modname", MODULES)
def test_every_parameter_is_described(modname: str) -> None:
    missing = {qn: u for qn, obj, doc in _documented(modname) if (u := _undescribed(obj, doc))}
    assert not missing, f"{modname}: parameters not described: {missing}"


def _rst_problems(doc: str) -> list[str]:
    """reStructuredText problems (level >= warning) of ``doc`` after napoleon's conversion."""
    docutils_core = pytest.importorskip("docutils.core")
    napoleon = pytest.importorskip("sphinx.ext.napoleon")
    from docutils import nodes, utils
    from docutils.parsers.rst import Directive, directives, roles
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    def generic(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, utils.unescape(text))], []

    for r in ("func", "class", "mod", "meth", "data", "attr", "ref", "doc", "obj", "exc"):
        roles.register_local_role(r, generic)

    class Attribute(Directive):  # Sphinx's, which napoleon's Attributes sections become
        required_arguments, final_argument_whitespace, has_content = 1, True, True
        option_spec = {"type": directives.unchanged, "value": directives.unchanged,
                       "noindex": directives.flag}

        def run(self):
            return []

    directives.register_directive("attribute", Attribute)
    cfg = napoleon.Config(napoleon_use_param=True, napoleon_use_rtype=True)
    tree = docutils_core.publish_doctree(
        str(GoogleDocstring(doc, cfg)),
        settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": False})
    return [msg.astext().splitlines()[0] for msg in tree.findall(nodes.system_message)
            if msg["level"] >= 2]


@pytest.mark.parametrize("modname", MODULES)
def test_docstrings_are_valid_restructured_text(modname: str) -> None:
    problems = [f"{qn}: {p}" for qn, _, doc in _documented(modname) for p in _rst_problems(doc)]
    assert not problems, "\n".join(problems)


def test_the_checks_can_fail() -> None:
    def f(alpha: int, beta: int) -> int:
        """Add.

        Args:
            alpha: the first.
        """
        return alpha + beta

    assert _undescribed(f, inspect.getdoc(f)) == ["beta"]
    assert _rst_problems("A *broken emphasis.") and not _rst_problems(inspect.getdoc(f))
