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
    players on ``n_samples`` training samples, the test loss on ``n_eval`` test images."""

    n_players: int
    n_samples: int
    n_eval: int
    k: int
    checkpoints: tuple[int, ...]
    target: Training
    baseline: Training


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
    """Paper B Appendix J (:mod:`papers.penalty`): an MLP (``depth``, ``width``, ``lr``) on
    ``dataset`` with ``n_val`` validation and ``n_ref`` reference images, trained on the full
    pool and on a scarce one of ``n_scarce`` (``settings``), per seed and λ in ``lams``, with
    ``per_batch`` penalized samples per batch, ``k_pen`` penalty baselines and ``k_eval``
    evaluation baselines; batch sizes and epochs per setting; the ``scale`` it was chosen for."""

    dataset: str
    n_val: int
    n_ref: int
    n_scarce: int
    seeds: tuple[int, ...]
    settings: tuple[str, ...]
    lams: tuple[float, ...]
    per_batch: int
    batch_size: Mapping[str, int]
    epochs: Mapping[str, int]
    baseline_epochs: int
    baseline_batch_size: int
    depth: int
    width: int
    lr: float
    n_eval: int
    k_pen: int
    k_eval: int
    scale: str | None = None
