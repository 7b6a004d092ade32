"""The autoregressive tab: NADE, MADE, PixelCNN, Gated PixelCNN and PixelRNN with exact
likelihoods, pixel-by-pixel sampling with the probability map, completion of a drawn or
test digit, and the receptive field (blind spot) and MADE's masks.

Handlers are methods of ``AutoregressiveTab`` so that tests can call them without a
browser. Each takes the session's ``ArSession`` from ``gr.State`` (None for a new session
or an API client, which then gets the bundled checkpoints) and checks every value it is
given against the limits stated in its docstring and in the UI.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import torch
from torch import Tensor

from models import FAMILIES as MODEL_FAMILIES
from models.base import AutoregressiveModel, seeded_init
from models.checks import N_CLASSES, SEED_MAX, check_bool, check_choice, check_float, check_int
from models.made import MADE
from playground.core import plots
from playground.core.drawing import digit_from_drawing
from playground.core.metrics import classify, test_nll
from playground.core.training import TrainConfig
from playground.ui.legacy import (
    AppContext,
    BundledViews,
    ModelView,
    bind_pick,
    checkpoint_panel,
    digit_gallery,
    image_output,
    index_box,
    load_checkpoint,
    load_checkpoint_zip,
    quality_line,
    save_animation,
    session_key,
    side_by_side,
    stream_training,
    to_image,
    training_panel,
    ui_handler,
)

FAMILIES = ("nade", "made", "pixelcnn", "gated_pixelcnn", "pixelrnn")
NAMES = {"nade": "NADE", "made": "MADE", "pixelcnn": "PixelCNN", "gated_pixelcnn": "Gated PixelCNN", "pixelrnn": "PixelRNN (Row LSTM)"}
CHOICES = [(NAMES[f], f) for f in FAMILIES]
DEFAULT = "gated_pixelcnn"
# The lectures' table: test NLL on binarised MNIST (60,000 training digits), nats.
PUBLISHED = [
    ("NADE", "nade", 88.33, "Larochelle & Murray 2011"),
    ("MADE", "made", 86.64, "Germain et al. 2015, arXiv:1502.03509"),
    ("PixelCNN", "pixelcnn", 81.30, "van den Oord et al. 2016, arXiv:1601.06759"),
    ("Gated PixelCNN", "gated_pixelcnn", None, "arXiv:1606.05328 reports CIFAR-10 and ImageNet only"),
    ("PixelRNN, Row LSTM", "pixelrnn", 80.54, "arXiv:1601.06759"),
    ("PixelRNN, Diagonal BiLSTM", None, 79.20, "arXiv:1601.06759 (not built here)"),
]
BATCH_SIZE = 64
N_SHOWN = 16  # samples at the top of the tab
MAX_SAMPLES = 64
MAX_WATCH = 16
MAX_COMPLETIONS = 8
MAX_UI_STEPS = 20_000
MAX_FRAMES = 200
YIELD_EVERY_S = 0.3
SIZE = 28
# (low, high, default) of each family's width (hidden units or channels) and depth.
SIZE_RANGE = {"nade": (8, 1000, 128), "made": (8, 2000, 2000), "pixelcnn": (4, 128, 32), "gated_pixelcnn": (4, 128, 32), "pixelrnn": (4, 64, 16)}
LAYER_RANGE = {"pixelcnn": (1, 12, 6), "gated_pixelcnn": (1, 12, 6), "pixelrnn": (1, 4, 2), "made": (1, 3, 1), "nade": (1, 1, 1)}
# Learning rates and MADE's masks of the defaults: sized so that 90 s of training on 2
# CPU cores gets far (the bench measures it: ``python -m playground bench``).
LR_DEFAULT = {"nade": 5e-3, "made": 1e-3, "pixelcnn": 1e-3, "gated_pixelcnn": 1e-3, "pixelrnn": 3e-3}
MASKS_DEFAULT = 8
TRAIN_DEFAULTS: dict[str, Any] = dict(family="pixelcnn", size=32, layers=6, masks=MASKS_DEFAULT, conditional=False, steps=600, lr=1e-3, seed=0)


def default_settings(family: str) -> dict[str, Any]:
    """The Train panel's defaults for ``family``: size, layers, masks, conditional, lr."""
    return dict(
        size=SIZE_RANGE[family][2], layers=LAYER_RANGE[family][2], masks=MASKS_DEFAULT, conditional=False, lr=LR_DEFAULT[family],
    )
CURVES = {"nll": "negative log-likelihood (nats per digit)"}
LABEL_ANY = "any"  # the label choice for "no label": a conditional model draws one from p(y | what is known)
LABEL_ANY_TEXT = "any (drawn from p(y | what is known))"

EXPLANATION = r"""
### The chain rule: an exact likelihood
Any distribution over the 784 pixels of a binarised digit factorises, in a fixed order, as

$$p(x)=\prod_{i=1}^{784}p(x_i\mid x_{<i}).$$

An **autoregressive model** gives each factor its own Bernoulli, $p(x_i=1\mid x_{<i})=\sigma(\text{logit}_i)$, computed by
a network that may only look at $x_{<i}$. Then $\log p(x)$ is an exact sum of 784 log-probabilities: the test NLL in
the *Likelihood table* is exact, in nats per digit (divide by $784\ln 2$ for bits per pixel). No bound (VAE), no
estimate of a partition function (RBM).

### Teacher forcing
Training maximises $\log p(x)$ on training digits. All 784 conditionals are computed **in one pass**, because the
true pixels $x_{<i}$ are fed in (teacher forcing): the network just must not *see* $x_i$ or later pixels.
- **NADE** (Larochelle & Murray 2011): one hidden layer shared by all conditionals,
  $h_i=\sigma(c+W_{:,<i}x_{<i})$; a running sum makes all 784 cost as much as one autoencoder pass.
- **MADE** (Germain et al. 2015): an ordinary autoencoder whose weights are **masked**: each unit gets a degree and
  may only hear units of lower degree, so output $i$ depends on inputs before $i$ in the ordering. Several orderings
  trained in turn (order-agnostic training) and averaged at test time give a mixture, still exact.
- **PixelCNN** (van den Oord et al. 2016): convolutions with **masked kernels**. Type **A** (first layer) hides the
  centre and everything after it; type **B** (later layers) lets the centre through, because a feature there already
  sums up only the past. Stacking masked 3×3 kernels grows a receptive field with a **blind spot**: pixels above and
  to the right that the pixel should see but never does (*Receptive field* panel).
- **Gated PixelCNN**: a *vertical* stack that sees every row above and a *horizontal* stack for the row so far, fed
  by the vertical one: no blind spot. Units are gated, $\tanh(W_f*x)\odot\sigma(W_g*x)$, and a digit label can shift
  every gate (class-conditional: $p(x\mid y)$; with a uniform prior $p(x)=\tfrac1{10}\sum_y p(x\mid y)$ stays exact,
  and $p(y\mid$ top rows$)$ is exact too).
- **PixelRNN, Row LSTM**: an LSTM runs down the image row by row, its input-to-state convolution masked like a
  PixelCNN's, its state-to-state convolution over the row above: a triangular receptive field reaching every row above.

### Why sampling is sequential
Pixel $i$ can only be drawn once $x_{<i}$ exists: 784 passes per digit, one pixel each (*Watch a sample*). That is
the price of an exact likelihood. What does not change is not recomputed: a PixelCNN gets only the rows its
receptive field reaches, the Gated PixelCNN computes its vertical stack once per row, the PixelRNN keeps its LSTM
states of the rows above, and NADE carries its running sum $a_{i+1}=a_i+W_{:,i}x_i$. **Completion** is the same loop
started with the known pixels fixed: the model continues your digit.
"""


def _float_image(images: Tensor) -> Tensor:
    return images.detach().float().cpu().clamp(0, 1)


@dataclass
class ArView(ModelView):
    """A loaded autoregressive model with its display name; read-only, so sessions share
    the bundled ones. Its test NLL is computed once, on first use."""

    model: AutoregressiveModel
    ctx: AppContext

    @functools.cached_property
    def test_nll(self) -> float:
        """Exact mean test NLL in nats per digit on the whole test split (a class-
        conditional model: the marginal, log mean_y p(x | y))."""
        return test_nll(self.model, self.ctx.data, labels=False)["nll_nats"]

    def settings(self) -> str:
        """The model's size in words."""
        m = self.model
        if m.family == "nade":
            return f"{m.n_hidden} hidden units"
        if m.family == "made":
            return f"hidden layers {m.hidden_sizes}, {m.n_masks} mask{'s' if m.n_masks > 1 else ''}"
        text = f"{m.channels} channels, {m.n_layers} layers"
        return text + (", class-conditional" if m.conditional else "")

    def describe(self) -> str:
        """One markdown line: family, name, size, parameters."""
        n_params = sum(p.numel() for p in self.model.parameters())
        return f"**{NAMES[self.model.family]}**: {self.name} · {self.settings()} · {n_params / 1e3:,.0f} k parameters"


@dataclass
class ArSession:
    """One browser session's models, one per family, changed in place (so that a run
    that holds the session and a Load made meanwhile do not undo each other)."""

    models: dict[str, ArView] = field(default_factory=dict)


def _family(value: Any) -> str:
    return check_choice("model", value, FAMILIES)


def _label(model: AutoregressiveModel, value: Any, n: int) -> Tensor | None:
    """Labels (n,) for a class-conditional model from the UI's choice ("any" or a digit);
    None for "any" or an unconditional model (which refuses a digit)."""
    if value is None or value == "" or value in (LABEL_ANY, LABEL_ANY_TEXT):
        return None
    digit = check_int("digit label", value, 0, N_CLASSES - 1)
    if not model.conditional:
        raise ValueError(f"this {NAMES[model.family]} is not class-conditional: choose the label “any”")
    return torch.full((n,), digit, dtype=torch.int64, device=model.device)


def _mark(grid: np.ndarray, pixel: int | None, n: int, nrow: int, padding: int = 2) -> np.ndarray:
    """An RGB copy of a grid of ``n`` 28 x 28 tiles with pixel ``pixel`` (raster index)
    of every tile painted red (the pixel being drawn)."""
    rgb = np.repeat(grid[..., None], 3, axis=2) if grid.ndim == 2 else grid.copy()
    if pixel is None:
        return rgb
    r, c = divmod(pixel, SIZE)
    for k in range(n):
        top = padding + (k // nrow) * (SIZE + padding)
        left = padding + (k % nrow) * (SIZE + padding)
        rgb[top + r, left + c] = (230, 40, 40)
    return rgb


class AutoregressiveTab:
    """Handlers of the autoregressive tab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bundled = BundledViews(ctx, FAMILIES, lambda model, name: ArView(model, name, ctx))

    # -- sessions and models ----------------------------------------------------------------
    def session(self, state: ArSession | None) -> ArSession:
        """The session's state, or a new one on the bundled checkpoints."""
        if isinstance(state, ArSession):
            return state
        return ArSession({f: self._bundled.get(f) for f in FAMILIES})

    def view(self, state: ArSession | None, family: Any) -> ArView:
        """The session's model of ``family`` (one of ``FAMILIES``)."""
        return self.session(state).models[_family(family)]

    def _with_model(self, state: ArSession | None, model: Any, name: str) -> ArSession:
        if not isinstance(model, AutoregressiveModel) or model.family not in FAMILIES:
            raise ValueError(f"this tab takes {', '.join(NAMES.values())} checkpoints")
        if model.image_size != SIZE:
            raise ValueError(f"this tab draws 28 x 28 digits: this model is for {model.image_size} x {model.image_size} images")
        session = self.session(state)
        session.models[model.family] = ArView(model, name, self.ctx)
        return session

    def describe(self, session: ArSession) -> str:
        """Markdown: one line per family."""
        return "  \n".join(session.models[f].describe() for f in FAMILIES)

    @ui_handler
    def load(self, state: ArSession | None, choice: str | None, source: str | None) -> tuple:
        """Load a NADE, MADE, PixelCNN, Gated PixelCNN or PixelRNN (bundled name, Hub repo id
        or local folder); it replaces the session's model of its family.

        Returns:
            (session, description markdown, the loaded family (for the model pickers)).

        Raises:
            gr.Error: the checkpoint cannot be loaded or is of another family; the session
                keeps its models.
        """
        model, name = load_checkpoint(self.ctx, FAMILIES, choice, source)
        session = self._with_model(state, model, name)
        return session, self.describe(session), model.family

    @ui_handler
    def load_zip(self, state: ArSession | None, path: str | None) -> tuple:
        """Load a model from an uploaded checkpoint zip; returns (session, description, family)."""
        model = load_checkpoint_zip(self.ctx, FAMILIES, path)
        session = self._with_model(state, model, "uploaded checkpoint")
        return session, self.describe(session), model.family

    @ui_handler
    def download(self, state: ArSession | None, family: Any = DEFAULT) -> str:
        """The session's model of ``family`` as a checkpoint zip (path)."""
        return str(self.view(state, family).export)

    # -- samples ------------------------------------------------------------------------------
    @ui_handler
    def samples(self, state: ArSession | None, family: Any = DEFAULT, n: Any = N_SHOWN, seed: Any = 0) -> tuple[np.ndarray, str]:
        """``n`` samples in [1, 64] of the session's model of ``family``, drawn pixel by
        pixel with ``seed``; a conditional model draws digits 0-9 in turn.

        Returns:
            (grid uint8, markdown: time taken and the classifier's reading).
        """
        view = self.view(state, family)
        n = check_int("samples", n, 1, MAX_SAMPLES)
        seed = check_int("seed", seed, 0, SEED_MAX)
        images, seconds = self.draw_samples(view.model, n, seed)
        return to_image(images, nrow=8), f"{NAMES[view.model.family]}: {n} samples in {seconds:.1f} s ({n / seconds:.1f} per second). {quality_line(images)}"

    @staticmethod
    def draw_samples(model: AutoregressiveModel, n: int, seed: int) -> tuple[Tensor, float]:
        """``n`` samples (n, 1, 28, 28) on the CPU, and the seconds they took."""
        start = time.perf_counter()
        y = torch.arange(n, device=model.device) % N_CLASSES if model.conditional else None
        images = model.sample(n, y=y, generator=torch.Generator().manual_seed(seed)).cpu()
        return images, time.perf_counter() - start

    # -- training -----------------------------------------------------------------------------
    def _new_model(self, family: str, size: int, layers: int, masks: int, conditional: bool, seed: int) -> AutoregressiveModel:
        low, high, _ = SIZE_RANGE[family]
        what = "hidden units" if family in ("nade", "made") else "channels"
        size = check_int(what, size, low, high)
        l_low, l_high, _ = LAYER_RANGE[family]
        layers = check_int("layers", layers, l_low, l_high) if family != "nade" else 1  # NADE has one hidden layer
        cls = MODEL_FAMILIES[family]
        if family == "nade":
            config: dict[str, Any] = dict(n_hidden=size)
        elif family == "made":
            config = dict(hidden_sizes=[size] * layers, n_masks=check_int("masks", masks, 1, 8), mask_seed=seed)
        elif family == "gated_pixelcnn":
            config = dict(channels=size, n_layers=layers, n_classes=N_CLASSES if conditional else 0)
        else:
            config = dict(channels=size, n_layers=layers)
        if conditional and family != "gated_pixelcnn":
            raise ValueError("only the Gated PixelCNN can be class-conditional here")
        return seeded_init(cls, seed, **config).to(self.ctx.device)

    @ui_handler
    def train(
        self, state: ArSession | None, family: Any, size: Any, layers: Any, masks: Any, conditional: Any,
        steps: Any, lr: Any, seed: Any, request: gr.Request,
    ) -> Iterator[tuple]:
        """Train a new model of ``family`` from scratch by maximum likelihood (Adam, batches
        of 64 binarised training digits).

        Args:
            family: one of ``FAMILIES``; size: hidden units (NADE [8, 1000], MADE [8, 2000])
            or channels (PixelCNNs [4, 128], PixelRNN [4, 64]); layers: PixelCNNs [1, 12],
            PixelRNN [1, 4], MADE hidden layers [1, 3]; masks: MADE orderings [1, 8];
            conditional: bool, Gated PixelCNN only; steps: [50, 20,000]; lr: (0, 0.1];
            seed: [0, 2^31).

        Yields:
            (session, status markdown, plotly NLL curves (train, test; nats), sample grid
            (16, from the same seed at each update)). The session's model of that family
            becomes the new one when the run ends or is stopped.

        Raises:
            gr.Error: a setting out of range, or this session is already training.
        """
        family = _family(family)
        conditional = check_bool("class-conditional", conditional)
        steps = check_int("steps", steps, 50, MAX_UI_STEPS)
        lr = check_float("learning rate", lr, 1e-5, 0.1)
        seed = check_int("seed", seed, 0, SEED_MAX)
        model = self._new_model(family, size, layers, masks, conditional, seed)
        sample_every = max(50, steps // 4)
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=10, sample_every=sample_every,
            eval_every=max(50, steps // 10), n_samples=N_SHOWN, n_eval=500,
        )
        key = session_key(request)
        stop = self.ctx.sessions.start(key, "ar-train")
        try:
            session = self.session(state)
            yield session, "Starting…", gr.skip(), gr.skip()
            name = f"trained here ({steps:,} steps, seed {seed})"

            def record(event: Any) -> dict:
                entry: dict[str, Any] = {"step": event.step, "losses": {"nll": event.losses.get("nll", math.nan)}}
                if event.test_losses:
                    entry["test_losses"] = {"nll": event.test_losses["nll"]}
                return entry

            for event, history, learnt in stream_training(model, self.ctx.data, config, stop, record, YIELD_EVERY_S):
                samples = to_image(event.samples, nrow=8) if event.samples is not None else gr.skip()
                if not event.final:
                    test = f" · test {history_last(history):.1f}" if history_last(history) is not None else ""
                    status = (
                        f"step {event.step:,} / {steps:,} · {event.step / max(event.elapsed_s, 1e-9):.1f} steps/s · "
                        f"NLL train {event.losses['nll']:.1f}{test} nats"
                    )
                elif learnt:
                    session = self._with_model(session, model, name)
                    status = (
                        f"**{event.status}**: {event.message}. Test NLL **{event.test_losses['nll']:.1f}** nats"
                        f"{' (given the label)' if model.conditional else ''}. Every panel now uses this {NAMES[family]}."
                    )
                else:
                    status = f"**{event.status}**: {event.message}. Nothing finite was learnt, so your previous model is kept."
                yield session, status, plots.training_curves(history, CURVES), samples
        finally:
            self.ctx.sessions.finish(key, "ar-train", stop)

    @ui_handler
    def stop(self, request: gr.Request) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        return "Stopping…" if self.ctx.sessions.set_flag(session_key(request), "ar-train") else "Nothing is training."

    # -- likelihood table ---------------------------------------------------------------------
    @ui_handler
    def table(self, state: ArSession | None) -> str:
        """Markdown: every session model's exact test NLL (nats per digit and bits per pixel)
        on the same test split, next to the published figures."""
        session = self.session(state)
        n_test = len(self.ctx.data.test_labels)
        lines = [
            "| model | ours: test NLL (nats) | bits/pixel | our model | published (nats) | source |",
            "|---|---:|---:|---|---:|---|",
        ]
        for title, family, published, source in PUBLISHED:
            if family is None:
                ours, bits, what = "—", "—", "—"
            else:
                view = session.models[family]
                nll = view.test_nll
                ours, bits, what = f"**{nll:.1f}**", f"{nll / (SIZE * SIZE * math.log(2)):.3f}", f"{view.name}, {view.settings()}"
            lines.append(f"| {title} | {ours} | {bits} | {what} | {'—' if published is None else f'{published:.2f}'} | {source} |")
        lines.append(
            f"\nOurs: exact, on the same {n_test} held-out digits, binarised once with a fixed seed; models trained on "
            f"{len(self.ctx.data.train_labels):,} digits for minutes on a CPU. Published: the standard binarised MNIST "
            "(Larochelle & Murray's fixed binarisation), 60,000 training digits, days of GPU training. The figures are not "
            "directly comparable, but the ordering is: the convolutional and recurrent models beat MADE, which beats NADE. "
            "A class-conditional model is scored by its marginal, log mean_y p(x | y)."
        )
        return "\n".join(lines)

    # -- watch a sample -------------------------------------------------------------------------
    @ui_handler
    def watch(
        self, state: ArSession | None, family: Any = DEFAULT, n: Any = 4, every: Any = 28, label: Any = LABEL_ANY, seed: Any = 0,
    ) -> Iterator[tuple]:
        """Draw ``n`` samples pixel by pixel and stream them with the probability map.

        Args:
            family: one of ``FAMILIES``; n: samples in [1, 16]; every: pixels per frame in
            [1, 784] (at most 200 frames are kept for the animation); label: "any" or a
            digit 0-9 (class-conditional models only); seed: [0, 2^31).

        Yields:
            (picture: the samples so far (left) and p(x_i = 1 | x_<i) of every pixel drawn
            so far (right), the next pixel in red; status markdown; animation GIF path (at
            the end)).

        Raises:
            gr.Error: a value out of range.
        """
        model = self.view(state, family).model
        n = check_int("samples", n, 1, MAX_WATCH)
        every = check_int("pixels per frame", every, 1, SIZE * SIZE)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = _label(model, label, n)
        nrow = max(1, math.ceil(math.sqrt(n)))
        keep_every = max(every, math.ceil(SIZE * SIZE / MAX_FRAMES))
        g = torch.Generator().manual_seed(seed)
        x = torch.zeros(n, 1, SIZE, SIZE, device=model.device)
        order = model.ordering().tolist()
        frames, last_yield, picture = [], 0.0, None
        start = time.perf_counter()
        for step, images, probs in model.draw(x, 0, y, g, every):
            nxt = order[step] if step < len(order) else None
            picture = side_by_side(
                _mark(to_image(_float_image(images), nrow), nxt, n, nrow), _mark(to_image(_float_image(probs), nrow), nxt, n, nrow)
            )
            if step % keep_every == 0 or step == len(order):
                frames.append(picture)
            now = time.perf_counter()
            if step < len(order) and now - last_yield >= YIELD_EVERY_S:
                last_yield = now
                yield picture, f"pixel {step:,} / {len(order)}…", gr.skip()
        seconds = time.perf_counter() - start
        animation = save_animation(frames, f"{model.family}-sampling", frame_ms=60, scale=2)
        yield picture, (
            f"{n} samples of 784 pixels each in {seconds:.1f} s ({n / seconds:.1f} samples/s). Right: the probability "
            f"p(x_i = 1 | x_<i) each pixel was drawn from: sure strokes are white, sure background black, and the grey "
            f"pixels are where the model hesitated. {quality_line(_float_image(images))}"
        ), animation

    # -- completion ---------------------------------------------------------------------------------
    @ui_handler
    def complete(
        self, state: ArSession | None, family: Any = DEFAULT, source: Any = "test digit", index: Any = 0, drawing: Any = None,
        rows: Any = 14, n: Any = 6, label: Any = LABEL_ANY, seed: Any = 0,
    ) -> tuple[np.ndarray, str]:
        """Keep the top ``rows`` rows of a test digit or of a drawing and let the model draw
        the rest, ``n`` times.

        Args:
            family: one of ``FAMILIES`` (MADE completes in raster order with mask 0); source:
            "test digit" or "drawing"; index: test index; drawing: a Sketchpad value or an
            image (see ``digit_from_drawing``); rows: kept rows in [1, 27]; n: completions
            in [1, 8]; label: "any" (a conditional model draws it from p(y | kept rows)) or
            a digit 0-9; seed: [0, 2^31).

        Returns:
            (grid: the digit, what the model is given (hidden rows grey), the completions;
            markdown with the classifier's reading).

        Raises:
            gr.Error: a value out of range or a drawing that is not a usable digit.
        """
        view = self.view(state, family)
        model = view.model
        source = check_choice("source", source, ("test digit", "drawing"))
        rows = check_int("rows kept (from the top)", rows, 1, SIZE - 1)
        n = check_int("completions", n, 1, MAX_COMPLETIONS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = _label(model, label, n)
        truth = None
        if source == "test digit":
            n_test = len(self.ctx.data.test_labels)
            index = check_int(f"test digit (0-{n_test - 1})", index, 0, n_test - 1)
            digit = self.ctx.data.images("test", "binary")[index : index + 1]
            truth = int(self.ctx.data.test_labels[index])
            what = f"test digit #{index} (a {truth})"
        else:
            digit, note = digit_from_drawing(drawing)
            what = f"your drawing ({note})"
        if isinstance(model, MADE):
            model.use_mask(0)  # raster order: "the rows above" are the known pixels
        x = digit.repeat(n, 1, 1, 1).to(model.device)
        known = rows * SIZE
        posterior_note = ""
        if model.conditional and y is None:
            posterior = model.label_posterior(x[:1], known)[0].cpu()
            top = torch.argsort(posterior, descending=True)[:3].tolist()
            posterior_note = " p(y | kept rows): " + ", ".join(f"**{k}**: {float(posterior[k]):.2f}" for k in top) + "."
        start = time.perf_counter()
        out, _ = model.complete(x, known, y, torch.Generator().manual_seed(seed))
        seconds = time.perf_counter() - start
        out = out.cpu()
        given = digit.clone()
        given[:, :, rows:] = 0.5
        tiles = torch.cat([digit, given, out])
        grid = to_image(tiles, nrow=len(tiles))
        probs = classify(out)[0]
        pred = probs.argmax(1)
        counts = torch.bincount(pred, minlength=10)
        reading = ", ".join(f"{d} ×{int(c)}" for d, c in enumerate(counts.tolist()) if c)
        text = (
            f"Given the top {rows} rows of {what}, {NAMES[model.family]} drew {n} completions in {seconds:.1f} s. "
            f"The classifier reads them as: {reading}."
        )
        if truth is not None:
            text += f" **{float((pred == truth).float().mean()):.0%}** are read as the true digit {truth}."
        return grid, text + posterior_note

    # -- receptive field and masks ----------------------------------------------------------------
    @ui_handler
    def receptive_field(self, state: ArSession | None, row: Any = 14, col: Any = 14) -> tuple[np.ndarray, str]:
        """Which input pixels influence the conditional of pixel (row, col), from gradients,
        for the session's PixelCNN and Gated PixelCNN side by side.

        Args:
            row, col: in [0, 27].

        Returns:
            (RGB picture uint8: PixelCNN left, Gated PixelCNN right; the pixel in red,
            pixels that influence it white to blue by gradient size, earlier pixels that do
            not (the blind spot) in orange, later pixels dark; markdown with the counts).
        """
        row = check_int("row", row, 0, SIZE - 1)
        col = check_int("column", col, 0, SIZE - 1)
        pixel = row * SIZE + col
        session = self.session(state)
        pictures, counts = [], []
        for family in ("pixelcnn", "gated_pixelcnn"):
            field_map = session.models[family].model.receptive_field(pixel, n_probes=8)
            picture, n_seen, n_blind = _field_picture(field_map, pixel)
            pictures.append(picture)
            counts.append((NAMES[family], n_seen, n_blind))
        text = " · ".join(f"{name}: sees **{seen}** of the {pixel} earlier pixels, blind to **{blind}**" for name, seen, blind in counts)
        return side_by_side(*pictures, gap=12), f"Pixel (row {row}, column {col}). {text}."

    @ui_handler
    def made_masks(self, state: ArSession | None, mask: Any = 0, row: Any = 14, col: Any = 14) -> tuple[np.ndarray, np.ndarray, str]:
        """MADE's connectivity for mask set ``mask``: the input-to-output dependency matrix
        (784 x 784, rows = outputs, pixels in the ordering), and which inputs output pixel
        (row, col) depends on.

        Returns:
            (matrix image uint8 (784, 784), dependency map RGB of the pixel, markdown).
        """
        made = self.session(state).models["made"].model
        mask = check_int(f"mask set (0-{made.n_masks - 1})", mask, 0, made.n_masks - 1)
        row = check_int("row", row, 0, SIZE - 1)
        col = check_int("column", col, 0, SIZE - 1)
        layers = made.connectivity(mask)
        path = layers[0].float()
        for m in layers[1:]:
            path = (m.float() @ path).clamp(max=1)  # (out, in): 1 where a path exists
        order = made.orderings[mask].cpu()
        matrix = path[order][:, order]  # in the ordering: strictly lower triangular
        matrix_image = ((1 - matrix) * 235 + 20).to(torch.uint8).numpy()
        pixel = row * SIZE + col
        depends = path[pixel].view(SIZE, SIZE)
        position = torch.empty(SIZE * SIZE, dtype=torch.long)
        position[order] = torch.arange(SIZE * SIZE)
        earlier = (position < position[pixel]).view(SIZE, SIZE)
        picture = _field_picture(depends, pixel, earlier)[0]
        n_dep = int(depends.sum())
        hidden = ", ".join(str(int(m.sum())) for m in layers)
        text = (
            f"Mask set {mask} of {made.n_masks} ({'raster order' if mask == 0 else 'a random ordering'}). Output pixel (row {row}, "
            f"column {col}) comes {int(position[pixel]) + 1}th in the ordering and depends on **{n_dep}** of the "
            f"{int(position[pixel])} pixels before it. Left: the 784 × 784 matrix of which output (row) depends on which input "
            f"(column), pixels sorted in the ordering: strictly below the diagonal, so the network is autoregressive. "
            f"Connections kept per layer: {hidden}."
        )
        return matrix_image, picture, text


def _mask_choices(session: ArSession) -> list[int]:
    return list(range(session.models["made"].model.n_masks))


def history_last(history: list[dict]) -> float | None:
    """The latest test NLL in a training history, if any."""
    for entry in reversed(history):
        if entry.get("test_losses"):
            return entry["test_losses"]["nll"]
    return None


def _field_picture(field_map: Tensor, pixel: int, earlier: Tensor | None = None, scale: int = 10) -> tuple[np.ndarray, int, int]:
    """An RGB picture (280, 280, 3) of a dependency map (28, 28) >= 0 for ``pixel``:
    influence white (small) to blue (large), the blind spot orange, other pixels dark
    grey, the pixel red. The blind spot: the pixels of ``earlier`` (bool (28, 28)) of no
    influence; by default, for a convolution stack in raster order, the earlier pixels of
    no influence that have a pixel of influence above them in their column (so pixels
    merely beyond the receptive field's reach do not count). Returns (picture, pixels
    seen, pixels in the blind spot)."""
    flat = field_map.reshape(-1).float()
    seen = flat > 0
    if earlier is None:  # raster order: the blind spot is the earlier pixels a convolution stack misses
        earlier = (torch.arange(SIZE * SIZE) < pixel).view(SIZE, SIZE)
        # ... beneath pixels it does see: an unseen pixel with a seen one above it in its
        # column. Pixels beyond the receptive field's reach (far up, far left) are not.
        seen_above = torch.cummax(seen.view(SIZE, SIZE).int(), 0).values.bool()
        seen_above = torch.cat([torch.zeros(1, SIZE, dtype=torch.bool), seen_above[:-1]])
        earlier = earlier & seen_above
    earlier = earlier.reshape(-1)
    strength = (flat / flat.max()).clamp(0, 1) ** 0.5 if bool(seen.any()) else flat
    rgb = torch.zeros(SIZE * SIZE, 3)
    rgb[:] = torch.tensor([45.0, 45.0, 55.0])  # later pixels
    blind = earlier & ~seen
    rgb[blind] = torch.tensor([255.0, 160.0, 40.0])
    shade = strength[seen][:, None]
    rgb[seen] = torch.tensor([235.0, 240.0, 255.0]) * (1 - shade) + torch.tensor([40.0, 90.0, 220.0]) * shade
    rgb[pixel] = torch.tensor([230.0, 30.0, 30.0])
    picture = rgb.view(SIZE, SIZE, 3).to(torch.uint8).numpy()
    picture = np.kron(picture, np.ones((scale, scale, 1), dtype=np.uint8))
    # thin grid lines every pixel make the cells countable
    picture[::scale] = (picture[::scale] * 0.8).astype(np.uint8)
    picture[:, ::scale] = (picture[:, ::scale] * 0.8).astype(np.uint8)
    return picture, int(seen.sum()), int(blind.sum())


def build(ctx: AppContext) -> AutoregressiveTab:
    """Build the autoregressive tab's components inside the current ``gr.Blocks`` and bind them."""
    tab = AutoregressiveTab(ctx)
    first = tab.session(None)
    samples0, seconds0 = tab.draw_samples(first.models[DEFAULT].model, N_SHOWN, 0)
    quality0 = f"{NAMES[DEFAULT]}: {N_SHOWN} samples in {seconds0:.1f} s. {quality_line(samples0)}"
    state = gr.State(None)
    label_choices = [(LABEL_ANY_TEXT, LABEL_ANY)] + [(str(d), str(d)) for d in range(10)]

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            models = checkpoint_panel(FAMILIES, DEFAULT, tab.describe(first))
            with gr.Row():
                family = gr.Dropdown(CHOICES, value=DEFAULT, label="model used by the panels below", elem_id="ar-family", scale=2, min_width=200)
                n_samples = gr.Slider(1, MAX_SAMPLES, value=N_SHOWN, step=1, label=f"samples (≤ {MAX_SAMPLES})")
                seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            resample = gr.Button("Draw samples", elem_id="ar-resample")
            quality = gr.Markdown(quality0, elem_id="ar-quality")
        with gr.Column(scale=3):
            samples_img = image_output("samples, drawn one pixel at a time", size=300, value=to_image(samples0), elem_id="ar-samples")

    with gr.Tabs():
        with gr.Tab("Watch a sample", id="ar-watch"):
            gr.Markdown("Each pixel is drawn from p(x_i = 1 | x_<i) given the pixels before it. Left: the samples so far, the next pixel in red; right: the probability each pixel was drawn from.")
            with gr.Row():
                w_n = gr.Slider(1, MAX_WATCH, value=4, step=1, label=f"samples (≤ {MAX_WATCH})")
                w_every = gr.Slider(1, SIZE * SIZE, value=28, step=1, label="pixels per frame")
                w_label = gr.Dropdown(label_choices, value=LABEL_ANY, label="digit (class-conditional Gated PixelCNN)")
                w_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            watch_btn = gr.Button("Draw", variant="primary", elem_id="ar-watch-run")
            watch_status = gr.Markdown(elem_id="ar-watch-status")
            with gr.Row():
                watch_img = image_output("samples · probability map", size=330, elem_id="ar-watch-picture")
                watch_gif = gr.Image(label="the whole draw as an animation", height=330, interactive=False, elem_classes=["pixelated", "fill"], elem_id="ar-watch-gif")

        with gr.Tab("Complete a digit", id="ar-complete"):
            gr.Markdown("Keep the top rows of a digit, hide the rest, and let the model draw the rest pixel by pixel, several times.")
            with gr.Row():
                with gr.Column():
                    c_source = gr.Radio(["test digit", "drawing"], value="test digit", label="complete")
                    c_index = index_box(ctx.data, "test digit", 0)
                    c_gallery = digit_gallery(ctx.data, label="click a test digit")
                with gr.Column():
                    sketch = gr.Sketchpad(
                        label="or draw a digit (dark on light); the model sees it scaled to 28 × 28", canvas_size=(280, 280),
                        fixed_canvas=True, height=340, layers=False, transforms=(),
                        brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=18), elem_id="ar-sketch",
                    )
            with gr.Row():
                c_rows = gr.Slider(1, SIZE - 1, value=14, step=1, label="rows kept from the top (the cut)")
                c_n = gr.Slider(1, MAX_COMPLETIONS, value=6, step=1, label=f"completions (≤ {MAX_COMPLETIONS})")
                c_label = gr.Dropdown(label_choices, value=LABEL_ANY, label="digit (class-conditional Gated PixelCNN)")
                c_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            complete_btn = gr.Button("Complete", variant="primary", elem_id="ar-complete-run")
            complete_img = image_output("the digit · what the model is given · completions", size=150, elem_id="ar-completion")
            complete_note = gr.Markdown(elem_id="ar-complete-note")

        with gr.Tab("Likelihood table", id="ar-table") as table_tab:
            table = gr.Markdown("Computing the exact test likelihoods…", elem_id="ar-table-text")
            table_btn = gr.Button("Recompute", elem_id="ar-table-refresh")

        with gr.Tab("Train a model", id="ar-train"):
            t = TRAIN_DEFAULTS
            with gr.Row():
                t_family = gr.Dropdown(CHOICES, value=t["family"], label="model", elem_id="ar-train-family")
                t_size = gr.Slider(4, 2000, value=t["size"], step=1, label="channels (PixelCNNs ≤ 128, PixelRNN ≤ 64) or hidden units (NADE ≤ 1000, MADE ≤ 2000)")
                t_layers = gr.Slider(1, 12, value=t["layers"], step=1, label="layers (PixelCNNs ≤ 12, PixelRNN ≤ 4, MADE hidden ≤ 3)")
                t_masks = gr.Slider(1, 8, value=t["masks"], step=1, label="MADE: orderings (masks)")
                t_cond = gr.Checkbox(value=t["conditional"], label="Gated PixelCNN: class-conditional")
            panel = training_panel("ar-train", t["steps"], MAX_UI_STEPS, t["lr"])
            train_img = image_output("16 samples from a fixed seed", size=300, elem_id="ar-train-samples")

        with gr.Tab("Receptive field and blind spot", id="ar-field"):
            gr.Markdown(
                "Click a pixel. From gradients: which input pixels change the model's p(x_i = 1 | x_<i) for it. "
                "**Red**: the pixel; **white to blue**: pixels it hears (blue: strongly); **orange**: earlier pixels it "
                "should see but does not, the **blind spot**; dark: later pixels, which it must not see."
            )
            with gr.Row():
                f_row = gr.Slider(0, SIZE - 1, value=14, step=1, label="row")
                f_col = gr.Slider(0, SIZE - 1, value=14, step=1, label="column")
            field0, field_note0 = tab.receptive_field(first, 14, 14)
            field_img = gr.Image(
                value=field0, label="PixelCNN (left) · Gated PixelCNN (right): click a pixel", height=320, interactive=False,
                format="png", elem_id="ar-field-picture", buttons=["fullscreen"],
            )
            field_note = gr.Markdown(field_note0, elem_id="ar-field-note")
            gr.Markdown("#### MADE: the masks")
            with gr.Row():
                m_mask = gr.Dropdown(_mask_choices(first), value=0, label="mask set (ordering); 0 is the raster order", elem_id="ar-made-mask")
            masks0 = tab.made_masks(first, 0, 14, 14)
            with gr.Row():
                m_matrix = gr.Image(value=masks0[0], label="which output depends on which input (pixels in the ordering)", height=340, interactive=False, format="png", elem_id="ar-made-matrix")
                m_field = gr.Image(value=masks0[1], label="inputs the chosen output pixel depends on", height=340, interactive=False, format="png", elem_id="ar-made-field")
            m_note = gr.Markdown(masks0[2], elem_id="ar-made-note")

        with gr.Tab("How it works", id="ar-explain"):
            gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    # -- bindings -------------------------------------------------------------------------------------
    def after_load(state_value: ArSession | None, loaded: str) -> tuple:
        return tab.table(state_value), gr.update(value=loaded)

    def mask_update(state_value: ArSession | None) -> dict:
        return gr.update(choices=_mask_choices(tab.session(state_value)), value=0)

    for event in (
        models.load.click(tab.load, [state, models.choice, models.source], [state, models.info, family], api_name="ar_load"),
        models.upload.upload(tab.load_zip, [state, models.upload], [state, models.info, family], api_name="ar_load_zip"),
    ):
        event.success(tab.table, state, table, api_visibility="private").then(
            tab.samples, [state, family, n_samples, seed], [samples_img, quality], api_visibility="private"
        ).then(tab.receptive_field, [state, f_row, f_col], [field_img, field_note], api_visibility="private").then(
            mask_update, state, m_mask, api_visibility="private"
        )
    table_btn.click(tab.table, state, table, api_name="ar_table")
    # The exact NLLs of five models over the test split take seconds: computed when the
    # table is first opened (and kept for the bundled models), not at start-up.
    table_tab.select(tab.table, state, table, api_visibility="private")
    models.choice.input(lambda: "", None, models.source, api_visibility="private", show_progress="hidden")
    models.download.click(tab.download, [state, family], models.download, api_name="ar_download", show_progress="hidden")
    resample.click(tab.samples, [state, family, n_samples, seed], [samples_img, quality], api_name="ar_samples", concurrency_limit=4, concurrency_id="ar-sampling")

    watch_btn.click(
        tab.watch, [state, family, w_n, w_every, w_label, w_seed], [watch_img, watch_status, watch_gif],
        api_name="ar_watch", concurrency_limit=4, concurrency_id="ar-sampling",
    )

    bind_pick(c_gallery, c_index)
    c_gallery.select(lambda: "test digit", None, c_source, api_visibility="private", show_progress="hidden")
    sketch.input(lambda: "drawing", None, c_source, api_visibility="private", show_progress="hidden")
    complete_btn.click(
        tab.complete, [state, family, c_source, c_index, sketch, c_rows, c_n, c_label, c_seed], [complete_img, complete_note],
        api_name="ar_complete", concurrency_limit=4, concurrency_id="ar-sampling",
    )

    train_event = panel.train.click(
        tab.train, [state, t_family, t_size, t_layers, t_masks, t_cond, panel.steps, panel.lr, panel.seed],
        [state, panel.status, panel.curves, train_img], api_name="ar_train", concurrency_limit=2, concurrency_id="train",
    )
    train_event.then(lambda s: tab.describe(tab.session(s)), state, models.info, api_visibility="private").then(
        tab.table, state, table, api_visibility="private"
    ).then(tab.receptive_field, [state, f_row, f_col], [field_img, field_note], api_visibility="private").then(
        mask_update, state, m_mask, api_visibility="private"
    )
    panel.stop.click(tab.stop, None, panel.status, api_name="ar_stop", concurrency_limit=None)

    def defaults_of(value: str) -> tuple:
        d = default_settings(value if value in FAMILIES else DEFAULT)
        return d["size"], d["layers"], d["lr"]

    t_family.input(defaults_of, t_family, [t_size, t_layers, panel.lr], api_visibility="private", show_progress="hidden")

    def clicked(evt: gr.SelectData) -> tuple[int, int]:
        x, y = evt.index
        x = int(x) % (SIZE * 10 + 12)  # either picture: 280 px, a 12 px gap, 280 px
        return min(SIZE - 1, int(y) // 10), min(SIZE - 1, x // 10)

    field_img.select(clicked, None, [f_row, f_col], api_visibility="private", show_progress="hidden")
    gr.on(
        [f_row.change, f_col.change], tab.receptive_field, [state, f_row, f_col], [field_img, field_note],
        api_name="ar_receptive_field", trigger_mode="always_last",
    )
    gr.on(
        [m_mask.input, f_row.change, f_col.change], tab.made_masks, [state, m_mask, f_row, f_col], [m_matrix, m_field, m_note],
        api_name="ar_made_masks", trigger_mode="always_last",
    )
    return tab
