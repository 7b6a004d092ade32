"""A tiny causal Transformer over characters, beside Char-RNN (``models.char_rnn``).

Each position attends to itself and the positions before it only (a causal mask on the
self-attention), so the logits at t are a function of the start symbol and x_<t: the same
chain rule as the LSTM, with attention over a fixed context instead of a recurrent state.
Learnt position embeddings; pre-norm blocks (self-attention, then an MLP of 4x width).

Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762; the decoder-only
language model of Radford et al. 2018 (GPT).

Generation recomputes the window for each new character (no key/value cache): at this
size that costs a few milliseconds a character on a CPU. Past ``context`` inputs the window
slides, and keeps the start symbol at position 0 followed by the last ``context - 1``
characters: exactly what a training window looks like (the start symbol, then text from
anywhere in the corpus), so the model never reads a position or a first input it was not
trained on. Train on windows of ``context`` characters (the playground's are 128).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.char_rnn import SHAKESPEARE_ALPHABET, CharModel
from models.checks import check_float, check_int


class CharTransformer(CharModel, paper_url="https://arxiv.org/abs/1706.03762", tags=["text", "transformer"]):
    """A decoder-only Transformer over characters (see the module docstring).

    Args:
        alphabet: the characters, 2 to 256 distinct; d_model: 8 to 1024, a multiple of
            n_heads; n_heads: 1 to 16; n_layers: 1 to 12; context: the longest text read at
            once, 8 to 2048 characters (the start symbol included); dropout: 0 to 0.5.

    Raises:
        ValueError: a setting out of range, or a text longer than ``context`` given to ``log_prob``.
    """

    family: ClassVar[str] = "char_transformer"
    title: ClassVar[str] = "tiny causal Transformer"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 2000, "lr": 1e-3, "batch_size": 32}

    def __init__(self, alphabet: str = SHAKESPEARE_ALPHABET, d_model: int = 128, n_heads: int = 4, n_layers: int = 3, context: int = 128, dropout: float = 0.1):
        super().__init__(alphabet, check_int("d_model", d_model, 8, 1024))
        self.n_heads = check_int("n_heads", n_heads, 1, 16)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_layers, self.context = check_int("n_layers", n_layers, 1, 12), check_int("context", context, 8, 2048)
        self.max_len = self.context
        self.position = nn.Embedding(self.context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, check_float("dropout", dropout, 0.0, 0.5), batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.vocab_size)

    def logits_from_embeddings(self, e: Tensor) -> Tensor:
        """(B, T, V) logits, T <= context; the causal mask keeps position t to e_0..e_t."""
        t = e.shape[1]
        h = e + self.position(torch.arange(t, device=e.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=e.device, dtype=h.dtype)
        return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True)))

    def step(self, codes: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The state is the inputs so far, the start symbol first; the window read again is
        all of them, or past ``context`` the start symbol and the last ``context - 1``."""
        state = codes if state is None else torch.cat([state, codes], 1)
        window = state if state.shape[1] <= self.context else torch.cat([state[:, :1], state[:, 1 - self.context :]], 1)
        return self.logits_from_embeddings(self.embed(window))[:, -1], state
