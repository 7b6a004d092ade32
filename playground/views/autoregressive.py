"""The autoregressive tab's views: samples, a sample drawn pixel by pixel with its
probability map, completion of a test digit or a drawing, the likelihood table, live
training, the receptive field and blind spot, and MADE's masks, for a session holding one
model of each family (bundled, loaded or trained here).

The families: NADE (Larochelle & Murray 2011, "The Neural Autoregressive Distribution
Estimator", AISTATS), MADE (Germain et al. 2015, arXiv:1502.03509), PixelCNN and PixelRNN
(van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
arXiv:1601.06759) and the Gated PixelCNN (van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders", arXiv:1606.05328).

Every method takes the session (``ArSession``, or None for a new one on the bundled
models) and the panel's own settings, checks each setting (``ValueError``) and returns
pictures (uint8 arrays), plotly figures or markdown. No gradio here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.base import AutoregressiveModel, seeded_init
from models.checks import N_CLASSES, N_PIXELS, SEED_MAX, Range, check_choice, check_int
from models.made import MADE
from playground.core import plots
from playground.core.data import MnistSplits
from playground.core.drawing import digit_from_drawing
from playground.core.metrics import classify
from playground.core.plots import image_grid, save_animation
from playground.core.training import TrainConfig, TrainEvent, cycling_labels
from playground.views import ar_pictures as pictures
from playground.views.ar_model import CACHED_SEED, FAMILIES, LR, N_CACHED_SAMPLES, NAMES, STEPS, ArView, likelihood_table, looks_text, model_config
from playground.views.base import Card, FamilyViews, ModelView, Session, Step, check_index, final_status, history_entry, stream_training, trained_name

CHOICES = [(NAMES[f], f) for f in FAMILIES]
DEFAULT = "nade"  # the model the panels open on: the fastest to draw, and its digits look the most like digits
SIZE = 28
N_SHOWN = 16  # samples at the top of the tab, and drawn during training
# The panels' settings.
SAMPLES = Range(1, 64, N_SHOWN)
WATCH = Range(1, 16, 4)
EVERY = Range(1, N_PIXELS, SIZE)  # pixels per frame
ROWS_KEPT = Range(1, SIZE - 1, 14)
COMPLETIONS = Range(1, 8, 6)
PIXEL = Range(0, SIZE - 1, 14)  # a row or a column
SOURCES = ("test digit", "drawing")
LABEL_ANY = "any"  # the label choice for "no label": a conditional model draws one from p(y | what is known)
LABEL_ANY_TEXT = "any (the model picks)"
LABELS = [(LABEL_ANY_TEXT, LABEL_ANY)] + [(str(d), str(d)) for d in range(N_CLASSES)]
MAX_FRAMES = 200  # frames kept for the animation of a draw
YIELD_EVERY_S = 0.3
# A draw is streamed at most FRAME_S apart and, for a fast model (NADE draws 4 digits in
# 0.4 s on 2 cores), spread over at least PACE_S, so that it can be watched.
FRAME_S = 0.1
PACE_S = 3.0
BATCH_SIZE = 64
N_EVAL = 500  # test digits of the in-run evaluations (the whole bundled test split)
CURVES = {"nll": "negative log-likelihood (nats per digit)"}
# Why the samples carry no classifier score: one classifier gives the scribbles of one
# model the same confident share as the clean digits of another (issue 19).
NO_SCORE = (
    "No classifier score here: the one classifier the app has reads scribbles about as confidently as clean digits, "
    "so judge by eye. A better likelihood does not mean better-looking samples: see *Likelihood vs looks*."
)
CARD = Card(
    "Autoregressive models", "explicit density · tractable (autoregressive)",
    "A digit is drawn one pixel at a time, each from p(pixel | the pixels before it): the likelihood is exact, sampling is slow.",
    "Watch a digit being drawn", "ar-watch", seconds=3.0,  # Draw: NADE computes 4 digits in 0.4-2.4 s on 2 busy cores, shown over PACE_S
)
TOUR = (
    Step("Watch a digit being drawn", "Left: the digits so far, the next pixel in red. Right: the probability each pixel was drawn with; "
         "grey where the model hesitated and a coin flip decided.", "ar-watch",
         {"family": "nade", "w_n": 4, "w_every": 28, "w_label": LABEL_ANY, "w_seed": 0}, "#ar-watch-run"),
    Step("Finish a half digit", "The model is given only the top 14 rows of this 9 (grey: hidden) and draws the rest six times, "
         "pixel by pixel: each completion is one guess at how the digit goes on.", "ar-complete",
         {"c_family": "nade", "c_source": "test digit", "c_index": 4, "c_rows": 14, "c_n": 6, "c_label": LABEL_ANY, "c_seed": 0}, "#ar-complete-run"),
    Step("See the blind spot", "Blue: the pixels that can change the red pixel's probability. The PixelCNN (left) never sees the orange "
         "ones, above and to the right; the Gated PixelCNN (right) sees them all.", "ar-field", {"f_row": 14, "f_col": 10}, "field"),
    Step("Compare likelihood and looks", "Ranked by likelihood, best first: NADE comes last, yet its digits look the best. Likelihood "
         "and looks measure different things (read why below the pictures).", "ar-table", {}, "table"),
)


def _labels(model: AutoregressiveModel, value: Any, n: int) -> Tensor | None:
    """Labels (n,) for a class-conditional model from a label choice ("any" or a digit);
    None for "any".

    Raises:
        ValueError: not a digit, or a digit for an unconditional model.
    """
    if value is None or value == "" or value in (LABEL_ANY, LABEL_ANY_TEXT):
        return None
    digit = check_int("digit label", value, 0, N_CLASSES - 1)
    if not model.conditional:
        raise ValueError(f"this {NAMES[model.family]} is not class-conditional: choose the label “any”")
    return torch.full((n,), digit, dtype=torch.int64, device=model.device)


class ArSession(Session):
    """One browser session's models, one per family (slots ``FAMILIES``)."""

    def __init__(self, views: dict[str, ModelView]):
        super().__init__(views)
        self.loaded: str | None = None  # the family of the model the latest Load or Upload brought


class ArViews(FamilyViews[ArSession]):
    """What the autoregressive tab's panels compute (see the module docstring)."""

    families = FAMILIES
    bundled = {f: f for f in FAMILIES}
    session_class = ArSession
    view_classes = dict.fromkeys(FAMILIES, ArView)

    def slot(self, model: Any) -> str:
        """A model's family.

        Raises:
            ValueError: not an autoregressive model of 28 x 28 digits.
        """
        if not isinstance(model, AutoregressiveModel) or model.family not in FAMILIES:
            raise ValueError(f"this tab takes {', '.join(NAMES.values())} checkpoints")
        if model.image_size != SIZE:
            raise ValueError(f"this tab draws 28 x 28 digits: this model is for {model.image_size} x {model.image_size} images")
        return model.family

    def use(self, session: ArSession, view: ModelView) -> None:
        """Put ``view`` in its family's slot and remember that family as the latest loaded."""
        super().use(session, view)
        session.loaded = view.model.family

    def restore(self, session: ArSession) -> None:
        """Put the bundled models back (no family is then the latest loaded)."""
        super().restore(session)
        session.loaded = None

    def view(self, session: Any, family: Any) -> ArView:
        """The session's model of ``family``.

        Raises:
            ValueError: not one of ``FAMILIES``.
        """
        return self.session(session).views[check_choice("model", family, FAMILIES)]

    # -- samples ---------------------------------------------------------------------------------
    def samples(self, session: Any, family: Any = DEFAULT, n: Any = N_SHOWN, seed: Any = 0) -> tuple[np.ndarray, str]:
        """``n`` in [1, 64] samples of the session's model of ``family``, drawn pixel by
        pixel with ``seed`` in [0, 2^31) (a class-conditional model draws digits 0-9 in turn).

        Returns:
            (8-column grid uint8, markdown: the time taken and the classifier's reading).

        Raises:
            ValueError: a bad family, count or seed.
        """
        view = self.view(session, family)
        n = SAMPLES.check("samples", n)
        seed = check_int("seed", seed, 0, SEED_MAX)
        images, seconds, kept = view.samples(n, seed)
        how = f"{n} samples in {seconds:.1f} s ({n / max(seconds, 1e-9):.1f} per second"
        how += "; drawn once with this seed and kept with the checkpoint)" if kept else ")"
        return image_grid(images, nrow=8), f"{NAMES[view.model.family]}: {how}. {NO_SCORE}"

    # -- training ----------------------------------------------------------------------------------
    def train(
        self, session: ArSession, family: Any, size: Any, layers: Any, masks: Any, conditional: Any, steps: Any, lr: Any, seed: Any,
        *, stop: threading.Event, data: MnistSplits | None = None,
    ) -> Iterator[tuple]:
        """Train a new model from scratch by maximum likelihood (Adam, batches of 64 binarised training images: the
        session's chosen images, default the digits), streaming.

        Args:
            family: nade, made, pixelcnn, gated_pixelcnn or pixelrnn; size: hidden units (NADE 8 to 1000, MADE 8 to
            2000) or channels (PixelCNNs 4 to 128, PixelRNN 4 to 64); layers: PixelCNNs 1 to 12, PixelRNN 1 to 4, MADE
            hidden layers 1 to 3; masks: MADE's orderings, 1 to 8; conditional: true for a class-conditional Gated
            PixelCNN; steps: 50 to 20,000; lr: 1e-5 to 0.1; seed: 0 to 2^31 - 1. stop: set to end the run (the
            weights reached are kept).

        Yields:
            (status markdown, plotly NLL curves (train, test; nats), a grid of 16 samples drawn with the same seed at
            each update); None for what is unchanged. When the run ends or is stopped with finite weights, the
            session's model of that family becomes the new one, named with the steps done.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        family = check_choice("model", family, FAMILIES)
        steps = STEPS.check("steps", steps)
        lr = LR.check("learning rate", lr)
        seed = check_int("seed", seed, 0, SEED_MAX)
        cls, config = model_config(family, size, layers, masks, conditional, seed)
        model = seeded_init(cls, seed, **config).to(self.ctx.device)
        run = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=10, sample_every=max(50, steps // 4),
            eval_every=max(50, steps // 10), n_samples=N_SHOWN, n_eval=N_EVAL,
        )
        yield "Starting…", None, None
        keys = {"nll": "nll"}
        data = self.trains_on(model, data)
        for event, history, learnt in stream_training(model, data, run, stop, lambda e: history_entry(e, keys), YIELD_EVERY_S):
            samples = image_grid(event.samples, nrow=8) if event.samples is not None else None
            status = self._finish(session, model, event, learnt, steps, seed, data) if event.final else _progress(event, history, steps)
            yield status, plots.training_curves(history, CURVES), samples

    def _finish(self, session: ArSession, model: AutoregressiveModel, event: TrainEvent, learnt: bool, steps: int, seed: int, data: MnistSplits) -> str:
        """The final status; the trained model replaces the session's of its family. Its
        test NLL is the run's last evaluation when that is the table's figure (the whole
        test split, no label given), else left to the table (a stopped run has none)."""
        status = final_status(event, learnt)
        if not learnt:
            return status
        nll = (event.test_losses or {}).get("nll")
        same = nll is not None and not model.conditional and len(data.test_labels) <= N_EVAL
        self.use(session, ArView(model, trained_name(event, steps, seed), self.ctx, test_nll_nats=nll if same else None, data=data))
        if nll is not None:
            status += f" Test NLL **{nll:.1f}** nats{' (given the label)' if model.conditional else ''}."
        return status + f" Every panel now uses this {NAMES[model.family]}."

    # -- likelihood table ----------------------------------------------------------------------------
    def table(self, session: Any, *, compute: bool = True) -> str:
        """Markdown: every session model's exact test NLL (nats per digit and bits per
        pixel) on the same test split, next to the published figures. With ``compute``
        False, nothing is computed: a row whose figure is not known yet says so."""
        views = self.session(session).views
        return likelihood_table({f: views[f] for f in FAMILIES}, self.ctx.data, compute)

    def table_stream(self, session: Any) -> Iterator[str]:
        """The table as it fills in: first with the figures already known (kept with the
        checkpoints, or from training) and "computing…" for the rest, then again after
        each figure computed; the last one is complete."""
        views = self.session(session).views
        views = {f: views[f] for f in FAMILIES}  # the models of now, even if a Load comes meanwhile
        missing = [view for view in views.values() if view.known_nll is None]
        yield likelihood_table(views, self.ctx.data, compute=False)
        for view in missing:
            view.test_nll  # noqa: B018 - computes and keeps it
            yield likelihood_table(views, self.ctx.data, compute=False)


    def looks(self) -> tuple[list[tuple[str, np.ndarray]], str]:
        """Likelihood against looks, for the bundled models, best test likelihood first:
        ([(the model's name and exact test NLL in nats, its first 16 samples, kept with
        the checkpoint, as a 4 x 4 grid uint8)], markdown on why the ranking by eye differs)."""
        views = sorted((self.bundled_view(f) for f in FAMILIES), key=lambda v: v.test_nll)
        shown = [
            (f"{NAMES[v.model.family].split(' (')[0]} · {v.test_nll:.1f}", image_grid(v.samples(N_CACHED_SAMPLES, CACHED_SEED)[0], nrow=4))
            for v in views
        ]
        return shown, looks_text({v.model.family: v.test_nll for v in views})

    # -- watch a sample ------------------------------------------------------------------------------
    def watch(
        self, session: Any, family: Any = DEFAULT, n: Any = WATCH.default, every: Any = EVERY.default, label: Any = LABEL_ANY,
        seed: Any = 0,
    ) -> Iterator[tuple[np.ndarray, str, str | None]]:
        """Draw ``n`` samples pixel by pixel, streaming them with the probability map.

        Args:
            family: one of ``FAMILIES``; n: samples in [1, 16]; every: pixels per frame in
            [1, 784] (at most 200 frames are kept for the animation); label: "any" or a
            digit 0-9 (class-conditional models only); seed: in [0, 2^31). A draw faster
            than ``PACE_S`` seconds is slowed down to it (the status gives the computing
            time).

        Yields:
            (RGB picture: the samples so far (left) and p(x_i = 1 | x_<i) of every pixel
            drawn so far (right), the next pixel in red; status markdown; the path of an
            animated GIF of the whole draw at the end, None before).

        Raises:
            ValueError: a value out of range.
        """
        model = self.view(session, family).model
        n = WATCH.check("samples", n)
        every = EVERY.check("pixels per frame", every)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = _labels(model, label, n)
        nrow = max(1, math.ceil(math.sqrt(n)))
        keep_every = max(every, math.ceil(N_PIXELS / MAX_FRAMES))
        order = model.ordering().tolist()
        frames, last_yield, picture, paused = [], 0.0, None, 0.0
        start = time.perf_counter()
        for step, images, probs in model.draw(torch.zeros(n, 1, SIZE, SIZE, device=model.device), 0, y, torch.Generator().manual_seed(seed), every):
            picture = pictures.drawing_frame(images, probs, order[step] if step < len(order) else None, nrow)
            if step % keep_every == 0 or step == len(order):
                frames.append(picture)
            if step < len(order):
                ahead = start + PACE_S * step / len(order) - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
                    paused += ahead
                if time.perf_counter() - last_yield >= FRAME_S:
                    last_yield = time.perf_counter()
                    yield picture, f"pixel {step:,} / {len(order)}…", None
        seconds = time.perf_counter() - start - paused
        shown = f", shown over {seconds + paused:.1f} s to be watched" if paused > 0.05 else ""
        animation = save_animation(frames, f"{model.family}-sampling", frame_ms=60, scale=2)
        yield picture, (
            f"{n} samples of 784 pixels each in {seconds:.1f} s of computing ({n / seconds:.1f} samples/s{shown}). Right: the probability "
            f"p(x_i = 1 | x_<i) each pixel was drawn from: sure strokes are white, sure background black, and the grey "
            f"pixels are where the model hesitated."
        ), animation

    def watch_still(self, session: Any, family: Any = DEFAULT, n: Any = WATCH.default) -> tuple[np.ndarray, str]:
        """The watch picture before Draw, as ``watch`` draws it (RGB uint8), and a status:
        the first ``n`` in [1, 16] samples the model drew earlier (kept with its
        checkpoint) beside the probability each pixel was drawn with (one teacher-forced
        pass gives every p(x_i = 1 | x_<i) of a finished sample at once, as the draw had
        them); an empty canvas for a model without kept samples. ValueError: a bad value."""
        view = self.view(session, family)
        n = WATCH.check("samples", n)
        model, name = view.model, NAMES[view.model.family]
        nrow = max(1, math.ceil(math.sqrt(n)))
        kept = view.kept.samples(N_CACHED_SAMPLES, CACHED_SEED)
        if kept is None:
            blank = torch.zeros(n, 1, SIZE, SIZE)
            return pictures.drawing_frame(blank, blank, None, nrow), f"Press **Draw** to watch this {name} draw {n} digits, pixel by pixel."
        images = kept[0][:n].to(model.device)
        with torch.no_grad():
            probs = torch.sigmoid(model.logits(images, cycling_labels(n, model.device) if model.conditional else None))
        return pictures.drawing_frame(images, probs, None, nrow), (
            f"{n} digits this {name} drew earlier, all 784 pixels done. Right: the probability each pixel was drawn with. "
            "Press **Draw** to watch new ones appear, pixel by pixel."
        )

    def thumbnail(self, session: Any) -> np.ndarray:
        """The home tab's picture: the watch view's picture on open."""
        return self.watch_still(session)[0]

    # -- completion ----------------------------------------------------------------------------------
    def complete(
        self, session: Any, family: Any = DEFAULT, source: Any = "test digit", index: Any = 0, drawing: Any = None,
        rows: Any = ROWS_KEPT.default, n: Any = COMPLETIONS.default, label: Any = LABEL_ANY, seed: Any = 0,
    ) -> tuple[np.ndarray, str]:
        """Keep the top ``rows`` rows of a test digit or of a drawing and let the model draw
        the rest, ``n`` times.

        Args:
            family: one of ``FAMILIES`` (MADE completes in raster order, with mask set 0);
            source: "test digit" or "drawing"; index: a test index; drawing: a Sketchpad
            value or an image (see ``digit_from_drawing``); rows: kept rows in [1, 27];
            n: completions in [1, 8]; label: "any" (a conditional model draws it from
            p(y | kept rows)) or a digit 0-9; seed: in [0, 2^31).

        Returns:
            (grid uint8: the digit, what the model is given (hidden rows grey), the
            completions; markdown with the classifier's reading).

        Raises:
            ValueError: a value out of range, or a drawing that is not a usable digit.
        """
        model = self.view(session, family).model
        source = check_choice("source", source, SOURCES)
        rows = ROWS_KEPT.check("rows kept (from the top)", rows)
        n = COMPLETIONS.check("completions", n)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = _labels(model, label, n)
        digit, what, truth = self._digit(source, index, drawing)
        if isinstance(model, MADE):
            model.use_mask(0)  # raster order: "the rows above" are the known pixels
        x = digit.repeat(n, 1, 1, 1).to(model.device)
        posterior = _posterior_note(model, x[:1], rows * SIZE) if model.conditional and y is None else ""
        start = time.perf_counter()
        out = model.complete(x, rows * SIZE, y, torch.Generator().manual_seed(seed))[0].cpu()
        seconds = time.perf_counter() - start
        given = digit.clone()
        given[:, :, rows:] = 0.5
        predicted = classify(out)[0].argmax(1)
        reading = ", ".join(f"{d} ×{c}" for d, c in enumerate(torch.bincount(predicted, minlength=10).tolist()) if c)
        text = (
            f"Given the top {rows} rows of {what}, {NAMES[model.family]} drew {n} completions in {seconds:.1f} s. "
            f"The classifier reads them as: {reading}."
        )
        if truth is not None:
            text += f" **{float((predicted == truth).float().mean()):.0%}** are read as the true digit {truth}."
        return image_grid(torch.cat([digit, given, out]), nrow=n + 2), text + posterior

    def _digit(self, source: str, index: Any, drawing: Any) -> tuple[Tensor, str, int | None]:
        """(the binary digit (1, 1, 28, 28), what it is in words, its label if known)."""
        data = self.ctx.data
        if source == "drawing":
            digit, note = digit_from_drawing(drawing)
            return digit, f"your drawing ({note})", None
        i = check_index("test digit", index, len(data.test_labels))
        truth = int(data.test_labels[i])
        return data.images("test", "binary")[i : i + 1], f"test digit #{i} (a {truth})", truth

    # -- receptive field and masks ---------------------------------------------------------------------
    def receptive_field(self, session: Any, row: Any = PIXEL.default, col: Any = PIXEL.default) -> tuple[np.ndarray, str]:
        """Which input pixels influence the conditional of pixel (row, col), row and col in
        [0, 27], from gradients, for the session's PixelCNN and Gated PixelCNN side by side.

        Returns:
            (RGB picture uint8 (280, 572, 3): PixelCNN left, Gated PixelCNN right; the pixel
            red, pixels that influence it white to blue by gradient size, earlier pixels
            that do not (the blind spot) orange, later pixels dark; markdown with the counts).

        Raises:
            ValueError: a row or column out of range.
        """
        row, col = PIXEL.check("row", row), PIXEL.check("column", col)
        views = self.session(session).views
        return pictures.receptive_fields({NAMES[f]: views[f].model for f in ("pixelcnn", "gated_pixelcnn")}, row, col)

    def mask_choices(self, session: Any) -> list[int]:
        """The mask sets of the session's MADE: 0 (raster order) to n_masks - 1."""
        return list(range(self.session(session).views["made"].model.n_masks))

    def made_masks(self, session: Any, mask: Any = 0, row: Any = PIXEL.default, col: Any = PIXEL.default) -> tuple[np.ndarray, np.ndarray, str]:
        """MADE's connectivity for mask set ``mask``: which output depends on which input,
        and which inputs output pixel (row, col) depends on (row and col in [0, 27]).

        Returns:
            (grey matrix uint8 (784, 784), rows = outputs, columns = inputs, both in the
            ordering; RGB map (280, 280, 3) of the pixel's inputs, the earlier pixels it
            does not hear orange; markdown).

        Raises:
            ValueError: a mask set the session's MADE does not have, or a bad pixel.
        """
        made = self.session(session).views["made"].model
        mask = check_int(f"mask set (0-{made.n_masks - 1})", mask, 0, made.n_masks - 1)
        row, col = PIXEL.check("row", row), PIXEL.check("column", col)
        return pictures.made_masks(made, mask, row, col)


def _progress(event: TrainEvent, history: list[dict], steps: int) -> str:
    """The status line of a running training event."""
    tested = [entry["test_losses"]["nll"] for entry in history if entry.get("test_losses")]
    test = f" · test {tested[-1]:.1f}" if tested else ""
    return (
        f"step {event.step:,} / {steps:,} · {event.step / max(event.elapsed_s, 1e-9):.1f} steps/s · "
        f"NLL train {event.losses['nll']:.1f}{test} nats"
    )


def _posterior_note(model: AutoregressiveModel, x: Tensor, n_known: int) -> str:
    """The three likeliest digits of p(y | the first ``n_known`` pixels of x (1, 1, 28, 28))."""
    posterior = model.label_posterior(x, n_known)[0].cpu()
    top = torch.argsort(posterior, descending=True)[:3].tolist()
    return " p(y | kept rows): " + ", ".join(f"**{k}**: {float(posterior[k]):.2f}" for k in top) + "."
