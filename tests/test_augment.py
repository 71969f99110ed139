import torch
import torch.nn.functional as F

from digitlab.augment import augment_batch, random_affine_grid, random_elastic_field, random_flip_and_shift
from digitlab.models import to_model_input


def test_digit_augmentation_keeps_the_digit_in_frame(mnist5k):
    x = to_model_input(mnist5k.test.images[:256])
    out = augment_batch(x, torch.Generator().manual_seed(0), "digits")
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, x)
    # Small rotations, shifts and stroke changes: most of the ink stays (a thin "1" may become up
    # to about twice as heavy with a thicker pen), nothing leaves the frame.
    ratio = out.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert ratio.min() > 0.5 and ratio.max() < 3.0
    assert ratio.median() > 0.8 and ratio.median() < 1.4
    border = torch.ones(28, 28, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    share = out[..., border].sum((1, 2)) / out.sum((1, 2, 3))  # mostly the added noise
    assert share.max() < 0.1 and share.mean() < 0.03


def test_geometry_with_no_change_is_identity(mnist5k):
    x = to_model_input(mnist5k.test.images[:8])
    generator = torch.Generator().manual_seed(0)
    grid = random_affine_grid(x, generator, max_degrees=0, scale=(1, 1), max_shear=0, max_shift_px=0)
    grid = grid + random_elastic_field(x, generator, max_alpha=0.0)
    same = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert torch.allclose(same, x, atol=1e-5)


def test_elastic_distortion_bends_strokes_by_a_pixel_or_two(mnist5k):
    x = to_model_input(mnist5k.test.images[:64])
    field = random_elastic_field(x, torch.Generator().manual_seed(0), chance=1.0)
    pixels = field * torch.tensor([28 / 2, 28 / 2])  # back from grid units to pixels
    moved = pixels.norm(dim=-1).flatten(1)
    assert 0.3 < moved.mean() < 3.0 and moved.max() < 8  # Simard's alpha 34, sigma 4 on 28x28
    assert (moved.mean(1) > 0.1).float().mean() > 0.9   # every chosen image is bent somewhere


def test_fashion_flip_and_shift_moves_whole_pixels():
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1
    out = random_flip_and_shift(x, torch.Generator().manual_seed(1), max_shift_px=2)
    assert torch.equal(out.sum((1, 2, 3)), x.sum((1, 2, 3)))  # nothing lost, nothing blurred
    tops = [int(o[0].nonzero()[:, 0].min()) for o in out]
    assert set(tops) == {8, 9, 10, 11, 12}
