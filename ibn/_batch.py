"""From what a user hands :func:`ibn.explain` to per-sample lists: the inputs of a batch, one
masker per input and the target class of each (Conventions page, eq-reward)."""

from __future__ import annotations

import numbers
from typing import Any

import torch

from . import games
from .maskers import FeatureMapMasker, PatchMasker, TabularMasker

__all__ = ["is_masker", "as_inputs", "maskers_for", "given_targets", "targets_for"]


def is_masker(m: Any) -> bool:
    return callable(m) and isinstance(getattr(m, "n_players", None), numbers.Integral)


def as_inputs(inputs: Any, masker: Any) -> tuple[list[Any], bool]:
    """The inputs as a list, and whether one input was given (not a batch)."""
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("inputs is an empty list; give one input or a batch")
        return list(inputs), False
    if isinstance(inputs, str) or inputs is None:
        return [inputs], True
    if isinstance(inputs, torch.Tensor) or hasattr(inputs, "__array__"):
        x = torch.as_tensor(inputs)
        one = {PatchMasker: 3, FeatureMapMasker: 3, TabularMasker: 1}.get(type(masker))
        if one is not None and x.ndim == one:
            return [x], True
        if one is not None and x.ndim != one + 1:
            raise ValueError(f"inputs for a {type(masker).__name__} must have {one} dimensions "
                             f"(one input) or {one + 1} (a batch), got shape {tuple(x.shape)}")
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"inputs must be one input or a non-empty batch, got shape "
                             f"{tuple(x.shape)}")
        return list(x.unbind(0)), False
    return [inputs], True


def maskers_for(masker: Any, b: int) -> list[Any]:
    """One masker per input: the same one, or the list given (e.g. a TokenMasker per text)."""
    if isinstance(masker, (list, tuple)):
        if len(masker) != b:
            raise ValueError(f"masker: a list needs one masker per input ({b}), got {len(masker)}")
        ms = list(masker)
    else:
        ms = [masker] * b
    for m in ms:
        if not is_masker(m):
            raise TypeError(f"masker must be an ibn masker (an integer n_players and "
                            f"masker(model, x, masks)), or a list of them, got {m!r}")
    ns = {int(m.n_players) for m in ms}
    if len(ns) != 1:
        raise ValueError(f"masker: all maskers must have the same n_players, got {sorted(ns)}")
    return ms


def given_targets(targets: Any, b: int) -> torch.Tensor | None:
    """The ``targets`` given to :func:`explain` as (b,) int64 class indices (one int for all
    inputs, or one per input), or None; a one-line TypeError or ValueError otherwise."""
    if targets is None:
        return None
    t = torch.as_tensor(targets)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"targets must be class indices (integers), got {targets!r}")
    given = t.to(torch.int64).reshape(-1)
    if given.numel() == 1:
        given = given.expand(b).clone()
    if given.numel() != b:
        raise ValueError(f"targets must give one class per input ({b}), got {given.numel()}")
    return given


def targets_for(model: Any, xs: list[Any], maskers: list[Any], targets: Any,
             device: Any) -> torch.Tensor:
    """(B,) int64 target classes: those given (checked against the model's classes) or, for
    None, the class the model predicts on each unmasked input (argmax of its outputs, as
    :func:`ibn.games.evaluate` takes it; with one output column, 1 when the logit is > 0).
    −1 when the outputs are not class scores (a reward without a class)."""
    given = given_targets(targets, len(xs))
    dev = torch.device(device) if device is not None else games._model_device(model)
    out = []
    with torch.inference_mode():  # the unmasked input, once: its predicted class, or the classes
        for i, (x, m) in enumerate(zip(xs, maskers)):
            x = x.to(dev) if isinstance(x, torch.Tensor) else x
            full = m(model, x, torch.ones(1, int(m.n_players), dtype=torch.bool, device=dev))
            classes = full.shape[-1] if isinstance(full, torch.Tensor) and full.ndim >= 2 else None
            if given is not None:
                c = int(given[i])
                limit = 2 if classes == 1 else classes  # one logit column: classes 0 and 1
                if c < 0 or (limit is not None and c >= limit):
                    top = f"0..{limit - 1}" if limit else "a class index >= 0"
                    raise ValueError(f"targets[{i}] = {c} is not a class of the model: use {top}")
                out.append(c)
            elif classes is None:
                out.append(-1)
            elif classes == 1:
                out.append(int(full[0, 0] > 0))
            else:
                out.append(int(full[0].argmax(-1)))
    return torch.tensor(out, dtype=torch.int64)
