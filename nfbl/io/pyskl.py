"""pyskl / mmaction2 skeleton annotation pickles → PoseSequences.

The file is a pickle of ``{"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir",
"keypoint" (M, T, V, 2), "keypoint_score" (M, T, V), "total_frames", "img_shape" (h, w),
"label"}, ...]}`` (an older form is the bare list of annotations). Unpickling can run
arbitrary code, so nfbl reads such a file only when the caller says it trusts it
(``trust_pickle=True``, CLI ``--trust-pickle``).

The layout follows V: 17 → ``coco17``, 133 → ``coco_wholebody133``, 25 → ``kinect_v2_25``
(NTU RGB+D 2-D), 22 → ``openpose22`` (iMiGUE's classification-track skeletons as the MiGA
2023 track-1 winners pack them, VUT-HFUT/MiGA2023_Track1 ``tools/readlabel.py``: one person,
90 frames zero-padded, ``img_shape`` (1080, 1920), ``label`` = the NFBL id; see
:mod:`nfbl.io.stgcn`). 3-D keypoints are refused. The clip label (the dataset's own class index,
not an NFBL id) and the splits a clip belongs to go into ``meta``. Clip names are data: the
sequence's ``video_id`` keeps the name as written, and whoever makes a file name of it uses
:func:`nfbl.io.inputs.safe_name` (a clip named ``../../x`` must not escape a folder).
"""
from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io import stgcn
from nfbl.io.inputs import check_input
from nfbl.keypoints import hands

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
#: iMiGUE's 22-joint clips are 25 fps video (as the ST-GCN arrays, :mod:`nfbl.io.stgcn`).
LAYOUT_FPS = {skeletons.OPENPOSE22.name: 25.0}
LAYOUTS_BY_JOINTS = {17: skeletons.COCO17, 133: skeletons.COCO_WHOLEBODY133,
                     25: skeletons.KINECT_V2_25, 22: skeletons.OPENPOSE22}


class UntrustedPickleError(NfblError):
    """A pickle file was given without the explicit trust flag."""


def refuse_message(path: Path) -> str:
    return (f"{path}: refusing to read a pickle file: unpickling can run arbitrary code; if "
            "you trust where it comes from, pass --trust-pickle (trust_pickle=True)")


def clip_name(ann: dict, k: int) -> str:
    """A clip's name as the owners' ``PoseDataset`` takes it: ``filename`` when the
    annotation has one, else ``frame_dir``."""
    return str(ann.get("filename", ann.get("frame_dir", k)))


def _image_size(ann: dict) -> tuple[int, int]:
    """(width, height) from ``img_shape`` (or ``original_shape``), stored (h, w)."""
    for key in ("img_shape", "original_shape"):
        v = ann.get(key)
        if v is None:
            continue
        try:
            hw = np.asarray(v, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            continue
        if hw.size >= 2 and np.isfinite(hw[:2]).all() and (hw[:2] > 0).all():
            return int(hw[1]), int(hw[0])
    return 0, 0


def _annotation(ann: dict, k: int, path: Path, fps: float | None,
                split_of: dict[str, list[str]]) -> PoseSequence:
    where = f"annotation {k}"
    if not isinstance(ann, dict) or "keypoint" not in ann:
        raise InputFormatError(f"{where} has no 'keypoint' array", path)
    name = clip_name(ann, k)
    if "frame_inds" in ann:
        raise InputFormatError(f"{where} ({name}): a compressed annotation ('frame_inds', "
                               "pyskl's custom_2d_skeleton.py --compress); write it without "
                               "--compress", path)
    try:
        xy = np.asarray(ann["keypoint"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputFormatError(f"{where} ({name}): 'keypoint' is not numeric", path) from None
    if xy.ndim == 3:
        xy = xy[None]
    if xy.ndim == 4 and xy.shape[2] == 25 and xy.shape[0] == 3 and xy.shape[-1] == 2:
        raise InputFormatError(f"{where} ({name}): keypoint {xy.shape} is mmaction2's older "
                               "NTU RGB+D layout (C=3: x, y, z; T, V=25, M=2 persons), 3-D "
                               "world coordinates; nfbl reads 2-D pixel keypoints (M, T, V, "
                               "2)", path)
    if xy.ndim != 4:
        raise InputFormatError(f"{where} ({name}): keypoint shape {xy.shape}, expected "
                               "(M, T, V, 2)", path)
    if xy.shape[-1] == 3 and "keypoint_score" not in ann:
        raise InputFormatError(f"{where} ({name}): 3-D keypoints (M, T, V, 3) are not "
                               "supported; nfbl reads 2-D pixel keypoints", path)
    if xy.shape[-1] != 2:
        raise InputFormatError(f"{where} ({name}): keypoint last axis {xy.shape[-1]}, "
                               "expected 2 (x, y)", path)
    layout = LAYOUTS_BY_JOINTS.get(xy.shape[2])
    if layout is None:
        raise InputFormatError(f"{where} ({name}): {xy.shape[2]} joints; nfbl reads 17 "
                               "(COCO), 133 (COCO-WholeBody), 25 (NTU/Kinect) or 22 (iMiGUE "
                               "openpose22)", path)
    if "keypoint_score" in ann:
        try:
            score = np.asarray(ann["keypoint_score"], dtype=np.float64)
        except (TypeError, ValueError):
            raise InputFormatError(f"{where} ({name}): 'keypoint_score' is not numeric",
                                   path) from None
        score = score[None] if score.ndim == 2 else score
        if score.shape != xy.shape[:3]:
            raise InputFormatError(f"{where} ({name}): keypoint_score {score.shape} does not "
                                   f"match keypoint {xy.shape}", path)
    else:   # no scores: a joint padded with (0, 0) is missing, every other one is seen
        score = (np.abs(xy) > 0).any(axis=-1).astype(np.float64)
    kp = np.concatenate([xy, score[..., None]], axis=-1).astype(np.float32)
    if not np.isfinite(kp).all():
        raise InputFormatError(f"{where} ({name}): keypoints contain NaN or inf", path)
    kp[kp[..., 2] <= 0] = 0.0
    total = ann.get("total_frames")
    try:
        total = None if total is None or isinstance(total, bool) else float(total)
    except (TypeError, ValueError):
        raise InputFormatError(f"{where} ({name}): total_frames {total!r} is not a number",
                               path) from None
    if total is not None and (not math.isfinite(total) or total != int(total) or total < 0):
        raise InputFormatError(f"{where} ({name}): total_frames {total:g} is not a count", path)
    total = None if total is None else int(total)
    if total is not None and total != kp.shape[1]:
        if 0 < total < kp.shape[1] and not kp[:, total:, :, :2].any():
            kp = kp[:, :total]              # zero padding after the clip's frames
        else:
            raise InputFormatError(f"{where} ({name}): keypoint has {kp.shape[1]} frames "
                                   f"but total_frames is {total}", path)
    w, h = _image_size(ann)
    if fps is None:
        fps = LAYOUT_FPS.get(layout.name, DEFAULT_FPS)
    t_len = kp.shape[1]
    meta = {"source_format": "pyskl", "source": str(path),
            "splits": [s for s, names in split_of.items() if name in names]}
    if "label" in ann:
        try:
            meta["label"] = int(np.asarray(ann["label"]).item())
        except (TypeError, ValueError):
            raise InputFormatError(f"{where} ({name}): label {ann['label']!r} is not one "
                                   "class index", path) from None
        if layout is skeletons.OPENPOSE22 and 0 <= meta["label"] <= 31:
            meta["class_id"] = meta["label"]  # the iMiGUE kit's label is the NFBL id
    return PoseSequence(kp, layout.name, fps, np.arange(t_len) / fps, (int(w), int(h)),
                        None, name, meta)


def read_pyskl(path: str | Path, trust_pickle: bool = False, fps: float | None = None,
               split: str | None = None) -> list[PoseSequence]:
    """Read a pyskl/mmaction2 annotation pickle: one PoseSequence per clip.

    Refuses (:class:`UntrustedPickleError`) unless ``trust_pickle``. ``split`` keeps only
    the clips of that split. ``fps`` defaults to 30 (the files carry none), 25 for iMiGUE's
    22-joint clips. The top level may be ``{"split", "annotations"}``, a bare list of
    annotations (older mmaction2) or one annotation (mmaction2's ``ntu_pose_extraction.py``
    for one video); ``None`` entries (left by pyskl's ``ntu_preproc.py``) are skipped.
    """
    path = Path(path)
    if not trust_pickle:
        raise UntrustedPickleError(refuse_message(path))
    if fps is None:
        log.info("%s: pyskl annotations carry no frame rate; assuming %.3g fps (25 for "
                 "iMiGUE's 22-joint clips)", path, DEFAULT_FPS)
    check_input(path, "file")
    try:
        with open(path, "rb") as fh:
            doc = pickle.load(fh)  # noqa: S301 - only with explicit trust
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError,
            IndexError, TypeError, RecursionError) as exc:
        raise InputFormatError(f"not a readable pickle ({exc.__class__.__name__}: {exc})",
                               path) from None
    if isinstance(doc, dict) and "keypoint" in doc and "annotations" not in doc:
        doc = {"split": {}, "annotations": [doc]}        # one video's annotation
    if isinstance(doc, list):
        doc = {"split": {}, "annotations": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise InputFormatError("not a pyskl annotation file (no 'annotations' list)", path)
    splits = doc.get("split") or {}
    if not isinstance(splits, dict) or not all(isinstance(v, (list, tuple))
                                               for v in splits.values()):
        raise InputFormatError("'split' is not a table {name: [clip, ...]}", path)
    split_of = {str(k): [str(n) for n in v] for k, v in splits.items()}
    if split is not None and split not in split_of:
        raise NfblError(f"{path}: no split {split!r} (splits: {', '.join(split_of) or 'none'})")
    keep = None if split is None else set(split_of[split])
    out, empty = [], 0
    for k, ann in enumerate(doc["annotations"]):
        if ann is None:
            empty += 1
            continue
        if not isinstance(ann, dict):
            raise InputFormatError(f"annotation {k} is a {type(ann).__name__}, not a dict",
                                   path)
        if keep is not None and clip_name(ann, k) not in keep:
            continue
        out.append(_annotation(ann, k, path, None if fps is None else float(fps), split_of))
    if empty:
        log.warning("%s: %d empty (None) annotation(s) skipped", path, empty)
    if not out and split is None:
        raise InputFormatError("no clip in the file (no annotation, or only empty ones)", path)
    return _fingertip_sides(out, path)


def _fingertip_sides(seqs: list[PoseSequence], path: Path) -> list[PoseSequence]:
    """iMiGUE's 22-joint clips: which wrist each fingertip group belongs to, decided once
    for the file (:func:`nfbl.keypoints.hands.tips_at_other_wrists`, on its first clips, as
    :mod:`nfbl.io.stgcn` does)."""
    tips = [i for i, s in enumerate(seqs) if s.layout == skeletons.OPENPOSE22.name]
    if not tips:
        return seqs
    sample = np.concatenate([seqs[i].keypoints.reshape(-1, 22, 3)
                             for i in tips[:stgcn.SIDE_SAMPLE_CLIPS]])
    if not hands.tips_at_other_wrists(sample, skeletons.OPENPOSE22, str(path)):
        return seqs
    out = list(seqs)
    for i in tips:
        s = seqs[i]
        out[i] = s.with_keypoints(hands.swap_tip_groups(s.keypoints, skeletons.OPENPOSE22),
                                  meta={**s.meta, "fingertips_swapped": True})
    return out
