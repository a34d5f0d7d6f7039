"""What the tier-based annotation formats share (ELAN ``.eaf``, Praat ``.TextGrid``): a
tier is a named list of time-aligned labels; a label names an NFBL class by itself (``N16``,
``folding arms``, nfbl's own ``N16 Folding arms|0.8300``), through the user's label map, or
by its tier (the tier map). Writing splits overlapping events into lanes, since neither
format allows overlaps within a tier."""
from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from nfbl.core.errors import InputFormatError
from nfbl.core.events import Event
from nfbl.io.event_common import ReadOptions, make_event, resolve_label

log = logging.getLogger(__name__)

#: nfbl's own tier names: ``NFBL track <id>``, lanes after the first ``NFBL track <id> (2)``.
TRACK_TIER = "NFBL track "
TRACK_TIER_RE = re.compile(r"^NFBL track (\d+)(?: \((\d+)\))?$")

#: One tier as read: its name and its labels ``(start_s, end_s, value)``.
Tier = tuple[str, Sequence[tuple[float, float, str]]]


def label_counts(tiers: Iterable[Tier]) -> Counter:
    """Label value → number of labels, over every tier."""
    out: Counter = Counter()
    for _, labels in tiers:
        out.update(str(v) for _, _, v in labels)
    return out


def events_from_tiers(path: Path, video_id: str, tiers: Iterable[Tier],
                      o: ReadOptions, tracks: Mapping[str, int] | None = None) -> list[Event]:
    """The NFBL events of ``tiers`` (seconds). A tier in ``o.tier_map`` gives every label its
    class (None: the tier is skipped); otherwise each label is resolved by
    :func:`resolve_label`. Labels that name nothing are skipped with one warning per tier,
    except on nfbl's own tiers (an error); labels present but none readable is one error
    naming the tiers and the two options (labels skipped on purpose, by a ``None`` in a
    map, are not that: they give an empty stream). A ``|`` followed by a number in [0, 1]
    ends nfbl's own labels with a score; any other ``|`` is part of the label. Track ids:
    nfbl's own tier names give theirs, ``tracks`` (tier → id, e.g. by ELAN participant) the
    others', else 0."""
    events: list[Event] = []
    unread: dict[str, tuple[int, int]] = {}
    user_values = {str(k).strip().lower() for k in o.label_map}  # values the user mapped
    for tier, labels in tiers:
        m = TRACK_TIER_RE.match(tier)
        track = int(m.group(1)) if m else (tracks or {}).get(tier, 0)
        if tier in o.tier_map and o.tier_map[tier] is None:
            continue
        bad = 0
        for start, end, value in labels:
            value = str(value)
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
                if cid is None:   # skipped on purpose
                    continue
            mapped = tier in o.tier_map or value.strip().lower() in user_values
            score = 1.0 if mapped else own_score(value)
            events.append(make_event(path, None, video_id=video_id, class_id=cid, start=start,
                                     end=end, score=score, track_id=track))
        if bad:
            unread[tier] = (bad, len(labels))
    if unread and not events:
        total = sum(n for n, _ in unread.values())
        shown = ", ".join(f"{t!r} ({n})" for t, (n, _) in list(unread.items())[:4])
        raise InputFormatError(f"none of the {total} annotations names an NFBL class (tiers: "
                               f"{shown}); map values with --label-map or tiers with "
                               "--tier-map", path)
    for tier, (bad, n) in unread.items():
        log.warning("%s: tier %r: %d of %d annotation(s) name no NFBL class; skipped", path,
                    tier, bad, n)
    return events


def own_score(value: str) -> float:
    """The score ending nfbl's own labels (``N16 Folding arms|0.8300``): a number in [0, 1]
    after the last ``|``; 1.0 when there is none (a coder's ``Folding arms | both``)."""
    if "|" not in value:
        return 1.0
    try:
        score = float(value.rsplit("|", 1)[1])
    except ValueError:
        return 1.0
    return score if 0.0 <= score <= 1.0 else 1.0


def lanes(items: Iterable[tuple[float, float, Event]]) -> list[list[tuple[float, float, Event]]]:
    """Split ``(start, end, event)`` items (any time unit) into lanes without overlap, in
    start order; touching items share a lane."""
    out: list[list[tuple[float, float, Event]]] = []
    for item in sorted(items, key=lambda it: (it[0], it[1])):
        for lane in out:
            if lane[-1][1] <= item[0]:
                lane.append(item)
                break
        else:
            out.append([item])
    return out


def track_tier_name(track: int, lane: int) -> str:
    """nfbl's name of lane ``lane`` (0-based) of ``track``."""
    return f"{TRACK_TIER}{track}" + (f" ({lane + 1})" if lane else "")


def value_of(e: Event) -> str:
    """nfbl's label of an event: ``N16 Folding arms|0.8300``."""
    return f"{e.code} {e.label}|{e.score:.4f}"
