"""Ultralytics YOLO pose labels (``yolo pose predict ... save_txt=True``): a ``labels/``
folder of ``<video stem>_<frame>.txt`` files, one line per person. Listed in
:data:`nfbl.io.keypoints.KEYPOINT_FORMATS` as ``yolo``.

Read from Ultralytics' own code (ultralytics/ultralytics ``engine/results.py``
``Results.save_txt`` and ``engine/predictor.py`` ``write_results``; see docs/keypoints.md):

* A line is ``"%g "``-joined: the class (0, person), the box ``cx cy w h``, then per keypoint
  ``x y`` and, for models with visibility (the COCO pose models: ``kpt_shape [17, 3]``), its
  confidence, then the box confidence with ``save_conf=True`` and the track id when tracking
  (``yolo pose track``). Coordinates are **normalised** by the frame's width and height
  (``xyn``), so the frame size must be given to restore the pose's shape.
* Ultralytics zeroes the coordinates of keypoints it is unsure of (confidence < 0.5, in its
  ``Keypoints`` class); a joint at (0, 0) is read as missing.
* A video's files are named after the frame number Ultralytics prints ("frame k/N"), which
  counts read frames from 1: file ``k`` is frame ``k - 1``, at ``k - 1`` / fps seconds. With
  ``vid_stride s`` only every s-th frame is read: pass ``--fps`` as the video's fps / s.
  A frame without a person has no file. Stream sources (a webcam, RTSP; ``LoadStreams``)
  count from 0 (``self.count = -1``, then ``+= 1`` per frame): when a ``_0.txt`` file is
  there, file ``k`` is frame ``k``. (A stream whose first frame had nobody in it cannot be
  told from a video: it is read one frame early.)
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import check_input, open_text
from nfbl.keypoints import tracking

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
FILE_RE = re.compile(r"^(?P<vid>.+)_(?P<frame>\d+)\.txt$")
NUM_JOINTS = 17  # the COCO pose models; other kpt_shape models are not read
MAX_FRAMES = 10_000_000  # 111 h at 25 fps: a larger frame number is not a video's


def _pose_line_widths(v: int = NUM_JOINTS) -> dict[int, int]:
    """Token count → values per keypoint (3 with visibility, 2 without), before the
    optional box confidence and track id."""
    out: dict[int, int] = {}
    for per in (3, 2):
        for extra in range(3):
            out.setdefault(5 + v * per + extra, per)
    return out


_WIDTHS = _pose_line_widths()


def looks_like_pose_line(line: str) -> bool:
    tokens = line.split()
    if len(tokens) not in _WIDTHS:
        return False
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True


def list_label_files(folder: str | Path) -> dict[str, list[tuple[int, str]]]:
    """``{video id: [(file frame number, path), ...]}`` of a YOLO labels folder, sorted by
    frame; only videos whose first file holds a pose line (17 keypoints) count."""
    folder = Path(folder)
    videos: dict[str, list[tuple[int, str]]] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return {}
    for entry in entries:
        m = FILE_RE.match(entry.name)
        if m and entry.is_file():
            videos.setdefault(m["vid"], []).append((int(m["frame"]), entry.path))
    out = {}
    for vid, files in videos.items():
        files.sort()
        try:
            with open(files[0][1], encoding="utf-8") as fh:
                first = next((ln for ln in fh if ln.strip()), "")
        except (OSError, UnicodeDecodeError):
            continue
        if looks_like_pose_line(first):
            out[vid] = files
    return out


def _parse(line: str, path: str, line_no: int) -> tuple[np.ndarray, float | None]:
    """One label line → ((17, 3) normalised x, y, score; the track id or None)."""
    tokens = line.split()
    per = _WIDTHS.get(len(tokens))
    if per is None:
        raise InputFormatError(f"expected a YOLO pose line (class, box, {NUM_JOINTS} keypoints); "
                               f"got {len(tokens)} values", path, line_no)
    try:
        vals = np.array([float(t) for t in tokens], np.float64)
    except ValueError:
        raise InputFormatError("a value is not a number", path, line_no) from None
    if not np.all(np.isfinite(vals)):
        raise InputFormatError("a value is not a finite number", path, line_no)
    kp = vals[5:5 + NUM_JOINTS * per].reshape(NUM_JOINTS, per)
    out = np.zeros((NUM_JOINTS, 3), np.float64)
    out[:, :2] = kp[:, :2]
    out[:, 2] = np.clip(kp[:, 2], 0.0, 1.0) if per == 3 else 1.0
    out[(kp[:, 0] == 0) & (kp[:, 1] == 0)] = 0.0   # Ultralytics zeroes unsure keypoints
    extra = vals[5 + NUM_JOINTS * per:]
    tid = None
    if extra.size == 2:
        tid = float(extra[1])
    elif extra.size == 1 and extra[0] == round(extra[0]) and extra[0] >= 1:
        tid = float(extra[0])  # a track id (a box confidence is below 1)
    return out, tid


def read_yolo_pose(path: str | Path, fps: float | None = None, video_id: str | None = None,
                   frame_size: tuple[int, int] = (0, 0),
                   max_lost: int = tracking.DEFAULT_MAX_LOST,
                   max_rejoin: int = tracking.DEFAULT_MAX_REJOIN) -> PoseSequence:
    """Read a YOLO pose labels folder (or one label file) as a COCO-17 PoseSequence in pixels.
    ``frame_size`` (width, height) is required: the labels are normalised by it. Track ids
    (``yolo pose track``) are kept; otherwise people are linked across frames."""
    path = check_input(path)
    w, h = (int(x) for x in (frame_size or (0, 0)))
    if w <= 0 or h <= 0:
        raise InputFormatError("YOLO pose labels are normalised by the frame's width and "
                               "height; pass the video's size with --frame-size WxH (e.g. "
                               "1280x720)", path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: YOLO labels carry no frame rate; assuming %.3g fps", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    if path.is_dir():
        videos = list_label_files(path)
        if not videos:
            raise InputFormatError("folder holds no YOLO pose label files "
                                   "('<video>_<frame>.txt' with 17 keypoints per line)", path)
        if video_id is None and len(videos) > 1:
            raise InputFormatError(f"YOLO labels of {len(videos)} videos in one folder "
                                   f"({', '.join(sorted(videos)[:4])}); pass --video-id", path)
        vid = video_id if video_id is not None else next(iter(videos))
        if vid not in videos:
            raise InputFormatError(f"no labels of video {vid!r} (videos: "
                                   f"{', '.join(sorted(videos)[:4])})", path)
        files = videos[vid]
    else:
        m = FILE_RE.match(path.name)
        if not m:
            raise InputFormatError("not a YOLO label file name ('<video>_<frame>.txt')", path)
        vid, files = video_id or m["vid"], [(int(m["frame"]), str(path))]
    first = 0 if files[0][0] == 0 else 1       # a stream's count starts at 0, a video's at 1
    if first == 0:
        log.info("%s: a label file numbered 0 (a stream source): file k is frame k", path)
    t = files[-1][0] - first + 1
    if t > MAX_FRAMES:
        raise InputFormatError(f"frame number {files[-1][0]} in the file name: over "
                               f"{MAX_FRAMES:,} frames ({MAX_FRAMES / 25 / 3600:.0f} h at 25 "
                               "fps); not a YOLO label file of a video", files[-1][1])
    per_frame: list[list[np.ndarray]] = [[] for _ in range(t)]
    ids: list[list[float | None]] = [[] for _ in range(t)]
    for k, fpath in files:
        try:
            with open_text(fpath) as fh:
                lines = list(fh)
        except UnicodeDecodeError:
            raise InputFormatError("not a text (YOLO label) file", fpath) from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            kp, tid = _parse(line, fpath, n)
            kp[:, 0] *= w
            kp[:, 1] *= h
            per_frame[k - first].append(kp.astype(np.float32))
            ids[k - first].append(tid)
    flat = [i for f in ids for i in f]
    if not flat:
        raise InputFormatError("no person in any label file; nothing to read", path)
    if all(i is not None for i in flat):
        uniq = sorted(set(flat))
        row = {i: r for r, i in enumerate(uniq)}
        kp_all = np.zeros((len(uniq), t, NUM_JOINTS, 3), np.float32)
        for f, (people, pids) in enumerate(zip(per_frame, ids)):
            for kp, i in zip(people, pids):
                kp_all[row[i], f] = kp
        track_ids = np.array([int(i) for i in uniq], np.int64)
        tracks_from = "track id"
    else:
        frames_kp = [np.stack(f) if f else np.zeros((0, NUM_JOINTS, 3), np.float32)
                     for f in per_frame]
        kp_all, track_ids = tracking.link_people(frames_kp, max_lost=max_lost,
                                                 num_joints=NUM_JOINTS, max_rejoin=max_rejoin,
                                                 min_frames=max(1, min(2, sum(map(bool, per_frame)))))
        tracks_from = "linked"
    return PoseSequence(kp_all, skeletons.get_layout("coco17").name, float(fps),
                        np.arange(t) / float(fps), (w, h), track_ids, vid,
                        {"source_format": "yolo", "source": str(path), "tracks_from": tracks_from})
