"""Training on your own images: a zip of letter-like images becomes a session's data, every image family trains on it
through the Train buttons' binding, the model names it in its config and card, the digit judges say "not available",
and other sessions keep the digits."""

from __future__ import annotations

import json
import threading
import zipfile

import pytest
import torch
from images import letters_zip
from panels import build_tab, endpoint, session_request

from playground.core import checkpoints
from playground.ui.tabs.vae import VaeTab
from playground.views.base import NOT_DIGITS, Context
from playground.views.boltzmann import BoltzmannViews
from playground.views.datasets import DataViews
from playground.views.gan import GanViews
from playground.views.vae import VaeViews


@pytest.fixture(scope="module")
def ctx(data):
    return Context(device=torch.device("cpu"), data=data)


@pytest.fixture(scope="module")
def letters(ctx, tmp_path_factory):
    """Session "class-a" chose a zip of 200 letters; its dataset."""
    path = letters_zip(tmp_path_factory.mktemp("own") / "letters.zip", 200)
    preview, summary, line = DataViews(ctx).upload("class-a", [str(path)])
    assert preview.dtype.name == "uint8" and preview.ndim == 2 and preview.shape[0] > 28
    assert "180" in summary and "20" in summary and "letters" in line
    return ctx.training_data("class-a")


def test_the_chosen_images_are_this_sessions_only(ctx, letters):
    assert letters is not ctx.data and not letters.digits
    assert letters.train_grey.shape == (180, 1, 28, 28) and letters.test_grey.shape == (20, 1, 28, 28)
    assert ctx.training_data("class-b") is ctx.data  # another session keeps the digits
    views = DataViews(ctx)
    assert "mnist-5k" in views.line("class-b") and "letters" in views.line("class-a")


def test_a_vae_trains_on_the_letters_samples_and_its_card_names_them(ctx, letters, tmp_path):
    views = VaeViews(ctx)
    session = views.session(None)
    updates = list(views.train(session, 2, "mlp", 1.0, 3e-3, 20, 0, stop=threading.Event(), data=letters))
    assert "done" in updates[-1][0] and session.view.model.trained_on == letters.describe()
    samples = views.samples(session, 0)
    assert samples.dtype.name == "uint8" and samples.shape[0] > 100
    assert session.view.test_images().shape == (20, 1, 28, 28)  # its panels show its own test images
    with zipfile.ZipFile(views.download(session)) as archive:
        names = archive.namelist()
        config = json.loads(archive.read(next(n for n in names if n.endswith("config.json"))))
        card = archive.read(next(n for n in names if n.endswith("README.md"))).decode()
    assert config["dataset"] == letters.describe() and f"Trained on: {letters.describe()}" in card
    folder = tmp_path / "unzipped"
    folder.mkdir()
    loaded = checkpoints.load(str(checkpoints.unpack_zip(views.download(session), folder)), family="vae")
    assert loaded.trained_on == letters.describe()
    assert "letters" in views.describe(session)


def test_the_digit_judges_say_not_available_for_letters(ctx, letters):
    gan = GanViews(ctx)
    session = gan.session(None)
    updates = list(gan.train(session, False, "non_saturating", 1, 2e-4, 2e-4, 8, 16, False, False, 0.0, 3, 0, stop=threading.Event(), data=letters))
    assert NOT_DIGITS in updates[-1][0] and NOT_DIGITS in gan.describe(session)
    boltzmann = BoltzmannViews(ctx)
    session = boltzmann.session(None)
    updates = list(boltzmann.train(session, 16, "CD", 1, 0.05, 1, 0.5, 0.0, False, 0, stop=threading.Event(), data=letters))
    assert NOT_DIGITS in updates[-1][0] and "letters" in boltzmann.describe(session)
    assert boltzmann.reconstructions(session).shape[1] > 28


def test_bad_settings_and_no_files_keep_the_sessions_data(ctx, letters):
    views = DataViews(ctx)
    for args, words in [((None,), "choose"), (([],), "choose"), ((["x.zip"], "sideways"), "invert"), ((["x.zip"], "auto", "pad", 0.9), "test fraction")]:
        with pytest.raises(ValueError, match=words):
            views.upload("class-a", *args)
    assert ctx.training_data("class-a") is letters



def test_the_train_button_of_each_session_uses_that_sessions_data(data, letters):
    """Through the app's own ``vae_train`` endpoint (as a browser or ``gradio_client`` reaches it): alice chose the
    letters, bob did not."""
    demo, tab = build_tab(VaeTab, data)
    tab.ctx.datasets.set("alice", letters)
    train = endpoint(demo, "vae_train")
    for who, expected in (("alice", letters.describe()), ("bob", "")):
        updates = list(train(None, 2, "mlp", 1.0, 3e-3, 10, 0, session_request(who)))
        session = updates[0][0]
        assert session.view.model.trained_on == expected, who
        assert "done" in updates[-1][1]


def test_the_cli_trains_on_a_zip_and_its_card_says_so(tmp_path):
    from playground.cli import main
    from playground.core.hub_push import train_command

    path = letters_zip(tmp_path / "letters.zip", 40)
    out = tmp_path / "run"
    assert main(["train", "vae", "--steps", "5", "--eval-every", "0", "--data", str(path), "--out", str(out), "--set", 'arch="mlp"', "hidden_dim=16"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"].startswith("letters.zip: 36 train / 4 test images")
    card = (out / "README.md").read_text()
    assert "--data letters.zip" in card and "` on letters.zip: 36 train / 4 test images" in card
    model = checkpoints.load(str(out))
    assert train_command(model).endswith("--data letters.zip")
    assert main(["train", "wavenet", "--steps", "1", "--data", str(path), "--out", str(tmp_path / "wn")]) == 2  # images, not audio
