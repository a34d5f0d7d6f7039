"""Gesture programs for every NFBL class a body + hands skeleton can see.

Each gesture writes into the motion channels of frames ``[s, e)`` of one event. Arm
gestures place a hand point on an anchor of the body (nose, ear, collar, the other arm...)
with an envelope that is positive on exactly those frames: **the event starts on the
first frame the hand leaves its rest pose and ends when the hand is back** (or, for torso,
head and shoulder classes, when the posture is released). Anchors, finger directions and
palm normals are written for the LEFT hand; the right hand mirrors x.

Resources: every class uses a set of body resources ("L"/"R" arm, "torso", "head",
"shoulders"); two events may overlap only when their resources are disjoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nfbl.synth import body as B
from nfbl.synth.motion import SIGN, ArmRequest, Channels, envelope, smooth_noise

D2R = np.pi / 180.0
TIP = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}
PALM = -1


@dataclass(frozen=True)
class GestureCtx:
    """What a gesture program needs to know about the video."""

    ch: Channels
    rng: np.random.Generator
    body: B.BodyParams
    fps: float
    table_height: float
    tempo: float = 1.0  # per-person speed of reaching/releasing (ramp durations are divided by it)


def _ramps(ctx: GestureCtx, n: int, lo: float = 0.25, hi: float = 0.7) -> tuple[int, int]:
    r = ctx.rng
    a = int(np.clip(r.uniform(lo, hi) * ctx.fps / ctx.tempo, 1, 0.4 * n))
    b = int(np.clip(r.uniform(lo, hi) * ctx.fps / ctx.tempo, 1, 0.4 * n))
    return a, b


def _osc(ctx: GestureCtx, n: int, freq: tuple[float, float], amp: float, direction, circular: bool = False) -> np.ndarray:
    """(n, 3) oscillation of ``amp`` metres at a random frequency in ``freq`` Hz."""
    f = ctx.rng.uniform(*freq)
    ph = 2 * np.pi * f * np.arange(n) / ctx.fps + ctx.rng.uniform(0, 2 * np.pi)
    d = np.asarray(direction, float)
    out = amp * np.sin(ph)[:, None] * d
    if circular:
        perp = np.cross(d, (0.0, 0.0, 1.0))
        if np.linalg.norm(perp) < 1e-6:
            perp = np.array([1.0, 0.0, 0.0])
        out = out + amp * np.cos(ph)[:, None] * B.normalize(perp)
    return out


def _mirror(v, side: str) -> np.ndarray:
    v = np.array(v, dtype=float)
    v[..., 0] *= SIGN[side]
    return v


def hand_shape(n: int, thumb: float, index: float, middle: float, ring: float, pinky: float) -> np.ndarray:
    return np.tile([thumb, index, middle, ring, pinky], (n, 1)).astype(float)


def arm_gesture(ctx: GestureCtx, side: str, s: int, e: int, env: np.ndarray, frame: str, anchor,
                fdir, normal, contact: int, curl: np.ndarray, spread: float, swivel: float,
                via=None, drift: float = 0.004) -> None:
    """Blend one arm from rest into a contact pose with weight ``env`` over frames [s, e).

    ``drift`` (metres): slow random wander of the contact so that holds are never frozen;
    two-hand contacts pass 0 and share one drift instead.
    """
    a = ctx.ch.arms[side]
    n = e - s
    w = env[:, None]
    a.w[s:e] = np.maximum(a.w[s:e], env)
    a.curl[s:e] = a.curl[s:e] * (1 - w) + np.clip(curl, 0, 1) * w
    a.spread[s:e] = a.spread[s:e] * (1 - env) + spread * env
    a.swivel[s:e] = a.swivel[s:e] * (1 - env) + swivel * env
    if frame == "head":
        # people bring the head towards the hand: a little nod and lean with the gesture
        ctx.ch.head[s:e, 0] += ctx.rng.uniform(0, 10) * D2R * env
        ctx.ch.torso[s:e, 0] += ctx.rng.uniform(0, 5) * D2R * env
    if frame == "other_arm":
        anchor = np.broadcast_to(anchor, (n, 3))
    else:  # slow drift of the contact (about 1 cm) so that holds are never frozen
        anchor = _mirror(anchor, side) + drift * smooth_noise(ctx.rng, n, 0.5 * ctx.fps, (3,))
    ctx.ch.requests.append(ArmRequest(
        side=side, start=s, end=e, frame=frame, anchor=np.array(anchor),
        fdir=np.broadcast_to(_mirror(fdir, side), (n, 3)).copy(),
        normal=np.broadcast_to(_mirror(normal, side), (n, 3)).copy(), contact=contact,
        via=None if via is None else np.asarray(via, float)))


def _head_point(ctx: GestureCtx, name: str) -> np.ndarray:
    return np.array(B.HEAD_POINTS[name]) * ctx.body.head


def _scratch_curl(ctx: GestureCtx, n: int, base: np.ndarray, amp: float = 0.25) -> np.ndarray:
    f = ctx.rng.uniform(2.5, 5.0)
    osc = amp * (0.5 + 0.5 * np.sin(2 * np.pi * f * np.arange(n) / ctx.fps))
    out = base.copy()
    out[:, 1:] += osc[:, None]
    return out


# --- face and head contacts --------------------------------------------------------------------

def touching_nose(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = _head_point(ctx, "nose") + (0.006, -0.005, 0.004)
    if ctx.rng.random() < 0.5:
        anchor = anchor + _osc(ctx, n, (2, 4), 0.006, (1, 0.5, 0))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.35, 0.9, -0.15), (-0.4, 0.0, -1.0),
                TIP["index"], hand_shape(n, 0.5, 0.08, 0.75, 0.8, 0.85), 0.8, ctx.rng.uniform(15, 40) * D2R,
                drift=0.002)


def touching_face(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    where = ctx.rng.choice(["cheek", "mouth", "chin", "jaw"])
    anchor = _head_point(ctx, str(where)) + (0.0, 0.0, 0.008)
    if ctx.rng.random() < 0.6:  # scratching
        anchor = anchor + _osc(ctx, n, (3, 6), 0.008, (0.3, 1, 0))
    curl = _scratch_curl(ctx, n, hand_shape(n, 0.5, 0.15, 0.3, 0.7, 0.8), 0.15)
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.3, 1.0, 0.0), (-0.3, 0.0, -1.0),
                TIP[str(ctx.rng.choice(["index", "middle"]))], curl, 0.7, ctx.rng.uniform(10, 35) * D2R)


def touching_jaw(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    if ctx.rng.random() < 0.5:  # chin resting on the hand, palm up
        anchor = _head_point(ctx, "chin") + (0.02, -0.025, -0.02)
        arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.5, 0.8, 0.2), (-0.6, 0.3, -0.7), PALM,
                    hand_shape(n, 0.3, 0.3, 0.35, 0.45, 0.55), 0.8, ctx.rng.uniform(0, 20) * D2R)
    else:  # fingers along the jaw line
        anchor = _head_point(ctx, "jaw") + (0.005, -0.01, 0.0) + _osc(ctx, n, (0.5, 1.5), 0.01, (0, 0, 1))
        arm_gesture(ctx, side, s, e, env, "head", anchor, (0.1, 0.25, -1.0), (-1.0, 0.0, 0.0), TIP["index"],
                    hand_shape(n, 0.2, 0.1, 0.3, 0.5, 0.6), 0.8, ctx.rng.uniform(10, 30) * D2R)


def rubbing_eyes(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    eye = "left_eye" if ctx.rng.random() < 0.7 else "right_eye"  # own-side eye mostly
    anchor = _head_point(ctx, eye) + (0.0, 0.0, 0.012) + _osc(ctx, n, (2, 4), 0.008, (1, 0, 0), circular=True)
    curl = hand_shape(n, 0.4, 0.35, 0.6, 0.7, 0.75)
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.4, 1.0, -0.2), (-0.3, 0.0, -1.0), TIP["index"],
                curl, 0.6, ctx.rng.uniform(20, 45) * D2R)


def covering_face(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    sides = ("left", "right") if side == "both" else (side,)
    for sd in sides:
        off = (0.03, 0.0, 0.0) if len(sides) == 2 else (0.0, 0.0, 0.0)
        anchor = _head_point(ctx, "face") + (0.0, 0.0, 0.015) + off
        arm_gesture(ctx, sd, s, e, env, "head", anchor, (-0.15, 1.0, 0.1), (0.0, 0.0, -1.0), PALM,
                    hand_shape(n, 0.15, 0.08, 0.08, 0.1, 0.12), 0.9, ctx.rng.uniform(10, 30) * D2R)


def biting_nails(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = _head_point(ctx, "mouth") + (0.0, -0.003, 0.004) + _osc(ctx, n, (3, 6), 0.004, (1, 0, 0))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.4, 0.5, -1.0), (0.0, -1.0, 0.0),
                TIP[str(ctx.rng.choice(["index", "thumb", "middle"]))],
                hand_shape(n, 0.35, 0.35, 0.55, 0.75, 0.8), 0.6, ctx.rng.uniform(0, 20) * D2R)


def touching_head(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    where = _head_point(ctx, "top") * (0.0, 0.95, 1) + (0.04, 0.0, ctx.rng.uniform(-0.06, 0.04))
    anchor = where + _osc(ctx, n, (3, 5), 0.012, (0, 0, 1)) * (ctx.rng.random() < 0.7)
    curl = _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.3, 0.3, 0.35, 0.4))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-1.0, 0.2, 0.0), (0.0, -1.0, 0.0), TIP["middle"],
                curl, 0.9, ctx.rng.uniform(60, 90) * D2R, via=(0.1, 0.1, 0.1))


def touching_forehead(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = _head_point(ctx, "forehead") + (0.01, 0.0, 0.006)
    if ctx.rng.random() < 0.6:
        anchor = anchor + _osc(ctx, n, (2.5, 5), 0.01, (1, 0.2, 0))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-1.0, 0.3, 0.0), (0.0, 0.0, -1.0), TIP["middle"],
                _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.1, 0.1, 0.2, 0.3), 0.1), 0.7,
                ctx.rng.uniform(35, 60) * D2R)


def touching_ears(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = _head_point(ctx, "left_ear") + (0.012, -0.015, 0.0) + _osc(ctx, n, (1, 3), 0.005, (0, 1, 0))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.15, 0.55, -0.8), (-1.0, 0.0, 0.0), TIP["index"],
                hand_shape(n, 0.45, 0.3, 0.55, 0.65, 0.7), 0.7, ctx.rng.uniform(0, 25) * D2R)


def touching_neck(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body.scale
    if ctx.rng.random() < 0.5:  # side of the neck
        anchor = np.array([0.045, 0.06, 0.01]) * b
        fdir, normal = (-0.3, 0.4, -1.0), (-1.0, 0.0, 0.0)
    else:  # back of the neck
        anchor = np.array([0.01, 0.07, -0.055]) * b
        fdir, normal = (-1.0, 0.1, 0.0), (0.0, 0.0, 1.0)
    anchor = anchor + _osc(ctx, n, (3, 5), 0.01, (0, 1, 0)) * (ctx.rng.random() < 0.6)
    arm_gesture(ctx, side, s, e, env, "neck", anchor, fdir, normal, PALM,
                _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.2, 0.2, 0.25, 0.3), 0.15), 0.8,
                ctx.rng.uniform(40, 70) * D2R, via=(0.08, 0.05, 0.12))


def adjusting_hair(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    strokes = ctx.rng.uniform(0.5, 2.0)
    ph = np.clip(np.arange(n) / n * strokes, 0, None) % 1.0
    path = np.stack([np.full(n, 0.06), 0.13 - 0.02 * ph, 0.07 - 0.14 * ph], -1) * ctx.body.head
    arm_gesture(ctx, side, s, e, env, "head", path, (-0.6, 0.5, -0.5), (-1.0, -0.2, 0.0), TIP["middle"],
                hand_shape(n, 0.3, 0.25, 0.25, 0.3, 0.35), 1.0, ctx.rng.uniform(55, 85) * D2R,
                via=(0.08, 0.1, 0.1))


def touching_hat(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = _head_point(ctx, "brim") + (0.02, 0.0, 0.0) + _osc(ctx, n, (0.8, 2), 0.008, (0, 1, 0.5))
    arm_gesture(ctx, side, s, e, env, "head", anchor, (-0.2, 0.6, 0.2), (0.0, -0.3, -1.0), TIP["index"],
                hand_shape(n, 0.5, 0.45, 0.55, 0.6, 0.65), 0.6, ctx.rng.uniform(30, 60) * D2R)


# --- neck, collar, torso contacts ----------------------------------------------------------------

def adjusting_collar(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    sides = ("left", "right") if side == "both" else (side,)
    b = ctx.body.scale
    for sd in sides:
        anchor = np.array([0.035, -0.01, 0.075]) * b + _osc(ctx, n, (1, 2.5), 0.012, (0, 0.3, 1))
        if len(sides) == 1 and ctx.rng.random() < 0.5:  # adjusting the tie / top button
            anchor = np.array([0.0, -0.05, 0.09]) * b + _osc(ctx, n, (1, 2.5), 0.01, (0.2, 1, 0))
        arm_gesture(ctx, sd, s, e, env, "neck", anchor, (-0.3, 0.8, 0.3), (0.0, 0.0, -1.0), TIP["index"],
                    hand_shape(n, 0.55, 0.45, 0.7, 0.8, 0.85), 0.5, ctx.rng.uniform(15, 40) * D2R)


def suprasternal_notch(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    anchor = np.array([0.0, -0.015, 0.06]) * ctx.body.scale
    contact = TIP["middle"] if ctx.rng.random() < 0.6 else PALM
    arm_gesture(ctx, side, s, e, env, "neck", anchor, (-0.4, 1.0, 0.0), (0.0, 0.0, -1.0), contact,
                hand_shape(n, 0.3, 0.15, 0.15, 0.25, 0.3), 0.6, ctx.rng.uniform(10, 30) * D2R)


def scratching_back(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.4, 0.9))
    b = ctx.body.scale
    osc = _osc(ctx, n, (2.5, 4.5), 0.02, (0, 1, 0))
    if ctx.rng.random() < 0.5:  # over the shoulder
        anchor = np.array([0.05, -0.06, -0.09]) * b + osc
        arm_gesture(ctx, side, s, e, env, "neck", anchor, (-0.1, -1.0, -0.2), (0.0, 0.0, 1.0), TIP["middle"],
                    _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.3, 0.3, 0.35, 0.4)), 0.8,
                    ctx.rng.uniform(100, 140) * D2R, via=(0.15, 0.25, 0.2))
    else:  # round the side to the lower back
        anchor = np.array([0.08, 0.2, -0.14]) * b + osc
        arm_gesture(ctx, side, s, e, env, "torso", anchor, (-0.6, 0.5, 0.0), (0.0, 0.0, 1.0), TIP["middle"],
                    _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.3, 0.3, 0.35, 0.4)), 0.8,
                    ctx.rng.uniform(10, 40) * D2R, via=(0.2, 0.0, 0.05))


def folding_arms(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.4, 0.9))
    b = ctx.body
    upper = "left" if ctx.rng.random() < 0.5 else "right"
    for sd in ("left", "right"):
        top = sd == upper
        anchor = np.array([-b.shoulder_half * ctx.rng.uniform(0.7, 0.95),
                           b.torso * (0.72 if top else 0.64), (0.19 if top else 0.15) * b.scale])
        arm_gesture(ctx, sd, s, e, env, "torso", anchor, (-1.0, 0.05, -0.35), (0.0, 0.0, -1.0), PALM,
                    hand_shape(n, 0.3, 0.3, 0.35, 0.4, 0.45), 0.8, ctx.rng.uniform(0, 15) * D2R,
                    via=(0.0, 0.0, 0.08))


def dusting_off(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body
    strokes = max(1, int(round(n / ctx.fps * ctx.rng.uniform(1.0, 2.5))))
    ph = (np.arange(n) / n * strokes) % 1.0
    if ctx.rng.random() < 0.75:  # opposite side of the chest / sleeve
        start, stop = np.array([-0.06, 0.38, 0.13]), np.array([-0.14, 0.28, 0.13])
    else:  # thigh / lap
        start, stop = np.array([-0.05, 0.04, 0.22]), np.array([-0.1, 0.03, 0.38])
    path = (start + (stop - start) * ph[:, None]) * b.scale
    arm_gesture(ctx, side, s, e, env, "torso", path, (-0.3, -1.0, 0.3), (0.0, 0.3, -1.0), PALM,
                hand_shape(n, 0.2, 0.1, 0.1, 0.15, 0.2), 0.9, ctx.rng.uniform(5, 30) * D2R, via=(0.0, 0.0, 0.08))


def arms_behind(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.4, 0.9))
    for sd in ("left", "right"):
        anchor = np.array([0.07, 0.14, -0.15]) * ctx.body.scale
        arm_gesture(ctx, sd, s, e, env, "torso", anchor, (-0.5, -0.6, 0.0), (0.0, 0.0, 1.0), PALM,
                    hand_shape(n, 0.4, 0.4, 0.45, 0.5, 0.55), 0.8, ctx.rng.uniform(5, 25) * D2R,
                    via=(0.2, 0.05, -0.02))


def scratching_arm(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    frac = ctx.rng.uniform(0.4, 1.6)
    along = _osc(ctx, n, (2.5, 5), 0.08, (1, 0, 0))[:, 0] * (ctx.rng.random() < 0.7)
    anchor = np.stack([np.clip(frac + along, 0.2, 1.9), np.ones(n), np.zeros(n)], -1)
    arm_gesture(ctx, side, s, e, env, "other_arm", anchor, (-1.0, -0.2, -0.3), (0.0, 0.0, -1.0), TIP["middle"],
                _scratch_curl(ctx, n, hand_shape(n, 0.3, 0.3, 0.3, 0.35, 0.4), 0.2), 0.8,
                ctx.rng.uniform(5, 25) * D2R, via=(0.0, 0.05, 0.1))


def rubbing_hands(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body.scale
    meet = np.array([0.0, ctx.table_height + 0.09, 0.32 * b]) + 0.012 * smooth_noise(ctx.rng, n, 0.6 * ctx.fps, (3,))
    rub = _osc(ctx, n, (1.5, 3.5), 0.025, (0, 0.6, 1)) * (ctx.rng.random() < 0.6)
    hold = ctx.rng.random() < 0.4
    for k, sd in enumerate(("left", "right")):
        anchor = meet + (0.012, 0, 0) + (rub if k == 0 else -rub)
        curl = hand_shape(n, 0.3, 0.5, 0.55, 0.6, 0.65) if hold else hand_shape(n, 0.2, 0.1, 0.1, 0.15, 0.2)
        arm_gesture(ctx, sd, s, e, env, "world", anchor, (-0.6, 0.5, 0.7), (-1.0, 0.0, 0.0), PALM,
                    curl, 0.8, ctx.rng.uniform(0, 20) * D2R, drift=0.0)


def crossing_fingers(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body.scale
    meet = np.array([0.0, ctx.table_height + ctx.rng.uniform(0.08, 0.25), ctx.rng.uniform(0.28, 0.36) * b])
    meet = meet + 0.012 * smooth_noise(ctx.rng, n, 0.6 * ctx.fps, (3,)) * (0, 1, 1)
    for k, sd in enumerate(("left", "right")):
        anchor = meet + (0.012, 0.006 if k == 0 else -0.006, 0.0)
        arm_gesture(ctx, sd, s, e, env, "world", anchor, (-0.9, 0.45, 0.35), (-1.0, 0.0, 0.0), PALM,
                    hand_shape(n, 0.35, 0.65, 0.65, 0.65, 0.65), 1.3, ctx.rng.uniform(0, 20) * D2R, drift=0.0)


def minaret(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body
    apex = np.array([0.0, b.torso * ctx.rng.uniform(0.6, 0.95), ctx.rng.uniform(0.28, 0.36) * b.scale])
    tilt = ctx.rng.uniform(0.1, 0.6)
    apex = apex + 0.01 * smooth_noise(ctx.rng, n, 0.6 * ctx.fps, (3,)) * (0, 1, 1)
    for sd in ("left", "right"):
        arm_gesture(ctx, sd, s, e, env, "torso", apex + (0.002, 0, 0), (-0.35, 1.0, tilt), (-1.0, -0.35, 0.0),
                    TIP["middle"], hand_shape(n, 0.1, 0.03, 0.03, 0.05, 0.07), 1.2, ctx.rng.uniform(5, 25) * D2R,
                    drift=0.0)


def manipulating_object(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n))
    b = ctx.body.scale
    sides = ("left", "right") if side == "both" else (side,)
    centre = np.array([ctx.rng.uniform(0.0, 0.06), ctx.table_height + ctx.rng.uniform(0.04, 0.12), 0.34 * b])
    twist = _osc(ctx, n, (0.5, 2.0), 0.5, (0, 1, 0))[:, 1]
    for sd in sides:
        anchor = centre + (0.035 if len(sides) == 2 else 0.0, 0, 0) + _osc(ctx, n, (0.5, 2), 0.015, (0.5, 0.3, 1))
        fdir = np.stack([-0.6 + 0 * twist, 0.2 + twist, np.ones(n)], -1)
        curl = hand_shape(n, 0.45, 0.45, 0.6, 0.7, 0.75)
        curl[:, :2] += _osc(ctx, n, (1, 3), 0.15, (1, 0, 0))[:, :1]
        arm_gesture(ctx, sd, s, e, env, "world", anchor, fdir, (-0.6, -0.5, 0.0), TIP["index"], curl, 0.6,
                    ctx.rng.uniform(5, 25) * D2R)


def hold_back_arms(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.2, 0.5))
    b = ctx.body
    for sd in ("left", "right"):
        anchor = np.array([b.shoulder_half + 0.05, 0.06, -0.06 * b.scale])
        arm_gesture(ctx, sd, s, e, env, "torso", anchor, (0.1, -1.0, -0.2), (-1.0, 0.0, 0.0), PALM,
                    hand_shape(n, 0.3, 0.3, 0.35, 0.4, 0.45), 0.8, ctx.rng.uniform(0, 10) * D2R,
                    via=(0.1, 0.0, 0.0))
    ctx.ch.torso[s:e, 0] += -6 * D2R * env
    ctx.ch.shrug[s:e] += (4 * D2R * env)[:, None]


def arms_akimbo(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.4, 0.8))
    b = ctx.body
    sides = ("left", "right") if side == "both" else (side,)
    for sd in sides:
        anchor = np.array([b.shoulder_half * 0.85, 0.14 * b.scale, 0.02])
        arm_gesture(ctx, sd, s, e, env, "torso", anchor, (-0.2, -0.4, 1.0), (-1.0, 0.0, 0.0), PALM,
                    hand_shape(n, 0.2, 0.15, 0.15, 0.2, 0.25), 0.7, ctx.rng.uniform(70, 100) * D2R,
                    via=(0.12, 0.0, 0.0))


def _stroke_path(ctx, n: int, strokes: int, kind: str, d: np.ndarray, amp: float) -> np.ndarray:
    """(n, 3) offsets of the stroke phase: ``strokes`` strokes of kind beat / point / circle /
    sweep, each with an uneven duration and size (real co-speech strokes are not periodic)."""
    r = ctx.rng
    w = r.uniform(0.6, 1.4, strokes)
    edges = np.r_[0, np.cumsum(w) / w.sum()] * n
    ph = np.interp(np.arange(n), edges, np.arange(strokes + 1))  # stroke index + phase in [0, strokes]
    k = np.minimum(ph.astype(int), strokes - 1)
    frac = ph - k
    size = r.uniform(0.55, 1.0, strokes)[k] * amp
    if kind == "beat":      # quick down-up flicks
        bump = np.sin(np.pi * frac) ** 2
        return (size * bump)[:, None] * d
    if kind == "point":     # out to a target, a short hold, back part of the way
        bump = np.clip(np.sin(np.pi * np.minimum(frac * 1.4, 1.0)), 0, 1)
        return (size * bump)[:, None] * d
    if kind == "circle":    # iconic: circles / rolling
        perp = B.normalize(np.cross(d, (0.0, 0.0, 1.0)) + 1e-6)
        a = 2 * np.pi * ph
        return 0.6 * size[:, None] * (np.sin(a)[:, None] * d + (1 - np.cos(a))[:, None] * perp)
    # sweep: lateral movement back and forth across the gesture space
    return (size * np.sin(np.pi * ph))[:, None] * d


def illustrative(ctx, s, e, side):
    """N31: a co-speech gesture in front of the chest: preparation (the hand rises from rest
    into the gesture space), 1-5 strokes (beat, point, circle or sweep; uneven), an optional
    post-stroke hold and retraction. Size (3-20 cm strokes), height (waist to shoulders),
    speed and the hands used (one, or two moving together or mirrored) vary per event.

    Talking *beats* (idle, not NFBL) stay near the rest pose (2-7 cm) and last 0.25-0.6 s
    per stroke; illustrative gestures lift the hand into the space in front of the chest.
    """
    r = ctx.rng
    n = e - s
    prep, retr = _ramps(ctx, n, 0.15, 0.6)
    env = envelope(n, prep, retr)
    b = ctx.body
    sides = ("left", "right") if side == "both" else (side,)
    kind = str(r.choice(["beat", "point", "circle", "sweep"], p=[0.4, 0.2, 0.2, 0.2]))
    rate = r.uniform(0.7, 2.5)  # strokes per second
    strokes = int(np.clip(round(n / ctx.fps * rate), 1, 5))
    amp = r.uniform(0.03, 0.2) * b.scale
    height = r.uniform(0.35, 0.9)
    d0 = B.normalize(r.uniform([-0.6, -0.6, -0.3], [1.0, 0.8, 0.7]))
    mirror = r.random() < 0.7
    hold = r.random() < 0.3
    for i, sd in enumerate(sides):
        base = np.array([r.uniform(0.04, 0.22), b.torso * height, r.uniform(0.28, 0.48)]) * (1, 1, b.scale)
        d = d0 if (i == 0 or mirror) else B.normalize(d0 * (-1, 1, 1))
        stroke = _stroke_path(ctx, n, strokes, kind, d, amp)
        if hold:  # the hand stays where the last stroke ended until the retraction
            cut = int(n * r.uniform(0.6, 0.8))
            stroke[cut:] = stroke[cut]
        path = base + stroke + _osc(ctx, n, (0.3, 1.0), 0.015, (1, 0.5, 0))
        roll = r.uniform(-1.2, 0.6) + r.uniform(0.2, 0.8) * np.sin(np.pi * np.arange(n) / max(n, 1) * strokes)
        normal = np.stack([np.sin(roll), -np.cos(roll), 0.3 + 0 * roll], -1)
        openness = r.uniform(0.0, 0.5)
        arm_gesture(ctx, sd, s, e, env, "torso", path, (-0.3, 0.25, 1.0), normal, PALM,
                    hand_shape(n, 0.1 + openness * 0.5, 0.05 + openness, 0.1 + openness, 0.15 + openness, 0.2 + openness),
                    r.uniform(0.7, 1.4), r.uniform(5, 35) * D2R)


# --- torso, head and shoulders ---------------------------------------------------------------------

def moving_torso(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.3, 0.8))
    r = ctx.rng
    amp = r.uniform(8, 20) * D2R * r.choice([-1, 1])
    axis = int(r.choice([0, 1, 2], p=[0.5, 0.25, 0.25]))
    cycles = r.choice([0.5, 1.0, 1.5])
    shape = np.sin(np.pi * np.arange(n) / n * cycles * 2) if cycles != 0.5 else np.ones(n)
    ctx.ch.torso[s:e, axis] += amp * env * shape
    ctx.ch.head[s:e, 0] -= 0.5 * amp * env * shape * (axis == 0)


def sitting_straight(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.3, 0.6))
    ctx.ch.torso[s:e, 0] += (-ctx.ch.torso[s:e, 0] - ctx.rng.uniform(3, 8) * D2R) * env
    ctx.ch.shrug[s:e] += (3 * D2R * env)[:, None]
    ctx.ch.head[s:e, 0] -= ctx.rng.uniform(3, 8) * D2R * env


def head_up(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.2, 0.5))
    ctx.ch.head[s:e, 0] -= ctx.rng.uniform(15, 32) * D2R * env
    ctx.ch.neck_pitch[s:e] -= ctx.rng.uniform(0, 8) * D2R * env


def turtle_neck(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.2, 0.5))
    ctx.ch.shrug[s:e] += (ctx.rng.uniform(10, 18) * D2R * env)[:, None]
    ctx.ch.neck_pitch[s:e] += ctx.rng.uniform(15, 30) * D2R * env
    ctx.ch.head[s:e, 0] += ctx.rng.uniform(0, 10) * D2R * env


def shaking_shoulders(ctx, s, e, side):
    n = e - s
    env = envelope(n, *_ramps(ctx, n, 0.1, 0.3))
    f = ctx.rng.uniform(2.5, 5.0)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * f * np.arange(n) / ctx.fps)
    amp = ctx.rng.uniform(4, 9) * D2R
    ctx.ch.shrug[s:e] += (amp * env * wave)[:, None]
    ctx.ch.torso[s:e, 0] += 1.5 * D2R * env * wave
    ctx.ch.head[s:e, 0] += 2 * D2R * env * np.sin(2 * np.pi * f * np.arange(n) / ctx.fps)


@dataclass(frozen=True)
class GestureSpec:
    """How a class is generated: its program and the resources it occupies.

    ``arms``: "one" (one hand, side chosen per event), "both", "either" (one or both hands),
    or "none". ``extra``: non-arm resources ("torso", "head", "shoulders").
    """

    program: Callable
    arms: str
    extra: tuple[str, ...] = ()
    both_share: float = 0.0  # for "either": probability of using both hands


GESTURES: dict[int, GestureSpec] = {
    0: GestureSpec(turtle_neck, "none", ("shoulders", "head")),
    2: GestureSpec(touching_hat, "one"),
    3: GestureSpec(touching_head, "one"),
    4: GestureSpec(touching_forehead, "one"),
    5: GestureSpec(covering_face, "either", both_share=0.5),
    6: GestureSpec(rubbing_eyes, "one"),
    7: GestureSpec(touching_face, "one"),
    8: GestureSpec(touching_ears, "one"),
    9: GestureSpec(biting_nails, "one"),
    10: GestureSpec(touching_jaw, "one"),
    11: GestureSpec(touching_neck, "one"),
    12: GestureSpec(adjusting_hair, "one"),
    13: GestureSpec(adjusting_collar, "either", both_share=0.4),
    14: GestureSpec(suprasternal_notch, "one"),
    15: GestureSpec(scratching_back, "one"),
    16: GestureSpec(folding_arms, "both"),
    17: GestureSpec(dusting_off, "one"),
    18: GestureSpec(arms_behind, "both"),
    19: GestureSpec(moving_torso, "none", ("torso",)),
    20: GestureSpec(sitting_straight, "none", ("torso", "shoulders", "head")),
    21: GestureSpec(scratching_arm, "one"),
    22: GestureSpec(rubbing_hands, "both"),
    23: GestureSpec(crossing_fingers, "both"),
    24: GestureSpec(minaret, "both"),
    25: GestureSpec(manipulating_object, "either", both_share=0.5),
    26: GestureSpec(hold_back_arms, "both", ("torso", "shoulders")),
    27: GestureSpec(head_up, "none", ("head",)),
    29: GestureSpec(arms_akimbo, "either", both_share=0.7),
    30: GestureSpec(shaking_shoulders, "none", ("shoulders",)),
    31: GestureSpec(illustrative, "either", both_share=0.35),
    34: GestureSpec(touching_nose, "one"),
}
