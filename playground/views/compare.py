"""Every family side by side, the lectures' central table: test NLL with its kind, sample
quality by three independent judges, precision and recall, size, training time and speed,
the published figures beside them, samples of each family (same number, same seed) and a
plot of likelihood against looks (they are not the same thing: Theis, van den Oord &
Bethge 2016, "A note on the evaluation of generative models", arXiv:1511.01844). No
gradio here.

The rows (``compare_rows``) take minutes each to compute, so ``python -m playground compare
--write`` keeps them in ``assets/compare.json``: per row, its figures, the first 16 of its
samples and the key they are valid for (``compare_rows.row_key``: the weights' SHA-256,
the test digits' fingerprint, the judges' files and the measuring settings).
``CompareViews`` reads that file when it is made (milliseconds) and computes the rows whose
key does not match, one after the other, in one background thread (``start``); until a row
lands its cells say "computing…", and nothing waits for it.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from models.checks import check_int
from playground.core.data import ASSETS_DIR, load_mnist
from playground.core.metrics import FEATURE_JUDGE, JUDGES
from playground.core.plots import enlarge, image_grid
from playground.views.base import Context
from playground.views.compare_rows import N_KEPT, N_SAMPLES, N_TIMED, ROWS, SEED, Log, RowSpec, compute_row, judges_sha256, row_key, unpack_samples
from playground.views.compare_tasks import TASKS, TaskTable

COMPARE_FILE = ASSETS_DIR / "compare.json"
COMPUTING = "computing…"
HEADERS = [
    "family", "checkpoint", "test NLL (nats)", "kind", "bits/dim", "agreed-confident", "digits agreed", "precision", "recall",
    "parameters", "training time", "samples/s", "published NLL (nats)", "published source",
]
SCALE = 2  # the side-by-side picture's tiles are shown twice their size
LABEL_PX = 300  # the width of its family labels
THUMBNAIL_PER_ROW = 4
KIND_STYLE = {"exact": ("#1f77b4", "circle"), "bound": ("#2ca02c", "triangle-up"), "AIS estimate": ("#ff7f0e", "square"), "none": ("#7f7f7f", "diamond")}

log = logging.getLogger(__name__)


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN or infinite)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) else None


def _read(path: Path) -> dict[str, dict[str, Any]]:
    """The rows kept in ``path`` ({row id: row}), or none when it is missing or unreadable."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8")).get("rows")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError) as err:
        log.warning("ignoring %s: %s", path, err)
        return {}
    return {k: v for k, v in rows.items() if isinstance(v, dict)} if isinstance(rows, dict) else {}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _nll_cell(row: dict[str, Any]) -> str:
    """The NLL in nats, with an AIS estimate's range (−∞ where it reaches log Z = -inf)."""
    nll = _number(row.get("nll_nats"))
    if nll is None:
        return "—"
    bounds = row.get("nll_range")
    if not isinstance(bounds, list) or len(bounds) != 2:
        return f"{nll:.1f}"
    low, high = (_number(b) for b in bounds)
    return f"{nll:.1f} ({'−∞' if low is None else f'{low:.1f}'} to {'?' if high is None else f'{high:.1f}'})"


def _cells(spec: RowSpec, row: dict[str, Any]) -> list[str]:
    """A computed row as the table's formatted strings (``HEADERS``); "—" where there is no figure."""
    def fmt(key: str, pattern: str) -> str:
        value = _number(row.get(key))
        return "—" if value is None else pattern.format(value)

    params = _number(row.get("n_params"))
    train = _number(row.get("train_seconds"))
    speed = _number(row.get("samples_per_s"))
    estimated = str(row.get("train_note", "")).startswith("estimated")
    return [
        spec.title, str(row.get("checkpoint", spec.source or "")), _nll_cell(row), str(row.get("nll_kind", "—")), fmt("bits_per_dim", "{:.3f}"),
        fmt("agreed_confident_share", "{:.1%}"), fmt("n_classes_agreed", "{:.0f}"), fmt("precision", "{:.2f}"), fmt("recall", "{:.2f}"),
        "—" if params is None else (f"{params / 1e6:.2f} M" if params >= 1e6 else f"{params / 1e3:,.0f} k"),
        "—" if train is None else ("≈ " if estimated else "") + _duration(train),
        "—" if speed is None else (f"{speed:,.0f}" if speed >= 10 else f"{speed:.2f}"),
        "—" if spec.published is None else f"{spec.published:.2f}", spec.source_text,
    ]


@functools.cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _strip(text: str, height: int, width: int, background: tuple[int, int, int], ink: tuple[int, int, int]) -> np.ndarray:
    """A (height, width, 3) uint8 strip with ``text`` written at its left, centred vertically."""
    image = Image.new("RGB", (width, height), background)
    ImageDraw.Draw(image).text((10, height / 2), text, fill=ink, font=_font(11 * SCALE), anchor="lm")
    return np.asarray(image, dtype=np.uint8).copy()


class CompareViews:
    """The families' table, samples and plot (see the module docstring).

    Args:
        ctx: the app's context (its test digits are the rows' test digits).
        path: the kept rows (default ``COMPARE_FILE``, ``assets/compare.json``).
        rows: the families (default ``ROWS``, every image family; tests pass a few small ones).
    """

    def __init__(self, ctx: Context, path: Path | None = None, rows: Sequence[RowSpec] | None = None):
        self.ctx, self.path, self.specs = ctx, Path(path or COMPARE_FILE), tuple(ROWS if rows is None else rows)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        try:
            judges = judges_sha256()
        except OSError:
            judges = None  # every row is then computed, and says why it fails
        self._keys = {spec.key: row_key(spec, ctx.data, judges) if judges else None for spec in self.specs}
        kept = _read(self.path)
        self._rows = {k: kept[k] for k, key in self._keys.items() if key is not None and k in kept and kept[k].get("key") == key}
        self._failed: dict[str, str] = {}
        self._samples: dict[str, Tensor] = {}
        self.tasks = TaskTable(ctx.data, self.path)  # the second table (translation, super-resolution, 8-bit likelihood): kept, never computed on a page load

    # -- computing -------------------------------------------------------------------------------------
    def pending(self) -> list[RowSpec]:
        """The rows neither kept (with a matching key) nor computed yet, nor failed."""
        with self._lock:
            return [spec for spec in self.specs if spec.key not in self._rows and spec.key not in self._failed]

    def compute(self, only: Sequence[str] | None = None, fresh: bool = False, log_to: Log | None = None) -> list[str]:
        """Compute the pending rows now (with ``fresh``, every row), or those of ``only``
        (row ids), one after the other; a row that fails is reported in the table and the
        note, and the others go on. Returns the ids that failed.

        Raises:
            ValueError: an unknown row id in ``only``.
        """
        self.check_ids(only or ())
        todo = [s for s in self.specs if (only is None or s.key in only) and (fresh or s in self.pending())]
        failed = []
        for spec in todo:
            try:
                row = {"key": self._keys[spec.key], **compute_row(spec, self.ctx, log_to)}
            except Exception as err:  # a failed row says so in the table; the others are still computed
                log.exception("the compare row %s failed", spec.key)
                with self._lock:
                    self._failed[spec.key] = f"{type(err).__name__}: {err}"
                failed.append(spec.key)
                continue
            with self._lock:
                self._rows[spec.key] = row
                self._failed.pop(spec.key, None)
                self._samples.pop(spec.key, None)
        return failed

    def check_ids(self, ids: Sequence[str]) -> None:
        """Raises ValueError for an id in ``ids`` that names no row."""
        known = [spec.key for spec in self.specs] + [spec.key for spec in TASKS]
        unknown = sorted(set(ids) - set(known))
        if unknown:
            raise ValueError(f"no row {', '.join(unknown)}; the rows are: {', '.join(known)}")

    def start(self) -> threading.Thread | None:
        """Compute the pending rows in one background thread (started once; later calls
        return the same thread). Returns it, or None when every row was kept."""
        with self._lock:
            if self._thread is None and any(s.key not in self._rows for s in self.specs):
                self._thread = threading.Thread(target=self.compute, name="compare-rows", daemon=True)
                self._thread.start()
            return self._thread

    def rows(self) -> dict[str, dict[str, Any]]:
        """{row id: row} of the rows computed or kept, in table order (each a copy, without
        its packed samples); a failed row is {"title", "error"}."""
        with self._lock:
            rows = {s.key: {k: v for k, v in self._rows[s.key].items() if k != "samples"} for s in self.specs if s.key in self._rows}
            failed = {s.key: {"title": s.title, "error": self._failed[s.key]} for s in self.specs if s.key in self._failed}
        return {s.key: rows.get(s.key) or failed[s.key] for s in self.specs if s.key in rows or s.key in failed}

    def write(self) -> Path:
        """Keep every computed row (with its samples and key) in ``path``; returns it."""
        with self._lock:
            rows = {s.key: self._rows[s.key] for s in self.specs if s.key in self._rows}
        about = "Figures of the compare tab, written by `python -m playground compare --write`; see playground/views/compare.py."
        self.path.write_text(json.dumps({"about": about, "rows": rows, "tasks": self.tasks.entries}, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return self.path

    # -- what the tab shows -----------------------------------------------------------------------------
    def table(self, pending: bool = True) -> tuple[list[str], list[list[str]], str]:
        """(``HEADERS``, one row of formatted strings per family, a markdown note). A row
        still computing reads "computing…" (with ``pending`` False it is left out, and the
        note does not mention it), a failed one "failed" (the note says why)."""
        with self._lock:
            rows, failed = dict(self._rows), dict(self._failed)
        cells = []
        for spec in self.specs:
            if spec.key not in rows and spec.key not in failed and not pending:
                continue
            if spec.key in rows:
                cells.append(_cells(spec, rows[spec.key]))
            else:
                status = "failed" if spec.key in failed else COMPUTING
                cells.append([spec.title, spec.source or "", status, *["…"] * (len(HEADERS) - 5), "—" if spec.published is None else f"{spec.published:.2f}", spec.source_text])
        return list(HEADERS), cells, self._note(rows, failed, pending)

    def _note(self, rows: dict[str, dict[str, Any]], failed: dict[str, str], pending: bool) -> str:
        waiting = [s.title for s in self.specs if s.key not in rows and s.key not in failed] if pending else []
        notes = [f"**{row.get('title', key)}**: {row.get('nll_note', '')}" for key, row in rows.items() if row.get("nll_kind") in ("bound", "AIS estimate")]
        lines = [
            f"Test NLL in nats per digit (lower is better) on the same {len(self.ctx.data.test_labels)} held-out digits, binarised once: "
            "**exact**, a **bound** (≥ the true NLL) or an **AIS estimate** with its range (±3 standard errors of log Z; AIS tends to "
            "underestimate log Z, so the NLL too). " + " · ".join(notes),
            f"Quality: {N_SAMPLES} samples per family, seed {SEED} (a class-conditional model: digits 0-9 in turn). **Agreed-confident**: "
            f"all {len(JUDGES)} judges ({', '.join(JUDGES)}; trained on the train split only; the two added ones never chose any checkpoint, the first chose the DCGAN's step count) read a "
            f"sample with p ≥ 0.9 as the same digit. Precision and recall (Kynkäänniemi et al. 2019, arXiv:1904.06991, k = 3) in "
            f"{FEATURE_JUDGE}'s features against the test digits: quality and coverage apart.",
            f"Training time is **estimated** ({N_TIMED} timed steps of a fresh model × the model card's step count); the Bernoulli "
            "mixture's EM fit is measured. It and samples/s are CPU time of one process (on one thread unless the note of the row says "
            "other), so other programs on the machine do not inflate them. Published figures: the standard binarised MNIST with 60,000 training digits and "
            f"days of GPU training; ours train on {len(self.ctx.data.train_labels):,} digits for minutes on a CPU, so compare the order, not the numbers.",
        ]
        if waiting:
            lines.append(f"*{COMPUTING}* {len(waiting)} row(s) in the background ({', '.join(waiting)}): minutes each on 2 CPU cores; they appear as they land.")
        lines += [f"⚠️ **{next(s.title for s in self.specs if s.key == key)}** could not be computed: {reason[:300]}" for key, reason in failed.items()]
        return "\n\n".join(lines)

    def _kept_samples(self, key: str) -> Tensor | None:
        with self._lock:
            if key not in self._samples and key in self._rows:
                try:
                    self._samples[key] = unpack_samples(self._rows[key].get("samples"))
                except ValueError as err:
                    log.warning("the samples of row %s: %s", key, err)
                    return None
            return self._samples.get(key)

    def samples_picture(self, n: Any = N_KEPT) -> np.ndarray:
        """``n`` in [1, 16] samples of every family (the first of its 500, seed 0), one
        labelled row each, tiles twice their size: uint8 (H, W, 3). A row still computing
        says so.

        Raises:
            ValueError: ``n`` out of range.
        """
        n = check_int("samples per family", n, 1, N_KEPT)
        width, height = (n * 30 + 2) * SCALE, 32 * SCALE
        strips = []
        for spec in self.specs:
            samples = self._kept_samples(spec.key)
            label = _strip(spec.title, height, LABEL_PX, (255, 255, 255), (0, 0, 0))
            if samples is None:
                status = "failed" if spec.key in self._failed else "no samples kept" if spec.key in self._rows else COMPUTING
                tiles = _strip(status, height, width, (40, 40, 40), (220, 220, 220))
            else:
                grid = enlarge(image_grid(samples[:n], nrow=n), SCALE)
                tiles = np.zeros((height, width, 3), np.uint8)
                tiles[: grid.shape[0], : grid.shape[1]] = grid[..., None]
            strips.append(np.concatenate([label, tiles], axis=1))
        return np.concatenate(strips, axis=0)

    def thumbnail(self) -> np.ndarray:
        """The home card's picture: the first few samples of every computed family, tiled
        (a grey square while none is), uint8 (H, W, 3)."""
        kept = [s[:THUMBNAIL_PER_ROW] for s in (self._kept_samples(spec.key) for spec in self.specs) if s is not None]
        if not kept:
            return np.full((242, 242, 3), 60, np.uint8)
        return np.repeat(image_grid(torch.cat(kept), nrow=2 * THUMBNAIL_PER_ROW)[..., None], 3, axis=2)

    def nll_vs_quality(self) -> go.Figure:
        """Test NLL (nats, across; an AIS estimate with its range as an error bar) against
        the agreed-confident share of the samples (%, up), one labelled point per computed
        family; implicit models, which have no likelihood, in a band at the right."""
        with self._lock:
            rows = [(s, self._rows[s.key]) for s in self.specs if s.key in self._rows and _number(self._rows[s.key].get("agreed_confident_share")) is not None]
        explicit = [(s, r) for s, r in rows if _number(r.get("nll_nats")) is not None]
        nlls = [_number(r["nll_nats"]) for _, r in explicit] or [100.0]
        span = max(max(nlls) - min(nlls), 20.0)
        band = (max(nlls) + 0.15 * span, max(nlls) + 0.45 * span)
        fig = go.Figure()
        for kind, (colour, symbol) in KIND_STYLE.items():
            members = [(s, r) for s, r in rows if (r.get("nll_kind") if _number(r.get("nll_nats")) is not None else "none") == kind]
            if members:
                fig.add_trace(self._points(kind, members, colour, symbol, sum(band) / 2))
        fig.add_vrect(x0=band[0], x1=band[1], fillcolor="#7f7f7f", opacity=0.12, line_width=0, annotation_text="no likelihood (implicit)", annotation_position="top")
        title = "Likelihood against looks: a better NLL does not mean better-looking samples"
        if len(rows) < len(self.specs):
            title += f" ({len(self.specs) - len(rows)} family(ies) {COMPUTING})"
        return fig.update_layout(
            template="plotly_white", height=460, margin=dict(l=60, r=20, t=50, b=50), title=title, legend_title_text="NLL kind",
            xaxis_title="test NLL, nats per digit (lower is better)", yaxis_title=f"agreed-confident share of {N_SAMPLES} samples (%)", yaxis_range=[0, 105],
        )

    @staticmethod
    def _points(kind: str, members: list[tuple[RowSpec, dict[str, Any]]], colour: str, symbol: str, band_x: float) -> go.Scatter:
        """One kind's points, labelled by family; an AIS estimate's range as error bars."""
        xs = [_number(r.get("nll_nats")) if kind != "none" else band_x for _, r in members]
        ranges = [r.get("nll_range") if isinstance(r.get("nll_range"), list) and len(r["nll_range"]) == 2 else [None, None] for _, r in members]
        plus = [0.0 if hi is None or x is None or _number(hi) is None else max(0.0, float(hi) - x) for (_, hi), x in zip(ranges, xs)]
        minus = [0.0 if lo is None or x is None or _number(lo) is None else max(0.0, x - float(lo)) for (lo, _), x in zip(ranges, xs)]
        return go.Scatter(
            x=xs, y=[100 * _number(r["agreed_confident_share"]) for _, r in members], mode="markers+text", name=kind,
            text=[s.title for s, _ in members], textposition="top center", marker=dict(color=colour, symbol=symbol, size=11),
            error_x=dict(type="data", array=plus, arrayminus=minus, visible=any(plus) or any(minus)),
            hovertemplate="%{text}: %{y:.1f}% agreed-confident" + ("" if kind == "none" else ", NLL %{x:.1f} nats") + "<extra></extra>",
        )


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """``headers`` and ``rows`` as aligned plain-text columns."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [headers, *rows])


def _task(views: CompareViews, key: str, say: Log) -> list[str]:
    """Compute the second table's entry ``key``; returns [key] when it failed (said on stderr)."""
    try:
        views.tasks.compute([key], say)
    except Exception as err:  # a failed entry is reported; the others go on
        say(f"{key} failed: {type(err).__name__}: {err}")
        return [key]
    return []


def run_cli(as_json: bool = False, write: bool = False, dataset: str | None = None, only: str | None = None, fresh: bool = False, path: Path | None = None) -> int:
    """``python -m playground compare``: the rows kept in ``path`` (default ``COMPARE_FILE``) whose key matches,
    the others computed now (each row's timings on stderr; ``fresh``: every row; ``only``:
    the comma-separated row ids; the second table's entries, ``compare_tasks.TASKS``, only when named here), printed as a table with its note (or ``as_json``: one
    JSON object {row id: row}); ``write`` keeps them in ``path``. Returns 1 when a row
    failed, else 0.

    Raises:
        ValueError: an unknown dataset or row id.
    """
    views = CompareViews(Context(torch.device("cpu"), load_mnist(dataset)), path)
    chosen = [k.strip() for k in only.split(",") if k.strip()] if only else [spec.key for spec in views.specs]
    views.check_ids(chosen)  # before any work
    failed = []
    tasks = {spec.key for spec in TASKS}  # the second table's entries: computed only when named in ``only``
    for key in chosen:  # one row at a time, each kept as soon as it is done
        say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
        failed += views.compute([key], fresh, say) if key not in tasks else _task(views, key, say)
        if write:
            views.write()
    if write:
        print(f"wrote {views.path}", file=sys.stderr)
    if as_json:
        print(json.dumps({**views.rows(), **{k: {kk: vv for kk, vv in v.items() if kk != "key"} for k, v in views.tasks.entries.items() if k in chosen}}, allow_nan=False))
    else:
        headers, rows, note = views.table(pending=False)
        task_headers, task_rows, task_note = views.tasks.table()
        print(text_table(headers, rows) + "\n\n" + note.replace("**", "").replace("*", ""))
        print("\n" + text_table(task_headers, task_rows) + "\n\n" + task_note.replace("`", ""))
    return 1 if failed else 0
