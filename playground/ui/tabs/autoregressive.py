"""The autoregressive tab: layout and thin handlers over ``playground.views.autoregressive``.

It opens on a digit drawn pixel by pixel (Watch a sample), then completion, samples, the
receptive field and blind spot, likelihood against looks, Train and How it works. The
model picker of Watch, Complete and Samples is one choice shown on each of them (the
three dropdowns follow each other), and the checkpoint bar's Download follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from playground.ui import inputs, zerogpu
from playground.ui.panels import Tab, TrainingPanel, bind_training, tabs
from playground.ui.tabs.multiscale import MsTab
from playground.ui.tabs.pixelcnnpp import PpTab
from playground.ui.tabs.pixelvae import PvTab
from playground.ui.widgets import Panel, bind_pick, digit_gallery, digit_pad, how_it_works, image_output, index_box, kept, panel_note, redraw_on, seed_box, slider, ui_handler
from playground.views import ar_pictures
from playground.views.ar_model import MASKS, TRAIN_FAMILY, train_controls
from playground.views.autoregressive import CARD, CHOICES, COMPLETIONS, DEFAULT, EVERY, FAMILIES, LABEL_ANY, LABELS, LR, N_SHOWN, PIXEL, ROWS_KEPT, SAMPLES, SOURCES, STEPS, TOUR, WATCH, ArViews
from playground.views.datasets import DataViews

API = "ar"
SAMPLING = {"concurrency_limit": 4, "concurrency_id": "ar-sampling"}  # samples, watch and completion share 4 workers
CONDITIONAL_LABEL = "digit to draw (class-conditional models)"
PICKER_LABEL = "model (Watch, Complete and Samples)"
QUIET = {"api_visibility": "private", "show_progress": "hidden"}


class ArTab(Tab):
    """The autoregressive tab (see the module docstring)."""

    views_class = ArViews
    card, tour, explain_tab = CARD, TOUR, "ar-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, family: Any = DEFAULT, n: Any = N_SHOWN, seed: Any = 0):
        """1 to 64 samples of the session's model of a family (nade, made, pixelcnn, gated_pixelcnn or pixelrnn), drawn pixel by pixel with the seed (0 to 2^31 - 1); a class-conditional model draws the digits 0 to 9 in turn. Returns the grid and a line on the time taken."""
        return self.views.samples(state, family, n, seed)

    @ui_handler
    def watch(self, state: Any, family: Any = DEFAULT, n: Any = WATCH.default, every: Any = EVERY.default, label: Any = LABEL_ANY, seed: Any = 0) -> Iterator[tuple]:
        """Draw 1 to 16 samples pixel by pixel, streaming the samples so far beside the probability each pixel was drawn from, a status line, and at the end an animated GIF of the draw. Pixels per frame: 1 to 784; label: "any" or a digit 0 to 9 (class-conditional models only); seed: 0 to 2^31 - 1."""
        yield from kept(self.views.watch(state, family, n, every, label, seed))

    @ui_handler
    def complete(
        self, state: Any, family: Any = DEFAULT, source: Any = "test digit", index: Any = 0, drawing: Any = None,
        rows: Any = ROWS_KEPT.default, n: Any = COMPLETIONS.default, label: Any = LABEL_ANY, seed: Any = 0,
    ):
        """Keep the top rows (1 to 27) of a test digit (source "test digit", its index 0 to 499) or of a drawing (source "drawing", an image) and let the model draw the rest, 1 to 8 times. Label: "any" (a class-conditional model draws it from p(y | kept rows)) or a digit 0 to 9. Returns the digit, what the model is given and the completions, and the classifier's reading."""
        return self.views.complete(state, family, source, index, drawing, rows, n, label, seed)

    @ui_handler
    def table(self, state: Any) -> Iterator[str]:
        """The exact test NLL of every model of the session (nats per digit and bits per pixel), next to the published figures. Streams: first with the figures already known, then as the others are computed."""
        yield from self.views.table_stream(state)

    def receptive_field(self, state: Any, row: Any = PIXEL.default, col: Any = PIXEL.default):
        """Which input pixels influence the conditional of pixel (row, col), each 0 to 27, for the session's PixelCNN (left) and Gated PixelCNN (right), from gradients; the blind spot in orange. Returns the picture and the counts."""
        return self.views.receptive_field(state, row, col)

    def made_masks(self, state: Any, mask: Any = 0, row: Any = PIXEL.default, col: Any = PIXEL.default):
        """MADE's connectivity for a mask set (0 is the raster order): the 784 x 784 matrix of which output depends on which input (in the ordering), the inputs of output pixel (row, col) (each 0 to 27), and a description."""
        return self.views.made_masks(state, mask, row, col)

    # -- what a change of model redraws ------------------------------------------------------------
    def _redraw_table(self, state: Any) -> str:
        return self.views.table(state, compute=False)  # the figures not known yet are filled in by the table's own events

    def _redraw_masks(self, state: Any, row: Any, col: Any) -> tuple:
        return gr.update(choices=self.views.mask_choices(state), value=0), *self.views.made_masks(state, 0, row, col)

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, FAMILIES, DEFAULT, "ar-ckpt", download_slot=DEFAULT)
        pages = self.pages([
            ("Watch a sample", "ar-watch", lambda: self._watch_layout(first)),
            ("Complete a digit", "ar-complete", lambda: self._complete_layout(first)),
            ("Samples", "ar-samples-tab", lambda: self._samples_layout(first)),
            ("Receptive field and blind spot", "ar-field", lambda: self._field_layout(first)),
            ("Likelihood vs looks", "ar-table", lambda: self._table_layout(first)),
            ("More models", "ar-more", self._more_layout),
            ("Train", "ar-train", self._train_layout),
            ("How it works", "ar-explain", lambda: how_it_works("autoregressive")),
        ])
        self.table_tab = pages["ar-table"]
        self._bind()

    @staticmethod
    def _picker(elem_id: str) -> gr.Dropdown:
        return inputs.Dropdown(CHOICES, value=DEFAULT, label=PICKER_LABEL, elem_id=elem_id, min_width=220)

    def _more_layout(self) -> None:
        # PixelCNN++ (8-bit grey), the multiscale PixelCNN and PixelVAE, one page each inside this one (the tab bar had no room for three more).
        tabs([
            ("PixelCNN++ (grey)", "ar-pixelcnnpp", lambda: PpTab.create(self.ctx)),
            ("Multiscale PixelCNN", "ar-multiscale", lambda: MsTab.create(self.ctx)),
            ("PixelVAE", "ar-pixelvae", lambda: PvTab.create(self.ctx)),
        ])

    def _watch_layout(self, first: Any) -> None:
        still, status = self.views.watch_still(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                self.family = self._picker("ar-family")
                self.watch_btn = gr.Button("▶ Draw, pixel by pixel", variant="primary", elem_id="ar-watch-run")
                self.w_n = slider(WATCH, f"digits (≤ {WATCH.high})")
                self.w_every = slider(EVERY, "pixels per frame")
                self.w_label = inputs.Dropdown(LABELS, value=LABEL_ANY, label=CONDITIONAL_LABEL)
                self.w_seed = seed_box()
            with gr.Column(scale=2):
                self.watch_img = image_output("the digits so far · the probability each pixel was drawn with", size=340, value=still, elem_id="ar-watch-picture")
                self.watch_note = panel_note()
                self.watch_status = gr.Markdown(status, label="drawing status", show_label=False, elem_id="ar-watch-status")
        gr.Markdown(
            "Each pixel is drawn from p(x_i = 1 | x_<i), the probability the model gives it after seeing the pixels before it "
            "(rows above, then left to right): a coin flip with that probability decides it, and the next pixel sees the result."
        )
        self.watch_gif = gr.Image(
            label="the whole draw as an animation", height=300, interactive=False, elem_classes=["pixelated", "fill"], elem_id="ar-watch-gif",
        )

    def _complete_layout(self, first: Any) -> None:
        strip, note = self.views.complete(first, DEFAULT, SOURCES[0], 0, None, ROWS_KEPT.default, COMPLETIONS.default, LABEL_ANY, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                self.c_family = self._picker("ar-complete-family")
                self.complete_btn = gr.Button("▶ Complete", variant="primary", elem_id="ar-complete-run")
                self.c_source = inputs.Radio(list(SOURCES), value=SOURCES[0], label="complete")
                self.c_index = index_box(self.ctx.data, "test digit", 0)
                self.c_rows = slider(ROWS_KEPT, "rows kept from the top (the cut)")
                self.c_n = slider(COMPLETIONS, f"completions (≤ {COMPLETIONS.high})")
                self.c_label = inputs.Dropdown(LABELS, value=LABEL_ANY, label=CONDITIONAL_LABEL)
                self.c_seed = seed_box()
            with gr.Column(scale=2):
                self.complete_img = image_output("the digit · what the model is given (grey: hidden) · its completions", size=170, value=strip, elem_id="ar-completion")
                self.complete_text = gr.Markdown(note, label="the classifier's reading", show_label=False, elem_id="ar-complete-note")
                self.sketch = digit_pad("draw a digit (dark on light); the model sees it scaled to 28 × 28", "ar-sketch")
                self.c_gallery = digit_gallery(self.ctx.data, label="or click a test digit")

    def _samples_layout(self, first: Any) -> None:
        grid, caption = self.views.samples(first, DEFAULT, N_SHOWN, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                self.s_family = self._picker("ar-samples-family")
                self.resample = gr.Button("▶ Draw samples", variant="primary", elem_id="ar-resample")
                self.n_samples = slider(SAMPLES, f"samples (≤ {SAMPLES.high})")
                self.seed = seed_box()
            with gr.Column(scale=2):
                self.sample_img = image_output("samples, drawn one pixel at a time", size=300, value=grid, elem_id="ar-samples")
                self.sample_note = panel_note()
                self.quality = gr.Markdown(caption, label="about these samples", show_label=False, elem_id="ar-quality")

    def _table_layout(self, first: Any) -> None:
        shown, text = self.views.looks()
        gr.Markdown("**Each bundled model's first 16 samples, titled with its exact test NLL in nats per digit: the best likelihood (lowest) first.**")
        self.looks_imgs = []
        with gr.Row(equal_height=True):
            for i, (title, picture) in enumerate(shown):
                with gr.Column(min_width=150):
                    self.looks_imgs.append(image_output(title, size=210, value=picture, elem_id=f"ar-looks-{i}"))
        gr.Markdown(text, elem_id="ar-looks-note")
        self.table_note = panel_note()
        self.table_md = gr.Markdown(self.views.table(first, compute=False), label="exact test likelihoods", show_label=False, elem_id="ar-table-text")
        self.table_btn = gr.Button("Refresh the table", elem_id="ar-table-refresh")

    def _train_layout(self) -> None:
        c = train_controls(TRAIN_FAMILY)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                self.t_family = inputs.Dropdown(CHOICES, value=TRAIN_FAMILY, label="model to train", elem_id="ar-train-family")
                self.t_size = slider(c["size"], c["size_label"], elem_id="ar-train-size")
                self.t_layers = slider(c["layers"], c["layers_label"], elem_id="ar-train-layers")
                self.t_masks = slider(MASKS, "MADE: orderings (masks)", visible=c["masks"], elem_id="ar-train-masks")
                self.t_cond = inputs.Checkbox(value=False, label="class-conditional (draws a digit on request)", visible=c["conditional"], elem_id="ar-train-cond")
                self.train_img = image_output("16 samples from a fixed seed, as it trains", size=260, elem_id="ar-train-samples")
            with gr.Column(scale=2):
                self.training = TrainingPanel.build("ar-train", STEPS, LR, data_line=DataViews(self.ctx).line())

    def _field_layout(self, first: Any) -> None:
        field, text = self.views.receptive_field(first, PIXEL.default, PIXEL.default)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                self.f_row = slider(PIXEL, "row of the pixel")
                self.f_col = slider(PIXEL, "column of the pixel")
                gr.Markdown(
                    "Click a pixel, or move the sliders. From gradients: which input pixels change the model's p(x_i = 1 | x_<i) "
                    "for it. **Red**: the pixel; **white to blue**: pixels it hears (blue: strongly); **orange**: earlier pixels "
                    "it should see but does not, the **blind spot**; dark: later pixels, which it must not see."
                )
            with gr.Column(scale=2):
                self.field_img = gr.Image(
                    value=field, label="PixelCNN (left) · Gated PixelCNN (right): click a pixel", height=320, interactive=False,
                    format="png", elem_id="ar-field-picture", buttons=["fullscreen"],
                )
                self.field_note = panel_note()
                self.field_text = gr.Markdown(text, label="what the pixel sees", show_label=False, elem_id="ar-field-note")
        gr.Markdown("#### MADE: the masks")
        self.m_mask = inputs.Dropdown(self.views.mask_choices(first), value=0, label="mask set (ordering); 0 is the raster order", elem_id="ar-made-mask")
        matrix, picture, text = self.views.made_masks(first, 0, PIXEL.default, PIXEL.default)
        self.masks_note = panel_note()
        with gr.Row():
            self.m_matrix = gr.Image(
                value=matrix, label="which output depends on which input (pixels in the ordering)", height=340, interactive=False,
                format="png", elem_id="ar-made-matrix",
            )
            self.m_field = gr.Image(
                value=picture, label="inputs the chosen output pixel depends on", height=340, interactive=False, format="png",
                elem_id="ar-made-field",
            )
        self.m_text = gr.Markdown(text, label="about the mask set", show_label=False, elem_id="ar-made-note")

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state = self.views, self.state
        pickers = [self.family, self.c_family, self.s_family]
        changed = self.models.bind(views, state, API, extra=_loaded_family, extra_outputs=pickers, which=self.family, which_name="family")
        # The views check every training setting, and the sliders' limits follow the model
        # chosen in the browser only: Gradio's own range check would refuse an API client's
        # NADE width over the PixelCNN's limits, so the values reach the view as they are.
        trained = bind_training(
            self.ctx, views, "ar-train", self.training.train, self.training.stop, self.training.status, state, views.train,
            [self.t_family, self.t_size, self.t_layers, self.t_masks, self.t_cond, self.training.steps, self.training.lr, self.training.seed],
            [self.training.curves, self.train_img], f"{API}_train", f"{API}_stop", preprocess=False,
        )
        panels = self.panels()
        redraw_on([*changed, trained], panels)
        self.bind_chrome(state)
        models, still, samples, _, field, masks = panels
        for picker in pickers:
            others = [p for p in pickers if p is not picker]
            picker.change(_follow, [picker, *others], others, **QUIET)
        models.on(self.family.change, models.redraw, models.inputs, **QUIET)
        still.on(self.family.change, views.watch_still, still.inputs, **QUIET)
        samples.on(self.resample.click, zerogpu.gpu(self.samples, per={"n": 0.5}), samples.inputs, api_name="ar_samples", **SAMPLING)
        self._bind_table()
        self.watch_btn.click(
            zerogpu.gpu(self.watch, per={"n": 2}), [state, self.family, self.w_n, self.w_every, self.w_label, self.w_seed], [self.watch_img, self.watch_status, self.watch_gif],
            api_name="ar_watch", **SAMPLING,
        )
        # Watching and completing are asked for (not redrawn after a change of model); a bad value is a toast.
        self.complete_btn.click(
            self.complete, [state, self.c_family, self.c_source, self.c_index, self.sketch, self.c_rows, self.c_n, self.c_label, self.c_seed],
            [self.complete_img, self.complete_text], api_name="ar_complete", **SAMPLING,
        )
        bind_pick(self.c_gallery, self.c_index)
        self.c_gallery.select(lambda: SOURCES[0], None, self.c_source, **QUIET)
        self.sketch.input(lambda: SOURCES[1], None, self.c_source, **QUIET)
        self.t_family.input(_train_controls_of, self.t_family, [self.t_size, self.t_layers, self.t_masks, self.t_cond, self.training.lr], **QUIET)
        self.field_img.select(_clicked_pixel, None, [self.f_row, self.f_col], **QUIET)
        pixel_moved = [self.f_row.change, self.f_col.change]
        field.on(pixel_moved, self.receptive_field, field.inputs, api_name="ar_receptive_field", trigger_mode="always_last")
        masks.on(
            [self.m_mask.input, *pixel_moved], self.made_masks, [state, self.m_mask, self.f_row, self.f_col], masks.outputs[1:],
            api_name="ar_made_masks", trigger_mode="always_last",
        )

    def _bind_table(self) -> None:
        """The table streams: the Refresh button (the API's ar_table), opening its tab, and
        any redraw that left figures to compute (its text changed) fill it in."""
        io = dict(inputs=[self.state], outputs=[self.table_md])
        self.table_btn.click(self.table, **io, api_name="ar_table")
        self.table_tab.select(self.table, **io, api_visibility="private")
        self.table_md.change(self.table, **io, api_visibility="private", trigger_mode="always_last", show_progress="hidden")

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``)."""
        panels = self.panels()
        return {"table": panels[3], "field": panels[4]}

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs."""
        views, state = self.views, self.state
        return [
            self.models.panel(views, state, which=self.family),
            Panel(views.watch_still, [state, self.family, self.w_n], [self.watch_img, self.watch_status], self.watch_note),
            Panel(views.samples, [state, self.s_family, self.n_samples, self.seed], [self.sample_img, self.quality], self.sample_note),
            Panel(self._redraw_table, [state], [self.table_md], self.table_note),
            Panel(views.receptive_field, [state, self.f_row, self.f_col], [self.field_img, self.field_text], self.field_note),
            Panel(self._redraw_masks, [state, self.f_row, self.f_col], [self.m_mask, self.m_matrix, self.m_field, self.m_text], self.masks_note),
        ]


def _loaded_family(session: Any) -> tuple:
    """What a change of model gives the three model pickers: the family a Load or Upload
    brought (the panels then show it), or nothing (a Restore leaves them as they are)."""
    return (session.loaded or gr.skip(),) * 3


def _follow(value: Any, *others: Any) -> tuple:
    """The other model pickers take the value one of them was given (those that have it
    already are left alone, so the pickers' change events stop there)."""
    return tuple(gr.skip() if other == value else value for other in others)


def _train_controls_of(family: str) -> tuple:
    """The Train panel's controls for ``family``: width and depth sliders with its limits,
    labels and defaults (depth hidden for NADE), MADE's masks and the conditional switch
    shown only where they apply, and its default learning rate."""
    c = train_controls(family if family in FAMILIES else TRAIN_FAMILY)
    size, layers = c["size"], c["layers"]
    return (
        gr.update(minimum=size.low, maximum=size.high, value=size.default, label=c["size_label"]),
        gr.update(visible=False) if layers is None else gr.update(visible=True, minimum=layers.low, maximum=layers.high, value=layers.default, label=c["layers_label"]),
        gr.update(visible=c["masks"]),
        gr.update(visible=c["conditional"], value=False),
        c["lr"],
    )


def _clicked_pixel(evt: gr.SelectData) -> tuple[int, int]:
    return ar_pictures.pixel_at(*evt.index)
