"""A drawn or uploaded digit turned into a model input: 28 x 28, MNIST-style.

MNIST digits are white on black, scaled so that the longer side of their bounding box is
20 pixels, and centred by their centre of mass in a 28 x 28 frame (LeCun et al. 1998).
``digit_from_drawing`` does the same to whatever a ``gr.Sketchpad`` or an image upload
gives, after checking it, so a model sees a digit shaped like its training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

MAX_SIDE = 4096  # pixels: larger uploads are refused before any resizing
MIN_SIDE = 8
MAX_INK_FRACTION = 0.6  # more ink than this is not a digit on a background
BOX = 20  # the longer side of the digit's bounding box in the 28 x 28 frame, as in MNIST
SIZE = 28


def _as_array(image: Any) -> np.ndarray:
    """The image of a Sketchpad value (its ``composite``, else its layers stacked) or an
    array, as float32 (H, W, C) with C in {1, 3, 4}, values in [0, 1]."""
    if isinstance(image, dict):
        composite = image.get("composite")
        if composite is None:
            layers = [layer for layer in image.get("layers") or [] if layer is not None]
            if not layers:
                raise ValueError("nothing is drawn: draw a digit on the pad or pick a test digit")
            composite = layers[-1]
        image = composite
    if isinstance(image, Image.Image):
        image = np.asarray(image)
    if image is None:
        raise ValueError("nothing is drawn: draw a digit on the pad or pick a test digit")
    try:
        array = np.asarray(image)
    except (TypeError, ValueError):
        raise ValueError("the drawing is not an image") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError("the drawing is not an image of numbers")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"the drawing must be a grey, RGB or RGBA image, got an array of shape {array.shape}")
    height, width = array.shape[:2]
    if max(height, width) > MAX_SIDE:
        raise ValueError(f"the image is {width} x {height} pixels: at most {MAX_SIDE} on a side, please")
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"the image is {width} x {height} pixels: at least {MIN_SIDE} on a side, please")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("the image holds NaN or infinite values")
    if array.max() > 1.0:  # 8-bit
        array = array / 255.0
    if array.min() < 0 or array.max() > 1:
        raise ValueError("image values must be in [0, 1] or [0, 255]")
    return array


def digit_from_drawing(image: Any) -> tuple[Tensor, str]:
    """A drawing as a binary digit in MNIST's framing.

    Args:
        image: a ``gr.Sketchpad`` value (dict with ``"composite"`` and ``"layers"``,
            numpy RGBA), or an image array (H, W), (H, W, 3) or (H, W, 4), uint8 in
            [0, 255] or float in [0, 1], with 8 <= H, W <= 4096. With an alpha channel
            (the pad), dark strokes over a white page; without, dark strokes on a light
            page or light strokes on a dark one (as MNIST), as the border says; colour is
            turned into grey.

    Returns:
        (digit (1, 1, 28, 28) float32 in {0, 1}, a sentence on what was done).

    Raises:
        ValueError: no image, a blank, all-ink or fully transparent drawing, a size
            outside the limits, or values that are not an image's.
    """
    array = _as_array(image)
    channels = array.shape[2]
    grey = array[..., :3].mean(axis=2) if channels >= 3 else array[..., 0]
    notes = []
    if channels >= 3 and float(np.abs(array[..., :3] - grey[..., None]).max()) > 0.05:
        notes.append("colour turned into grey")
    if channels == 4:
        alpha = array[..., 3]
        if float(alpha.max()) < 0.05:
            raise ValueError("the drawing is blank (fully transparent): draw a digit (dark strokes on the light pad)")
        # The pad: dark strokes over a white page, where transparent pixels are page.
        ink = 1.0 - (alpha * grey + (1 - alpha))
    else:
        # An upload: dark strokes on a light page, or light strokes on a dark one (as
        # MNIST), whichever its border says.
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        ink = grey if float(np.median(border)) < 0.5 else 1.0 - grey
    if float(ink.max()) > 0.05:
        ink = ink / float(ink.max())  # faint or coloured strokes count as full ink
    mask = ink > 0.3
    if not mask.any():
        raise ValueError("the drawing is blank: draw a digit (dark strokes on the light pad)")
    if mask.mean() > MAX_INK_FRACTION:
        raise ValueError(f"{mask.mean():.0%} of the image is ink: draw a digit on a plain background")
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = ink[top:bottom, left:right]
    scale = BOX / max(crop.shape)
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS), np.float32) / 255
    frame = np.zeros((SIZE, SIZE), np.float32)
    mass = small.sum()
    cy = (small.sum(1) * np.arange(new_h)).sum() / mass if mass > 0 else new_h / 2
    cx = (small.sum(0) * np.arange(new_w)).sum() / mass if mass > 0 else new_w / 2
    y0 = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - new_h))
    x0 = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - new_w))
    frame[y0 : y0 + new_h, x0 : x0 + new_w] = small
    digit = torch.from_numpy((frame > 0.5).astype(np.float32)).view(1, 1, SIZE, SIZE)
    if not bool(digit.any()):
        raise ValueError("the strokes are too thin to survive scaling to 28 x 28: draw with a thicker brush")
    notes.insert(0, f"your {array.shape[1]} x {array.shape[0]} drawing scaled to a 20-pixel box, centred by its centre of mass in 28 x 28 and binarised at 0.5")
    return digit, "; ".join(notes)
