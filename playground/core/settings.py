"""The server's settings read from environment variables (``PLAYGROUND_*``), each checked the same way."""

from __future__ import annotations

import math
import os
from collections.abc import Callable


def env_number(name: str, *, valid: Callable[[float], bool], must: str, integer: bool = False) -> float | int | None:
    """The number in environment variable ``name``; None when it is unset or empty.

    Args:
        valid: whether a parsed (finite) value is allowed.
        must: what the value must be, for the message, e.g. "a number of seconds > 0 (or unset for no cap)".
        integer: parse it as an int (else a float).

    Raises:
        ValueError: it is set but not a finite number (an int when ``integer``) that ``valid`` allows:
            "NAME must be <must>, not '<its first 40 characters>'".
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value: float | int = int(text) if integer else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not valid(value):
        raise ValueError(f"{name} must be {must}, not {text[:40]!r}")
    return value
