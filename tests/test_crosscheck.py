"""A second line reader's word on the lines the first is least sure of (`crosscheck`)."""

import json

import pytest

from digitlab.crosscheck import crosschecked, line_text
from digitlab.predict import Reader
from digitlab.reading import read_page
from tests.conftest import REPO, run_cli

NUMBER = REPO / "examples" / "number-2026.jpg"


@pytest.fixture(scope="module")
def first() -> Reader:
    return Reader.load(second_reader="none")


def test_a_line_two_readers_read_differently_is_not_sure(first):
    opinion = first.second_opinion.scan_probabilities  # the shipped digit model, asked as `read` asks it
    page = read_page(NUMBER, first.line_probabilities, first.stride, first.asking_below, opinion=opinion)
    assert page.text == "2026" and not any(digit["uncertain"] for digit in page.digits)
    # The second reader's reading is made as the first's was: the same reader reads the same.
    assert line_text(page.lines[0].image, first.line_probabilities, first.stride, opinion) == "2026"
    assert crosschecked(page, first.line_probabilities, first.stride, opinion, below=1.01) == page

    # A second reader that reads every line turned over reads "2026" as another number.
    def turned(images):
        return first.line_probabilities([image[::-1, ::-1] for image in images])

    checked = crosschecked(page, turned, first.stride, opinion, below=1.01)
    assert checked.text == "2026" and all(digit["uncertain"] for digit in checked.digits)
    # A line the first reader is sure enough of is not asked about.
    assert crosschecked(page, turned, first.stride, opinion, below=0.0) == page


def test_the_shipped_reader_comes_with_the_shipped_second_reader_and_another_without(first):
    from digitlab.networks import SHIPPED_LINES, SHIPPED_SECOND_READER, shipped_model

    shipped = Reader.load()
    assert shipped.crosscheck is not None and shipped.info["second_reader"] == str(shipped_model(SHIPPED_SECOND_READER))
    assert shipped.asking(shipped.second_opinion).crosscheck is shipped.crosscheck
    assert first.crosscheck is None and "second_reader" not in first.info
    assert Reader.load(shipped_model(SHIPPED_LINES)).crosscheck is None  # a reader named: no second unless named
    reading = shipped.read(NUMBER)
    assert reading.text == "2026" and not reading.uncertain


def test_read_takes_a_second_reader_and_refuses_a_wrong_one_in_one_line(tmp_path):
    from digitlab.networks import SHIPPED_DIGITS, SHIPPED_LINES, shipped_model

    for second in ("none", str(shipped_model(SHIPPED_LINES))):
        result = run_cli("read", "--json", "--second-reader", second, str(NUMBER))
        assert result.returncode == 0 and json.loads(result.stdout)["text"] == "2026"
    for second, says in (("/nonexistent.onnx", "--second-reader /nonexistent.onnx: no such run directory"),
                         (str(shipped_model(SHIPPED_DIGITS)), "is a digit classifier (arch wide), not a line reader")):
        result = run_cli("read", "--second-reader", second, str(NUMBER))
        assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1
