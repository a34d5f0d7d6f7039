"""Camera and pose-estimator realism: projection to pixels, occlusion, jitter, scores, drops.

The camera stands in front of the seated subject (yaw within ±40°), looks at the chest and
frames a medium shot. A pose estimator is imitated by per-joint-type jitter (hands noisier,
temporally correlated), confidence scores, dropped joints, hands and frames, occasional
left/right hand swaps and points hidden by the table, the torso or the frame edge.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from nfbl.synth import body as B
from nfbl.synth.body import sample_from_bands

FRAME_SIZES = {"train": ((1280, 720), (1920, 1080)), "heldout": ((640, 480), (854, 480), (1024, 576))}
_RANGES = {
    "train": {"yaw": [(-25.0, 25.0)], "pitch": [(-4.0, 14.0)], "hfov": [(45.0, 65.0)],
              "vertical_frac": [(0.62, 0.9)]},
    "heldout": {"yaw": [(-40.0, -25.0), (25.0, 40.0)], "pitch": [(-10.0, -4.0), (14.0, 22.0)],
                "hfov": [(32.0, 45.0), (65.0, 78.0)], "vertical_frac": [(0.5, 0.62), (0.9, 1.02)]},
}


@dataclass(frozen=True)
class Camera:
    """Pinhole camera: world→camera rotation ``rot`` (rows: image right, image down, forward),
    centre ``position`` (metres), focal length and principal point in pixels."""

    width: int
    height: int
    focal: float
    cx: float
    cy: float
    rot: np.ndarray
    position: np.ndarray
    yaw_deg: float
    pitch_deg: float

    def to_dict(self) -> dict:
        return {"width": self.width, "height": self.height, "focal": round(self.focal, 3),
                "cx": round(self.cx, 3), "cy": round(self.cy, 3), "yaw_deg": round(self.yaw_deg, 3),
                "pitch_deg": round(self.pitch_deg, 3),
                "position": [round(float(v), 4) for v in self.position]}

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) → pixels (..., 2) and depth (...,) along the optical axis."""
        c = (pts - self.position) @ self.rot.T
        z = np.maximum(c[..., 2], 1e-3)
        uv = np.stack([self.focal * c[..., 0] / z + self.cx, self.focal * c[..., 1] / z + self.cy], -1)
        return uv, c[..., 2]


def sample_camera(rng: np.random.Generator, body: B.BodyParams, split: str = "train") -> Camera:
    """A random interview camera; ``split="heldout"`` uses disjoint yaw/pitch/FOV/framing bands."""
    ranges = _RANGES["heldout" if split == "heldout" else "train"]
    sizes = FRAME_SIZES["heldout" if split == "heldout" else "train"]
    width, height = sizes[int(rng.integers(len(sizes)))]
    yaw = sample_from_bands(rng, ranges["yaw"])
    pitch = sample_from_bands(rng, ranges["pitch"])
    hfov = np.deg2rad(sample_from_bands(rng, ranges["hfov"]))
    frac = sample_from_bands(rng, ranges["vertical_frac"])
    focal = (width / 2) / np.tan(hfov / 2)
    # medium shot: pelvis to the top of the head fills ``frac`` of the frame height
    extent = body.torso + body.neck + 0.17 * body.head + 0.05
    dist = focal * extent / (frac * height)
    look = np.array([rng.uniform(-0.1, 0.1), extent / 2 + rng.uniform(-0.1, 0.04), 0.05])
    ya, pa = np.deg2rad(yaw), np.deg2rad(pitch)
    direction = np.array([np.sin(ya) * np.cos(pa), np.sin(pa), np.cos(ya) * np.cos(pa)])
    position = look + dist * direction
    fwd = B.normalize(look - position)
    right = B.normalize(np.cross(fwd, [0.0, 1.0, 0.0]))
    down = np.cross(fwd, right)
    roll = np.deg2rad(rng.uniform(-3, 3))
    r2, d2 = np.cos(roll) * right + np.sin(roll) * down, -np.sin(roll) * right + np.cos(roll) * down
    rot = np.stack([r2, d2, fwd])
    return Camera(width, height, float(focal), width / 2 + rng.uniform(-0.02, 0.02) * width,
                  height / 2 + rng.uniform(-0.02, 0.02) * height, rot, position, yaw, pitch)


@dataclass(frozen=True)
class EstimatorProfile:
    """How one real pose estimator errs, measured on real output (docs/synth.md).

    ``jitter``/``hand_jitter`` multiply the :class:`NoiseConfig` jitters; scores are drawn
    per joint and video from ``body_score``/``hand_score`` (lo, hi); ``hand_loss`` multiplies
    ``hand_loss_per_min`` and ``hand_run`` gives the runs' durations (s); ``report_hidden``:
    share of videos whose estimator reports occluded body joints (low scores);
    ``swap_touch``: per frame with the wrists closer than ``touch_sw`` shoulder widths, the
    chance that a left/right hand swap starts (0.2-1.5 s).
    """

    name: str
    jitter: float
    hand_jitter: float
    correlation: float
    body_score: tuple[float, float]
    hand_score: tuple[float, float]
    hand_loss: float
    hand_run: tuple[float, float]
    report_hidden: float
    swap_touch: float
    touch_sw: float = 0.45
    white: float = 0.5  # weight of the frame-to-frame independent part of the jitter (correlated part: 0.7)
    low_hand_miss: float = 0.0  # per hand and video: chance that the hand is lost whenever it rests low
    keep_face_hands: bool = False  # v4: hand-loss runs spare a wrist within 0.9 sw of the nose


#: Measured on real MediaPipe Holistic and OpenPose output (../shared/realpose, docs/synth.md).
PROFILES: dict[str, EstimatorProfile] = {
    # OpenPose: per-frame detections, more jitter, hands always reported with low scores
    "openpose": EstimatorProfile("openpose", jitter=1.6, hand_jitter=1.5, correlation=0.6,
                                 body_score=(0.55, 0.92), hand_score=(0.25, 0.7), hand_loss=0.1,
                                 hand_run=(0.1, 1.0), report_hidden=0.5, swap_touch=0.05, white=0.4,
                                 keep_face_hands=True),
    # MediaPipe Holistic: temporally smoothed, confident, loses whole hands for seconds
    # (v4: jitter 1.0 -> 1.8, hands 1.0 -> 1.6, white 0.15 -> 0.3: v3's MediaPipe shoulders moved
    # 0.012 sw/s and wrists 0.002 sw/frame, below every real MediaPipe file's 0.026-0.036 sw/s and
    # 0.003-0.013 sw/frame; body scores 0.82-0.995 -> 0.86-0.998: real MediaPipe files 0.87-0.98)
    "mediapipe": EstimatorProfile("mediapipe", jitter=1.8, hand_jitter=1.6, correlation=0.85,
                                  body_score=(0.86, 0.998), hand_score=(0.92, 1.0), hand_loss=0.7,
                                  hand_run=(0.5, 5.0), report_hidden=1.0, swap_touch=0.01,
                                  low_hand_miss=0.35, white=0.3, keep_face_hands=True),
    # generator version 2 (before calibration): white + correlated jitter, mid scores
    "v2": EstimatorProfile("v2", jitter=1.0, hand_jitter=1.0, correlation=0.8, body_score=(0.6, 0.95),
                           hand_score=(0.35, 0.85), hand_loss=1.0, hand_run=(0.1, 1.5), report_hidden=0.4,
                           swap_touch=0.0),
}


@dataclass(frozen=True)
class NoiseConfig:
    """Pose-estimator imperfections. Jitter is a fraction of the shoulder width in pixels.

    ``level`` scales every jitter and drop rate at once (0 = perfect keypoints). ``profile``:
    an :data:`PROFILES` name, or "mixed" (each video draws OpenPose or MediaPipe, half each).
    Version 3 defaults are calibrated to real estimator output (docs/synth.md); version 2's
    were ``jitter_body=0.012, jitter_head=0.008, jitter_hand=0.022, jitter_tip=0.032,
    drop_joint=0.01, swap_per_min=0.3, face_hand_loss=0.15`` with profile "v2".
    """

    level: float = 1.0
    profile: str = "mixed"
    jitter_body: float = 0.0012
    jitter_head: float = 0.0012
    jitter_elbow: float = 0.004
    jitter_hand: float = 0.003
    jitter_tip: float = 0.005
    correlation: float = 0.8        # AR(1) coefficient of the correlated part (per frame); profiles override
    drop_joint: float = 0.002       # per joint and frame (hands x3)
    hand_loss_per_min: float = 3.0  # runs where one hand is not detected (x the profile's hand_loss)
    swap_per_min: float = 0.05      # runs of 0.2-2 s where the two hands are swapped (any time)
    drop_frame: float = 0.002       # share of frames with no person at all
    person_loss_per_min: float = 0.1  # runs of 0.2-2 s without the person
    outlier: float = 0.0005         # per joint and frame: a large error with a low score
    hallucinate: float = 1.0        # x the profile's report_hidden: videos reporting occluded body joints
    face_hand_loss: float = 0.0     # per frame: a hand in front of the face is not detected (real: 0 measured)
    touch_swaps: bool = True        # hands swap when they touch or cross (the profile's swap_touch)
    shoulder_follow: float = 0.2    # v4: observed shoulder follows its elbow by this share (v3: 0)
    swap_found_hands_only: bool = True  # v5: hands swap only in frames where both are found (v4: False)

    def __post_init__(self) -> None:
        if self.profile != "mixed" and self.profile not in PROFILES:
            from nfbl.core.errors import NfblError

            raise NfblError(f"unknown estimator noise profile {self.profile!r}; choose mixed or one of "
                            f"{', '.join(PROFILES)}")


def pick_profile(rng: np.random.Generator, noise: NoiseConfig) -> EstimatorProfile:
    """The video's estimator profile (one draw from ``rng`` whatever the setting)."""
    u = rng.random()
    if noise.profile == "mixed":
        return PROFILES["openpose" if u < 0.5 else "mediapipe"]
    return PROFILES[noise.profile]


def _ar1(rng: np.random.Generator, shape: tuple, rho: float) -> np.ndarray:
    x = rng.standard_normal(shape)
    return lfilter([np.sqrt(1 - rho * rho)], [1.0, -rho], x, axis=0)


def _runs(rng: np.random.Generator, t: int, fps: float, per_min: float, lo: float, hi: float) -> np.ndarray:
    """Boolean (T,) mask of random runs (Poisson count, durations in seconds)."""
    mask = np.zeros(t, dtype=bool)
    for _ in range(rng.poisson(per_min * t / fps / 60.0)):
        s = int(rng.integers(0, max(t, 1)))
        mask[s:s + max(1, int(rng.uniform(lo, hi) * fps))] = True
    return mask


def _inside_quads(p: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Points (T, K, 2) inside convex quads (T, 4, 2) given in order around the edge."""
    inside_pos = np.ones(p.shape[:2], dtype=bool)
    inside_neg = np.ones(p.shape[:2], dtype=bool)
    for i in range(4):
        a, b = quad[:, i][:, None], quad[:, (i + 1) % 4][:, None]
        cross = (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])
        inside_pos &= cross >= 0
        inside_neg &= cross <= 0
    return inside_pos | inside_neg


def table_hides(camera_pos: np.ndarray, pts: np.ndarray, height: float, near: float, far: float,
                half_width: float = 0.9) -> np.ndarray:
    """Points (..., 3) hidden by a table: top at ``height`` spanning z in [near, far] and
    |x| < half_width, with a front panel at z = far down to the floor. True = hidden."""
    below = pts[..., 1] < height - 0.02
    d = pts - camera_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        s_top = (height - camera_pos[1]) / d[..., 1]
        s_front = (far - camera_pos[2]) / d[..., 2]
    hit_top = (s_top > 0) & (s_top < 1)
    xt = camera_pos[0] + s_top * d[..., 0]
    zt = camera_pos[2] + s_top * d[..., 2]
    hit_top &= (zt >= near) & (zt <= far) & (np.abs(xt) < half_width)
    hit_front = (s_front > 0) & (s_front < 1)
    yf = camera_pos[1] + s_front * d[..., 1]
    xf = camera_pos[0] + s_front * d[..., 0]
    hit_front &= (yf < height) & (np.abs(xf) < half_width)
    return below & (hit_top | hit_front)


def observe(rng: np.random.Generator, cam: Camera, pts3d: np.ndarray, names: list[str], fps: float,
            table: tuple[float, float, float] | None, noise: NoiseConfig,
            info: dict | None = None) -> np.ndarray:
    """Project named 3D points (T, K, 3) and imitate a pose estimator → (T, K, 3) x, y, score.

    ``table`` = (height, near z, far z) of a table in front of the subject, or None. Hidden
    points (under the table, behind the torso, outside the frame) and dropped ones get (0, 0, 0).
    """
    t, k, _ = pts3d.shape
    idx = {n: i for i, n in enumerate(names)}
    uv, depth = cam.project(pts3d)
    is_hand = np.array(["_hand_" in n for n in names])
    is_tip = np.array([n.endswith("_tip") for n in names])
    is_head = np.array([n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear") or "eye" in n or "mouth" in n
                        for n in names])
    visible = np.ones((t, k), dtype=bool)
    if table is not None:  # the table top (and its front panel) hides what is below it
        visible &= ~table_hides(cam.position, pts3d, *table)
    # torso self-occlusion: hand/arm points behind the torso plane and inside its outline
    quad_names = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")
    q3 = pts3d[:, [idx[n] for n in quad_names]]
    normal = np.cross(q3[:, 0] - q3[:, 2], q3[:, 1] - q3[:, 3])
    normal = normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    to_cam = cam.position - q3.mean(axis=1)
    normal *= np.sign(np.sum(normal * to_cam, axis=-1, keepdims=True))
    signed = np.einsum("tkd,td->tk", pts3d - q3.mean(axis=1, keepdims=True), normal)
    quad = uv[:, [idx[n] for n in quad_names]]
    centre = quad.mean(axis=1, keepdims=True)
    quad = centre + 1.15 * (quad - centre)
    limb = np.array(["_hand_" in n or "elbow" in n or "wrist" in n or n.endswith(("_pinky", "_index", "_thumb"))
                     for n in names])
    behind = (signed < -0.07) & _inside_quads(uv, quad) & limb[None, :]
    visible &= ~behind
    prof = pick_profile(rng, noise)
    if info is not None:
        info["estimator"] = prof.name
    # some estimators still report occluded body joints, with low scores
    occluded_body = ~visible & ~is_hand[None, :]
    hallucinate = noise.level > 0 and rng.random() < noise.hallucinate * prof.report_hidden
    if hallucinate:
        visible |= occluded_body
    # frame edges
    visible &= (uv[..., 0] >= 0) & (uv[..., 0] < cam.width) & (uv[..., 1] >= 0) & (uv[..., 1] < cam.height)
    sw = np.linalg.norm(uv[:, idx["left_shoulder"]] - uv[:, idx["right_shoulder"]], axis=-1)
    sw_px = float(np.median(sw)) if t else 100.0
    lv = noise.level
    sigma = np.full(k, noise.jitter_body * prof.jitter)
    sigma[is_head] = noise.jitter_head * prof.jitter
    is_elbow = np.array([n.endswith("_elbow") for n in names])
    sigma[is_elbow] = noise.jitter_elbow * prof.jitter  # elbows are localised worst among body joints
    sigma[is_hand] = noise.jitter_hand * prof.hand_jitter
    sigma[is_hand & is_tip] = noise.jitter_tip * prof.hand_jitter
    sigma = sigma * sw_px * lv
    if noise.shoulder_follow > 0 and lv > 0:
        # v4: the estimated shoulder point is pulled along by the arm (it sits on the deltoid's
        # outline, which moves with the upper arm): a share of the elbow's image displacement from
        # its median, saturating at 0.1 sw. Real shoulders spread 0.005-0.014 sw within 1.3 s
        # windows (the PATS host 0.005-0.006), v3's 0.002; the 3D skeleton is not changed.
        uv = uv.copy()
        for side in ("left", "right"):
            if f"{side}_shoulder" in idx and f"{side}_elbow" in idx:
                el = uv[:, idx[f"{side}_elbow"]]
                d = noise.shoulder_follow * lv * (el - np.median(el, axis=0))
                n = np.linalg.norm(d, axis=-1, keepdims=True)
                cap = 0.1 * sw_px
                uv[:, idx[f"{side}_shoulder"]] += d * cap * np.tanh(n / cap) / np.maximum(n, 1e-9)
    rho = prof.correlation if prof.name != "v2" else noise.correlation
    jit = (0.7 * _ar1(rng, (t, k, 2), rho) + prof.white * rng.standard_normal((t, k, 2))) * sigma[None, :, None]
    # hands: a shared offset per hand (the hand box drifts) on top of per-joint noise
    for side in ("left", "right"):
        h = np.array([n.startswith(f"{side}_hand_") for n in names])
        jit[:, h] += (_ar1(rng, (t, 1, 2), 0.9) * noise.jitter_hand * prof.hand_jitter * sw_px * lv)
    base = np.where(is_hand, rng.uniform(*prof.hand_score, k), rng.uniform(*prof.body_score, k))
    spread = 0.5 * np.where(is_hand, prof.hand_score[1] - prof.hand_score[0], prof.body_score[1] - prof.body_score[0])
    score = base[None, :] + 0.25 * spread[None, :] * _ar1(rng, (t, k), 0.7) \
        - 0.15 * np.abs(jit).sum(-1) / np.maximum(sigma, 1e-6)[None] * 0.1 * (prof.name == "v2")
    if hallucinate:
        jit = jit + np.where(occluded_body[..., None], 2.0 * jit, 0.0)
        score = np.where(occluded_body, rng.uniform(0.05, 0.35, (t, k)), score)
    out_uv = uv + jit
    if lv > 0:
        outl = rng.random((t, k)) < noise.outlier * lv
        out_uv[outl] += rng.standard_normal((int(outl.sum()), 2)) * 0.3 * sw_px
        score[outl] *= 0.4
        # fast hands blur: lower scores, sometimes lost
        drop = rng.random((t, k)) < noise.drop_joint * lv * np.where(is_hand, 3.0, 1.0)
        for side in ("left", "right"):
            h = np.array([n.startswith(f"{side}_hand_") for n in names])
            w = uv[:, idx[f"{side}_wrist"]]
            speed = np.r_[0.0, np.linalg.norm(np.diff(w, axis=0), axis=-1)] / max(sw_px, 1.0)
            blur = np.clip(speed * fps / 6.0, 0, 1)  # 6 shoulder widths/s → very blurred
            score[:, h] *= (1 - 0.5 * blur)[:, None]
            # hands in front of the face are sometimes missed (hand/face confusion)
            near_face = np.linalg.norm(w - uv[:, idx["nose"]], axis=-1) < 0.6 * sw_px if "nose" in idx else np.zeros(t, bool)
            lost = (_runs(rng, t, fps, noise.hand_loss_per_min * prof.hand_loss * lv * rng.uniform(0.2, 2.0),
                          *prof.hand_run)
                    | (rng.random(t) < 0.3 * blur * lv)
                    | (near_face & (rng.random(t) < noise.face_hand_loss * lv)))
            if prof.low_hand_miss > 0 and rng.random() < prof.low_hand_miss * min(lv, 1.0):
                # Holistic's hand crop follows the pose wrist; a hand resting low is often never found
                mid = 0.5 * (uv[:, idx["left_shoulder"]] + uv[:, idx["right_shoulder"]])
                low = (w[:, 1] - mid[:, 1]) / max(sw_px, 1.0) > rng.uniform(0.6, 1.0)
                lost |= low
            if prof.keep_face_hands and "nose" in idx:
                # measured: no real file (MediaPipe or OpenPose) loses a hand whose wrist is
                # within 0.9 sw of the nose; v3 lost some there by chance (face-contact
                # dropout up to 0.34 of a video's contact frames)
                lost &= ~(np.linalg.norm(w - uv[:, idx["nose"]], axis=-1) < 0.9 * sw_px)
            drop[lost[:, None] & h[None, :]] = True
        swap = _runs(rng, t, fps, noise.swap_per_min * lv, 0.2, 2.0)
        if noise.touch_swaps and prof.swap_touch > 0 and "left_wrist" in idx and "right_wrist" in idx:
            # estimators confuse the hands when they touch or cross
            close = np.linalg.norm(uv[:, idx["left_wrist"]] - uv[:, idx["right_wrist"]], axis=-1) < prof.touch_sw * sw_px
            starts = np.flatnonzero(close & (rng.random(t) < prof.swap_touch * lv))
            for s0 in starts:
                swap[s0:s0 + max(1, int(rng.uniform(0.2, 1.5) * fps))] = True
        li = [idx[n] for n in names if n.startswith("left_hand_")]
        ri = [idx[n.replace("left_hand_", "right_hand_")] for n in names if n.startswith("left_hand_")]
        if noise.swap_found_hands_only and li:
            # an estimator can only exchange two hands it found: v4 also swapped while one arm
            # was hidden, so the missing hand moved to the other side and the found one was
            # reported on the wrong arm (docs/synth.md, generator version 5)
            found = visible & ~drop
            swap &= found[:, li].any(1) & found[:, ri].any(1)
        if swap.any():
            for arr in (out_uv, score):
                tmp = arr[swap][:, li].copy()
                sub = arr[swap]
                sub[:, li] = sub[:, ri]
                sub[:, ri] = tmp
                arr[swap] = sub
            vs = visible[swap]
            tmpv = vs[:, li].copy()
            vs[:, li] = vs[:, ri]
            vs[:, ri] = tmpv
            visible[swap] = vs
        gone = (rng.random(t) < noise.drop_frame * lv) | _runs(rng, t, fps, noise.person_loss_per_min * lv, 0.2, 2.0)
        drop[gone] = True
        visible &= ~drop
    score = np.clip(score, 0.05, 1.0)
    out = np.zeros((t, k, 3), dtype=np.float32)
    out[..., :2] = out_uv
    out[..., 2] = score
    out[~visible] = 0.0
    # a pose estimator never reports points outside its image
    off = (out[..., 0] < 0) | (out[..., 0] >= cam.width) | (out[..., 1] < 0) | (out[..., 1] >= cam.height)
    out[off] = 0.0
    if prof.name == "mediapipe" and "neck" in idx and "left_shoulder" in idx and "right_shoulder" in idx:
        ls, rs = out[:, idx["left_shoulder"]], out[:, idx["right_shoulder"]]
        both = (ls[:, 2] > 0) & (rs[:, 2] > 0)
        neck = np.zeros((t, 3), np.float32)
        neck[both, :2] = 0.5 * (ls[both, :2] + rs[both, :2])
        neck[both, 2] = np.minimum(ls[both, 2], rs[both, 2])
        out[:, idx["neck"]] = neck
    return out
