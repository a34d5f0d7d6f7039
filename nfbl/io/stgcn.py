"""ST-GCN feeder arrays (the iMiGUE / MiGA classification track) → PoseSequences.

The iMiGUE classification kit (mikecheninoulu/SMG, ``classification/iMiGUE/stgcn_imigue``:
``tools/imigue_gendata.py`` writes, ``feeder/feeder.py`` reads; read through the search
tool's code corpus, not copied) packs every labelled clip of the MiGA skeleton CSVs into two
files per part:

- ``<part>_data.npy``: float32 ``(N, C, T, V, M)`` = ``(clips, 3, 90, 22, 1)``: x, y in
  pixels and the estimator's score, for the 22 joints of ``openpose22``
  (:data:`nfbl.core.skeletons.OPENPOSE22`). A clip is rows ``sframe..eframe`` of its video
  (both included); a longer one keeps its last 90 frames, a shorter one is followed by
  zero frames up to 90.
- ``<part>_label.pkl``: a pickle of ``(sample_names, labels)``: names ``<video>_<k>`` (the
  k-th labelled gesture of the video) and the kit's labels, ``gestureID - 1`` with raw 99
  read as 32 (``GestureSample.__init__``): 0..30 are N0..N30 and 31 is N31, i.e. **the
  label is the NFBL class id**.

The MiGA 2023 track-1 winners' pyskl pickle is made from these two files
(VUT-HFUT/MiGA2023_Track1 ``tools/readlabel.py``) and is read by :mod:`nfbl.io.pyskl`.

The array is loaded without pickle; the label file is a pickle and is read only when the
caller trusts it (``trust_pickle``, CLI ``--trust-pickle``). Trailing frames with no joint
(the kit's padding) are dropped. Each clip becomes one PoseSequence (``video_id`` = its
sample name, or ``<stem>#<i>`` without labels); ``meta`` holds ``label`` and, for
``openpose22`` clips, ``class_id`` (= the label, an NFBL id).
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import check_input
from nfbl.keypoints import hands

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
SUFFIX = "_data.npy"
LAYOUTS_BY_JOINTS = {22: skeletons.OPENPOSE22}
#: clips the fingertip-side check looks at (:func:`nfbl.keypoints.hands.tips_at_other_wrists`)
SIDE_SAMPLE_CLIPS = 500


def label_path_for(path: str | Path) -> Path:
    """``<part>_data.npy`` → ``<part>_label.pkl`` beside it."""
    path = Path(path)
    stem = path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
    return path.with_name(f"{stem}_label.pkl")


def _labels(path: Path, n: int) -> tuple[list[str], list[int]]:
    try:
        with open(path, "rb") as fh:
            doc = pickle.load(fh)  # noqa: S301 - only with explicit trust
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError,
            IndexError, TypeError, RecursionError, OSError) as exc:
        raise InputFormatError(f"not a readable label pickle ({exc.__class__.__name__}: {exc})",
                               path) from None
    if not (isinstance(doc, (tuple, list)) and len(doc) == 2):
        raise InputFormatError("expected a pickle of (sample_names, labels)", path)
    names, labels = list(doc[0]), list(doc[1])
    if len(names) != n or len(labels) != n:
        raise InputFormatError(f"{len(names)} names and {len(labels)} labels for {n} clips in "
                               "the data array", path)
    try:
        return [str(x) for x in names], [int(x) for x in labels]
    except (TypeError, ValueError):
        raise InputFormatError("labels must be integers", path) from None


def read_stgcn(path: str | Path, trust_pickle: bool = False,
               fps: float | None = None) -> list[PoseSequence]:
    """Read ``<part>_data.npy`` (and, when trusted, its ``<part>_label.pkl``): one
    PoseSequence per clip (see the module docstring). ``fps`` defaults to 25 (iMiGUE)."""
    path = Path(path)
    check_input(path, "file")
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: ST-GCN arrays carry no frame rate; assuming %.3g fps (iMiGUE)", path, fps)
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputFormatError(f"not a readable .npy array ({exc})", path) from None
    if data.ndim != 5:
        raise InputFormatError(f"array shape {data.shape}; an ST-GCN feeder array is "
                               "(N, C, T, V, M)", path)
    n, c, t_len, v, m = data.shape
    if c != 3:
        raise InputFormatError(f"{c} channels; nfbl reads (x, y, score) arrays, C = 3", path)
    layout = LAYOUTS_BY_JOINTS.get(v)
    if layout is None:
        hint = (" (25-joint arrays, the SMG kit's and ST-GCN's NTU RGB+D ones, hold 3-D Kinect "
                "camera coordinates, not image points: for SMG read its <ID>_skeleton.csv "
                "files instead)" if v == 25 else "")
        raise InputFormatError(f"{v} joints; nfbl reads the iMiGUE kit's 22-joint arrays "
                               f"(openpose22){hint}", path)
    names: list[str] | None = None
    labels: list[int] | None = None
    lab = label_path_for(path)
    if lab.exists():
        if trust_pickle:
            names, labels = _labels(lab, n)
        else:
            log.warning("%s: labels not read (a pickle can run code); pass --trust-pickle "
                        "(trust_pickle=True) to read them", lab)
    # which wrist each fingertip group belongs to, decided once per file on its first clips
    head = np.asarray(data[:min(n, SIDE_SAMPLE_CLIPS)], dtype=np.float32).transpose(0, 4, 2, 3, 1)
    swapped = hands.tips_at_other_wrists(head, layout, str(path))
    out = []
    for i in range(n):
        kp = np.ascontiguousarray(np.asarray(data[i], dtype=np.float32).transpose(3, 1, 2, 0))
        if not np.isfinite(kp).all():
            raise InputFormatError(f"clip {i}: keypoints contain NaN or inf", path)
        kp[kp[..., 2] <= 0] = 0.0
        if swapped:
            kp = hands.swap_tip_groups(kp, layout)
        seen = np.flatnonzero((kp[..., 2] > 0).any(axis=(0, 2)))
        kp = kp[:, :int(seen[-1]) + 1] if len(seen) else kp[:, :1]  # drop the padding
        name = names[i] if names is not None else f"{path.name[:-len(SUFFIX)] or path.stem}#{i}"
        meta: dict = {"source_format": "stgcn", "source": str(path), "clip": i}
        if swapped:
            meta["fingertips_swapped"] = True
        if labels is not None:
            meta["label"] = labels[i]
            if layout is skeletons.OPENPOSE22 and 0 <= labels[i] <= 31:
                meta["class_id"] = labels[i]
        frames = kp.shape[1]
        out.append(PoseSequence(kp, layout.name, float(fps), np.arange(frames) / float(fps),
                                (0, 0), None, name, meta))
    return out
