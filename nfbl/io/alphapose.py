"""AlphaPose results JSON (``alphapose-results.json``) → PoseSequence.

What AlphaPose writes by default (``scripts/demo_inference.py`` without ``--format``; the
writer is ``write_json`` in ``alphapose/utils/pPose_nms.py``, fed by
``alphapose/utils/writer.py``): one JSON list (``json.dumps``, no indent) with one entry per
detected person and frame::

    {"image_id": "12.jpg", "category_id": 1, "keypoints": [x1, y1, c1, x2, y2, c2, ...],
     "score": 2.93, "box": [x, y, w, h], "idx": ...}

- ``image_id`` is the frame's image name: for a video ``"<k>.jpg"`` with ``k`` the 0-based
  frame index (``DetectionLoader.frame_preprocess``), for an image folder the file's name,
  and an int with ``--eval``. **Frames without a person have no entry**, so the frame index
  comes from the name, never from the list position.
- ``keypoints``: 17 (COCO, the default models), 26 (Halpe-26), 133 (COCO-WholeBody) or 136
  (Halpe-136: hands included) points, flat ``x, y, score`` in pixels.
- ``idx``: a track id (an int) when PoseFlow or the tracker ran; without tracking, the
  detector's zero ids as a list (``[0.0]``, or nested lists after pose NMS), which identify
  nobody. Numeric ids are kept as tracks; otherwise people are linked across frames by
  :func:`nfbl.keypoints.tracking.link_people`.
- ``box`` and ``score`` (the person's NMS score) are not used.

The other output forms (``--format cmu`` and ``--format open``, OpenPose-like per-image JSON
with 18 COCO points) are not this reader's; the OpenPose reader does not read them either
(they carry no hands). No frame rate is stored: ``fps`` defaults to 25, pass the video's.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import load_json
from nfbl.keypoints import tracking

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
DEFAULT_NAME = "alphapose-results.json"   # write_json's outputfile
LAYOUTS_BY_JOINTS = {17: skeletons.COCO17, 26: skeletons.HALPE26,
                     133: skeletons.COCO_WHOLEBODY133, 136: skeletons.HALPE136}
_DIGITS = re.compile(r"(\d+)\D*$")
MAX_FRAMES = 10_000_000  # 111 h at 25 fps: larger numbers in image names are not frames


def _openpose_like(doc: dict) -> bool:
    """AlphaPose's ``--format open``/``cmu`` output: ``{"people"|"bodies": ...}`` per image
    (``sep-json``) or those objects keyed by image name in one file (``write_json``)."""
    if "people" in doc or "bodies" in doc:
        return True
    return any(isinstance(v, dict) and ("people" in v or "bodies" in v)
               for v in list(doc.values())[:5])


def _frame_numbers(names: list, path: Path) -> dict:
    """``image_id`` → 0-based frame index: the number in the name (``"12.jpg"`` → 12, an int
    as is); names without one (an image folder) are ranked in sorted order."""
    out: dict = {}
    unnumbered = []
    for n in names:
        if isinstance(n, bool) or not isinstance(n, (int, str)):
            raise InputFormatError(f"image_id {n!r} is neither a name nor a number", path)
        if isinstance(n, int):
            out[n] = n
            continue
        m = _DIGITS.search(Path(n).stem)
        if m is None:
            unnumbered.append(n)
        else:
            out[n] = int(m.group(1))
    if unnumbered:
        log.warning("%s: %d image names carry no frame number (e.g. %r); frames are ordered by "
                    "name", path, len(unnumbered), unnumbered[0])
        return {n: k for k, n in enumerate(sorted(set(names), key=str))}
    if out and max(out.values()) >= MAX_FRAMES:   # timestamps or ids, not frame numbers
        log.warning("%s: image names carry numbers up to %d, too large for frame numbers "
                    "(e.g. %r); frames are ordered by those numbers instead", path,
                    max(out.values()), max(out, key=out.get))
        ranks = {k: r for r, k in enumerate(sorted(set(out.values())))}
        out = {n: ranks[k] for n, k in out.items()}
    taken: dict = {}
    for n, k in out.items():
        if k in taken and taken[k] != n:
            raise InputFormatError(f"image_id {taken[k]!r} and {n!r} are both frame {k}; "
                                   "pass one video's results per file", path)
        taken[k] = n
    return out


def _entry(e, path: Path, k: int) -> tuple[object, np.ndarray, float | None]:
    """One entry → (image_id, keypoints (V, 3), numeric track id or None)."""
    if not isinstance(e, dict) or "keypoints" not in e or "image_id" not in e:
        raise InputFormatError(f"entry {k} is not an AlphaPose result (needs 'image_id' and "
                               "'keypoints')", path)
    try:
        kp = np.asarray(e["keypoints"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputFormatError(f"entry {k} ({e['image_id']!r}): keypoints must be numbers",
                               path) from None
    if kp.ndim != 1 or kp.size % 3:
        raise InputFormatError(f"entry {k} ({e['image_id']!r}): keypoints must be a flat "
                               f"x, y, score list, got shape {kp.shape}", path)
    kp = kp.reshape(-1, 3)
    if not np.isfinite(kp).all():
        raise InputFormatError(f"entry {k} ({e['image_id']!r}): keypoints contain NaN or inf",
                               path)
    idx = e.get("idx")
    tid = float(idx) if isinstance(idx, (int, float)) and not isinstance(idx, bool) else None
    return e["image_id"], kp, tid


def read_alphapose(path: str | Path, fps: float | None = None, video_id: str | None = None,
                   frame_size: tuple[int, int] = (0, 0), min_score: float = 0.0,
                   max_distance: float | None = None,
                   max_lost: int = tracking.DEFAULT_MAX_LOST, min_track_frames: int = 2,
                   max_rejoin: int = tracking.DEFAULT_MAX_REJOIN) -> PoseSequence:
    """Read an AlphaPose results JSON (see the module docstring); the layout follows the
    joint count. Frame ``k`` (from ``image_id``) is at ``k / fps`` s; frames up to the last
    one with a person are kept, those without one are empty. The video id defaults to the
    folder's name for AlphaPose's fixed file name (one output folder per video), else to the
    file's stem. Scores are clipped to [0, 1]
    (older COCO models report up to 6); joints scored ``<= min_score`` are missing.
    """
    path = Path(path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: AlphaPose results carry no frame rate; assuming %.3g fps", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    doc = load_json(path)
    if isinstance(doc, dict):
        hint = (" (this looks like AlphaPose's --format open/cmu output or an OpenPose file; "
                "read AlphaPose's default results file)" if _openpose_like(doc) else "")
        raise InputFormatError(f"not an AlphaPose results file: expected a list of results{hint}",
                               path)
    if not isinstance(doc, list):
        raise InputFormatError("not an AlphaPose results file: expected a list of results", path)
    entries = [_entry(e, path, k) for k, e in enumerate(doc)]
    if not entries:
        raise InputFormatError("no person in any frame; nothing to read", path)
    counts = {kp.shape[0] for _, kp, _ in entries}
    if len(counts) > 1:
        raise InputFormatError(f"results mix keypoint counts {sorted(counts)}; one model's "
                               "results per file", path)
    v = counts.pop()
    layout = LAYOUTS_BY_JOINTS.get(v)
    if layout is None:
        raise InputFormatError(f"{v} keypoints per person; nfbl reads AlphaPose's COCO-17 (17), "
                               "Halpe-26 (26), COCO-WholeBody (133) and Halpe-136 (136) models",
                               path)
    frame_of = _frame_numbers([n for n, _, _ in entries], path)
    first = min(frame_of.values())
    if first < 0:
        raise InputFormatError(f"negative frame number {first} in image_id", path)
    t = max(frame_of.values()) + 1
    per_frame: list[list[np.ndarray]] = [[] for _ in range(t)]
    ids_per_frame: list[list[float]] = [[] for _ in range(t)]
    for name, kp, tid in entries:
        a = kp.astype(np.float32)
        a[:, 2] = np.clip(a[:, 2], 0.0, 1.0)
        a[a[:, 2] <= min_score] = 0.0
        per_frame[frame_of[name]].append(a)
        ids_per_frame[frame_of[name]].append(tid)
    tracked = all(tid is not None for _, _, tid in entries)
    if tracked:
        kp_all, track_ids = _by_track_id(per_frame, ids_per_frame, v, path)
    else:
        frames_kp = [np.stack(f) if f else np.zeros((0, v, 3), np.float32) for f in per_frame]
        kp_all, track_ids = tracking.link_people(
            frames_kp, max_distance=max_distance, max_lost=max_lost, num_joints=v,
            max_rejoin=max_rejoin,   # frames with a person: one image keeps its people
            min_frames=max(1, min(min_track_frames, sum(map(bool, per_frame)))))
    if video_id is None:   # AlphaPose names every results file alike: the folder names the video
        video_id = path.parent.name if path.name == DEFAULT_NAME and path.parent.name else path.stem
    return PoseSequence(kp_all, layout.name, float(fps), np.arange(t) / float(fps), frame_size,
                        track_ids, video_id,
                        {"source_format": "alphapose", "source": str(path),
                         "tracks_from": "idx" if tracked else "linked"})


def _by_track_id(per_frame: list, ids_per_frame: list, v: int,
                 path: Path) -> tuple[np.ndarray, np.ndarray]:
    """People by their ``idx`` (PoseFlow / tracker ids) → ``(P, T, V, 3)`` and the ids."""
    uniq = sorted({i for ids in ids_per_frame for i in ids})
    row = {i: r for r, i in enumerate(uniq)}
    out = np.zeros((len(uniq), len(per_frame), v, 3), np.float32)
    doubled = 0
    for f, (kps, ids) in enumerate(zip(per_frame, ids_per_frame)):
        for a, i in zip(kps, ids):
            cur = out[row[i], f]
            if (cur[:, 2] > 0).any():
                doubled += 1
                if a[:, 2].sum() <= cur[:, 2].sum():
                    continue
            out[row[i], f] = a
    if doubled:
        log.warning("%s: %d times a track id appears twice in one frame; kept the person with "
                    "the higher keypoint scores", path, doubled)
    ids = np.array([int(i) if float(i).is_integer() else r for r, i in enumerate(uniq)],
                   dtype=np.int64)
    if len(set(ids.tolist())) != len(ids):
        ids = np.arange(len(uniq), dtype=np.int64)
    return out, ids
