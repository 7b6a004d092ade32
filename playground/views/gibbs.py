"""Streams of block Gibbs chains for the Boltzmann machines' views: RBM fantasies from
noise or from test digits, completion of half-seen digits by clamped Gibbs sampling, and
DBN samples with the top-level chain animated (block Gibbs sampling in an RBM: Hinton
2002, "Training Products of Experts by Minimizing Contrastive Divergence", Neural
Computation 14(8); sampling a deep belief net: Hinton, Osindero & Teh 2006, "A Fast
Learning Algorithm for Deep Belief Nets", Neural Computation 18(7)). No gradio here.

``GibbsStreams`` is mixed into ``playground.views.boltzmann.BoltzmannViews``. Each stream
takes the session (None for a new one on the bundled models) and the panel's settings,
checks every setting before its first yield (``ValueError``), and yields tuples of uint8
pictures, markdown and GIF paths, with None for an output it leaves as it is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.checks import N_PIXELS, SEED_MAX, Range, check_choice, check_int
from models.dbn import DBN
from models.rbm import MAX_GIBBS_STEPS, RBM, bernoulli
from playground.core.data import MnistSplits
from playground.core.metrics import JUDGES, agreed_confident, classify, judge
from playground.core.plots import image_grid, save_animation, side_by_side
from playground.views.base import NOT_DIGITS, Context, check_index, quality_line

MAX_CHAINS = 100  # chains or samples on the page: a 10 x 10 grid at most
N_SHOWN = 64  # the page's fantasies and DBN samples (an 8 x 8 grid)
CHAINS = Range(1, MAX_CHAINS, 64)
GIBBS_STEPS = Range(1, 10_000, 1000)
FRAME_EVERY = Range(1, 500, 20)
MAX_FRAMES = 200
STARTS = ("noise", "test digits")
# The Completion panel's settings.
COMPLETE_DIGITS = Range(1, 8, 4)
CLAMPED_ROWS = Range(1, 27, 14)
COMPLETIONS = Range(1, 8, 6)
COMPLETE_STEPS = Range(1, 5000, 200)
COMPLETE_RUN = 25  # clamped Gibbs steps between looks at the clock
# The DBN panel's settings.
DBN_SAMPLES = dataclasses.replace(CHAINS, default=36)
DBN_FRAME_EVERY = dataclasses.replace(FRAME_EVERY, default=50)
YIELD_EVERY_S = 0.4
FRAME_MS = 120
# The classifier's reading of a batch is shown only when most of it lies near real digits.
NEAR_K = 3  # an image is near the digits inside the ball round a test digit reaching its 3rd nearest neighbour
NEAR_SHARE = 0.5

# The panels' limits stay inside the models' own (``DBN.generate`` draws up to 10,000).
assert GIBBS_STEPS.high <= MAX_GIBBS_STEPS and COMPLETE_STEPS.high <= MAX_GIBBS_STEPS and MAX_CHAINS <= 10_000


def check_frames(steps: int, every: int) -> int:
    """The frames of an animation of ``steps`` Gibbs steps with one every ``every``: the
    start, one every ``every`` steps and the end.

    Raises:
        ValueError: more than ``MAX_FRAMES`` (the message says the smallest interval that fits).
    """
    n_frames = math.ceil(steps / every) + 1
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"{steps} steps with a frame every {every} make {n_frames} frames: at most {MAX_FRAMES}; "
            f"take a frame every {math.ceil(steps / (MAX_FRAMES - 1))} steps or more"
        )
    return n_frames


def digits_from(ctx: Context, first: Any, n: int) -> tuple[int, Tensor]:
    """(first, binary test digits first, first + 1, ... (n, 1, 28, 28)), wrapping round
    the test split.

    Raises:
        ValueError: ``first`` outside the test split.
    """
    n_test = len(ctx.data.test_labels)
    first = check_index("first test digit", first, n_test)
    return first, ctx.data.images("test", "binary")[torch.arange(first, first + n) % n_test]


@functools.lru_cache(maxsize=2)
def _digit_balls(data: MnistSplits) -> tuple[Tensor, Tensor]:
    """The classifier's features of the test digits (N, F) and the radius of the ball
    round each one: the distance to its ``NEAR_K``-th nearest other test digit (N,)."""
    feats = classify(data.test_grey)[1]
    return feats, torch.cdist(feats, feats).kthvalue(NEAR_K + 1, dim=1).values


def near_digits(images: Tensor, data: MnistSplits) -> Tensor:
    """Which images (N, 1, 28, 28) in [0, 1] lie near real digits: inside the ball of a
    test digit in the classifier's feature space (the precision of Kynkäänniemi et al.
    2019, "Improved Precision and Recall Metric for Assessing Generative Models",
    arXiv:1904.06991); (N,) bool. Noise and an untrained RBM's blobs lie near none."""
    feats, radii = _digit_balls(data)
    return (torch.cdist(classify(images.cpu())[1], feats) <= radii).any(1)


def reading(images: Tensor, data: MnistSplits) -> str:
    """The judges' reading of a batch (N, 1, 28, 28) in [0, 1] (``quality_line``: the agreed-confident share) and
    the share near real digits (``near_digits``), markdown; when fewer than ``NEAR_SHARE`` lie near them, no reading:
    off the digits a single classifier is confident about anything (the shipped one reads pure noise as 8s with
    p ≥ 0.9; the three judges together do not), so the figures would say little about the digits."""
    if not data.digits:
        return NOT_DIGITS
    near = float(near_digits(images, data).float().mean())
    if near < NEAR_SHARE:
        return (
            f"No judges' reading: only **{near:.0%}** of these lie near real digits, and off the digits a single classifier "
            "is confident about anything (ours reads pure noise as 8s with p ≥ 0.9)."
        )
    return f"{quality_line(images.cpu())} **{near:.0%}** of them lie near real digits."


def page_fantasies(model: RBM, seed: int) -> tuple[Tensor, Tensor]:
    """``N_SHOWN`` chains of the RBM's ``n_gibbs`` Gibbs steps from noise (each pixel on
    with probability 1/2), seeded as the Fantasies panel's defaults: the final states and
    their means p(v = 1 | h), each (64, 1, 28, 28) on the CPU."""
    g = torch.Generator().manual_seed(seed)
    v = bernoulli(torch.full((N_SHOWN, N_PIXELS), 0.5), g).to(model.device)
    states, means, _ = model.gibbs_chain(v, model.n_gibbs, generator=g)
    return states.cpu().view(-1, 1, 28, 28), means.cpu().view(-1, 1, 28, 28)


def _columns(n: int) -> int:
    """Columns of a near-square grid of ``n`` images."""
    return max(1, math.ceil(math.sqrt(n)))


def _grids(states: Tensor, means: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Grids of visible states and of their means, each (B, 784) on any device."""
    nrow = _columns(len(states))
    return image_grid(states.cpu().view(-1, 1, 28, 28), nrow), image_grid(means.cpu().view(-1, 1, 28, 28), nrow)


class GibbsStreams:
    """The Gibbs-chain streams of the Boltzmann views (mixed into ``BoltzmannViews``,
    whose ``ctx`` and ``session`` they use; the session's ``rbm`` and ``dbn`` views)."""

    ctx: Context
    session: Callable[[Any], Any]

    def page_chains(self, session: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """The Fantasies panel for the session's RBM before any run: its page fantasies
        (seed 0) as states and means grids, and a status naming the model (markdown)."""
        view = self.session(session).rbm
        states, means = view.page_fantasies(0)
        return image_grid(states), image_grid(means), (
            f"{N_SHOWN} chains of {view.model.n_gibbs:,} Gibbs steps from noise in the RBM ({view.name}). "
            f"{reading(means, self.ctx.data)} Press **Run the chains** to watch them form."
        )

    def page_dbn(self, session: Any) -> tuple[np.ndarray, str]:
        """The DBN panel's samples before any run: the page's samples of the session's DBN
        (seed 0) as a grid, and a status naming the model (markdown)."""
        view = self.session(session).dbn
        samples = view.page_samples(0)
        return image_grid(samples), (
            f"DBN ({view.name}): {N_SHOWN} samples, {view.model.n_gibbs:,} Gibbs steps in the top RBM from noise, then the top-down pass. "
            f"{reading(samples, self.ctx.data)} Press **Sample the DBN** to watch the top-level chain."
        )

    def fantasies(
        self, session: Any, start: Any = "noise", first: Any = 0, n_chains: Any = CHAINS.default, steps: Any = GIBBS_STEPS.default,
        every: Any = FRAME_EVERY.default, seed: Any = 0,
    ) -> Iterator[tuple]:
        """Run Gibbs chains in the session's RBM and stream them.

        Args:
            start: "noise" (each pixel on with probability 1/2) or "test digits" (the
                chains start at test digits first, first + 1, ...).
            first: a test index (checked whichever the start); n_chains: in [1, 100];
                steps: Gibbs steps in [1, 10,000]; every: steps between frames in
                [1, 500], at most 200 frames; seed: int in [0, 2^31).

        Yields:
            (sampled states v grid, means p(v = 1 | h) grid, status markdown, animation
            GIF path (None until the end)); the GIF's frames show the states (left) and
            the means (right).

        Raises:
            ValueError: a setting out of range.
        """
        start = check_choice("start", start, STARTS)
        n_chains = CHAINS.check("chains", n_chains)
        steps = GIBBS_STEPS.check("Gibbs steps", steps)
        every = FRAME_EVERY.check("frame every (steps)", every)
        seed = check_int("seed", seed, 0, SEED_MAX)
        check_frames(steps, every)
        _, digits = digits_from(self.ctx, first, n_chains)
        view = self.session(session).rbm
        model: RBM = view.model
        g = torch.Generator().manual_seed(seed)
        v = bernoulli(torch.full((n_chains, N_PIXELS), 0.5), g) if start == "noise" else digits.view(n_chains, -1)
        v = v.to(model.device)
        mean = v
        frames = [side_by_side(*_grids(v, mean))]
        last_yield = time.perf_counter()
        done = 0
        while done < steps:
            chunk = min(every, steps - done)
            v, mean, _ = model.gibbs_chain(v, chunk, generator=g)
            done += chunk
            left, right = _grids(v, mean)
            frames.append(side_by_side(left, right))
            if time.perf_counter() - last_yield >= YIELD_EVERY_S and done < steps:
                last_yield = time.perf_counter()
                yield left, right, f"Gibbs step {done:,} / {steps:,}…", None
        animation = save_animation(frames, f"fantasies-{start.replace(' ', '-')}", frame_ms=FRAME_MS)
        status = (
            f"After **{steps:,}** Gibbs steps from {start} in the RBM ({view.name}; {len(frames)} frames in the animation). "
            f"{reading(mean.view(-1, 1, 28, 28), self.ctx.data)}"
        )
        yield left, right, status, animation

    def complete(
        self, session: Any, first: Any = 0, n_digits: Any = COMPLETE_DIGITS.default, rows: Any = CLAMPED_ROWS.default,
        n_samples: Any = COMPLETIONS.default, steps: Any = COMPLETE_STEPS.default, seed: Any = 0,
    ) -> Iterator[tuple[np.ndarray, str]]:
        """Completion by clamped Gibbs sampling: the top rows of test digits first,
        first + 1, ... are fixed and the chains sample the other pixels.

        Args:
            first: a test index; n_digits: in [1, 8]; rows: clamped rows in [1, 27];
            n_samples: completions per digit in [1, 8]; steps: Gibbs steps in [1, 5,000];
            seed: int in [0, 2^31).

        Yields:
            (grid: one row per digit with the original, what the chain sees (unknown
            pixels grey) and the completions' means; status markdown), as the chains run.

        Raises:
            ValueError: a setting out of range.
        """
        n_digits = COMPLETE_DIGITS.check("digits", n_digits)
        rows = CLAMPED_ROWS.check("clamped rows", rows)
        n_samples = COMPLETIONS.check("completions per digit", n_samples)
        steps = COMPLETE_STEPS.check("Gibbs steps", steps)
        seed = check_int("seed", seed, 0, SEED_MAX)
        first, digits = digits_from(self.ctx, first, n_digits)
        view = self.session(session).rbm
        model: RBM = view.model
        g = torch.Generator().manual_seed(seed)
        mask = torch.zeros(28, 28, dtype=torch.bool)
        mask[:rows] = True
        mask = mask.flatten()  # (784,)
        x = digits.view(n_digits, -1).repeat_interleave(n_samples, 0)  # (D * S, 784)
        v = torch.where(mask, x, bernoulli(torch.full_like(x, 0.5), g)).to(model.device)
        seen = torch.where(mask, digits.view(n_digits, -1), torch.full((n_digits, N_PIXELS), 0.5))

        def grid(means: Tensor) -> np.ndarray:
            per_digit = means.cpu().view(n_digits, n_samples, N_PIXELS)
            tiles = torch.cat([digits.view(n_digits, 1, N_PIXELS), seen[:, None], per_digit], 1)  # (D, 2 + S, 784)
            return image_grid(tiles.view(-1, 1, 28, 28), nrow=2 + n_samples)

        done, last_yield, mean = 0, time.perf_counter(), v
        while done < steps:
            chunk = min(COMPLETE_RUN, steps - done)
            v, mean, _ = model.gibbs_chain(v, chunk, clamp=mask, generator=g)
            done += chunk
            if time.perf_counter() - last_yield >= YIELD_EVERY_S and done < steps:
                last_yield = time.perf_counter()
                yield grid(mean), f"Gibbs step {done:,} / {steps:,}…"
        yield grid(mean), (
            f"Rows: test digits #{first}–#{first + n_digits - 1}; columns: the digit, what the chain sees (top {rows} rows "
            f"fixed, the rest unknown), then {n_samples} completions after {steps:,} clamped Gibbs steps of the RBM ("
            f"{view.name}). {self._agreement(mean.cpu().view(-1, 1, 28, 28), first, n_digits)}"
        )

    def completion(
        self, session: Any, first: Any = 0, n_digits: Any = COMPLETE_DIGITS.default, rows: Any = CLAMPED_ROWS.default,
        n_samples: Any = COMPLETIONS.default, steps: Any = COMPLETE_STEPS.default, seed: Any = 0,
    ) -> tuple[np.ndarray, str]:
        """The completions once the chains have run: ``complete``'s last (grid, markdown).

        Raises:
            ValueError: a setting out of range.
        """
        *_, last = self.complete(session, first, n_digits, rows, n_samples, steps, seed)
        return last

    def _agreement(self, completions: Tensor, first: int, n_digits: int) -> str:
        """Markdown: the share of completions (n_digits * S, 1, 28, 28) all judges read confidently
        as their test digit (first, first + 1, ...), when most lie near real digits."""
        near = float(near_digits(completions, self.ctx.data).float().mean())
        if near < NEAR_SHARE:
            return f"No judges' reading: only **{near:.0%}** of the completions lie near real digits."
        mask, labels = agreed_confident(judge(completions).probs)
        truth = self.ctx.data.test_labels[torch.arange(first, first + n_digits) % len(self.ctx.data.test_labels)]
        agree = float((mask & (labels == truth.repeat_interleave(len(completions) // n_digits))).float().mean())
        return f"All {len(JUDGES)} judges read **{agree:.0%}** of the completions confidently as the original digit ({near:.0%} of them lie near real digits)."

    def dbn_samples(
        self, session: Any, n: Any = DBN_SAMPLES.default, steps: Any = GIBBS_STEPS.default, every: Any = DBN_FRAME_EVERY.default,
        start: Any = "noise", seed: Any = 0,
    ) -> Iterator[tuple]:
        """Samples of the session's DBN: Gibbs steps in the top RBM (from noise, or from
        the up-pass of test digits 0, 1, ...), each frame passed down to pixels.

        Args:
            n: samples in [1, 100]; steps: in [1, 10,000]; every: steps between frames in
            [1, 500], at most 200 frames; start: "noise" or "test digits"; seed: int in
            [0, 2^31).

        Yields:
            (None, "Running…", None) first, then (the samples grid, status markdown, the
            animation GIF path of the chain).

        Raises:
            ValueError: a setting out of range.
        """
        n = DBN_SAMPLES.check("samples", n)
        steps = GIBBS_STEPS.check("Gibbs steps", steps)
        every = DBN_FRAME_EVERY.check("frame every (steps)", every)
        start = check_choice("start", start, STARTS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        check_frames(steps, every)
        view = self.session(session).dbn
        model: DBN = view.model
        begin = digits_from(self.ctx, 0, n)[1] if start == "test digits" else None
        yield None, f"Running {steps:,} Gibbs steps in the top RBM…", None
        images, frames = model.generate(n, steps, every=every, generator=torch.Generator().manual_seed(seed), start=begin)
        nrow = _columns(n)
        animation = save_animation([image_grid(f, nrow) for _, f in frames], "dbn-top-level-chain", frame_ms=FRAME_MS)
        status = f"DBN ({view.name}): after **{steps:,}** top-level Gibbs steps and the top-down pass. {reading(images, self.ctx.data)}"
        yield image_grid(images.cpu(), nrow), status, animation
