"""The Text page's views, without gradio: sampling after a prime, the per-character
probabilities, held-out bits per character, and a live training run that can be stopped."""

from __future__ import annotations

import threading

import pytest
import torch

from playground.core.text import shakespeare
from playground.views.base import Context
from playground.views.text import SCORED, TextViews


@pytest.fixture(scope="module")
def views(data):
    return TextViews(Context(device=torch.device("cpu"), data=data))


def test_sampling_streams_text_after_the_prime_and_is_seeded(views, one_thread):
    session = views.session(None)
    steps = list(views.sample(session, "rnn", "ROMEO:\n", 0.8, 60, 3))
    assert len(steps) == 3 and "60 of 60 characters" in steps[-1][1] and "characters/s" in steps[-1][1]
    html_text = steps[-1][0]
    assert html_text.startswith('<pre class="pg-text"') and "<b>ROMEO:\n</b>" in html_text and html_text.count("<span") == 60
    assert list(views.sample(session, "rnn", "ROMEO:\n", 0.8, 60, 3))[-1][0] == html_text
    assert list(views.sample(session, "transformer", "ROMEO:\n", 0.8, 60, 4))[-1][0] != html_text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="lstm"), "model must be one of"), (dict(temperature=0), "temperature"), (dict(length=5000), "length"),
        (dict(prime="é"), "never saw: 'é'"), (dict(prime="x" * 501), "at most 500"), (dict(seed=-1), "seed"), (dict(prime=None), "prime"),
    ],
)
def test_bad_sampling_values_are_refused(views, kwargs, message):
    with pytest.raises(ValueError, match=message):
        list(views.sample(views.session(None), **kwargs))


def test_scoring_shows_each_characters_probability_and_the_top_guesses(views):
    session = views.session(None)
    picture, table = views.score(session, "rnn", SCORED)
    assert picture.count("<span") == len(SCORED) and "| next character | p |" in table
    probs = [float(t.split('"p = ')[1].split('"')[0]) for t in picture.split("<span")[1:]]
    bits = float(table.split("nats, ")[1].split(" bits")[0])
    assert bits == pytest.approx(-sum(torch.tensor(probs).log2()).item() / len(SCORED), abs=0.02)
    assert bits < 3.0  # the bundled model has learnt English: well under uniform (5.95)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "next character" not in line]
    assert len(rows) == 5 and sorted([float(r.split("|")[2]) for r in rows], reverse=True) == [float(r.split("|")[2]) for r in rows]
    _, at_3 = views.score(session, "transformer", "MENENIUS", 3)
    assert "character 3 was **N**" in at_3
    for text, position, message in (("", None, "1 to 128"), ("x" * 129, None, "1 to 128"), ("abc", 4, "position"), ("é", None, "never saw")):
        with pytest.raises(ValueError, match=message):
            views.score(session, "rnn", text, position)


def test_figures_give_held_out_bits_per_character_for_both_models(views):
    figures = views.figures(views.session(None))
    rows = [line for line in figures.splitlines() if line.startswith("| Char-RNN") or line.startswith("| tiny")]
    assert len(rows) == 2 and "29,979 characters" in rows[0]
    bpc = [float(r.rstrip(" |").split("|")[-1]) for r in rows]
    assert all(1.0 < b < 3.5 for b in bpc)


def test_training_on_pasted_text_replaces_the_model_and_stop_keeps_weights(views, one_thread):
    session = views.session(None)
    text = "to be or not to be, that is the question.\n" * 60
    run = list(views.train(session, "transformer", "my pasted text", text, 20, 1e-2, 0, stop=threading.Event()))
    assert run[0][0].startswith("Training a new tiny causal Transformer on your pasted text")
    assert run[-1][0].startswith("**done**") and "trained here (20 steps, seed 0)" in run[-1][2]
    model = session.models["transformer"]
    assert model.alphabet == "".join(sorted(set(text))) and session.names["transformer"].startswith("trained here")
    assert session.models["rnn"] is views.bundled["rnn"]
    _, table = views.score(session, "transformer", "to be or not")
    assert "never saw" not in table
    with pytest.raises(ValueError, match="at least 2,000"):
        list(views.train(session, "rnn", "my pasted text", "short", 20, 1e-2, 0, stop=threading.Event()))
    stop = threading.Event()
    stop.set()
    stopped = list(views.train(session, "rnn", "Tiny Shakespeare", "", 2000, 1e-3, 0, stop=stop))
    assert stopped[-1][0].startswith("**stopped**") and shakespeare().name == "tiny-shakespeare"
    assert views.restore(session).models["transformer"] is views.bundled["transformer"]
