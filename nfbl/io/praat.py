"""Praat ``.TextGrid`` event files: read the text formats Praat reads (full, short, with
comments; UTF-8, UTF-16 with its byte-order mark, or Latin-1), write the full text format
as Praat writes it. Listed in :data:`nfbl.io.event_formats.EVENT_FORMATS`.

The grammar is Praat's own (manual page "TextGrid file formats"; the readtextgrid
specification, tjmahr/readtextgrid): a text file is a sequence of numbers, double-quoted
strings (``""`` inside is one quote) and ``<flags>``; everything else is a comment — the
``xmin =`` labels, text in square brackets (``item [1]:``) and text after ``!`` to the end
of the line. So the full and the short format hold the same tokens:
``"ooTextFile" "TextGrid" xmin xmax <exists> n_tiers``, then per tier
``class name xmin xmax n`` and ``n`` intervals ``xmin xmax text`` (``"IntervalTier"``) or
points ``time mark`` (``"TextTier"``). The Python readers we checked (pympi-ling 1.71's
``Praat.TextGrid``, praatio 6.2's ``openTextgrid``) read numbers with ``[\\d.]+`` patterns
(no exponent such as ``1e-05``, which Praat writes for small times) and fixed line
positions, so this module tokenises instead.

Labels become events as in ELAN (:mod:`nfbl.io.tiers`): interval tiers give ``[xmin, xmax)``,
point tiers one frame ``[t, t + 1/fps)``; empty labels are the gaps. The video id is the file
stem (``--video-id`` overrides it); the grid's ``xmax`` is the video length
(``meta["durations"]``).
"""
from __future__ import annotations

import logging
import math
import re

import numpy as np
from collections import Counter
from pathlib import Path

from nfbl.core.atomic import atomic_open
from nfbl.core.errors import InputFormatError
from nfbl.core.events import EventStream
from nfbl.io.event_common import ReadOptions, check_fps, video_id_from_name
from nfbl.io.inputs import read_bytes
from nfbl.io.tiers import Tier, events_from_tiers, label_counts, lanes, track_tier_name, value_of

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F.]+(?:[pP][-+]?\d+)?|(?:\d+\.?\d*|\.\d+)"
                     r"(?:[eE][-+]?\d+)?)%?")


def _number(token: str) -> float | None:
    """A number token as Praat's ``Melder_a8tof`` reads it: decimal, hexadecimal (``0x1A``),
    a trailing ``%`` (× 0.01), and ``a/b`` of two such numbers; None when the token does not
    start with one (it is then text, like a unit after a number, ``0s``)."""
    def one(part: str) -> float | None:
        m = _NUMBER.match(part)
        if m is None:
            return None
        s = m.group(0)
        scale = 0.01 if s.endswith("%") else 1.0
        s = s.rstrip("%")
        body = s.lstrip("+-")
        try:
            v = float.fromhex(s) if body[:2].lower() == "0x" else float(s)
        except ValueError:
            return None
        return v * scale
    if "/" in token:
        a, b = token.split("/", 1)
        num, den = one(a), one(b)
        if num is not None and den:
            return num / den
    return one(token)


def _decode(data: bytes, path: Path) -> str:
    """Praat's encodings: UTF-16 with a byte-order mark, UTF-8 (a BOM allowed), else
    Latin-1 (older Praat versions wrote it when ASCII did not suffice)."""
    if data.startswith(b"ooBinaryFile"):
        raise InputFormatError("a binary TextGrid; save it from Praat with 'Save as text "
                               "file...' (or 'Save as short text file...')", path)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputFormatError("not valid UTF-16 text", path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s: not UTF-8; read as Latin-1 (ISO 8859-1)", path)
        return data.decode("latin-1")


def _tokens(text: str):
    """Praat's tokens in order: ``("num", float)``, ``("str", str)``, ``("flag", str)``."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "!":                                   # comment to the end of the line
            ends = [j for j in (text.find("\n", i), text.find("\r", i)) if j >= 0]
            i = min(ends) + 1 if ends else n
        elif c == "[":                                   # "item [1]:", "intervals [2]:"
            j = text.find("]", i)
            i = n if j < 0 else j + 1
        elif c == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise ValueError("a string is not closed (a missing '\"')")
                parts.append(text[j:k])
                if text.startswith('"', k + 1):          # "" is one quote inside a string
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            yield "str", "".join(parts)
        elif c == "<":
            j = text.find(">", i)
            if j < 0:
                raise ValueError("a <flag> is not closed")
            yield "flag", text[i + 1:j]
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '"![<':
                j += 1
            v = _number(text[i:j]) if (c.isdigit() or c in "+-.") else None
            if v is not None:
                yield "num", v
            i = j                                        # a word ("xmin", "=", "size") or a
                                                         # unit after a number ("0s") is text


class _Stream:
    def __init__(self, text: str, path: Path):
        self._it = _tokens(text)
        self.path = path

    def take(self, kind: str, what: str):
        try:
            got = next(self._it)
        except StopIteration:
            raise InputFormatError(f"the TextGrid ends early (expected {what})", self.path) from None
        except ValueError as exc:
            raise InputFormatError(f"not a readable TextGrid ({exc})", self.path) from None
        if got[0] != kind:
            raise InputFormatError(f"expected {what}, found {got[1]!r}", self.path)
        return got[1]

    def count(self, what: str) -> int:
        v = self.take("num", what)
        if math.isfinite(v) and v == int(v) and v < 0:   # Praat reads a negative size as 0
            log.warning("%s: %s is %d; read as 0", self.path, what, int(v))
            return 0
        if not math.isfinite(v) or v != int(v):
            raise InputFormatError(f"{what} {v:g} is not a count", self.path)
        return int(v)


def _parse(path: Path) -> tuple[float, float, list[tuple[str, str, list[tuple]]]]:
    """(xmin, xmax, [(class, name, entries)]) of a text TextGrid; entries are
    ``(xmin, xmax, text)`` of an interval tier or ``(time, mark)`` of a point tier."""
    text = _decode(read_bytes(path), path)
    if "chronological" in text[:200].lower() and "ootextfile" not in text[:200].lower():
        raise InputFormatError("Praat's chronological TextGrid text format is not read; save "
                               "the TextGrid from Praat with 'Save as text file...'", path)
    s = _Stream(text, path)
    if not s.take("str", 'the file type "ooTextFile"').startswith("ooTextFile"):
        raise InputFormatError('not a Praat text file (no "ooTextFile" header)', path)
    cls = s.take("str", 'the object class "TextGrid"')
    if cls != "TextGrid":
        raise InputFormatError(f"a Praat {cls!r} file, not a TextGrid", path)
    xmin, xmax = s.take("num", "xmin"), s.take("num", "xmax")
    if s.take("flag", "<exists> or <absent>") != "exists":
        return xmin, xmax, []
    tiers = []
    for _ in range(s.count("the number of tiers")):
        kind = s.take("str", 'a tier class ("IntervalTier" or "TextTier")')
        if kind not in ("IntervalTier", "TextTier"):
            raise InputFormatError(f"unknown tier class {kind!r}", path)
        name = s.take("str", "a tier name")
        s.take("num", "the tier's xmin"), s.take("num", "the tier's xmax")
        entries: list[tuple] = []
        for _ in range(s.count(f"the size of tier {name!r}")):
            if kind == "IntervalTier":
                entries.append((s.take("num", "an interval's xmin"),
                                s.take("num", "an interval's xmax"),
                                s.take("str", "an interval's text")))
            else:
                entries.append((s.take("num", "a point's time"), s.take("str", "a point's mark")))
        tiers.append((kind, name, entries))
    return xmin, xmax, tiers


def _labelled(tiers, fps: float | None, path: Path) -> list[Tier]:
    """Non-empty labels per tier as ``(start_s, end_s, value)``; a labelled interval that
    does not end after it starts (no valid TextGrid has one) is skipped with a warning."""
    out: list[Tier] = []
    empty = 0
    for kind, name, entries in tiers:
        labels = []
        for entry in entries:
            if kind == "IntervalTier":
                start, end, text = entry
            else:
                start, text = entry
                end = start + 1.0 / check_fps(fps, path)
            if not text.strip():
                continue
            if not end > start:
                empty += 1
                continue
            labels.append((start, end, text.strip()))
        out.append((name, labels))
    if empty:
        log.warning("%s: %d labelled interval(s) without duration (end <= start) skipped",
                    path, empty)
    return out


def textgrid_labels(path: Path, o: ReadOptions) -> Counter:
    """Label → number of non-empty intervals and points, over every tier."""
    return label_counts(_labelled(_parse(path)[2], o.fps, path))


def read_textgrid(path: Path, o: ReadOptions) -> EventStream:
    _, xmax, tiers = _parse(path)
    vid = o.video_id or video_id_from_name(path, (".textgrid",))
    events = events_from_tiers(path, vid, _labelled(tiers, o.fps, path), o)
    meta = {"durations": {vid: xmax}} if xmax > 0 else {}
    return EventStream(tuple(events), meta).sorted()


def praat_number(x: float) -> str:
    """A number as Praat writes it (``Melder8_double``): 15 significant digits, else 16,
    else 17, the first that gives the same double back (``0``, ``2.3``,
    ``0.6666666666666666``), but never with an exponent: Praat writes ``1e-05``, which
    praatio 6.2 cannot read and pympi 1.71 reads as 5; ``0.00001`` is the same double to all."""
    for digits in (15, 16, 17):
        s = f"{x:.{digits}g}"
        if float(s) == x or digits == 17:
            break
    if "e" in s or "E" in s:
        s = np.format_float_positional(x, unique=True, trim="-")
    return s


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_textgrid(stream: EventStream, path: Path, fps: float) -> None:
    """Praat's full text format (as "Save as text file..." writes it, UTF-8): one interval
    tier per lane of each track (``NFBL track 0``, ``NFBL track 0 (2)``, ...), gaps as empty
    intervals, the grid from 0 to the video's length (``meta["durations"]``) or the last
    event's end."""
    vid = stream.video_ids[0] if stream.video_ids else None
    durations = stream.meta.get("durations") if isinstance(stream.meta, dict) else None
    end = max((e.end for e in stream), default=0.0)
    if isinstance(durations, dict) and vid in durations:
        try:
            end = max(end, float(durations[vid]))
        except (TypeError, ValueError):
            pass
    xmax = end if end > 0 else 1.0
    tiers = []
    if not len(stream):   # one empty tier: "tiers? <absent>" is valid, but pympi, praatio and
        tiers.append((track_tier_name(0, 0), [(0.0, xmax, "")]))   # textgrid fail on it
    for track in sorted({e.track_id for e in stream}):
        for k, lane in enumerate(lanes((e.start, e.end, e) for e in stream if e.track_id == track)):
            filled, t = [], 0.0
            for s, e_end, e in lane:
                if s > t:
                    filled.append((t, s, ""))
                filled.append((s, e_end, value_of(e)))
                t = e_end
            if t < xmax:
                filled.append((t, xmax, ""))
            tiers.append((track_tier_name(track, k), filled))
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "",
             "xmin = 0 ", f"xmax = {praat_number(xmax)} ",
             "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, (name, intervals) in enumerate(tiers, 1):
        lines += [f"    item [{i}]:", '        class = "IntervalTier" ',
                  f"        name = {_quoted(name)} ", "        xmin = 0 ",
                  f"        xmax = {praat_number(xmax)} ",
                  f"        intervals: size = {len(intervals)} "]
        for j, (s, e_end, text) in enumerate(intervals, 1):
            lines += [f"        intervals [{j}]:", f"            xmin = {praat_number(s)} ",
                      f"            xmax = {praat_number(e_end)} ",
                      f"            text = {_quoted(text)} "]
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
