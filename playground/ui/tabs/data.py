"""The "Your data" tab: layout and thin handlers over ``playground.views.datasets.DataViews``.

Upload a zip, image files or a ``.npz`` (or pick a torchvision dataset by name when the
server is online), see what the models will see (a preview grid of 28 x 28 grey images,
counts and classes), and every image family's Train button of this session trains on
it. The line at the top of each Train sub-tab names the data and changes with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from playground.core import user_data
from playground.ui import inputs
from playground.ui.widgets import how_it_works, image_output, panel_note, seed_box, session_key, slider, ui_handler
from playground.views.base import Context
from playground.views.datasets import TRAINS, DataViews

FILE_TYPES = [".zip", ".npz", ".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"]
HEADLINE = f"**Your own images**: upload them here and the {TRAINS} tabs train on them."


class DataTab:
    """The tab (see the module docstring); ``lines`` are the Train sub-tabs' data lines it keeps current."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.views = DataViews(ctx)

    # -- handlers ---------------------------------------------------------------------------------------
    def upload(self, files: Any, invert: Any, fit: Any, test_share: Any, seed: Any, request: gr.Request) -> tuple:
        """Import your images and train on them from now on (this session): a .zip (class folders become labels), image files (PNG, JPEG, WebP, GIF first frame, BMP) or a .npz with an images array (and optional labels). invert: auto, yes or no (dark strokes on light become light on dark); fit: pad or crop to a square; test_share: 0.05 to 0.5 held out; seed: the split's seed. Returns the preview, a summary and the Train tabs' line."""
        return self._shown(self.views.upload(session_key(request), files, invert, fit, test_share, seed))

    def named(self, name: Any, invert: Any, fit: Any, test_share: Any, seed: Any, request: gr.Request) -> tuple:
        """Train on a dataset by name from now on (this session): mnist-5k (the bundled digits), or mnist, fashion-mnist, kmnist or emnist-letters, downloaded with torchvision when the server is online. Returns the preview, a summary and the Train tabs' line."""
        return self._shown(self.views.named(session_key(request), name, invert, fit, test_share, seed))

    def reset(self, request: gr.Request) -> tuple:
        """Back to the bundled digits (this session). Returns the preview, a summary and the Train tabs' line."""
        return self._shown(self.views.reset(session_key(request)))

    def _shown(self, shown: tuple) -> tuple:
        preview, summary, line = shown
        gr.Info("Every image family's Train button now uses: " + line.split("**")[1])
        return (preview, summary, *[line] * len(self.lines))

    # -- layout -----------------------------------------------------------------------------------------
    def build(self, lines: Sequence[gr.Markdown]) -> None:
        """Lay out the tab inside the current Blocks and bind it; ``lines`` are the Train sub-tabs' data lines."""
        self.lines = list(lines)
        preview, summary, _ = self.views.shown("")
        gr.Markdown(HEADLINE, elem_id="data-headline", elem_classes=["pg-headline"])
        with gr.Tabs():
            with gr.Tab("Choose images", id="data-choose"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=320):
                        self.files = gr.File(label="your images: a .zip, image files or a .npz", file_count="multiple", file_types=FILE_TYPES, type="filepath", height=120, elem_id="data-files")
                        with gr.Row():
                            self.invert = inputs.Dropdown(list(user_data.INVERT_CHOICES), value="auto", label="invert", min_width=120, elem_id="data-invert")
                            self.fit = inputs.Dropdown(list(user_data.FIT_CHOICES), value="pad", label="to a square", min_width=100, elem_id="data-fit")
                            self.seed = seed_box("split seed", min_width=100, elem_id="data-seed")
                        self.test_share = slider(user_data.TEST_FRACTION, "test fraction (held out)", step=0.05, elem_id="data-test-share")
                        with gr.Row():
                            self.use_btn = gr.Button("▶ Use these images", variant="primary", elem_id="data-use", scale=2)
                            self.reset_btn = gr.Button("↺ The digits", variant="secondary", elem_id="data-reset", scale=1)
                        with gr.Accordion("or a dataset by name (downloaded when the server is online)", open=False, elem_id="data-named-box"):
                            with gr.Row(equal_height=True):
                                self.name = inputs.Dropdown(list(user_data.NAMED), value="mnist-5k", label="dataset", elem_id="data-name", scale=2)
                                self.named_btn = gr.Button("Use it", variant="secondary", elem_id="data-named", scale=1)
                    with gr.Column(scale=3, min_width=380):
                        self.preview = image_output("what the models see: the first 64 training images, 28 × 28", size=300, value=preview, elem_id="data-preview")
                        self.note = panel_note()
                        self.summary = gr.Markdown(summary, label="the session's data", elem_id="data-summary")
                gr.Markdown(f"<small>{user_data.LIMITS}</small>", elem_id="data-limits")
            with gr.Tab("How it works", id="data-explain"):
                how_it_works("data")
        self._bind()

    def _bind(self) -> None:
        options = [self.invert, self.fit, self.test_share, self.seed]
        outputs = [self.preview, self.summary, *self.lines]
        self.use_btn.click(ui_handler(self.upload), [self.files, *options], outputs, api_name="data_upload", concurrency_id="data", concurrency_limit=2)
        self.named_btn.click(ui_handler(self.named), [self.name, *options], outputs, api_name="data_named", concurrency_id="data", concurrency_limit=2)
        self.reset_btn.click(ui_handler(self.reset), None, outputs, api_name="data_reset")
