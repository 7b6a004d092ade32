"""Character-level language models: the chain rule over characters, and Char-RNN.

A text x_1..x_T over an alphabet of V characters is modelled as p(x) = prod_t p(x_t | x_<t),
each factor a softmax over the V characters. Position 1 is conditioned on a **start
symbol** (index V, not a character), so p(x_1) is modelled too and the probabilities of all
V^T texts of length T sum to 1. This is the pixel-by-pixel picture of the autoregressive
tab with characters in place of pixels.

``CharModel`` holds what both families share (the alphabet, encoding, log-likelihood in
nats and bits per character, temperature sampling with a prime); ``CharRNN`` is the
recurrent one:

Karpathy 2015, "The Unreasonable Effectiveness of Recurrent Neural Networks" (char-rnn);
Graves 2013, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850.
Its LSTM (Hochreiter & Schmidhuber 1997) reads one character per step and keeps a state,
so generation costs one step per character, however long the text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import check_float, check_int

MAX_ALPHABET = 256
MAX_GENERATE = 5000  # characters per call
SAMPLE_LENGTH = 200  # characters drawn by ``sample``
TEMPERATURE_RANGE = (0.05, 3.0)
# The 62 characters of the bundled Tiny Shakespeare (assets/data/tinyshakespeare.txt): the default alphabet.
SHAKESPEARE_ALPHABET = "\n !&',-.:;?ABCDEFGHIJKLMNOPQRSTUVWYZabcdefghijklmnopqrstuvwxyz"


def check_alphabet(alphabet: Any) -> str:
    """An alphabet: a string of 2 to 256 distinct characters.

    Raises:
        ValueError: not a string, too short or long, or a repeated character.
    """
    if not isinstance(alphabet, str) or not 2 <= len(alphabet) <= MAX_ALPHABET:
        raise ValueError(f"the alphabet must be a string of 2 to {MAX_ALPHABET} characters")
    if len(set(alphabet)) != len(alphabet):
        raise ValueError("the alphabet repeats a character")
    return alphabet


class CharModel(GenerativeModel):
    """Base of the character models (see the module docstring).

    Inputs are texts as int64 codes (B, T) in [0, V - 1], V = ``len(alphabet)``; the start
    symbol is code V. A subclass implements ``logits_from_embeddings`` (the network over
    embedded inputs) and ``step`` (one character of generation with a state).

    Class attributes:
        max_len: the longest text ``log_prob`` takes (None: any length).
    """

    data_kind: ClassVar[str] = "text"
    nll_kind: ClassVar[str] = "exact"
    eval_batch_size: ClassVar[int] = 64
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 2000, "lr": 3e-3, "batch_size": 32}
    max_len: int | None = None

    def __init__(self, alphabet: str, embed_dim: int):
        super().__init__()
        self.alphabet = check_alphabet(alphabet)
        self.vocab_size = len(alphabet)
        self.start = self.vocab_size
        self._index = {c: i for i, c in enumerate(alphabet)}
        self.embed = nn.Embedding(self.vocab_size + 1, check_int("embed_dim", embed_dim, 2, 1024))

    # -- text <-> codes --------------------------------------------------------------------------
    def encode(self, text: str) -> Tensor:
        """``text`` as (len,) int64 codes. Raises ValueError: a character outside the alphabet (named)."""
        if not isinstance(text, str):
            raise ValueError("the text must be a string")
        unknown = sorted({c for c in text if c not in self._index})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:8])
            raise ValueError(f"the text has {len(unknown)} character(s) this model never saw: {shown}")
        return torch.tensor([self._index[c] for c in text], dtype=torch.int64)

    def decode(self, codes: Tensor | list[int]) -> str:
        """Codes in [0, V - 1] back to a string."""
        return "".join(self.alphabet[int(i)] for i in codes)

    def check_codes(self, x: Tensor) -> Tensor:
        """Validate a batch of texts (B, T) int64 in [0, V - 1]. Raises ValueError."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype != torch.int64 or x.shape[1] < 1:
            raise ValueError(f"texts must be int64 codes of shape (B, T), T >= 1, got {getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
        if bool(((x < 0) | (x >= self.vocab_size)).any()):
            raise ValueError(f"codes must be in [0, {self.vocab_size - 1}]")
        if self.max_len is not None and x.shape[1] > self.max_len:
            raise ValueError(f"this model reads at most {self.max_len} characters at once, got {x.shape[1]}")
        return x

    # -- likelihood ------------------------------------------------------------------------------
    def inputs(self, x: Tensor) -> Tensor:
        """The network's inputs for texts ``x`` (B, T): the start symbol, then x_1..x_{T-1}."""
        start = torch.full((x.shape[0], 1), self.start, dtype=torch.int64, device=x.device)
        return torch.cat([start, x[:, :-1]], dim=1)

    def logits_from_embeddings(self, e: Tensor) -> Tensor:
        """Logits (B, T, V) from embedded inputs ``e`` (B, T, embed_dim); position t sees e_0..e_t only."""
        raise NotImplementedError

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, T, V) logits: position t is the softmax over x_t given the start symbol and x_<t."""
        x = self.check_codes(x)
        return self.logits_from_embeddings(self.embed(self.inputs(x.to(self.device))))

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x) in nats, (B,) float32, exact (the sum of the T conditionals)."""
        logp = F.log_softmax(self.logits(x), dim=-1)
        return logp.gather(-1, x.to(self.device).unsqueeze(-1)).squeeze(-1).sum(1)

    def char_log_probs(self, x: Tensor) -> Tensor:
        """(B, T, V) log-probabilities of every character at every position (nats)."""
        return F.log_softmax(self.logits(x), dim=-1)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``loss``: mean negative log-likelihood in nats per character; ``bits_per_char``: the same in bits."""
        nats = -self.log_prob(x).sum() / x.numel()
        return {"loss": nats, "bits_per_char": nats / math.log(2)}

    # -- generation ------------------------------------------------------------------------------
    def step(self, codes: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One step: the logits (B, V) of the next character after ``codes`` (B, k) int64 (the
        new inputs, k >= 1, the first call starting with the start symbol), and the new state."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(
        self, n: int, length: int, prime: str = "", temperature: float = 1.0, generator: torch.Generator | None = None, chunk: int = 20,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Draw ``n`` texts of ``length`` new characters after ``prime``, by temperature sampling
        (softmax(logits / temperature)); yields every ``chunk`` characters and at the end the
        codes so far (n, k) int64 and each drawn character's probability under the model at
        temperature 1 (n, k) float32 in (0, 1].

        Args:
            n: 1 to 64 texts; length: 1 to 5,000; temperature: 0.05 to 3; prime: characters of
                the alphabet (may be empty).

        Raises:
            ValueError: a value out of range or a prime character outside the alphabet.
        """
        n = check_int("texts", n, 1, 64)
        length = check_int("length", length, 1, MAX_GENERATE)
        temperature = check_float("temperature", temperature, *TEMPERATURE_RANGE)
        primed = self.encode(prime).to(self.device)
        start = torch.full((n, 1), self.start, dtype=torch.int64, device=self.device)
        was_training = self.training
        self.eval()  # no dropout while drawing, even from a model in the middle of training
        try:
            logits, state = self.step(torch.cat([start, primed.expand(n, -1)], 1), None)
            codes, probs = [], []
            for t in range(length):
                p = F.softmax(logits.float() / temperature, dim=-1)
                nxt = torch.multinomial(p.cpu(), 1, generator=generator).to(self.device)
                probs.append(F.softmax(logits.float(), -1).gather(1, nxt).squeeze(1))
                codes.append(nxt.squeeze(1))
                if (t + 1) % chunk == 0 or t + 1 == length:
                    yield torch.stack(codes, 1), torch.stack(probs, 1)
                if t + 1 < length:
                    logits, state = self.step(nxt, state)
        finally:
            self.train(was_training)

    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` texts of 200 characters at temperature 1: (n, 200) int64 codes."""
        *_, (codes, _) = self.generate(n, SAMPLE_LENGTH, generator=generator, chunk=SAMPLE_LENGTH)
        return codes

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in steps of 20 characters (None between), the codes last."""
        codes = None
        for codes, _ in self.generate(n, SAMPLE_LENGTH, generator=generator):
            yield None
        yield codes


class CharRNN(CharModel, paper_url="https://arxiv.org/abs/1308.0850", tags=["text", "char-rnn"]):
    """Char-RNN: embedding, a stacked LSTM, a linear softmax head (Karpathy 2015; Graves 2013,
    arXiv:1308.0850).

    Args:
        alphabet: the characters, 2 to 256 distinct; hidden: LSTM units, 8 to 2048; layers: 1
            to 4; embed_dim: 2 to 1024; dropout: between layers, 0 to 0.5.

    Raises:
        ValueError: a setting out of range.
    """

    family: ClassVar[str] = "char_rnn"
    title: ClassVar[str] = "Char-RNN (LSTM)"

    def __init__(self, alphabet: str = SHAKESPEARE_ALPHABET, hidden: int = 256, layers: int = 2, embed_dim: int = 64, dropout: float = 0.0):
        super().__init__(alphabet, embed_dim)
        self.hidden, self.layers = check_int("hidden", hidden, 8, 2048), check_int("layers", layers, 1, 4)
        self.dropout = check_float("dropout", dropout, 0.0, 0.5)
        self.lstm = nn.LSTM(embed_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, self.vocab_size)

    def logits_from_embeddings(self, e: Tensor) -> Tensor:
        """(B, T, V) logits; the LSTM runs left to right, so position t sees e_0..e_t only."""
        return self.head(self.lstm(e)[0])

    def step(self, codes: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The LSTM state carries the whole past: each step reads only the new characters."""
        out, state = self.lstm(self.embed(codes), state)
        return self.head(out[:, -1]), state
