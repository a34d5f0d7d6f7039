"""The ``file`` backend: precomputed keypoints instead of a pose estimator.

Any format that :func:`nfbl.io.keypoints.read_keypoints` reads (OpenPose JSON folders, MiGA
CSV, nfbl ``.npz``, ...). Frame ``i`` of the video gets frame ``i`` of the keypoints (the file
must come from the same video, frame for frame); the pipeline keeps the video's own
timestamps.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nfbl.core.errors import NfblError
from nfbl.pose.backends.base import PoseBackend
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)


def load_keypoints(path: str | Path, fmt: str | None = None,
                   frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """Read precomputed keypoints with the keypoint readers (lazy import); ``frame_size``
    (width, height): the video's, for formats without one (YOLO labels need it)."""
    path = Path(path)
    if path.suffix == ".npz" and fmt in (None, "npz"):
        return PoseSequence.load(path)
    from nfbl.io.keypoints import read_keypoints  # noqa: PLC0415 - sibling, optional

    return read_keypoints(path, fmt=fmt, frame_size=frame_size)


class FileBackend(PoseBackend):
    """Serve the people of frame ``frame_index`` from a precomputed :class:`PoseSequence`."""

    single_person = False

    def __init__(self, source: PoseSequence | str | Path, fmt: str | None = None,
                 frame_size: tuple[int, int] | None = None):
        self.sequence = (source if isinstance(source, PoseSequence)
                         else load_keypoints(source, fmt, frame_size))
        self.layout = self.sequence.layout
        self.path = None if isinstance(source, PoseSequence) else Path(source)
        self._warned = False

    def check_video_frames(self, video_frames: int, video: str | Path) -> None:
        """Refuse keypoints that cannot be this video's: many more frames than it has (a
        video whose frame count is unknown, 0, is not checked)."""
        n = int(video_frames or 0)
        k = self.sequence.num_frames
        if n and k > max(n + 2, int(n * 1.05)):
            raise NfblError(f"{self.path or 'keypoints'}: {k} keypoint frames but the video "
                            f"{video} has {n} frames; --keypoints must come from this video, "
                            "frame for frame")

    def process(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> list[np.ndarray]:
        if frame_index is None:
            raise NfblError("the file pose backend needs the frame index")
        seq = self.sequence
        if frame_index >= seq.num_frames:
            if not self._warned:
                log.warning("%s: keypoints end at frame %d but the video goes on; later frames "
                            "have no person", self.path or "keypoints", seq.num_frames)
                self._warned = True
            return []
        kp = seq.keypoints[:, frame_index]
        return [p.copy() for p in kp if (p[:, 2] > 0).any()]
