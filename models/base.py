"""The contracts every model family implements, and seeded construction.

A generative family provides, on images of shape ``(B, 1, 28, 28)``, float32 in [0, 1]:

- ``loss(x, y=None, generator=None) -> dict[str, Tensor]``: a ``"loss"`` key to minimise
  plus named scalar terms (``"reconstruction"``, ``"kl"``, ...), in nats per image.
- ``train_step(x, y, optimizers, generator=None) -> dict[str, Tensor]``: one update. The
  default minimises ``loss``; families that do not fit one loss (GANs, RBMs) override it.
- ``sample(n, y=None, generator=None) -> Tensor``: ``(n, 1, 28, 28)`` in [0, 1].
- ``log_prob(x, y=None) -> Tensor``: ``(B,)`` log-likelihood in nats, exact or a bound;
  ``nll_kind`` says which (``"exact"``, ``"iwae_bound"``, ``"ais_estimate"``, ...).

Argument checks live in ``models.checks`` and checkpoint I/O in ``models.hub``. This module
imports neither gradio nor the app: it is the maths' side of the contract.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

from models.checks import N_CLASSES, check_int
from models.hub import HubModel

M = TypeVar("M", bound=HubModel)

_INIT_LOCK = threading.Lock()


def seeded_init(cls: type[M], seed: int, **config: Any) -> M:
    """Build ``cls(**config)`` with weights drawn from ``torch.manual_seed(seed)``.

    Module constructors draw from torch's global RNG. The lock and ``fork_rng`` keep two
    sessions building models at once from stealing each other's draws, and leave the
    global RNG as it was, so the same seed and config always give the same weights.

    Raises:
        ValueError: if the config is invalid (from the constructor's checks).
    """
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**config)


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """N(0, I) noise of ``shape`` on ``device``, drawn from ``generator`` when given.

    The draw happens on the generator's own device (a CPU generator keeps CPU-seeded
    results identical whichever device the model is on), then moves to ``device``.
    """
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def check_images(x: Any, side: int, min_batch: int = 0) -> Tensor:
    """``x`` as float32 (B, 1, side, side) with values in [0, 1] (binary for a Bernoulli
    likelihood to be a probability).

    Raises:
        ValueError: not a tensor of that shape, fewer than ``min_batch`` images, or values
            outside [0, 1] (NaN included).
    """
    shape = tuple(getattr(x, "shape", ()))
    if not isinstance(x, Tensor) or x.dim() != 4 or shape[1:] != (1, side, side) or len(x) < min_batch:
        raise ValueError(f"images must have shape (B, 1, {side}, {side}){' with B >= 1' if min_batch else ''}, got {shape}")
    x = x.float()
    if not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError("images must hold values in [0, 1]")
    return x


def keep_recent(examples: Tensor, batch: Tensor) -> None:
    """Put ``batch`` (B, ...) at the front of the buffer ``examples`` (N, ...), in place, so it
    keeps the N most recent images, newest first (the translation families' ``sample`` draws from it)."""
    n = min(len(batch), len(examples))
    examples.copy_(torch.cat([batch[:n].detach(), examples[: len(examples) - n]]))


def pick_examples(examples: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` images of the buffer ``examples`` (N, ...): the first n without a generator, else n
    distinct ones drawn with it, with replacement beyond N."""
    count = len(examples)
    if n <= count:
        idx = torch.randperm(count, generator=generator)[:n] if generator is not None else torch.arange(n)
    else:
        idx = torch.randint(count, (n,), generator=generator)
    return examples[idx.to(examples.device)]


class GenerativeModel(HubModel):
    """Base class of the generative families (see the module docstring for the contract).

    Class attributes:
        nll_kind: what ``log_prob`` returns: ``"exact"``, ``"iwae_bound"``, ...
    """

    nll_kind: ClassVar[str] = "none"

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Scalar loss terms on a batch ``x`` (B, 1, 28, 28); ``"loss"`` is minimised."""
        raise NotImplementedError

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """The optimisers ``train_step`` uses; by default one Adam over all parameters.
        ``lr_d`` is the discriminator's learning rate for adversarial families; families
        with one network ignore it."""
        return [torch.optim.Adam(self.parameters(), lr=lr)]

    def train_step(
        self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One gradient step on ``loss``; returns the detached loss terms."""
        (optimizer,) = optimizers
        losses = self.loss(x, y, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, (n, 1, 28, 28) float32 in [0, 1], on the model's device."""
        raise NotImplementedError

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in steps that a caller may stop between (a trainer's Stop button):
        yields None after each step of work and the samples, as ``sample`` returns them,
        last. Families whose sampling is one cheap pass do it in one step (the default);
        sequential samplers (pixel by pixel, sample by sample) yield as they go."""
        yield self.sample(n, y, generator)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Log-likelihood of each image in nats, shape (B,); see ``nll_kind``."""
        raise NotImplementedError

    def nll_details(self) -> dict[str, Any]:
        """Settings behind ``log_prob`` worth reporting next to it (e.g. ``iwae_k``)."""
        return {}

    def check_labels(self, y: Tensor | None, n: int) -> Tensor | None:
        """Validate labels for ``n`` images.

        Raises:
            ValueError: labels given to an unconditional family, missing for a
                conditional one, of the wrong length, or outside [0, 9].
        """
        if not self.conditional:
            if y is not None:
                raise ValueError(f"{self.family} is not class-conditional: it takes no label")
            return None
        if y is None:
            raise ValueError(f"{self.family} is class-conditional: give a label in [0, 9]")
        if y.shape != (n,) or y.dtype != torch.int64:
            raise ValueError(f"labels must be int64 of shape ({n},), got {y.dtype} {tuple(y.shape)}")
        if bool(((y < 0) | (y >= N_CLASSES)).any()):
            raise ValueError("labels must be digits in [0, 9]")
        return y


class AutoregressiveModel(GenerativeModel):
    """Base class of the explicit-density families p(x) = prod_i p(x_i | x_<i) over binary
    images, one Bernoulli per pixel (NADE, MADE, PixelCNN, Gated PixelCNN, PixelRNN).

    A subclass sets ``image_size`` (side S of the S x S images, 28 for digits) and
    implements ``logits(x, y)``: for binary images x (B, 1, S, S), the logits (B, 1, S, S)
    of p(x_i = 1 | x_<i) for every pixel i at once (teacher forcing: the true x_<i are fed
    in), where "<i" is the model's ordering (raster order unless ``ordering`` says other).

    Everything else follows: ``log_prob`` (exact, nats per image), ``loss`` (its negative
    mean, ``"nll"``), and ``sample``/``complete`` (one pixel at a time, S * S passes).
    """

    nll_kind: ClassVar[str] = "exact"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 6000, "lr": 1e-3, "batch_size": 64}
    image_size: int = 28
    # Rows above a pixel that can influence its conditional, for models in raster order
    # whose logits(x) works on any number of rows (convolutions): ``complete`` then feeds
    # only those rows, not the whole image. None: always the whole image.
    context_rows: int | None = None

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, S, S) of p(x_i = 1 | x_<i) for binary x (B, 1, S, S)."""
        raise NotImplementedError

    def ordering(self) -> Tensor:
        """The generation order: a permutation of the S * S pixel indices (raster order
        by default), int64 on the model's device."""
        return torch.arange(self.image_size**2, device=self.device)

    def check_images(self, x: Tensor) -> Tensor:
        """``x`` as float32 (B, 1, S, S) (``check_images``). Raises ValueError: another shape, or values outside [0, 1]."""
        return check_images(x, self.image_size)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats, (B,), for binary images x (B, 1, S, S); for a
        class-conditional model, log p(x | y) given labels y (B,), or without labels the
        exact marginal log p(x) = log mean_y p(x | y) under a uniform prior on the digits
        (the B images under each of the 10 labels in one pass of 10 B rows)."""
        x = self.check_images(x)
        if self.conditional and y is None:
            labels = torch.arange(N_CLASSES, device=x.device).repeat_interleave(len(x))  # (10 B,): label k for the k-th copy of the batch
            per_label = self.log_prob(x.repeat(N_CLASSES, 1, 1, 1), labels).view(N_CLASSES, len(x))
            return torch.logsumexp(per_label, 0) - math.log(N_CLASSES)
        y = self.check_labels(y, len(x))
        logits = self.logits(x, y)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``"loss"`` and ``"nll"``: the mean negative log-likelihood, nats per image."""
        nll = -self.log_prob(x, y).mean()
        return {"loss": nll, "nll": nll}

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """A function ``p(i)`` giving p(x_i = 1 | x_<i) (B,) for pixel index ``i`` of the
        images ``x`` (B, 1, S, S), which the caller fills in place in ``ordering()``
        order. By default each call runs ``logits`` (on the rows that matter, see
        ``context_rows``); families with a cheaper incremental update override it."""
        s = self.image_size

        def p(i: int) -> Tensor:
            if self.context_rows is None:
                return torch.sigmoid(self.logits(x, y).view(len(x), -1)[:, i])
            r, c = divmod(i, s)  # raster order: pixel (r, c) needs rows r - context .. r only
            top = max(0, r - self.context_rows)
            return torch.sigmoid(self.logits(x[:, :, top : r + 1], y)[:, 0, r - top, c])

        return p

    @torch.no_grad()
    def label_posterior(self, x: Tensor, n_known: int) -> Tensor:
        """For a class-conditional model: p(y | the first ``n_known`` pixels of x), (B, 10),
        exact under a uniform prior on the digits, from log p(x_<n | y) = sum of the known
        pixels' conditional log-probabilities (teacher forcing: they see only known pixels).

        Raises:
            ValueError: an unconditional model, bad images or ``n_known``.
        """
        if not self.conditional:
            raise ValueError(f"{self.family} is not class-conditional: it has no label posterior")
        x = self.check_images(x)
        n_known = check_int("known pixels", n_known, 0, self.image_size**2)
        known = self.ordering()[:n_known]
        scores = []
        for label in range(N_CLASSES):
            y = torch.full((len(x),), label, dtype=torch.int64, device=x.device)
            logp = -F.binary_cross_entropy_with_logits(self.logits(x, y), x, reduction="none").flatten(1)
            scores.append(logp[:, known].sum(1))
        return torch.softmax(torch.stack(scores, 1), dim=1)

    @torch.no_grad()
    def draw(
        self, x: Tensor, n_known: int, y: Tensor | None = None, generator: torch.Generator | None = None, every: int = 0,
    ) -> Iterator[tuple[int, Tensor, Tensor]]:
        """Sample the pixels after the first ``n_known`` of ``ordering()`` one at a time,
        keeping the known ones, and report progress.

        Args:
            x: (B, 1, S, S) binary; its first ``n_known`` pixels (in ``ordering()``) are kept.
            n_known: in [0, S * S].
            y: labels (B,) int64 in [0, 9] for a class-conditional model; None for one
                drawn from p(y | known pixels) (``label_posterior``; uniform for none known).
            every: yield after every ``every`` drawn pixels (0: only at the end).

        Yields:
            (pixels drawn, images (B, 1, S, S) in {0, 1}, probability map (B, 1, S, S):
            p(x_i = 1 | x_<i) of each pixel drawn so far, 0 elsewhere), on the model's
            device; the last one is the finished images. The tensors are updated in place
            after a yield: clone what you keep.

        Raises:
            ValueError: bad shapes, labels or counts.
        """
        x = self.check_images(x).clone()
        n_pixels = self.image_size**2
        n_known = check_int("known pixels", n_known, 0, n_pixels)
        every = check_int("every", every, 0, n_pixels)
        if self.conditional and y is None:
            posterior = self.label_posterior(x, n_known)
            u = torch.rand(len(x), generator=generator, device=generator.device if generator is not None else x.device)
            y = (posterior.cumsum(1) < u.to(x.device)[:, None]).sum(1).clamp(max=N_CLASSES - 1)  # inverse CDF
        y = self.check_labels(y, len(x))
        order = self.ordering().tolist()[n_known:]
        flat = x.view(len(x), -1)
        probs = torch.zeros_like(x)
        probs_flat = probs.view(len(x), -1)
        conditional = self.conditional_fn(x, y)
        for step, i in enumerate(order, start=1):
            p = conditional(i)
            probs_flat[:, i] = p
            u = torch.rand(len(x), generator=generator, device=generator.device if generator is not None else x.device)
            flat[:, i] = (u.to(x.device) < p).float()
            if every and step % every == 0 and step != len(order):
                yield step, x, probs
        yield len(order), x, probs

    @torch.no_grad()
    def complete(
        self, x: Tensor, n_known: int, y: Tensor | None = None, generator: torch.Generator | None = None,
        every: int = 0,
    ) -> tuple[Tensor, list[tuple[int, Tensor, Tensor]]]:
        """Sample the pixels after the first ``n_known`` of the ordering, keeping those
        (``draw`` run to the end).

        Returns:
            (images (B, 1, S, S) in {0, 1}; frames [(pixels drawn, images so far,
            probability map of the pixels drawn so far, 0 elsewhere)], one every
            ``every`` drawn pixels and one at the end, on the CPU; none for ``every`` 0).

        Raises:
            ValueError: bad shapes, labels or counts.
        """
        frames = []
        for step, images, probs in self.draw(x, n_known, y, generator, every):
            if every:
                frames.append((step, images.cpu().clone(), probs.cpu().clone()))
        return images, frames

    def receptive_field(self, pixel: int, n_probes: int = 4, seed: int = 0) -> Tensor:
        """Which input pixels the conditional of pixel ``pixel`` (raster index) depends on,
        from gradients: mean |d logit_pixel / d x_j| over ``n_probes`` random binary
        images, (S, S) float32 on the CPU, >= 0. Zero exactly where x_j cannot influence
        pixel ``pixel`` (its "future", and for a PixelCNN the blind spot).

        Raises:
            ValueError: ``pixel`` not in [0, S * S - 1], ``n_probes`` not in [1, 64], or
                the model in training mode.
        """
        s = self.image_size
        pixel = check_int("pixel", pixel, 0, s * s - 1)
        n_probes = check_int("probes", n_probes, 1, 64)
        g = torch.Generator().manual_seed(seed)
        x = (torch.rand(n_probes, 1, s, s, generator=g) < 0.5).float().to(self.device).requires_grad_(True)
        y = torch.arange(n_probes, device=self.device) % N_CLASSES if self.conditional else None
        if self.training:
            raise ValueError("put the model in eval mode first (model.eval())")
        with torch.enable_grad():
            # autograd.grad, not backward: the weights get no .grad, so a model shared
            # between threads is only read.
            (grad,) = torch.autograd.grad(self.logits(x, y).view(n_probes, -1)[:, pixel].sum(), x)
        return grad.abs().mean(0)[0].detach().cpu()

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples drawn one pixel at a time: (n, 1, S, S) in {0, 1} (float32).

        Raises:
            ValueError: ``n`` not in [1, 10,000] or labels wrong for this family.
        """
        n = check_int("samples", n, 1, 10_000)
        s = self.image_size
        return self.complete(torch.zeros(n, 1, s, s, device=self.device), 0, y, generator)[0]

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` one row of pixels per step: yields None after each row (S - 1 times)
        and the samples (n, 1, S, S) last, the same as ``sample`` draws."""
        n = check_int("samples", n, 1, 10_000)
        s = self.image_size
        for step, images, _ in self.draw(torch.zeros(n, 1, s, s, device=self.device), 0, y, generator, every=s):
            yield images if step == s * s else None
