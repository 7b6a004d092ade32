"""Novelty detection with the densities: is this image a digit? (the Compare tab's
"Novelty" sub-tab and ``python -m playground novelty``). No gradio here.

Each model of ``MODELS`` scores an image by log p(x) in nats (exact, a bound or an AIS
estimate: ``novelty_scores``), and by its typicality |log p(x) - E_train[log p]| (Nalisnick
et al. 2019, arXiv:1906.02994). Likelihood alone fails on the blank image, which most of
these models rate above every real digit (Nalisnick et al. 2019, arXiv:1810.09136); the
typicality score catches it. ``NoveltyViews.start`` scores the test digits and the outlier
sets in one background thread (or takes them from ``assets/novelty.json``), and every view
answers "computing…" for a model until its scores are ready, so no click waits for it.

Start-up on 2 CPU cores: with the kept scores, loading the models takes about 2 s, then the
warm-up's Bernoulli mixture is fitted again (its key is its fitted weights; ~1 s on a quiet
machine, 18 s measured on a busy one). Without them
(other weights or data) the five cheaper models are scored in about 40 s (measured with
one thread, the machine otherwise busy); the VQ-VAE (~40 s) and the Gated PixelCNN (~8 min)
are then left out, and say so, until ``python -m playground novelty --write`` keeps theirs.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from models.checks import check_choice
from playground.core import plots
from playground.core.drawing import digit_from_drawing
from playground.views.base import Context
from playground.views.novelty_scores import CACHE_FILE, FITTED, MODELS, N_PER_SET, N_TEST, N_TRAIN, OUTLIER_SETS, SLOW, TITLES, Density, Scores, auc_pair, cache_key, cached_scores, compute_scores, density, outlier_sets, read_cache, write_cache

COMPUTING = "computing…"
TYPICAL_QUANTILE = 0.95  # an image is atypical when further from E_train[log p] than 95% of the test digits (so 5% of real digits are flagged)
LIKELY_QUANTILE = 0.05  # ... and unlikely, by likelihood alone, when less likely than 95% of them
PRESETS = ("test digits", *OUTLIER_SETS)
N_PRESET = 16
SCALE = 6  # the scored digit is shown 28 * 6 = 168 pixels wide
SET_COLOURS = dict(zip(PRESETS, ["#1b7837", "#1f77b4", "#9467bd", "#7f7f7f", "#ff7f0e", "#8c564b", "#d62728"]))

log = logging.getLogger(__name__)


class NoveltyViews:
    """What the Novelty sub-tab computes (see the module docstring). Constructing it only
    reads the kept scores; ``start`` does the work in one background thread.

    Args:
        ctx: the app's context (device and digits).
        cache_path: the kept scores (default ``assets/novelty.json``).
        models: the models to score, a subset of ``MODELS`` (tests use cheap ones).
    """

    def __init__(self, ctx: Context, cache_path: Path = CACHE_FILE, models: tuple[str, ...] = MODELS):
        self.ctx, self.cache_path, self.models = ctx, Path(cache_path), tuple(check_choice("model", m, MODELS) for m in models)
        self._kept = read_cache(self.cache_path)
        self._densities: dict[str, Density] = {}
        self._scores: dict[str, Scores] = {}
        self._status: dict[str, str] = {}  # a model without scores: why ("not computed: ...", "failed: ...")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.seconds: float | None = None  # how long the background work took, once done

    # -- the background work ------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Start scoring in one daemon thread (once; later calls return the same thread).
        Models whose kept scores match are read, the others computed, except ``SLOW`` ones
        (minutes on 2 cores), which are left out with a note saying how to compute them."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(False,), name="novelty-scores", daemon=True)
                self._thread.start()
            return self._thread

    def compute(self, include_slow: bool = True) -> dict[str, Scores]:
        """Score every model now, in this thread (the CLI); returns {model: Scores} of
        those that have them. Safe to call after ``start``: it waits for the thread first."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()
        self._run(include_slow)
        return dict(self._scores)

    def _run(self, include_slow: bool) -> None:
        begin = time.perf_counter()
        for name in sorted(self.models, key=lambda m: m in FITTED):
            if name in self._scores:
                continue
            try:
                self._prepare(name, include_slow)
            except Exception as err:  # a model that cannot be loaded or scored must not stop the others
                log.exception("novelty scores of %s", name)
                self._status[name] = f"failed: {type(err).__name__}: {err}"
        self.seconds = time.perf_counter() - begin

    def _prepare(self, name: str, include_slow: bool) -> None:
        entry = self._kept.get(name)
        kept_log_z = entry.get("log_z") if isinstance(entry, dict) and isinstance(entry.get("log_z"), float) else None
        d = density(name, self.ctx.data, self.ctx.device, log_z=kept_log_z)
        scores = cached_scores(entry, cache_key(d, self.ctx.data))
        if scores is None:
            if name in SLOW and not include_slow:
                self._status[name] = "not computed at start-up (too slow on 2 CPU cores); `python -m playground novelty --write` computes and keeps its scores"
                with self._lock:
                    self._densities[name] = d
                return
            if name == "rbm" and kept_log_z is not None:
                d = density(name, self.ctx.data, self.ctx.device)  # other weights or data: a fresh AIS estimate
            scores = compute_scores(d, self.ctx.data)
        with self._lock:
            self._densities[name], self._scores[name] = d, scores
            self._status.pop(name, None)

    def ready(self, name: str) -> Scores | None:
        """The scores of model ``name`` once ready, else None."""
        with self._lock:
            return self._scores.get(name)

    def _pending(self, name: str) -> str:
        return self._status.get(name, COMPUTING)

    def write(self) -> Path:
        """Keep every model's scores in ``cache_path`` (after ``compute``)."""
        write_cache({name: self._scores[name] for name in self.models if name in self._scores}, self.cache_path)
        return self.cache_path

    # -- an image of the user's --------------------------------------------------------------
    def score(self, image: Any) -> tuple[np.ndarray, str, list[list[str]]]:
        """Score an uploaded or drawn image with every model.

        Args:
            image: a Sketchpad/ImageEditor value (dict with ``"composite"``), an image array
                (H, W[, C]), a PIL image or the path of an image file; centred and binarised
                like MNIST (``drawing.digit_from_drawing``), except a 28 x 28 array or file,
                taken as it is (a preset image, the blank one included).

        Returns:
            (the digit as the models see it, uint8 (168, 168); a markdown note; rows of
            [model, log p (nats), percentile among the test digits, typicality (nats),
            verdict], strings, "computing…" for a model still being scored).

        Raises:
            ValueError: no image, an unreadable file, a blank or all-ink drawing, a size
                outside 8 to 4096 pixels.
        """
        digit, how = _as_digit(image)
        rows, flagged, failed = [], [], []
        for name in self.models:
            scores, d = self.ready(name), self._densities.get(name)
            if scores is None or d is None:
                rows.append([TITLES[name], self._pending(name), "…", "…", "…"])
                continue
            log_p = float(d.log_prob(digit.to(self.ctx.device))[0])
            below = float((scores.test < log_p).mean() + 0.5 * (scores.test == log_p).mean())
            typicality = float(scores.typicality(np.array([log_p]))[0])
            atypical = typicality > float(np.quantile(scores.typicality(scores.test), TYPICAL_QUANTILE))
            unlikely = below < LIKELY_QUANTILE
            flagged += [TITLES[name]] if atypical else []
            failed += [TITLES[name]] if atypical and not unlikely else []
            rows.append([TITLES[name], f"{log_p:.1f}", f"{below:.1%}", f"{typicality:.1f}", _verdict(atypical, unlikely, log_p, scores.train_mean)])
        note = [f"{how}.", _score_summary(rows, flagged, failed)]
        picture = plots.enlarge((digit[0, 0].numpy() * 255).astype(np.uint8), SCALE)
        return picture, "  \n".join(note), rows

    # -- the outlier sets ----------------------------------------------------------------------
    def preset(self, name: Any) -> np.ndarray:
        """The first 16 images of ``name`` in ``PRESETS`` (the test digits or an outlier set;
        the blank set is one image), uint8 grid, 8 per row.

        Raises:
            ValueError: an unknown set.
        """
        name = check_choice("set", name, PRESETS)
        x = self.ctx.data.images("test", "binary")[:N_PRESET] if name == PRESETS[0] else outlier_sets(self.ctx.data, N_PRESET)[name]
        return plots.image_grid(x, nrow=8)

    def histograms(self, model: Any) -> go.Figure:
        """Histograms of log p (nats) under ``model`` (one of ``MODELS``, or its title) of the test digits
        and of each outlier set (share of each set per bin), the blank image as a line and
        E_train[log p], the typical set's centre, dashed. The x range spans the digits; sets
        far to the left say so in the legend (double-click the plot to see them).

        Raises:
            ValueError: an unknown model.
        """
        by_title = {TITLES[m]: m for m in self.models}
        name = check_choice("model", by_title.get(model, model), self.models)
        scores = self.ready(name)
        fig = go.Figure().update_layout(template="plotly_white", height=380, margin=dict(l=60, r=20, t=70, b=50), barmode="overlay")
        if scores is None:
            return fig.update_layout(title=f"{TITLES[name]}: {self._pending(name)}")
        low = float(scores.test.min() - 0.5 * (scores.test.max() - scores.test.min()))
        high = float(max(scores.test.max(), *(v.max() for v in scores.sets.values())) + 10)
        size = (high - low) / 60
        for set_name, values in [(PRESETS[0], scores.test), *((k, scores.sets[k]) for k in OUTLIER_SETS[:-1])]:
            label = f"{set_name} ({len(values)})"
            if np.median(values) < low:
                label += f": mostly off the left, median {np.median(values):,.0f}"
            fig.add_trace(go.Histogram(x=values, name=label, opacity=0.55, histnorm="probability", xbins=dict(start=low - size * math.ceil(max(0.0, low - float(values.min())) / size), end=high, size=size), marker_color=SET_COLOURS[set_name]))
        blank = float(scores.sets["blank"][0])
        fig.add_vline(x=blank, line_color=SET_COLOURS["blank"], line_width=3, annotation_text=f"blank {blank:.1f}", annotation_position="top left")
        fig.add_vline(x=scores.train_mean, line_dash="dash", line_color="#333", annotation_text="E_train log p", annotation_position="top right")
        d = self._densities[name]
        return fig.update_layout(
            title=f"{TITLES[name]}: log p(x) of digits and outliers ({d.kind})<br><sup>{d.detail}</sup>", xaxis=dict(title="log p(x), nats (right: more likely)", range=[low, high]),
            yaxis_title="share of the set", legend=dict(font=dict(size=11)),
        )

    def auc_table(self) -> tuple[list[str], list[list[str]], str]:
        """ROC AUC of each outlier set against the test digits, per model, by log p and by
        typicality (1: perfect, 0.5: chance, 0: every outlier ranked above every digit).

        Returns:
            (headers: model, score, one per set, mean; rows of formatted strings, two per
            model, "computing…" for a model still being scored; a markdown note on where
            likelihood fails and how typicality does).
        """
        headers = ["model", "score", *OUTLIER_SETS, "mean"]
        rows: list[list[str]] = []
        for name in self.models:
            scores = self.ready(name)
            if scores is None:
                rows.append([TITLES[name], self._pending(name), *["…"] * (len(OUTLIER_SETS) + 1)])
                continue
            pairs = [auc_pair(scores, s) for s in OUTLIER_SETS]
            for i, score in enumerate(("log p", "typicality")):
                values = [p[i] for p in pairs]
                rows.append([TITLES[name] if i == 0 else "", score, *(f"{v:.2f}" for v in values), f"{np.mean(values):.2f}"])
        return headers, rows, self._auc_note()

    def _auc_note(self) -> str:
        ready = {name: s for name in self.models if (s := self.ready(name)) is not None}
        lines = [
            f"ROC AUC of telling each outlier set ({N_PER_SET} images made from the test digits; the blank set is its one image) from the "
            f"{N_TEST} test digits, all binarised. **log p**: more likely = more digit-like. **typicality**: closer to E_train[log p] "
            f"(the mean over {N_TRAIN} train digits) = more digit-like (Nalisnick et al. 2019, arXiv:1906.02994, with one image at a time)."
        ]
        above = [(TITLES[n], float(s.sets["blank"][0]), float(s.test.max()), float((s.test < s.sets["blank"][0]).mean())) for n, s in ready.items()]
        worst = [f"{t} ({b:.1f} nats; the most likely digit {m:.1f})" for t, b, m, share in above if share == 1]
        if worst:
            lines.append(
                f"**Where likelihood fails**: {', '.join(worst)} rate{'s' if len(worst) == 1 else ''} the blank image above every one of the "
                f"{N_TEST} test digits — by log p it is the most digit-like image there is (Nalisnick et al. 2019, arXiv:1810.09136: simple images get "
                "high likelihood: an image with no ink is all background, the pixels every model predicts best)."
            )
        partly = [f"{t} ({round(share * N_TEST)} of them)" for t, _, _, share in above if 0.5 <= share < 1]
        if partly:
            lines.append(f"The blank image is rated above most test digits by {', '.join(partly)}.")
        if ready:
            blank = [auc_pair(s, "blank") for s in ready.values()]
            others = [np.mean([np.subtract(*auc_pair(s, k)[::-1]) for k in OUTLIER_SETS[:-1]]) for s in ready.values()]
            lines.append(
                f"**The fix beside it**: on the blank image the AUC goes from {_span([b[0] for b in blank])} by log p to "
                f"{_span([b[1] for b in blank])} by typicality. On the other five sets it changes the mean AUC by {_span(others, signed=True)}: "
                "it gives up a little where an outlier set's log p lies just below the digits', and where an outlier set's log p "
                "overlaps the digits' neither score separates them."
            )
        pending = [TITLES[n] for n in self.models if n not in ready]
        if pending:
            lines.append(f"Not shown yet: {', '.join(pending)} ({'; '.join(sorted({self._pending(n) for n in self.models if n not in ready}))}).")
        return "  \n".join(lines)

    def auc_json(self) -> dict[str, Any]:
        """{model: {"kind", "log p": {set: AUC}, "typicality": {set: AUC}, "blank_log_p", "test_log_p_max"}} of the ready models."""
        result: dict[str, Any] = {}
        for name in self.models:
            scores = self.ready(name)
            if scores is None:
                result[name] = {"status": self._pending(name)}
                continue
            pairs = {s: auc_pair(scores, s) for s in OUTLIER_SETS}
            result[name] = {
                "kind": self._densities[name].kind, "log p": {s: round(p[0], 4) for s, p in pairs.items()},
                "typicality": {s: round(p[1], 4) for s, p in pairs.items()},
                "blank_log_p": round(float(scores.sets["blank"][0]), 2), "test_log_p_max": round(float(scores.test.max()), 2),
                "test_log_p_mean": round(float(scores.test.mean()), 2), "train_log_p_mean": round(scores.train_mean, 2),
            }
        return result


def _as_digit(image: Any) -> tuple[Tensor, str]:
    """The image as the models see it, (1, 1, 28, 28) float32 in {0, 1}, and how it was made:
    a 28 x 28 image (an MNIST-sized file, a preset) as it is, binarised at 0.5, white ink on
    black as in MNIST (so a blank or shifted image stays what it is); anything else through
    ``drawing.digit_from_drawing`` (scaled and centred like an MNIST digit). A path (str or
    Path) is opened first.

    Raises:
        ValueError: a path that is not a readable image, or what ``digit_from_drawing`` refuses.
    """
    if isinstance(image, str | Path):
        try:
            with Image.open(image) as picture:
                image = np.asarray(picture.convert("RGBA" if "A" in picture.getbands() else "RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ValueError(f"could not read the image {str(image)[:200]!r} ({type(err).__name__}): upload a PNG or JPEG") from None
    if isinstance(image, np.ndarray) and image.shape[:2] == (28, 28) and image.ndim in (2, 3) and np.issubdtype(image.dtype, np.number):
        grey = image.astype(np.float32) if image.ndim == 2 else image[..., :3].astype(np.float32).mean(2)
        if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 255:
            raise ValueError("image values must be in [0, 1] or [0, 255]")
        grey = grey / 255 if grey.max() > 1 else grey
        digit = torch.from_numpy((grey > 0.5).astype(np.float32)).view(1, 1, 28, 28)
        return digit, "a 28 × 28 image, taken as it is (binarised at 0.5; white ink on black, as in MNIST)"
    return digit_from_drawing(image)


def _span(values: list[float], signed: bool = False) -> str:
    """"0.86" or "0.86 to 1.00": the range of AUCs (or, ``signed``, of AUC changes), two decimals."""
    form = "+.2f" if signed else ".2f"
    low, high = (f"{round(float(v), 2) + 0.0:{form}}" for v in (min(values), max(values)))  # + 0.0: no "-0.00"
    return low if low == high else f"{low} to {high}"


def _verdict(atypical: bool, unlikely: bool, log_p: float, centre: float) -> str:
    if not atypical:
        return "typical: a digit"
    if unlikely:
        return "outlier: less likely than 95% of digits"
    if log_p > centre:
        return "outlier by typicality: far MORE likely than digits are (likelihood alone would call it a digit)"
    return "outlier by typicality: far from the typical log p"


def _score_summary(rows: list[list[str]], flagged: list[str], failed: list[str]) -> str:
    scored = [r for r in rows if r[2] != "…"]
    if not scored:
        return f"The models are still scoring the test digits ({COMPUTING})."
    text = f"Typicality calls it an outlier for **{len(flagged)} of {len(scored)}** models" + (f" ({', '.join(flagged)})." if flagged else ".")
    if failed:
        text += (
            f" Likelihood alone would have passed it for {', '.join(failed)}: it is more likely than the digits, not less. "
            f"(One image at a time, typicality also flags {1 - TYPICAL_QUANTILE:.0%} of the real test digits by construction: the least likely ones, and for some models "
            "the most likely, such as plain 1s.)"
        )
    return text


def run_cli(as_json: bool = False, write: bool = False, dataset: str | None = None) -> int:
    """``python -m playground novelty [--json] [--write] [--dataset D]``: compute (or read
    the kept) scores of every model and print the AUC table (or JSON); ``--write`` keeps
    them in ``assets/novelty.json``."""
    from playground.core.data import load_mnist
    from playground.core.device import get_device

    views = NoveltyViews(Context(get_device(), load_mnist(dataset)))
    views.compute(include_slow=True)
    if write:
        print(f"kept in {views.write()}", flush=True)
    if as_json:
        print(json.dumps(views.auc_json(), ensure_ascii=False))
        return 0
    headers, rows, note = views.auc_table()
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print("\n" + note.replace("**", "").replace("  \n", "\n"))
    return 0

