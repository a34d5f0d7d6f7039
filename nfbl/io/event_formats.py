"""Event-stream file formats: read and write, all round-trip tested.

:data:`EVENT_FORMATS` is the one table of event formats: the CLI (``--from``/``--to``),
``bench``, ``emotion`` and the datasets ask it. Adding a format is one reader/writer pair
(here or in a new module) plus one row in that table.

============== ========================= ==============================================
format         typical name              content
============== ========================= ==============================================
jsonl          ``events.jsonl``          nfbl's versioned schema: a header line, then
                                         one event object per line (times in seconds)
csv            ``events.csv``            one event per row, nfbl's columns
activitynet    ``results.json``          ActivityNet detection results (reads ground
                                         truth too, one ``subset`` at a time)
activitynet-gt ``gt.gt.json``            ActivityNet ground-truth ``database`` form
eaf            ``video.eaf``             ELAN (pympi-ling); any tier whose values name
                                         NFBL classes, or mapped by the user
imigue         ``labels_20200831.csv``   the iMiGUE label table (linuxsino/iMiGUE)
imigue-raw     ``Label/raw/<video>.txt`` iMiGUE ``start_s<TAB>end_s<TAB>class``
miga           ``<vid>_label.csv``       MiGA labels ``gestureID,sframe,eframe``
============== ========================= ==============================================

The iMiGUE label table's columns are ``video_id,label_id,start_time,start_frame,end_time,
end_frame,class,subject_id,subject_gender,subject_nationality,win_or_lose``: ``label_id`` is
a running index within each video (1..n), ``class`` the raw class (1..31 = N0..N30, 99 =
N31). Times are seconds with 4 decimals and ``frame = floor(time x 25)``; nfbl reads the
seconds from the time columns (the frame columns are a fallback: ``frame / fps``).

The MiGA label file (organisers' ``iMiGUEaccessSample.py``, ``GestureSample``) holds
``gestureID,sframe,eframe`` with 0-based frame numbers (the kit adds 1 to both to index its
1-based frames and flags ``eframe - sframe`` frames). As in the label table, where
``frame = floor(time x 25)``, nfbl reads ``[sframe / fps, eframe / fps)`` (one frame when
``eframe == sframe``).

Writers are atomic (temporary file + rename) and leave no side file. Every reader refuses
FIFOs and folders, accepts a UTF-8 BOM, and refuses events with negative times.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Callable, Iterable, Mapping

from nfbl.core import taxonomy
from nfbl.core.atomic import atomic_open, atomic_path
from nfbl.core.errors import InputFormatError, MissingDependencyError, NfblError
from nfbl.core.events import SCHEMA_VERSION, Event, EventStream
from nfbl.io.inputs import check_input, load_json, open_text

log = logging.getLogger(__name__)

JSONL_SCHEMA = "nfbl.core.events"
CSV_COLUMNS = ("video_id", "track_id", "class_id", "code", "label", "start", "end", "score", "model")
IMIGUE_COLUMNS = ("video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame",
                  "class", "subject_id", "subject_gender", "subject_nationality", "win_or_lose")
_VIDEO_INFO_KEYS = ("subject_id", "subject_gender", "subject_nationality", "win_or_lose")


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides the path.

    fps: frame rate of frame-based formats; video_id: for formats that carry none;
    subset: ActivityNet ground-truth subset (``training``/``validation``/``testing``);
    label_map: label or annotation value → NFBL class (id, code or name; None = skip);
    tier_map: ELAN tier name → NFBL class of every annotation on it (None = skip the tier).
    """

    fps: float = 25.0
    video_id: str | None = None
    subset: str | None = None
    label_map: Mapping[str, int | None] = field(default_factory=dict)
    tier_map: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class EventFormatSpec:
    """One row of :data:`EVENT_FORMATS`.

    suffixes: lower-case name endings that select the format; sniff: optional test of a
    ``.csv`` file's first line (claims the file when it returns True); read/write: the
    reader ``(path, ReadOptions) -> EventStream`` and writer ``(stream, path, fps)``;
    one_video: the format holds a single video (the writer refuses several).
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, ReadOptions], EventStream]
    write: Callable[[EventStream, Path, float], None]
    description: str
    sniff: Callable[[str], bool] | None = None
    one_video: bool = False


# --- public API ----------------------------------------------------------------------------

def get_format(fmt: "str | EventFormatSpec | None") -> EventFormatSpec | None:
    """The table row named ``fmt`` (None passes through)."""
    if fmt is None or isinstance(fmt, EventFormatSpec):
        return fmt
    spec = EVENT_FORMATS.get(str(fmt).lower())
    if spec is None:
        raise NfblError(f"unknown event format {fmt!r}; choose one of {', '.join(EVENT_FORMATS)}")
    return spec


def format_names() -> tuple[str, ...]:
    return tuple(EVENT_FORMATS)


def guess_format(path: str | Path, for_reading: bool = True) -> EventFormatSpec:
    """Choose a format from the file name (and, when reading a ``.csv``, its first line)."""
    p = Path(path)
    name = p.name.lower()
    if for_reading and name.endswith(".csv") and p.is_file():
        try:
            with open_text(p) as fh:
                first = fh.readline().strip().lower()
        except (OSError, UnicodeDecodeError, NfblError):
            first = ""
        for spec in EVENT_FORMATS.values():
            if spec.sniff is not None and spec.sniff(first):
                return spec
    best = None
    for spec in EVENT_FORMATS.values():
        for suf in spec.suffixes:
            if name.endswith(suf) and (best is None or len(suf) > best[0]):
                best = (len(suf), spec)
    if best is not None:
        return best[1]
    raise NfblError(f"{path}: cannot tell the event format from the file name; pass --from/--to "
                    f"({', '.join(EVENT_FORMATS)})")


def read_events(path: str | Path, fmt: "str | EventFormatSpec | None" = None, fps: float = 25.0,
                video_id: str | None = None, *, subset: str | None = None,
                label_map: Mapping[str, int | None] | None = None,
                tier_map: Mapping[str, int | None] | None = None) -> EventStream:
    """Read an event file. ``video_id`` names the video for formats that carry none (MiGA,
    ELAN without the property); by default it comes from the file name. ``subset``,
    ``label_map`` and ``tier_map``: see :class:`ReadOptions`."""
    path = check_input(path, "file")
    f = get_format(fmt) or guess_format(path)
    opts = ReadOptions(fps, video_id, subset, dict(label_map or {}), dict(tier_map or {}))
    try:
        stream = f.read(path, opts)
    except UnicodeDecodeError:
        raise InputFormatError(f"not a text file (expected {f.name})", path) from None
    for e in stream:
        if e.start < 0:
            raise InputFormatError(f"event N{e.class_id} of {e.video_id!r} starts at "
                                   f"{e.start:g} s; times must not be negative", path)
    meta = dict(stream.meta)
    meta.setdefault("source", str(path))
    return EventStream(stream.events, meta)


def write_events(stream: EventStream, path: str | Path, fmt: "str | EventFormatSpec | None" = None,
                 fps: float = 25.0) -> Path:
    """Write ``stream`` atomically in the given (or guessed) format; returns the path."""
    path = Path(path)
    f = get_format(fmt) or guess_format(path, for_reading=False)
    if f.one_video and len(stream.video_ids) > 1:
        raise NfblError(f"a {f.name} file holds one video, the stream has "
                        f"{len(stream.video_ids)}; write one file per video")
    f.write(stream, path, fps)
    return path


def read_label_map(path: str | Path) -> dict[str, int | None]:
    """A user's label mapping file → ``{their label: NFBL id or None}``.

    JSON ``{"their label": "N16" | 16 | "Folding arms" | null}``, or a two-column CSV
    ``their_label,nfbl_class`` (an empty class skips the label). A header row is allowed.
    """
    path = check_input(path, "file")
    pairs: list[tuple[str, object]] = []
    if path.name.lower().endswith(".json"):
        doc = load_json(path)
        if not isinstance(doc, dict):
            raise InputFormatError("a label map must be a JSON object {label: class}", path)
        pairs = [(str(k), v) for k, v in doc.items()]
    else:
        with open_text(path, newline="") as fh:
            for n, row in enumerate(csv.reader(fh), 1):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != 2:
                    raise InputFormatError("a label map CSV has two columns: label,class", path, n)
                pairs.append((row[0].strip(), row[1].strip() or None))
    out: dict[str, int | None] = {}
    for k, (label, value) in enumerate(pairs):
        if value is None:
            out[label] = None
            continue
        try:
            out[label] = taxonomy.lookup(value if isinstance(value, int) else str(value)).id
        except NfblError as exc:
            if k == 0 and not path.name.lower().endswith(".json"):
                continue  # a header row such as "label,class"
            raise InputFormatError(f"label {label!r}: {exc}", path) from None
    return out


# --- helpers -------------------------------------------------------------------------------

def _event(path: Path, line: int | None, **kw) -> Event:
    try:
        return Event(**kw)
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def _check_fps(fps: float, path: Path) -> float:
    if not fps or not math.isfinite(fps) or fps <= 0:
        raise InputFormatError(f"frame-based format needs a positive --fps, got {fps}", path)
    return float(fps)


def _float(value: str, what: str, path: Path, line: int | None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputFormatError(f"{what} {value!r} is not a number", path, line) from None
    if not math.isfinite(v):
        raise InputFormatError(f"{what} {value!r} is not a finite number", path, line)
    return v


def _int(value: str, what: str, path: Path, line: int | None) -> int:
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


def _lookup_code(code: str, path: Path, line: int | None) -> int:
    try:
        return taxonomy.lookup(code).id
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def _resolve_label(value: str, label_map: Mapping[str, int | None]) -> tuple[bool, int | None]:
    """(known, class id) of a label: the user's map first (exact, then case-insensitive),
    then nfbl's own forms (``N16``, a class name, ``"N16 Folding arms|0.83"``); a bare
    number is never taken for a class id (map it with ``label_map``)."""
    text = str(value).strip()
    if text in label_map:
        return True, label_map[text]
    low = {k.lower(): v for k, v in label_map.items()}
    if text.lower() in low:
        return True, low[text.lower()]
    head = text.split("|", 1)[0].strip()
    first = head.split(" ", 1)[0]
    cands = [text, head] + ([first] if re.fullmatch(r"[Nn]\d+", first) else [])
    for cand in cands:
        if cand.isdigit():
            continue  # a bare number is too common a value to be taken for a class id
        try:
            return True, taxonomy.lookup(cand).id
        except NfblError:
            continue
    return False, None


# --- JSON Lines ----------------------------------------------------------------------------

def _read_jsonl(path: Path, o: ReadOptions) -> EventStream:
    events, meta = [], {}
    with open_text(path) as fh:
        for i, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputFormatError(f"invalid JSON ({exc.msg})", path, i) from None
            except RecursionError:
                raise InputFormatError("JSON nested too deeply", path, i) from None
            if not isinstance(obj, dict):
                raise InputFormatError("expected a JSON object per line", path, i)
            if obj.get("schema") == JSONL_SCHEMA:
                version = obj.get("version", 0)
                if not isinstance(version, int):
                    raise InputFormatError(f"events schema version {version!r} is not an "
                                           "integer", path, i)
                if version > SCHEMA_VERSION:
                    raise InputFormatError(f"events schema version {version} is newer than "
                                           f"this nfbl ({SCHEMA_VERSION}); upgrade nfbl", path, i)
                m = obj.get("meta", {})
                meta = dict(m) if isinstance(m, dict) else {}
                continue
            if o.video_id is not None and "video_id" not in obj:
                obj = {**obj, "video_id": o.video_id}
            try:
                events.append(Event.from_dict(obj))
            except NfblError as exc:
                raise InputFormatError(str(exc), path, i) from None
            if events[-1].start < 0:
                raise InputFormatError(f"start {events[-1].start:g} is negative", path, i)
    return EventStream(tuple(events), meta)


def _write_jsonl(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path) as fh:
        header = {"schema": JSONL_SCHEMA, "version": SCHEMA_VERSION, "meta": stream.meta}
        fh.write(json.dumps(header, default=str) + "\n")
        for e in stream:
            fh.write(json.dumps(e.to_dict()) + "\n")


# --- nfbl CSV ------------------------------------------------------------------------------

def _read_csv(path: Path, o: ReadOptions) -> EventStream:
    with open_text(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        need = {"start", "end"} | ({"video_id"} if o.video_id is None else set())
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
            start = _float(row["start"], "start", path, line)
            if start < 0:
                raise InputFormatError(f"start {start:g} is negative", path, line)
            events.append(_event(path, line, video_id=row.get("video_id") or o.video_id,
                                 class_id=cid, start=start,
                                 end=_float(row["end"], "end", path, line),
                                 score=_float(row.get("score") or 1.0, "score", path, line),
                                 track_id=_int(row.get("track_id") or 0, "track id", path, line),
                                 model=row.get("model") or ""))
    return EventStream(tuple(events))


def _write_csv(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        for e in stream:
            w.writerow(e.to_dict())


# --- ActivityNet JSON ----------------------------------------------------------------------

def _read_activitynet(path: Path, o: ReadOptions) -> EventStream:
    doc = load_json(path)
    if not isinstance(doc, dict) or not ({"results", "database"} & set(doc)):
        raise InputFormatError("not an ActivityNet file (no 'results' or 'database' key)", path)
    events, meta = [], {}
    unknown: dict[str, int] = {}
    skipped = 0
    if "results" in doc:
        if not isinstance(doc["results"], dict):
            raise InputFormatError("'results' must be an object {video: [...]}", path)
        items = list(doc["results"].items())
        get = lambda v: v  # noqa: E731
    else:
        db = doc["database"]
        if not isinstance(db, dict):
            raise InputFormatError("'database' must be an object {video: {...}}", path)
        subsets = sorted({str(v.get("subset")) for v in db.values() if isinstance(v, dict)
                          and v.get("subset") is not None})
        if o.subset is not None:
            if o.subset not in subsets:
                raise InputFormatError(f"no video of subset {o.subset!r} (subsets here: "
                                       f"{', '.join(subsets) or 'none'})", path)
            db = {k: v for k, v in db.items() if isinstance(v, dict)
                  and v.get("subset") == o.subset}
            meta["subset"] = o.subset
        elif len(subsets) > 1:
            log.warning("%s: ground truth holds the subsets %s together; pass --subset to "
                        "score one", path, ", ".join(subsets))
        items = list(db.items())
        get = lambda v: v.get("annotations", []) if isinstance(v, dict) else None  # noqa: E731
        meta["durations"] = {k: v.get("duration") for k, v in db.items()
                             if isinstance(v, dict) and v.get("duration") is not None}
    for vid, entries in items:
        entries = get(entries)
        if not isinstance(entries, list):
            raise InputFormatError(f"entry {vid}: expected a list of segments", path)
        for k, d in enumerate(entries):
            where = f"{vid}[{k}]"
            try:
                seg = d["segment"]
                if "class_id" in d:
                    known, cid = True, int(d["class_id"])
                else:
                    known, cid = _resolve_label(d["label"], o.label_map)
                if not known:
                    unknown[str(d["label"])] = unknown.get(str(d["label"]), 0) + 1
                    continue
                if cid is None:
                    skipped += 1
                    continue
                start, end = float(seg[0]), float(seg[1])
                events.append(Event(str(vid), int(cid), start, end,
                                    float(d.get("score", 1.0)), int(d.get("track_id", 0)),
                                    str(d.get("model", ""))))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise InputFormatError(f"entry {where} is malformed ({exc!r})", path) from None
            except NfblError as exc:
                raise InputFormatError(f"entry {where}: {exc}", path) from None
    if unknown:
        shown = ", ".join(f"{k!r} ({n})" for k, n in sorted(unknown.items())[:5])
        raise InputFormatError(f"{len(unknown)} label(s) name no NFBL class: {shown}; map them "
                               "with --label-map FILE (JSON {label: class or null})", path)
    if skipped:
        meta["skipped_by_label_map"] = skipped
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


def _write_activitynet_gt(stream: EventStream, path: Path, fps: float) -> None:
    """Ground truth in the ActivityNet ``database`` form that the official evaluator
    (``Evaluation/eval_detection.py``) reads: per video its ``subset`` (``meta["subset"]``,
    else ``validation``), ``duration`` (``meta["durations"]``, else the last event's end) and
    ``annotations`` (``label``, ``segment``)."""
    meta = stream.meta if isinstance(stream.meta, dict) else {}
    subset = str(meta.get("subset") or "validation")
    durations = meta.get("durations") if isinstance(meta.get("durations"), dict) else {}
    db: dict[str, dict] = {}
    for v in stream.video_ids:
        evs = [e for e in stream if e.video_id == v]
        dur = durations.get(v) or max(e.end for e in evs)
        db[v] = {"subset": subset, "duration": round(float(dur), 6), "annotations": [
            {"label": e.label, "segment": [round(e.start, 6), round(e.end, 6)]} for e in evs]}
    taxonomy_rows = [{"nodeId": c, "nodeName": taxonomy.get(c).name, "parentId": None,
                      "parentName": None} for c in sorted({e.class_id for e in stream})]
    doc = {"version": "VERSION 1.3", "taxonomy": taxonomy_rows, "database": db}
    with atomic_open(path) as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


# --- ELAN ----------------------------------------------------------------------------------

_EAF_TIER = "NFBL track "
_EAF_TIER_RE = re.compile(r"^NFBL track (\d+)(?: \((\d+)\))?$")
_EAF_VIDEO_PROP = "nfbl_video_id"


def _pympi():
    try:
        import pympi  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("pympi-ling", "extras", "Reading/writing ELAN .eaf files") from None
    return pympi


def _read_eaf(path: Path, o: ReadOptions) -> EventStream:
    pympi = _pympi()
    try:
        eaf = pympi.Elan.Eaf(str(path))
    except Exception as exc:  # pympi raises bare XML/parse errors
        raise InputFormatError(f"not a readable ELAN file ({exc.__class__.__name__}: {exc})", path) from None
    vid = o.video_id
    if vid is None:
        props = list(getattr(eaf, "properties", []) or [])
        vid = next((v for k, v in props if k == _EAF_VIDEO_PROP), None) or path.stem
    events, unread = [], {}
    total = unaligned = 0
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
                known, cid = _resolve_label(value, o.label_map)
                if not known:
                    if m:
                        raise InputFormatError(f"tier {tier!r}: {value!r} names no NFBL class",
                                               path)
                    bad += 1
                    continue
                if cid is None:
                    continue
            score = 1.0
            if "|" in value:
                score = _float(value.rsplit("|", 1)[1], "score", path, None)
            events.append(_event(path, None, video_id=vid, class_id=cid, start=start_ms / 1000.0,
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


def _write_eaf(stream: EventStream, path: Path, fps: float) -> None:
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
    """Raw iMiGUE class (1..31, 99) → NFBL id; a class name or code is accepted too."""
    text = value.strip()
    try:
        raw = int(text)
    except ValueError:
        return _lookup_code(text, path, line)
    try:
        return taxonomy.from_imigue_raw(raw)
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def _sniff_imigue(first: str) -> bool:
    return first.startswith("video_id,label_id") or "win_or_lose" in first


def _read_imigue(path: Path, o: ReadOptions) -> EventStream:
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
            fps = _check_fps(o.fps, path)
            sf = _int(get("start_frame"), "start_frame", path, n)
            ef = _int(get("end_frame"), "end_frame", path, n)
            start, end = sf / fps, (ef if ef > sf else sf + 1) / fps
        else:
            raise InputFormatError("row has neither times nor frames", path, n)
        if start < 0:
            raise InputFormatError(f"start {start:g} is negative", path, n)
        events.append(_event(path, n, video_id=vid, class_id=cid, start=start, end=end))
        info = {k: get(k) for k in _VIDEO_INFO_KEYS if get(k) != ""}
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


def _write_imigue(stream: EventStream, path: Path, fps: float) -> None:
    """The real layout: ``label_id`` counts 1..n within each video, ``class`` is the raw
    class, times have 4 decimals, frames are ``floor(time x fps)``."""
    _check_fps(fps, path)
    videos = stream.meta.get("videos", {}) if isinstance(stream.meta, dict) else {}
    counter: dict[str, int] = {}
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(IMIGUE_COLUMNS)
        for e in stream:
            counter[e.video_id] = counter.get(e.video_id, 0) + 1
            info = videos.get(e.video_id, {}) if isinstance(videos, dict) else {}
            w.writerow([e.video_id, counter[e.video_id], f"{e.start:.4f}",
                        imigue_frame(e.start, fps), f"{e.end:.4f}", imigue_frame(e.end, fps),
                        taxonomy.to_imigue_raw(e.class_id)]
                       + [info.get(k, "") for k in _VIDEO_INFO_KEYS])


# --- iMiGUE per-video raw label file (Label/raw/<video>.txt) ---------------------------------

def _read_imigue_raw(path: Path, o: ReadOptions) -> EventStream:
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
            start = _float(parts[0], "start", path, n)
            end = _float(parts[1], "end", path, n)
            if start < 0:
                raise InputFormatError(f"start {start:g} is negative", path, n)
            events.append(_event(path, n, video_id=vid, class_id=_imigue_class(parts[2], path, n),
                                 start=start, end=end))
    return EventStream(tuple(events))


def _write_imigue_raw(stream: EventStream, path: Path, fps: float) -> None:
    with atomic_open(path, newline="") as fh:
        for e in stream:
            fh.write(f"{e.start:.4f}\t{e.end:.4f}\t{taxonomy.to_imigue_raw(e.class_id)}\n")


# --- MiGA label CSV --------------------------------------------------------------------------

def _sniff_miga(first: str) -> bool:
    return re.fullmatch(r"\s*\d+\s*,\s*\d+\s*,\s*\d+\s*", first) is not None


def _read_miga(path: Path, o: ReadOptions) -> EventStream:
    fps = _check_fps(o.fps, path)
    vid = o.video_id or _video_id_from_name(path, ("_label.csv", ".csv"))
    events = []
    with open_text(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise InputFormatError(f"expected 3 columns (gestureID,sframe,eframe), "
                                       f"got {len(row)}", path, n)
            raw = _int(row[0], "gestureID", path, n)
            try:
                cid = taxonomy.from_imigue_raw(raw)
            except NfblError as exc:
                raise InputFormatError(str(exc), path, n) from None
            sf, ef = _int(row[1], "sframe", path, n), _int(row[2], "eframe", path, n)
            if sf < 0:
                raise InputFormatError(f"sframe {sf} is negative", path, n)
            if ef < sf:
                raise InputFormatError(f"eframe {ef} < sframe {sf}", path, n)
            events.append(_event(path, n, video_id=vid, class_id=cid, start=sf / fps,
                                 end=(ef if ef > sf else sf + 1) / fps))
    return EventStream(tuple(events), {"fps": fps})


def _write_miga(stream: EventStream, path: Path, fps: float) -> None:
    _check_fps(fps, path)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for e in stream:
        sf = int(round(e.start * fps))
        ef = max(sf + 1, int(round(e.end * fps)))
        w.writerow([taxonomy.to_imigue_raw(e.class_id), sf, ef])
    with atomic_open(path, newline="") as fh:
        fh.write(buf.getvalue())


# --- the table -------------------------------------------------------------------------------

#: Every event format nfbl reads and writes, by name (the order is the ``--help`` order;
#: a ``.csv`` is sniffed by the rows with ``sniff`` before the name endings decide).
EVENT_FORMATS: Mapping[str, EventFormatSpec] = {s.name: s for s in (
    EventFormatSpec("jsonl", (".jsonl", ".ndjson"), _read_jsonl, _write_jsonl,
                    "nfbl JSON Lines (header + one event per line, seconds)"),
    EventFormatSpec("csv", (".csv",), _read_csv, _write_csv, "nfbl CSV, one event per row"),
    EventFormatSpec("activitynet", (".json",), _read_activitynet, _write_activitynet,
                    "ActivityNet results / ground-truth database JSON"),
    EventFormatSpec("activitynet-gt", (".gt.json",), _read_activitynet, _write_activitynet_gt,
                    "ActivityNet ground-truth database JSON (for the official evaluator)"),
    EventFormatSpec("eaf", (".eaf",), _read_eaf, _write_eaf, "ELAN annotation file",
                    one_video=True),
    EventFormatSpec("imigue", (".imigue.csv",), _read_imigue, _write_imigue,
                    "iMiGUE label table (labels_20200831.csv layout)", sniff=_sniff_imigue),
    EventFormatSpec("imigue-raw", (".txt",), _read_imigue_raw, _write_imigue_raw,
                    "iMiGUE Label/raw/<video>.txt: start_s, end_s, class (tab-separated)",
                    one_video=True),
    EventFormatSpec("miga", ("_label.csv",), _read_miga, _write_miga,
                    "MiGA label CSV gestureID,sframe,eframe (0-based, eframe exclusive)",
                    sniff=_sniff_miga, one_video=True),
)}
