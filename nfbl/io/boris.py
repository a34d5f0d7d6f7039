"""BORIS (Behavioral Observation Research Interactive Software) event files: projects
(``.boris``, ``.boris.gz``) and BORIS's exported event tables (``.tsv``/``.csv``). Listed in
:data:`nfbl.io.event_formats.EVENT_FORMATS` as ``boris`` (read) and ``boris-export`` (read and
write).

Read from BORIS's own code (olivierfriard/BORIS: ``config.py``, ``project_functions.py``
``open_project_json``/``events_start_stop``, ``export_observation.py``
``export_tabular_events``/``export_aggregated_events``, ``export_events.py``; see
docs/formats.md):

* A project is JSON (gzip for ``.boris.gz``). ``behaviors_conf`` is the ethogram: entries with
  ``code`` and ``type`` (``"State event"`` / ``"Point event"``, optionally "... with coding
  map"). ``observations`` maps an observation id to ``type`` (``MEDIA``/``LIVE``/``IMAGES``),
  ``file`` (player number → media paths), ``media_info`` (``length``/``fps`` per path),
  ``time offset`` and ``events``: ``[time, subject, code, modifier, comment(, frame index)]``
  sorted by time. A state event is a START when the number of earlier events with the same
  code, subject and modifier is even, a STOP when it is odd.
* BORIS stores a media event at the player position plus the observation's time offset;
  nfbl subtracts the offset, so events are in the video's own time.
* The aggregated export has one row per bout (``Start (s)``, ``Stop (s)``, ``Behavior type``
  STATE or POINT); the tabular export one row per START/STOP/POINT (``Time`` and, by
  version, ``Behavior type`` or ``Status``). BORIS writes them with tablib: ``\\r\\n`` line
  ends, times with 3 decimals, ``NA`` for missing values. BORIS 7 put a preamble of
  ``key<TAB>value`` lines (``Observation id``, ``Time offset (s)``...) above the tabular header
  ``Time, Media file path, Total length, FPS, Subject, Behavior, ...``. Columns are found by
  name, so the versions' extra or renamed columns (``FPS`` / ``FPS (frame/s)``, modifier
  columns, independent variables) do not matter.

Behaviour codes are user-defined: they are resolved like ELAN values (``--label-map``, then
nfbl's own forms: ``N16``, a class name, ``"N16 Folding arms"``). Subjects become tracks in the
order they first occur in each video (``"track 3"``, as nfbl writes them, keeps its number);
``meta`` keeps the subject names, the media lengths (``durations``) and each video's media
file (``media``, which pairs two coders of one video for ``nfbl bench agreement``).
Point events become one-frame events. A video is named after its observation's only media
file (its stem) unless two observations share that file (two coders), then after the
observation id.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nfbl.core import taxonomy
from nfbl.core.atomic import atomic_open
from nfbl.core.errors import InputFormatError
from nfbl.core.events import EventStream
from nfbl.io.event_common import ReadOptions, check_fps, make_event, resolve_label
from nfbl.io.inputs import open_text, parse_json, read_bytes

log = logging.getLogger(__name__)

#: The header BORIS 8/9 writes for "Export aggregated events" when no behaviour has
#: modifiers and the project has no independent variables (``export_events.py``); nfbl
#: writes this layout.
AGGREGATED_COLUMNS = (
    "Observation id", "Observation date", "Description", "Observation type", "Source",
    "Time offset (s)", "Coding duration", "Media duration (s)", "FPS (frame/s)", "Subject",
    "Observation duration by subject by observation", "Behavior", "Behavioral category",
    "Behavior type", "Start (s)", "Stop (s)", "Duration (s)", "Media file name",
    "Image index start", "Image index stop", "Image file path start", "Image file path stop",
    "Comment start", "Comment stop")
NA = "NA"
NO_FOCAL_SUBJECT = "No focal subject"
_TRACK_RE = re.compile(r"^track (\d+)$", re.IGNORECASE)
_SCORE_RE = re.compile(r"^score=([0-9.eE+-]+)$")
_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class _Bout:
    """One coded behaviour: times in seconds as BORIS stored them (offset not yet removed)."""

    obs: str
    subject: str
    code: str
    start: float
    stop: float | None  # None: a point event
    comment: str = ""
    line: int | None = None


@dataclass(frozen=True)
class _Observation:
    media: tuple[str, ...]  # media paths of player 1, in order
    fps: float | None
    length: float | None
    offset: float


# --- shared -----------------------------------------------------------------------------------

def _first_number(text: object) -> float | None:
    """The first number in a BORIS cell (``"25.000"``, ``"25.000;30.000"``, ``"NA"``)."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if math.isfinite(float(text)) else None
    m = _NUMBER_RE.search(str(text))
    if not m:
        return None
    v = float(m.group(0))
    return v if math.isfinite(v) else None


def _video_names(observations: dict[str, _Observation]) -> dict[str, str]:
    """Observation id → video id: the stem of its only media file when no other observation
    uses that file, else the observation id."""
    stems = {o: Path(obs.media[0].replace("\\", "/")).stem if len(obs.media) == 1 else None
             for o, obs in observations.items()}
    uses = Counter(s for s in stems.values() if s)
    return {o: (s if s and uses[s] == 1 else o) for o, s in stems.items()}


def _to_stream(bouts: list[_Bout], observations: dict[str, _Observation], path: Path,
               o: ReadOptions) -> EventStream:
    names = _video_names(observations)
    if o.video_id is not None:
        if len(observations) > 1:
            raise InputFormatError(f"the file holds {len(observations)} observations "
                                   f"({', '.join(list(observations)[:4])}); a video id names one",
                                   path)
        names = {k: o.video_id for k in observations}
    events, unread, points = [], Counter(), 0
    tracks: dict[str, dict[str, int]] = {}
    for b in bouts:
        known, cid = resolve_label(b.code, o.label_map)
        if not known:
            unread[b.code] += 1
            continue
        if cid is None:
            continue
        obs = observations[b.obs]
        vid = names[b.obs]
        fps = obs.fps or check_fps(o.fps, path)
        start = b.start - obs.offset
        end = None if b.stop is None else b.stop - obs.offset
        if end is None or end <= start:  # a point event, or a state stopped where it started
            points += 1
            end = start + 1.0 / fps
        per_video = tracks.setdefault(vid, {})
        subject = b.subject or NO_FOCAL_SUBJECT
        if subject not in per_video:
            m = _TRACK_RE.match(subject)
            per_video[subject] = (int(m.group(1)) if m and int(m.group(1)) not in per_video.values()
                                  else max(per_video.values(), default=-1) + 1)
        sm = _SCORE_RE.match(b.comment.strip())
        events.append(make_event(path, b.line, video_id=vid, class_id=cid, start=start, end=end,
                                 score=float(sm.group(1)) if sm else 1.0,
                                 track_id=per_video[subject]))
    if unread and not events:
        shown = ", ".join(f"{c!r} ({n})" for c, n in unread.most_common(4))
        raise InputFormatError(f"none of the {sum(unread.values())} coded behaviours names an "
                               f"NFBL class ({shown}); map them with --label-map", path)
    for code, n in unread.most_common():
        log.warning("%s: behaviour %r (%d bout(s)) names no NFBL class; skipped (map it with "
                    "--label-map)", path, code, n)
    if points:
        log.info("%s: %d point event(s) (or zero-length states) read as one-frame events", path,
                 points)
    offsets = {names[k]: v.offset for k, v in observations.items() if v.offset}
    if offsets:
        log.info("%s: time offsets removed (video time = BORIS time - offset): %s", path, offsets)
    meta: dict = {"subjects": {v: {str(t): s for s, t in m.items()} for v, m in tracks.items()}}
    durations = {names[k]: v.length for k, v in observations.items() if v.length}
    if durations:
        meta["durations"] = durations
    media = {names[k]: v.media[0] for k, v in observations.items() if v.media}
    if media:
        meta["media"] = media
    return EventStream(tuple(events), meta).sorted()


# --- projects -------------------------------------------------------------------------------

def _project(path: Path) -> dict:
    raw = read_bytes(path)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputFormatError(f"broken gzip data ({exc})", path) from None
    doc = parse_json(raw, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("observations"), dict):
        raise InputFormatError("not a BORIS project (no 'observations' table)", path)
    return doc


def read_boris_project(path: Path, o: ReadOptions) -> EventStream:
    """A ``.boris`` / ``.boris.gz`` project → events of every media or live observation."""
    return _to_stream(*_project_bouts(path), path, o)


def project_labels(path: Path, o: ReadOptions) -> Counter:
    """Behaviour code → number of bouts, over every media or live observation of a project."""
    return Counter(b.code for b in _project_bouts(path)[0])


def _project_bouts(path: Path) -> tuple[list[_Bout], dict[str, _Observation]]:
    doc = _project(path)
    ethogram = doc.get("behaviors_conf") or {}
    if not isinstance(ethogram, dict):
        raise InputFormatError("'behaviors_conf' (the ethogram) is not a table", path)
    state = {str(b.get("code")) for b in ethogram.values()
             if isinstance(b, dict) and "state" in str(b.get("type", "")).lower()}
    observations: dict[str, _Observation] = {}
    bouts: list[_Bout] = []
    for obs_id, ob in doc["observations"].items():
        if not isinstance(ob, dict):
            raise InputFormatError(f"observation {obs_id!r} is not a table", path)
        kind = str(ob.get("type", "MEDIA"))
        if kind == "IMAGES":
            log.warning("%s: observation %r codes images, not a video; skipped", path, obs_id)
            continue
        files = ob.get("file") or {}
        media = tuple(str(p) for p in (files.get("1") or [])) if isinstance(files, dict) else ()
        info = ob.get("media_info") or {}
        fps = length = None
        if media and isinstance(info, dict):
            fps = _first_number((info.get("fps") or {}).get(media[0]))
            lengths = [_first_number((info.get("length") or {}).get(m)) for m in media]
            length = sum(lengths) if lengths and None not in lengths else None
        offset = _first_number(ob.get("time offset")) or 0.0
        if ob.get("media_creation_date_as_offset") and media and isinstance(info, dict):
            # BORIS (write_event) then stores player time + offset + the playing file's
            # creation time ("media_creation_time", seconds): take the first file's away
            times = info.get("media_creation_time")
            created = times.get(media[0]) if isinstance(times, dict) else None
            try:    # seconds, a plain number (a date string would lose all but its year)
                created = float(created)
            except (TypeError, ValueError):
                created = None
            if created is None or not math.isfinite(created):
                raise InputFormatError(f"observation {obs_id!r} uses the media creation date "
                                       "as offset but stores no creation time for "
                                       f"{media[0]!r}", path)
            if len(media) > 1:
                log.warning("%s: observation %r: %d media files with their creation dates as "
                            "offset; only the first file's (%r) is removed", path, obs_id,
                            len(media), media[0])
            offset += created
        observations[str(obs_id)] = _Observation(media, fps or None, length, offset)
        bouts.extend(_pair_project_events(str(obs_id), ob.get("events") or [], state, path))
    if not observations:
        raise InputFormatError("the project has no media or live observation", path)
    return bouts, observations


def _pair_project_events(obs_id: str, events: list, state: set[str], path: Path) -> list[_Bout]:
    """BORIS's pairing (``events_start_stop``): per (code, subject, modifier) the 1st, 3rd...
    state event starts a bout, the 2nd, 4th... stops it."""
    out, open_, rows = [], {}, []
    for k, ev in enumerate(events):
        if not isinstance(ev, list) or len(ev) < 3:
            raise InputFormatError(f"observation {obs_id!r}: event {k} is not "
                                   "[time, subject, code, ...]", path)
        t = _first_number(ev[0])
        if t is None:
            raise InputFormatError(f"observation {obs_id!r}: event {k} has no time", path)
        rows.append((t, k, ev))
    rows.sort(key=lambda r: (r[0], r[1]))  # BORIS sorts events by time when it opens a project
    for t, _, ev in rows:
        subject, code = str(ev[1]), str(ev[2])
        modifier = str(ev[3]) if len(ev) > 3 else ""
        comment = str(ev[4]) if len(ev) > 4 else ""
        if code not in state:
            out.append(_Bout(obs_id, subject, code, t, None, comment))
            continue
        key = (code, subject, modifier)
        if key in open_:
            t0, c0 = open_.pop(key)
            out.append(_Bout(obs_id, subject, code, t0, t, c0))
        else:
            open_[key] = (t, comment)
    if open_:
        log.warning("%s: observation %r: %d state event(s) never stopped; skipped", path,
                    obs_id, len(open_))
    return out


# --- exported tables ----------------------------------------------------------------------------

def sniff_boris_export(first_line: str) -> bool:
    """True for the first line of a BORIS export (``.csv``): both layouts start with the
    ``Observation id`` column (BORIS 8+) or its preamble line (BORIS 7)."""
    return first_line.lstrip("\ufeff").lower().startswith("observation id")


def _table(path: Path) -> tuple[dict[str, str], list[str], list[tuple[int, list[str]]]]:
    """(preamble key → value, header, [(line, cells)]) of a BORIS TSV/CSV export."""
    with open_text(path, newline="") as fh:
        text = fh.read()
    lines = text.splitlines()
    if not lines:
        raise InputFormatError("empty file", path)
    delim = "\t" if lines[0].count("\t") >= lines[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    preamble: dict[str, str] = {}
    for k, cells in enumerate(rows):
        names = {c.strip().lower() for c in cells}
        if "behavior" in names and ({"start (s)", "time"} & names):
            body = [(k + 1 + j + 1, r) for j, r in enumerate(rows[k + 1:]) if any(c.strip() for c in r)]
            return preamble, [c.strip() for c in cells], body
        if len(cells) >= 2 and cells[0].strip():
            preamble[cells[0].strip().lower()] = cells[1].strip()
    raise InputFormatError("no BORIS event table found (a header with 'Behavior' and "
                           "'Start (s)' or 'Time'); export events from BORIS as TSV or CSV", path)


def _col(header: list[str], *names: str) -> int | None:
    low = [h.lower() for h in header]
    for n in names:
        if n.lower() in low:
            return low.index(n.lower())
    return None


def read_boris_export(path: Path, o: ReadOptions) -> EventStream:
    """A BORIS "Export events" (tabular) or "Export aggregated events" table, TSV or CSV."""
    return _to_stream(*_export_bouts(path), path, o)


def export_labels(path: Path, o: ReadOptions) -> Counter:
    """Behaviour code → number of bouts in a BORIS export."""
    return Counter(b.code for b in _export_bouts(path)[0])


def _export_bouts(path: Path) -> tuple[list[_Bout], dict[str, _Observation]]:
    preamble, header, body = _table(path)
    c = {k: _col(header, *names) for k, names in {
        "obs": ("Observation id",), "subject": ("Subject",), "code": ("Behavior",),
        "start": ("Start (s)",), "stop": ("Stop (s)",), "time": ("Time",),
        "status": ("Status", "Behavior type"), "fps": ("FPS (frame/s)", "FPS"),
        "media": ("Media file name", "Media file path", "Media file", "Source"),
        "length": ("Media duration (s)", "Total length"), "offset": ("Time offset (s)",),
        "comment": ("Comment start", "Comment"),
        "modifiers": ("Modifiers",)}.items()}
    mod_cols = [k for k, h in enumerate(header) if re.fullmatch(r"modifier #?\d+", h.lower())]
    aggregated = c["start"] is not None
    if aggregated and c["stop"] is None:
        raise InputFormatError("aggregated BORIS table without a 'Stop (s)' column", path, 1)
    if not aggregated and c["status"] is None:
        raise InputFormatError("BORIS events table without a 'Behavior type' or 'Status' "
                               "column (START/STOP/POINT)", path, 1)

    def cell(row: list[str], key: str) -> str:
        k = c[key]
        return row[k].strip() if k is not None and k < len(row) else ""

    default_obs = preamble.get("observation id") or path.stem
    observations: dict[str, _Observation] = {}
    media: dict[str, list[str]] = {}
    bouts: list[_Bout] = []
    open_: dict[tuple, tuple[float, str, int]] = {}
    skipped = 0
    for line, row in body:
        if len(row) < len(header) - 1:
            raise InputFormatError(f"expected {len(header)} columns, got {len(row)}", path, line)
        obs = cell(row, "obs") or default_obs
        if obs not in observations:
            offset = _first_number(cell(row, "offset") or preamble.get("time offset (s)")) or 0.0
            observations[obs] = _Observation((), _first_number(cell(row, "fps")),
                                             _first_number(cell(row, "length")), offset)
        m = cell(row, "media")
        if m and m not in (NA, "Not found"):
            m = re.sub(r"^player #\d+:", "", m.split("|")[0]).split(";")[0]
            if m not in media.setdefault(obs, []):
                media[obs].append(m)
        subject, code = cell(row, "subject"), cell(row, "code")
        comment = cell(row, "comment")
        if aggregated:
            start, stop = _first_number(cell(row, "start")), _first_number(cell(row, "stop"))
            if start is None or (stop is None and cell(row, "status").upper() != "POINT"):
                skipped += 1
                continue
            point = cell(row, "status").upper() == "POINT" or stop == start
            bouts.append(_Bout(obs, subject, code, start, None if point else stop, comment, line))
            continue
        t = _first_number(cell(row, "time"))
        if t is None:
            raise InputFormatError(f"time {cell(row, 'time')!r} is not a number", path, line)
        status = cell(row, "status").upper()
        mods = "|".join(row[k] for k in mod_cols if k < len(row)) or cell(row, "modifiers")
        key = (obs, subject, code, mods)
        if status == "POINT":
            bouts.append(_Bout(obs, subject, code, t, None, comment, line))
        elif status == "START":
            if key in open_:
                skipped += 1
            open_[key] = (t, comment, line)
        elif status == "STOP":
            if key not in open_:
                skipped += 1
                continue
            t0, c0, l0 = open_.pop(key)
            bouts.append(_Bout(obs, subject, code, t0, t, c0, l0))
        else:
            raise InputFormatError(f"status {status!r} is not START, STOP or POINT", path, line)
    skipped += len(open_)
    if skipped:
        log.warning("%s: %d unpaired or timeless state event(s) skipped", path, skipped)
    observations = {k: _Observation(tuple(media.get(k, ())), v.fps, v.length, v.offset)
                    for k, v in observations.items()}
    if not observations:
        log.warning("%s: the BORIS table has no events", path)
    return bouts, observations


def write_boris_export(stream: EventStream, path: Path, fps: float) -> None:
    """Write ``stream`` as BORIS's aggregated-events table (tab-separated, or comma-separated
    for a ``.csv`` name): one observation per video, one subject per track (``track 0``),
    behaviour ``"N16 Folding arms"``, the score as ``score=0.8312`` in ``Comment start``."""
    delim = "," if path.name.lower().endswith(".csv") else "\t"
    durations = stream.meta.get("durations") if isinstance(stream.meta, dict) else None
    durations = durations if isinstance(durations, dict) else {}
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh, delimiter=delim, lineterminator="\r\n")
        w.writerow(AGGREGATED_COLUMNS)
        for vid in stream.video_ids:
            evs = sorted(stream.for_video(vid), key=lambda e: (e.start, e.track_id, e.class_id))
            coding = max(e.end for e in evs) - min(e.start for e in evs)
            length = durations.get(vid)
            per_track = Counter()
            for e in evs:
                per_track[e.track_id] += e.end - e.start
            for e in evs:
                cls = taxonomy.get(e.class_id)
                w.writerow([
                    vid, "", "", "Media file", f"player #1:{vid}", "0.0", f"{coding:.3f}",
                    f"{float(length):.3f}" if length else NA, f"{fps:.3f}", f"track {e.track_id}",
                    round(per_track[e.track_id], 3), f"{e.code} {cls.name}", cls.region.value,
                    "STATE", f"{e.start:.3f}", f"{e.end:.3f}", f"{e.end - e.start:.3f}", vid,
                    NA, NA, NA, NA, f"score={e.score:.4f}", ""])
