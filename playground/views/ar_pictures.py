"""Pictures of the autoregressive tab: a sample being drawn with its probability map,
the receptive field and blind spot of a pixel, and MADE's input-output dependencies.
Pictures are uint8 arrays (grey (H, W) or RGB (H, W, 3)). No gradio here.

The blind spot is that of van den Oord et al. 2016 ("Conditional Image Generation with
PixelCNN Decoders", arXiv:1606.05328, Fig. 1): earlier pixels that a stack of masked
convolutions never lets a pixel see.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch
from torch import Tensor

from models.base import AutoregressiveModel
from models.made import MADE
from playground.core.plots import enlarge, image_grid, side_by_side

SIZE = 28
N_PIXELS = SIZE * SIZE
SCALE = 10  # screen pixels per image pixel in the receptive-field pictures
RED = (230, 40, 40)
LATER = (45.0, 45.0, 55.0)  # later pixels: dark
BLIND = (255.0, 160.0, 40.0)  # the blind spot: orange
WEAK, STRONG = (235.0, 240.0, 255.0), (40.0, 90.0, 220.0)  # influence: white to blue


def _mark(grid: np.ndarray, pixel: int | None, n: int, nrow: int, padding: int = 2) -> np.ndarray:
    """An RGB copy of a grid of ``n`` 28 x 28 tiles with pixel ``pixel`` (raster index)
    of every tile painted red (the pixel being drawn)."""
    rgb = np.repeat(grid[..., None], 3, axis=2) if grid.ndim == 2 else grid.copy()
    if pixel is None:
        return rgb
    padding = padding if n > 1 else 0  # make_grid gives a lone image back without a border
    r, c = divmod(pixel, SIZE)
    for k in range(n):
        top = padding + (k // nrow) * (SIZE + padding)
        left = padding + (k % nrow) * (SIZE + padding)
        rgb[top + r, left + c] = RED
    return rgb


def drawing_frame(images: Tensor, probs: Tensor, next_pixel: int | None, nrow: int) -> np.ndarray:
    """Samples being drawn (B, 1, 28, 28) in {0, 1} (left) beside the probability each
    pixel was drawn from (right, (B, 1, 28, 28) in [0, 1]), the next pixel in red: RGB."""
    n = len(images)
    grids = [image_grid(t, nrow) for t in (images, probs)]
    return side_by_side(*(_mark(g, next_pixel, n, nrow) for g in grids))


def blind_spot(field: Tensor, pixel: int) -> Tensor:
    """The blind spot of ``pixel`` (raster index) for a stack of convolutions in raster
    order, from its dependency map ``field`` (28, 28) >= 0: the earlier pixels of no
    influence that have a pixel of influence above them in their column (so pixels merely
    beyond the receptive field's reach, far up or far left, do not count). (28, 28) bool."""
    seen = field > 0
    earlier = (torch.arange(SIZE * SIZE) < pixel).view(SIZE, SIZE)
    seen_above = torch.cummax(seen.int(), 0).values.bool()
    seen_above = torch.cat([torch.zeros(1, SIZE, dtype=torch.bool), seen_above[:-1]])
    return earlier & seen_above & ~seen


def field_picture(field: Tensor, pixel: int, blind: Tensor) -> np.ndarray:
    """An RGB picture (280, 280, 3) of a dependency map ``field`` (28, 28) >= 0 of
    ``pixel``: influence white (small) to blue (large), the ``blind`` pixels ((28, 28)
    bool) orange, other pixels dark grey, the pixel red, with thin lines between pixels."""
    flat = field.reshape(-1).float()
    seen = flat > 0
    strength = (flat / flat.max()).clamp(0, 1) ** 0.5 if bool(seen.any()) else flat
    rgb = torch.tensor(LATER).repeat(SIZE * SIZE, 1)
    rgb[blind.reshape(-1) & ~seen] = torch.tensor(BLIND)
    shade = strength[seen][:, None]
    rgb[seen] = torch.tensor(WEAK) * (1 - shade) + torch.tensor(STRONG) * shade
    rgb[pixel] = torch.tensor(RED, dtype=torch.float32)
    picture = enlarge(rgb.view(SIZE, SIZE, 3).to(torch.uint8).numpy(), SCALE)
    picture[::SCALE] = (picture[::SCALE] * 0.8).astype(np.uint8)  # grid lines make the cells countable
    picture[:, ::SCALE] = (picture[:, ::SCALE] * 0.8).astype(np.uint8)
    return picture


def pixel_at(x: float, y: float) -> tuple[int, int]:
    """The (row, column) of a click at (x, y) screen pixels on a receptive-field picture,
    or on two of them side by side with a 12-pixel gap."""
    x = int(x) % (SIZE * SCALE + 12)
    return min(SIZE - 1, int(y) // SCALE), min(SIZE - 1, x // SCALE)


def dependency_matrix(dependency: Tensor, order: Tensor) -> np.ndarray:
    """MADE's dependency matrix (D, D) bool (outputs x inputs) with both axes sorted by
    the ordering ``order`` (D,): grey (D, D), dark where an output depends on an input."""
    matrix = dependency[order][:, order].float()  # strictly lower triangular in the ordering
    return ((1 - matrix) * 235 + 20).to(torch.uint8).numpy()


_FIELDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {pixel: field}: a pure function's memo, never a user's state
_FIELDS_LOCK = threading.Lock()


def _field(model: AutoregressiveModel, pixel: int) -> Tensor:
    """``model.receptive_field(pixel, n_probes=8)`` (seeded, so the same every time), remembered per model while the
    model lives: in a class, everyone's first look at the bundled PixelCNNs asks for the same pixels, and each costs
    a backward pass through the network (the heaviest call of the tab's light panels)."""
    with _FIELDS_LOCK:
        cached = _FIELDS.get(model, {}).get(pixel)
    if cached is None:
        cached = model.receptive_field(pixel, n_probes=8)
        with _FIELDS_LOCK:
            _FIELDS.setdefault(model, {})[pixel] = cached
    return cached


def receptive_fields(models: dict[str, AutoregressiveModel], row: int, col: int) -> tuple[np.ndarray, str]:
    """Which input pixels influence the conditional of pixel (row, col) (each in [0, 27]),
    from gradients, for each of ``models`` ({name: model} in raster order) side by side.

    Returns:
        (RGB picture uint8 (280, 292 * len(models) - 12, 3); markdown: per model, the
        earlier pixels seen and those in the blind spot).
    """
    pixel = row * SIZE + col
    parts, counts = [], []
    for name, model in models.items():
        field = _field(model, pixel)
        blind = blind_spot(field, pixel)
        parts.append(field_picture(field, pixel, blind))
        counts.append(f"{name}: sees **{int((field > 0).sum())}** of the {pixel} earlier pixels, blind to **{int(blind.sum())}**")
    picture = parts[0]
    for part in parts[1:]:
        picture = side_by_side(picture, part, gap=12)
    return picture, f"Pixel (row {row}, column {col}). {' · '.join(counts)}."


def made_masks(made: MADE, mask: int, row: int, col: int) -> tuple[np.ndarray, np.ndarray, str]:
    """MADE's connectivity for mask set ``mask``: which output depends on which input, and
    which inputs output pixel (row, col) depends on.

    Returns:
        (grey matrix uint8 (784, 784), rows = outputs, columns = inputs, both in the
        ordering; RGB map (280, 280, 3) of the pixel's inputs, the earlier pixels (in the
        ordering) it does not hear orange; markdown).
    """
    pixel = row * SIZE + col
    dependency = made.dependency(mask)
    order = made.orderings[mask].cpu()
    position = torch.empty_like(order)
    position[order] = torch.arange(N_PIXELS)
    depends = dependency[pixel].view(SIZE, SIZE)
    picture = field_picture(depends.float(), pixel, (position < position[pixel]).view(SIZE, SIZE))
    kept = ", ".join(str(int(m.sum())) for m in made.connectivity(mask))
    text = (
        f"Mask set {mask} of {made.n_masks} ({'raster order' if mask == 0 else 'a random ordering'}). Output pixel (row {row}, "
        f"column {col}) comes {int(position[pixel]) + 1}th in the ordering and depends on **{int(depends.sum())}** of the "
        f"{int(position[pixel])} pixels before it. Left: the 784 × 784 matrix of which output (row) depends on which input "
        f"(column), pixels sorted in the ordering: strictly below the diagonal, so the network is autoregressive. "
        f"Connections kept per layer: {kept}."
    )
    return dependency_matrix(dependency, order), picture, text
