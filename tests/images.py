"""Made-up image data for the "your own data" tests: letter-like images drawn with PIL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LETTERS = "ABCDEFGHIJ"


def letter_image(i: int, size: int = 40, mode: str = "RGB") -> Image.Image:
    """Letter ``LETTERS[i % 10]`` drawn dark on a light ``size`` x ``size`` background, nudged by ``i`` (so no two alike)."""
    rng = np.random.default_rng(i)
    image = Image.new("L", (size, size), int(rng.integers(200, 256)))
    draw = ImageDraw.Draw(image)
    x, y = (int(v) for v in rng.integers(4, size // 3, 2))
    draw.text((x, y), LETTERS[i % len(LETTERS)], fill=int(rng.integers(0, 60)), font_size=size // 2)
    draw.line([(x, y + size // 2), (x + size // 3, y + size // 2 + int(rng.integers(-4, 5)))], fill=0, width=2)
    return image.convert(mode)


def letters_zip(path: Path, n: int = 200, folders: bool = False) -> Path:
    """A zip of ``n`` letter images (PNG, modes RGB, RGBA and L in turn) at ``path``; with ``folders``, one folder per letter (labels)."""
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n):
            buffer = io.BytesIO()
            letter_image(i, mode=("RGB", "RGBA", "L")[i % 3]).save(buffer, format="PNG")
            name = f"{LETTERS[i % len(LETTERS)]}/{i:04d}.png" if folders else f"letters/{i:04d}.png"
            archive.writestr(name, buffer.getvalue())
    return path
