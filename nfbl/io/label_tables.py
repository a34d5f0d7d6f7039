"""Dataset label files: the iMiGUE label table, iMiGUE's per-video raw label files and the
MiGA label CSV (layouts in :mod:`nfbl.io.event_formats`, whose table lists them)."""
from __future__ import annotations

import csv
import io
import logging
import math
import re
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from nfbl.core import taxonomy
from nfbl.core.atomic import atomic_open
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import EventStream
from nfbl.io.event_common import (IMIGUE_COLUMNS, VIDEO_INFO_KEYS, ReadOptions,
                                  check_fps, lookup_code, make_event, parse_float, parse_int,
                                  video_id_from_name)
from nfbl.io.inputs import open_text

log = logging.getLogger(__name__)

# --- iMiGUE label table --------------------------------------------------------------------

def _parse_time(text: str, path: Path, line: int) -> float:
    """Seconds from ``s``, ``m:s`` or ``h:m:s`` (fractions allowed)."""
    parts = str(text).strip().split(":")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputFormatError(f"time {text!r} is not seconds or [h:]m:s", path, line) from None
    total = 0.0
    for v in vals:
        total = total * 60 + v
    if not math.isfinite(total):
        raise InputFormatError(f"time {text!r} is not finite", path, line)
    return total


def _imigue_class(value: str, path: Path, line: int) -> int:
    """Raw iMiGUE class (1..31, 99) → NFBL id; a class name or code is accepted too. The real
    ``Label/raw/<video>.txt`` files write the class as a float (``24.0``, ``99.0``)."""
    text = value.strip()
    try:
        raw = int(text)
    except ValueError:
        try:
            num = float(text)
        except ValueError:
            return lookup_code(text, path, line)
        if not num.is_integer():
            raise InputFormatError(f"class {text!r} is not a whole number", path, line) from None
        raw = int(num)
    try:
        return taxonomy.from_imigue_raw(raw)
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def sniff_imigue(first: str) -> bool:
    return first.startswith("video_id,label_id") or "win_or_lose" in first


def read_imigue(path: Path, o: ReadOptions) -> EventStream:
    events, videos = [], {}
    with open_text(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return EventStream((), {"videos": {}})
    header = [c.strip().lower() for c in rows[0]]
    if "video_id" not in header:
        raise InputFormatError("not an iMiGUE label table (the header must name video_id, "
                               f"class and the time or frame columns; got {rows[0][:4]})", path, 1)
    idx = {c: i for i, c in enumerate(header)}
    if "class" not in idx:
        raise InputFormatError("iMiGUE label table lacks the 'class' column (label_id is a "
                               "running index, not the class)", path, 1)
    have_times = "start_time" in idx and "end_time" in idx
    have_frames = "start_frame" in idx and "end_frame" in idx
    if not (have_times or have_frames):
        raise InputFormatError("iMiGUE label table lacks start_time/end_time (or "
                               "start_frame/end_frame)", path, 1)
    fps = None
    for n, row in enumerate(rows[1:], 2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputFormatError(f"expected {len(header)} columns, got {len(row)}", path, n)
        get = lambda c: row[idx[c]].strip() if c in idx else ""  # noqa: E731
        vid = get("video_id")
        cid = _imigue_class(get("class"), path, n)
        if have_times and get("start_time") != "" and get("end_time") != "":
            start = _parse_time(get("start_time"), path, n)
            end = _parse_time(get("end_time"), path, n)
        elif have_frames and get("start_frame") != "" and get("end_frame") != "":
            fps = check_fps(o.fps, path)
            sf = parse_int(get("start_frame"), "start_frame", path, n)
            ef = parse_int(get("end_frame"), "end_frame", path, n)
            start, end = sf / fps, (ef if ef > sf else sf + 1) / fps
        else:
            raise InputFormatError("row has neither times nor frames", path, n)
        if start < 0:
            raise InputFormatError(f"start {start:g} is negative", path, n)
        events.append(make_event(path, n, video_id=vid, class_id=cid, start=start, end=end))
        info = {k: get(k) for k in VIDEO_INFO_KEYS if get(k) != ""}
        if info:
            videos.setdefault(vid, {}).update(info)
    meta: dict = {"videos": videos}
    if fps is not None:
        meta["fps"] = fps
    return EventStream(tuple(events), meta)


def imigue_frame(seconds: float, fps: float = 25.0) -> int:
    """The iMiGUE table's frame of a time: ``floor(round(t, 4) x fps)`` in exact decimals."""
    t = Decimal(f"{seconds:.4f}") * Decimal(repr(float(fps)))
    return int(t.to_integral_value(rounding=ROUND_FLOOR))


def imigue_time(seconds: float) -> str:
    """Seconds as iMiGUE writes them: rounded to 4 decimals, trailing zeros dropped
    (``35.029``, ``120.668``, ``0``; linuxsino/iMiGUE ``Label/labels_20200831.csv``)."""
    text = f"{seconds:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def write_imigue(stream: EventStream, path: Path, fps: float) -> None:
    """The real layout: ``label_id`` counts 1..n within each video, ``class`` is the raw
    class, times have at most 4 decimals and no trailing zeros (``35.029``, ``0``), frames
    are ``floor(time x fps)``."""
    check_fps(fps, path)
    videos = stream.meta.get("videos", {}) if isinstance(stream.meta, dict) else {}
    counter: dict[str, int] = {}
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(IMIGUE_COLUMNS)
        for e in stream:
            counter[e.video_id] = counter.get(e.video_id, 0) + 1
            info = videos.get(e.video_id, {}) if isinstance(videos, dict) else {}
            w.writerow([e.video_id, counter[e.video_id], imigue_time(e.start),
                        imigue_frame(e.start, fps), imigue_time(e.end), imigue_frame(e.end, fps),
                        taxonomy.to_imigue_raw(e.class_id)]
                       + [info.get(k, "") for k in VIDEO_INFO_KEYS])


# --- iMiGUE per-video raw label file (Label/raw/<video>.txt) ---------------------------------

def read_imigue_raw(path: Path, o: ReadOptions) -> EventStream:
    vid = o.video_id or path.stem
    events = []
    with open_text(path, newline="") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 3:
                parts = line.split()
            if len(parts) != 3:
                raise InputFormatError("expected start_s<TAB>end_s<TAB>class", path, n)
            start = parse_float(parts[0], "start", path, n)
            end = parse_float(parts[1], "end", path, n)
            if start < 0:
                raise InputFormatError(f"start {start:g} is negative", path, n)
            events.append(make_event(path, n, video_id=vid, class_id=_imigue_class(parts[2], path, n),
                                 start=start, end=end))
    return EventStream(tuple(events))


def write_imigue_raw(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path, newline="") as fh:
        for e in stream:
            fh.write(f"{imigue_time(e.start)}\t{imigue_time(e.end)}\t"
                     f"{float(taxonomy.to_imigue_raw(e.class_id))}\n")


# --- MiGA label CSV --------------------------------------------------------------------------

def sniff_miga(first: str) -> bool:
    return re.fullmatch(r"\s*\d+\s*,\s*\d+\s*,\s*\d+\s*", first) is not None


def read_miga(path: Path, o: ReadOptions) -> EventStream:
    fps = check_fps(o.fps, path)
    vid = o.video_id or video_id_from_name(path, ("_label.csv", ".csv"))
    events = []
    with open_text(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise InputFormatError(f"expected 3 columns (gestureID,sframe,eframe), "
                                       f"got {len(row)}", path, n)
            raw = parse_int(row[0], "gestureID", path, n)
            try:
                cid = taxonomy.from_imigue_raw(raw)
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
            sf, ef = parse_int(row[1], "sframe", path, n), parse_int(row[2], "eframe", path, n)
            if sf < 0:
                raise InputFormatError(f"sframe {sf} is negative", path, n)
            if ef < sf:
                raise InputFormatError(f"eframe {ef} < sframe {sf}", path, n)
            events.append(make_event(path, n, video_id=vid, class_id=cid, start=sf / fps,
                                 end=(ef if ef > sf else sf + 1) / fps))
    return EventStream(tuple(events), {"fps": fps})


def write_miga(stream: EventStream, path: Path, fps: float) -> None:
    """MiGA ``gestureID,sframe,eframe`` rows. Where the stream knows the video's length
    (``meta["durations"]``, as detected streams do), ``eframe`` stays within the video's last
    frame: the organisers' kit reads frames ``sframe+1 .. eframe+1`` of its 1-based skeleton
    file and stops at a frame it does not have (``imigue_gendata.py`` / ``getSkeleton``)."""
    check_fps(fps, path)
    durations = stream.meta.get("durations") if isinstance(stream.meta, dict) else None
    durations = durations if isinstance(durations, dict) else {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    clamped = 0
    for e in stream:
        sf = imigue_frame(e.start, fps)   # floor(time x fps), as the label table numbers frames
        ef = max(sf + 1, imigue_frame(e.end, fps))
        dur = durations.get(e.video_id)
        if isinstance(dur, (int, float)) and not isinstance(dur, bool) and math.isfinite(dur) \
                and dur > 0:  # a length that is not a positive number is no length
            last = max(0, int(round(dur * fps)) - 1)
            if ef > last:
                ef, clamped = max(sf, last), clamped + 1
        w.writerow([taxonomy.to_imigue_raw(e.class_id), sf, ef])
    if clamped:
        log.info("%s: %d event(s) end at the video's end; their eframe is its last frame (%s)",
                 path, clamped, "the kit cannot read a frame after it")
    with atomic_open(path, newline="") as fh:
        fh.write(buf.getvalue())
