"""The deep belief net: RBMs stacked and trained greedily, one layer at a time.

Hinton, Osindero & Teh (2006), "A Fast Learning Algorithm for Deep Belief Nets", Neural
Computation 18(7). The first RBM models the pixels. Its hidden activities on the training
digits become the "data" of a second RBM, and so on: each added layer, trained this way,
improves a variational bound on the log-likelihood of the data. The result is a generative
model whose top two layers form an RBM (an undirected associative memory) and whose lower
layers are directed, top-down: to generate, run a long Gibbs chain in the top RBM, then
pass its visible states down through p(v | h) of each lower RBM. (The paper then
fine-tunes with the up-down algorithm; this model stops after greedy training, as is
common in teaching.)

Here training is one run of ``steps`` updates: the first ``steps_per_layer`` train layer 1
by CD-k or PCD-k on binary digits, the next train layer 2 on samples of p(h1 | v) from the
frozen layer 1, and so on; the last layer trains for the rest of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import N_PIXELS, check_bool, check_float, check_int
from models.rbm import MAX_GIBBS_STEPS, MAX_HIDDEN, RBM, bernoulli, weights_as_images

MAX_LAYERS = 4


class DBN(GenerativeModel, paper_url="https://www.cs.toronto.edu/~hinton/absps/fastnc.pdf"):
    """A stack of Bernoulli RBMs on binary 28 x 28 digits (784 visible units).

    Args:
        hidden_sizes: units of each hidden layer, bottom to top, 1 to 4 layers of
            [1, 4096] units each.
        steps_per_layer: updates given to each layer before the next starts, in [1, 10^7] (the
            top layer also trains for whatever the run has left). Train for
            ``len(hidden_sizes) * steps_per_layer`` steps.
        lr_decay: each layer's learning rate decays linearly from the run's rate to 0
            over its ``steps_per_layer`` updates (as the RBM's bundled recipe; Tieleman
            2008); the top layer then stays at 0. False: a constant rate.
        cd_k, persistent, momentum, weight_decay: as for ``RBM``, used by every layer.
        n_gibbs: Gibbs steps in the top RBM before the top-down pass (``sample``), in
            [1, 100,000].

    Raises:
        ValueError: any argument out of range.
    """

    family: ClassVar[str] = "dbn"
    title: ClassVar[str] = "Deep belief net (Hinton, Osindero & Teh 2006)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "none"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 40000, "lr": 0.02, "batch_size": 100}

    def __init__(
        self,
        hidden_sizes: list[int] | tuple[int, ...] = (500, 500),
        steps_per_layer: int = 20000,
        cd_k: int = 1,
        persistent: bool = True,
        momentum: float = 0.5,
        weight_decay: float = 1e-4,
        n_gibbs: int = 1000,
        lr_decay: bool = True,
    ):
        super().__init__()
        if not isinstance(hidden_sizes, list | tuple) or not 1 <= len(hidden_sizes) <= MAX_LAYERS:
            raise ValueError(f"hidden_sizes must list 1 to {MAX_LAYERS} layer sizes, got {hidden_sizes!r}")
        self.hidden_sizes = [check_int(f"units in hidden layer {i + 1}", n, 1, MAX_HIDDEN) for i, n in enumerate(hidden_sizes)]
        self.steps_per_layer = check_int("steps per layer", steps_per_layer, 1, 10**7)
        self.n_gibbs = check_int("Gibbs steps", n_gibbs, 1, MAX_GIBBS_STEPS)
        self.lr_decay = check_bool("lr_decay", lr_decay)
        rbm_args = dict(
            cd_k=cd_k, persistent=check_bool("persistent", persistent), momentum=check_float("momentum", momentum, 0.0, 0.99),
            weight_decay=weight_decay,
        )
        sizes = [N_PIXELS, *self.hidden_sizes]
        self.layers = nn.ModuleList(RBM(n_hidden=sizes[i + 1], n_visible=sizes[i], **rbm_args) for i in range(len(self.hidden_sizes)))
        self._n_updates = 0
        self._base_lr = 0.0
        self.first_trained_layer = 0  # greedy training starts here; the layers below stay as they are

    @property
    def top(self) -> RBM:
        """The top RBM, the undirected associative memory."""
        return self.layers[-1]

    def layer_in_training(self, update: int) -> int:
        """Which layer (0-based) greedy training updates at ``update`` (0-based)."""
        return min(update // self.steps_per_layer, len(self.layers) - 1)

    def stack_on(self, rbm: RBM) -> DBN:
        """Make a trained ``rbm`` this DBN's first layer (its weights are copied) and have
        greedy training start at layer 2 (``first_trained_layer`` = 1): stacking a new
        RBM on an old one, as in Hinton, Osindero & Teh (2006). Returns self.

        Raises:
            ValueError: ``rbm``'s shape differs from layer 1's (784 x hidden_sizes[0]).
        """
        first = self.layers[0]
        if (rbm.n_visible, rbm.n_hidden) != (first.n_visible, first.n_hidden):
            raise ValueError(
                f"layer 1 of this DBN is {first.n_visible} x {first.n_hidden}; the RBM is {rbm.n_visible} x {rbm.n_hidden}"
            )
        first.load_state_dict(rbm.state_dict())
        self.first_trained_layer = 1
        return self

    @torch.no_grad()
    def up(self, x: Tensor, n_layers: int, sample: bool = True, generator: torch.Generator | None = None) -> Tensor:
        """Pass binary images (B, 1, 28, 28) or (B, 784) up through the first
        ``n_layers`` RBMs: each layer's p(h | v), sampled to binary states when ``sample``
        (as the next layer's training data), else the probabilities. Returns (B, units)."""
        n_layers = check_int("layers to pass up through", n_layers, 0, len(self.layers))
        v = self.layers[0].flat(x)
        for layer in self.layers[:n_layers]:
            p = layer.hidden_probs(v)
            v = bernoulli(p, generator) if sample else p
        return v

    @torch.no_grad()
    def down(self, h: Tensor, from_layer: int, generator: torch.Generator | None = None) -> Tensor:
        """The top-down pass: from states ``h`` of hidden layer ``from_layer`` (1-based;
        (B, units)), sample each lower layer from p(v | h) and return the pixel means
        p(v | h1), (B, 784) in [0, 1]."""
        from_layer = check_int("layer to pass down from", from_layer, 1, len(self.layers))
        v = h
        for i in range(from_layer - 1, -1, -1):
            mean = self.layers[i].visible_probs(v)
            v = mean if i == 0 else bernoulli(mean, generator)
        return v

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """One SGD optimiser per layer (see ``RBM.configure_optimizers``); restarts the
        greedy schedule at layer ``first_trained_layer`` + 1 (0: the bottom), so that
        ``stack_on`` can add a layer on top of a trained RBM and train only that one."""
        self._n_updates = self.first_trained_layer * self.steps_per_layer
        self._base_lr = lr
        return [opt for layer in self.layers for opt in layer.configure_optimizers(lr)]

    def train_step(
        self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One CD update of the layer the greedy schedule is on (``layer_in_training``),
        on binary images ``x`` (B, 1, 28, 28) passed up through the frozen layers below.

        Returns:
            ``"loss"`` and ``"reconstruction_error"`` (of that layer's input, units per
            example), ``"free_energy"`` (that layer's, nats) and ``"layer"`` (1-based).
        """
        self.check_labels(y, len(x))
        i = self.layer_in_training(self._n_updates)
        if self.lr_decay:
            done = (self._n_updates - i * self.steps_per_layer) / self.steps_per_layer
            for group in optimizers[i].param_groups:
                group["lr"] = self._base_lr * max(0.0, 1.0 - done)
        self._n_updates += 1
        v = self.up(x, i, sample=True, generator=generator)
        terms = self.layers[i].cd_gradients(v, generator)
        optimizers[i].step()
        return {"loss": terms["reconstruction_error"], **terms, "layer": torch.tensor(float(i + 1))}

    @torch.no_grad()
    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Deterministic monitors on binary images (B, 1, 28, 28): ``"loss"`` and
        ``"reconstruction_error"``, the squared error (pixels per image) of a mean-field
        pass up through every layer and back down; ``"free_energy"`` of the first RBM
        (nats)."""
        self.check_labels(y, len(x))
        v = self.layers[0].flat(x)
        h = self.up(v, len(self.layers), sample=False)
        for i in range(len(self.layers) - 1, -1, -1):
            h = self.layers[i].visible_probs(h)
        error = ((v - h) ** 2).sum(1).mean()
        return {"loss": error, "reconstruction_error": error, "free_energy": self.layers[0].free_energy(v).mean()}

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples: ``n_gibbs`` Gibbs steps in the top RBM from noise, then the
        top-down pass. Returns pixel means (n, 1, 28, 28) float32 in [0, 1].

        Raises:
            ValueError: labels given.
        """
        self.check_labels(y, n)
        return self.generate(n, self.n_gibbs, generator=generator)[0]

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` with the top chain run a few Gibbs steps at a time (``RBM.gibbs_runs``;
        a trainer's Stop is seen between them): yields None after each run but the last,
        then the samples, the same draws as ``sample``."""
        self.check_labels(y, n)
        v_top, _ = self._start(n, generator, None)
        for run in self.top.gibbs_runs(v_top, self.n_gibbs, generator):
            yield None if run is None else self._to_pixels(*run, generator)

    def _start(self, n: int, generator: torch.Generator | None, start: Tensor | None) -> tuple[Tensor, torch.Generator | None]:
        """The top chain's first states (n, top units): noise, or the up-pass of binary
        images ``start`` (n, 1, 28, 28); and the generator that passes frames down."""
        n = check_int("samples", n, 1, 10_000)
        # Frames are passed down with their own generator, so the samples do not depend on
        # how many frames are drawn (with 3 or more layers the down-pass samples too).
        frame_seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)) if generator is not None else None
        frame_generator = torch.Generator().manual_seed(frame_seed) if frame_seed is not None else None
        if start is None:
            return bernoulli(torch.full((n, self.top.n_visible), 0.5, device=self.device), generator), frame_generator
        if len(start) != n:
            raise ValueError(f"start must hold n = {n} images, got {len(start)}")
        return self.up(start.to(self.device), len(self.layers) - 1, sample=True, generator=generator), frame_generator

    def _to_pixels(self, states: Tensor, means: Tensor, generator: torch.Generator | None) -> Tensor:
        """Pixel means (B, 1, 28, 28) of top-chain ``states`` (B, top units) and their
        ``means``: the top-down pass (a one-layer DBN's means are the pixels)."""
        depth = len(self.layers) - 1
        if depth == 0:
            return means.view(-1, 1, 28, 28)
        return self.down(states.to(self.device), depth, generator).view(-1, 1, 28, 28)

    @torch.no_grad()
    def generate(
        self, n: int, n_gibbs: int, every: int = 0, generator: torch.Generator | None = None, start: Tensor | None = None,
    ) -> tuple[Tensor, list[tuple[int, Tensor]]]:
        """Samples with frames of the top-level chain, each passed down to pixels.

        Args:
            n: samples, in [1, 10,000].
            n_gibbs: Gibbs steps in the top RBM, in [0, 100,000].
            every: a frame every ``every`` steps (0: none).
            start: optional binary images (n, 1, 28, 28) whose up-pass starts the top
                chain (default: noise).

        Returns:
            (pixel means (n, 1, 28, 28) in [0, 1], frames [(step, (n, 1, 28, 28))] on the CPU).

        Raises:
            ValueError: counts out of range or labels given.
        """
        v_top, frame_generator = self._start(n, generator, start)
        states, mean, chain_frames = self.top.gibbs_chain(v_top, n_gibbs, every=every, generator=generator)
        frames = [(step, self._to_pixels(s, m, frame_generator).cpu()) for step, s, m in chain_frames]
        return self._to_pixels(states, mean, generator), frames

    @torch.no_grad()
    def receptive_fields(self, layer: int) -> Tensor:
        """What the units of hidden layer ``layer`` (1-based) respond to, as pixel
        weights (units, 1, 28, 28): W1 for layer 1, W1 W2 (the linear combination of
        first-layer filters) for layer 2, and so on; each map scaled to [0, 1] with 0.5
        for zero weight.

        Raises:
            ValueError: no such layer.
        """
        layer = check_int("layer", layer, 1, len(self.layers))
        w = self.layers[0].weight
        for i in range(1, layer):
            w = w @ self.layers[i].weight  # (784, units)
        return weights_as_images(w)

