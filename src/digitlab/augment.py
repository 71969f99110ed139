"""Training-time augmentation on whole batches with torch ops (no per-image Python).

For digits it imitates what real scans look like after `normalize_scan`: small rotations, slant,
shifts and scale changes, thicker or thinner strokes, blur and noise. Clothing images get flips
and shifts only, since a rotated or thickened shirt is not a shirt a camera would produce.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def policy_for(dataset_name: str) -> str:
    return "fashion" if dataset_name == "fashion-mnist" else "digits"


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def random_affine(x: torch.Tensor, generator: torch.Generator, max_degrees: float = 8.0,
                  scale: tuple[float, float] = (0.9, 1.08), max_shear: float = 0.15,
                  max_shift_px: float = 2.0) -> torch.Tensor:
    """Rotate, slant, scale and shift each image of the batch `(N, 1, H, W)` independently."""
    n, device = x.shape[0], x.device
    angle = _uniform(n, -max_degrees, max_degrees, generator, device) * math.pi / 180
    zoom = _uniform(n, *scale, generator, device)
    shear = _uniform(n, -max_shear, max_shear, generator, device)
    shift = _uniform(2 * n, -1, 1, generator, device).view(n, 2) * (2 * max_shift_px / x.shape[-1])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output to input coordinates, hence the inverse-looking matrix.
    theta = torch.stack([torch.stack([cos, -sin + shear, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_stroke_width(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blend each image towards its 3x3 dilation (thicker pen) or erosion (thinner pen)."""
    n = x.shape[0]
    thicker = F.max_pool2d(x, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-x, 3, stride=1, padding=1)
    amount = _uniform(n, -0.5, 0.7, generator, x.device).view(n, 1, 1, 1)
    return torch.where(amount > 0, x + amount * (thicker - x), x + (-amount) * (thinner - x))


def random_blur_and_noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    kernel = torch.tensor([1.0, 2.0, 1.0], device=x.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).view(1, 1, 3, 3)
    blurred = F.conv2d(x, kernel, padding=1)
    blur = (torch.rand(n, generator=generator, device=x.device) < 0.3).view(n, 1, 1, 1)
    x = torch.where(blur, blurred, x)
    sigma = _uniform(n, 0.0, 0.06, generator, x.device).view(n, 1, 1, 1)
    noise = torch.randn(x.shape, generator=generator, device=x.device) * sigma
    return (x + noise).clamp_(0.0, 1.0)


def random_flip_and_shift(x: torch.Tensor, generator: torch.Generator, max_shift_px: int = 2) -> torch.Tensor:
    """Mirror half the images left-right and shift each by a whole number of pixels, up to
    `max_shift_px` each way: an index gather, far cheaper than resampling."""
    n, _, height, width = x.shape
    flip = (torch.rand(n, generator=generator, device=x.device) < 0.5).view(n, 1, 1, 1)
    x = torch.where(flip, x.flip(-1), x)
    pad = max_shift_px
    padded = F.pad(x, (pad, pad, pad, pad))[:, 0]
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=x.device)
    rows = (torch.arange(height, device=x.device)[None, :] + dy[:, None])[:, :, None]
    cols = (torch.arange(width, device=x.device)[None, :] + dx[:, None])[:, None, :]
    return padded[torch.arange(n, device=x.device)[:, None, None], rows, cols].unsqueeze(1)


def augment_batch(x: torch.Tensor, generator: torch.Generator, policy: str = "digits") -> torch.Tensor:
    """Augment a float batch `(N, 1, 28, 28)` in [0, 1]. `generator` must live on `x.device`."""
    if policy == "fashion":
        return random_flip_and_shift(x, generator)
    x = random_affine(x, generator)
    x = random_stroke_width(x, generator)
    return random_blur_and_noise(x, generator)
