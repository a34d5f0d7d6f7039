"""Training windows and dense per-frame targets from keypoints + ground-truth events.

Targets of one window with T frames and K model classes (multi-label):

* ``cls`` float32 ``(T, K)``: 1 where the frame's timestamp lies in ``[start, end)`` of an
  event of class k (the rule of :func:`nfbl.core.events.to_multihot`), else 0.
* ``dist`` float32 ``(T, K, 2)``: on those positive cells, the distances **in frames**
  from the frame's timestamp back to the event start and forward to the event end,
  ``((t - start) / period, (end - t) / period)``, so ``t - left·period`` and
  ``t + right·period`` give the event back exactly; 0 elsewhere. Where two events of the
  same class overlap, the frame regresses the shorter one.
* ``valid`` float32 ``(T,)``: 0 on padding frames past the end of the video.

Windows are cut with a stride over every video; class-balanced sampling draws windows with
weight ``max_c freq(c) ** -power`` over the classes the window holds (the long tail of
rare gestures is seen far more often than uniform sampling would show it).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from nfbl.detectors.augment import AugmentConfig, augment_window, resample
from nfbl.core.events import EventStream
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One person of one video, prepared for the model.

    ``x`` float16/float32 ``(T, V, C)`` model input (from ``nfbl.exports.model_input.prepare``);
    ``times`` float64 ``(T,)`` frame timestamps in seconds; ``labels`` int64 ``(E,)`` model
    class *indices* (position in the model's class list) with ``starts``/``ends`` float64
    seconds; ``events`` the ground truth in NFBL ids (for validation).
    """

    video_id: str
    x: np.ndarray
    times: np.ndarray
    fps: float
    labels: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    events: EventStream

    @property
    def num_frames(self) -> int:
        return int(self.x.shape[0])


def make_record(video_id: str, x: np.ndarray, times: np.ndarray, fps: float,
                events: EventStream, class_ids: Sequence[int], track_id: int | None = 0,
                dtype: type = np.float16) -> VideoRecord:
    """Build a :class:`VideoRecord`; events of classes the model does not emit are dropped
    from the targets (and from the validation truth)."""
    index = {int(c): k for k, c in enumerate(class_ids)}
    evs = list(events)
    if track_id is not None:
        evs = [e for e in evs if e.track_id == track_id]
    evs = [e for e in evs if e.class_id in index]
    labels = np.array([index[e.class_id] for e in evs], dtype=np.int64)
    starts = np.array([e.start for e in evs], dtype=np.float64)
    ends = np.array([e.end for e in evs], dtype=np.float64)
    return VideoRecord(video_id, np.asarray(x, dtype=dtype), np.asarray(times, np.float64),
                       float(fps), labels, starts, ends, EventStream(tuple(evs)))


def dense_targets(labels: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  frame_times: np.ndarray, period: float, num_classes: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame multi-label targets and boundary distances (see the module docstring).

    labels ``(E,)`` class indices; starts/ends ``(E,)`` seconds; frame_times ``(T,)``
    seconds; period: seconds per output frame. Returns ``cls (T, K)``, ``dist (T, K, 2)``.
    """
    t = np.asarray(frame_times, dtype=np.float64)
    cls = np.zeros((t.shape[0], num_classes), dtype=np.float32)
    dist = np.zeros((t.shape[0], num_classes, 2), dtype=np.float32)
    best = np.full((t.shape[0], num_classes), np.inf)
    order = np.argsort(-(np.asarray(ends) - np.asarray(starts)), kind="stable")  # long first
    for i in order:
        k, s, e = int(labels[i]), float(starts[i]), float(ends[i])
        lo = int(np.searchsorted(t, s, side="left"))
        hi = int(np.searchsorted(t, e, side="left"))
        if hi <= lo:
            continue
        seg = slice(lo, hi)
        shorter = (e - s) <= best[seg, k]
        rows = np.arange(lo, hi)[shorter]
        cls[rows, k] = 1.0
        dist[rows, k, 0] = (t[rows] - s) / period
        dist[rows, k, 1] = (e - t[rows]) / period
        best[rows, k] = e - s
    return cls, dist


# --- window index and class-balanced sampling -------------------------------------------

def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of windows covering ``[0, num_frames)`` (the last one flush with the end)."""
    if num_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] != num_frames - window:
        starts = np.append(starts, num_frames - window)
    return starts


def window_index(records: Sequence[VideoRecord], window: int, stride: int) -> np.ndarray:
    """``(N, 2)`` int64 array of (record index, start frame) of every window."""
    rows = [np.stack([np.full_like(s, i), s], axis=1)
            for i, r in enumerate(records) for s in [window_starts(r.num_frames, window, stride)]]
    return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)


def window_classes(records: Sequence[VideoRecord], index: np.ndarray, window: int,
                   num_classes: int) -> np.ndarray:
    """Bool ``(N, K)``: which classes have an event overlapping each window."""
    out = np.zeros((index.shape[0], num_classes), dtype=bool)
    for n, (ri, s) in enumerate(index):
        r = records[int(ri)]
        t0 = r.times[int(s)]
        t1 = r.times[min(int(s) + window, r.num_frames) - 1]
        hit = (r.starts <= t1) & (r.ends > t0)
        out[n, r.labels[hit]] = True
    return out


def balanced_weights(classes: np.ndarray, power: float = 0.5,
                     background_weight: float = 0.5) -> np.ndarray:
    """Sampling weight of each window (sums to 1): ``max over its classes of freq ** -power``.

    ``classes``: bool ``(N, K)`` from :func:`window_classes`. Windows without any event get
    ``background_weight`` × the median weight of the windows with events.
    """
    n = classes.shape[0]
    freq = classes.mean(axis=0)
    inv = np.where(freq > 0, np.power(np.maximum(freq, 1e-12), -power), 0.0)
    w = (classes * inv[None, :]).max(axis=1) if classes.shape[1] else np.zeros(n)
    has = classes.any(axis=1)
    base = float(np.median(w[has])) if has.any() else 1.0
    w = np.where(has, w, background_weight * base)
    if w.sum() <= 0:
        w = np.ones(n)
    return w / w.sum()


@dataclass(frozen=True)
class WindowSpec:
    """One window to cut: record, first source frame, playback speed, augmentation seed."""

    record: int
    start: int
    speed: float
    seed: int


def draw_epoch(index: np.ndarray, weights: np.ndarray | None, count: int, window: int,
               stride: int, records: Sequence[VideoRecord], aug: AugmentConfig,
               rng: np.random.Generator, train: bool = True) -> list[WindowSpec]:
    """The windows of one epoch, drawn with ``weights`` (``None`` = every window once,
    shuffled when ``train``). Training windows get a random offset within the stride, a speed factor and a
    seed for their augmentation, all from ``rng`` (so an epoch is reproducible)."""
    if weights is None:
        picks = rng.permutation(index.shape[0]) if train else np.arange(index.shape[0])
    else:
        picks = rng.choice(index.shape[0], size=count, replace=True, p=weights)
    specs = []
    for p in picks:
        ri, s = int(index[p, 0]), int(index[p, 1])
        speed = 1.0
        if train and aug.enabled:
            s = s + int(rng.integers(-(stride // 2), stride // 2 + 1))
            if rng.random() < aug.speed_prob:
                lo, hi = aug.speed
                speed = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        n = records[ri].num_frames
        s = int(np.clip(s, 0, max(0, n - int(np.ceil(window * speed)))))
        specs.append(WindowSpec(ri, s, speed, int(rng.integers(0, 2**31 - 1))))
    return specs


def cut_window(record: VideoRecord, spec: WindowSpec, window: int, num_classes: int,
               aug: AugmentConfig | None = None, class_flip: np.ndarray | None = None,
               global_centre: bool = False
               ) -> dict[str, np.ndarray]:
    """Cut, resample (speed), augment one window and build its targets.

    Returns ``x`` float32 ``(T, V, C)``, ``cls`` ``(T, K)``, ``dist`` ``(T, K, 2)``,
    ``valid`` ``(T,)`` with T = ``window``.
    """
    rng = np.random.default_rng(spec.seed)
    n = record.num_frames
    pos = spec.start + np.arange(window, dtype=np.float64) * spec.speed
    valid = pos <= n - 1
    src = record.x[spec.start:min(n, spec.start + int(np.ceil(window * spec.speed)) + 2)]
    src = src.astype(np.float32)
    if spec.speed == 1.0:
        x = np.zeros((window,) + record.x.shape[1:], dtype=np.float32)
        m = min(window, src.shape[0])
        x[:m] = src[:m]
    else:
        x = resample(src, pos - spec.start)
        x[~valid] = 0.0
    idx = np.arange(n, dtype=np.float64)
    times = np.interp(np.minimum(pos, n - 1), idx, record.times)
    # extrapolate timestamps past the end so padding frames never look positive
    step = float(np.median(np.diff(record.times))) if n > 1 else 1.0 / record.fps
    times = np.where(valid, times, record.times[-1] + (pos - (n - 1)) * step)
    period = step * spec.speed
    cls, dist = dense_targets(record.labels, record.starts, record.ends, times, period,
                              num_classes)
    cls[~valid] = 0.0
    dist[~valid] = 0.0
    if aug is not None and aug.enabled:
        x, flipped = augment_window(x, rng, aug, global_centre=global_centre)
        if flipped and class_flip is not None:
            cls, dist = cls[:, class_flip], dist[:, class_flip]
        x[~valid] = 0.0
    return {"x": x, "cls": cls, "dist": dist, "valid": valid.astype(np.float32)}


def collate(items: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack window dicts into batch arrays (leading batch axis)."""
    return {k: np.stack([it[k] for it in items]) for k in items[0]}


def shard(specs: Sequence[WindowSpec], rank: int, world: int) -> list[WindowSpec]:
    """The part of an epoch one DDP rank trains on (every rank draws the same epoch)."""
    if world <= 1:
        return list(specs)
    n = (len(specs) // world) * world
    return list(specs[rank:n:world])


# --- cached raw videos -------------------------------------------------------------------

def save_video(path: Path, seq: PoseSequence, events: EventStream) -> None:
    """Cache a generated video: keypoints ``.npz`` + its events as ``.events.json``."""
    from nfbl.core.atomic import atomic_open
    seq.save(path.with_suffix(".npz"))
    with atomic_open(path.with_suffix(".events.json")) as fh:
        json.dump([e.to_dict() for e in events], fh)


def load_video(path: Path) -> tuple[PoseSequence, EventStream]:
    """Inverse of :func:`save_video`."""
    from nfbl.core.events import Event
    seq = PoseSequence.load(path.with_suffix(".npz"))
    rows = json.loads(path.with_suffix(".events.json").read_text())
    return seq, EventStream(tuple(Event.from_dict(r) for r in rows))


def batches(specs: Sequence[WindowSpec], batch_size: int) -> Iterable[list[WindowSpec]]:
    for i in range(0, len(specs), batch_size):
        yield list(specs[i:i + batch_size])

