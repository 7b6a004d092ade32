"""Push to the Hub (playground.core.hub_push, FamilyViews.push, the CLI's push, the checkpoint panel's {api}_push),
against the fake Hub of conftest, which answers what huggingface_hub sends.

huggingface_hub reads HF_ENDPOINT when it is imported, so the pushes that go all the way run in one subprocess (a
module fixture), whose results the tests read. The failures that stop at the first request (the token's check, with
a short timeout) and the checks made before any request run here, pointing ``constants.ENDPOINT`` (which that first
request reads when it is made) at the fake Hub, a closed port or a server that never answers.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time

import pytest
import torch
from conftest import HUB_READ_TOKEN, HUB_TOKEN, HUB_USER, ROOT, TINY, fake_hub
from huggingface_hub import constants
from PIL import Image

from models import VAE, MnistClassifier, WaveNet
from models.base import seeded_init
from playground.cli import _parse_settings, main
from playground.core import hub_push
from playground.core.checkpoints import CheckpointError

# Pushes through every layer: the service (a tiny VAE trained on "letters"), the CLI and the VAE tab's checkpoint panel.
_SCRIPT = """
import contextlib, io, json, os, sys
sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], "tests")]
import torch
torch.set_num_threads(1)
import gradio as gr
from panels import endpoint
from models import VAE
from models.base import seeded_init
from playground.cli import main
from playground.core import hub_push
from playground.core.checkpoints import load
from playground.core.data import load_mnist
from playground.ui.checkpoint_panel import CheckpointPanel
from playground.views.base import Context
from playground.views.vae import VaeViews

token, out = os.environ["HF_TOKEN"], {}

def attempt(name, call):
    try:
        out[name] = ["ok", call()]
    except (ValueError, gr.Error) as err:
        out[name] = ["error", str(getattr(err, "message", err))]

model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
model.trained_on = "letters.zip (200 images)"
samples, command = hub_push.sample_images(model, 16), hub_push.train_command(model)
attempt("push", lambda: hub_push.push(model, "tester/tiny-vae", token, private=True, notes="test ELBO -123.4 nats", samples=samples, command=command))
loaded = load("tester/tiny-vae")
ours, theirs = model.state_dict(), loaded.state_dict()
out["same_weights"] = ours.keys() == theirs.keys() and all(torch.equal(v, theirs[k]) for k, v in ours.items())
out["trained_on"] = loaded.trained_on
attempt("again", lambda: hub_push.push(model, "tester/tiny-vae", token, notes="test ELBO -123.4 nats", samples=samples, command=command))
attempt("elsewhere", lambda: hub_push.push(model, "someone/tiny-vae", token))

printed, logged = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(logged):
    out["cli"] = [main(["push", "vae", "tester/vae-digits", "--private"]), printed.getvalue(), logged.getvalue()]

views = VaeViews(Context(torch.device("cpu"), load_mnist("mnist-5k")))
with gr.Blocks() as demo:
    panel = CheckpointPanel.build(["vae"], "vae", "", prefix="vae")
    panel.bind(views, gr.State(None), "vae")
push = endpoint(demo, "vae_push")
attempt("panel", lambda: push(None, "tester/from-the-app", token, False))
attempt("panel_bad_token", lambda: push(None, "tester/from-the-app", "hf_NotTheRightToken", False))
attempt("panel_no_token", lambda: push(None, "tester/from-the-app", "", False))
out["cleared"] = [f.fn() for f in demo.fns.values() if panel.push_token in f.outputs and f.fn is not push]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """(what the script saw, the fake Hub's repos after it)."""
    with fake_hub(tmp_path_factory.mktemp("hub")) as (url, repos):
        env = {**os.environ, "HF_ENDPOINT": url, "HF_HOME": str(tmp_path_factory.mktemp("hf")), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": HUB_TOKEN}
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(ROOT)], env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield json.loads(proc.stdout.strip().splitlines()[-1]), repos


def test_a_push_round_trip_keeps_the_weights_the_data_and_makes_a_card_with_samples(pushed):
    out, repos = pushed
    assert out["push"] == ["ok", f"{repos.url}/tester/tiny-vae"]
    assert out["same_weights"] and out["trained_on"] == "letters.zip (200 images)"
    folder = repos["tester/tiny-vae"]
    assert json.loads((folder / "config.json").read_text())["dataset"] == "letters.zip (200 images)"
    assert "tester/tiny-vae" in repos.private
    # one commit of regular files (the fake Hub refuses LFS and Xet), then a second push updates the repo
    assert [c[2] for c in repos.commits if c[0] == "tester/tiny-vae"][0] == ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert out["again"][0] == "ok" and sum(c[0] == "tester/tiny-vae" for c in repos.commits) == 2
    grid = Image.open(folder / "samples.png")
    assert grid.format == "PNG" and grid.size == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2))  # 16 samples, 4 a row, twice the size


def test_the_card_names_the_data_and_the_command_and_shows_the_samples(pushed):
    _, repos = pushed
    card = (repos["tester/tiny-vae"] / "README.md").read_text()
    assert "Trained on: letters.zip (200 images)" in card and "![16 samples](samples.png)" in card
    assert "`python -m playground train vae --set latent_dim=2 'arch=\"mlp\"' hidden_dim=16 --data 'letters.zip (200 images)'`" in card
    assert "test ELBO -123.4 nats" in card
    app_card = (repos["tester/from-the-app"] / "README.md").read_text()
    assert "Trained on: the bundled MNIST digits (mnist-5k)" in app_card and "![64 samples](samples.png)" in app_card
    assert "python -m playground train vae" in app_card and "test ELBO" in app_card  # the view's description: its metrics


def test_someone_elses_namespace_is_refused_without_the_token(pushed):
    out, repos = pushed
    assert out["elsewhere"][0] == "error" and "403" in out["elsewhere"][1] and "'someone/tiny-vae'" in out["elsewhere"][1]
    assert f"user {HUB_USER!r}" in out["elsewhere"][1] and HUB_TOKEN not in out["elsewhere"][1]
    assert "someone/tiny-vae" not in repos


def test_the_cli_pushes_a_bundled_checkpoint_with_the_token_from_the_environment(pushed):
    out, repos = pushed
    code, printed, logged = out["cli"]
    assert code == 0 and printed.strip() == f"{repos.url}/tester/vae-digits"
    assert HUB_TOKEN not in printed + logged
    assert "tester/vae-digits" in repos.private
    bundled = ROOT / "assets" / "checkpoints" / "vae"
    assert (repos["tester/vae-digits"] / "model.safetensors").read_bytes() == (bundled / "model.safetensors").read_bytes()
    card = (repos["tester/vae-digits"] / "README.md").read_text()
    assert (repos["tester/vae-digits"] / "samples.png").is_file() and "![64 samples](samples.png)" in card
    # the bundled checkpoint's own card said how it was trained and its test losses: the pushed card keeps that
    assert "Trained with `python -m playground train vae --steps 1750 --seed 0`" in card and '"elbo": -106.4' in card


def test_the_checkpoint_panels_push_api_pushes_the_sessions_model_and_clears_the_token(pushed):
    out, repos = pushed
    assert out["panel"] == ["ok", f"Pushed to [{repos.url}/tester/from-the-app]({repos.url}/tester/from-the-app)."]
    assert "tester/from-the-app" not in repos.private and (repos["tester/from-the-app"] / "samples.png").is_file()
    assert out["panel_bad_token"][0] == "error" and "401" in out["panel_bad_token"][1] and "NotTheRightToken" not in out["panel_bad_token"][1]
    # an empty token box is refused even though the server has HF_TOKEN set: a visitor never pushes with the server's token
    assert out["panel_no_token"][0] == "error" and "give a Hugging Face access token" in out["panel_no_token"][1]
    assert out["cleared"] == [""]


def test_bad_input_is_refused_before_any_request():
    model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
    for repo_id in ("noslash", "a/b/c", "../x", "a/..b", "-a/b", "x" * 300 + "/y", 42, None):
        with pytest.raises(CheckpointError, match="owner/name") as err:
            hub_push.push(model, repo_id, HUB_TOKEN)
        assert len(str(err.value)) < 200
    for token in ("", "   ", None, 42):
        with pytest.raises(ValueError, match="give a Hugging Face access token"):
            hub_push.push(model, "tester/x", token)
    for token in ("two words", "hf_tokén", "hf_" + "x" * 600, "hf_a\nb"):
        with pytest.raises(ValueError, match="not a Hugging Face access token") as err:
            hub_push.push(model, "tester/x", token)
        assert token.strip()[:6] not in str(err.value)
    with pytest.raises(ValueError, match="private must be true or false"):
        hub_push.push(model, "tester/x", HUB_TOKEN, private="yes")
    for samples, message in ((torch.zeros(4, 28, 28), r"\(N, 1, 28, 28\)"), (torch.zeros(300, 1, 28, 28), "N <= 256"), (torch.full((2, 1, 28, 28), float("nan")), "NaN")):
        with pytest.raises(ValueError, match=message):
            hub_push.push(model, "tester/x", HUB_TOKEN, samples=samples)


def test_the_first_request_says_a_bad_or_read_only_token_or_no_hub_quickly(hub_server, monkeypatch):
    endpoint, repos = hub_server
    model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    with pytest.raises(ValueError, match="refused the token \\(401") as err:
        hub_push.push(model, "tester/x", "hf_WrongToken123")
    assert "WrongToken" not in str(err.value)
    with pytest.raises(ValueError, match=f"token of '{HUB_USER}' is read-only"):
        hub_push.push(model, "tester/x", HUB_READ_TOKEN)
    assert not repos.commits and "tester/x" not in repos
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(ValueError, match="could not reach the Hub \\(offline\\?\\)"):
        hub_push.push(model, "tester/x", HUB_TOKEN)
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(hub_push, "CONNECT_TIMEOUT_S", 0.5)
        with pytest.raises(ValueError, match="did not answer within 0.5 s \\(offline\\?\\)"):
            hub_push.push(model, "tester/x", HUB_TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="offline \\(HF_HUB_OFFLINE is set\\)"):
        hub_push.push(model, "tester/x", HUB_TOKEN)
    assert time.perf_counter() - start < 5


def test_the_cli_asks_for_a_token_and_never_prints_it(hub_server, monkeypatch, capsys):
    endpoint, _ = hub_server
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["push", "vae", "tester/x"]) == 2
    assert "set HF_TOKEN (or pass --token)" in capsys.readouterr().err
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    assert main(["push", "vae", "tester/x", "--token", "hf_WrongToken123"]) == 2
    printed = capsys.readouterr()
    assert "401" in printed.err and "WrongToken" not in printed.out + printed.err


def test_samples_and_the_command_of_a_model():
    model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
    a, b, c = hub_push.sample_images(model, 8), hub_push.sample_images(model, 8), hub_push.sample_images(model, 8, seed=1)
    assert a.shape == (8, 1, 28, 28) and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert hub_push.sample_images(seeded_init(MnistClassifier, 0, **TINY["classifier"][1])) is None
    assert hub_push.sample_images(seeded_init(WaveNet, 0, **TINY["wavenet"][1])) is None
    assert hub_push.train_command(VAE()) == "python -m playground train vae"
    for name in ("made-masks", "cgan-wgan-sn", "vae-conv"):
        cls, config = TINY[name]
        model = seeded_init(cls, 0, **config)
        words = shlex.split(hub_push.train_command(model))
        assert words[:6] == ["python", "-m", "playground", "train", model.family, "--set"]
        # what the shell passes on and the CLI parses rebuilds the architecture, naming only what differs from the defaults
        assert cls(**_parse_settings(words[6:])).config == model.config and "arch=conv" not in " ".join(words)
