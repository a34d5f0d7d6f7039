"""PATS (Pose, Audio, Transcript, Style; chahuja/pats) interval files → :class:`PoseSequence`.

One HDF5 file per interval: ``pose/data`` float ``(T, 104)`` = columns 0–51 x, 52–103 y of
52 OpenPose joints; joint 0 (neck) is in image pixels, joints 1–51 are **offsets from the
neck** (pixels); ``pose/confidence`` ``(T, 104)`` = the OpenPose score of each joint (the x
and y columns repeat it). Joints: 0 Neck, 1 RShoulder, 2 RElbow, 3 RWrist, 4 LShoulder,
5 LElbow, 6 LWrist, 7 Nose, 8 REye, 9 LEye, 10–30 left hand, 31–51 right hand (OpenPose
hand-21 order; left/right are the subject's). PATS poses are sampled at 15 fps.

nfbl maps them by name onto ``openpose_body25_hands`` (hips, legs, ears and feet are
missing). Absolute positions = neck + offset; a joint with score 0 (or non-finite values)
is missing. Read with ``h5py`` (the ``pats`` extra).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, MissingDependencyError, NfblError
from nfbl.core.sequence import PoseSequence

LAYOUT = skeletons.OPENPOSE_BODY25_HANDS
DEFAULT_FPS = 15.0
SUFFIXES = (".h5", ".hdf5")
#: PATS joint order (52 joints), by nfbl joint name.
JOINTS: tuple[str, ...] = (("neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                            "left_elbow", "left_wrist", "nose", "right_eye", "left_eye")
                           + skeletons.hand_joints("left") + skeletons.hand_joints("right"))
NUM_JOINTS = len(JOINTS)


def read_pats(path: str | Path, fps: float | None = None, video_id: str | None = None,
              frame_size: tuple[int, int] = (0, 0)) -> PoseSequence:
    """Read a PATS interval ``.h5`` into a one-person ``openpose_body25_hands`` PoseSequence.

    ``fps`` defaults to PATS's 15; the files carry no frame size (pass ``frame_size``).
    """
    path = Path(path)
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError("h5py", "pats", "Reading PATS .h5 files") from None
    if fps is None:
        fps = DEFAULT_FPS
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    try:
        with h5py.File(path, "r") as fh:
            if "pose/data" not in fh or "pose/confidence" not in fh:
                raise InputFormatError("has no 'pose/data' and 'pose/confidence' datasets; is it a "
                                       "PATS interval file?", path)
            data = np.asarray(fh["pose/data"][()], dtype=np.float64)
            conf = np.asarray(fh["pose/confidence"][()], dtype=np.float64)
    except OSError as exc:
        raise InputFormatError(f"not a readable HDF5 file ({exc})", path) from None
    want = 2 * NUM_JOINTS
    if data.ndim != 2 or data.shape[1] != want or conf.shape != data.shape:
        raise InputFormatError(f"pose/data {data.shape} and pose/confidence {conf.shape} must both be "
                               f"(frames, {want}): x of 52 joints, then y", path)
    t = len(data)
    xy = np.stack([data[:, :NUM_JOINTS], data[:, NUM_JOINTS:]], axis=-1)  # (T, 52, 2)
    xy[:, 1:] += xy[:, :1]
    score = conf[:, :NUM_JOINTS]
    ok = (score > 0) & np.isfinite(xy).all(-1) & np.isfinite(score)
    kp = np.zeros((t, LAYOUT.num_joints, 3), np.float32)
    idx = LAYOUT.indices(JOINTS)
    kp[:, idx, :2] = np.where(ok[..., None], xy, 0.0)
    kp[:, idx, 2] = np.where(ok, np.clip(score, 0.0, 1.0), 0.0)
    name = path.name
    vid = video_id or next((name[: -len(s)] for s in SUFFIXES if name.lower().endswith(s)), path.stem)
    return PoseSequence(kp[None], LAYOUT.name, float(fps), np.arange(t) / float(fps), frame_size, None, vid,
                        {"source_format": "pats", "source": str(path)})
