"""Pose on every k-th frame: fill the frames in between by linear interpolation in time."""
from __future__ import annotations

import numpy as np


def fill_between(kp: np.ndarray, times: np.ndarray, all_times: np.ndarray,
                 hold: float | None = None) -> np.ndarray:
    """Keypoints at ``all_times`` from keypoints ``(M, S, V, 3)`` known at ``times`` ``(S,)``.

    Between two known frames, x and y are interpolated linearly in time (each frame's own
    timestamp) and the score is the smaller of the two; a joint missing at either end stays
    missing. Before the first and after the last known frame the nearest known pose is held
    for at most ``hold`` seconds (default: the largest gap between known frames), after that
    the joint is missing. Returns float32 ``(M, T, V, 3)``; known frames are copied exactly.
    """
    kp = np.asarray(kp, dtype=np.float32)
    times = np.asarray(times, dtype=np.float64)
    all_times = np.asarray(all_times, dtype=np.float64)
    m, s, v, _ = kp.shape
    out = np.zeros((m, len(all_times), v, 3), dtype=np.float32)
    if s == 0 or len(all_times) == 0:
        return out
    if hold is None:
        hold = float(np.max(np.diff(times))) if s > 1 else 0.0
    hi = np.searchsorted(times, all_times, side="left")  # first known time >= t
    exact = (hi < s) & (times[np.minimum(hi, s - 1)] == all_times)
    lo = np.clip(hi - 1, 0, s - 1)
    hi_c = np.clip(hi, 0, s - 1)
    inside = (hi > 0) & (hi < s)
    span = np.where(inside, times[hi_c] - times[lo], 1.0)
    w = np.where(inside, (all_times - times[lo]) / np.where(span > 0, span, 1.0), 0.0)
    a, b = kp[:, lo], kp[:, hi_c]
    wb = w[None, :, None, None].astype(np.float32)
    both = (a[..., 2] > 0) & (b[..., 2] > 0)
    interp = np.zeros_like(a)
    interp[..., :2] = a[..., :2] + wb * (b[..., :2] - a[..., :2])
    interp[..., 2] = np.minimum(a[..., 2], b[..., 2])
    interp[~both] = 0.0
    out[:, inside] = interp[:, inside]
    before = hi == 0
    after = hi >= s
    near_first = before & (times[0] - all_times <= hold + 1e-9)
    near_last = after & (all_times - times[-1] <= hold + 1e-9)
    out[:, near_first] = kp[:, :1]
    out[:, near_last] = kp[:, -1:]
    ex = np.flatnonzero(exact)
    out[:, ex] = kp[:, hi[ex]]
    out[out[..., 2] <= 0] = 0.0
    return out
