"""Plain-text renderings of a :class:`~nfbl.prompts.aggregate.Summary`: the statistics block and
a compact, size-bounded timeline (``[mm:ss–mm:ss] N16 Folding arms (0.83)``).

Both are deterministic: the same events give byte-identical text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from nfbl.core import taxonomy
from nfbl.core.errors import NfblError
from nfbl.core.events import Event
from nfbl.prompts.aggregate import (DURATION_GIVEN, DURATION_LAST_EVENT, DURATION_META, Summary)

#: Smallest timeline budget that still leaves room for a few lines and the omission note.
MIN_TIMELINE_CHARS = 200
_MAX_LISTED_PAIRS = 8
_MAX_LISTED_BURSTS = 8
_MAX_LISTED_PERSONS = 10


def clock(seconds: float, round_up: bool = False) -> str:
    """``mm:ss`` (or ``h:mm:ss`` from one hour on); seconds rounded down (up with ``round_up``,
    used for interval ends so that ``[start, end)`` is covered)."""
    s = max(0, math.ceil(seconds - 1e-9) if round_up else int(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def _name(class_id: int) -> str:
    return f"N{class_id} {taxonomy.get(class_id).name}"


def _per_min(rate: float, known: bool) -> str:
    return f"{rate:.2f}/min" if known else "rate unknown"


def summary_text(summary: Summary) -> str:
    """The NFBL statistics of one video as a short multi-line text (no trailing newline)."""
    d = summary.duration_s
    known = d is not None
    lines: list[str] = []
    if summary.duration_source in (DURATION_GIVEN, DURATION_META):
        lines.append(f"Video length: {clock(d)} ({d:.1f} s).")
    elif summary.duration_source == DURATION_LAST_EVENT:
        lines.append(f"Video length: unknown; at least {clock(d)} ({d:.1f} s, the end of the last "
                     "event), so rates per minute are upper bounds.")
    else:
        lines.append("Video length: unknown.")
    if summary.empty:
        lines.append("No NFBL (non-facial body language) events were observed in this video.")
        return "\n".join(lines)
    persons = len(summary.track_ids)
    lines.append(f"Persons with events: {persons}.")
    cover = f", covering {100.0 * summary.coverage_s / d:.0f}% of the video" if known else ""
    lines.append(f"NFBL events: {summary.count} ({_per_min(summary.rate_per_min, known)}){cover}; "
                 f"mean event length {summary.mean_s:.1f} s; mean detection score "
                 f"{summary.mean_score:.2f}.")
    if known:
        t = summary.thirds
        lines.append(f"Events per third of the video (beginning / middle / end): "
                     f"{t[0]} / {t[1]} / {t[2]}.")
    lines.append("By class (count, rate, total and mean duration, per third):")
    for s in summary.classes:
        thirds = f"; thirds {s.thirds[0]}/{s.thirds[1]}/{s.thirds[2]}" if known else ""
        lines.append(f"- {s.key} {s.name}: {s.count}x, {_per_min(s.rate_per_min, known)}, "
                     f"{s.total_s:.1f} s total, {s.mean_s:.1f} s mean{thirds}")
    lines.append("By body region:")
    for s in summary.regions:
        lines.append(f"- {s.key}: {s.count}x, {_per_min(s.rate_per_min, known)}, "
                     f"{s.total_s:.1f} s total")
    if summary.cooccurrences:
        lines.append("Classes overlapping in time (same person):")
        for c in summary.cooccurrences[:_MAX_LISTED_PAIRS]:
            lines.append(f"- {_name(c.class_a)} + {_name(c.class_b)}: {c.count}x, "
                         f"{c.overlap_s:.1f} s together")
        if len(summary.cooccurrences) > _MAX_LISTED_PAIRS:
            lines.append(f"- ... and {len(summary.cooccurrences) - _MAX_LISTED_PAIRS} more pairs")
    if summary.bursts:
        lines.append("Bursts (dense runs of events):")
        for b in summary.bursts[:_MAX_LISTED_BURSTS]:
            codes = ", ".join(f"N{c}" for c in b.classes[:5])
            lines.append(f"- [{clock(b.start)}–{clock(b.end, True)}] {b.count} events: {codes}")
        if len(summary.bursts) > _MAX_LISTED_BURSTS:
            lines.append(f"- ... and {len(summary.bursts) - _MAX_LISTED_BURSTS} more bursts")
    if persons > 1:
        lines.append("Per person:")
        for p in summary.persons[:_MAX_LISTED_PERSONS]:
            top = ", ".join(f"{s.key} {s.count}x" for s in p.classes[:3])
            lines.append(f"- P{p.track_id}: {p.count} event{'s' if p.count != 1 else ''} "
                         f"({_per_min(p.rate_per_min, known)}); top: {top}")
        if persons > _MAX_LISTED_PERSONS:
            lines.append(f"- ... and {persons - _MAX_LISTED_PERSONS} more persons")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Item:
    """One timeline line: one event, or several merged events of one class and person."""

    start: float
    end: float
    class_id: int
    track_id: int
    score: float  # the highest score of the merged events
    n: int


@dataclass(frozen=True)
class Timeline:
    """A rendered timeline and what it had to leave out."""

    text: str
    n_events: int  # events in the input
    n_lines: int  # event lines in ``text``
    n_omitted: int  # events not shown at all
    merged: bool  # whether nearby events of one class were merged into one line


def _line(it: _Item, persons: bool, with_name: bool) -> str:
    who = f"P{it.track_id} " if persons else ""
    name = _name(it.class_id) if with_name else f"N{it.class_id}"
    times = f" x{it.n}" if it.n > 1 else ""
    return f"[{clock(it.start)}–{clock(it.end, True)}] {who}{name}{times} ({it.score:.2f})"


def _render(items: Sequence[_Item], persons: bool, abbreviate: bool) -> list[str]:
    seen: set[int] = set()
    out = []
    for it in sorted(items, key=lambda i: (i.start, i.end, i.track_id, i.class_id)):
        out.append(_line(it, persons, not abbreviate or it.class_id not in seen))
        seen.add(it.class_id)
    return out


def _merge(items: Sequence[_Item], gap_s: float) -> list[_Item]:
    out: list[_Item] = []
    last: dict[tuple[int, int], int] = {}
    for it in sorted(items, key=lambda i: (i.start, i.end, i.track_id, i.class_id)):
        k = (it.track_id, it.class_id)
        j = last.get(k)
        if j is not None and it.start - out[j].end <= gap_s:
            p = out[j]
            out[j] = _Item(p.start, max(p.end, it.end), p.class_id, p.track_id,
                           max(p.score, it.score), p.n + it.n)
        else:
            last[k] = len(out)
            out.append(it)
    return out


def _size(lines: Sequence[str]) -> int:
    return sum(len(s) for s in lines) + max(0, len(lines) - 1)


def _omission_note(omitted: Sequence[_Item]) -> str:
    counts: dict[int, int] = {}
    for it in omitted:
        counts[it.class_id] = counts.get(it.class_id, 0) + it.n
    top = sorted(counts, key=lambda c: (-counts[c], c))
    parts = ", ".join(f"N{c} x{counts[c]}" for c in top[:5])
    more = ", ..." if len(top) > 5 else ""
    n = sum(counts.values())
    return f"(... {n} more events with lower scores not listed: {parts}{more})"


def timeline_text(events: Sequence[Event], max_chars: int = 6000, merge_gap_s: float = 2.0) -> Timeline:
    """Time-ordered event lines, at most ``max_chars`` characters in all.

    When the full list is too long: (1) events of one class and person less than
    ``merge_gap_s`` apart merge into one line (``x3``, highest score); (2) class names are
    written only at a class's first line; (3) the highest-scoring lines are kept (ties: earlier
    first) and a final note says how many events of which classes were left out.
    """
    if max_chars < MIN_TIMELINE_CHARS:
        raise NfblError(f"timeline budget {max_chars} characters is too small; "
                        f"use at least {MIN_TIMELINE_CHARS}")
    items = [_Item(e.start, e.end, e.class_id, e.track_id, e.score, 1) for e in events]
    n = len(items)
    if n == 0:
        return Timeline("(no events)", 0, 0, 0, False)
    persons = len({e.track_id for e in events}) > 1
    lines = _render(items, persons, abbreviate=False)
    if _size(lines) <= max_chars:
        return Timeline("\n".join(lines), n, len(lines), 0, False)
    merged = _merge(items, merge_gap_s)
    lines = _render(merged, persons, abbreviate=True)
    if _size(lines) <= max_chars:
        return Timeline("\n".join(lines), n, len(lines), 0, len(merged) < n)
    # Keep the k highest-scoring lines (ties: earlier first), k as large as the budget allows
    # (binary search; the size grows with k up to the small changes of the omission note).
    order = sorted(merged, key=lambda i: (-i.score, i.start, i.track_id, i.class_id))

    def render(k: int) -> list[str]:
        return _render(order[:k], persons, abbreviate=True) + [_omission_note(order[k:])]

    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(render(mid)) <= max_chars:
            lo = mid
        else:
            hi = mid - 1
    keep, omitted = order[:lo], order[lo:]
    lines = render(lo)
    text = "\n".join(lines)[:max_chars]
    return Timeline(text, n, len(keep), sum(it.n for it in omitted), len(merged) < n)
