"""One training loop for every model of the project (images, tables, texts).

Datasets are pairs ``(x, y)``: ``x`` a tensor (N, ...) or a list of N texts (then a
``collate(list_of_texts) -> dict`` turns a batch into model inputs; by default the model's own
``collate``), ``y`` N integer labels. Paper B's k baseline models are trained ON THE TEST
SPLIT, one seed each: ``[train(build(name, seed=s), test_set, seed=s, ...) for s in range(k)]``
(Conventions page, conventions-generalizable).

Reproducibility: with the same seed, inputs and device the run is deterministic (shuffling uses
a generator seeded by (seed, epoch); dropout and extra losses use torch's global RNG, seeded at
the start). With ``checkpoint_dir`` the full state (model, optimizer, RNG states, epoch,
history) is written atomically after every epoch, and a later call with ``resume=True``
continues from it and ends with the same final weights as an uninterrupted run (bitwise on
CPU; tested).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._progress import tqdm
from ..results import write_atomically
from .noise import choose_subset, flip_labels

__all__ = ["train", "evaluate", "History", "ExtraLoss"]

ExtraLoss = Callable[[nn.Module, Any, torch.Tensor, torch.Tensor], torch.Tensor]
STATE_FILE = "state.pt"


@dataclass
class History:
    """What :func:`train` returns: per-epoch records, the training data used and the
    configuration.

    A dataclass; each argument is kept as the attribute of the same name.

    Args:
        records: one dict per epoch, the same as the JSON-lines log's ``"epoch"`` records:
            ``epoch`` (1-based), ``step`` (global step count), ``lr``, ``train_loss`` (mean
            cross-entropy), ``train_acc``, ``train_extra_loss`` (with extra losses),
            ``test_loss`` and ``test_acc`` (with a test set) and ``time_s`` (seconds).
        subset: the indices into ``train_set`` that were trained on; None = all.
        flipped: the indices of the flipped labels, into the training data *after* the subset.
        config: the run's configuration (epochs, batch size, optimizer, learning rate, seed,
            label noise, number of training samples, extra losses, ...).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    subset: list[int] | None = None
    flipped: list[int] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def last(self, key: str) -> Any:
        """The value of ``key`` in the last epoch's record.

        Args:
            key: a record key, e.g. ``"test_acc"`` or ``"train_loss"``.

        Returns:
            The value, or None when no epoch has been recorded.

        Raises:
            KeyError: the last record has no such key.
        """
        return self.records[-1][key] if self.records else None


def _n_items(x: Any) -> int:
    return x.shape[0] if isinstance(x, torch.Tensor) else len(x)


def _take(x: Any, idx: torch.Tensor) -> Any:
    if isinstance(x, torch.Tensor):
        return x[idx]
    return [x[int(i)] for i in idx]


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    raise TypeError(f"model inputs must be a tensor or a dict of tensors, got {type(batch)}")


def _forward(model: nn.Module, inputs: Any) -> torch.Tensor:
    return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def _split(ds: Any, name: str) -> tuple[Any, torch.Tensor]:
    if not isinstance(ds, (tuple, list)) or len(ds) != 2:
        raise ValueError(f"{name} must be a pair (x, y)")
    x, y = ds
    if isinstance(x, np.ndarray):
        x = torch.as_tensor(x)
    y = torch.as_tensor(np.asarray(y)).long()
    if _n_items(x) != len(y):
        raise ValueError(f"{name}: {_n_items(x)} inputs but {len(y)} labels")
    return x, y


def _lr_factor(schedule: str | Callable[[int], float], epoch: int, epochs: int) -> float:
    if callable(schedule):
        return float(schedule(epoch))
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule == "logspace":  # Deng et al.: lr → lr/10 log-uniformly over the epochs
        return 10.0 ** (-epoch / max(epochs - 1, 1))
    raise ValueError(f"lr_schedule must be 'constant', 'cosine', 'logspace' or a callable, "
                     f"got {schedule!r}")


def _rng_state() -> dict[str, Any]:
    s = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
         "python": random.getstate()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(s: dict[str, Any]) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _atomic_save(obj: Any, path: Path) -> None:
    """torch.save through :func:`ibn.results.write_atomically`: ``path`` keeps its previous
    content (or stays absent) after a failure or an interrupt, and no temporary is left."""
    write_atomically([(path, lambda tmp: torch.save(obj, tmp))])


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Any, *, batch_size: int = 256,
             collate: Callable[[Any], Any] | None = None,
             device: str | torch.device | None = None) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on a dataset ``(x, y)``.

    The model runs in eval mode without gradients and is put back in its previous mode
    afterwards; uint8 tensor inputs are converted with ``.float()`` only.

    Args:
        model: the classifier; it returns logits (B, C) for a tensor batch, or for
            ``model(**collate(texts))``.
        dataset: a pair ``(x, y)``: ``x`` a tensor (N, ...) or a list of N texts, ``y`` N
            integer labels.
        batch_size: samples per forward pass (default 256).
        collate: turns a list of texts into the model's keyword inputs; None = the model's
            own ``collate`` for non-tensor inputs (tensors are fed as they are).
        device: where the batches go; None = the device of the model's first parameter.

    Returns:
        ``{"loss": mean cross-entropy, "acc": accuracy in [0, 1]}``.

    Raises:
        ValueError: ``dataset`` is not a pair of matching length.
    """
    x, y = _split(dataset, "dataset")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    collate = collate or (getattr(model, "collate", None) if not isinstance(x, torch.Tensor)
                          else None)
    was = model.training
    model.eval()
    loss = correct = 0.0
    try:
        for s in range(0, len(y), batch_size):
            idx = torch.arange(s, min(s + batch_size, len(y)))
            xb = _take(x, idx)
            inputs = _to(collate(xb) if collate else xb.float() if xb.dtype == torch.uint8 else xb,
                         dev)
            logits = _forward(model, inputs)
            yb = y[idx].to(dev)
            loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            correct += float((logits.argmax(1) == yb).sum())
    finally:
        model.train(was)
    n = max(len(y), 1)
    return {"loss": loss / n, "acc": correct / n}


def train(model: nn.Module, train_set: Any, *, test_set: Any = None, epochs: int = 1,
          batch_size: int = 128, optimizer: str = "sgd", lr: float = 0.01,
          momentum: float = 0.9, weight_decay: float = 0.0,
          lr_schedule: str | Callable[[int], float] = "constant", label_noise: float = 0.0,
          num_classes: int | None = None, subset: int | float | Sequence[int] | None = None,
          seed: int = 0, device: str | torch.device | None = None,
          checkpoint_dir: str | os.PathLike | None = None, checkpoint_at: Iterable[int] = (),
          checkpoint_steps: Iterable[int] = (),
          extra_loss: ExtraLoss | Sequence[ExtraLoss] | None = None,
          log_path: str | os.PathLike | None = None, resume: bool = True, progress: bool = True,
          collate: Callable[[Any], Any] | None = None,
          transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
          callback: Callable[[int, History], None] | None = None,
          eval_batch_size: int = 256, grad_clip: float | None = None) -> History:
    r"""Train ``model`` with cross-entropy (+ ``extra_loss`` terms) and return its History.

    Each step minimises the mean :math:`\mathrm{CE}(f(x), y)` of a shuffled batch plus the
    ``extra_loss`` terms. uint8 tensors are converted with ``.float()`` only, so normalise
    images beforehand (e.g. :func:`ibn.data.load_images`). The run is deterministic for a given
    seed, inputs and device, and resumable (see the module docstring).

    Args:
        model: the classifier, returning logits (B, C); moved to ``device`` and trained in
            place.
        train_set: a pair ``(x, y)``: ``x`` a tensor (N, ...) (or a numpy array) or a list of
            N texts, ``y`` N integer labels.
        test_set: a pair of the same form, evaluated after each epoch (``test_loss`` and
            ``test_acc`` in the records); None = no evaluation.
        epochs: the number of epochs (≥ 0).
        batch_size: training samples per step (≥ 1; the last batch of an epoch may be
            smaller).
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        lr: the base learning rate.
        momentum: SGD momentum (unused by Adam).
        weight_decay: the optimizer's L2 weight decay (default 0).
        lr_schedule: the factor on ``lr`` in epoch :math:`e` (0-based) of :math:`E`:
            ``"constant"`` (1), ``"cosine"`` (:math:`\tfrac12 (1 + \cos(\pi e / E))`),
            ``"logspace"`` (:math:`10^{-e/(E-1)}`, lr → lr/10 log-uniformly, the Deng et al.
            schedule) or a callable ``epoch -> factor``.
        label_noise: the fraction of training labels (after the subset) flipped to a different
            random class, exactly ``round(fraction · N)`` of them, seeded
            (:func:`ibn.train.flip_labels`); their indices are ``History.flipped``.
        num_classes: the number of classes for label noise; None = the largest label + 1.
        subset: train on a subset of ``train_set`` (:func:`ibn.train.choose_subset`): an int
            count, a float fraction in (0, 1] or explicit indices, seeded; None = all.
        seed: seeds torch's, numpy's and Python's global RNGs at the start (dropout, extra
            losses), the per-epoch shuffling generator, the subset and the label noise.
        device: where to train; None = CUDA when available, else the CPU.
        checkpoint_dir: a folder for the resumable state after each epoch (``state.pt``,
            written atomically) and the checkpoints below; None = no checkpoints.
        checkpoint_at: epochs whose model weights are saved as ``epoch_XXXX.pt`` (0 = the
            initial weights); needs ``checkpoint_dir``.
        checkpoint_steps: global steps (1-based) whose model weights are saved as
            ``step_XXXXXXX.pt``; needs ``checkpoint_dir``.
        extra_loss: a callable ``extra_loss(model, x, y, logits) -> scalar`` (or a list of
            them) added to the cross-entropy, e.g. :class:`ibn.train.OrderSteeringLoss` or
            :class:`ibn.train.NonGeneralizablePenalty`; ``x`` is the batch as fed to the model
            (tensor or dict), ``y`` the (possibly noisy) labels. A callable with the attribute
            ``needs_indices = True`` also receives ``indices=`` (the batch's indices into
            ``train_set``), e.g. to look up per-sample interactions computed once. A
            ``describe()`` method, when present, names it in the configuration.
        log_path: a JSON-lines log: a ``{"event": "start", ...}`` record (or ``"resume"``),
            then one ``{"event": "epoch", ...}`` record per epoch (as in ``History.records``);
            appended to. None = no log.
        resume: continue from ``checkpoint_dir/state.pt`` when it exists (the configuration
            must match); False = start over.
        progress: show a progress bar per epoch and print a one-line summary after it.
        collate: turns a list of texts into the model's keyword inputs; None = the model's own
            ``collate`` for non-tensor inputs.
        transform: ``transform(x_batch, generator) -> x_batch``, an augmentation of each
            training batch with the epoch's seeded generator; None = none.
        callback: ``callback(epoch, history)`` after each epoch (1-based), once the state is
            saved; raising from it interrupts the run, and a later call resumes.
        eval_batch_size: the batch size of the evaluation on ``test_set`` (default 256).
        grad_clip: the maximum gradient norm (``torch.nn.utils.clip_grad_norm_``); None = no
            clipping.

    Returns:
        The :class:`History` of the run (with the records of earlier epochs when resumed).

    Raises:
        ValueError: invalid ``epochs``, ``batch_size`` or ``optimizer``, datasets that are not
            matching ``(x, y)`` pairs, text inputs without a collate function, checkpoint epochs
            or steps without ``checkpoint_dir``, or a stored state made with another
            configuration.
        FloatingPointError: the loss became non-finite.
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    dev = torch.device(device if device is not None
                       else ("cuda" if torch.cuda.is_available() else "cpu"))
    x, y = _split(train_set, "train_set")
    if test_set is not None:
        test_set = _split(test_set, "test_set")
    if collate is None and not isinstance(x, torch.Tensor):
        collate = getattr(model, "collate", None)
        if collate is None:
            raise ValueError("non-tensor inputs need a collate function")
    extras = [] if extra_loss is None else (list(extra_loss) if isinstance(extra_loss, (list, tuple))
                                            else [extra_loss])

    sub = choose_subset(len(y), subset, seed)
    orig = torch.arange(len(y)) if sub is None else sub  # position → index in train_set
    if sub is not None:
        x, y = _take(x, sub), y[sub]
    flipped = torch.empty(0, dtype=torch.long)
    if label_noise > 0:
        nc = num_classes if num_classes is not None else int(y.max()) + 1
        y, flipped = flip_labels(y, label_noise, nc, seed)
    n = len(y)
    config = {"epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
              "momentum": momentum, "weight_decay": weight_decay,
              "lr_schedule": lr_schedule if isinstance(lr_schedule, str) else "callable",
              "label_noise": label_noise, "n_train": n, "seed": seed,
              "n_flipped": int(len(flipped)), "subset": None if sub is None else len(sub),
              "extra_loss": [getattr(e, "describe", lambda: repr(e))() for e in extras]}
    hist = History(subset=None if sub is None else sub.tolist(), flipped=flipped.tolist(),
                   config=config)

    model.to(dev)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                                     weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    start_epoch, step = 0, 0
    fingerprint = {k: config[k] for k in ("epochs", "batch_size", "optimizer", "lr", "seed",
                                          "n_train", "label_noise", "n_flipped")}
    if ckdir is not None:
        ckdir.mkdir(parents=True, exist_ok=True)
    if ckdir is not None and resume and (ckdir / STATE_FILE).exists():
        st = torch.load(ckdir / STATE_FILE, map_location=dev, weights_only=False)
        if st["fingerprint"] != fingerprint:
            raise ValueError(f"checkpoint in {ckdir} was made with a different configuration: "
                             f"{st['fingerprint']} vs {fingerprint}; use resume=False or "
                             "another checkpoint_dir")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        _set_rng_state(st["rng"])
        start_epoch, step = st["epoch"], st["step"]
        hist.records = st["records"]
        if log_path is not None:
            with open(log_path, "a") as f:
                f.write(json.dumps({"event": "resume", "epoch": start_epoch, "step": step}) + "\n")
    else:
        torch.manual_seed(seed)
        np.random.seed(seed % 2 ** 32)
        random.seed(seed)
        if log_path is not None:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a") as f:
                f.write(json.dumps({"event": "start", **config}) + "\n")
    at_epochs, at_steps = set(int(e) for e in checkpoint_at), set(int(s) for s in checkpoint_steps)
    if (at_epochs or at_steps) and ckdir is None:
        raise ValueError("checkpoint_at / checkpoint_steps need a checkpoint_dir")
    if 0 in at_epochs and start_epoch == 0 and ckdir is not None:
        _atomic_save({"model": model.state_dict(), "epoch": 0, "step": 0}, ckdir / "epoch_0000.pt")

    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        cur_lr = lr * _lr_factor(lr_schedule, epoch, epochs)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=gen)
        model.train()
        sums = {"loss": 0.0, "extra": 0.0, "correct": 0.0}
        bar = tqdm(range(0, n, batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not progress, leave=False)
        for s in bar:
            idx = order[s:s + batch_size]
            xb = _take(x, idx)
            if isinstance(xb, torch.Tensor) and xb.dtype == torch.uint8:
                xb = xb.float()
            if transform is not None:
                xb = transform(xb, gen)
            inputs = _to(collate(xb) if collate else xb, dev)
            yb = y[idx].to(dev)
            logits = _forward(model, inputs)
            ce = F.cross_entropy(logits, yb)
            loss = ce
            extra_val = 0.0
            for e in extras:
                if getattr(e, "needs_indices", False):
                    term = e(model, inputs, yb, logits, indices=orig[idx])
                else:
                    term = e(model, inputs, yb, logits)
                loss = loss + term
                extra_val += float(term.detach())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at epoch {epoch + 1}, step {step + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            step += 1
            k = len(idx)
            sums["loss"] += float(ce.detach()) * k
            sums["extra"] += extra_val * k
            sums["correct"] += float((logits.detach().argmax(1) == yb).sum())
            if progress:
                bar.set_postfix(loss=f"{float(ce.detach()):.4f}")
            if step in at_steps and ckdir is not None:
                _atomic_save({"model": model.state_dict(), "epoch": epoch, "step": step},
                             ckdir / f"step_{step:07d}.pt")
        bar.close()
        rec: dict[str, Any] = {"event": "epoch", "epoch": epoch + 1, "step": step, "lr": cur_lr,
                               "train_loss": sums["loss"] / n, "train_acc": sums["correct"] / n}
        if extras:
            rec["train_extra_loss"] = sums["extra"] / n
        if test_set is not None:
            ev = evaluate(model, test_set, batch_size=eval_batch_size, collate=collate, device=dev)
            rec["test_loss"], rec["test_acc"] = ev["loss"], ev["acc"]
        rec["time_s"] = time.time() - t0
        hist.records.append(rec)
        if ckdir is not None:
            if epoch + 1 in at_epochs:
                _atomic_save({"model": model.state_dict(), "epoch": epoch + 1, "step": step},
                             ckdir / f"epoch_{epoch + 1:04d}.pt")
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "rng": _rng_state(), "epoch": epoch + 1, "step": step,
                          "records": hist.records, "fingerprint": fingerprint}, ckdir / STATE_FILE)
        if log_path is not None:
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if progress:
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in rec.items() if k != "event"))
        if callback is not None:
            callback(epoch + 1, hist)
    return hist
