r"""The image models of both papers' protocols, trained once with the reference recipe.

Paper A follows the training recipe of Deng et al. (ICLR 2022): SGD, learning rate 0.01 decayed
log-uniformly over one decade, momentum 0.9, weight decay 5e-4, batch 128, random crops, the
best-validation checkpoint kept (Conventions page, conventions-protocol-a). Paper B's targets
are "trained normally" on the full training split at 32×32 and its k baselines on the test split
(Conventions page, conventions-protocol-b). One recipe serves both: the same stored ResNet-20,
VGG-11 and AlexNet models feed paper A's order profiles and paper B's games.

* A **target** trains on the training split less ``n_val`` images held out for validation
  (the same held-out images for every model of a dataset), and keeps its best-validation
  epoch. Its kept epochs (initial weights, each epoch) and the step at ``early_fraction`` of the
  run stay in the model store for paper A's curves over training.
* A **baseline** (paper B) trains with the same recipe on the test split, seeded ``seed``, and is
  validated on the same held-out training images.

Models are stored by :func:`ibn.model_store.cached_model` (an interrupted run resumes from its
last epoch). ``python -m papers.train_models --scale book`` trains every model of a scale in
order.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ibn.data import data_root, dataset_name, load_images
from ibn.model_store import cached_model, checkpoint
from ibn.models import build
from ibn.train import PRESETS, OrderSteeringLoss, evaluate, train

__all__ = ["Recipe", "ModelSpec", "RECIPES", "recipe", "ImageSetup", "ACCURACY_FLOOR", "parse_setups",
           "protocol_models", "train_reference",
           "validation_indices", "random_crop", "early_step"]


@dataclass(frozen=True)
class Recipe:
    """The reference training recipe (Conventions page, conventions-protocol-a).

    Args:
        epochs: the number of training epochs.
        lr: the initial SGD learning rate (default 0.01).
        momentum: the SGD momentum (default 0.9).
        weight_decay: the SGD weight decay (default 5e-4).
        batch_size: the mini-batch size (default 128).
        schedule: the learning-rate schedule of :func:`ibn.train.train` (default
            ``"logspace"``: the rate decays log-uniformly from ``lr`` to ``lr``/10 over the
            epochs).
        crop_padding: the padding, in pixels, of the random crops (:func:`random_crop`; 0 = no
            crops).
        n_val: the number of training-split images held out for validation
            (:func:`validation_indices`).
        n_train: the number of images drawn (seeded by the model's seed) from the model's
            training data; None = all of them.
        early_fraction: the fraction of the run at which an optimizer step's weights are kept
            for paper A's early-training curve (:func:`early_step`).
    """

    epochs: int
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    schedule: str = "logspace"
    crop_padding: int = 4
    n_val: int = 5000
    n_train: int | None = None
    early_fraction: float = 0.05

    def key(self) -> dict[str, Any]:
        """The settings as plain data (the model store hashes them).

        Returns:
            The fields as a dict (:func:`dataclasses.asdict`).
        """
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelSpec:
    """One stored model of the reference recipe.

    Args:
        model: the architecture, a name of :func:`ibn.models.build` (``"resnet20"``,
            ``"vgg11"`` or ``"alexnet"``).
        dataset: the dataset, normalised by :func:`ibn.data.dataset_name` (``"mnist"`` or
            ``"fashion-mnist"``).
        role: ``"target"`` (trained on the training split less the validation images) or
            ``"baseline"`` (paper B: trained on the test split).
        seed: the seed of the initial weights, the batch order and the crops (and of the draw of
            ``recipe.n_train`` images).
        recipe: the training :class:`Recipe`.
        steer: paper A's order-steering term added to the loss, ``(preset, λ)`` with a preset
            of :data:`ibn.train.PRESETS` (:meth:`ibn.train.OrderSteeringLoss.preset`, players
            the cells of a 16×16 grid at baseline 0, as the reference code; Conventions page,
            eq-steering-boost, eq-steering-suppress); None (default) = plain cross-entropy.

    Raises:
        ValueError: ``role`` is neither ``"target"`` nor ``"baseline"``, an unknown
            ``dataset`` or an unknown preset in ``steer``.
    """

    model: str
    dataset: str
    role: str
    seed: int
    recipe: Recipe
    steer: tuple[str, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", dataset_name(self.dataset))
        if self.role not in ("target", "baseline"):
            raise ValueError(f"role must be 'target' or 'baseline', got {self.role!r}")
        if self.steer is not None and self.steer[0] not in PRESETS:
            raise ValueError(f"steer's preset must be one of {sorted(PRESETS)}, "
                             f"got {self.steer[0]!r}")

    @property
    def name(self) -> str:
        """The model store's name of the model: ``reference-<model>-<dataset>-<role>``, with
        ``-steer-<preset>`` appended for a steered model."""
        tail = f"-steer-{self.steer[0]}" if self.steer is not None else ""
        return f"reference-{self.model}-{self.dataset}-{self.role}{tail}"

    def key(self) -> dict[str, Any]:
        """The model store's key of the model (the store hashes it).

        Returns:
            ``model``, ``dataset``, ``role``, ``seed`` and ``recipe`` (:meth:`Recipe.key`) as
            plain data, and ``steer`` (preset and λ) for a steered model.
        """
        out = {"model": self.model, "dataset": self.dataset, "role": self.role,
               "seed": self.seed, "recipe": self.recipe.key()}
        if self.steer is not None:
            out["steer"] = [self.steer[0], float(self.steer[1])]
        return out


_MNIST_LIKE = ("mnist", "fashion-mnist")
#: the recipes per scale and (dataset, role), or (dataset, role, model) for one architecture:
#: ``book`` shortens the reference's 200 epochs to what reaches the accuracies these models
#: usually reach (MNIST >= 99 %, Fashion-MNIST >= 90 %) on 2 CPU cores (AlexNet, with dropout
#: and crops, was at 88 % after 10 epochs on Fashion-MNIST); ``paper`` is the reference's 200
#: epochs. :func:`recipe` looks them up.
RECIPES: dict[str, dict[tuple[str, ...], Recipe]] = {
    "smoke": {(d, r): Recipe(epochs=2, n_train=2048, n_val=512, lr=0.05) for d in _MNIST_LIKE
              for r in ("target", "baseline")},
    "book": {("mnist", "target"): Recipe(epochs=8), ("mnist", "baseline"): Recipe(epochs=12),
             ("fashion-mnist", "target"): Recipe(epochs=10),
             ("fashion-mnist", "target", "alexnet"): Recipe(epochs=25),
             ("fashion-mnist", "baseline"): Recipe(epochs=15)},
    "paper": {(d, r): Recipe(epochs=200) for d in _MNIST_LIKE for r in ("target", "baseline")},
}


def recipe(scale: str, dataset: str, role: str, model: str) -> Recipe:
    """The recipe of a model at a scale: the architecture's own entry of :data:`RECIPES`, else
    the dataset's.

    Args:
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        dataset: the dataset name (as :func:`ibn.data.dataset_name` gives it).
        role: ``"target"`` or ``"baseline"``.
        model: the architecture.

    Returns:
        The :class:`Recipe`.

    Raises:
        KeyError: :data:`RECIPES` has no recipe for the scale or the dataset and role.
    """
    table = RECIPES[scale]
    return table.get((dataset, role, model)) or table[(dataset, role)]


def protocol_models(scale: str, *, k: int = 5) -> list[ModelSpec]:
    """Every model of a scale, in the order they are trained.

    ResNet-20's models first, then AlexNet's, then VGG-11's; per architecture, each dataset
    (MNIST at ``smoke``, MNIST and Fashion-MNIST otherwise) in turn, with its target (seed 0)
    and, except for AlexNet (paper A only), its ``k`` baselines (seeds 1 ... k).

    Args:
        scale: ``"smoke"``, ``"book"`` or ``"paper"`` (a key of :data:`RECIPES`).
        k: the number of baselines per architecture and dataset (default 5, the largest k of
            paper B).

    Returns:
        The :class:`ModelSpec` of every model, in training order.

    Raises:
        ValueError: an unknown ``scale``.
    """
    if scale not in RECIPES:
        raise ValueError(f"scale must be one of {sorted(RECIPES)}, got {scale!r}")
    datasets = ("mnist",) if scale == "smoke" else _MNIST_LIKE
    out: list[ModelSpec] = []
    for model in ("resnet20", "alexnet", "vgg11"):
        for ds in datasets:
            out.append(ModelSpec(model, ds, "target", 0, recipe(scale, ds, "target", model)))
            if model != "alexnet":
                out += [ModelSpec(model, ds, "baseline", 1 + j,
                                  recipe(scale, ds, "baseline", model)) for j in range(k)]
    return out


def validation_indices(dataset: str, n_val: int) -> np.ndarray:
    """The training-split images held out for validation.

    The draw has a fixed seed, so every model of a dataset holds out the same images.

    Args:
        dataset: the dataset name (as :func:`ibn.data.load_images` takes it).
        n_val: the number of images held out.

    Returns:
        Their indices into the training split, sorted, shape ``(n_val,)``.
    """
    n = len(load_images(dataset, "train")[1])
    return np.sort(np.random.default_rng(20_251_218).permutation(n)[:n_val])


def random_crop(padding: int, fill: float):
    """A ``transform(x, generator)`` for :func:`ibn.train.train`: pad each image and crop it
    back to its size at a random offset.

    Args:
        padding: the number of pixels added on each side (0: the transform returns its input).
        fill: the value of the added pixels (the standardised black pixel).

    Returns:
        ``crop(x, gen)``, which takes a batch ``x`` of shape ``(B, C, H, W)`` and a
        :class:`torch.Generator` ``gen`` that draws the offsets (one per image) and returns a
        batch of the same shape.
    """

    def crop(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if padding == 0:
            return x
        h, w = x.shape[-2:]
        padded = torch.nn.functional.pad(x, (padding,) * 4, value=fill)
        off = torch.randint(0, 2 * padding + 1, (len(x), 2), generator=gen)
        return torch.stack([padded[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(off.tolist())])

    return crop


def early_step(spec: ModelSpec, n_train: int) -> int:
    r"""The optimizer step at ``early_fraction`` of the run (paper A's early-training curve):
    :math:`\max\bigl(1, \operatorname{round}(f \cdot \lceil n_{\mathrm{train}} / B \rceil \cdot
    E)\bigr)`, with :math:`f` the recipe's ``early_fraction``, :math:`B` its batch size and
    :math:`E` its number of epochs.

    Args:
        spec: the model (its recipe sets :math:`f`, :math:`B` and :math:`E`).
        n_train: the number of training images of the run.

    Returns:
        The step, counted from 1.
    """
    r = spec.recipe
    per_epoch = -(-n_train // r.batch_size)
    return max(1, round(r.early_fraction * per_epoch * r.epochs))


def train_reference(spec: ModelSpec, *, device: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The trained model of ``spec``, trained on first use and loaded from the model store
    afterwards (:func:`ibn.model_store.cached_model`).

    Kept in memory for the rest of the process (one load, and with ``IBN_RECOMPUTE=1`` one
    training, per process): do not modify the returned model.

    Args:
        spec: the model to train or load.
        device: the device that training and evaluation run on (None: the default of
            :func:`ibn.train.train`); not part of the stored model's key.

    Returns:
        ``(model, info)``: the model in eval mode with the weights of its best-validation epoch,
        and a dict with ``best_epoch`` (counted from 1), ``val_acc`` (on the held-out
        validation images), ``test_acc`` and ``test_loss`` (targets: on the test split;
        baselines: on the held-out training images), ``n_train`` (the number of training
        images), ``early_step`` (:func:`early_step`) and ``history`` (the per-epoch records of
        the training).
    """
    return _trained(spec, device, str(data_root()))


@functools.lru_cache(maxsize=16)
def _trained(spec: ModelSpec, device: str | None, root: str) -> tuple[nn.Module, dict[str, Any]]:
    r = spec.recipe
    x_tr, y_tr = load_images(spec.dataset, "train")
    x_te, y_te = load_images(spec.dataset, "test")
    val = validation_indices(spec.dataset, r.n_val)
    if spec.role == "target":
        keep = np.setdiff1d(np.arange(len(y_tr)), val)
        data = (x_tr[keep], y_tr[keep])
    else:
        data = (x_te, y_te)
    if r.n_train is not None:
        pick = np.sort(np.random.default_rng(spec.seed).permutation(len(data[1]))[:r.n_train])
        data = (data[0][pick], data[1][pick])
    val_set = (x_tr[val], y_tr[val])
    n_train = len(data[1])
    fill = float(x_tr.min())
    steer = (None if spec.steer is None else
             OrderSteeringLoss.preset(spec.steer[0], spec.steer[1], masker_or_baseline=0.0, grid=16))

    def fit(net: nn.Module, train_dir) -> dict[str, Any]:
        hist = train(net, data, test_set=val_set, epochs=r.epochs, batch_size=r.batch_size,
                     optimizer="sgd", lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay,
                     lr_schedule=r.schedule, seed=spec.seed, device=device,
                     checkpoint_dir=train_dir, checkpoint_at=range(r.epochs + 1),
                     checkpoint_steps=[early_step(spec, n_train)],
                     transform=random_crop(r.crop_padding, fill), extra_loss=steer,
                     progress=False,
                     log_path=train_dir / "log.jsonl")
        accs = [rec["test_acc"] for rec in hist.records]
        best = int(np.argmax(accs)) + 1
        state = torch.load(train_dir / f"epoch_{best:04d}.pt", map_location="cpu",
                           weights_only=True)["model"]
        net.load_state_dict(state)
        held = (x_te, y_te) if spec.role == "target" else val_set
        ev = evaluate(net, held, batch_size=512, device=device)
        return {"best_epoch": best, "val_acc": accs[best - 1], "test_acc": ev["acc"],
                "test_loss": ev["loss"], "n_train": n_train,
                "early_step": early_step(spec, n_train),
                "history": [{k: v for k, v in rec.items() if k != "event"} for rec in hist.records]}

    return cached_model(spec.name, spec.key(), lambda: build(spec.model, seed=spec.seed, in_channels=1),
                        fit, root=root)


def reference_checkpoint(spec: ModelSpec, epoch: int) -> dict[str, torch.Tensor]:
    """The weights of ``spec``'s run at an epoch (:func:`ibn.model_store.checkpoint`).

    Args:
        spec: the model (trained before, by :func:`train_reference`).
        epoch: the epoch whose end-of-epoch weights are returned (0: the initial weights).

    Returns:
        The state dict of the model at that epoch.
    """
    return checkpoint(spec.name, spec.key(), epoch)


#: the test accuracy a target must reach for its setup to count as the papers' protocol.
#: (the sentences' floor: a fine-tuned BERT-type encoder reaches about 85 % on sentence
#: sentiment of this kind.)
ACCURACY_FLOOR = {"mnist": 0.99, "fashion-mnist": 0.90, "rt_sentences": 0.80}


@dataclass(frozen=True)
class ImageSetup:
    """An image model on a dataset at a scale, with its reference-recipe target; a paper's
    setup type subclasses it and adds its own settings (``SCALES``: the scales the type
    defines, here ``"smoke"``, ``"book"`` and ``"paper"``).

    Args:
        model: the architecture, a name of :func:`ibn.models.build`.
        dataset: the dataset, normalised by :func:`ibn.data.dataset_name`.
        scale: one of ``SCALES``.
        seed: the target's seed (default 0).

    Raises:
        ValueError: ``scale`` is not one of ``SCALES``, or an unknown ``dataset``.
    """

    model: str
    dataset: str
    scale: str
    seed: int = 0

    SCALES = ("smoke", "book", "paper")

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", dataset_name(self.dataset))
        if self.scale not in self.SCALES:
            raise ValueError(f"scale must be one of {sorted(self.SCALES)}, got {self.scale!r}")

    def target(self) -> ModelSpec:
        """The target model: trained on the training split with the scale's recipe.

        Returns:
            The :class:`ModelSpec` of role ``"target"``, seeded ``seed``, with the recipe of
            :data:`RECIPES` for the scale, dataset and architecture (:func:`recipe`).

        Raises:
            KeyError: :data:`RECIPES` has no recipe for the scale or the dataset.
        """
        return ModelSpec(self.model, self.dataset, "target", self.seed,
                         recipe(self.scale, self.dataset, "target", self.model))

    @property
    def name(self) -> str:
        """``<model>_<dataset>`` with hyphens as underscores, e.g. ``resnet20_fashion_mnist``."""
        return f"{self.model}_{self.dataset.replace('-', '_')}"


def parse_setups(only: str, default: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The (model, dataset) pairs named by a command-line option.

    Args:
        only: ``"model:dataset,model:dataset"``, e.g. ``"resnet20:mnist,vgg11:fashion-mnist"``;
            empty: ``default``.
        default: the pairs returned when ``only`` is empty (None: none).

    Returns:
        The pairs, datasets normalised by :func:`ibn.data.dataset_name`.

    Raises:
        ValueError: a part of ``only`` that does not read ``model:dataset``, or an unknown
            dataset.
    """
    if not only:
        return list(default or [])
    pairs = [tuple(part.split(":")) for part in only.split(",") if part.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"setups must read 'model:dataset,...', got {only!r}")
    return [(m.strip(), dataset_name(d.strip())) for m, d in pairs]
