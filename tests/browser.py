"""Helpers for tests that drive the launched app: start it, and find Chromium."""

from __future__ import annotations

import contextlib
import shutil

from playground.bench import ROOT, served_app

CHROMIUM_PATH = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]


@contextlib.contextmanager
def running_app():
    """Run ``python app.py`` offline on a free port (its log in .pytest_cache); yield its URL."""
    log_dir = ROOT / ".pytest_cache"
    log_dir.mkdir(exist_ok=True)
    with served_app(env={"HF_HUB_OFFLINE": "1"}, log_path=log_dir / "app.log") as (url, _):
        yield url


@contextlib.contextmanager
def opened_page(url: str, width: int = 1280, height: int = 720):
    """Debian's Chromium (headless, through Playwright) on ``url`` at ``width`` x ``height``,
    once the home tab is there; yields the page and closes the browser after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.wait_for_selector("#home-try-vae", timeout=120_000)
            yield page
        finally:
            browser.close()


def draw_stroke(page, sketch_id: str, drift_px: float = 0.0) -> None:
    """Draw a vertical stroke (a "1") down the middle of the Sketchpad ``#sketch_id`` with its
    brush: from 20% to 80% of its height, in 20 moves, each ``drift_px`` to the right."""
    canvas = page.locator(f"#{sketch_id} canvas").first
    canvas.wait_for(state="visible", timeout=20_000)
    page.locator(f"#{sketch_id} button[aria-label='Brush']").click()
    box = canvas.bounding_box()
    x, top, bottom = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2, box["y"] + box["height"] * 0.8
    page.mouse.move(x, top)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x + k * drift_px, top + (bottom - top) * k / 20)
    page.mouse.up()
