"""Reading numbers and pages: lines found at any angle, read whole, with boxes and confidences."""

import dataclasses
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlab.errors import DigitlabError
from digitlab.ink import find_ink
from digitlab.linefinding import find_lines, frame_sides
from digitlab.linerows import typical_height
from digitlab.reading import READ_SIDE, ctc_best_path, placed_line
from tests.conftest import clean_scan, dev_face
from tests.photomaker import (
    askew_on_desk,
    from_below,
    in_shadow,
    in_table,
    on_blackboard,
    on_whiteboard,
    on_wooden_desk,
    vignetted,
    with_binding,
    with_crease,
    with_dust,
    with_finger,
    with_holes,
    with_margin,
    with_pen,
    with_show_through,
)
from tests.scanmaker import (
    ScanStyle,
    app_drawing,
    decorated,
    draw_page,
    draw_scan,
    glyph_from_font,
    handwriting_fonts,
    in_boxes,
    join_glyphs,
    leaning,
    outline_glyph,
    random_style,
    rising_and_falling,
    tight_crop,
)

PENCIL = 0.35  # a number in pencil beside numbers in pen: its strokes a third as dark (`dev_photo`)

NUMBERS = ["2026", "31415", "870", "55012"]


def page(angle: float, on_desk: bool = True, seed: int = 1, numbers: list[str] = NUMBERS):
    fonts = handwriting_fonts("dev")
    rng = np.random.default_rng(seed)
    glyphs = [join_glyphs([glyph_from_font(c, fonts[i]) for c in text], rng) for i, text in enumerate(numbers)]
    return draw_page(glyphs, numbers, rng, angle=angle, on_desk=on_desk)


@pytest.mark.parametrize("angle", [0, 25, -40, 90, -90])
def test_every_line_of_a_turned_page_is_found_along_the_writing(angle):
    sheet = page(angle)
    lines = find_lines(find_ink(sheet.image, work_side=READ_SIDE))
    assert len(lines) == len(sheet.numbers)
    # The writing runs at -angle in image coordinates (y down); +-90 and 180 apart are one axis.
    for line in lines:
        difference = (math.degrees(line.angle) + angle + 90) % 180 - 90
        assert abs(difference) < 6
    assert all(len(line.components) >= 1 for line in lines)


@pytest.mark.parametrize("angle, seed", [(2, 0), (7, 0), (3, 1), (-3, 1)])
def test_slivers_of_desk_along_the_edges_are_no_line_of_writing(angle, seed):
    # A sheet turned a few degrees on a desk shows the desk only in slivers along the picture's
    # edges: too little to find the sheet by, yet each sliver once read as a line, or swallowed
    # the page's lines into one.
    sheet = page(angle, seed=seed)
    lines = find_lines(find_ink(sheet.image, work_side=READ_SIDE))
    assert len(lines) == len(sheet.numbers)
    assert [len(line.components) for line in lines] == [len(number) for number in sheet.numbers]


def test_best_path_decoding_merges_repeats_and_drops_blanks():
    classes = [0, 3, 3, 0, 0, 3, 8, 8, 0]  # blank, "2" twice, blank, "2", "7" ...
    probabilities = np.full((len(classes), 11), 0.01)
    probabilities[np.arange(len(classes)), classes] = 0.9
    probabilities[2, 3] = 0.95
    digits = ctc_best_path(probabilities)
    assert [d for d, _, _, _ in digits] == [2, 2, 7]
    assert digits[0][1] == pytest.approx(0.95) and digits[0][2:] == (1, 2)  # confidence and frames


def test_placed_line_maps_line_columns_back_to_the_mask():
    mask = np.zeros((90, 400), bool)
    mask[20:80, 100:108] = True   # a "1" ...
    mask[20:80, 322:330] = True   # ... and another far to the right
    image, geometry = placed_line(mask)
    columns = np.flatnonzero(image.max(axis=0) > 0.5)
    first = (columns[0] - 4) / geometry.scale + geometry.left
    last = (columns[-1] - 4) / geometry.scale + geometry.left
    assert abs(first - 100) < 3 and abs(last - 330) < 3


def test_a_blank_page_is_one_line(tmp_path):

    from tests.conftest import run_cli

    Image.fromarray(np.random.default_rng(0).normal(235, 4, (700, 900)).clip(0, 255).astype(np.uint8)).save(
        tmp_path / "blank.png")
    result = run_cli("read", "--json", str(tmp_path / "blank.png"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no digit found" in result.stderr


# ---------------------------------------------------------------- with the shipped line reader


@pytest.fixture(scope="module")
def reader():
    from digitlab.predict import Reader

    try:
        return Reader.load()
    except DigitlabError as exc:
        pytest.skip(str(exc))


def test_blank_ruled_and_squared_paper_holds_no_digit(reader):
    """On a blank ruled page the ink's threshold followed the printed lines, and a JPEG's blocks
    and the noise along them passed for small digits: "11", "9" or "8", read surely."""
    from digitlab.predict import Predictor

    predictor, rng = Predictor.load(), np.random.default_rng(1)
    blank, refused, answered_sure = np.zeros((28, 28), np.float32), 0, []
    for kind in ("ruled", "squared"):
        for i in range(24):
            style = dataclasses.replace(random_style(rng), ruled=True, squared=kind == "squared", ruling_tilt=0.0)
            image = draw_scan(blank, style, rng)
            try:
                reading = reader.read(image)
                answered_sure += [] if reading.uncertain else [(kind, i, reading.text)]
            except DigitlabError as exc:
                refused += "no digit found" in str(exc)
            prediction = predictor.predict([image])[0]
            if not isinstance(prediction, DigitlabError) and not prediction.uncertain:
                answered_sure.append((kind, i, "predict", prediction.label))
    assert answered_sure == [] and refused == 2 * 24


def test_a_number_on_ruled_and_squared_paper_still_reads(reader):
    fonts, rng = handwriting_fonts("dev"), np.random.default_rng(3)
    for squared in (False, True):
        glyph = join_glyphs([glyph_from_font(c, fonts[2]) for c in "4072"], rng)
        style = ScanStyle(side=800, fill=0.12, ruled=True, squared=squared, noise=0.05, jpeg_quality=70)
        assert reader.read(draw_scan(glyph, style, rng)).text == "4072"


@pytest.mark.parametrize("seed", [18, 21])
def test_a_number_on_squared_paper_photographed_from_below_reads(reader, seed):
    # The phone tilted up to the sheet fans its columns out: found at one slope, most of them
    # stayed, lines of 1s were found in them ("32782" read with seven more lines; "736" read
    # "90" and "01"). Now a page's columns are looked for each at its own lean, and a line crop's
    # at the lean its shear gives them.
    fonts, rng = handwriting_fonts("dev"), np.random.default_rng(seed)
    text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 6))))
    glyph = join_glyphs([glyph_from_font(c, fonts[int(rng.integers(len(fonts)))]) for c in text], rng)
    style = ScanStyle(side=800, fill=0.1, ruled=True, squared=True, noise=0.03, jpeg_quality=80)
    assert reader.read(from_below(draw_scan(glyph, style, rng), rng)).text == text


@pytest.mark.parametrize("angle", [0, 30, -45, 90, 180])
def test_a_photographed_sheet_is_read_line_by_line_in_order(reader, angle):
    sheet = page(angle, seed=2)
    reading = reader.read(sheet.image)
    assert reading.text.split("\n") == sheet.numbers
    width, height = sheet.image.size
    for line, number in zip(reading.lines, sheet.numbers):
        assert line["text"] == number and len(line["digits"]) == len(number)
        assert len(line["box"]) == 4 and all(-5 <= x <= width + 5 and -5 <= y <= height + 5 for x, y in line["box"])
        for digit in line["digits"]:
            x0, y0, x1, y1 = digit["box"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and 0 <= digit["confidence"] <= 1
    json.dumps(reading.to_json())  # plain JSON all the way down


def test_a_page_upside_down_is_turned_though_it_reads_surely_either_way(reader):
    # 0, 1, 2, 5, 6, 8 and 9 are digits upside down too: turned, this page reads as surely as the
    # right way up (0992, 2198, 8961, 609), so its lines are weighed together however surely each
    # reads.
    sheet = page(180, seed=0, numbers=["609", "1958", "8612", "2550"])
    assert reader.read(sheet.image).text.split("\n") == sheet.numbers


def test_two_numbers_on_one_row_are_read_left_to_right(reader):
    # A row of a table: "120", a wide gap, "3456"; the right-hand number sits a little higher
    # on this page (its own line centre comes first), yet it is read second.
    fonts = handwriting_fonts("dev")
    rng = np.random.default_rng(0)
    left, right, below = (join_glyphs([glyph_from_font(c, fonts[0]) for c in text], rng)
                          for text in ("120", "3456", "789"))
    height = max(left.shape[0], right.shape[0])
    row = np.concatenate([np.pad(left, ((0, height - left.shape[0]), (0, 0))), np.zeros((height, 4 * height)),
                          np.pad(right, ((0, height - right.shape[0]), (0, 0)))], axis=1)
    sheet = draw_page([row, below], ["120 3456", "789"], rng, angle=3.0)
    assert reader.read(sheet.image).text.split("\n") == ["120", "3456", "789"]


def number_scan(text: str, font_index: int, seed: int):
    fonts = handwriting_fonts("dev")
    rng = np.random.default_rng(seed)
    glyph = join_glyphs([glyph_from_font(c, fonts[font_index]) for c in text], rng)
    return draw_scan(glyph, ScanStyle(side=800, fill=0.15, angle=4.0, noise=0.02, jpeg_quality=85), rng)


@pytest.mark.parametrize("text, font_index", [("6081", 1), ("1968", 3), ("2749", 5), ("350", 8)])
@pytest.mark.parametrize("turn", [0, 180, 90, -90])
def test_a_lone_number_is_read_the_right_way_up_however_the_photo_was_turned(reader, text, font_index, turn):
    # Turned by 180 degrees, "6081" and "1968" are digits all the same ("1809", "8961") and read
    # about as surely as upright: the orientation model, not the line reader's confidence, tells. A
    # number on its side is found as a line up or down the picture, so it is then a line turned or
    # not.
    scan = number_scan(text, font_index, seed=len(text))
    assert reader.read(scan.rotate(turn, expand=True)).text == text


@pytest.mark.parametrize("text, font_index", [("889", 19), ("82", 18), ("167", 2), ("65", 9)])
def test_a_short_number_upside_down_is_turned_on_the_orientation_models_fair_word(reader, text, font_index):
    # Turned, these read "688", "28", "691", "59" just as surely. The orientation model is less
    # sure of a line of two or three digits (log-odds 2-4 here), and against a prior of 1 in 50
    # that a photo is upside down that was too little; the upright scans must still read upright.
    scan = number_scan(text, font_index, seed=len(text))
    assert reader.read(scan).text == text
    assert reader.read(scan.rotate(180)).text == text


@pytest.mark.parametrize("text, font_index", [("68", 0), ("98", 4), ("19", 2)])
def test_a_number_that_reads_either_way_up_is_not_sure_of_its_way_up(reader, text, font_index):
    # Turned, these read "89", "86" and "61", each digit surely; the orientation model leans to
    # turned, but not by enough to outweigh the prior that photos are upright. They were answered
    # without a doubt; now every digit of the reading is "not sure". Upright, they read surely.
    scan = number_scan(text, font_index, seed=len(text))
    upright, turned = reader.read(scan), reader.read(scan.rotate(180))
    assert upright.text == text and not upright.uncertain
    assert turned.text == text or turned.uncertain and all(digit["uncertain"] for digit in turned.digits)


def test_the_way_up_is_in_doubt_only_between_its_bounds_and_when_the_two_ways_read_differently():
    from digitlab.reading import TURNED_PRIOR_LOG_ODDS, WAY_UP_DOUBT, ReadLine, way_up_in_doubt

    def line(text: str) -> ReadLine:
        return ReadLine(text, 0.99, [[0, 0], [1, 0], [1, 1], [0, 1]],
                        [{"digit": int(c), "confidence": 0.99, "box": [0, 0, 1, 1], "uncertain": False} for c in text])

    # Both ways read as surely: the evidence is the prior and the orientation model's log-odds.
    def doubt(odds: float, turned_text: str = "60") -> bool:
        return way_up_in_doubt([line("09")], [line(turned_text)], [odds - TURNED_PRIOR_LOG_ODDS])

    low, high = WAY_UP_DOUBT
    assert doubt((low + high) / 2) and doubt(low + 0.01) and doubt(high - 0.01)
    assert not doubt(low - 0.01) and not doubt(high + 0.01)
    assert not doubt((low + high) / 2, turned_text="09")  # the same number either way: no doubt about it
    assert line("09").doubted().digits[1]["uncertain"] and not line("09").digits[1]["uncertain"]


def test_a_line_that_reads_no_digit_one_way_up_says_nothing_of_the_way_up():
    # A speck's line read as nothing upright and as a sure "1" turned gained the most a line can
    # (an empty reading's certainty is the floor), and turned a page that read surely upright.
    from digitlab.reading import ReadLine, upside_down

    def line(text: str, confidence: float) -> ReadLine:
        return ReadLine(text, confidence, [[0, 0], [1, 0], [1, 1], [0, 1]],
                        [{"digit": int(c), "confidence": confidence, "box": [0, 0, 1, 1], "uncertain": False}
                         for c in text])

    upright, turned = [line("1037", 0.99), line("", 0.0)], [line("7501", 0.9), line("1", 0.99)]
    assert not upside_down(upright, turned, [0.0, 0.0])
    assert upside_down([line("7501", 0.9), line("", 0.0)], [line("1037", 0.99), line("1", 0.99)], [2.0, 0.0])


def test_a_sign_seen_in_either_view_of_a_leaning_line_leaves_it_not_sure(monkeypatch):
    # A leaning line is read as written and stood upright, and the surer reading kept; a comma may
    # touch a digit in one view and stand apart in the other, where the sign test sees it.
    import digitlab.reading as reading

    def line(signed: bool, confidence: float) -> reading.ReadLine:
        digits = [{"digit": d, "confidence": confidence, "box": [0, 0, 1, 1], "uncertain": False} for d in (1, 2)]
        read = reading.ReadLine("12", confidence, [[0, 0], [1, 0], [1, 1], [0, 1]], digits, holds_non_digit=signed)
        return read.doubted() if signed else read

    ink = find_ink(clean_scan(glyph_from_font("12", dev_face("dkgIt"))), work_side=READ_SIDE)
    views = [line(True, 0.9), line(False, 0.95)]  # as written, then upright (the surer)
    monkeypatch.setattr(reading, "read_cut", lambda *args: views.pop(0))
    monkeypatch.setattr(reading, "writing_slant", lambda mask: 0.5)
    chosen = reading.read_line(ink, find_lines(ink)[0], lambda images: [], 4, 0.5)
    assert chosen.confidence == 0.95 and all(d["uncertain"] for d in chosen.digits)


@pytest.mark.parametrize("text, face", [("3850", "Kristi"), ("6071", "BecauseWeLearn-Regular"),
                                        ("2749", "DancingScript-Regular"), ("2749", "dkg"), ("980", "TomsonTalks"),
                                        ("828", "YuseiMagic-Regular")])
def test_a_hollow_number_is_read_by_the_inside_of_its_outlines(reader, text, face):
    # As ink these outlines are rings: "3850" in Kristi read "8890", "6071" in BecauseWeLearn
    # "09082". Kristi's thin strokes leave insides that only a crop at twice the height shows whole.
    # The rings inside the 0s, 8s and 9 had the writing's direction found up the page ("980" read
    # "8", "828" "88").
    font = dev_face(face)
    rng = np.random.default_rng(len(text))
    scan = draw_scan(outline_glyph(text, font), ScanStyle(side=800, fill=0.15, angle=4.0, noise=0.02, jpeg_quality=85),
                     rng)
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face", [("2749", "dkg"), ("3850", "Kristi"), ("1016", "kiloji"),
                                        ("661086", "TomsonTalks")])
def test_the_orientation_models_word_counts_half_for_hollow_lettering(reader, monkeypatch, text, face):
    # Of the insides of upright hollow numbers the orientation model said "turned" at log-odds of
    # 2.7-3.8 (validation "1016" read "9101", dev "282" read "686"). At those odds an upright
    # hollow number now stays upright, and the same number turned is still read the right way up
    # with the model's own odds.
    import digitlab.reading

    scan = draw_scan(outline_glyph(text, dev_face(face)),
                     ScanStyle(side=800, fill=0.15, angle=4.0, noise=0.02, jpeg_quality=85), np.random.default_rng(1))
    opinion = reader.second_opinion.scan_probabilities

    def read(source, odds):
        return digitlab.reading.read_page(source, reader.line_probabilities, reader.stride, reader.asking_below,
                                          opinion=opinion, turned=odds).text

    def misfire(images, lengths):
        return [3.5] * len(images)

    assert read(scan, misfire) == text
    assert read(scan.rotate(180), reader.orientation.turned_log_odds) == text
    monkeypatch.setattr(digitlab.reading, "OUTLINED_ODDS_WEIGHT", 1.0)
    assert read(scan, misfire) != text  # at full weight the misfire turns it


@pytest.mark.parametrize("text, face, lean", [("4188", "dkgBI", 0.0), ("298", "dkgBI", 0.0), ("37670", "dkgBI", 0.0),
                                              ("4188", "dkgIt", 0.0), ("90818", "dkgIt", 0.0),
                                              ("2749", "ComicNeue-Regular", 0.7)])
def test_a_number_in_a_leaning_hand_is_stood_upright_and_read(reader, text, face, lean):
    # Read as they leaned, the bold italic's 8s read as 9s ("4188" read "4199", "298" "399"), and
    # "2749" leaning 0.7 read "29": the line reader learnt leans of up to about 0.4.
    font = dev_face(face)
    glyph = glyph_from_font(text, font)
    scan = draw_scan(leaning(glyph, lean) if lean else glyph,
                     ScanStyle(side=800, fill=0.15, angle=3.0, noise=0.02, jpeg_quality=85),
                     np.random.default_rng(len(text)))
    assert reader.read(scan).text == text


@pytest.mark.parametrize("face", [0, 6, 21, 24])
def test_a_stub_of_a_ruled_line_under_a_digit_does_not_turn_the_writing(face):
    # A short, flat piece of a ruled or squared paper's line left under a digit voted with its
    # neighbours: "65" was found as two lines turned 80-90 degrees, "58 31" on squared paper two
    # lines at -16 degrees ("58\n31").
    rng = np.random.default_rng(face)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in "65"], rng)
    height, width = glyph.shape
    page = np.zeros((height + height // 4, width), dtype=glyph.dtype)
    page[:height] = glyph
    first, thick = np.flatnonzero(glyph.any(axis=0))[0], max(2, height // 14)
    page[height + thick:height + 2 * thick, first:first + width // 4] = glyph.max()
    scan = draw_scan(page, ScanStyle(side=700, fill=0.5, noise=0.02, jpeg_quality=85), np.random.default_rng(1))
    lines = find_lines(find_ink(scan, work_side=READ_SIDE))
    assert len(lines) == 1 and abs(math.degrees(lines[0].angle)) < 10


def leaning_number(text: str, font: Path, lean: float, angle: float = 3.0, seed: int = 0):
    """`text` in `font`, leaning `lean`, its line turned by `angle` degrees."""
    rng = np.random.default_rng(seed)
    glyph = leaning(join_glyphs([glyph_from_font(c, font) for c in text], rng), lean)
    return draw_scan(glyph, ScanStyle(side=800, fill=0.2, angle=angle, noise=0.02, jpeg_quality=85), rng)


@pytest.mark.parametrize("text, lean", [("79658", 0.8), ("906", 0.8), ("25", 0.5), ("25", 0.7)])
def test_digits_of_a_thin_hand_leaning_far_are_one_line_along_the_writing(text, lean):
    # Each digit, long and thin, voted the writing's direction down its own slant, as a number
    # joined up into one long piece votes along its length: "79658" made five lines of one digit
    # at -38 degrees, "25" two lines at -45.
    lines = find_lines(find_ink(leaning_number(text, dev_face("ComicNeue-Light"), lean), work_side=READ_SIDE))
    assert len(lines) == 1 and len(lines[0].components) == len(text)
    if len(text) > 2:  # two digits set the direction only roughly (the line crop stands them upright)
        assert abs(math.degrees(lines[0].angle) + 3.0) < 6


def rising_and_falling_number(text: str, face: int, old_style: bool, seed: int, angle: float = 3.0):
    rng = np.random.default_rng(seed)
    glyph = rising_and_falling(text, [glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng, old_style,
                               bounce=0.25)
    return draw_scan(glyph, ScanStyle(side=800, fill=0.25, angle=angle, noise=0.02, jpeg_quality=85), rng)


@pytest.mark.parametrize("text, face, old_style, seed", [("363", 0, True, 3), ("363", 12, True, 87),
                                                         ("363", 0, False, 3), ("5968", 6, False, 46),
                                                         ("471", 0, False, 3)])
def test_digits_that_rise_and_fall_are_one_line_along_the_writing(text, face, old_style, seed):
    # Old-style figures (a 6 rising over the rest, a 3 hanging below their foot) and a hand whose
    # digits bounce off the line: the neighbours' directions ran up and down from one digit to
    # the next, the writing was found 15-27 degrees off, and its digits made two or three lines.
    lines = find_lines(find_ink(rising_and_falling_number(text, face, old_style, seed), work_side=READ_SIDE))
    assert len(lines) == 1 and len(lines[0].components) == len(text)
    if old_style:
        assert abs(math.degrees(lines[0].angle) + 3.0) < 4


@pytest.mark.parametrize("text, face, old_style, seed", [("363", 3, True, 24), ("2739", 6, False, 46),
                                                         ("5968", 18, False, 130)])
def test_digits_that_rise_and_fall_are_read_as_one_number(reader, text, face, old_style, seed):
    # Read "63\n3", "739\n2" and "8\n96\n5", none of them "not sure".
    reading = reader.read(rising_and_falling_number(text, face, old_style, seed))
    assert reading.text == text or ("\n" not in reading.text and reading.uncertain)


@pytest.mark.parametrize("text, face, lean, angle, seed", [("37", 5, 0.6, 2.0, 15), ("63", 6, 0.7, 6.0, 30),
                                                           ("64", 6, 0.3, 0.0, 49), ("808", 23, 0.5, 6.0, 13)])
def test_a_short_leaning_number_is_found_along_its_line_not_down_its_slant(text, face, lean, angle, seed):
    # The ink's projection profile alone was sharpest with the italic digits turned towards
    # upright: these were found 10-22 degrees off their line.
    scan = leaning_number(text, handwriting_fonts("dev")[face], lean, angle, seed)
    lines = find_lines(find_ink(scan, work_side=READ_SIDE))
    assert len(lines) == 1 and abs(math.degrees(lines[0].angle) + angle) < 4


@pytest.mark.parametrize("text, face, lean, angle, seed, sure", [("74", 7, 0.7, 2.0, 37, True),
                                                                 ("17", 5, 0.6, -2.0, 58, False)])
def test_a_short_leaning_number_is_read_along_its_line(reader, text, face, lean, angle, seed, sure):
    # Straightened 12 and 23 degrees off their line, these read "7" and "422".
    reading = reader.read(leaning_number(text, handwriting_fonts("dev")[face], lean, angle, seed))
    # Not yet sure: the "17", joined as it leans, is still found 10 degrees off its line, and read
    # so, it is one piece that the line reader reads "2" (as the retrained digit model does);
    # stood upright it reads "17", less surely.
    assert reading.text == text if sure else (reading.text == text or reading.uncertain)


@pytest.mark.parametrize("text, face, lean", [("24", "ComicNeue-Light", 0.8), ("56", "dkgIt", 0.6),
                                              ("615", "dkgIt", 0.8)])
def test_a_far_leaning_number_is_read_right_or_not_sure(reader, text, face, lean):
    # Read as it leans and stood upright, each read differently; the surer ("2", "5", "5", each
    # digit over 99% sure) was kept, and nothing said that a digit had been lost.
    reading = reader.read(leaning_number(text, dev_face(face), lean))
    assert reading.text == text or reading.uncertain


@pytest.mark.parametrize("text", ["8179", "8719"])
def test_italic_digits_with_slits_for_counters_are_no_hollow_lettering(reader, text):
    # Leaning far, the italic 8's counters are slits as long and thin as an outline's insides:
    # the line was cut as hollow lettering, its 1 and 7 (which hold no inside) lost, and it read
    # "1" or nothing. (With the face's descenders drawn whole, "8179" as written reads "179", its
    # 8 run into the 1, and stood upright "8179": the two views differ, and it is "not sure".)
    rng = np.random.default_rng(len(text))
    glyph = join_glyphs([glyph_from_font(c, dev_face("dkgBI")) for c in text], rng)
    scan = draw_scan(leaning(glyph, 0.6), ScanStyle(side=800, fill=0.15, angle=-6.0, noise=0.02, jpeg_quality=85),
                     rng)
    reading = reader.read(scan)
    assert "179" in reading.text or "719" in reading.text  # the 1 and 7 kept
    assert reading.text == text or reading.uncertain


@pytest.mark.parametrize("text, font_index", [("2749", 0), ("3856", 1)])
def test_a_number_in_a_box_drawn_round_it_is_read_without_the_box(reader, text, font_index):
    # A form's field: the box's sides were read as 1s round the number ("12749").
    rng = np.random.default_rng(font_index)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[font_index]) for c in text], rng)
    pad, side = int(0.4 * glyph.shape[0]), max(2, glyph.shape[0] // 25)
    boxed = np.pad(glyph, pad)
    boxed[:side], boxed[-side:], boxed[:, :side], boxed[:, -side:] = 1, 1, 1, 1
    scan = draw_scan(boxed, ScanStyle(side=800, fill=0.4, angle=3.0, noise=0.02, jpeg_quality=85),
                     np.random.default_rng(font_index))
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, kind, seed", [("3856", 11, "oval", 1), ("90", 26, "oval", 4),
                                                    ("105", 13, "box", 2), ("3856", 8, "box", 1)])
def test_a_number_in_an_oval_or_a_tight_box_is_read_without_it(reader, text, face, kind, seed):
    # The line crop is thresholded again from the photo, and kept what the line finder had left
    # out: the oval's ends and the box's sides read as digits ("3856" read "38561", "90" "690").
    rng = np.random.default_rng(seed)
    glyph = decorated(join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng), kind, rng)
    scan = draw_scan(glyph, ScanStyle(side=800, fill=0.4, angle=3.0, noise=0.02, jpeg_quality=85), rng)
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("8084", 14, 0), ("23810", 10, 7), ("6116", 23, 21)])
def test_a_small_number_in_an_oval_is_read_with_the_digits_at_its_ends(reader, text, face, seed):
    # Small in the photo, the oval's ends touch the first and last digits at working resolution:
    # they were one piece with the frame and left out of the line ("8084" read "084", "6116" "116").
    rng = np.random.default_rng(seed)
    glyph = decorated(join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng), "oval", rng)
    scan = draw_scan(glyph, ScanStyle(side=700, fill=0.13, angle=2.0, noise=0.02, jpeg_quality=85), rng)
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed, angle", [("57", 1, 11, 0.0), ("0767", 3, 33, 0.0), ("808", 7, 2, 1.5),
                                                     ("70", 22, 7, 1.5), ("5422", 6, 60, 1.5), ("31", 7, 72, 1.5),
                                                     ("0767", 17, 173, 1.5)])
def test_a_number_in_a_box_that_fills_the_photo_is_read_without_the_box(reader, text, face, seed, angle):
    # A form's field photographed whole. Level, its top and bottom were taken for ruled lines, and
    # its sides read as 1s ("57" read "17", "0767" "177"); a little askew, its sides stayed in the
    # line crop ("808" read "1111", "70" "1701"). And the stroke that tells a digit from a piece of
    # joined-up writing was measured with the thin frame: bold digits inside passed for such
    # pieces, the writing was found running up the page, a line to each digit ("5422" read four
    # lines, "1071/17/10/1171").
    rng = np.random.default_rng(seed)
    glyph = decorated(join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng), "box", rng)
    scan = draw_scan(glyph, ScanStyle(side=700, fill=0.9, angle=angle, noise=0.02, jpeg_quality=85), rng)
    assert reader.read(scan).text == text


def test_the_sides_of_a_box_whose_top_and_bottom_were_lost_are_no_digits():
    # Pieces along the line (u0, u1, v0, v1): thin upright strokes first and last, reaching past
    # the digits between them above and below, are a box's sides; a 1 at either end is not.
    digits = {1: (5.0, 15.0, 5.0, 35.0), 2: (17.0, 27.0, 5.0, 35.0), 3: (29.0, 39.0, 6.0, 35.0)}
    sides = {0: (0.0, 2.0, 0.0, 40.0), 4: (42.0, 44.0, 0.0, 41.0)}
    assert frame_sides([0, 1, 2, 3, 4], digits | sides) == {0, 4}
    ones = {0: (0.0, 2.0, 5.0, 35.0), 4: (42.0, 44.0, 4.0, 36.0)}     # as tall as the digits
    assert frame_sides([0, 1, 2, 3, 4], digits | ones) == set()
    assert frame_sides([0, 1, 2, 3, 4], digits | {0: sides[0], 4: ones[4]}) == set()  # one side alone
    assert frame_sides([0, 1, 2, 3], digits | {0: sides[0]}) == set()


@pytest.mark.parametrize("text, face, kind, fill, ruled, seed", [
    ("8231", 12, "box", 0.15, False, 4), ("0312", 23, "oval", 0.12, False, 12), ("460", 3, "box", 0.23, True, 77),
    ("354980", 10, "box", 0.15, True, 109), ("95", 12, "box", 0.18, True, 145), ("9996", 14, "oval", 0.14, True, 237),
    ("876274", 10, "box", 0.16, True, 361)])
def test_a_frame_too_thin_or_faint_for_the_working_mask_is_no_part_of_the_number(reader, text, face, kind, fill,
                                                                                  ruled, seed):
    # The working mask lost the frame, or kept only its sides (its top and bottom went with the
    # ruled lines they lay along), so the line finder could not set it apart: the sides were read
    # as 1s ("876274" read "10762741"), and a small number's box or oval, one piece with its
    # digits at working resolution, was taken for hollow lettering in the line crop ("95" read
    # "130", "0312" "083").
    rng = np.random.default_rng(seed)
    glyph = decorated(join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng), kind, rng)
    scan = draw_scan(glyph, ScanStyle(side=900, fill=fill, angle=1.5, ruled=ruled, noise=0.02, jpeg_quality=85), rng)
    assert reader.read(scan).text == text


def test_a_number_on_dark_squared_paper_is_read_between_the_squares(reader):
    # The grid's columns joined the digits and the rows into one mesh on the page, and the mesh
    # was found as four lines ("1447435 / 770 / 71403 / 5111"). On ruled paper vertical lines
    # across the page are dropped too.
    from PIL import ImageDraw

    rng = np.random.default_rng(7)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[7]) for c in "808"], rng)
    scan = draw_scan(glyph, ScanStyle(side=900, fill=0.15, noise=0.02, jpeg_quality=85), rng).convert("RGB")
    draw = ImageDraw.Draw(scan)
    for v in range(7, 900, 40):
        draw.line([(0, v), (900, v)], fill=(95, 100, 115), width=2)
        draw.line([(v, 0), (v, 900)], fill=(95, 100, 115), width=2)
    assert reader.read(scan).text == "808"


@pytest.mark.parametrize("text, face", [("796515", 1), ("883", 4), ("8590", 7), ("2749", 10)])
def test_stubs_of_a_grid_cut_off_by_the_picture_edge_are_no_line_of_writing(reader, text, face):
    # A squared page's column that leaves the picture after a cell is not found for a ruled line;
    # its stub was read as a line of its own ("1\n796515", "883\n1").
    from PIL import ImageDraw

    rng = np.random.default_rng(face)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng)
    scan = draw_scan(glyph, ScanStyle(side=800, fill=0.15, noise=0.02, jpeg_quality=85), rng).convert("RGB")
    draw = ImageDraw.Draw(scan)
    draw.line([(798, 520), (798, 610)], fill=(110, 115, 125), width=3)
    draw.line([(1, 100), (1, 190)], fill=(110, 115, 125), width=3)
    assert reader.read(scan).text == text


@pytest.mark.parametrize("written", ["4,250", "7,031", "0,548"])
def test_a_comma_whose_tail_reaches_below_the_digits_is_no_line_of_its_own(written):
    # A face's comma half as tall as its digits counts as tall, and its middle lies below the
    # digits' row: it made a line of its own, read "1" ("4250\n1").
    scan = clean_scan(glyph_from_font(written, dev_face("BecauseWeOrganize-Regular")), side=800, fill=0.6)
    assert len(find_lines(find_ink(scan, work_side=READ_SIDE))) == 1


@pytest.mark.parametrize("text, face, speck", [("796515", 1, (14, 8)), ("8590", 7, (6, 14)), ("8590", 7, (10, 10))])
def test_a_speck_far_along_the_numbers_row_is_no_line_of_writing(reader, text, face, speck):
    # A speck of dirt, or a ruled line's end past a thin hand's writing, lies in the number's row
    # but far beyond its last digit: it made a line of its own, of small pieces only, and was read
    # ("796515\n10", "8590\n11").
    from PIL import ImageDraw

    rng = np.random.default_rng(face)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng)
    scan = draw_scan(glyph, ScanStyle(side=1600, fill=0.12, noise=0.02, jpeg_quality=85), rng).convert("RGB")
    rows, columns = np.nonzero(np.asarray(scan.convert("L")) < 128)
    row, column = int(np.median(rows)), 30 if columns.max() > 1300 else 1560
    ImageDraw.Draw(scan).rectangle([column, row, column + speck[0], row + speck[1]], fill=(40, 40, 60))
    assert len(find_lines(find_ink(scan, work_side=READ_SIDE))) == 1
    assert reader.read(scan).text == text


def test_the_parts_of_a_digit_come_apart_vote_as_one_for_the_writings_direction(reader):
    # A JPEG saved at quality 10 parted a small 7's bar from its stem. Each part was the other's
    # nearest neighbour, and the two voted for the writing running down the picture: "287" was
    # found as three lines across it, and read "10\n00\n7".
    rng = np.random.default_rng(3026)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[19]) for c in "287"], rng)
    style = ScanStyle(side=941, fill=0.1, angle=1.55, shear=0.145, noise=0.022, jpeg_quality=None, gradient=0.12,
                      tint=(209, 242, 255), ink=(77, 57, 46))
    buffer = io.BytesIO()
    draw_scan(glyph, style, rng).convert("RGB").save(buffer, "JPEG", quality=10)
    ink = find_ink(buffer.getvalue(), work_side=READ_SIDE)
    assert len(ink.significant()) == 4  # the 7 in two parts
    assert len(find_lines(ink)) == 1
    assert reader.read(buffer.getvalue()).text == "287"


def test_only_parts_no_larger_than_a_digit_together_are_one_piece():
    from digitlab.linefinding import overlapping

    def box(x0: float, x1: float, y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
        return np.array([x0, x1 - 1.0]), np.array([y0, y1 - 1.0])

    two, eight = box(0, 15, 0, 32), box(22, 41, 0, 30)
    bar, stem = box(47, 64, 0, 12), box(51, 64, 5, 31)  # a 7 come apart
    assert sorted(map(sorted, overlapping([two, eight, bar, stem]))) == [[0], [1], [2, 3]]
    assert overlapping([two]) == [[0]] and overlapping([]) == []
    # A frame drawn round the number overlaps each digit as much, but the two are far larger than a digit.
    frame = box(-8, 72, -8, 40)
    assert sorted(map(sorted, overlapping([two, eight, frame, box(47, 64, 0, 31)]))) == [[0], [1], [2], [3]]


def phone_photo(kind: str, text: str, face: int, seed: int):
    """A dev face's number as phones photograph notes: in dim light (grey paper), beside a
    notebook's margin, on a sheet seen askew on a desk, with a soft shadow over it, with a finger
    holding the sheet, in a table's cell, with the lens's dark corners, with a pen lying by it, or
    with dust over the paper, on loose-leaf paper beside its punched holes, or on a spiral notebook's
    page with its binding in view; or written in pencil, grey on paper lit a little unevenly; or in
    chalk on a blackboard, or in marker on a whiteboard under a lamp's glare."""
    rng = np.random.default_rng(seed)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text], rng)
    if kind == "dim":
        grey = tuple(int(v) for v in rng.integers(80, 150, 3))
        return draw_scan(glyph, ScanStyle(side=800, fill=0.2, angle=2.0, tint=grey, ink=(20, 25, 30), gradient=0.3),
                         rng)
    style = ScanStyle(side=800, fill=float(rng.uniform(0.1, 0.25)), angle=2.0, noise=0.02, jpeg_quality=85)
    # On paper of any light tint, lit unevenly, as the benchmark's.
    if kind in ("finger", "table", "vignette", "pen", "dust", "pencil", "holes", "binding", "board", "whiteboard"):
        style = ScanStyle(side=int(rng.integers(600, 1200)), fill=float(rng.uniform(0.1, 0.25)),
                          angle=float(rng.uniform(-6, 6)), shear=float(rng.uniform(-0.15, 0.15)),
                          ruled=bool(rng.random() < 0.25), blur=float(rng.choice([0.0, rng.uniform(0.5, 1.5)])),
                          noise=float(rng.uniform(0.0, 0.04)), jpeg_quality=int(rng.integers(50, 95)),
                          gradient=float(rng.uniform(0.0, 0.35)), tint=tuple(int(v) for v in rng.integers(205, 256, 3)),
                          ink=tuple(int(v) for v in rng.integers(0, 80, 3)))
    if kind == "pencil":
        grey = int(rng.integers(120, 166))
        return draw_scan(glyph, dataclasses.replace(style, ink=(grey, grey, grey)), rng)
    scan = draw_scan(glyph, style, rng)
    situations = {"margin": with_margin, "askew": askew_on_desk, "shadow": in_shadow, "finger": with_finger,
                  "table": in_table, "vignette": vignetted, "pen": with_pen, "dust": with_dust, "holes": with_holes,
                  "binding": with_binding, "board": on_blackboard, "whiteboard": on_whiteboard}
    return situations[kind](scan, rng)


def test_a_number_across_a_faint_shadows_edge_in_a_hard_jpeg_is_found(reader):
    # The shadow's edge steps the paper's light by 18 levels, under what counts as uneven paper,
    # so the line's crop was thresholded against one level; with the JPEG's blocks along the
    # edge, the two levels of paper passed for noise as strong as the ink: "no digit found".

    rng = np.random.default_rng(29)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[1]) for c in "93461"], rng)
    rgb = np.asarray(draw_scan(glyph, ScanStyle(side=900, fill=0.2, angle=2.0, noise=0.02, jpeg_quality=85),
                               rng).convert("RGB"), dtype=np.float32)
    rows, columns = np.mgrid[0:900, 0:900]
    rgb[columns - rows > rng.uniform(-90, 90)] -= 18
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=8)
    assert reader.read(buffer.getvalue()).text == "93461"


@pytest.mark.parametrize("kind, text, face, seed", [("board", "2026", 3, 11), ("board", "58173", 12, 12),
                                                    ("whiteboard", "59360", 7, 13), ("whiteboard", "71", 20, 14)])
def test_a_number_in_chalk_on_a_blackboard_or_in_marker_on_a_whiteboard_is_read(reader, kind, text, face, seed):
    # Chalk is light, patchy ink on a dark board smudged with old chalk; a whiteboard's glare is
    # paper brighter than the rest, not a hole in the ink. (Kristi's 4, drawn closed like a 9,
    # reads as a 9 on any paper, plain white too, so its number here has none.)
    scan = phone_photo(kind, text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).inverted == (kind == "whiteboard")
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("5790", 4, 822), ("50087", 23, 538), ("34", 25, 203)])
def test_a_number_photographed_in_dim_light_is_read_as_dark_ink(reader, text, face, seed):
    # Grey paper darker than half was taken for a dark board: "no digit found".
    scan = phone_photo("dim", text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).inverted
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("2070", 7, 498), ("1979", 2, 724), ("945", 8, 115), ("67", 22, 873),
                                              ("58", 10, 191), ("875", 11, 2009)])
def test_a_number_on_a_spiral_notebooks_page_is_read_without_its_binding(reader, text, face, seed):
    # The row of holes along the page's edge was read as a line of 6s or 1s, or joined the number
    # ("945" read "17\n7\n07\n99999999999999999999", "58" read "587"; "875", its binding askew and
    # the last hole's wire drawn to the edge, "6\n875").
    assert reader.read(phone_photo("binding", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("506", 7, 554), ("49", 24, 139)])
def test_a_notebooks_margin_beside_the_number_is_printed_not_a_digit(reader, text, face, seed):
    # The margin's line, ruled down the page, was read as a 1 ("1506") or swallowed the number.
    scan = phone_photo("margin", text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).ruling is not None
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("407584", 10, 62), ("25784", 20, 210), ("116419", 6, 172)])
def test_the_desk_round_a_sheet_seen_askew_is_no_digit(reader, text, face, seed):
    # A line's crop reached past the sheet's slanting edge, and the desk there read as a 1
    # ("4075847", "716419").
    assert reader.read(phone_photo("askew", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("212484", 2, 334), ("263", 15, 260), ("6887", 27, 318),
                                              ("924567", 3, 476)])
def test_a_soft_shadow_across_the_number_is_no_ink_and_hides_none(reader, text, face, seed):
    # A line's crop was thresholded against one paper level: the shadowed paper passed for ink, or
    # the digits in the shadow were lost ("no digit found", "263" read "13", "924567" "920").
    assert reader.read(phone_photo("shadow", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("07", 11, 130), ("1704", 21, 281)])
def test_a_shadow_whose_edge_only_reaches_into_the_lines_crop_is_no_ink(reader, text, face, seed):
    # The shadow's edge filled a strip along the crop's edge too narrow for the paper's window:
    # it was thresholded as ink, and joined to a digit over it ("07" read "5", "1704" "1724").
    assert reader.read(phone_photo("shadow", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("5790", 4, 822), ("34", 25, 203), ("2070", 7, 498),
                                              ("6782", 16, 804)])
def test_a_finger_holding_the_sheet_is_no_digit(reader, text, face, seed):
    # The fingertip reaching in from the photo's edge was read as a line of its own ("5790" read
    # "5790\n0"), or its rim (the ink filter keeps only the rim of something so broad) as digits
    # beside the number ("34" read "20\n7"): 51 of 60 such photos misread.
    scan = phone_photo("finger", text, face, seed)
    assert len(find_ink(scan, work_side=READ_SIDE).boxes) == len(text)
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("098", 19, 500), ("0381", 22, 289), ("67093", 15, 283)])
def test_a_fingertips_light_rim_is_no_digit(reader, text, face, seed):
    # Only the shaded sides of a light fingertip are ink to the filter: a rim open to the photo's
    # edge, neither solid nor round anything dark, read as a line "6" or "0" ("0381" read
    # "0381\n6").
    assert reader.read(phone_photo("finger", text, face, seed)).text == text


def test_a_light_pen_on_ruled_paper_sets_no_direction_for_the_writing(reader):
    # The ruled lines went from under a light pen and cut one of its dark sides into pieces in a
    # row down it, as tall as the digits: the writing was found running along them, and each
    # digit read as a line of its own ("637" read "0", "3", "2").
    assert reader.read(phone_photo("pen", "637", 1, 2093)).text == "637"


@pytest.mark.parametrize("text, face, seed", [("39208", 7, 56), ("3955", 7, 114), ("21248", 5, 0),
                                              ("155", 2, 2000), ("12273", 9, 2014), ("57", 9, 2090)])
def test_a_finger_beside_small_writing_is_no_digit(reader, text, face, seed):
    # A number written small beside a thumb: each digit under a tenth of the thumb's ink, so none
    # counted as the writing to measure the thumb against, and it stayed ink ("39208" read "6",
    # "3955" "0", "21248" "021148"; 6 of 300 such photos misread). Or only the tip's rim of a broad
    # grey finger was ink to the filter, standing alone in the picture: read as a 0 beside the
    # number ("155" read "0155", "12273" "41\n12273") or as a line that took the number's digits
    # ("57" read "0", "1", "6"): 6 of 100 such photos.
    assert reader.read(phone_photo("finger", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("3166", 8, 1006), ("58230", 21, 1020), ("8939", 18, 1028),
                                              ("58", 11, 1047), ("980384", 16, 313)])
def test_a_finger_set_aside_stays_out_of_the_lines_crop_and_a_fingertip_in_shadow_is_no_digit(reader, text, face,
                                                                                               seed):
    # The ink finder set the fingertip aside, but the line's crop, thresholded again, found it
    # beside the number and read it as a digit ("3166" read "31661", "58230" "058230"), or a
    # sliver of its rim, a little wider at the crop's finer threshold ("980384" "9803841"); a
    # fingertip in shadow, its rim as dark as the ink, was no blob at all ("58" read "58\n0").
    assert reader.read(phone_photo("finger", text, face, seed)).text == text


def dev_photo(seed: int, photograph: Callable, texts: list[str] | None = None,
              pencil: tuple[int, ...] = ()) -> tuple[Image.Image, str]:
    """A page of `texts` (else 3-5 random numbers of 2-6 digits), one to a line, in the dev face
    `seed` picks, photographed by `photograph` (a `photomaker` situation), and the page's text:
    the numbers that fit on it, one to a line. The lines numbered in `pencil` are written a third
    as dark as the others."""
    faces = handwriting_fonts("dev")
    face = faces[seed % len(faces)]
    rng = np.random.default_rng(seed)
    if texts is None:
        lines = int(rng.integers(3, 6))
        texts = ["".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 7)))) for _ in range(lines)]
    glyphs = [join_glyphs([glyph_from_font(c, face) for c in text], rng) for text in texts]
    glyphs = [glyph * PENCIL if i in pencil else glyph for i, glyph in enumerate(glyphs)]
    page = draw_page(glyphs, texts, rng, side=1400)
    return photograph(page.image, rng), "\n".join(page.numbers)


@pytest.mark.parametrize("seed", [24, 67, 81])
def test_a_thumb_holding_a_page_of_small_writing_is_no_ink(reader, seed):
    # No digit of a page's small writing is a fair share of a thumb's length (0.3): the thumb had
    # no writing to be measured against, stayed ink, and the line finder took it for the writing
    # and the digits for specks beside it: "5270\n36184\n903" read "0", "7" or "11".
    texts = ["5270", "36184", "903"]
    photo, text = dev_photo(seed, with_finger, texts)
    assert reader.read(photo).text == text == "\n".join(texts)


@pytest.mark.parametrize("seed", [21, 49, 52])
def test_a_page_askew_on_a_desk_keeps_its_thin_writing(reader, seed):
    # A wedge of desk by the sheet, narrower than the paper's filter, stood out as the strongest
    # ink of the photo, and the ink's threshold, set from it, lost strokes of the thin writing:
    # "36473\n26\n92491" read "36473\n76\n7491", "25457\n35\n983\n02\n995" "75457\n35\n983\n12\n995".
    photo, text = dev_photo(seed, askew_on_desk)
    assert reader.read(photo).text == text


@pytest.mark.parametrize("seed", [2, 26, 36])
def test_a_page_on_a_wooden_desk_is_read_without_the_grain(reader, seed):
    # A wooden desk's grain spread it wider than a plain desk: no sheet was found, and its streaks
    # were read as lines of 1s round the page; found, the streaks apart from the picture's edge
    # still read so ("43\n8949\n45854\n220173" read "3\n3\n43\n1\n83\n8949\n45854\n220173\n817").
    photo, text = dev_photo(seed, on_wooden_desk)
    assert find_ink(photo, work_side=READ_SIDE).sheet is not None
    assert reader.read(photo).text == text


@pytest.mark.parametrize("seed", [11, 136, 151])
def test_a_folds_crease_through_the_digits_is_no_ink(reader, seed):
    # A crease across a folded page, at a slant, joined the digits it crosses into one long piece:
    # the line finder took it for a pen lying on the page and the digits went with it, or it read
    # as a stroke of theirs ("74\n6704\n49" read "74\n67\n04\n49", "60\n13\n186\n4962" "0\n13\n...").
    photo, text = dev_photo(seed, with_crease)
    assert find_ink(photo, work_side=READ_SIDE).ruling is not None
    assert reader.read(photo).text == text


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_a_number_in_pencil_among_numbers_in_pen_is_read_with_them(reader, seed):
    # The ink's threshold is set from the strongest ink: on a page written in pen, a number in
    # pencil a third as dark fell under it and was lost, the other lines read and no doubt said.
    photo, text = dev_photo(seed, lambda image, rng: image, pencil=(1,))
    assert reader.read(photo).text == text


@pytest.mark.parametrize("seed", [0, 10])
def test_the_backs_writing_showing_through_thin_paper_is_no_line(reader, seed):
    # Ink a third as dark as the writing is found now (the pencil above), and with it the back's
    # writing showing through thin paper where it shows most: without `faint.show_through` its
    # mirrored numbers were read as lines of their own. Measured in the original pixels, it stands
    # out of the paper a fifth as far as the writing at most, and is set aside.
    photo, text = dev_photo(seed, with_show_through)
    assert reader.read(photo).text == text


def test_a_crease_too_faint_for_the_page_is_no_digit_in_its_lines_crop(reader):
    # At working resolution the crease down this page does not show; the finer threshold of a
    # line's crop finds it crossing "1991" top to bottom, and read it as strokes of the digits
    # ("7992"). A fine straight line from the crop's border to its border goes; the 1s stay.
    photo, text = dev_photo(107, with_crease)
    assert find_ink(photo, work_side=READ_SIDE).ruling is None
    assert reader.read(photo).text == text == "94852\n54400\n1991"


@pytest.mark.parametrize("text, face, seed", [("74", 19, 669), ("4283", 23, 443), ("2515", 0, 22),
                                              ("04592", 20, 437)])
def test_a_tables_rules_round_the_number_are_printed_not_digits(reader, text, face, seed):
    # The rules across the photo, crossing, are one piece: no lone line, no ruled page. They were
    # read as 1s, or taken for the line of writing and the number lost ("4283" read "1").
    scan = phone_photo("table", text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).ruling is not None
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("577090", 23, 832), ("351940", 9, 340)])
def test_a_number_in_the_lens_dark_corners_is_dark_ink_and_read(reader, text, face, seed):
    # Against the picture's median, the bright middle stood out as far as the ink: light ink on
    # dark paper ("351940" read "63710"). A number by a dark corner had the crop's margin past the
    # picture's edge filled with the median's paper, a step that read as a digit ("5770979").
    scan = phone_photo("vignette", text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).inverted
    assert reader.read(scan).text == text


@pytest.mark.parametrize("kind, text, face, seed", [("vignette", "9066", 16, 91), ("vignette", "22577", 10, 322),
                                                    ("shadow", "48924", 6, 21), ("shadow", "067", 5, 30)])
def test_the_lens_dark_corners_or_a_shadow_are_no_desk_round_a_sheet(reader, kind, text, face, seed):
    # The light middle that the dark corners leave was taken for a sheet of paper on a desk, and
    # writing reaching into a dark corner went as desk ("483744" read "83744"). The lit part of
    # paper half in a soft shadow was taken for one too. A paper's edge is a step; the corners fall
    # off smoothly, and a soft shadow's edge is soft (`ink.edge_step`).
    scan = phone_photo(kind, text, face, seed)
    assert find_ink(scan, work_side=READ_SIDE).sheet is None
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("19", 5, 652), ("77", 6, 59), ("22429", 4, 897), ("371", 18, 944)])
def test_dust_over_the_paper_leaves_the_writings_direction_and_reading_alone(reader, text, face, seed):
    # Specks outnumbering the digits voted, each towards its nearest neighbours, for the writing's
    # direction, and the lines were found across it ("22429" read "9\n7\n42\n2\n2", "77" read
    # "36\n2\n0\n2\n0").
    scan = phone_photo("dust", text, face, seed)
    lines = find_lines(find_ink(scan, work_side=READ_SIDE))
    assert len(lines) == 1 and abs(math.degrees(lines[0].angle)) < 10
    assert reader.read(scan).text == text


@pytest.mark.parametrize("text, face, seed", [("651", 1, 1320), ("8111", 1, 642), ("133", 11, 952)])
def test_specks_of_dust_make_no_1_a_pen(reader, text, face, seed):
    # Measured against the usual piece, a speck's size, each 1 was a pen lying by the number and
    # left out ("8111" read "8").
    assert reader.read(phone_photo("dust", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("506", 7, 554), ("416473", 8, 613), ("9887", 17, 407)])
def test_a_number_in_pencil_on_paper_lit_unevenly_is_read_whole(reader, text, face, seed):
    # Thresholded against one level of paper, the pencil stood too little above the light's slope:
    # "no digit found" for "506", and the lighter end's paper read as a 1 ("4164731", "19887").
    assert reader.read(phone_photo("pencil", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("2397", 23, 543), ("265", 11, 242), ("0018", 9, 120), ("964", 2, 209)])
def test_a_number_on_loose_leaf_paper_is_read_without_its_punched_holes(reader, text, face, seed):
    # The desk seen through the holes read as 0s: a line of them, or the number's first digit.
    assert reader.read(phone_photo("holes", text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed", [("023541", 1, 1), ("9270", 8, 933), ("5646", 26, 734),
                                              ("43", 12, 11), ("07", 10, 803), ("39", 23, 596)])
def test_a_pen_lying_on_the_paper_is_no_digit(reader, text, face, seed):
    # A straight bar several times as long as the digits was read as a line of its own ("023541"
    # read "023541\n1"), or set the writing's height, so that the digits passed for specks and the
    # number was lost ("5646" read "1"); beside two digits, the directions to it outvoted theirs,
    # and the writing was found running up the page ("07" read "0", "39" "1\n0").
    assert reader.read(phone_photo("pen", text, face, seed)).text == text


def test_a_pen_across_faint_ruled_lines_is_no_digit(reader):
    # The ruled lines are too faint to be found, but the threshold joins the one the pen crosses
    # to the pen, where it touches it: crooked, the pen was no stick, and the writing was found
    # running along it ("414" read "1").
    rng = np.random.default_rng(282)
    glyph = join_glyphs([glyph_from_font(c, handwriting_fonts("dev")[16]) for c in "414"], rng)
    style = ScanStyle(side=int(rng.integers(600, 1200)), fill=float(rng.uniform(0.1, 0.25)),
                      angle=float(rng.uniform(-6, 6)), ruled=True, noise=float(rng.uniform(0.0, 0.04)),
                      jpeg_quality=int(rng.integers(50, 95)), gradient=float(rng.uniform(0.0, 0.35)))
    assert reader.read(with_pen(draw_scan(glyph, style, rng), rng)).text == "414"


def test_the_digits_height_is_not_a_pens_that_lies_by_them():
    # A pen upright beside six digits, 2.6 times as tall (in the dev photo, too short for a stick
    # twice their length: they lean): taken for their height, it left them small pieces (a piece
    # under 0.4 of the writing's height is none of its digits), and the number was read "1".
    digits = [(np.repeat(np.arange(30), 40) + 40 * k, np.tile(np.arange(40), 30) + 200) for k in range(6)]
    pen = (np.repeat(np.arange(60, 64), 104), np.tile(np.arange(104), 4))
    pixels = dict(enumerate([pen, *digits]))
    extent = {i: (float(xs.min()), float(xs.max()) + 1, float(ys.min()), float(ys.max()) + 1)
              for i, (xs, ys) in pixels.items()}
    assert typical_height(pixels, extent, list(pixels)) == 40
    pixels[0] = (np.repeat(np.arange(60, 90), 104), np.tile(np.arange(104), 30))  # a tall block is no pen
    assert typical_height(pixels, extent, list(pixels)) == 104


@pytest.mark.parametrize("text, face, seed", [("16329", 13, 889), ("08132", 15, 203), ("9435", 4, 695),
                                              ("50", 0, 214), ("923", 1, 498)])
def test_a_pen_about_as_long_as_two_digits_is_no_line_one(reader, text, face, seed):
    # Too short for a stick twice the digits' length, the pen was read as a line "1" of its own
    # ("16329" read "1\n16329", "50" "50\n1").
    assert reader.read(phone_photo("pen", text, face, seed)).text == text


@pytest.mark.parametrize("angle", [0, 30, -45, 90])
@pytest.mark.parametrize("lean", [0.0, 0.7])
def test_a_written_1_alone_on_a_pages_line_is_read(reader, angle, lean):
    # The rule that drops a pen, a line of one straight stroke, keeps a 1 as people write it,
    # upright or in a hand that leans 35 degrees.
    fonts = handwriting_fonts("dev")
    rng = np.random.default_rng(3)
    numbers = ["2026", "1", "870", "7"]
    glyphs = [leaning(join_glyphs([glyph_from_font(c, fonts[i]) for c in text], rng), lean)
              for i, text in enumerate(numbers)]
    sheet = draw_page(glyphs, numbers, rng, angle=angle)
    assert reader.read(sheet.image).text.split("\n") == numbers


def boxed_number(text: str, face: int, seed: int):
    """A dev face's number written one digit to a box in a form's row of boxes, photographed a
    little askew."""
    rng = np.random.default_rng(seed)
    glyphs = [glyph_from_font(c, handwriting_fonts("dev")[face]) for c in text]
    style = ScanStyle(side=800, fill=float(rng.uniform(0.15, 0.3)), angle=float(rng.uniform(-5, 5)),
                      shear=float(rng.uniform(-0.1, 0.1)), noise=0.02, jpeg_quality=85)
    return draw_scan(in_boxes(glyphs, rng), style, rng)


@pytest.mark.parametrize("text, face, seed", [("80845", 17, 285), ("023541", 1, 1), ("9270", 8, 933),
                                              ("748", 26, 401), ("77", 6, 59)])
def test_the_walls_of_a_forms_boxes_are_no_digits(reader, text, face, seed):
    # Each wall between the boxes was cut free from the box's top and bottom and read as a 1
    # ("80845" read "810181415", "77" "717"); a digit that touched a wall was one piece with it.
    assert reader.read(boxed_number(text, face, seed)).text == text


@pytest.mark.parametrize("text, face, seed, margin", [("2588", 24, 7, 1), ("6973", 11, 23, 1), ("45671", 21, 45, 0),
                                                      ("307277", 13, 52, 1), ("63118", 15, 137, 1)])
def test_a_number_cropped_tight_keeps_its_first_and_last_digits(reader, text, face, seed, margin):
    # A digit at either end of a number cropped tight runs down the picture's side, and is narrow
    # beside the picture: it was taken for the desk or the page's edge along that side, and lost or
    # misread ("2588" read "7588", "45671" "15671", "307277" "307271").
    assert reader.read(tight_crop(number_scan(text, face, seed), margin)).text == text


def test_without_the_orientation_model_a_number_upside_down_reads_upside_down():
    # What the orientation model is for: the line reader alone believes "1968" turned, "8961" (its
    # 1 turned over, with the flag at its foot, may pass for a 7).
    from digitlab.predict import Reader

    scan = number_scan("1968", 3, seed=4).rotate(180)
    assert Reader.load(orientation="none").read(scan).text in ("8961", "8967")
    assert Reader.load().read(scan).text == "1968"


@pytest.mark.parametrize("model, message", [("/nonexistent.onnx", "--orientation-model /nonexistent.onnx: no such"),
                                            ("lines", "is a line reader")])
def test_a_wrong_orientation_model_is_a_one_line_error(tmp_path, model, message):
    from digitlab.networks import SHIPPED_LINES, shipped_model
    from tests.conftest import REPO, run_cli

    path = str(shipped_model(SHIPPED_LINES)) if model == "lines" else model
    result = run_cli("read", "--orientation-model", path, str(REPO / "examples" / "number-2026.jpg"))
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("text, face", [("12 kg", "ComicNeue-Bold"), ("12 kg", "kiloji_d"),
                                        ("x 305", "ComicNeue-Regular"), ("x 305", "YuseiMagic-Regular"),
                                        ("No 47", "Humor-Sans"), ("No 47", "TomsonTalks")])
def test_a_letter_beside_a_number_leaves_the_reading_not_sure(reader, text, face):
    # The line reader knows nothing but digits: it read "12 kg" as "12169", "x 305" as "8305" and
    # "No 47" as "11047" (the N as "11"), surely. The digit model has seen letters and signs, and
    # is sure that these are none.
    font = dev_face(face)
    style = ScanStyle(side=600, fill=0.3)
    number = "".join(ch for ch in text if ch.isdigit())
    alone = reader.read(draw_scan(glyph_from_font(number, font), style, np.random.default_rng(0)))
    assert alone.text == number and not alone.uncertain
    beside = reader.read(draw_scan(glyph_from_font(text, font), style, np.random.default_rng(0)))
    assert beside.text == number or beside.uncertain, beside.text


@pytest.mark.parametrize("text, height", [("747", 120), ("2741", 120), ("305", 400), ("1234567890", 400)])
def test_a_number_drawn_with_a_paint_apps_pencil_is_read(reader, text, height):
    # A 1-pixel pencil on a canvas the number fills: the line's crop, a few of the canvas's pixels
    # to one of its own, lost the strokes between its samples ("747" read "141", "2741" "7141"),
    # and the "305" was not found at all; nor, on a canvas 4,200 pixels wide, was any of the ink.
    assert reader.read(app_drawing(text, height)).text == text
