"""A second line reader's word on the lines the first is least sure of.

Two readers trained apart misread different lines more often than the same ones. Where the first
reader's least sure digit in a line is under `CROSSCHECK_BELOW` and the second, helped by the same
digit model as the first (`second_opinion`), reads the line's image as another number, the line is
"not sure". On the benchmark's validation numbers this flags 13 of the 82 misreadings that passed
unflagged, for 4 of 4,390 correct readings (dev: 7 of 155, for 4): raising the "not sure" threshold
instead catches about as many misreadings as it flags correct readings (BENCHMARKS.md, "A second
line reader").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from digitlab.reading import LineReaderFn, PageReading, ReadLine, ctc_best_path, digits_read
from digitlab.second_opinion import DigitOpinion

if TYPE_CHECKING:
    import numpy as np

CROSSCHECK_BELOW = 0.99  # the second reader is asked about lines whose least sure digit is under this


def line_text(image: np.ndarray, reader: LineReaderFn, stride: int, opinion: DigitOpinion | None) -> str:
    """The digits `reader` reads on a line image (`reading.line_image`) as `reading.read_cut` reads
    them (`reading.digits_read`, the digit model `opinion` asked)."""
    probabilities = reader([image])[0]
    decoded, _ = digits_read(probabilities, ctc_best_path(probabilities), image, stride, opinion)
    return "".join(str(digit) for digit, _, _, _ in decoded)


def needs_crosscheck(line: ReadLine, below: float) -> bool:
    """A line read from an image, not yet "not sure" throughout, whose least sure digit is under `below`."""
    return (line.image is not None and bool(line.digits) and not all(d["uncertain"] for d in line.digits)
            and min(d["confidence"] for d in line.digits) < below)


def crosschecked(page: PageReading, second: LineReaderFn, stride: int, opinion: DigitOpinion | None = None,
                 below: float = CROSSCHECK_BELOW) -> PageReading:
    """`page` (read with the digit model `opinion`, if any) with every line the first reader is
    least sure of (`needs_crosscheck`) and the `second` reads as another number made "not sure"."""
    def disputed(line: ReadLine) -> bool:
        return needs_crosscheck(line, below) and line_text(line.image, second, stride, opinion) != line.text

    return replace(page, lines=[line.doubted() if disputed(line) else line for line in page.lines])
