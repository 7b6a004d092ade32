"""The VQ-VAE tab's pictures and figures, UI-free: a code map (each cell coloured by its
id, the id written in it), small code grids being filled by the prior, the codebook
mosaic with ids, the usage histogram, and a strip of completions with the kept rows
marked. Clicks on a picture map back to a cell (``cell_at``) or a code (``code_at``).

Every picture is a uint8 numpy array: (H, W, 3) RGB.
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from models.checks import check_int
from playground.core.plots import PLAIN_AXIS, enlarge

GRID = 7  # the bottom level's grid: 7 x 7 cells of 4 x 4 pixels
CELL_PX = 40  # a code map's cell, in pixels; the map has no border, so cell (r, c) is [r * CELL_PX, (r + 1) * CELL_PX)
MOSAIC_COLUMNS = 16
TILE_SCALE = 2  # a mosaic tile is the decode at twice its size, framed in its code's colour
FRAME_PX = 3
MINI_CELL_PX = 8  # a cell of the small grids the prior fills (7 x 8 = 56 px a grid)
UNDRAWN = (110, 110, 110)
OUTLINE = (255, 0, 0)
KEPT_LINE = (255, 140, 0)


@functools.cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@functools.cache
def code_colours(n_codes: int) -> np.ndarray:
    """A colour per code id, (K, 3) uint8: hues spread by the golden angle, so that
    neighbouring ids differ clearly, at three lightness levels."""
    colours = []
    for k in range(n_codes):
        hue = (k * 0.618033988749895) % 1.0
        light, sat = (0.55, 0.75, 0.40)[k % 3], (0.75, 0.55, 0.85)[k % 3]
        colours.append([round(255 * c) for c in colorsys.hls_to_rgb(hue, light, sat)])
    return np.array(colours, dtype=np.uint8)


def _ink_for(colour: np.ndarray) -> tuple[int, int, int]:
    """Black or white text, whichever reads on ``colour``."""
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def code_map(grid: Any, n_codes: int, outline: tuple[int, int] | None = None) -> np.ndarray:
    """A grid of code ids (H, W) as a picture (H * CELL_PX, W * CELL_PX, 3) uint8: each
    cell in its code's colour with its id written in it; cell ``outline`` (row, col)
    framed in red (an edited cell)."""
    grid = np.asarray(grid, dtype=np.int64)
    colours = code_colours(n_codes)
    picture = np.repeat(np.repeat(colours[grid], CELL_PX, axis=0), CELL_PX, axis=1)
    picture[::CELL_PX, :] = picture[:, ::CELL_PX] = 255  # thin white lines between cells
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    font = _font(15)
    for (r, c), k in np.ndenumerate(grid):
        centre = (c * CELL_PX + CELL_PX / 2, r * CELL_PX + CELL_PX / 2)
        draw.text(centre, str(int(k)), fill=_ink_for(colours[k]), font=font, anchor="mm")
    if outline is not None:
        r, c = outline
        draw.rectangle([c * CELL_PX, r * CELL_PX, (c + 1) * CELL_PX - 1, (r + 1) * CELL_PX - 1], outline=OUTLINE, width=4)
    return np.asarray(image, dtype=np.uint8).copy()


def _point(x: Any, y: Any, width: int, height: int, what: str) -> tuple[int, int]:
    """A click's pixel (x, y) as ints inside a width x height picture."""
    try:
        return check_int("x", x, 0, width - 1), check_int("y", y, 0, height - 1)
    except ValueError:
        raise ValueError(f"the click ({x!r}, {y!r}) is outside the {what} ({width} x {height} pixels)") from None


def cell_at(x: Any, y: Any) -> tuple[int, int]:
    """(row, col) of the code map cell under the click at pixel (x, y) (x across, y down)
    of a ``code_map`` of the 7 x 7 bottom grid.

    Raises:
        ValueError: a point outside the map or not a pair of integers.
    """
    x, y = _point(x, y, GRID * CELL_PX, GRID * CELL_PX, "code map")
    return y // CELL_PX, x // CELL_PX


def mosaic_layout(n_codes: int) -> tuple[int, int]:
    """(rows, columns) of a mosaic of ``n_codes`` tiles: about square (4 x 4 for 16 codes,
    8 x 8 for 64), at most 16 to a row (512 codes: 32 rows of 16), at least 4."""
    columns = min(n_codes, MOSAIC_COLUMNS, max(4, math.ceil(math.sqrt(n_codes))))
    return math.ceil(n_codes / columns), columns


def code_at(mosaic_shape: Any, x: Any, y: Any, n_codes: Any) -> int:
    """The code id of the tile under the click at pixel (x, y) of a codebook mosaic of
    shape ``mosaic_shape`` ((H, W) or (H, W, 3)) showing ``n_codes`` codes in rows of C
    (``mosaic_layout``): tile i sits at row i // C, column i % C.

    Raises:
        ValueError: a bad shape or count, a point outside the mosaic or on an empty tile.
    """
    n_codes = check_int("codebook size K", n_codes, 1, 100_000)
    try:
        height, width = (int(v) for v in tuple(mosaic_shape)[:2])
    except (TypeError, ValueError):
        raise ValueError(f"the mosaic's shape must be (height, width[, 3]), got {mosaic_shape!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"the mosaic's shape must be positive, got {mosaic_shape!r}")
    x, y = _point(x, y, width, height, "codebook mosaic")
    rows, columns = mosaic_layout(n_codes)
    code = min(y * rows // height, rows - 1) * columns + min(x * columns // width, columns - 1)
    if code >= n_codes:
        raise ValueError(f"no code there: the mosaic shows codes 0 to {n_codes - 1}")
    return code


def mosaic(images: Tensor, n_codes: int) -> np.ndarray:
    """Every code decoded alone, images (K, 1, 28, 28) in [0, 1], as one picture in code
    order, in rows of ``mosaic_layout`` (about square): each tile twice the decode's size, framed in its code's colour
    (as in the code map), its id written in the corner. (rows * 62, columns * 62, 3) uint8,
    no outer border (see ``code_at``)."""
    rows, columns = mosaic_layout(n_codes)
    side = 28 * TILE_SCALE
    pitch = side + 2 * FRAME_PX
    colours = code_colours(n_codes)
    digits = (images.detach().float().cpu().clamp(0, 1)[:, 0].numpy() * 255).round().astype(np.uint8)
    picture = np.full((rows * pitch, columns * pitch, 3), 40, dtype=np.uint8)
    for k in range(n_codes):
        top, left = (k // columns) * pitch, (k % columns) * pitch
        picture[top : top + pitch, left : left + pitch] = colours[k]
        big = enlarge(digits[k], TILE_SCALE)
        picture[top + FRAME_PX : top + FRAME_PX + side, left + FRAME_PX : left + FRAME_PX + side] = big[..., None]
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    font = _font(11)
    for k in range(n_codes):
        top, left = (k // columns) * pitch + FRAME_PX, (k % columns) * pitch + FRAME_PX
        box = draw.textbbox((left + 1, top), str(k), font=font)
        draw.rectangle(box, fill=tuple(int(v) for v in colours[k]))
        draw.text((left + 1, top), str(k), fill=_ink_for(colours[k]), font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def usage_figure(counts: Sequence[int], title: str) -> go.Figure:
    """A bar per code id of how often it is used (``counts`` (K,)), each bar in its
    code's colour; dead codes (0) get a red tick on the axis."""
    counts = np.asarray(counts, dtype=np.int64)
    colours = [f"rgb({r},{g},{b})" for r, g, b in code_colours(len(counts))]
    data = [{"type": "bar", "x": list(range(len(counts))), "y": counts.tolist(), "marker": {"color": colours}, "name": "uses", "hovertemplate": "code %{x}: %{y} uses<extra></extra>"}]
    dead = np.flatnonzero(counts == 0)
    if len(dead):
        data.append({"type": "scatter", "x": dead.tolist(), "y": [0] * len(dead), "mode": "markers", "name": "dead", "marker": {"symbol": "x", "color": "#d62728", "size": 8}, "hovertemplate": "code %{x}: dead<extra></extra>"})
    layout = {
        "margin": {"l": 55, "r": 20, "t": 50, "b": 45}, "height": 300, "title": {"text": title}, "plot_bgcolor": "white", "paper_bgcolor": "white", "showlegend": False,
        "xaxis": dict(title={"text": "code id"}, **PLAIN_AXIS), "yaxis": dict(title={"text": "cells using it"}, **PLAIN_AXIS), "bargap": 0.1,
    }
    return go.Figure({"data": data, "layout": layout})


def _mini(grid: np.ndarray, drawn: int, n_codes: int, cell: int) -> np.ndarray:
    """One small grid: the first ``drawn`` cells (raster order) in their codes' colours, the rest grey."""
    _h, _w = grid.shape
    rgb = code_colours(n_codes)[np.clip(grid, 0, n_codes - 1)].copy()
    rgb.reshape(-1, 3)[drawn:] = UNDRAWN
    return np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)


def filling_grids(codes: Sequence[np.ndarray], drawn: Sequence[int], n_codes: int, columns: int = 4, gap: int = 6) -> np.ndarray:
    """Code grids as the prior fills them: ``codes`` per level (N, H, W) ints (top first),
    ``drawn`` the cells of each level drawn so far. Each sample is a tile (its levels side
    by side, each 56 pixels across, so a 4 x 4 top grid covers the image as its 7 x 7
    bottom grid does), ``columns`` tiles a row; undrawn cells grey. (H, W, 3) uint8."""
    side = GRID * MINI_CELL_PX
    n = len(codes[0])
    tiles = []
    for i in range(n):
        parts = []
        for level, (c, k) in enumerate(zip(codes, drawn)):
            if level:
                parts.append(np.full((side, gap // 2, 3), 255, dtype=np.uint8))
            parts.append(_mini(np.asarray(c[i]), k, n_codes, side // c.shape[1]))
        tiles.append(np.concatenate(parts, axis=1))
    rows = math.ceil(n / columns)
    th, tw = tiles[0].shape[:2]
    picture = np.full((rows * (th + gap) + gap, columns * (tw + gap) + gap, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top, left = gap + (i // columns) * (th + gap), gap + (i % columns) * (tw + gap)
        picture[top : top + th, left : left + tw] = tile
    return picture


def completion_strip(images: Tensor, kept_px: int, n_marked_from: int = 2, scale: int = 2, gap: int = 4) -> np.ndarray:
    """Digits (N, 1, 28, 28) in [0, 1] in a row, each ``scale`` times its size: the tiles
    from ``n_marked_from`` on (the completions) tinted blue below the ``kept_px`` pixel rows
    that were kept, and every tile crossed by an orange line where the kept rows end.
    (28 * scale, N * (28 * scale + gap) - gap, 3) uint8."""
    digits = (images.detach().float().cpu().clamp(0, 1)[:, 0].numpy() * 255).round().astype(np.uint8)
    side, boundary = 28 * scale, kept_px * scale
    tiles = []
    for i, d in enumerate(digits):
        tile = np.repeat(enlarge(d, scale)[..., None], 3, axis=2).astype(np.float32)
        if i >= n_marked_from:
            tile[boundary:] = tile[boundary:] * np.array([0.55, 0.75, 1.0]) + np.array([0, 0, 40])
        tile = np.clip(tile, 0, 255).astype(np.uint8)
        tile[max(0, boundary - 1) : boundary + 1] = KEPT_LINE
        tiles.append(tile)
        tiles.append(np.full((side, gap, 3), 255, dtype=np.uint8))
    return np.concatenate(tiles[:-1], axis=1)
