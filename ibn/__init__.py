"""ibn: the AND-OR and multi-order interactions that deep neural networks encode.

Layout (a map of the ideas):
- ``ibn.transforms``  Möbius/zeta butterflies over the subset lattice (AND and OR).
- ``ibn.and_or``      the sparsest AND-OR decomposition of a game (exact LP, fast, lab SGD).
- ``ibn.multiorder``  multi-order interactions I^(m)(i, j) and relative strength J^(m).
- ``ibn.games``       the bridge from a model, an input and a masker to the values v(x_T).

Formulas and conventions: the book's page "Conventions and formulas" (``book/conventions.md``)
defines everything the library computes, in one notation. Docstrings cite it as
"(Conventions page, LABEL)", where LABEL names an equation (``eq-harsanyi``, ...) or a section
(``conventions-and-or``, ...) of that page; its last section lists every label.
"""

__version__ = "0.1.0"
