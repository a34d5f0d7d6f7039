"""Motion channels of one video, idle behaviour, and their forward kinematics into 3D joints.

A video's motion is a set of per-frame *channels* (torso/head angles, shoulder shrugs, and
per arm: gesture weight, hand shape, elbow swivel, rest pose) plus *arm requests* (a hand
point that should touch an anchor on the body during a gesture). Gestures
(:mod:`nfbl.synth.gestures`) and idle behaviour write channels; :func:`pose_3d` turns
them into 3D joint trajectories. Everything is vectorised over time.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from nfbl.synth import body as B

SIDES = ("left", "right")
SIGN = {"left": 1, "right": -1}


def smooth_noise(rng: np.random.Generator, t: int, sigma_frames: float, shape: tuple = ()) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed with a Gaussian of ``sigma_frames``; (T, *shape)."""
    sigma_frames = max(float(sigma_frames), 0.5)
    pad = int(3 * sigma_frames)
    x = rng.standard_normal((t + 2 * pad,) + shape)
    y = gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest")[pad:pad + t]
    return y * np.sqrt(2.0 * np.sqrt(np.pi) * sigma_frames)


def envelope(n: int, ramp_in: int, ramp_out: int) -> np.ndarray:
    """Gesture weight over an event of ``n`` frames: > 0 on every frame, smooth in and out.

    Rises over ``ramp_in`` frames (smoothstep), holds 1, falls over ``ramp_out`` frames.
    The event covers exactly the frames where the weight is positive.
    """
    i = np.arange(n) + 0.5
    a = np.clip(i / max(ramp_in, 1), 0, 1)
    b = np.clip((n - i) / max(ramp_out, 1), 0, 1)
    x = np.minimum(a, b)
    return x * x * (3 - 2 * x)


@dataclass
class ArmRequest:
    """A hand point that should reach an anchor on the body during frames ``[start, end)``.

    ``frame`` names the anchor's frame: "world", "torso" (pelvis origin, torso rotation),
    "neck" (neck base origin, torso rotation), "head" (head pivot, head rotation) or
    "other_arm" (``anchor[:, 0]`` = fraction from the other shoulder to its elbow (0..1) or
    beyond (1..2 = along the forearm), ``anchor[:, 1:]`` ignored). ``anchor``, ``fdir`` and
    ``normal`` are (n, 3) in that frame, already mirrored for the side; ``contact`` is the
    hand joint index (``-1`` = palm centre) that should lie on the anchor.
    """

    side: str
    start: int
    end: int
    frame: str
    anchor: np.ndarray
    fdir: np.ndarray
    normal: np.ndarray
    contact: int = -1
    via: np.ndarray | None = None  # (3,) torso-frame bulge of the path (metres)


@dataclass
class ArmChannels:
    """Per-arm channels, all (T,) or (T, k)."""

    w: np.ndarray
    curl: np.ndarray
    spread: np.ndarray
    swivel: np.ndarray
    rest_target: np.ndarray
    rest_fdir: np.ndarray
    rest_normal: np.ndarray
    beat: np.ndarray


@dataclass
class Channels:
    """All motion channels of one video of ``t`` frames (angles in radians)."""

    t: int
    torso: np.ndarray      # (T, 3) pitch (forward +), roll (to the left +), yaw (to the left +)
    neck_pitch: np.ndarray  # (T,) forward +
    head: np.ndarray       # (T, 3) pitch (down +), yaw (left +), roll
    shrug: np.ndarray      # (T, 2) left, right elevation
    arms: dict[str, ArmChannels]
    requests: list[ArmRequest] = field(default_factory=list)
    table: tuple[float, float, float] | None = None  # (top height, near z, far z); wrists stay above it


# --- idle behaviour ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Idle:
    """Per-video idle style (sampled once)."""

    rest: str            # "table" (hands on it), "lap" (no table) or "lap_under_table" (hands hidden at rest)
    table_height: float  # metres above the pelvis centre (table top; the lap when there is no table)
    table_near: float    # z (metres) of the table edge nearest to the subject
    table_far: float     # z of the far edge (a front panel hides what is below the top)
    slouch: float        # base torso pitch (rad)
    beat_rate: float     # beats per minute per free arm
    fidget: float        # multiplier of sway/head motion
    hand_activity: float = 1.0  # how much the resting hands move while talking (v3)
    hands_close: bool = False   # v4: both hands rest near the midline, fingertips almost touching


SETTINGS = ("press", "mixed")
#: v4: share of press-setting videos with table rest whose hands rest together (see sample_idle)
HANDS_CLOSE_SHARE = 0.35


def sample_idle(rng: np.random.Generator, setting: str = "press") -> Idle:
    """Per-video idle style. ``setting="press"`` (v3 default): a press conference, seated
    behind a table (hips and legs hidden), hands resting on it (85 %) or below it (15 %);
    ``"mixed"``: version 2's mix (table 60 %, lap without a table 25 %, under a table 15 %)."""
    u = rng.random()
    if setting == "press":
        rest = "table" if u < 0.85 else "lap_under_table"
    else:
        rest = "table" if u < 0.6 else ("lap" if u < 0.85 else "lap_under_table")
    idle = Idle(rest=rest, table_height=float(rng.uniform(0.12, 0.24) if rest != "lap" else rng.uniform(0.06, 0.12)),
                table_near=float(rng.uniform(0.18, 0.3) if rest == "table" else rng.uniform(0.3, 0.36)),
                table_far=float(rng.uniform(0.8, 1.2)),
                slouch=float(np.deg2rad(rng.uniform(-4, 12))), beat_rate=float(rng.uniform(6, 24)),
                fidget=float(rng.uniform(0.6, 1.5)), hand_activity=float(rng.uniform(0.3, 1.6)))
    # v4 hard negative: at press conferences the hands often rest together in front of the body,
    # for minutes, without any NFBL event (iMiGUE's N22 "Rubbing or holding hands" and N23
    # "Crossing fingers" last about 3 s at median, so long still hands-together rest is not
    # labelled). A detector that has only seen hands meet during N22/N23/N24 fires on it.
    if rest == "table" and setting == "press" and rng.random() < HANDS_CLOSE_SHARE:
        idle = replace(idle, hands_close=True)
    return idle


def idle_channels(rng: np.random.Generator, t: int, fps: float, body: B.BodyParams, idle: Idle) -> Channels:
    """Channels of a person doing nothing NFBL: breathing, sway, posture shifts, head turns,
    nods and talking beat gestures (small, short strokes of a resting hand; hard negatives)."""
    d2r = np.deg2rad
    sec = np.arange(t) / fps
    f = idle.fidget
    breath_rate = rng.uniform(0.2, 0.33)
    breath = np.sin(2 * np.pi * breath_rate * sec + rng.uniform(0, 2 * np.pi))
    torso = np.zeros((t, 3))
    torso[:, 0] = idle.slouch + d2r(0.6) * breath + d2r(1.2 * f) * smooth_noise(rng, t, 1.5 * fps)
    torso[:, 1] = d2r(1.5 * f) * smooth_noise(rng, t, 2.0 * fps)
    torso[:, 2] = d2r(2.0 * f) * smooth_noise(rng, t, 2.5 * fps)
    # posture shifts: small piecewise-constant lean changes (kept below "Moving torso")
    shift = np.zeros((t, 3))
    pos = int(rng.uniform(10, 40) * fps)
    while pos < t:
        dur = int(rng.uniform(0.8, 1.6) * fps)
        new = d2r(rng.uniform(-3.5, 3.5, 3)) * (1, 0.6, 1)
        ramp = np.clip((np.arange(t) - pos) / dur, 0, 1)[:, None]
        shift = shift * (1 - ramp) + (shift[min(pos, t - 1)] + new * 0.5 - shift[min(pos, t - 1)] * 0.5) * ramp
        pos += int(rng.uniform(15, 60) * fps)
    torso += shift
    head = np.zeros((t, 3))
    head[:, 0] = d2r(3 * f) * smooth_noise(rng, t, 1.0 * fps) + d2r(rng.uniform(-6, 6))
    head[:, 1] = d2r(7 * f) * smooth_noise(rng, t, 1.2 * fps) + d2r(rng.uniform(-10, 10))
    head[:, 2] = d2r(2.5 * f) * smooth_noise(rng, t, 1.5 * fps)
    # head turns: look elsewhere for a few seconds
    pos = int(rng.uniform(3, 20) * fps)
    while pos < t:
        dur = int(rng.uniform(1.5, 6) * fps)
        n = min(dur, t - pos)
        head[pos:pos + n, 1] += d2r(rng.uniform(-25, 25)) * envelope(n, int(0.4 * fps), int(0.4 * fps))
        pos += dur + int(rng.uniform(5, 30) * fps)
    # nods while talking: short small pitch oscillations
    talk = (smooth_noise(rng, t, 3 * fps) > 0.2).astype(float)
    talk = gaussian_filter1d(talk, 0.3 * fps)
    head[:, 0] += d2r(2.0) * talk * np.sin(2 * np.pi * rng.uniform(1.2, 2.2) * sec) * (smooth_noise(rng, t, 0.4 * fps) > 0)
    shrug = np.zeros((t, 2))
    shrug += (d2r(0.8) * breath)[:, None] + d2r(0.8) * smooth_noise(rng, t, 1.5 * fps, (2,))
    arms = {s: _idle_arm(rng, t, fps, body, idle, s, talk) for s in SIDES}
    table = (idle.table_height, idle.table_near, idle.table_far) if idle.rest != "lap" else None
    return Channels(t=t, torso=torso, neck_pitch=d2r(rng.uniform(-3, 8)) + 0 * sec, head=head,
                    shrug=shrug, arms=arms, table=table)


def _idle_arm(rng: np.random.Generator, t: int, fps: float, body: B.BodyParams, idle: Idle,
              side: str, talk: np.ndarray) -> ArmChannels:
    sg = SIGN[side]
    s = body.scale
    if idle.rest == "table" and idle.hands_close:
        # v4: hands together on the table, wrists 3-6 cm either side of the midline, fingers
        # turned inwards so that the fingertips meet or overlap (a still, long hard negative)
        rest = np.array([sg * rng.uniform(0.03, 0.06) * s, idle.table_height + 0.05, rng.uniform(0.28, 0.36) * s])
        fdir = np.array([-sg * rng.uniform(0.5, 1.0), -0.05, 1.0])
    elif idle.rest == "table":
        rest = np.array([sg * rng.uniform(0.10, 0.20) * s, idle.table_height + 0.05, rng.uniform(0.30, 0.40) * s])
        # v4: fingers point more forward (v3: inward 0.2-0.6): real resting index tips sit about
        # above their wrists (PATS host, signers at rest), v3's near the body midline
        fdir = np.array([-sg * rng.uniform(0.05, 0.35), -0.05, 1.0])
    elif idle.rest == "lap":
        rest = np.array([sg * rng.uniform(0.09, 0.16) * s, idle.table_height + 0.05, rng.uniform(0.20, 0.28) * s])
        fdir = np.array([-sg * rng.uniform(0.1, 0.4), -0.3, 1.0])
    else:  # on the lap under a table: (mostly) hidden until they come up
        rest = np.array([sg * rng.uniform(0.09, 0.16) * s, rng.uniform(0.08, 0.12), rng.uniform(0.20, 0.26) * s])
        fdir = np.array([-sg * rng.uniform(0.1, 0.4), -0.3, 1.0])
    target = rest + 0.015 * smooth_noise(rng, t, 2.0 * fps, (3,))
    # talking hands (not NFBL): small, slow wandering of the resting hand while speaking,
    # scaled by the person's hand activity (v3; real seated talkers' wrists move 0.13-0.31 sw/s)
    act = idle.hand_activity * rng.uniform(0.6, 1.4) * (0.5 if idle.hands_close else 1.0)
    wander = smooth_noise(rng, t, rng.uniform(0.3, 0.7) * fps, (3,)) * (1.0, 0.6, 0.8)
    target += (act * 0.08 * s) * (0.35 + 0.65 * talk)[:, None] * wander
    # rest re-arrangements: every 20-90 s the hand slides to a nearby resting place (not NFBL)
    pos = int(rng.uniform(10, 60) * fps)
    offset = np.zeros(3)
    while pos < t:
        dur = int(rng.uniform(0.5, 1.2) * fps)
        new = np.clip(offset + rng.normal(0, 0.05, 3) * (1, 0.1, 1), (-0.08, -0.005, -0.06), (0.08, 0.01, 0.08)) * s
        ramp = np.clip((np.arange(t - pos)) / max(dur, 1), 0, 1)
        ramp = ramp * ramp * (3 - 2 * ramp)
        target[pos:] += (new - offset) * ramp[:, None]
        offset = new
        pos += int(rng.uniform(20, 90) * fps)
    normal = np.tile([-sg * rng.uniform(0.2, 1.2), -1.0, 0.0], (t, 1)) + 0.15 * smooth_noise(rng, t, 2 * fps, (3,))
    curl = np.clip(rng.uniform(0.08, 0.35) + 0.08 * smooth_noise(rng, t, 1.5 * fps, (5,)), 0, 1)
    curl[:, 0] *= 0.6
    spread = np.clip(0.8 + 0.2 * smooth_noise(rng, t, 2 * fps), 0.3, 1.3)
    swivel = np.deg2rad(rng.uniform(0, 18)) + np.deg2rad(4) * smooth_noise(rng, t, 2 * fps)
    swivel += np.deg2rad(2.0 * act) * (0.3 + 0.7 * talk) * smooth_noise(rng, t, 0.6 * fps)  # elbows move while talking
    beat = np.zeros((t, 3))
    n_beats = rng.poisson(idle.beat_rate * t / fps / 60.0)
    for _ in range(n_beats):
        start = int(rng.integers(0, max(t - 1, 1)))
        if talk[start] < 0.3 and rng.random() < 0.7:
            continue
        strokes = int(rng.integers(1, 4))
        dur = int(rng.uniform(0.25, 0.6) * fps)
        amp = rng.uniform(0.02, 0.07) * s
        direction = B.normalize(np.array([rng.uniform(-0.4, 0.4), rng.uniform(0.5, 1.0), rng.uniform(-0.2, 0.6)]))
        n = min(dur * strokes, t - start)
        if n <= 2 or beat[max(start - 2, 0):start + n + 2].any():  # beats do not pile up
            continue
        ph = np.arange(n) / dur
        bump = np.sin(np.pi * np.clip(ph, 0, strokes)) ** 2 * envelope(n, dur // 2, dur // 2)
        beat[start:start + n] += amp * bump[:, None] * direction
    return ArmChannels(w=np.zeros(t), curl=curl, spread=spread, swivel=swivel,
                       rest_target=target, rest_fdir=np.tile(fdir, (t, 1)), rest_normal=normal,
                       beat=beat)


# --- forward kinematics ---------------------------------------------------------------------

@dataclass
class Pose3D:
    """3D joint trajectories (T, 3) by name, plus the hand joints (T, 21, 3) per side."""

    joints: dict[str, np.ndarray]
    hands: dict[str, np.ndarray]
    frames: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (origin (T,3), rotation (T,3,3))


def _legs(body: B.BodyParams, t: int) -> dict[str, np.ndarray]:
    s = body.scale
    out = {}
    for side in SIDES:
        sg = SIGN[side]
        hip = np.array([sg * 0.09 * s * body.hip_ratio, -0.03 * s, 0.04 * s])
        knee = hip + np.array([sg * 0.03, 0.02, 0.43 * s])
        ankle = knee + np.array([sg * 0.02, -0.45 * s, 0.02])
        out[f"{side}_hip"], out[f"{side}_knee"], out[f"{side}_ankle"] = (np.tile(v, (t, 1)) for v in (hip, knee, ankle))
        out[f"{side}_heel"] = np.tile(ankle + (0, -0.05, -0.04), (t, 1))
        out[f"{side}_big_toe"] = np.tile(ankle + (-sg * 0.02, -0.07, 0.17 * s), (t, 1))
        out[f"{side}_small_toe"] = np.tile(ankle + (sg * 0.03, -0.07, 0.15 * s), (t, 1))
    return out


def torso_head(body: B.BodyParams, ch: Channels) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Torso, shoulders and head joints, and the anchor frames gestures refer to."""
    t = ch.t
    r_torso = B.rot_y(ch.torso[:, 2]) @ B.rot_z(-ch.torso[:, 1]) @ B.rot_x(ch.torso[:, 0])
    pelvis = np.zeros((t, 3))
    neck_base = B.apply(r_torso, np.array([0.0, body.torso, 0.0]))
    joints = {"pelvis": pelvis, "neck_base": neck_base}
    clav = body.clavicle_local
    for k, side in enumerate(SIDES):
        sg = SIGN[side]
        r = r_torso @ B.rot_z(sg * ch.shrug[:, k])
        joints[f"{side}_shoulder"] = neck_base + B.apply(r, clav * (sg, 1, 1))
    r_neck = r_torso @ B.rot_x(ch.neck_pitch)
    pivot = neck_base + B.apply(r_neck, np.array([0.0, body.neck, 0.012 * body.scale]))
    joints["head_pivot"] = pivot
    r_head = r_neck @ B.rot_y(ch.head[:, 1]) @ B.rot_x(ch.head[:, 0] - ch.neck_pitch) @ B.rot_z(-ch.head[:, 2])
    names = list(B.HEAD_POINTS)
    local = np.array([B.HEAD_POINTS[n] for n in names]) * body.head
    pts = pivot[:, None, :] + B.apply(r_head, np.broadcast_to(local, (t,) + local.shape))
    for i, n in enumerate(names):
        joints[n] = pts[:, i]
    frames = {"world": (pelvis, np.broadcast_to(np.eye(3), (t, 3, 3))), "torso": (pelvis, r_torso),
              "neck": (neck_base, r_torso), "head": (pivot, r_head)}
    return joints, frames


def _palm_centre(local: np.ndarray) -> np.ndarray:
    """Palm centre (T,3) in the hand frame: between wrist and middle MCP, on the palm skin."""
    c = 0.45 * local[:, 9] + 0.1 * local[:, 5] + 0.1 * local[:, 17]
    return c + np.array([0.0, 0.0, 0.015]) * (np.linalg.norm(local[:, 9], axis=-1, keepdims=True) / 0.088)


def pose_3d(body: B.BodyParams, ch: Channels) -> Pose3D:
    """Forward kinematics + IK of all channels → 3D joints."""
    t = ch.t
    joints, frames = torso_head(body, ch)
    joints.update(_legs(body, t))
    locals_ = {s: B.hand_local(ch.arms[s].curl, ch.arms[s].spread, SIGN[s], body.hand) for s in SIDES}
    # gesture targets (wrist position and hand frame) from the requests, first pass
    gtarget = {s: ch.arms[s].rest_target.copy() for s in SIDES}
    gframe = {s: B.frame_from(ch.arms[s].rest_fdir, ch.arms[s].rest_normal) for s in SIDES}
    other_arm_reqs = []
    for req in ch.requests:
        if req.frame == "other_arm":
            other_arm_reqs.append(req)
            continue
        _resolve(req, frames, locals_, gtarget, gframe, None)
    arms = _solve_arms(body, ch, joints, gtarget, gframe, frames)
    if other_arm_reqs:
        for req in other_arm_reqs:
            _resolve(req, frames, locals_, gtarget, gframe, arms)
        arms = _solve_arms(body, ch, joints, gtarget, gframe, frames)
    hands = {}
    for s in SIDES:
        elbow, wrist, rot, _ = arms[s]
        joints[f"{s}_elbow"], joints[f"{s}_wrist"] = elbow, wrist
        hands[s] = wrist[:, None, :] + B.apply(rot, locals_[s])
    return Pose3D(joints=joints, hands=hands, frames=frames)


def _resolve(req: ArmRequest, frames, locals_, gtarget, gframe, arms) -> None:
    sl = slice(req.start, req.end)
    if req.frame == "other_arm":
        other = "right" if req.side == "left" else "left"
        sh = arms[other][3][sl]
        el = arms[other][0][sl]
        wr = arms[other][1][sl]
        a = req.anchor[:, 0:1]
        anchor = np.where(a <= 1, sh + a * (el - sh), el + (a - 1) * (wr - el))
        # lift the contact onto the arm's surface, towards the camera side
        anchor = anchor + np.array([0.0, 0.02, 0.04]) * req.anchor[:, 1:2]
        rot = frames["torso"][1][sl]
    else:
        origin, rot = frames[req.frame]
        origin, rot = origin[sl], rot[sl]
        anchor = origin + B.apply(rot, req.anchor)
    fdir = B.apply(rot, req.fdir)
    normal = B.apply(rot, req.normal)
    hf = B.frame_from(fdir, normal)
    loc = locals_[req.side][sl]
    point = _palm_centre(loc) if req.contact < 0 else loc[:, req.contact] + np.array([0.0, 0.0, 0.008])
    gtarget[req.side][sl] = anchor - B.apply(hf, point)
    gframe[req.side][sl] = hf


def _solve_arms(body, ch, joints, gtarget, gframe, frames):
    out = {}
    r_torso = frames["torso"][1]
    for s in SIDES:
        a = ch.arms[s]
        sg = SIGN[s]
        w = a.w[:, None]
        rest = a.rest_target + a.beat * (1 - w)
        rest_frame = B.frame_from(a.rest_fdir, a.rest_normal)
        target = rest * (1 - w) + gtarget[s] * w
        # bulge of the path between rest and gesture (avoid passing through the body)
        for req in ch.requests:
            if req.side == s and req.via is not None:
                sl = slice(req.start, req.end)
                ww = a.w[sl]
                target[sl] += 4 * (ww * (1 - ww))[:, None] * B.apply(r_torso[sl], req.via * (sg, 1, 1))
        if ch.table is not None:  # a hand cannot pass through the table top
            top, near, _ = ch.table
            below = (target[:, 2] > near) & (target[:, 1] < top + 0.04)
            target[below, 1] = top + 0.04
        down = B.apply(r_torso, np.array([sg * 0.35, -1.0, -0.15]))
        shoulder = joints[f"{s}_shoulder"]
        elbow, wrist = B.two_bone_ik(shoulder, target, body.upper_arm, body.forearm, a.swivel, down, sg)
        fd = rest_frame[..., 0] * (1 - w) + gframe[s][..., 0] * w
        nm = rest_frame[..., 2] * (1 - w) + gframe[s][..., 2] * w
        out[s] = (elbow, wrist, B.frame_from(fd, nm), shoulder)
    return out
