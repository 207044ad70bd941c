"""Trained models, trained once: the weights beside :mod:`ibn.results`' cached results.

A model is named by ``name`` and the hash of its JSON-serializable ``spec`` (the settings that
determine the weights) and stored as::

    <data root>/models/<name>/<hash>/model.pt      {"state_dict": ..., "info": ...}
    <data root>/models/<name>/<hash>/model.json    name, spec, provenance, info's scalars
    <data root>/models/<name>/<hash>/train/        the training's own checkpoints

``data/models/`` is not committed (weights are large); the results computed from a model are.
:func:`cached_model` builds the untrained model, hands it to ``fit`` with the ``train/`` folder
(pass it to :func:`ibn.train.train` as ``checkpoint_dir``: an interrupted fit then resumes from
its last epoch, and ``checkpoint_at`` keeps the weights of chosen epochs there) and writes the
result atomically (temporaries, then renames, the ``.json`` before the ``.pt``); a second call
only builds and loads. :func:`checkpoint` loads one kept epoch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data.fetch import data_root
from .results import (_NAME_RE, _jsonable, _now, _scalars, params_hash, provenance,
                      write_atomically)

__all__ = ["model_dir", "cached_model", "checkpoint"]


def model_dir(name: str, spec: Mapping[str, Any], root: str | os.PathLike[str] | None = None
              ) -> Path:
    """The folder of the model ``(name, spec)``.

    Args:
        name: the model's name: letters, digits, ``_``, ``.`` and ``-``, starting with a
            letter or digit.
        spec: the JSON-serializable settings that determine its weights
            (:func:`ibn.results.params_hash` of them names the folder).
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        ``<data root>/models/<name>/<spec hash>/`` (not created).

    Raises:
        ValueError: ``name`` is not a valid name.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"model name must match {_NAME_RE.pattern} (letters, digits, _ . -), "
                         f"got {name!r}")
    return data_root(root) / "models" / name / params_hash(spec)


def cached_model(name: str, spec: Mapping[str, Any], build: Callable[[], nn.Module],
                 fit: Callable[[nn.Module, Path], Mapping[str, Any] | None], *,
                 root: str | os.PathLike[str] | None = None, recompute: bool = False,
                 map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The model of ``(name, spec)``, in eval mode, and the info its training returned.

    Stored once trained; with ``recompute=True`` or ``IBN_RECOMPUTE=1`` trained again (the
    training's own resumable state in ``train_dir`` is removed first, so the run starts over).

    Args:
        name: the model's name: letters, digits, ``_``, ``.`` and ``-``.
        spec: the JSON-serializable settings that determine the weights (their hash names
            the folder, :func:`model_dir`; ``scale`` entries are left out of it).
        build: ``build()`` returns the untrained model (seeded: the same spec gives the same
            start); called on every call, also when the weights are loaded.
        fit: ``fit(model, train_dir)`` trains the model in place and returns an info dict
            (tensors, numbers, strings, lists; e.g. the training history's last accuracies),
            or None; ``train_dir`` is the folder for the training's own checkpoints.
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).
        recompute: train again even when the weights are stored.
        map_location: where the stored weights are loaded (``torch.load``'s
            ``map_location``; default ``"cpu"``).

    Returns:
        ``(model, info)``: the trained model in eval mode and the info dict ``fit`` returned.

    Raises:
        ValueError: ``name`` is not a valid name.
        TypeError: ``spec`` is not JSON-serializable.
    """
    folder = model_dir(name, spec, root)
    path = folder / "model.pt"
    recompute = recompute or os.environ.get("IBN_RECOMPUTE", "") not in ("", "0")
    model = build()
    if recompute or not path.is_file():
        train_dir = folder / "train"
        if recompute and (train_dir / "state.pt").is_file():
            (train_dir / "state.pt").unlink()
        train_dir.mkdir(parents=True, exist_ok=True)
        start, t0 = _now(), time.perf_counter()
        info = dict(fit(model, train_dir) or {})
        prov = provenance(spec, start=start, end=_now(), elapsed_s=time.perf_counter() - t0)
        _save_model(folder, name, spec, model, info, prov)
    saved = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved["info"]


def _save_model(folder: Path, name: str, spec: Mapping[str, Any], model: nn.Module,
                info: dict[str, Any], prov: dict) -> None:
    path = folder / "model.pt"
    meta = {"name": name, "spec_hash": params_hash(spec), "spec": _jsonable(spec),
            "provenance": prov, "info": _scalars(info)}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    text = json.dumps(meta, indent=1, sort_keys=True) + "\n"
    write_atomically([(path.with_suffix(".json"), lambda p: p.write_text(text)),
                      (path, lambda p: torch.save({"state_dict": state, "info": info}, p))])


def checkpoint(name: str, spec: Mapping[str, Any], epoch: int, *,
               root: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """The state dict kept at ``epoch`` by the training of ``(name, spec)``.

    Args:
        name: the model's name, as given to :func:`cached_model`.
        spec: its settings, as given to :func:`cached_model`.
        epoch: the epoch kept with ``checkpoint_at`` of :func:`ibn.train.train` (0 = the
            initial weights).
        root: the data root; None = the environment variable ``IBN_DATA``, else the
            repository's ``data`` folder (:func:`ibn.data.fetch.data_root`).

    Returns:
        the model's state dict at that epoch, tensors on the CPU.

    Raises:
        FileNotFoundError: that epoch was not kept.
    """
    path = model_dir(name, spec, root) / "train" / f"epoch_{int(epoch):04d}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint of epoch {epoch} for model {name!r} "
                                f"(expected {path}); keep it with checkpoint_at=[...]")
    return torch.load(path, map_location="cpu", weights_only=True)["model"]
