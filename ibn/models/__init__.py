"""Models of the ibn project and a name registry: ``build(name, **kw)``.

======================= ================================ ==================================
name                    model                            notes
======================= ================================ ==================================
``resnet20``            :class:`ResNet20`                He et al. CIFAR ResNet-20
``vgg11``, ``vgg16``    :class:`VGG`                     BatchNorm by default
                                                         (``batch_norm=False`` drops it)
``vgg11_plain``         :class:`VGG`                     VGG-11 without BatchNorm
``alexnet``             :class:`AlexNetDeng`             Deng et al. ICLR 2022 CIFAR AlexNet
``small_cnn``           :class:`SmallCNN`                3 convolutions, 8-wide by default
``mlp5``, ``mlp8``      :class:`MLP`                     100-wide hidden layers, needs
                                                         ``in_features``
``minilm``              :func:`minilm_classifier`        pretrained MiniLM-L6 + linear head
                                                         (local files)
``bert_medium``         :func:`bert_medium_classifier`   BERT-Medium config, from scratch
``smollm2``             :func:`smollm2`                  SmolLM2-135M next-token wrapper
                                                         (local gguf)
======================= ================================ ==================================

``build(name, seed=s, ...)`` draws the initial weights under ``torch.manual_seed(s)`` without
disturbing the caller's global random state.  The pretrained weights are fetched data sources
(``ibn data fetch minilm``, ``ibn data fetch smollm2``; Data page).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .tabular import MLP
from .text import (BertClassifier, CausalLMNextToken, bert_medium_classifier, bert_medium_config,
                   log_odds,
                   minilm_classifier, smollm2)
from .vision import VGG, AlexNetDeng, ResNet20, SmallCNN

__all__ = ["build", "available", "ResNet20", "VGG", "AlexNetDeng", "SmallCNN", "MLP", "BertClassifier",
           "CausalLMNextToken", "minilm_classifier", "bert_medium_classifier", "bert_medium_config", "smollm2",
           "log_odds", "REGISTRY"]

REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "resnet20": ResNet20,
    "vgg11": lambda **kw: VGG(depth=11, **kw),
    "vgg16": lambda **kw: VGG(depth=16, **kw),
    "vgg11_plain": lambda **kw: VGG(depth=11, batch_norm=False, **kw),
    "alexnet": AlexNetDeng,
    "small_cnn": SmallCNN,
    "mlp5": lambda **kw: MLP(depth=5, **kw),
    "mlp8": lambda **kw: MLP(depth=8, **kw),
    "minilm": minilm_classifier,
    "bert_medium": bert_medium_classifier,
    "smollm2": smollm2,
}


def available() -> list[str]:
    """Names accepted by :func:`build`.

    Returns:
        The registry's names, sorted (spellings with ``-`` or without ``_`` are accepted too).
    """
    return sorted(REGISTRY)


def build(name: str, *, seed: int | None = None, **kw: Any) -> nn.Module:
    """Build a model by name (see the module table).

    Args:
        name: a registry name (:func:`available`); case, ``-`` and ``_`` are ignored, so
            ``"VGG-11"`` and ``"bert-medium"`` work.
        seed: when given, the model is built under ``torch.manual_seed(seed)`` inside a forked
            RNG, so the initial weights are a function of ``seed`` and the caller's global
            random state is left untouched; None = draw from the current global state.
        **kw: keyword arguments of the model's constructor or factory (e.g. ``num_classes``,
            ``in_channels``, ``in_features``, ``path``).

    Returns:
        The new ``torch.nn.Module``.

    Raises:
        ValueError: ``name`` is not in the registry.
    """
    key = name.lower().replace("-", "").replace("_", "")
    table = {k.replace("_", ""): v for k, v in REGISTRY.items()}
    if key not in table:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    if seed is None:
        return table[key](**kw)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return table[key](**kw)
