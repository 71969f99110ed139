"""Reading benchmark: whole numbers and pages, read by the line reader (as `read` reads, with the
digit model's second opinion, and alone), the component reader it replaced, and Tesseract (the
OCR engine a user would try first), on the same images.

    python benchmarks/bench_reading.py --split locked [--reader PATH] [--model PATH] [--n 200] [--pages 60]

Numbers and pages are drawn by tests/scanmaker.py from the Debian handwriting faces of one half
("dev" guides work; "locked" is only run to report) and from real MNIST test digits; no model is
trained on these faces. `--split val` draws them instead from the training data's validation
split (the validation faces, and mnist-5k's validation digits): the split on which settings of the
page reader may be chosen. Rows: numbers with ordinary gaps, numbers joined up as in cursive
writing, lines written at 15-45 degrees, the whole numbers turned by 180 or 90 degrees (as a photo
taken the wrong way up, or on its side, comes), hollow (outline) numbers, numbers on ruled or
squared paper photographed a little askew, numbers in a box, in an oval or over a line, numbers
in a hand leaning far (italic), numbers set whole by a face as a font renderer sets them, phone
photos (in dim light, beside a notebook's margin, a sheet seen askew on a desk, a soft shadow
over the writing; a finger holding the sheet, a table's rules round the number, the lens's dark
corners; drawn by tests/photomaker.py), numbers written one digit to a box in a form's row of
boxes, numbers cropped tight (the first and last digits at the picture's edges), photos with dust
and dots of ink over the paper, numbers in pencil, loose-leaf paper with its punched holes, a spiral
notebook with its binding in view, numbers in chalk on a blackboard, in marker on a whiteboard
under a glare, in coloured ink or on kraft paper, out of focus, shaken or saved as a hard JPEG,
numbers drawn in a paint app with a 1-2 pixel pencil, numbers whose digits rise and fall (a hand
bouncing off its line, old-style figures), numbers written narrow (condensed), sheets with 2-5
numbers on separate lines (turned -45..45 degrees, or by 90 or 180), and speed.
Targets are options; each is printed as met / missed, and the script exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.component_reader import component_read  # noqa: E402
from digitlab.datasets import VALIDATION_FACES, is_validation, load_dataset  # noqa: E402
from digitlab.errors import DigitlabError  # noqa: E402
from digitlab.fonts import face_files  # noqa: E402
from digitlab.predict import Predictor, Reader  # noqa: E402
from tests.photomaker import (  # noqa: E402
    askew_on_desk,
    compressed_hard,
    in_coloured_ink,
    in_shadow,
    in_table,
    on_blackboard,
    on_whiteboard,
    out_of_focus,
    shaken,
    vignetted,
    with_binding,
    with_dust,
    with_finger,
    with_holes,
    with_margin,
    with_pen,
)
from tests.scanmaker import (  # noqa: E402
    DECORATIONS,
    ScanStyle,
    app_drawing,
    condensed,
    decorated,
    draw_page,
    draw_scan,
    glyph_from_font,
    glyph_from_mnist,
    handwriting_fonts,
    in_boxes,
    in_turn,
    join_glyphs,
    joined_glyphs,
    leaning,
    outline_glyph,
    rising_and_falling,
    tight_crop,
)


def number_glyphs(text: str, i: int, fonts: list[Path], mnist: tuple[np.ndarray, np.ndarray],
                  rng: np.random.Generator) -> list[np.ndarray]:
    """The digits of `text`: from a face (even i) or from real MNIST test digits (odd i)."""
    if i % 2 == 0:
        font = fonts[(i // 2) % len(fonts)]
        return [glyph_from_font(ch, font) for ch in text]
    images, labels = mnist
    return [glyph_from_mnist(images[rng.choice(np.flatnonzero(labels == int(ch)))]) for ch in text]


def test_digits() -> tuple[np.ndarray, np.ndarray]:
    test = load_dataset("mnist-5k").test
    return test.images.numpy(), test.labels.numpy()


def validation_split() -> tuple[list[Path], tuple[np.ndarray, np.ndarray]]:
    """The faces and MNIST digits the models hold out for validation, as `load_mix` cuts them;
    the faces taken in turn, as `handwriting_fonts` takes the test faces."""
    train = load_dataset("mnist-5k").train
    images, labels = train.images.numpy(), train.labels.numpy()
    is_val = is_validation(labels)
    return in_turn(list(face_files(VALIDATION_FACES).values())), (images[is_val], labels[is_val])


def random_number(rng: np.random.Generator, low: int = 2, high: int = 6) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(low, high + 1))))


def number_scan(glyph: np.ndarray, rng: np.random.Generator, angle: float | None = None,
                squared: bool | None = None, dim: bool = False, pencil: bool = False) -> Image.Image:
    """A number photographed on paper; with `squared` given, on ruled (False) or squared (True)
    paper photographed a little askew, its lines at up to 4 degrees; `dim`, in poor light, the
    paper grey; `pencil`, written in grey."""
    style = ScanStyle(side=int(rng.integers(600, 1200)), fill=float(rng.uniform(0.1, 0.25)),
                      angle=float(rng.uniform(-6, 6) if angle is None else angle),
                      shear=float(rng.uniform(-0.15, 0.15)), ruled=bool(rng.random() < 0.25),
                      ruling_tilt=0.0 if squared is None else float(rng.uniform(-4, 4)), squared=bool(squared),
                      blur=float(rng.choice([0.0, rng.uniform(0.5, 1.5)])), noise=float(rng.uniform(0.0, 0.04)),
                      jpeg_quality=int(rng.integers(50, 95)), gradient=float(rng.uniform(0.0, 0.35)),
                      tint=tuple(int(v) for v in rng.integers(205, 256, 3)),
                      ink=tuple(int(v) for v in rng.integers(0, 80, 3)))
    if dim:
        style = dataclasses.replace(style, tint=tuple(int(v) for v in rng.integers(80, 180, 3)),
                                    ink=tuple(int(v) for v in rng.integers(0, 40, 3)))
    if pencil:
        grey = int(rng.integers(120, 166))
        style = dataclasses.replace(style, ink=(grey, grey, grey))
    return draw_scan(glyph, style, rng)


# The rows that differ from the plain one only in how the number is written (`number_glyph`).
WRITING_KINDS = ("plain", "joined", "leaning", "set", "hollow")


def number_glyph(kind: str, text: str, i: int, fonts: list[Path], mnist: tuple[np.ndarray, np.ndarray],
                 rng: np.random.Generator) -> np.ndarray:
    """Number `i` of a row of WRITING_KINDS, written as that row writes it."""
    if kind == "hollow":  # outline lettering, as posters and "bubble" writing draw numbers: faces only
        return outline_glyph(text, fonts[i % len(fonts)])
    if kind == "set":  # set whole by the face, as a font renderer sets a string: faces only
        return glyph_from_font(text, fonts[i % len(fonts)])
    glyphs = number_glyphs(text, i, fonts, mnist, rng)
    if kind == "joined":
        return joined_glyphs(glyphs, rng)
    if kind == "leaning":  # a hand leaning far, mostly to the right, past the scans' own shear
        lean = float(rng.uniform(0.3, 0.8) * (1 if rng.random() < 0.8 else -1))
        return leaning(join_glyphs(glyphs, rng), lean)
    return join_glyphs(glyphs, rng)


def make_signed(fonts: list[Path], n: int, seed: int) -> list[Image.Image]:
    """Numbers with a sign in them that the line reader does not know, in turn a price (12.50), a
    time (9:45), a minus or a range (-7, 3-8) and thousands (4,250), set by the faces."""
    rng = np.random.default_rng(seed)
    scans = []
    for i in range(n):
        a, b = random_number(rng, 1, 3), random_number(rng, 2, 2)
        text = [f"{a}.{b}", f"{a[:2]}:{b}", f"-{a}" if rng.random() < 0.5 else f"{a}-{b}",
                f"{a[0]},{random_number(rng, 3, 3)}"][i % 4]
        scans.append(number_scan(glyph_from_font(text, fonts[i % len(fonts)]), rng))
    return scans


def make_slashed(fonts: list[Path], n: int, seed: int) -> list[Image.Image]:
    """Dates and fractions, whose slash the line reader reads as a 1, in turn a day and a month
    (12/05) and a fraction (3/4), set by the faces."""
    rng = np.random.default_rng(seed)
    scans = []
    for i in range(n):
        a, b = random_number(rng, 1, 2), random_number(rng, 1, 2)
        text = f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}" if i % 2 == 0 else f"{a}/{b}"
        scans.append(number_scan(glyph_from_font(text, fonts[i % len(fonts)]), rng))
    return scans


def unflagged_share(reader: Reader, images: list[Image.Image]) -> float:
    """The share of `images` that `reader` reads without the "not sure" flag (a refusal is a flag)."""
    sure = 0
    for image in images:
        try:
            sure += not reader.read(image).uncertain
        except DigitlabError:
            pass
    return sure / len(images)


def make_cases(kind: str, fonts: list[Path], mnist, n: int, seed: int) -> list[tuple[Image.Image, str]]:
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        text = random_number(rng)
        if kind in WRITING_KINDS:
            cases.append((number_scan(number_glyph(kind, text, i, fonts, mnist, rng), rng), text))
            continue
        glyphs = number_glyphs(text, i, fonts, mnist, rng)
        if kind == "paper":
            cases.append((number_scan(join_glyphs(glyphs, rng), rng, squared=bool(i % 4 >= 2)), text))
        elif kind == "drawn":  # a form's field, an answer circled, a total underlined: in turn
            cases.append((number_scan(decorated(join_glyphs(glyphs, rng), DECORATIONS[i % 3], rng), rng), text))
        elif kind == "photo":  # as phones see notes: in dim light, by a notebook's margin, a sheet askew, a shadow
            scan = number_scan(join_glyphs(glyphs, rng), rng, dim=i % 4 == 0)
            situation = {0: None, 1: with_margin, 2: askew_on_desk, 3: in_shadow}[i % 4]
            cases.append((scan if situation is None else situation(scan, rng), text))
        elif kind == "framed":  # in turn: a finger holding the sheet, a table's rules, the lens's dark corners
            scan = number_scan(join_glyphs(glyphs, rng), rng)
            cases.append(({0: with_finger, 1: in_table, 2: vignetted}[i % 3](scan, rng), text))
        elif kind == "pen":  # a pen or pencil lying on the paper, clear of the writing
            cases.append((with_pen(number_scan(join_glyphs(glyphs, rng), rng), rng), text))
        elif kind == "boxes":  # a form's row of boxes, one digit to a box
            cases.append((number_scan(in_boxes(glyphs, rng), rng), text))
        elif kind == "tight":  # a photo cropped to the writing, 0-4 pixels round it
            cases.append((tight_crop(number_scan(join_glyphs(glyphs, rng), rng), int(rng.integers(0, 5))), text))
        elif kind == "dust":  # dust, crumbs and dots of ink over the paper
            cases.append((with_dust(number_scan(join_glyphs(glyphs, rng), rng), rng), text))
        elif kind == "pencil":  # written in pencil, grey, on paper lit as unevenly as the other rows'
            cases.append((number_scan(join_glyphs(glyphs, rng), rng, pencil=True), text))
        elif kind == "holes":  # loose-leaf paper: the desk dark through the holes punched down its side
            cases.append((with_holes(number_scan(join_glyphs(glyphs, rng), rng), rng), text))
        elif kind == "binding":  # a spiral notebook's page, its binding along the top or the left in view
            cases.append((with_binding(number_scan(join_glyphs(glyphs, rng), rng), rng), text))
        elif kind == "ink":  # in turn: chalk, a whiteboard, coloured ink or paper, out of focus, shaken, a hard JPEG
            scan = number_scan(join_glyphs(glyphs, rng), rng)
            situation = (on_blackboard, on_whiteboard, in_coloured_ink, out_of_focus, shaken, compressed_hard)[i % 6]
            cases.append((situation(scan, rng), text))
        elif kind == "app":  # drawn in a paint app with its 1-2 pixel pencil, on a canvas the number fills
            cases.append((app_drawing(text, int(rng.uniform(100, 700)), 2 if i % 3 == 2 else 1, i % 4 == 3, rng),
                          text))
        elif kind == "rising":  # in turn: a hand whose digits bounce off the line, old-style figures
            cases.append((number_scan(rising_and_falling(text, glyphs, rng, old_style=i % 4 >= 2), rng), text))
        elif kind == "condensed":  # written narrow, as in a narrow column: a third to a half of the usual width
            cases.append((number_scan(condensed(join_glyphs(glyphs, rng), rng), rng), text))
        else:  # slanted: the line written at 15-45 degrees up or down
            angle = float(rng.uniform(15, 45) * rng.choice([-1, 1]))
            cases.append((number_scan(join_glyphs(glyphs, rng), rng, angle=angle), text))
    return cases


def make_pages(fonts: list[Path], mnist, n: int, seed: int) -> list[tuple[Image.Image, list[str]]]:
    rng = np.random.default_rng(seed)
    pages = []
    for i in range(n):
        texts = [random_number(rng, 2, 7) for _ in range(int(rng.integers(2, 6)))]
        glyphs = [join_glyphs(number_glyphs(t, i + k, fonts, mnist, rng), rng) for k, t in enumerate(texts)]
        angle = float(rng.uniform(-45, 45)) if i % 5 else float(rng.choice([90, 180, -90]))
        page = draw_page(glyphs, texts, rng, angle=angle, side=1400, on_desk=bool(i % 3 == 0))
        pages.append((page.image, page.numbers))
    return pages


def tesseract(image: Image.Image, page: bool) -> str:
    """Tesseract's reading with a digit whitelist: --psm 7 (one line) or 11 (sparse text, a page)."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "PNG")
    result = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "11" if page else "7", "-c",
                             "tessedit_char_whitelist=0123456789"], input=buffer.getvalue(), capture_output=True,
                            timeout=60)
    lines = [line.strip().replace(" ", "") for line in result.stdout.decode().splitlines()]
    return "\n".join(line for line in lines if line)


class Readers:
    def __init__(self, reader: Reader, line_reader_alone: Reader, predictor: Predictor, with_tesseract: bool) -> None:
        self.reader, self.line_reader_alone = reader, line_reader_alone
        self.predictor, self.with_tesseract = predictor, with_tesseract
        self.tracebacks = self.readings = 0

    def new(self, image: Image.Image, alone: bool = False) -> str:
        self.readings += 1
        try:
            return (self.line_reader_alone if alone else self.reader).read(image).text
        except DigitlabError:
            return ""
        except Exception:  # counted: nothing on a page may raise a traceback
            self.tracebacks += 1
            traceback.print_exc()
            return ""

    def old(self, image: Image.Image) -> str:
        try:
            return component_read(self.predictor, image)
        except Exception:  # the old reader crashed on some pages; it is measured, not fixed
            return ""

    def tesseract(self, image: Image.Image, page: bool = False) -> str:
        return tesseract(image, page) if self.with_tesseract else ""


_WORKER: dict = {}  # each benchmark worker process's images and reader, received once at its start


def _keep(images: list[np.ndarray], reader_path: str, digit_model: str | None, orientation: str | None,
          second_reader: str | None, threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # this worker's share of the cores, as `serve` gives its workers
    _WORKER.update(images=images, reader=Reader.load(reader_path, digit_model, orientation=orientation,
                                                     second_reader=second_reader))


def _read_one(index: int) -> bool:
    return bool(_WORKER["reader"].read(_WORKER["images"][index]).text)


def throughput(reader_path: str, digit_model: str | None, orientation: str | None, second_reader: str | None,
               images: list[np.ndarray], workers: int) -> float:
    """Decoded number images read per second by `workers` processes (one per core), each handed
    the images once when it starts, as a server's or a batch's workers would hold their own; each
    image is a request that whichever worker is free takes, as `serve`'s workers take theirs.
    (Handed out as fixed halves, the half that held more of the slow pictures ran on alone while
    the other worker's core stood idle: 3-6% fewer images a second on 200 pictures.)"""
    from digitlab.preprocessing import pool_context

    with ProcessPoolExecutor(workers, mp_context=pool_context(), initializer=_keep,
                             initargs=(images, reader_path, digit_model, orientation, second_reader,
                                       max(1, (os.cpu_count() or 1) // workers))) as pool:
        # A whole pass first: a worker pays its lazy imports (SciPy's convex hull, for the odd
        # picture that might be a sheet on a desk) once, not per image.
        list(pool.map(_read_one, range(len(images))))
        start = time.perf_counter()
        list(pool.map(_read_one, range(len(images))))
        return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "locked", "val"), required=True)
    parser.add_argument("--reader", default=None, help="line reader (default: the shipped one)")
    parser.add_argument("--model", default=None, help="digit model: the line reader's second opinion, and the old "
                        "component reader's (default: shipped)")
    parser.add_argument("--orientation-model", default=None, help="which way up lines are (default: the shipped "
                        "model; 'none': the line reader's confidence alone)")
    parser.add_argument("--second-reader", default=None, help="line reader asked about the lines the first is "
                        "least sure of (default: the shipped one with the shipped reader; 'none': without)")
    parser.add_argument("--n", type=int, default=200, help="images per number row")
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--seed", type=int, default=4040)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--min-numbers", type=float, default=0.95)
    parser.add_argument("--min-joined", type=float, default=0.90)
    parser.add_argument("--min-slanted", type=float, default=0.90)
    parser.add_argument("--min-pages", type=float, default=0.90, help="share of the numbers on pages found exactly")
    parser.add_argument("--max-page-seconds", type=float, default=1.0, help="12-megapixel sheet, start to answer")
    parser.add_argument("--min-per-second", type=float, default=100.0, help="number images per second, 2 cores")
    args = parser.parse_args()
    seed = args.seed + {"dev": 0, "locked": 1000, "val": 2000}[args.split]
    fonts, mnist = validation_split() if args.split == "val" else (handwriting_fonts(args.split), test_digits())
    with_tesseract = not args.no_tesseract and shutil.which("tesseract") is not None
    predictor = Predictor.load(args.model)
    line_reader = Reader.load(args.reader, second_opinion=False, orientation=args.orientation_model,
                              second_reader=args.second_reader)
    readers = Readers(line_reader.asking(predictor), line_reader, predictor, with_tesseract)
    rows, missed = [], 0

    def verdict(value: float, target: float, higher: bool = True) -> str:
        nonlocal missed
        met = value >= target if higher else value <= target
        missed += not met
        return f"{'>=' if higher else '<='} {target:g}: {'met' if met else 'MISSED'}"

    started = time.perf_counter()
    plain = make_cases("plain", fonts, mnist, args.n, seed)
    for kind, label, target in (("plain", "whole numbers, 2-6 digits", args.min_numbers),
                                ("joined", "numbers joined up (cursive), 2-6 digits", args.min_joined),
                                ("slanted", "numbers written at 15-45 degrees", args.min_slanted),
                                ("180", "the whole numbers photographed upside down", None),
                                ("90", "the whole numbers photographed on their side (90 degrees, either way)", None),
                                ("hollow", "hollow (outline) numbers, 2-6 digits, the faces only", None),
                                ("paper", "numbers on ruled or squared paper, its lines at up to 4 degrees", None),
                                ("drawn", "numbers in a box, in an oval or over a line drawn in the writing's pen",
                                 None),
                                ("leaning", "numbers in a hand leaning 0.3-0.8 (17-39 degrees), mostly right", None),
                                ("set", "numbers set whole by the face, as a font renderer sets them, the faces only",
                                 None),
                                ("photo", "phone photos: dim light, a notebook's margin, a sheet askew, a soft shadow",
                                 None),
                                ("framed", "phone photos: a finger at the edge, a table's rules, dark corners", None),
                                ("pen", "phone photos: a pen or pencil lying on the paper, clear of the writing",
                                 None),
                                ("boxes", "numbers written one digit to a box, in a form's row of boxes", None),
                                ("tight", "numbers cropped tight: the writing at 0-4 pixels from the picture's edges",
                                 None),
                                ("dust", "phone photos: 5-30 specks of dust or ink over the paper", None),
                                ("pencil", "numbers written in pencil (grey), on paper lit unevenly", None),
                                ("holes", "phone photos: loose-leaf paper, 2-3 holes punched left of the writing",
                                 None),
                                ("binding", "phone photos: a spiral notebook, its binding along the top or the left",
                                 None),
                                ("ink", "chalk on a blackboard, marker on a whiteboard, red or green ink, kraft paper; "
                                 "out of focus, shaken, a JPEG at quality 5-15", None),
                                ("app", "numbers drawn in a paint app with a 1-2 pixel pencil, 100-700 pixels high "
                                 "(strokes drawn by the script, not the faces: the same in every split)", None),
                                ("rising", "numbers whose digits rise and fall: a hand bouncing up to 0.2 of their "
                                 "height off the line, or old-style figures", None),
                                ("condensed", "numbers written narrow (condensed): squeezed to 0.35-0.55 of their "
                                 "width, the pen as broad", None)):
        if kind in ("180", "90"):  # the first row's images, turned
            turns = [180] if kind == "180" else [90, -90]
            cases = [(image.rotate(turns[i % len(turns)], expand=True), text) for i, (image, text) in enumerate(plain)]
        else:
            cases = plain if kind == "plain" else make_cases(kind, fonts, mnist, args.n, seed + len(rows))
        read = [readers.new(image) for image, _ in cases]
        new = [got == text for got, (_, text) in zip(read, cases)]
        alone = [readers.new(image, alone=True) == text for image, text in cases]
        old = [readers.old(image) == text for image, text in cases]
        tess = [readers.tesseract(image) == text for image, text in cases] if with_tesseract else []
        wrong_count = sum(len(got) != len(text) for got, (_, text) in zip(read, cases) if got != text)
        rows.append((label, len(cases), f"{np.mean(new):.1%}", f"{np.mean(alone):.1%}", f"{np.mean(old):.1%}",
                     f"{np.mean(tess):.1%}" if tess else "-",
                     verdict(float(np.mean(new)), target) if target is not None else ""))
        rows.append(("... misread with the wrong number of digits (line reader)", int(np.sum(~np.array(new))),
                     str(wrong_count), "", "", "", ""))
        print(*rows[-2:], sep="\n", file=sys.stderr, flush=True)

    # Read past, a sign changes the number ("12.50" read "1250"): the reading must say "not sure".
    signed = make_signed(fonts, args.n, seed + 77)
    rows.append(("numbers with a point, a colon, a dash or a comma in them, the faces only: read without the "
                 "'not sure' flag", len(signed), f"{unflagged_share(readers.reader, signed):.1%}", "", "", "", ""))
    print(rows[-1], file=sys.stderr, flush=True)

    pages = make_pages(fonts, mnist, args.pages, seed + 99)
    found: dict[str, list[bool]] = {"new": [], "alone": [], "tesseract": []}
    for image, numbers in pages:  # the component reader read one line only: no page row for it
        for name, read in (("new", readers.new(image)), ("alone", readers.new(image, alone=True)),
                           ("tesseract", readers.tesseract(image, page=True))):
            lines = set(read.split("\n"))
            found[name] += [number in lines for number in numbers]
    share = float(np.mean(found["new"]))
    rows.append(("sheets with 2-5 numbers (turned -45..45, 90, 180): numbers found exactly", len(found["new"]),
                 f"{share:.1%}", f"{np.mean(found['alone']):.1%}", "one line only",
                 f"{np.mean(found['tesseract']):.1%}" if with_tesseract else "-", verdict(share, args.min_pages)))
    rows.append(("... tracebacks while reading", readers.readings, str(readers.tracebacks), "", "", "",
                 verdict(readers.tracebacks, 0, higher=False)))

    # A 12-megapixel photo of a sheet, from its JPEG file to the answer, in a fresh process.
    big = draw_page([join_glyphs(number_glyphs(t, k, fonts, mnist, np.random.default_rng(k)),
                                 np.random.default_rng(k)) for k, t in enumerate(["2026", "31415", "8870"])],
                    ["2026", "31415", "8870"], np.random.default_rng(5), angle=12, side=3464, on_desk=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheet.jpg"
        big.image.resize((4000, 3000)).save(path, quality=90)
        reader_arg = ((["--model", args.reader] if args.reader else []) + (["--digit-model", args.model] if args.model
                                                                           else [])
                      + (["--orientation-model", args.orientation_model] if args.orientation_model else []))
        subprocess.run([sys.executable, "-m", "digitlab", "read", *reader_arg, str(path)], capture_output=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "digitlab", "read", *reader_arg, str(path)], capture_output=True,
                              text=True)
        cli_seconds = time.perf_counter() - start
        reader = readers.reader
        start = time.perf_counter()
        in_process = reader.read(path).text
        page_seconds = time.perf_counter() - start
    rows.append(("12 MP sheet photo (4000x3000 JPEG), read in the process (decode included)", 1,
                 f"{page_seconds:.2f} s", "", "", "", verdict(page_seconds, args.max_page_seconds, higher=False)))
    rows.append(("... `digitlab read` on it, start to answer", 1, f"{cli_seconds:.2f} s "
                 f"({done.stdout.strip().split(': ', 1)[-1][:40]!r})", "", "", "", ""))
    rows.append(("... its three numbers read", 3, repr(in_process), "", "", "", ""))

    numbers = [np.asarray(image.convert("L")) for image, _ in make_cases("plain", fonts, mnist, 200, seed + 7)]
    workers = min(2, os.cpu_count() or 1)
    onnx_reader = args.reader
    onnx_digits = args.model
    with tempfile.TemporaryDirectory() as tmp:
        from digitlab.export import export_onnx
        from digitlab.networks import SHIPPED_LINES, shipped_model

        second = line_reader.crosscheck.info["model"] if line_reader.crosscheck is not None else "none"
        if not second.endswith(".onnx") and second != "none":
            export_onnx(Path(second), Path(tmp) / "second-reader.onnx")
            second = str(Path(tmp) / "second-reader.onnx")

        # Both models on onnxruntime: the workers are forked, and must never run PyTorch's threads.
        if onnx_reader is None or not str(onnx_reader).endswith(".onnx"):
            onnx_reader = str(Path(tmp) / "lines.onnx")
            export_onnx(Path(args.reader) if args.reader else shipped_model(SHIPPED_LINES), onnx_reader)
        if onnx_digits is None or not str(onnx_digits).endswith(".onnx"):
            onnx_digits = str(Path(tmp) / "digits.onnx")
            export_onnx(Path(args.model) if args.model else shipped_model(), onnx_digits)
        per_second = throughput(onnx_reader, onnx_digits, args.orientation_model, second, numbers, workers)
    rows.append((f"number images read per second ({workers} processes, onnxruntime, decoded 600-1200 px)",
                 len(numbers), f"{per_second:.0f}/s", "", "", "", verdict(per_second, args.min_per_second)))
    # A slash read as a 1 changes the number ("12/05" read "12105"): the reading must say "not sure".
    slashed = make_slashed(fonts, args.n, seed + 78)
    rows.append(("dates and fractions with a slash, the faces only: read without the 'not sure' flag",
                 len(slashed), f"{unflagged_share(readers.reader, slashed):.1%}", "", "", "", ""))

    print(f"reader: {readers.reader.info.get('model')}; digit model: {readers.predictor.info.get('model')}; "
          f"orientation model: {readers.reader.info.get('orientation_model')}; "
          f"second reader: {readers.reader.info.get('second_reader')}; "
          f"faces: {args.split} half ({len(fonts)}); tesseract: {'yes' if with_tesseract else 'no'}; "
          f"{time.perf_counter() - started:.0f} s")
    print("| test | images | line reader + digit model | line reader alone | component reader (before) | "
          "Tesseract 5, digits only | target |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
