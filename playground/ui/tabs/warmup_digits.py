"""The warm-up tab's pages on the digits: probabilistic PCA (components, variance explained,
sliders over z that decode Wz + μ, samples and reconstructions), a mixture of Bernoullis
fitted by EM (streamed, with Stop) and an autoencoder against a VAE (latent scatters, decodes
of a latent grid, interpolation, both trained side by side with Stop). Layout and thin
handlers over ``playground.views.warmup_digits``, mixed into ``warmup.WarmupTab`` (so the
tour reaches these controls as the tab's attributes).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import bind_training
from playground.ui.widgets import Panel, image_output, index_box, panel_note, redraw_on, seed_box, slider
from playground.views.warmup_digits import BMM_ITERS, BMM_K, N_SLIDERS, PAIR_STEPS, PPCA_K, SIGMA2, Z

API = "wu"
QUIET = {"show_progress": "hidden"}
BMM_KEY, PAIR_KEY = "wu-bmm-fit", "wu-aevae-train"  # one run of each at a time per session; Stop sets its flag


def _z_signature(*first: tuple[str, Any]) -> Callable[[Any], Any]:
    """Show ``fn(self, <first>, *z)`` on the API page as ``(<first>, z1, ..., zN)`` (N_SLIDERS floats);
    ``first``: (name, default) pairs."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD

    def named(fn: Any) -> Any:
        params = [inspect.Parameter(name, kind, default=default) for name, default in first]
        fn.__signature__ = inspect.Signature([*params, *(inspect.Parameter(f"z{i}", kind, default=Z.default) for i in range(1, N_SLIDERS + 1))])
        return fn

    return named


class DigitPages:
    """The digits' pages of the warm-up tab: their layout, handlers and panels (a mixin
    of ``WarmupTab``, whose ``views.digits`` they use, with a ``gr.State`` of their own)."""

    # -- probabilistic PCA -----------------------------------------------------------------------------
    @_z_signature(("k", PPCA_K.default), ("sigma2", "ML"), ("seed", 0))
    def ppca(self, k: Any = PPCA_K.default, sigma2: Any = "ML", seed: Any = 0, *z: Any) -> tuple:
        """Probabilistic PCA with K components (1 to 64) fitted in closed form on the train digits (grey, in [0, 1]), σ² "ML" (maximum likelihood) or fixed ("0.01", "0.001", "0.0001", "0.000001": σ² → 0 is PCA). Returns the mean and the first principal directions as images (grey = 0), the variance explained (per component and cumulative), a note (σ², the TEST log-likelihood in nats per image: a continuous density on grey pixels, not comparable with the binarised NLLs of the other tabs), 8 test digits beside their reconstructions, the decode Wz + μ of z1..z6 (each -3 to 3) and 16 samples drawn with the seed (0 to 2^31 - 1)."""
        digits = self.views.digits
        components, variance, note = digits.ppca(k, sigma2)
        return components, variance, note, digits.ppca_reconstructions(k, sigma2), digits.ppca_decode(k, list(z), sigma2), digits.ppca_samples(k, seed, sigma2)

    @_z_signature(("k", PPCA_K.default), ("sigma2", "ML"))
    def ppca_decode(self, k: Any = PPCA_K.default, sigma2: Any = "ML", *z: Any) -> Any:
        """Decode Wz + μ of the PPCA with K components (1 to 64) and σ² (as in wu_ppca), the first z's given (each -3 to 3), the others 0. Returns the picture."""
        return self.views.digits.ppca_decode(k, list(z), sigma2)

    def ppca_samples(self, k: Any = PPCA_K.default, seed: Any = 0, sigma2: Any = "ML") -> Any:
        """16 samples Wz + μ + noise of the PPCA with K components (1 to 64) and σ² (as in wu_ppca), and their noiseless means, drawn with the seed (0 to 2^31 - 1). Returns the picture."""
        return self.views.digits.ppca_samples(k, seed, sigma2)

    # -- the Bernoulli mixture ---------------------------------------------------------------------------
    def bmm_fit(self, session: Any, k: Any = BMM_K.default, iters: Any = BMM_ITERS.default, seed: Any = 0, *, stop: Any) -> Iterator[tuple]:
        """Fit a mixture of K Bernoullis (10 to 100) by EM on the binarised train digits for 1 to 100 iterations (seed 0 to 2^31 - 1), streamed; wu_bmm_stop ends it. Returns the session, the component means, the train log-likelihood per iteration and a note with the exact TEST NLL in nats per image (comparable with the other tabs' binarised NLLs)."""
        digits = self.views.digits
        for session, means, curve, note in digits.bmm_fit(session, k, iters, seed):
            if stop.is_set():  # the session keeps the mixture it had: show that one again
                means, curve, kept = digits.bmm_view(session)
                yield means, curve, f"**Stopped** before the fit ended: the session keeps its mixture, shown here.  \n{kept}"
                return
            yield means, curve, note

    def bmm_samples(self, state: Any, seed: Any = 0) -> Any:
        """16 binary samples of the session's Bernoulli mixture (seed 0 to 2^31 - 1) and its component means. Returns the picture."""
        return self.views.digits.bmm_samples(self.views.digits.session(state), seed)

    # -- autoencoder against VAE ------------------------------------------------------------------------
    def aevae_grids(self, state: Any) -> tuple:
        """The session's autoencoder and VAE (both with a 2-D latent): the test digits' codes side by side (coloured by label), decodes of a 12 x 12 grid of latent points and of prior draws for each, and a note on what to look for. Returns the scatters, the AE's picture, the VAE's picture and the note."""
        session = self.views.digits.session(state)
        return self.views.digits.latent_scatters(session), *self.views.digits.latent_grids(session)

    def aevae_interpolate(self, state: Any, a: Any = 0, b: Any = 1) -> Any:
        """Decodes along the straight line between the latent codes of test digits a and b (indices), for the AE (top row) and the VAE (bottom row). Returns the picture."""
        return self.views.digits.interpolate(self.views.digits.session(state), a, b)

    def aevae_train(self, session: Any, steps: Any = PAIR_STEPS.default, seed: Any = 0, *, stop: Any) -> Iterator[tuple]:
        """Train a new autoencoder (β = 0) and VAE (β = 1), same conv networks with a 2-D latent, same initial weights and batches (seed 0 to 2^31 - 1), taking turns, for 50 to 3,000 steps each; wu_aevae_stop ends both within a step and keeps the weights reached. Streams the status, the curves (AE reconstruction and VAE −ELBO, nats per image) and both scatters about every second; at the end the pair drives the scatters, grids and interpolation of this session."""
        yield from self.views.digits.train_pair(session, steps, seed, stop=stop)

    # -- layout --------------------------------------------------------------------------------------
    def digit_pages(self) -> list[tuple]:
        """The pages (title, id, fill) of the digits, for ``Tab.pages``."""
        self.d_state = gr.State(None)
        first = self.views.digits.session(None)
        return [
            ("PPCA on digits", "wu-ppca", self._ppca_layout),
            ("Bernoulli mixture", "wu-bmm", self._bmm_layout),
            ("AE vs VAE", "wu-aevae", lambda: self._aevae_layout(first)),
        ]

    def _ppca_layout(self) -> None:
        k = PPCA_K.default
        components, variance, note, recon, decoded, samples = self.ppca(k, "ML", 0, *[Z.default] * N_SLIDERS)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=380):
                self.ppca_components = image_output("the mean, then the principal directions (grey = 0)", size=125, value=components, elem_id="wu-ppca-components")
                self.ppca_variance = gr.Plot(variance, label="variance explained", show_label=False, elem_id="wu-ppca-variance")
            with gr.Column(scale=2, min_width=220):
                self.ppca_image = image_output("Wz + μ", size=250, value=decoded, elem_id="wu-ppca-decode")
                self.ppca_z_note = panel_note()
                self.ppca_recon = image_output("test digits (top), reconstructions", size=120, value=recon, elem_id="wu-ppca-recon")
            with gr.Column(scale=3, min_width=280):
                with gr.Row():
                    self.ppca_k = slider(PPCA_K, "K (components)", min_width=160, scale=2, elem_id="wu-ppca-k")
                    self.ppca_sigma2 = inputs.Dropdown(list(SIGMA2), value="ML", label="σ² (→ 0: PCA)", min_width=120, scale=1, elem_id="wu-ppca-sigma2")
                self.ppca_z = []
                for row in range(0, N_SLIDERS, 2):
                    with gr.Row():
                        self.ppca_z += [slider(Z, f"z{i + 1}", step=0.05, min_width=100, elem_id=f"wu-ppca-z{i + 1}") for i in range(row, min(row + 2, N_SLIDERS))]
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                self.ppca_note = panel_note()
                self.ppca_text = gr.Markdown(note, label="the fit", show_label=False, elem_id="wu-ppca-text")
            with gr.Column(scale=3, min_width=300):
                self.ppca_samples_img = image_output("samples Wz + μ + σε | their means Wz + μ", size=220, value=samples, elem_id="wu-ppca-samples")
                self.ppca_samples_note = panel_note()
            with gr.Column(scale=1, min_width=160):
                self.ppca_seed = seed_box("sample seed", elem_id="wu-ppca-seed")
                self.ppca_resample = gr.Button("New samples", elem_id="wu-ppca-resample")

    def _bmm_layout(self) -> None:
        means, curve, note = self.views.digits.bmm_view(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                self.bmm_means = image_output("the components' means (pixel-on probabilities), by weight", size=230, value=means, elem_id="wu-bmm-means")
                self.bmm_samples_img = image_output("16 binary samples | the means", size=200, value=self.views.digits.bmm_samples(None, 0), elem_id="wu-bmm-samples")
            with gr.Column(scale=3, min_width=320):
                self.bmm_curve = gr.Plot(curve, label="train log-likelihood per EM iteration", show_label=False, elem_id="wu-bmm-curve")
                self.bmm_status = gr.Markdown(note, label="the fit", show_label=False, elem_id="wu-bmm-status")
            with gr.Column(scale=2, min_width=240):
                self.bmm_k = slider(BMM_K, "K: components", elem_id="wu-bmm-k")
                self.bmm_iters = slider(BMM_ITERS, "EM iterations", elem_id="wu-bmm-iters")
                self.bmm_seed = seed_box(elem_id="wu-bmm-seed")
                with gr.Row():
                    self.bmm_fit_btn = gr.Button("▶ Fit", variant="primary", min_width=70, elem_id="wu-bmm-fit")
                    self.bmm_stop = gr.Button("Stop", variant="stop", min_width=60, elem_id="wu-bmm-stop")
                self.bmm_resample = gr.Button("New samples", size="sm", elem_id="wu-bmm-resample")
                self.bmm_note = panel_note()

    def _aevae_layout(self, first: Any) -> None:
        scatters = self.views.digits.latent_scatters(first)
        ae, vae, note = self.views.digits.latent_grids(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=420):
                self.aevae_scatter = gr.Plot(scatters, label="test digits' codes: AE | VAE", show_label=False, elem_id="wu-aevae-scatter")
            with gr.Column(scale=2, min_width=220):
                self.aevae_ae = image_output("AE: decodes of its latent grid", size=420, value=ae, elem_id="wu-aevae-ae")
            with gr.Column(scale=2, min_width=220):
                self.aevae_vae = image_output("VAE: decodes of [-3, 3]²", size=420, value=vae, elem_id="wu-aevae-vae")
        self.aevae_note = panel_note()
        self.aevae_text = gr.Markdown(note, label="what to look for", show_label=False, elem_id="wu-aevae-text")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                with gr.Row():
                    self.aevae_a = index_box(self.ctx.data, "digit a", 0, min_width=110, elem_id="wu-aevae-a")
                    self.aevae_b = index_box(self.ctx.data, "digit b", 1, min_width=110, elem_id="wu-aevae-b")
                self.aevae_lerp_btn = gr.Button("Interpolate", elem_id="wu-aevae-interpolate")
            with gr.Column(scale=3):
                self.aevae_lerp = image_output("a → b: AE (top), VAE (bottom)", size=150, value=self.views.digits.interpolate(first, 0, 1), elem_id="wu-aevae-lerp")
                self.aevae_lerp_note = panel_note()
        with gr.Accordion("Train both here (same conv networks, latent 2; the AE is the VAE with β = 0)", open=False):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    self.aevae_steps = slider(PAIR_STEPS, "steps (each)", step=50, elem_id="wu-aevae-steps")
                    self.aevae_seed = seed_box(elem_id="wu-aevae-seed")
                    with gr.Row():
                        self.aevae_train_btn = gr.Button("Train both", variant="primary", min_width=90, elem_id="wu-aevae-train")
                        self.aevae_stop = gr.Button("Stop", variant="stop", min_width=60, elem_id="wu-aevae-stop")
                    self.aevae_status = gr.Markdown("Press **Train both**: the scatters update every second.", label="training status", show_label=False, elem_id="wu-aevae-status")
                with gr.Column(scale=3):
                    self.aevae_curves = gr.Plot(label="AE reconstruction and VAE −ELBO", show_label=False, elem_id="wu-aevae-curves")

    # -- events ------------------------------------------------------------------------------------------
    def bind_digits(self, pages: dict[str, gr.Tab]) -> None:
        """Bind the digits' pages (``pages``: the tab's sub-tabs by id)."""
        views, d_state = self.views.digits, self.d_state
        ppca, decode, samples, bmm_samples, grids, lerp = self.digit_panels()
        # A new K or σ² redraws the whole page (the fit, the decode, the samples); a z slider only its decode.
        ppca.on([self.ppca_k.release, self.ppca_sigma2.input], self.ppca, ppca.inputs, api_name=f"{API}_ppca", trigger_mode="always_last", show_progress="minimal")
        decode.on([z.input for z in self.ppca_z], self.ppca_decode, decode.inputs, api_name=f"{API}_ppca_decode", trigger_mode="always_last", **QUIET)
        samples.on(self.ppca_resample.click, self.ppca_samples, samples.inputs, api_name=f"{API}_ppca_samples", trigger_mode="always_last", **QUIET)
        fitted = bind_training(
            self.ctx, views, BMM_KEY, self.bmm_fit_btn, self.bmm_stop, self.bmm_status, d_state, self.bmm_fit, [self.bmm_k, self.bmm_iters, self.bmm_seed],
            [self.bmm_means, self.bmm_curve, self.bmm_status], f"{API}_bmm_fit", f"{API}_bmm_stop", concurrency_limit=2, concurrency_id="wu-bmm-fit",
            show_progress="minimal",
        )
        bmm_samples.on(self.bmm_resample.click, self.bmm_samples, bmm_samples.inputs, api_name=f"{API}_bmm_samples", **QUIET)
        # The grids change only with the session's models: opening the page redraws them (the API's wu_aevae_grids).
        grids.on(pages["wu-aevae"].select, self.aevae_grids, grids.inputs, api_name=f"{API}_aevae_grids", **QUIET)
        lerp.on(self.aevae_lerp_btn.click, self.aevae_interpolate, lerp.inputs, api_name=f"{API}_aevae_interpolate", **QUIET)
        trained = bind_training(
            self.ctx, views, PAIR_KEY, self.aevae_train_btn, self.aevae_stop, self.aevae_status, d_state, self.aevae_train, [self.aevae_steps, self.aevae_seed],
            [self.aevae_curves, self.aevae_scatter], f"{API}_aevae_train", f"{API}_aevae_stop", show_progress="minimal",
        )
        redraw_on([fitted], [bmm_samples])
        redraw_on([trained], [grids, lerp])

    def digit_tour_panels(self) -> dict[str, Panel]:
        """The digits' panels the tour redraws."""
        ppca, *_, grids, _ = self.digit_panels()
        return {"ppca": ppca, "aevae": grids}

    def digit_panels(self) -> list[Panel]:
        """The digits' panels, each redrawn from its own inputs: PPCA, its decode, its
        samples, the mixture's samples, the AE/VAE grids and the interpolation."""
        d_state = self.d_state
        return [
            Panel(
                self.ppca, [self.ppca_k, self.ppca_sigma2, self.ppca_seed, *self.ppca_z],
                [self.ppca_components, self.ppca_variance, self.ppca_text, self.ppca_recon, self.ppca_image, self.ppca_samples_img], self.ppca_note,
            ),
            Panel(self.ppca_decode, [self.ppca_k, self.ppca_sigma2, *self.ppca_z], [self.ppca_image], self.ppca_z_note),
            Panel(self.ppca_samples, [self.ppca_k, self.ppca_seed, self.ppca_sigma2], [self.ppca_samples_img], self.ppca_samples_note),
            Panel(self.bmm_samples, [d_state, self.bmm_seed], [self.bmm_samples_img], self.bmm_note),
            Panel(self.aevae_grids, [d_state], [self.aevae_scatter, self.aevae_ae, self.aevae_vae, self.aevae_text], self.aevae_note),
            Panel(self.aevae_interpolate, [d_state, self.aevae_a, self.aevae_b], [self.aevae_lerp], self.aevae_lerp_note),
        ]
