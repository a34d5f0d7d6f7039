"""The pose backend interface: one RGB frame in, a list of people ``(V, 3)`` out."""
from __future__ import annotations

import abc

import numpy as np


class PoseBackend(abc.ABC):
    """A pose estimator.

    ``layout`` names the nfbl keypoint layout of what :meth:`process` returns.
    ``single_person`` is True when the backend can only follow one person per instance
    (MediaPipe legacy Holistic). Backends hold native resources (graphs, sessions): use them
    as context managers or call :meth:`close` so that processes never hang at exit.
    """

    layout: str = ""
    single_person: bool = False

    @abc.abstractmethod
    def process(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> list[np.ndarray]:
        """People found in ``frame_rgb`` (uint8 ``(H, W, 3)`` RGB): a list of float32
        ``(V, 3)`` arrays (x, y pixels of this frame, score in [0, 1]; 0 = missing).

        ``frame_index`` is the decoded frame's index; only backends that read precomputed
        keypoints need it.
        """

    def close(self) -> None:
        """Release native resources (idempotent)."""

    def __enter__(self) -> "PoseBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; explicit close() is the contract
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
