"""MediaPipe Holistic (legacy ``mediapipe.solutions``, mediapipe==0.10.21) body + hands.

Output layout ``mediapipe_pose33_hands``: 33 pose landmarks then the subject's left hand
(21) and right hand (21). Holistic's ``left_hand_landmarks`` is the *subject's* left hand
(checked on basketball1.png: the hand Holistic returns as ``right_hand_landmarks`` sits on
the pose's ``right_wrist`` landmark, index 16, at the subject's right side, which is the
image's left for a person facing the camera). Face landmarks are computed by the graph
but discarded here and never stored.

Only ``model_complexity=1`` ships inside the wheel (0 and 2 try to download weights and
fail without network). Legacy Holistic follows ONE person per instance: with several people
in view it locks onto one of them (usually the most prominent) and may switch when that
person leaves; use the ONNX backend to see everybody.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.pose.backends.base import PoseBackend

log = logging.getLogger(__name__)

LAYOUT = skeletons.MEDIAPIPE_POSE33_HANDS.name
NUM_BODY = 33
NUM_HAND = 21
#: score given to hand landmarks (Holistic reports no per-landmark confidence for hands)
HAND_SCORE = 1.0
#: pose landmarks with visibility below this are kept with that low score; exactly 0 → missing
MIN_SCORE = 1e-3


_native_silenced = False


def silence_native_logs(force: bool = False) -> bool:
    """Hide MediaPipe/TFLite/absl native log lines (``INFO: Created TensorFlow Lite XNNPACK
    delegate``, ``W0000 ... inference_feedback_manager.cc``) for the rest of the process.

    Their C++ code writes to file descriptor 2 from its own threads, and no environment
    variable silences all of them (GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL are set too, for
    the parts that read them). So file descriptor 2 is pointed at /dev/null while Python's
    ``sys.stderr`` (logging, progress bars, the CLI's error line) keeps writing to the real
    stderr through a duplicate descriptor. Skipped when the ``nfbl`` logger is at DEBUG
    (``nfbl -vv``) unless ``force``, or when ``NFBL_NATIVE_LOGS=1``. The CLI calls this before
    a video command; library users may call it. Returns True when the lines are now hidden.
    """
    global _native_silenced
    if _native_silenced:
        return True
    if not force and (logging.getLogger("nfbl").isEnabledFor(logging.DEBUG)
                      or os.environ.get("NFBL_NATIVE_LOGS") == "1"):
        return False
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        old = sys.stderr
        old.flush()
        real = os.dup(2)
        new = os.fdopen(real, "w", buffering=1, encoding=getattr(old, "encoding", None) or "utf-8",
                        errors="backslashreplace")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no fd 2 (embedded interpreters)
        return False
    for logger in (logging.getLogger(), logging.getLogger("nfbl")):
        for h in logger.handlers:
            if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is old:
                h.setStream(new)
    sys.stderr = new
    _native_silenced = True
    return True


def _solutions():
    try:
        import mediapipe as mp  # noqa: PLC0415
        return mp.solutions
    except ImportError:
        raise MissingDependencyError("mediapipe", "pose", "the MediaPipe pose backend") from None
    except AttributeError:  # pragma: no cover - mediapipe >= 0.10.22 dropped solutions
        raise NfblError("this mediapipe has no legacy 'solutions' API; install "
                        "mediapipe==0.10.21") from None


@dataclass(frozen=True)
class MediaPipeConfig:
    """Holistic settings. ``static_image_mode`` runs detection on every frame (photos);
    video mode tracks between frames (faster, steadier)."""

    static_image_mode: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True


def landmarks_to_array(lms, width: int, height: int, count: int,
                       visibility: bool) -> np.ndarray:
    """MediaPipe normalised landmarks → float32 ``(count, 3)`` pixels (zeros if ``None``)."""
    out = np.zeros((count, 3), dtype=np.float32)
    if lms is None:
        return out
    for i, lm in enumerate(lms.landmark[:count]):
        score = max(float(lm.visibility), MIN_SCORE) if visibility else HAND_SCORE
        out[i] = (lm.x * width, lm.y * height, score)
    return out


class MediaPipeBackend(PoseBackend):
    """MediaPipe Holistic, ``model_complexity=1`` (the only bundled one); one person."""

    layout = LAYOUT
    single_person = True

    def __init__(self, config: MediaPipeConfig = MediaPipeConfig()):
        sol = _solutions()
        self.config = config
        try:
            self._graph = sol.holistic.Holistic(
                static_image_mode=config.static_image_mode, model_complexity=1,
                smooth_landmarks=config.smooth_landmarks, enable_segmentation=False,
                refine_face_landmarks=False,
                min_detection_confidence=config.min_detection_confidence,
                min_tracking_confidence=config.min_tracking_confidence)
        except Exception as exc:  # noqa: BLE001 - mediapipe raises plain RuntimeErrors
            raise NfblError(f"cannot start MediaPipe Holistic ({exc}); is mediapipe==0.10.21 "
                            f"installed with its bundled models?") from None

    def process(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> list[np.ndarray]:
        if self._graph is None:
            raise NfblError("the MediaPipe backend is closed")
        h, w = frame_rgb.shape[:2]
        res = self._graph.process(np.ascontiguousarray(frame_rgb))
        if res.pose_landmarks is None and res.left_hand_landmarks is None \
                and res.right_hand_landmarks is None:
            return []
        person = np.concatenate([
            landmarks_to_array(res.pose_landmarks, w, h, NUM_BODY, True),
            landmarks_to_array(res.left_hand_landmarks, w, h, NUM_HAND, False),
            landmarks_to_array(res.right_hand_landmarks, w, h, NUM_HAND, False)])
        # res.face_landmarks is deliberately dropped: the face mesh is never stored
        return [person]

    def close(self) -> None:
        graph, self._graph = getattr(self, "_graph", None), None
        if graph is not None:
            graph.close()
