"""Keypoint cleaning: gap interpolation, smoothing, normalisation and resampling.

All functions work on float32 keypoints ``(..., T, V, 3)`` = (x, y, score) in pixels with
score 0 marking a missing joint, and keep that contract: a missing joint is exactly
(0, 0, 0) in every output, and a filled-in joint always has a score > 0. numpy/scipy only.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

#: Score given to an interpolated joint, as a factor of the smaller neighbour score.
INTERPOLATED_SCORE_FACTOR = 0.5


def _as_kp(kp: np.ndarray, name: str = "keypoints") -> np.ndarray:
    arr = np.asarray(kp, dtype=np.float32)
    if arr.ndim < 3 or arr.shape[-1] != 3:
        raise NfblError(f"{name} must have shape (..., T, V, 3), got {arr.shape}")
    return arr


def _zero_missing(out: np.ndarray) -> np.ndarray:
    out[out[..., 2] <= 0] = 0.0
    return out


# --- gap interpolation --------------------------------------------------------------------

def interpolate_gaps(kp: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """Fill short runs of missing frames of each joint by linear interpolation.

    kp: float32 ``(T, V, 3)`` (or ``(..., T, V, 3)``; leading axes are independent persons).
    A run of at most ``max_gap`` missing frames (score 0) that lies between two frames where
    the joint is present gets x, y linearly interpolated in frame index between those two
    frames; its score is ``0.5 * min(score_before, score_after)`` (so interpolated joints
    are recognisable and always > 0). Longer runs, and runs at the start or end of the
    sequence (no neighbour on one side), stay missing (0, 0, 0). Returns a new array.
    """
    arr = _as_kp(kp)
    if max_gap < 0:
        raise NfblError(f"max_gap must be >= 0, got {max_gap}")
    out = _zero_missing(arr.copy())
    t_len = arr.shape[-3]
    if t_len < 3 or max_gap == 0:
        return out
    flat = out.reshape((-1,) + arr.shape[-3:])  # (N, T, V, 3) view
    frames = np.arange(t_len)[:, None]
    for person in flat:
        present = person[..., 2] > 0  # (T, V)
        prev = np.where(present, frames, -1)
        prev = np.maximum.accumulate(prev, axis=0)
        nxt = np.where(present, frames, t_len)
        nxt = np.minimum.accumulate(nxt[::-1], axis=0)[::-1]
        gap = nxt - prev - 1
        fill = (~present) & (prev >= 0) & (nxt < t_len) & (gap <= max_gap)
        if not fill.any():
            continue
        t_idx, v_idx = np.nonzero(fill)
        p, n = prev[t_idx, v_idx], nxt[t_idx, v_idx]
        w = ((t_idx - p) / (n - p)).astype(np.float32)[:, None]
        a, b = person[p, v_idx], person[n, v_idx]
        person[t_idx, v_idx, :2] = a[:, :2] + w * (b[:, :2] - a[:, :2])
        person[t_idx, v_idx, 2] = INTERPOLATED_SCORE_FACTOR * np.minimum(a[:, 2], b[:, 2])
    return out


# --- smoothing ----------------------------------------------------------------------------

class SmoothMethod(str, enum.Enum):
    """Smoothing filters of :func:`smooth`."""

    SAVGOL = "savgol"
    ONE_EURO = "one_euro"


def _present_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[a, b)`` runs of True in a 1-D boolean array."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _savgol(person: np.ndarray, window: int, polyorder: int) -> None:
    from scipy.signal import savgol_filter

    present = person[..., 2] > 0
    for v in range(person.shape[1]):
        for a, b in _present_runs(present[:, v]):
            n = b - a
            win = min(window, n if n % 2 else n - 1)
            if win <= polyorder:
                continue  # run too short to filter: leave as is
            person[a:b, v, :2] = savgol_filter(person[a:b, v, :2], win, polyorder, axis=0,
                                               mode="interp")


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray | float) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def _one_euro(person: np.ndarray, timestamps: np.ndarray, min_cutoff: float, beta: float,
              d_cutoff: float) -> None:
    """One-Euro filter (Casiez et al., CHI 2012), vectorised over joints, restarted at every
    joint's gap so that a missing stretch never drags the filter."""
    present = person[..., 2] > 0  # (T, V)
    x_hat = person[0, :, :2].astype(np.float64).copy()
    dx_hat = np.zeros_like(x_hat)
    alive = present[0].copy()
    for t in range(1, person.shape[0]):
        dt = max(float(timestamps[t] - timestamps[t - 1]), 1e-6)
        cur = present[t]
        x = person[t, :, :2].astype(np.float64)
        upd = cur & alive  # continue filtering
        if upd.any():
            dx = (x[upd] - x_hat[upd]) / dt
            a_d = _alpha(d_cutoff, dt)
            dx_hat[upd] = a_d * dx + (1 - a_d) * dx_hat[upd]
            speed = np.linalg.norm(dx_hat[upd], axis=1, keepdims=True)
            a = _alpha(min_cutoff + beta * speed, dt)
            x_hat[upd] = a * x[upd] + (1 - a) * x_hat[upd]
            person[t, upd, :2] = x_hat[upd]
        start = cur & ~alive  # (re)start after a gap
        x_hat[start] = x[start]
        dx_hat[start] = 0.0
        alive = cur


def smooth(kp: np.ndarray, method: SmoothMethod | str = SmoothMethod.SAVGOL, window: int = 7,
           polyorder: int = 2, timestamps: np.ndarray | None = None, fps: float = 25.0,
           min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> np.ndarray:
    """Smooth x, y of each joint along time, only inside runs where the joint is present.

    kp: float32 ``(T, V, 3)`` or ``(..., T, V, 3)``. Missing joints stay (0, 0, 0) and the
    score channel is unchanged.

    - ``savgol``: Savitzky–Golay (``scipy.signal.savgol_filter``) with ``window`` frames
      (odd) and ``polyorder``; a run shorter than the window uses the largest odd window
      that fits, and runs of ``polyorder`` frames or fewer are left as they are.
    - ``one_euro``: One-Euro filter with ``min_cutoff`` (Hz), ``beta`` (per pixel/s of
      speed) and ``d_cutoff`` (Hz); time steps come from ``timestamps`` (seconds, ``(T,)``)
      or ``1/fps``. The filter restarts at the first frame after every gap. ``beta`` is
      scale-dependent: 0.05 suits pixel coordinates of a 720p frame.
    """
    method = SmoothMethod(method)
    arr = _as_kp(kp)
    out = _zero_missing(arr.copy())
    t_len = arr.shape[-3]
    if t_len < 2:
        return out
    flat = out.reshape((-1,) + arr.shape[-3:])
    if method is SmoothMethod.SAVGOL:
        if window < 3 or window % 2 == 0:
            raise NfblError(f"savgol window must be an odd number >= 3, got {window}")
        if not 0 <= polyorder < window:
            raise NfblError(f"polyorder must be in [0, window), got {polyorder}")
        for person in flat:
            _savgol(person, window, polyorder)
    else:
        ts = (np.arange(t_len) / float(fps)) if timestamps is None else np.asarray(timestamps,
                                                                                    np.float64)
        if ts.shape != (t_len,):
            raise NfblError(f"{ts.shape[0]} timestamps for {t_len} frames")
        for person in flat:
            _one_euro(person, ts, min_cutoff, beta, d_cutoff)
    return out


# --- normalisation ------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Normalization:
    """What :func:`normalize` did, so that it can be undone.

    center: float64 ``(..., T, 2)`` pixels subtracted from every present joint of each frame;
    scale: float64 ``(...)`` pixels per unit (one per person/sequence: the shoulder width);
    scale_source: ``"shoulder_width"`` or the fallback used (see :func:`normalize`).
    """

    center: np.ndarray
    scale: np.ndarray
    scale_source: str = "shoulder_width"

    def invert(self, kp: np.ndarray) -> np.ndarray:
        """Map normalised keypoints ``(..., T, V, 3)`` back to pixels; missing stays (0,0,0)."""
        arr = _as_kp(kp).copy()
        present = arr[..., 2] > 0
        scale = np.asarray(self.scale, dtype=np.float64)[..., None, None, None]
        xy = arr[..., :2].astype(np.float64) * scale + self.center[..., :, None, :]
        arr[..., :2] = np.where(present[..., None], xy, 0.0).astype(np.float32)
        return _zero_missing(arr)


def _fill_nearest(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """values ``(T, 2)``; rows where ``ok`` is False take the nearest ok row (ties: earlier)."""
    idx = np.flatnonzero(ok)
    if len(idx) == 0 or ok.all():
        return values
    t = np.arange(len(ok))
    pos = np.clip(np.searchsorted(idx, t), 1, len(idx) - 1) if len(idx) > 1 else np.zeros_like(t)
    if len(idx) > 1:
        left, right = idx[pos - 1], idx[pos]
        nearest = np.where(np.abs(t - left) <= np.abs(right - t), left, right)
    else:
        nearest = np.full_like(t, idx[0])
    return values[nearest]


def frame_centres(person: np.ndarray,
                  layout: skeletons.Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame body centre of one person ``(T, V, 3)``: the layout's centre joint
    (``Layout.centre_joint``, the neck) where present, else the midpoint of its scale joints
    (the shoulders). Returns ``centre`` float64 ``(T, 2)`` pixels (0 where unknown), ``ok``
    ``(T,)`` (a centre was found) and ``both`` ``(T,)`` (both scale joints present)."""
    present = person[..., 2] > 0
    t_len = person.shape[0]
    centre = np.zeros((t_len, 2))
    ok = np.zeros(t_len, dtype=bool)
    both = np.zeros(t_len, dtype=bool)
    if layout.scale_indices is not None:
        ls, rs = layout.scale_indices
        both = present[:, ls] & present[:, rs]
        centre[both] = 0.5 * (person[both, ls, :2] + person[both, rs, :2])
        ok |= both
    if layout.centre_index is not None:
        has = present[:, layout.centre_index]
        centre[has] = person[has, layout.centre_index, :2]
        ok |= has
    return centre, ok, both


def scale_widths(person: np.ndarray, layout: skeletons.Layout, both: np.ndarray) -> np.ndarray:
    """Distances (pixels) between the scale joints in the frames ``both`` marks."""
    if layout.scale_indices is None or not both.any():
        return np.zeros(0)
    ls, rs = layout.scale_indices
    return np.linalg.norm(person[both, ls, :2] - person[both, rs, :2], axis=1)


def _centre_and_scale(person: np.ndarray,
                      layout: skeletons.Layout) -> tuple[np.ndarray, float, str]:
    present = person[..., 2] > 0
    centre, ok, both = frame_centres(person, layout)
    source = "shoulder_width"
    if not ok.any():
        # no neck or shoulders anywhere: centre on the median of all present joints
        if present.any():
            centre[:] = np.median(person[present][:, :2], axis=0)
        ok[:] = True
    centre = _fill_nearest(centre, ok)
    widths = scale_widths(person, layout, both)
    scale = float(np.median(widths)) if len(widths) else 0.0
    if not scale > 1e-6:
        # fallback: a quarter of the median bounding-box diagonal of the present joints
        diags = []
        for t in np.flatnonzero(present.any(axis=1)):
            pts = person[t, present[t], :2]
            diags.append(float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0))))
        scale = 0.25 * float(np.median(diags)) if diags else 0.0
        source = "bbox_diagonal/4"
        if not scale > 1e-6:
            scale, source = 1.0, "none"
        log.warning("normalize: no frame with both shoulders present; scale from %s = %.3g",
                    source, scale)
    return centre, scale, source


def normalize(kp: np.ndarray, layout: skeletons.Layout | str) -> tuple[np.ndarray, Normalization]:
    """Neck-centred, shoulder-width-scaled keypoints.

    kp: float32 ``(..., T, V, 3)`` pixels in ``layout``; leading axes are persons, each
    normalised on its own. Per frame the centre is the neck joint (if the layout has one
    and it is present), else the mid-point of the two shoulders; frames with neither take
    the centre of the nearest frame that has one (ties: earlier). The scale is ONE number
    per person: the median shoulder width over frames where both shoulders are present.
    Fallbacks (logged): no shoulders anywhere → a quarter of the median bounding-box
    diagonal of the present joints; no joint at all → 1. With no neck/shoulders in any
    frame the centre is the median of all present joints.

    Output: x, y in shoulder widths relative to the centre (y still points down); the score
    channel is unchanged; missing joints stay exactly (0, 0, 0).
    """
    lay = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    arr = _as_kp(kp)
    if arr.shape[-2] != lay.num_joints:
        raise NfblError(f"keypoints have {arr.shape[-2]} joints but layout {lay.name} has "
                        f"{lay.num_joints}")
    lead = arr.shape[:-3]
    flat = arr.reshape((int(np.prod(lead, dtype=np.int64)),) + arr.shape[-3:])  # works for T = 0
    out = np.zeros_like(flat)
    centres = np.zeros(flat.shape[:2] + (2,))
    scales = np.ones(flat.shape[0])
    sources = []
    for i, person in enumerate(flat):
        centre, scale, source = _centre_and_scale(person, lay)
        present = person[..., 2] > 0
        xy = (person[..., :2].astype(np.float64) - centre[:, None, :]) / scale
        out[i, ..., :2] = np.where(present[..., None], xy, 0.0)
        out[i, ..., 2] = np.where(present, person[..., 2], 0.0)
        centres[i], scales[i] = centre, scale
        sources.append(source)
    worst = next((s for s in sources if s != "shoulder_width"), "shoulder_width")
    norm = Normalization(center=centres.reshape(lead + centres.shape[1:]),
                         scale=scales.reshape(lead), scale_source=worst)
    return out.reshape(arr.shape), norm


# --- orientation --------------------------------------------------------------------------

#: Frames with the head and the centre both present that :func:`upright_turns` needs.
UPRIGHT_MIN_FRAMES = 5


def upright_turns(x: np.ndarray, layout: skeletons.Layout) -> int:
    """Quarter turns that bring a sideways or upside-down person upright: 0, 1, 2 or 3.

    x: normalised keypoints ``(T, V, 3)`` of one person (:func:`normalize`: the centre, the
    neck, at the origin; y points down). The cue is the median over frames of the vector from
    the centre to the mean of the present head joints (nose, eyes, ears): upright it points
    up. A turn is returned only when that vector points more than 45 degrees away from up,
    is at least 0.2 shoulder widths long, comes from :data:`UPRIGHT_MIN_FRAMES` frames or
    more, the median shoulder line agrees (nearer vertical than horizontal for a quarter
    turn, nearer horizontal for a half turn) and the elbows, where seen, lie on the other
    side of the shoulders from the head; otherwise 0. A video stored sideways (a phone
    recording whose rotation flag the pose tool ignored) gives 1 or 3; a person leaning or
    looking down gives 0. :func:`turn` applies the result.
    """
    head = [i for i, name in enumerate(layout.joints) if name in skeletons.HEAD_JOINTS]
    if not head or layout.scale_indices is None or x.shape[0] == 0:
        return 0
    present = x[..., 2] > 0
    centre_ok = np.ones(x.shape[0], bool)
    if layout.centre_index is not None:
        centre_ok = present[:, layout.centre_index] | (
            present[:, layout.scale_indices[0]] & present[:, layout.scale_indices[1]])
    up = _median_direction(x, head, centre_ok)
    if up is None or np.hypot(*up) < 0.2:
        return 0
    angle = np.degrees(np.arctan2(up[0], -up[1]))  # 0 = up, +90 = the head points to +x (right)
    k = int(np.round(angle / 90.0)) % 4
    if k == 0:
        return 0
    ls, rs = layout.scale_indices
    both = present[:, ls] & present[:, rs]
    if both.any():
        sx, sy = np.median(np.abs(x[both, ls, :2] - x[both, rs, :2]), axis=0)
        if (k % 2 == 1) != (sy > sx):
            return 0
    arms = [layout.index[n] for n in ("left_elbow", "right_elbow") if n in layout.index]
    elbows = _median_direction(x, arms, centre_ok) if arms else None
    if elbows is not None and float(elbows @ up) >= 0:  # the elbows must lie away from the head
        return 0
    return k


def _median_direction(x: np.ndarray, joints: list[int], ok: np.ndarray) -> np.ndarray | None:
    """Median over the frames ``ok`` in which some of ``joints`` is present of the mean of
    those present joints' (x, y): where they lie from the origin; None from fewer than
    :data:`UPRIGHT_MIN_FRAMES` frames."""
    present = x[:, joints, 2] > 0
    use = ok & present.any(axis=1)
    if int(use.sum()) < UPRIGHT_MIN_FRAMES:
        return None
    w = present[use].astype(np.float64)
    mean = (x[use][:, joints, :2] * w[..., None]).sum(axis=1) / w.sum(axis=1)[:, None]
    return np.median(mean, axis=0)


def turn(x: np.ndarray, k: int) -> np.ndarray:
    """Rotate normalised keypoints ``(..., V, 3)`` about the origin by ``k`` quarter turns of
    :func:`upright_turns` (k = 1: a head pointing to +x ends up pointing up). Exact (axis
    swaps and sign changes); missing joints stay (0, 0, 0); ``k % 4 == 0`` returns ``x``."""
    k = int(k) % 4
    if k == 0:
        return x
    out = np.array(x, dtype=np.float32, copy=True)
    px, py = x[..., 0], x[..., 1]
    if k == 1:      # (x, y) -> (y, -x)
        out[..., 0], out[..., 1] = py, -px
    elif k == 2:    # (x, y) -> (-x, -y)
        out[..., 0], out[..., 1] = -px, -py
    else:           # (x, y) -> (-y, x)
        out[..., 0], out[..., 1] = -py, px
    return _zero_missing(out)


#: :func:`mirrored_share` needs this many frames that show both shoulders and a face pair.
MIRROR_MIN_FRAMES = 25


def mirrored_share(x: np.ndarray, layout: skeletons.Layout) -> float | None:
    """Share of frames in which the person looks mirrored (their left on the image's left).

    x: normalised, upright keypoints ``(T, V, 3)`` of one person (y down). A frame counts
    when both shoulders and both eyes (else both ears) are present and the two pairs agree
    on the side: facing the camera the subject's left shoulder and eye lie at larger x than
    the right ones (an ordinary image), mirrored at smaller x; shoulders less than 0.3 sw apart
    in x (a profile view) do not count. A person seen from behind also has their left on the
    image's left, but then no face pair is found. None with fewer than
    :data:`MIRROR_MIN_FRAMES` counted frames, or a layout without the joints (Kinect)."""
    idx = layout.index
    pairs = [(idx.get(f"left_{j}"), idx.get(f"right_{j}")) for j in ("eye", "ear")]
    pairs = [p for p in pairs if None not in p]
    if "left_shoulder" not in idx or "right_shoulder" not in idx or not pairs:
        return None
    present = x[..., 2] > 0
    ls, rs = idx["left_shoulder"], idx["right_shoulder"]
    sh = np.where(present[:, ls] & present[:, rs], x[:, ls, 0] - x[:, rs, 0], 0.0)
    face = np.zeros(len(x))
    for a, b in reversed(pairs):  # the eyes where seen, else the ears
        both = present[:, a] & present[:, b]
        face = np.where(both, x[:, a, 0] - x[:, b, 0], face)
    normal = (sh > 0.3) & (face > 0)
    mirrored = (sh < -0.3) & (face < 0)
    counted = int(normal.sum() + mirrored.sum())
    return None if counted < MIRROR_MIN_FRAMES else float(mirrored.sum()) / counted


def turned_frames(seq: PoseSequence, degrees: int) -> PoseSequence:
    """``seq`` as a video stored turned ``degrees`` (90, 180 or 270) clockwise would give it:
    pixel coordinates turned inside the frame, the frame size swapped for 90 and 270 (0:
    ``seq`` itself). For testing what :func:`upright_turns` undoes."""
    k = int(degrees) // 90 % 4
    if int(degrees) % 90:
        raise NfblError(f"turns are multiples of 90 degrees, got {degrees}")
    if k == 0:
        return seq
    if seq.frame_size is None:
        raise NfblError("turning the frames needs the sequence's frame size")
    w, h = seq.frame_size
    kp = turn(np.asarray(seq.keypoints, dtype=np.float32), -k % 4)  # about the frame's origin
    shift = {1: (h, 0), 2: (w, h), 3: (0, w)}[k]  # back inside the turned frame
    present = kp[..., 2] > 0
    kp[..., :2][present] += np.asarray(shift, np.float32)
    size = (h, w) if k % 2 else (w, h)
    return seq.with_keypoints(kp, seq.layout, frame_size=size)


def mirror_x(keypoints: np.ndarray, width: float) -> np.ndarray:
    """Pixel keypoints ``(..., V, 3)`` reflected left-right inside a frame ``width`` pixels
    wide (``x → width − 1 − x``, a reflection of pixel indices), joint names kept: what a
    mirrored image (a selfie view; the Kinect v2 SDK's depth and colour images) does to an
    ordinary one, and undoes. Missing joints stay (0, 0, 0)."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    present = kp[..., 2] > 0
    kp[..., 0] = np.where(present, float(width) - 1.0 - kp[..., 0], 0.0)
    return kp


def mirrored_frames(seq: PoseSequence) -> PoseSequence:
    """``seq`` as a mirrored video would give it: x reflected in the frame, joint names kept
    (the subject's left then appears on the image's left, as in a mirror). For measuring what
    the input contract's mirror step (:func:`mirrored_share`) and the Kinect readers
    (:func:`mirror_x`) undo."""
    if seq.frame_size is None or not seq.frame_size[0] > 0:
        raise NfblError("mirroring the frames needs the sequence's frame size")
    return seq.with_keypoints(mirror_x(seq.keypoints, seq.frame_size[0]), seq.layout)


# --- resampling ---------------------------------------------------------------------------

#: :func:`resample` refuses to make more than this many times the input's frames, unless
#: the result stays under :data:`MAX_RESAMPLE_FRAMES` (3 h at 25 fps): frame numbers with a
#: huge gap (a Kinetics ``frame_index`` of 1e9, an OpenPose file numbered 999999999999)
#: would otherwise allocate gigabytes of interpolated frames.
MAX_RESAMPLE_GROWTH = 20
MAX_RESAMPLE_FRAMES = 270_000


def resample(seq: PoseSequence, fps: float) -> PoseSequence:
    """Resample to a constant rate ``fps`` using each frame's own timestamp.

    Output frame ``k`` is at ``t0 + k / fps`` for every such time up to the last input
    timestamp (``t0`` = first input timestamp). x, y are linearly interpolated in time
    between the two input frames around it; the score is that of the nearer one. A joint
    missing in either neighbour is missing (an output time that hits an input timestamp
    exactly uses that frame alone). Returns a new PoseSequence with ``fps`` set.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise NfblError(f"target fps must be a positive number, got {fps}")
    ts = seq.timestamps
    n_in = seq.num_frames
    if n_in < 2:
        return seq.with_keypoints(seq.keypoints.copy(), fps=float(fps))
    t0 = ts[0]
    n_out = int(np.floor((ts[-1] - t0) * fps + 1e-9)) + 1
    if n_out > max(MAX_RESAMPLE_GROWTH * n_in, MAX_RESAMPLE_FRAMES):
        raise NfblError(f"{seq.video_id or 'sequence'}: {n_in} frames span {ts[-1] - t0:.0f} s, "
                        f"so resampling to {fps:g} fps would make {n_out} frames; the frame "
                        "numbers or timestamps have a huge gap: check them, or pass --fps")
    new_ts = t0 + np.arange(n_out, dtype=np.float64) / fps
    i = np.clip(np.searchsorted(ts, new_ts, side="right") - 1, 0, n_in - 2)
    w = np.clip((new_ts - ts[i]) / (ts[i + 1] - ts[i]), 0.0, 1.0)
    # snap exact hits (within float noise) onto the input frame
    w = np.where(np.abs(w) < 1e-9, 0.0, np.where(np.abs(w - 1) < 1e-9, 1.0, w))
    kp = seq.keypoints
    a, b = kp[:, i], kp[:, i + 1]  # (M, T', V, 3)
    pa, pb = a[..., 2] > 0, b[..., 2] > 0
    wb = w[None, :, None]
    present = np.where(wb == 0.0, pa, np.where(wb == 1.0, pb, pa & pb))
    out = np.zeros((kp.shape[0], n_out) + kp.shape[2:], dtype=np.float32)
    out[..., :2] = (a[..., :2] + wb[..., None].astype(np.float32) * (b[..., :2] - a[..., :2]))
    out[..., 2] = np.where(wb < 0.5, a[..., 2], b[..., 2])
    out[~present] = 0.0
    out[out[..., 2] <= 0] = 0.0
    return seq.with_keypoints(out, fps=float(fps), timestamps=new_ts)


# --- quality summary ----------------------------------------------------------------------

BODY_PARTS = ("head", "torso", "arms", "left_hand", "right_hand", "legs", "face")


#: Quality-summary part of each joint region (:data:`nfbl.core.skeletons.REGIONS`).
_REGION_TO_PART = {"head": "head", "face": "face", "torso": "torso", "shoulder": "torso",
                   "arm": "arms", "leg": "legs"}


def body_part_of(joint: str) -> str:
    """Body part of a joint name: one of :data:`BODY_PARTS` (from its declared region)."""
    region = skeletons.joint_region(joint)
    if region == "hand":
        return f"{skeletons.joint_side(joint)}_hand"
    return _REGION_TO_PART[region]


def missing_share_by_part(kp: np.ndarray, layout: skeletons.Layout | str) -> dict[str, float]:
    """Share (0..1) of missing joints (score 0) per body part over all frames of ``kp``
    ``(..., T, V, 3)``; parts the layout lacks are left out."""
    lay = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    arr = _as_kp(kp)
    missing = arr[..., 2] <= 0
    parts: dict[str, list[int]] = {}
    for i, j in enumerate(lay.joints):
        parts.setdefault(body_part_of(j), []).append(i)
    out = {}
    for part in BODY_PARTS:
        if part in parts and missing.size:
            out[part] = float(missing[..., parts[part]].mean())
    return out
