import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from digitlab.ruling import far_apart, long_runs, remove_ruled_lines, ruled_lines


def ruled_mask(side: int = 256, degrees: float = 3.0, spacing: int = 20, squared: bool = False) -> np.ndarray:
    """Lines a pixel wide, `degrees` off level, across a blank page (as a mask of ink)."""
    page = Image.new("1", (side, side), 0)
    draw = ImageDraw.Draw(page)
    rise = np.tan(np.radians(degrees)) * side
    for start in range(-side, 2 * side, spacing):
        draw.line([(0, start), (side, start + rise)], fill=1)
        if squared:
            draw.line([(start, 0), (start - rise, side)], fill=1)
    return np.asarray(page, dtype=bool)


def test_lines_a_few_degrees_off_level_are_found_and_a_digit_across_them_stays():
    lines = ruled_mask(degrees=3.0)
    digit = np.zeros_like(lines)
    digit[100:160, 120:126] = True  # a "1" written across three lines
    found = ruled_lines(lines | digit)
    assert found is not None and found[1] >= 10
    assert (found[0] & lines).sum() > 0.9 * lines.sum()
    kept = remove_ruled_lines(lines | digit)[0]
    assert kept[100:160, 120:126].all()  # rejoined where the lines crossed it
    assert (kept & ~digit).sum() < 0.05 * lines.sum()


@pytest.mark.parametrize("degrees, squared", [(15.0, False), (-22.0, False), (27.0, True)])
def test_lines_of_a_page_photographed_far_askew_are_found_too(degrees, squared):
    # Looked for within 6 degrees of level only, they stayed, and a digit on a notebook
    # photographed 10-30 degrees askew was read with the lines for its strokes.
    lines = ruled_mask(degrees=degrees, squared=squared)
    digit = np.zeros_like(lines)
    digit[100:160, 120:126] = True
    kept = remove_ruled_lines(lines | digit)[0]
    assert kept[100:160, 120:126].all()
    assert (kept & ~digit).sum() < 0.05 * lines.sum()


def test_squared_paper_askew_loses_its_columns_too():
    grid = ruled_mask(degrees=-2.5, squared=True)
    digit = np.zeros_like(grid)
    digit[90:150, 60:110] = np.pad(np.ones((56, 46), dtype=bool), 2) ^ np.pad(np.ones((48, 38), dtype=bool), 6)  # a "0"
    kept = remove_ruled_lines(grid | digit)[0]
    assert (kept & ~digit).sum() < 0.05 * grid.sum()
    assert (kept & digit).sum() > 0.9 * digit.sum()


def test_squared_paper_photographed_in_perspective_loses_its_fanned_columns_too():
    # A phone held below the page's middle: the rows stay level, and the columns fan out, each at
    # its own lean. Looked for at one slope, all but the middle few stayed, a line found in them
    # read "9859" as "471".
    side, spacing = 256, 20
    page = Image.new("1", (side, side), 0)
    draw = ImageDraw.Draw(page)
    for y in range(5, side, spacing):
        draw.line([(0, y), (side, y)], fill=1)
    for x in range(-side, 2 * side, spacing):
        top = side / 2 + (x - side / 2) * 0.7  # the page's top a third narrower than its bottom
        draw.line([(top, 0), (x, side)], fill=1)
    grid = np.asarray(page, dtype=bool)
    digit = np.zeros_like(grid)
    digit[90:150, 60:110] = np.pad(np.ones((56, 46), dtype=bool), 2) ^ np.pad(np.ones((48, 38), dtype=bool), 6)
    kept = remove_ruled_lines(grid | digit)[0]
    assert (kept & ~digit).sum() < 0.05 * grid.sum()
    assert (kept & digit).sum() > 0.9 * digit.sum()


def test_a_stroke_written_along_a_line_stays_where_it_is_darker_than_print():
    lines = ruled_mask(degrees=0.0, spacing=24)
    row = int(np.flatnonzero(lines[:, 128])[4])
    stroke = np.zeros_like(lines)
    stroke[row, 80:180] = True  # the bar of a 7, written on the line with a pen as fine as its print
    strength = np.where(lines, 0.3, 0.0) + np.where(stroke, 0.9, 0.0)
    assert not remove_ruled_lines(lines | stroke)[0][row, 80:180].any()  # without the ink's strength it goes
    assert remove_ruled_lines(lines | stroke, strength=strength)[0][row, 80:180].all()


def test_a_line_a_little_off_level_goes_whole_though_its_ink_lies_in_one_row_here_and_two_there():
    # Drawn at 4 times the size and shrunk, as a camera sees a fine line: where it lies across two
    # rows each holds half its ink, where it lies in one that row holds all of it.
    side, rise = 256, np.tan(np.radians(0.7)) * 256
    big = Image.new("L", (4 * side, 4 * side), 0)
    for start in range(8, side, 22):
        ImageDraw.Draw(big).line([(0, 4 * start), (4 * side, 4 * (start + rise))], fill=255, width=4)
    small = big.resize((side, side), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(0.6))
    strength = np.asarray(small, dtype=np.float64) / 255 * 0.6
    lines = strength > 0.03
    kept = remove_ruled_lines(lines, strength=strength)[0]
    assert kept.sum() < 0.05 * lines.sum()  # no dashes left to read as 1s


def test_a_stroke_thicker_than_the_line_it_lies_on_stays_and_is_no_ruling():
    lines = ruled_mask(degrees=0.0, spacing=24)
    row = int(np.flatnonzero(lines[:, 128])[4])
    stroke = np.zeros_like(lines)
    stroke[row - 2:row + 2, 80:180] = True  # the bar of a 7, on the line, as dark as its print
    kept, ruling = remove_ruled_lines(lines | stroke)
    assert kept[row - 2:row + 2, 80:180].all()
    assert not ruling[row - 2:row + 2, 80:180].any()  # so a line crop does not mask it out
    assert not kept[row, 10:70].any() and not kept[row, 190:250].any()  # the line beside it goes


def test_the_edges_of_a_row_of_outlined_digits_are_no_ruling():
    edges = np.zeros(256, dtype=bool)
    edges[[100, 101, 106, 107, 140, 141, 146, 147]] = True  # outer and inner edges, top and bottom
    ruling = np.zeros(256, dtype=bool)
    ruling[10::24] = True
    assert not far_apart(edges)
    assert far_apart(ruling)


def test_bands_that_fainter_ink_thickens_are_no_ruling_nor_are_the_strokes_across_them():
    # Hollow lettering cropped tight: the edges of its outlines cross the picture in thin bands,
    # but where fainter ink counts too they merge into one band as thick as the writing. Counted
    # as three ruled lines all the same, they let the outlines' upright strokes, which run from
    # the picture's top to its bottom, be taken for squared paper's columns and dropped
    # ("780443" read "73").
    mask = np.zeros((90, 330), dtype=bool)
    for x in range(5, 325, 20):
        mask[:, x:x + 4] = True          # upright strokes from the picture's top to its bottom
    for x in (10, 90, 170, 250):
        mask[8:51, x:x + 40] = True      # ... joined over the writing's middle by broad ink
    mask[[11, 15, 46], 5:325] = True     # three thin bands across it
    kept, ruling = remove_ruled_lines(mask)
    assert ruling is None and kept is mask


def test_the_edges_of_a_box_round_the_writing_are_no_ruled_lines_but_a_line_under_it_is():
    # A form's field photographed whole: its top and bottom crossed most of the picture, were taken
    # for ruled lines and dropped, and its sides stayed to be read as 1s ("808" read "1111").
    mask = np.zeros((200, 300), dtype=bool)
    mask[40:43, 20:280] = mask[150:153, 20:280] = True   # the box's top and bottom
    mask[40:153, 20:23] = mask[40:153, 277:280] = True   # its sides
    mask[70:130, 60:66] = mask[70:130, 150:156] = True    # two digits inside
    assert ruled_lines(mask) is None
    assert remove_ruled_lines(mask)[0][41, 20:280].all()
    # Without the sides the top and bottom are lines across the picture as before.
    mask[45:150, 20:23] = mask[45:150, 277:280] = False
    found = ruled_lines(mask)
    assert found is not None and found[1] == 2


def test_lines_that_cross_upright_lines_at_their_ends_are_no_box():
    # Squared paper ends inside the photo (on a desk): its last columns cross the rows' ends, above
    # and below them, where a box's side leaves its top or bottom on one side only.
    mask = np.zeros((200, 300), dtype=bool)
    mask[60:63, 20:280] = mask[140:143, 20:280] = True
    mask[10:190, 20:23] = mask[10:190, 277:280] = True
    found = ruled_lines(mask)
    assert found is not None and found[1] == 2


def test_long_runs_skipping_its_filters_finds_what_the_filters_find():
    # Where no row (column) holds half a run's length it skips the opening; a run leaving the mask
    # counts twice, mirrored at the edge, so a shorter count would have been wrong there.
    rng = np.random.default_rng(0)
    for _ in range(2000):
        mask = rng.random(tuple(rng.integers(1, 40, 2))) < rng.uniform(0, 1)
        length, axis = int(rng.integers(0, 50)), int(rng.integers(0, 2))
        opened = ndimage.maximum_filter1d(ndimage.minimum_filter1d(mask.view(np.uint8), max(1, length), axis=axis),
                                          max(1, length), axis=axis) > 0
        np.testing.assert_array_equal(long_runs(mask, length, axis), opened)
