import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.decorations import (
    detach_from_frames,
    long_strokes,
    nested_pieces,
    underlines,
    without_frames,
)
from digitlab.ink import find_ink


def pieces(draw_on) -> tuple:
    """The ink of a drawing (black on white, 240x240) and each piece's index by its box's left
    and top corner."""
    page = Image.new("L", (240, 240), 255)
    draw_on(ImageDraw.Draw(page))
    ink = find_ink(page)
    by_corner = {(box[1].start, box[0].start): i for i, box in enumerate(ink.boxes)}
    return ink, by_corner


def near(by_corner: dict, x: int, y: int) -> int:
    return next(i for (bx, by), i in by_corner.items() if abs(bx - x) <= 3 and abs(by - y) <= 3)


def test_a_line_under_a_number_is_an_underline_and_a_bar_over_a_digit_is_not():
    def number(draw):
        draw.line([(70, 60), (70, 150)], fill=0, width=6)                      # a 1
        draw.line([(110, 60), (160, 60), (125, 150)], fill=0, width=6)         # a 7
        draw.line([(50, 170), (185, 172)], fill=0, width=5)                    # the line under both
    ink, by_corner = pieces(number)
    assert underlines(ink, list(range(len(ink.areas)))) == {near(by_corner, 48, 168)}

    def five_and_dash(draw):
        draw.line([(60, 60), (140, 60)], fill=0, width=6)                      # a 5's top bar, detached
        draw.arc([(55, 80), (145, 160)], start=200, end=140, fill=0, width=6)  # its belly
        draw.line([(110, 175), (210, 176)], fill=0, width=5)                   # a dash under part of it
    ink, _ = pieces(five_and_dash)
    assert underlines(ink, list(range(len(ink.areas)))) == set()


def test_a_straight_stroke_far_longer_than_the_digits_is_no_writing_and_a_1_is():
    def strokes_of(ink):
        every = list(range(len(ink.areas)))
        return long_strokes(ink, {i: ink.pixels(i) for i in every}, every, set())

    def number_and_pen(draw):
        draw.line([(40, 40), (40, 90)], fill=0, width=5)                      # a 1
        draw.line([(60, 40), (95, 40), (70, 90)], fill=0, width=5)            # a 7
        draw.ellipse([(105, 40), (135, 90)], outline=0, width=5)              # a 0
        draw.line([(40, 200), (200, 120)], fill=0, width=7)                   # a pen lying by them
    ink, by_corner = pieces(number_and_pen)
    assert strokes_of(ink) == {near(by_corner, 37, 117)}

    def ones(draw):  # every piece straight: none is set apart
        for x in (60, 100, 140):
            draw.line([(x, 60), (x, 110)], fill=0, width=5)
        draw.line([(40, 200), (200, 140)], fill=0, width=7)
    ink, _ = pieces(ones)
    assert strokes_of(ink) == set()


def test_the_pieces_of_a_pens_other_side_go_with_it_and_a_1_beside_it_stays():
    # A light pen drawn as its two dark sides, on ruled paper: the ruled lines went from under it
    # and cut one side into pieces as tall as the digits, in a row down the pen, and the writing
    # was found running along them ("637" read as three lines). The 1 stays.
    def number_and_pen(draw):
        draw.line([(40, 180), (40, 220)], fill=0, width=4)                    # a 1
        draw.line([(60, 180), (95, 180), (70, 220)], fill=0, width=4)         # a 7
        draw.ellipse([(105, 180), (135, 220)], outline=0, width=4)            # a 0
        top, tip = np.array([140.0, 5.0]), np.array([215.0, 155.0])           # one side, whole
        across = -16 * np.array([0.894, -0.447])                              # the other side's offset
        draw.line([tuple(top), tuple(tip), tuple(tip + across)], fill=0, width=3)
        for start, stop in ((0.0, 0.2), (0.25, 0.45), (0.5, 0.7), (0.75, 0.95)):
            ends = [tuple(tip + across + (top - tip) * t) for t in (start, stop)]
            draw.line(ends, fill=0, width=3)
    ink, by_corner = pieces(number_and_pen)
    every = list(range(len(ink.areas)))
    assert len(every) == 7
    assert long_strokes(ink, {i: ink.pixels(i) for i in every}, every, set()) == {
        i for (x, _), i in by_corner.items() if x > 120}


def test_specks_of_dust_make_no_1_among_the_digits_a_long_stroke():
    # A dozen specks made the usual piece a speck's size, and the 1 among the digits a stick.
    def dusty_number(draw):
        draw.ellipse([(20, 60), (60, 120)], outline=0, width=6)                # a 0
        draw.line([(80, 60), (80, 120)], fill=0, width=6)                      # a 1
        draw.line([(100, 60), (140, 60), (112, 120)], fill=0, width=6)         # a 7
        for k in range(12):
            x, y = 20 + 17 * k, 180 + 25 * (k % 2)
            draw.ellipse([(x, y), (x + 5, y + 5)], fill=0)
    ink, _ = pieces(dusty_number)
    every = list(range(len(ink.areas)))
    assert len(every) == 15
    assert long_strokes(ink, {i: ink.pixels(i) for i in every}, every, set()) == set()


def test_an_oval_drawn_round_a_digit_in_the_writings_pen_is_a_frame():
    # It encloses about three times its own ink round a thin 1: a frame had to enclose four times.
    def circled(draw):
        draw.ellipse([(70, 40), (170, 200)], outline=0, width=9)
        draw.line([(120, 80), (118, 160)], fill=0, width=6)
    ink, by_corner = pieces(circled)
    inner, frames = nested_pieces(ink, list(range(len(ink.areas))))
    assert frames == {near(by_corner, 70, 40)} and not inner


def test_digits_touching_an_oval_round_a_number_are_cut_from_it():
    # An oval hugs a number's ends: the first and last digits touching it were one piece with it,
    # and went out of the line with the frame.
    def circled_number(draw):
        draw.ellipse([(20, 60), (220, 180)], outline=0, width=6)
        draw.line([(48, 86), (36, 152)], fill=0, width=6)                    # a 1 touching its left end
        draw.line([(90, 90), (92, 150)], fill=0, width=6)                    # a 1 clear of it
        draw.ellipse([(130, 90), (170, 150)], outline=0, width=6)            # a 0 clear of it
        draw.line([(178, 88), (206, 90), (192, 152)], fill=0, width=6)       # a 7 touching its right end
    ink, by_corner = pieces(circled_number)
    _, frames = nested_pieces(ink, list(range(len(ink.areas))))
    assert frames == {near(by_corner, 20, 60)} and len(ink.areas) == 3

    detached = detach_from_frames(ink)
    np.testing.assert_array_equal(detached.labels > 0, ink.mask)  # no ink lost or added
    assert len(detached.areas) == 5 and detached.areas.sum() == ink.areas.sum()
    _, frames = nested_pieces(detached, list(range(len(detached.areas))))
    (frame,) = frames
    ends = [box for i, box in enumerate(detached.boxes) if i >= 3]
    assert sorted(box[1].start < 60 for box in ends) == [False, True]  # one at each end
    assert all(box[0].stop - box[0].start > 40 for box in ends)         # whole digits, not slivers of the ring
    assert frame == near(by_corner, 20, 60) and detached.boxes[frame] == ink.boxes[frame]  # the ring, whole


def test_a_digit_touching_the_wall_of_a_box_whose_bottom_broke_is_cut_from_the_boxes():
    # A form's row of boxes, the bottom of one broken (thresholded thin, or gone with a ruled line
    # it lay along): the box held no hole, the 6 touching its wall went with the boxes, out of the
    # line ("31134" read "3114", "286891" "28841").
    def form(draw):
        for x in (40, 100, 160):
            draw.rectangle([(x, 80), (x + 60, 160)], outline=0, width=2)
        draw.rectangle([(113, 158), (114, 162)], fill=255)                   # the break in the middle box's bottom
        draw.line([(60, 95), (60, 145)], fill=0, width=5)                   # a 1
        draw.arc([(104, 105), (150, 150)], start=0, end=360, fill=0, width=5)  # the 6's belly...
        draw.line([(106, 125), (158, 90)], fill=0, width=5)                 # ... and its stem, to the wall
        draw.line([(172, 95), (190, 95), (178, 145)], fill=0, width=5)       # a 7
    ink, by_corner = pieces(form)
    frame = near(by_corner, 40, 80)
    assert ink.labels[148, 127] == frame + 1                                # the 6 is one piece with the boxes
    detached = detach_from_frames(ink)
    np.testing.assert_array_equal(detached.labels > 0, ink.mask)
    six = detached.labels[148, 127]
    assert six != frame + 1 and detached.areas[six - 1] < 0.5 * ink.areas[frame]


def test_a_frame_nothing_touches_is_left_as_it_is():
    def boxed(draw):
        draw.rectangle([(40, 40), (200, 200)], outline=0, width=5)
        draw.line([(120, 80), (118, 160)], fill=0, width=6)
    ink, _ = pieces(boxed)
    assert detach_from_frames(ink) is ink


def drawn_mask(draw_on, size: tuple[int, int] = (220, 64)) -> np.ndarray:
    """A line crop's ink (bool) from a drawing in white on black."""
    crop = Image.new("L", size, 0)
    draw_on(ImageDraw.Draw(crop))
    return np.asarray(crop) > 127


def _bottom_gone(draw):
    # Its bottom lay along a ruled line and went with it, but for its corners: no hole holds the
    # digits, yet its sides read as 1s ("154761" read "11547611").
    draw.line([(28, 52), (20, 50), (22, 10), (200, 8), (203, 52), (194, 53)], fill=255, width=2)


def _top_broken_and_a_stub_past_its_side(draw):
    # The page's ruled line was left where it touched the box, a stub poking out past its left
    # side; the box's hull reached out to it, the side lay inside the hull's edges, and stayed
    # with the stub as a 1 ("165076" read "1165076").
    draw.line([(60, 8), (20, 10), (22, 52), (203, 52), (200, 8), (150, 8)], fill=255, width=2)
    draw.line([(8, 30), (26, 31)], fill=255, width=2)


@pytest.mark.parametrize("open_box", [_bottom_gone, _top_broken_and_a_stub_past_its_side])
def test_a_box_left_open_round_a_number_goes_and_its_digits_stay(open_box):
    def number(draw):
        draw.line([(40, 16), (40, 46)], fill=255, width=5)                       # a 1
        draw.ellipse([(60, 16), (90, 46)], outline=255, width=5)                 # a 0
        draw.line([(110, 16), (140, 16), (122, 46)], fill=255, width=5)          # a 7
        draw.line([(160, 16), (160, 46)], fill=255, width=5)                     # a 1
    box, digits = drawn_mask(open_box), drawn_mask(number)
    np.testing.assert_array_equal(without_frames(box | digits), digits)


def test_outlined_digits_touching_and_an_underline_joined_to_a_digit_are_no_box():
    # Two outlined 0s touching are one outer ring round two inner rings side by side; an underline
    # joined to the last digit holds the others in its bounding box: each went as a box ("00"
    # read "111", "681" read "68").
    def outlined_zeros(draw):
        draw.ellipse([(20, 6), (80, 58)], outline=255, width=5)
        draw.ellipse([(76, 6), (136, 58)], outline=255, width=5)
        draw.ellipse([(31, 17), (69, 47)], outline=255, width=4)                 # their inner rings, a
        draw.ellipse([(87, 17), (125, 47)], outline=255, width=4)                # letter's stroke inside

    def underlined(draw):
        draw.ellipse([(30, 10), (60, 44)], outline=255, width=4)                 # a 0
        draw.ellipse([(75, 10), (105, 44)], outline=255, width=4)                # a 0
        draw.line([(130, 8), (130, 54)], fill=255, width=4)                      # a 1, down to the line
        draw.line([(20, 54), (150, 54)], fill=255, width=3)                      # the line under them
    for draw_on in (outlined_zeros, underlined):
        mask = drawn_mask(draw_on)
        assert (without_frames(mask) == mask).all()


def test_a_closed_box_round_a_small_number_goes_from_its_line():
    # At working resolution the box was one piece with the digits and went into the line; in the
    # line crop it holds them, and the number was taken for hollow lettering ("70" read "17",
    # "653" "83").
    def boxed(draw):
        draw.rectangle([(10, 4), (120, 60)], outline=255, width=2)
        draw.line([(30, 16), (60, 16), (42, 48)], fill=255, width=5)             # a 7
        draw.ellipse([(75, 16), (105, 48)], outline=255, width=5)                # a 0
    mask = drawn_mask(boxed)
    kept = without_frames(mask)
    assert not kept[4:7].any() and not kept[:, 10:13].any() and not kept[:, 118:121].any()
    assert (kept[14:50, 25:110] == mask[14:50, 25:110]).all()
