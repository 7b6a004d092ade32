"""Argument checks shared by the models, the app and the CLI, and the digit constants.

Every check returns the value in its canonical type or raises ``ValueError`` with a
message that names the setting and its valid range, so a UI can show it as it is.
A ``Range`` is one definition of a setting's limits and default, read by the model or
view that checks it and by the widgets and CLI flags that offer it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 784
N_CLASSES = 10
SEED_MAX = 2**31 - 1  # the largest seed the library, the CLI and the app accept


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` as an int in ``[low, high]``.

    Raises:
        ValueError: if it is not an integer (bools and non-integral floats are refused)
            or lies outside the range; the message names the setting and the range.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        value = int(value)
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """Return ``value`` as a finite float in ``[low, high]``.

    Raises:
        ValueError: for NaN, inf, bools, non-numbers or values out of range.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool.

    Raises:
        ValueError: for anything else (``0``, ``"yes"``, ``None``, ...).
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``.

    Raises:
        ValueError: naming the valid choices.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value



@dataclass(frozen=True)
class Range:
    """The limits and default of one numeric setting, defined once next to the code it
    protects; widgets take ``low``, ``high`` and ``default`` from it.

    Attributes:
        low, high: the inclusive bounds.
        default: the value offered first (within the bounds).
        integer: whether the setting is a whole number.
    """

    low: float
    high: float
    default: float
    integer: bool = True

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"default {self.default} is outside [{self.low}, {self.high}]")

    def check(self, name: str, value: Any) -> Any:
        """``value`` as an int (or float) within the bounds.

        Raises:
            ValueError: not a number of the right kind, or out of range (``check_int`` /
                ``check_float`` messages).
        """
        if self.integer:
            return check_int(name, value, int(self.low), int(self.high))
        return check_float(name, value, self.low, self.high)
