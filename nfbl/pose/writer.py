"""H.264 video output with PyAV (libx264), written sequentially and atomically.

Frames are pushed one by one, in the same pass that decodes them, with their own timestamps
(variable frame rate survives). The file appears under its name only when
:meth:`VideoWriter.close` succeeds; an exception inside ``with VideoWriter(...)`` leaves no
partial file.
"""
from __future__ import annotations

import contextlib
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from nfbl.core.errors import NfblError
from nfbl.core.atomic import atomic_path
from nfbl.pose.video import _av

log = logging.getLogger(__name__)

#: timestamps are written in milliseconds
TIME_BASE = Fraction(1, 1000)


class VideoWriter:
    """Encode RGB uint8 frames ``(H, W, 3)`` to an H.264 (yuv420p) video.

    ``fps`` is the nominal rate written to the header; pass ``time`` (seconds) to
    :meth:`write` to keep each frame's own timestamp. Width and height must be even (odd
    frames are cropped by one pixel). ``crf`` 23 and preset ``veryfast`` are libx264's
    usual quality/speed trade-off. Use as a context manager.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int, crf: int = 23,
                 preset: str = "veryfast", threads: int = 0):
        av = _av()
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".mkv", ".mov"):
            raise NfblError(f"{self.path}: output video must end in .mp4, .mkv or .mov")
        self.width, self.height = int(width) - int(width) % 2, int(height) - int(height) % 2
        if self.width < 2 or self.height < 2:
            raise NfblError(f"{self.path}: cannot write a {width}x{height} video")
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w")
            rate = Fraction(fps).limit_denominator(1001) if fps and fps > 0 else Fraction(25)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = TIME_BASE
            self._stream.options = {"crf": str(crf), "preset": preset}
            if threads:
                self._stream.codec_context.thread_count = threads
        except Exception as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise NfblError(f"{self.path}: cannot create the H.264 encoder ({exc})") from None
        self._av = av
        self._count = 0
        self._last_pts = -1
        self._closed = False

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one RGB frame; ``time`` in seconds (default: index / fps)."""
        img = np.ascontiguousarray(image[: self.height, : self.width])
        if img.shape != (self.height, self.width, 3) or img.dtype != np.uint8:
            raise NfblError(f"{self.path}: frame {self._count} has shape {image.shape} "
                            f"{image.dtype}, expected ({self.height}, {self.width}, 3) uint8")
        frame = self._av.VideoFrame.from_ndarray(img, format="rgb24")
        if time is None:
            pts = int(round(self._count / float(self._stream.average_rate or 25) / TIME_BASE))
        else:
            pts = int(round(time / TIME_BASE))
        pts = max(pts, self._last_pts + 1)  # strictly increasing, whatever the input did
        frame.pts, frame.time_base = pts, TIME_BASE
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._count += 1

    @property
    def frames_written(self) -> int:
        return self._count

    def close(self) -> Path:
        """Flush the encoder and move the file into place."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._container.close()
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if self._count == 0:
            err = NfblError(f"{self.path}: no frame to write")
            self._atomic.__exit__(NfblError, err, None)
            raise err
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Drop the output (no file appears)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        err = RuntimeError("aborted")
        with contextlib.suppress(RuntimeError):
            self._atomic.__exit__(RuntimeError, err, None)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
