"""``pose-format`` ``.pose`` files (sign-language-processing/pose) → :class:`PoseSequence`.

A ``.pose`` file holds a header (frame size, and *components*: named point sets such as
MediaPipe Holistic's ``POSE_LANDMARKS``/``LEFT_HAND_LANDMARKS`` or OpenPose's
``pose_keypoints_2d``/``hand_left_keypoints_2d``) and a body: ``data`` (frames, people,
points, dims) in pixels, ``confidence`` (frames, people, points), frame rate. The binary
is read with the ``pose-format`` package (MIT; ``Pose.read(bytes)``), in the ``poseformat``
extra.

Points are mapped onto nfbl layouts **by joint name**: files with an OpenPose
``pose_keypoints_2d`` component become ``openpose_body25_hands``, files with a MediaPipe
``POSE_LANDMARKS`` component become ``mediapipe_pose33_hands`` (reduced files — e.g. 8 pose
points — keep only the joints they have; the rest are missing). Face components and
MediaPipe world landmarks are not used (nfbl never uses the face mesh). A point with
confidence 0 (masked in the file), or non-finite coordinates, is missing (0, 0, 0).
Left/right are the subject's, as both estimators name them.

pose-format names OpenPose hand points anatomically shifted by one (``BASE``, ``T_STT``,
``T_BCMC``, ``T_MCP``, ``T_IP``, ``I_CMC``, ``I_MCP`` …): they are OpenPose's hand-21 order
(wrist, then 4 points per finger from the base to the tip), i.e. nfbl's ``wrist``,
``thumb_cmc`` … ``thumb_tip``, ``index_mcp`` … ``index_tip`` and so on (``HAND_POINTS`` in
``pose_format/utils/openpose.py`` of sign-language-processing/pose, drawn after OpenPose's
``keypoints_hand.png``). MediaPipe names (``WRIST``, ``INDEX_FINGER_MCP`` …, pose
``LEFT_SHOULDER`` …) are MediaPipe's own landmark names, lower-cased.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, MissingDependencyError, NfblError
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

SUFFIX = ".pose"

_OP_FINGERS = ("T", "I", "M", "R", "P")
_OP_HAND_NAMES = ("BASE",) + tuple(
    f"{f}_{p}" for f, parts in zip(_OP_FINGERS, (("STT", "BCMC", "MCP", "IP"),) + (("CMC", "MCP", "PIP", "DIP"),) * 4)
    for p in parts)
#: pose-format's OpenPose hand point name → nfbl hand joint name (hand-21 order).
OPENPOSE_HAND_NAMES: dict[str, str] = dict(zip(_OP_HAND_NAMES, skeletons.HAND_JOINTS))

_BODY_COMPONENTS = {"pose_keypoints_2d": "openpose", "POSE_LANDMARKS": "mediapipe"}
_HAND_COMPONENTS = {"hand_left_keypoints_2d": "left", "hand_right_keypoints_2d": "right",
                    "LEFT_HAND_LANDMARKS": "left", "RIGHT_HAND_LANDMARKS": "right"}
LAYOUT_OF = {"openpose": skeletons.OPENPOSE_BODY25_HANDS, "mediapipe": skeletons.MEDIAPIPE_POSE33_HANDS}


def _openpose_body_name(name: str) -> str:
    """``RShoulder`` → ``right_shoulder``, ``MidHip`` → ``mid_hip``, ``Nose`` → ``nose``."""
    side = ""
    if len(name) > 1 and name[0] in "RL" and name[1].isupper():
        side, name = ("right_" if name[0] == "R" else "left_"), name[1:]
    return side + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _mediapipe_hand_name(name: str) -> str:
    """``INDEX_FINGER_MCP`` → ``index_mcp``, ``WRIST`` → ``wrist``."""
    return name.lower().replace("_finger", "")


def point_names(component: str, points: list[str], kind: str) -> list[str | None]:
    """nfbl joint names of one component's points (None = not used)."""
    if component in _HAND_COMPONENTS:
        side = _HAND_COMPONENTS[component]
        table = OPENPOSE_HAND_NAMES if kind == "openpose" else None
        out = []
        for p in points:
            n = table.get(p) if table is not None else _mediapipe_hand_name(p)
            if n is None and p.lower() in skeletons.HAND_JOINTS:
                n = p.lower()
            out.append(f"{side}_hand_{n}" if n in skeletons.HAND_JOINTS else None)
        return out
    if component == "pose_keypoints_2d":
        return [_openpose_body_name(p) for p in points]
    if component == "POSE_LANDMARKS":
        return [p.lower() for p in points]
    return [None] * len(points)


def _load(path: Path):
    try:
        from pose_format import Pose
    except ImportError:
        raise MissingDependencyError("pose-format", "poseformat", "Reading .pose files") from None
    try:
        return Pose.read(path.read_bytes())
    except Exception as exc:  # the package raises assorted errors on bad bytes
        raise InputFormatError(f"not a readable pose-format file ({type(exc).__name__}: {exc}); "
                               "is it truncated?", path) from None


def read_poseformat(path: str | Path, fps: float | None = None, video_id: str | None = None,
                    frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """Read a ``.pose`` file into a PoseSequence ``(M, T, V, 3)`` (M = the file's people).

    Layout ``openpose_body25_hands`` or ``mediapipe_pose33_hands`` (see the module doc);
    timestamps = frame index / fps (the file's fps unless ``fps`` is given); frame size from
    the header unless given.
    """
    path = Path(path)
    pose = _load(path)
    comps = list(pose.header.components)
    names = [c.name for c in comps]
    kinds = [_BODY_COMPONENTS[n] for n in names if n in _BODY_COMPONENTS]
    if not kinds:
        raise InputFormatError(f"has no body component nfbl knows (components: {', '.join(names)}); "
                               f"expected OpenPose 'pose_keypoints_2d' or MediaPipe 'POSE_LANDMARKS'", path)
    kind = kinds[0]
    layout = LAYOUT_OF[kind]
    data = np.ma.getdata(pose.body.data).astype(np.float64)
    conf = np.asarray(np.ma.getdata(pose.body.confidence), dtype=np.float64)
    mask = np.ma.getmaskarray(pose.body.data)
    if data.ndim != 4 or data.shape[-1] < 2 or conf.shape != data.shape[:3]:
        raise InputFormatError(f"pose body of shape {data.shape} (confidence {conf.shape}) is not "
                               "(frames, people, points, dims)", path)
    t, m = data.shape[:2]
    kp = np.zeros((m, t, layout.num_joints, 3), np.float32)
    offset = 0
    mapped = 0
    for comp in comps:
        n_pts = len(comp.points)
        targets = point_names(comp.name, list(comp.points), kind)
        if comp.name in _BODY_COMPONENTS and _BODY_COMPONENTS[comp.name] != kind:
            targets = [None] * n_pts
        for i, tgt in enumerate(targets):
            if tgt is None or tgt not in layout.index:
                continue
            j = offset + i
            xy = data[:, :, j, :2]
            c = conf[:, :, j]
            ok = (c > 0) & np.isfinite(xy).all(-1) & np.isfinite(c) & ~mask[:, :, j, :2].any(-1)
            v = layout.index[tgt]
            kp[:, :, v, :2] = np.where(ok[..., None], xy, 0.0).transpose(1, 0, 2)
            kp[:, :, v, 2] = np.where(ok, np.clip(c, 0.0, 1.0), 0.0).T
            mapped += 1
        offset += n_pts
    if offset != data.shape[2]:
        raise InputFormatError(f"header lists {offset} points but the body has {data.shape[2]}", path)
    if mapped == 0:
        raise InputFormatError("no point of the file maps onto an nfbl joint", path)
    file_fps = float(pose.body.fps)
    dim = pose.header.dimensions
    if fps is None:
        if not file_fps > 0:
            raise InputFormatError("the file has no frame rate; pass --fps", path)
        fps = file_fps
        if file_fps == 24 and (int(dim.width), int(dim.height)) == (1000, 1000):
            # pose_format.utils.openpose.load_openpose(fps=24, width=1000, height=1000): the
            # converter's defaults, not the video's
            log.warning("%s: fps 24 and frame size 1000x1000 are pose-format's OpenPose "
                        "defaults, probably not the video's; pass --fps if you know it", path)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    if frame_size is None:
        frame_size = (int(dim.width), int(dim.height))
    vid = video_id or (path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem)
    return PoseSequence(kp, layout.name, float(fps), np.arange(t) / float(fps), frame_size, None, vid,
                        {"source_format": "pose", "source": str(path), "estimator": kind,
                         "components": names})
