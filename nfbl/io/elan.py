"""ELAN ``.eaf`` event files (pympi-ling): read any tier whose values name NFBL classes (or
mapped by the user), write overlapping events on separate tiers. Listed in
:data:`nfbl.io.event_formats.EVENT_FORMATS`."""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from nfbl.core.atomic import atomic_path
from nfbl.core.errors import InputFormatError, MissingDependencyError
from nfbl.core.events import EventStream
from nfbl.io.event_common import ReadOptions
from nfbl.io.tiers import Tier, events_from_tiers, lanes, track_tier_name, value_of

log = logging.getLogger(__name__)

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
    tiers: list[Tier] = []
    unaligned = 0
    for tier in eaf.get_tier_names():
        try:
            anns = list(eaf.get_annotation_data_for_tier(tier))
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # a broken reference tier
            log.warning("%s: tier %r cannot be read (%s: %s); skipped", path, tier,
                        exc.__class__.__name__, exc)
            continue
        timed = [a for a in anns if isinstance(a[0], (int, float)) and isinstance(a[1], (int, float))]
        unaligned += len(anns) - len(timed)
        tiers.append((tier, [(a[0] / 1000.0, a[1] / 1000.0, str(a[2])) for a in timed]))
    events = events_from_tiers(path, vid, tiers, o)
    if unaligned:
        log.warning("%s: %d annotation(s) on unaligned time slots (no time) skipped", path,
                    unaligned)
    return EventStream(tuple(events)).sorted()


def write_eaf(stream: EventStream, path: Path, fps: float) -> None:
    pympi = _pympi()
    eaf = pympi.Elan.Eaf(author="nfbl")
    eaf.remove_tier("default")
    if stream.video_ids:
        eaf.add_property(_EAF_VIDEO_PROP, stream.video_ids[0])
    for track in sorted({e.track_id for e in stream}):
        ms = []
        for e in stream:
            if e.track_id == track:
                s_ms = int(round(e.start * 1000))
                ms.append((s_ms, max(int(round(e.end * 1000)), s_ms + 1), e))
        for k, lane in enumerate(lanes(ms)):
            tier = track_tier_name(track, k)
            eaf.add_tier(tier)
            for s_ms, e_ms, e in lane:
                eaf.add_annotation(tier, s_ms, e_ms, value_of(e))
    with atomic_path(path, suffix=".eaf", exists=False) as tmp:
        pympi.Elan.to_eaf(str(tmp), eaf)  # tmp does not exist yet, so pympi makes no *.bak
