"""MiGA challenge skeleton CSV (``<vid>_light_hand.csv``) → PoseSequence.

Each row (no header): column 0 a frame index, then 35 joints x (x, y, c) — 106 columns. The
joint order is the one the organisers' reader gives (mikecheninoulu/SMG,
``classification/iMiGUE/stgcn_imigue/tools/iMiGUEaccessSample.py``, class ``Skeleton``): the
25 OpenPose BODY_25 points in BODY_25 order, then 5 finger points of the subject's left hand
and 5 of the right hand (:data:`nfbl.core.skeletons.MIGA35`; docs/keypoints.md). The kit
names the body mirrored ("ShoulderLeft" is BODY_25's RShoulder); nfbl names joints by the
subject's side. A (0, 0, 0) or c = 0 joint is missing. Labels: ``<vid>_label.csv``
(``gestureID,sframe,eframe``, 0-based frames) read by
:func:`nfbl.io.event_formats.read_events` with ``fmt="miga"``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import EventStream
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import open_text
from nfbl.keypoints import hands

log = logging.getLogger(__name__)

LAYOUT = skeletons.MIGA35
DEFAULT_FPS = 25.0
SKELETON_SUFFIX = "_light_hand.csv"
LABEL_SUFFIX = "_label.csv"
NUM_COLUMNS = 1 + 3 * LAYOUT.num_joints


def read_numeric_rows(path: Path, widths: tuple[int, ...], what: str) -> np.ndarray:
    """Rows of a headerless numeric CSV as float64 ``(N, width)``.

    Every row must have one of ``widths`` columns (all rows the same); a non-numeric first
    row is taken for a header and skipped. Errors name the file and the line.
    """
    rows: list[list[float]] = []
    width = None
    with open_text(path, newline="") as fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\r\n").split(",")
                if n == 1 and not all(_is_float(v) for v in parts):
                    continue  # a header line
                if len(parts) not in widths or (width is not None and len(parts) != width):
                    want = width or " or ".join(str(w) for w in widths)
                    raise InputFormatError(f"expected {want} columns ({what}), got {len(parts)}",
                                           path, n)
                try:
                    rows.append([float(v) for v in parts])
                except ValueError:
                    bad = next(v for v in parts if not _is_float(v))
                    raise InputFormatError(f"value {bad.strip()!r} is not a number",
                                           path, n) from None
                width = len(parts)
        except UnicodeDecodeError:
            raise InputFormatError("not a text (CSV) file", path) from None
    if not rows:
        raise InputFormatError(f"no data rows ({what})", path)
    return np.array(rows, dtype=np.float64)


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _frame_times(index: np.ndarray, fps: float, path: Path) -> np.ndarray:
    """Timestamps from column 0, the frame number (gaps kept). The organisers' kit ignores
    that column and takes rows as consecutive frames: where column 0 is not a frame counter
    (not whole numbers, or steps that are mostly not 1, e.g. milliseconds), rows are
    frames here too, with a warning."""
    bad = np.flatnonzero(np.diff(index) <= 0)
    if len(bad):
        raise InputFormatError(f"frame index {index[bad[0] + 1]:g} does not increase (row "
                               f"{bad[0] + 2} of the data)", path)
    steps = np.diff(index)
    if len(steps) and (not np.all(index == np.round(index)) or np.median(steps) != 1):
        log.warning("%s: column 0 steps by %g (median), so it is not a frame number; rows are "
                    "taken as consecutive frames, as the organisers' kit reads them", path,
                    float(np.median(steps)))
        return np.arange(len(index)) / fps
    return index / fps


def video_id_of(path: str | Path, suffix: str) -> str:
    name = Path(path).name
    return name[: -len(suffix)] if name.endswith(suffix) else Path(path).stem


def read_miga(path: str | Path, fps: float | None = None, video_id: str | None = None,
              frame_size: tuple[int, int] = (0, 0)) -> PoseSequence:
    """Read a ``<vid>_light_hand.csv`` into a one-person :data:`~nfbl.core.skeletons.MIGA35`
    PoseSequence; timestamps are ``index / fps`` (``fps`` defaults to 25)."""
    path = Path(path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: assuming %.3g fps (pass --fps)", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    data = read_numeric_rows(path, (NUM_COLUMNS,), "index + 35 joints x (x, y, c)")
    kp = data[:, 1:].reshape(len(data), LAYOUT.num_joints, 3).astype(np.float32)
    if not np.isfinite(kp).all():
        row = int(np.argwhere(~np.isfinite(kp).all(axis=(1, 2)))[0, 0])
        raise InputFormatError(f"NaN or inf in data row {row + 1}", path)
    kp[kp[..., 2] <= 0] = 0.0
    ts = _frame_times(data[:, 0], fps, path)
    vid = video_id or video_id_of(path, SKELETON_SUFFIX)
    meta = {"source_format": "miga", "source": str(path)}
    if hands.tips_at_other_wrists(kp, LAYOUT, str(path)):
        kp = hands.swap_tip_groups(kp, LAYOUT)
        meta["fingertips_swapped"] = True
    return PoseSequence(kp[None], LAYOUT.name, float(fps), ts, frame_size, None, vid, meta)


def label_path_for(skeleton_path: str | Path) -> Path:
    """``<vid>_light_hand.csv`` → ``<vid>_label.csv`` next to it."""
    p = Path(skeleton_path)
    return p.with_name(video_id_of(p, SKELETON_SUFFIX) + LABEL_SUFFIX)


def read_miga_labels(path: str | Path, fps: float = DEFAULT_FPS,
                     video_id: str | None = None) -> EventStream:
    """``<vid>_label.csv`` → EventStream (raw ids via ``taxonomy.from_imigue_raw``)."""
    from nfbl.io.event_formats import read_events

    vid = video_id or video_id_of(path, LABEL_SUFFIX)
    return read_events(path, fmt="miga", fps=fps, video_id=vid)
