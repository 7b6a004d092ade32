"""The warm-up tab: layout and thin handlers over ``playground.views.warmup`` (sampling a
Gaussian by Box-Muller, maximum likelihood, Gaussian mixtures by EM) and, through
``warmup_digits.DigitPages``, over ``playground.views.warmup_digits`` (probabilistic PCA,
a Bernoulli mixture and an autoencoder against a VAE on the digits).

It has no checkpoint to load, so its header is the plain one: How it works and the tour.
Each page opens alive: its first figures are computed when the app is built (the default
Bernoulli mixture is fitted then, about 1.3 s once per process). Every handler answers in about a
second or streams, so Gradio's progress overlay is hidden on the quick ones: on an error
it would otherwise cover the figures, where the toast and the panel's note say what went
wrong and the figures stay.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from playground.core import toy2d
from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.tabs.warmup_digits import DigitPages
from playground.ui.widgets import Panel, PointsBox, how_it_works, panel_note, seed_box, slider, ui_handler
from playground.views.warmup import BIC_K, BM_POINTS, CARD, COVARIANCES, DIMS, EM_STEPS, GMM_K, GMM_SOURCES, INITS, MLE_POINTS, MLE_SOURCES, MU, RESTARTS, RHO, SIGMA, TOUR, WarmupViews

API = "wu"
GMM_KEY = "wu-gmm-run"  # one EM run at a time per session; Stop sets its flag
QUIET = {"show_progress": "hidden"}
PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}
HEADLINE = "**Before any network**: sample and fit Gaussians, mixtures by EM, a linear latent model of the digits."
HINT = ("Pick the brush on the pad's left, draw, then press **Use my drawing**: the pad maps onto the square [-2, 2]². "
        "CSV points are centred and scaled to fill it; 1-D data uses x only.")
PARAMS = ("mu_x", "sigma_x", "mu_y", "sigma_y", "rho")
POINT_KINDS = {  # the view's kind: (API suffix, name of its value on the API page, what it takes)
    "drawn": ("draw", "sketch", "the points drawn on the sketchpad (a Sketchpad value: its black ink, sampled)"),
    "csv_file": ("load_csv", "file", f"an uploaded CSV file (two numeric columns x, y; a header row is allowed; at most {toy2d.MAX_POINTS:,} rows)"),
    "csv_text": ("paste_csv", "text", "CSV given as text (one point per line, x and y separated by a comma)"),
}



def bind_points(box: PointsBox, panel: Panel, handler: Callable[[str], Callable], inputs: list, outputs: list, api: str) -> None:
    """Each way of giving points of ``box`` runs ``handler(kind)`` (kind: the view's "drawn",
    "csv_file" or "csv_text") on its value and ``inputs``, as ``{api}_draw``,
    ``{api}_load_csv`` and ``{api}_paste_csv``."""
    for kind, (trigger, value) in box.ways().items():
        panel.on(trigger, handler(kind), [inputs[0], value, *inputs[1:]], outputs, api_name=f"{api}_{POINT_KINDS[kind][0]}", **QUIET)


def _named(fn: Callable, kind: str, what: str) -> Callable:
    """``fn`` (whose second parameter is ``points``) named and documented for the API page
    as the way of giving points ``kind``."""
    suffix, name, takes = POINT_KINDS[kind]
    signature = inspect.signature(fn)
    fn.__signature__ = signature.replace(parameters=[p.replace(name=name) if p.name == "points" else p for p in signature.parameters.values()])
    fn.__name__, fn.__doc__ = suffix, f"Use {takes} as the data of the {what}, as the source \"{'drawn' if kind == 'drawn' else 'csv'}\". {fn.__doc__}"
    return fn


class WarmupTab(DigitPages, Tab):
    """The warm-up tab (see the module docstring)."""

    views_class = WarmupViews
    card, tour, explain_tab = CARD, TOUR, "wu-explain"

    # -- Box-Muller ----------------------------------------------------------------------------------
    def box_muller(self, n: Any = BM_POINTS.default, seed: Any = 0) -> Iterator[tuple]:
        """Stream n points (100 to 20,000) of Box-Muller's transform of seeded uniforms (seed 0 to 2^31 - 1), about 8 frames: the unit square of (U1, U2), the plane of (X, Y) coloured by the angle, and the histograms of X and Y against the N(0, 1) density. Returns the figure and a note (means, standard deviations, the Kolmogorov-Smirnov test of X)."""
        yield from self.views.box_muller(n, seed)

    def box_muller_final(self, n: Any = BM_POINTS.default, seed: Any = 0) -> tuple:
        """The last frame of wu_box_muller at once (n points, 100 to 20,000; seed 0 to 2^31 - 1): the figure and the note."""
        return self.views.box_muller_final(n, seed)

    # -- maximum likelihood ------------------------------------------------------------------------------
    def mle(self, state: Any, mu_x: Any = MU.default, sigma_x: Any = SIGMA.default, mu_y: Any = MU.default, sigma_y: Any = SIGMA.default, rho: Any = RHO.default) -> tuple:
        """The session's data under a Gaussian with these parameters (μ in -3 to 3, σ in 0.05 to 3, ρ in -0.95 to 0.95; μy, σy and ρ are read for 2-D data only). Returns the data figure (histogram or scatter with the curve or ellipses, and the MLE's dashed), the log-likelihood surface over (μx, σx), and a note (average log-likelihood in nats per point, and the MLE's)."""
        return self.views.mle_view(self.views.session(state), mu_x, sigma_x, mu_y, sigma_y, rho)

    def mle_data(
        self, state: Any, source: Any = "gaussian", dims: Any = "1-D", n: Any = MLE_POINTS.default, seed: Any = 0, mu_x: Any = MU.default,
        sigma_x: Any = SIGMA.default, mu_y: Any = MU.default, sigma_y: Any = SIGMA.default, rho: Any = RHO.default,
    ) -> tuple:
        """New data for maximum likelihood: source (gaussian, skewed, two bumps, ring, drawn or csv; the last two need points given first with wu_mle_draw, wu_mle_load_csv or wu_mle_paste_csv), dims ("1-D" or "2-D"), n points (2 to 5,000) and the seed (0 to 2^31 - 1); then drawn as wu_mle draws it with the parameters. Returns the session, the two figures and the note."""
        session = self.views.mle_data(self.views.session(state), source, dims, n, seed)
        return session, *self.views.mle_view(session, mu_x, sigma_x, mu_y, sigma_y, rho)

    def mle_fit(self, state: Any) -> tuple:
        """Jump to the maximum-likelihood estimate of the session's data. Returns the parameters mu_x, sigma_x, mu_y, sigma_y, rho (clipped to the sliders' ranges, the note says when), the two figures and the note."""
        session = self.views.session(state)
        fitted = self.views.mle_fit(session)
        values = [round(fitted[name], 3) for name in PARAMS]  # 3 decimals in the slider boxes; the note gives the gap to the exact MLE
        return (*values, *self.views.mle_view(session, *values))

    def _mle_points(self, kind: str) -> Callable:
        def points(
            state: Any, points: Any = None, dims: Any = "1-D", n: Any = MLE_POINTS.default, seed: Any = 0, mu_x: Any = MU.default,
            sigma_x: Any = SIGMA.default, mu_y: Any = MU.default, sigma_y: Any = SIGMA.default, rho: Any = RHO.default,
        ) -> tuple:
            """Returns the session, the source menu's new value, the two figures and the note."""
            session = self.views.mle_points(self.views.session(state), kind, points)
            source = "drawn" if kind == "drawn" else "csv"
            session, *shown = self.mle_data(session, source, dims, n, seed, mu_x, sigma_x, mu_y, sigma_y, rho)
            return session, source, *shown

        return _named(points, kind, "maximum-likelihood panel")

    # -- Gaussian mixture ----------------------------------------------------------------------------------
    def gmm_reset(self, state: Any, source: Any = "ring", k: Any = GMM_K.default, covariance: Any = "full", init: Any = "k-means++", seed: Any = 0) -> tuple:
        """Start EM again: data source (ring, grid, blobs, drawn or csv; the last two need points given first with wu_gmm_draw, wu_gmm_load_csv or wu_gmm_paste_csv), K components (1 to 10, at most the number of points), covariance (full, diag or spherical), init (k-means++ or random) and seed (0 to 2^31 - 1). Returns the session, the figure (points coloured by responsibility, ellipses at 1σ and 2σ), the log-likelihood curve and the note."""
        session, frame = self.views.gmm_reset(self.views.session(state), source, k, covariance, init, seed)
        return session, *frame

    def gmm_e(self, state: Any) -> tuple:
        """One E step: every point's responsibilities under the current components. Returns the session, the figure, the curve and the note."""
        session = self.views.session(state)
        return session, *self.views.gmm_step(session, "E")

    def gmm_m(self, state: Any) -> tuple:
        """One M step: weights, means and covariances from the responsibilities (an E step first when none was made). Returns the session, the figure, the curve and the note."""
        session = self.views.session(state)
        return session, *self.views.gmm_step(session, "M")

    def gmm_run(self, session: Any, steps: Any = EM_STEPS.default, *, stop: Any) -> Iterator[tuple]:
        """Run 1 to 200 EM iterations (E then M), streamed, until the log-likelihood gains less than 1e-4 nats per point; wu_gmm_stop ends it. Returns the session, the figure, the curve and the note."""
        yield from self.views.gmm_run(session, steps, stop=stop.is_set)

    def gmm_restarts(self, state: Any, n: Any = RESTARTS.default) -> tuple:
        """n seeded starts (1 to 10) run to convergence; the best training log-likelihood is kept and the note lists each start's. Returns the session, the figure, the curve and the note."""
        session = self.views.session(state)
        return session, *self.views.gmm_restarts(session, n)

    def gmm_bic(self, state: Any, k_max: Any = BIC_K.default) -> tuple:
        """The Bayesian information criterion and the log-likelihood of mixtures with K = 1 to k_max (1 to 10) components, fitted to the session's data with its covariance type, each the best of 2 k-means++ starts; the best K is marked. Returns the figure and a note."""
        return self.views.gmm_bic(self.views.session(state), k_max)

    def _gmm_points(self, kind: str) -> Callable:
        def points(state: Any, points: Any = None, k: Any = GMM_K.default, covariance: Any = "full", init: Any = "k-means++", seed: Any = 0) -> tuple:
            """Then EM starts again on them as wu_gmm_reset does. Returns the session, the source menu's new value, the figure, the curve and the note."""
            session = self.views.gmm_points(self.views.session(state), kind, points)
            source = "drawn" if kind == "drawn" else "csv"
            session, *frame = self.gmm_reset(session, source, k, covariance, init, seed)
            return session, source, *frame

        return _named(points, kind, "Gaussian-mixture panel")

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.plain_header("wu", HEADLINE)
        pages = self.pages([
            ("Box-Muller", "wu-boxmuller", self._bm_layout),
            ("Maximum likelihood", "wu-mle", lambda: self._mle_layout(first)),
            ("Gaussian mixture (EM)", "wu-gmm", lambda: self._gmm_layout(first)),
            *self.digit_pages(),
            ("How it works", "wu-explain", lambda: how_it_works("warmup")),
        ])
        self._bind()
        self.bind_digits(pages)
        self.bind_chrome(self.state)

    def _bm_layout(self) -> None:
        figure, note = self.views.box_muller_final(BM_POINTS.default, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=600):
                # The figure's panels name themselves: no label above it.
                self.bm_plot = gr.Plot(figure, label="Box-Muller: uniforms to Gaussians", show_label=False, elem_id="wu-bm-plot")
            with gr.Column(scale=1, min_width=240):
                self.bm_run = gr.Button("▶ Stream points", variant="primary", elem_id="wu-bm-run")
                self.bm_n = slider(BM_POINTS, "points", step=100, elem_id="wu-bm-n")
                self.bm_seed = seed_box("generator seed", elem_id="wu-bm-seed")
                self.bm_note = panel_note()
                self.bm_text = gr.Markdown(note, label="the sample's statistics", show_label=False, elem_id="wu-bm-text")

    def _mle_layout(self, first: Any) -> None:
        data_fig, surface_fig, note = self.views.mle_view(first, MU.default, SIGMA.default, MU.default, SIGMA.default, RHO.default)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=340):
                self.m_data_plot = gr.Plot(data_fig, label="the data and the Gaussian", show_label=False, elem_id="wu-mle-plot")
            with gr.Column(scale=3, min_width=320):
                self.m_surface = gr.Plot(surface_fig, label="log-likelihood surface", show_label=False, elem_id="wu-mle-surface")
            with gr.Column(scale=3, min_width=300):
                with gr.Row(equal_height=True):
                    self.m_source = inputs.Dropdown(list(MLE_SOURCES), value="gaussian", label="data", min_width=110, elem_id="wu-mle-source")
                    self.m_dims = inputs.Dropdown(list(DIMS), value="1-D", label="dimensions", min_width=80, elem_id="wu-mle-dims")
                    self.m_new = gr.Button("New data", min_width=70, scale=0, elem_id="wu-mle-new")
                with gr.Accordion("points and seed (New data)", open=False), gr.Row(equal_height=True):
                    self.m_n = slider(MLE_POINTS, "points", min_width=120, elem_id="wu-mle-n")
                    self.m_seed = seed_box(min_width=70, elem_id="wu-mle-seed")
                with gr.Row():
                    self.m_mu_x = slider(MU, "μ (x)", step=0.01, min_width=110, elem_id="wu-mle-mu-x")
                    self.m_sigma_x = slider(SIGMA, "σ (x)", step=0.01, min_width=110, elem_id="wu-mle-sigma-x")
                with gr.Row():
                    self.m_mu_y = slider(MU, "μ (y)", step=0.01, visible=False, min_width=110, elem_id="wu-mle-mu-y")
                    self.m_sigma_y = slider(SIGMA, "σ (y)", step=0.01, visible=False, min_width=110, elem_id="wu-mle-sigma-y")
                    self.m_rho = slider(RHO, "ρ", step=0.01, visible=False, min_width=110, elem_id="wu-mle-rho")
                self.m_fit = gr.Button("Jump to the MLE", variant="primary", elem_id="wu-mle-fit")
        self.m_note = panel_note()
        self.m_text = gr.Markdown(note, label="average log-likelihood", show_label=False, elem_id="wu-mle-text")
        self.m_points = PointsBox.build("wu-mle", hint=HINT)

    def _gmm_layout(self, first: Any) -> None:
        frame = self.views.gmm_reset(first, "ring", GMM_K.default, "full", "k-means++", 0)[1]
        bic, bic_note = self.views.gmm_bic(first, BIC_K.default)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=420):
                self.g_plot = gr.Plot(frame.figure, label="points coloured by responsibility", show_label=False, elem_id="wu-gmm-plot")
            with gr.Column(scale=3, min_width=300):
                self.g_curve = gr.Plot(frame.curve, label="log-likelihood per EM step", show_label=False, elem_id="wu-gmm-curve")
                self.g_note = panel_note(elem_id="wu-gmm-note")
                self.g_status = gr.Markdown(frame.note, label="EM's state", show_label=False, elem_id="wu-gmm-status")
            with gr.Column(scale=3, min_width=280):
                self._gmm_controls()
        with gr.Accordion("Restarts, seed and BIC (choose K)", open=True), gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                self.g_seed = seed_box("seed (of the first start)", elem_id="wu-gmm-seed")
                with gr.Row(equal_height=True):
                    self.g_restarts = slider(RESTARTS, "restarts", min_width=120, elem_id="wu-gmm-restarts")
                    self.g_restart_btn = gr.Button("Restarts", min_width=90, scale=0, elem_id="wu-gmm-restart")
                with gr.Row(equal_height=True):
                    self.g_kmax = slider(BIC_K, "largest K tried", min_width=120, elem_id="wu-gmm-kmax")
                    self.g_bic_btn = gr.Button("BIC", min_width=90, scale=0, elem_id="wu-gmm-bic")
                self.g_bic_note = panel_note()
                self.g_bic_text = gr.Markdown(bic_note, label="the best K", show_label=False, elem_id="wu-gmm-bic-text")
            with gr.Column(scale=2, min_width=360):
                self.g_bic_plot = gr.Plot(bic, label="BIC and log-likelihood against K", show_label=False, elem_id="wu-gmm-bic-plot")
        self.g_points = PointsBox.build("wu-gmm", hint=HINT)

    def _gmm_controls(self) -> None:
        with gr.Row():
            self.g_source = inputs.Dropdown(list(GMM_SOURCES), value="ring", label="data", min_width=110, elem_id="wu-gmm-source")
            self.g_k = slider(GMM_K, "K", min_width=130, elem_id="wu-gmm-k")
        with gr.Row():
            self.g_cov = inputs.Dropdown(list(COVARIANCES), value="full", label="covariance", min_width=110, elem_id="wu-gmm-cov")
            self.g_init = inputs.Dropdown(list(INITS), value="k-means++", label="init", min_width=110, elem_id="wu-gmm-init")
        with gr.Row():
            self.g_reset = gr.Button("Reset", min_width=60, elem_id="wu-gmm-reset")
            self.g_e = gr.Button("E step", min_width=60, elem_id="wu-gmm-e")
            self.g_m = gr.Button("M step", min_width=60, elem_id="wu-gmm-m")
        self.g_steps = slider(EM_STEPS, "EM iterations", elem_id="wu-gmm-steps")
        with gr.Row():
            self.g_run = gr.Button("▶ Run", variant="primary", min_width=70, elem_id="wu-gmm-run")
            self.g_stop = gr.Button("Stop", variant="stop", min_width=60, elem_id="wu-gmm-stop")

    # -- events ------------------------------------------------------------------------------------------
    def _bind(self) -> None:
        state = self.state
        bm, mle, gmm, bic = self.panels()
        self.bm_run.click(ui_handler(self.box_muller), [self.bm_n, self.bm_seed], bm.outputs, api_name=f"{API}_box_muller", show_progress="minimal")
        bm.on([self.bm_n.release, self.bm_seed.submit], self.box_muller_final, bm.inputs, api_name=f"{API}_box_muller_final", trigger_mode="always_last", **QUIET)
        params = [self.m_mu_x, self.m_sigma_x, self.m_mu_y, self.m_sigma_y, self.m_rho]
        mle.on([s.input for s in params], self.mle, mle.inputs, api_name=f"{API}_mle", trigger_mode="always_last", **QUIET)
        data_in = [state, self.m_source, self.m_dims, self.m_n, self.m_seed, *params]
        mle.on([self.m_new.click, self.m_source.input, self.m_dims.input], self.mle_data, data_in, [state, *mle.outputs], api_name=f"{API}_mle_data", **QUIET)
        self.m_dims.change(lambda dims: [gr.update(visible=dims == "2-D")] * 3, self.m_dims, params[2:], **PRIVATE)
        mle.on(self.m_fit.click, self.mle_fit, [state], [*params, *mle.outputs], api_name=f"{API}_mle_fit", **QUIET)
        bind_points(self.m_points, mle, self._mle_points, [state, self.m_dims, self.m_n, self.m_seed, *params], [state, self.m_source, *mle.outputs], f"{API}_mle")
        settings = [self.g_k, self.g_cov, self.g_init, self.g_seed]
        gmm.on(self.g_reset.click, self.gmm_reset, gmm.inputs, api_name=f"{API}_gmm_reset", **QUIET)
        # Another dataset, K, covariance or init is another mixture: start it at once.
        gmm.on([self.g_source.input, self.g_k.release, self.g_cov.input, self.g_init.input], self.gmm_reset, gmm.inputs, api_visibility="private", **QUIET)
        gmm.on(self.g_e.click, self.gmm_e, [state], api_name=f"{API}_gmm_e", trigger_mode="always_last", **QUIET)
        gmm.on(self.g_m.click, self.gmm_m, [state], api_name=f"{API}_gmm_m", trigger_mode="always_last", **QUIET)
        bind_training(
            self.ctx, self.views, GMM_KEY, self.g_run, self.g_stop, self.g_status, state, self.gmm_run, [self.g_steps], gmm.outputs[1:],
            f"{API}_gmm_run", f"{API}_gmm_stop", concurrency_limit=4, concurrency_id="wu-gmm-run", **QUIET,
        )
        gmm.on(self.g_restart_btn.click, self.gmm_restarts, [state, self.g_restarts], api_name=f"{API}_gmm_restarts", show_progress="minimal")
        bic.on(self.g_bic_btn.click, self.gmm_bic, bic.inputs, api_name=f"{API}_gmm_bic", show_progress="minimal")
        bind_points(self.g_points, gmm, self._gmm_points, [state, *settings], [state, self.g_source, *gmm.outputs[1:]], f"{API}_gmm")

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``): the mixture started again
        and run to convergence, and the digits' panels."""
        gmm = self.panels()[2]
        return {"gmm": Panel(self._gmm_converged, [*gmm.inputs, self.g_steps], gmm.outputs, gmm.note), **self.digit_tour_panels()}

    def _gmm_converged(self, state: Any, source: Any, k: Any, covariance: Any, init: Any, seed: Any, steps: Any) -> tuple:
        """The mixture started again and run to convergence (at most ``steps`` iterations)."""
        session, *shown = self.gmm_reset(state, source, k, covariance, init, seed)
        for shown in self.views.gmm_run(session, steps):
            pass
        return session, *shown

    def panels(self) -> list[Panel]:
        """The tab's own panels (Box-Muller, maximum likelihood, the mixture, BIC), each
        redrawn from its own inputs."""
        state = self.state
        params = [self.m_mu_x, self.m_sigma_x, self.m_mu_y, self.m_sigma_y, self.m_rho]
        return [
            Panel(self.box_muller_final, [self.bm_n, self.bm_seed], [self.bm_plot, self.bm_text], self.bm_note),
            Panel(self.mle, [state, *params], [self.m_data_plot, self.m_surface, self.m_text], self.m_note),
            Panel(self.gmm_reset, [state, self.g_source, self.g_k, self.g_cov, self.g_init, self.g_seed], [state, self.g_plot, self.g_curve, self.g_status], self.g_note),
            Panel(self.gmm_bic, [state, self.g_kmax], [self.g_bic_plot, self.g_bic_text], self.g_bic_note),
        ]
