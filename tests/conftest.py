"""Shared fixtures: the data, a registry of tiny configs per family, a local Hub server."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import sys
import threading
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import (  # noqa: E402
    DBN,
    GAN,
    MADE,
    NADE,
    RBM,
    VAE,
    VQVAE,
    VQVAE2,
    ConditionalGAN,
    GatedPixelCNN,
    MnistClassifier,
    PixelCNN,
    PixelRNN,
    WaveNet,
)
from playground.core.data import load_mnist  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))

# One tiny configuration per family (and architecture), for fast contract tests. Later
# families add a line here and get every contract test for free.
TINY = {
    "vae-mlp": (VAE, dict(latent_dim=2, arch="mlp", hidden_dim=32)),
    "vae-conv": (VAE, dict(latent_dim=4, arch="conv", hidden_dim=16)),
    "classifier": (MnistClassifier, dict(width=4, n_features=8)),
    "gan": (GAN, dict(latent_dim=8, width=8)),
    "gan-mbstd-dropout": (GAN, dict(latent_dim=8, width=8, minibatch_std=True, d_dropout=0.3)),
    "cgan-wgan-sn": (ConditionalGAN, dict(latent_dim=8, width=8, loss="wgan_gp", spectral_norm=True, g_blocks=0)),
    "rbm": (RBM, dict(n_hidden=16, n_gibbs=5, ais_betas=20, ais_runs=4)),
    "rbm-cd3": (RBM, dict(n_hidden=8, cd_k=3, persistent=False, n_gibbs=3)),
    "dbn": (DBN, dict(hidden_sizes=[16, 8], steps_per_layer=5, n_gibbs=5)),
    "nade": (NADE, dict(n_hidden=16)),
    "made": (MADE, dict(hidden_sizes=[24])),
    "made-masks": (MADE, dict(hidden_sizes=[24, 24], n_masks=4)),
    "pixelcnn": (PixelCNN, dict(channels=8, n_layers=2)),
    "gated_pixelcnn": (GatedPixelCNN, dict(channels=8, n_layers=2)),
    "gated_pixelcnn-cond": (GatedPixelCNN, dict(channels=8, n_layers=2, n_classes=10)),
    "pixelrnn": (PixelRNN, dict(channels=4, n_layers=1)),
    # 10 ms clips by default: sampling is one network step per audio sample.
    "wavenet": (WaveNet, dict(residual_channels=4, skip_channels=6, dilations=[1, 2], n_classes=10, clip_seconds=0.01)),
    "vqvae": (VQVAE, dict(n_codes=8, code_dim=4, hidden=8, prior_channels=8, prior_layers=2, ae_steps=5)),
    "vqvae2": (VQVAE2, dict(n_codes=8, code_dim=4, hidden=8, prior_channels=8, prior_layers=2, ae_steps=5, n_classes=10)),
}


@contextlib.contextmanager
def single_thread():
    """One intra-op thread for tiny models run step by step (WaveNet): a second thread
    only adds synchronisation, which costs 10-50x per operation when the other core is
    busy (e.g. a training run beside the tests)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """``single_thread`` for one test."""
    with single_thread():
        yield


@pytest.fixture(scope="session")
def data():
    return load_mnist("mnist-5k")


@pytest.fixture(scope="session")
def app_url():
    """The real app (``python app.py``) running on a free port for the whole session."""
    from browser import running_app

    with running_app() as url:
        yield url


def _hub_handler(repos: dict[str, Path]):
    class Handler(http.server.BaseHTTPRequestHandler):
        """Answers GET/HEAD of /{owner}/{name}/resolve/{revision}/{file} like the Hub."""

        def log_message(self, *args):
            pass

        def _answer(self, body: bool) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            code, data, headers = 404, b"", {"X-Error-Code": "RepoNotFound"}
            if len(parts) >= 5 and parts[2] == "resolve" and "/".join(parts[:2]) in repos:
                path = repos["/".join(parts[:2])] / "/".join(parts[4:])
                if path.is_file():
                    data = path.read_bytes()
                    code, headers = 200, {"X-Repo-Commit": "0" * 40, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
                else:
                    headers = {"X-Error-Code": "EntryNotFound"}
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            self._answer(body=True)

    return Handler


@pytest.fixture
def hub_server():
    """A local stand-in for the Hub: ``repos[owner/name] = folder`` serves that folder;
    the fixture yields ``(endpoint_url, repos)``."""
    repos: dict[str, Path] = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _hub_handler(repos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", repos
    server.shutdown()
    server.server_close()
