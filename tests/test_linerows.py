from digitlab.linerows import staggered_rows_joined

# Pieces' rectangles (u0, u1, v0, v1) across the writing, for digits 40 units tall.
TYPICAL = 40.0


def test_digits_that_rise_and_fall_side_by_side_are_one_row():
    # Old-style "363": the 6 rises over the 3s, which hang below its foot.
    extent = {0: (0, 25, 14, 54), 1: (32, 57, 0, 40), 2: (64, 89, 14, 54)}
    assert staggered_rows_joined([[1], [0, 2]], extent, TYPICAL, set()) == [[1, 0, 2]]


def test_two_lines_one_over_the_other_stay_two_rows():
    # A sheet's two numbers, the second written close under the first.
    extent = {0: (0, 25, 0, 40), 1: (32, 57, 2, 42), 2: (0, 25, 30, 70), 3: (32, 57, 31, 71)}
    assert staggered_rows_joined([[0, 1], [2, 3]], extent, TYPICAL, set()) == [[0, 1], [2, 3]]


def test_rows_far_apart_along_the_writing_or_sharing_little_height_stay_apart():
    far = {0: (0, 25, 0, 40), 1: (120, 145, 14, 54)}  # two numbers on a row, the right one lower
    assert staggered_rows_joined([[0], [1]], far, TYPICAL, set()) == [[0], [1]]
    apart = {0: (0, 25, 0, 40), 1: (32, 57, 28, 68)}  # three tenths of their height shared
    assert staggered_rows_joined([[0], [1]], apart, TYPICAL, set()) == [[0], [1]]


def test_a_pen_beside_the_digits_is_never_joined_to_them():
    extent = {0: (0, 25, 14, 54), 1: (32, 57, 14, 54), 2: (64, 74, -10, 40)}
    assert staggered_rows_joined([[0, 1], [2]], extent, TYPICAL, {2}) == [[0, 1], [2]]
    assert staggered_rows_joined([[0, 1], [2]], extent, TYPICAL, set()) == [[0, 1, 2]]
