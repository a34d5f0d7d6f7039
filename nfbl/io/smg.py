"""SMG (Spontaneous Micro-Gesture) Kinect v2 skeletons and fine labels.

``<ID>_skeleton.csv``: one row per frame, 25 Kinect v2 joints x 9 values — world x, y, z
(metres), orientation quaternion (4 values), colour-image pixel x, y — i.e. 225 columns
(226 when a leading frame-index column is present; a non-numeric first line is taken for a
header). nfbl keeps the pixel x, y with score 1; a joint whose pixel position is not finite
(Kinect maps untracked joints to -inf) or exactly (0, 0) is missing. World coordinates and
orientations are not kept. The joint order is the Kinect v2 ``JointType`` order
(:data:`nfbl.core.skeletons.KINECT_V2_25`).

``<ID>_finelabels.csv``: ``label,start,end`` per row, label 1-based over SMG's 17 classes,
start/end frame numbers (end inclusive). Labels are mapped with
:func:`nfbl.core.taxonomy.smg_to_nfbl`; classes without an NFBL counterpart are skipped with a
logged warning.
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
from nfbl.io.miga import read_numeric_rows, video_id_of
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

LAYOUT = skeletons.KINECT_V2_25
DEFAULT_FPS = 30.0           # Kinect v2
DEFAULT_FRAME_SIZE = (1920, 1080)  # Kinect v2 colour camera
SKELETON_SUFFIX = "_skeleton.csv"
LABEL_SUFFIX = "_finelabels.csv"
VALUES_PER_JOINT = 9
PIXEL_OFFSET = 7  # pixel x, y are values 7 and 8 of each joint block
NUM_COLUMNS = VALUES_PER_JOINT * LAYOUT.num_joints


def read_smg(path: str | Path, fps: float | None = None, video_id: str | None = None,
             frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE) -> PoseSequence:
    """Read an SMG ``<ID>_skeleton.csv`` into a one-person ``kinect_v2_25`` PoseSequence.

    Timestamps: the leading frame index (if the file has one) or the row number, divided by
    ``fps`` (default 30, the Kinect v2 rate).
    """
    path = Path(path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: assuming %.3g fps (pass --fps)", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    data = read_numeric_rows(path, (NUM_COLUMNS, NUM_COLUMNS + 1),
                             "25 Kinect joints x 9 values, optionally after a frame index")
    if data.shape[1] == NUM_COLUMNS + 1:
        index, data = data[:, 0], data[:, 1:]
    else:
        index = np.arange(len(data), dtype=np.float64)
    if np.any(np.diff(index) <= 0):
        row = int(np.flatnonzero(np.diff(index) <= 0)[0]) + 2
        raise InputFormatError(f"frame index does not increase at data row {row}", path)
    blocks = data.reshape(len(data), LAYOUT.num_joints, VALUES_PER_JOINT)
    xy = blocks[..., PIXEL_OFFSET:PIXEL_OFFSET + 2]
    present = np.isfinite(xy).all(axis=-1) & ~(xy == 0).all(axis=-1)
    kp = np.zeros((len(data), LAYOUT.num_joints, 3), np.float32)
    kp[present, :2] = xy[present]
    kp[present, 2] = 1.0
    vid = video_id or video_id_of(path, SKELETON_SUFFIX)
    return PoseSequence(kp[None], LAYOUT.name, float(fps), index / fps, frame_size, None, vid,
                        {"source_format": "smg", "source": str(path)})


def label_path_for(skeleton_path: str | Path) -> Path:
    """``<ID>_skeleton.csv`` → ``<ID>_finelabels.csv`` next to it."""
    p = Path(skeleton_path)
    return p.with_name(video_id_of(p, SKELETON_SUFFIX) + LABEL_SUFFIX)


def read_smg_labels(path: str | Path, fps: float = DEFAULT_FPS, video_id: str | None = None,
                    mapping: Iterable[tuple[int, str, int | None]] = taxonomy.SMG_CLASSES
                    ) -> EventStream:
    """``<ID>_finelabels.csv`` (``label,start,end``; 1-based labels, inclusive end frames)
    → EventStream in seconds. Rows whose SMG class has no NFBL counterpart are skipped (one
    warning per class)."""
    path = Path(path)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    mapping = tuple(mapping)
    vid = video_id or video_id_of(path, LABEL_SUFFIX)
    events, skipped = [], Counter()
    try:
        fh = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise InputFormatError("no such file", path) from None
    with fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise InputFormatError(f"expected 3 columns (label,start,end), got {len(row)}",
                                       path, n)
            try:
                raw, start, end = (int(float(c)) for c in row)
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
                events.append(Event(vid, cid, start / fps, (end + 1) / fps))
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
    names = {r: name for r, name, _ in mapping}
    for raw, count in sorted(skipped.items()):
        log.warning("%s: skipped %d event(s) of SMG class %d (%s): no NFBL counterpart",
                    path, count, raw, names.get(raw, "?"))
    return EventStream(tuple(events), {"fps": fps, "source": str(path),
                                       "skipped_smg_classes": dict(skipped)})
