"""Skeleton augmentations for training windows (numpy, seeded by the caller's Generator).

Every function takes keypoints ``x`` float32 ``(T, V, C)`` as prepared by
:func:`nfbl.exports.model_input.prepare` — channels 0, 1 are normalised (x, y) coordinates centred
on the body, channel 2 is the confidence score, and a joint with score 0 is *missing* (its
coordinates are 0). Missing joints stay missing through every augmentation: geometric
transforms only touch present joints, resampling never invents a joint from a missing one.

Left/right flip mirrors x and swaps joints through ``Layout.flip_permutation``; the labels
are swapped through a class permutation (``class_flip``). NFBL classes carry no hand (both
"Touching ears" variants share one id), so the default permutation is the identity; the
hook stays so a handed taxonomy can pass its own mapping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nfbl.core import skeletons
from nfbl.keypoints import occlusion


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the training augmentations (all off when ``enabled`` is false).

    Angles in degrees, scale/shear as fractions; noise sigma in normalised coordinate
    units; speed as a factor on playback rate (``1.2`` = 20 % faster). ``face_hand_loss``:
    probability that a window is seen as pose on de-identified frames sees it — every hand
    inside the face's blur box lost (:func:`face_hand_loss`), the box's half-side drawn from
    ``face_box`` shoulder widths. ``layout_roundtrip``: probability that a window is seen
    as it arrives from a keypoint layout with fewer joints — converted to one of
    ``roundtrip_layouts`` and back (:func:`layout_roundtrip`): ``miga35``, the MiGA
    challenge's iMiGUE skeletons, keeps 5 fingertips per hand and no other hand joint.
    """

    enabled: bool = True
    rotate_deg: float = 15.0
    scale: tuple[float, float] = (0.8, 1.25)
    aspect: float = 0.1
    shear: float = 0.15
    translate: float = 0.1
    flip_prob: float = 0.5
    joint_dropout: float = 0.03
    hand_dropout_prob: float = 0.2
    hand_dropout_span: tuple[float, float] = (0.1, 1.0)
    noise_sigma: float = 0.01
    score_jitter: float = 0.1
    speed: tuple[float, float] = (0.8, 1.25)
    speed_prob: float = 0.5
    face_hand_loss: float = 0.0
    face_box: tuple[float, float] = (0.2, 0.5)
    layout_roundtrip: float = 0.0
    roundtrip_layouts: tuple[str, ...] = ("miga35",)

    def __post_init__(self) -> None:
        for name in self.roundtrip_layouts:
            skeletons.get_layout(name)  # an unknown name is a clear error at config time


def present(x: np.ndarray) -> np.ndarray:
    """Boolean ``(T, V)``: joints whose score is positive."""
    return x[..., 2] > 0


def affine(x: np.ndarray, matrix: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """Apply ``xy @ matrix.T + shift`` to present joints; missing joints are untouched."""
    out = x.copy()
    m = present(x)
    xy = x[..., :2][m] @ np.asarray(matrix, dtype=np.float32).T
    if shift is not None:
        xy = xy + np.asarray(shift, dtype=np.float32)
    out[..., :2][m] = xy
    return out


def random_affine_matrix(rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Rotation · anisotropic scale · shear, a ``(2, 2)`` float32 matrix."""
    th = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    s = np.exp(rng.uniform(np.log(cfg.scale[0]), np.log(cfg.scale[1])))
    a = rng.uniform(-cfg.aspect, cfg.aspect)
    scale = np.diag([s * (1 + a), s * (1 - a)])
    sh = np.array([[1.0, rng.uniform(-cfg.shear, cfg.shear)],
                   [rng.uniform(-cfg.shear, cfg.shear), 1.0]])
    return (rot @ scale @ sh).astype(np.float32)


def flip(x: np.ndarray, layout: skeletons.Layout = skeletons.CANONICAL) -> np.ndarray:
    """Mirror left/right: negate x and swap each joint with its mirror (left wrist ↔ right wrist).

    Coordinates are mirrored about x = 0 (the body centre after ``prepare``)."""
    out = x[:, layout.flip_permutation].copy()
    m = present(out)
    out[..., 0][m] = -out[..., 0][m]
    return out


def identity_class_flip(num_classes: int) -> np.ndarray:
    """Class permutation applied to labels on a flip: identity for the (unhanded) NFBL classes."""
    return np.arange(num_classes)


def mask_low_confidence(x: np.ndarray, min_score: float) -> np.ndarray:
    """Mark joints scored below ``min_score`` missing (all three channels 0), as the
    detector's streams do with ``DetectorConfig.min_score`` (0: ``x`` unchanged)."""
    if min_score <= 0:
        return x
    out = x.copy()
    out[out[..., 2] < min_score] = 0.0
    return out


def joint_dropout(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Mark each present (frame, joint) missing with probability ``p``."""
    if p <= 0:
        return x
    out = x.copy()
    drop = rng.random(out.shape[:2]) < p
    out[drop] = 0.0
    return out


def hand_dropout(x: np.ndarray, rng: np.random.Generator, p: float,
                 span: tuple[float, float] = (0.1, 1.0),
                 layout: skeletons.Layout = skeletons.CANONICAL) -> np.ndarray:
    """With probability ``p`` per hand, drop all 21 joints of that hand over a random time span
    (a fraction ``span`` of the window) — what a failing hand detector does."""
    out = x
    t = x.shape[0]
    for side in ("left", "right"):
        if rng.random() >= p:
            continue
        idx = list(layout.joints_matching(f"{side}_hand_"))
        length = max(1, int(round(rng.uniform(*span) * t)))
        start = int(rng.integers(0, max(1, t - length + 1)))
        if out is x:
            out = x.copy()
        out[start:start + length, idx] = 0.0
    return out


def face_hand_loss(x: np.ndarray, rng: np.random.Generator, p: float,
                   box: tuple[float, float] = (0.2, 0.5),
                   layout: skeletons.Layout = skeletons.CANONICAL) -> np.ndarray:
    """With probability ``p``, drop the hands inside a face box of half-side
    ``U(box)`` shoulder widths (:func:`nfbl.keypoints.occlusion.drop_hands_at_face`; the window
    is in shoulder widths, so the width is 1)."""
    if p <= 0 or rng.random() >= p:
        return x
    return occlusion.drop_hands_at_face(x, layout, float(rng.uniform(*box)), shoulder_width=1.0)


def layout_roundtrip(x: np.ndarray, rng: np.random.Generator, p: float,
                     layouts: tuple[str, ...] = ("miga35",),
                     layout: skeletons.Layout = skeletons.CANONICAL) -> np.ndarray:
    """With probability ``p``, the window as a source with fewer joints delivers it: converted
    by joint name to one of ``layouts`` (drawn uniformly) and back to ``layout`` with
    :func:`nfbl.core.skeletons.convert`, exactly the conversion ``prepare`` applies to such a
    file (joints the reduced layout lacks become missing; derived joints, e.g. a hand's wrist
    from the body's wrist, are derived again). x: ``(T, V, 3)``."""
    if p <= 0 or not layouts or rng.random() >= p:
        return x
    reduced = skeletons.get_layout(layouts[int(rng.integers(len(layouts)))])
    return skeletons.convert(skeletons.convert(x, layout, reduced), reduced, layout)


def add_noise(x: np.ndarray, rng: np.random.Generator, sigma: float,
              score_jitter: float = 0.0) -> np.ndarray:
    """Gaussian coordinate noise (``sigma``) and multiplicative score jitter on present joints."""
    out = x.copy()
    m = present(x)
    if sigma > 0:
        out[..., :2][m] += rng.normal(0.0, sigma, size=(int(m.sum()), 2)).astype(np.float32)
    if score_jitter > 0:
        f = rng.uniform(1 - score_jitter, 1 + score_jitter, size=int(m.sum())).astype(np.float32)
        out[..., 2][m] = np.clip(out[..., 2][m] * f, 1e-3, 1.0)
    return out


def resample(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Resample frames at fractional source ``positions`` (``(T_out,)``, frame units).

    Linear interpolation where both neighbouring frames hold the joint; otherwise the
    nearest frame is copied as it is (so a missing joint stays missing, never blended with
    a real one). Positions are clipped to the valid range.
    """
    t = x.shape[0]
    pos = np.clip(np.asarray(positions, dtype=np.float64), 0, t - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (pos - i0).astype(np.float32)[:, None, None]
    a, b = x[i0], x[i1]
    both = (present(a) & present(b))[..., None]
    lerp = a * (1 - w) + b * w
    nearest = np.where(w < 0.5, a, b)
    return np.where(both, lerp, nearest).astype(np.float32)


def augment_window(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
                   layout: skeletons.Layout = skeletons.CANONICAL,
                   global_centre: bool = False) -> tuple[np.ndarray, bool]:
    """Apply flip, affine, dropouts and noise to one window; returns (window, flipped).

    ``global_centre``: the centre joint holds the global displacement (see
    :func:`nfbl.exports.model_input.add_global_centre`); the random translation then moves only it
    (an error in the reference centre) and the other joints stay neck-centred, as at
    inference. Temporal speed jitter changes the window's time axis and its targets
    together, so it is done by the window sampler (:mod:`nfbl.detectors.data`), not here.
    """
    if not cfg.enabled:
        return x, False
    flipped = bool(rng.random() < cfg.flip_prob)
    if flipped:
        x = flip(x, layout)
    x = face_hand_loss(x, rng, cfg.face_hand_loss, cfg.face_box, layout)
    x = layout_roundtrip(x, rng, cfg.layout_roundtrip, cfg.roundtrip_layouts, layout)
    shift = rng.uniform(-cfg.translate, cfg.translate, size=2)
    if global_centre:
        x = affine(x, random_affine_matrix(rng, cfg))
        c = layout.index[layout.center]
        has = x[:, c, 2] > 0
        x[has, c, :2] += shift.astype(np.float32)
    else:
        x = affine(x, random_affine_matrix(rng, cfg), shift)
    x = joint_dropout(x, rng, cfg.joint_dropout)
    x = hand_dropout(x, rng, cfg.hand_dropout_prob, cfg.hand_dropout_span, layout)
    x = add_noise(x, rng, cfg.noise_sigma, cfg.score_jitter)
    return x, flipped
