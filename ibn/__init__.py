"""ibn: the AND-OR and multi-order interactions that deep neural networks encode.

The names most scripts need are re-exported here (``ibn.extract``, ``ibn.all_values``,
``ibn.PatchMasker``, ...).

Layout (a map of the ideas):
- ``ibn.transforms``  Möbius/zeta butterflies over the subset lattice (AND and OR).
- ``ibn.and_or``      the sparsest AND-OR decomposition of a game (exact LP, fast, lab SGD).
- ``ibn.multiorder``  multi-order interactions I^(m)(i, j) and relative strength J^(m).
- ``ibn.games``       the bridge from a model, an input and a masker to the values v(x_T).
- ``ibn.explanation`` ``ibn.explain(model, inputs, masker)``: values, AND-OR (and multi-order)
                      interactions in one call; named, plotted, saved (``ibn.load``), shapiq.
- ``ibn.study``       ``study(models, inputs, masker, client=...)``: every (model, sample) pair
                      as a task on a Dask cluster, cached per pair and restartable.

Formulas and conventions: the book's page "Conventions and formulas" (``book/conventions.md``)
defines everything the library computes, in one notation. Docstrings cite it as
"(Conventions page, LABEL)", where LABEL names an equation (``eq-harsanyi``, ...) or a section
(``conventions-and-or``, ...) of that page; its last section lists every label.
"""

__version__ = "0.1.0"

# name -> module; imported on first use (PEP 562), so that ``import ibn`` (and the command line's
# data commands) stays quick and does not load torch
_EXPORTS = {
    # the sparsest AND-OR decomposition
    "extract": "and_or", "AndOrResult": "and_or",
    # values of a model's masked inputs
    "all_values": "games", "Game": "games", "evaluate": "games", "log_odds": "games",
    "Masker": "games",
    "PatchMasker": "maskers", "FeatureMapMasker": "maskers", "TabularMasker": "maskers",
    "TokenMasker": "maskers",
    # multi-order interactions (ibn.multiorder.exact / sample for the interactions themselves)
    "strength": "multiorder", "relative_strength": "multiorder",
    # one call from a model and inputs to named, plotted, saved interactions
    "explain": "explanation", "load": "explanation", "Explanation": "explanation",
    # studies of many samples x models as tasks on a Dask cluster (ibn.study.study)
    "ModelFactory": "study",
    # the butterflies over the subset lattice
    "mobius": "transforms", "zeta": "transforms", "or_mobius": "transforms", "or_zeta": "transforms",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ibn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
