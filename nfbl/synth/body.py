"""3D kinematic model of a seated interviewee: anthropometry, forward kinematics, arm IK, hands.

World frame (metres): origin at the pelvis centre on the chair, ``x`` to the subject's
LEFT, ``y`` up, ``z`` forward (towards the interviewer/camera). All functions are
vectorised over time: channels are ``(T,)`` arrays, points ``(T, 3)``, rotations
``(T, 3, 3)``.

The kinematic tree (every bone is rigid, i.e. constant length in 3D):
pelvis → neck base (one rigid torso segment rotating about the pelvis), neck base →
shoulders (clavicles rotating at the neck base), shoulder → elbow → wrist (two-bone IK),
neck base → head pivot (cervical segment) → head points (rigid head), wrist → 21 hand
joints (rigid phalanges, flexion only changes angles), pelvis → hips → knees → ankles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nfbl.core.skeletons import HAND_JOINTS, hand_links

HAND_INDEX = {n: i for i, n in enumerate(HAND_JOINTS)}

#: Head points in the head frame (origin at the head pivot on top of the neck), for a head
#: scale of 1. x = subject's left. Right-side points mirror x.
HEAD_POINTS: dict[str, tuple[float, float, float]] = {
    "nose": (0.0, 0.035, 0.105),
    "left_eye": (0.032, 0.07, 0.085), "right_eye": (-0.032, 0.07, 0.085),
    "left_eye_inner": (0.016, 0.07, 0.09), "right_eye_inner": (-0.016, 0.07, 0.09),
    "left_eye_outer": (0.049, 0.07, 0.075), "right_eye_outer": (-0.049, 0.07, 0.075),
    "left_ear": (0.075, 0.05, 0.0), "right_ear": (-0.075, 0.05, 0.0),
    "mouth_left": (0.024, 0.0, 0.095), "mouth_right": (-0.024, 0.0, 0.095),
    "mouth": (0.0, 0.0, 0.105), "chin": (0.0, -0.035, 0.09),
    "jaw": (0.045, -0.01, 0.06), "cheek": (0.045, 0.03, 0.09),
    "forehead": (0.0, 0.115, 0.095), "top": (0.0, 0.17, 0.0),
    "hair": (0.055, 0.14, -0.03), "brim": (0.0, 0.15, 0.11),
    "face": (0.0, 0.05, 0.11),
}


@dataclass(frozen=True)
class BodyParams:
    """Anthropometry of one synthetic person (metres; ``*_ratio`` multiply the defaults)."""

    height: float = 1.75
    torso_ratio: float = 1.0
    shoulder_ratio: float = 1.0
    arm_ratio: float = 1.0
    head_ratio: float = 1.0
    hand_ratio: float = 1.0
    hip_ratio: float = 1.0

    @property
    def scale(self) -> float:
        return self.height / 1.75

    @property
    def torso(self) -> float:
        """Pelvis centre → neck base."""
        return 0.50 * self.scale * self.torso_ratio

    @property
    def shoulder_half(self) -> float:
        return 0.185 * self.scale * self.shoulder_ratio

    @property
    def upper_arm(self) -> float:
        return 0.30 * self.scale * self.arm_ratio

    @property
    def forearm(self) -> float:
        return 0.265 * self.scale * self.arm_ratio

    @property
    def neck(self) -> float:
        return 0.10 * self.scale

    @property
    def head(self) -> float:
        return self.scale * self.head_ratio

    @property
    def hand(self) -> float:
        return self.scale * self.hand_ratio

    @property
    def clavicle_local(self) -> np.ndarray:
        """Neck base → left shoulder at rest (torso frame)."""
        return np.array([self.shoulder_half, -0.025 * self.scale, -0.015 * self.scale])


_TRAIN_RANGES = {"height": [(1.58, 1.86)], "torso_ratio": [(0.94, 1.06)],
                 "shoulder_ratio": [(0.92, 1.08)], "arm_ratio": [(0.95, 1.05)],
                 "head_ratio": [(0.94, 1.06)], "hand_ratio": [(0.92, 1.08)],
                 "hip_ratio": [(0.9, 1.1)]}
_HELDOUT_RANGES = {"height": [(1.45, 1.58), (1.86, 1.98)], "torso_ratio": [(0.88, 0.94), (1.06, 1.1)],
                   "shoulder_ratio": [(0.84, 0.92), (1.08, 1.16)], "arm_ratio": [(0.9, 0.95), (1.05, 1.1)],
                   "head_ratio": [(0.9, 0.94), (1.06, 1.1)], "hand_ratio": [(0.84, 0.92), (1.08, 1.16)],
                   "hip_ratio": [(0.8, 0.9), (1.1, 1.2)]}


def sample_from_bands(rng: np.random.Generator, bands: list[tuple[float, float]]) -> float:
    """Uniform over a union of disjoint intervals (weighted by their widths)."""
    widths = np.array([b - a for a, b in bands])
    k = int(rng.choice(len(bands), p=widths / widths.sum()))
    return float(rng.uniform(*bands[k]))


def sample_body(rng: np.random.Generator, split: str = "train") -> BodyParams:
    """Random anthropometry; ``split="heldout"`` draws from ranges disjoint from ``"train"``."""
    ranges = _HELDOUT_RANGES if split == "heldout" else _TRAIN_RANGES
    return BodyParams(**{k: sample_from_bands(rng, v) for k, v in ranges.items()})


# --- rotations -------------------------------------------------------------------------------

def rot_x(a: np.ndarray) -> np.ndarray:
    """Rotation about x by ``a`` (T,) radians: positive turns +y towards +z (lean forward)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    """Rotation about y (vertical): positive turns +z towards +x (turn to the subject's left)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotation about z (forward): positive turns +x towards +y."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def apply(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors: ``rot`` (T,3,3), ``v`` (3,), (T,3) or (T,K,3) → same shape as the points."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return rot @ v
    if v.ndim == 2:
        return np.einsum("tij,tj->ti", rot, v)
    return np.einsum("tij,tkj->tki", rot, v)


def normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def frame_from(fdir: np.ndarray, normal_hint: np.ndarray) -> np.ndarray:
    """Orthonormal frames (T,3,3) with columns (x=finger direction, y=z×x, z=palm normal)."""
    x = normalize(fdir)
    z = normal_hint - np.sum(normal_hint * x, axis=-1, keepdims=True) * x
    bad = np.linalg.norm(z, axis=-1) < 1e-6
    if bad.any():
        alt = np.cross(x[bad], np.array([0.0, 1.0, 0.0]))
        alt[np.linalg.norm(alt, axis=-1) < 1e-6] = (1.0, 0.0, 0.0)
        z[bad] = alt
    z = normalize(z)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


# --- arm inverse kinematics -----------------------------------------------------------------

def two_bone_ik(shoulder: np.ndarray, target: np.ndarray, l1: float, l2: float,
                swivel: np.ndarray, down_ref: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK. Returns (elbow, wrist), each (T,3).

    The wrist reaches ``target`` when it lies within reach (else the closest reachable point
    on the same ray). ``swivel`` (T,) radians rotates the elbow about the shoulder→wrist
    axis away from ``down_ref`` (T,3); positive swivel lifts the elbow outwards (``side``
    +1 = left, -1 = right). Bone lengths are exactly ``l1`` and ``l2``.
    """
    d_vec = target - shoulder
    dist = np.linalg.norm(d_vec, axis=-1)
    u = d_vec / np.maximum(dist, 1e-9)[:, None]
    d = np.clip(dist, abs(l1 - l2) + 0.02, (l1 + l2) * 0.995)
    a = (l1 * l1 + d * d - l2 * l2) / (2 * d)
    r = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    e1 = down_ref - np.sum(down_ref * u, axis=-1, keepdims=True) * u
    bad = np.linalg.norm(e1, axis=-1) < 1e-4
    if bad.any():
        fwd = np.array([0.0, 0.0, -1.0])
        e1[bad] = fwd - np.sum(fwd * u[bad], axis=-1, keepdims=True) * u[bad]
    e1 = normalize(e1)
    e2 = np.cross(u, e1) * side
    centre = shoulder + u * a[:, None]
    elbow = centre + r[:, None] * (np.cos(swivel)[:, None] * e1 + np.sin(swivel)[:, None] * e2)
    wrist = shoulder + u * d[:, None]
    return elbow, wrist


# --- hand forward kinematics -----------------------------------------------------------------

# (mcp position x, y) for a unit hand, thumb side = +y; phalanx lengths; base splay (deg)
_FINGERS = (
    ("index", (0.085, 0.026), (0.040, 0.024, 0.020), 8.0),
    ("middle", (0.088, 0.007), (0.045, 0.028, 0.022), 0.0),
    ("ring", (0.083, -0.011), (0.042, 0.026, 0.021), -7.0),
    ("pinky", (0.075, -0.028), (0.033, 0.019, 0.018), -15.0),
)
_FLEX = np.deg2rad(np.array([70.0, 95.0, 65.0]))
_THUMB_CMC = np.array([0.022, 0.022, 0.008])
_THUMB_SEG = (0.040, 0.032, 0.027)


def hand_local(curl: np.ndarray, spread: np.ndarray, side: int, size: float) -> np.ndarray:
    """21 hand joints in the hand frame (x = fingers, z = palm normal), shape (T, 21, 3).

    ``curl`` (T, 5) in [0, 1] per finger (thumb, index, middle, ring, pinky): 0 = straight,
    1 = fist; ``spread`` (T,) scales the splay between fingers (1 = natural). ``side`` +1
    for the left hand (thumb towards +y), -1 for the right.
    """
    t = curl.shape[0]
    out = np.zeros((t, 21, 3))
    # thumb: rotates from its base direction towards the palm and across it
    base = normalize(np.array([0.75, 0.62, 0.25]))
    bend = normalize(np.array([0.15, -0.55, 1.0]))
    bend = normalize(bend - base * np.dot(base, bend))
    p = np.broadcast_to(_THUMB_CMC, (t, 3)).copy()
    out[:, 1] = p
    ang = np.zeros(t)
    for k, (seg, flex) in enumerate(zip(_THUMB_SEG, (0.35, 0.7, 0.8))):
        ang = ang + curl[:, 0] * flex + (0.15 if k == 0 else 0.0)
        direction = np.cos(ang)[:, None] * base + np.sin(ang)[:, None] * bend
        p = p + seg * direction
        out[:, 2 + k] = p
    for f, (name, (mx, my), segs, splay) in enumerate(_FINGERS):
        j0 = 5 + 4 * f
        mcp = np.array([mx, my, 0.0])
        out[:, j0] = mcp
        yaw = np.deg2rad(splay) * spread
        d0 = np.stack([np.cos(yaw), np.sin(yaw), np.zeros(t)], -1)
        p = np.broadcast_to(mcp, (t, 3)).copy()
        ang = np.zeros(t)
        for k, seg in enumerate(segs):
            ang = ang + curl[:, f + 1] * _FLEX[k]
            direction = np.cos(ang)[:, None] * d0 + np.sin(ang)[:, None] * np.array([0.0, 0.0, 1.0])
            p = p + seg * direction
            out[:, j0 + 1 + k] = p
    out[..., 1] *= side
    return out * size


def bones_3d() -> list[tuple[str, str]]:
    """Rigid bones of the model (names as in :func:`nfbl.synth.motion.Skeleton3D.joints`)."""
    bones = [("pelvis", "neck_base"), ("neck_base", "left_shoulder"),
             ("neck_base", "right_shoulder"), ("neck_base", "head_pivot"),
             ("pelvis", "left_hip"), ("pelvis", "right_hip"), ("left_hip", "left_knee"),
             ("right_hip", "right_knee"), ("left_knee", "left_ankle"), ("right_knee", "right_ankle")]
    for s in ("left", "right"):
        bones += [(f"{s}_shoulder", f"{s}_elbow"), (f"{s}_elbow", f"{s}_wrist")]
        bones += [("head_pivot", n) for n in HEAD_POINTS if n in ("nose", f"{s}_eye", f"{s}_ear")]
        bones += [(a.replace("_hand_wrist", "_wrist"), b) for a, b in hand_links(s)]
    return bones
