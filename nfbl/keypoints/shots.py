"""Camera cuts and zooms in a pose track: find them, and simulate them to measure.

Press conferences and talk shows are filmed by a camera operator: the shot changes from a
wide view of the podium to a close-up of the speaker and back. Per-person normalisation with
one shoulder width per track (:func:`nfbl.keypoints.cleaning.normalize`) then draws the
close-up person 1.5x too large and the wide-shot person too small; training augments scale
only by 0.8-1.25. :func:`shot_starts` finds the frames where the person's size jumps at once
(a cut), so that each shot is normalised with its own shoulder width.

A cut is told apart from a person turning (their projected shoulder width shrinks too) by
how fast it happens: the shoulder width must change by at least ``min_ratio`` between the
medians of the 3 frames before and the 3 frames after (a seated person cannot turn that far in
a tenth of a second), and the medians of up to ``confirm_frames`` frames on either side
must still differ by ``confirm_ratio`` (a burst of misplaced shoulders is not a cut). Cuts
closer together than ``min_shot_frames`` keep only the larger. Slow zooms are not found
(their ratio per frame is small) and stay under one scale, as before.

:func:`camera_cuts` makes such footage from a sequence, for ``nfbl evaluate --camera-cuts``
and for tests: shots of random length, each zoomed about the person by its own factor and
cropped to the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nfbl.core import skeletons
from nfbl.core.sequence import PoseSequence
from nfbl.keypoints.cleaning import frame_centres, scale_widths

#: A cut changes the shoulder width by at least this factor within about 3 frames.
MIN_RATIO = 1.25
#: ... and the medians of up to ``CONFIRM_FRAMES`` frames either side differ by this factor.
CONFIRM_RATIO = 1.2
CONFIRM_FRAMES = 25
#: Two cuts are at least this many frames apart (2 s at 25 fps).
MIN_SHOT_FRAMES = 50


def is_cut(jump: float, long_jump: float, min_ratio: float = MIN_RATIO,
           confirm_ratio: float = CONFIRM_RATIO) -> bool:
    """The cut test on log shoulder widths: ``jump`` between the medians of the 3 frames
    either side is at least ``log(min_ratio)``, and ``long_jump`` between the medians of up to
    ``CONFIRM_FRAMES`` frames either side is at least ``log(confirm_ratio)`` the same way."""
    return (abs(jump) > np.log(min_ratio) and abs(long_jump) > np.log(confirm_ratio)
            and np.sign(long_jump) == np.sign(jump))


def shot_starts(person: np.ndarray, layout: skeletons.Layout, min_ratio: float = MIN_RATIO,
                confirm_ratio: float = CONFIRM_RATIO, confirm_frames: int = CONFIRM_FRAMES,
                min_shot_frames: int = MIN_SHOT_FRAMES) -> np.ndarray:
    """First frames of the shots after the first: int64 ``(K,)``, ascending (K = 0: one shot).

    person: ``(T, V, 3)`` pixel keypoints of one track in ``layout`` (its scale joints, the
    shoulders, are measured in the frames that show both). See the module docstring.
    """
    both = frame_centres(person, layout)[2]
    frames = np.flatnonzero(both)
    if len(frames) < 8:
        return np.zeros(0, np.int64)
    widths = scale_widths(person, layout, both)
    ok = widths > 1e-6
    frames, s = frames[ok], np.log(widths[ok])
    n = len(s)
    if n < 8:
        return np.zeros(0, np.int64)
    med3 = np.median(sliding_window_view(s, 3), axis=1)  # med3[j] = median of s[j..j+2]
    i = np.arange(2, n - 3)  # a cut between present frames i and i + 1: jump[i - 2]
    jump = med3[i + 1] - med3[i - 2]
    # only with full confirmation windows on both sides (a clip's first or last frames are
    # too few to tell a cut from noise)
    inner = (i >= confirm_frames - 1) & (i < n - confirm_frames)
    cand = i[(np.abs(jump) > np.log(min_ratio)) & inner]
    if not len(cand):
        return np.zeros(0, np.int64)
    # one peak per run of neighbouring candidates (a cut makes its neighbours jump too): the
    # split with the largest difference of 3-frame means, which straddling windows shrink
    mean3 = sliding_window_view(s, 3).mean(axis=1)
    runs = np.split(cand, np.flatnonzero(np.diff(cand) > 1) + 1)
    peaks = np.array([r[np.argmax(np.abs(mean3[r + 1] - mean3[r - 2]))] for r in runs])
    keep: list[int] = []
    for p in peaks:
        # (not bounded by the neighbouring peaks: a burst's own end must not confirm it)
        lo, hi = max(0, p + 1 - confirm_frames), min(n, p + 1 + confirm_frames)
        long_jump = np.median(s[p + 1:hi]) - np.median(s[lo:p + 1])
        if is_cut(jump[p - 2], long_jump, min_ratio, confirm_ratio):
            keep.append(int(p))
    # cuts at least min_shot_frames apart: the larger jumps first
    chosen: list[int] = []
    for p in sorted(keep, key=lambda q: -abs(jump[q - 2])):
        if all(abs(int(frames[p + 1]) - int(frames[q + 1])) >= min_shot_frames for q in chosen):
            chosen.append(p)
    return np.sort(frames[np.asarray(chosen, np.int64) + 1]).astype(np.int64)


def shot_scales(person: np.ndarray, layout: skeletons.Layout,
                starts: np.ndarray) -> np.ndarray | None:
    """Per-frame shoulder width ``(T,)`` pixels: the median of each shot (``starts`` from
    :func:`shot_starts`); a shot with no frame showing both shoulders takes the median of
    the whole track. None when the track shows both shoulders in no frame."""
    both = frame_centres(person, layout)[2]
    widths = np.zeros(len(person))
    widths[both] = scale_widths(person, layout, both)
    good = both & (widths > 1e-6)
    if not good.any():
        return None
    overall = float(np.median(widths[good]))
    out = np.full(len(person), overall)
    bounds = [0] + [int(b) for b in starts] + [len(person)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        seg = good[a:b]
        if seg.any():
            out[a:b] = float(np.median(widths[a:b][seg]))
    return out


@dataclass(frozen=True)
class CameraCuts:
    """Simulated camera work for :func:`camera_cuts`.

    shot_seconds: range of shot lengths (s); zoom: range of each shot's size factor
    (log-uniform, relative to the footage as given; the first shot too); min_change: every
    cut changes the size by at least this factor (the cuts the detector should see); crop:
    joints that leave the frame are missing (False: kept, for telling the two effects apart).
    """

    shot_seconds: tuple[float, float] = (6.0, 30.0)
    zoom: tuple[float, float] = (0.6, 1.7)
    min_change: float = 1.3
    crop: bool = True


def camera_cuts(seq: PoseSequence, seed: int, config: CameraCuts = CameraCuts()) -> tuple[
        PoseSequence, np.ndarray]:
    """``seq`` as a camera operator would have filmed it: shots, each zoomed about the first
    person's median centre in that shot by its own factor; joints that leave the frame
    (``seq.frame_size``) are missing. Returns the new sequence and the first frame of
    every shot after the first (int64). Seeded: the same ``seed`` gives the same cuts."""
    rng = np.random.default_rng(seed)
    t_len = seq.num_frames
    fps = float(seq.fps or 25.0)
    lo, hi = (max(1, int(round(s * fps))) for s in config.shot_seconds)
    starts, t = [], int(rng.integers(lo, hi + 1))
    while t < t_len:
        starts.append(t)
        t += int(rng.integers(lo, hi + 1))
    bounds = [0] + starts + [t_len]
    zlo, zhi = np.log(config.zoom[0]), np.log(config.zoom[1])
    kp = np.array(seq.keypoints, dtype=np.float32, copy=True)
    w, h = seq.frame_size
    lay = seq.layout_def
    prev = None
    for a, b in zip(bounds[:-1], bounds[1:]):
        z = float(rng.uniform(zlo, zhi))
        for _ in range(100):
            if prev is None or abs(z - prev) >= np.log(config.min_change):
                break
            z = float(rng.uniform(zlo, zhi))
        prev = z
        centre, ok, _ = frame_centres(kp[0, a:b], lay) if kp.shape[0] else (None, np.zeros(0, bool), None)
        pivot = np.median(centre[ok], axis=0) if ok.any() else np.array([w / 2.0, h / 2.0])
        part = kp[:, a:b]
        present = part[..., 2] > 0
        xy = (part[..., :2] - pivot) * np.exp(z) + pivot
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
        keep = present & (inside | (not config.crop))
        part[..., :2] = np.where(keep[..., None], xy, 0.0)
        part[..., 2] = np.where(keep, part[..., 2], 0.0)
        kp[:, a:b] = part
    return seq.with_keypoints(kp, seq.layout), np.asarray(starts, np.int64)
