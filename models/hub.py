"""Strict safetensors checkpoints: the Hub mixin every model inherits.

Every model in the playground is an ``nn.Module`` that saves and loads itself through
``huggingface_hub.PyTorchModelHubMixin``: a folder (or Hub repo) holding ``config.json``
(the constructor arguments, plus a ``family`` tag), ``model.safetensors`` and a model
card. Loading is strict: only safetensors are read (never a pickle), missing, extra or
mis-shaped tensors are an error, and nothing is half-loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MAX_CONFIG_BYTES = 2**20

M = TypeVar("M", bound="HubModel")

_MODEL_CARD = """---
{{ card_data }}
---

# {{ title }}

A `{{ family }}` checkpoint from the Generative Models Playground, saved with
`PyTorchModelHubMixin`: `config.json` (constructor arguments) and `model.safetensors`.

- Paper: {{ paper_url | default("n/a", true) }}
- Trained on: {{ dataset | default("the bundled MNIST digits (mnist-5k)", true) }}
- Use it: `python -m playground evaluate <this repo id or folder>` (and `sample` for generative families)

{{ notes | default("", true) }}
"""


# What a family of each non-image data kind learns from, for its model card (image families: the bundled digits, or ``trained_on``).
DATA_NAMES = {
    "audio": "synthetic notes, chirps and melodies (made in code)", "pitch": "synthetic tones following pitch contours (made in code)",
    "text": "Tiny Shakespeare (the bundled first 300 KB)", "video": "two digits bouncing in 32 x 32 (made in code from the bundled digits)",
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as asked: missing, corrupt, of another family,
    or whose weights do not match its config. The message says which and why."""


class HubModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="generative-models-playground",
    tags=["generative-models-playground", "mnist"],
    model_card_template=_MODEL_CARD,
):
    """An ``nn.Module`` that saves as config.json + model.safetensors and loads strictly.

    Subclasses set ``family`` (the name used by the CLI, the bundled checkpoints and the
    ``family`` key of ``config.json``) and take only JSON-able, defaulted constructor
    arguments, from which every tensor shape derives.

    Class attributes:
        data_kind: which inputs the model is trained on: ``"audio"`` (mu-law clips) or which version of the digits: ``"binary"`` (the
            fixed binarisation, for Bernoulli likelihoods) or ``"grey"`` (values in [0, 1]).
        conditional: whether the model takes digit labels ``y`` (int64 in [0, 9]).
        train_defaults: ``TrainConfig`` settings (steps, lr, batch_size) that, with the
            default constructor arguments, reproduce the bundled checkpoint.
        eval_batch_size: examples per batch when test losses are computed.
    """

    family: ClassVar[str] = ""
    title: ClassVar[str] = ""
    data_kind: ClassVar[str] = "binary"
    conditional: ClassVar[bool] = False
    train_defaults: ClassVar[dict[str, Any]] = {}
    eval_batch_size: ClassVar[int] = 500
    trained_on: str = ""  # the data the weights were trained on (config.json's "dataset"); "" for the bundled digits

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (a copy), as written to ``config.json``."""
        return {k: v for k, v in dict(self._hub_mixin_config or {}).items() if k != "family"}

    @property
    def device(self) -> torch.device:
        """The device of the first parameter or buffer (CPU for a model with none)."""
        for tensor in [*self.parameters(), *self.buffers()]:
            return tensor.device
        return torch.device("cpu")

    def save_pretrained(self, save_directory: str | Path, *, notes: str = "", **kwargs: Any) -> None:
        """Write ``config.json`` (with the ``family`` tag), ``model.safetensors`` and a
        model card ``README.md`` to ``save_directory`` (created if needed).

        Args:
            notes: markdown added to the model card, e.g. training settings and metrics.

        ``config.json`` also records ``trained_on`` as ``"dataset"`` when it is set (a
        model trained on the user's own images), and the card names the data.
        """
        kwargs.pop("config", None)  # the mixin's push_to_hub passes its own; the checkpoint's is always this one
        config = {**self.config, "family": self.family, **({"dataset": self.trained_on} if self.trained_on else {})}
        card = {"title": self.title or self.family, "family": self.family, "notes": notes, "dataset": self.trained_on or DATA_NAMES.get(self.data_kind, ""), **(kwargs.pop("model_card_kwargs", None) or {})}
        Path(save_directory, "README.md").unlink(missing_ok=True)
        super().save_pretrained(save_directory, config=config, model_card_kwargs=card, **kwargs)

    @classmethod
    def _from_pretrained(
        cls: type[M],
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs: Any,
    ) -> M:
        """Build the model from its config and load ``model.safetensors`` strictly.

        Unlike the mixin's default, this never falls back to a pickled
        ``pytorch_model.bin``, and ``strict`` cannot be turned off.

        Raises:
            CheckpointError: the weights file is missing or corrupt, or its tensors do not
                match the model the config describes (missing, extra or mis-shaped).
            ValueError: the config holds invalid constructor arguments.
        """
        if not strict:
            raise CheckpointError("non-strict loading is not supported: a half-loaded model is worse than none")
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, WEIGHTS_NAME)
            if not os.path.isfile(model_file):
                raise CheckpointError(f"{model_id} has no {WEIGHTS_NAME}")
        else:
            model_file = hf_hub_download(
                repo_id=model_id,
                filename=WEIGHTS_NAME,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        try:
            # The header alone says which tensors the file holds: check them before
            # reading (and allocating) any weights.
            with safe_open(model_file, framework="pt") as f:
                header = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
            _check_header(model, header)
            state = load_file(model_file, device=str(map_location))
        except (SafetensorError, OSError, ValueError, RuntimeError) as err:
            if isinstance(err, CheckpointError):
                raise
            raise CheckpointError(f"{WEIGHTS_NAME} is corrupt or not a safetensors file ({err})") from None
        bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise CheckpointError(f"{WEIGHTS_NAME} holds NaN or infinite weights, e.g. in {bad[0]}")
        model.load_state_dict(state, strict=True)
        model.eval()
        return model


_SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def _check_header(model: nn.Module, header: dict[str, tuple[tuple[int, ...], str]]) -> None:
    """Raise CheckpointError unless ``header`` ({name: (shape, safetensors dtype)}) has
    exactly the model's tensors, shapes and dtypes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    common = sorted(set(expected) & set(header))
    wrong = [k for k in common if tuple(expected[k].shape) != header[k][0]]
    wrong_type = [k for k in common if _SAFETENSORS_DTYPES.get(expected[k].dtype) != header[k][1]]
    problems = []
    if missing:
        problems.append(f"missing tensors {missing[:5]}")
    if extra:
        problems.append(f"unexpected tensors {extra[:5]}")
    if wrong:
        k = wrong[0]
        problems.append(
            f"{len(wrong)} tensor(s) of the wrong shape, e.g. {k}: file {header[k][0]}, config {tuple(expected[k].shape)}"
        )
    if wrong_type:
        k = wrong_type[0]
        problems.append(f"{len(wrong_type)} tensor(s) of the wrong dtype, e.g. {k}: file {header[k][1]}, model {expected[k].dtype}")
    if problems:
        raise CheckpointError("the weights do not match config.json: " + "; ".join(problems))


def read_config(path: str | Path) -> dict[str, Any]:
    """Read a ``config.json`` written by ``save_pretrained`` (at most 1 MB).

    Raises:
        CheckpointError: the file is missing, not a regular file, too large, not JSON, or
            not a JSON object.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise CheckpointError(f"no {CONFIG_NAME} at {path}")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{CONFIG_NAME} is larger than {MAX_CONFIG_BYTES // 1024} KB: not a playground config")
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{CONFIG_NAME} is not valid JSON ({type(err).__name__})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{CONFIG_NAME} must hold a JSON object, got {type(config).__name__}")
    return config

