"""The Text page's views (a page of the Sequences tab): Char-RNN and a tiny causal
Transformer on Tiny Shakespeare (or a pasted text): temperature sampling after a prime,
each character's probability (the chain rule, character by character, as the pixel-by-pixel
draw shows it for digits), bits per character on held-out text, and live training. No gradio here.

A page session (``TextSession``; None gives one on the two bundled checkpoints) holds a
model per kind and the corpus each learnt from; a training run replaces one when it ends.
"""

from __future__ import annotations

import functools
import html
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import torch

from models.base import seeded_init
from models.char_rnn import CharModel, CharRNN
from models.char_transformer import CharTransformer
from models.checks import SEED_MAX, Range, check_int
from playground.core import checkpoints, plots
from playground.core.text import TextSplits, bits_per_char, pasted, shakespeare
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name
from playground.views.sequence_figures import cached

# kind -> (shown name, bundled checkpoint, class, the bundled model's settings for a new one)
KINDS = {
    "rnn": ("Char-RNN (LSTM)", "char-rnn", CharRNN, {"hidden": 256, "layers": 2, "embed_dim": 64}),
    "transformer": ("tiny causal Transformer", "char-transformer", CharTransformer, {"d_model": 128, "n_heads": 4, "n_layers": 3, "context": 128, "dropout": 0.1}),
}
SOURCES = ("Tiny Shakespeare", "my pasted text")
TEMPERATURE = Range(0.05, 3.0, 0.8, integer=False)
LENGTH = Range(10, 2000, 400)
STEPS = Range(20, 5000, 300)
LR = Range(1e-5, 0.05, 3e-3, integer=False)
MAX_PRIME = 500
MAX_SCORED = 128  # characters scored at once: the Transformer's context, as long as a training window
TOP_K = 5
YIELD_EVERY_S = 0.4
PRIME = "ROMEO:\n"
SCORED = "MENENIUS:\nI tell you, friends, most charitable care\nHave the patricians of you."
CURVES = {"bits": "bits per character"}


@dataclass(eq=False)
class TextSession:
    """One browser session's Text page: a model per kind, its name, the corpus it learnt
    from (for its bits per character) and a lock held while a run trains."""

    models: dict[str, CharModel]
    names: dict[str, str] = field(default_factory=lambda: {k: "bundled" for k in KINDS})
    corpora: dict[str, TextSplits] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"model must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def coloured(model: CharModel, codes: list[int], probs: list[float], prime: str = "") -> str:
    """HTML: ``prime`` in bold, then each character on a background as dark as the model was
    sure of it (its probability, shown on hover); newlines kept."""
    spans = [f"<b>{html.escape(prime)}</b>"]
    for code, p in zip(codes, probs, strict=True):
        c = model.alphabet[code]
        shown = "↵\n" if c == "\n" else html.escape(c)
        spans.append(f'<span title="p = {p:.3f}" style="background: rgba(255, 140, 0, {0.1 + 0.8 * (1 - p):.2f})">{shown}</span>')
    return f'<pre class="pg-text" style="white-space: pre-wrap; font-size: 15px; line-height: 1.5">{"".join(spans)}</pre>'


class TextViews:
    """What the Text page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> dict[str, CharModel]:
        """The bundled checkpoints (loaded once, shared read-only by the sessions)."""
        return {k: checkpoints.load(ckpt, family=cls.family, device=self.ctx.device).eval() for k, (_, ckpt, cls, _) in KINDS.items()}

    def session(self, state: Any) -> TextSession:
        """The session in ``state``, or a new one on the bundled models."""
        return state if isinstance(state, TextSession) else TextSession(dict(self.bundled))

    def restore(self, state: Any) -> TextSession:
        """A session on the bundled models again. Raises ValueError: the session is training."""
        if isinstance(state, TextSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return self.session(None)

    # -- sampling ----------------------------------------------------------------------------------
    def sample(
        self, session: TextSession, kind: Any = "rnn", prime: Any = PRIME, temperature: Any = TEMPERATURE.default, length: Any = LENGTH.default,
        seed: Any = 0, progress: Callable[[float, str], None] | None = None,
    ) -> Iterator[tuple[str, str]]:
        """Draw ``length`` (10 to 2,000) characters after ``prime`` (at most 500 characters of the
        model's alphabet) at ``temperature`` (0.05 to 3) with ``seed``; yields (HTML of the text
        so far, coloured by each drawn character's probability at temperature 1, status markdown).

        Raises:
            ValueError: a value out of range, or a prime character the model never saw (named).
        """
        model = session.models[_kind(kind)]
        temperature, length = TEMPERATURE.check("temperature", temperature), LENGTH.check("length", length)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if not isinstance(prime, str) or len(prime) > MAX_PRIME:
            raise ValueError(f"the prime must be text of at most {MAX_PRIME} characters")
        prime = prime.replace("\r\n", "\n")
        model.encode(prime)
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(seed)
        for codes, probs in model.generate(1, length, prime, temperature, generator, chunk=25):
            done = codes.shape[1]
            if progress:
                progress(done / length, f"{done} of {length} characters")
            rate = done / max(time.perf_counter() - start, 1e-9)
            bits = -float(torch.log2(probs[0]).mean())
            status = f"{done:,} of {length:,} characters · {rate:,.0f} characters/s · {bits:.2f} bits per drawn character at temperature 1"
            yield coloured(model, codes[0].tolist(), probs[0].tolist(), prime), status

    # -- the chain rule, character by character ----------------------------------------------------
    def score(self, session: TextSession, kind: Any = "rnn", text: Any = SCORED, position: Any = None) -> tuple[str, str]:
        """Each character of ``text`` (1 to 128 characters of the model's alphabet) coloured by
        p(x_t | x_<t), and the top 5 guesses for the character at ``position`` (1-based; 0 or None:
        the last), with the text's total in nats and bits per character.

        Raises:
            ValueError: an empty or too long text, a character the model never saw, a position out of range.
        """
        model = session.models[_kind(kind)]
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_SCORED:
            raise ValueError(f"give a text of 1 to {MAX_SCORED} characters to score")
        text = text.replace("\r\n", "\n")
        x = model.encode(text).unsqueeze(0).to(model.device)
        position = len(text) if position in (None, "", 0) else check_int("position", position, 1, len(text))
        with torch.no_grad():
            logp = model.char_log_probs(x)[0].float().cpu()
        chosen = logp.gather(1, x.cpu()[0].unsqueeze(1)).squeeze(1)
        picture = coloured(model, x[0].tolist(), chosen.exp().tolist())
        top = logp[position - 1].exp().topk(min(TOP_K, model.vocab_size))
        rows = [f"| {_show(model.alphabet[int(i)])} | {float(p):.3f} |" for p, i in zip(top.values, top.indices, strict=True)]
        nats = float(-chosen.sum())
        context = html.escape(text[max(0, position - 21) : position - 1].replace("\n", "↵"))
        lines = [
            f"**{len(text)} characters: {nats:.1f} nats, {nats / len(text) / math.log(2):.2f} bits per character** (uniform over {model.vocab_size}: "
            f"{math.log2(model.vocab_size):.2f}). Darker: the model was less sure.",
            "",
            f"After “…{context}”, character {position} was **{_show(text[position - 1])}** with p = {float(chosen[position - 1].exp()):.3f}. The model's top {TOP_K}:",
            "",
            "| next character | p |",
            "|---|---|",
            *rows,
        ]
        return picture, "\n".join(lines)

    def figures(self, session: TextSession) -> str:
        """Markdown: each model's bits per character on the held-out end of the text it learnt from
        (the bundled models' from ``assets/sequences.json``, see ``views.sequence_figures``)."""
        if all(session.models[k] is self.bundled[k] for k in KINDS):
            return cached("text", ("char-rnn", "char-transformer"), lambda: self.compute_figures(session))
        return self.compute_figures(session)

    def compute_figures(self, session: TextSession) -> str:
        """``figures``, computed now."""
        lines = ["| model | settings | held-out text | bits per character |", "|---|---|---|---|"]
        for kind, (title, *_rest) in KINDS.items():
            model, corpus = session.models[kind], session.corpora.get(kind, shakespeare())
            settings = ", ".join(f"{k} {v}" for k, v in model.config.items() if k != "alphabet")
            lines.append(f"| {title} ({session.names[kind]}) | {settings} | {corpus.name}, {len(corpus.part('test')):,} characters | {self._bpc(model, corpus):.3f} |")
        lines.append(f"\nUniform over the {len(shakespeare().alphabet)} characters: {math.log2(len(shakespeare().alphabet)):.2f} bits. Each held-out window of 128 characters is read from the start symbol.")
        return "\n".join(lines)

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def _bpc(model: CharModel, corpus: TextSplits) -> float:
        return bits_per_char(model, corpus)

    # -- training -----------------------------------------------------------------------------------
    def train(
        self, session: TextSession, kind: Any = "rnn", source: Any = SOURCES[0], text: Any = "", steps: Any = STEPS.default, lr: Any = LR.default,
        seed: Any = 0, *, stop: threading.Event,
    ) -> Iterator[tuple[str, go.Figure | None, str | None]]:
        """Train a new model of kind "rnn" or "transformer" with the bundled one's settings, from scratch, on Tiny
        Shakespeare or the pasted text (2,000 to 1,000,000 characters): steps 20 to 5,000,
        learning rate 1e-5 to 0.05, seed 0 to 2^31 - 1; batches of 32 windows of 128
        characters. Stop ends the run within a step and keeps the weights reached.

        Yields:
            (status markdown, curves, figures markdown); None for what is unchanged.

        Raises:
            ValueError: a value out of range or a text that cannot be trained on (nothing is changed), or a run already going.
        """
        kind = _kind(kind)
        if source not in SOURCES:
            raise ValueError(f"train on must be one of {', '.join(SOURCES)}")
        corpus = shakespeare() if source == SOURCES[0] else pasted(text)
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            title, _, cls, settings = KINDS[kind]
            model = seeded_init(cls, seed, alphabet=corpus.alphabet, **settings).to(self.ctx.device)
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=32, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=1, n_eval=64)
            yield f"Training a new {title} on {corpus.describe()}…", None, None
            record = lambda e: history_entry(e, {"bits": "bits_per_char"})  # noqa: E731
            for event, history, learnt in stream_training(model, corpus, config, stop, record, YIELD_EVERY_S):
                curves = plots.training_curves(history, CURVES)
                if not event.final:
                    yield f"step {event.step} of {steps} · {event.losses['bits_per_char']:.3f} bits per character (training batches)", curves, None
                    continue
                if learnt:
                    session.models[kind], session.corpora[kind] = model.eval(), corpus
                    session.names[kind] = trained_name(event, steps, seed)
                yield final_status(event, learnt), curves, self.figures(session)
        finally:
            session.lock.release()


def _show(c: str) -> str:
    return {"\n": "↵ (newline)", " ": "␣ (space)", "|": "\\|"}.get(c, html.escape(c))
