"""Event-stream file formats: read and write, all round-trip tested.

=========== ========================= =================================================
format      typical name              content
=========== ========================= =================================================
jsonl       ``events.jsonl``          nfbl's versioned schema: a header line, then one
                                      event object per line (times in seconds)
csv         ``events.csv``            one event per row, nfbl's columns
activitynet ``results.json``          ActivityNet detection results (or ground-truth
                                      ``database``) JSON; labels are class names
eaf         ``video.eaf``             ELAN annotation file (pympi-ling), one tier per track
imigue      ``labels.imigue.csv``     the iMiGUE label table (frames + times, raw ids)
miga        ``<vid>_label.csv``       MiGA challenge labels ``gestureID,startFrame,endFrame``
=========== ========================= =================================================

Frame-based formats (imigue, miga) need the frame rate; their ``end_frame`` is the last
frame *inside* the event (inclusive), so ``end = (end_frame + 1) / fps``.
Writers are atomic (temporary file + rename).
"""
from __future__ import annotations

import csv
import enum
import io
import json
import re
from pathlib import Path
from typing import Iterable

from nfbl.core import taxonomy
from nfbl.core.errors import InputFormatError, MissingDependencyError, NfblError
from nfbl.core.events import SCHEMA_VERSION, Event, EventStream
from nfbl.core.atomic import atomic_open, atomic_path

JSONL_SCHEMA = "nfbl.core.events"
CSV_COLUMNS = ("video_id", "track_id", "class_id", "code", "label", "start", "end", "score", "model")
IMIGUE_COLUMNS = ("video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame",
                  "class", "subject_id", "subject_gender", "subject_nationality", "win_or_lose")
_VIDEO_INFO_KEYS = ("subject_id", "subject_gender", "subject_nationality", "win_or_lose")


class EventFormat(str, enum.Enum):
    JSONL = "jsonl"
    CSV = "csv"
    ACTIVITYNET = "activitynet"
    EAF = "eaf"
    IMIGUE = "imigue"
    MIGA = "miga"


def _parse_format(fmt: str | EventFormat | None) -> EventFormat | None:
    if fmt is None or isinstance(fmt, EventFormat):
        return fmt
    try:
        return EventFormat(str(fmt).lower())
    except ValueError:
        raise NfblError(f"unknown event format {fmt!r}; choose one of "
                        f"{', '.join(f.value for f in EventFormat)}") from None


def guess_format(path: str | Path, for_reading: bool = True) -> EventFormat:
    """Choose a format from the file name (and, when reading a ``.csv``, its first line)."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".jsonl", ".ndjson")):
        return EventFormat.JSONL
    if name.endswith(".json"):
        return EventFormat.ACTIVITYNET
    if name.endswith(".eaf"):
        return EventFormat.EAF
    if name.endswith(".imigue.csv"):
        return EventFormat.IMIGUE
    if name.endswith("_label.csv"):
        return EventFormat.MIGA
    if name.endswith(".csv"):
        if for_reading and p.is_file():
            with open(p, encoding="utf-8", errors="replace") as fh:
                first = fh.readline().strip().lower()
            if first.startswith("video_id,label_id") or "win_or_lose" in first:
                return EventFormat.IMIGUE
            if re.fullmatch(r"\s*\d+\s*,\s*\d+\s*,\s*\d+\s*", first):
                return EventFormat.MIGA
        return EventFormat.CSV
    raise NfblError(f"{path}: cannot tell the event format from the file name; pass --from/--to "
                    f"({', '.join(f.value for f in EventFormat)})")


# --- public API ----------------------------------------------------------------------------

def read_events(path: str | Path, fmt: str | EventFormat | None = None, fps: float = 25.0,
                video_id: str | None = None) -> EventStream:
    """Read an event file. ``video_id`` names the video for formats that carry none (MiGA,
    ELAN without the property); by default it comes from the file name."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError("no such file", path)
    if path.is_dir():
        raise InputFormatError("is a folder, expected an event file", path)
    f = _parse_format(fmt) or guess_format(path)
    reader = {EventFormat.JSONL: _read_jsonl, EventFormat.CSV: _read_csv,
              EventFormat.ACTIVITYNET: _read_activitynet, EventFormat.EAF: _read_eaf,
              EventFormat.IMIGUE: _read_imigue, EventFormat.MIGA: _read_miga}[f]
    try:
        stream = reader(path, fps=fps, video_id=video_id)
    except UnicodeDecodeError:
        raise InputFormatError(f"not a text file (expected {f.value})", path) from None
    meta = dict(stream.meta)
    meta.setdefault("source", str(path))
    return EventStream(stream.events, meta)


def write_events(stream: EventStream, path: str | Path, fmt: str | EventFormat | None = None,
                 fps: float = 25.0) -> Path:
    """Write ``stream`` atomically in the given (or guessed) format; returns the path."""
    path = Path(path)
    f = _parse_format(fmt) or guess_format(path, for_reading=False)
    writer = {EventFormat.JSONL: _write_jsonl, EventFormat.CSV: _write_csv,
              EventFormat.ACTIVITYNET: _write_activitynet, EventFormat.EAF: _write_eaf,
              EventFormat.IMIGUE: _write_imigue, EventFormat.MIGA: _write_miga}[f]
    writer(stream, path, fps=fps)
    return path


# --- helpers -------------------------------------------------------------------------------

def _event(path: Path, line: int, **kw) -> Event:
    try:
        return Event(**kw)
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def _check_fps(fps: float, path: Path) -> float:
    if not fps or fps <= 0:
        raise InputFormatError(f"frame-based format needs a positive --fps, got {fps}", path)
    return float(fps)


def _float(value: str, what: str, path: Path, line: int | None) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputFormatError(f"{what} {value!r} is not a number", path, line) from None


def _int(value: str, what: str, path: Path, line: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise InputFormatError(f"{what} {value!r} is not an integer", path, line) from None


def _video_id_from_name(path: Path, suffixes: Iterable[str]) -> str:
    name = path.name
    for s in suffixes:
        if name.lower().endswith(s):
            return name[: -len(s)]
    return path.stem


# --- JSON Lines ----------------------------------------------------------------------------

def _read_jsonl(path: Path, fps: float, video_id: str | None) -> EventStream:
    events, meta = [], {}
    with open(path, encoding="utf-8") as fh:
        for i, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputFormatError(f"invalid JSON ({exc.msg})", path, i) from None
            if not isinstance(obj, dict):
                raise InputFormatError("expected a JSON object per line", path, i)
            if obj.get("schema") == JSONL_SCHEMA:
                if int(obj.get("version", 0)) > SCHEMA_VERSION:
                    raise InputFormatError(f"events schema version {obj['version']} is newer than "
                                           f"this nfbl ({SCHEMA_VERSION}); upgrade nfbl", path, i)
                meta = dict(obj.get("meta", {}))
                continue
            if video_id is not None and "video_id" not in obj:
                obj = {**obj, "video_id": video_id}
            try:
                events.append(Event.from_dict(obj))
            except NfblError as exc:
                raise InputFormatError(str(exc), path, i) from None
    return EventStream(tuple(events), meta)


def _write_jsonl(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path) as fh:
        header = {"schema": JSONL_SCHEMA, "version": SCHEMA_VERSION, "meta": stream.meta}
        fh.write(json.dumps(header, default=str) + "\n")
        for e in stream:
            fh.write(json.dumps(e.to_dict()) + "\n")


# --- nfbl CSV ------------------------------------------------------------------------------

def _read_csv(path: Path, fps: float, video_id: str | None) -> EventStream:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        need = {"start", "end"} | ({"video_id"} if video_id is None else set())
        if not need <= set(cols) or not ({"class_id", "code"} & set(cols)):
            raise InputFormatError(f"CSV header {cols} lacks nfbl columns "
                                   f"({', '.join(CSV_COLUMNS)})", path, 1)
        events = []
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise InputFormatError(f"expected {len(cols)} columns", path, line)
            cid = (_int(row["class_id"], "class id", path, line) if row.get("class_id")
                   else _lookup_code(row["code"], path, line))
            events.append(_event(path, line, video_id=row.get("video_id") or video_id,
                                 class_id=cid,
                                 start=_float(row["start"], "start", path, line),
                                 end=_float(row["end"], "end", path, line),
                                 score=_float(row.get("score") or 1.0, "score", path, line),
                                 track_id=_int(row.get("track_id") or 0, "track id", path, line),
                                 model=row.get("model") or ""))
    return EventStream(tuple(events))


def _lookup_code(code: str, path: Path, line: int | None) -> int:
    try:
        return taxonomy.lookup(code).id
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def _write_csv(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        for e in stream:
            w.writerow(e.to_dict())


# --- ActivityNet JSON ----------------------------------------------------------------------

def _read_activitynet(path: Path, fps: float, video_id: str | None) -> EventStream:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"invalid JSON ({exc.msg})", path, exc.lineno) from None
    if not isinstance(doc, dict) or not ({"results", "database"} & set(doc)):
        raise InputFormatError("not an ActivityNet file (no 'results' or 'database' key)", path)
    events, meta = [], {}
    if "results" in doc:
        items = doc["results"].items()
        get = lambda v: v  # noqa: E731
    else:
        items = doc["database"].items()
        get = lambda v: v.get("annotations", [])  # noqa: E731
        meta["durations"] = {k: v.get("duration") for k, v in doc["database"].items()
                             if isinstance(v, dict) and v.get("duration") is not None}
    for vid, entries in items:
        for k, d in enumerate(get(entries)):
            where = f"{vid}[{k}]"
            try:
                seg = d["segment"]
                cid = d["class_id"] if "class_id" in d else taxonomy.lookup(d["label"]).id
                events.append(Event(str(vid), int(cid), float(seg[0]), float(seg[1]),
                                    float(d.get("score", 1.0)), int(d.get("track_id", 0)),
                                    str(d.get("model", ""))))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise InputFormatError(f"entry {where} is malformed ({exc!r})", path) from None
            except NfblError as exc:
                raise InputFormatError(f"entry {where}: {exc}", path) from None
    return EventStream(tuple(events), meta)


def _write_activitynet(stream: EventStream, path: Path, fps: float) -> None:
    results: dict[str, list] = {v: [] for v in stream.video_ids}
    for e in stream:
        results[e.video_id].append({"label": e.label, "class_id": e.class_id, "code": e.code,
                                    "score": round(e.score, 6),
                                    "segment": [round(e.start, 6), round(e.end, 6)],
                                    "track_id": e.track_id, "model": e.model})
    doc = {"version": "VERSION 1.3", "results": results,
           "external_data": {"used": False, "details": "written by nfbl"}}
    with atomic_open(path) as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


# --- ELAN ----------------------------------------------------------------------------------

_EAF_TIER = "NFBL track "
_EAF_VIDEO_PROP = "nfbl_video_id"


def _pympi():
    try:
        import pympi  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("pympi-ling", "extras", "Reading/writing ELAN .eaf files") from None
    return pympi


def _read_eaf(path: Path, fps: float, video_id: str | None) -> EventStream:
    pympi = _pympi()
    try:
        eaf = pympi.Elan.Eaf(str(path))
    except Exception as exc:  # pympi raises bare XML/parse errors
        raise InputFormatError(f"not a readable ELAN file ({exc.__class__.__name__}: {exc})", path) from None
    vid = video_id
    if vid is None:
        props = dict(eaf.properties) if hasattr(eaf, "properties") else {}
        vid = next((v for k, v in props.items() if k == _EAF_VIDEO_PROP), None) or path.stem
    events = []
    for tier in eaf.get_tier_names():
        if not tier.startswith(_EAF_TIER):
            continue
        track = int(tier[len(_EAF_TIER):].strip() or 0)
        for ann in eaf.get_annotation_data_for_tier(tier):
            start_ms, end_ms, value = ann[0], ann[1], ann[2]
            code, _, rest = value.partition(" ")
            score = 1.0
            if "|" in rest:
                score = _float(rest.rsplit("|", 1)[1], "score", path, None)
            cid = _lookup_code(code, path, None)
            events.append(_event(path, None, video_id=vid, class_id=cid, start=start_ms / 1000.0,
                                 end=end_ms / 1000.0, score=score, track_id=track))
    return EventStream(tuple(events)).sorted()


def _write_eaf(stream: EventStream, path: Path, fps: float) -> None:
    if len(stream.video_ids) > 1:
        raise NfblError(f"an ELAN file holds one video, the stream has {len(stream.video_ids)}; "
                        "write one .eaf per video")
    pympi = _pympi()
    eaf = pympi.Elan.Eaf(author="nfbl")
    eaf.remove_tier("default")
    if stream.video_ids:
        eaf.add_property(_EAF_VIDEO_PROP, stream.video_ids[0])
    for track in sorted({e.track_id for e in stream}):
        tier = f"{_EAF_TIER}{track}"
        eaf.add_tier(tier)
        for e in stream:
            if e.track_id != track:
                continue
            start_ms, end_ms = int(round(e.start * 1000)), int(round(e.end * 1000))
            if end_ms <= start_ms:
                end_ms = start_ms + 1
            eaf.add_annotation(tier, start_ms, end_ms, f"{e.code} {e.label}|{e.score:.4f}")
    with atomic_path(path, suffix=".eaf", exists=False) as tmp:
        eaf.to_file(str(tmp))


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
    return total


def _read_imigue(path: Path, fps: float, video_id: str | None) -> EventStream:
    fps = _check_fps(fps, path)
    events, videos = [], {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return EventStream((), {"videos": {}})
    header = [c.strip().lower() for c in rows[0]]
    start_row = 1 if "label_id" in header else 0
    cols = header if start_row else list(IMIGUE_COLUMNS)
    missing = {"video_id", "label_id"} - set(cols)
    if missing:
        raise InputFormatError(f"iMiGUE label table lacks columns {sorted(missing)}", path, 1)
    idx = {c: i for i, c in enumerate(cols)}
    for n, row in enumerate(rows[start_row:], start_row + 1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(cols):
            raise InputFormatError(f"expected {len(cols)} columns, got {len(row)}", path, n)
        get = lambda c: row[idx[c]].strip() if c in idx else ""  # noqa: E731
        vid = get("video_id")
        raw = _int(get("label_id"), "label_id", path, n)
        try:
            cid = taxonomy.from_imigue_raw(raw)
        except NfblError as exc:
            raise InputFormatError(str(exc), path, n) from None
        if get("start_frame") != "" and get("end_frame") != "":
            start = _int(get("start_frame"), "start_frame", path, n) / fps
            end = (_int(get("end_frame"), "end_frame", path, n) + 1) / fps
        else:
            start = _parse_time(get("start_time"), path, n)
            end = _parse_time(get("end_time"), path, n)
        events.append(_event(path, n, video_id=vid, class_id=cid, start=start, end=end))
        info = {k: get(k) for k in _VIDEO_INFO_KEYS if get(k) != ""}
        if info:
            videos.setdefault(vid, {}).update(info)
    return EventStream(tuple(events), {"videos": videos, "fps": fps})


def _write_imigue(stream: EventStream, path: Path, fps: float) -> None:
    videos = stream.meta.get("videos", {}) if isinstance(stream.meta, dict) else {}
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(IMIGUE_COLUMNS)
        for e in stream:
            sf = int(round(e.start * fps))
            ef = max(sf, int(round(e.end * fps)) - 1)
            info = videos.get(e.video_id, {})
            w.writerow([e.video_id, taxonomy.to_imigue_raw(e.class_id), f"{sf / fps:.3f}", sf,
                        f"{(ef + 1) / fps:.3f}", ef, e.label]
                       + [info.get(k, "") for k in _VIDEO_INFO_KEYS])


# --- MiGA label CSV --------------------------------------------------------------------------

def _read_miga(path: Path, fps: float, video_id: str | None) -> EventStream:
    fps = _check_fps(fps, path)
    vid = video_id or _video_id_from_name(path, ("_label.csv", ".csv"))
    events = []
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise InputFormatError(f"expected 3 columns (gestureID,startFrame,endFrame), "
                                       f"got {len(row)}", path, n)
            raw = _int(row[0], "gestureID", path, n)
            try:
                cid = taxonomy.from_imigue_raw(raw)
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
            sf, ef = _int(row[1], "startFrame", path, n), _int(row[2], "endFrame", path, n)
            events.append(_event(path, n, video_id=vid, class_id=cid, start=sf / fps,
                                 end=(ef + 1) / fps))
    return EventStream(tuple(events), {"fps": fps})


def _write_miga(stream: EventStream, path: Path, fps: float) -> None:
    if len(stream.video_ids) > 1:
        raise NfblError(f"a MiGA label file holds one video, the stream has "
                        f"{len(stream.video_ids)}; write one <vid>_label.csv per video")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for e in stream:
        sf = int(round(e.start * fps))
        ef = max(sf, int(round(e.end * fps)) - 1)
        w.writerow([taxonomy.to_imigue_raw(e.class_id), sf, ef])
    with atomic_open(path, newline="") as fh:
        fh.write(buf.getvalue())
