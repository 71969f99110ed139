"""Training-time augmentation on whole batches with torch ops (no per-image Python).

For digits it imitates what real scans look like after `normalize_scan`: small rotations, slant,
shifts and scale changes, elastic distortion (Simard et al., 2003), thicker or thinner strokes,
blur and noise. Clothing images get flips
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


def random_affine_grid(x: torch.Tensor, generator: torch.Generator, max_degrees: float = 8.0,
                       scale: tuple[float, float] = (0.9, 1.08), max_shear: float = 0.15,
                       max_shift_px: float = 2.0) -> torch.Tensor:
    """A sampling grid that rotates, slants, scales and shifts each image of the batch
    `(N, 1, H, W)` independently."""
    n, device = x.shape[0], x.device
    angle = _uniform(n, -max_degrees, max_degrees, generator, device) * math.pi / 180
    zoom = _uniform(n, *scale, generator, device)
    shear = _uniform(n, -max_shear, max_shear, generator, device)
    shift = _uniform(2 * n, -1, 1, generator, device).view(n, 2) * (2 * max_shift_px / x.shape[-1])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output to input coordinates, hence the inverse-looking matrix.
    theta = torch.stack([torch.stack([cos, -sin + shear, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    return F.affine_grid(theta, list(x.shape), align_corners=False)


def gaussian_kernel(sigma: float, device) -> torch.Tensor:
    radius = int(math.ceil(2.5 * sigma))
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def random_elastic_field(x: torch.Tensor, generator: torch.Generator, max_alpha: float = 34.0,
                         sigma: float = 4.0, chance: float = 0.5) -> torch.Tensor:
    """Simard et al.'s elastic distortion (2003), as an offset to a sampling grid, for a `chance`
    share of the batch: a uniform random displacement field smoothed by a Gaussian of `sigma`
    pixels and scaled by up to `max_alpha` (34 and 4 are the paper's values for 28x28 digits: a
    displacement of about 1.4 px std)."""
    n, _, height, width = x.shape
    field = torch.rand(n, 2, height, width, generator=generator, device=x.device) * 2 - 1
    kernel = gaussian_kernel(sigma, x.device)
    pad = len(kernel) // 2
    field = F.conv2d(F.pad(field, (pad, pad, 0, 0)), kernel.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)
    field = F.conv2d(F.pad(field, (0, 0, pad, pad)), kernel.view(1, 1, -1, 1).expand(2, 1, -1, 1), groups=2)
    chosen = torch.rand(n, generator=generator, device=x.device) < chance
    alpha = _uniform(n, 0, max_alpha, generator, x.device) * chosen
    # Pixels to grid_sample's [-1, 1] coordinates, (x, y) last.
    to_grid = torch.tensor([2.0 / width, 2.0 / height], device=x.device).view(1, 2, 1, 1)
    return (field * alpha.view(n, 1, 1, 1) * to_grid).permute(0, 2, 3, 1)


def random_geometry(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Affine and elastic distortion in one resampling, so strokes are blurred once, not twice."""
    grid = random_affine_grid(x, generator) + random_elastic_field(x, generator)
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
    x = random_geometry(x, generator)
    x = random_stroke_width(x, generator)
    return random_blur_and_noise(x, generator)
