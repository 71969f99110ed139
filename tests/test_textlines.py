"""Training lines for the line reader: generated afresh, the same for the same seed."""

import numpy as np
import pytest
import torch

from digitlab.errors import DigitlabError
from digitlab.linetask import LineLoader, line_sources, loader_workers
from digitlab.reading import LINE_HEIGHT, LINE_INK, line_image
from digitlab.textlines import LineBatches, LineSources, collate, composed_line, make_line


@pytest.fixture(scope="module")
def sources(mnist5k):
    return LineSources.from_arrays(mnist5k.train.images[::7].numpy(), mnist5k.train.labels[::7].numpy(), [])


def test_lines_are_line_images_of_their_text(sources):
    rng = np.random.default_rng(0)
    for _ in range(20):
        image, text = make_line(sources, rng)
        assert image.shape[0] == LINE_HEIGHT and image.dtype == np.float32
        assert 1 <= len(text) <= 8 and text.isdigit()
        rows = np.flatnonzero(image.max(axis=1) > 0.5)
        assert LINE_INK - 3 <= np.ptp(rows) + 1 <= LINE_INK  # the ink fills the band the reader expects
        assert image.shape[1] > 6 * len(text)  # room for every digit


def test_a_batch_is_the_same_for_the_same_seed_epoch_and_index(sources):
    a = LineBatches(sources, batches=2, batch_size=8, seed=3, stride=4)
    b = LineBatches(sources, batches=2, batch_size=8, seed=3, stride=4)
    a.set_epoch(2)
    b.set_epoch(2)
    (x1, t1), (x2, t2) = a.batch(1), b.batch(1)
    assert torch.equal(x1, x2) and t1.texts == t2.texts
    b.set_epoch(3)
    assert b.batch(1)[1].texts != t1.texts


def test_the_loader_gives_the_same_batches_in_the_same_order_with_more_workers(sources):
    batches = LineBatches(sources, batches=4, batch_size=3, seed=5, stride=4)
    batches.set_epoch(2)
    alone = [(x, t.texts) for x, t in LineLoader(batches, workers=1)]
    shared = [(x, t.texts) for x, t in LineLoader(batches, workers=2)]
    assert [t for _, t in shared] == [t for _, t in alone] == [batches.batch(b)[1].texts for b in range(4)]
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(alone, shared))


def test_lines_are_drawn_by_one_worker_on_the_cpu_and_by_most_cores_for_a_gpu():
    assert loader_workers(torch.device("cpu"), cores=16) == 1
    assert loader_workers(torch.device("cuda"), cores=16) == 8
    assert loader_workers(torch.device("cuda"), cores=4) == 3
    assert loader_workers(torch.device("cuda"), cores=1) == 1


def test_collate_pads_to_the_stride_and_counts_frames():
    lines = [(np.ones((LINE_HEIGHT, 37), np.float32), "12"), (np.ones((LINE_HEIGHT, 60), np.float32), "345")]
    batch, target = collate(lines, stride=4)
    assert batch.shape == (2, 1, LINE_HEIGHT, 60)
    assert target.frames.tolist() == [10, 15] and target.lengths.tolist() == [2, 3]
    assert target.labels.tolist() == [[2, 3, 0], [4, 5, 6]]  # digit d is class d + 1; 0 is CTC's blank


def test_some_lines_have_touching_or_overlapping_digits(sources):
    touching = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        mask = composed_line("4747", sources, rng)
        from scipy import ndimage
        pieces = ndimage.label(mask)[1]
        touching += pieces < 4
    assert 10 <= touching <= 50  # a share of hands join or crowd their digits, most do not


def test_line_image_scales_any_line_to_the_readers_height():
    mask = np.zeros((300, 900), bool)
    mask[100:220, 50:850] = True
    image = line_image(mask)
    assert image.shape[0] == LINE_HEIGHT and 150 < image.shape[1] < 200


def test_with_styles_some_ones_get_a_flag_or_a_foot():
    bar = np.zeros((48, 12), bool)
    bar[:, 3:9] = True  # a plain upright 1, so any added stroke shows as width
    plain = LineSources([[bar]] * 10, [])
    styled = LineSources([[bar]] * 10, [], styles=True)

    def wide_share(sources: LineSources) -> float:
        widths = [np.ptp(np.flatnonzero(composed_line("1", sources, np.random.default_rng(s)).any(axis=0))) + 1
                  for s in range(100)]
        return float(np.mean(np.array(widths) > 10))

    assert wide_share(plain) == 0.0
    assert 0.15 <= wide_share(styled) <= 0.45  # about STYLED_SHARE of them, never all


def test_with_condensed_some_lines_are_written_narrow():
    rows, cols = np.mgrid[:48, :48]
    radius = np.hypot(rows - 23.5, cols - 23.5)
    ring = (radius > 16) & (radius < 22)  # a round 0, as wide as high

    def narrow_share(sources: LineSources) -> float:
        shares = []
        for seed in range(150):
            ink = make_line(sources, np.random.default_rng(seed), 1)[0] > 0.5
            shares.append(np.ptp(np.flatnonzero(ink.any(axis=0))) / np.ptp(np.flatnonzero(ink.any(axis=1))))
        return float(np.mean(np.array(shares) < 0.72))

    assert narrow_share(LineSources([[ring]] * 10, [])) == 0.0
    assert 0.04 <= narrow_share(LineSources([[ring]] * 10, [], condensed=True)) <= 0.3  # some, never all


def test_line_sources_name_the_parts_they_take(mnist5k):
    images, labels = mnist5k.train.images[::50].numpy(), mnist5k.train.labels[::50].numpy()
    assert line_sources(["mnist-5k", "styles"], images, labels, []).styles
    assert not line_sources(["mnist-5k"], images, labels, []).styles
    assert line_sources(["mnist-5k", "condensed"], images, labels, []).condensed
    assert not line_sources(["mnist-5k", "styles"], images, labels, []).condensed
    with pytest.raises(DigitlabError, match="mnist-5k\\+styles\\+fonts\\+condensed"):
        line_sources(["mnist-5k", "renders"], images, labels, [])
