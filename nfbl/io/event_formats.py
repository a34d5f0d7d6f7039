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
textgrid       ``video.TextGrid``        Praat; read like ELAN's tiers
imigue         ``labels_20200831.csv``   the iMiGUE label table (linuxsino/iMiGUE)
imigue-raw     ``Label/raw/<video>.txt`` iMiGUE ``start_s<TAB>end_s<TAB>class``
miga           ``<vid>_label.csv``       MiGA labels ``gestureID,sframe,eframe``
boris          ``project.boris``         BORIS project (JSON, or gzip ``.boris.gz``);
                                         read only
boris-export   ``events.tsv``            BORIS "Export (aggregated) events" tables, TSV
                                         or CSV; written in the aggregated layout
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
import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from nfbl.core import taxonomy
from nfbl.core.atomic import atomic_open
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import SCHEMA_VERSION, Event, EventStream
from nfbl.io.boris import (export_labels, project_labels, read_boris_export, read_boris_project,
                           sniff_boris_export, write_boris_export)
from nfbl.io.elan import eaf_labels, read_eaf, write_eaf
from nfbl.io.praat import read_textgrid, textgrid_labels, write_textgrid
from nfbl.io.smg import read_smg_events
from nfbl.io.event_common import (CSV_COLUMNS, JSONL_SCHEMA, ReadOptions, class_map,
                                  lookup_code, make_event, parse_float, parse_int,
                                  resolve_label)
from nfbl.io.inputs import check_input, is_regular_file, load_json, open_text
from nfbl.io.label_tables import imigue_frame  # noqa: F401 - part of this module's API
from nfbl.io.label_tables import (read_imigue, read_imigue_raw, read_miga, sniff_imigue,
                                  sniff_miga, write_imigue, write_imigue_raw, write_miga)

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EventFormatSpec:
    """One row of :data:`EVENT_FORMATS`.

    suffixes: lower-case name endings that select the format; sniff: optional test of a
    ``.csv`` file's first line (claims the file when it returns True); read/write: the
    reader ``(path, ReadOptions) -> EventStream`` and writer ``(stream, path, fps)`` (None:
    nfbl reads the format but does not write it);
    one_video: the format holds a single video (the writer refuses several); labels: for
    formats whose labels are the annotator's own words, ``(path, ReadOptions) -> Counter``
    of the labels the file uses (see :func:`label_counts`); weak_sniff: the sniff matches
    content other formats share (MiGA's bare integer triples are SMG's too), so a specific
    name ending of another format wins over it.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, ReadOptions], EventStream]
    write: Callable[[EventStream, Path, float], None] | None
    description: str
    sniff: Callable[[str], bool] | None = None
    one_video: bool = False
    labels: Callable[[Path, ReadOptions], Counter] | None = None
    weak_sniff: bool = False


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
    """Choose a format from the file name and, when reading a ``.csv``, its first line: a
    header that names its format (the iMiGUE table's, a BORIS export's) first, then a
    specific name ending (``_label.csv``, ``_finelabels.csv``, ``.imigue.csv``), then a
    weak sniff (MiGA's bare integer triples, which SMG labels share), then the plain
    ending."""
    p = Path(path)
    name = p.name.lower()
    best = None
    for spec in EVENT_FORMATS.values():
        for suf in spec.suffixes:
            if name.endswith(suf) and (best is None or len(suf) > best[0]):
                best = (len(suf), spec)
    specific = best is not None and best[0] > len(".csv") and name.endswith(".csv")
    if for_reading and name.endswith(".csv") and p.is_file():
        try:
            with open_text(p) as fh:
                first = fh.readline().strip().lower()
        except (OSError, UnicodeDecodeError, NfblError):
            first = ""
        claims = [s for s in EVENT_FORMATS.values() if s.sniff is not None and s.sniff(first)]
        strong = [s for s in claims if not s.weak_sniff]
        if strong:
            return strong[0]
        if claims and not specific:
            return claims[0]
    if best is not None:
        return best[1]
    raise NfblError(f"{path}: cannot tell the event format from the file name; pass --from/--to "
                    f"({', '.join(EVENT_FORMATS)})")


def read_events(path: str | Path, fmt: "str | EventFormatSpec | None" = None,
                fps: float | None = None,
                video_id: str | None = None, *, subset: str | None = None,
                label_map: Mapping[str, int | None] | None = None,
                tier_map: Mapping[str, int | None] | None = None) -> EventStream:
    """Read an event file. ``fps``: frame rate of frame-based formats (None: the format's
    default, 25, or 30 for SMG labels). ``video_id`` names the video for formats that carry none (MiGA,
    ELAN without the property); by default it comes from the file name. ``subset``,
    ``label_map`` and ``tier_map``: see :class:`ReadOptions`."""
    path = check_input(path, "file")
    f = get_format(fmt) or guess_format(path)
    opts = ReadOptions(fps, video_id, subset, class_map(label_map),
                       class_map(tier_map, "tier map"))
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
    if f.write is None:
        raise NfblError(f"nfbl reads {f.name} files but does not write them; "
                        f"choose another format ({', '.join(n for n, s in EVENT_FORMATS.items() if s.write)})")
    if f.one_video and len(stream.video_ids) > 1:
        raise NfblError(f"a {f.name} file holds one video, the stream has "
                        f"{len(stream.video_ids)}; write one file per video")
    f.write(stream, path, fps)
    return path


def folder_suffixes() -> tuple[str, ...]:
    """Name endings of the event files read from a folder (every format's, except ``.txt``:
    too common in a folder to mean iMiGUE raw labels; name such files one by one)."""
    return tuple(sorted({s for f in EVENT_FORMATS.values() for s in f.suffixes} - {".txt"}))


def event_files(folder: str | Path, recursive: bool = False,
                exclude: "set[Path] | frozenset[Path]" = frozenset()) -> list[Path]:
    """The event files of ``folder`` by name (:func:`folder_suffixes`), sorted; hidden files
    and folders, the resolved paths in ``exclude``, and keypoint files named as such that sit
    beside labels (OpenPose ``_keypoints.json``, AlphaPose's results, MiGA
    ``_light_hand.csv``, SMG ``_skeleton.csv`` and ``_data.csv``) are left out."""
    from nfbl.io.keypoints import KEYPOINT_FORMATS  # noqa: PLC0415 - a light table
    folder = Path(folder)
    ends = folder_suffixes()
    not_events = tuple(s for f in KEYPOINT_FORMATS.values() for s in f.suffixes
                       if s.startswith("_") or s == "alphapose-results.json") + ("_data.csv",)
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found
                  if is_regular_file(p) and p.name.lower().endswith(ends)
                  and not p.name.lower().endswith(not_events)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                  and p.resolve() not in exclude)


def read_event_files(paths: "list[Path]", fmt: "str | EventFormatSpec | None" = None,
                     fps: float | None = None, *, subset: str | None = None,
                     label_map: Mapping[str, int | None] | None = None,
                     source: str | None = None) -> EventStream:
    """Several event files as one stream (in the given order), their video tables
    (``meta["videos"]``) and lengths (``meta["durations"]``) joined."""
    streams = [read_events(p, fmt=fmt, fps=fps, subset=subset, label_map=label_map) for p in paths]
    videos: dict = {}
    for s in streams:
        if isinstance(s.meta.get("videos"), dict):
            videos.update(s.meta["videos"])
    durations = EventStream.concat(streams).meta.get("durations")
    meta = ({"source": source or ", ".join(map(str, paths))} | ({"videos": videos} if videos else {})
            | ({"durations": durations} if durations else {}))
    return EventStream(tuple(e for s in streams for e in s.events), meta)


def label_counts(path: str | Path, fmt: "str | EventFormatSpec | None" = None, *,
                 subset: str | None = None) -> Counter:
    """The labels an annotation file uses, with their counts (BORIS behaviour codes, ELAN
    annotation values, ActivityNet labels): what a label map has to cover. Formats that name
    NFBL classes themselves (nfbl JSONL/CSV, iMiGUE, MiGA) have none."""
    path = check_input(path, "file")
    f = get_format(fmt) or guess_format(path)
    if f.labels is None:
        raise NfblError(f"{f.name} files name NFBL classes themselves; there are no labels to map")
    try:
        return f.labels(path, ReadOptions(subset=subset))
    except UnicodeDecodeError:
        raise InputFormatError(f"not a text file (expected {f.name})", path) from None


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
            cid = (parse_int(row["class_id"], "class id", path, line) if row.get("class_id")
                   else lookup_code(row["code"], path, line))
            start = parse_float(row["start"], "start", path, line)
            if start < 0:
                raise InputFormatError(f"start {start:g} is negative", path, line)
            events.append(make_event(path, line, video_id=row.get("video_id") or o.video_id,
                                 class_id=cid, start=start,
                                 end=parse_float(row["end"], "end", path, line),
                                 score=parse_float(row.get("score") or 1.0, "score", path, line),
                                 track_id=parse_int(row.get("track_id") or 0, "track id", path, line),
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
                if "class_id" in d and d.get("code") == f"N{d['class_id']}":
                    known, cid = True, int(d["class_id"])  # written by nfbl: ids are NFBL's
                else:  # the evaluator reads only "label"; another tool's class_id is not ours
                    known, cid = resolve_label(d["label"], o.label_map)
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


def _activitynet_labels(path: Path, o: ReadOptions) -> Counter:
    """``label`` → segments, in the results or (one ``subset`` of) the ground truth."""
    doc = load_json(path)
    if not isinstance(doc, dict) or not ({"results", "database"} & set(doc)):
        raise InputFormatError("not an ActivityNet file (no 'results' or 'database' key)", path)
    if "results" in doc and isinstance(doc["results"], dict):
        groups = list(doc["results"].values())
    else:
        db = doc.get("database") if isinstance(doc.get("database"), dict) else {}
        groups = [v.get("annotations") for v in db.values() if isinstance(v, dict)
                  and (o.subset is None or v.get("subset") == o.subset)]
    return Counter(str(d["label"]) for g in groups if isinstance(g, list)
                   for d in g if isinstance(d, dict) and "label" in d)


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


# --- the table -------------------------------------------------------------------------------

#: Every event format nfbl reads and writes, by name (the order is the ``--help`` order;
#: a ``.csv`` is sniffed by the rows with ``sniff`` before the name endings decide).
EVENT_FORMATS: Mapping[str, EventFormatSpec] = {s.name: s for s in (
    EventFormatSpec("jsonl", (".jsonl", ".ndjson"), _read_jsonl, _write_jsonl,
                    "nfbl JSON Lines (header + one event per line, seconds)"),
    EventFormatSpec("csv", (".csv",), _read_csv, _write_csv, "nfbl CSV, one event per row"),
    EventFormatSpec("activitynet", (".json",), _read_activitynet, _write_activitynet,
                    "ActivityNet results / ground-truth database JSON",
                    labels=_activitynet_labels),
    EventFormatSpec("activitynet-gt", (".gt.json",), _read_activitynet, _write_activitynet_gt,
                    "ActivityNet ground-truth database JSON (for the official evaluator)",
                    labels=_activitynet_labels),
    EventFormatSpec("eaf", (".eaf",), read_eaf, write_eaf, "ELAN annotation file",
                    one_video=True, labels=eaf_labels),
    EventFormatSpec("textgrid", (".textgrid",), read_textgrid, write_textgrid,
                    "Praat TextGrid (text formats; UTF-8, UTF-16 or Latin-1)",
                    one_video=True, labels=textgrid_labels),
    EventFormatSpec("imigue", (".imigue.csv",), read_imigue, write_imigue,
                    "iMiGUE label table (labels_20200831.csv layout)", sniff=sniff_imigue),
    EventFormatSpec("imigue-raw", (".txt",), read_imigue_raw, write_imigue_raw,
                    "iMiGUE Label/raw/<video>.txt: start_s, end_s, class (tab-separated)",
                    one_video=True),
    EventFormatSpec("miga", ("_label.csv",), read_miga, write_miga,
                    "MiGA label CSV gestureID,sframe,eframe (0-based, eframe exclusive)",
                    sniff=sniff_miga, one_video=True, weak_sniff=True),
    EventFormatSpec("smg", ("_finelabels.csv",), read_smg_events, None,
                    "SMG <ID>_finelabels.csv label,start,end (SMG classes, Kinect frames; "
                    "read only)", one_video=True),
    EventFormatSpec("boris", (".boris", ".boris.gz"), read_boris_project, None,
                    "BORIS project (read only): state and point events of every observation",
                    labels=project_labels),
    EventFormatSpec("boris-export", (".tsv",), read_boris_export, write_boris_export,
                    "BORIS exported events, aggregated or tabular (TSV, or CSV by its header)",
                    sniff=sniff_boris_export, labels=export_labels),
)}
