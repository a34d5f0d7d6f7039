"""Dense detector outputs → NFBL events, and events → dense training targets (numpy only).

Shared by the torch and the ONNX paths (foundation: numpy/stdlib only).

Dense form (one person, one video, ``T`` frames at ``timestamps`` seconds, ``C`` classes):

- ``probs`` ``(T, C)``: per-frame, per-class probability (sigmoid of the logits);
- ``offsets`` ``(T, C, 2)``: non-negative distances in FRAMES from frame ``t`` to the start
  and to the (exclusive) end of the event of that class it lies in; the event predicted by
  frame ``t`` is ``[t - offsets[t, c, 0], t + offsets[t, c, 1])`` in (fractional) frame
  units. A frame always lies inside the event it predicts (the end is at least ``t + 1``).

Frame positions become seconds by linear interpolation of ``timestamps`` (linear
extrapolation at ``1 / fps`` per frame before the first and after the last frame).

Decoding, per class (:func:`decode`):

1. candidates: every frame with ``prob >= threshold`` predicts a segment from its offsets
   (clamped to ``max_duration_s``), scored by its probability (times the centre-ness
   ``min(d_s, d_e) / max(d_s, d_e)`` when ``centerness``). Without offsets
   (``use_offsets=False`` or ``offsets=None``) the candidates are the maximal runs of
   frames with ``prob >= threshold`` scored by their mean probability (the fallback);
2. candidates shorter than ``min_duration_s`` are dropped, the rest clipped to the sequence;
3. candidates are grouped into clusters of (transitively) overlapping segments; within a
   cluster greedy NMS (``nms_iou``) or Gaussian Soft-NMS (``soft_nms``, ``soft_nms_sigma``,
   dropping scores below ``min_score``) picks the events, at most ``top_k`` per cluster.

A model trained on full hands is less sure of itself on tracks whose hands are reduced
(fingertips only, or no hand joints); ``reduced_hands_bias`` is the logit offset that the
detector adds to every class of such a track (:meth:`DecodeConfig.for_reduced_hands`, applied
by :meth:`nfbl.exports.runtime.DenseDetector.detect`, which knows the track's hands).

Optional label-shift correction: ``class_bias`` ``(C,)`` (one value per column of ``probs``,
empty = none) is added to each class's logit before anything else, i.e. every probability
becomes ``sigmoid(logit(p) + class_bias[c])`` (:func:`apply_class_bias`). A model trained on
one class prior and run where another holds shifts its logits by ``log-odds(real prior) -
log-odds(training prior)`` (logit adjustment; see docs/detector.md for how the bundled
model's offsets are derived).

After decoding, ``contact_check`` (on by default) drops events of contact classes whose
keypoints contradict their touch (:mod:`nfbl.keypoints.contact`). It needs the keypoints, so
:func:`decode` does not apply it: the callers that hold the detector input do
(:meth:`nfbl.exports.runtime.DenseDetector.detect`, the streaming detector, training's
validation).

Because candidates of different clusters never overlap and every step above is local to a
cluster, decoding the whole sequence equals decoding each cluster on its own — which is what
lets :class:`OnlineDecoder` (streaming) emit exactly the offline events as clusters close.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

import numpy as np

from nfbl.core import config
from nfbl.core.errors import NfblError
from nfbl.core.events import Event


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding settings (see the module docstring). Durations in seconds."""

    threshold: float = 0.5
    min_duration_s: float = 0.12
    max_duration_s: float = 40.0
    nms_iou: float = 0.4
    soft_nms: bool = False
    soft_nms_sigma: float = 0.5
    min_score: float = 0.0
    top_k: int | None = None
    use_offsets: bool = True
    centerness: bool = False
    class_bias: tuple[float, ...] = ()
    contact_check: bool = True
    reduced_hands_bias: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise NfblError(f"decode threshold must be in [0, 1], got {self.threshold}")
        if not 0.0 <= self.nms_iou <= 1.0:
            raise NfblError(f"decode nms_iou must be in [0, 1], got {self.nms_iou}")
        if self.min_duration_s < 0 or not self.max_duration_s > 0:
            raise NfblError("decode min_duration_s must be >= 0 and max_duration_s > 0")
        if self.top_k is not None and self.top_k < 1:
            raise NfblError(f"decode top_k must be >= 1 or None, got {self.top_k}")
        if not self.soft_nms_sigma > 0:
            raise NfblError("decode soft_nms_sigma must be > 0")
        object.__setattr__(self, "class_bias", tuple(float(b) for b in self.class_bias))
        if not all(np.isfinite(self.class_bias)):
            raise NfblError("decode class_bias must hold finite numbers (one logit offset per "
                            "class of the model)")
        object.__setattr__(self, "reduced_hands_bias", float(self.reduced_hands_bias))
        if not np.isfinite(self.reduced_hands_bias):
            raise NfblError("decode reduced_hands_bias must be a finite number (a logit offset)")

    def for_reduced_hands(self, num_classes: int) -> "DecodeConfig":
        """The settings for a track whose hands are reduced (fingertips only or no hand joints,
        :func:`nfbl.exports.model_input.hand_detail` below ``REDUCED_HANDS_SHARE``):
        ``reduced_hands_bias`` added to every class's logit, on top of ``class_bias``."""
        if self.reduced_hands_bias == 0.0:
            return self
        base = self.class_bias or (0.0,) * int(num_classes)
        return replace(self, class_bias=tuple(b + self.reduced_hands_bias for b in base))

    def to_dict(self) -> dict:
        return config.to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping | None, where: str = "decode settings") -> "DecodeConfig":
        """Build from a dict (e.g. a model card's ``decode``), strictly: an unknown key or a
        wrong type is an error naming it (:func:`nfbl.core.config.from_dict`)."""
        return config.from_dict(cls, dict(d or {}), where)


# --- frames <-> seconds ----------------------------------------------------------------------

def _step(timestamps: np.ndarray, fps: float | None) -> float:
    if fps is not None and fps > 0:
        return 1.0 / float(fps)
    if len(timestamps) > 1:
        return float(np.median(np.diff(timestamps)))
    return 1.0 / 25.0


def frames_to_seconds(frames: np.ndarray, timestamps: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Fractional frame positions → seconds (interpolate ``timestamps``; extrapolate at 1/fps)."""
    f = np.asarray(frames, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    step = _step(ts, fps)
    last = len(ts) - 1
    out = np.interp(f, np.arange(len(ts)), ts)
    out = np.where(f < 0, ts[0] + f * step, out)
    return np.where(f > last, ts[last] + (f - last) * step, out)


def seconds_to_frames(seconds: np.ndarray, timestamps: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Inverse of :func:`frames_to_seconds` (timestamps strictly increasing)."""
    s = np.asarray(seconds, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    step = _step(ts, fps)
    last = len(ts) - 1
    out = np.interp(s, ts, np.arange(len(ts), dtype=np.float64))
    out = np.where(s < ts[0], (s - ts[0]) / step, out)
    return np.where(s > ts[last], last + (s - ts[last]) / step, out)


# --- candidates, clusters, NMS --------------------------------------------------------------

def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def candidates(prob: np.ndarray, offsets: np.ndarray | None, cfg: DecodeConfig,
               max_frames: float, frame0: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate segments of one class: ``(starts, ends)`` in frames, ``scores``.

    prob ``(T,)``; offsets ``(T, 2)`` or None; ``frame0`` = index of ``prob[0]`` in the
    sequence (streaming). Segments are not clipped and not filtered here.
    """
    keep = prob >= cfg.threshold
    if offsets is None or not cfg.use_offsets:
        a, b = _runs(keep)
        csum = np.concatenate([[0.0], np.cumsum(prob, dtype=np.float64)])
        scores = (csum[b] - csum[a]) / np.maximum(b - a, 1)
        return (a + frame0).astype(np.float64), (b + frame0).astype(np.float64), scores
    idx = np.flatnonzero(keep)
    d = np.clip(offsets[idx].astype(np.float64), 0.0, max_frames)
    t = (idx + frame0).astype(np.float64)
    starts = t - d[:, 0]
    ends = np.maximum(t + d[:, 1], t + 1.0)
    scores = prob[idx].astype(np.float64)
    if cfg.centerness:
        lo, hi = np.minimum(d[:, 0], d[:, 1]), np.maximum(d[:, 0], d[:, 1])
        scores = scores * np.where(hi > 0, lo / np.maximum(hi, 1e-9), 1.0)
    return starts, ends, scores


def clusters(starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """Group segments into clusters of transitively overlapping ones (index arrays).

    Segments that merely touch (``end == start``) are in different clusters.
    """
    if len(starts) == 0:
        return []
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    breaks = np.flatnonzero(s[1:] >= run_end[:-1]) + 1
    return np.split(order, breaks)


def _iou(s: float, e: float, ss: np.ndarray, es: np.ndarray) -> np.ndarray:
    inter = np.clip(np.minimum(e, es) - np.maximum(s, ss), 0.0, None)
    union = (e - s) + (es - ss) - inter
    return inter / np.maximum(union, 1e-12)


def nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, cfg: DecodeConfig) -> list[tuple[int, float]]:
    """Greedy NMS or Gaussian Soft-NMS on one class; returns ``(index, score)`` kept, best first."""
    idx = np.argsort(-scores, kind="stable")
    rem_s, rem_e, rem_sc, rem_i = starts[idx], ends[idx], scores[idx].astype(np.float64), idx
    kept: list[tuple[int, float]] = []
    limit = cfg.top_k or len(idx)
    while len(rem_i) and len(kept) < limit:
        j = int(np.argmax(rem_sc))  # first maximum: stable for ties
        s, e, sc, i = rem_s[j], rem_e[j], rem_sc[j], rem_i[j]
        if sc < cfg.min_score:
            break
        kept.append((int(i), float(sc)))
        mask = np.ones(len(rem_i), dtype=bool)
        mask[j] = False
        rem_s, rem_e, rem_sc, rem_i = rem_s[mask], rem_e[mask], rem_sc[mask], rem_i[mask]
        if not len(rem_i):
            break
        iou = _iou(s, e, rem_s, rem_e)
        if cfg.soft_nms:
            rem_sc = rem_sc * np.exp(-(iou ** 2) / cfg.soft_nms_sigma)
            alive = rem_sc >= max(cfg.min_score, 1e-4)
        else:
            alive = iou <= cfg.nms_iou
        rem_s, rem_e, rem_sc, rem_i = rem_s[alive], rem_e[alive], rem_sc[alive], rem_i[alive]
    return kept


def apply_class_bias(probs: np.ndarray, bias: Sequence[float]) -> np.ndarray:
    """``sigmoid(logit(probs) + bias)`` per column: probs ``(T, C)``, bias ``(C,)`` logit
    offsets (empty: probs unchanged). Float64 inside, probabilities clipped to
    [1e-7, 1 - 1e-7] before the logit; returns float32 ``(T, C)``."""
    if len(bias) == 0:
        return probs
    b = np.asarray(bias, dtype=np.float64)
    if probs.ndim != 2 or b.shape != (probs.shape[1],):
        raise NfblError(f"decode class_bias has {len(b)} values but the model has "
                        f"{probs.shape[-1]} classes; give one logit offset per class")
    p = np.clip(probs.astype(np.float64), 1e-7, 1.0 - 1e-7)
    z = np.log(p) - np.log1p(-p) + b[None, :]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def _check_dense(probs: np.ndarray, offsets: np.ndarray | None, timestamps: np.ndarray,
                 class_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    p = np.asarray(probs, dtype=np.float32)
    ts = np.asarray(timestamps, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_ids):
        raise NfblError(f"probs must have shape (T, {len(class_ids)}), got {p.shape}")
    if ts.shape != (p.shape[0],):
        raise NfblError(f"{ts.shape[0] if ts.ndim else 0} timestamps for {p.shape[0]} frames")
    off = None
    if offsets is not None:
        off = np.asarray(offsets, dtype=np.float32)
        if off.shape != p.shape + (2,):
            raise NfblError(f"offsets must have shape {p.shape + (2,)}, got {off.shape}")
    return p, off, ts


def _cluster_events(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, members: np.ndarray,
                    cfg: DecodeConfig) -> list[tuple[float, float, float]]:
    kept = nms(starts[members], ends[members], scores[members], cfg)
    return [(float(starts[members][i]), float(ends[members][i]), sc) for i, sc in kept]


def _prefilter(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, num_frames: float | None,
               timestamps: np.ndarray, fps: float | None, cfg: DecodeConfig):
    """Clip to [0, num_frames] and drop candidates shorter than ``min_duration_s``."""
    s = np.maximum(starts, 0.0)
    e = ends if num_frames is None else np.minimum(ends, float(num_frames))
    dur = frames_to_seconds(e, timestamps, fps) - frames_to_seconds(s, timestamps, fps)
    ok = (e > s) & (dur >= cfg.min_duration_s - 1e-9)
    return s[ok], e[ok], scores[ok]


def decode(probs: np.ndarray, offsets: np.ndarray | None, timestamps: np.ndarray,
           class_ids: Sequence[int], cfg: DecodeConfig | None = None, video_id: str = "",
           track_id: int = 0, model: str = "", fps: float | None = None) -> list[Event]:
    """Dense outputs of one person → events (sorted by start, end, class).

    probs ``(T, C)``, offsets ``(T, C, 2)`` frames (or None: thresholded runs),
    timestamps ``(T,)`` seconds, class_ids ``(C,)`` NFBL ids of the columns; ``fps``
    (optional) sets the extrapolation step beyond the first/last frame (default: the median
    timestamp step).
    """
    cfg = cfg or DecodeConfig()
    p, off, ts = _check_dense(probs, offsets, timestamps, class_ids)
    p = apply_class_bias(p, cfg.class_bias)
    n = p.shape[0]
    if n == 0:
        return []
    max_frames = cfg.max_duration_s / _step(ts, fps)
    out: list[Event] = []
    for c, cid in enumerate(class_ids):
        s, e, sc = candidates(p[:, c], None if off is None else off[:, c], cfg, max_frames)
        s, e, sc = _prefilter(s, e, sc, n, ts, fps, cfg)
        for members in clusters(s, e):
            out += _to_events(_cluster_events(s, e, sc, members, cfg), ts, fps, cid, video_id,
                              track_id, model)
    return sort_events(out)


def _to_events(segs: Iterable[tuple[float, float, float]], ts: np.ndarray, fps: float | None,
               cid: int, video_id: str, track_id: int, model: str) -> list[Event]:
    segs = list(segs)
    if not segs:
        return []
    arr = np.array(segs, dtype=np.float64)
    t0 = frames_to_seconds(arr[:, 0], ts, fps)
    t1 = frames_to_seconds(arr[:, 1], ts, fps)
    return [Event(video_id, int(cid), float(a), float(b), float(min(max(sc, 0.0), 1.0)),
                  track_id, model) for a, b, sc in zip(t0, t1, arr[:, 2]) if b > a]


def sort_events(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.class_id, -e.score))


# --- streaming ---------------------------------------------------------------------------------

class OnlineDecoder:
    """Incremental :func:`decode`: feed final dense outputs in order, get events as they close.

    ``push(probs, offsets, timestamps)`` appends frames whose outputs are final and returns
    the events of every cluster that no later frame can touch any more (its candidates end
    at least ``max_duration_s`` before the newest frame); ``finish()`` returns the rest.
    The union of everything returned equals :func:`decode` on the whole sequence, given the
    same ``fps`` (which sets the extrapolation step; pass the model's fps).
    """

    def __init__(self, class_ids: Sequence[int], cfg: DecodeConfig | None = None, fps: float = 25.0,
                 video_id: str = "", track_id: int = 0, model: str = ""):
        self.class_ids = tuple(int(c) for c in class_ids)
        self.cfg = cfg or DecodeConfig()
        self.fps = float(fps)
        self.video_id, self.track_id, self.model = video_id, track_id, model
        self.max_frames = self.cfg.max_duration_s * self.fps
        self._ts: list[np.ndarray] = []
        self._n = 0
        c = len(self.class_ids)
        self._pending = [(np.zeros(0), np.zeros(0), np.zeros(0)) for _ in range(c)]
        self._open_run = [(0, np.zeros(0, np.float32)) for _ in range(c)]

    @property
    def num_frames(self) -> int:
        return self._n

    def _timestamps(self) -> np.ndarray:
        if len(self._ts) > 1:
            self._ts = [np.concatenate(self._ts)]
        return self._ts[0] if self._ts else np.zeros(0)

    def push(self, probs: np.ndarray, offsets: np.ndarray | None, timestamps: np.ndarray) -> list[Event]:
        p, off, ts = _check_dense(probs, offsets, timestamps, self.class_ids)
        if len(p) == 0:
            return []
        p = apply_class_bias(p, self.cfg.class_bias)
        frame0 = self._n
        self._ts.append(ts)
        self._n += len(p)
        runs = off is None or not self.cfg.use_offsets
        for c in range(len(self.class_ids)):
            if runs:
                # a run of frames above threshold may continue in the next push: hold it back
                f0, tail = self._open_run[c]
                pc = np.concatenate([tail, p[:, c]]) if len(tail) else p[:, c]
                f0 = f0 if len(tail) else frame0
                s, e, sc = candidates(pc, None, self.cfg, self.max_frames, f0)
                if len(s) and e[-1] == f0 + len(pc):
                    self._open_run[c] = (int(s[-1]), pc[int(s[-1]) - f0:].copy())
                    s, e, sc = s[:-1], e[:-1], sc[:-1]
                else:
                    self._open_run[c] = (0, np.zeros(0, np.float32))
            else:
                s, e, sc = candidates(p[:, c], off[:, c], self.cfg, self.max_frames, frame0)
            self._add(c, s, e, sc)
        # a future candidate (frame >= n) starts at or after n - max_frames
        return self._flush(horizon=self._n - self.max_frames, final=False)

    def _add(self, c: int, s: np.ndarray, e: np.ndarray, sc: np.ndarray) -> None:
        ps, pe, psc = self._pending[c]
        self._pending[c] = (np.concatenate([ps, s]), np.concatenate([pe, e]),
                            np.concatenate([psc, sc]))

    def finish(self) -> list[Event]:
        """Decode everything still pending (the end of the sequence is known now)."""
        for c, (f0, tail) in enumerate(self._open_run):
            if len(tail):
                s, e, sc = candidates(tail, None, self.cfg, self.max_frames, f0)
                self._add(c, s, e, sc)
        self._open_run = [(0, np.zeros(0, np.float32)) for _ in self.class_ids]
        return self._flush(horizon=np.inf, final=True)

    def _flush(self, horizon: float, final: bool) -> list[Event]:
        if self._n == 0:
            return []
        ts = self._timestamps()
        out: list[Event] = []
        for c, cid in enumerate(self.class_ids):
            s, e, sc = self._pending[c]
            if not len(s):
                continue
            groups = clusters(s, e)
            done = [g for g in groups if final or e[g].max() <= horizon]
            if not done:
                continue
            done_idx = np.concatenate(done)
            for g in done:
                # the same clip + min-duration filter as decode(), per closed cluster
                gs, ge, gsc = _prefilter(s[g], e[g], sc[g], self._n if final else None, ts,
                                         self.fps, self.cfg)
                for members in clusters(gs, ge):
                    out += _to_events(_cluster_events(gs, ge, gsc, members, self.cfg), ts,
                                      self.fps, cid, self.video_id, self.track_id, self.model)
            left = np.ones(len(s), dtype=bool)
            left[done_idx] = False
            self._pending[c] = (s[left], e[left], sc[left])
        return sort_events(out)


# --- targets (training) ------------------------------------------------------------------------

def encode(events: Iterable[Event], timestamps: np.ndarray, class_ids: Sequence[int],
           fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Events of one person → dense targets, the inverse of :func:`decode`.

    Returns ``labels`` float32 ``(T, C)`` (1 where the frame's timestamp lies in an event of
    that class) and ``offsets`` float32 ``(T, C, 2)``: frame ``t`` in event ``[a, b)`` (a, b
    as fractional frame positions of its start/end times) gets ``(t - a, b - t)``. Where
    events of one class overlap, a frame takes the shortest event. Events of classes not in
    ``class_ids`` are ignored.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    n = len(ts)
    col = {int(c): i for i, c in enumerate(class_ids)}
    labels = np.zeros((n, len(col)), dtype=np.float32)
    offsets = np.zeros((n, len(col), 2), dtype=np.float32)
    best = np.full((n, len(col)), np.inf)
    frames = np.arange(n, dtype=np.float64)
    for ev in events:
        c = col.get(ev.class_id)
        if c is None or n == 0:
            continue
        lo = int(np.searchsorted(ts, ev.start, side="left"))
        hi = int(np.searchsorted(ts, ev.end, side="left"))
        if hi <= lo:
            continue
        a, b = seconds_to_frames(np.array([ev.start, ev.end]), ts, fps)
        sel = slice(lo, hi)
        shorter = (b - a) < best[sel, c]
        t = frames[sel][shorter]
        rows = np.arange(lo, hi)[shorter]
        labels[rows, c] = 1.0
        offsets[rows, c, 0] = t - a
        offsets[rows, c, 1] = b - t
        best[rows, c] = b - a
    return labels, offsets
