r"""The bridge from a model, an input and a masker to the values :math:`v(x_T)` of a game
(Conventions page, conventions-notation).

- :func:`log_odds` the reward :math:`v = \log \frac{p(y \mid x)}{1 - p(y \mid x)}` computed
  stably (paper B eq. 1; Conventions page, eq-reward).
- :class:`Masker` what a masker is: ``n_players`` and ``masker(model, x, masks) -> outputs``
  (concrete maskers live in :mod:`ibn.maskers`).
- :func:`evaluate` values of :math:`k` masks (chunked, ``torch.inference_mode``, model's
  device).
- :func:`evaluate_fn` the same for a plain function of a mask matrix (numpy returns accepted).
- :class:`Game` a game: its :math:`2^n` values with the players' names, the target class and what
  made it.
- :func:`all_values` the :class:`Game` of a model on one input: every coalition's value (bit
  :math:`i` = player :math:`i`; Conventions page, eq-mask), with a cost guard.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch

from ._checks import check_flag, check_number
from ._progress import tqdm
from .maskers import player_names
from .transforms import all_masks, check_masks, n_players

__all__ = ["log_odds", "Masker", "Game", "evaluate", "evaluate_fn", "all_values"]

Reward = Callable[[Any, Any], Any]

#: progress bars switch on automatically above this many chunks
_AUTO_BAR_CHUNKS = 4


def log_odds(logits, target) -> torch.Tensor:
    r""":math:`v = z_y - \log \sum_{c \neq y} e^{z_c} = \log \frac{p(y)}{1 - p(y)}` for logits
    :math:`z` (paper B eq. 1; Conventions page, eq-reward).

    Args:
        logits: ``(..., C)`` unnormalised scores :math:`z` (float64 is used internally), e.g.
            the outputs ``(k, C)`` of a model on :math:`k` masked inputs.
        target: the class index :math:`y`, an int or an integer tensor broadcastable to
            ``logits.shape[:-1]`` (one class per row).

    Returns:
        float64 tensor ``logits.shape[:-1]``. Stable for huge logits (no softmax is formed).
        With a single output column (:math:`C = 1`) the column is read as the logit :math:`z`
        of a binary model (:math:`p = \sigma(z)`): :math:`v = z` for target 1 and :math:`-z`
        for target 0.

    Raises:
        ValueError: ``logits`` has no class dimension; a target is outside
            :math:`0, \dots, C-1` (or not 0 or 1 with a single column).
        TypeError: ``target`` holds floating-point or complex numbers.
    """
    z = torch.as_tensor(logits).to(torch.float64)
    if z.ndim < 1:
        raise ValueError("logits must have a class dimension (..., C)")
    y = torch.as_tensor(target, device=z.device)
    if y.is_floating_point() or y.is_complex():
        raise TypeError(f"target must hold integer class indices, got dtype {y.dtype}")
    y = y.to(torch.int64).expand(z.shape[:-1])
    C = z.shape[-1]
    if C == 1:
        if ((y != 0) & (y != 1)).any():
            raise ValueError("with a single logit column, target must be 0 or 1")
        return torch.where(y == 1, z[..., 0], -z[..., 0])
    if ((y < 0) | (y >= C)).any():
        raise ValueError(f"target class out of range 0..{C - 1}")
    picked = z.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    others = z.scatter(-1, y.unsqueeze(-1), float("-inf"))
    return picked - torch.logsumexp(others, dim=-1)


@runtime_checkable
class Masker(Protocol):
    r"""Produces a model's outputs on masked versions of one input (Conventions page,
    conventions-notation).

    A masker has an int attribute ``n_players`` (the number :math:`n` of players) and is
    called as ``masker(model, x, masks)`` with ``model`` the model to run, ``x`` one input (no
    batch dimension) and ``masks`` a bool tensor ``(k, n_players)`` (True = player kept, column
    :math:`i` = player :math:`i`); it returns the model's outputs on the :math:`k` inputs
    :math:`x_T`, e.g. logits ``(k, C)``. Players outside :math:`T` are replaced by the
    masker's baseline. The concrete maskers are in :mod:`ibn.maskers`.

    This is a protocol (checked with ``isinstance(obj, Masker)``), not a class to instantiate:
    its constructor's ``*args, **kwargs`` are those of ``typing.Protocol`` and take nothing.
    """

    n_players: int

    def __call__(self, model: Any, x: Any, masks: torch.Tensor) -> Any: ...


def _as_class(target: Any) -> int | None:
    """The target as a Python int where it is one class (None or a per-mask target: None)."""
    if isinstance(target, (int, np.integer)):
        return int(target)
    if isinstance(target, torch.Tensor) and target.numel() == 1 and not target.is_floating_point():
        return int(target.item())
    return None


def _unwrap(a: Any) -> Any:
    if isinstance(a, Game):
        return a.values
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap(b) for b in a)
    if isinstance(a, dict):
        return {k: _unwrap(b) for k, b in a.items()}
    return a


@dataclass(frozen=True, eq=False)
class Game:
    r"""A game :math:`v` over :math:`n` players (Conventions page, conventions-notation):
    ``values[T]`` = :math:`v(x_T)` for every coalition :math:`T`, indexed by bitmask (bit
    :math:`i` = player :math:`i`), with what it needs to be read.

    Attributes:
        values: float64 tensor :math:`(2^n,)` on the CPU, entry :math:`T` the value
            :math:`v(x_T)` of coalition :math:`T` (Conventions page, eq-mask).
        names: the players' readable names, player :math:`i` first
            (:func:`ibn.maskers.player_names`).
        players: what the masker chose as players (grid cells, features, words), player
            :math:`i` first.
        target: the class :math:`y` whose reward :math:`v` is (resolved: the predicted class
            when none was given), or None for a game that is not a classifier's.
        made_by: what made the values: the model's class, the masker's ``describe()`` and the
            reward's name (a plain function's name for a function game).

    A Game is read wherever values are: ``ibn.and_or.extract(game)``, ``ibn.transforms``,
    ``ibn.multiorder.exact``; torch functions take it as its values (``torch.stack(games)``,
    ``torch.allclose(game, v)``), numpy too (``np.asarray(game)``); ``game[T]`` is :math:`v(x_T)`.
    """

    values: torch.Tensor
    names: tuple[str, ...]
    players: tuple[Any, ...]
    target: int | None = None
    made_by: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = n_players(int(self.values.shape[-1]))
        if self.values.ndim != 1:
            raise ValueError(f"values must be one game (2**n,), got shape {tuple(self.values.shape)}")
        if len(self.names) != n or len(self.players) != n:
            raise ValueError(f"a game of n = {n} players needs {n} names and players, got "
                             f"{len(self.names)} and {len(self.players)}")

    @property
    def n(self) -> int:
        """The number of players."""
        return int(self.values.shape[-1]).bit_length() - 1

    def __getitem__(self, T: Any) -> torch.Tensor:
        return self.values[T]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self.values.numpy()
        return a.astype(dtype) if dtype is not None else a

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return func(*_unwrap(args), **_unwrap(kwargs or {}))

    def __repr__(self) -> str:
        shown = ", ".join(self.names[:4]) + (", ..." if self.n > 4 else "")
        return f"Game(n={self.n}, target={self.target}, players=[{shown}])"


def _model_device(model) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")


def _to_values(out, k: int, what: str) -> torch.Tensor:
    """Values (k,) float64 on the CPU from a tensor / array / list."""
    if isinstance(out, torch.Tensor):
        vals = out.detach().to("cpu", torch.float64)
    else:
        try:
            vals = torch.as_tensor(np.asarray(out, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must return numbers, got {type(out).__name__}: {err}") from None
    if vals.shape != (k,):
        if vals.numel() == k:
            vals = vals.reshape(k)
        else:
            raise ValueError(f"{what} must return {k} values for {k} masks, got shape {tuple(vals.shape)}")
    return vals


def _check_finite(vals: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    bad = (~torch.isfinite(vals)).nonzero().flatten()
    if len(bad):
        first = bad[:5].tolist()
        desc = ", ".join(
            f"#{r} (players {masks[r].nonzero().flatten().tolist()}) -> {vals[r].item()}" for r in first
        )
        raise ValueError(
            f"non-finite reward for {len(bad)} of {len(vals)} masks; first: {desc}. "
            "Check the model's outputs on masked inputs (overflow, log of 0, NaN weights)."
        )
    return vals


def _chunks(k: int, batch_size: int | None, progress: bool | None, desc: str):
    check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    check_flag("progress", progress, allow_none=True)
    step = k if not batch_size else batch_size
    starts = range(0, k, max(step, 1))
    show = len(starts) > _AUTO_BAR_CHUNKS if progress is None else progress
    return tqdm(starts, desc=desc, disable=not show, leave=False), max(step, 1)


def evaluate_fn(fn: Callable, masks, *, batch_size: int | None = None, progress: bool | None = None,
                as_numpy: bool = False) -> torch.Tensor:
    """The values ``(k,)`` float64 of a plain function of coalition masks, evaluated in chunks.

    Args:
        fn: ``fn(masks)`` with ``masks`` a bool ``(k', n)`` chunk (column i = player i) returns
            its ``k'`` values, as a tensor, a numpy array or a list (non-torch models too).
        masks: bool ``(k, n)``, one coalition per row (Conventions page, eq-mask).
        batch_size: masks per call of ``fn``; None (the default) evaluates all at once.
        progress: a tqdm bar over the chunks (None: automatic when there are more than a few).
        as_numpy: hand ``fn`` numpy bool arrays instead of tensors.

    Returns:
        float64 tensor ``(k,)`` on the CPU, entry r the value of mask row r.

    Raises:
        ValueError: a value is not finite (the message names the masks), or ``fn`` returns
            another number of values than it was given masks.
        TypeError: ``fn`` returns something that is not numbers.
    """
    masks = check_masks(masks)
    k = masks.shape[0]
    starts, step = _chunks(k, batch_size, progress, "masks")
    parts = []
    for a in starts:
        chunk = masks[a:a + step]
        arg = chunk.cpu().numpy() if as_numpy else chunk
        parts.append(_to_values(fn(arg), len(chunk), "fn"))
    vals = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
    return _check_finite(vals, masks)


def evaluate(
    model: Any,
    x: Any = None,
    masker: Masker | None = None,
    masks=None,
    *,
    reward: Reward = log_odds,
    target=None,
    batch_size: int | None = 256,
    device=None,
    progress: bool | None = None,
) -> torch.Tensor:
    r"""The values :math:`v(x_T)` of the :math:`k` coalitions :math:`T` in ``masks``
    (Conventions page, eq-mask and eq-reward).

    Args:
        model: a torch model (or any object the masker knows how to run). Without a ``masker``,
            ``model`` is a plain function of the masks and this is :func:`evaluate_fn`.
        x: the input, one sample without a batch dimension (moved to the device when it is a
            tensor); None without a masker.
        masker: a :class:`Masker`; ``masker(model, x, masks_chunk)`` gives the outputs.
        masks: bool ``(k, n)``, one coalition per row (column :math:`i` = player :math:`i`,
            True = kept); required.
        reward: ``reward(outputs, target) -> (k,)`` values; default :func:`log_odds`.
        target: the class :math:`y` of the reward. ``None`` = the class the model predicts on
            the unmasked input :math:`x_N` (argmax of its outputs). The papers use the true
            label: pass it.
        batch_size: masks per forward pass (default 256; None = all at once).
        device: where to run (default: the device of the model's parameters, else CPU).
        progress: tqdm bar (None: automatic when there are more than a few chunks).

    Returns:
        float64 tensor ``(k,)`` on the CPU, entry :math:`r` the value of mask row :math:`r`.

    Raises:
        ValueError: no ``masks``; an ``x`` without a masker; masks of the wrong shape; a
            non-finite reward (the message names the masks).

    Runs under ``torch.inference_mode()``; the model should be in eval mode (a warning is
    given when it is training, unless the masker has ``eval_mode = True``, i.e. switches it).
    """
    if masks is None:
        raise ValueError("evaluate needs masks: a (k, n) boolean matrix of coalitions")
    if masker is None:
        if x is not None:
            raise ValueError("an input x was given without a masker; pass masker=... (or only a function and masks)")
        return evaluate_fn(model, masks, batch_size=batch_size, progress=progress)
    return _evaluate_model(model, x, masker, masks, reward, target, batch_size, device,
                           progress)[0]


def _evaluate_model(model: Any, x: Any, masker: Masker, masks, reward: Reward, target: Any,
                    batch_size: int | None, device: Any, progress: bool | None
                    ) -> tuple[torch.Tensor, Any]:
    """:func:`evaluate` with a masker; also returns the target used (resolved when None)."""
    masks = check_masks(masks, getattr(masker, "n_players", None))
    dev = torch.device(device) if device is not None else _model_device(model)
    if isinstance(model, torch.nn.Module) and model.training and not getattr(masker, "eval_mode", False):
        warnings.warn("model is in training mode (dropout/batch-norm active); call model.eval() first",
                      stacklevel=3)
    if isinstance(x, torch.Tensor):
        x = x.to(dev)
    k, n = masks.shape
    parts = []
    with torch.inference_mode():
        if target is None:
            full = masker(model, x, torch.ones(1, n, dtype=torch.bool, device=dev))
            is_logits = isinstance(full, torch.Tensor) and full.ndim >= 2
            target = full[0].argmax(-1) if is_logits else None
        starts, step = _chunks(k, batch_size, progress, "forward passes")
        for a in starts:
            chunk = masks[a:a + step].to(dev)
            out = masker(model, x, chunk)
            parts.append(_to_values(reward(out, target), len(chunk), "reward"))
    vals = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
    return _check_finite(vals, masks), target


def all_values(
    model_or_fn: Any,
    x: Any = None,
    masker: Masker | None = None,
    *,
    n: int | None = None,
    max_players: int = 20,
    reward: Reward = log_odds,
    target=None,
    batch_size: int | None = 256,
    device=None,
    progress: bool | None = None,
) -> Game:
    r"""The :class:`Game` of every coalition :math:`T`'s value :math:`v(x_T)`, indexed by
    bitmask (bit :math:`i` = player :math:`i`; Conventions page, eq-mask), with its players'
    names and its target class.

    Args:
        model_or_fn: a torch model (or any object the masker runs); without a masker, a plain
            function of mask matrices as in :func:`evaluate_fn`.
        x: the input, one sample without a batch dimension; None without a masker.
        masker: a :class:`Masker`; None for a plain function.
        n: the number of players; defaults to ``masker.n_players`` (which it must equal when
            both are given) and is required without a masker.
        max_players: the largest :math:`n` allowed (default 20: :math:`2^{20}` forward
            passes); raise it to allow more.
        reward: ``reward(outputs, target) -> (k,)``; default :func:`log_odds`.
        target: the class :math:`y` of the reward; None takes the class the model predicts on
            the unmasked input (the Game's ``target`` says which).
        batch_size: masks per forward pass (default 256; None = all at once).
        device: where to run (default: the device of the model's parameters, else CPU).
        progress: a tqdm bar over the chunks (None: automatic when there are more than a few).

    Returns:
        a :class:`Game` of :math:`2^n` values with the players' names, the target used and
        what made it.

    Raises:
        ValueError: ``n`` is missing or disagrees with the masker; :math:`n >` ``max_players``;
            an ``x`` without a masker; a non-finite value (as in :func:`evaluate`).
    """
    if masker is not None:
        m = int(masker.n_players)
        if n is not None and n != m:
            raise ValueError(f"n = {n} disagrees with masker.n_players = {m}")
        n = m
    if n is None:
        raise ValueError("all_values needs n (the number of players) when no masker is given")
    check_number("n", n, low=0, integer=True)
    check_number("max_players", max_players, low=0, integer=True)
    if n > max_players:
        raise ValueError(
            f"all_values with n = {n} players needs 2**{n} = {2 ** n:,} masked evaluations "
            f"(forward passes), above the limit max_players = {max_players} "
            f"(2**{max_players} = {2 ** max_players:,}). Pass max_players={n} to allow it, or sample "
            "instead (ibn.multiorder.sample)."
        )
    masks = all_masks(n)
    if masker is None:
        if x is not None:
            raise ValueError("an input x was given without a masker; pass masker=...")
        values = evaluate_fn(model_or_fn, masks, batch_size=batch_size, progress=progress)
        return Game(values, tuple(f"player {i}" for i in range(n)), tuple(range(n)), None,
                    {"function": getattr(model_or_fn, "__name__", type(model_or_fn).__name__)})
    values, used = _evaluate_model(model_or_fn, x, masker, masks, reward, target, batch_size,
                                   device, progress)
    players = getattr(masker, "players", None)
    players = tuple(players) if isinstance(players, (list, tuple)) and len(players) == n else \
        tuple(range(n))
    describe = getattr(masker, "describe", None)
    try:
        told = describe() if callable(describe) else type(masker).__name__
    except NotImplementedError:
        told = type(masker).__name__
    made_by = {"model": type(model_or_fn).__name__, "masker": told,
               "reward": getattr(reward, "__name__", type(reward).__name__)}
    return Game(values, tuple(player_names(masker)), players, _as_class(used), made_by)
