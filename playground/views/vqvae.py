"""The VQ-VAE tab's views: samples of the prior beside decodes of uniform codes, the
codebook, a digit's code map edited cell by cell, the prior filling code grids cell by
cell, completion of a code grid, what each level of a VQ-VAE-2 holds, and live training.

van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning",
arXiv:1711.00937; Razavi, van den Oord & Vinyals 2019, "Generating Diverse High-Fidelity
Images with VQ-VAE-2", arXiv:1906.00446.

Every method takes the session (``VqSession``, or None for a new one on the bundled
models), ``which`` (``"vqvae"`` or ``"vqvae2"``: the slot a panel uses) and the panel's
own settings, checks each setting (``ValueError`` with a readable message) and returns
pictures (uint8 arrays), plotly figures, JSON text or markdown. The pictures are drawn by
``playground.views.vqvae_pictures``. No gradio here.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_bool, check_choice, check_int
from models.layers import CODE_DIM_RANGE, N_CODES_RANGE
from models.vqvae import VQVAE, VQVAE2
from playground.core import plots
from playground.core.data import MnistSplits
from playground.core.drawing import digit_from_drawing
from playground.core.metrics import classify
from playground.core.plots import image_grid
from playground.core.training import TrainConfig, TrainEvent
from playground.views.base import Card, FamilyViews, Session, Step, check_index, final_status, history_entry, quality_line, stream_training, trained_name
from playground.views.vq_model import LABEL_CHOICES, N_SAMPLES, NAMES, VqView, codes_from_json, codes_to_json, live_usage, prior_labels, reconstructions, seeded_generator
from playground.views.vqvae_pictures import CELL_PX, cell_at, code_at, code_map, completion_strip, filling_grids, usage_figure

MODELS = ("vqvae", "vqvae2")
# The Train panel's settings (inside the model's own limits, see the assert below).
K = Range(16, 512, 16)  # 16, as the bundled models: on 4,500 digits a prior models 16 codes far better than 64 (prior NLL of the training codes after 1,000 updates: 87 vs 152 nats)
CODE_DIM = Range(2, 64, 16)
BETA = Range(0.0, 2.0, 0.25, integer=False)
AE_STEPS = Range(50, 5000, 600)
PRIOR_STEPS = Range(0, 5000, 400)
LR = Range(1e-4, 1e-2, 2e-3, integer=False)
TRAIN_HIDDEN = 64
TRAIN_PRIOR = {"prior_channels": 32, "prior_layers": 5}  # a small prior: about 50 ms a step on 2 cores
RESTART_EVERY = 100
BATCH_SIZE = 64
N_RECON = 8
N_USAGE_LIVE = 500  # test digits behind the live usage histogram
YIELD_EVERY_S = 0.5
PICTURES_EVERY_S = 2.0  # reconstructions and the usage histogram, while training
# The panels' settings.
ROWS_KEPT = Range(1, 6, 3)
TEMPERATURE = Range(0.1, 2.0, 1.0, integer=False)
N_DRAWN = 16  # grids the Prior sampling panel fills
N_COMPLETIONS = 8
FRAME_S = 0.06  # at least this long between frames of the prior filling its grids, so that the eye can follow
DEFAULT_INDEX = 2  # test digit #2, a 2: the bundled vqvae reconstructs it as a 2 (p = 1.00) and completes it from 3 rows 8 times out of 8 as a 2
# "New samples" (32 prior samples + 32 uniform decodes + two classifier readings) with the bundled vqvae: 1.8 s on one
# thread of the shared 2-core development machine while a training run used the other core.
TRY_FIRST_S = 1.8

assert N_CODES_RANGE[0] <= K.low and K.high <= N_CODES_RANGE[1] and CODE_DIM_RANGE[0] <= CODE_DIM.low and CODE_DIM.high <= CODE_DIM_RANGE[1]

CARD = Card(
    title="VQ-VAE",
    kind="explicit density · approximate (a bound: discrete autoencoder + autoregressive prior)",
    teaches="A digit becomes a 7 × 7 grid of ids from a learnt codebook; a PixelCNN over those 49 cells, not 784 pixels, dreams new grids.",
    try_first="Compare prior and random codes",
    tab="vq-samples",
    seconds=TRY_FIRST_S,
)
# Each step runs in a few seconds on 2 CPU cores (values: the VqTab's controls, checked by these views).
TOUR = (
    Step(
        "Compare prior and random codes", "Left: code grids drawn by the PixelCNN prior, then decoded. Right: the same decoder given uniformly random codes, "
        "which is what training the autoencoder alone assumes.", "vq-samples", {"s_seed": 1, "s_label": "any", "s_which": "vqvae"}, "#vq-samples-run",
    ),
    Step(
        "Read a digit as 49 codes", "Each cell is the id of the code nearest to the encoder's output for a 4 × 4 patch. Click a cell, pick "
        "another code in the codebook and Apply: the decode changes around that patch.", "vq-codemap", {"m_index": DEFAULT_INDEX, "m_which": "vqvae"}, "#vq-encode",
    ),
    Step(
        "Watch the prior write codes", "The prior fills 16 grids of codes one cell at a time, each cell a choice among K codes given the cells "
        "before it and the label; then the grids are decoded.", "vq-prior", {"p_seed": 0, "p_label": "7", "p_which": "vqvae", "p_temp": 1.0}, "#vq-prior-run",
    ),
    Step(
        "Complete a grid of codes", "The top 3 rows of codes are kept and the prior redraws the other 28 cells, 8 times: the orange line "
        "marks where the kept rows end.", "vq-completion", {"c_index": DEFAULT_INDEX, "c_rows": 3, "c_seed": 0, "c_which": "vqvae"}, "#vq-complete-run",
    ),
    Step(
        "Swap the top codes", "VQ-VAE-2 keeps a 4 × 4 top grid and a 7 × 7 bottom grid. Row 1 keeps the top grid and redraws the bottom; row 2 keeps "
        "the bottom and borrows another digit's top.", "vq-levels", {"l_index": DEFAULT_INDEX, "l_seed": 0}, "#vq-levels-run",
    ),
)
__all__ = [
    "AE_STEPS", "BETA", "CARD", "CELL_PX", "CODE_DIM", "DEFAULT_INDEX", "LABEL_CHOICES", "LR", "MODELS", "N_SAMPLES", "PRIOR_STEPS", "ROWS_KEPT",
    "TEMPERATURE", "TOUR", "K", "VqSession", "VqView", "VqViews", "cell_at", "code_at",
]


class VqSession(Session):
    """One browser session's models: slot ``"vqvae"`` (one 7 × 7 grid) and slot
    ``"vqvae2"`` (a 4 × 4 top grid and a 7 × 7 bottom grid)."""


class VqViews(FamilyViews[VqSession]):
    """What the VQ-VAE tab's panels compute (see the module docstring)."""

    families = MODELS
    bundled = {"vqvae": "vqvae", "vqvae2": "vqvae2"}
    session_class = VqSession
    view_classes = {"vqvae": VqView, "vqvae2": VqView}
    cell_at = staticmethod(cell_at)
    code_at = staticmethod(code_at)

    def view(self, session: Any, which: Any) -> VqView:
        """The session's model in slot ``which`` ("vqvae" or "vqvae2"). Raises ValueError: another slot."""
        return self.session(session).views[check_choice("model", which, MODELS)]

    # -- samples and the codebook -------------------------------------------------------------------
    def samples(self, session: Any, seed: Any = 0, label: Any = "any", which: Any = "vqvae") -> tuple[np.ndarray, np.ndarray, str]:
        """``N_SAMPLES`` (32) code grids drawn from the prior with ``seed`` in [0, 2^31) and
        decoded, beside the decodes of as many uniformly random code grids: why a prior is
        needed. ``label``: "any" (a conditional prior gets labels 0..9 in turn) or "0".."9".

        Returns:
            (prior samples, uniform-code decodes: 4 x 8 uint8 grids each, markdown with the
            classifier's reading of both (``quality_line``)).

        Raises:
            ValueError: a bad seed, label or model.
        """
        view = self.view(session, which)
        seed = check_int("seed", seed, 0, SEED_MAX)
        prior_labels(view.model, label, 1)
        return view.first_samples if seed == 0 and str(label) == "any" else view.draw_samples(seed, label)

    def thumbnail(self, session: Any) -> np.ndarray:
        """The home tab's picture: the VQ-VAE's prior samples of seed 0 (uint8 grid)."""
        return self.samples(session)[0]

    def codebook(self, session: Any, which: Any = "vqvae", level: Any = -1) -> tuple[np.ndarray, go.Figure, str]:
        """Every code decoded alone and its use over the whole test split.

        Args:
            level: of a VQ-VAE-2: 0 (top), 1 or -1 (bottom); of a VQ-VAE: 0 or -1.

        Returns:
            (mosaic (rows * 62, columns * 62, 3) uint8, K tiles in rows of 16 in code order,
            each framed in its code's colour with its id, see ``code_at``; plotly histogram
            of the cells using each code; markdown: perplexity, codes used, dead codes).

        Raises:
            ValueError: a bad model or level.
        """
        view = self.view(session, which)
        n = len(view.model.grids)
        level = check_int("level", level, -n, n - 1) % n
        name = view.model.level_names[level]
        title = f"code usage over the test split{f' ({name} level)' if name else ''}"
        return view.mosaics[level], usage_figure(view.usage[level].tolist(), title), view.level_text(level)

    # -- the code map ----------------------------------------------------------------------------------
    def encode(self, session: Any, index: Any = DEFAULT_INDEX, drawing: Any = None, which: Any = "vqvae") -> tuple[str, np.ndarray, np.ndarray, np.ndarray, str]:
        """Encode test digit ``index`` or, when ``drawing`` is not None, a drawing (a
        ``gr.Sketchpad`` value or an image, see ``digit_from_drawing``).

        Returns:
            (codes_json: the code grids as JSON, a list per level (top first) of rows of
            ids; the digit (binary) and its reconstruction, 32 x 32 uint8 each; the bottom
            level's code map (7 * CELL_PX square, RGB uint8; ``cell_at`` maps a click to a
            cell); markdown).

        Raises:
            ValueError: a bad model or index, no drawing and no index ("draw a digit
                first"), or a blank or unusable drawing.
        """
        view = self.view(session, which)
        m = view.model
        if drawing is None and index is None:
            raise ValueError("draw a digit first (dark strokes on the pad), or pick a test digit")
        if drawing is not None:
            x, how = digit_from_drawing(drawing)
            what = f"your drawing ({how})"
        else:
            i = check_index("test digit", index, len(view.test_images()))
            x, what = view.test_images()[i : i + 1], f"test digit #{i} (a {int(self.ctx.data.test_labels[i])})"
        codes = m.codes(x.to(m.device))
        decoded = m.decode_codes(codes).cpu()
        read = classify(decoded)[0][0]
        top = " and a 4 × 4 top grid (the digit's overall shape; not shown)" if len(codes) == 2 else ""
        note = (
            f"{what}: its 7 × 7 grid of code ids{top} — 49 numbers, each standing for a 4 × 4 patch of pixels. "
            f"The classifier reads the reconstruction as a **{int(read.argmax())}** (p = {float(read.max()):.2f}). "
            "Click a cell of the map, then a code in the codebook, and Apply."
        )
        return codes_to_json(codes), image_grid(x, 1), image_grid(decoded, 1), code_map(codes[-1][0].cpu(), m.n_codes), note

    def edit(self, session: Any, codes_json: Any, row: Any, col: Any, code: Any, which: Any = "vqvae") -> tuple[str, np.ndarray, np.ndarray, str]:
        """Set the cell (row, col) of the bottom grid of ``codes_json`` (as ``encode``
        gives) to ``code`` and decode.

        Args:
            row, col: in [0, 6]; code: an id in [0, K - 1].

        Returns:
            (the new codes_json, the decode (32 x 32 uint8), the code map with the edited
            cell outlined in red, markdown "cell (r, c): a → b").

        Raises:
            ValueError: a bad model, row, column or code id, or a code map that is not JSON
                of the model's grid shapes and ids.
        """
        m = self.view(session, which).model
        codes = codes_from_json(m, codes_json)
        h, w = m.grids[-1]
        r, c = check_int("row", row, 0, h - 1), check_int("column", col, 0, w - 1)
        new = check_int("code", code, 0, m.n_codes - 1)
        old = int(codes[-1][0, r, c])
        codes[-1][0, r, c] = new
        decoded = m.decode_codes(codes).cpu()
        read = classify(decoded)[0][0]
        note = (
            f"cell ({r}, {c}): {old} → {new}" + (" (unchanged)" if old == new else "")
            + f" · pixels {4 * r}–{4 * r + 3} down, {4 * c}–{4 * c + 3} across · the classifier now reads a **{int(read.argmax())}** (p = {float(read.max()):.2f})"
        )
        return codes_to_json(codes), image_grid(decoded, 1), code_map(codes[-1][0].cpu(), m.n_codes, outline=(r, c)), note

    # -- the prior at work ------------------------------------------------------------------------------
    def draw_prior(self, session: Any, seed: Any = 0, label: Any = "any", which: Any = "vqvae", temperature: Any = 1.0) -> Iterator[tuple[np.ndarray, np.ndarray, str]]:
        """Fill ``N_DRAWN`` (16) code grids cell by cell from the prior (a VQ-VAE-2: the top
        grid first, then the bottom one given it), then decode them.

        Args:
            seed: in [0, 2^31); label: "any" or "0".."9" (as ``samples``); temperature: of
            each cell's categorical, in [0.1, 2].

        Yields:
            (the grids so far, undrawn cells grey (RGB uint8); the decodes: blank until the
            last frame, then a 4 x 4 grid; markdown counting cells and seconds), a frame per
            cell, at least ``FRAME_S`` apart.

        Raises:
            ValueError: a bad model, seed, label or temperature (before the first frame).
        """
        m = self.view(session, which).model
        generator = seeded_generator(seed)
        t = TEMPERATURE.check("temperature", temperature)
        y, how = prior_labels(m, label, N_DRAWN)
        codes = [torch.zeros(N_DRAWN, *grid, dtype=torch.int64, device=m.device) for grid in m.grids]
        drawn = [0] * len(codes)
        n_cells = sum(h * w for h, w in m.grids)
        blank = np.zeros_like(image_grid(torch.zeros(N_DRAWN, 1, 28, 28), nrow=4))
        compute_s, last = 0.0, time.perf_counter()
        for level, step in m.draw_codes(codes, drawn, y, generator, t):
            compute_s += time.perf_counter() - last
            drawn[level] = step
            done = sum(drawn)
            time.sleep(max(0.0, FRAME_S - (time.perf_counter() - last)))
            yield filling_grids([c.cpu().numpy() for c in codes], drawn, m.n_codes), blank, f"cell {done} of {n_cells} ({how}, temperature {t:g})…"
            last = time.perf_counter()
        decoded = m.decode_codes(codes).cpu()
        note = (
            f"{N_DRAWN} grids of {n_cells} cells, one cell at a time for all grids at once: {n_cells} passes of the prior, "
            f"{compute_s:.2f} s of computing (the frames are slowed to be watched). A PixelCNN on pixels needs 784 passes. "
            f"{quality_line(decoded)}"
        )
        yield filling_grids([c.cpu().numpy() for c in codes], drawn, m.n_codes), image_grid(decoded, nrow=4), note

    def complete(self, session: Any, index: Any = DEFAULT_INDEX, rows_kept: Any = ROWS_KEPT.default, seed: Any = 0, which: Any = "vqvae") -> tuple[np.ndarray, str]:
        """Keep the top ``rows_kept`` rows of test digit ``index``'s 7 × 7 code grid and let
        the prior (given the digit's true label, for a conditional prior) draw the rest,
        ``N_COMPLETIONS`` (8) times. A VQ-VAE-2 keeps the top-grid rows inside the kept
        pixels, draws the rest of its top grid, then the bottom grid's rest given it.

        Returns:
            (original | reconstruction | 8 completions, twice their size, RGB uint8: an
            orange line where the kept rows end, the resampled part tinted blue; markdown
            with the classifier's reading).

        Raises:
            ValueError: a bad model, index, row count (in [1, 6]) or seed.
        """
        view = self.view(session, which)
        m = view.model
        i = check_index("test digit", index, len(view.test_images()))
        rows = ROWS_KEPT.check("rows kept", rows_kept)
        generator = seeded_generator(seed)
        truth = int(self.ctx.data.test_labels[i])
        x = view.test_images()[i : i + 1].to(m.device)
        codes = m.codes(x)
        kept_px = 4 * rows
        kept_rows = [kept_px * h // 28 for h, _ in m.grids[:-1]] + [rows]  # a top grid keeps the rows that lie inside the kept pixels
        known = [r * w for r, (_, w) in zip(kept_rows, m.grids)]
        filled = [c.repeat(N_COMPLETIONS, 1, 1) for c in codes]
        y = torch.full((N_COMPLETIONS,), truth, dtype=torch.int64, device=m.device) if m.conditional else None
        for _ in m.draw_codes(filled, known, y, generator):
            pass
        out = m.decode_codes(filled).cpu()
        read = classify(out)[0].argmax(1)
        picture = completion_strip(torch.cat([x.cpu(), m.decode_codes(codes).cpu(), out]), kept_px)
        note = (
            f"Test digit #{i} (a {truth}): the top {rows} of 7 rows of codes kept ({known[-1]} of 49 cells, pixels 0–{kept_px - 1}), "
            f"the other {49 - known[-1]} cells drawn by the prior{' given the label' if m.conditional else ''}, {N_COMPLETIONS} times"
            + (f" (top grid: {kept_rows[0]} of 4 rows kept)" if len(m.grids) == 2 else "")
            + f". The classifier reads **{int((read == truth).sum())} of {N_COMPLETIONS}** as a {truth}."
        )
        return picture, note

    def two_levels(self, session: Any, index: Any = DEFAULT_INDEX, seed: Any = 0) -> tuple[np.ndarray, str]:
        """What each level of the session's VQ-VAE-2 holds, for test digit ``index``.

        Returns:
            (a 3 x 10 uint8 grid: row 1 the digit, its reconstruction and 8 decodes with its
            top grid kept and the bottom grid drawn by the bottom prior given it; row 2 the
            digit, its reconstruction and 8 decodes with its bottom grid kept and the top grid
            of another test digit; row 3, under them, those other digits; markdown with the
            classifier's reading).

        Raises:
            ValueError: a bad index or seed.
        """
        view = self.view(session, "vqvae2")
        m = view.model
        images = view.test_images()
        i = check_index("test digit", index, len(images))
        generator = seeded_generator(seed)
        truth = int(self.ctx.data.test_labels[i])
        x = images[i : i + 1].to(m.device)
        top, bottom = m.codes(x)
        others = torch.randperm(len(images) - 1, generator=generator)[:N_COMPLETIONS]
        others = others + (others >= i).long()  # skip the digit itself
        donors = images[others].to(m.device)
        fixed_top = [top.repeat(N_COMPLETIONS, 1, 1), bottom.repeat(N_COMPLETIONS, 1, 1)]
        y = torch.full((N_COMPLETIONS,), truth, dtype=torch.int64, device=m.device) if m.conditional else None
        for _ in m.draw_codes(fixed_top, [16, 0], y, generator):
            pass
        row_a = m.decode_codes(fixed_top).cpu()
        row_b = m.decode_codes([m.codes(donors)[0], bottom.repeat(N_COMPLETIONS, 1, 1)]).cpu()
        pair = torch.cat([x.cpu(), m.decode_codes([top, bottom]).cpu()])
        grid = image_grid(torch.cat([pair, row_a, pair, row_b, torch.zeros(2, 1, 28, 28), donors.cpu()]), nrow=2 + N_COMPLETIONS)
        read_a, read_b = classify(row_a)[0].argmax(1), classify(row_b)[0].argmax(1)
        donor_labels = self.ctx.data.test_labels[others]
        note = (
            f"Test digit #{i} (a {truth}). **Row 1**, top grid kept, bottom grid redrawn by the bottom prior: the classifier reads "
            f"**{int((read_a == truth).sum())} of {N_COMPLETIONS}** as a {truth}. **Row 2**, bottom grid kept, top grid taken from the "
            f"digits in row 3: **{int((read_b == truth).sum())} of {N_COMPLETIONS}** still read as a {truth}, "
            f"{int((read_b == donor_labels).sum())} as the other digit. Which level decides the digit, and which the stroke?"
        )
        return grid, note

    # -- training ----------------------------------------------------------------------------------------
    def train(
        self, session: Any, which: Any, n_codes: Any, code_dim: Any, beta: Any, ema: Any, restart: Any, ae_steps: Any, prior_steps: Any,
        lr: Any, seed: Any, *, stop: threading.Event, data: MnistSplits | None = None,
    ) -> Iterator[tuple]:
        """Train a new VQ-VAE (which "vqvae") or VQ-VAE-2 ("vqvae2") from scratch on the
        binary training images (the session's chosen images; default the digits; Adam, batches of 64, hidden 64): first ae_steps updates
        of the autoencoder, then prior_steps of its class-conditional prior (32 channels,
        5 layers) on the frozen autoencoder's codes, streaming.

        Args:
            n_codes: K in [16, 512]; code_dim: D in [2, 64]; beta: the commitment weight in
            [0, 2]; ema: true for EMA codebook updates (decay 0.99), false for the codebook
            loss; restart: true to re-seed codes unused over each 100 updates; ae_steps: in
            [50, 5000]; prior_steps: in [0, 5000]; lr: in [1e-4, 1e-2]; seed: in [0, 2^31).
            stop: set to end the run (the weights reached are kept).

        Yields:
            (status markdown, test digits over their reconstructions (uint8), plotly curves
            (reconstruction, commitment, perplexity, codes used, then the prior's NLL, nats),
            plotly histogram of code usage on 500 test digits, the finished model's prior
            samples (a 4 x 8 uint8 grid, last event only)); None for what is unchanged (the
            reconstructions and the histogram are redrawn every 2 s and at the end). When
            the run ends (or is stopped) with finite weights, the session's slot which
            gets the new model, named with the steps done.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        which = check_choice("model", which, MODELS)
        settings = {
            "n_codes": K.check("codebook size K", n_codes), "code_dim": CODE_DIM.check("code size", code_dim), "beta": BETA.check("β", beta),
            "ema": check_bool("EMA", ema), "restart_every": RESTART_EVERY if check_bool("dead-code restart", restart) else 0,
        }
        ae, prior = AE_STEPS.check("autoencoder steps", ae_steps), PRIOR_STEPS.check("prior steps", prior_steps)
        lr, seed = LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        session = self.session(session)
        cls = VQVAE if which == "vqvae" else VQVAE2
        model = seeded_init(cls, seed, **settings, hidden=TRAIN_HIDDEN, ae_steps=ae, n_classes=10, **TRAIN_PRIOR).to(self.ctx.device)
        steps = ae + prior
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=10, sample_every=0, eval_every=max(100, steps // 6),
            n_samples=N_SAMPLES, n_eval=N_USAGE_LIVE,
        )
        suffix = "_bottom" if which == "vqvae2" else ""
        curves = {
            "reconstruction": "reconstruction −log p(x|z_q), nats", "commitment": "commitment β‖z_e − sg[e]‖²",
            "perplexity": f"perplexity{' (bottom)' if suffix else ''}", "codes_used": f"codes used{' (bottom)' if suffix else ''}",
            "prior_nll": "prior NLL −log p(z), nats",
        }
        keys = {**{k: k for k in curves}, "perplexity": f"perplexity{suffix}", "codes_used": f"codes_used{suffix}"}
        yield "Starting…", None, None, None, None
        record = functools.partial(history_entry, train=keys)
        last_drawn, data = -float("inf"), self.trains_on(model, data)
        for event, history, learnt in stream_training(model, data, config, stop, record, YIELD_EVERY_S):
            redraw = event.final or time.perf_counter() - last_drawn >= PICTURES_EVERY_S  # encoding 500 digits costs ~0.1 s
            last_drawn = time.perf_counter() if redraw else last_drawn
            test = data.images("test", "binary")
            figures = (reconstructions(model, test[:N_RECON]) if redraw else None, plots.training_curves(history, curves), live_usage(model, test[:N_USAGE_LIVE]) if redraw else None)
            if not event.final:
                yield self._progress(event, ae, steps), *figures, None
                continue
            status, samples = final_status(event, learnt), None
            if learnt:
                name = trained_name(event, steps, seed, what=f"= {min(event.step, ae):,} autoencoder + {max(0, event.step - ae):,} prior")
                self.use(session, VqView(model, name, self.ctx, data))
                if event.samples is not None:  # the trainer draws none after a Stop
                    samples = image_grid(event.samples)
                    status += f" Samples of its prior (labels 0–9 in turn) are shown below. {quality_line(event.samples, data)}"
                if event.step <= ae:
                    status += " Its prior is untrained (no prior steps were run): its samples are decodes of near-random codes."
                status += f" Every {NAMES[which]} panel of the tab now uses this model."
            yield status, *figures, samples

    @staticmethod
    def _progress(event: TrainEvent, ae: int, steps: int) -> str:
        """The status line of a running event."""
        rate = event.step / max(event.elapsed_s, 1e-9)
        losses = event.losses
        if event.step <= ae:
            used = losses.get("codes_used", losses.get("codes_used_bottom", float("nan")))
            return (
                f"autoencoder: step {event.step:,} / {ae:,} · {rate:.0f} steps/s · reconstruction {losses.get('reconstruction', float('nan')):.1f} "
                f"nats · codes used in a batch {used:.0f}"
            )
        return f"prior: step {event.step - ae:,} / {steps - ae:,} · {rate:.0f} steps/s · prior NLL {losses.get('prior_nll', float('nan')):.1f} nats"
