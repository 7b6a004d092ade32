"""Figures of the bundled sequence models that take seconds to compute (the text models' held-out
bits per character, the Parallel WaveNet teacher's log-likelihoods, the video model's NLL over the
test clips), kept in ``assets/sequences.json`` so that opening a page never computes them. No gradio here.

Each entry records the SHA-256 of the weights it was computed from; an entry whose weights have
changed is not used (the page computes the figures itself, once per process, and logs that the file
is stale). ``python -m playground.views.sequence_figures`` recomputes them all and writes the file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from playground.core import checkpoints

PATH = Path(__file__).resolve().parents[2] / "assets" / "sequences.json"
LOG = logging.getLogger(__name__)


def weights_sha(names: tuple[str, ...]) -> str:
    """SHA-256 (hex, first 16) of the bundled checkpoints' weights ``names``, in order."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((checkpoints.BUNDLED_DIR / name / "model.safetensors").read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _stored() -> dict:
    return json.loads(PATH.read_text()) if PATH.exists() else {}


def cached(key: str, names: tuple[str, ...], compute: Callable[[], str]) -> str:
    """The stored figures ``key`` if they were computed from the current weights of ``names``, else ``compute()``."""
    entry = _stored().get(key)
    if entry and entry.get("weights") == weights_sha(names):
        return entry["markdown"]
    LOG.warning("assets/sequences.json has no current %s figures: computing them (python -m playground.views.sequence_figures writes them)", key)
    return compute()


def compute_all() -> dict:
    """Every entry, computed now from the bundled checkpoints on the CPU."""
    import torch

    from playground.core.data import load_mnist
    from playground.views.base import Context
    from playground.views.moving_digits import MDSession, MDViews
    from playground.views.parallel_wavenet import PWSession, PWViews
    from playground.views.text import TextViews

    ctx = Context(device=torch.device("cpu"), data=load_mnist("mnist-5k"))
    text, pw, md = TextViews(ctx), PWViews(ctx), MDViews(ctx)
    return {
        "text": {"weights": weights_sha(("char-rnn", "char-transformer")), "markdown": text.compute_figures(text.session(None))},
        "parallel-wavenet": {"weights": weights_sha(("parallel-wavenet", "wavenet")), "markdown": pw.figures(PWSession(pw.bundled))},
        "vpn": {"weights": weights_sha(("vpn",)), "markdown": md.figures(MDSession(md.bundled))},
    }


if __name__ == "__main__":
    figures = compute_all()
    PATH.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(figures, indent=1, ensure_ascii=False), file=sys.stderr)
