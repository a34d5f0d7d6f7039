"""What the event-format modules share: read options, column names and the parsing
helpers that name the file and line of a bad value (:mod:`nfbl.io.event_formats` holds the
table of formats)."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from nfbl.core import taxonomy
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import Event

log = logging.getLogger(__name__)

JSONL_SCHEMA = "nfbl.core.events"
CSV_COLUMNS = ("video_id", "track_id", "class_id", "code", "label", "start", "end", "score", "model")
IMIGUE_COLUMNS = ("video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame",
                  "class", "subject_id", "subject_gender", "subject_nationality", "win_or_lose")
VIDEO_INFO_KEYS = ("subject_id", "subject_gender", "subject_nationality", "win_or_lose")


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides the path.

    fps: frame rate of frame-based formats (None: the format's own default,
    :data:`DEFAULT_FPS` for most, 30 for SMG's Kinect labels); video_id: for formats that
    carry none;
    subset: ActivityNet ground-truth subset (``training``/``validation``/``testing``);
    label_map: label or annotation value → NFBL class (id, code or name; None = skip);
    tier_map: ELAN tier name → NFBL class of every annotation on it (None = skip the tier).
    """

    fps: float | None = None
    video_id: str | None = None
    subset: str | None = None
    label_map: Mapping[str, int | None] = field(default_factory=dict)
    tier_map: Mapping[str, int | None] = field(default_factory=dict)


def class_map(mapping: Mapping[str, object] | None, what: str = "label map"
              ) -> dict[str, int | None]:
    """``{label: class}`` with each class given as an id (16), a code (``"N16"``), a name
    (``"Folding arms"``) or None (skip) → ``{label: id or None}``; a class that names
    nothing is one error naming the label."""
    out: dict[str, int | None] = {}
    for label, value in (mapping or {}).items():
        if value is None:
            out[str(label)] = None
            continue
        try:
            out[str(label)] = taxonomy.lookup(
                value if isinstance(value, int) and not isinstance(value, bool) else str(value)).id
        except NfblError as exc:
            raise NfblError(f"{what}: label {label!r}: {exc}") from None
    return out


def make_event(path: Path, line: int | None, **kw) -> Event:
    try:
        return Event(**kw)
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


#: The frame rate of frame-based event formats when neither the file nor the user gives one
#: (iMiGUE, MiGA, point events).
DEFAULT_FPS = 25.0


def check_fps(fps: float | None, path: Path, default: float = DEFAULT_FPS) -> float:
    """``fps`` checked (positive, finite); None gives ``default``."""
    if fps is None:
        return float(default)
    if not fps or not math.isfinite(fps) or fps <= 0:
        raise InputFormatError(f"frame-based format needs a positive --fps, got {fps}", path)
    return float(fps)


def parse_float(value: str, what: str, path: Path, line: int | None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputFormatError(f"{what} {value!r} is not a number", path, line) from None
    if not math.isfinite(v):
        raise InputFormatError(f"{what} {value!r} is not a finite number", path, line)
    return v


def parse_int(value: str, what: str, path: Path, line: int | None) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise InputFormatError(f"{what} {value!r} is not an integer", path, line) from None


def video_id_from_name(path: Path, suffixes: Iterable[str]) -> str:
    name = path.name
    for s in suffixes:
        if name.lower().endswith(s):
            return name[: -len(s)]
    return path.stem


def lookup_code(code: str, path: Path, line: int | None) -> int:
    try:
        return taxonomy.lookup(code).id
    except NfblError as exc:
        raise InputFormatError(str(exc), path, line) from None


def resolve_label(value: str, label_map: Mapping[str, int | None]) -> tuple[bool, int | None]:
    """(known, class id) of a label: the user's map first (exact, then case-insensitive),
    then nfbl's own forms (``N16``, a class name, ``"N16 Folding arms|0.83"``); a bare
    number is never taken for a class id (map it with ``label_map``)."""
    raw = str(value).strip()
    text = " ".join(raw.split())      # tabs and line breaks count as spaces
    low = {" ".join(str(k).split()).lower(): v for k, v in label_map.items()}
    for key in (raw, text):
        if key in label_map:
            return True, label_map[key]
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
