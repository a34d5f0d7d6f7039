"""SMG (Spontaneous Micro-Gesture) Kinect v2 skeletons and fine labels.

``<ID>_skeleton.csv``: one row per frame, no header, 25 Kinect v2 joints x **11 values** =
275 columns. Both of the organisers' readers (mikecheninoulu/SMG,
``online recognition/SMG/SMGaccessSample.py`` class ``Skeleton``, and
``classification/SMG/1_st-gcn_smg/tools/utils/mg_read_skeleton.py`` ``read_xyz``) step 11
values per joint: world x, y, z (metres, values 0-2), the orientation quaternion (3-6) and
the 2-D point (7-8); values 9-10 are not read by either. The recording tool
(HenglinShi/MicroGestureDataCollection, ``RecordingSceneToVideo.cpp``) maps the 2-D points
into the **depth image, 512 x 424 pixels** (not the 1920 x 1080 colour image), so the
sequence's ``frame_size`` is (512, 424). nfbl keeps the 2-D point with score 1; a joint
whose point is not finite (Kinect maps untracked joints to -inf) or exactly (0, 0) is
missing. World coordinates and orientations are not kept. The Kinect v2 SDK's depth and
colour images are **mirrored** while its joint names are the subject's own sides (in a real
NTU RGB+D file, whose points the same SDK mapped, ShoulderLeft lies at negative camera x,
the sensor's right, yet at the smaller pixel x): the subject's left appears on the image's
left. nfbl reflects x back (``x → 511 − x``, :func:`nfbl.keypoints.cleaning.mirror_x`) so
that the skeleton looks as an ordinary camera shows a person; read without it, the detector
saw every SMG skeleton mirrored (F1@0.3 0.778 → 0.620 on mirrored validation videos,
docs/benchmarks.md). ``meta["unmirrored"]`` records it; reflect x again to draw on the
Kinect video. The joint order is the Kinect v2
``JointType`` order (:data:`nfbl.core.skeletons.KINECT_V2_25`).

The recording tool's CSV writer (same file, ``main``) writes **9** values per joint (the
same first 9, ``std::to_string``, 6 decimals): 225 columns. nfbl reads that layout too
(the 2-D point is at values 7-8 in both). Any other width is refused; a leading frame-index
column is not accepted (no published file or reader has one).

``<ID>_data.csv`` (``numFrames,fps,maxDepth``), when present next to the skeleton, gives
the frame rate; otherwise 30 fps (Kinect v2) is assumed.

``<ID>_finelabels.csv``: ``label,start,end`` per row, label 1-based over SMG's 17 classes.
The organisers' kit flags ``MG_flag[start:end]`` (``SMGaccessSample.py``) and cuts
``end - start`` frames (``read_xyz``), so nfbl reads ``[start / fps, end / fps)``. Labels are
mapped with :func:`nfbl.core.taxonomy.smg_to_nfbl`; classes without an NFBL counterpart are
skipped with a logged warning.
"""
from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from nfbl.core import skeletons, taxonomy
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io.event_common import ReadOptions, check_fps
from nfbl.io.inputs import is_regular_file, open_text
from nfbl.io.miga import read_numeric_rows, video_id_of
from nfbl.keypoints.cleaning import mirror_x
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

LAYOUT = skeletons.KINECT_V2_25
DEFAULT_FPS = 30.0           # Kinect v2
DEFAULT_FRAME_SIZE = (512, 424)  # Kinect v2 depth image: where the 2-D points are
SKELETON_SUFFIX = "_skeleton.csv"
LABEL_SUFFIX = "_finelabels.csv"
VALUES_PER_JOINT = 11
DATA_SUFFIX = "_data.csv"
PIXEL_OFFSET = 7  # pixel x, y are values 7 and 8 of each joint block
NUM_COLUMNS = VALUES_PER_JOINT * LAYOUT.num_joints
#: The recording tool's own CSV writer: 9 values per joint (no values 9-10), 225 columns.
RECORDER_COLUMNS = 9 * LAYOUT.num_joints


def read_smg(path: str | Path, fps: float | None = None, video_id: str | None = None,
             frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE) -> PoseSequence:
    """Read an SMG ``<ID>_skeleton.csv`` into a one-person ``kinect_v2_25`` PoseSequence.

    Timestamps: the row number divided by ``fps`` (from ``<ID>_data.csv`` when present,
    else 30, the Kinect v2 rate).
    """
    path = Path(path)
    if fps is None:
        fps = _fps_from_data_file(path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: assuming %.3g fps (pass --fps)", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    data = read_numeric_rows(path, (NUM_COLUMNS, RECORDER_COLUMNS),
                             "25 Kinect joints x 11 values: world xyz, orientation, 2-D point")
    index = np.arange(len(data), dtype=np.float64)
    per_joint = data.shape[1] // LAYOUT.num_joints
    blocks = data.reshape(len(data), LAYOUT.num_joints, per_joint)
    xy = blocks[..., PIXEL_OFFSET:PIXEL_OFFSET + 2]
    present = np.isfinite(xy).all(axis=-1) & ~(xy == 0).all(axis=-1)
    kp = np.zeros((len(data), LAYOUT.num_joints, 3), np.float32)
    kp[present, :2] = xy[present]
    kp[present, 2] = 1.0
    width = frame_size[0] if frame_size and frame_size[0] > 0 else DEFAULT_FRAME_SIZE[0]
    kp = mirror_x(kp, width)  # the SDK's depth image is mirrored (module doc)
    vid = video_id or video_id_of(path, SKELETON_SUFFIX)
    return PoseSequence(kp[None], LAYOUT.name, float(fps), index / fps, frame_size, None, vid,
                        {"source_format": "smg", "source": str(path), "unmirrored": True})


def _fps_from_data_file(skeleton_path: Path) -> float | None:
    """The fps column of ``<ID>_data.csv`` (``numFrames,fps,maxDepth``), if that file exists."""
    p = skeleton_path.with_name(video_id_of(skeleton_path, SKELETON_SUFFIX) + DATA_SUFFIX)
    if not is_regular_file(p):
        return None
    with open_text(p) as fh:
        for n, line in enumerate(fh, 1):
            parts = [v.strip() for v in line.split(",")]
            if len(parts) >= 2 and parts[1]:
                try:
                    fps = float(parts[1])
                except ValueError:
                    raise InputFormatError(f"fps {parts[1]!r} is not a number", p, n) from None
                if not fps > 0:
                    raise InputFormatError(f"fps {fps:g} is not positive", p, n)
                return fps
    return None


def read_smg_events(path: Path, o: ReadOptions) -> EventStream:
    """The ``smg`` event format (:data:`nfbl.io.event_formats.EVENT_FORMATS`): fine labels at
    ``o.fps``, else the fps of ``<ID>_data.csv`` next to them, else 30 (Kinect v2)."""
    fps = o.fps
    if fps is None:
        vid = video_id_of(path, LABEL_SUFFIX)
        fps = _fps_from_data_file(path.with_name(vid + SKELETON_SUFFIX)) or DEFAULT_FPS
    return read_smg_labels(path, fps=check_fps(fps, path), video_id=o.video_id)


def label_path_for(skeleton_path: str | Path) -> Path:
    """``<ID>_skeleton.csv`` → ``<ID>_finelabels.csv`` next to it."""
    p = Path(skeleton_path)
    return p.with_name(video_id_of(p, SKELETON_SUFFIX) + LABEL_SUFFIX)


def read_smg_labels(path: str | Path, fps: float = DEFAULT_FPS, video_id: str | None = None,
                    mapping: Iterable[tuple[int, str, int | None]] = taxonomy.SMG_CLASSES
                    ) -> EventStream:
    """``<ID>_finelabels.csv`` (``label,start,end``; 1-based labels, end frame exclusive)
    → EventStream in seconds. Rows whose SMG class has no NFBL counterpart are skipped (one
    warning per class)."""
    path = Path(path)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    mapping = tuple(mapping)
    vid = video_id or video_id_of(path, LABEL_SUFFIX)
    events, skipped = [], Counter()
    with open_text(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise InputFormatError(f"expected 3 columns (label,start,end), got {len(row)}",
                                       path, n)
            try:
                raw, start, end = (int(float(c)) for c in row)
            except OverflowError:
                raise InputFormatError(f"label,start,end must be finite integers, got {row}",
                                       path, n) from None
            except ValueError:
                if n == 1:
                    continue  # header
                raise InputFormatError(f"label,start,end must be integers, got {row}", path, n) \
                    from None
            try:
                cid = taxonomy.smg_to_nfbl(raw, mapping)
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
            if cid is None:
                skipped[raw] += 1
                continue
            try:
                if start < 0:
                    raise NfblError(f"start frame {start} is negative")
                events.append(Event(vid, cid, start / fps, (end if end > start else start + 1) / fps))
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
    names = {r: name for r, name, _ in mapping}
    for raw, count in sorted(skipped.items()):
        log.warning("%s: skipped %d event(s) of SMG class %d (%s): no NFBL counterpart",
                    path, count, raw, names.get(raw, "?"))
    return EventStream(tuple(events), {"fps": fps, "source": str(path),
                                       "skipped_smg_classes": dict(skipped)})
