"""ELAN ``.eaf`` event files (pympi-ling): read any tier whose values name NFBL classes (or
mapped by the user), write overlapping events on separate tiers. Listed in
:data:`nfbl.io.event_formats.EVENT_FORMATS`."""
from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from nfbl.core.atomic import atomic_path
from nfbl.core.errors import InputFormatError, MissingDependencyError
from nfbl.core.events import Event, EventStream
from nfbl.io.event_common import (ReadOptions,
                                  make_event, parse_float, resolve_label)

log = logging.getLogger(__name__)

_EAF_TIER = "NFBL track "
_EAF_TIER_RE = re.compile(r"^NFBL track (\d+)(?: \((\d+)\))?$")
_EAF_VIDEO_PROP = "nfbl_video_id"


def _pympi():
    try:
        import pympi  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("pympi-ling", "extras", "Reading/writing ELAN .eaf files") from None
    return pympi


def _open(path: Path):
    pympi = _pympi()
    try:
        return pympi.Elan.Eaf(str(path))
    except Exception as exc:  # pympi raises bare XML/parse errors
        raise InputFormatError(f"not a readable ELAN file ({exc.__class__.__name__}: {exc})", path) from None


def eaf_labels(path: Path, o: ReadOptions) -> Counter:
    """Annotation value → number of time-aligned annotations, over every tier."""
    eaf = _open(path)
    out: Counter = Counter()
    for tier in eaf.get_tier_names():
        try:
            anns = list(eaf.get_annotation_data_for_tier(tier))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        out.update(str(a[2]) for a in anns if isinstance(a[0], (int, float)))
    return out


def read_eaf(path: Path, o: ReadOptions) -> EventStream:
    eaf = _open(path)
    vid = o.video_id
    if vid is None:
        props = list(getattr(eaf, "properties", []) or [])
        vid = next((v for k, v in props if k == _EAF_VIDEO_PROP), None) or path.stem
    events, unread = [], {}
    total = unaligned = 0
    user_values = {str(k).strip().lower() for k in o.label_map}  # values the user mapped
    for tier in eaf.get_tier_names():
        try:
            anns = list(eaf.get_annotation_data_for_tier(tier))
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # a broken reference tier
            log.warning("%s: tier %r cannot be read (%s: %s); skipped", path, tier,
                        exc.__class__.__name__, exc)
            continue
        timed = [a for a in anns if isinstance(a[0], (int, float)) and isinstance(a[1], (int, float))]
        unaligned += len(anns) - len(timed)
        anns = timed
        total += len(anns)
        m = _EAF_TIER_RE.match(tier)
        track = int(m.group(1)) if m else 0
        if tier in o.tier_map:
            if o.tier_map[tier] is None:
                continue
        bad = 0
        for ann in anns:
            start_ms, end_ms, value = ann[0], ann[1], str(ann[2])
            if tier in o.tier_map:
                cid = o.tier_map[tier]
            else:
                known, cid = resolve_label(value, o.label_map)
                if not known:
                    if m:
                        raise InputFormatError(f"tier {tier!r}: {value!r} names no NFBL class",
                                               path)
                    bad += 1
                    continue
                if cid is None:
                    continue
            score = 1.0
            mapped = tier in o.tier_map or value.strip().lower() in user_values
            if "|" in value and not mapped:
                # nfbl's own "N16 Folding arms|0.83"; a user-mapped value may hold a "|"
                score = parse_float(value.rsplit("|", 1)[1], "score", path, None)
            events.append(make_event(path, None, video_id=vid, class_id=cid, start=start_ms / 1000.0,
                                 end=end_ms / 1000.0, score=score, track_id=track))
        if bad:
            unread[tier] = (bad, len(anns))
    if total and not events:
        shown = ", ".join(f"{t!r} ({n})" for t, (n, _) in list(unread.items())[:4])
        raise InputFormatError(f"none of the {total} annotations names an NFBL class (tiers: "
                               f"{shown}); map values with --label-map or tiers with "
                               "--tier-map", path)
    for tier, (bad, n) in unread.items():
        log.warning("%s: tier %r: %d of %d annotation(s) name no NFBL class; skipped", path,
                    tier, bad, n)
    if unaligned:
        log.warning("%s: %d annotation(s) on unaligned time slots (no time) skipped", path,
                    unaligned)
    return EventStream(tuple(events)).sorted()


def _lanes(events: list[Event]) -> list[list[tuple[int, int, Event]]]:
    """Split events (ms times) into lanes without overlap (ELAN forbids overlaps in a tier)."""
    lanes: list[list[tuple[int, int, Event]]] = []
    for e in sorted(events, key=lambda e: (e.start, e.end)):
        s_ms, e_ms = int(round(e.start * 1000)), int(round(e.end * 1000))
        e_ms = max(e_ms, s_ms + 1)
        for lane in lanes:
            if lane[-1][1] <= s_ms:
                lane.append((s_ms, e_ms, e))
                break
        else:
            lanes.append([(s_ms, e_ms, e)])
    return lanes


def write_eaf(stream: EventStream, path: Path, fps: float) -> None:
    pympi = _pympi()
    eaf = pympi.Elan.Eaf(author="nfbl")
    eaf.remove_tier("default")
    if stream.video_ids:
        eaf.add_property(_EAF_VIDEO_PROP, stream.video_ids[0])
    for track in sorted({e.track_id for e in stream}):
        lanes = _lanes([e for e in stream if e.track_id == track])
        for k, lane in enumerate(lanes):
            tier = f"{_EAF_TIER}{track}" + (f" ({k + 1})" if k else "")
            eaf.add_tier(tier)
            for s_ms, e_ms, e in lane:
                eaf.add_annotation(tier, s_ms, e_ms, f"{e.code} {e.label}|{e.score:.4f}")
    with atomic_path(path, suffix=".eaf", exists=False) as tmp:
        pympi.Elan.to_eaf(str(tmp), eaf)  # tmp does not exist yet, so pympi makes no *.bak
