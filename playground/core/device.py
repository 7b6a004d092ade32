"""Which device the playground computes on: cuda > mps > cpu, or ``PLAYGROUND_DEVICE``."""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "PLAYGROUND_DEVICE"


def get_device(name: str | None = None) -> torch.device:
    """The device to use.

    Args:
        name: ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"cpu"``; when None, the
            ``PLAYGROUND_DEVICE`` environment variable, else the best available
            (cuda, then mps, then cpu).

    Raises:
        ValueError: the name is not a device, or names one this machine does not have.
    """
    name = name or os.environ.get(DEVICE_ENV, "").strip() or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available here; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} was asked for but MPS is not available here; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}: use cpu, cuda, cuda:N or mps")
    return device


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. ``"cuda (NVIDIA H100)"`` or ``"cpu (2 threads)"``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
