"""Event timelines calibrated to the iMiGUE event statistics (``imigue_event_stats.json``).

Class shares (optionally flattened towards uniform), per-class duration quantiles (sampled
from a piecewise-linear inverse CDF through p5..p95), gaps between events, about one in
four events starting before the previous one ends (only when the two gestures use
disjoint body resources), events per minute and video lengths.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Sequence

import numpy as np

from nfbl.core.errors import NfblError
from nfbl.synth.gestures import GESTURES

STATS_FILE = "imigue_event_stats.json"


@lru_cache(maxsize=1)
def load_stats() -> dict:
    """The calibration statistics shipped with the package (derived from the iMiGUE labels)."""
    text = resources.files("nfbl.synth").joinpath(STATS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def inverse_cdf(u: np.ndarray | float, knots: Sequence[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear inverse CDF through ``(probability, value)`` knots."""
    p, v = zip(*knots)
    return np.interp(u, p, v)


def duration_knots(cid: int, stats: dict | None = None) -> list[tuple[float, float]]:
    """(probability, duration in frames at the stats' fps) knots of class ``cid``.

    Knots: p5..p95 from the file; the tails extend linearly to p0 = 0.6*p5 (at least 4
    frames) and p100 = 1.5*p95.
    """
    stats = stats or load_stats()
    row = {c["id"]: c for c in stats["classes"]}.get(cid)
    if row is None:  # N34 (EALD) has no iMiGUE statistics: borrow "touching facial parts"
        row = {c["id"]: c for c in stats["classes"]}[7]
    q = row["duration_frames"]
    return [(0.0, max(4.0, 0.6 * q["p5"])), (0.05, q["p5"]), (0.25, q["p25"]), (0.5, q["p50"]),
            (0.75, q["p75"]), (0.95, q["p95"]), (1.0, 1.5 * q["p95"])]


def gap_knots(stats: dict | None = None) -> list[tuple[float, float]]:
    g = (stats or load_stats())["gap_frames_between_events"]
    return [(0.0, 0.0), (0.25, g["p25"]), (0.5, g["p50"]), (0.75, g["p75"]), (0.95, g["p95"]),
            (1.0, 1.6 * g["p95"])]


def rate_knots(stats: dict | None = None) -> list[tuple[float, float]]:
    r = (stats or load_stats())["events_per_minute"]
    return [(0.0, max(1.0, 2 * r["p25"] - r["p50"])), (0.25, r["p25"]), (0.5, r["p50"]),
            (0.75, r["p75"]), (1.0, r["p75"] + 1.5 * (r["p75"] - r["p50"]))]


def video_seconds_knots(stats: dict | None = None) -> list[tuple[float, float]]:
    d = (stats or load_stats())["video_duration_s"]
    return [(0.0, d["min"]), (0.25, d["p25"]), (0.5, d["p50"]), (0.75, d["p75"]), (1.0, d["max"])]


#: Share of a skeleton-visible class in iMiGUE (N34 has none: it gets the share of N8).
def imigue_share(cid: int, stats: dict | None = None) -> float:
    rows = {c["id"]: c for c in (stats or load_stats())["classes"]}
    return float(rows[cid]["share"] if cid in rows else rows[8]["share"])


def class_probabilities(classes: Iterable[int], flatten_tail: float,
                        stats: dict | None = None) -> dict[int, float]:
    """Sampling probability of each generated class: ``(1-f) * share + f * uniform``.

    Shares are the iMiGUE shares renormalised over ``classes``; ``f`` = ``flatten_tail``.
    """
    classes = sorted(set(classes))
    if not classes:
        raise NfblError("no classes to generate; pass at least one skeleton-visible class")
    unknown = [c for c in classes if c not in GESTURES]
    if unknown:
        raise NfblError(f"nfbl synth cannot generate classes {unknown}: only skeleton-visible "
                        f"classes have gesture programs ({sorted(GESTURES)})")
    if not 0.0 <= flatten_tail <= 1.0:
        raise NfblError(f"flatten_tail must be in [0, 1], got {flatten_tail}")
    share = np.array([imigue_share(c, stats) for c in classes])
    share = share / share.sum()
    p = (1 - flatten_tail) * share + flatten_tail / len(classes)
    return dict(zip(classes, p / p.sum()))


@dataclass(frozen=True)
class PlannedEvent:
    """An event of the timeline: frames ``[start, end)``; ``side``: "left", "right",
    "both" or "" (no arm); ``resources``: body resources it occupies."""

    class_id: int
    start: int
    end: int
    side: str
    resources: frozenset


def _resources(cid: int, side: str) -> frozenset:
    spec = GESTURES[cid]
    res = set(spec.extra)
    if side in ("left", "both"):
        res.add("L")
    if side in ("right", "both"):
        res.add("R")
    return frozenset(res)


def _choose_side(rng: np.random.Generator, cid: int, dominant: str, free: set[str] | None) -> str:
    spec = GESTURES[cid]
    if spec.arms == "none":
        return ""
    if spec.arms == "both" or (spec.arms == "either" and rng.random() < spec.both_share):
        return "both"
    other = "left" if dominant == "right" else "right"
    side = dominant if rng.random() < 0.7 else other
    if free is not None:
        if side.upper()[0] not in free and other.upper()[0] in free:
            side = other if side == dominant else dominant
    return side


def sample_timeline(rng: np.random.Generator, n_frames: int, fps: float, probs: dict[int, float],
                    overlap_share: float | None = None, rate_scale: float = 1.0,
                    stats: dict | None = None) -> list[PlannedEvent]:
    """Plan the events of one video of ``n_frames`` frames.

    The per-video event rate is drawn from the iMiGUE events-per-minute quantiles (times
    ``rate_scale``); gaps come from the gap quantiles, stretched or shrunk per video so that
    the rate is met on average. An event starts inside the previous one with a probability
    steered towards ``overlap_share`` (default: the file's 0.252) when the two are compatible.
    """
    stats = stats or load_stats()
    target_ov = stats["consecutive_pairs_overlapping_share"] if overlap_share is None else overlap_share
    scale = fps / float(stats["fps"])
    classes = np.array(sorted(probs))
    p = np.array([probs[c] for c in classes])
    rate = float(inverse_cdf(rng.random(), rate_knots(stats))) * rate_scale  # events / minute
    # expected frames per event without overlap: mean duration + mean gap (at the stats fps)
    u = np.linspace(0.0005, 0.9995, 1000)
    mean_gap = float(inverse_cdf(u, gap_knots(stats)).mean())
    mean_dur = float(sum(probs[c] * inverse_cdf(u, duration_knots(int(c), stats)).mean() for c in classes))
    cycle_target = 60.0 * stats["fps"] / max(rate, 0.1)  # frames between event starts
    # with an overlap share q, the mean start-to-start spacing is about (1-q)(dur+gap) + q*dur/2
    k = (cycle_target - (1 - target_ov) * mean_dur - target_ov * mean_dur / 2) / ((1 - target_ov) * mean_gap)
    k = float(np.clip(1.15 * k, 0.15, 6.0))  # 1.15: measured correction of the spacing model
    dominant = "right" if rng.random() < 0.85 else "left"
    events: list[PlannedEvent] = []
    n_pairs = n_ov = 0
    cursor = int(inverse_cdf(rng.random(), gap_knots(stats)) * k * scale * rng.random())
    while True:
        cid = int(rng.choice(classes, p=p))
        dur = max(4, int(round(float(inverse_cdf(rng.random(), duration_knots(cid, stats))) * scale)))
        prev = events[-1] if events else None
        start = None
        side = ""
        if prev is not None:
            share = n_ov / n_pairs if n_pairs else target_ov
            p_try = float(np.clip(1.4 * target_ov + 8.0 * (target_ov - share), 0.0, 0.95))
            if rng.random() < p_try and prev.end - prev.start >= 3:
                s0 = prev.start + int(rng.uniform(0.1, 0.9) * (prev.end - prev.start))
                s0 = min(max(s0, prev.start + 1), prev.end - 1)
                active = [ev for ev in events if ev.start < s0 + dur and ev.end > s0]
                busy = set().union(*(ev.resources for ev in active)) if active else set()
                free = {"L", "R"} - busy
                sd = _choose_side(rng, cid, dominant, free)
                if not (_resources(cid, sd) & busy):
                    start, side = s0, sd
        if start is None:
            side = _choose_side(rng, cid, dominant, None)
            base = max(ev.end for ev in events) if events else cursor
            gap = float(inverse_cdf(rng.random(), gap_knots(stats))) * k * scale
            start = base + int(round(gap)) + (1 if events else 0)
        end = start + dur
        if end > n_frames:
            break
        if prev is not None:
            n_pairs += 1
            n_ov += int(start < prev.end)
        events.append(PlannedEvent(cid, start, end, side, _resources(cid, side)))
    return events


def overlap_share(events: Sequence[PlannedEvent] | Sequence[tuple[float, float]]) -> float:
    """Share of consecutive pairs (sorted by start) where the next starts before the previous ends."""
    spans = sorted((e.start, e.end) if isinstance(e, PlannedEvent) else (e[0], e[1]) for e in events)
    if len(spans) < 2:
        return 0.0
    return float(np.mean([b[0] < a[1] for a, b in zip(spans, spans[1:])]))


def corpus_statistics(streams: Iterable, fps: float = 25.0, minutes: Sequence[float] | None = None) -> dict:
    """Statistics of event streams (one per video) in the calibration file's terms.

    Returns class shares, per-class median durations (frames at ``fps``), the share of
    consecutive pairs overlapping, gap quantiles (frames) and the median events per minute
    (``minutes``: each video's length; needed for the rate).
    """
    streams = [list(s) for s in streams]
    events = [e for s in streams for e in s]
    n = max(len(events), 1)
    counts: dict[int, int] = {}
    durs: dict[int, list[float]] = {}
    for e in events:
        counts[e.class_id] = counts.get(e.class_id, 0) + 1
        durs.setdefault(e.class_id, []).append((e.end - e.start) * fps)
    ovs, gaps = [], []
    for s in streams:
        spans = sorted((e.start, e.end) for e in s)
        for a, b in zip(spans, spans[1:]):
            ovs.append(b[0] < a[1])
            if b[0] >= a[1]:
                gaps.append((b[0] - a[1]) * fps)
    out = {"events": len(events), "videos": len(streams),
           "class_share": {c: counts[c] / n for c in sorted(counts)},
           "median_duration_frames": {c: float(np.median(v)) for c, v in sorted(durs.items())},
           "overlap_share": float(np.mean(ovs)) if ovs else 0.0,
           "gap_frames": dict(zip(("p25", "p50", "p75", "p95"),
                                  np.percentile(gaps, [25, 50, 75, 95]).round(1).tolist())) if gaps else {}}
    if minutes is not None:
        rates = [len(s) / m for s, m in zip(streams, minutes)]
        out["events_per_minute"] = dict(zip(("p25", "p50", "p75"), np.percentile(rates, [25, 50, 75]).round(2).tolist()))
    return out
