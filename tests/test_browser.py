"""The page in a real browser: Debian's Chromium driven by playwright."""

from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import clean_scan
from tests.scanmaker import glyph_from_font, join_glyphs

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed "
                                                    "(scripts/install-system-deps.sh installs it)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


def draw(page, strokes, pad="#pad"):
    box = page.locator(pad).bounding_box()
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()


def wait_for_answer(page):
    page.wait_for_function("document.getElementById('digit').textContent !== '–'", timeout=10000)
    return page.locator("#digit").text_content()


@pytest.mark.parametrize("viewport", [{"width": 1100, "height": 700}, {"width": 390, "height": 844}])
def test_drawing_a_seven_is_recognised_as_you_draw(browser, server, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(server)
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.82)]])  # no button pressed
    assert wait_for_answer(page) == "7"
    assert page.locator("#bars .bar").count() == len(httpx.get(f"{server}/api/health").json()["classes"])
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png")
    box = page.locator("#pad").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # fits a phone screen
    page.click("#clear")
    assert page.locator("#digit").text_content() == "–"
    draw(page, [[(0.5, 0.15), (0.5, 0.85)]])
    assert wait_for_answer(page) == "1"
    page.close()


def test_uploading_a_scan_shows_its_digit(browser, server, font_glyph, tmp_path):
    clean_scan(font_glyph("4", "Humor-Sans"), noise=0.03, jpeg_quality=70).save(tmp_path / "four.jpg")
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#file", str(tmp_path / "four.jpg"))
    assert wait_for_answer(page) == "4"
    page.close()


def test_uploading_a_non_image_shows_the_error(browser, server, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#file", str(tmp_path / "notes.png"))
    page.wait_for_function("document.getElementById('message').textContent.includes('not an image')", timeout=10000)
    page.close()


# ---------------------------------------------------------------- "Number / page": /api/read

def number_page(browser, url, viewport):
    """The page in "Number / page" mode, chosen with the keyboard; page errors are collected."""
    page = browser.new_page(viewport=viewport)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.focus("#tab-digit")
    page.keyboard.press("ArrowRight")
    assert page.locator("#tab-number").get_attribute("aria-selected") == "true"
    assert page.locator("#read-view").is_visible() and not page.locator("#digit-view").is_visible()
    return page


def wait_for_reading(page) -> dict:
    """Waits until the picture on screen is read (boxes drawn over it) or refused, and returns what
    the page shows: state, text by line, the message and the boxes drawn."""
    page.wait_for_function("""() => {
        const state = document.getElementById('read-result').dataset.state;
        return state === 'error' || (state === 'done' && document.getElementById('overlay').dataset.shown === 'true');
    }""", timeout=15000)
    return page.evaluate("""() => ({
        state: document.getElementById('read-result').dataset.state,
        lines: [...document.querySelectorAll('#read-lines .line-text')].map((e) => e.textContent),
        message: document.getElementById('read-message').textContent,
        digitBoxes: document.querySelectorAll('#overlay .digit-box').length,
        lineBoxes: document.querySelectorAll('#overlay .line-box').length,
        labels: [...document.querySelectorAll('#overlay .digit-label')].map((e) => e.textContent),
    })""")


def test_writing_seventeen_on_the_wide_pad_reads_17_with_two_digit_boxes(browser, server):
    page = number_page(browser, server, {"width": 1100, "height": 700})
    draw(page, [[(0.2, 0.2), (0.2, 0.8)], [(0.45, 0.2), (0.62, 0.2), (0.52, 0.5), (0.48, 0.8)]], pad="#wide-pad")
    shown = wait_for_reading(page)
    assert shown["state"] == "done", shown["message"]
    assert shown["lines"] == ["17"]
    assert shown["digitBoxes"] == 2 and shown["lineBoxes"] == 1
    assert [label.split()[0] for label in shown["labels"]] == ["1", "7"]
    assert all(label.endswith("%") for label in shown["labels"])  # each digit with its confidence
    page.click("#read-clear")
    assert page.locator("#overlay .digit-box").count() == 0
    assert page.locator("#read-lines .line-text").text_content() == "–"
    assert page.errors == []
    page.close()


def photo_of_2026(fonts, **style):
    glyph = join_glyphs([glyph_from_font(c, fonts["Humor-Sans"]) for c in "2026"], np.random.default_rng(0))
    return clean_scan(glyph, fill=0.25, angle=5, gradient=0.2, **style)


def read_uploaded_2026(browser, server, path) -> tuple:
    """Uploads `path` in number mode and checks that it reads "2026" with 4 digit boxes; returns the
    page and what it shows: (the photo's natural width, its width on screen, the first digit box's x
    on screen, the x of that box from the server)."""
    page = number_page(browser, server, {"width": 1100, "height": 700})
    page.set_input_files("#read-file", str(path))
    shown = wait_for_reading(page)
    assert shown["state"] == "done", shown["message"]
    assert shown["lines"] == ["2026"]
    assert shown["digitBoxes"] == 4
    return page, page.evaluate("""() => {
        const photo = document.getElementById('photo');
        return [photo.naturalWidth, photo.clientWidth,
                Number(document.querySelector('#overlay .digit-box').getAttribute('x')), reading.digits[0].box[0]];
    }""")


def test_uploading_a_photo_of_a_number_draws_its_digits_over_it(browser, server, fonts, tmp_path):
    photo_of_2026(fonts, side=1600, noise=0.03, jpeg_quality=80).save(tmp_path / "number.jpg")
    page, (natural, on_screen, first_box_x, server_x) = read_uploaded_2026(browser, server, tmp_path / "number.jpg")
    # The 1600 px photo is shown smaller: the boxes are scaled by shown / natural width onto it.
    assert natural == 1600 and on_screen / natural < 0.5
    assert first_box_x == pytest.approx(server_x * on_screen / natural, abs=0.2)
    assert page.errors == []
    page.close()


def test_an_iphone_heic_photo_which_the_browser_cannot_show_is_shown_from_the_server(browser, server, fonts,
                                                                                    tmp_path):
    import pillow_heif

    photo = photo_of_2026(fonts, side=2400)  # no noise: under the upload limit
    pillow_heif.from_pillow(photo.convert("RGB")).save(tmp_path / "number.heic", quality=60)
    page, (natural, on_screen, first_box_x, server_x) = read_uploaded_2026(browser, server, tmp_path / "number.heic")
    # Chromium shows no HEIC: the picture is the server's JPEG, 1600 px wide, and the boxes, measured
    # on the 2400 px photo, are scaled onto it by shown / photo width.
    assert natural == 1600
    assert first_box_x == pytest.approx(server_x * on_screen / 2400, abs=0.2)
    assert page.errors == []
    page.close()


def test_uploading_a_non_image_in_number_mode_shows_the_error(browser, server, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    page = number_page(browser, server, {"width": 1100, "height": 700})
    page.set_input_files("#read-file", str(tmp_path / "notes.png"))
    shown = wait_for_reading(page)
    assert shown["state"] == "error"
    assert "not an image" in shown["message"] and page.locator("#read-message").is_visible()
    assert shown["digitBoxes"] == 0
    page.wait_for_function("!document.getElementById('wide-pad').hidden", timeout=5000)  # back to the pad
    assert page.errors == []
    page.close()


def test_number_mode_fits_a_phone_screen(browser, server):
    viewport = {"width": 390, "height": 844}
    page = number_page(browser, server, viewport)
    box = page.locator("#wide-pad").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert box["width"] > 0.8 * viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scrolling
    draw(page, [[(0.2, 0.2), (0.2, 0.8)], [(0.45, 0.2), (0.62, 0.2), (0.52, 0.5), (0.48, 0.8)]], pad="#wide-pad")
    shown = wait_for_reading(page)
    assert shown["lines"] == ["17"] and shown["digitBoxes"] == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.errors == []
    page.close()
