"""The VQ-VAE tab's model view: a read-only ``VqView`` of a VQ-VAE or VQ-VAE-2 with what
is computed once from it (codebook usage over the whole test split, the codebook mosaics,
the bound in nats, the first samples), the prior's labels, and code grids as JSON text
(how the Code map panel keeps a digit's codes between clicks), and the pictures a
training run shows. No gradio here.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.checks import SEED_MAX, check_choice, check_int
from models.vqvae import VQVAE
from playground.core.metrics import real_data_frechet, sample_quality, test_nll
from playground.core.plots import image_grid
from playground.core.training import cycling_labels
from playground.views.ar_model import FIGURES_FILE, CachedFigures, split_fingerprint, weights_sha256
from playground.views.base import NOT_DIGITS, ModelView, quality_line
from playground.views.vqvae_pictures import mosaic, usage_figure

N_SAMPLES = 32  # per grid: prior samples, and as many decodes of uniform codes
LABEL_CHOICES = ["any", *(str(d) for d in range(10))]
NAMES = {"vqvae": "VQ-VAE", "vqvae2": "VQ-VAE-2"}
MAX_JSON_CHARS = 100_000


def prior_labels(model: VQVAE, label: Any, n: int) -> tuple[Tensor | None, str]:
    """Labels (n,) for the prior (None for an unconditional one) and how they were chosen."""
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    label = check_choice("label", label, tuple(LABEL_CHOICES))
    if not model.conditional:
        return None, "an unconditional prior" + ("" if label == "any" else " (it takes no label: the label is ignored)")
    if label == "any":
        return cycling_labels(n, model.device), "labels 0–9 in turn"
    return torch.full((n,), int(label), dtype=torch.int64, device=model.device), f"label {label}"


def seeded_generator(seed: Any) -> torch.Generator:
    return torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))


def reconstructions(model: VQVAE, x: Tensor) -> np.ndarray:
    """Binary digits x (N, 1, 28, 28) over their reconstructions (decodes of their codes), uint8."""
    with torch.no_grad():
        recon = model.decode_codes(model.codes(x.to(model.device)))
    return image_grid(torch.cat([x, recon.cpu()]), nrow=len(x))


def live_usage(model: VQVAE, x: Tensor) -> go.Figure:
    """The bottom level's code usage on binary digits x (N, 1, 28, 28), as a histogram."""
    counts = model.code_usage(x.to(model.device))[-1]
    return usage_figure(counts.tolist(), f"codes used on {len(x)} test digits: {int((counts > 0).sum())} of {len(counts)}")


def codes_to_json(codes: list[Tensor]) -> str:
    """The first image's code grids (one per level, top first) as JSON: a list per level of rows of ints."""
    return json.dumps([c[0].tolist() for c in codes])


def codes_from_json(model: VQVAE, text: Any) -> list[Tensor]:
    """Code grids (1, H, W) per level from ``codes_to_json``'s text.

    Raises:
        ValueError: not JSON, not a list per level of rows of integer ids, grids of other
            shapes than the model's, or ids outside [0, K - 1].
    """
    shapes = " and ".join(f"{h} × {w}" for h, w in model.grids)
    expected = f"a list of {len(model.grids)} code grid(s) (top first: {shapes}), each a list of rows of integer ids"
    if not isinstance(text, str) or len(text) > MAX_JSON_CHARS:
        raise ValueError(f"the code map must be JSON text: {expected}; encode a digit first")
    try:
        grids = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the code map is not valid JSON ({err.msg}): {expected}") from None
    if not isinstance(grids, list) or len(grids) != len(model.grids):
        raise ValueError(f"the code map must be {expected}")
    for level, (grid, (h, w)) in enumerate(zip(grids, model.grids)):
        rows_ok = isinstance(grid, list) and len(grid) == h and all(isinstance(row, list) and len(row) == w for row in grid)
        if not rows_ok or not all(type(v) is int for row in grid for v in row):
            raise ValueError(f"code grid {level + 1} of {len(grids)} must be {h} rows of {w} integer ids: the code map must be {expected}")
    return model.check_codes([[grid] for grid in grids])  # ids in [0, K - 1], an id past int64 included


class VqView(ModelView):
    """A loaded VQ-VAE or VQ-VAE-2 and what is computed once from it (codebook usage over
    the whole test split, the codebook mosaics, the bound, the seed-0 samples); never
    changed after it is made, so sessions share the bundled ones."""

    model: VQVAE

    def test_images(self) -> Tensor:
        """The binary test images of its data (N, 1, 28, 28)."""
        return self.data.images("test", "binary")

    @functools.cached_property
    def usage(self) -> list[Tensor]:
        """How many cells of the test split's code grids use each code, per level: (K,) int64."""
        return self.model.code_usage(self.test_images().to(self.model.device))

    @functools.cached_property
    def bound_nats(self) -> float:
        """The test split's mean bound on -log p(x), nats per digit (labels not given):
        kept in the bundled checkpoint's ``figures.json`` (``write_figures``) when its
        weights and test digits are these, else computed (seconds on 2 cores)."""
        kept = CachedFigures(self.model).test_nll(self.data)
        return kept if kept is not None else test_nll(self.model, self.data, labels=False)["nll_nats"]

    @functools.cached_property
    def mosaics(self) -> list[np.ndarray]:
        """Per level, every code decoded alone (tiled over its level's grid, the other
        level filled with its most used code), as a mosaic with ids (``vqvae_pictures.mosaic``)."""
        m, k = self.model, self.model.n_codes
        out = []
        for level in range(len(m.grids)):
            codes = [torch.full((k, *grid), int(self.usage[i].argmax()), dtype=torch.int64) for i, grid in enumerate(m.grids)]
            codes[level] = torch.arange(k)[:, None, None].expand(k, *m.grids[level]).clone()
            out.append(mosaic(m.decode_codes(codes).cpu(), k))
        return out

    @functools.cached_property
    def first_samples(self) -> tuple[np.ndarray, np.ndarray, str]:
        """``VqViews.samples`` of seed 0, label "any" (the panel's first view and the home tab's)."""
        return self.draw_samples(0, "any")

    def draw_samples(self, seed: int, label: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """(prior grid, uniform-codes grid, markdown): see ``VqViews.samples``."""
        m = self.model
        y, how = prior_labels(m, label, N_SAMPLES)
        start = time.perf_counter()
        prior = m.decode_codes(m.sample_codes(N_SAMPLES, y, seeded_generator(seed))).cpu()
        seconds = time.perf_counter() - start
        uniform = m.decode_codes(m.uniform_codes(N_SAMPLES, seeded_generator(seed))).cpu()
        cells = sum(h * w for h, w in m.grids)
        data = self.data
        if not data.digits:
            note = f"**Left, with the prior** ({how}; {cells} cells a grid, drawn in {seconds:.2f} s). **Right, uniform codes**. {NOT_DIGITS}"
            return image_grid(prior), image_grid(uniform), note
        note = (
            f"**Left, with the prior** ({how}; {cells} cells a grid, drawn in {seconds:.2f} s): Fréchet distance to the test digits "
            f"**{sample_quality(prior, data)['frechet_distance']:.0f}**. {quality_line(prior)}  \n"
            f"**Right, uniform codes** (every cell any of the {m.n_codes} codes, equally likely): Fréchet distance "
            f"**{sample_quality(uniform, data)['frechet_distance']:.0f}** ({N_SAMPLES} real digits: {real_data_frechet(data, N_SAMPLES):.0f}; "
            "lower is closer to real digits). The classifier is not asked here: trained on digits only, it reads many scribbles as digits with confidence."
        )
        return image_grid(prior), image_grid(uniform), note

    def level_text(self, level: int) -> str:
        """Markdown: the test split's perplexity, codes used and dead codes of ``level``."""
        counts = self.usage[level]
        p = counts.double() / counts.sum()
        perplexity = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
        k, used = len(counts), int((counts > 0).sum())
        dead = torch.nonzero(counts == 0).flatten().tolist()
        dead_text = "none" if not dead else ", ".join(map(str, dead[:40])) + (f", … ({len(dead)} in all)" if len(dead) > 40 else "")
        name = self.model.level_names[level]
        return (
            f"{f'**{name} level** · ' if name else ''}Over the {len(self.test_images()):,} test digits ({int(counts.sum()):,} cells): "
            f"perplexity exp(−Σ p log p) = **{perplexity:.1f}** of {k} · codes used **{used} of {k} ({used / k:.0%})** · dead codes: {dead_text}."
        )

    def describe(self) -> str:
        """Markdown: family, codebook, prior, codes used on the test split, the bound in nats."""
        m = self.model
        used = " · ".join(f"{name + ': ' if name else ''}{int((u > 0).sum())} of {m.n_codes}" for name, u in zip(m.level_names, self.usage))
        prior = m.priors[0]
        return (
            f"**{NAMES[m.family]}: {self.name}** · grids {' + '.join(f'{h}×{w}' for h, w in m.grids)} · K = {m.n_codes} codes of size "
            f"{m.code_dim} · β = {m.beta:g} · {'EMA' if m.ema else 'gradient'} codebook · prior: "
            f"{'class-conditional ' if m.conditional else ''}Gated PixelCNN ({prior.channels} channels, {prior.n_layers} layers) · "
            f"codes used on the test split: {used} · test bound **{self.bound_nats:.1f}** nats (−log p(x) ≤ −log p(x|z) − log p(z)){self.trained_on_note}"
        )


def write_figures(model: VQVAE, data: Any, folder: Path) -> dict[str, Any]:
    """Compute the test bound of ``model`` on ``data`` (nats per digit, labels not given)
    and write it to ``folder/figures.json`` in the format ``ar_model.CachedFigures``
    reads (tied to the weights' SHA-256 and the test digits). Returns what was written."""
    figures = {
        "about": "Figures of this checkpoint, computed once; see playground/views/vq_model.py.",
        "weights_sha256": weights_sha256(model.eval()),
        "test_nll": {"nll_nats": round(test_nll(model, data, labels=False)["nll_nats"], 4), "dataset": data.name, "test_fingerprint": split_fingerprint(data)},
    }
    (folder / FIGURES_FILE).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures
