"""Per-video and per-person statistics of an NFBL event stream, and a fixed-length feature vector.

All times are seconds. ``duration_s`` is the video's length; when the caller does not know it,
:func:`resolve_duration` falls back to the end of the last event (and says so via
``duration_source``); the prompt then says that the length is a lower bound.

Definitions (documented in docs/prompts.md):

* rate per minute = count / (duration_s / 60).
* thirds: an event belongs to the third of the video in which it *starts* (events starting at
  or after ``duration_s`` count in the last third).
* co-occurrence: two events of *different* classes of the same person whose half-open
  intervals intersect (overlap > 0); counted per unordered class pair, with the summed overlap.
* burst: a dense run of one person's events. Every event ``i`` with at least
  ``burst_min_events`` starts (its own included) in ``[s_i, s_i + burst_window_s)`` opens the
  index range of those events; ranges sharing an event merge into one burst.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from nfbl.core import taxonomy
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import Event, EventStream

#: How the duration of a video was obtained.
DURATION_GIVEN = "given"
DURATION_META = "meta"
DURATION_LAST_EVENT = "last_event_end"
DURATION_UNKNOWN = "unknown"


@dataclass(frozen=True)
class AggregateConfig:
    """Parameters of the statistics (seconds, counts)."""

    burst_window_s: float = 10.0
    burst_min_events: int = 4

    def __post_init__(self) -> None:
        if not self.burst_window_s > 0:
            raise NfblError(f"burst window must be > 0 s, got {self.burst_window_s}")
        if self.burst_min_events < 2:
            raise NfblError(f"a burst needs at least 2 events, got {self.burst_min_events}")


@dataclass(frozen=True)
class ClassStats:
    """Statistics of one NFBL class (or one body region when ``key`` is a region name)."""

    key: str  # "N16" or a region name ("arms")
    name: str
    count: int
    rate_per_min: float
    total_s: float
    mean_s: float
    mean_score: float
    thirds: tuple[int, int, int]


@dataclass(frozen=True)
class CoOccurrence:
    """Two classes whose events overlap in time (same person)."""

    class_a: int
    class_b: int
    count: int  # number of overlapping event pairs
    overlap_s: float  # summed overlap


@dataclass(frozen=True)
class Burst:
    """A dense run of events of one person."""

    start: float
    end: float
    count: int
    classes: tuple[int, ...]  # distinct class ids, most frequent first


@dataclass(frozen=True)
class Summary:
    """Statistics of one video, for all persons (``track_id is None``) or for one person."""

    video_id: str
    track_id: int | None
    duration_s: float | None
    duration_source: str
    count: int
    rate_per_min: float
    total_s: float
    coverage_s: float  # length of the union of all event intervals (clipped to the duration)
    mean_s: float
    mean_score: float
    thirds: tuple[int, int, int]
    classes: tuple[ClassStats, ...]  # observed classes only, by descending count then id
    regions: tuple[ClassStats, ...]  # observed regions only, by descending count
    cooccurrences: tuple[CoOccurrence, ...]  # by descending count
    bursts: tuple[Burst, ...]  # in time order
    track_ids: tuple[int, ...] = ()
    persons: tuple["Summary", ...] = field(default=())  # per-person summaries (video level only)

    @property
    def empty(self) -> bool:
        return self.count == 0


def resolve_duration(stream: EventStream, video_id: str, duration_s: float | None = None,
                     durations: Mapping[str, float] | None = None) -> tuple[float | None, str]:
    """Find the length (s) of ``video_id``: explicit value, ``durations`` table, stream meta
    (``meta["videos"][id]["duration"]``, ``meta["durations"][id]``, or ``meta["duration"]`` for
    a one-video stream),
    else the last event end. Returns ``(duration or None, source)``."""
    if duration_s is not None:
        return _check_duration(duration_s, video_id), DURATION_GIVEN
    if durations and video_id in durations:
        return _check_duration(durations[video_id], video_id), DURATION_GIVEN
    meta = stream.meta or {}
    vmeta = (meta.get("videos") or {}).get(video_id) or {}
    for key in ("duration", "duration_s"):
        if isinstance(vmeta, Mapping) and vmeta.get(key) is not None:
            return _check_duration(vmeta[key], video_id), DURATION_META
    table = meta.get("durations") or {}
    if isinstance(table, Mapping) and table.get(video_id) is not None:
        return _check_duration(table[video_id], video_id), DURATION_META
    vids = stream.video_ids
    if meta.get("duration") is not None and (len(vids) <= 1):
        return _check_duration(meta["duration"], video_id), DURATION_META
    ends = [e.end for e in stream.events if e.video_id == video_id]
    if ends:
        return max(ends), DURATION_LAST_EVENT
    return None, DURATION_UNKNOWN


def _check_duration(value: object, video_id: str) -> float:
    try:
        d = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise NfblError(f"video {video_id!r}: duration {value!r} is not a number") from None
    if not math.isfinite(d) or d <= 0:
        raise NfblError(f"video {video_id!r}: duration must be a positive number of seconds, "
                        f"got {value!r}")
    return d


def _thirds(starts: np.ndarray, duration: float | None) -> tuple[int, int, int]:
    if duration is None or len(starts) == 0:
        return (0, 0, 0)
    idx = np.clip(np.floor(starts / (duration / 3.0)).astype(np.int64), 0, 2)
    c = np.bincount(idx, minlength=3)
    return (int(c[0]), int(c[1]), int(c[2]))


def union_length(events: Sequence[Event], duration: float | None = None) -> float:
    """Seconds covered by at least one of ``events`` (overlaps counted once; cut at ``duration``)."""
    spans = sorted((e.start, e.end if duration is None else min(e.end, duration))
                   for e in events)
    total, cur_s, cur_e = 0.0, None, None
    for s, e in spans:
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def _rate(count: int, duration: float | None) -> float:
    return count / (duration / 60.0) if duration else 0.0


def _group_stats(key: str, name: str, events: Sequence[Event], duration: float | None) -> ClassStats:
    d = np.array([e.duration for e in events], np.float64)
    s = np.array([e.score for e in events], np.float64)
    starts = np.array([e.start for e in events], np.float64)
    return ClassStats(key=key, name=name, count=len(events), rate_per_min=_rate(len(events), duration),
                      total_s=float(d.sum()), mean_s=float(d.mean()) if len(d) else 0.0,
                      mean_score=float(s.mean()) if len(s) else 0.0,
                      thirds=_thirds(starts, duration))


def cooccurrences(events: Sequence[Event]) -> tuple[CoOccurrence, ...]:
    """Overlapping event pairs of different classes of the same person, per class pair."""
    acc: dict[tuple[int, int], list[float]] = {}
    by_track: dict[int, list[Event]] = {}
    for e in events:
        by_track.setdefault(e.track_id, []).append(e)
    for evs in by_track.values():
        evs = sorted(evs, key=lambda e: (e.start, e.end, e.class_id))
        active: list[Event] = []
        for e in evs:
            active = [a for a in active if a.end > e.start]
            for a in active:
                if a.class_id == e.class_id:
                    continue
                ov = min(a.end, e.end) - e.start
                if ov > 0:
                    k = (min(a.class_id, e.class_id), max(a.class_id, e.class_id))
                    slot = acc.setdefault(k, [0, 0.0])
                    slot[0] += 1
                    slot[1] += ov
            active.append(e)
    out = [CoOccurrence(a, b, int(v[0]), float(v[1])) for (a, b), v in acc.items()]
    out.sort(key=lambda c: (-c.count, -c.overlap_s, c.class_a, c.class_b))
    return tuple(out)


def bursts(events: Sequence[Event], window_s: float = 10.0, min_events: int = 4) -> tuple[Burst, ...]:
    """Dense runs: ≥ ``min_events`` event starts of one person within ``window_s`` seconds."""
    out: list[Burst] = []
    by_track: dict[int, list[Event]] = {}
    for e in events:
        by_track.setdefault(e.track_id, []).append(e)
    for evs in by_track.values():
        evs = sorted(evs, key=lambda e: (e.start, e.end, e.class_id))
        starts = np.array([e.start for e in evs], np.float64)
        if len(starts) < min_events:
            continue
        hi = np.searchsorted(starts, starts + window_s, side="left")  # exclusive end index
        ranges = [(i, int(hi[i])) for i in range(len(starts)) if hi[i] - i >= min_events]
        merged: list[list[int]] = []
        for a, b in ranges:
            if merged and a < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            group = evs[a:b]
            counts: dict[int, int] = {}
            for e in group:
                counts[e.class_id] = counts.get(e.class_id, 0) + 1
            cls = tuple(sorted(counts, key=lambda c: (-counts[c], c)))
            out.append(Burst(start=group[0].start, end=max(e.end for e in group),
                             count=len(group), classes=cls))
    out.sort(key=lambda b: (b.start, b.end))
    return tuple(out)


def _summarise(video_id: str, track_id: int | None, events: Sequence[Event], duration: float | None,
               source: str, cfg: AggregateConfig) -> Summary:
    by_class: dict[int, list[Event]] = {}
    by_region: dict[str, list[Event]] = {}
    for e in events:
        by_class.setdefault(e.class_id, []).append(e)
        by_region.setdefault(taxonomy.get(e.class_id).region.value, []).append(e)
    classes = [_group_stats(f"N{c}", taxonomy.get(c).name, evs, duration) for c, evs in by_class.items()]
    classes.sort(key=lambda s: (-s.count, int(s.key[1:])))
    region_order = [r.value for r in taxonomy.Region]
    regions = [_group_stats(r, r, by_region[r], duration) for r in region_order if r in by_region]
    regions.sort(key=lambda s: (-s.count, region_order.index(s.key)))
    allstats = _group_stats("all", "all", events, duration)
    return Summary(
        video_id=video_id, track_id=track_id, duration_s=duration, duration_source=source,
        count=allstats.count, rate_per_min=allstats.rate_per_min, total_s=allstats.total_s,
        coverage_s=union_length(events, duration), mean_s=allstats.mean_s,
        mean_score=allstats.mean_score, thirds=allstats.thirds, classes=tuple(classes),
        regions=tuple(regions), cooccurrences=cooccurrences(events),
        bursts=bursts(events, cfg.burst_window_s, cfg.burst_min_events),
        track_ids=tuple(sorted({e.track_id for e in events})))


def summarise_video(stream: EventStream, video_id: str, duration_s: float | None = None,
                    durations: Mapping[str, float] | None = None,
                    config: AggregateConfig = AggregateConfig()) -> Summary:
    """Statistics of one video (all persons pooled) with per-person summaries in ``persons``."""
    events = [e for e in stream.events if e.video_id == video_id]
    duration, source = resolve_duration(stream, video_id, duration_s, durations)
    video = _summarise(video_id, None, events, duration, source, config)
    tracks = sorted({e.track_id for e in events})
    persons = tuple(_summarise(video_id, t, [e for e in events if e.track_id == t], duration,
                               source, config) for t in tracks)
    return Summary(**{**video.__dict__, "persons": persons})


def summarise(stream: EventStream, duration_s: float | None = None,
              durations: Mapping[str, float] | None = None,
              config: AggregateConfig = AggregateConfig(),
              video_ids: Iterable[str] | None = None) -> list[Summary]:
    """One :class:`Summary` per video of the stream (in the stream's order of appearance).

    ``duration_s`` applies only when the stream holds a single video.
    """
    vids = list(video_ids) if video_ids is not None else list(stream.video_ids)
    if duration_s is not None and len(vids) > 1:
        raise NfblError(f"one --duration given but the events hold {len(vids)} videos; "
                        "give a durations table (video,duration_s) instead")
    return [summarise_video(stream, v, duration_s, durations, config) for v in vids]


# --- feature vector -----------------------------------------------------------------------

_BASE_FEATURES = ("duration_s", "events_per_min", "coverage_share", "mean_event_s",
                  "mean_score", "n_persons")
_TAIL_FEATURES = ("third1_share", "third2_share", "third3_share", "cooccurrence_pairs_per_min",
                  "bursts_per_min", "burst_event_share")


def _feature_names() -> tuple[str, ...]:
    names = list(_BASE_FEATURES)
    for c in taxonomy.ALL_IDS:
        names += [f"N{c}_per_min", f"N{c}_time_share"]
    for r in taxonomy.Region:
        names += [f"{r.value}_per_min", f"{r.value}_time_share"]
    names += list(_TAIL_FEATURES)
    return tuple(names)


#: Column names of :func:`feature_vector`, in order (stable across releases of one
#: ``FEATURES_VERSION``; new columns only ever get a new version).
FEATURE_NAMES: tuple[str, ...] = _feature_names()
FEATURES_VERSION = 1


def feature_vector(summary: Summary) -> np.ndarray:
    """Fixed-length float64 vector ``(len(FEATURE_NAMES),)`` of one video (all persons pooled).

    Rates are per minute of video; ``*_time_share`` = summed event duration / video duration
    (can exceed 1 with overlaps); thirds are shares of events. A video of unknown duration
    (no events, no duration) gives zeros for every rate/share.
    """
    d = summary.duration_s
    v = dict.fromkeys(FEATURE_NAMES, 0.0)
    v["duration_s"] = d or 0.0
    v["events_per_min"] = summary.rate_per_min
    v["coverage_share"] = summary.coverage_s / d if d else 0.0
    v["mean_event_s"] = summary.mean_s
    v["mean_score"] = summary.mean_score
    v["n_persons"] = float(len(summary.track_ids))
    for s in summary.classes:
        v[f"{s.key}_per_min"] = s.rate_per_min
        v[f"{s.key}_time_share"] = s.total_s / d if d else 0.0
    for s in summary.regions:
        v[f"{s.key}_per_min"] = s.rate_per_min
        v[f"{s.key}_time_share"] = s.total_s / d if d else 0.0
    n = summary.count
    for i in range(3):
        v[f"third{i + 1}_share"] = summary.thirds[i] / n if n else 0.0
    pairs = sum(c.count for c in summary.cooccurrences)
    v["cooccurrence_pairs_per_min"] = _rate(pairs, d)
    v["bursts_per_min"] = _rate(len(summary.bursts), d)
    v["burst_event_share"] = sum(b.count for b in summary.bursts) / n if n else 0.0
    return np.array([v[k] for k in FEATURE_NAMES], dtype=np.float64)


def feature_matrix(summaries: Sequence[Summary]) -> np.ndarray:
    """Stack :func:`feature_vector` rows: ``(n_videos, len(FEATURE_NAMES))`` float64."""
    if not summaries:
        return np.zeros((0, len(FEATURE_NAMES)), np.float64)
    return np.stack([feature_vector(s) for s in summaries])


def read_durations(path: str | Path) -> dict[str, float]:
    """A CSV with header ``video,duration`` (also ``video_id``/``duration_s``) → seconds."""
    import csv

    path = Path(path)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    vcol = next((c for c in ("video", "video_id") if c in header), None)
    dcol = next((c for c in ("duration", "duration_s") if c in header), None)
    if vcol is None or dcol is None:
        raise InputFormatError("durations file needs a header 'video,duration' (seconds)", path, 1)
    vi, di = header.index(vcol), header.index(dcol)
    out: dict[str, float] = {}
    for n, row in enumerate(rows[1:], 2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputFormatError(f"expected {len(header)} columns, got {len(row)}", path, n)
        try:
            out[row[vi].strip()] = _check_duration(row[di].strip(), row[vi].strip())
        except NfblError as exc:
            raise InputFormatError(str(exc), path, n) from None
    return out
