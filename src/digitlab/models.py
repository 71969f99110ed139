"""The networks. Each takes a float batch `(N, 1, 28, 28)` in [0, 1] (light ink on black) and
returns logits `(N, 10)`; softmax is applied where probabilities are needed, because
`nn.CrossEntropyLoss` on logits is the numerically stable form of the lab's softmax + CCE.
"""

from __future__ import annotations

from torch import nn

from digitlab.errors import DigitlabError


class CNNClassifier(nn.Module):
    """The lab's exact CNN (`--arch seed`): Conv2D 32 3x3 relu, MaxPool 2x2, Flatten,
    Dense 32 relu, Dense 64 relu, Dense 10. 176,170 parameters, like the Keras model."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3), nn.ReLU(),  # 28x28 -> 26x26 ('valid', as Keras)
            nn.MaxPool2d(2),                               # -> 13x13
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 13 * 13, 32), nn.ReLU(),
            nn.Linear(32, 64), nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int) -> list[nn.Module]:
    # No conv bias: BatchNorm's shift makes it redundant.
    return [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DigitNet(nn.Module):
    """The default model (`--arch default`): four 3x3 conv blocks with batch norm (16-32 at full
    resolution, then 64 and 128 after each pooling), dropout and one linear layer; ~109k
    parameters. Sized to train on 4,000 digits in under a minute on two CPU cores."""

    def __init__(self, num_classes: int = 10, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, 16, 3), *conv_bn_relu(16, 32, 3), nn.MaxPool2d(2),  # 28 -> 14
            *conv_bn_relu(32, 64, 3), nn.MaxPool2d(2),                          # 14 -> 7
            *conv_bn_relu(64, 128, 3), nn.MaxPool2d(2),                         # 7 -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(128 * 3 * 3, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


ARCHS = {"seed": CNNClassifier, "default": DigitNet}


def build_model(arch: str, num_classes: int = 10) -> nn.Module:
    """A fresh, randomly initialised model of the named architecture."""
    if arch not in ARCHS:
        raise DigitlabError(f"unknown --arch {arch!r}: expected one of {', '.join(ARCHS)}.")
    return ARCHS[arch](num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
