"""The VQ-VAE tab in a real browser (Playwright driving Debian's Chromium) at 1280 x 720: the
samples are alive on open, and discrete editing works end to end: click a cell of the code
map, click another code in the codebook mosaic, Apply, and the decoded digit changes."""

from __future__ import annotations

import pytest
from browser import opened_page

from playground.core import checkpoints
from playground.views.vqvae import CELL_PX
from playground.views.vqvae_pictures import mosaic_layout

playwright = pytest.importorskip("playwright.sync_api")

# The page coordinates of pixel (x, y) of a picture, wherever its box letterboxes it.
PIXEL_JS = """
([el, x, y]) => {
  const r = el.getBoundingClientRect();
  const s = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
  const left = r.left + (r.width - el.naturalWidth * s) / 2, top = r.top + (r.height - el.naturalHeight * s) / 2;
  return [left + x * s, top + y * s];
}
"""
LOADED_JS = "(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }"


@pytest.fixture(scope="module")
def page(app_url):
    with opened_page(app_url) as page:
        page.get_by_role("tab", name="VQ-VAE", exact=True).click()
        page.wait_for_function(LOADED_JS, arg="#vq-samples-prior img", timeout=60_000)
        yield page


def _src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def _click_pixel(page, selector: str, x: float, y: float) -> None:
    """Click pixel (x, y) of the picture in ``selector`` (in its own pixels)."""
    img = page.locator(f"{selector} img").first
    page.mouse.click(*page.evaluate(PIXEL_JS, [img.element_handle(), x, y]))


def test_the_samples_with_and_without_the_prior_are_shown_in_sight_on_open(page):
    for selector in ("#vq-samples-prior img", "#vq-samples-uniform img"):
        box = page.locator(selector).first.bounding_box()
        assert box["width"] > 200 and box["y"] >= 0 and box["y"] + box["height"] <= 720, (selector, box)
    assert "uniform codes" in page.inner_text("#vq-samples-text")


def test_editing_one_cell_of_the_code_map_changes_the_decode(page):
    page.get_by_role("tab", name="Code map", exact=True).click()
    page.wait_for_function(LOADED_JS, arg="#vq-map img", timeout=30_000)
    page.wait_for_function(LOADED_JS, arg="#vq-map-mosaic img", timeout=30_000)
    before = _src(page, "#vq-map-decoded")
    _click_pixel(page, "#vq-map", 3.5 * CELL_PX, 2.5 * CELL_PX)  # cell (row 2, column 3)
    page.wait_for_function("() => document.querySelector('#vq-cell').innerText.includes('(2, 3)')", timeout=20_000)
    current = int(page.input_value("#vq-code input"))
    tile = 5 if current != 5 else 6
    width = page.evaluate("(el) => el.naturalWidth", page.locator("#vq-map-mosaic img").first.element_handle())
    _, columns = mosaic_layout(checkpoints.load("vqvae").n_codes)
    side = width / columns  # square tiles, in rows of ``columns``
    _click_pixel(page, "#vq-map-mosaic", (tile % columns + 0.5) * side, (tile // columns + 0.5) * side)
    page.wait_for_function(f"() => document.querySelector('#vq-code input').value === '{tile}'", timeout=20_000)
    page.click("#vq-apply")
    page.wait_for_function(
        "(before) => { const i = document.querySelector('#vq-map-decoded img'); return i && i.src !== before && i.complete; }",
        arg=before, timeout=30_000,
    )
    assert f"cell (2, 3): {current} → {tile}" in page.inner_text("#vq-map-text")
    assert f"code {tile}" in page.inner_text("#vq-cell")
