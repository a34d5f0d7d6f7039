"""mmpose prediction JSON → PoseSequence (COCO-17 or COCO-WholeBody-133).

Accepted shapes (what mmpose writes):

- ``MMPoseInferencer(..., pred_out_dir=...)`` on a video: a list of frames
  ``[{"frame_id": 0, "instances": [{"keypoints": [[x, y], ...], "keypoint_scores": [...],
  "bbox": ..., "bbox_score": ...}, ...]}, ...]``;
- the same on an image: a list of instances ``[{"keypoints": ..., "keypoint_scores": ...}]``
  (one frame);
- ``demo/topdown_demo_with_mmdet.py --save-predictions``:
  ``{"meta_info": {...}, "instance_info": [{"frame_id": 1, "instances": [...]}, ...]}``.

Instances are unordered people: they are linked with :func:`nfbl.keypoints.tracking.link_people`.
mmpose gives every keypoint a position and a score; joints with score <= ``min_score`` are
marked missing (default 0: keep every joint with its score).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.keypoints import tracking
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import load_json

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
LAYOUTS_BY_JOINTS = {17: skeletons.COCO17, 133: skeletons.COCO_WHOLEBODY133}


#: ``meta_info.dataset_name`` values (lower case) whose keypoints are in COCO-17 /
#: COCO-WholeBody order (mmpose ``configs/_base_/datasets``: coco, coco_wholebody,
#: "Human-Art", ubody2d)
COCO_ORDER_DATASETS = frozenset({"coco", "coco_wholebody", "human-art", "humanart", "ubody2d"})
#: datasets with as many keypoints in another order (17: PoseTrack18 has head top/bottom
#: for the eyes, H36M a 3-D-style body, AP-10K and AnimalPose are animals): a misread, refused
OTHER_ORDER_DATASETS = frozenset({"posetrack18", "h36m", "ap10k", "animalpose", "macaque",
                                  "crowdpose", "aic", "mpii", "halpe", "jhmdb"})


def _check_dataset(doc, path: Path) -> None:
    """Refuse predictions of a model trained on a dataset with another keypoint order (the
    demo writes ``meta_info.dataset_name``; files without it are trusted by joint count)."""
    meta = doc.get("meta_info") if isinstance(doc, dict) else None
    name = meta.get("dataset_name") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        return
    key = name.strip().lower()
    if key in OTHER_ORDER_DATASETS:
        raise InputFormatError(f"meta_info.dataset_name is {name!r}: its keypoints are not in "
                               "COCO order; nfbl reads COCO-17 or COCO-WholeBody models' output",
                               path)
    if key not in COCO_ORDER_DATASETS:
        log.warning("%s: meta_info.dataset_name %r is not a COCO-ordered dataset nfbl knows; "
                    "reading the keypoints as COCO by their count", path, name)


def _frames_of(doc, path: Path) -> list[tuple[int, list]]:
    if isinstance(doc, dict) and "instance_info" in doc:
        doc = doc["instance_info"]
    if not isinstance(doc, list):
        raise InputFormatError("not an mmpose prediction file (expected a list of frames or "
                               "instances, or 'instance_info'); for ST-GCN Kinetics-skeleton "
                               "JSON pass --format kinetics", path)
    if doc and isinstance(doc[0], dict) and "image_id" in doc[0] and "category_id" in doc[0]:
        raise InputFormatError("this is an AlphaPose results file (image_id, category_id, flat "
                               "keypoints), not mmpose predictions; pass --format alphapose",
                               path)
    if doc and isinstance(doc[0], dict) and "instances" in doc[0]:
        out = []
        for k, fr in enumerate(doc):
            if not isinstance(fr, dict) or not isinstance(fr.get("instances"), list):
                raise InputFormatError(f"frame entry {k} has no 'instances' list", path)
            out.append((int(fr.get("frame_id", k)), fr["instances"]))
        return out
    return [(0, doc)]  # a single image: a list of instances


def _instance(inst, path: Path, frame: int, k: int) -> np.ndarray:
    where = f"frame {frame} instance {k}"
    if not isinstance(inst, dict) or "keypoints" not in inst:
        raise InputFormatError(f"{where} has no 'keypoints'", path)
    try:
        xy = np.asarray(inst["keypoints"], dtype=np.float64)
        if xy.ndim == 3 and xy.shape[0] == 1:  # some versions nest one more level
            xy = xy[0]
        xy = xy.reshape(-1, 2) if xy.ndim == 1 else xy
        scores = np.asarray(inst.get("keypoint_scores", np.ones(len(xy))), dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputFormatError(f"{where}: keypoints must be numbers", path) from None
    if xy.ndim == 2 and xy.shape[1] == 3:
        raise InputFormatError(f"{where}: 3-D keypoints (x, y, z) are not supported; nfbl "
                               "reads 2-D pixel keypoints (run mmpose's 2-D model)", path)
    if xy.ndim != 2 or xy.shape[1] != 2 or scores.shape != (xy.shape[0],):
        raise InputFormatError(f"{where}: keypoints {xy.shape} and keypoint_scores "
                               f"{scores.shape} do not match", path)
    if not (np.isfinite(xy).all() and np.isfinite(scores).all()):
        raise InputFormatError(f"{where}: keypoints contain NaN or inf", path)
    # RTMPose's SimCC scores exceed 1 (open-mmlab/mmpose issues 2755, 3122); nfbl's scores
    # are confidences in [0, 1], as the other readers give them
    scores = np.clip(scores, 0.0, 1.0)
    return np.concatenate([xy, scores[:, None]], axis=1).astype(np.float32)


def read_mmpose(path: str | Path, fps: float | None = None, video_id: str | None = None,
                frame_size: tuple[int, int] = (0, 0), min_score: float = 0.0,
                max_distance: float | None = None,
                max_lost: int = tracking.DEFAULT_MAX_LOST,
                min_track_frames: int = 2,
                max_rejoin: int = tracking.DEFAULT_MAX_REJOIN) -> PoseSequence:
    """Read an mmpose prediction JSON; the layout follows the joint count (17 or 133).

    Timestamps are ``(frame_id - first frame_id) / fps`` (``fps`` defaults to 25). Tracks
    seen in fewer than ``min_track_frames`` frames (default 2) are dropped, as for OpenPose;
    a one-frame file (one image) keeps them. People are linked by
    :func:`nfbl.keypoints.tracking.link_people` (``max_distance``, ``max_lost``,
    ``max_rejoin``). 3-D keypoints are refused.
    """
    path = Path(path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: mmpose predictions carry no frame rate; assuming %.3g fps", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    doc = load_json(path)
    _check_dataset(doc, path)
    frames = sorted(_frames_of(doc, path), key=lambda f: f[0])
    if not frames:
        raise InputFormatError("no frames in the file", path)
    ids = np.array([f for f, _ in frames], dtype=np.float64)
    if np.any(np.diff(ids) <= 0):
        raise InputFormatError(f"frame_id {int(ids[np.flatnonzero(np.diff(ids) <= 0)[0]])} "
                               "appears twice", path)
    people = []
    layout = None
    for fid, insts in frames:
        arr = [_instance(inst, path, fid, k) for k, inst in enumerate(insts)]
        for k, a in enumerate(arr):
            lay = LAYOUTS_BY_JOINTS.get(a.shape[0])
            if lay is None:
                raise InputFormatError(f"frame {fid} instance {k} has {a.shape[0]} keypoints; "
                                       "nfbl reads COCO-17 (17) or COCO-WholeBody (133)", path)
            if layout is not None and lay is not layout:
                raise InputFormatError(f"frame {fid} instance {k} has {a.shape[0]} keypoints, "
                                       f"earlier instances {layout.num_joints}", path)
            layout = lay
        people.append(np.stack(arr) if arr else None)
    if layout is None:
        raise InputFormatError("no person in any frame: cannot tell COCO-17 from "
                               "COCO-WholeBody; nothing to read", path)
    frames_kp = []
    for p in people:
        if p is None:
            p = np.zeros((0, layout.num_joints, 3), np.float32)
        else:
            p[p[..., 2] <= min_score] = 0.0
        frames_kp.append(p)
    kp, track_ids = tracking.link_people(frames_kp, max_distance=max_distance,
                                         max_lost=max_lost, num_joints=layout.num_joints,
                                         max_rejoin=max_rejoin,
                                         min_frames=max(1, min(min_track_frames, len(frames))))
    return PoseSequence(kp, layout.name, float(fps), (ids - ids[0]) / fps, frame_size,
                        track_ids, video_id or path.stem,
                        {"source_format": "mmpose", "source": str(path),
                         "first_frame_id": int(ids[0])})
