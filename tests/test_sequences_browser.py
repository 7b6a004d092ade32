"""The Sequences tab's new pages in a real browser (Playwright driving Debian's Chromium):
draw a pitch curve, generate a clip that follows it and play it; sample text after a prime."""

from __future__ import annotations

import pytest
from browser import CHROMIUM_ARGS, CHROMIUM_PATH

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(app_url)
            page.wait_for_selector("#home-try-vae", timeout=120_000)
            page.get_by_role("tab", name="Sequences", exact=True).click()
            yield page
        finally:
            browser.close()


def _audio_seconds(page, selector: str) -> float:
    link = f"{selector} a[download]"
    page.wait_for_function(
        "(sel) => { const a = document.querySelector(sel); return a && (a.getAttribute('href') || '').endsWith('.wav'); }", arg=link, timeout=60_000,
    )
    return page.evaluate(
        "async (url) => (await new OfflineAudioContext(1, 1, 8000).decodeAudioData(await (await fetch(url)).arrayBuffer())).duration",
        page.get_attribute(link, "href"),
    )


def test_a_drawn_pitch_curve_is_followed_and_the_clip_plays(page):
    page.get_by_role("tab", name="Pitch contour", exact=True).click()
    canvas = page.locator("#wn-pitch-draw canvas").first
    canvas.wait_for(state="visible", timeout=20_000)
    page.locator("#wn-pitch-draw button[aria-label='Brush']").click()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for k in range(1, 31):  # a rising line, left to right, inside the white canvas
        page.mouse.move(box["x"] + box["width"] * (0.15 + 0.7 * k / 30), box["y"] + box["height"] * (0.7 - 0.4 * k / 30))
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#wn-pitch-source input[value=\"my drawing\"]').checked", timeout=20_000)
    page.locator("#wn-pitch-seconds input[type=number]").fill("0.8")
    page.locator("#wn-pitch-seconds input[type=number]").press("Enter")
    page.locator("#wn-pitch-run").click()
    page.wait_for_function("() => document.querySelector('#wn-pitch-status').innerText.includes('samples/s')", timeout=180_000)
    status = page.inner_text("#wn-pitch-status")
    assert "WaveNet: median error" in status and "cents" in status
    assert _audio_seconds(page, "#wn-pitch-audio") == pytest.approx(0.8, abs=0.02)
    page.locator("#wn-pitch-audio button[aria-label='Play']").click()
    page.wait_for_selector("#wn-pitch-audio button[aria-label='Pause']", timeout=20_000)  # it plays
    assert "Traceback" not in page.inner_text("body")


def test_text_is_sampled_after_a_prime(page):
    page.get_by_role("tab", name="Text", exact=True).click()
    page.locator("#wn-text-prime textarea").fill("JULIET:\n")
    page.locator("#wn-text-length input[type=number]").fill("120")
    page.locator("#wn-text-length input[type=number]").press("Enter")
    page.locator("#wn-text-run").click()
    page.wait_for_function("() => document.querySelector('#wn-text-status').innerText.includes('120 of 120 characters')", timeout=120_000)
    sample = page.inner_text("#wn-text-sample")
    assert sample.startswith("JULIET:") and len(sample) >= 120
    assert page.locator("#wn-text-sample span").count() == 120
    assert "Traceback" not in page.inner_text("body")
