"""The deep Boltzmann machine page of the Boltzmann tab (Salakhutdinov & Hinton 2009, "Deep
Boltzmann Machines", AISTATS): its samples, the mean-field posterior of a test digit
converging to its fixed point, the test NLL (variational bound with log Z by AIS) beside
the RBM's and the DBN's, and a DBM trained live (pre-training, then joint training). No
gradio here: each method checks its settings (``ValueError`` with a readable sentence) and
returns pictures (uint8 arrays), plotly figures or markdown.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_int
from models.dbm import DBM
from playground.core import plots
from playground.core.plots import image_grid
from playground.core.training import TrainConfig, TrainEvent
from playground.views.base import FamilyViews, ModelView, Progress, Session, check_index, final_status, history_entry, stream_training, trained_name
from playground.views.compare import COMPARE_FILE
from playground.views.gibbs import reading

N_SAMPLES = 36
SAMPLE_STEPS = Range(1, 5000, 1000)
MF_SWEEPS = Range(1, 100, 30)
SHOWN_SWEEPS = (0, 1, 2, 3, 5, 10)  # the reconstructions p(v | mu1) shown after these sweeps (0: the bottom-up pass)
AIS_BETAS = Range(100, 20_000, 1_000)
AIS_RUNS = Range(10, 500, 100)
N_TEST = 500
HIDDEN1 = Range(10, 1000, 200)
HIDDEN2 = Range(10, 1000, 100)
PRETRAIN_EPOCHS = Range(0, 50, 10)
JOINT_EPOCHS = Range(1, 100, 20)
LR = Range(1e-4, 0.5, 0.02, integer=False)
BATCH_SIZE = 100
YIELD_EVERY_S = 0.4
CURVES = {"reconstruction_error": "reconstruction error of each phase's input", "neg_bound": "−(E_q[−E] + H(q)), test digits, nats"}


def _compare_rows() -> dict[str, Any]:
    """The lead's compare table rows (``assets/compare.json``), {} when missing or unreadable."""
    try:
        return json.loads(COMPARE_FILE.read_text(encoding="utf-8")).get("rows", {})
    except (OSError, ValueError):
        return {}


def _range_text(low: Any, high: Any) -> str:
    return f"{'−∞' if low is None or not math.isfinite(low) else f'{low:.1f}'} to {high:.1f}"


class DbmView(ModelView):
    """A loaded DBM (read-only, shareable) with its last test-NLL estimate (markdown row)."""

    model: DBM

    def __init__(self, model: DBM, name: str, ctx: Any, data: Any = None, estimate: str = ""):
        super().__init__(model, name, ctx, data)
        self.estimate = estimate

    @functools.cached_property
    def first_samples(self) -> Tensor:
        """``N_SAMPLES`` samples of seed 0 after ``n_gibbs`` sweeps, on the CPU."""
        return self.model.sample(N_SAMPLES, generator=torch.Generator().manual_seed(0)).cpu()

    def describe(self) -> str:
        m = self.model
        return (
            f"**DBM: {self.name}** · 784 → {m.n_hidden1} → {m.n_hidden2} units · pre-training {m.pretrain_steps:,} updates per layer, "
            f"then {m.joint_steps:,} joint updates ({m.mf_iters} mean-field sweeps, {m.n_chains} persistent chains){self.trained_on_note}"
        )


class DbmViews(FamilyViews[Session]):
    """What the DBM page computes (see the module docstring)."""

    families = ("dbm",)
    bundled = {"dbm": "dbm"}
    session_class = Session
    view_classes = {"dbm": DbmView}

    def _view(self, session: Any) -> DbmView:
        return self.session(session).view

    # -- samples ------------------------------------------------------------------------------------
    def samples(self, session: Any, steps: Any = SAMPLE_STEPS.default, seed: Any = 0) -> tuple[np.ndarray, str]:
        """36 samples: ``steps`` Gibbs sweeps (h1 given v and h2, then v and h2 given h1) from
        noise, their last p(v = 1 | h1); a 6 x 6 uint8 grid and the judges' reading."""
        steps = SAMPLE_STEPS.check("Gibbs steps", steps)
        seed = check_int("seed", seed, 0, SEED_MAX)
        view = self._view(session)
        model = view.model
        if steps == model.n_gibbs and seed == 0:
            images = view.first_samples
        else:
            g = torch.Generator().manual_seed(seed)
            _, images, _, _ = model.gibbs_chain(*model.noise(N_SAMPLES, g), steps, generator=g)
            images = images.view(-1, 1, 28, 28).cpu()
        return image_grid(images, nrow=6), f"{steps:,} Gibbs sweeps from noise, seed {seed}. {reading(images, view.data)}"

    # -- mean-field -----------------------------------------------------------------------------------
    @torch.no_grad()
    def mean_field(self, session: Any, index: Any = 0, sweeps: Any = MF_SWEEPS.default) -> tuple[np.ndarray, go.Figure, str]:
        """The mean-field posterior q(h1, h2 | v) of test digit ``index``: the digit and its
        reconstructions p(v | mu1) after the bottom-up pass and after 1, 2, 3, 5 and 10
        sweeps (a uint8 strip); the largest change of any mean per sweep (log scale); and
        markdown with the fixed-point check and the bound E_q[-E] + H(q)."""
        view = self._view(session)
        index = check_index("test digit", index, len(view.data.test_labels))
        sweeps = MF_SWEEPS.check("mean-field sweeps", sweeps)
        model = view.model
        v = view.data.images("test", "binary")[index : index + 1].to(model.device).view(1, -1)
        mu1 = torch.sigmoid(2 * v @ model.weight1 + model.hidden1_bias)
        mu2 = model.h2_probs(mu1)  # the bottom-up start of ``DBM.mean_field``
        strip, changes = [v, model.visible_probs(mu1)], []
        for sweep in range(1, sweeps + 1):
            new1, new2 = model.mean_field_update(v, mu1, mu2)
            changes.append(max(float((new1 - mu1).abs().max()), float((new2 - mu2).abs().max())))
            mu1, mu2 = new1, new2
            if sweep in SHOWN_SWEEPS:
                strip.append(model.visible_probs(mu1))
        again1, again2 = model.mean_field_update(v, mu1, mu2)
        residual = max(float((again1 - mu1).abs().max()), float((again2 - mu2).abs().max()))
        bound = float(model.variational_bound(v, mu1, mu2))
        figure = go.Figure(go.Scatter(x=list(range(1, sweeps + 1)), y=[max(c, 1e-12) for c in changes], mode="lines+markers"))
        figure.add_hline(y=1e-4, line_dash="dot", annotation_text="1e-4")
        figure.update_layout(
            height=260, margin=dict(l=50, r=10, t=30, b=40), title="largest change of a mean, per sweep",
            xaxis_title="sweep", yaxis=dict(type="log", exponentformat="power", title="max |Δμ| (0 drawn at 10⁻¹²)"),
        )
        text = (
            f"Test digit #{index}: after {sweeps} sweeps one more sweep changes the means by at most **{residual:.1e}** "
            f"({'a fixed point' if residual < 1e-4 else 'not yet a fixed point: add sweeps'}). "
            f"E_q[−E] + H(q) = **{bound:.1f}** nats; minus log Z it is a lower bound on log p(v). "
            f"{float((mu1 > 0.5).float().mean()):.0%} of h1 and {float((mu2 > 0.5).float().mean()):.0%} of h2 are more on than off."
        )
        return image_grid(torch.cat(strip).view(-1, 1, 28, 28).cpu(), nrow=len(strip)), figure, text

    # -- the test NLL beside the RBM's and DBN's -----------------------------------------------------
    def nll_table(self, session: Any) -> str:
        """Markdown: the RBM's and DBN's test NLL from the compare table and the DBM's last estimate (if any)."""
        rows = _compare_rows()
        lines = ["| model | test NLL, nats per digit | kind | range from log Z's spread |", "|---|---|---|---|"]
        for key, name in (("rbm", "RBM (bundled)"), ("dbn", "DBN (bundled)")):
            row = rows.get(key, {})
            if isinstance(row.get("nll_nats"), int | float):
                low, high = row.get("nll_range") or (None, row["nll_nats"])
                lines.append(f"| {name} | {row['nll_nats']:.1f} | {row.get('nll_kind', '')} | {_range_text(low, high)} |")
        view = self._view(session)
        lines.append(view.estimate or f"| DBM ({view.name.replace('|', '/')}) | press Estimate | variational bound, log Z by AIS | |")
        return "\n".join(lines) + (
            "\n\nRBM and DBN: the compare table's figures (500 test digits, 14,500 temperatures). The DBM's is a variational lower "
            "bound on log p(v) with log Z by AIS: the bound makes its NLL too high, a too-low log Z too low."
        )

    def estimate(self, session: Any, n_betas: Any = AIS_BETAS.default, n_runs: Any = AIS_RUNS.default, seed: Any = 0, progress: Progress | None = None) -> tuple[Session, str]:
        """Estimate the DBM's test NLL on the 500 test digits: -(mean E_q[-E] + H(q)) + log Z,
        log Z by AIS over h1 with ``n_betas`` temperatures and ``n_runs`` runs (base rates from
        the training digits), seeded. The session's DBM keeps it (a new view). Returns the
        session and ``nll_table``."""
        n_betas = AIS_BETAS.check("AIS temperatures", n_betas)
        n_runs = AIS_RUNS.check("AIS runs", n_runs)
        seed = check_int("seed", seed, 0, SEED_MAX)
        session = self.session(session)
        view = session.view
        model = view.model
        report = (lambda f: progress(f, "annealing")) if progress else None
        train = view.data.images("train", "binary")
        z = model.log_z_report(n_betas, n_runs, train, torch.Generator(device=model.device).manual_seed(seed), report)
        x = view.data.images("test", "binary")[:N_TEST].to(model.device)
        with torch.no_grad():
            mu1, mu2, _ = model.mean_field(x, 100, 1e-5)
            bound = float(model.variational_bound(x, mu1, mu2).mean())
        nll = z["log_z"] - bound
        kind = "exact log Z" if z["exact"] else f"AIS, {z['n_betas']:,} × {z['n_runs']} runs"
        floor = " · **too low** (below the floor the training digits give)" if z["below_floor"] else ""
        row = f"| DBM ({view.name.replace('|', '/')}) | **{nll:.1f}** | bound, {kind}{floor} | {_range_text(z['log_z_low'] - bound, z['log_z_high'] - bound)} |"
        self.use(session, DbmView(model, view.name, self.ctx, view.data, row))
        return session, self.nll_table(session)

    # -- training ----------------------------------------------------------------------------------------
    def train(
        self, session: Any, n_hidden1: Any, n_hidden2: Any, pretrain_epochs: Any, joint_epochs: Any, lr: Any, seed: Any,
        *, stop: threading.Event, data: Any = None,
    ) -> Iterator[tuple]:
        """Train a new DBM on the binarised training digits (the session's chosen images), streaming: each
        pre-training RBM for pretrain_epochs (0 to 50) passes, then joint_epochs (1 to 100) passes of joint
        training; h1 and h2 units in [10, 1000]; lr in [1e-4, 0.5] decaying to 0 in each phase; seed in [0, 2^31).
        Yields (status, curves, samples of the finished DBM or None). The session's DBM becomes the new one when the
        run ends or is stopped with finite weights."""
        n_hidden1, n_hidden2 = HIDDEN1.check("units in h1", n_hidden1), HIDDEN2.check("units in h2", n_hidden2)
        pretrain_epochs, joint_epochs = PRETRAIN_EPOCHS.check("pre-training epochs", pretrain_epochs), JOINT_EPOCHS.check("joint epochs", joint_epochs)
        lr, seed = LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        session = self.session(session)
        data = data or self.ctx.data
        per_epoch = math.ceil(len(data.train_labels) / BATCH_SIZE)
        pre, joint = pretrain_epochs * per_epoch, joint_epochs * per_epoch
        model = seeded_init(DBM, seed, n_hidden1=n_hidden1, n_hidden2=n_hidden2, pretrain_steps=pre, joint_steps=joint, n_gibbs=500).to(self.ctx.device)
        self.trains_on(model, data)
        steps = 2 * pre + joint
        config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=5, sample_every=0, eval_every=max(per_epoch, steps // 20), n_samples=N_SAMPLES, n_eval=N_TEST)
        yield "Starting…", None, None

        def record(event: TrainEvent) -> dict:
            return history_entry(event, {"reconstruction_error": "reconstruction_error"}, {"neg_bound": "neg_bound"})

        for event, history, learnt in stream_training(model, data, config, stop, record, YIELD_EVERY_S):
            samples = None
            if event.final:
                status = final_status(event, learnt, "DBM")
                if learnt:
                    self.use(session, DbmView(model, trained_name(event, steps, seed), self.ctx, data))
                    status += " The page now uses this DBM."
                if event.samples is not None:
                    samples = image_grid(event.samples, nrow=6)
            else:
                phase = int(event.losses.get("phase", 1)) - 1 if pre else 2
                status = f"update {event.step:,} / {steps:,} · {('layer 1 pre-training', 'layer 2 pre-training', 'joint training')[phase]} · {event.step / max(event.elapsed_s, 1e-9):.0f} updates/s"
            yield status, plots.training_curves(history, CURVES), samples

    def thumbnail(self, session: Any) -> np.ndarray:
        """The first samples (6 x 6 uint8 grid)."""
        return image_grid(self._view(session).first_samples, nrow=6)
