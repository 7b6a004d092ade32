"""The Boltzmann machines' views: an RBM trained live by contrastive divergence (Hinton
2002, "Training Products of Experts by Minimizing Contrastive Divergence", Neural
Computation 14(8); persistent CD: Tieleman 2008, "Training Restricted Boltzmann Machines
using Approximations to the Likelihood Gradient", ICML), its filters, reconstructions and
fantasies, and a deep belief net stacked greedily on it (Hinton, Osindero & Teh 2006, "A
Fast Learning Algorithm for Deep Belief Nets", Neural Computation 18(7)). The streams of
Gibbs chains are in ``playground.views.gibbs``, the energy panel and the NLL estimate in
``playground.views.energy``; ``BoltzmannViews`` has them all.

Every method takes the session (``BoltzmannSession``, or None for a new one on the
bundled models) and the panel's own settings, checks each setting (``ValueError`` with a
readable message) and returns pictures (uint8 arrays), plotly figures or markdown. No
gradio here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import N_PIXELS, SEED_MAX, Range, check_bool, check_choice, check_int
from models.dbn import DBN, MAX_LAYERS
from models.rbm import MAX_CD_K, MAX_HIDDEN, RBM, weights_as_images
from playground.core import plots
from playground.core.data import MnistSplits
from playground.core.plots import image_grid
from playground.core.training import TrainConfig, TrainEvent
from playground.views.base import Card, FamilyViews, ModelView, Session, Step, final_status, history_entry, stream_training, trained_name
from playground.views.energy import EnergyViews, NllEstimate
from playground.views.gibbs import N_SHOWN, GibbsStreams, page_fantasies, reading

# The Train panel's settings (and "Stack and train layer 2"'s units, epochs and rate).
HIDDEN = Range(1, 1000, 200)
METHODS = ("CD", "PCD")
K = Range(1, 25, 1)
LR = Range(1e-5, 1.0, 0.05, integer=False)
EPOCHS = Range(1, 200, 20)
MOMENTUM = Range(0.0, 0.99, 0.5, integer=False)
WEIGHT_DECAY = Range(0.0, 0.1, 1e-3, integer=False)
STACK_EPOCHS = dataclasses.replace(EPOCHS, default=10)
TRAIN_DEFAULTS: dict[str, Any] = dict(
    n_hidden=HIDDEN.default, method="PCD", k=K.default, lr=LR.default, epochs=EPOCHS.default, momentum=MOMENTUM.default,
    weight_decay=WEIGHT_DECAY.default, decay=True, seed=0,
)
BATCH_SIZE = 100
N_FILTERS = 100  # hidden units in a filter mosaic (10 x 10)
N_STACK_SAMPLES = 36
N_RECON = 10
N_GAP = 500  # train and test digits behind the free-energy gap
YIELD_EVERY_S = 0.4
CURVES = {"reconstruction_error": "reconstruction error (squared, per digit)", "free_energy_gap": "free-energy gap: mean F(test) − F(train), nats"}
STACK_CURVES = {"reconstruction_error": "layer 2: error on h1", "stack_error": "pixels, up and down (test)"}
# "Run the chains" with the Fantasies panel's defaults (64 chains, 1,000 steps, 51 frames): 3.4 to 3.7 s of CPU time
# on one thread (measured on a shared 2-core machine); two idle cores take no longer. The tour's steps take 0.1 to 1.5 s.
TRY_FIRST_S = 3.6

CARD = Card(
    title="Boltzmann machines (RBM, DBN)",
    kind="explicit density · approximate (energy-based; Z by AIS)",
    teaches="An energy for every image: low energy, likely image. Gibbs sampling lets the model dream digits from noise; watch its chains fall into them.",
    try_first="Watch the chains dream",
    tab="boltzmann-fantasies",
    seconds=TRY_FIRST_S,
)
# Each step runs in a few seconds on 2 CPU cores (values: the tab's controls, checked by these views).
TOUR = (
    Step(
        "Dream from noise", "Each chain starts from random pixels and resamples hidden units, then pixels, over and over: watch the noise fall "
        "into digits the RBM believes in (left: the sampled pixels, right: their probabilities).", "boltzmann-fantasies",
        {"start": "noise", "n_chains": 36, "steps": 300, "every": 10, "chain_seed": 1}, "#boltzmann-run-chains",
    ),
    Step(
        "Watch a digit wander", "These chains start at real test digits. Given time, a chain leaves its digit and wanders to another one: "
        "the model's digits are valleys of low energy, and a chain crosses the hills between them.", "boltzmann-fantasies",
        {"start": "test digits", "first": 0, "n_chains": 16, "steps": 1000, "every": 20, "chain_seed": 0}, "#boltzmann-run-chains",
    ),
    Step(
        "Complete half a digit", "The top rows of each digit are held fixed and the chain fills in the rest. Where the top half could "
        "belong to two digits, the completions disagree.", "boltzmann-complete",
        {"c_first": 4, "c_digits": 4, "c_rows": 12, "c_samples": 6, "c_steps": 200, "c_seed": 0}, "#boltzmann-complete-run",
    ),
    Step(
        "Find the likeliest image", "Lower free energy means more probable: the digit beats its shifted, shuffled and noisy copies. "
        "But the blank image beats them all: a high likelihood is not a good-looking digit.", "boltzmann-energy",
        {"e_index": 7, "e_shift": 3, "e_seed": 0}, "energy",
    ),
    Step(
        "A deep belief net's dreams", "A second RBM, stacked on the first one's hidden units, runs its chain at the top; "
        "each frame is passed down to pixels.", "boltzmann-dbn",
        {"d_n": 36, "d_steps": 1000, "d_every": 25, "d_start": "noise", "d_seed": 2}, "#boltzmann-dbn-run",
    ),
)

# The page's limits stay inside the models' hard ones.
assert HIDDEN.high <= MAX_HIDDEN and K.high <= MAX_CD_K


def _filters(weight: Tensor, n: int = N_FILTERS) -> np.ndarray:
    """The first ``n`` hidden units' filters (columns of a (784, H) matrix) as a mosaic."""
    images = weights_as_images(weight[:, :n])
    return image_grid(images, nrow=max(1, math.ceil(math.sqrt(len(images)))))


def _run_settings(lr: Any, decay: Any, seed: Any) -> tuple[float, bool, int]:
    """The settings every CD run has: learning rate, its linear decay (bool) and seed.

    Raises:
        ValueError: one out of range.
    """
    return LR.check("learning rate", lr), check_bool("learning-rate decay", decay), check_int("seed", seed, 0, SEED_MAX)


@torch.no_grad()
def free_energy_gap(model: RBM, data: MnistSplits) -> float:
    """Mean F(test) − mean F(train) on ``N_GAP`` binary digits each, in nats."""
    train_f = model.free_energy(data.images("train", "binary")[:N_GAP].to(model.device)).mean()
    test_f = model.free_energy(data.images("test", "binary")[:N_GAP].to(model.device)).mean()
    return float(test_f - train_f)


class RbmView(ModelView):
    """A loaded RBM, its free-energy gap and its last NLL estimate (if any). Never modified
    after it is made (an estimate makes a new view), so sessions share the bundled one."""

    model: RBM

    def __init__(self, model: RBM, name: str, ctx: Any, estimate: NllEstimate | None = None, data: MnistSplits | None = None):
        super().__init__(model, name, ctx, data)
        self.estimate = estimate

    @functools.cached_property
    def free_energy_gap(self) -> float:
        """Mean F(test) − mean F(train), nats (see ``free_energy_gap``)."""
        return free_energy_gap(self.model, self.data)

    @functools.cached_property
    def test_free_energy(self) -> float:
        """Mean F of the whole binary test split, nats (float64 sum)."""
        with torch.no_grad():
            return float(self.model.free_energy(self.data.images("test", "binary").to(self.model.device)).double().mean())

    @functools.cached_property
    def _first_fantasies(self) -> tuple[Tensor, Tensor]:
        return page_fantasies(self.model, 0)

    def page_fantasies(self, seed: int) -> tuple[Tensor, Tensor]:
        """The page's fantasies with ``seed`` (``gibbs.page_fantasies``; kept for seed 0, which the
        Fantasies and Samples panels and the home tab show): (states, means)."""
        return self._first_fantasies if seed == 0 else page_fantasies(self.model, seed)

    def describe(self) -> str:
        """Markdown: name, size, training recipe, the free-energy gap and any NLL figure."""
        m = self.model
        how = f"PCD-{m.cd_k}" if m.persistent else f"CD-{m.cd_k}"
        text = (
            f"**RBM: {self.name}** · {m.n_visible} visible × {m.n_hidden} hidden units · trained by {how}, momentum "
            f"{m.momentum:g}, weight decay {m.weight_decay:g} · {m.weight.numel() / 1e3:.0f} k weights · fantasies: "
            f"{m.n_gibbs:,} Gibbs steps · free-energy gap test − train **{self.free_energy_gap:+.1f}** nats{self.trained_on_note}"
        )
        if self.estimate:
            text += f" · test NLL **{self.estimate.nll():.1f}** nats ({self.estimate.kind()})"
        return text

    def with_estimate(self, estimate: NllEstimate) -> RbmView:
        """The same model and name with ``estimate`` (a new view: this one is shared)."""
        return RbmView(self.model, self.name, self.ctx, estimate, self.data)


class DbnView(ModelView):
    """A loaded DBN (read-only, shareable), with its name."""

    @functools.cached_property
    def _first_samples(self) -> Tensor:
        return self.model.sample(N_SHOWN, generator=torch.Generator().manual_seed(0)).cpu()

    def page_samples(self, seed: int) -> Tensor:
        """``N_SHOWN`` samples (``DBN.sample``: ``n_gibbs`` steps in the top RBM, then the
        top-down pass) with ``seed`` (kept for seed 0), (64, 1, 28, 28) on the CPU."""
        return self._first_samples if seed == 0 else self.model.sample(N_SHOWN, generator=torch.Generator().manual_seed(seed)).cpu()

    def describe(self) -> str:
        """Markdown: name, layer sizes and how it was trained."""
        m = self.model
        sizes = " → ".join(str(n) for n in [N_PIXELS, *m.hidden_sizes])
        schedule = (
            f"layer 1 copied from an RBM, layer 2 scheduled for {m.steps_per_layer:,} updates" if m.first_trained_layer
            else f"greedy, {m.steps_per_layer:,} updates per layer"
        )
        return f"**DBN: {self.name}** · layers {sizes} · {schedule} · samples: {m.n_gibbs:,} Gibbs steps in the top RBM, then the top-down pass{self.trained_on_note}"


class BoltzmannSession(Session):
    """One browser session's models: the RBM (slot ``"rbm"``) every RBM panel uses and the
    DBN (slot ``"dbn"``)."""

    @property
    def rbm(self) -> RbmView:
        return self.views["rbm"]

    @property
    def dbn(self) -> DbnView:
        return self.views["dbn"]


class BoltzmannViews(GibbsStreams, EnergyViews, FamilyViews[BoltzmannSession]):
    """What the Boltzmann tab's panels compute (see the module docstring). A loaded RBM
    replaces the session's RBM, a loaded DBN its DBN."""

    families = ("rbm", "dbn")
    bundled = {"rbm": "rbm", "dbn": "dbn"}
    session_class = BoltzmannSession
    view_classes = {"rbm": RbmView, "dbn": DbnView}

    def slot(self, model: Any) -> str:
        """"rbm" or "dbn".

        Raises:
            ValueError: an RBM that does not model 28 x 28 pixels (784 visible units).
        """
        if isinstance(model, RBM) and model.n_visible != N_PIXELS:
            raise ValueError(
                f"this tab draws digits: it needs an RBM with {N_PIXELS} visible units (28 x 28 pixels), this one has {model.n_visible}"
            )
        return "rbm" if isinstance(model, RBM) else "dbn"

    # -- the page's samples, filters and reconstructions --------------------------------------
    def draw(self, session: Any, seed: int) -> tuple[Tensor, Tensor, Tensor]:
        """The page's samples with ``seed``: RBM fantasy states and means (``N_SHOWN``
        chains of the RBM's ``n_gibbs`` Gibbs steps from noise, seeded as the Fantasies
        panel's defaults: 1,000 steps for the bundled RBM) and ``N_SHOWN`` samples of the
        DBN (``DBN.sample``); each (64, 1, 28, 28) on the CPU."""
        session = self.session(session)
        return *session.rbm.page_fantasies(seed), session.dbn.page_samples(seed)

    def samples(self, session: Any, seed: Any = 0) -> tuple[np.ndarray, np.ndarray, str]:
        """64 fantasies of the session's RBM (means) and 64 samples of its DBN drawn with
        ``seed`` in [0, 2^31) (see ``draw``; 1,000 Gibbs steps for the bundled models): two
        8 x 8 uint8 grids and the classifier's reading of each where it is honest (markdown,
        see ``gibbs.reading``).

        Raises:
            ValueError: a bad seed.
        """
        _, rbm, dbn = self.draw(session, check_int("seed", seed, 0, SEED_MAX))
        session = self.session(session)
        return image_grid(rbm), image_grid(dbn), self.quality(rbm, dbn, session.rbm.data, session.dbn.data)

    def quality(self, rbm: Tensor, dbn: Tensor, rbm_data: MnistSplits, dbn_data: MnistSplits) -> str:
        """Markdown: the classifier's reading of RBM fantasies and DBN samples, each only
        where most of them lie near real digits (``gibbs.reading``), or "not available"
        for a model trained on other data (``rbm_data``, ``dbn_data``: what each was trained on)."""
        return f"**RBM:** {reading(rbm, rbm_data)}  \n**DBN:** {reading(dbn, dbn_data)}"

    def thumbnail(self, session: Any) -> np.ndarray:
        """The home tab's picture: the RBM's fantasies of seed 0 (an 8 x 8 uint8 grid)."""
        return image_grid(self.draw(session, 0)[1])

    def filters(self, session: Any) -> np.ndarray:
        """The first 100 hidden units' weights, each as a 28 x 28 image (grey = 0, white
        excitatory, black inhibitory), as a mosaic (uint8)."""
        return _filters(self.session(session).rbm.model.weight)

    def reconstructions(self, session: Any) -> np.ndarray:
        """Ten test digits (top row) and their reconstructions p(v | p(h | v)) (bottom), uint8."""
        rbm = self.session(session).rbm
        return self._reconstructions(rbm.model, rbm.data)

    def _reconstructions(self, model: RBM, data: MnistSplits) -> np.ndarray:
        x = data.images("test", "binary")[:N_RECON].to(model.device)
        with torch.no_grad():
            recon = model.visible_probs(model.hidden_probs(x))
        return image_grid(torch.cat([x.view(-1, 1, 28, 28), recon.view(-1, 1, 28, 28)]).cpu(), nrow=N_RECON)

    # -- training ------------------------------------------------------------------------------
    def _cd_config(self, data: MnistSplits, epochs: int, lr: float, seed: int, n_samples: int, schedule: str = "constant") -> tuple[TrainConfig, int]:
        """A CD run of ``epochs`` passes over ``data``'s train split in batches of 100
        (test losses about 40 times), and the updates per epoch."""
        per_epoch = math.ceil(len(data.train_labels) / BATCH_SIZE)
        steps = epochs * per_epoch
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=5, sample_every=0,
            eval_every=max(per_epoch, steps // 40 // per_epoch * per_epoch), n_samples=n_samples, n_eval=N_GAP, lr_schedule=schedule,
        )
        return config, per_epoch

    def _cd_stream(
        self, model: RBM | DBN, data: MnistSplits, config: TrainConfig, per_epoch: int, stop: threading.Event, record: Callable[[TrainEvent], dict],
        prefix: str, kept: str,
    ) -> Iterator[tuple[TrainEvent, list[dict], bool, str]]:
        """``stream_training`` on ``data`` with a status line: (event, history, learnt, status)."""
        n_epochs = config.steps // per_epoch
        data = self.trains_on(model, data)
        for event, history, learnt in stream_training(model, data, config, stop, record, YIELD_EVERY_S):
            if event.final:
                status = final_status(event, learnt, kept)
            else:
                status = (
                    f"{prefix}epoch {event.step / per_epoch:.1f} / {n_epochs} · update {event.step} · "
                    f"{event.step / max(event.elapsed_s, 1e-9):.0f} updates/s · reconstruction error "
                    f"{event.losses['reconstruction_error']:.2f}"
                )
            yield event, history, learnt, status

    def train(
        self, session: Any, n_hidden: Any, method: Any, k: Any, lr: Any, epochs: Any, momentum: Any, weight_decay: Any,
        decay: Any, seed: Any, *, stop: threading.Event, data: MnistSplits | None = None,
    ) -> Iterator[tuple]:
        """Train a new RBM from scratch on the binarised training images (the
        session's chosen images; default the digits), in batches of 100 (an epoch is one
        pass: 45 updates on the bundled 4,500 digits), streaming.

        Args:
            n_hidden: hidden units in [1, 1000]; method: "CD" (CD-k) or "PCD" (persistent
            CD); k: Gibbs steps per update in [1, 25]; lr: learning rate in [1e-5, 1];
            epochs: in [1, 200]; momentum: in [0, 0.99]; weight_decay: L2 on W in [0, 0.1];
            decay: true for a learning rate decaying linearly to 0 over the run (Tieleman
            2008); seed: int in [0, 2^31). stop: set to end the run (the weights reached
            are kept).

        Yields:
            (status markdown, filter mosaic, test digits over their reconstructions, plotly
            curves of the reconstruction error (train, test) and of the free-energy gap in
            nats, fantasies of the finished model (a run that was not stopped)); None for
            what is unchanged. When the run ends (or is stopped) with finite weights, the
            session's RBM becomes the new one, named with the epochs done.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        n_hidden = HIDDEN.check("hidden units", n_hidden)
        method = check_choice("method", method, METHODS)
        k = K.check("k (Gibbs steps per update)", k)
        lr, decay, seed = _run_settings(lr, decay, seed)
        epochs = EPOCHS.check("epochs", epochs)
        momentum = MOMENTUM.check("momentum", momentum)
        weight_decay = WEIGHT_DECAY.check("weight decay", weight_decay)
        session = self.session(session)
        data = data or self.ctx.data
        config, per_epoch = self._cd_config(data, epochs, lr, seed, N_SHOWN, "linear" if decay else "constant")
        model = seeded_init(
            RBM, seed, n_hidden=n_hidden, cd_k=k, persistent=method == "PCD", momentum=momentum, weight_decay=weight_decay,
        ).to(self.ctx.device)
        yield "Starting…", None, None, None, None

        def record(event: TrainEvent) -> dict:
            entry = history_entry(event, {"reconstruction_error": "reconstruction_error"})
            if event.test_losses:  # the gap costs a pass over 1,000 digits: at evaluations only
                entry["losses"]["free_energy_gap"] = free_energy_gap(model, data)
            return entry

        for event, history, learnt, status in self._cd_stream(model, data, config, per_epoch, stop, record, "", "RBM"):
            fantasies = None
            if event.final and learnt:
                self.use(session, RbmView(model, trained_name(event, epochs, seed, per_epoch, "epochs", f"by {method}-{k}"), self.ctx, data=data))
                if event.samples is not None:  # the trainer draws none after a Stop
                    fantasies = image_grid(event.samples, nrow=8)
                    status += f" Fantasies after {model.n_gibbs:,} Gibbs steps from noise are shown below. {reading(event.samples, data)}"
                status += " Every RBM panel now uses this model."
            yield status, _filters(model.weight), self._reconstructions(model, data), plots.training_curves(history, CURVES), fantasies

    def stack(self, session: Any, n_hidden: Any, epochs: Any, lr: Any, decay: Any, seed: Any, *, stop: threading.Event, data: MnistSplits | None = None) -> Iterator[tuple]:
        """Greedy layer-wise training, live: stack a new RBM on the session's RBM (copied,
        kept frozen) and train it by PCD-1 on samples of p(h | v) of the training images
        (the session's chosen images; default the digits).
        The result is a two-layer DBN.

        Args:
            n_hidden: units of the new layer in [1, 1000]; epochs: in [1, 200] (45 updates
            each on the bundled digits); lr: in [1e-5, 1]; decay: true for a learning rate
            decaying linearly to 0; seed: int in [0, 2^31). stop: set to end the run (the
            weights reached are kept).

        Yields:
            (status markdown, the new layer's receptive fields (W1 W2) mosaic, plotly
            curves, samples of the finished DBN (a run that was not stopped)), None where
            unchanged. A run that ends or is stopped with finite weights gives the session
            its DBN, named by the epochs it had; the session's RBM stays.

        Raises:
            ValueError: a bad setting; nothing changes.
        """
        n_hidden = HIDDEN.check("units in the new layer", n_hidden)
        epochs = STACK_EPOCHS.check("epochs", epochs)
        lr, decay, seed = _run_settings(lr, decay, seed)
        session = self.session(session)
        below = session.rbm
        rbm = below.model
        data = data or self.ctx.data
        config, per_epoch = self._cd_config(data, epochs, lr, seed, N_STACK_SAMPLES)  # the DBN decays its own rate
        model = seeded_init(
            DBN, seed, hidden_sizes=[rbm.n_hidden, n_hidden], steps_per_layer=config.steps, cd_k=1, persistent=True,
            momentum=rbm.momentum, weight_decay=rbm.weight_decay, lr_decay=decay,
        ).to(self.ctx.device).stack_on(rbm)
        yield "Starting…", None, None, None
        keys = {"reconstruction_error": "reconstruction_error"}
        record = functools.partial(history_entry, train=keys, test={"stack_error": "reconstruction_error"})
        for event, history, learnt, status in self._cd_stream(model, data, config, per_epoch, stop, record, "layer 2: ", "DBN"):
            samples = None
            if event.final and learnt:
                name = trained_name(event, epochs, seed, per_epoch, "epochs", f"of a {n_hidden}-unit layer 2")
                self.use(session, DbnView(model, name, self.ctx, data))
                if event.samples is not None:  # the trainer draws none after a Stop
                    samples = image_grid(event.samples, nrow=6)
                    status += f" Samples of the new DBN are shown below. {reading(event.samples, data)}"
                status += " The DBN panels now use it."
            fields = image_grid(model.receptive_fields(2)[:N_FILTERS], nrow=10)
            yield status, fields, plots.training_curves(history, STACK_CURVES), samples

    # -- the DBN's units ---------------------------------------------------------------------------
    def dbn_layers(self, session: Any) -> list[str]:
        """The hidden layers of the session's DBN, "1" to the number of layers."""
        return [str(i) for i in range(1, len(self.session(session).dbn.model.layers) + 1)]

    def dbn_fields(self, session: Any, layer: Any = 1) -> tuple[np.ndarray, str]:
        """What the first 100 units of DBN hidden layer ``layer`` (1 to the number of
        layers) respond to: W1 for layer 1, W1 W2 ... for higher layers (the pixel pattern
        that drives each unit through the linear path), as a uint8 mosaic and a caption.

        Raises:
            ValueError: no such layer.
        """
        model = self.session(session).dbn.model
        layer = check_int("layer", layer, 1, len(model.layers))
        text = (
            "Layer 1: each unit's weights on the pixels (white excitatory, black inhibitory)." if layer == 1 else
            f"Layer {layer}: W1·…·W{layer}, the combination of first-layer filters each unit is wired to: larger, more digit-like parts."
        )
        return image_grid(model.receptive_fields(layer)[:N_FILTERS], nrow=10), text

    def redraw_fields(self, session: Any, layer: Any) -> tuple[list[str], str, np.ndarray, str]:
        """The DBN panel after a change of model: (layer choices, the layer shown, mosaic,
        caption); a layer the new DBN lacks falls back to layer 1.

        Raises:
            ValueError: a layer that no DBN has (not in [1, 4]).
        """
        layer = check_int("layer", layer, 1, MAX_LAYERS)
        choices = self.dbn_layers(session)
        layer = layer if layer <= len(choices) else 1
        return choices, str(layer), *self.dbn_fields(session, layer)
