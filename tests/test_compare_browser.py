"""The compare tab in a real browser (Playwright driving Debian's Chromium) at 1280 x 720:
the home card opens the table at once, in sight, with a row per family; a digit drawn on
the novelty page's sketchpad is scored, and every density's log p appears."""

from __future__ import annotations

import re
import time

import pytest
from browser import draw_stroke, opened_page

from playground.views.compare_tab import SCORE_HEADERS
from playground.views.novelty_scores import MODELS, SLOW, TITLES

playwright = pytest.importorskip("playwright.sync_api")

# A gr.Dataframe's body rows (a virtual list of div rows of grid cells, under the header table).
ROWS_JS = "(sel) => [...document.querySelectorAll(sel + ' div[role=row]')].map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))"
HEADERS_JS = "(sel) => [...document.querySelectorAll(sel + ' thead th')].map(h => h.innerText.trim())"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@pytest.fixture(scope="module")
def page(app_url):
    with opened_page(app_url) as page:
        yield page


def _rows(page, selector: str) -> list[list[str]]:
    return page.evaluate(ROWS_JS, selector)


def test_the_home_card_opens_the_table_at_once_and_in_sight(page):
    start = time.perf_counter()
    page.click("#home-try-compare")
    page.wait_for_selector("#cmp-table div[role=row]", timeout=30_000)
    assert time.perf_counter() - start < 2.0  # the table is read from the kept figures: nothing is computed on open
    box = page.locator("#cmp-table").first.bounding_box()
    assert box["width"] > 900 and box["y"] >= 0 and box["y"] + box["height"] <= 720, box
    rows = _rows(page, "#cmp-table")
    assert len(rows) >= 10 and any("Gated PixelCNN" in r[0] or "gated" in r[0].lower() for r in rows), rows
    assert not page.locator(".toast-body").count()


def _draw_a_one(page) -> None:
    draw_stroke(page, "cmp-sketch", drift_px=0.6)  # a "1", slightly slanted


def test_a_drawn_digit_is_scored_by_every_density(page):
    page.get_by_role("tab", name="Novelty", exact=True).click()
    _draw_a_one(page)
    ready = [TITLES[m] for m in MODELS if m not in SLOW]
    deadline = time.perf_counter() + 240  # the first scores are computed in the background at start-up
    while True:
        page.click("#cmp-score-drawing")
        page.wait_for_function("() => document.querySelectorAll('#cmp-score-table div[role=row]').length >= 6", timeout=60_000)
        page.wait_for_timeout(300)
        rows = {r[0]: r for r in _rows(page, "#cmp-score-table")}
        if all(NUMBER.match(rows.get(title, ["", ""])[1]) for title in ready) or time.perf_counter() > deadline:
            break
        page.wait_for_timeout(5000)
    assert page.evaluate(HEADERS_JS, "#cmp-score-table") == SCORE_HEADERS
    for title in ready:
        log_p = float(rows[title][1])
        assert -2000 < log_p < 0, (title, rows[title])  # nats of a binary 28 x 28 image: a probability below 1
    assert "Traceback" not in page.inner_text("body") and not page.locator(".toast-body").count()
    assert page.locator("#cmp-scored img").count() == 1
