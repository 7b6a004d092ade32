"""The Boltzmann tab: an RBM trained live by contrastive divergence, Gibbs "fantasies",
completion by clamped Gibbs sampling, a deep belief net, and the energy view with an AIS
estimate of the partition function.

Handlers are methods of ``BoltzmannTab`` so that tests can call them without a browser.
Each takes the session's ``BoltzmannSession`` from ``gr.State`` (None for a new session or
an API client, which then gets the bundled ``rbm`` and ``dbn``) and checks every value it
is given against the limits stated in its docstring and in the UI.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import N_PIXELS, SEED_MAX, check_bool, check_choice, check_float, check_int
from models.dbn import DBN
from models.rbm import RBM, bernoulli, weights_as_images
from playground.core import plots
from playground.core.metrics import classify
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

FAMILIES = ("rbm", "dbn")
DEFAULT_RBM = "rbm"
DEFAULT_DBN = "dbn"
BATCH_SIZE = 100
# Limits of the UI and the API (the library's own limits are wider).
MAX_UI_HIDDEN = 1000
MAX_UI_K = 25
MAX_UI_EPOCHS = 200
MAX_CHAINS = 100
MAX_UI_GIBBS = 10_000
MAX_FRAMES = 200
MAX_AIS_BETAS = 20_000
MAX_AIS_RUNS = 500
MAX_SHIFT = 10
N_FILTERS = 100  # hidden units shown in a filter mosaic (10 x 10)
N_SHOWN = 64  # fantasies on the page
N_RECON = 10
N_GAP = 500  # train and test digits behind the free-energy gap
TRAIN_DEFAULTS: dict[str, Any] = dict(
    n_hidden=200, method="PCD", k=1, lr=0.05, epochs=20, momentum=0.5, weight_decay=1e-3, decay=True, seed=0,
)
METHODS = ("CD", "PCD")
FANTASY_DEFAULTS = dict(start="noise", first=0, n_chains=N_SHOWN, steps=1000, every=20, seed=0)
YIELD_EVERY_S = 0.4
CURVES = {"reconstruction_error": "reconstruction error (squared, per digit)", "free_energy_gap": "free-energy gap: mean F(test) − F(train), nats"}
STACK_CURVES = {"reconstruction_error": "layer 2: error on h1", "stack_error": "pixels, up and down (test)"}
ENERGY_IMAGES = ("the digit", "shifted right", "shifted down", "pixels shuffled", "noise (same ink)", "blank")

EXPLANATION = r"""
### Energy and probability
A **restricted Boltzmann machine** has binary visible units $v$ (the pixels) and hidden units $h$, and gives
every joint state an **energy**

$$E(v,h)=-a^\top v-b^\top h-v^\top W h,\qquad p(v,h)=\frac{e^{-E(v,h)}}{Z},\qquad Z=\sum_{v,h}e^{-E(v,h)}.$$

Low energy means high probability. The **partition function** $Z$ sums over $2^{784+H}$ states: it cannot be
computed, so neither can $p(v)$ exactly. Summing $h$ out gives the **free energy**
$F(v)=-a^\top v-\sum_j\log(1+e^{b_j+W_{:j}^\top v})$, with $p(v)=e^{-F(v)}/Z$: the *Energy* panel compares
$F$ of a digit, of the same digit shifted and of noise.

### Why "restricted" makes sampling cheap
With no visible–visible or hidden–hidden connections, the units of a layer are independent given the other layer:

$$p(h_j=1\mid v)=\sigma(b_j+W_{:j}^\top v),\qquad p(v_i=1\mid h)=\sigma(a_i+W_{i:}h).$$

**Block Gibbs sampling** updates a whole layer at once: $v\to h\to v'\to\dots$ The *Fantasies* panel runs such
chains from noise (or from test digits) and shows both the sampled states $v$ and their means $p(v=1\mid h)$.
Fix some pixels and sample the rest (**clamped Gibbs**), and the chain completes a half-seen digit.

### Contrastive divergence: "wrong, but it works"
The log-likelihood gradient is a difference of correlations:

$$\frac{\partial\log p(v)}{\partial W_{ij}}=\langle v_ih_j\rangle_\text{data}-\langle v_ih_j\rangle_\text{model}.$$

The model term needs samples from $p$. **CD-k** (Hinton 2002) starts a chain at the data and stops after $k$
steps: biased, yet the filters learn strokes within seconds. **Persistent CD** (Tieleman 2008) keeps the chains
running between updates, so they wander to where the model puts mass and its fantasies look like digits.
Updates use momentum and weight decay on $W$ (Hinton 2010). The *reconstruction error* is only a monitor (CD
follows no objective); the **free-energy gap** between held-out and training digits grows when the RBM
overfits.

### How good is it? Annealed importance sampling
AIS (Neal 2001; Salakhutdinov & Murray 2008) estimates $\log Z$ by moving from a tractable base model (no
weights, pixel biases from the data) to the RBM through distributions $p_\beta$, $\beta: 0\to1$, one Gibbs step
at each, and averaging importance weights over independent runs. The spread of the weights is the estimate's
uncertainty; the test NLL is $\overline{F(v)}+\log Z$ in nats. AIS tends to *under*-estimate $\log Z$ (so to
flatter the NLL) when its runs miss modes: more temperatures and runs help. For $H\le 20$ hidden units $Z$
is exact by enumerating $h$.

### Deep belief nets
Train an RBM, use its hidden activities as data for a second, and so on (Hinton, Osindero & Teh 2006). To
generate, run Gibbs sampling in the top RBM, then pass down through $p(v\mid h)$ of each layer. A second-layer
unit's "receptive field" is drawn as $W_1W_2$: the first-layer filters it combines.

Hinton 2002, Neural Computation 14(8) · Tieleman 2008, ICML · Hinton 2010, UTML TR 2010-003 ·
Salakhutdinov & Murray 2008, ICML · Neal 2001, arXiv:physics/9803008 · Hinton, Osindero & Teh 2006, Neural Computation 18(7).
"""


def _filters(weight: Tensor, n: int = N_FILTERS) -> np.ndarray:
    """The first ``n`` hidden units' filters (columns of a (784, H) matrix) as a mosaic."""
    images = weights_as_images(weight[:, :n])
    return to_image(images, nrow=max(1, math.ceil(math.sqrt(len(images)))))


class RbmView(ModelView):
    """A loaded RBM plus what is derived from it once. Never modified after it is made,
    so sessions can share the bundled one; the model itself is only read."""

    def __init__(self, model: RBM, name: str, ctx: AppContext, ais: dict[str, Any] | None = None):
        super().__init__(model, name)
        self.ctx = ctx
        self.ais = ais  # the last AIS estimate for this model, if any

    @functools.cached_property
    def free_energy_gap(self) -> float:
        """Mean F(test) − mean F(train) on ``N_GAP`` digits each, in nats."""
        return _free_energy_gap(self.model, self.ctx)

    def describe(self) -> str:
        """Markdown: name, size, training recipe, the free-energy gap and any AIS figure."""
        m = self.model
        how = f"PCD-{m.cd_k}" if m.persistent else f"CD-{m.cd_k}"
        text = (
            f"**RBM: {self.name}** · {m.n_visible} visible × {m.n_hidden} hidden units · trained by {how}, momentum "
            f"{m.momentum:g}, weight decay {m.weight_decay:g} · {m.weight.numel() / 1e3:.0f} k weights · free-energy gap "
            f"test − train **{self.free_energy_gap:+.1f}** nats"
        )
        if self.ais:
            text += f" · test NLL **{self.ais['nll']:.1f}** nats ({_ais_kind(self.ais)})"
        return text


class DbnView(ModelView):
    """A loaded DBN (read-only, shareable), with its name."""

    def __init__(self, model: DBN, name: str, ctx: AppContext):
        super().__init__(model, name)
        self.ctx = ctx

    def describe(self) -> str:
        """Markdown: name and layer sizes."""
        m = self.model
        sizes = " → ".join(str(n) for n in [784, *m.hidden_sizes])
        schedule = (
            f"layer 1 copied from the RBM, layer 2 trained {m.steps_per_layer:,} updates" if m.first_trained_layer
            else f"greedy, {m.steps_per_layer:,} updates per layer"
        )
        return (
            f"**DBN: {self.name}** · layers {sizes} · {schedule} · "
            f"samples: {m.n_gibbs:,} Gibbs steps in the top RBM, then the top-down pass"
        )


def _num(value: float) -> str:
    return "−∞" if value == -math.inf else f"{value:.1f}"


def _ais_kind(ais: dict[str, Any]) -> str:
    if ais["exact"]:
        return "exact log Z"
    text = f"AIS, {ais['n_betas']:,} temperatures × {ais['n_runs']} runs; test NLL range {_num(ais['nll_low'])} to {_num(ais['nll_high'])}"
    if ais["below_floor"]:
        text += "; **too low**: log Z is surely above the estimate"
    return text


@torch.no_grad()
def _free_energy_gap(model: RBM, ctx: AppContext) -> float:
    device = model.device
    train_f = model.free_energy(ctx.data.images("train", "binary")[:N_GAP].to(device)).mean()
    test_f = model.free_energy(ctx.data.images("test", "binary")[:N_GAP].to(device)).mean()
    return float(test_f - train_f)


@dataclass
class BoltzmannSession:
    """One browser session's models: the RBM every RBM panel uses and the DBN.

    Handlers change the session in place (``rbm`` or ``dbn``) rather than replacing it, so
    that a training run, which holds the session for its whole length, and a Load or an
    AIS estimate made meanwhile by the same user do not undo each other."""

    rbm: RbmView
    dbn: DbnView


def _frames_note(steps: int, every: int) -> int:
    n_frames = math.ceil(steps / every) + 1  # the start, every ``every`` steps, and the end
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"{steps} steps with a frame every {every} make {n_frames} frames: at most {MAX_FRAMES}; "
            f"take a frame every {math.ceil(steps / (MAX_FRAMES - 1))} steps or more"
        )
    return n_frames


def _test_digits(ctx: AppContext, first: Any, n: int) -> tuple[int, Tensor]:
    n_test = len(ctx.data.test_labels)
    first = check_int(f"first test digit (0-{n_test - 1})", first, 0, n_test - 1)
    idx = torch.arange(first, first + n) % n_test  # wraps round the test split
    return first, ctx.data.images("test", "binary")[idx]


def _history_entry(event: Any, test_key: str) -> dict[str, Any]:
    """A ``plots.training_curves`` history entry of a CD run: the training reconstruction
    error, and at evaluation events the test one under ``test_key``."""
    entry: dict[str, Any] = {"step": event.step, "losses": {"reconstruction_error": event.losses.get("reconstruction_error", math.nan)}}
    if event.test_losses:
        entry["test_losses"] = {test_key: event.test_losses["reconstruction_error"]}
    return entry


def _progress_line(event: Any, per_epoch: int, n_epochs: int, prefix: str, of: str = "") -> str:
    """The status line of a running CD run: epoch, speed and reconstruction error."""
    return (
        f"{prefix}epoch {event.step / per_epoch:.1f} / {n_epochs} · update {event.step} · "
        f"{event.step / max(event.elapsed_s, 1e-9):.0f} updates/s · reconstruction error{of} "
        f"{event.losses['reconstruction_error']:.2f}"
    )


class BoltzmannTab:
    """Handlers of the Boltzmann tab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bundled = BundledViews(
            ctx, FAMILIES, lambda model, name: (RbmView if isinstance(model, RBM) else DbnView)(model, name, ctx)
        )

    # -- sessions and models ----------------------------------------------------------------
    def session(self, state: BoltzmannSession | None) -> BoltzmannSession:
        """The session's state, or a new one on the bundled RBM and DBN."""
        if isinstance(state, BoltzmannSession):
            return state
        return BoltzmannSession(self._bundled.get(DEFAULT_RBM), self._bundled.get(DEFAULT_DBN))

    def _with_model(self, state: BoltzmannSession | None, model: Any, name: str) -> BoltzmannSession:
        """The session with ``model`` as its RBM or DBN (changed in place).

        Raises:
            ValueError: an RBM that does not model 28 x 28 pixels (784 visible units).
        """
        if isinstance(model, RBM) and model.n_visible != N_PIXELS:
            raise ValueError(
                f"this tab draws digits: it needs an RBM with {N_PIXELS} visible units (28 x 28 pixels), this one has {model.n_visible}"
            )
        session = self.session(state)
        if isinstance(model, DBN):
            session.dbn = DbnView(model, name, self.ctx)
        else:
            session.rbm = RbmView(model, name, self.ctx)
        return session

    def describe(self, session: BoltzmannSession) -> str:
        """Markdown describing both of the session's models."""
        return session.rbm.describe() + "\n\n" + session.dbn.describe()

    @ui_handler
    def load(self, state: BoltzmannSession | None, choice: str | None, source: str | None) -> tuple:
        """Load an RBM or a DBN (bundled name, Hub repo id or local folder). An RBM replaces
        the session's RBM, a DBN its DBN.

        Returns:
            (session, description markdown).

        Raises:
            gr.Error: the checkpoint cannot be loaded or is neither an RBM nor a DBN; the
                session keeps its models.
        """
        model, name = load_checkpoint(self.ctx, FAMILIES, choice, source)
        session = self._with_model(state, model, name)
        return session, self.describe(session)

    @ui_handler
    def load_zip(self, state: BoltzmannSession | None, path: str | None) -> tuple:
        """Load an RBM or DBN from an uploaded checkpoint zip; returns (session, description)."""
        session = self._with_model(state, load_checkpoint_zip(self.ctx, FAMILIES, path), "uploaded checkpoint")
        return session, self.describe(session)

    @ui_handler
    def download(self, state: BoltzmannSession | None, which: Any = "rbm") -> str:
        """The session's RBM or DBN (``which``: "rbm" or "dbn") as a checkpoint zip (path)."""
        session = self.session(state)
        which = check_choice("model", which, FAMILIES)
        return str((session.rbm if which == "rbm" else session.dbn).export)

    # -- filters and reconstructions ----------------------------------------------------------
    @ui_handler
    def filters(self, state: BoltzmannSession | None) -> np.ndarray:
        """The first 100 hidden units' weights, each as a 28 x 28 image (grey = 0, white
        excitatory, black inhibitory), as a 10 x 10 mosaic (uint8)."""
        return _filters(self.session(state).rbm.model.weight)

    def _reconstructions(self, model: RBM) -> np.ndarray:
        x = self.ctx.data.images("test", "binary")[:N_RECON].to(model.device)
        with torch.no_grad():
            recon = model.visible_probs(model.hidden_probs(x))
        return to_image(torch.cat([x.view(-1, 1, 28, 28), recon.view(-1, 1, 28, 28)]).cpu(), nrow=N_RECON)

    @ui_handler
    def reconstructions(self, state: BoltzmannSession | None) -> np.ndarray:
        """Ten test digits (top row) and their reconstructions p(v | p(h | v)) (bottom)."""
        return self._reconstructions(self.session(state).rbm.model)

    # -- training -----------------------------------------------------------------------------
    @ui_handler
    def train(
        self, state: BoltzmannSession | None, n_hidden: Any, method: Any, k: Any, lr: Any, epochs: Any,
        momentum: Any, weight_decay: Any, decay: Any, seed: Any, request: gr.Request,
    ) -> Iterator[tuple]:
        """Train a new RBM from scratch on the binarised training digits, in batches of 100
        (an epoch is one pass: 45 updates on the bundled 4,500 digits).

        Args:
            n_hidden: hidden units in [1, 1000]; method: "CD" (CD-k) or "PCD"; k: Gibbs
            steps per update in [1, 25]; lr: learning rate in [1e-5, 1]; epochs: in [1, 200];
            momentum: in [0, 0.99]; weight_decay: L2 on W in [0, 0.1]; decay: bool, the
            learning rate decays linearly to 0 over the run (Tieleman 2008); seed: int in
            [0, 2^31).

        Yields:
            (session, status markdown, filter mosaic, reconstructions, plotly curves of the
            reconstruction error (train, test) and of the free-energy gap, fantasies after
            training (at the end)). The session's RBM becomes the new one when the run ends
            or is stopped; a diverging run keeps the last finite weights.

        Raises:
            gr.Error: a setting out of range, or this session is already training.
        """
        n_hidden = check_int("hidden units", n_hidden, 1, MAX_UI_HIDDEN)
        method = check_choice("method", method, METHODS)
        k = check_int("k (Gibbs steps per update)", k, 1, MAX_UI_K)
        lr = check_float("learning rate", lr, 1e-5, 1.0)
        epochs = check_int("epochs", epochs, 1, MAX_UI_EPOCHS)
        momentum = check_float("momentum", momentum, 0.0, 0.99)
        weight_decay = check_float("weight decay", weight_decay, 0.0, 0.1)
        decay = check_bool("learning-rate decay", decay)
        seed = check_int("seed", seed, 0, SEED_MAX)
        per_epoch = math.ceil(len(self.ctx.data.train_labels) / BATCH_SIZE)
        steps = epochs * per_epoch
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=5, sample_every=0,
            eval_every=max(per_epoch, steps // 40 // per_epoch * per_epoch), n_samples=N_SHOWN, n_eval=N_GAP,
            lr_schedule="linear" if decay else "constant",
        )
        model = seeded_init(
            RBM, seed, n_hidden=n_hidden, cd_k=k, persistent=method == "PCD", momentum=momentum, weight_decay=weight_decay,
        ).to(self.ctx.device)
        key = session_key(request)
        stop = self.ctx.sessions.start(key, "boltzmann-train")
        try:
            yield from self._train_run(state, model, config, stop, per_epoch, f"trained here ({method}-{k}, {epochs} epochs, seed {seed})")
        finally:
            self.ctx.sessions.finish(key, "boltzmann-train", stop)

    def _train_run(self, state: BoltzmannSession | None, model: RBM, config: TrainConfig, stop: threading.Event, per_epoch: int, name: str):
        session = self.session(state)
        # The State holds this session object from now on, so a Load made during the run
        # changes it in place and the run's end does not undo it.
        yield session, "Starting…", gr.skip(), gr.skip(), gr.skip(), gr.skip()

        def record(event: Any) -> dict:
            entry = _history_entry(event, "reconstruction_error")
            if event.test_losses:
                entry["losses"]["free_energy_gap"] = _free_energy_gap(model, self.ctx)
            return entry

        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, record, YIELD_EVERY_S):
            fantasies = gr.skip()
            if not event.final:
                status = _progress_line(event, per_epoch, config.steps // per_epoch, "")
            elif learnt:
                session = self._with_model(session, model, name)
                status = f"**{event.status}**: {event.message}."
                if event.samples is not None:
                    fantasies = to_image(event.samples, nrow=8)
                    status += (
                        f" Fantasies after {model.n_gibbs:,} Gibbs steps from noise are shown below. "
                        f"{quality_line(event.samples)} Every RBM panel now uses this model."
                    )
            else:
                status = f"**{event.status}**: {event.message}. Nothing finite was learnt, so your previous RBM is kept."
            yield session, status, _filters(model.weight), self._reconstructions(model), plots.training_curves(history, CURVES), fantasies

    @ui_handler
    def stop(self, request: gr.Request) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        return "Stopping…" if self.ctx.sessions.set_flag(session_key(request), "boltzmann-train") else "Nothing is training."

    # -- fantasies -----------------------------------------------------------------------------
    @ui_handler
    def fantasies(
        self, state: BoltzmannSession | None, start: Any = "noise", first: Any = 0, n_chains: Any = 36, steps: Any = 1000,
        every: Any = 20, seed: Any = 0,
    ) -> Iterator[tuple]:
        """Run Gibbs chains in the session's RBM and stream them.

        Args:
            start: "noise" (each pixel on with probability 1/2) or "test digits" (chains
                start at test digits ``first``, ``first`` + 1, ...).
            first: test index in [0, N_test - 1] (checked whichever the start); n_chains: in [1, 100]; steps: Gibbs steps in
            [1, 10,000]; every: steps between frames in [1, 10,000], at most 200 frames;
            seed: int in [0, 2^31).

        Yields:
            (sampled states v grid, means p(v = 1 | h) grid, status markdown, animation GIF
            path (at the end)). Frames show the states (left) and means (right).

        Raises:
            gr.Error: a value out of range.
        """
        start = check_choice("start", start, ("noise", "test digits"))
        n_chains = check_int("chains", n_chains, 1, MAX_CHAINS)
        steps = check_int("Gibbs steps", steps, 1, MAX_UI_GIBBS)
        every = check_int("frame every (steps)", every, 1, MAX_UI_GIBBS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        _frames_note(steps, every)
        _, digits = _test_digits(self.ctx, first, n_chains)  # checks ``first`` whichever the start
        model = self.session(state).rbm.model
        g = torch.Generator().manual_seed(seed)
        if start == "noise":
            v = bernoulli(torch.full((n_chains, model.n_visible), 0.5), g)
        else:
            v = digits.view(n_chains, -1)
        yield from self._stream_chain(model, v.to(model.device), steps, every, g, None, f"fantasies-{start.replace(' ', '-')}")

    def _stream_chain(self, model: RBM, v: Tensor, steps: int, every: int, g: torch.Generator, clamp: Tensor | None, name: str):
        nrow = max(1, math.ceil(math.sqrt(len(v))))
        mean = v

        def grids(states: Tensor, means: Tensor) -> tuple[np.ndarray, np.ndarray]:
            return to_image(states.view(-1, 1, 28, 28), nrow), to_image(means.view(-1, 1, 28, 28), nrow)

        frames = [side_by_side(*grids(v.cpu(), mean.cpu()))]
        last_yield = time.perf_counter()
        done = 0
        while done < steps:
            chunk = min(every, steps - done)
            v, mean, _ = model.gibbs_chain(v, chunk, clamp=clamp, generator=g)
            done += chunk
            left, right = grids(v.cpu(), mean.cpu())
            frames.append(side_by_side(left, right))
            now = time.perf_counter()
            if now - last_yield >= YIELD_EVERY_S and done < steps:
                last_yield = now
                yield left, right, f"Gibbs step {done:,} / {steps:,}…", gr.skip()
        animation = save_animation(frames, name, frame_ms=120)
        status = f"After **{steps:,}** Gibbs steps ({len(frames)} frames in the animation). {quality_line(mean.view(-1, 1, 28, 28).cpu())}"
        yield left, right, status, animation

    # -- completion ------------------------------------------------------------------------------
    @ui_handler
    def complete(
        self, state: BoltzmannSession | None, first: Any = 0, n_digits: Any = 4, rows: Any = 14, n_samples: Any = 6,
        steps: Any = 200, seed: Any = 0,
    ) -> Iterator[tuple]:
        """Completion by clamped Gibbs sampling: the top ``rows`` pixel rows of test digits
        ``first``, ``first`` + 1, ... are fixed and the chain samples the rest.

        Args:
            first: test index in [0, N_test - 1]; n_digits: in [1, 8]; rows: clamped rows in
            [1, 27]; n_samples: completions per digit in [1, 8]; steps: Gibbs steps in
            [1, 5,000]; seed: int in [0, 2^31).

        Yields:
            (grid: one row per digit, the original, what the chain sees (unknown pixels
            grey) and the completions' means; status markdown). Streams as the chains run.

        Raises:
            gr.Error: a value out of range.
        """
        n_digits = check_int("digits", n_digits, 1, 8)
        rows = check_int("clamped rows", rows, 1, 27)
        n_samples = check_int("completions per digit", n_samples, 1, 8)
        steps = check_int("Gibbs steps", steps, 1, 5000)
        seed = check_int("seed", seed, 0, SEED_MAX)
        first, digits = _test_digits(self.ctx, first, n_digits)
        model = self.session(state).rbm.model
        g = torch.Generator().manual_seed(seed)
        mask = torch.zeros(28, 28, dtype=torch.bool)
        mask[:rows] = True
        mask = mask.flatten()
        x = digits.view(n_digits, -1).repeat_interleave(n_samples, 0)  # (D * S, 784)
        v = torch.where(mask, x, bernoulli(torch.full_like(x, 0.5), g)).to(model.device)
        seen = torch.where(mask, digits.view(n_digits, -1), torch.full((n_digits, 784), 0.5))

        def grid(means: Tensor) -> np.ndarray:
            per_digit = means.cpu().view(n_digits, n_samples, 784)
            tiles = torch.cat([digits.view(n_digits, 1, 784), seen[:, None], per_digit], 1)  # (D, 2 + S, 784)
            return to_image(tiles.view(-1, 1, 28, 28), nrow=2 + n_samples)

        done, last_yield = 0, time.perf_counter()
        mean = v
        while done < steps:
            chunk = min(25, steps - done)
            v, mean, _ = model.gibbs_chain(v, chunk, clamp=mask, generator=g)
            done += chunk
            now = time.perf_counter()
            if now - last_yield >= YIELD_EVERY_S and done < steps:
                last_yield = now
                yield grid(mean), f"Gibbs step {done:,} / {steps:,}…"
        probs = classify(mean.cpu().view(-1, 1, 28, 28))[0].view(n_digits, n_samples, 10)
        truth = self.ctx.data.test_labels[torch.arange(first, first + n_digits) % len(self.ctx.data.test_labels)]
        agree = float((probs.argmax(2) == truth[:, None]).float().mean())
        yield grid(mean), (
            f"Rows: test digits #{first}–#{first + n_digits - 1}; columns: the digit, what the chain sees (top {rows} rows "
            f"fixed, the rest unknown), then {n_samples} completions after {steps:,} clamped Gibbs steps. The classifier "
            f"reads **{agree:.0%}** of the completions as the original digit."
        )

    # -- DBN ----------------------------------------------------------------------------------------
    @ui_handler
    def dbn_samples(self, state: BoltzmannSession | None, n: Any = 36, steps: Any = 1000, every: Any = 50, start: Any = "noise", seed: Any = 0) -> Iterator[tuple]:
        """Samples from the session's DBN: ``steps`` Gibbs steps in the top RBM (from noise,
        or from the codes of test digits 0, 1, ...), each frame passed down to pixels.

        Args:
            n: samples in [1, 100]; steps: in [1, 10,000]; every: steps between frames,
            at most 200 frames; start: "noise" or "test digits"; seed: int in [0, 2^31).

        Yields:
            a placeholder (the grid unchanged, "Running…"), then (the final samples grid,
            status markdown, animation GIF path of the chain).

        Raises:
            gr.Error: a value out of range.
        """
        n = check_int("samples", n, 1, MAX_CHAINS)
        steps = check_int("Gibbs steps", steps, 1, MAX_UI_GIBBS)
        every = check_int("frame every (steps)", every, 1, MAX_UI_GIBBS)
        start = check_choice("start", start, ("noise", "test digits"))
        seed = check_int("seed", seed, 0, SEED_MAX)
        _frames_note(steps, every)
        view = self.session(state).dbn
        g = torch.Generator().manual_seed(seed)
        begin = _test_digits(self.ctx, 0, n)[1] if start == "test digits" else None
        yield gr.skip(), f"Running {steps:,} Gibbs steps in the top RBM…", gr.skip()
        images, frames = view.model.generate(n, steps, every=every, generator=g, start=begin)
        nrow = max(1, math.ceil(math.sqrt(n)))
        animation = save_animation([to_image(f, nrow) for _, f in frames], "dbn-top-level-chain", frame_ms=120)
        yield to_image(images.cpu(), nrow), f"{view.name}: after **{steps:,}** top-level Gibbs steps and the top-down pass. {quality_line(images.cpu())}", animation

    @ui_handler
    def stack(
        self, state: BoltzmannSession | None, n_hidden: Any, epochs: Any, lr: Any, decay: Any, seed: Any, request: gr.Request,
    ) -> Iterator[tuple]:
        """Greedy layer-wise training, live: stack a new RBM of ``n_hidden`` units on the
        session's RBM (copied, kept frozen) and train it by PCD-1 on samples of p(h | v)
        of the training digits. The result is a two-layer DBN.

        Args:
            n_hidden: units of the new layer in [1, 1000]; epochs: in [1, 200] (45
            updates each); lr: in [1e-5, 1]; decay: bool, linear decay to 0; seed: int
            in [0, 2^31).

        Yields:
            (session, status markdown, the new layer's receptive fields (W1 W2) mosaic,
            plotly curves, DBN samples (at the end)). The session's DBN becomes the new
            one when the run ends or is stopped.

        Raises:
            gr.Error: a setting out of range, or this session is already training.
        """
        n_hidden = check_int("units in the new layer", n_hidden, 1, MAX_UI_HIDDEN)
        epochs = check_int("epochs", epochs, 1, MAX_UI_EPOCHS)
        lr = check_float("learning rate", lr, 1e-5, 1.0)
        decay = check_bool("learning-rate decay", decay)
        seed = check_int("seed", seed, 0, SEED_MAX)
        session = self.session(state)
        rbm = session.rbm.model
        per_epoch = math.ceil(len(self.ctx.data.train_labels) / BATCH_SIZE)
        steps = epochs * per_epoch
        model = seeded_init(
            DBN, seed, hidden_sizes=[rbm.n_hidden, n_hidden], steps_per_layer=steps, cd_k=1, persistent=True,
            momentum=rbm.momentum, weight_decay=rbm.weight_decay, lr_decay=decay,
        ).to(self.ctx.device).stack_on(rbm)
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=5, sample_every=0,
            eval_every=max(per_epoch, steps // 40 // per_epoch * per_epoch), n_samples=36, n_eval=N_GAP,
        )
        key = session_key(request)
        stop = self.ctx.sessions.start(key, "boltzmann-train")
        name = f"stacked here on {session.rbm.name} ({n_hidden} units, {epochs} epochs, seed {seed})"

        def record(event: Any) -> dict:
            return _history_entry(event, "stack_error")

        try:
            yield session, "Starting…", gr.skip(), gr.skip(), gr.skip()  # the State holds this session from now on
            for event, history, learnt in stream_training(model, self.ctx.data, config, stop, record, YIELD_EVERY_S):
                samples = gr.skip()
                if not event.final:
                    status = _progress_line(event, per_epoch, epochs, "layer 2: ", " of h1")
                elif learnt:
                    session.dbn = DbnView(model, name, self.ctx)
                    status = f"**{event.status}**: {event.message}."
                    if event.samples is not None:
                        samples = to_image(event.samples, nrow=6)
                        status += f" Samples of the new DBN are shown below. {quality_line(event.samples)} The DBN panels now use it."
                else:
                    status = f"**{event.status}**: {event.message}. Nothing finite was learnt, so your previous DBN is kept."
                fields = to_image(model.receptive_fields(2)[:N_FILTERS], nrow=10)
                yield session, status, fields, plots.training_curves(history, STACK_CURVES), samples
        finally:
            self.ctx.sessions.finish(key, "boltzmann-train", stop)

    @ui_handler
    def dbn_fields(self, state: BoltzmannSession | None, layer: Any = 1) -> tuple[np.ndarray, str]:
        """What the first 100 units of DBN hidden layer ``layer`` (1 to the number of
        layers) respond to: W1 for layer 1, W1 W2 ... for higher layers (the pixel pattern
        that drives each unit through the linear path), as a mosaic and a caption."""
        model = self.session(state).dbn.model
        layer = check_int("layer", layer, 1, len(model.layers))
        fields = model.receptive_fields(layer)[:N_FILTERS]
        text = (
            "Layer 1: each unit's weights on the pixels (white excitatory, black inhibitory)." if layer == 1 else
            f"Layer {layer}: W1·…·W{layer}, the combination of first-layer filters each unit is wired to: larger, more digit-like parts."
        )
        return to_image(fields, nrow=10), text

    # -- energy and AIS --------------------------------------------------------------------------------
    def _energy_images(self, index: Any, shift: Any, seed: Any) -> tuple[int, Tensor]:
        n_test = len(self.ctx.data.test_labels)
        index = check_int(f"test digit (0-{n_test - 1})", index, 0, n_test - 1)
        shift = check_int("shift (pixels)", shift, 1, MAX_SHIFT)
        seed = check_int("seed", seed, 0, SEED_MAX)
        g = torch.Generator().manual_seed(seed)
        x = self.ctx.data.images("test", "binary")[index].view(28, 28)
        right = torch.roll(x, shift, 1)
        down = torch.roll(x, shift, 0)
        shuffled = x.flatten()[torch.randperm(784, generator=g)].view(28, 28)
        noise = (torch.rand(28, 28, generator=g) < x.mean()).float()
        images = torch.stack([x, right, down, shuffled, noise, torch.zeros(28, 28)])[:, None]
        return index, images

    @ui_handler
    def energy(self, state: BoltzmannSession | None, index: Any = 0, shift: Any = 3, seed: Any = 0) -> tuple[np.ndarray, go.Figure, str]:
        """Free energies of a test digit (index in [0, N_test - 1]), it shifted right and down by
        ``shift`` in [1, 10] pixels, its pixels shuffled, noise with the same ink and a
        blank image; with a log Z estimate, their log p(v) = -F(v) - log Z in nats.

        Returns:
            (the six images, a plotly bar chart of F (nats), markdown)."""
        session = self.session(state)
        model, ais = session.rbm.model, session.rbm.ais
        index, images = self._energy_images(index, shift, seed)
        with torch.no_grad():
            free = model.free_energy(images.to(model.device)).cpu().double()
        fig = plots.bar_chart(ENERGY_IMAGES, free.tolist(), "free energy F(v) of each image: lower is more probable", "F(v), nats")
        header = "| image | F(v), nats | log p(v), nats |" if ais else "| image | F(v), nats |"
        lines = [header, "|---|---|---|" if ais else "|---|---|"]
        for name, f in zip(ENERGY_IMAGES, free.tolist()):
            lines.append(f"| {name} | {f:.1f} | {-f - ais['log_z']:.1f} |" if ais else f"| {name} | {f:.1f} |")
        delta = float(free[1:5].min() - free[0])  # log p(digit) - log p(best of the altered images)
        ratio = (
            f"The digit is exp({delta:.0f}) times more probable than the likeliest of the shifted, shuffled and noise images: "
            "p(v)/p(v') = exp(F(v') − F(v)), no Z needed."
            if delta > 0 else
            f"This RBM rates an altered image exp({-delta:.0f}) times more probable than the digit itself."
        )
        tail = (
            f"\n\n{ratio} log p(v) = −F(v) − log Z with log Z = {ais['log_z']:.1f} ({_ais_kind(ais)})."
            if ais else f"\n\n{ratio} Press **Estimate log Z** below for log p(v) itself."
        )
        return to_image(images, nrow=6), fig, "\n".join(lines) + tail

    @ui_handler
    def estimate(self, state: BoltzmannSession | None, n_betas: Any = 2000, n_runs: Any = 100, seed: Any = 0, progress=gr.Progress()) -> tuple:
        """Estimate log Z of the session's RBM by AIS (exact for <= 20 hidden units), and
        from it the test NLL: mean F(test) + log Z, in nats.

        Args:
            n_betas: intermediate temperatures in [100, 20,000]; n_runs: in [10, 500];
            seed: int in [0, 2^31).

        Returns:
            (session (the estimate is kept with its RBM), markdown result, plotly histogram
            of the runs' log importance weights, the model description).

        Raises:
            gr.Error: a value out of range.
        """
        n_betas = check_int("AIS temperatures", n_betas, 100, MAX_AIS_BETAS)
        n_runs = check_int("AIS runs", n_runs, 10, MAX_AIS_RUNS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        session = self.session(state)
        model = session.rbm.model
        x_test = self.ctx.data.images("test", "binary").to(model.device)
        with torch.no_grad():
            mean_f = float(model.free_energy(x_test).double().mean())
        fig = None
        if model.n_hidden <= 20:
            log_z = model.exact_log_partition()
            ais = {"log_z": log_z, "exact": True, "nll": mean_f + log_z, "nll_low": mean_f + log_z, "nll_high": mean_f + log_z, "below_floor": False}
            text = f"**Exact** log Z = {log_z:.2f} nats (enumerating 2^{model.n_hidden} hidden states). Test NLL **{ais['nll']:.2f}** nats per digit."
        else:
            progress(0, desc=f"AIS: {n_runs} runs × {n_betas:,} temperatures")
            est = model.ais(n_betas, n_runs, base_data=self.ctx.data.images("train", "binary"), generator=torch.Generator(device=model.device).manual_seed(seed))
            ais = {
                "log_z": est["log_z"], "exact": False, "n_betas": n_betas, "n_runs": n_runs, "nll": mean_f + est["log_z"],
                "nll_low": mean_f + est["log_z_low"], "nll_high": mean_f + est["log_z_high"],
                "below_floor": est["log_z"] < est["log_z_floor"],
            }
            text = (
                f"AIS: log Z ≈ **{est['log_z']:.2f}** nats (±3 standard errors of the mean weight: {_num(est['log_z_low'])} to "
                f"{est['log_z_high']:.2f}), from log Z of the base-rate model {est['log_z_base']:.1f}. Test NLL ≈ **{ais['nll']:.2f}** "
                f"nats per digit (mean F(test) {mean_f:.2f} + log Z; range {_num(ais['nll_low'])} to {ais['nll_high']:.2f}). "
                "A few runs with large weights dominate when the spread is wide: add temperatures or runs."
            )
            floor = est["log_z_floor"]
            if ais["below_floor"]:
                text += (
                    f"\n\n**The estimate is too low.** The training digits and the blank and all-ink images alone give log Z ≥ {floor:.2f} "
                    f"(Z is at least the sum of their e^−F), so the test NLL is at least {mean_f + floor:.2f}. The AIS runs "
                    "missed a mode of the model, one far from the data: a classic failure of AIS on RBMs."
                )
            else:
                text += f" Sanity check passed: the estimate is above log Z ≥ {floor:.2f}, which the training digits and the blank and all-ink images alone give."
            weights = est["log_weights"].numpy()
            fig = plots.histogram(
                weights - weights.max(), "AIS runs: log importance weight (relative to the largest)", "log w − max log w (nats)", "runs",
            )
        if session.rbm.model is model:  # unless the user loaded another RBM meanwhile
            session.rbm = RbmView(model, session.rbm.name, self.ctx, ais)
        return session, text, fig, self.describe(session)

    @ui_handler
    def samples(self, state: BoltzmannSession | None, seed: Any = 0) -> tuple[np.ndarray, np.ndarray, str]:
        """64 fantasies of the session's RBM (1,000 Gibbs steps from noise; means) and 64
        samples of its DBN, drawn with ``seed``; plus the classifier's reading of each."""
        _, rbm, dbn = self.draw(self.session(state), check_int("seed", seed, 0, SEED_MAX))
        return to_image(rbm), to_image(dbn), self.quality(rbm, dbn)

    @staticmethod
    def quality(rbm: Tensor, dbn: Tensor) -> str:
        """Markdown: the classifier's reading of RBM fantasies and DBN samples."""
        return f"RBM: {quality_line(rbm)}  \nDBN: {quality_line(dbn)}"

    def draw(self, session: BoltzmannSession, seed: int) -> tuple[Tensor, Tensor, Tensor]:
        """The page's samples: RBM fantasy states and means (``rbm_fantasies``) and 64 DBN
        samples after 1,000 top-level Gibbs steps, each (64, 1, 28, 28) on the CPU."""
        states, means = self.rbm_fantasies(session.rbm.model, seed)
        dbn = session.dbn.model.generate(N_SHOWN, 1000, generator=torch.Generator().manual_seed(seed))[0].cpu()
        return states, means, dbn

    @staticmethod
    def rbm_fantasies(model: RBM, seed: int, steps: int = 1000) -> tuple[Tensor, Tensor]:
        """``N_SHOWN`` chains of ``steps`` Gibbs steps from noise, seeded as the Fantasies
        panel's defaults: (states, means), each (64, 1, 28, 28) on the CPU."""
        g = torch.Generator().manual_seed(seed)
        v = bernoulli(torch.full((N_SHOWN, model.n_visible), 0.5), g).to(model.device)
        states, means, _ = model.gibbs_chain(v, steps, generator=g)
        return states.cpu().view(-1, 1, 28, 28), means.cpu().view(-1, 1, 28, 28)


def build(ctx: AppContext) -> BoltzmannTab:
    """Build the Boltzmann tab's components inside the current ``gr.Blocks`` and bind them."""
    tab = BoltzmannTab(ctx)
    first = tab.session(None)
    states0, means0, dbn_samples0 = tab.draw(first, 0)
    rbm0, dbn0, quality0 = to_image(means0), to_image(dbn_samples0), tab.quality(means0, dbn_samples0)
    state = gr.State(None)

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            models = checkpoint_panel(FAMILIES, DEFAULT_RBM, tab.describe(first))
            with gr.Row():
                which = gr.Radio([("RBM", "rbm"), ("DBN", "dbn")], value="rbm", label="download which model")
                seed = gr.Number(value=0, label="sample seed", precision=0, minimum=0)
                resample = gr.Button("New samples")
            quality = gr.Markdown(quality0, elem_id="boltzmann-quality")
        with gr.Column(scale=3):
            with gr.Row():
                rbm_img = image_output("RBM fantasies: 1,000 Gibbs steps from noise", size=300, value=rbm0, elem_id="boltzmann-rbm-samples")
                dbn_img = image_output("DBN samples: top-level Gibbs, then top-down", size=300, value=dbn0, elem_id="boltzmann-dbn-samples")

    with gr.Tabs():
        with gr.Tab("Train an RBM", id="boltzmann-train"):
            t = TRAIN_DEFAULTS
            with gr.Row():
                n_hidden = gr.Slider(16, MAX_UI_HIDDEN, value=t["n_hidden"], step=1, label=f"hidden units (≤ {MAX_UI_HIDDEN})")
                method = gr.Radio([("CD-k (Hinton 2002)", "CD"), ("persistent CD (Tieleman 2008)", "PCD")], value=t["method"], label="method")
                k = gr.Slider(1, MAX_UI_K, value=t["k"], step=1, label="k: Gibbs steps per update")
                epochs = gr.Slider(1, MAX_UI_EPOCHS, value=t["epochs"], step=1, label="epochs (passes over the training digits, in batches of 100)")
            with gr.Row():
                momentum = gr.Slider(0, 0.99, value=t["momentum"], step=0.01, label="momentum")
                weight_decay = gr.Number(value=t["weight_decay"], label="weight decay on W (0 to 0.1)", minimum=0, maximum=0.1)
                decay = gr.Checkbox(value=t["decay"], label="learning rate decays linearly to 0 (Tieleman 2008)")
            panel = training_panel("boltzmann-train", steps=None, max_steps=0, lr=t["lr"], lr_max=1.0)
            with gr.Row():
                filters_img = image_output("filters: each hidden unit's weights as a 28×28 image", size=330, value=_filters(first.rbm.model.weight), elem_id="boltzmann-filters")
                recon_img = image_output("test digits (top) and reconstructions (bottom)", size=150, value=tab._reconstructions(first.rbm.model), elem_id="boltzmann-recon")
            trained_img = image_output("fantasies of the trained RBM (1,000 Gibbs steps from noise)", size=300, elem_id="boltzmann-trained-samples")

        with gr.Tab("Fantasies", id="boltzmann-fantasies"):
            f = FANTASY_DEFAULTS
            gr.Markdown("Run block Gibbs chains in the RBM. From noise they fall into the digits the model believes in; from a test digit they wander from one digit to another.")
            with gr.Row():
                start = gr.Radio(["noise", "test digits"], value=f["start"], label="start the chains from")
                first_box = index_box(ctx.data, "first test digit", f["first"])
                chain_seed = gr.Number(value=f["seed"], label="seed", precision=0, minimum=0)
            with gr.Row():
                n_chains = gr.Slider(1, MAX_CHAINS, value=f["n_chains"], step=1, label=f"chains (≤ {MAX_CHAINS})", elem_id="boltzmann-chains")
                steps = gr.Slider(1, MAX_UI_GIBBS, value=f["steps"], step=1, label=f"Gibbs steps (≤ {MAX_UI_GIBBS:,})", elem_id="boltzmann-chain-steps")
                every = gr.Slider(1, 500, value=f["every"], step=1, label=f"a frame every … steps (≤ {MAX_FRAMES} frames)")
            gallery = digit_gallery(ctx.data, label="click a test digit to start the chains there")
            run_btn = gr.Button("Run the chains", variant="primary", elem_id="boltzmann-run-chains")
            chain_status = gr.Markdown(
                "Below: the chains of the fantasies at the top, after 1,000 steps from noise. Press **Run the chains** to watch them form.",
                elem_id="boltzmann-chain-status",
            )
            with gr.Row():
                states_img = image_output("sampled states v", size=300, value=to_image(states0), elem_id="boltzmann-states")
                means_img = image_output("means p(v = 1 | h)", size=300, value=rbm0, elem_id="boltzmann-means")
            chain_gif = gr.Image(
                label="the chains as an animation: states (left) and means (right)", height=420, interactive=False,
                elem_classes=["pixelated", "fill"], elem_id="boltzmann-chain-gif",
            )

        with gr.Tab("Completion", id="boltzmann-complete"):
            gr.Markdown("Fix the top rows of a test digit and let clamped Gibbs sampling fill in the rest: the RBM's guess of the bottom half.")
            with gr.Row():
                c_first = index_box(ctx.data, "first test digit", 0)
                c_digits = gr.Slider(1, 8, value=4, step=1, label="digits")
                c_rows = gr.Slider(1, 27, value=14, step=1, label="rows fixed (from the top)")
                c_samples = gr.Slider(1, 8, value=6, step=1, label="completions per digit")
                c_steps = gr.Slider(1, 5000, value=200, step=1, label="Gibbs steps")
                c_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            c_gallery = digit_gallery(ctx.data, label="click a test digit")
            complete_btn = gr.Button("Complete", variant="primary", elem_id="boltzmann-complete-run")
            complete_img = image_output("digit · what the chain sees · completions", size=330, elem_id="boltzmann-completion")
            complete_note = gr.Markdown()

        with gr.Tab("Deep belief net", id="boltzmann-dbn"):
            gr.Markdown("A stack of RBMs trained greedily. Sampling: Gibbs in the top RBM, then one pass down through p(v | h) of each layer.")
            with gr.Row():
                d_n = gr.Slider(1, MAX_CHAINS, value=36, step=1, label="samples")
                d_steps = gr.Slider(1, MAX_UI_GIBBS, value=1000, step=1, label="Gibbs steps in the top RBM")
                d_every = gr.Slider(1, 500, value=50, step=1, label="a frame every … steps")
                d_start = gr.Radio(["noise", "test digits"], value="noise", label="start the top chain from")
                d_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            dbn_btn = gr.Button("Sample the DBN", variant="primary", elem_id="boltzmann-dbn-run")
            dbn_status = gr.Markdown("Below: the samples at the top of the page. Press **Sample the DBN** to watch the top-level chain.")
            with gr.Row():
                dbn_grid = image_output("DBN samples", size=300, value=dbn0, elem_id="boltzmann-dbn-grid")
                dbn_gif = gr.Image(label="the top-level chain, passed down to pixels", height=300, interactive=False, elem_classes=["pixelated", "fill"])
            with gr.Accordion("Stack a layer on your RBM: greedy layer-wise training, live", open=False):
                gr.Markdown(
                    "The session's RBM (bundled, loaded or trained in the first panel) becomes layer 1, frozen; a new RBM learns "
                    "the distribution of its hidden units' samples on the training digits. The result replaces the DBN here."
                )
                with gr.Row():
                    s_hidden = gr.Slider(16, MAX_UI_HIDDEN, value=200, step=1, label="units in the new layer")
                    s_epochs = gr.Slider(1, MAX_UI_EPOCHS, value=10, step=1, label="epochs")
                    s_lr = gr.Number(value=0.05, label="learning rate (1e-5 to 1)", minimum=1e-5, maximum=1.0)
                    s_decay = gr.Checkbox(value=True, label="learning rate decays linearly to 0")
                    s_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
                with gr.Row():
                    stack_btn = gr.Button("Stack and train layer 2", variant="primary", elem_id="boltzmann-stack")
                    stack_stop = gr.Button("Stop", variant="stop")
                stack_status = gr.Markdown(elem_id="boltzmann-stack-status")
                with gr.Row():
                    stack_fields = image_output("layer 2's units: W1·W2", size=300)
                    stack_curves = gr.Plot(label="training curves")
                stack_samples = image_output("samples of the new DBN", size=300)
            n_layers = len(first.dbn.model.layers)
            layer = gr.Radio([str(i) for i in range(1, n_layers + 1)], value="1", label="what the units of layer … respond to")
            fields0, fields_note0 = tab.dbn_fields(first, 1)
            with gr.Row():
                fields_img = image_output("first 100 units", size=330, value=fields0, elem_id="boltzmann-fields")
                fields_note = gr.Markdown(fields_note0)

        with gr.Tab("Energy and AIS", id="boltzmann-energy"):
            with gr.Row():
                e_index = index_box(ctx.data, "test digit", 0)
                e_shift = gr.Slider(1, MAX_SHIFT, value=3, step=1, label="shift (pixels)")
                e_seed = gr.Number(value=0, label="seed (shuffle, noise)", precision=0, minimum=0)
            e_gallery = digit_gallery(ctx.data, label="click a test digit")
            e_images0, e_fig0, e_table0 = tab.energy(first, 0, 3, 0)
            with gr.Row():
                with gr.Column():
                    e_img = image_output("digit · right · down · shuffled · noise · blank", size=120, value=e_images0, elem_id="boltzmann-energy-images")
                    e_table = gr.Markdown(e_table0, elem_id="boltzmann-energy-table")
                e_plot = gr.Plot(e_fig0, label="free energies")
            gr.Markdown("#### Annealed importance sampling of log Z")
            with gr.Row():
                a_betas = gr.Slider(100, MAX_AIS_BETAS, value=2000, step=100, label="intermediate temperatures β")
                a_runs = gr.Slider(10, MAX_AIS_RUNS, value=100, step=10, label="independent runs")
                a_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
                ais_btn = gr.Button("Estimate log Z", variant="primary", elem_id="boltzmann-ais-run")
            with gr.Row():
                ais_text = gr.Markdown("Estimates take a few seconds per 1,000 temperatures with 100 runs on 2 CPU cores.", elem_id="boltzmann-ais-result")
                ais_plot = gr.Plot(label="spread of the AIS weights")

        with gr.Tab("How it works", id="boltzmann-explain"):
            gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    # -- bindings -------------------------------------------------------------------------------------
    @ui_handler
    def refresh(state_value: BoltzmannSession | None, seed_value: Any, layer_value: Any, index: Any, shift: Any, e_seed_value: Any) -> tuple:
        session = tab.session(state_value)
        n = len(session.dbn.model.layers)
        layer_value = layer_value if str(layer_value).isdigit() and 1 <= int(layer_value) <= n else "1"
        images, fig, table = tab.energy(session, index, shift, e_seed_value)
        return (
            *tab.samples(session, seed_value), tab.filters(session), tab.reconstructions(session),
            gr.update(choices=[str(i) for i in range(1, n + 1)], value=layer_value), *tab.dbn_fields(session, layer_value),
            images, fig, table,
        )

    refresh_inputs = [state, seed, layer, e_index, e_shift, e_seed]
    refresh_outputs = [rbm_img, dbn_img, quality, filters_img, recon_img, layer, fields_img, fields_note, e_img, e_plot, e_table]
    models.load.click(tab.load, [state, models.choice, models.source], [state, models.info], api_name="boltzmann_load").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    models.choice.input(lambda: "", None, models.source, api_visibility="private", show_progress="hidden")
    models.upload.upload(tab.load_zip, [state, models.upload], [state, models.info], api_name="boltzmann_load_zip").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    models.download.click(tab.download, [state, which], models.download, api_name="boltzmann_download", show_progress="hidden")
    resample.click(tab.samples, [state, seed], [rbm_img, dbn_img, quality], api_name="boltzmann_samples")

    train_event = panel.train.click(
        tab.train, [state, n_hidden, method, k, panel.lr, epochs, momentum, weight_decay, decay, panel.seed],
        [state, panel.status, filters_img, recon_img, panel.curves, trained_img],
        api_name="boltzmann_train", concurrency_limit=2, concurrency_id="train",
    )
    train_event.then(lambda s: tab.describe(tab.session(s)), state, models.info, api_visibility="private").then(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    panel.stop.click(tab.stop, None, panel.status, api_name="boltzmann_stop", concurrency_limit=None)

    bind_pick(gallery, first_box)
    gallery.select(lambda: "test digits", None, start, api_visibility="private", show_progress="hidden")
    run_btn.click(
        tab.fantasies, [state, start, first_box, n_chains, steps, every, chain_seed], [states_img, means_img, chain_status, chain_gif],
        api_name="boltzmann_fantasies", concurrency_limit=4, concurrency_id="gibbs",
    )

    bind_pick(c_gallery, c_first)
    complete_btn.click(
        tab.complete, [state, c_first, c_digits, c_rows, c_samples, c_steps, c_seed], [complete_img, complete_note],
        api_name="boltzmann_complete", concurrency_limit=4, concurrency_id="gibbs",
    )

    dbn_btn.click(
        tab.dbn_samples, [state, d_n, d_steps, d_every, d_start, d_seed], [dbn_grid, dbn_status, dbn_gif],
        api_name="boltzmann_dbn_samples", concurrency_limit=4, concurrency_id="gibbs",
    )
    layer.input(tab.dbn_fields, [state, layer], [fields_img, fields_note], api_name="boltzmann_dbn_fields")
    stack_event = stack_btn.click(
        tab.stack, [state, s_hidden, s_epochs, s_lr, s_decay, s_seed], [state, stack_status, stack_fields, stack_curves, stack_samples],
        api_name="boltzmann_stack", concurrency_limit=2, concurrency_id="train",
    )
    stack_event.then(lambda s: tab.describe(tab.session(s)), state, models.info, api_visibility="private").then(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    stack_stop.click(tab.stop, None, stack_status, api_visibility="private", concurrency_limit=None)

    bind_pick(e_gallery, e_index)
    gr.on(
        [e_index.change, e_shift.input, e_seed.submit], tab.energy, [state, e_index, e_shift, e_seed], [e_img, e_plot, e_table],
        api_name="boltzmann_energy", trigger_mode="always_last",
    )
    ais_btn.click(
        tab.estimate, [state, a_betas, a_runs, a_seed], [state, ais_text, ais_plot, models.info], api_name="boltzmann_ais", concurrency_limit=2, concurrency_id="gibbs",
    ).then(tab.energy, [state, e_index, e_shift, e_seed], [e_img, e_plot, e_table], api_visibility="private")
    return tab
