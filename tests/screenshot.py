"""Screenshot every tab of the running app at 1280 x 720 (a classroom projector) with
headless Chromium, and put them in one composite picture for the README.

    python tests/screenshot.py OUT.png [URL] [--width 1280 --height 720] [--query ?presenter]

Launches the app itself when no URL is given. The home tab comes first, then each
family's "try this first" view (its card's button), as a person lands on it; each shot
is kept in a temporary folder (printed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser import CHROMIUM_ARGS, CHROMIUM_PATH, running_app  # noqa: E402

FAMILIES = ["warmup", "vae", "gan", "boltzmann", "autoregressive", "vqvae", "wavenet", "compare"]


def shoot(url: str, out: Path, width: int, height: int, query: str = "") -> list[Path]:
    """Screenshots of the home tab and each family's first view, in folder ``out``;
    returns their paths."""
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url + query)
        page.wait_for_selector("#home-try-vae", timeout=180_000)
        page.wait_for_timeout(3000)
        for name in ["home", *FAMILIES]:
            if name != "home":
                page.get_by_role("tab", name="Start here", exact=True).click()
                page.click(f"#home-try-{name}")
                page.wait_for_timeout(4000)
            path = out / f"{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)
        browser.close()
    return shots


def composite(shots: list[Path], out: Path, columns: int = 2, scale: float = 0.5) -> None:
    """The shots side by side, ``columns`` per row, each scaled by ``scale``."""
    images = [Image.open(p).convert("RGB") for p in shots]
    w, h = int(images[0].width * scale), int(images[0].height * scale)
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * w + (columns - 1) * 8, rows * h + (rows - 1) * 8), "white")
    for i, image in enumerate(images):
        sheet.paste(image.resize((w, h), Image.LANCZOS), ((i % columns) * (w + 8), (i // columns) * (h + 8)))
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("url", nargs="?")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--query", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="playground-shots-"))
    print(f"screenshots in {folder}")
    if args.url:
        composite(shoot(args.url, folder, args.width, args.height, args.query), args.out)
    else:
        with running_app() as url:
            composite(shoot(url, folder, args.width, args.height, args.query), args.out)
