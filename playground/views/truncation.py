"""The truncation page's views (a page of the GAN tab): the bundled DCGAN sampled with the
truncation trick (``models.truncation``; BigGAN, Brock et al. 2018, arXiv:1809.11096, and
StyleGAN's shrink toward the mean, Karras et al. 2018, arXiv:1812.04948), and its sample
quality against diversity curve over psi: the judges' agreed-confident share and the
precision and recall of Kynkaanniemi et al. 2019 (arXiv:1904.06991), from
``metrics.sample_quality``. No gradio here.

The curve costs 16 evaluations of 1,000 samples (a few minutes on 2 cores), so it is
computed once, into ``assets/truncation.json`` (``python -m playground.views.truncation``),
and the page reads it. The samples the page shows for seed 0 are the first 64 of the 1,000
behind the curve's point at the same psi and method, so the figures under them are theirs.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from models.checks import SEED_MAX, Range, check_choice, check_int
from models.gan import GAN
from models.truncation import METHOD_NAMES, METHODS, pixel_spread, truncated_latents
from playground.core import checkpoints, plots
from playground.core.data import MnistSplits
from playground.core.metrics import sample_quality
from playground.views.base import Context, quality_line

CHECKPOINT = "gan"
PSI = Range(0.25, 2.0, 1.0, integer=False)
PSI_STEP = 0.25
PSIS = tuple(PSI.low + PSI_STEP * i for i in range(round((PSI.high - PSI.low) / PSI_STEP) + 1))  # 0.25, 0.5, ..., 2.0: the slider's values
N_CURVE = 1000  # samples behind each point of the curve
CURVE_SEED = 0
N_SHOWN = 64
FIGURES_PATH = Path(__file__).resolve().parents[2] / "assets" / "truncation.json"
KEYS = ("agreed_confident_share", "precision", "recall", "n_classes_agreed", "pixel_spread")
CURVE_NAMES = {"agreed_confident_share": "judges agree (confident share)", "precision": "precision", "recall": "recall"}


def check_psi(psi: Any) -> float:
    """ψ as one of the slider's values (0.25 to 2 in steps of 0.25), where the curve has a point.

    Raises:
        ValueError: anything else.
    """
    value = PSI.check("ψ (truncation)", psi)
    if not any(abs(value - p) < 1e-9 for p in PSIS):
        raise ValueError(f"ψ (truncation) must be one of {', '.join(f'{p:g}' for p in PSIS)}, got {value:g}")
    return min(PSIS, key=lambda p: abs(p - value))


def latents(model: GAN, psi: float, method: str, seed: int) -> torch.Tensor:
    """The ``N_CURVE`` truncated latents of ``seed`` (n, latent_dim), on the CPU: the curve's
    point and the page's samples draw the same ones."""
    return truncated_latents(N_CURVE, model.latent_dim, psi, method, torch.Generator().manual_seed(seed))


@torch.no_grad()
def curve_point(model: GAN, data: MnistSplits, psi: float, method: str, seed: int = CURVE_SEED) -> dict[str, Any]:
    """The figures of 1,000 samples at ``psi`` by ``method``: ``KEYS`` from ``sample_quality`` plus ``pixel_spread``."""
    samples = model.generate(latents(model, psi, method, seed).to(model.device)).float().cpu()
    quality = sample_quality(samples, data)
    return {"psi": psi, **{k: quality[k] for k in KEYS if k in quality}, "pixel_spread": pixel_spread(samples)}


def compute_curve(model: GAN, data: MnistSplits) -> dict[str, Any]:
    """Every point of the curve, both methods (``curve_point`` at each of ``PSIS``), and how it was made."""
    start = time.perf_counter()
    curves = {method: [curve_point(model, data, psi, method) for psi in PSIS] for method in METHODS}
    return {
        "checkpoint": CHECKPOINT, "n_samples": N_CURVE, "seed": CURVE_SEED, "dataset": data.name, "features_judge": "judge-resnet",
        "seconds": round(time.perf_counter() - start, 1), "curves": curves,
    }


class TruncationViews:
    """What the truncation page computes (see the module docstring). Stateless: it shows the bundled DCGAN only."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def model(self) -> GAN:
        """The bundled DCGAN (loaded once, read only)."""
        return checkpoints.load(CHECKPOINT, family="gan", device=self.ctx.device).eval()

    @functools.cached_property
    def figures(self) -> dict[str, Any]:
        """The cached curve (``assets/truncation.json``)."""
        return json.loads(FIGURES_PATH.read_text(encoding="utf-8"))

    def point(self, psi: float, method: str) -> dict[str, Any]:
        """The cached curve's point at ``psi`` (one of ``PSIS``) by ``method``."""
        return next(p for p in self.figures["curves"][method] if abs(p["psi"] - psi) < 1e-9)

    def samples(self, psi: Any = PSI.default, method: Any = "resample", seed: Any = 0) -> tuple[np.ndarray, str]:
        """64 samples of the bundled DCGAN with truncated latents, and what they score.

        Args:
            psi: 0.25 to 2 in steps of 0.25; method: ``"resample"`` or ``"shrink"``; seed: in [0, 2^31).

        Returns:
            (an 8 x 8 grid, uint8; markdown: the judges' reading of these 64, their pixel spread,
            and the curve's figures at this psi over the 1,000 samples of seed 0 whose first 64
            these are when the seed is 0).

        Raises:
            ValueError: a bad psi, method or seed.
        """
        psi, method = check_psi(psi), check_choice("truncation method", method, METHODS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        with torch.no_grad():
            shown = self.model.generate(latents(self.model, psi, method, seed)[:N_SHOWN].to(self.model.device)).float().cpu()
        p = self.point(psi, method)
        whose = "these 64 are its first" if seed == CURVE_SEED else f"seed {CURVE_SEED}; these are seed {seed}"
        line = (
            f"**ψ = {psi:g}, {METHOD_NAMES[method]}.** {quality_line(shown)} Pixel spread (std across these samples): {pixel_spread(shown):.3f}.  \n"
            f"The curve at this ψ ({self.figures['n_samples']:,} samples of {whose}): judges agree on **{p['agreed_confident_share']:.1%}** "
            f"({p['n_classes_agreed']} digits), precision **{p['precision']:.3f}**, recall **{p['recall']:.3f}**, pixel spread {p['pixel_spread']:.3f}."
        )
        return plots.image_grid(shown, nrow=8), line

    def curve(self, psi: Any = PSI.default, method: Any = "resample") -> go.Figure:
        """The quality against diversity curve: agreed-confident share, precision and recall
        against psi for both methods (resample solid, shrink dotted), this psi marked.

        Raises:
            ValueError: a bad psi or method.
        """
        psi, method = check_psi(psi), check_choice("truncation method", method, METHODS)
        fig = go.Figure()
        for m, dash in zip(METHODS, ("solid", "dot"), strict=True):
            points = self.figures["curves"][m]
            for (key, name), colour in zip(CURVE_NAMES.items(), plots.DIGIT_COLOURS, strict=False):
                fig.add_trace(go.Scatter(
                    x=[p["psi"] for p in points], y=[p[key] for p in points], mode="lines+markers", name=f"{name}, {m}",
                    line=dict(dash=dash, color=colour), legendgroup=m, opacity=1.0 if m == method else 0.45,
                ))
        fig.add_vline(x=psi, line=dict(color="grey", dash="dash"))
        fig.update_layout(
            height=330, margin=dict(l=50, r=20, t=50, b=40), xaxis_title="ψ (smaller: more truncated)", yaxis_title="share (0 to 1)",
            yaxis_range=[0, 1], legend=dict(font=dict(size=10)), template="plotly_white",
        )
        return fig


def main() -> int:
    """Compute the curve of the bundled DCGAN and write ``assets/truncation.json``."""
    from playground.core.data import load_mnist

    torch.set_num_threads(1)
    model = checkpoints.load(CHECKPOINT, family="gan").eval()
    figures = compute_curve(model, load_mnist(None))
    FIGURES_PATH.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FIGURES_PATH} in {figures['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
