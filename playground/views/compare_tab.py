"""The compare tab's views: the families side by side (``compare.CompareViews``), novelty
detection by each density (``novelty.NoveltyViews``) and learning from few labels with the
VAE's codes (``semisup.SemiSupViews``), held together by ``CompareAll``, with the tab's card
and guided tour.

Nothing here blocks a click: the table, the samples and the plot are read from
``assets/compare.json`` when its keys match the shipped weights and the test digits; what
is missing (rows, the novelty scores, the few-labels experiment) is computed by background
threads that ``CompareAll.start`` starts once, and ``CompareAll.progress`` says which parts
are still computing, so the tab can fill them in as they land. No gradio here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import plotly.graph_objects as go

from playground.views.base import Card, Context, Step
from playground.views.compare import CompareViews
from playground.views.novelty import PRESETS, NoveltyViews
from playground.views.novelty_scores import TITLES
from playground.views.semisup import LABELS, SEEDS, SemiSupViews

log = logging.getLogger(__name__)

MAX_COUNTS = 6
DEFAULT_COUNTS = ", ".join(map(str, LABELS))  # the few-labels page's counts, as typed  # label counts in one few-labels run
COMPUTING = "computing…"
PARTS = ("table", "novelty", "m1")  # what fills in by itself: the families' table (with samples and plot), the novelty scores, M1
# The columns of ``NoveltyViews.score``'s rows.
SCORE_HEADERS = ["model", "log p (nats)", "percentile among test digits", "typicality |log p − E[log p]| (nats)", "verdict"]

CARD = Card(
    title="Compare",
    kind="every family · one table, honest numbers",
    teaches="Every family's test NLL (exact, bound or estimate), sample quality by three judges, precision and recall; novelty detection; learning from 10 labels.",
    try_first="Compare every family on one table",
    tab="cmp-table",
    seconds=1.0,  # the table is read from assets/compare.json: measured 1.0 s from the click to its rows in Chromium (2 busy cores)
)
TOUR = (
    Step(
        "Samples side by side", "Sixteen samples of every family, the same seed for each. Hold them against the table: the best likelihood "
        "does not draw the most recognisable digits.", "cmp-samples", {}, "samples",
    ),
    Step(
        "Likelihood against looks", "Each point is a family: test NLL (lower is better) across, the share of samples all three judges read "
        "alike down. Implicit models (GANs) have no likelihood and sit in the band on the side.", "cmp-nll", {}, "nll",
    ),
    Step(
        "A blank page, rated by an RBM", "The histograms of log p for the test digits and each outlier set: the blank image lands far right "
        "of every digit, the known failure of likelihood as a novelty score (the AUC table below it, typicality beside).", "cmp-novelty",
        {"nov_set": "blank", "nov_model": "rbm"}, "outliers",
    ),
    Step(
        "Learn from 100 labels", "The same classifier on the VAE's latent means and on raw pixels, from 10, 100 and 1,000 labels: the codes "
        "learnt without labels carry most of what the classifier needs.", "cmp-m1", {"m1_counts": DEFAULT_COUNTS, "m1_seeds": SEEDS.default}, "#cmp-m1-run",
    ),
)


def parse_counts(text: Any) -> tuple[int, ...]:
    """Label counts from the UI or the API: "10, 100, 1000" (or a list of ints), at most
    ``MAX_COUNTS`` of them; the semi-supervised view checks each count's range.

    Raises:
        ValueError: empty, not whole numbers, or too many.
    """
    items = text if isinstance(text, list | tuple) else str(text if text is not None else "").replace(";", ",").split(",")
    items = [str(item).strip() for item in items if str(item).strip()]
    if not items:
        raise ValueError(f"label counts: give one or more whole numbers separated by commas, e.g. {', '.join(map(str, LABELS))}")
    if len(items) > MAX_COUNTS:
        raise ValueError(f"label counts: at most {MAX_COUNTS} counts in one run, got {len(items)}")
    counts = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"label counts: {item!r} is not a whole number (e.g. {', '.join(map(str, LABELS))})") from None
        if not value.is_integer():
            raise ValueError(f"label counts: {item!r} is not a whole number (e.g. {', '.join(map(str, LABELS))})")
        counts.append(int(value))
    return tuple(sorted(set(counts)))


class CompareAll:
    """The compare tab's views (see the module docstring): ``compare``, ``novelty`` and
    ``semisup``, and the few-labels experiment at its defaults computed in the background."""

    start_delay_s = 10.0  # seconds between start() and the background work (tests set 0)

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.compare = CompareViews(ctx)
        self.novelty = NoveltyViews(ctx)
        self.semisup = SemiSupViews(ctx)
        self._m1: tuple | None = None
        self._m1_error = ""
        self._launcher: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start what is computed in the background (once; later calls do nothing): after
        ``start_delay_s`` seconds (so that the app is serving first: the background work
        holds both cores for minutes, and Gradio's launch checks that its server answers),
        the families' missing rows and the novelty scores in their own threads, and M1 at
        its defaults in this one."""
        with self._lock:
            if self._launcher is not None:
                return
            self._launcher = threading.Thread(target=self._run, name="compare-start", daemon=True)
        self._launcher.start()

    def _run(self) -> None:
        time.sleep(self.start_delay_s)
        started = [self.compare.start(), self.novelty.start()]
        with self._lock:
            self._threads = [t for t in started if isinstance(t, threading.Thread)]
        self._run_m1()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the background work (at most ``timeout_s`` seconds per thread)."""
        if self._launcher is not None:
            self._launcher.join(timeout_s)
        for thread in self._threads:
            thread.join(timeout_s)

    def _run_m1(self) -> None:
        try:
            self._m1 = self.semisup.m1(LABELS, SEEDS.default)
        except Exception as err:  # a failed background run is reported in the page, not raised in a thread
            log.exception("the few-labels experiment failed")
            self._m1_error = f"⚠️ The few-labels experiment failed ({type(err).__name__}); press **▶ Run** to try again."

    # -- what fills in by itself -------------------------------------------------------------------------
    def progress(self) -> dict[str, str]:
        """{part: a token} for each of ``PARTS``: the token changes when the part has
        something new to show, and starts with ``COMPUTING`` while the part is still being
        computed (so the tab knows when to stop polling)."""
        _, rows, _ = self.compare.table()
        pending = sum(COMPUTING in str(cell) for row in rows for cell in row)
        _, auc_rows, _ = self.novelty.auc_table()
        auc_pending = sum(COMPUTING in str(cell) for row in auc_rows for cell in row)
        return {
            "table": f"{COMPUTING} {pending}" if pending else f"ready {hash(str(rows))}",
            "novelty": f"{COMPUTING} {auc_pending}" if auc_pending else f"ready {hash(str(auc_rows))}",
            "m1": "ready" if self._m1 is not None else ("failed" if self._m1_error else COMPUTING),
        }

    def m1_default(self) -> tuple[list[str], list[list], go.Figure | None, str]:
        """The few-labels experiment at its defaults (``LABELS``, ``SEEDS.default`` seeds):
        (headers, rows, figure, note), or, while it is computing, a row per count saying so,
        no figure and a note."""
        if self._m1 is not None:
            return self._m1
        note = self._m1_error or f"*{COMPUTING}* M1 with {', '.join(map(str, LABELS))} labels × {SEEDS.default} seeds runs in the background (seconds on 2 cores); it shows here when done."
        return ["labels", "test accuracy (%)"], [[f"{n:,}", COMPUTING] for n in LABELS], None, note

    def m1(self, counts: Any, seeds: Any) -> tuple[list[str], list[list], go.Figure, str]:
        """M1 (Kingma et al. 2014, arXiv:1406.5298) with ``counts`` labels (``parse_counts``;
        each a multiple of 10, checked by ``semisup.check_labels``) and ``seeds`` in [1, 10]
        seeded subsets per count: (headers, rows, figure, note). The semi-supervised view
        keeps each result for the process, so the defaults come at once after the background run.

        Raises:
            ValueError: bad counts or seeds.
        """
        return self.semisup.m1(parse_counts(counts), SEEDS.check("seeds", seeds))

    # -- the pickers -----------------------------------------------------------------------------------
    @staticmethod
    def sets() -> list[tuple[str, str]]:
        """The novelty page's sets to look at (``novelty.PRESETS``: the test digits, then each outlier set)."""
        return [(name, name) for name in PRESETS]

    def models(self) -> list[tuple[str, str]]:
        """The novelty page's densities as (title, name) pairs for a picker."""
        return [(TITLES[name], name) for name in self.novelty.models]

    def default_model(self) -> str:
        """The density the novelty page shows first: the RBM (the blank-image failure at its
        starkest) when it is scored, else the first."""
        return "rbm" if "rbm" in self.novelty.models else self.novelty.models[0]
