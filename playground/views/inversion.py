"""A student's own drawing in a model's latent space: "Encode my drawing" for the VAE and
"Nearest sample" for the GAN. No gradio here.

A VAE has an encoder, so a drawing x enters its latent space in one pass: q(z|x) =
N(mu, diag sigma^2) (Kingma & Welling 2013, "Auto-Encoding Variational Bayes",
arXiv:1312.6114), and the ELBO says how likely the model finds it. A GAN has no encoder:
its nearest sample is found by latent optimisation, descending on z from several random
starts to minimise the pixel distance between G(z) and x plus a small pull towards the
prior's centre (Zhu et al. 2016, "Generative Visual Manipulation on the Natural Image
Manifold", arXiv:1609.03552; Creswell & Bharath 2016, "Inverting the Generator of a
Generative Adversarial Network", arXiv:1611.05644). What the GAN cannot draw stays far:
the distance left is a picture of what its samples miss.

The drawing is turned into a 28 x 28 binary digit in MNIST's framing by
``playground.core.drawing.digit_from_drawing``, as the autoregressive tab's sketchpad is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.checks import N_CLASSES, SEED_MAX, Range, check_int
from playground.core.drawing import digit_from_drawing
from playground.core.plots import image_grid
from playground.core.training import evaluate_losses
from playground.views.gan import GanView, GanViews
from playground.views.vae import N_SLIDERS, VaeSession, VaeView, VaeViews

# Latent optimisation (the GAN's "Nearest sample"): about 0.4 s for the bundled DCGAN and
# 1.5 s for the bundled cGAN (10 labels) with the defaults on 2 CPU cores.
STEPS = Range(10, 300, 100)  # Adam steps
RESTARTS = Range(1, 8, 3)  # random starts (for a conditional GAN: per label)
LEARNING_RATE = 0.1
PRIOR_WEIGHT = 0.01  # weight of mean(z^2) beside the mean squared pixel error
N_PATH = 10  # frames of the path shown, the start and the end included
# The VAE's "Encode my drawing".
N_POSTERIOR = 8  # decodings of z ~ q(z|x) shown
N_ELBO = 64  # draws of z ~ q(z|x) behind the drawing's ELBO
ENCODE_SEED = 0
NOTHING_DRAWN = "nothing is drawn: draw a digit on the pad first"
PROMPT_ENCODE = "Draw a digit on the pad (dark on light), then press **Encode my drawing**."
PROMPT_NEAREST = "Draw a digit on the pad (dark on light), then press **Find the nearest sample**."


def target(drawing: Any) -> tuple[Tensor, str]:
    """The drawing as the models see it: ``digit_from_drawing`` (a Sketchpad value or an
    image array) -> ((1, 1, 28, 28) float32 in {0, 1}, what was done).

    Raises:
        ValueError: nothing drawn, a blank or all-ink drawing, a wrong shape or size,
            NaN or values that are not an image's.
    """
    if drawing is None or (isinstance(drawing, dict) and drawing.get("composite") is None and not any(x is not None for x in drawing.get("layers") or [])):
        raise ValueError(NOTHING_DRAWN)  # said here: the pad has no test digit to pick, as the autoregressive tab's has
    return digit_from_drawing(drawing)


def is_drawn(drawing: Any) -> bool:
    """Whether the pad holds something to encode (False for an untouched or cleared pad,
    or anything ``target`` refuses): a panel redrawn after a change of model then asks
    for a drawing instead of warning."""
    try:
        target(drawing)
    except ValueError:
        return False
    return True


def distance(images: Tensor, x: Tensor) -> Tensor:
    """Euclidean distance over the 784 pixel values (each in [0, 1]) between each of
    ``images`` (N, 1, 28, 28) and ``x`` (1, 1, 28, 28): (N,) float32; 0 is identical, a
    random GAN sample is typically about 11 from a drawn digit."""
    return (images - x).flatten(1).norm(dim=1)


# -- the VAE: the encoder's q(z|x) ------------------------------------------------------------------
@dataclass(frozen=True)
class Encoding:
    """A drawing through the VAE's encoder and decoder.

    Attributes:
        x: the drawing (1, 1, 28, 28) in {0, 1}; how: what was done to it (a sentence).
        mu, sigma: q(z|x)'s mean and standard deviation, each (D,) float32.
        reconstruction: the decoded mean, pixel probabilities (1, 1, 28, 28) in [0, 1].
        draws: ``N_POSTERIOR`` decodings of z ~ q(z|x) (seed ``ENCODE_SEED``), (8, 1, 28, 28).
        elbo, reconstruction_nats, kl_nats: the ELBO and its terms, nats (mean of
            ``N_ELBO`` draws of z); elbo = -(reconstruction_nats + kl_nats).
    """

    x: Tensor
    how: str
    mu: Tensor
    sigma: Tensor
    reconstruction: Tensor
    draws: Tensor
    elbo: float
    reconstruction_nats: float
    kl_nats: float


def encode(view: VaeView, drawing: Any) -> Encoding:
    """Encode a drawing with the VAE of ``view`` (see ``Encoding``).

    Raises:
        ValueError: a drawing ``target`` refuses.
    """
    x, how = target(drawing)
    mu, logvar = view.encode(x)
    sigma = (0.5 * logvar).exp()
    g = torch.Generator().manual_seed(ENCODE_SEED)
    z = mu + sigma * torch.randn(N_POSTERIOR, view.latent_dim, generator=g)  # (8, D)
    decoded = view.decode(torch.cat([mu, z]))
    losses = evaluate_losses(view.model, x.expand(N_ELBO, -1, -1, -1), None, seed=ENCODE_SEED)
    return Encoding(x, how, mu[0], sigma[0], decoded[:1], decoded[1:], losses["elbo"], losses["reconstruction"], losses["kl"])


def _encoding_text(view: VaeView, e: Encoding) -> str:
    """Markdown: the ELBO against the test digits' mean, and mu and sigma of the sliders'
    dimensions."""
    gap = e.elbo - view.test_elbo
    verdict = "higher than" if gap >= 0 else "lower than"
    dims = view.order[:N_SLIDERS]
    head = " | ".join(f"z[{d}]" for d in dims)
    mu, sigma = (" | ".join(f"{float(v[d]):{f}}" for d in dims) for v, f in ((e.mu, "+.2f"), (e.sigma, ".2f")))
    return (
        f"**ELBO of your drawing: {e.elbo:.1f} nats** (reconstruction {e.reconstruction_nats:.1f} + KL {e.kl_nats:.1f}; "
        f"mean of {N_ELBO} draws of z ~ q(z|x)): {abs(gap):.1f} nats {verdict} the test {view.data_word}s' mean, {view.test_elbo:.1f}. "
        "The ELBO is a lower bound on log p(x): the higher, the more likely the model finds your digit.\n\n"
        f"| dimension | {head} |\n|---{'|---' * len(dims)}|\n| mean μ | {mu} |\n| std σ | {sigma} |\n\n"
        "The dimensions are the latent sliders' (most informative first). σ near 1 (the prior's) means the encoder leaves that dimension "
        "free for this drawing; a small σ pins it down. "
        f"*{e.how}.*"
    )


def encode_drawing(views: VaeViews, session: Any, drawing: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """The VAE's "Encode my drawing" panel for the session's model.

    Returns:
        (your drawing beside its reconstruction, uint8; 8 decodings of z ~ q(z|x), uint8;
        markdown: the ELBO against the test digits' mean, mu and sigma of the dimensions
        the latent sliders show).

    Raises:
        ValueError: a drawing ``target`` refuses (nothing drawn, blank, wrong shape, NaN).
    """
    view = views.session(session).view
    e = encode(view, drawing)
    return image_grid(torch.cat([e.x, e.reconstruction]), nrow=2), image_grid(e.draws, nrow=N_POSTERIOR), _encoding_text(view, e)


def use_drawing(views: VaeViews, session: Any, drawing: Any) -> VaeSession:
    """Set the session's code (what the latent sliders edit) to the drawing's encoder
    mean mu; returns the session (the sliders and their picture then start from it).

    Raises:
        ValueError: a drawing ``target`` refuses (the code is unchanged).
    """
    session = views.session(session)
    session.z = encode(session.view, drawing).mu.clone()
    return session


# -- the GAN: latent optimisation -------------------------------------------------------------------
@dataclass(frozen=True)
class Inversion:
    """The nearest sample a GAN draws to a target, by latent optimisation.

    Attributes:
        z: the best latent (D,); label: its label (conditional GAN) or None.
        image: G(z) (1, 1, 28, 28) in [0, 1]; distance: its ``distance`` to the target.
        start_distance: the best distance among the random starts before any step.
        path: G along the best start's way, ``N_PATH`` frames from start to end (10, 1, 28, 28).
        by_label: {label: best distance} for a conditional GAN, else {}.
        label_images: the best image per label (10, 1, 28, 28), or None.
        seconds: the wall time of the optimisation.
    """

    z: Tensor
    label: int | None
    image: Tensor
    distance: float
    start_distance: float
    path: Tensor
    by_label: dict[int, float]
    label_images: Tensor | None
    seconds: float


def invert(view: GanView, x: Tensor, steps: int = STEPS.default, restarts: int = RESTARTS.default, seed: int = 0) -> Inversion:
    """Latent optimisation: Adam (learning rate 0.1) on z from ``restarts`` starts z0 ~
    N(0, I) drawn with ``seed`` (each tried with every label 0..9 by a conditional GAN),
    minimising mean((G(z) - x)^2) + 0.01 mean(z^2) for ``steps`` steps; the start whose
    G(z) ends nearest to ``x`` (1, 1, 28, 28) in [0, 1] is kept. Deterministic on the CPU.
    The model's weights are not touched (only z's gradient is computed), so sessions can
    share the view.

    Raises:
        ValueError: steps, restarts or seed out of range, or x of the wrong shape.
    """
    steps, restarts = STEPS.check("steps", steps), RESTARTS.check("random starts", restarts)
    seed = check_int("seed", seed, 0, SEED_MAX)
    if tuple(x.shape) != (1, 1, 28, 28) or not bool(torch.isfinite(x).all()):
        raise ValueError(f"the target must be one finite 28 x 28 image (1, 1, 28, 28), got shape {tuple(x.shape)}")
    model, device = view.model, view.ctx.device
    n_labels = N_CLASSES if view.conditional else 1
    z = torch.randn(restarts, model.latent_dim, generator=torch.Generator().manual_seed(seed)).repeat(n_labels, 1)  # (L * R, D)
    y = torch.arange(n_labels).repeat_interleave(restarts).to(device) if view.conditional else None  # label l for rows l*R..(l+1)*R-1
    z, target_x = z.to(device).requires_grad_(True), x.to(device)
    optimiser = torch.optim.Adam([z], lr=LEARNING_RATE)
    marks = set(torch.linspace(0, steps, N_PATH).round().long().tolist())
    path, start = [], time.perf_counter()
    with torch.enable_grad():
        for step in range(steps + 1):
            if step in marks:
                path.append(z.detach().clone())
            if step == steps:
                break
            loss = ((model.generate(z, y) - target_x) ** 2).flatten(1).mean(1) + PRIOR_WEIGHT * z.pow(2).mean(1)  # (L * R,)
            (z.grad,) = torch.autograd.grad(loss.sum(), z)  # each start's loss is its own: the sum's gradient is per start
            optimiser.step()
    seconds = time.perf_counter() - start
    labels = None if y is None else y.cpu()
    images = view.generate(z.detach().cpu(), labels)
    d = distance(images, x)
    best = int(d.argmin())
    start_distance = float(distance(view.generate(path[0].cpu(), labels), x).min())
    label = None if labels is None else int(labels[best])
    frames = view.generate(torch.stack([p[best] for p in path]).cpu(), None if label is None else torch.full((len(path),), label))
    by_label, label_images = {}, None
    if view.conditional:
        per = d.view(N_CLASSES, restarts)  # (10, R)
        by_label = {k: float(v) for k, v in enumerate(per.min(1).values)}
        label_images = images[torch.arange(N_CLASSES) * restarts + per.argmin(1)]
    return Inversion(z.detach()[best].cpu(), label, images[best : best + 1], float(d[best]), start_distance, frames, by_label, label_images, seconds)


def _inversion_text(view: GanView, r: Inversion, steps: int, restarts: int, how: str) -> str:
    """Markdown: the distance found against the random starts', the label, the cost."""
    dim = view.model.latent_dim
    labels = ""
    if r.label is not None:
        shown = " · ".join(f"**{k}: {v:.1f}**" if k == r.label else f"{k}: {v:.1f}" for k, v in r.by_label.items())
        labels = f"\n\nLabel found: **{r.label}** (the best of the 10 labels). Nearest distance for each label: {shown}."
    per_label = " with each of the 10 labels" if r.label is not None else ""
    return (
        f"**Distance {r.distance:.1f}** between your drawing and the nearest sample G(z*) (Euclidean, over the 784 pixel values "
        f"in [0, 1]); the best of the random starts was {r.start_distance:.1f}. {steps} Adam steps from {restarts} random "
        f"start{'s' if restarts > 1 else ''}{per_label} took {r.seconds:.1f} s; |z*| = {float(r.z.norm()):.1f} "
        f"(a typical z ~ N(0, I) in {dim} dimensions: {dim**0.5:.1f}).{labels}\n\n"
        "What is left of the distance is what this GAN cannot draw: a GAN learns to make digits, not to reach every digit. "
        f"*{how}.*"
    )


def nearest_sample(
    views: GanViews, session: Any, drawing: Any, steps: Any = STEPS.default, restarts: Any = RESTARTS.default, seed: Any = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """The GAN's "Nearest sample" panel for the session's model (``invert``).

    Args:
        drawing: a Sketchpad value or an image array (see ``target``); steps: in [10, 300];
            restarts: random starts in [1, 8] (per label for a conditional GAN); seed:
            in [0, 2^31).

    Returns:
        (your drawing beside the nearest sample, uint8; the path from the best random start
        to the nearest sample in 10 frames, and for a conditional GAN below it the nearest
        sample of each label 0..9, uint8; markdown: the distance, the label, the time).

    Raises:
        ValueError: a drawing ``target`` refuses, or a setting out of range.
    """
    view = views.session(session).view
    steps, restarts = STEPS.check("steps", steps), RESTARTS.check("random starts", restarts)
    seed = check_int("seed", seed, 0, SEED_MAX)
    x, how = target(drawing)
    r = invert(view, x, steps, restarts, seed)
    strip = r.path if r.label_images is None else torch.cat([r.path, r.label_images])
    return image_grid(torch.cat([x, r.image]), nrow=2), image_grid(strip, nrow=N_PATH), _inversion_text(view, r, steps, restarts, how)
