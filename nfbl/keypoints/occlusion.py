"""What face de-identification does to the hands: a hand inside a blurred face box is lost.

nfbl runs pose on de-identified frames (and users bring videos that others de-identified).
Every hand that touches the face — covering the face, rubbing the eyes, touching the nose or
the jaw — then lies inside the face's blur box, and the hand model cannot find it: measured on
a real photo, MediaPipe Holistic finds the man's right hand in ``basketball1.png`` and loses
it once :func:`nfbl.pose.deid.anonymise` blurs a box over it (docs/detector.md, "Hands at a
de-identified face"). The body model still places the wrist. Keypoints read from estimators
run on un-blurred video keep those hands, so training data must show both.

This module simulates the loss on keypoints: per frame, a square box centred on the present
head joints (nose, eyes, ears) with half-side ``half_size`` shoulder widths; a hand whose
centre (mean of its present joints) lies inside loses all its joints (score and coordinates
0). The default 0.44 sw is the box of a de-identified *video*: the head box that
:mod:`nfbl.pose.deid` draws from keypoints (side ``HEAD_SHOULDER`` = 0.55 sw, grown by its
0.3 output margin on each side: 0.88 sw; a face detector's box grown by the same margin is
about as large). The frames nfbl's own pipeline gives the pose are blurred tighter
(``DeidConfig.pose_margin`` 0: the detector's face box, about 0.2 sw either side of the
face's centre, held over neighbouring frames), so training draws the half-side from a range
that holds both. Only the hand model's 21 joints per hand go; the body model's wrist (and
MediaPipe Pose's finger points) stay.
"""
from __future__ import annotations

import numpy as np

from nfbl.core import skeletons
from nfbl.core.sequence import PoseSequence
from nfbl.keypoints.cleaning import frame_centres, scale_widths

HEAD_JOINTS = skeletons.HEAD_JOINTS
#: half-side of the simulated blur box in shoulder widths (see the module docstring)
DEFAULT_HALF_SIZE = 0.44


def _shoulder_width(person: np.ndarray, layout: skeletons.Layout) -> float | None:
    """Median distance between the layout's scale joints (the shoulders), or None."""
    widths = scale_widths(person, layout, frame_centres(person, layout)[2])
    w = float(np.median(widths)) if widths.size else 0.0
    return w if w > 0 else None


def hands_in_face_box(person: np.ndarray, layout: skeletons.Layout | str,
                      half_size: float = DEFAULT_HALF_SIZE,
                      shoulder_width: float | None = None) -> np.ndarray:
    """Boolean ``(T, 2)``: whether the left / right hand's centre lies in the face box.

    ``person`` ``(T, V, C)`` of ``layout`` (score in channel 2, 0 = missing);
    ``shoulder_width`` in the array's units (default: the median over frames where both
    shoulders are present). No head joint, no shoulders or no hand joint in a frame: False.
    """
    lay = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    t = person.shape[0]
    out = np.zeros((t, 2), dtype=bool)
    sw = shoulder_width if shoulder_width is not None else _shoulder_width(person, lay)
    head = [lay.index[n] for n in HEAD_JOINTS if n in lay.index]
    if not sw or not head or t == 0:
        return out
    hp = person[:, head, 2] > 0
    n_head = hp.sum(axis=1)
    centre = (person[:, head, :2] * hp[..., None]).sum(axis=1) / np.maximum(n_head, 1)[:, None]
    for k, side in enumerate(("left", "right")):
        idx = list(lay.joints_matching(f"{side}_hand_"))
        if not idx:
            continue
        p = person[:, idx, 2] > 0
        n = p.sum(axis=1)
        hand = (person[:, idx, :2] * p[..., None]).sum(axis=1) / np.maximum(n, 1)[:, None]
        inside = np.all(np.abs(hand - centre) <= half_size * sw, axis=1)
        out[:, k] = inside & (n > 0) & (n_head > 0)
    return out


def drop_hands_at_face(person: np.ndarray, layout: skeletons.Layout | str,
                       half_size: float = DEFAULT_HALF_SIZE,
                       shoulder_width: float | None = None) -> np.ndarray:
    """A copy of ``person`` ``(T, V, C)`` whose hands inside the face box are missing
    (:func:`hands_in_face_box`); the input is unchanged."""
    lay = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    lost = hands_in_face_box(person, lay, half_size, shoulder_width)
    if not lost.any():
        return person
    out = person.copy()
    for k, side in enumerate(("left", "right")):
        idx = list(lay.joints_matching(f"{side}_hand_"))
        if idx:
            out[np.ix_(lost[:, k], idx)] = 0.0
    return out


def deidentified_hands(seq: PoseSequence, half_size: float = DEFAULT_HALF_SIZE) -> PoseSequence:
    """``seq`` with every person's hands at the face removed, as pose on de-identified
    frames sees them (:func:`drop_hands_at_face`, each person with its own shoulder width)."""
    from dataclasses import replace

    kp = np.stack([drop_hands_at_face(p, seq.layout, half_size) for p in seq.keypoints]) \
        if seq.num_persons else seq.keypoints
    return replace(seq, keypoints=kp.astype(seq.keypoints.dtype, copy=False))


def without_hands(seq: PoseSequence) -> PoseSequence:
    """``seq`` with every joint of the 21-point hand models removed (names with ``_hand_``),
    as a body-only pose run gives it: OpenPose without ``--hand`` (its default), MediaPipe Pose
    without Holistic's hands. Body points such as MediaPipe Pose's coarse ``left_index`` stay."""
    from dataclasses import replace

    hands = [j for j, name in enumerate(seq.layout_def.joints) if "_hand_" in name]
    kp = np.array(seq.keypoints, copy=True)
    kp[:, :, hands] = 0
    return replace(seq, keypoints=kp)
