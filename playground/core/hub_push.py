"""Push a model to the Hugging Face Hub: the checkpoint panel's "Push to the Hub" and ``python -m playground push``.

The repo gets what ``HubModel.save_pretrained`` writes (``config.json`` with the family and the data, ``model.safetensors``
and a model card that says what the model was trained on) and, for a model that draws images, ``samples.png``: a grid of its
samples shown at the top of the card, above a command that trains one like it and the caller's notes (the metrics).
``ModelHubMixin.push_to_hub`` does the work: it creates the repo (or reuses one the token's owner has), saves into a
temporary folder and uploads that folder as one commit, to ``HF_ENDPOINT`` when it is set.

The token is used for one push only: never stored, logged or shown, and never part of an error message. Every failure is a
``ValueError`` that says what to do: a bad repo id or token, a token the Hub refuses (401) or that may not write there
(403), or no answer from the Hub (said within ``CONNECT_TIMEOUT_S``: "offline?").
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import torch
from huggingface_hub import ModelHubMixin, constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status
from PIL import Image
from torch import Tensor

from models import GenerativeModel, HubModel
from playground.core.checkpoints import check_repo_id
from playground.core.plots import image_grid
from playground.core.training import cycling_labels

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0  # how long the first request of a push waits for the Hub before saying "offline?"
SAMPLES_NAME = "samples.png"
N_SAMPLES = 64
MAX_SAMPLES = 256
MAX_TOKEN_CHARS = 500
TOKENS_URL = "https://huggingface.co/settings/tokens"


def check_token(token: Any) -> str:
    """A Hugging Face access token (stripped). No message ever quotes it.

    Raises:
        ValueError: empty, or not one word of printable ASCII characters (at most 500).
    """
    text = token.strip() if isinstance(token, str) else ""
    if not text:
        raise ValueError(f"give a Hugging Face access token with write permission (from {TOKENS_URL}); it is used for this push only and never stored")
    if len(text) > MAX_TOKEN_CHARS or not (text.isascii() and text.isprintable()) or any(c.isspace() for c in text):
        raise ValueError(f"that is not a Hugging Face access token (one word such as hf_...): copy it again from {TOKENS_URL}")
    return text


def sample_images(model: HubModel, n: int = N_SAMPLES, seed: int = 0) -> Tensor | None:
    """``n`` samples of ``model`` drawn with ``seed``, for the card's grid: (n, 1, 28, 28) float32 in [0, 1] on the CPU,
    with labels 0, 1, ..., 9 in turn for a class-conditional model; None for a model that draws no images (the
    classifier, WaveNet)."""
    if not isinstance(model, GenerativeModel) or model.data_kind not in ("binary", "grey"):
        return None
    labels = cycling_labels(n, model.device) if model.conditional else None
    with torch.no_grad():
        images = model.sample(n, y=labels, generator=torch.Generator().manual_seed(seed))
    return images.float().cpu().clamp(0, 1)


def train_command(model: HubModel) -> str:
    """The command that trains a model of ``model``'s architecture from scratch with its family's default training
    settings, naming only the settings that differ from the defaults, e.g.
    ``python -m playground train vae --set latent_dim=2 'arch="mlp"'`` (quoted for a POSIX shell), with ``--data NAME`` (the
    file its data came from) for a model trained on other images than the digits."""
    parameters = inspect.signature(type(model).__init__).parameters
    changed = {k: v for k, v in model.config.items() if k not in parameters or parameters[k].default != v}
    settings = " ".join(shlex.quote(f"{k}={json.dumps(v)}") for k, v in changed.items())
    data = f" --data {shlex.quote(model.trained_on.split(':')[0])}" if model.trained_on else ""  # the name of its data (MnistSplits.describe)
    return f"python -m playground train {model.family}" + (f" --set {settings}" if settings else "") + data


def push(
    model: HubModel, repo_id: Any, token: Any, private: Any = False, notes: str = "", samples: Tensor | None = None, command: str = "",
) -> str:
    """Push ``model`` to the Hub repo ``repo_id``, created if it does not exist (else updated by a new commit).

    Args:
        model: the model; its ``config.json`` keeps the family and ``trained_on`` (as ``"dataset"``), which the card names.
        repo_id: ``owner/name``, where the owner is the token's user or one of their organisations.
        token: a Hugging Face access token with write permission, used for this push only.
        private: whether a new repo is private (an existing one keeps its visibility).
        notes: markdown for the card, e.g. the metrics.
        samples: (N, 1, 28, 28) float in [0, 1], 1 <= N <= 256 (``sample_images``): saved as ``samples.png``, shown in the card.
        command: a command that trains a model like it (``train_command``), shown in the card.

    Returns:
        The repo's URL.

    Raises:
        ValueError: a bad repo id, token, ``private`` or ``samples``; a read-only token; the Hub cannot be reached, or
            refuses the token or the repo (the message says which, and never holds the token).
    """
    repo_id, token = check_repo_id(repo_id), check_token(token)
    if not isinstance(private, bool):
        raise ValueError(f"private must be true or false, got {str(private)[:20]!r}")
    upload = _Upload(model, _check_samples(samples))
    owner, role = _hub_call(lambda: _whoami(token), token, repo_id)
    if role == "read":
        raise ValueError(f"this token of {owner!r} is read-only: make one with write permission at {TOKENS_URL}")
    card = {"notes": _card_notes(notes, command, 0 if upload.samples is None else len(upload.samples))}
    info = _hub_call(
        lambda: upload.push_to_hub(
            repo_id, token=token, private=private, commit_message=f"Push a {model.family} from the Generative Models Playground", model_card_kwargs=card,
        ),
        token, repo_id, owner,
    )
    return str(info.repo_url)


class _Upload(ModelHubMixin):
    """What a push uploads, as a ``ModelHubMixin`` whose ``push_to_hub`` creates the repo, calls ``save_pretrained`` on a
    temporary folder and uploads that folder as one commit. Here ``save_pretrained`` writes the model's checkpoint with
    its own ``HubModel.save_pretrained`` (whose config.json carries the family tag and the data, so the mixin's ``config``
    is not used) and the sample grid beside the card."""

    def __init__(self, model: HubModel, samples: Tensor | None):
        self.model, self.samples = model, samples

    def save_pretrained(self, save_directory: str | Path, *, config: Any = None, model_card_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.model.save_pretrained(save_directory, model_card_kwargs=model_card_kwargs)
        if self.samples is not None:
            nrow = 10 if self.model.conditional else math.ceil(math.sqrt(len(self.samples)))  # one label per column
            grid = Image.fromarray(image_grid(self.samples, nrow=nrow))
            grid.resize((2 * grid.width, 2 * grid.height), Image.NEAREST).save(Path(save_directory) / SAMPLES_NAME)


def _check_samples(samples: Any) -> Tensor | None:
    """``samples`` (or None) as a CPU float tensor (N, 1, 28, 28), checked.

    Raises:
        ValueError: not a tensor of that shape with 1 <= N <= ``MAX_SAMPLES``, or not finite.
    """
    if samples is None:
        return None
    if not isinstance(samples, Tensor) or samples.ndim != 4 or tuple(samples.shape[1:]) != (1, 28, 28) or not 1 <= len(samples) <= MAX_SAMPLES:
        raise ValueError(f"samples must be a tensor (N, 1, 28, 28) with 1 <= N <= {MAX_SAMPLES}, got {tuple(getattr(samples, 'shape', ()))}")
    if not bool(torch.isfinite(samples).all()):
        raise ValueError("samples hold NaN or infinite values")
    return samples.detach().float().cpu()


def _card_notes(notes: str, command: str, n_samples: int) -> str:
    """The card's own part (markdown): the grid of ``n_samples`` samples (if any), the command, then ``notes``."""
    parts = [f"## Samples\n\n![{n_samples} samples]({SAMPLES_NAME})"] if n_samples else []
    if command:
        parts.append(f"## Train one like it\n\nWith the playground's command line (default training settings; `--steps`, `--lr` and `--seed` change them):\n\n`{command}`")
    if notes:
        parts.append(f"## Notes\n\n{notes}")
    return "\n\n".join(parts)


def _whoami(token: str) -> tuple[str, str]:
    """(user name, token role: "read", "write" or "fineGrained") from the Hub's ``whoami-v2``: the first request of a
    push, with a timeout (the later ones have none) so that a Hub out of reach is said at once."""
    response = get_session().get(f"{constants.ENDPOINT}/api/whoami-v2", headers=build_hf_headers(token=token), timeout=CONNECT_TIMEOUT_S)
    hf_raise_for_status(response)
    body = response.json()
    return str(body.get("name", "")), str(body.get("auth", {}).get("accessToken", {}).get("role", ""))


def _hub_call(call: Callable[[], T], token: str, repo_id: str, owner: str = "") -> T:
    """``call()``, requests to the Hub, with any failure turned into a ValueError that says what to do. Nothing of the
    original exception travels up (its text or its context could hold the token)."""
    try:
        return call()
    except Exception as err:  # noqa: BLE001 - see the docstring
        message = _explain(err, repo_id, owner, token)
        if message is None:
            log.warning("push to the Hub failed: %s", repr(err).replace(token, "***")[:500])
            message = f"the push failed on the server ({type(err).__name__}); the details are in the server log"
    raise ValueError(message.replace(token, "***"))


def _explain(err: Exception, repo_id: str, owner: str, token: str) -> str | None:
    """What a user is told about ``err``, raised while pushing to ``repo_id`` as ``owner`` ("" before it is known) with
    ``token`` (scrubbed from any text of the Hub's it quotes); None for a failure that is neither the Hub's answer nor the
    network's (a bug, a full disk)."""
    if isinstance(err, OfflineModeIsEnabled):
        return "the Hub cannot be reached: this server runs offline (HF_HUB_OFFLINE is set)"
    if isinstance(err, httpx2.TimeoutException):
        return f"the Hub did not answer within {CONNECT_TIMEOUT_S:g} s (offline?)"
    if isinstance(err, httpx2.TransportError):
        return "could not reach the Hub (offline?)"
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        if status == 401:
            return f"the Hub refused the token (401 Unauthorized): copy a valid access token with write permission from {TOKENS_URL}"
        if status == 403:
            who = f"user {owner!r}" if owner else "this token"
            return (
                f"{who} may not write to {repo_id!r} (403 Forbidden): push to a repo under your own name or an organisation "
                "you belong to, with a token that has write permission"
            )
        if status == 404:
            return f"the Hub has no repo {repo_id!r} and did not create it (404 Not Found)"
        said = str(err.server_message or "").replace(token, "***").strip()[:200]
        return f"the Hub refused the push (HTTP {status}{f': {said}' if said else ''})"
    if isinstance(err, ValueError):  # huggingface_hub's own checks, e.g. of the card's metadata
        return f"the Hub refused the push: {str(err).replace(token, '***')[:200]}"
    return None
