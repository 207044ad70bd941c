"""Image classifiers: ResNet-20, VGG-11/16 and the AlexNet of Deng et al. (ICLR 2022).

All accept ``in_channels`` (1 or 3) and 28 or 32 px inputs; every model ends with adaptive
pooling before its classifier, so the spatial size only has to survive the convolutions.
Layers carry names (``features.relu2``, ``features.relu1``...) so that
:class:`ibn.maskers.FeatureMapMasker` can hook them (paper B's protocol, Conventions page,
conventions-protocol-b: VGG after the 2nd ReLU, AlexNet after the 1st). No ReLU is in-place, so
hooks may replace layer outputs safely.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ResNet20", "VGG", "AlexNetDeng", "SmallCNN", "VGG_CONFIGS"]


def _check_channels(in_channels: int) -> None:
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")


class _BasicBlock(nn.Module):
    """CIFAR ResNet basic block (He et al. 2016, §4.2) with the option-A shortcut:
    identity, or stride-2 subsampling plus zero-padded channels when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.stride = stride
        self.pad = c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20 for 28/32 px images (He et al. 2016, CIFAR variant: 3 stages of 3 basic blocks,
    16/32/64 channels, option-A shortcuts, global average pooling, one linear layer).

    Convolution and linear weights are drawn with Kaiming-normal initialisation. The class
    attribute ``masking_layer`` (``"layer1"``, the output of the first stage) names the layer a
    feature-map masker hooks by default.

    Args:
        num_classes: the number of output logits (default 10).
        in_channels: 1 (grey images) or 3 (RGB).

    Raises:
        ValueError: ``in_channels`` is not 1 or 3.
    """

    masking_layer = "layer1"

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        _check_channels(in_channels)
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        layers = []
        c_in = 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(3):
                blocks.append(_BasicBlock(c_in, c_out, stride if b == 0 else 1))
                c_in = c_out
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images.

        Args:
            x: float images (B, in_channels, H, W), H and W about 28 or 32 px, standardised
                (e.g. by :func:`ibn.data.load_images`).

        Returns:
            Logits (B, num_classes).
        """
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


class VGG(nn.Module):
    """CIFAR-style VGG (Simonyan & Zisserman 2015, configurations A = VGG-11 and D = VGG-16).

    ``batch_norm=True`` (the default) puts BatchNorm after every convolution; ``False`` gives the
    plain network. Max-pooling uses ``ceil_mode`` so 28 px inputs survive the five pools
    (28→14→7→4→2→1; 32 px gives 16→8→4→2→1 as usual). Classifier: adaptive average pooling to
    1×1, then 512→512→512→classes with ReLU and optional dropout.
    Layers are named ``features.conv{i}``, ``features.bn{i}``, ``features.relu{i}``,
    ``features.pool{j}``; paper B's protocol (Conventions page, conventions-protocol-b) masks the
    output of ``features.relu2`` (the class attribute ``masking_layer``).

    Args:
        depth: 11 (configuration A) or 16 (configuration D).
        num_classes: the number of output logits (default 10).
        in_channels: 1 (grey images) or 3 (RGB).
        batch_norm: put a BatchNorm layer after every convolution (default True).
        dropout: dropout probability before the second and third linear layers (default 0,
            no dropout).

    Raises:
        ValueError: ``depth`` is not 11 or 16, or ``in_channels`` is not 1 or 3.
    """

    masking_layer = "features.relu2"

    def __init__(self, depth: int = 11, num_classes: int = 10, in_channels: int = 3,
                 batch_norm: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        _check_channels(in_channels)
        key = f"vgg{depth}"
        if key not in VGG_CONFIGS:
            raise ValueError(f"VGG depth must be 11 or 16, got {depth}")
        self.depth, self.batch_norm = depth, batch_norm
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        c_in, i_conv, i_pool = in_channels, 0, 0
        for v in VGG_CONFIGS[key]:
            if v == "M":
                i_pool += 1
                mods[f"pool{i_pool}"] = nn.MaxPool2d(2, 2, ceil_mode=True)
            else:
                i_conv += 1
                mods[f"conv{i_conv}"] = nn.Conv2d(c_in, int(v), 3, padding=1)
                if batch_norm:
                    mods[f"bn{i_conv}"] = nn.BatchNorm2d(int(v))
                mods[f"relu{i_conv}"] = nn.ReLU()
                c_in = int(v)
        self.features = nn.Sequential(mods)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(512, 512)), ("relu1", nn.ReLU()), ("drop1", nn.Dropout(dropout)),
            ("fc2", nn.Linear(512, 512)), ("relu2", nn.ReLU()), ("drop2", nn.Dropout(dropout)),
            ("fc3", nn.Linear(512, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images.

        Args:
            x: float images (B, in_channels, H, W), H and W about 28 or 32 px, standardised
                (e.g. by :func:`ibn.data.load_images`).

        Returns:
            Logits (B, num_classes).
        """
        return self.classifier(self.avgpool(self.features(x)))


class AlexNetDeng(nn.Module):
    """The CIFAR AlexNet of the representation-bottleneck code (Deng et al., ICLR 2022,
    ``our_AlexNet(dataset='cifar10')``): conv 7×7/1 (64) → pool 3/2 pad 1 → conv 5×5 (192) →
    pool → conv 3×3 (384, 256, 256) → pool → dropout → fc 4096→512 → dropout → fc 512→512 →
    fc 512→classes. Differences from that code: ``in_channels`` is a parameter, an adaptive
    average pool to 4×4 precedes the classifier (a no-op for 28 and 32 px inputs), and the
    layers are split into named ``features`` / ``classifier`` blocks (paper B's protocol,
    Conventions page, conventions-protocol-b, masks ``features.relu1``, the class attribute
    ``masking_layer``).

    Args:
        num_classes: the number of output logits (default 10).
        in_channels: 1 (grey images) or 3 (RGB).
        dropout: dropout probability of the two dropout layers of the classifier (default 0.5).

    Raises:
        ValueError: ``in_channels`` is not 1 or 3.
    """

    masking_layer = "features.relu1"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        _check_channels(in_channels)
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 64, 7, 1, 3)), ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(3, 2, 1)),
            ("conv2", nn.Conv2d(64, 192, 5, padding=2)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(3, 2, 1)),
            ("conv3", nn.Conv2d(192, 384, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 256, 3, padding=1)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(256, 256, 3, padding=1)), ("relu5", nn.ReLU()),
            ("pool3", nn.MaxPool2d(3, 2, 1)),
        ]))
        self.avgpool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("drop1", nn.Dropout(dropout)),
            ("fc1", nn.Linear(256 * 16, 512)), ("relu1", nn.ReLU()), ("drop2", nn.Dropout(dropout)),
            ("fc2", nn.Linear(512, 512)), ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(512, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images.

        Args:
            x: float images (B, in_channels, H, W), H and W about 28 or 32 px, standardised
                (e.g. by :func:`ibn.data.load_images`).

        Returns:
            Logits (B, num_classes).
        """
        return self.classifier(self.avgpool(self.features(x)))


class SmallCNN(nn.Module):
    """A small plain CNN for experiments that need many masked forward passes per training step
    (paper B App. J's penalty; Conventions page, eq-penalty).

    ``conv1`` (3×3, stride 2) → ``relu1`` → ``conv2`` → ``relu2`` → ``pool1`` → ``conv3`` →
    ``relu3`` → ``pool2``, then adaptive average pooling to 2×2 and one linear layer. A 32 px
    input gives a 16×16 map at ``features.relu2`` (the class attribute ``masking_layer``, as for
    VGG), so paper B's 8×8 grid of feature-map players (Conventions page,
    conventions-protocol-b) has cells of 2×2 positions, and only ``conv3`` onwards runs per
    masked input.

    Args:
        width: the channels of ``conv1``; ``conv2`` and ``conv3`` have 2× and 4× as many
            (default 8).
        num_classes: the number of output logits (default 10).
        in_channels: 1 (grey images) or 3 (RGB).

    Raises:
        ValueError: ``width`` < 1, or ``in_channels`` is not 1 or 3.
    """

    masking_layer = "features.relu2"

    def __init__(self, width: int = 8, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        _check_channels(in_channels)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an int >= 1, got {width!r}")
        w = width
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, w, 3, stride=2, padding=1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(w, 2 * w, 3, padding=1)), ("relu2", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2, 2, ceil_mode=True)),
            ("conv3", nn.Conv2d(2 * w, 4 * w, 3, padding=1)), ("relu3", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2, 2, ceil_mode=True)),
        ]))
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("fc", nn.Linear(16 * w, num_classes))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images.

        Args:
            x: float images (B, in_channels, H, W), standardised (e.g. by
                :func:`ibn.data.load_images`).

        Returns:
            Logits (B, num_classes).
        """
        return self.classifier(self.avgpool(self.features(x)))
