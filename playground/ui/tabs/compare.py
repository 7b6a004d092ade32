"""The compare tab: layout and thin handlers over ``playground.views.compare_tab.CompareAll``
(the families side by side, novelty detection by each density, M1 from few labels).

It has no checkpoint to load, so its header is the plain one. It opens at once: every
page shows what the views hold when the app is built (the table, samples and plot from
``assets/compare.json``); what is still computing in the background says "computing…",
and a ``gr.Timer`` fills it in (every ``POLL_S`` seconds, only the parts that changed,
until nothing is pending), as the ↻ Update button does by hand.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from playground.ui import inputs
from playground.ui.panels import Tab
from playground.ui.widgets import Panel, digit_pad, how_it_works, image_output, panel_note, slider, ui_handler
from playground.views.compare_tab import CARD, COMPUTING, DEFAULT_COUNTS, PARTS, SCORE_HEADERS, TOUR, CompareAll
from playground.views.semisup import SEEDS

QUIET = {"show_progress": "hidden"}
PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}
POLL_S = 2.0
HEADLINE = "**Every family on one table**: test NLL and its kind, sample quality by three judges, precision and recall; then put the densities to use."
SKETCH_HINT = "draw a digit, or anything (dark on light)"
PICTURE_HEIGHT = "calc(100vh - 300px)"  # every family's row of samples in sight, at 1280 x 720 as at 1920 x 1080


def frame(headers: list[str], rows: list[list]) -> pd.DataFrame:
    """A table for a ``gr.Dataframe``: the view's formatted strings under its headers."""
    return pd.DataFrame([[str(cell) for cell in row] for row in rows], columns=list(headers))


class CompareTab(Tab):
    """The compare tab (see the module docstring)."""

    views_class = CompareAll
    card, tour, explain_tab = CARD, TOUR, "cmp-explain"

    def thumbnail(self) -> Any:
        """The home card: the families' samples in a small picture (``CompareViews.thumbnail``)."""
        return self.views.compare.thumbnail()

    # -- handlers ---------------------------------------------------------------------------------------
    def table(self) -> tuple:
        """Every family's shipped model on the same 500 test digits: test NLL in nats with its kind (exact, bound, AIS estimate with its range), bits/dim, the share of 500 samples (seed 0) all three judges read confidently and alike, the digits they cover, precision and recall (judge-resnet's features), parameters, training time, samples/s and the published figure. Rows still computing say so. Returns the table and a note."""
        headers, rows, note = self.views.compare.table()
        return frame(headers, rows), note

    def samples(self) -> Any:
        """16 samples of every family (seed 0, the same for each), one labelled row each. Returns the picture (uint8 RGB)."""
        return self.views.compare.samples_picture(16)

    def nll_plot(self) -> Any:
        """Test NLL (nats, across) against the agreed-confident share of the samples (down), one labelled point per family; implicit models (no likelihood) in a band at the side. Returns the figure."""
        return self.views.compare.nll_vs_quality()

    def score_drawing(self, sketch: Any = None) -> tuple:
        """Score a drawn digit (a Sketchpad value; centred and scaled like MNIST, then binarised) by each density: log p in nats (or its bound), its percentile among the test digits, the typicality score |log p − E[log p]| and a verdict. Returns the picture the models saw, the table and a note."""
        return self._scored(sketch)

    def score_upload(self, image: Any = None) -> tuple:
        """Score an uploaded image (any picture: a digit or not; centred and scaled like MNIST, then binarised; a 28 x 28 image is taken as it is) by each density, as cmp_score_drawing does. Returns the picture the models saw, the table and a note."""
        return self._scored(image)

    def _scored(self, image: Any) -> tuple:
        picture, note, rows = self.views.novelty.score(image)
        return picture, frame(SCORE_HEADERS, rows), note

    def outliers(self, outlier_set: Any = "blank", model: Any = "rbm") -> tuple:
        """16 images of a set (test digits, rotated 90°, rotated 180°, inverted, shifted, noise (same ink), blank) and the histograms of a model's log p in nats (bernoulli mixture, rbm, vae, nade, pixelcnn, vqvae, gated_pixelcnn) over the test digits and every outlier set. Returns the picture and the figure."""
        return self.views.novelty.preset(outlier_set), self.views.novelty.histograms(model)

    def auc(self) -> tuple:
        """ROC AUC of each density against each outlier set (test digits as inliers), scored by log p and by typicality; 0.5 is chance, below 0.5 the outliers look more likely than the digits. Returns the table and a note."""
        headers, rows, note = self.views.novelty.auc_table()
        return frame(headers, rows), note

    def m1(self, counts: Any = DEFAULT_COUNTS, seeds: Any = SEEDS.default) -> tuple:
        """M1 (Kingma et al. 2014): the same classifiers (logistic regression and 1-NN) on the bundled VAE's latent means and on pixels, learning from a few labelled train digits (counts: multiples of 10 separated by commas, at most 6, e.g. "10, 100, 1000"), balanced and seeded (seeds: 1 to 10 subsets per count), tested on the 500 test digits. Returns the table (accuracy mean ± std per count, and the gain of codes over pixels), the accuracy-against-labels figure and a note."""
        headers, rows, figure, note = self.views.m1(counts, seeds)
        return frame(headers, rows), figure, note

    def refresh(self, shown: Any, model: Any = "rbm") -> tuple:
        """Every part that changed since ``shown`` (the tokens of ``CompareAll.progress``
        last shown to this browser), the others skipped; the timer stops when nothing is
        left computing."""
        now = self.views.progress()
        shown = shown if isinstance(shown, dict) else {}
        changed = {part: now[part] != shown.get(part) for part in PARTS}
        out: list[Any] = [now]
        out += [*self.table(), self.samples(), self.nll_plot()] if changed["table"] else [gr.skip()] * 4
        if changed["novelty"]:
            try:
                histograms = self.views.novelty.histograms(model)
            except ValueError:  # a model name sent past the picker: the outliers panel says so when it is redrawn
                histograms = gr.skip()
            out += [*self.auc(), histograms]
        else:
            out += [gr.skip()] * 3
        out += self._m1_default() if changed["m1"] else [gr.skip()] * 3
        pending = any(token.startswith(COMPUTING) for token in now.values())
        return (*out, gr.Timer(active=pending))

    def _m1_default(self) -> list:
        headers, rows, figure, note = self.views.m1_default()
        return [frame(headers, rows), figure if figure is not None else gr.skip(), note]

    # -- layout -----------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks, bind its events and start the
        background work."""
        self.views.start()
        self.plain_header("cmp", HEADLINE)
        pages = self.pages([
            ("Table", "cmp-table", self._table_layout),
            ("Beyond the NLL", "cmp-tasks", self._tasks_layout),
            ("Samples", "cmp-samples", self._samples_layout),
            ("Likelihood vs looks", "cmp-nll", self._nll_layout),
            ("Novelty", "cmp-novelty", self._novelty_layout),
            ("Few labels", "cmp-m1", self._m1_layout),
            ("How it works", "cmp-explain", lambda: how_it_works("compare")),
        ])
        self.shown = gr.State(None)
        self.timer = gr.Timer(POLL_S, active=True)
        self._bind(pages)
        self.bind_chrome(self.shown)

    def _table_layout(self) -> None:
        table, note = self.table()
        # One line a row (long cells cut at 36 characters; a click shows them whole), so every family fits in the box that page.py's CSS
        # gives it under the tab's header (calc(100vh - 340px)); wider than the page, it scrolls sideways past the numbers.
        self.table_df = gr.Dataframe(table, show_label=False, label="every family", interactive=False, max_chars=36, elem_id="cmp-table")
        with gr.Row(equal_height=False):
            self.table_text = gr.Markdown(note, label="about the table", show_label=False, elem_id="cmp-table-text")
            self.update_btn = gr.Button("↻ Update", size="sm", scale=0, min_width=110, elem_id="cmp-update")

    def _tasks_layout(self) -> None:
        # Kept figures only (compare_tasks.TaskTable): nothing to compute on a page load, so no handler and no timer.
        headers, rows, note = self.views.compare.tasks.table()
        gr.Dataframe(frame(headers, rows), show_label=False, label="translation, super-resolution and 8-bit likelihood", interactive=False, max_chars=60, elem_id="cmp-tasks")
        gr.Markdown(note, elem_id="cmp-tasks-text")

    def _samples_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                self.samples_img = image_output("16 samples of every family, seed 0", size=PICTURE_HEIGHT, value=self.samples(), show_label=False, elem_id="cmp-samples")
            with gr.Column(scale=1, min_width=220):
                self.samples_note = panel_note()
                gr.Markdown(
                    "The same number of samples (16) and the same seed (0) for every family: the first of the 500 that the table's quality "
                    "columns judge, kept with the table. Which look like digits? Hold them against the NLL column.", elem_id="cmp-samples-text",
                )

    def _nll_layout(self) -> None:
        self.nll_fig = gr.Plot(self.nll_plot(), label="test NLL against sample quality", show_label=False, elem_id="cmp-nll-plot")
        self.nll_note = panel_note()

    def _novelty_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.sketch = digit_pad(SKETCH_HINT, "cmp-sketch", height=330)
                self.score_btn = gr.Button("▶ Score my drawing", variant="primary", elem_id="cmp-score-drawing")
                self.upload = inputs.Image(label="or upload an image", type="numpy", sources=["upload", "clipboard"], height=160, elem_id="cmp-upload")
            with gr.Column(scale=3, min_width=380):
                self.scored_img = image_output("what the models see (28 × 28, binarised)", size=150, elem_id="cmp-scored")
                self.score_df = gr.Dataframe(frame(SCORE_HEADERS, []), show_label=False, label="each density's score", interactive=False, wrap=True, elem_id="cmp-score-table")
                self.score_note = panel_note()
                self.score_text = gr.Markdown("Draw something and press **▶ Score my drawing**, or upload an image.", label="about the scores", show_label=False, elem_id="cmp-score-text")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.nov_set = inputs.Dropdown(self.views.sets(), value="blank", label="a set to look at (made from the test digits)", elem_id="cmp-set")
                self.preset_img = image_output("a few of the set", size=150, elem_id="cmp-preset")
                self.nov_model = inputs.Dropdown(self.views.models(), value=self.views.default_model(), label="density", elem_id="cmp-model")
            with gr.Column(scale=3, min_width=380):
                self.hist_fig = gr.Plot(label="log p of test digits and outlier sets", show_label=False, elem_id="cmp-hist")
                self.outliers_note = panel_note()
        auc, auc_note = self.auc()
        self.auc_df = gr.Dataframe(auc, show_label=False, label="ROC AUC per model and outlier set", interactive=False, wrap=True, elem_id="cmp-auc")
        self.auc_text = gr.Markdown(auc_note, label="about the AUC table", show_label=False, elem_id="cmp-auc-text")

    def _m1_layout(self) -> None:
        headers, rows, figure, note = self.views.m1_default()
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                self.m1_fig = gr.Plot(figure, label="test accuracy against labels", show_label=False, elem_id="cmp-m1-plot")
            with gr.Column(scale=2, min_width=300):
                with gr.Row(equal_height=True):
                    self.m1_counts = inputs.Textbox(DEFAULT_COUNTS, label="label counts (multiples of 10)", min_width=160, elem_id="cmp-m1-counts")
                    self.m1_seeds = slider(SEEDS, "seeds per count", min_width=140, elem_id="cmp-m1-seeds")
                self.m1_btn = gr.Button("▶ Run", variant="primary", elem_id="cmp-m1-run")
                self.m1_note = panel_note()
                self.m1_text = gr.Markdown(note, label="about M1", show_label=False, elem_id="cmp-m1-text")
        self.m1_df = gr.Dataframe(frame(headers, rows), show_label=False, label="test accuracy", interactive=False, wrap=True, elem_id="cmp-m1-table")

    # -- events -----------------------------------------------------------------------------------------
    def panels(self) -> tuple[Panel, ...]:
        """The pages' independent panels: samples, plot, scoring a drawing, the outlier
        sets, few labels."""
        return (
            Panel(lambda: self.samples(), [], [self.samples_img], self.samples_note),
            Panel(lambda: self.nll_plot(), [], [self.nll_fig], self.nll_note),
            Panel(self.score_drawing, [self.sketch], [self.scored_img, self.score_df, self.score_text], self.score_note),
            Panel(self.outliers, [self.nov_set, self.nov_model], [self.preset_img, self.hist_fig], self.outliers_note),
            Panel(self.m1, [self.m1_counts, self.m1_seeds], [self.m1_df, self.m1_fig, self.m1_text], self.m1_note),
        )

    def tour_panels(self) -> dict[str, Panel]:
        samples, nll, _, outliers, _ = self.panels()
        return {"samples": samples, "nll": nll, "outliers": outliers}

    def _bind(self, pages: dict[str, gr.Tab]) -> None:
        samples, nll, drawing, outliers, m1 = self.panels()
        table_outputs = [self.table_df, self.table_text]
        self.update_btn.click(ui_handler(self.table), None, table_outputs, api_name="cmp_table", **QUIET)
        # Opening a page redraws it from the views (cheap: cached pictures and tables), so it shows what the background work has added.
        samples.on(pages["cmp-samples"].select, self.samples, [], api_name="cmp_samples", **QUIET)
        nll.on(pages["cmp-nll"].select, self.nll_plot, [], api_name="cmp_nll", **QUIET)
        pages["cmp-novelty"].select(ui_handler(self.auc), None, [self.auc_df, self.auc_text], api_name="cmp_auc", **QUIET)
        outliers.redraw_after(pages["cmp-novelty"].select)
        drawing.on(self.score_btn.click, self.score_drawing, [self.sketch], api_name="cmp_score_drawing")
        drawing.on(self.upload.upload, self.score_upload, [self.upload], api_name="cmp_score_upload")
        outliers.on([self.nov_set.input, self.nov_model.input], self.outliers, [self.nov_set, self.nov_model], api_name="cmp_outliers", **QUIET)
        m1.on(self.m1_btn.click, self.m1, [self.m1_counts, self.m1_seeds], api_name="cmp_m1")
        refreshed = [self.shown, *table_outputs, self.samples_img, self.nll_fig, self.auc_df, self.auc_text, self.hist_fig, self.m1_df, self.m1_fig, self.m1_text, self.timer]
        for trigger in (self.timer.tick, self.update_btn.click):
            trigger(self.refresh, [self.shown, self.nov_model], refreshed, **PRIVATE)
