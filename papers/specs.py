"""Typed, frozen experiment settings: the presets of the papers' pipelines.

A :class:`Spec` is a frozen dataclass that also reads as the mapping of its fields (``spec["k"]``,
``dict(spec)``, ``{**spec}``), so the pipelines and the cache keys
(:func:`ibn.results.params_hash`) see the same plain data as the settings they replace. A field
left at ``None`` is absent from that mapping (a setting a scale does not define).
:meth:`Spec.replace` returns a copy with some fields changed (``None`` leaves a field as it is,
as for an unset papermill parameter); :meth:`Spec.key` is the plain data.

The presets per scale (``smoke``, ``book``, ``paper``; the book's Reproducibility page) are
dicts of specs in the modules that run them: :data:`papers.generalizable.PRESETS`,
:data:`papers.generalizable_text.TEXT_PRESETS`, :data:`papers.dynamics.PRESETS`,
:data:`papers.noise.PRESETS` and :data:`papers.penalty.PRESETS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Spec", "Training", "GamesSpec", "TextGamesSpec", "DynamicsSpec", "NoiseSpec",
           "PenaltySpec"]

S = TypeVar("S", bound="Spec")


@dataclass(frozen=True)
class Spec(Mapping):
    """Frozen settings that read as the mapping of their fields that are not ``None``."""

    def _present(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, name: str) -> Any:
        if name in self._present():
            return getattr(self, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())

    def replace(self: S, **changes: Any) -> S:
        """A copy with the given fields changed; a ``None`` value leaves its field unchanged;
        an unknown name raises a TypeError naming it."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}; "
                            f"it has {', '.join(sorted(names))}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def key(self) -> dict[str, Any]:
        """The settings as plain data: dicts, lists and scalars (what a cache key hashes)."""
        return _plain(self)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Training(Spec):
    """How one model is trained: on ``n_train`` images (or sentences) for ``epochs``, with
    ``label_noise`` of the labels flipped; ``lr`` and ``batch_size`` where the trainer takes
    them (Adam for the image models of :mod:`papers.generalizable`)."""

    n_train: int
    epochs: int
    lr: float | None = None
    batch_size: int | None = None
    label_noise: float = 0.0


@dataclass(frozen=True)
class GamesSpec(Spec):
    """Paper B Fig. 2 on images (:mod:`papers.generalizable`): ``n_players`` feature-map
    players, ``n_samples`` training samples and ``n_heldout`` held-out ones per setup, ``k``
    baselines (``k_ablation``: the k of the ablation; every setup trains max of them),
    ``setups`` (model, dataset) and ``seeds``; the lab SGD's ``sgd_steps`` and ``sgd_lrs`` (on
    ``sgd_setups``, default all); ``target`` / ``baseline`` training, with per-model overrides
    in ``training`` ({model: {"target"|"baseline": {setting: value}}})."""

    n_players: int
    n_samples: int
    n_heldout: int
    n_eval: int
    k: int
    k_ablation: tuple[int, ...]
    setups: tuple[tuple[str, str], ...]
    seeds: tuple[int, ...]
    sgd_steps: int
    sgd_lrs: tuple[float, ...]
    target: Training
    baseline: Training
    sgd_setups: tuple[tuple[str, str], ...] | None = None
    training: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None


@dataclass(frozen=True)
class TextGamesSpec(Spec):
    """Paper B Fig. 2 on the sentences (:mod:`papers.generalizable_text`): the classifiers
    ``models``, ``n_players`` word players, samples, baselines and training as in
    :class:`GamesSpec`."""

    models: tuple[str, ...]
    n_players: int
    n_samples: int
    n_heldout: int
    n_eval: int
    k: int
    k_ablation: tuple[int, ...]
    target: Training
    baseline: Training


@dataclass(frozen=True)
class DynamicsSpec(Spec):
    """Paper B Figs. 3 and 9 (:mod:`papers.dynamics`): one target trained with checkpoints at
    the epochs ``checkpoints`` (the last = its last epoch), ``k`` baselines, ``n_players``
    players on ``n_samples`` training samples, the test loss on ``n_eval`` test images;
    ``model`` names the architecture (:func:`ibn.models.build`; None: the chapter's default)."""

    n_players: int
    n_samples: int
    n_eval: int
    k: int
    checkpoints: tuple[int, ...]
    target: Training
    baseline: Training
    model: str | None = None


@dataclass(frozen=True)
class NoiseSpec(Spec):
    """Paper B Figs. 5, 7 and 13 (:mod:`papers.noise`): parameter noise of sd ``sigmas``
    (``draws`` draws each) and FGSM steps ``epsilons`` on ``setups`` and ``seeds``, seeded by
    ``noise_seed``, accuracies on ``n_eval`` test images."""

    sigmas: tuple[float, ...]
    draws: int
    epsilons: tuple[float, ...]
    setups: tuple[tuple[str, str], ...]
    seeds: tuple[int, ...]
    noise_seed: int
    n_eval: int


@dataclass(frozen=True)
class PenaltySpec(Spec):
    """Paper B Appendix J (:mod:`papers.penalty`): a small CNN (``width``, Adam at ``lr``) on
    ``dataset`` with ``n_val`` validation and ``n_ref`` reference images, trained on a pool of
    ``n_full`` images (None = the whole pool) and on a scarce one of ``n_scarce`` (``settings``),
    per seed and λ in ``lams``, with ``per_batch`` penalized samples per batch on
    ``n_players`` feature-map players, ``k_pen`` penalty baselines and ``k_eval`` evaluation
    baselines; batch sizes and epochs per setting; the ``scale`` it was chosen for."""

    dataset: str
    n_val: int
    n_ref: int
    n_full: int | None
    n_scarce: int
    seeds: tuple[int, ...]
    settings: tuple[str, ...]
    lams: tuple[float, ...]
    per_batch: int
    batch_size: Mapping[str, int]
    epochs: Mapping[str, int]
    baseline_epochs: int
    baseline_batch_size: int
    width: int
    lr: float
    n_eval: int
    k_pen: int
    k_eval: int
    n_players: int
    scale: str | None = None


# ---------------------------------------------------------------------------------------------
# Paper A: the settings of the chapters A1–A4, whose presets per scale are
# papers.bottleneck_runs.A1_PRESETS … A4_PRESETS
# ---------------------------------------------------------------------------------------------

__all__ += ["DiscoverySpec", "CauseSpec", "ModulationSpec", "ConsequencesSpec"]


@dataclass(frozen=True)
class DiscoverySpec(Spec):
    """Paper A's A1 (:func:`papers.bottleneck_runs.a1_tabular`, ``a1_cnn``, ``a1_text``).

    Tabular MLPs: the models ``tab_models`` on the tables ``tab_sets`` (12 first features),
    trained ``tab_epochs`` epochs, exact J^(m) after the epochs ``tab_snapshots`` (0 = the
    initialisation) on ``tab_per_class`` correctly classified test samples per class; the
    sampled protocol beside the exact values on ``agree_pairs`` pairs with ``agree_contexts``
    contexts each (also the CNN and text runs' agreement check). Each tabular model is trained
    by every recipe of ``tab_recipes`` (:func:`papers.bottleneck.train_tabular`: ``"adam"``,
    and paper A's ``"reference"`` recipe with its best-validation epoch kept).

    CNNs (:func:`papers.bottleneck.cnn_profiles`): ``cnn_models`` on ``cnn_sets`` at
    ``cnn_size`` pixels; ``cnn_train`` {model: (training images (``None``: all), epochs,
    learning rate[, batch size])}, else batch size ``cnn_batch``; accuracy on ``cnn_test`` test
    images (``None``: the whole test set; a ``None`` field is absent from the mapping, and
    :func:`papers.bottleneck_runs.a1_cnn_params` reads it with ``get``, so the cache key keeps
    ``n_test: None``); kept epochs ``cnn_snapshots`` (those up to a model's epochs) and kept
    global steps ``cnn_steps`` {model: steps}; exact values at every kept epoch on
    ``cnn_exact`` images (one per class) with a ``cnn_exact_grid`` (rows, columns) of patch
    players; the reference sampled protocol on the final model on ``cnn_sampled`` images with
    ``cnn_grid`` × ``cnn_grid`` patches, ``cnn_pairs`` pairs and ``cnn_contexts`` contexts.

    Text (:func:`papers.bottleneck.text_profiles`): ``text_models`` fine-tuned per
    ``text_train`` {model: (training sentences, epochs)}, accuracy on the first ``text_test``
    test sentences, exact values on the first ``text_sentences`` test sentences with at least
    ``text_players`` meaningful words (the players) and at most ``text_max_tokens`` tokens."""

    tab_sets: tuple[str, ...]
    tab_models: tuple[str, ...]
    tab_epochs: int
    tab_snapshots: tuple[int, ...]
    tab_per_class: int
    agree_pairs: int
    agree_contexts: int
    cnn_sets: tuple[str, ...]
    cnn_models: tuple[str, ...]
    cnn_size: int
    cnn_test: int | None
    cnn_batch: int
    cnn_train: Mapping[str, tuple[int | float | None, ...]]
    cnn_snapshots: tuple[int, ...]
    cnn_steps: Mapping[str, tuple[int, ...]]
    cnn_exact: int
    cnn_exact_grid: tuple[int, int]
    cnn_sampled: int
    cnn_grid: int
    cnn_pairs: int
    cnn_contexts: int
    text_models: tuple[str, ...]
    text_train: Mapping[str, tuple[int, int]]
    text_test: int
    text_sentences: int
    text_players: int
    text_max_tokens: int
    tab_recipes: tuple[str, ...] = ("adam", "reference")


@dataclass(frozen=True)
class CauseSpec(Spec):
    """Paper A's A2 (:func:`papers.bottleneck_runs.a2_gradients`): the (table, MLP) pairs
    ``models``, each trained ``epochs`` epochs, the per-order gradient statistics after the
    epochs ``snapshots`` (0 = the initialisation) on ``samples`` correctly classified test
    samples."""

    models: tuple[tuple[str, str], ...]
    epochs: int
    snapshots: tuple[int, ...]
    samples: int


@dataclass(frozen=True)
class ModulationSpec(Spec):
    """Paper A's A3 (:func:`papers.bottleneck_runs.a3_modulation`): the MLP ``model`` on each
    table of ``datasets``, trained ``epochs`` epochs with each steering preset of ``presets``
    (:data:`ibn.train.PRESETS`) at each weight λ of ``lams`` (and λ = 0, the normal model);
    exact J^(m) on ``per_class`` correctly classified test samples per class."""

    datasets: tuple[str, ...]
    model: str
    epochs: int
    lams: tuple[float, ...]
    presets: tuple[str, ...]
    per_class: int


@dataclass(frozen=True)
class ConsequencesSpec(Spec):
    """Paper A's A4 (:func:`papers.bottleneck_runs.a4_consequences`): the MLP ``model`` on
    ``dataset`` (12 first features, split seed 0), one model per kind of ``kinds`` ("normal"
    or a steering preset at weight ``lam``) and seed of ``seeds``, trained ``epochs`` epochs;
    exact J^(m) on ``per_class`` test samples per class; test accuracy under FGSM at ``fgsm``
    and PGD at ``pgd`` (L∞ radii in feature sds), Gaussian noise of sd ``sigma`` and a masked
    fraction ``mask`` of the players."""

    dataset: str
    model: str
    kinds: tuple[str, ...]
    lam: float
    seeds: tuple[int, ...]
    epochs: int
    per_class: int
    fgsm: tuple[float, ...]
    pgd: tuple[float, ...]
    sigma: tuple[float, ...]
    mask: tuple[float, ...]
