"""The append-only ``manifest.jsonl``: one :class:`ItemRecord` per item per run, reading, the
locked writer, and the skip plan of a re-run (rules in :mod:`nfbl.batch`)."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nfbl import __version__
from nfbl.batch.config import (EVENTS_SUFFIX, TIMELINE_SUFFIX, BatchConfig, BatchItem, ItemKind,
                               Status)
from nfbl.core.errors import NfblError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ItemRecord:
    """One manifest line: the outcome of one item in one run.

    ``timings`` holds seconds per stage where available: ``load_s`` (keypoint file),
    ``pose_s`` (video: the one pass of decoding, de-identification and pose, interleaved per
    frame), ``detect_s``, ``write_s``, ``total_s`` (inside the task), ``cpu_s`` (CPU time of
    the task's process, all threads); the driver adds ``wall_s`` (submit → result, includes
    queueing).
    ``media_s`` is the duration of the keypoints/video in seconds.
    """

    id: str
    status: Status
    input: str
    kind: ItemKind
    output: str | None = None
    timeline: str | None = None
    video_id: str = ""
    events: int | None = None
    frames: int | None = None
    media_s: float | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None
    traceback: str | None = None
    model: str = ""
    model_version: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    input_size: int | None = None
    input_mtime: float | None = None
    nfbl_version: str = __version__
    host: str = ""
    pid: int | None = None
    run: str = ""
    finished: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        d["kind"] = self.kind.value
        d["timings"] = {k: round(float(v), 4) for k, v in self.timings.items()}
        d = {k: v for k, v in d.items() if v is not None}
        return {"manifest": MANIFEST_VERSION, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ItemRecord":
        """Build from a manifest line's object; ValueError names the first bad field."""
        if not isinstance(d, Mapping):
            raise ValueError(f"not a JSON object but a {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for req in ("id", "status", "input", "kind"):
            if req not in kw:
                raise ValueError(f"no {req!r} field")
        kw["status"] = Status(kw["status"])
        kw["kind"] = ItemKind(kw["kind"])
        for name, value in kw.items():
            want = _FIELD_TYPES.get(name)
            if want is not None and value is not None and (
                    not isinstance(value, want) or (isinstance(value, bool) and bool not in want)):
                raise ValueError(f"field {name!r} has the wrong type ({type(value).__name__})")
        if kw.get("timings") and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in kw["timings"].values()):
            raise ValueError("field 'timings' must map stages to seconds")
        return cls(**kw)


#: JSON types of the manifest fields (a hand-edited line with other types is skipped)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "input": (str,), "output": (str,), "timeline": (str,), "video_id": (str,),
    "events": (int,), "frames": (int,), "media_s": (int, float), "timings": (dict,),
    "error": (str,), "reason": (str,), "traceback": (str,), "model": (str,),
    "model_version": (str,), "settings": (dict,), "input_size": (int,),
    "input_mtime": (int, float), "nfbl_version": (str,), "host": (str,), "pid": (int,),
    "run": (str,), "finished": (str,)}


def read_manifest(path: str | Path) -> list[ItemRecord]:
    """All records of a manifest, in file order; a torn, foreign or hand-edited line that is
    not a valid record is skipped with a warning naming its line number."""
    path = Path(path)
    records: list[ItemRecord] = []
    if not path.exists():
        return records
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError(f"not a JSON object but a {type(d).__name__}")
                if int(d.get("manifest", 0)) > MANIFEST_VERSION:
                    log.warning("%s:%d: manifest version %s is newer than this nfbl; line "
                                "ignored", path, n, d.get("manifest"))
                    continue
                records.append(ItemRecord.from_dict(d))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                log.warning("%s:%d: unreadable manifest line ignored (%s)", path, n,
                            str(exc)[:200])
    return records


def latest_attempts(records: Iterable[ItemRecord]) -> dict[str, ItemRecord]:
    """The latest ``ok``/``failed`` record of every item id (``skipped`` lines are ignored)."""
    latest: dict[str, ItemRecord] = {}
    for r in records:
        if r.status is not Status.SKIPPED:
            latest[r.id] = r
    return latest


class ManifestWriter:
    """Appends records, one fsynced line each; holds an exclusive lock on the manifest so that
    two runs cannot write into the same folder at once (advisory, POSIX only)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a", encoding="utf-8")
        try:
            import fcntl  # noqa: PLC0415
        except ImportError:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise NfblError(f"{path}: another nfbl batch run is writing to this folder; wait "
                            f"for it or choose another --out") from None
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A crash may have left a last line without its newline: end it, so that the next
        record starts on a line of its own (the torn line stays unreadable and is skipped)."""
        size = self.path.stat().st_size
        if size:
            with open(self.path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    self.fh.write("\n")
                    self.fh.flush()

    def write(self, record: ItemRecord) -> None:
        self.fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def plan(items: Sequence[BatchItem], previous: Mapping[str, ItemRecord], out_dir: Path,
         model: tuple[str, str], cfg: BatchConfig) -> tuple[list[BatchItem], dict[str, ItemRecord]]:
    """Split items into those to run and those to skip (id → the skipped record, not yet
    stamped with the run)."""
    to_run: list[BatchItem] = []
    skipped: dict[str, ItemRecord] = {}
    for item in items:
        prev = previous.get(item.item_id)
        if prev is None:
            to_run.append(item)
            continue
        if prev.status is Status.FAILED:
            if cfg.retry_failed:
                to_run.append(item)
            else:
                skipped[item.item_id] = dataclasses.replace(
                    prev, status=Status.SKIPPED, reason="failed before, not retried "
                    "(--no-retry)", traceback=None)
            continue
        why = _changed(item, prev, out_dir, model, cfg)
        if why:
            log.info("%s: running again: %s", item.item_id, why)
            to_run.append(item)
        else:
            skipped[item.item_id] = dataclasses.replace(
                prev, status=Status.SKIPPED, reason=f"done in run {prev.run}", error=None,
                traceback=None)
    return to_run, skipped


def _changed(item: BatchItem, prev: ItemRecord, out_dir: Path, model: tuple[str, str],
             cfg: BatchConfig) -> str:
    """Why a finished item must run again ('' = it need not)."""
    out = out_dir / f"{item.item_id}{EVENTS_SUFFIX}"
    if not out.is_file():
        return "its events file is missing"
    if (prev.model, prev.model_version) != model:
        return f"model changed ({prev.model} {prev.model_version} -> {model[0]} {model[1]})"
    if dict(prev.settings) != cfg.settings:
        return f"settings changed ({dict(prev.settings)} -> {cfg.settings})"
    if cfg.timeline and not (out_dir / f"{item.item_id}{TIMELINE_SUFFIX}").is_file():
        return "its timeline is missing"
    stat = item.input_stat
    if stat is not None and prev.input_size is not None and (
            stat[0] != prev.input_size or abs(stat[1] - float(prev.input_mtime or 0)) > 1e-3):
        return "the input file changed"
    return ""
