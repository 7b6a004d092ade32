"""The "Your data" panel: which images a session's training runs use. No gradio here.

A session starts on the app's digits (``Context.data``). Here it can switch to its own
images (uploaded files: a zip, image files or a ``.npz``, imported by
``playground.core.user_data.import_uploads``), to a torchvision dataset by name when the
server is online (``user_data.load_named``), or back to the digits. The choice is kept in
``Context.datasets`` under the session's key, and every image family's Train button
(``playground.ui.panels.bind_training``) reads it: VAE, GAN, Boltzmann machines,
autoregressive models and VQ-VAE train on it, and the model they make names it in its
``config.json`` (``"dataset"``) and card. Panels whose figures need the digit judges say
"not available for this dataset" for a model trained on other images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.checks import check_choice
from playground.core import user_data
from playground.core.data import MnistSplits
from playground.views.base import Context

TRAINS = "VAE, GAN, Boltzmann machines, autoregressive models and VQ-VAE"


class DataViews:
    """The computations of the "Your data" panel for one app (``ctx``); per-session state lives in ``ctx.datasets``."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @staticmethod
    def options(invert: Any, fit: Any, test_share: Any, seed: Any) -> user_data.ImportOptions:
        """The import settings from the panel or the API: invert "auto" (when the border is mostly light), "yes" or
        "no"; fit "pad" (pad to a square) or "crop" (centre-crop); test_share: the held-out share in [0.05, 0.5];
        seed: the split's seed, int in [0, 2^31).

        Raises:
            ValueError: any setting out of range (the message names it).
        """
        return user_data.ImportOptions(invert=invert, fit=fit, test_fraction=test_share, split_seed=seed)

    def current(self, key: str) -> MnistSplits:
        """The dataset of session ``key``: its own choice, else the app's digits."""
        return self.ctx.training_data(key)

    def upload(self, key: str, files: Any, invert: Any = "auto", fit: Any = "pad", test_share: Any = 0.1, seed: Any = 0) -> tuple[np.ndarray, str, str]:
        """Import uploaded files and make them session ``key``'s training data.

        Args:
            files: a path or a list of paths (str): a zip, image files (PNG, JPEG, WebP, GIF first frame, BMP) or one
                ``.npz`` with ``images`` (and optional ``labels``); the other arguments as ``options``.

        Returns:
            (preview grid uint8 (H, W), summary markdown, the Train tabs' line): see ``shown``.

        Raises:
            ValueError: no file, a bad setting, or files that cannot be imported (too many, too large, a zip bomb or
                traversal, not images); the session keeps its previous data.
        """
        paths = [files] if isinstance(files, str) else [str(f) for f in (files or []) if f]
        if not paths:
            raise ValueError("choose a .zip, image files or a .npz first")
        data = user_data.import_uploads(paths, self.options(invert, fit, test_share, seed))
        self.ctx.datasets.set(key, data)
        return self.shown(key)

    def named(self, key: str, name: Any, invert: Any = "auto", fit: Any = "pad", test_share: Any = 0.1, seed: Any = 0) -> tuple[np.ndarray, str, str]:
        """Make torchvision dataset ``name`` (one of ``user_data.NAMED``) session ``key``'s training data; "mnist-5k"
        is the app's digits. Returns what ``shown`` returns.

        Raises:
            ValueError: an unknown name, or a download that fails (offline?); the session keeps its previous data.
        """
        name = check_choice("dataset", name, tuple(user_data.NAMED))
        data = user_data.load_named(name, self.options(invert, fit, test_share, seed))
        self.ctx.datasets.set(key, None if data.name == self.ctx.data.name and data.digits else data)
        return self.shown(key)

    def reset(self, key: str) -> tuple[np.ndarray, str, str]:
        """Back to the app's digits for session ``key``. Returns what ``shown`` returns."""
        self.ctx.datasets.set(key, None)
        return self.shown(key)

    def shown(self, key: str) -> tuple[np.ndarray, str, str]:
        """What the panel shows of session ``key``'s data: (preview of its first 64 training images, uint8 (H, W); a
        summary (markdown); the line each image family's Train sub-tab shows, ``line``)."""
        data = self.current(key)
        return user_data.preview(data), user_data.summary(data), self.line(key)

    def line(self, key: str | None = None) -> str:
        """Markdown for the Train sub-tabs: the data a run trains on and where to change it."""
        data = self.current(key) if key else self.ctx.data
        own = "" if data is self.ctx.data else " (your choice)"
        return f"Trains on **{data.describe()}**{own} · change it in the **Your data** tab."
