"""The warm-up tab in a real browser (Playwright driving Debian's Chromium) at 1280 x 720:
Box-Muller's figure is in sight on open, EM's E and M steps change the mixture's figure and
its log-likelihood curve, and moving a PPCA slider changes the decoded digit."""

from __future__ import annotations

import pytest
from browser import opened_page

playwright = pytest.importorskip("playwright.sync_api")

# What a plot shows, as text: its visible text, how many paths it draws and the colours of its first points.
SIGNATURE = (
    "const p = document.querySelector(sel + ' .js-plotly-plot'); const s = p ? p.innerText + '|' + p.querySelectorAll('path').length + '|' + "
    "[...p.querySelectorAll('path.point')].slice(0, 300).map(e => e.style.fill).join() : '';"
)
PLOT_JS = f"(sel) => {{ {SIGNATURE} return s; }}"
CHANGED_JS = f"([sel, before]) => {{ {SIGNATURE} return s !== '' && s !== before; }}"


@pytest.fixture(scope="module")
def page(app_url):
    with opened_page(app_url) as page:
        page.get_by_role("tab", name="Warm-up", exact=True).click()
        page.wait_for_selector("#wu-bm-plot .js-plotly-plot", timeout=60_000)
        yield page


def _plot(page, selector: str) -> str:
    return page.evaluate(PLOT_JS, selector)


def _wait_changed(page, selector: str, before: str) -> None:
    page.wait_for_function(CHANGED_JS, arg=[selector, before], timeout=20_000)


def test_box_muller_is_in_sight_on_open(page):
    box = page.locator("#wu-bm-plot .js-plotly-plot").first.bounding_box()
    assert box["width"] > 500 and box["y"] >= 0 and box["y"] + box["height"] <= 720, box
    assert "Kolmogorov" in page.inner_text("#wu-bm-text") or "KS" in page.inner_text("#wu-bm-text")


def test_em_steps_change_the_figure_and_the_curve(page):
    page.get_by_role("tab", name="Gaussian mixture (EM)", exact=True).click()
    page.wait_for_selector("#wu-gmm-curve .js-plotly-plot", timeout=20_000)
    figure, curve = _plot(page, "#wu-gmm-plot"), _plot(page, "#wu-gmm-curve")
    page.click("#wu-gmm-e")
    _wait_changed(page, "#wu-gmm-plot", figure)  # the points take the components' colours
    assert "E step" in page.inner_text("#wu-gmm-status")
    curve_e, figure_e = _plot(page, "#wu-gmm-curve"), _plot(page, "#wu-gmm-plot")
    page.click("#wu-gmm-m")
    _wait_changed(page, "#wu-gmm-plot", figure_e)  # the ellipses move
    _wait_changed(page, "#wu-gmm-curve", curve_e)  # one more point on the curve
    assert _plot(page, "#wu-gmm-curve") != curve
    assert not page.locator(".toast-body").count()


def test_moving_a_ppca_slider_changes_the_decoded_digit(page):
    page.get_by_role("tab", name="PPCA on digits", exact=True).click()
    page.wait_for_selector("#wu-ppca-decode img", timeout=20_000)
    before = page.locator("#wu-ppca-decode img").first.get_attribute("src")
    page.locator("#wu-ppca-z1 input[type=range]").focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(before) => { const i = document.querySelector('#wu-ppca-decode img'); return i && i.src !== before && i.complete; }", arg=before, timeout=20_000,
    )
    assert float(page.locator("#wu-ppca-z1 input[type=number]").input_value()) == pytest.approx(1.0)
