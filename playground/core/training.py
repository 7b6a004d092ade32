"""One UI-free trainer for every family, consumed by the CLI, the tests and the UI.

``train`` is a generator of ``TrainEvent``s: every ``log_every`` steps it yields the mean
training losses since the last event, and, on its own schedules, test losses and a grid
of samples from fixed noise. The caller owns the model, which is trained in place. The
run is seeded (one ``torch.Generator`` drives batch order and the model's noise), stops
when the ``stop`` event is set, and never leaves non-finite weights behind: at each event
whose losses are all finite it snapshots the weights, and a NaN or inf loss restores the
last snapshot and ends the run with a message. A server may cap the time of a run
(``PLAYGROUND_MAX_TRAIN_S``, e.g. 120 s on a shared Space): a run that reaches it ends
like a finished one, with its test losses and samples, and a message naming the cap.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from models.base import GenerativeModel
from models.checks import SEED_MAX, check_choice, check_float, check_int
from models.hub import HubModel
from playground.core.audio import AudioSplits
from playground.core.data import MnistSplits, batches
from playground.core.settings import env_number

MAX_STEPS = 200_000
MAX_BATCH_SIZE = 1024
LR_SCHEDULES = ("constant", "linear")
MAX_TRAIN_ENV = "PLAYGROUND_MAX_TRAIN_S"
MAX_SECONDS = 86_400.0  # TrainConfig.max_seconds: at most a day


def max_train_seconds() -> float | None:
    """The server's cap on the time of one training run, in seconds: ``PLAYGROUND_MAX_TRAIN_S``
    (e.g. 120 on a shared Space), None when it is unset or empty (the default: no cap).

    Raises:
        ValueError: it is set but not a number of seconds > 0 (the message names the variable).
    """
    return env_number(MAX_TRAIN_ENV, valid=lambda seconds: seconds > 0, must="a number of seconds > 0 (or unset for no cap)")


@dataclass
class TrainConfig:
    """Settings of one run.

    Attributes:
        steps: optimiser steps, in [1, 200,000].
        batch_size: images per step, in [1, 1024].
        lr: learning rate, in (0, 1].
        seed: seeds batch order, model noise and the fixed sample noise.
        log_every: steps between events (losses are averaged over them).
        sample_every: steps between sample grids; 0 for none (a final grid is always made
            for generative models).
        eval_every: steps between test-loss evaluations; 0 for none (a final one is
            always made).
        n_samples: images per sample grid, in [1, 256].
        n_eval: test images used for the test losses, in [1, 10,000].
        lr_d: the discriminator's learning rate for adversarial families (GANs), in
            (0, 1]; None for the same as ``lr``. Other families ignore it.
        lr_schedule: ``"constant"``, or ``"linear"``: every learning rate decays linearly
            to 0 at the last step (as Tieleman 2008 trains RBMs by persistent CD).
        max_seconds: the run ends once it has trained this long (seconds > 0), keeping its
            weights, test losses and samples; None for no limit. Default: the server's cap,
            ``max_train_seconds()`` (``PLAYGROUND_MAX_TRAIN_S``).
    """

    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    log_every: int = 25
    sample_every: int = 250
    eval_every: int = 250
    n_samples: int = 64
    n_eval: int = 500
    lr_d: float | None = None
    lr_schedule: str = "constant"
    max_seconds: float | None = field(default_factory=max_train_seconds)

    def __post_init__(self) -> None:
        """Raises ValueError for any setting out of range (the message names it)."""
        self.steps = check_int("steps", self.steps, 1, MAX_STEPS)
        self.batch_size = check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        self.lr = check_float("learning rate", self.lr, 0.0, 1.0)
        if self.lr == 0.0:
            raise ValueError("learning rate must be > 0")
        self.seed = check_int("seed", self.seed, 0, SEED_MAX)
        self.log_every = check_int("log_every", self.log_every, 1, MAX_STEPS)
        self.sample_every = check_int("sample_every", self.sample_every, 0, MAX_STEPS)
        self.eval_every = check_int("eval_every", self.eval_every, 0, MAX_STEPS)
        self.n_samples = check_int("n_samples", self.n_samples, 1, 256)
        self.n_eval = check_int("n_eval", self.n_eval, 1, 10_000)
        self.lr_schedule = check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.lr_d is not None:
            self.lr_d = check_float("discriminator learning rate", self.lr_d, 0.0, 1.0)
            if self.lr_d == 0.0:
                raise ValueError("discriminator learning rate must be > 0")
        if self.max_seconds is not None:
            self.max_seconds = check_float("max_seconds", self.max_seconds, 0.0, MAX_SECONDS)
            if self.max_seconds == 0.0:
                raise ValueError("max_seconds must be > 0")


@dataclass
class TrainEvent:
    """What the trainer reports.

    Attributes:
        step: optimiser steps done so far.
        losses: mean training loss terms over the steps since the last event (nats for
            likelihood terms), e.g. ``{"loss", "reconstruction", "kl", "elbo"}``; the
            final event repeats the last finite ones.
        status: ``"running"``, or for the last event ``"done"``, ``"capped"`` (the run
            reached ``TrainConfig.max_seconds``), ``"stopped"`` or ``"diverged"``.
        elapsed_s: seconds since the run started.
        test_losses: the same terms on the test split, when evaluated at this event.
        samples: (n_samples, 1, 28, 28) float32 in [0, 1] on the CPU (for audio families,
            (n_samples, T) waveforms in [-1, 1]), drawn from the same fixed noise at every
            event that has them.
        message: a human sentence for the final event.
    """

    step: int
    losses: dict[str, float]
    status: str = "running"
    elapsed_s: float = 0.0
    test_losses: dict[str, float] | None = None
    samples: Tensor | None = None
    message: str = ""

    @property
    def final(self) -> bool:
        """True for the last event of a run."""
        return self.status != "running"


@torch.no_grad()
def evaluate_losses(
    model: HubModel, x: Tensor, y: Tensor | None, batch_size: int | None = None, seed: int = 0, stop: threading.Event | None = None,
) -> dict[str, float] | None:
    """Mean loss terms of ``model`` on inputs ``x`` (images (N, 1, 28, 28), or (N, T)
    mu-law codes for audio), in eval mode, ``batch_size`` at a time (default: the
    family's ``eval_batch_size``).

    Args:
        stop: checked between batches; once it is set the evaluation ends early.

    Returns:
        ``{term: mean value}``, weighted by batch size; None when ``stop`` ended it.
    """
    was_training = model.training
    model.eval()
    device = model.device
    batch_size = batch_size or model.eval_batch_size
    generator = torch.Generator(device=device).manual_seed(seed)
    totals: dict[str, float] = {}
    try:
        for start in range(0, len(x), batch_size):
            if stop is not None and stop.is_set():
                return None
            xb = x[start : start + batch_size].to(device)
            yb = y[start : start + batch_size].to(device) if y is not None else None
            for k, v in model.loss(xb, yb, generator=generator).items():
                totals[k] = totals.get(k, 0.0) + float(v) * len(xb)
    finally:
        model.train(was_training)
    return {k: v / len(x) for k, v in totals.items()}


def cycling_labels(n: int, device: torch.device | str) -> Tensor:
    """Labels 0, 1, ..., 9, 0, 1, ... for ``n`` samples of a class-conditional model:
    (n,) int64 on ``device`` (a grid with 10 columns gets one digit per column)."""
    return torch.arange(n, device=device) % 10


def _labels_if_needed(model: HubModel, y: Tensor) -> Tensor | None:
    return y if model.conditional else None


def _sample_grid(model: HubModel, n: int, seed: int, stop: threading.Event) -> Tensor | None:
    """Samples from fixed noise (the same seed every time), or None for non-generative
    models and when ``stop`` is set before they are drawn (checked between the steps of
    ``sample_iter``). Conditional models get labels 0..9 cycling, one digit per column
    of 10."""
    if not isinstance(model, GenerativeModel):
        return None
    was_training = model.training
    model.eval()
    y = cycling_labels(n, model.device) if model.conditional else None
    samples = None
    try:
        for samples in model.sample_iter(n, y=y, generator=torch.Generator().manual_seed(seed)):
            if stop.is_set():
                return None
    finally:
        model.train(was_training)
    return samples.float().cpu()


def _non_finite(interval: dict[str, float], state: dict[str, Tensor]) -> list[str]:
    """What became NaN or infinite: the interval's mean losses, and the first bad weight
    (each loss is computed before its update, so the last update of an interval may have
    broken the weights even though every loss was finite)."""
    bad = [f"{k} became {v}" for k, v in interval.items() if not math.isfinite(v)]
    return bad + [f"weight {k} became non-finite" for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())][:1]


def _schedulers(optimizers: list[torch.optim.Optimizer], config: TrainConfig) -> list:
    """Learning-rate schedulers of ``config.lr_schedule`` ("linear": to 0 at the last step)."""
    if config.lr_schedule != "linear":
        return []
    return [torch.optim.lr_scheduler.LambdaLR(opt, lambda done: 1 - done / config.steps) for opt in optimizers]


def _capped_message(step: int, config: TrainConfig) -> str:
    """What a run ended by its time limit says: the cap, and where it came from when it is the server's."""
    source = f" ({MAX_TRAIN_ENV})" if os.environ.get(MAX_TRAIN_ENV, "").strip() else ""
    return (
        f"stopped at step {step:,} of {config.steps:,}: this server caps a training run at {config.max_seconds:g} s{source}; "
        "the model keeps its weights"
    )


def train(model: HubModel, data: MnistSplits | AudioSplits, config: TrainConfig, *, stop: threading.Event | None = None) -> Iterator[TrainEvent]:
    """Train ``model`` in place on the train split of ``data``; yield progress events.

    The model is trained on the device it is on, on the inputs it asks for (``data.inputs(split, model.data_kind)``: binary
    or grey digits, or mu-law audio clips), with labels if ``model.conditional``. Test losses use the first ``config.n_eval`` test digits.

    Yields:
        ``TrainEvent`` every ``config.log_every`` steps, and a final one whose ``status`` is ``"done"``, ``"capped"`` (it trained
        for ``config.max_seconds``, checked after each step; the model keeps its weights), ``"stopped"`` (``stop`` was set; the
        model keeps its weights) or ``"diverged"`` (a non-finite loss; the model is restored to the weights of the last event whose
        losses were all finite). The final event carries the test losses and samples of the finished model, except after a Stop:
        ``stop`` ends the run within one training step (or one test batch, or one step of ``sample_iter``), and such an event has neither.
    """
    device = model.device
    stop = stop or threading.Event()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    x_train = data.inputs("train", model.data_kind).to(device)
    y_train = data.labels("train").to(device)
    x_test = data.inputs("test", model.data_kind)[: config.n_eval]
    y_test = _labels_if_needed(model, data.labels("test")[: config.n_eval])
    # Test batches no larger than training batches: each costs less than a training step,
    # so a Stop is seen as soon during an evaluation as between steps.
    eval_batch = min(model.eval_batch_size, config.batch_size)
    optimizers = model.configure_optimizers(config.lr, config.lr_d)
    schedulers = _schedulers(optimizers, config)
    snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sums: dict[str, Tensor] = {}
    n_summed: dict[str, int] = {}  # per term: a family may report a term on some steps only (a VQ-VAE's phases)
    means: dict[str, float] = {}
    start = time.perf_counter()
    index_stream = batches(len(x_train), config.batch_size, generator)
    model.train()
    step = 0
    status, message = "done", ""
    while step < config.steps:
        if stop.is_set():
            status, message = "stopped", f"stopped at step {step}; the model keeps its weights"
            break
        idx = next(index_stream)
        losses = model.train_step(x_train[idx], _labels_if_needed(model, y_train[idx]), optimizers, generator)
        step += 1
        for scheduler in schedulers:
            scheduler.step()
        for k, v in losses.items():
            sums[k] = sums[k] + v if k in sums else v.clone()
            n_summed[k] = n_summed.get(k, 0) + 1
        capped = config.max_seconds is not None and step < config.steps and time.perf_counter() - start >= config.max_seconds
        if step % config.log_every and step != config.steps and not capped:
            continue
        interval = {k: float(v) / n_summed[k] for k, v in sums.items()}
        sums, n_summed = {}, {}
        state = model.state_dict()
        bad = _non_finite(interval, state)
        if bad:
            model.load_state_dict(snapshot)
            status = "diverged"
            message = f"training diverged by step {step} ({'; '.join(bad)}); restored the last finite weights. Try a lower learning rate."
            break
        means = interval
        snapshot = {k: v.detach().clone() for k, v in state.items()}
        if capped:  # after the checks of an event: finite losses, weights snapshot
            status, message = "capped", _capped_message(step, config)
            break
        event = TrainEvent(step=step, losses=means, elapsed_s=time.perf_counter() - start)
        if config.eval_every and step % config.eval_every == 0 and step != config.steps:
            event.test_losses = evaluate_losses(model, x_test, y_test, eval_batch, config.seed, stop)
        if config.sample_every and step % config.sample_every == 0 and step != config.steps:
            event.samples = _sample_grid(model, config.n_samples, config.seed, stop)
        yield event
    if status == "done":
        message = f"trained {step} steps in {time.perf_counter() - start:.1f} s"
    model.eval()
    final = TrainEvent(step=step, losses=means, status=status, message=message)
    # A stopped run ends at once: its test losses and samples, which can take seconds
    # (pixel by pixel), are left to whoever needs them next.
    if status != "stopped":
        final.test_losses = evaluate_losses(model, x_test, y_test, eval_batch, config.seed, stop)
        final.samples = _sample_grid(model, config.n_samples, config.seed, stop)
    final.elapsed_s = time.perf_counter() - start
    yield final
