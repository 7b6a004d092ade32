"""The Boltzmann machines' energy view: free energies of a digit and of altered copies,
and the test NLL of an RBM from its partition function, exact for a few hidden units or
estimated by annealed importance sampling (Neal 2001, "Annealed Importance Sampling",
arXiv:physics/9803008; for RBMs Salakhutdinov & Murray 2008, "On the Quantitative Analysis
of Deep Belief Networks", ICML). No gradio here.

The RBM makes the choice and does the maths (``RBM.log_z_report``); these views add the
mean free energy of the test digits, keep the estimate with the session's RBM and format.
``EnergyViews`` is mixed into ``playground.views.boltzmann.BoltzmannViews``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.checks import N_PIXELS, SEED_MAX, Range, check_int
from models.partition import MAX_AIS_BETAS, MAX_AIS_RUNS, MIN_AIS_BETAS, MIN_AIS_RUNS
from playground.core import plots
from playground.core.plots import image_grid
from playground.views.base import Context, Progress, check_index

# The panel's settings: the shift, and the effort an estimate may take from the page.
SHIFT = Range(1, 10, 3)
AIS_BETAS = Range(100, 20_000, 2_000)
AIS_RUNS = Range(10, 500, 100)
ENERGY_IMAGES = ("the digit", "shifted right", "shifted down", "pixels shuffled", "noise (same ink)", "blank")
ENERGY_CHART_PX = 320  # the chart under the tour's text still ends inside a 1280 x 720 screen
AIS_HINT = "Estimates take a few seconds per 1,000 temperatures with 100 runs on 2 CPU cores."

# The page's AIS effort stays inside the model's hard limits.
assert MIN_AIS_BETAS <= AIS_BETAS.low and AIS_BETAS.high <= MAX_AIS_BETAS
assert MIN_AIS_RUNS <= AIS_RUNS.low and AIS_RUNS.high <= MAX_AIS_RUNS


@dataclass(frozen=True)
class NllEstimate:
    """An RBM's log Z (``RBM.log_z_report``) with the mean free energy of the test digits:
    the test NLL is mean F(test) + log Z, nats per digit."""

    log_z: dict[str, Any]
    mean_free_energy: float
    n_hidden: int

    def nll(self, key: str = "log_z") -> float:
        """The test NLL from ``log_z[key]`` ("log_z", "log_z_low", "log_z_high" or "log_z_floor")."""
        return self.mean_free_energy + self.log_z[key]

    def kind(self) -> str:
        """How log Z was found, with the NLL's range when estimated."""
        z = self.log_z
        if z["exact"]:
            return "exact log Z"
        text = f"AIS, {z['n_betas']:,} temperatures × {z['n_runs']} runs; test NLL range {_num(self.nll('log_z_low'))} to {_num(self.nll('log_z_high'))}"
        return text + ("; **too low**: log Z is surely above the estimate" if z["below_floor"] else "")


def _num(value: float) -> str:
    return "−∞" if value == -math.inf else f"{value:.1f}"


class EnergyViews:
    """The energy panel and the NLL estimate (mixed into ``BoltzmannViews``, whose
    ``ctx``, ``session`` and ``use`` they use; the session's ``rbm`` view)."""

    ctx: Context
    session: Callable[[Any], Any]
    use: Callable[[Any, Any], None]

    def _energy_images(self, index: Any, shift: Any, seed: Any) -> Tensor:
        """A test digit, it shifted right and down, its pixels shuffled, noise with its ink
        and a blank image: (6, 1, 28, 28) binary."""
        index = check_index("test digit", index, len(self.ctx.data.test_labels))
        shift = SHIFT.check("shift (pixels)", shift)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))
        x = self.ctx.data.images("test", "binary")[index].view(28, 28)
        shuffled = x.flatten()[torch.randperm(N_PIXELS, generator=g)].view(28, 28)
        noise = (torch.rand(28, 28, generator=g) < x.mean()).float()
        return torch.stack([x, torch.roll(x, shift, 1), torch.roll(x, shift, 0), shuffled, noise, torch.zeros(28, 28)])[:, None]

    def energy(self, session: Any, index: Any = 0, shift: Any = SHIFT.default, seed: Any = 0) -> tuple[np.ndarray, go.Figure, str]:
        """Free energies of test digit ``index``, it shifted right and down by ``shift`` in
        [1, 10] pixels, its pixels shuffled, noise with the same ink and a blank image
        (shuffle and noise drawn with ``seed``); with an NLL estimate of the RBM, their
        log p(v) = -F(v) - log Z in nats.

        Returns:
            (the six images, a plotly bar chart of F (nats), markdown table and comment).

        Raises:
            ValueError: a bad index, shift or seed.
        """
        view = self.session(session).rbm
        images = self._energy_images(index, shift, seed)
        with torch.no_grad():
            free = view.model.free_energy(images.to(view.model.device)).cpu().double().tolist()
        fig = plots.bar_chart(ENERGY_IMAGES, free, "free energy F(v) of each image: lower is more probable", "F(v), nats")
        fig.update_layout(height=ENERGY_CHART_PX)
        est = view.estimate
        lines = ["| image | F(v), nats | log p(v), nats |", "|---|---|---|"] if est else ["| image | F(v), nats |", "|---|---|"]
        for name, f in zip(ENERGY_IMAGES, free):
            lines.append(f"| {name} | {f:.1f} | {-f - est.log_z['log_z']:.1f} |" if est else f"| {name} | {f:.1f} |")
        delta = min(free[1:5]) - free[0]  # log p(digit) - log p(the likeliest altered image)
        ratio = (
            f"The digit is exp({delta:.0f}) times more probable than the likeliest of the shifted, shuffled and noise images: "
            "p(v)/p(v') = exp(F(v') − F(v)), no Z needed."
            if delta > 0 else
            f"This RBM rates an altered image exp({-delta:.0f}) times more probable than the digit itself."
        )
        tail = (
            f"{ratio} log p(v) = −F(v) − log Z with log Z = {est.log_z['log_z']:.1f} ({est.kind()})."
            if est else f"{ratio} Press **Estimate log Z** below for log p(v) itself."
        )
        return image_grid(images, nrow=6), fig, "\n".join(lines) + "\n\n" + tail

    def estimate(
        self, session: Any, n_betas: Any = AIS_BETAS.default, n_runs: Any = AIS_RUNS.default, seed: Any = 0, progress: Progress | None = None,
    ) -> tuple[str, go.Figure]:
        """The test NLL of the session's RBM, mean F(test) + log Z in nats, with log Z from
        the model (``RBM.log_z_report``: exact for few hidden units, else AIS with
        ``n_betas`` temperatures in [100, 20,000] and ``n_runs`` runs in [10, 500], seeded
        with ``seed``; ``progress`` hears how far AIS is). The session's RBM keeps the
        estimate (its description and the energy panel show it).

        Returns:
            (markdown result, plotly histogram of the runs' log importance weights (empty
            when exact)).

        Raises:
            ValueError: a setting out of range.
        """
        n_betas = AIS_BETAS.check("AIS temperatures", n_betas)
        n_runs = AIS_RUNS.check("AIS runs", n_runs)
        seed = check_int("seed", seed, 0, SEED_MAX)
        session = self.session(session)
        view = session.rbm
        model = view.model
        label = f"AIS: {n_runs} runs × {n_betas:,} temperatures"
        report = model.log_z_report(
            n_betas, n_runs, base_data=self.ctx.data.images("train", "binary"),
            generator=torch.Generator(device=model.device).manual_seed(seed), progress=(lambda done: progress(done, label)) if progress else None,
        )
        est = NllEstimate(report, view.test_free_energy, model.n_hidden)
        if session.rbm is view:  # unless another RBM was loaded meanwhile
            self.use(session, view.with_estimate(est))
        return _estimate_text(est), _weights_figure(est)

    def estimate_shown(self, session: Any) -> tuple[str, go.Figure]:
        """The AIS panel for the session's RBM: its last estimate (as ``estimate`` gave it)
        or a hint and an empty figure."""
        est = self.session(session).rbm.estimate
        return (_estimate_text(est), _weights_figure(est)) if est else (AIS_HINT, _weights_figure(None))


def _estimate_text(est: NllEstimate) -> str:
    """Markdown: log Z, the test NLL, their range and the floor check."""
    z, mean_f = est.log_z, est.mean_free_energy
    if z["exact"]:
        return f"**Exact** log Z = {z['log_z']:.2f} nats (enumerating 2^{est.n_hidden} hidden states). Test NLL **{est.nll():.2f}** nats per digit."
    text = (
        f"AIS: log Z ≈ **{z['log_z']:.2f}** nats (±3 standard errors of the mean weight: {_num(z['log_z_low'])} to "
        f"{z['log_z_high']:.2f}), from log Z of the base-rate model {z['log_z_base']:.1f}. Test NLL ≈ **{est.nll():.2f}** "
        f"nats per digit (mean F(test) {mean_f:.2f} + log Z; range {_num(est.nll('log_z_low'))} to {est.nll('log_z_high'):.2f}). "
        "A few runs with large weights dominate when the spread is wide: add temperatures or runs."
    )
    floor = z["log_z_floor"]
    if z["below_floor"]:
        return text + (
            f"\n\n**The estimate is too low.** The training digits and the blank and all-ink images alone give log Z ≥ {floor:.2f} "
            f"(Z is at least the sum of their e^−F), so the test NLL is at least {mean_f + floor:.2f}. The AIS runs "
            "missed a mode of the model, one far from the data: a classic failure of AIS on RBMs."
        )
    return text + f" Sanity check passed: the estimate is above log Z ≥ {floor:.2f}, which the training digits and the blank and all-ink images alone give."


def _weights_figure(est: NllEstimate | None) -> go.Figure:
    """A histogram of the AIS runs' log weights (relative to the largest); an empty figure
    without AIS runs."""
    if est is None or est.log_z["log_weights"] is None:
        title = "exact log Z: no AIS runs" if est else "no estimate yet"
        return go.Figure(layout=dict(title=title, template="plotly_white", height=260))
    weights = est.log_z["log_weights"].numpy()
    return plots.histogram(weights - weights.max(), "AIS runs: log importance weight (relative to the largest)", "log w − max log w (nats)", "runs")
