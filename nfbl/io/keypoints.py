"""One entry point for every keypoint format nfbl reads: :func:`read_keypoints`.

=========== =================================== =================================== ========
format      input                               layout                              fps*
=========== =================================== =================================== ========
openpose    folder of ``*_keypoints.json``      ``openpose_body25_hands`` (67)      25
miga        ``<vid>_light_hand.csv``            ``miga35``                          25
smg         ``<ID>_skeleton.csv``               ``kinect_v2_25``                    30
mmpose      mmpose prediction ``.json``         ``coco17`` / ``coco_wholebody133``  25
pyskl       pyskl/mmaction2 ``.pkl`` (trusted)  by joint count                      30
npz         nfbl ``PoseSequence`` ``.npz``      as saved                            as saved
pose        pose-format ``.pose``               ``openpose_body25_hands`` / ``mediapipe_pose33_hands``  as saved
pats        PATS interval ``.h5``               ``openpose_body25_hands``           15
=========== =================================== =================================== ========

(*) default when the file carries no frame rate; pass ``fps``. Annotation companions:
:func:`read_companion_events`.
"""
from __future__ import annotations

import enum
from pathlib import Path

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import EventStream
from nfbl.core.sequence import PoseSequence


class KeypointFormat(str, enum.Enum):
    OPENPOSE = "openpose"
    MIGA = "miga"
    SMG = "smg"
    MMPOSE = "mmpose"
    PYSKL = "pyskl"
    NPZ = "npz"
    POSE = "pose"
    PATS = "pats"


def parse_format(fmt: str | KeypointFormat | None) -> KeypointFormat | None:
    if fmt is None or isinstance(fmt, KeypointFormat):
        return fmt
    try:
        return KeypointFormat(str(fmt).lower())
    except ValueError:
        raise NfblError(f"unknown keypoint format {fmt!r}; choose one of "
                        f"{', '.join(f.value for f in KeypointFormat)}") from None


def guess_format(path: str | Path) -> KeypointFormat:
    """Tell the format from the path (a folder of OpenPose files, or a file's name)."""
    from nfbl.io import miga, openpose, smg

    p = Path(path)
    if p.is_dir():
        with_json = any(openpose.FILE_RE.match(q.name) for q in p.iterdir())
        if with_json:
            return KeypointFormat.OPENPOSE
        raise InputFormatError("folder holds no OpenPose '*_keypoints.json' files; pass a "
                               "file or --format", p)
    name = p.name.lower()
    if name.endswith("_keypoints.json"):
        return KeypointFormat.OPENPOSE
    if name.endswith(miga.SKELETON_SUFFIX):
        return KeypointFormat.MIGA
    if name.endswith(smg.SKELETON_SUFFIX):
        return KeypointFormat.SMG
    if name.endswith(".json"):
        return KeypointFormat.MMPOSE
    if name.endswith((".pkl", ".pickle")):
        return KeypointFormat.PYSKL
    if name.endswith(".npz"):
        return KeypointFormat.NPZ
    if name.endswith(".pose"):
        return KeypointFormat.POSE
    if name.endswith((".h5", ".hdf5")):
        return KeypointFormat.PATS
    raise InputFormatError("cannot tell the keypoint format from the name; pass --format "
                           f"({', '.join(f.value for f in KeypointFormat)})", p)


def read_keypoints(path: str | Path, fmt: str | KeypointFormat | None = None,
                   trust_pickle: bool = False, fps: float | None = None,
                   video_id: str | None = None,
                   frame_size: tuple[int, int] | None = None) -> PoseSequence | list[PoseSequence]:
    """Read keypoints in any supported format (guessed from ``path`` when ``fmt`` is None).

    Returns one PoseSequence, or a list for pyskl pickles (one per clip). ``fps`` overrides
    the format's default (an ``.npz`` keeps its own unless given). ``trust_pickle`` must be
    True to read a pickle.
    """
    from nfbl.io import miga, mmpose, openpose, pyskl, smg

    path = Path(path)
    f = parse_format(fmt) or guess_format(path)
    if not path.exists():
        raise InputFormatError("no such file or folder", path)
    if f is not KeypointFormat.OPENPOSE and path.is_dir():
        raise InputFormatError(f"is a folder; the {f.value} format reads a file", path)
    size = {} if frame_size is None else {"frame_size": frame_size}
    if f is KeypointFormat.OPENPOSE:
        return openpose.read_openpose(path, fps=fps, video_id=video_id, **size)
    if f is KeypointFormat.MIGA:
        return miga.read_miga(path, fps=fps, video_id=video_id, **size)
    if f is KeypointFormat.SMG:
        return smg.read_smg(path, fps=fps, video_id=video_id, **size)
    if f is KeypointFormat.MMPOSE:
        return mmpose.read_mmpose(path, fps=fps, video_id=video_id, **size)
    if f is KeypointFormat.PYSKL:
        return pyskl.read_pyskl(path, trust_pickle=trust_pickle, fps=fps)
    if f is KeypointFormat.POSE:
        from nfbl.io.poseformat import read_poseformat
        return read_poseformat(path, fps=fps, video_id=video_id, frame_size=frame_size)
    if f is KeypointFormat.PATS:
        from nfbl.io.pats import read_pats
        return read_pats(path, fps=fps, video_id=video_id, **size)
    seq = PoseSequence.load(path)
    if fps is not None and fps != seq.fps:
        seq = seq.with_keypoints(seq.keypoints, fps=float(fps),
                                 timestamps=(seq.timestamps - seq.timestamps[0]) * seq.fps / fps
                                 + seq.timestamps[0])
    return seq


def companion_path(path: str | Path, fmt: str | KeypointFormat | None = None) -> Path | None:
    """The annotation file that goes with a keypoint file, if the format has one and it
    exists: MiGA ``<vid>_label.csv``, SMG ``<ID>_finelabels.csv``, nfbl
    ``<vid>.events.jsonl``. (OpenPose/iMiGUE labels live in one table for all videos.)"""
    from nfbl.io import miga, smg

    path = Path(path)
    f = parse_format(fmt) or guess_format(path)
    cand = None
    if f is KeypointFormat.MIGA:
        cand = miga.label_path_for(path)
    elif f is KeypointFormat.SMG:
        cand = smg.label_path_for(path)
    elif f is KeypointFormat.NPZ:
        cand = path.with_name(path.name[: -len(".npz")] + ".events.jsonl")
    return cand if cand is not None and cand.exists() else None


def read_companion_events(path: str | Path, seq: PoseSequence,
                          fmt: str | KeypointFormat | None = None) -> EventStream | None:
    """Events of the annotation companion of ``path`` (see :func:`companion_path`), with
    frame numbers converted at ``seq.fps`` and the video id of ``seq``; None if none."""
    from nfbl.io import miga, smg
    from nfbl.io.event_formats import read_events

    f = parse_format(fmt) or guess_format(path)
    comp = companion_path(path, f)
    if comp is None:
        return None
    if f is KeypointFormat.MIGA:
        return miga.read_miga_labels(comp, fps=seq.fps, video_id=seq.video_id)
    if f is KeypointFormat.SMG:
        return smg.read_smg_labels(comp, fps=seq.fps, video_id=seq.video_id)
    return read_events(comp, fmt="jsonl", fps=seq.fps)
