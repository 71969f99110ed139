import numpy as np
from PIL import Image, ImageDraw

from digitlab.boxrows import box_edges, box_walls


def test_the_walls_and_edges_of_a_row_of_boxes_go_and_the_digits_in_them_stay():
    def crop(boxes: bool, lean: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """A line crop's ink: "170" written one digit to a box (the row's walls leaning by
        `lean`), or without the boxes; and the digits' own ink."""
        digits = Image.new("1", (200, 64), 0)
        draw = ImageDraw.Draw(digits)
        draw.line([(40, 16), (40, 48)], fill=1, width=4)                          # a 1
        draw.line([(82, 16), (104, 16), (90, 48)], fill=1, width=4)               # a 7
        draw.ellipse([(132, 16), (152, 48)], outline=1, width=4)                  # a 0
        ink = np.asarray(digits, dtype=bool)
        if not boxes:
            return ink, ink
        row = Image.new("1", (200, 64), 0)
        draw = ImageDraw.Draw(row)
        draw.line([(20, 8), (176, 8)], fill=1, width=2)
        draw.line([(20 + lean * 48, 56), (176 + lean * 48, 56)], fill=1, width=2)  # a sheared box
        for x in (20, 72, 124, 176):
            draw.line([(x, 8), (x + lean * 48, 56)], fill=1, width=2)
        return ink | np.asarray(row, dtype=bool), ink

    for lean in (0.0, 0.2):
        mask, digits = crop(boxes=True, lean=lean)
        walls = box_walls(mask)
        assert walls[mask & ~digits].mean() > 0.9            # the boxes go,
        assert walls[digits].mean() < 0.05                   # the digits stay
    assert not box_walls(crop(boxes=False)[0]).any()


def written_100(shift: int = 0) -> np.ndarray:
    """A 240 x 64 crop's ink of "100" written one digit to a box of a row of boxes at the columns
    20, 72, 124 and 176 (`shift` further right)."""
    digits = Image.new("1", (240, 64), 0)
    draw = ImageDraw.Draw(digits)
    draw.line([(40 + shift, 16), (40 + shift, 48)], fill=1, width=4)              # a 1
    draw.ellipse([(88 + shift, 16), (108 + shift, 48)], outline=1, width=4)       # a 0
    draw.ellipse([(140 + shift, 16), (160 + shift, 48)], outline=1, width=4)      # a 0
    return np.asarray(digits, dtype=bool)


def test_a_row_of_boxes_along_a_ruled_line_or_sheared_upright_is_found_and_leaning_strokes_are_no_walls():
    digits = written_100()

    def row(lean: float, tops: tuple[int, int] = (20, 176), walls=(20, 72, 124, 176), leans=None) -> np.ndarray:
        image = Image.new("1", (240, 64), 0)
        draw = ImageDraw.Draw(image)
        draw.line([(tops[0], 8), (tops[1], 8)], fill=1, width=2)
        draw.line([(20 + lean * 48, 56), (176 + lean * 48, 56)], fill=1, width=2)
        for x, wall_lean in zip(walls, leans or [lean] * len(walls)):
            draw.line([(x, 8), (x + wall_lean * 48, 56)], fill=1, width=2)
        return np.asarray(image, dtype=bool)

    # The box's top drawn along a ruled line, which runs on across the crop: found when the
    # paper's ruling is known there, and not taken for a box otherwise.
    mask = digits | row(0.0, tops=(0, 239))
    ruled = np.zeros_like(mask)
    ruled[7:10] = True
    walls = box_walls(mask, ruled)
    assert walls[mask & ~digits & ~ruled].mean() > 0.9 and walls[digits].mean() < 0.05
    assert not box_walls(mask).any()
    # A crop sheared to stand leaning writing upright shears the box's walls past what a box
    # leans by itself (0.4): found when told the shear.
    mask = digits | row(0.6)
    assert not box_walls(mask).any()
    assert box_walls(mask, slant=0.6)[mask & ~digits].mean() > 0.9
    # Strokes from top to bottom that lean every which way are writing, not a form's walls.
    assert not box_walls(digits | row(0.0, leans=[0.0, 0.35, -0.3, 0.1])).any()


def tilted_row(angle: float, grid: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A line crop's ink: "170" written one digit to a box drawn with a pen one pixel wide, or
    on squared paper (`grid`: its lines cross the whole crop), all turned by `angle` degrees;
    and the digits' own ink."""
    digits, lines = Image.new("L", (200, 64), 0), Image.new("L", (200, 64), 0)
    draw = ImageDraw.Draw(digits)
    draw.line([(40, 18), (40, 46)], fill=255, width=4)                            # a 1
    draw.line([(82, 18), (104, 18), (90, 46)], fill=255, width=4)                 # a 7
    draw.ellipse([(132, 18), (152, 46)], outline=255, width=4)                    # a 0
    draw = ImageDraw.Draw(lines)
    left, right, top, bottom = (-30, 230, -30, 94) if grid else (20, 176, 10, 54)
    for y in (10, 54):
        draw.line([(left, y), (right, y)], fill=255, width=1)
    for x in (20, 72, 124, 176):
        draw.line([(x, top), (x, bottom)], fill=255, width=1)

    def turned(image: Image.Image) -> np.ndarray:
        return np.asarray(image.rotate(angle, resample=Image.Resampling.NEAREST)) > 127

    return turned(digits) | turned(lines), turned(digits)


def test_a_row_of_thin_boxes_askew_in_its_line_is_found():
    # The line's angle comes from the digits, and may miss the box's by a few degrees: a thin top
    # and bottom at such a slope spread over two rows of pixels, and were not found ("877" read
    # "81717", "48" "418").
    for angle in (0.0, 2.5, 5.5, -4.5):
        mask, digits = tilted_row(angle)
        top, bottom = box_edges(*np.nonzero(mask), mask.shape)
        assert top is not None and bottom is not None
        walls = box_walls(mask)
        assert walls[mask & ~digits].mean() > 0.9 and walls[digits].mean() < 0.05


def test_a_box_drawn_along_a_line_that_runs_on_one_way_is_found_and_squared_paper_is_no_row_of_boxes():
    # Where the paper's ruling was not found, a box drawn along a ruled line keeps the line's
    # stub past one end ("5788" read "5171818"); squared paper's lines make boxes too, but run on
    # past the top and bottom.
    mask, digits = tilted_row(0.0)
    stub = mask.copy()
    stub[10, :20] = True
    stub[54, :20] = True
    walls = box_walls(stub)
    assert walls[mask & ~digits].mean() > 0.9 and walls[digits].mean() < 0.05
    for angle in (0.0, 3.5):
        mask, digits = tilted_row(angle, grid=True)
        assert not box_walls(mask).any()


def row_of_boxes(size: tuple[int, int], edges: tuple[int, int], walls: tuple[int, ...], pen: int) -> np.ndarray:
    """A crop's ink (`size`: width, height) of a row of upright boxes: its top and bottom at the
    rows `edges`, its walls at the columns `walls`, drawn `pen` pixels wide."""
    image = Image.new("1", size, 0)
    draw = ImageDraw.Draw(image)
    for y in edges:
        draw.line([(walls[0], y), (walls[-1], y)], fill=1, width=pen)
    for x in walls:
        draw.line([(x, edges[0]), (x, edges[1])], fill=1, width=pen)
    return np.asarray(image, dtype=bool).copy()


def test_a_row_of_boxes_whose_thin_top_and_bottom_broke_in_the_crop_is_found():
    # Thresholded in a line's crop, a box drawn in a fine pen loses a few columns of its top and
    # bottom here and there: broken for 3-4 columns, they were no lines, and each wall read as a 1
    # ("344018" read "3141401118").
    digits = written_100(shift=6)
    boxes = row_of_boxes((240, 64), (8, 56), (26, 78, 130, 182), pen=1)
    for x in (40, 64, 100, 150, 170):
        boxes[8, x:x + 4] = False                                                 # the breaks
        boxes[56, x + 6:x + 10] = False
    mask = digits | boxes
    walls = box_walls(mask)
    assert walls[boxes].mean() > 0.9 and walls[digits].mean() < 0.05


def test_a_row_of_boxes_with_bold_digits_touching_its_top_is_found():
    # Bold digits written up to a box's top fill two boxes of three just under it: taken for the
    # tops of hollow lettering lined up, the row was no boxes, and its walls read as 1s ("027"
    # read "18371").
    image = Image.new("1", (200, 64), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse([(34, 18), (56, 48)], outline=1, width=5)                        # a 0, clear of the top
    draw.line([(80, 12), (116, 12), (84, 48), (114, 48)], fill=1, width=4)        # a 2, its bar under the top
    draw.line([(132, 12), (168, 12), (148, 48)], fill=1, width=4)                 # a 7, its bar under the top
    digits = np.asarray(image, dtype=bool)
    boxes = row_of_boxes((200, 64), (8, 56), (20, 72, 124, 176), pen=2) & ~digits
    walls = box_walls(digits | boxes)
    zero = np.zeros_like(digits)
    zero[18:49, 34:57] = digits[18:49, 34:57]
    # The boxes go; so does the part of a bar that the top's line takes in (the rows it spans).
    assert walls[boxes].mean() > 0.9 and walls[digits].mean() < 0.2 and not walls[zero].any()


def test_a_row_of_boxes_on_a_ruled_line_whose_thin_top_broke_between_two_digits_is_found():
    # Drawn on a ruled line, the boxes' bottom goes with the line and their top alone is looked
    # for apart from it. Thresholded in a small photo's crop, the thin top broke for 3 columns
    # between two digits, where nothing else is written: no run of the ink's columns was as long
    # as a line across the row, and each wall read as a 1 ("12" read "17121").
    digits = written_100(shift=6)
    boxes = row_of_boxes((240, 64), (8, 56), (26, 78, 130, 182), pen=1)
    boxes[8, 120:123] = False                                                     # the break
    mask = digits | boxes
    mask[56] = True                                                               # the ruled line
    ruled = np.zeros_like(mask)
    ruled[55:58] = True
    walls = box_walls(mask, ruled)
    assert walls[boxes & ~ruled].mean() > 0.9 and walls[digits].mean() < 0.05
