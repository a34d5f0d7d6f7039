"""The one chunk plan: how a long sequence is cut for dense inference (ONNX and torch alike).

Output frames ``[out_lo, out_hi)`` come from one network run on input frames
``[in_lo, in_hi)``: chunk starts ``out_lo`` are multiples of ``window`` (itself a multiple of
the network's coarsest stride), with ``context`` frames on each side (the receptive field
rounded up to the stride, so ``in_lo`` stays stride-aligned). As long as
``context >= receptive_field``, the stitched output equals one run over the whole sequence
(to float rounding) while memory stays bounded by one chunk.
"""
from __future__ import annotations

from typing import NamedTuple

from nfbl.core.errors import NfblError


class Chunk(NamedTuple):
    """Input frames ``[in_lo, in_hi)`` of one run; its outputs ``[out_lo, out_hi)`` are kept."""

    in_lo: int
    in_hi: int
    out_lo: int
    out_hi: int


def context_frames(receptive_field: int, stride: int) -> int:
    """Frames of context on each side of a chunk: the receptive field rounded up to ``stride``."""
    if stride < 1 or receptive_field < 0:
        raise NfblError(f"bad chunking: stride {stride}, receptive field {receptive_field}")
    return -(-int(receptive_field) // int(stride)) * int(stride)


def chunk_at(out_lo: int, num_frames: int, window: int, context: int) -> Chunk:
    """The chunk whose outputs start at ``out_lo`` in a sequence of ``num_frames`` frames."""
    out_hi = min(num_frames, out_lo + window)
    return Chunk(max(0, out_lo - context), min(num_frames, out_hi + context), out_lo, out_hi)


def chunk_plan(num_frames: int, window: int, context: int) -> list[Chunk]:
    """All chunks of a ``num_frames``-frame sequence, in order (see the module docstring)."""
    if window < 1:
        raise NfblError(f"chunk window must be >= 1 frame, got {window}")
    return [chunk_at(lo, num_frames, window, context) for lo in range(0, num_frames, window)]
