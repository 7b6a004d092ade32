"""The VQ-VAE tab: layout and thin handlers over ``playground.views.vqvae``.

It opens on samples of the prior beside decodes of uniformly random codes (why a prior is
needed), then the code map (click a cell of a digit's 7 x 7 grid of code ids, pick another
code in the codebook, Apply: the decode changes), the prior filling grids cell by cell
(with Stop) and completing a grid's bottom rows, the codebook, what each level of the
VQ-VAE-2 holds, Train and How it works. The VQ-VAE and the VQ-VAE-2 are two slots of one
session; each panel has its own model choice (``which``).
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel, bind_training
from playground.ui.widgets import Panel, bind_pick, digit_gallery, digit_pad, how_it_works, image_output, index_box, panel_note, redraw_on, seed_box, session_key, slider, ui_handler
from playground.views.datasets import DataViews
from playground.views.vqvae import AE_STEPS, BETA, CARD, CODE_DIM, DEFAULT_INDEX, LABEL_CHOICES, LR, PRIOR_STEPS, RESTART_EVERY, ROWS_KEPT, TEMPERATURE, TOUR, K, VqViews

API = "vq"
PRIOR_KEY = "vq-prior"  # one prior drawing at a time per session; Stop sets its flag
MODEL_CHOICES = [("VQ-VAE (7 × 7 codes)", "vqvae"), ("VQ-VAE-2 (4 × 4 + 7 × 7)", "vqvae2")]
LEVEL_CHOICES = [("bottom 7 × 7", -1), ("top 4 × 4 (VQ-VAE-2)", 0)]
LABEL_TEXT = "digit to draw (class-conditional prior)"
SAMPLING = {"concurrency_limit": 4, "concurrency_id": "vq-sampling"}
PLAIN = {"preprocess": False}  # the views check every value (Gradio's own range check names no field)
QUIET = {"api_visibility": "private", "show_progress": "hidden"}
PICK_TEXT = "Click a cell of the code map to select it."


class VqTab(Tab):
    """The VQ-VAE tab (see the module docstring)."""

    views_class = VqViews
    card, tour, explain_tab = CARD, TOUR, "vq-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, seed: Any = 0, label: Any = "any", which: Any = "vqvae"):
        """32 samples of the prior (codes drawn by the PixelCNN, then decoded) beside 32 decodes of uniformly random codes, drawn with the seed (0 to 2^31 - 1). label: "any" (digits 0 to 9 in turn) or "0" to "9"; which: "vqvae" or "vqvae2". Returns both grids and the classifier's reading of each."""
        return self.views.samples(state, seed, label, which)

    def encode(self, state: Any, index: Any = DEFAULT_INDEX, which: Any = "vqvae"):
        """Encode a test digit (index 0 to 499) with "vqvae" or "vqvae2". Returns its code grids as JSON (a list per level, top first, of rows of code ids), the digit, its reconstruction, the 7 x 7 code map and a note."""
        return (*self.views.encode(state, index, None, which), PICK_TEXT)

    def encode_drawing(self, state: Any, drawing: Any = None, which: Any = "vqvae"):
        """Encode a drawing (an image, dark on light; scaled to 28 x 28 as MNIST) with "vqvae" or "vqvae2". Returns its code grids as JSON, the digit as the model sees it, its reconstruction, the 7 x 7 code map and a note."""
        return (*self.views.encode(state, None, drawing, which), PICK_TEXT)

    def edit(self, state: Any, codes: Any, row: Any = 0, col: Any = 0, code: Any = 0, which: Any = "vqvae"):
        """Set cell (row, col) (each 0 to 6) of the bottom 7 x 7 grid of codes (JSON, as vq_encode gives) to code (0 to K - 1) and decode. Returns the new codes JSON, the decode, the code map with the cell outlined and a note "cell (r, c): old -> new"."""
        codes, decoded, code_map, note = self.views.edit(state, codes, row, col, code, which)
        return codes, decoded, code_map, note, _cell_text(codes, row, col)

    def draw_prior(self, state: Any, seed: Any = 0, label: Any = "any", which: Any = "vqvae", temperature: Any = 1.0, request: gr.Request = None):
        """Watch the prior fill 16 code grids cell by cell (a VQ-VAE-2: the 4 x 4 top grids, then the 7 x 7 bottom grids given them), streaming, then decode them. seed: 0 to 2^31 - 1; label: "any" or "0" to "9"; which: "vqvae" or "vqvae2"; temperature: 0.1 to 2. vq_prior_stop ends it. Returns the grids so far, the decodes (at the end) and a status."""
        key = session_key(request)
        self.ctx.sessions.set_flag(key, PRIOR_KEY)  # a new drawing ends the one before
        flag = self.ctx.sessions.start(key, PRIOR_KEY)
        try:
            for grids, decoded, note in self.views.draw_prior(state, seed, label, which, temperature):
                yield grids, decoded, note
                if flag.is_set():  # checked before the next cell is drawn
                    yield gr.skip(), gr.skip(), f"**Stopped** at {note.rstrip('…')}."
                    return
        finally:
            self.ctx.sessions.finish(key, PRIOR_KEY, flag)

    def stop_prior(self, request: gr.Request = None):
        """Stop this session's prior drawing (vq_draw_prior) within a frame; the grids drawn so far stay."""
        return "Stopping…" if self.ctx.sessions.set_flag(session_key(request), PRIOR_KEY) else gr.skip()

    def complete(self, state: Any, index: Any = DEFAULT_INDEX, rows_kept: Any = ROWS_KEPT.default, seed: Any = 0, which: Any = "vqvae"):
        """Keep the top rows_kept (1 to 6) of the 7 rows of a test digit's (index 0 to 499) code grid and let the prior draw the rest 8 times (seed 0 to 2^31 - 1; which "vqvae" or "vqvae2"). Returns original | reconstruction | 8 completions, and the classifier's reading."""
        return self.views.complete(state, index, rows_kept, seed, which)

    def codebook(self, state: Any, which: Any = "vqvae", level: Any = -1):
        """Every code of a level (-1 or 1: bottom, 0: top; a VQ-VAE has one) decoded alone, as a mosaic in code order (rows of 16), its usage over the test split as a histogram, and its perplexity, codes used and dead codes."""
        return self.views.codebook(state, which, level)

    def two_levels(self, state: Any, index: Any = DEFAULT_INDEX, seed: Any = 0):
        """What each level of the session's VQ-VAE-2 holds, for a test digit (index 0 to 499; seed 0 to 2^31 - 1): 8 decodes with its top grid kept and the bottom redrawn by the prior, 8 with its bottom grid kept and the top grid of other digits. Returns the picture and the classifier's reading."""
        return self.views.two_levels(state, index, seed)

    # -- clicks on pictures and what a change of model redraws ---------------------------------------
    def _select_cell(self, codes: Any, evt: gr.SelectData) -> tuple:
        """A click on the code map selects its cell (row, column) and shows its code."""
        row, col = self.views.cell_at(*(evt.index or (None, None)))  # None: a click beside the picture
        return row, col, _code_of(codes, row, col), _cell_text(codes, row, col)

    def _select_code(self, state: Any, which: Any, evt: gr.SelectData) -> int:
        """A click on the codebook mosaic picks the code of its tile."""
        mosaic = self.views.codebook(state, which, -1)[0]
        return self.views.code_at(mosaic.shape, *(evt.index or (None, None)), self.views.view(state, which).model.n_codes)

    def _redraw_codemap(self, state: Any, index: Any, which: Any) -> tuple:
        return (*self.encode(state, index, which), self.views.codebook(state, which, -1)[0])

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, ["vqvae", "vqvae2"], "vqvae", "vq-ckpt")
        self.pages([
            ("Samples", "vq-samples", lambda: self._samples_layout(first)),
            ("Code map", "vq-codemap", lambda: self._codemap_layout(first)),
            ("Prior sampling", "vq-prior", lambda: self._prior_layout(first)),
            ("Completion", "vq-completion", lambda: self._complete_layout(first)),
            ("Codebook", "vq-codebook", lambda: self._codebook_layout(first)),
            ("Two levels", "vq-levels", lambda: self._levels_layout(first)),
            ("Train", "vq-train", self._train_layout),
            ("How it works", "vq-explain", lambda: how_it_works("vqvae")),
        ])
        self._bind()

    @staticmethod
    def _which(elem_id: str, label: str = "model") -> gr.Radio:
        return inputs.Radio(MODEL_CHOICES, value="vqvae", label=label, elem_id=elem_id, min_width=200)

    def _samples_layout(self, first: Any) -> None:
        prior, uniform, note = self.views.samples(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=230):
                self.s_which = self._which("vq-samples-which")
                self.s_label = inputs.Dropdown(LABEL_CHOICES, value="any", label=LABEL_TEXT, elem_id="vq-samples-label")
                self.s_seed = seed_box("sample seed", elem_id="vq-samples-seed")
                self.resample = gr.Button("New samples", variant="primary", elem_id="vq-samples-run")
            with gr.Column(scale=4):
                with gr.Row(equal_height=False):
                    self.prior_img = image_output("with the prior: codes drawn by the PixelCNN", size=250, value=prior, elem_id="vq-samples-prior", min_width=300)
                    self.uniform_img = image_output("without: uniformly random codes, decoded", size=250, value=uniform, elem_id="vq-samples-uniform", min_width=300)
                self.samples_note = panel_note()
                self.samples_text = gr.Markdown(note, label="the classifier's reading", show_label=False, elem_id="vq-samples-text")

    def _codemap_layout(self, first: Any) -> None:
        codes, original, decoded, code_map, note = self.views.encode(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=290):
                # Shown no larger than drawn (280 px): Gradio maps a click on an enlarged picture wrongly.
                self.map_img = gr.Image(
                    code_map, label="the digit's 7 × 7 code ids: click a cell", height=300, interactive=False, format="png",
                    buttons=["fullscreen"], elem_id="vq-map",
                )
                self.cell_text = gr.Markdown(PICK_TEXT, label="selected cell", show_label=False, elem_id="vq-cell")
            with gr.Column(scale=2, min_width=260):
                with gr.Row():
                    self.original_img = image_output("the digit", size=160, value=original, elem_id="vq-map-original", min_width=120)
                    self.decoded_img = image_output("decoded", size=160, value=decoded, elem_id="vq-map-decoded", min_width=120)
                self.map_note = panel_note()
                self.map_text = gr.Markdown(note, label="about the code map", show_label=False, elem_id="vq-map-text")
            with gr.Column(scale=3, min_width=360):
                mosaic = self.views.codebook(first)[0]
                self.mosaic_img = gr.Image(
                    mosaic, label="the codebook: click a code", height=_fitted(mosaic, 500, 110, 200), interactive=False, format="png",
                    buttons=["fullscreen"], elem_id="vq-map-mosaic",
                )
                with gr.Row(equal_height=True):
                    self.row = inputs.Number(value=0, label="row", precision=0, min_width=70, elem_id="vq-row")
                    self.col = inputs.Number(value=0, label="column", precision=0, min_width=70, elem_id="vq-col")
                    self.code = inputs.Number(value=0, label="code id", precision=0, min_width=90, elem_id="vq-code")
                    self.apply_btn = gr.Button("Apply", variant="primary", min_width=90, elem_id="vq-apply")
                self.m_which = self._which("vq-codemap-which")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row(equal_height=True):
                    self.m_index = index_box(self.ctx.data, "digit to encode", DEFAULT_INDEX, elem_id="vq-codemap-index", min_width=220)
                    self.encode_btn = gr.Button("Encode", elem_id="vq-encode", scale=0, min_width=120)
                self.m_gallery = digit_gallery(self.ctx.data, label="click a test digit to encode it")
                with gr.Accordion("the code grids as numbers (JSON, top level first)", open=False):
                    self.codes_box = inputs.Textbox(codes, label="code grids (JSON)", max_lines=12, elem_id="vq-codes")
            with gr.Column(scale=2, min_width=300):
                self.sketch = digit_pad("or draw a digit (dark on light)", "vq-sketch", height=330)
                self.draw_btn = gr.Button("Encode my drawing", elem_id="vq-encode-drawing")

    def _prior_layout(self, first: Any) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                with gr.Row():
                    self.prior_btn = gr.Button("▶ Draw", variant="primary", min_width=120, elem_id="vq-prior-run")
                    self.prior_stop = gr.Button("Stop", variant="stop", min_width=70, scale=0, elem_id="vq-prior-stop")
                self.p_which = self._which("vq-prior-which")
                self.p_label = inputs.Dropdown(LABEL_CHOICES, value="any", label=LABEL_TEXT, elem_id="vq-prior-label")
                self.p_temp = slider(TEMPERATURE, "temperature", step=0.05, elem_id="vq-prior-temperature")
                self.p_seed = seed_box(elem_id="vq-prior-seed")
            with gr.Column(scale=4):
                with gr.Row(equal_height=False):
                    self.grids_img = image_output("16 code grids, filled by the prior (grey: to come)", size=300, elem_id="vq-prior-grids", min_width=260)
                    self.drawn_img = image_output("the grids decoded (once they are full)", size=300, elem_id="vq-prior-decoded", min_width=260)
                self.prior_status = gr.Markdown(
                    "Press **▶ Draw**: 49 cells a grid (65 for the VQ-VAE-2), one PixelCNN pass each, where a pixel model needs 784.",
                    label="drawing status", show_label=False, elem_id="vq-prior-status",
                )
    def _complete_layout(self, first: Any) -> None:
        gr.Markdown("The top rows of a test digit's code grid are kept; the prior draws the other cells, 8 times, and the decoder draws them.")
        picture, note = self.views.complete(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                self.complete_btn = gr.Button("▶ Complete", variant="primary", elem_id="vq-complete-run")
                self.c_index = index_box(self.ctx.data, "test digit", DEFAULT_INDEX, elem_id="vq-complete-index")
                self.c_rows = slider(ROWS_KEPT, "rows of codes kept (of 7)", elem_id="vq-complete-rows")
                self.c_seed = seed_box(elem_id="vq-complete-seed")
                self.c_which = self._which("vq-complete-which")
            with gr.Column(scale=4):
                self.complete_img = image_output("the digit · its reconstruction · 8 completions", size=150, value=picture, elem_id="vq-complete")
                self.complete_note = panel_note()
                self.complete_text = gr.Markdown(note, label="the classifier's reading", show_label=False, elem_id="vq-complete-text")

    def _codebook_layout(self, first: Any) -> None:
        mosaic, usage, note = self.views.codebook(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=250):
                self.b_which = self._which("vq-codebook-which")
                self.level = inputs.Radio(LEVEL_CHOICES, value=-1, label="level", elem_id="vq-codebook-level")
                self.book_note = panel_note()
                self.book_text = gr.Markdown(note, label="perplexity and dead codes", show_label=False, elem_id="vq-codebook-text")
            with gr.Column(scale=3):
                self.book_img = image_output(
                    "every code decoded alone (tiled over the grid), in code order", size=_fitted(mosaic, 900, 140, 320), value=mosaic, elem_id="vq-codebook-mosaic",
                )
                self.usage_plot = gr.Plot(usage, label="code usage over the test split", elem_id="vq-codebook-usage")

    def _levels_layout(self, first: Any) -> None:
        picture, note = self.views.two_levels(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=250):
                self.l_index = index_box(self.ctx.data, "test digit", DEFAULT_INDEX, elem_id="vq-levels-index")
                self.l_seed = seed_box(elem_id="vq-levels-seed")
                self.levels_btn = gr.Button("Redraw", variant="primary", elem_id="vq-levels-run")
            with gr.Column(scale=4):
                self.levels_img = image_output(
                    "row 1: top kept, bottom redrawn · row 2: bottom kept, top from the digits of row 3", size=320, value=picture,
                    elem_id="vq-levels-picture",
                )
        self.levels_note = panel_note()
        self.levels_text = gr.Markdown(note, label="the classifier's reading", show_label=False, elem_id="vq-levels-text")
        bind_pick(digit_gallery(self.ctx.data, label="click a test digit"), self.l_index)

    def _train_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                self.t_which = self._which("vq-train-which", "model to train")
                self.n_codes = slider(K, "codebook size K", step=16, elem_id="vq-train-k")
                self.code_dim = slider(CODE_DIM, "code size D", elem_id="vq-train-d")
                self.beta = slider(BETA, "β (commitment weight)", step=0.05, elem_id="vq-train-beta")
                self.ema = inputs.Checkbox(value=True, label="EMA codebook updates (else the codebook loss)", elem_id="vq-train-ema")
                self.restart = inputs.Checkbox(value=True, label=f"restart dead codes (every {RESTART_EVERY} steps)", elem_id="vq-train-restart")
                self.ae_steps = slider(AE_STEPS, "autoencoder steps", step=50, elem_id="vq-train-ae-steps")
                self.prior_steps = slider(PRIOR_STEPS, "then prior steps", step=50, elem_id="vq-train-prior-steps")
            with gr.Column(scale=2):
                self.training = TrainingPanel.build("vq-train", None, LR, data_line=DataViews(self.ctx).line())
                with gr.Row():
                    self.recon_img = image_output("test digits (top) and their reconstructions", size=150, elem_id="vq-train-recon")
                    self.usage_live = gr.Plot(label="code usage, live", elem_id="vq-train-usage")
                self.train_samples = image_output("samples of the finished model's prior", size=200, elem_id="vq-train-samples")

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state, t = self.views, self.state, self.training
        changed = self.models.bind(views, state, API, which=self.s_which)
        trained = bind_training(
            self.ctx, views, "vq-train", t.train, t.stop, t.status, state, views.train,
            [self.t_which, self.n_codes, self.code_dim, self.beta, self.ema, self.restart, self.ae_steps, self.prior_steps, t.lr, t.seed],
            [self.recon_img, t.curves, self.usage_live, self.train_samples], f"{API}_train", f"{API}_stop", **PLAIN,
        )
        panels = self.panels()
        redraw_on([*changed, trained], panels)
        self.bind_chrome(state)
        models, samples, codemap, completion, codebook, levels = panels
        models.on(self.s_which.input, models.redraw, models.inputs, **QUIET, **PLAIN)
        samples.on([self.resample.click, self.s_which.input, self.s_label.input], self.samples, samples.inputs, api_name="vq_samples", **SAMPLING, **PLAIN)
        codemap.on([self.encode_btn.click, self.m_index.change], self.encode, [state, self.m_index, self.m_which], codemap.outputs[:-1], api_name="vq_encode", trigger_mode="always_last", **PLAIN)
        codemap.on(self.m_which.input, self._redraw_codemap, codemap.inputs, **QUIET, **PLAIN)
        codemap.on(self.draw_btn.click, self.encode_drawing, [state, self.sketch, self.m_which], codemap.outputs[:-1], api_name="vq_encode_drawing")
        edited = [self.codes_box, self.decoded_img, self.map_img, self.map_text, self.cell_text]
        codemap.on(self.apply_btn.click, self.edit, [state, self.codes_box, self.row, self.col, self.code, self.m_which], edited, api_name="vq_edit", **PLAIN)
        self.map_img.select(ui_handler(self._select_cell), self.codes_box, [self.row, self.col, self.code, self.cell_text], **QUIET)
        self.mosaic_img.select(ui_handler(self._select_code), [state, self.m_which], self.code, **QUIET)
        bind_pick(self.m_gallery, self.m_index)
        self.prior_btn.click(
            ui_handler(self.draw_prior), [state, self.p_seed, self.p_label, self.p_which, self.p_temp], [self.grids_img, self.drawn_img, self.prior_status],
            api_name="vq_draw_prior", show_progress="minimal", **SAMPLING, **PLAIN,
        )
        self.prior_stop.click(ui_handler(self.stop_prior), None, self.prior_status, api_name="vq_prior_stop", concurrency_limit=None)
        completion.on(self.complete_btn.click, self.complete, completion.inputs, api_name="vq_complete", **SAMPLING, **PLAIN)
        codebook.on([self.b_which.input, self.level.input], self.codebook, codebook.inputs, api_name="vq_codebook", **PLAIN)
        levels.on([self.levels_btn.click, self.l_index.change], self.two_levels, levels.inputs, api_name="vq_two_levels", trigger_mode="always_last", **SAMPLING, **PLAIN)

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``)."""
        _, samples, codemap, completion, codebook, levels = self.panels()
        return {"samples": samples, "codemap": codemap, "complete": completion, "codebook": codebook, "levels": levels}

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs (the prior's
        drawing is asked for, not redrawn)."""
        views, state = self.views, self.state
        codemap = [self.codes_box, self.original_img, self.decoded_img, self.map_img, self.map_text, self.cell_text, self.mosaic_img]
        return [
            self.models.panel(views, state, which=self.s_which),
            Panel(self.samples, [state, self.s_seed, self.s_label, self.s_which], [self.prior_img, self.uniform_img, self.samples_text], self.samples_note),
            Panel(self._redraw_codemap, [state, self.m_index, self.m_which], codemap, self.map_note),
            Panel(self.complete, [state, self.c_index, self.c_rows, self.c_seed, self.c_which], [self.complete_img, self.complete_text], self.complete_note),
            Panel(self.codebook, [state, self.b_which, self.level], [self.book_img, self.usage_plot, self.book_text], self.book_note),
            Panel(self.two_levels, [state, self.l_index, self.l_seed], [self.levels_img, self.levels_text], self.levels_note),
        ]


def _code_of(codes: Any, row: int, col: int) -> Any:
    """The code id at (row, col) of the bottom grid of ``codes`` (JSON), or None when the
    text is not a grid (the edit's own check then says why)."""
    try:
        return int(json.loads(codes)[-1][row][col])
    except (TypeError, ValueError, IndexError, KeyError):
        return None


def _cell_text(codes: Any, row: Any, col: Any) -> str:
    code = _code_of(codes, int(row), int(col))
    return f"Selected cell **({int(row)}, {int(col)})**, code **{code}**: pick a code in the codebook (or type its id) and press **Apply**."


def _fitted(picture: Any, width_px: int, low: int, high: int) -> int:
    """The height (px, label included) of a box that shows ``picture`` (a codebook mosaic,
    K / 16 rows of tiles) about ``width_px`` wide, within [low, high]."""
    return min(max(round(width_px * picture.shape[0] / picture.shape[1]) + 50, low), high)
