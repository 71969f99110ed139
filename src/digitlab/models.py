"""The networks, and the input contracts between images and them.

Digit images are uint8 `(N, 28, 28)` in MNIST form (`INPUT_CONTRACT`); `to_model_input` turns them
into the float batch `(N, 1, 28, 28)` in [0, 1] that each digit network takes. The line reader and
the orientation model take lines (`LINE_CONTRACT`, `ORIENTATION_CONTRACT`). A network returns logits
`(N, C)`; softmax is applied where probabilities are needed, because `nn.CrossEntropyLoss` on
logits is the numerically stable form of the lab's softmax + CCE.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from digitlab.config import LINE_ARCHS, ORIENTATION_ARCHS
from digitlab.errors import DigitlabError

INPUT_CONTRACT = ("uint8 (N, 28, 28) in MNIST form: light ink on a black background, the digit scaled "
                  "to fit 20x20 and centred by mass in 28x28 (digitlab.preprocessing.normalize_scan)")
LINE_CONTRACT = ("float32 (N, 1, 32, W) in [0, 1]: a line of digits, light ink on black, as "
                 "digitlab.reading.line_image makes it; logits (N, W / stride, 11): CTC blank, then 0-9")
ORIENTATION_CONTRACT = ("float32 (N, 1, 32, W) in [0, 1]: a line of digits as digitlab.reading.line_image makes "
                        "it; logits (N, W / stride, 2) per column: upright, turned by 180 degrees (a line's answer "
                        "is the mean over its columns)")


def input_contract(arch: str) -> str:
    """What the network of `arch` takes (and, for the line networks, gives): written into every
    model file and its ONNX export."""
    if arch in LINE_ARCHS:
        return LINE_CONTRACT
    return ORIENTATION_CONTRACT if arch in ORIENTATION_ARCHS else INPUT_CONTRACT


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 `(N, 28, 28)` -> float `(N, 1, 28, 28)` in [0, 1], channels-last for fast CPU convs."""
    return (images.unsqueeze(1).float() / 255.0).contiguous(memory_format=torch.channels_last)


class FromPixels(nn.Module):
    """A network that takes `INPUT_CONTRACT` images directly: what the ONNX export holds, so no
    caller ever re-implements the conversion."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(to_model_input(images))


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
    parameters. Sized to train on 4,000 digits in under a minute on two CPU cores. `--arch wide`
    doubles every width (~430k parameters) for the shipped model's much larger, more varied data."""

    def __init__(self, num_classes: int = 10, dropout: float = 0.3, widths: tuple[int, ...] = (16, 32, 64, 128)
                 ) -> None:
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *conv_bn_relu(1, a, 3), *conv_bn_relu(a, b, 3), nn.MaxPool2d(2),  # 28 -> 14
            *conv_bn_relu(b, c, 3), nn.MaxPool2d(2),                          # 14 -> 7
            *conv_bn_relu(c, d, 3), nn.MaxPool2d(2),                          # 7 -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(d * 3 * 3, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class LineReader(nn.Module):
    """The line reader (`--arch crnn`), after CRNN (Shi, Bai and Yao, 2015), small: convolutions
    over a text line LINE_HEIGHT (32) pixels high reduce it to one feature column per 4 pixels of
    width; a bidirectional LSTM reads the columns in both directions; a linear layer gives, per
    column, logits over CTC's blank (class 0) and the digits 0-9 (classes 1-10). `--arch crnn-wide`
    (the shipped reader's) widens the convolutions and the LSTM (~644k parameters against ~341k).

    Takes float `(N, 1, 32, W)` in [0, 1], light ink on black; returns logits `(N, W / 4, 11)`.
    No input is cut into digits: joined and touching digits are read like any others."""

    stride = 4  # input columns per output frame

    def __init__(self, num_classes: int = 11, widths: tuple[int, ...] = (16, 32, 64, 96), hidden: int = 96) -> None:
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *conv_bn_relu(1, a, 3), nn.MaxPool2d(2),                            # 32 x W -> 16 x W/2
            *conv_bn_relu(a, b, 3), nn.MaxPool2d(2),                            # -> 8 x W/4
            *conv_bn_relu(b, c, 3), *conv_bn_relu(c, c, 3), nn.MaxPool2d((2, 1)),  # -> 4 x W/4
            *conv_bn_relu(c, d, 3), nn.MaxPool2d((2, 1)),                       # -> 2 x W/4
        )
        self.rnn = nn.LSTM(2 * d, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, x):
        features = self.features(x)                    # (N, d, 2, T)
        n, channels, height, frames = features.shape
        columns = features.permute(0, 3, 1, 2).reshape(n, frames, channels * height)
        sequence, _ = self.rnn(columns)
        return self.head(sequence)


class LineOrientation(nn.Module):
    """Whether a text line is upright or turned by 180 degrees (`--arch orient`, ~60k parameters).
    Many digits read as digits either way up (0, 1, 8, and a 6 turned is a 9), so the line reader's
    own confidence cannot tell a number upside down from one the right way up; the shapes can (where
    a loop sits, how a stroke starts, the tails below the line). Convolutions over a line image as
    the line reader takes it give one feature column per 8 pixels, and a linear layer gives each
    column's logits for (upright, turned); a line's answer is the mean of its columns' logits.

    Takes float `(N, 1, 32, W)` in [0, 1], light ink on black; returns logits `(N, W / 8, 2)`."""

    stride = 8  # input columns per output column

    def __init__(self, num_classes: int = 2, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, width // 2, 3), nn.MaxPool2d(2),      # 32 x W -> 16 x W/2
            *conv_bn_relu(width // 2, width, 3), nn.MaxPool2d(2),  # -> 8 x W/4
            *conv_bn_relu(width, 2 * width, 3), nn.MaxPool2d(2),   # -> 4 x W/8
            *conv_bn_relu(2 * width, 2 * width, 3),
        )
        self.head = nn.Linear(2 * width * 4, num_classes)

    def forward(self, x):
        features = self.features(x)                    # (N, 2 * width, 4, T)
        n, channels, height, frames = features.shape
        return self.head(features.permute(0, 3, 1, 2).reshape(n, frames, channels * height))


ARCHS = {"seed": CNNClassifier, "default": DigitNet, "wide": partial(DigitNet, widths=(32, 64, 128, 256)),
         "crnn": LineReader, "crnn-wide": partial(LineReader, widths=(24, 48, 96, 128), hidden=128),
         "orient": LineOrientation}


def build_model(arch: str, num_classes: int = 10) -> nn.Module:
    """A fresh, randomly initialised model of the named architecture."""
    if arch not in ARCHS:
        raise DigitlabError(f"unknown arch {arch!r}: expected one of {', '.join(ARCHS)}.")
    return ARCHS[arch](num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
