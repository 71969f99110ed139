"""The page in a real browser: Debian's Chromium driven by playwright."""

from pathlib import Path

import pytest

from tests.conftest import clean_scan

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed "
                                "(scripts/install-system-deps.sh installs it)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


def draw(page, strokes):
    box = page.locator("#pad").bounding_box()
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
    assert page.locator("#bars .bar").count() == 10
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
