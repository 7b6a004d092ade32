"""Text for the character models: the bundled Tiny Shakespeare or a pasted text, split by
position into train and held-out parts, cut into windows of characters. No gradio here.

The held-out part is the end of the text (from the first line start after 90% of it), so
the bits per character measured on it are on lines the model never read. Training windows
are non-overlapping, 128 characters each; each is read from a start symbol (see
``models.char_rnn``), and so are the held-out windows behind the bits per character.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from models.char_rnn import MAX_ALPHABET, CharModel

CORPUS_PATH = Path(__file__).resolve().parents[2] / "assets" / "data" / "tinyshakespeare.txt"
CORPUS_NAME = "tiny-shakespeare"
WINDOW = 128
HELD_OUT = 0.1
MIN_PASTED = 2000  # characters: at least a dozen training windows and one held-out one
MAX_PASTED = 1_000_000


@dataclass(eq=False)
class TextSplits:
    """A text split into a train part and a held-out part (the last ~10%), both as windows.

    Attributes:
        text: the whole text; alphabet: its sorted distinct characters; cut: where the held-out part starts (a character index).
        name: "tiny-shakespeare" or "pasted text".
    """

    text: str
    alphabet: str
    cut: int
    name: str

    @functools.cached_property
    def _codes(self) -> Tensor:
        index = {c: i for i, c in enumerate(self.alphabet)}
        return torch.tensor([index[c] for c in self.text], dtype=torch.int64)

    def part(self, split: str) -> str:
        """The train or test part as a string. Raises ValueError: another split name."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {split!r}")
        return self.text[: self.cut] if split == "train" else self.text[self.cut :]

    def inputs(self, split: str, kind: str = "text") -> Tensor:
        """(N, 128) int64 windows of ``split`` (non-overlapping, in order; the tail shorter than a window is dropped)."""
        if kind != "text":
            raise ValueError(f"this is text; a {kind!r} model cannot train on it")
        codes = self._codes[: self.cut] if split == "train" else self._codes[self.cut :]
        if split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {split!r}")
        n = len(codes) // WINDOW
        return codes[: n * WINDOW].view(n, WINDOW)

    def labels(self, split: str) -> Tensor:
        """Zeros, one per window (the character models take no labels)."""
        return torch.zeros(len(self.inputs(split)), dtype=torch.int64)

    @property
    def test_labels(self) -> Tensor:
        return self.labels("test")

    def describe(self) -> str:
        """One line: which text, its size, alphabet and split."""
        return (
            f"{'Tiny Shakespeare (the first 300 KB)' if self.name == CORPUS_NAME else 'your pasted text'}: {len(self.text):,} characters, "
            f"{len(self.alphabet)} distinct; the last {len(self.text) - self.cut:,} held out"
        )


def _split(text: str, name: str, alphabet: str | None = None) -> TextSplits:
    at = int(len(text) * (1 - HELD_OUT))
    newline = text.find("\n", at)
    cut = newline + 1 if 0 <= newline < len(text) - WINDOW else at
    return TextSplits(text, alphabet or "".join(sorted(set(text))), cut, name)


@functools.lru_cache(maxsize=1)
def shakespeare() -> TextSplits:
    """The bundled corpus (assets/data/tinyshakespeare.txt, 299,868 characters; see SOURCE.md there)."""
    return _split(CORPUS_PATH.read_text(encoding="utf-8"), CORPUS_NAME)


def pasted(text: object) -> TextSplits:
    """A pasted text as a corpus, with its own alphabet (its distinct characters, sorted).
    Line endings become "\\n".

    Raises:
        ValueError: not a string, shorter than 2,000 or longer than 1,000,000 characters,
            fewer than 2 or more than 256 distinct characters.
    """
    if not isinstance(text, str):
        raise ValueError("paste a text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) < MIN_PASTED:
        raise ValueError(f"paste at least {MIN_PASTED:,} characters to train on (got {len(text):,}): the last 10% are held out")
    if len(text) > MAX_PASTED:
        raise ValueError(f"paste at most {MAX_PASTED:,} characters (got {len(text):,})")
    distinct = len(set(text))
    if not 2 <= distinct <= MAX_ALPHABET:
        raise ValueError(f"the text must have 2 to {MAX_ALPHABET} distinct characters, it has {distinct}")
    return _split(text, "pasted text")


def text_for(name: str | None) -> TextSplits:
    """The corpus for the CLI's --dataset (None or "tiny-shakespeare"). Raises ValueError: another name."""
    if name not in (None, CORPUS_NAME):
        raise ValueError(f"the character models train on text: --dataset must be {CORPUS_NAME}, got {name!r}")
    return shakespeare()


@torch.no_grad()
def bits_per_char(model: CharModel, splits: TextSplits, split: str = "test", max_windows: int | None = None) -> float:
    """The model's mean negative log-likelihood on the windows of ``split`` (each read from
    the start symbol), in bits per character. A text with characters outside the model's
    alphabet raises ValueError (named)."""
    if splits.alphabet != model.alphabet:
        model.encode(splits.part(split))  # raises naming the unknown characters, if any
        x = torch.stack([model.encode(w) for w in _windows(splits.part(split))])
    else:
        x = splits.inputs(split)
    x = x[:max_windows] if max_windows else x
    was_training = model.training
    model.eval()
    try:
        nats = sum(float(-model.log_prob(chunk).sum()) for chunk in x.split(64))
    finally:
        model.train(was_training)
    return nats / x.numel() / math.log(2)


def _windows(text: str) -> list[str]:
    return [text[i : i + WINDOW] for i in range(0, len(text) - WINDOW + 1, WINDOW)]
