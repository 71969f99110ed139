import numpy as np
from PIL import Image, ImageDraw

from digitlab.decorations import detach_from_frames, nested_pieces, underlines
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


def test_a_frame_nothing_touches_is_left_as_it_is():
    def boxed(draw):
        draw.rectangle([(40, 40), (200, 200)], outline=0, width=5)
        draw.line([(120, 80), (118, 160)], fill=0, width=6)
    ink, _ = pieces(boxed)
    assert detach_from_frames(ink) is ink
