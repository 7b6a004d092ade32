"""Shared fixtures: the data, a registry of tiny configs per family, a local Hub server."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import sys
import threading
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import (  # noqa: E402
    DBM,
    DBN,
    GAN,
    MADE,
    NADE,
    RBM,
    VAE,
    VQVAE,
    VQVAE2,
    CharRNN,
    CharTransformer,
    ConditionalGAN,
    DiagonalBiLSTM,
    GatedPixelCNN,
    MnistClassifier,
    PixelCNN,
    PixelRNN,
    PixelSNAIL,
    PixelVAE,
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
    "dbm": (DBM, dict(n_hidden1=16, n_hidden2=8, pretrain_steps=3, joint_steps=5, n_gibbs=5)),
    "pixelsnail": (PixelSNAIL, dict(channels=8, n_layers=1, key_dim=4)),
    "diagonal_bilstm": (DiagonalBiLSTM, dict(channels=4, n_layers=1)),
    "pixelvae": (PixelVAE, dict(latent_dim=4, hidden=8, channels=8, n_layers=1, kernel_size=3, n_importance=4)),
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
    "char_rnn": (CharRNN, dict(hidden=8, layers=1, embed_dim=4)),
    "char_transformer": (CharTransformer, dict(d_model=8, n_heads=2, n_layers=1, context=32)),
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


@pytest.fixture
def allow_folders(monkeypatch):
    """Let the views load server folders (PLAYGROUND_ALLOW_FOLDERS=1), as a test that saves a checkpoint to a folder needs."""
    monkeypatch.setenv("PLAYGROUND_ALLOW_FOLDERS", "1")


@pytest.fixture(scope="session")
def app_url():
    """The real app (``python app.py``) running on a free port for the whole session."""
    from browser import running_app

    with running_app() as url:
        yield url


HUB_USER = "tester"
HUB_TOKEN = "hf_fakeWriteToken0123456789abcdef"  # HUB_USER's token with write permission on the fake Hub
HUB_READ_TOKEN = "hf_fakeReadToken0123456789abcdef"  # HUB_USER's read-only token
_ROLES = {HUB_TOKEN: "write", HUB_READ_TOKEN: "read"}
_BAD_TOKEN = "Invalid credentials in Authorization header"


class FakeHub(dict):
    """The repos ``hub_server`` serves at ``url``, ``{owner/name: folder}``: a test adds folders to download from, and
    pushes add repos (new folders under ``root``). ``private`` holds the repo ids created private, ``commits`` each
    commit as ``(repo id, summary, paths written)`` in order."""

    def __init__(self, root: Path):
        super().__init__()
        self.root, self.url, self.private, self.commits = root, "", set(), []


def _hub_handler(repos: FakeHub):
    class Handler(http.server.BaseHTTPRequestHandler):
        """Answers what huggingface_hub 2.4 sends the Hub. Downloads: GET/HEAD ``/{owner}/{name}/resolve/{revision}/{file}``.
        Pushes (``push_to_hub``): GET ``/api/whoami-v2``, POST ``/api/repos/create``, ``/api/validate-yaml``,
        ``/api/models/{repo}/preupload/{revision}`` (every file "regular": its content goes base64 in the commit, never
        through LFS or Xet) and ``/api/models/{repo}/commit/{revision}`` (NDJSON). Tokens, checked by the ``/api/`` calls:
        ``HUB_TOKEN`` writes to ``HUB_USER``'s namespace, ``HUB_READ_TOKEN`` only reads, any other is a 401."""

        def log_message(self, *args):
            pass

        def _send(self, code: int, data: bytes = b"", headers: dict | None = None, body: bool = True) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _json(self, code: int, value: dict, **headers: str) -> None:
            self._send(code, json.dumps(value).encode(), {"Content-Type": "application/json", **headers})

        def _role(self) -> str | None:
            """The token's role ("write", "read"), "" without a token, None (after answering 401) for a bad one."""
            auth = self.headers.get("Authorization", "")
            if not auth:
                return ""
            role = _ROLES.get(auth.removeprefix("Bearer "))
            if role is None:
                self._json(401, {"error": _BAD_TOKEN}, **{"X-Error-Message": _BAD_TOKEN})
            return role

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
            self._send(code, data, headers, body)

        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            if not self.path.startswith("/api/whoami-v2"):
                return self._answer(body=True)
            role = self._role()
            if role == "":
                return self._json(401, {"error": "Authorization header is required"})
            if role is not None:
                self._json(200, {"type": "user", "name": HUB_USER, "auth": {"type": "access_token", "accessToken": {"role": role}}})

        def do_POST(self):
            request = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # read first: a refusal must not cut off the upload
            role = self._role()
            if role is None:
                return
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[:3] == ["api", "repos", "create"]:
                return self._create(json.loads(request), role)
            if parts[:2] == ["api", "validate-yaml"]:
                return self._json(200, {})
            if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] in ("preupload", "commit"):
                repo_id = "/".join(parts[2:4])
                if repo_id not in repos:
                    return self._json(404, {"error": "Repository not found"}, **{"X-Error-Code": "RepoNotFound"})
                if role != "write" or parts[2] != HUB_USER:
                    return self._json(403, {"error": f"You don't have the rights to write to {repo_id}"})
                if parts[4] == "preupload":
                    files = json.loads(request)["files"]
                    return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
                return self._commit(repo_id, request)
            self._json(404, {"error": "not served by the fake Hub"})

        def _create(self, payload: dict, role: str) -> None:
            owner = payload.get("organization") or HUB_USER
            repo_id, url = f"{owner}/{payload['name']}", f"http://{self.headers['Host']}/{owner}/{payload['name']}"
            if role != "write" or owner != HUB_USER:
                return self._json(403, {"error": f"You don't have the rights to create a model under the namespace \"{owner}\""})
            if repo_id in repos:
                return self._json(409, {"error": "You already created this model repo", "url": url})
            repos[repo_id] = repos.root / owner / payload["name"]
            repos[repo_id].mkdir(parents=True)
            if payload.get("visibility") == "private":
                repos.private.add(repo_id)
            self._json(200, {"url": url, "name": repo_id})

        def _commit(self, repo_id: str, request: bytes) -> None:
            lines = [json.loads(line) for line in request.decode().splitlines() if line.strip()]
            if any(line["key"] not in ("header", "file") for line in lines):
                return self._json(400, {"error": "the fake Hub takes regular files only (no LFS, no deletions)"})
            written = []
            for line in lines[1:]:
                path = line["value"]["path"]
                if path.startswith("/") or ".." in path.split("/"):
                    return self._json(400, {"error": "bad path"})
                (repos[repo_id] / path).parent.mkdir(parents=True, exist_ok=True)
                (repos[repo_id] / path).write_bytes(base64.b64decode(line["value"]["content"]))
                written.append(path)
            repos.commits.append((repo_id, lines[0]["value"]["summary"], written))
            oid = hashlib.sha1(request).hexdigest()
            self._json(200, {"commitUrl": f"http://{self.headers['Host']}/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None})

    return Handler


@contextlib.contextmanager
def fake_hub(root: Path):
    """A local stand-in for the Hub on a free port: ``repos[owner/name] = folder`` serves
    that folder, and pushes with ``HUB_TOKEN`` create and fill repos (folders under ``root``)
    of ``HUB_USER``. Yields ``(endpoint_url, repos)`` (a ``FakeHub``)."""
    repos = FakeHub(root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _hub_handler(repos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    repos.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield repos.url, repos
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hub_server(tmp_path_factory):
    """``fake_hub`` for one test: yields ``(endpoint_url, repos)``."""
    with fake_hub(tmp_path_factory.mktemp("hub")) as hub:
        yield hub
