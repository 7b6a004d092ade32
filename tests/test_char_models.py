"""Char-RNN and the tiny causal Transformer: the chain rule over characters (causal by
gradient, probabilities of all texts summing to 1), sampling, and learning real text."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from models.base import seeded_init
from models.char_rnn import CharRNN
from models.char_transformer import CharTransformer
from playground.core.text import pasted, shakespeare

TINY = {CharRNN: dict(hidden=12, layers=2, embed_dim=6), CharTransformer: dict(d_model=12, n_heads=2, n_layers=2, context=16)}
CLASSES = list(TINY)


@pytest.mark.parametrize("cls", CLASSES)
def test_output_t_does_not_depend_on_inputs_at_or_after_t(cls):
    model = seeded_init(cls, 0, alphabet="abcdefgh", **TINY[cls]).eval()
    x = torch.randint(0, 8, (2, 10), generator=torch.Generator().manual_seed(0))
    e = model.embed(model.inputs(x)).detach().requires_grad_(True)
    logits = model.logits_from_embeddings(e)
    for t in range(10):  # logits[:, t] predict x_t from e_0 (start) .. e_t (x_{t-1})
        (grad,) = torch.autograd.grad(logits[:, t].sum(), e, retain_graph=True)
        seen = grad.abs().sum((0, 2))
        assert float(seen[t + 1 :].sum()) == 0.0, f"position {t} sees the future"
        assert float(seen[t]) > 0, f"position {t} ignores the character just before it"


@pytest.mark.parametrize("cls", CLASSES)
def test_probabilities_of_all_texts_of_length_3_over_3_symbols_sum_to_1(cls):
    model = seeded_init(cls, 1, alphabet="abc", **TINY[cls]).eval()
    texts = ["".join(t) for t in itertools.product("abc", repeat=3)]
    x = torch.stack([model.encode(t) for t in texts])
    with torch.no_grad():
        total = float(model.log_prob(x).double().exp().sum())
    assert len(texts) == 27 and total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("cls", CLASSES)
def test_generation_is_seeded_keeps_the_prime_alphabet_and_reports_probabilities(cls):
    model = seeded_init(cls, 0, **TINY[cls]).eval()
    draw = lambda seed, temperature=1.0: list(model.generate(2, 30, "ROMEO:", temperature, torch.Generator().manual_seed(seed), chunk=10))  # noqa: E731
    a, b, c = draw(0), draw(0), draw(1)
    assert [s[0].shape for s in a] == [(2, 10), (2, 20), (2, 30)]
    codes, probs = a[-1]
    assert torch.equal(codes, b[-1][0]) and not torch.equal(codes, c[-1][0])
    assert codes.dtype == torch.int64 and 0 <= int(codes.min()) and int(codes.max()) < model.vocab_size
    assert bool(((probs > 0) & (probs <= 1)).all())


def test_a_low_temperature_picks_the_likeliest_character():
    model = seeded_init(CharRNN, 0, **TINY[CharRNN]).eval()
    with torch.no_grad():
        model.head.bias[31] += 1.0  # one character a nat more likely than the rest, wherever it is
    logits, _ = model.step(torch.cat([torch.tensor([[model.start]]), model.encode("AB").unsqueeze(0)], 1), None)
    hot = [int(list(model.generate(1, 1, "AB", 1.0, torch.Generator().manual_seed(s)))[-1][0][0, 0]) for s in range(20)]
    cold = [int(list(model.generate(1, 1, "AB", 0.05, torch.Generator().manual_seed(s)))[-1][0][0, 0]) for s in range(20)]
    assert int(logits.argmax()) == 31 and cold == [31] * 20 and len(set(hot)) > 5


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_values_are_refused_with_a_readable_message(cls):
    model = seeded_init(cls, 0, alphabet="abc", **TINY[cls])
    with pytest.raises(ValueError, match="never saw: 'z'"):
        model.encode("abz")
    with pytest.raises(ValueError, match="temperature"):
        next(model.generate(1, 5, "", 0.0))
    with pytest.raises(ValueError, match="codes must be in"):
        model.log_prob(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="repeats"):
        cls(alphabet="aab")


def test_the_transformer_refuses_a_text_longer_than_its_context():
    model = seeded_init(CharTransformer, 0, alphabet="ab", **TINY[CharTransformer])
    with pytest.raises(ValueError, match="at most 16 characters"):
        model.log_prob(torch.zeros(1, 17, dtype=torch.int64))
    # generation slides the context window instead
    codes, _ = list(model.generate(1, 40, "ab", 1.0, torch.Generator().manual_seed(0)))[-1]
    assert codes.shape == (1, 40)


def test_past_its_context_the_transformer_reads_a_window_as_it_was_trained_start_symbol_first():
    model = seeded_init(CharTransformer, 0, alphabet="abcd", **TINY[CharTransformer]).eval()  # context 16
    x = torch.randint(0, 4, (1, 40), generator=torch.Generator().manual_seed(0))
    inputs = torch.cat([torch.tensor([[model.start]]), x], 1)  # the start symbol, then 40 characters
    logits, state = model.step(inputs[:, :30], None)
    for t in range(30, 41):
        window = torch.cat([inputs[:, :1], inputs[:, t - 15 : t]], 1)  # start + the last 15
        with torch.no_grad():
            fresh = model.logits_from_embeddings(model.embed(window))[:, -1]
        assert torch.allclose(logits, fresh, atol=1e-6) and state.shape[1] == t
        logits, state = model.step(inputs[:, t : t + 1], state)
    model.train()
    list(model.generate(1, 5))
    assert model.training  # generation drew without dropout and gave the mode back


@pytest.mark.parametrize("cls", CLASSES)
def test_loss_falls_on_real_text(cls, one_thread):
    corpus = shakespeare()
    model = seeded_init(cls, 0, hidden=32, layers=1, embed_dim=16) if cls is CharRNN else seeded_init(cls, 0, d_model=32, n_heads=2, n_layers=1, context=64)
    x = corpus.inputs("train")[:, :64]
    test = corpus.inputs("test")[:16, :64]
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    with torch.no_grad():
        before = float(model.loss(test)["bits_per_char"])
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        batch = x[torch.randint(0, len(x), (16,), generator=g)]
        loss = model.loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float(model.loss(test)["bits_per_char"])
    assert before == pytest.approx(math.log2(62), abs=0.3) and after < before - 1.0


def test_corpus_split_is_by_position_and_pasted_text_is_checked():
    corpus = shakespeare()
    assert len(corpus.text) == 299_868 and len(corpus.alphabet) == 62
    assert corpus.part("train") + corpus.part("test") == corpus.text and corpus.part("test").startswith(corpus.text[corpus.cut])
    assert corpus.text[corpus.cut - 1] == "\n" and 0.89 < corpus.cut / len(corpus.text) < 0.91
    assert corpus.inputs("train").shape == (len(corpus.part("train")) // 128, 128)
    with pytest.raises(ValueError, match="at least 2,000"):
        pasted("too short")
    with pytest.raises(ValueError, match="paste a text"):
        pasted(None)
    mine = pasted("the cat sat on the mat.\r\n" * 100)
    assert mine.alphabet == "".join(sorted(set("the cat sat on the mat.\n"))) and "\r" not in mine.text
