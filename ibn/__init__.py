"""ibn: the AND-OR and multi-order interactions that deep neural networks encode.

Layout (a map of the ideas):
- ``ibn.transforms``  Möbius/zeta butterflies over the subset lattice (AND and OR).
- ``ibn.and_or``      the sparsest AND-OR decomposition of a game (exact LP, fast, lab SGD).
- ``ibn.multiorder``  multi-order interactions I^(m)(i, j) and relative strength J^(m).
- ``ibn.games``       the bridge from a model, an input and a masker to the values v(x_T).
"""

__version__ = "0.1.0"
