r"""Maskers: turn one input and :math:`k` coalition masks into the model's outputs on
:math:`x_T` (Conventions page, conventions-notation and conventions-protocols).

A masker implements the ``ibn.games`` protocol: attribute ``n_players`` and
``masker(model, x, masks) -> outputs`` where ``x`` is ONE input (no batch dimension) and
``masks`` is a bool tensor ``(k, n_players)``, column :math:`i` = player :math:`i` (bit
:math:`i` of the coalition integer; Conventions page, eq-mask). Players outside the
coalition are replaced by the baseline; everything that is not a player keeps its original
value. The masks are processed in chunks of ``batch_size``.

Every masker also has ``apply(model, xb, masks)`` (row b of ``masks`` applies to ``xb[b]``,
used by the order-steering losses during training), ``players`` (which cells, features or
tokens were chosen) and ``describe()`` (a JSON-able dict for provenance). By default the model
is switched to eval mode during a call and restored afterwards (``eval_mode=False`` to keep
its mode); gradients are NOT disabled, so penalty losses can back-propagate through maskers.
With the all-kept mask the masked input (or feature map) is the unmasked one exactly
(``torch.where``), so the output equals ``model(x[None])`` up to batch-size effects of the
kernels (about :math:`10^{-8}` in float32 on CPU).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .transforms import all_masks, check_masks

__all__ = ["PatchMasker", "FeatureMapMasker", "TokenMasker", "TabularMasker", "player_names",
           "all_masks", "central_cells", "STOP_WORDS"]

# A small English stop-word list (articles, pronouns, auxiliaries, prepositions, conjunctions).
STOP_WORDS: frozenset[str] = frozenset("""
a an the and or but nor so yet if then else than as of at by for from in into on onto to with
without about above below over under after before during between through up down out off
again further once here there when where why how all any both each few more most other some
such no not only own same too very can will just should would could may might must shall
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves what which who whom this
that these those am is are was were be been being have has had having do does did doing
s t d ll m o re ve y don doesn didn isn aren wasn weren hasn haven hadn won wouldn shouldn
couldn ain ma let lets also us
""".split())


def central_cells(grid: int, central: int, n: int, seed: int) -> list[int]:
    r"""Draw ``n`` distinct cells of the central ``central`` × ``central`` block of a
    ``grid`` × ``grid`` grid (seeded; numpy ``default_rng(seed).choice``), returned sorted as
    row-major cell indices :math:`r \cdot \mathrm{grid} + c` (paper B's protocol: grid 8,
    central 6, n 10; Conventions page, conventions-protocol-b).

    Args:
        grid: the number of cells per side of the grid.
        central: the side of the central block the cells are drawn from, ``1..grid`` (the block
            is offset by ``(grid - central) // 2`` from the top left).
        n: the number of cells to draw, ``1..central**2``.
        seed: the seed of ``numpy.random.default_rng``.

    Returns:
        the ``n`` cell indices, sorted ascending.

    Raises:
        ValueError: ``central`` is not in ``1..grid`` or ``n`` is not in ``1..central**2``.
    """
    if not 0 < central <= grid:
        raise ValueError(f"central must be in 1..grid={grid}, got {central}")
    if not 0 < n <= central * central:
        raise ValueError(f"cannot draw {n} players from a {central}x{central} block")
    off = (grid - central) // 2
    pick = np.random.default_rng(seed).choice(central * central, size=n, replace=False)
    return sorted(int((off + p // central) * grid + off + p % central) for p in pick)


@contextmanager
def _mode(model: nn.Module, eval_mode: bool) -> Iterator[None]:
    was = model.training
    if eval_mode:
        model.eval()
    try:
        yield
    finally:
        model.train(was)


def _edges(size: int, parts: int) -> list[int]:
    if parts > size:
        raise ValueError(f"cannot cut {size} pixels into {parts} grid cells")
    return [(i * size) // parts for i in range(parts + 1)]


def _player_map(h: int, w: int, gh: int, gw: int, cells: Sequence[int]) -> torch.Tensor:
    """(h, w) long map: player index of each pixel, or -1 for non-player pixels."""
    re_, ce = _edges(h, gh), _edges(w, gw)
    pm = torch.full((h, w), -1, dtype=torch.long)
    for p, cell in enumerate(cells):
        r, c = divmod(int(cell), gw)
        pm[re_[r]:re_[r + 1], ce[c]:ce[c + 1]] = p
    return pm


def _keep_map(masks: torch.Tensor, pmap: torch.Tensor) -> torch.Tensor:
    """(k, 1, h, w) bool: True where the pixel keeps its value."""
    ext = torch.cat([masks, torch.ones(masks.shape[0], 1, dtype=torch.bool,
                                       device=masks.device)], 1)
    idx = torch.where(pmap < 0, masks.shape[1], pmap).to(masks.device)
    return ext[:, idx].unsqueeze(1)


def _baseline_repr(b: Any) -> Any:
    if isinstance(b, torch.Tensor):
        return {"tensor_shape": list(b.shape), "mean": float(b.float().mean())}
    return b


class _Masker:
    n_players: int
    players: list
    batch_size: int = 256
    eval_mode: bool = True

    def apply(self, model: nn.Module, xb: Any, masks: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _single(self, x: Any) -> Any:
        x = torch.as_tensor(x)
        return x.unsqueeze(0)

    def __call__(self, model: nn.Module, x: Any, masks: torch.Tensor) -> torch.Tensor:
        masks = check_masks(masks, self.n_players)
        xb = self._single(x)
        if isinstance(xb, torch.Tensor):
            masks = masks.to(xb.device)
        outs = []
        with _mode(model, self.eval_mode):
            for s in range(0, masks.shape[0], self.batch_size):
                outs.append(self.apply(model, xb, masks[s:s + self.batch_size]))
        return torch.cat(outs, 0) if outs else torch.empty(0)

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


class PatchMasker(_Masker):
    r"""Input patches as players: the image ``(C, H, W)`` is cut into a grid of
    :math:`g_h \times g_w` nearly equal cells (row edges :math:`\lfloor i H / g_h \rfloor`,
    column edges :math:`\lfloor j W / g_w \rfloor`); masked cells take the ``baseline``
    (Conventions page, conventions-notation).

    Args:
        grid: the grid, an int :math:`g` (a :math:`g \times g` grid) or a pair
            ``(gh, gw)`` (default 8).
        baseline: what masked pixels take: a scalar or a tensor broadcastable to
            ``(C, H, W)`` (default 0.0, in the model's input space).
        cells: the cells that are players, as row-major indices :math:`r g_w + c` (player
            :math:`i` = ``cells[i]``); None = all cells, unless ``n_players`` is given.
        n_players: draw this many cells (seeded, :func:`central_cells`) from the central
            block; needs a square grid; exclusive with ``cells``.
        central: the side of the central block the ``n_players`` cells are drawn from
            (default None = the whole grid).
        seed: the seed of the draw of ``n_players`` cells (default 0).
        batch_size: masks per forward pass when the masker is called (default 256).
        eval_mode: switch the model to eval mode during a call and restore its mode after
            (default True).

    Raises:
        ValueError: both ``cells`` and ``n_players``; ``n_players`` with a non-square grid;
            cells that repeat or lie outside the grid; a draw that :func:`central_cells`
            refuses.
    """

    def __init__(self, grid: int | tuple[int, int] = 8, baseline: float | torch.Tensor = 0.0,
                 cells: Sequence[int] | None = None, n_players: int | None = None,
                 central: int | None = None, seed: int = 0, batch_size: int = 256,
                 eval_mode: bool = True) -> None:
        self.grid = (grid, grid) if isinstance(grid, int) else tuple(grid)
        gh, gw = self.grid
        if cells is not None and n_players is not None:
            raise ValueError("give either cells or n_players, not both")
        if n_players is not None:
            if gh != gw:
                raise ValueError("random central players need a square grid")
            cells = central_cells(gh, central or gh, n_players, seed)
        elif cells is None:
            cells = list(range(gh * gw))
        cells = [int(c) for c in cells]
        if len(set(cells)) != len(cells) or not all(0 <= c < gh * gw for c in cells):
            raise ValueError(f"cells must be distinct indices in 0..{gh * gw - 1}, got {cells}")
        self.players = cells
        self.n_players = len(cells)
        self.baseline = baseline
        self.seed, self.central = seed, central
        self.batch_size, self.eval_mode = batch_size, eval_mode
        self._pmaps: dict[tuple[int, int], torch.Tensor] = {}

    def keep_map(self, masks: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The bool map of the pixels each mask keeps (non-player pixels are always kept).

        Args:
            masks: bool ``(k, n_players)``, one coalition per row (True = player kept).
            h: the height of the image (or feature map) in pixels.
            w: its width in pixels.

        Returns:
            bool ``(k, 1, h, w)`` on the device of ``masks``; True where the pixel keeps its
            value.
        """
        if (h, w) not in self._pmaps:
            self._pmaps[(h, w)] = _player_map(h, w, *self.grid, self.players)
        return _keep_map(masks, self._pmaps[(h, w)])

    def mask_inputs(self, xb: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The masked images: masked cells set to the ``baseline``, everything else unchanged.

        Args:
            xb: images ``(B, C, H, W)`` with :math:`B = k` (row b masked by ``masks[b]``) or
                :math:`B = 1` (one image, masked by every row).
            masks: bool ``(k, n_players)``, one coalition per row (True = player kept).

        Returns:
            ``(k, C, H, W)`` in the dtype and on the device of ``xb``.

        Raises:
            ValueError: ``xb`` is not 4-D.
        """
        if xb.ndim != 4:
            raise ValueError(f"PatchMasker expects images (C, H, W), got batch {tuple(xb.shape)}")
        keep = self.keep_map(masks, xb.shape[-2], xb.shape[-1])
        base = torch.as_tensor(self.baseline, dtype=xb.dtype, device=xb.device)
        return torch.where(keep, xb, base)

    def apply(self, model: nn.Module, xb: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The model's outputs on the masked images (row b of ``masks`` applies to ``xb[b]``);
        no eval-mode switch and no chunking (the call ``masker(model, x, masks)`` adds them).

        Args:
            model: the model, called on a batch ``(k, C, H, W)``.
            xb: images ``(k, C, H, W)``, or ``(1, C, H, W)`` for one image under every mask.
            masks: bool ``(k, n_players)``, one coalition per row (True = player kept).

        Returns:
            the model's outputs on the :math:`k` masked images, e.g. logits ``(k, C)``.
        """
        return model(self.mask_inputs(xb, masks))

    def describe(self) -> dict[str, Any]:
        """The masker's settings for provenance.

        Returns:
            a JSON-able dict: ``masker`` (the class name), ``grid``, ``n_players``,
            ``players``, ``central``, ``seed`` and ``baseline`` (a tensor baseline as its shape
            and mean).
        """
        return {"masker": "PatchMasker", "grid": list(self.grid), "n_players": self.n_players,
                "players": self.players, "central": self.central, "seed": self.seed,
                "baseline": _baseline_repr(self.baseline)}


class FeatureMapMasker(_Masker):
    r"""Patches of an intermediate feature map as players (paper B App. K; Conventions page,
    conventions-protocol-b).

    A forward hook on the named ``layer`` (default: the model's ``masking_layer``:
    ``features.relu2`` for VGG and SmallCNN, ``features.relu1`` for AlexNet) replaces its output
    :math:`h` ``(B, C, H', W')`` by ``where(keep, h, baseline)``. For a single input the
    prefix runs once and the hook expands the map to the :math:`k` masked versions
    (broadcasting), so the suffix sees a batch of :math:`k`. The map is cut into a
    ``grid`` × ``grid`` grid; ``n_players`` cells are drawn (seeded) from the central
    ``central`` × ``central`` block, or given as ``cells``. The layer actually used is kept in
    ``layer_used`` after the first call.

    Args:
        layer: the name of the submodule whose output is masked (as in
            ``model.get_submodule``); None (the default) = the model's ``masking_layer``.
        grid: the number of cells per side of the feature map's grid (default 8).
        central: the side of the central block the players are drawn from (default 6).
        n_players: the number of cells drawn (default 10); ignored when ``cells`` is given.
        seed: the seed of the draw (default 0).
        baseline: what masked cells of the map take: a scalar or a tensor broadcastable to
            ``(C, H', W')`` (default 0.0, the baseline of a post-ReLU map).
        cells: the player cells as row-major indices, instead of a draw; None = draw.
        batch_size: masks per forward pass when the masker is called (default 256).
        eval_mode: switch the model to eval mode during a call and restore its mode after
            (default True).

    Raises:
        ValueError: invalid cells or a draw that :func:`central_cells` refuses.
    """

    def __init__(self, layer: str | None = None, grid: int = 8, central: int = 6,
                 n_players: int = 10, seed: int = 0, baseline: float | torch.Tensor = 0.0,
                 cells: Sequence[int] | None = None, batch_size: int = 256,
                 eval_mode: bool = True) -> None:
        self.patches = PatchMasker(grid=grid, baseline=baseline, cells=cells,
                                   n_players=None if cells is not None else n_players,
                                   central=central, seed=seed)
        self.layer, self.grid, self.central, self.seed = layer, grid, central, seed
        self.layer_used: str | None = layer  # resolved at the first call (model.masking_layer)
        self.baseline = baseline
        self.players = self.patches.players
        self.n_players = self.patches.n_players
        self.batch_size, self.eval_mode = batch_size, eval_mode

    def layer_name(self, model: nn.Module) -> str:
        """The name of the layer that is masked in ``model``.

        Args:
            model: the model; its ``masking_layer`` attribute is read when no ``layer`` was
                given.

        Returns:
            ``layer``, else ``model.masking_layer``.

        Raises:
            ValueError: no ``layer`` was given and the model has no ``masking_layer``.
        """
        name = self.layer or getattr(model, "masking_layer", None)
        if name is None:
            raise ValueError("no layer given and the model has no `masking_layer` attribute")
        return name

    def apply(self, model: nn.Module, xb: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The model's outputs with the masked layer's feature map masked by ``masks`` (row b of
        ``masks`` applies to ``xb[b]``); no eval-mode switch and no chunking (the call
        ``masker(model, x, masks)`` adds them).

        Args:
            model: the model, with a submodule named by :meth:`layer_name`.
            xb: inputs ``(k, C, H, W)``, or ``(1, C, H, W)``: one input whose feature map is
                computed once and expanded to the :math:`k` masks.
            masks: bool ``(k, n_players)``, one coalition per row (True = player kept).

        Returns:
            the model's outputs on the :math:`k` masked versions, e.g. logits ``(k, C)``.

        Raises:
            ValueError: the model has no such layer, or the layer's output is not a feature
                map ``(B, C, H, W)``.
        """
        name = self.layer_name(model)
        self.layer_used = name
        try:
            module = model.get_submodule(name)
        except AttributeError as exc:
            raise ValueError(f"model has no layer named {name!r}") from exc

        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> torch.Tensor:
            if out.ndim != 4:
                raise ValueError(f"layer {name!r} output has shape {tuple(out.shape)}, "
                                 "expected a feature map (B, C, H, W)")
            return self.patches.mask_inputs(out, masks)

        handle = module.register_forward_hook(hook)
        try:
            return model(xb)
        finally:
            handle.remove()

    def describe(self) -> dict[str, Any]:
        """The masker's settings for provenance.

        Returns:
            a JSON-able dict: ``masker`` (the class name), ``layer`` (the one given, else the
            one used), ``grid``, ``central``, ``n_players``, ``players``, ``seed`` and
            ``baseline`` (a tensor baseline as its shape and mean).
        """
        return {"masker": "FeatureMapMasker", "layer": self.layer or self.layer_used,
                "grid": self.grid,
                "central": self.central, "n_players": self.n_players, "players": self.players,
                "seed": self.seed, "baseline": _baseline_repr(self.baseline)}


class TabularMasker(_Masker):
    """Features of a table row as players; masked features take the ``baseline`` (Conventions
    page, conventions-notation).

    Args:
        baseline: the per-feature baseline, a vector ``(d,)`` (stored as float32); use
            :meth:`from_data` for the training mean.
        features: the feature indices that are players (player i = ``features[i]``); None
            (the default) = all ``d`` features. The other features keep their values.
        batch_size: masks per forward pass when the masker is called (default 1024).
        eval_mode: switch the model to eval mode during a call and restore its mode after
            (default True).

    Raises:
        ValueError: ``baseline`` is not a vector, or ``features`` repeat or lie outside
            ``0..d-1``.
    """

    def __init__(self, baseline: Any, features: Sequence[int] | None = None,
                 batch_size: int = 1024, eval_mode: bool = True) -> None:
        self.baseline = torch.as_tensor(baseline, dtype=torch.float32)
        if self.baseline.ndim != 1:
            raise ValueError(f"baseline must be a vector (d,), got {tuple(self.baseline.shape)}")
        d = self.baseline.shape[0]
        feats = list(range(d)) if features is None else [int(f) for f in features]
        if len(set(feats)) != len(feats) or not all(0 <= f < d for f in feats):
            raise ValueError(f"features must be distinct indices in 0..{d - 1}")
        self.players = feats
        self.n_players = len(feats)
        self.batch_size, self.eval_mode = batch_size, eval_mode

    @classmethod
    def from_data(cls, x_train: Any, features: Sequence[int] | None = None,
                  **kw: Any) -> "TabularMasker":
        """A masker whose baseline is the per-feature mean of the training data.

        Args:
            x_train: the training data ``(N, d)`` (anything ``numpy.asarray`` reads).
            features: the feature indices that are players; None = all.
            **kw: the other arguments of the constructor (``batch_size``, ``eval_mode``).

        Returns:
            the :class:`TabularMasker`.
        """
        x = torch.as_tensor(np.asarray(x_train), dtype=torch.float32)
        return cls(x.mean(0), features, **kw)

    def apply(self, model: nn.Module, xb: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The model's outputs on the masked rows (row b of ``masks`` applies to ``xb[b]``); no
        eval-mode switch and no chunking (the call ``masker(model, x, masks)`` adds them).

        Args:
            model: the model, called on a batch ``(k, d)``.
            xb: rows ``(k, d)``, or ``(1, d)`` for one row under every mask.
            masks: bool ``(k, n_players)``, one coalition per row (True = player kept).

        Returns:
            the model's outputs on the :math:`k` masked rows, e.g. logits ``(k, C)``.

        Raises:
            ValueError: the rows do not have ``d`` features.
        """
        d = self.baseline.shape[0]
        if xb.shape[-1] != d:
            raise ValueError(f"inputs have {xb.shape[-1]} features, baseline has {d}")
        keep = torch.ones(masks.shape[0], d, dtype=torch.bool, device=masks.device)
        keep[:, self.players] = masks
        base = self.baseline.to(device=xb.device, dtype=xb.dtype)
        return model(torch.where(keep, xb, base))

    def describe(self) -> dict[str, Any]:
        """The masker's settings for provenance.

        Returns:
            a JSON-able dict: ``masker`` (the class name), ``n_players``, ``players`` and
            ``baseline`` (as a list).
        """
        return {"masker": "TabularMasker", "n_players": self.n_players, "players": self.players,
                "baseline": self.baseline.tolist()}


_MEANINGFUL = re.compile(r"[^\W_]", re.UNICODE)


class TokenMasker(_Masker):
    """Words of one sentence as players (Conventions page, conventions-protocol-b): up to
    ``n_players`` words that are not stop words and contain a letter or digit, drawn with
    ``default_rng(seed)``, kept in sentence order. A player is a word: all its word-piece tokens are
    masked together. Masked tokens become ``mask_token_id`` (default the tokenizer's [MASK], 103 for
    BERT), or, with ``baseline_embedding`` (a (hidden,) vector), the model is fed ``inputs_embeds``
    in which those tokens' word embeddings are replaced (for LMs without a [MASK] token). The model
    must accept ``input_ids``/``inputs_embeds`` and ``attention_mask`` keywords and, for the
    embedding baseline, expose ``input_embeddings()`` (see :mod:`ibn.models.text`). The masker
    is built for one sentence: the ``x`` of a call must be that text, its ``input_ids``, or
    None.

    Args:
        tokenizer: a Hugging Face fast tokenizer (it must give ``return_offsets_mapping`` and
            ``word_ids()``).
        text: the sentence.
        n_players: the largest number of words drawn as players (default 10; fewer when the
            sentence has fewer meaningful words).
        seed: the seed of the draw (default 0).
        mask_token_id: the token id masked tokens become; None = the tokenizer's
            ``mask_token_id``.
        baseline_embedding: a ``(hidden,)`` vector that replaces the word embeddings of masked
            tokens instead (the model is then fed ``inputs_embeds``); None = use
            ``mask_token_id``.
        stop_words: the lower-case words never drawn (default :data:`STOP_WORDS`).
        max_length: truncate the tokenized sentence to this many tokens; None = no
            truncation.
        batch_size: masks per forward pass when the masker is called (default 128).
        eval_mode: switch the model to eval mode during a call and restore its mode after
            (default True).

    Raises:
        ValueError: the sentence has no meaningful word, or neither a mask token nor a
            baseline embedding is available; a call with another sentence.
    """

    def __init__(self, tokenizer: Any, text: str, n_players: int = 10, seed: int = 0,
                 mask_token_id: int | None = None, baseline_embedding: torch.Tensor | None = None,
                 stop_words: frozenset[str] = STOP_WORDS, max_length: int | None = None,
                 batch_size: int = 128, eval_mode: bool = True) -> None:
        self.text, self.seed = text, seed
        enc = tokenizer(text, return_offsets_mapping=True, truncation=max_length is not None,
                        max_length=max_length)
        self.input_ids = torch.tensor(enc["input_ids"], dtype=torch.long)
        offsets = enc["offset_mapping"]
        word_ids = enc.word_ids()
        words: dict[int, list[int]] = {}
        for pos, w in enumerate(word_ids):
            if w is not None:
                words.setdefault(w, []).append(pos)
        cand = []
        for w, pos in words.items():
            s, e = offsets[pos[0]][0], offsets[pos[-1]][1]
            word = text[s:e]
            if _MEANINGFUL.search(word) and word.lower() not in stop_words:
                cand.append((word, pos))
        if not cand:
            raise ValueError(f"no meaningful (non-stop-word) token in {text!r}")
        k = min(n_players, len(cand))
        pick = sorted(np.random.default_rng(seed).choice(len(cand), size=k, replace=False))
        self.players = [{"word": cand[i][0], "positions": cand[i][1]} for i in pick]
        self.n_players = k
        if baseline_embedding is None:
            mask_token_id = tokenizer.mask_token_id if mask_token_id is None else mask_token_id
            if mask_token_id is None:
                raise ValueError("tokenizer has no [MASK] token: pass mask_token_id or "
                                 "baseline_embedding")
        self.mask_token_id = mask_token_id
        self.baseline_embedding = baseline_embedding
        self.batch_size, self.eval_mode = batch_size, eval_mode
        self._pos_player = torch.full((len(self.input_ids),), -1, dtype=torch.long)
        for p, pl in enumerate(self.players):
            self._pos_player[pl["positions"]] = p

    def _single(self, x: Any) -> Any:
        if x is not None and x != self.text and not (
                isinstance(x, torch.Tensor) and torch.equal(x.cpu(), self.input_ids)):
            raise ValueError("a TokenMasker is built for one sentence; x must be that text, its "
                             "input_ids, or None")
        return None

    def apply(self, model: nn.Module, xb: Any, masks: torch.Tensor) -> torch.Tensor:
        """The model's outputs on the :math:`k` masked versions of the sentence; no eval-mode
        switch and no chunking (the call ``masker(model, x, masks)`` adds them).

        Args:
            model: the text model, called with ``input_ids`` (or ``inputs_embeds``) and
                ``attention_mask`` of shape ``(k, L)``.
            xb: not read (the masker holds its sentence); None.
            masks: bool ``(k, n_players)``, one coalition per row (True = word kept).

        Returns:
            the model's outputs, e.g. logits ``(k, C)``.
        """
        dev = next(model.parameters()).device
        masks = masks.to(dev)
        ext = torch.cat([masks, torch.ones(masks.shape[0], 1, dtype=torch.bool, device=dev)], 1)
        idx = torch.where(self._pos_player < 0, masks.shape[1], self._pos_player).to(dev)
        keep = ext[:, idx]  # (k, L)
        ids = self.input_ids.to(dev).expand(masks.shape[0], -1)
        att = torch.ones_like(ids)
        if self.baseline_embedding is None:
            return model(input_ids=torch.where(keep, ids, self.mask_token_id), attention_mask=att)
        emb = model.input_embeddings()(ids)
        base = torch.as_tensor(self.baseline_embedding, dtype=emb.dtype, device=dev)
        return model(inputs_embeds=torch.where(keep.unsqueeze(-1), emb, base), attention_mask=att)

    def describe(self) -> dict[str, Any]:
        """The masker's settings for provenance.

        Returns:
            a JSON-able dict: ``masker`` (the class name), ``text``, ``n_players``,
            ``players`` (each word with its token positions), ``seed``, ``mask_token_id`` and
            ``baseline_embedding`` (its shape and mean, or None).
        """
        return {"masker": "TokenMasker", "text": self.text, "n_players": self.n_players,
                "players": self.players, "seed": self.seed, "mask_token_id": self.mask_token_id,
                "baseline_embedding": None if self.baseline_embedding is None
                else _baseline_repr(torch.as_tensor(self.baseline_embedding))}


def _unique(names: list[str]) -> list[str]:
    """``names`` with a repeated name told apart by its player index: ``"good [3]"``."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{name} [{i}]" if seen[name] > 1 else name for i, name in enumerate(names)]


def player_names(masker: Any) -> list[str]:
    """Readable names of a masker's players, player i first: ``"cell (r, c)"`` for a
    :class:`~ibn.maskers.PatchMasker` or :class:`~ibn.maskers.FeatureMapMasker` (row and column
    of the grid cell), the word for a :class:`~ibn.maskers.TokenMasker`, ``"feature j"`` for a
    :class:`~ibn.maskers.TabularMasker`, the masker's own ``players`` when they are strings, else
    ``"player i"``. A name that occurs twice is followed by its player index.

    Args:
        masker: a masker (anything with ``n_players``; ``players`` is read when present).

    Returns:
        ``n_players`` distinct strings, player i first.
    """
    n = int(masker.n_players)
    players = getattr(masker, "players", None)
    if isinstance(masker, (PatchMasker, FeatureMapMasker)):
        grid = masker.grid if isinstance(masker, PatchMasker) else masker.patches.grid
        names = [f"cell {divmod(int(c), int(grid[1]))}" for c in players]
    elif isinstance(masker, TokenMasker):
        names = [str(p["word"]) for p in players]
    elif isinstance(masker, TabularMasker):
        names = [f"feature {int(f)}" for f in players]
    elif isinstance(players, (list, tuple)) and len(players) == n and all(
            isinstance(p, str) for p in players):
        names = list(players)
    else:
        names = [f"player {i}" for i in range(n)]
    return _unique(names)
