"""Screenshot the running app's tabs with headless Chromium (a developer's look).

    python tests/screenshot.py OUT.png [URL] [--tab "Latent sliders" ...]

Launches the app itself when no URL is given. Each named sub-tab gets its own
OUT-<tab>.png; the first screenshot is the page as it opens.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser import CHROMIUM_ARGS, CHROMIUM_PATH, running_app  # noqa: E402


def shoot(url: str, out: Path, tabs: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("text=samples from the prior", timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out), full_page=True)
        for tab in tabs:
            page.get_by_role("tab", name=tab, exact=True).click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out.with_name(f"{out.stem}-{tab.replace(' ', '_')}.png")), full_page=True)
        browser.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    tabs = [args[i + 1] for i, a in enumerate(args) if a == "--tab"]
    positional = [a for i, a in enumerate(args) if a != "--tab" and (i == 0 or args[i - 1] != "--tab")]
    out = Path(positional[0])
    if len(positional) > 1:
        shoot(positional[1], out, tabs)
    else:
        with running_app() as url:
            shoot(url, out, tabs)
