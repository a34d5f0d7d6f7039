"""argparse ``type=`` helpers: ranges checked at the command-line boundary.

Each raises :class:`argparse.ArgumentTypeError`, which argparse turns into one usage line
and exit status 2 (``nfbl detect: error: argument --threads: must be an integer >= 1, got
'0'``). Use them for every numeric option instead of ad-hoc checks in the handlers.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """An integer ``>= low``."""
    def parse(text: str) -> int:
        value = _int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    parse.__name__ = f"integer>={low}"
    return parse


positive_int = int_at_least(1)
positive_int.__name__ = "positive integer"
nonneg_int = int_at_least(0)
nonneg_int.__name__ = "integer >= 0"


def finite_float(text: str) -> float:
    """Any finite number (no nan, no inf)."""
    return _float(text)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1] (probabilities, scores, thresholds)."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def open_unit_float(text: str) -> float:
    """A number in (0, 1] (tIoU thresholds)."""
    value = _float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def frame_size(text: str) -> tuple[int, int]:
    """A frame size ``WxH`` in pixels (``1280x720``), both positive."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"frame size must look like 1280x720, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"frame size must be positive, got {text!r}")
    return w, h
