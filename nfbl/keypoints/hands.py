"""Which wrist a group of fingertips belongs to, read from the keypoints themselves.

The MiGA challenge's iMiGUE skeletons (``miga35``) and the classification track's arrays
(``openpose22``) keep five finger points per hand, in two blocks. Which block is which hand
is not written anywhere: the organisers' drawing code (``Skeleton.toImage``) links the kit's
'HandRight' (the subject's left wrist) to its 'RightFinger' block, which is how nfbl names
them, while the same kit's ST-GCN graph (``openpose22``) links the other wrist to that block
(docs/keypoints.md). A reader cannot tell from the file's layout, but the geometry can:
fingertips lie within a hand's length of their own wrist. :func:`swapped_tip_groups` measures,
over the frames that show both wrists and both groups, the distance of each group's centre
to its own wrist and to the other wrist; the readers swap the two blocks (with a warning)
when the groups clearly sit at the other wrists.
"""
from __future__ import annotations

import logging

import numpy as np

from nfbl.core import skeletons

log = logging.getLogger(__name__)

#: Swap only when the groups sit this much nearer the other wrists (median over frames) ...
SWAP_RATIO = 0.6
#: ... over at least this many frames that show both wrists and both groups.
MIN_FRAMES = 3


def tip_groups(layout: skeletons.Layout) -> dict[str, list[int]]:
    """Per side, the indices of the layout's fingertip joints (``<side>_hand_*_tip``)."""
    return {s: [i for i, n in enumerate(layout.joints)
                if n.startswith(f"{s}_hand_") and n.endswith("_tip")] for s in ("left", "right")}


def swapped_tip_groups(kp: np.ndarray, layout: skeletons.Layout) -> bool:
    """True when the fingertip groups of ``kp`` ``(M, T, V, 3)`` (or ``(T, V, 3)``) clearly lie
    at the opposite wrists: the median of (left group to right wrist + right group to left
    wrist) is below :data:`SWAP_RATIO` times the median of (each group to its own wrist),
    over at least :data:`MIN_FRAMES` frames with both wrists and both groups."""
    arr = np.asarray(kp, dtype=np.float64)
    arr = arr.reshape((-1,) + arr.shape[-2:])  # all persons' frames together
    groups = tip_groups(layout)
    if not all(groups.values()) or not all(f"{s}_wrist" in layout.index for s in groups):
        return False
    centre, wrist, ok = {}, {}, np.ones(len(arr), bool)
    for s, idx in groups.items():
        present = arr[:, idx, 2] > 0
        n = present.sum(axis=1)
        ok &= n > 0
        centre[s] = (arr[:, idx, :2] * present[..., None]).sum(axis=1) / np.maximum(n, 1)[:, None]
        w = arr[:, layout.index[f"{s}_wrist"]]
        ok &= w[:, 2] > 0
        wrist[s] = w[:, :2]
    if ok.sum() < MIN_FRAMES:
        return False
    own = (np.linalg.norm(centre["left"] - wrist["left"], axis=1)
           + np.linalg.norm(centre["right"] - wrist["right"], axis=1))[ok]
    other = (np.linalg.norm(centre["left"] - wrist["right"], axis=1)
             + np.linalg.norm(centre["right"] - wrist["left"], axis=1))[ok]
    return bool(np.median(other) < SWAP_RATIO * np.median(own))


def swap_tip_groups(kp: np.ndarray, layout: skeletons.Layout) -> np.ndarray:
    """A copy of ``kp`` (``(..., V, 3)``) with the left and right fingertip groups exchanged
    (joint by joint: thumb with thumb ...)."""
    out = np.array(kp, copy=True)
    groups = tip_groups(layout)
    left, right = groups["left"], groups["right"]
    out[..., left, :], out[..., right, :] = kp[..., right, :], kp[..., left, :]
    return out


def tips_at_other_wrists(kp: np.ndarray, layout: skeletons.Layout, where: str) -> bool:
    """:func:`swapped_tip_groups` for a reader: when True, one warning names ``where``
    (the file); the reader then swaps with :func:`swap_tip_groups`."""
    if not swapped_tip_groups(kp, layout):
        return False
    log.warning("%s: each group of fingertips lies at the other wrist; nfbl swapped the two "
                "groups (the file pairs them the other way than the MiGA kit's drawing code; "
                "docs/keypoints.md)", where)
    return True
