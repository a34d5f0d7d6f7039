"""Pose estimators behind one small interface (:class:`~nfbl.pose.backends.base.PoseBackend`),
and :data:`BACKENDS`, the one table of them that the pipeline and the CLI ask.

``mediapipe`` (default; MediaPipe Holistic body + hands), ``onnx`` (RTMPose / RTMW / DWPose
ONNX files the user supplies), ``file`` (precomputed keypoints). Adding a backend touches two
files: its module here and one row of :data:`BACKENDS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from nfbl.pose.backends.base import PoseBackend


def _mediapipe(cfg: Any, static_images: bool) -> PoseBackend:
    from nfbl.pose.backends.mediapipe_backend import MediaPipeBackend, MediaPipeConfig  # noqa: PLC0415
    return MediaPipeBackend(MediaPipeConfig(static_image_mode=static_images))


def _onnx(cfg: Any, static_images: bool) -> PoseBackend:
    from nfbl.pose.backends.onnx_backend import DETECTOR_PRESETS, OnnxPoseBackend  # noqa: PLC0415
    return OnnxPoseBackend(cfg.onnx_pose, cfg.onnx_detector,
                           spec=DETECTOR_PRESETS[getattr(cfg, "onnx_detector_preset", "yolox")],
                           threads=cfg.threads, pose_bgr=getattr(cfg, "onnx_pose_bgr", False))


def _file(cfg: Any, static_images: bool) -> PoseBackend:
    from nfbl.pose.backends.file import FileBackend  # noqa: PLC0415
    return FileBackend(cfg.keypoints, cfg.keypoints_format, getattr(cfg, "keypoints_frame_size", None))


@dataclass(frozen=True)
class Backend:
    """One pose backend.

    build: ``(pose_config, static_images) → PoseBackend`` (imports its heavy module lazily).
    requires: ``(PoseConfig field, message)`` pairs: the field must be set for this backend.
    default_stride: pose on every k-th frame unless the user says otherwise (None: the
    pipeline's default; 1 for precomputed keypoints, which cost nothing per frame).
    """

    name: str
    help: str
    build: Callable[[Any, bool], PoseBackend]
    requires: tuple[tuple[str, str], ...] = ()
    default_stride: int | None = None


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("mediapipe", "MediaPipe Holistic body+hands, one person (default)", _mediapipe),
    Backend("onnx", "your RTMPose/RTMW/DWPose ONNX files, everybody in view", _onnx,
            requires=(("onnx_pose", "the onnx backend needs a pose model: --pose-model "
                                    "RTMPOSE.onnx (and usually --det-model DETECTOR.onnx)"),)),
    Backend("file", "precomputed keypoints of this video", _file,
            requires=(("keypoints", "the file backend needs --keypoints FILE (precomputed "
                                    "keypoints)"),), default_stride=1),
)}

__all__ = ["BACKENDS", "Backend", "PoseBackend"]
