"""ST-GCN's Kinetics-skeleton JSON (one file per video) → PoseSequence (``openpose18``).

The layout, as the owners write and read it (yysijie/st-gcn, also in open-mmlab/mmskeleton:
writer ``tools/utils/openpose.py`` ``json_pack``, reader ``feeder/feeder_kinetics.py``;
dataset notes in ``doc/SKELETON_DATA.md``)::

    {"data": [{"frame_index": 1,
               "skeleton": [{"pose": [x0, y0, x1, y1, ... x17, y17],
                             "score": [s0, ... s17]}, ...]}, ...],
     "label": "clapping", "label_index": 11}

- 18 joints in the order of OpenPose's COCO model (:data:`nfbl.core.skeletons.OPENPOSE18`);
- x divided by the frame width and y by its height (the published Kinetics-skeleton files:
  videos resized to 340x256, 30 fps, 3 decimals); a joint OpenPose did not find is
  ``0, 0`` with score 0, and the feeder zeroes every joint whose score is 0;
- ``frame_index`` is the feeder's array index: the writer takes it from the OpenPose file
  name (0-based), the published files and most follow-up converters start at 1. nfbl puts
  frame ``i`` at ``i / fps`` seconds either way, as the feeder puts it in column ``i``;
- the people of a frame are in the estimator's order, not tracked: they are linked with
  :func:`nfbl.keypoints.tracking.link_people`; frames may come in any order.

Some converters (e.g. from tf-pose) write every score as 0: when no joint has a score but
coordinates are there, the joints with coordinates are read as present with score 1 (with a
warning) instead of dropping the whole file. Coordinates above 1.5 are taken as pixels.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import check_input, load_json
from nfbl.keypoints import tracking

log = logging.getLogger(__name__)

LAYOUT = skeletons.OPENPOSE18
DEFAULT_FPS = 30.0  # Kinetics-skeleton (doc/SKELETON_DATA.md)
#: The published Kinetics-skeleton files come from videos resized to 340x256.
KINETICS_FRAME_SIZE = (340, 256)
_V = LAYOUT.num_joints


#: The largest ``frame_index`` read (about 92 hours at 30 fps): a larger one is a broken file.
MAX_FRAME_INDEX = 10_000_000


def sniff(head: str) -> bool:
    """True when the start of a ``.json`` file looks like Kinetics-skeleton JSON: the keys
    ``"data"``, ``"skeleton"`` and ``"frame_index"`` (mmpose writes ``frame_id``)."""
    return all(f'"{k}"' in head for k in ("data", "skeleton", "frame_index"))


def _numbers(values: list, where: str, path: Path) -> np.ndarray:
    """A JSON list of numbers as float64; anything else (strings, booleans, nested lists,
    null) is one error."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise InputFormatError(f"{where}: keypoint values must be numbers", path)
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise InputFormatError(f"{where}: a keypoint value is too large", path) from None


def _person(sk, where: str, path: Path) -> np.ndarray:
    if not isinstance(sk, dict):
        raise InputFormatError(f"{where} is not a JSON object", path)
    pose, score = sk.get("pose"), sk.get("score")
    if not isinstance(pose, list) or len(pose) != 2 * _V:
        n = len(pose) if isinstance(pose, list) else type(pose).__name__
        raise InputFormatError(f"{where}: 'pose' has {n} values, expected {2 * _V} "
                               f"(x, y of the 18 OpenPose COCO joints)", path)
    if score is None:
        score = [0.0] * _V
    if not isinstance(score, list) or len(score) != _V:
        n = len(score) if isinstance(score, list) else type(score).__name__
        raise InputFormatError(f"{where}: 'score' has {n} values, expected {_V}", path)
    xy = _numbers(pose, where, path).reshape(_V, 2)
    s = _numbers(score, where, path)
    if not (np.isfinite(xy).all() and np.isfinite(s).all()):
        raise InputFormatError(f"{where}: keypoints contain NaN or inf", path)
    return np.concatenate([xy, s[:, None]], axis=1)


def _frame_index(fr: dict, k: int, path: Path) -> int:
    idx = fr.get("frame_index")
    ok = (isinstance(idx, int) and not isinstance(idx, bool)) or (
        isinstance(idx, float) and math.isfinite(idx) and idx == int(idx))
    if not ok or not 0 <= idx <= MAX_FRAME_INDEX:
        shown = repr(idx) if len(repr(idx)) <= 40 else repr(idx)[:37] + "..."
        raise InputFormatError(f"data[{k}]: 'frame_index' must be a whole number from 0 to "
                               f"{MAX_FRAME_INDEX}, got {shown}", path)
    return int(idx)


def read_kinetics(path: str | Path, fps: float | None = None, video_id: str | None = None,
                  frame_size: tuple[int, int] | None = (0, 0),
                  max_distance: float | None = None,
                  max_lost: int = tracking.DEFAULT_MAX_LOST,
                  max_rejoin: int = tracking.DEFAULT_MAX_REJOIN) -> PoseSequence:
    """Read one Kinetics-skeleton JSON file (see the module doc) into pixels.

    ``frame_size`` (width, height) scales the normalised coordinates back to pixels; when it
    is not given, the Kinetics-skeleton size 340x256 is used with a warning (the aspect
    ratio matters: the detector measures distances in shoulder widths). ``fps`` defaults to
    30. The clip's ``label`` and ``label_index`` go to ``meta``.
    """
    path = check_input(path, "file")
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: Kinetics-skeleton JSON has no frame rate; assuming %.3g fps (pass --fps)",
                 path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    doc = load_json(path)
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise InputFormatError("not a Kinetics-skeleton file (no 'data' list of frames)", path)
    frames: dict[int, list[np.ndarray]] = {}
    repeated = 0
    for k, fr in enumerate(data):
        if not isinstance(fr, dict):
            raise InputFormatError(f"data[{k}] is not a JSON object", path)
        idx = _frame_index(fr, k, path)
        people = fr.get("skeleton", [])
        if not isinstance(people, list):
            raise InputFormatError(f"data[{k}]: 'skeleton' is not a list", path)
        if idx in frames:
            repeated += 1  # the feeder writes the later entry over the earlier one
        frames[idx] = [_person(sk, f"data[{k}].skeleton[{m}]", path)
                       for m, sk in enumerate(people)]
    if not frames:
        raise InputFormatError("holds no frames ('data' is empty: ST-GCN writes that for a "
                               "video in which OpenPose found nobody)", path)
    if repeated:
        log.warning("%s: %d frame_index values occur twice; the later entry is kept, as the "
                    "ST-GCN feeder does", path, repeated)
    numbers = sorted(frames)
    arrays = [np.stack(frames[n]) if frames[n] else np.zeros((0, _V, 3)) for n in numbers]
    allp = np.concatenate(arrays) if arrays else np.zeros((0, _V, 3))
    has_xy = np.abs(allp[..., :2]).sum(-1) > 0
    no_scores = bool(has_xy.any()) and not (allp[..., 2] > 0).any()
    if no_scores:
        log.warning("%s: every score is 0 but joints have coordinates (a converter that writes "
                    "no confidences?); joints with coordinates are read as present, score 1",
                    path)
    pixels = bool(has_xy.any()) and float(np.abs(allp[..., :2]).max()) > 1.5
    w, h = (int(v) for v in (frame_size or (0, 0)))
    if pixels:
        log.info("%s: coordinates above 1.5: read as pixels, not normalised", path)
        scale = (1.0, 1.0)
    else:
        if w <= 0 or h <= 0:
            w, h = KINETICS_FRAME_SIZE
            log.warning("%s: Kinetics-skeleton coordinates are divided by the frame's width and "
                        "height; assuming %dx%d (the published Kinetics-skeleton size): pass "
                        "--frame-size WxH of your videos", path, w, h)
        scale = (float(w), float(h))
    out = []
    for a in arrays:
        a = a.copy()
        present = (np.abs(a[..., :2]).sum(-1) > 0) if no_scores else (a[..., 2] > 0)
        if no_scores:
            a[..., 2] = 1.0
        a[..., 0] *= scale[0]
        a[..., 1] *= scale[1]
        a[~present] = 0.0
        out.append(a.astype(np.float32))
    kp, ids = tracking.link_people(out, max_distance=max_distance, max_lost=max_lost,
                                   num_joints=_V, max_rejoin=max_rejoin,
                                   min_frames=max(1, min(2, len(out))))
    if kp.shape[0] == 0:
        log.warning("%s: no person in any of the %d frames%s", path, len(out),
                    " seen in two or more (one-frame detections are dropped as flickers)"
                    if len(out) > 1 else "")
    meta = {"source_format": "kinetics", "source": str(path), "first_frame": int(numbers[0]),
            "frames_with_several_people": sum(1 for a in out if len(a) > 1),
            "scores_missing": no_scores}
    if isinstance(doc.get("label"), str):
        meta["label_name"] = doc["label"]
    li = doc.get("label_index")
    if isinstance(li, int) and not isinstance(li, bool) and li >= 0:
        meta["label"] = li
    stem = path.name[:-len(".json")] if path.name.lower().endswith(".json") else path.stem
    return PoseSequence(kp, LAYOUT.name, float(fps),
                        np.asarray(numbers, dtype=np.float64) / fps,
                        (w, h) if w > 0 and h > 0 else (0, 0), ids,
                        video_id or stem, meta)
