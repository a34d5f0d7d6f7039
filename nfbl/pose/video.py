"""Video decoding with PyAV: exact per-frame timestamps, frame stride, resize.

Every container and codec that the FFmpeg inside PyAV reads is accepted (mp4, mov, mkv, avi,
webm, mpeg-ts, ...). Timestamps come from each frame's own ``pts * time_base`` relative to
the stream start — never from an assumed frame rate — so variable-frame-rate videos keep
their real timing. Frame threading is left as PyAV sets it (slice threading): on 2 cores
frame threading costs more than it gives.

Bad input (missing, corrupt, truncated, empty, audio-only) raises :class:`NfblError` with one
line naming the file.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from nfbl.core.errors import MissingDependencyError, NfblError

log = logging.getLogger(__name__)

#: a decoded stream shorter than this share of the frames its header announces is "truncated"
TRUNCATED_SHARE = 0.9


def _av():
    try:
        import av  # noqa: PLC0415
    except ImportError:  # pragma: no cover - depends on the install
        raise MissingDependencyError("av", "pose", "video decoding") from None
    av.logging.set_level(av.logging.PANIC)  # FFmpeg chatter → our own one-line errors
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says about the first video stream.

    ``fps`` is the stream's average rate (nominal; timestamps are authoritative);
    ``num_frames`` is the header's frame count (0 when unknown); ``duration`` in seconds.
    ``width``/``height`` are the *displayed* size: a phone video stored landscape with a
    90-degree display rotation reports its portrait size; ``rotation`` is that display
    rotation in degrees counter-clockwise (frames are returned upright).
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str
    container: str
    rotation: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` counts decoded frames from 0; ``time`` in seconds from the
    stream start; ``image`` RGB uint8 ``(H, W, 3)`` (``None`` when the caller skipped it)."""

    index: int
    time: float
    image: np.ndarray | None


def _open(path: Path):
    av = _av()
    if not path.exists():
        raise NfblError(f"{path}: no such video file")
    if path.is_dir():
        raise NfblError(f"{path}: is a folder, expected a video file")
    if path.stat().st_size == 0:
        raise NfblError(f"{path}: the file is empty (0 bytes); expected a video")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise NfblError(f"{path}: cannot read this file as a video ({_short(exc)}); "
                        f"is it a complete, uncorrupted video file?") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        if not kinds:
            raise NfblError(f"{path}: no stream could be read; the file is truncated, corrupt "
                            f"or not a video")
        raise NfblError(f"{path}: has no video stream (only {', '.join(kinds)}); nfbl needs a "
                        f"video with pictures")
    return container


def _short(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return str(strerror)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _fps_of(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0 and math.isfinite(float(rate)):
            return float(rate)
    return 0.0


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that make a decoded frame upright (display matrix)."""
    rot = getattr(frame, "rotation", 0) or 0
    return int(round(float(rot) / 90.0)) % 4


def probe(path: str | Path) -> VideoInfo:
    """Read the header of ``path`` (and decode the first frame for its display rotation)."""
    av = _av()
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        cc = stream.codec_context
        turns = 0
        try:
            for frame in container.decode(stream):
                turns = _quarter_turns(frame)
                break
        except av.FFmpegError:
            pass   # iter_frames reports undecodable files
        fps = _fps_of(stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(stream.frames or 0)
        if frames == 0 and fps > 0 and duration > 0:
            frames = int(round(duration * fps))
        w, h = (int(cc.height), int(cc.width)) if turns % 2 else (int(cc.width), int(cc.height))
        return VideoInfo(path, w, h, fps, frames, duration, cc.name, container.format.name,
                         90 * turns if turns < 3 else -90)
    finally:
        container.close()


def output_size(width: int, height: int, max_side: int | None = None,
                size: tuple[int, int] | None = None) -> tuple[int, int]:
    """Size (w, h) after resizing: an explicit ``size`` wins, else scale so that the longer
    side is at most ``max_side`` (never upscale); both sides even (H.264 needs that)."""
    if size is not None:
        w, h = int(size[0]), int(size[1])
    elif max_side and max(width, height) > max_side:
        s = max_side / max(width, height)
        w, h = int(round(width * s)), int(round(height * s))
    else:
        w, h = width, height
    return max(2, w - w % 2), max(2, h - h % 2)


def check_crop(crop: tuple[int, int, int, int] | None, width: int, height: int,
               path: Path | str = "video") -> tuple[int, int, int, int] | None:
    """Validate a crop ``(x, y, w, h)`` in pixels against a ``width x height`` frame."""
    if crop is None:
        return None
    x, y, w, h = (int(v) for v in crop)
    if x < 0 or y < 0 or w < 16 or h < 16 or x + w > width or y + h > height:
        raise NfblError(f"{path}: crop x={x}, y={y}, w={w}, h={h} does not fit inside the "
                        f"{width}x{height} frame (and needs w, h >= 16)")
    return x, y, w, h


def iter_frames(path: str | Path, stride: int = 1, max_side: int | None = None,
                size: tuple[int, int] | None = None, max_seconds: float | None = None,
                decode_all: bool = False, check_truncation: bool = True,
                crop: tuple[int, int, int, int] | None = None) -> Iterator[Frame]:
    """Decode ``path`` sequentially and yield RGB frames with their own timestamps.

    stride: yield every ``stride``-th frame (all frames are decoded — inter-coded video
    needs that — but only the yielded ones are converted to RGB). With ``decode_all`` every
    frame is yielded and the skipped ones carry ``image=None`` (cheap: no conversion).
    Frames come out upright: a display rotation (phone videos) is applied first.
    crop: ``(x, y, w, h)`` region in displayed video pixels, applied before resizing.
    max_side / size: resize (see :func:`output_size`); max_seconds: stop after this time.
    Raises :class:`NfblError` for unreadable input, for a stream with no decodable frame, and
    (``check_truncation``) when far fewer frames decode than the header announces.
    """
    if stride < 1:
        raise NfblError(f"frame stride must be >= 1, got {stride}")
    path = Path(path)
    av = _av()
    container = _open(path)
    try:
        stream = container.streams.video[0]
        geometry = None   # (quarter turns, crop, w, h), from the first frame
        tb = stream.time_base
        start = stream.start_time
        fps = _fps_of(stream) or 25.0
        expected = int(stream.frames or 0)
        index = 0
        last_time = -math.inf
        warned = False
        stopped_early = False
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and tb is not None:
                    t = float((frame.pts - (start or 0)) * tb)
                elif frame.time is not None:
                    t = float(frame.time)
                else:  # no timestamps at all in this container: the only honest fallback
                    t = index / fps
                if t <= last_time:
                    if not warned:
                        log.warning("%s: non-increasing timestamp at frame %d (%.6f s after "
                                    "%.6f s); nudged forward", path, index, t, last_time)
                        warned = True
                    t = last_time + 1e-6
                last_time = t
                if max_seconds is not None and t >= max_seconds:
                    stopped_early = True
                    break
                if geometry is None:
                    geometry = _geometry(frame, crop, max_side, size, path)
                if index % stride == 0:
                    yield Frame(index, t, _to_rgb(frame, *geometry))
                elif decode_all:
                    yield Frame(index, t, None)
                index += 1
        except av.FFmpegError as exc:
            if index == 0:
                raise NfblError(f"{path}: cannot decode the video ({_short(exc)}); the file is "
                                f"corrupt or not a video") from None
            raise NfblError(f"{path}: decoding failed at frame {index} ({_short(exc)}); the "
                            f"file is truncated or corrupt") from None
        if index == 0:
            raise NfblError(f"{path}: no decodable video frame; the file is empty, truncated "
                            f"or corrupt")
        if (check_truncation and not stopped_early and expected > 0
                and index < TRUNCATED_SHARE * expected):
            raise NfblError(f"{path}: only {index} of the {expected} frames announced by the "
                            f"header could be decoded; the file is truncated or corrupt")
    finally:
        container.close()


def _geometry(frame, crop, max_side, size, path):
    turns = _quarter_turns(frame)
    disp_w, disp_h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    crop = check_crop(crop, disp_w, disp_h, path)
    src_w, src_h = (crop[2], crop[3]) if crop else (disp_w, disp_h)
    w, h = output_size(src_w, src_h, max_side, size)
    return turns, crop, w, h


def _to_rgb(frame, turns: int, crop, w: int, h: int) -> np.ndarray:
    """Decoded frame → upright, cropped, resized RGB uint8 ``(h, w, 3)``."""
    if turns == 0 and crop is None:
        if frame.width != w or frame.height != h:
            return frame.to_ndarray(width=w, height=h, format="rgb24")
        return frame.to_ndarray(format="rgb24")
    img = frame.to_ndarray(format="rgb24")
    if turns:
        img = np.rot90(img, turns)
    if crop is not None:
        x, y, cw, ch = crop
        img = img[y:y + ch, x:x + cw]
    if img.shape[1] != w or img.shape[0] != h:
        import cv2  # noqa: PLC0415
        img = cv2.resize(np.ascontiguousarray(img), (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def read_image(path: str | Path) -> np.ndarray:
    """Read a still image (png/jpg/...) as RGB uint8 ``(H, W, 3)`` (grey → 3 channels)."""
    frames = list(iter_frames(path, check_truncation=False))
    return frames[0].image
