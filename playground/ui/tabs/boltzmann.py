"""The Boltzmann machines tab: layout and thin handlers over ``playground.views.boltzmann``
(an RBM trained live, its fantasies, completion, a deep belief net stacked on it, and the
energy panel with the test NLL).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel, bind_training
from playground.ui.tabs.dbm import DbmTab
from playground.ui.tabs.wake_sleep import WakeSleepTab
from playground.ui.widgets import Panel, bind_pick, digit_gallery, how_it_works, image_output, index_box, kept, panel_note, redraw_on, reporter, seed_box, slider, ui_handler
from playground.views.boltzmann import CARD, EPOCHS, HIDDEN, LR, MOMENTUM, STACK_EPOCHS, TOUR, TRAIN_DEFAULTS, WEIGHT_DECAY, BoltzmannViews, K
from playground.views.datasets import DataViews
from playground.views.energy import AIS_BETAS, AIS_RUNS, SHIFT
from playground.views.gibbs import CHAINS, CLAMPED_ROWS, COMPLETE_DIGITS, COMPLETE_STEPS, COMPLETIONS, DBN_FRAME_EVERY, DBN_SAMPLES, FRAME_EVERY, GIBBS_STEPS, MAX_FRAMES, STARTS

API = "boltzmann"
TRAIN_KEY = "boltzmann-train"  # Train and "Stack and train layer 2": one run at a time per session
GIBBS = dict(concurrency_limit=4, concurrency_id="gibbs")


class BoltzmannTab(Tab):
    """The Boltzmann tab (see the module docstring)."""

    views_class = BoltzmannViews
    card, tour, explain_tab = CARD, TOUR, "boltzmann-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, seed: Any = 0):
        """64 fantasies of the session's RBM (its n_gibbs Gibbs steps from noise, 1,000 for the bundled one; means) and 64 samples of its DBN, drawn with the seed (0 to 2^31 - 1); returns both 8 x 8 grids and the classifier's reading of each, given only where most of them lie near real digits."""
        return self.views.samples(state, seed)

    def fantasies(
        self, state: Any, start: Any = "noise", first: Any = 0, n_chains: Any = CHAINS.default, steps: Any = GIBBS_STEPS.default,
        every: Any = FRAME_EVERY.default, seed: Any = 0,
    ):
        """Run Gibbs chains in the session's RBM, streaming. start: "noise" or "test digits" (the chains start at test digits first, first + 1, ...); first: a test index (0 to 499), checked whichever the start; n_chains: 1 to 100; steps: Gibbs steps, 1 to 10,000; every: steps between frames, 1 to 500, at most 200 frames; seed: 0 to 2^31 - 1. Returns the sampled states, their means p(v = 1 | h), a status and (at the end) the animation GIF."""
        yield from kept(self.views.fantasies(state, start, first, n_chains, steps, every, seed))

    def complete(
        self, state: Any, first: Any = 0, n_digits: Any = COMPLETE_DIGITS.default, rows: Any = CLAMPED_ROWS.default,
        n_samples: Any = COMPLETIONS.default, steps: Any = COMPLETE_STEPS.default, seed: Any = 0,
    ):
        """Completion by clamped Gibbs sampling, streaming: the top rows (1 to 27) of n_digits (1 to 8) test digits from first (0 to 499) are fixed and the chains sample the rest; n_samples completions per digit (1 to 8), steps Gibbs steps (1 to 5,000), seed 0 to 2^31 - 1. Returns a grid (per digit: the digit, what the chain sees, the completions) and a note."""
        yield from kept(self.views.complete(state, first, n_digits, rows, n_samples, steps, seed))

    def dbn_samples(
        self, state: Any, n: Any = DBN_SAMPLES.default, steps: Any = GIBBS_STEPS.default, every: Any = DBN_FRAME_EVERY.default,
        start: Any = "noise", seed: Any = 0,
    ):
        """Samples of the session's DBN: n (1 to 100) samples after steps (1 to 10,000) Gibbs steps in the top RBM, from noise or from test digits 0, 1, ..., then the top-down pass; a frame every 1 to 500 steps (at most 200 frames); seed 0 to 2^31 - 1. Returns the samples grid, a status and the animation GIF of the top-level chain."""
        yield from kept(self.views.dbn_samples(state, n, steps, every, start, seed))

    def dbn_fields(self, state: Any, layer: Any = "1"):
        """What the first 100 units of a DBN hidden layer (1 to the number of layers) respond to: W1 for layer 1, W1 W2 for layer 2, and so on. Returns the mosaic and a caption."""
        return self.views.dbn_fields(state, layer)

    def energy(self, state: Any, index: Any = 0, shift: Any = SHIFT.default, seed: Any = 0):
        """Free energies of a test digit (index 0 to 499), it shifted right and down by shift (1 to 10) pixels, its pixels shuffled, noise with the same ink and a blank image (seed 0 to 2^31 - 1 for the shuffle and the noise); with an estimate of log Z, their log p(v). Returns the six images, a bar chart and a table. An empty index leaves the panel as it is."""
        if index is None:  # the box is being retyped
            return gr.skip(), gr.skip(), gr.skip()
        return self.views.energy(state, index, shift, seed)

    def ais(self, state: Any, n_betas: Any = AIS_BETAS.default, n_runs: Any = AIS_RUNS.default, seed: Any = 0, progress=gr.Progress()):
        """The test NLL of the session's RBM, mean F(test) + log Z in nats: log Z exact for 20 hidden units or fewer, else estimated by AIS with n_betas temperatures (100 to 20,000) and n_runs runs (10 to 500), seed 0 to 2^31 - 1. The RBM keeps the estimate. Returns the result, a histogram of the runs' log weights and the models' description."""
        session = self.views.session(state)
        text, figure = self.views.estimate(session, n_betas, n_runs, seed, progress=reporter(progress))
        return session, text, figure, self.views.describe(session)

    # -- what a change of model redraws ------------------------------------------------------------
    def _redraw_chains(self, state: Any) -> tuple:
        """The session's RBM's page fantasies; the old animation is cleared."""
        return (*self.views.page_chains(state), gr.update(value=None))

    def _redraw_dbn(self, state: Any) -> tuple:
        """The session's DBN's page samples; the old animation is cleared."""
        return (*self.views.page_dbn(state), gr.update(value=None))

    def _redraw_fields(self, state: Any, layer: Any) -> tuple:
        choices, shown, fields, caption = self.views.redraw_fields(state, layer)
        return gr.update(choices=choices, value=shown), fields, caption

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, ["rbm", "dbn"], "rbm", "boltzmann-ckpt", loader_extra=self._which_layout)
        self.pages([
            ("Fantasies", "boltzmann-fantasies", lambda: self._fantasies_layout(first)),
            ("Completion", "boltzmann-complete", lambda: self._completion_layout(first)),
            ("Energy and AIS", "boltzmann-energy", lambda: self._energy_layout(first)),
            ("Deep belief net", "boltzmann-dbn", lambda: self._dbn_layout(first)),
            ("RBM and DBN samples", "boltzmann-samples-tab", lambda: self._samples_layout(first)),
            ("Wake-sleep", "boltzmann-wake-sleep", lambda: WakeSleepTab.create(self.ctx)),
            ("DBM", "boltzmann-dbm", lambda: DbmTab.create(self.ctx)),
            ("Train an RBM", "boltzmann-train", lambda: self._train_layout(first)),
            ("How it works", "boltzmann-explain", lambda: how_it_works("boltzmann")),
        ])
        self._bind()

    def _which_layout(self) -> None:
        """Which of the session's two models Download gives: a choice inside the model bar's
        loader, under Download this model."""
        self.which = inputs.Radio([("RBM", "rbm"), ("DBN", "dbn")], value="rbm", label="which model Download gives")

    def _fantasies_layout(self, first: Any) -> None:
        states, means, status = self.views.page_chains(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=340):
                self.start = inputs.Radio(list(STARTS), value="noise", label="start the chains from")
                self.n_chains = slider(CHAINS, f"chains (≤ {CHAINS.high})", elem_id="boltzmann-chains")
                self.steps = slider(GIBBS_STEPS, f"Gibbs steps (≤ {GIBBS_STEPS.high:,})", elem_id="boltzmann-chain-steps")
                self.run_btn = gr.Button("Run the chains", variant="primary", elem_id="boltzmann-run-chains")
                self.every = slider(FRAME_EVERY, f"a frame every … steps (≤ {MAX_FRAMES} frames)")
                with gr.Row():
                    self.first = index_box(self.ctx.data, "first test digit", min_width=200)
                    self.chain_seed = seed_box(min_width=100)
            with gr.Column(scale=3):
                with gr.Row():
                    self.states_img = image_output("sampled states v", size=330, value=states, elem_id="boltzmann-states")
                    self.means_img = image_output("fantasies: means p(v = 1 | h)", size=330, value=means, elem_id="boltzmann-means")
                self.chain_status = gr.Markdown(status, label="chains status", elem_id="boltzmann-chain-status")
                self.chains_note = panel_note()
        gr.Markdown("Block Gibbs chains in the RBM: from noise they fall into the digits the model believes in; from a test digit they wander from one digit to another.")
        gallery = digit_gallery(self.ctx.data, label="click a test digit to start the chains there")
        self.chain_gif = gr.Image(
            label="the chains as an animation: states (left) and means (right)", height=420, interactive=False,
            elem_classes=["pixelated", "fill"], elem_id="boltzmann-chain-gif",
        )
        bind_pick(gallery, self.first)
        gallery.select(lambda: "test digits", None, self.start, api_visibility="private", show_progress="hidden")

    def _completion_layout(self, first: Any) -> None:
        grid, text = self.views.completion(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=340):
                self.c_first = index_box(self.ctx.data, "first test digit")
                self.c_rows = slider(CLAMPED_ROWS, "rows kept (from the top)")
                self.c_digits = slider(COMPLETE_DIGITS, "digits")
                self.c_samples = slider(COMPLETIONS, "completions per digit")
                self.complete_btn = gr.Button("Complete", variant="primary", elem_id="boltzmann-complete-run")
                self.c_steps = slider(COMPLETE_STEPS, "Gibbs steps")
                self.c_seed = seed_box()
            with gr.Column(scale=3):
                self.complete_img = image_output("digit · what the chain sees · completions", size=340, value=grid, elem_id="boltzmann-completion")
                self.complete_text = gr.Markdown(text, label="completion note", elem_id="boltzmann-completion-text")
                self.complete_note = panel_note()
        gr.Markdown("Fix the top rows of test digits and let clamped Gibbs sampling fill in the rest: the RBM's guesses of the bottom.")
        bind_pick(digit_gallery(self.ctx.data, label="click a test digit"), self.c_first)

    def _dbn_layout(self, first: Any) -> None:
        grid, status = self.views.page_dbn(first)
        fields, caption = self.views.dbn_fields(first, 1)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=340):
                self.d_n = slider(DBN_SAMPLES, "samples")
                self.d_steps = slider(GIBBS_STEPS, "Gibbs steps in the top RBM")
                self.dbn_btn = gr.Button("Sample the DBN", variant="primary", elem_id="boltzmann-dbn-run")
                self.d_every = slider(DBN_FRAME_EVERY, "a frame every … steps")
                self.d_start = inputs.Radio(list(STARTS), value="noise", label="start the top chain from")
                self.d_seed = seed_box()
            with gr.Column(scale=3):
                with gr.Row():
                    self.dbn_grid = image_output("DBN samples", size=330, value=grid, elem_id="boltzmann-dbn-grid")
                    self.fields_img = image_output("what its units respond to (100 of them)", size=330, value=fields, elem_id="boltzmann-fields")
                with gr.Row():
                    self.layer = inputs.Radio(self.views.dbn_layers(first), value="1", label="units of layer", scale=0, min_width=160)
                    self.fields_caption = gr.Markdown(caption, label="what the mosaic shows")
                self.fields_note = panel_note()
                self.dbn_status = gr.Markdown(status, label="DBN status", elem_id="boltzmann-dbn-status")
                self.dbn_note = panel_note()
        gr.Markdown("A stack of RBMs trained greedily. Sampling: Gibbs in the top RBM, then one pass down through p(v | h) of each layer.")
        self.dbn_gif = gr.Image(
            label="the top-level chain, passed down to pixels", height=330, interactive=False, elem_classes=["pixelated", "fill"], elem_id="boltzmann-dbn-gif",
        )
        with gr.Accordion("Stack a layer on your RBM: greedy layer-wise training, live", open=False):
            self._stack_layout()

    def _samples_layout(self, first: Any) -> None:
        rbm, dbn, quality = self.views.samples(first, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220):
                self.seed = seed_box("sample seed")
                self.resample = gr.Button("New samples", variant="primary", elem_id="boltzmann-resample")
            with gr.Column(scale=4):
                with gr.Row():
                    self.rbm_img = image_output("RBM fantasies", size=330, value=rbm, elem_id="boltzmann-rbm-samples")
                    self.dbn_img = image_output("DBN samples", size=330, value=dbn, elem_id="boltzmann-dbn-samples")
                gr.Markdown(
                    "RBM: 64 chains of its Gibbs steps from noise (1,000 for the bundled one), their means p(v = 1 | h). "
                    "DBN: Gibbs steps in the top RBM, then one pass down through each layer."
                )
                self.quality = gr.Markdown(quality, label="the classifier's reading", elem_id="boltzmann-quality")
                self.samples_note = panel_note()

    def _train_layout(self, first: Any) -> None:
        with gr.Row():
            self.n_hidden = slider(HIDDEN, f"hidden units (≤ {HIDDEN.high})")
            self.method = inputs.Radio(
                [("CD-k (Hinton 2002)", "CD"), ("persistent CD (Tieleman 2008)", "PCD")], value=TRAIN_DEFAULTS["method"], label="method",
            )
            self.k = slider(K, "k: Gibbs steps per update")
        with gr.Row():
            self.epochs = slider(EPOCHS, "epochs (passes over the training digits)", scale=2)
            self.momentum = slider(MOMENTUM, "momentum", step=0.01)
            self.weight_decay = inputs.Number(
                value=WEIGHT_DECAY.default, label=f"weight decay on W ({WEIGHT_DECAY.low:g} to {WEIGHT_DECAY.high:g})",
                minimum=WEIGHT_DECAY.low, maximum=WEIGHT_DECAY.high,
            )
        self.decay = inputs.Checkbox(value=TRAIN_DEFAULTS["decay"], label="learning rate decays linearly to 0 (Tieleman 2008)")
        self.training = TrainingPanel.build("boltzmann-train", None, LR, data_line=DataViews(self.ctx).line())
        with gr.Row():
            with gr.Column():
                self.filters_img = image_output(
                    "filters: each hidden unit's weights as a 28×28 image", size=330, value=self.views.filters(first), elem_id="boltzmann-filters",
                )
                self.filters_note = panel_note()
            with gr.Column():
                self.recon_img = image_output(
                    "test digits (top) and reconstructions (bottom)", size=150, value=self.views.reconstructions(first), elem_id="boltzmann-recon",
                )
                self.recon_note = panel_note()
        self.trained_img = image_output("fantasies of the trained RBM (1,000 Gibbs steps from noise)", size=300, elem_id="boltzmann-trained-samples")

    def _stack_layout(self) -> None:
        gr.Markdown(
            "The session's RBM (bundled, loaded or trained under Train an RBM) becomes layer 1, frozen; a new RBM learns "
            "the distribution of its hidden units' samples on the training digits. The result replaces the DBN here."
        )
        with gr.Row():
            self.s_hidden = slider(HIDDEN, "units in the new layer")
            self.s_epochs = slider(STACK_EPOCHS, "epochs")
            self.s_lr = inputs.Number(value=LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high)
        with gr.Row():
            self.s_decay = inputs.Checkbox(value=True, label="learning rate decays linearly to 0")
            self.s_seed = seed_box()
        with gr.Row():
            self.stack_btn = gr.Button("Stack and train layer 2", variant="primary", elem_id="boltzmann-stack")
            self.stack_stop = gr.Button("Stop", variant="stop", elem_id="boltzmann-stack-stop")
        self.stack_status = gr.Markdown(label="stacking status", elem_id="boltzmann-stack-status")
        with gr.Row():
            self.stack_fields = image_output("layer 2's units: W1·W2", size=300)
            self.stack_curves = gr.Plot(label="stacking curves")
        self.stack_samples = image_output("samples of the new DBN", size=300)

    def _energy_layout(self, first: Any) -> None:
        images, figure, table = self.views.energy(first, 0, SHIFT.default, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=340):
                self.e_img = image_output("digit · right · down · shuffled · noise · blank", size=110, value=images, elem_id="boltzmann-energy-images")
                self.e_index = index_box(self.ctx.data, "test digit")
                self.e_shift = slider(SHIFT, "shift (pixels)")
                self.e_seed = seed_box("seed (shuffle, noise)")
            with gr.Column(scale=3):
                self.e_plot = gr.Plot(figure, label="free energies, chart", elem_id="boltzmann-energy-plot")
                self.energy_note = panel_note()
                self.e_table = gr.Markdown(table, label="free energies and log p(v), table", elem_id="boltzmann-energy-table")
        bind_pick(digit_gallery(self.ctx.data, label="click a test digit"), self.e_index)
        gr.Markdown("#### Annealed importance sampling of log Z")
        with gr.Row():
            self.a_betas = slider(AIS_BETAS, "intermediate temperatures β", step=100)
            self.a_runs = slider(AIS_RUNS, "independent runs", step=10)
        with gr.Row():
            self.a_seed = seed_box()
            self.ais_btn = gr.Button("Estimate log Z", variant="primary", elem_id="boltzmann-ais-run")
        text, figure = self.views.estimate_shown(first)
        self.ais_note = panel_note()
        with gr.Row():
            self.ais_text = gr.Markdown(text, label="log Z and the test NLL", elem_id="boltzmann-ais-result")
            self.ais_plot = gr.Plot(figure, label="spread of the AIS weights")

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state, training = self.views, self.state, self.training
        changed = self.models.bind(views, state, API, which=self.which)
        trained = training.bind(
            self.ctx, views, TRAIN_KEY, state, views.train,
            [self.n_hidden, self.method, self.k, training.lr, self.epochs, self.momentum, self.weight_decay, self.decay, training.seed],
            [self.filters_img, self.recon_img, training.curves, self.trained_img], API,
        )
        stacked = bind_training(
            self.ctx, views, TRAIN_KEY, self.stack_btn, self.stack_stop, self.stack_status, state, views.stack,
            [self.s_hidden, self.s_epochs, self.s_lr, self.s_decay, self.s_seed], [self.stack_fields, self.stack_curves, self.stack_samples],
            f"{API}_stack", None,
        )
        panels = self.panels()
        models, samples, _, completion, dbn, fields, energy, ais, *_ = panels
        redraw_on([*changed, trained], panels)
        redraw_on([stacked], [models, samples, dbn, fields])
        self.bind_chrome(state)
        samples.on(self.resample.click, self.samples, [state, self.seed], api_name="boltzmann_samples")
        fields.on(self.layer.input, self.dbn_fields, [state, self.layer], [self.fields_img, self.fields_caption], api_name="boltzmann_dbn_fields")
        energy.on(
            [self.e_index.change, self.e_shift.input, self.e_seed.submit], self.energy, energy.inputs, api_name="boltzmann_energy",
            trigger_mode="always_last",
        )
        estimated = ais.on(
            self.ais_btn.click, self.ais, [state, self.a_betas, self.a_runs, self.a_seed], [state, self.ais_text, self.ais_plot, self.models.info],
            api_name="boltzmann_ais", concurrency_limit=2, concurrency_id="gibbs",
        )
        redraw_on([estimated], [energy])
        # Streams: a failure is a toast; a run that ends clears the note its panel's redraw may have left.
        self.run_btn.click(
            ui_handler(self.fantasies), [state, self.start, self.first, self.n_chains, self.steps, self.every, self.chain_seed],
            [self.states_img, self.means_img, self.chain_status, self.chain_gif], api_name="boltzmann_fantasies", **GIBBS,
        ).success(_clear, None, self.chains_note, api_visibility="private", show_progress="hidden")
        self.complete_btn.click(
            ui_handler(self.complete), completion.inputs, [self.complete_img, self.complete_text], api_name="boltzmann_complete", **GIBBS,
        ).success(_clear, None, completion.note, api_visibility="private", show_progress="hidden")
        self.dbn_btn.click(
            ui_handler(self.dbn_samples), [state, self.d_n, self.d_steps, self.d_every, self.d_start, self.d_seed],
            [self.dbn_grid, self.dbn_status, self.dbn_gif], api_name="boltzmann_dbn_samples", **GIBBS,
        ).success(_clear, None, dbn.note, api_visibility="private", show_progress="hidden")

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``)."""
        return {"energy": self.panels()[6]}

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs: the models'
        description and download, the page's samples, the Fantasies, Completion and DBN
        panels, the DBN's units, the energy view, the NLL estimate, filters and
        reconstructions."""
        views, state = self.views, self.state
        completion = [state, self.c_first, self.c_digits, self.c_rows, self.c_samples, self.c_steps, self.c_seed]
        return [
            self.models.panel(views, state, which=self.which),
            Panel(views.samples, [state, self.seed], [self.rbm_img, self.dbn_img, self.quality], self.samples_note),
            Panel(self._redraw_chains, [state], [self.states_img, self.means_img, self.chain_status, self.chain_gif], self.chains_note),
            Panel(views.completion, completion, [self.complete_img, self.complete_text], self.complete_note),
            Panel(self._redraw_dbn, [state], [self.dbn_grid, self.dbn_status, self.dbn_gif], self.dbn_note),
            Panel(self._redraw_fields, [state, self.layer], [self.layer, self.fields_img, self.fields_caption], self.fields_note),
            Panel(self.energy, [state, self.e_index, self.e_shift, self.e_seed], [self.e_img, self.e_plot, self.e_table], self.energy_note),
            Panel(views.estimate_shown, [state], [self.ais_text, self.ais_plot], self.ais_note),
            Panel(views.filters, [state], [self.filters_img], self.filters_note),
            Panel(views.reconstructions, [state], [self.recon_img], self.recon_note),
        ]


def _clear() -> str:
    return ""
