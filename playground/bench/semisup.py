"""Semi-supervised M1's figures: the seconds a first ``SemiSupViews.m1()`` takes (the
cache cleared first; the target is < 10 s on 2 CPU cores), and its test accuracies."""

from __future__ import annotations

import time
from collections.abc import Callable

from playground.bench.common import context
from playground.views import semisup
from playground.views.semisup import CLASSIFIERS, FEATURES, LABELS, SEEDS, SemiSupViews


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """``semisup.m1_first_call_s`` (the default labels and seeds, from an empty cache) and
    ``semisup.accuracy``: {"<classifier> on <feature>": {labels: [mean, std] in %}}."""
    log(f"semi-supervised M1: {LABELS} labels, {SEEDS.default} seeds, from an empty cache")
    ctx = context()
    semisup.clear_cache()
    start = time.perf_counter()
    SemiSupViews(ctx).m1()
    seconds = time.perf_counter() - start
    result = semisup.m1_accuracies(ctx.data, LABELS, SEEDS.default, ctx.device)
    accuracy = {
        f"{c} on {f}": {str(n): [round(100 * float(v.mean()), 1), round(100 * float(v.std(ddof=1)), 1)] for n, v in zip(LABELS, result["accuracy"][f, c])}
        for f in FEATURES for c in CLASSIFIERS
    }
    log(f"  first m1() {seconds:.1f} s")
    return {"m1_first_call_s": round(seconds, 2), "accuracy": accuracy}
