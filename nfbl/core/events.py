"""NFBL events and event streams, and their per-frame (multi-hot) form.

Times are seconds, events are half-open ``[start, end)`` with ``end > start``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from nfbl.core import taxonomy
from nfbl.core.errors import NfblError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Event:
    """One NFBL event of one person in one video.

    ``start``/``end`` in seconds (half-open); ``score`` in [0, 1] (1.0 for ground truth).
    ``code`` and ``label`` are derived from ``class_id`` via the taxonomy.
    """

    video_id: str
    class_id: int
    start: float
    end: float
    score: float = 1.0
    track_id: int = 0
    model: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.video_id, str):
            raise NfblError(f"event video id must be a string, got {self.video_id!r}")
        taxonomy.get(self.class_id)  # raises on unknown ids
        for name in ("start", "end", "score"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
                raise NfblError(f"event {name} must be a finite number, got {value!r}")
        if not self.end > self.start:
            raise NfblError(f"event N{self.class_id} in {self.video_id!r} has end {self.end} "
                            f"<= start {self.start}; events need end > start")
        object.__setattr__(self, "class_id", int(self.class_id))
        object.__setattr__(self, "start", float(self.start))
        object.__setattr__(self, "end", float(self.end))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "track_id", int(self.track_id))

    @property
    def code(self) -> str:
        return f"N{self.class_id}"

    @property
    def label(self) -> str:
        return taxonomy.get(self.class_id).name

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, object]:
        return {"video_id": self.video_id, "track_id": self.track_id, "class_id": self.class_id,
                "code": self.code, "label": self.label, "start": round(self.start, 6),
                "end": round(self.end, 6), "score": round(self.score, 6), "model": self.model}

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        """Build from a dict; ``class_id`` may be given as ``code`` instead."""
        try:
            cid = d["class_id"] if "class_id" in d else taxonomy.lookup(d["code"]).id
            return cls(video_id=str(d["video_id"]), class_id=int(cid), start=d["start"],
                       end=d["end"], score=d.get("score", 1.0), track_id=d.get("track_id", 0),
                       model=str(d.get("model", "") or ""))
        except KeyError as exc:
            raise NfblError(f"event is missing the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise NfblError(f"event has a bad value: {exc}") from None


@dataclass(frozen=True)
class EventStream:
    """An ordered collection of events (any number of videos and persons).

    ``meta`` carries free-form provenance (producing model, its version, source file).
    """

    events: tuple[Event, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def sorted(self) -> "EventStream":
        """Events sorted by (video, track, start, end, class)."""
        key = lambda e: (e.video_id, e.track_id, e.start, e.end, e.class_id)  # noqa: E731
        return replace(self, events=tuple(sorted(self.events, key=key)))

    @property
    def video_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.video_id for e in self.events))

    def for_video(self, video_id: str, track_id: int | None = None) -> "EventStream":
        return replace(self, events=tuple(e for e in self.events if e.video_id == video_id and
                                          (track_id is None or e.track_id == track_id)))

    def filter(self, min_score: float = 0.0, classes: Iterable[int] | None = None) -> "EventStream":
        keep = None if classes is None else set(classes)
        return replace(self, events=tuple(e for e in self.events if e.score >= min_score and
                                          (keep is None or e.class_id in keep)))

    @classmethod
    def concat(cls, streams: Iterable["EventStream"]) -> "EventStream":
        """All events in order; the first stream's meta, with the per-video ``durations``
        tables (seconds by video id) of all streams joined."""
        streams = list(streams)
        meta = dict(streams[0].meta) if streams else {}
        tables = [s.meta.get("durations") for s in streams if isinstance(s.meta, Mapping)]
        if any(isinstance(t, Mapping) for t in tables):
            meta["durations"] = {k: v for t in tables if isinstance(t, Mapping) for k, v in t.items()}
        return cls(tuple(e for s in streams for e in s.events), meta)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Column arrays: ``video`` (object), ``class_id`` (int64), ``start``/``end``/``score``
        (float64 seconds), ``track_id`` (int64) — the form the benchmark works on."""
        n = len(self.events)
        return {
            "video": np.array([e.video_id for e in self.events], dtype=object),
            "class_id": np.fromiter((e.class_id for e in self.events), np.int64, n),
            "start": np.fromiter((e.start for e in self.events), np.float64, n),
            "end": np.fromiter((e.end for e in self.events), np.float64, n),
            "score": np.fromiter((e.score for e in self.events), np.float64, n),
            "track_id": np.fromiter((e.track_id for e in self.events), np.int64, n),
        }


# --- per-frame form -----------------------------------------------------------------------

def frame_times(num_frames: int, fps: float) -> np.ndarray:
    """Start time (s) of every frame of a constant-rate video."""
    return np.arange(num_frames, dtype=np.float64) / float(fps)


def to_multihot(events: Iterable[Event], num_frames: int, fps: float | None = None,
                timestamps: Sequence[float] | np.ndarray | None = None,
                num_classes: int = taxonomy.NUM_SLOTS) -> np.ndarray:
    """Per-frame multi-hot matrix ``(T, num_classes)`` uint8.

    A frame belongs to an event when the frame's timestamp lies in ``[start, end)``. Pass
    ``timestamps`` (seconds, one per frame) for variable-rate videos, otherwise ``fps``.
    """
    if timestamps is None:
        if not fps or fps <= 0:
            raise NfblError("to_multihot needs fps > 0 or per-frame timestamps")
        ts = frame_times(num_frames, fps)
    else:
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.shape != (num_frames,):
            raise NfblError(f"got {ts.shape[0]} timestamps for {num_frames} frames")
    out = np.zeros((num_frames, num_classes), dtype=np.uint8)
    for e in events:
        if e.class_id >= num_classes:
            raise NfblError(f"class N{e.class_id} does not fit a {num_classes}-class matrix")
        lo = np.searchsorted(ts, e.start, side="left")
        hi = np.searchsorted(ts, e.end, side="left")
        out[lo:hi, e.class_id] = 1
    return out


def from_multihot(matrix: np.ndarray, video_id: str, fps: float | None = None,
                  timestamps: Sequence[float] | np.ndarray | None = None,
                  scores: np.ndarray | None = None, track_id: int = 0,
                  model: str = "") -> EventStream:
    """Segments of consecutive active frames → events (inverse of :func:`to_multihot`).

    A run of frames ``[a, b)`` becomes ``[t[a], t[b])`` where ``t[T]`` extends the last frame
    by one frame period. ``scores`` (same shape, optional) gives each event its mean score.
    Columns of ids unknown to the taxonomy must be all zero.
    """
    m = np.asarray(matrix) > 0
    if m.ndim != 2:
        raise NfblError(f"multi-hot matrix must be 2-D (frames, classes), got shape {m.shape}")
    n = m.shape[0]
    if timestamps is None:
        if not fps or fps <= 0:
            raise NfblError("from_multihot needs fps > 0 or per-frame timestamps")
        ts = np.append(frame_times(n, fps), n / float(fps))
    else:
        ts = np.asarray(timestamps, dtype=np.float64)
        step = float(np.median(np.diff(ts))) if n > 1 else (1.0 / fps if fps else 0.04)
        ts = np.append(ts, ts[-1] + step if n else 0.0)
    events = []
    padded = np.zeros((n + 2, m.shape[1]), dtype=np.int8)
    padded[1:-1] = m
    diff = np.diff(padded, axis=0)
    for c in range(m.shape[1]):
        starts = np.flatnonzero(diff[:, c] == 1)
        if len(starts) and not taxonomy.is_known(c):
            raise NfblError(f"multi-hot column {c} is active but N{c} is not a known class")
        ends = np.flatnonzero(diff[:, c] == -1)
        for a, b in zip(starts, ends):
            s = 1.0 if scores is None else float(np.mean(scores[a:b, c]))
            events.append(Event(video_id, c, ts[a], ts[b], s, track_id, model))
    return EventStream(tuple(events)).sorted()
