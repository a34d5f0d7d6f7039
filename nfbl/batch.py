"""Batch processing of archives on Ray: one task per video or keypoint file.

``run_batch(inputs, out_dir, cfg)`` expands the inputs into items, runs one Ray task per item
(a local Ray started for the run, or an existing cluster when ``cfg.ray_address`` is set),
writes each item's events atomically to ``<out>/<id>.events.jsonl`` and records every attempt
in ``<out>/manifest.jsonl``. Re-running with the same output folder skips finished items and
retries failed ones. One failing item never stops the others: every exception is caught
inside the task, a task whose worker process dies is retried by Ray (``cfg.max_retries``)
and then recorded as failed, and a task running longer than ``cfg.item_timeout`` is
cancelled and recorded as failed. Ray is imported lazily; without it the run stops with one
line naming ``pip install 'nfbl[cluster]'``. Usage and the cluster set-up: docs/batch.md.

What becomes an item
--------------------
- A **file named explicitly** is always processed: a keypoint file when its name says so
  (:data:`KEYPOINT_SUFFIXES` and :data:`EXPLICIT_KEYPOINT_SUFFIXES`), otherwise it is handed
  to the video decoder (any container PyAV/FFmpeg reads; an unreadable file fails with the
  decoder's message).
- A **folder** is scanned recursively (hidden entries and the output folder are skipped): a
  folder holding OpenPose ``<vid>_<12 digits>_keypoints.json`` files is one keypoint item per
  video id in it (not descended further); a file is a keypoint item when its name ends with
  one of :data:`KEYPOINT_SUFFIXES`, a video when its suffix is one of :data:`VIDEO_SUFFIXES`
  or its first bytes carry the signature of a container FFmpeg reads (MP4/MOV, Matroska/WebM,
  AVI, MPEG-PS/TS, FLV, ASF/WMV, Ogg, Y4M, NUT, IVF); other files are ignored (counted in the
  log).
- A **glob** (``*``, ``?``, ``[``; ``**`` recurses) is expanded; matches are filtered like a
  folder's files, matching folders are scanned.

Item ids (output names) are the file stems (minus the keypoint suffix; the video id for
OpenPose folders), with characters other than letters, digits, ``._-`` replaced by ``_``;
when several items would share an id, each of them gets ``-<8 hex of its path's SHA-1>``.

Manifest
--------
``<out>/manifest.jsonl`` is an append-only log written by the driver only: one JSON object
per item per run (status ``ok``, ``failed`` or ``skipped``), appended and fsynced as each
item finishes, so a crashed run keeps what it finished; a torn last line is ignored on
reading. Fields: see :class:`ItemRecord`. An item is skipped when its latest ``ok``/``failed``
record is ``ok``, its output file exists, and model name+version, settings
(:attr:`BatchConfig.settings`: stride, persons, pose config) and input size/mtime are
unchanged; a failed item is retried unless ``retry_failed=False``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import glob
import hashlib
import json
import logging
import os
import re
import socket
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from nfbl import __version__
from nfbl.core.errors import MissingDependencyError, NfblError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
MANIFEST_VERSION = 1
EVENTS_SUFFIX = ".events.jsonl"
TIMELINE_SUFFIX = ".timeline.png"

#: Name endings of keypoint files recognised in folders and globs (checked in this order).
KEYPOINT_SUFFIXES: tuple[str, ...] = ("_light_hand.csv", "_skeleton.csv", ".npz")
#: Keypoint name endings accepted only when the file is named explicitly (too ambiguous to
#: pick up from a folder): mmpose prediction JSON, OpenPose single-frame JSON, pickles
#: (refused: untrusted code).
EXPLICIT_KEYPOINT_SUFFIXES: tuple[str, ...] = (".json", ".pkl", ".pickle")
#: Video suffixes recognised by name in folders and globs (others are sniffed by content).
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .qt .mkv .mk3d .webm .avi .mpg .mpeg .mpe .m2v .m1v .ts .mts .m2ts .vob "
    ".flv .f4v .wmv .asf .3gp .3g2 .ogv .mxf .dv .y4m .nut .rm .rmvb .divx .h264 .264 .h265 "
    ".hevc .ivf .mjpeg .mjpg".split())
_OPENPOSE_RE = re.compile(r"^(?P<vid>.*?)_?(?P<frame>\d{12})_keypoints\.json$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")


class ItemKind(str, enum.Enum):
    VIDEO = "video"
    KEYPOINTS = "keypoints"


class Status(str, enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class BatchConfig:
    """Settings of one batch run.

    workers: CPUs of the local Ray started for the run (default: all CPUs of this machine);
      with ``ray_address`` it caps the number of tasks running at once (default: no cap).
    ray_address: an existing Ray cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
      None starts a local Ray (or uses the one already initialised in this process).
    model: ONNX detector file (None = the bundled model); it must be readable by every worker.
    stride: pose on every k-th video frame (interpolated in between); keypoint files ignore it.
    persons: ``"interviewee"`` (the main person) or ``"all"``.
    retry_failed: re-run items whose latest attempt failed (else they are skipped).
    timeline: also write ``<id>.timeline.png``.
    cpus_per_task / threads_per_task: Ray CPUs reserved per task and onnxruntime threads.
    max_retries: how often Ray re-runs a task whose worker process died (crash, OOM kill).
    item_timeout: seconds after which an item's task is cancelled (its worker process is
      killed) and the item recorded as failed; counted from submission (see ``_run_tasks``).
    object_store_mb: object store of the local Ray (items exchange only small records).
    pose: a :class:`nfbl.pose.pipeline.PoseConfig` for video items (backend, max_side,
      de-identification, ...); when given it wins over ``stride`` and ``persons`` for videos
      (its progress bar is switched off). None: the pipeline's defaults with ``stride``.
    """

    workers: int | None = None
    ray_address: str | None = None
    model: str | None = None
    stride: int = 1
    persons: str = "interviewee"
    retry_failed: bool = True
    timeline: bool = False
    cpus_per_task: float = 1.0
    threads_per_task: int = 1
    max_retries: int = 2
    item_timeout: float | None = None
    object_store_mb: int = 256
    pose: Any = None

    def __post_init__(self) -> None:
        if self.workers is not None and int(self.workers) < 1:
            raise NfblError(f"--workers must be >= 1, got {self.workers}")
        if int(self.stride) < 1:
            raise NfblError(f"--stride must be >= 1, got {self.stride}")
        if self.persons not in ("interviewee", "all"):
            raise NfblError(f"persons must be 'interviewee' or 'all', got {self.persons!r}")
        if self.item_timeout is not None and not self.item_timeout > 0:
            raise NfblError(f"--item-timeout must be > 0 seconds, got {self.item_timeout}")
        if self.cpus_per_task <= 0 or self.threads_per_task < 1 or self.max_retries < 0:
            raise NfblError("cpus_per_task must be > 0, threads_per_task >= 1, max_retries >= 0")

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that change an item's output (compared when deciding to skip)."""
        d: dict[str, Any] = {"stride": int(self.stride), "persons": self.persons}
        if self.pose is not None:
            pose = {k: v for k, v in dataclasses.asdict(self.pose).items() if k != "progress"}
            d["pose"] = json.loads(json.dumps(pose, default=str))
        return d


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: ``path`` absolute; ``video_id`` selects one video of an OpenPose
    folder holding several (else empty)."""

    item_id: str
    path: str
    kind: ItemKind
    video_id: str = ""

    @property
    def input_stat(self) -> tuple[int, float] | None:
        """(size in bytes, mtime in s) of a file input; None for folders or missing files."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return None if os.path.isdir(self.path) else (st.st_size, round(st.st_mtime, 6))


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
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["status"] = Status(kw["status"])
        kw["kind"] = ItemKind(kw["kind"])
        return cls(**kw)


@dataclass(frozen=True)
class BatchSummary:
    """What one :func:`run_batch` did: one record per item (input order), wall time (s) of the
    whole run, of starting/connecting Ray and of the task phase (first submit → last result),
    the CPUs Ray offered."""

    records: tuple[ItemRecord, ...]
    out_dir: Path
    manifest: Path
    wall_s: float
    startup_s: float
    cpus: float
    run: str
    tasks_s: float = 0.0

    def count(self, status: Status) -> int:
        return sum(r.status is status for r in self.records)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAILED) == 0

    def table(self, width: int = 100) -> str:
        """A plain-text summary table (one row per item) and a totals line."""
        rows = [("id", "kind", "status", "events", "frames", "task s", "note")]
        for r in self.records:
            note = r.error or ""
            if note.startswith(r.input + ": "):
                note = note[len(r.input) + 2:]  # the id column names the item already
            if r.status is Status.SKIPPED:
                note = f"{r.reason}: {note}" if note else (r.reason or "")
            rows.append((r.id, r.kind.value, r.status.value,
                         "-" if r.events is None else str(r.events),
                         "-" if r.frames is None else str(r.frames),
                         "-" if "total_s" not in r.timings or r.status is Status.SKIPPED
                         else f"{r.timings['total_s']:.2f}", note))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        lines = []
        for row in rows:
            head = "  ".join(c.ljust(w) if i in (0, 1, 2) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row[:6], widths)))
            room = max(20, width - len(head) - 2)
            note = row[6] if len(row[6]) <= room else row[6][:room - 3] + "..."
            lines.append(f"{head}  {note}".rstrip())
        n = len(self.records)
        ray_note = (f"Ray start {self.startup_s:.1f} s, {self.cpus:g} CPUs" if self.cpus
                    else "nothing to run")
        lines.append(f"{n} item{'s' if n != 1 else ''}: {self.count(Status.OK)} ok, "
                     f"{self.count(Status.FAILED)} failed, {self.count(Status.SKIPPED)} skipped "
                     f"in {self.wall_s:.1f} s ({ray_note}); manifest: {self.manifest}")
        return "\n".join(lines)


# --- input discovery ------------------------------------------------------------------------

_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\x1a\x45\xdf\xa3"),            # Matroska / WebM
    (0, b"\x00\x00\x01\xba"),            # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),            # MPEG-1/2 video elementary stream
    (0, b"FLV"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF / WMV
    (0, b"OggS"),
    (0, b"YUV4MPEG2"),
    (0, b"nut/multimedia container"),
    (0, b"DKIF"),                        # IVF (VP8/VP9/AV1)
)


def looks_like_video(path: str | Path) -> bool:
    """True when the first bytes of ``path`` carry the signature of a video container."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(189)
    except OSError:
        return False
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True  # ISO base media (MP4, MOV, 3GP)
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return True  # MPEG transport stream (188-byte packets)
    return any(head[off:off + len(sig)] == sig for off, sig in _SIGNATURES)


def _keypoint_suffix(name: str, explicit: bool) -> str | None:
    low = name.lower()
    for suffix in KEYPOINT_SUFFIXES + (EXPLICIT_KEYPOINT_SUFFIXES if explicit else ()):
        if low.endswith(suffix):
            return suffix
    return None


def _classify_file(path: Path, explicit: bool) -> tuple[ItemKind, str] | None:
    """(kind, stem) of a file, or None when a folder scan should ignore it."""
    suffix = _keypoint_suffix(path.name, explicit)
    if suffix is not None:
        stem = path.name[:-len(suffix)] or path.name
        return ItemKind.KEYPOINTS, stem
    if explicit or path.suffix.lower() in VIDEO_SUFFIXES or looks_like_video(path):
        return ItemKind.VIDEO, path.stem
    return None


def _openpose_videos(folder: Path) -> list[str]:
    """Video ids of the OpenPose frame files directly inside ``folder`` (sorted)."""
    vids: set[str] = set()
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for entry in it:
            m = _OPENPOSE_RE.match(entry.name)
            if m:
                vids.add(m["vid"])
    return sorted(vids)


def _scan_folder(folder: Path, exclude: Path | None, found: list[tuple[Path, ItemKind, str, str]],
                 ignored: list[Path]) -> None:
    for root, dirs, files in os.walk(folder):
        root_p = Path(root)
        if exclude is not None and (root_p == exclude or exclude in root_p.parents):
            dirs[:] = []
            continue
        vids = _openpose_videos(root_p)
        if vids:
            for vid in vids:
                found.append((root_p, ItemKind.KEYPOINTS, vid or root_p.name,
                              vid if len(vids) > 1 else ""))
            dirs[:] = []
            files = [f for f in files if not _OPENPOSE_RE.match(f)]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = root_p / name
            c = _classify_file(p, explicit=False)
            if c is None:
                ignored.append(p)
            else:
                found.append((p, c[0], c[1], ""))


def discover(inputs: Sequence[str | Path], exclude: str | Path | None = None) -> list[BatchItem]:
    """Expand paths, folders and globs into items (see the module doc for the rules).

    ``exclude`` (the output folder) is never scanned. Raises :class:`NfblError` for a path that
    does not exist or a glob that matches nothing.
    """
    exclude_p = Path(exclude).resolve() if exclude is not None else None
    found: list[tuple[Path, ItemKind, str, str]] = []
    ignored: list[Path] = []
    for raw in inputs:
        text = str(raw)
        p = Path(text).expanduser()
        if p.exists():
            p = p.resolve()
            if p.is_dir():
                _scan_folder(p, exclude_p, found, ignored)
            else:
                kind, stem = _classify_file(p, explicit=True)  # type: ignore[misc]
                found.append((p, kind, stem, ""))
        elif _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not matches:
                raise NfblError(f"{text}: no file or folder matches this pattern")
            for m in matches:
                mp = Path(m).resolve()
                if mp.is_dir():
                    _scan_folder(mp, exclude_p, found, ignored)
                elif not (exclude_p and exclude_p in mp.parents):
                    c = _classify_file(mp, explicit=False)
                    if c is None:
                        ignored.append(mp)
                    else:
                        found.append((mp, c[0], c[1], ""))
        else:
            raise NfblError(f"{text}: no such file or folder")
    if ignored:
        log.info("ignored %d file(s) that are neither videos nor keypoint files (e.g. %s)",
                 len(ignored), ignored[0])
    seen: set[tuple[str, str]] = set()
    unique = []
    for p, kind, stem, vid in found:
        key = (str(p), vid)
        if key not in seen:
            seen.add(key)
            unique.append((p, kind, stem, vid))
    return _assign_ids(unique)


def _assign_ids(found: list[tuple[Path, ItemKind, str, str]]) -> list[BatchItem]:
    base = [(_ID_BAD.sub("_", stem).strip("._") or "item") for _, _, stem, _ in found]
    counts: dict[str, int] = {}
    for b in base:
        counts[b] = counts.get(b, 0) + 1
    items = []
    for (p, kind, _, vid), b in zip(found, base):
        item_id = b
        if counts[b] > 1:
            item_id = f"{b}-{hashlib.sha1(f'{p}#{vid}'.encode()).hexdigest()[:8]}"
        items.append(BatchItem(item_id, str(p), kind, vid))
    return items


# --- manifest -------------------------------------------------------------------------------

def read_manifest(path: str | Path) -> list[ItemRecord]:
    """All records of a manifest, in file order; a torn or foreign line is skipped (logged)."""
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
                if int(d.get("manifest", 0)) > MANIFEST_VERSION:
                    log.warning("%s:%d: manifest version %s is newer than this nfbl; line "
                                "ignored", path, n, d.get("manifest"))
                    continue
                records.append(ItemRecord.from_dict(d))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d: unreadable manifest line ignored (%s)", path, n, exc)
    return records


def latest_attempts(records: Iterable[ItemRecord]) -> dict[str, ItemRecord]:
    """The latest ``ok``/``failed`` record of every item id (``skipped`` lines are ignored)."""
    latest: dict[str, ItemRecord] = {}
    for r in records:
        if r.status is not Status.SKIPPED:
            latest[r.id] = r
    return latest


class _ManifestWriter:
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


# --- the per-item task ----------------------------------------------------------------------

_DETECTORS: dict[tuple[str | None, int], Any] = {}


def load_detector(model: str | None, threads: int = 1):
    """The :class:`nfbl.exports.runtime.Detector` for ``model``, cached per process (a Ray
    worker process runs many tasks; the ONNX session is built once)."""
    key = (model, int(threads))
    det = _DETECTORS.get(key)
    if det is None:
        from nfbl.exports.runtime import Detector  # noqa: PLC0415

        det = Detector.load(model, threads=threads)
        _DETECTORS[key] = det
    return det


def model_identity(model: str | None) -> tuple[str, str]:
    """(name, version) from the model card."""
    card = load_detector(model).card
    return str(card.name), str(card.version)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, NfblError):
        return " ".join(text.split()) or type(exc).__name__
    first = " ".join(text.split())[:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _read_keypoints(item: BatchItem):
    """A keypoint item → PoseSequence (any format that
    :func:`nfbl.io.keypoints.read_keypoints` reads)."""
    from nfbl.io.keypoints import read_keypoints  # noqa: PLC0415

    seq = read_keypoints(item.path, video_id=item.video_id or None)
    if isinstance(seq, list):  # pragma: no cover - pyskl pickles are refused untrusted
        raise NfblError(f"{item.path}: holds {len(seq)} clips; nfbl batch takes one sequence "
                        f"per file (split it with nfbl keypoints convert)")
    return seq


def _video_sequence(item: BatchItem, cfg: BatchConfig, timings: dict[str, float]):
    """One decoding pass over a video (decode → de-identify → pose every ``stride``-th frame
    → tracks, :func:`nfbl.pose.pipeline.analyse`), then the interviewee or all persons.
    Fills ``timings["pose_s"]`` (the whole pass: decoding, de-identification and pose run
    interleaved, frame by frame, so they are not timed apart)."""
    from nfbl.pose import pipeline  # noqa: PLC0415

    t = time.perf_counter()
    if cfg.pose is not None:
        pose_cfg = dataclasses.replace(cfg.pose, progress=False)
    else:
        pose_cfg = pipeline.PoseConfig(stride=cfg.stride, all_persons=cfg.persons == "all",
                                       progress=False, threads=cfg.threads_per_task)
    result = pipeline.analyse(item.path, pose_cfg)
    timings["pose_s"] = time.perf_counter() - t
    return pipeline.choose(result.sequence, pose_cfg.all_persons)


def process_item(item: BatchItem, out_dir: str, cfg: BatchConfig) -> ItemRecord:
    """Run one item end to end and return its record; never raises for a bad item.

    Writes ``<out_dir>/<id>.events.jsonl`` (and the timeline) atomically. This is the body of
    the Ray task; it also runs in-process (benchmarks, debugging).
    """
    t0 = time.perf_counter()
    c0 = time.process_time()
    timings: dict[str, float] = {}
    stat = item.input_stat
    base = dict(id=item.item_id, input=item.path, kind=item.kind, settings=cfg.settings,
                input_size=None if stat is None else stat[0],
                input_mtime=None if stat is None else stat[1], host=socket.gethostname(),
                pid=os.getpid())
    model = ("", "")
    try:
        detector = load_detector(cfg.model, cfg.threads_per_task)
        model = (str(detector.card.name), str(detector.card.version))
        if item.kind is ItemKind.KEYPOINTS:
            t = time.perf_counter()
            seq = _read_keypoints(item)
            timings["load_s"] = time.perf_counter() - t
        else:
            seq = _video_sequence(item, cfg, timings)
        persons = cfg.persons
        if item.kind is ItemKind.VIDEO and cfg.pose is not None:
            persons = "all" if cfg.pose.all_persons else "interviewee"
        t = time.perf_counter()
        stream = detector.detect(seq, persons=persons)
        timings["detect_s"] = time.perf_counter() - t
        t = time.perf_counter()
        from nfbl.io.event_formats import write_events  # noqa: PLC0415

        out = Path(out_dir) / f"{item.item_id}{EVENTS_SUFFIX}"
        write_events(stream, out, fmt="jsonl", fps=seq.fps)
        timeline = None
        if cfg.timeline:
            timeline = Path(out_dir) / f"{item.item_id}{TIMELINE_SUFFIX}"
            _write_timeline(stream, seq, timeline)
        timings["write_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        timings["cpu_s"] = time.process_time() - c0
        return ItemRecord(status=Status.OK, output=str(out),
                          timeline=None if timeline is None else str(timeline),
                          video_id=seq.video_id, events=len(stream), frames=seq.num_frames,
                          media_s=round(seq.duration, 3), timings=timings, model=model[0],
                          model_version=model[1], **base)
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        timings["total_s"] = time.perf_counter() - t0
        timings["cpu_s"] = time.process_time() - c0
        tb = None
        if not isinstance(exc, NfblError):
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-8:])
            log.debug("%s failed:\n%s", item.path, tb)
        error = _one_line(exc) if tb is None else (
            f"{item.path}: {_one_line(exc)} (unexpected error; traceback in the manifest)")
        return ItemRecord(status=Status.FAILED, error=error, traceback=tb,
                          timings=timings, model=model[0], model_version=model[1], **base)


def _write_timeline(stream, seq, path: Path) -> None:
    from nfbl.viz.timeline import plot_timeline  # noqa: PLC0415

    plot_timeline(stream, path, duration=seq.duration, title=seq.video_id)


# --- Ray ------------------------------------------------------------------------------------

def _ray():
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("ray", "cluster", "nfbl batch (one task per video on "
                                     "Ray)") from None
    return ray


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on: Ray itself
    keeps retrying for minutes. ``auto`` is left to Ray (it fails fast when no Ray runs)."""
    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)/?", address.strip())
    if m is None:
        return
    host, port = m[1], int(m[2])
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise NfblError(f"cannot reach the Ray cluster at {address!r} ({reason}); is "
                        f"'ray start --head' running there, and is the port right (6379 for "
                        f"the head, 10001 for ray://)?") from None


@contextlib.contextmanager
def ray_session(cfg: BatchConfig) -> Iterator[Any]:
    """Yield the ``ray`` module, initialised: an existing cluster (``cfg.ray_address``), the
    Ray already initialised in this process, or a local Ray with ``cfg.workers`` CPUs (shut
    down on exit; only what this function started is shut down)."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        if cfg.ray_address:
            _check_reachable(cfg.ray_address)
        try:
            if cfg.ray_address:
                ray.init(address=cfg.ray_address, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=cfg.workers or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False, logging_level=logging.WARNING,
                         object_store_memory=max(80, cfg.object_store_mb) * 2**20)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {cfg.ray_address!r}" if cfg.ray_address else "a local Ray"
            raise NfblError(f"cannot start or reach {where}: {_one_line(exc)}") from None
        started = True
    elif cfg.ray_address:
        log.info("Ray is already initialised in this process; ignoring ray_address=%s",
                 cfg.ray_address)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _crash_record(item: BatchItem, exc: BaseException, cfg: BatchConfig) -> ItemRecord:
    stat = item.input_stat
    what = type(exc).__name__
    msg = " ".join(str(exc).split())[:300]
    return ItemRecord(id=item.item_id, status=Status.FAILED, input=item.path, kind=item.kind,
                      settings=cfg.settings, input_size=None if stat is None else stat[0],
                      input_mtime=None if stat is None else stat[1],
                      error=f"the Ray task failed ({what}) after {cfg.max_retries} "
                            f"retr{'y' if cfg.max_retries == 1 else 'ies'}: {msg}")


ItemFn = Callable[[BatchItem, str, BatchConfig], ItemRecord]


def run_batch(inputs: Sequence[str | Path], out_dir: str | Path, cfg: BatchConfig = BatchConfig(),
              item_fn: ItemFn = process_item,
              on_record: Callable[[ItemRecord], None] | None = None) -> BatchSummary:
    """Process every input item as one Ray task; see the module doc.

    ``item_fn`` is the task body (default :func:`process_item`; tests and benchmarks pass
    their own); ``on_record`` is called in the driver as each item finishes (progress).
    Raises :class:`NfblError` for bad arguments (missing input, no items, unreadable model,
    Ray missing or unreachable); per-item problems only go into the records.
    """
    t_start = time.perf_counter()
    _ray()  # fail early, with the install hint, when Ray is missing
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise NfblError(f"{out}: --out must be a folder, and this is a file")
    if cfg.model is not None:
        model_path = Path(cfg.model).expanduser().resolve()
        if not model_path.is_file():
            raise NfblError(f"{cfg.model}: no such model file (expected an nfbl .onnx detector)")
        cfg = dataclasses.replace(cfg, model=str(model_path))  # workers need an absolute path
    items = discover(inputs, exclude=out)
    if not items:
        raise NfblError("no videos or keypoint files found in " + ", ".join(map(str, inputs)))
    _check_out_dir(out, items)
    model = model_identity(cfg.model) if item_fn is process_item else ("", "")
    run = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    manifest_path = out / MANIFEST_NAME
    writer = _ManifestWriter(manifest_path)
    records: dict[str, ItemRecord] = {}
    startup = 0.0
    cpus = 0.0
    tasks_s = 0.0
    try:
        to_run, skipped = plan(items, latest_attempts(read_manifest(manifest_path)), out,
                               model, cfg)
        for item_id, rec in skipped.items():
            rec = dataclasses.replace(rec, run=run, finished=_now())
            writer.write(rec)
            records[item_id] = rec
            if on_record:
                on_record(rec)
        log.info("%d item(s): %d to run, %d skipped", len(items), len(to_run), len(skipped))
        if to_run:
            t = time.perf_counter()
            with ray_session(cfg) as ray:
                startup = time.perf_counter() - t
                cpus = float(ray.cluster_resources().get("CPU", 0.0))
                t = time.perf_counter()
                for rec in _run_tasks(ray, to_run, str(out), cfg, item_fn, cpus):
                    rec = dataclasses.replace(rec, run=run, finished=_now())
                    writer.write(rec)
                    records[rec.id] = rec
                    if on_record:
                        on_record(rec)
                tasks_s = time.perf_counter() - t
    finally:
        writer.close()
    ordered = tuple(records[i.item_id] for i in items if i.item_id in records)
    return BatchSummary(ordered, out, manifest_path, time.perf_counter() - t_start, startup,
                        cpus, run, tasks_s)


def _check_out_dir(out: Path, items: Sequence[BatchItem]) -> None:
    """Refuse an output folder that holds inputs: ``<id>.events.jsonl`` could overwrite
    annotation files next to them (``nfbl synth`` writes ``<vid>.events.jsonl``)."""
    for item in items:
        p = Path(item.path)
        if p.parent == out or (p.is_dir() and p == out):
            raise NfblError(f"{out}: --out holds input files ({p.name}); outputs named "
                            f"<id>.events.jsonl could overwrite files there; choose another "
                            f"folder")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _run_tasks(ray, items: Sequence[BatchItem], out_dir: str, cfg: BatchConfig, item_fn: ItemFn,
               cpus: float) -> Iterator[ItemRecord]:
    """Submit the items (at most ``limit`` in flight) and yield records as tasks finish.

    Without a timeout twice the CPUs are kept in flight (no idle gap between tasks); with
    ``cfg.item_timeout`` only as many as there are CPUs, so that a task starts about when it
    is submitted and its time can be counted from the submission."""
    remote = ray.remote(num_cpus=cfg.cpus_per_task, max_retries=cfg.max_retries)(item_fn)
    slots = max(1, int(max(cpus, 1) / cfg.cpus_per_task))
    if cfg.ray_address and cfg.workers:
        limit = int(cfg.workers)
    else:
        limit = slots if cfg.item_timeout else max(2, 2 * slots)
    pending: dict[Any, tuple[BatchItem, float]] = {}
    queue = list(items)
    queue.reverse()
    while queue or pending:
        while queue and len(pending) < limit:
            item = queue.pop()
            pending[remote.remote(item, out_dir, cfg)] = (item, time.perf_counter())
        done, _ = ray.wait(list(pending), num_returns=1,
                           timeout=None if cfg.item_timeout is None else 0.5)
        for ref in done:
            item, t_sub = pending.pop(ref)
            try:
                rec = ray.get(ref)
            except ray.exceptions.RayError as exc:
                log.warning("%s: task failed in Ray: %s", item.path, _one_line(exc))
                rec = _crash_record(item, exc, cfg)
            yield _finish(rec, item, t_sub)
        if cfg.item_timeout is not None:
            now = time.perf_counter()
            for ref, (item, t_sub) in list(pending.items()):
                if now - t_sub > cfg.item_timeout:
                    del pending[ref]
                    ray.cancel(ref, force=True)  # kills the worker process running it
                    log.warning("%s: cancelled after %.0f s", item.path, cfg.item_timeout)
                    yield _finish(_timeout_record(item, cfg), item, t_sub)


def _finish(rec: ItemRecord, item: BatchItem, t_sub: float) -> ItemRecord:
    if rec.nfbl_version != __version__:
        log.warning("%s ran on a worker with nfbl %s (driver: %s)", item.item_id,
                    rec.nfbl_version, __version__)
    return dataclasses.replace(rec, timings={**rec.timings,
                                             "wall_s": time.perf_counter() - t_sub})


def _timeout_record(item: BatchItem, cfg: BatchConfig) -> ItemRecord:
    stat = item.input_stat
    return ItemRecord(id=item.item_id, status=Status.FAILED, input=item.path, kind=item.kind,
                      settings=cfg.settings, input_size=None if stat is None else stat[0],
                      input_mtime=None if stat is None else stat[1],
                      error=f"{item.path}: took longer than --item-timeout "
                            f"{cfg.item_timeout:g} s; the task was cancelled")


# --- benchmark ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchRow:
    """One benchmark mode over all items, repeated (``workers`` 0 = in-process serial,
    ``-w`` = :func:`empty_item` tasks on the ``w``-worker Ray).

    ``walls`` = wall time (s) of the task phase of each repetition (first submit → last
    result; serially: the loop over items); ``task_sums`` / ``cpu_sums`` = the items'
    in-task ``total_s`` / ``cpu_s`` summed, per repetition; ``startup_s`` = ``ray.init``
    (0 in-process)."""

    mode: str
    workers: int
    items: int
    ok: int
    startup_s: float
    walls: tuple[float, ...]
    task_sums: tuple[float, ...]
    cpu_sums: tuple[float, ...] = ()

    @property
    def cpu_s(self) -> float:
        """Median over repetitions of the items' in-task CPU seconds (``timings.cpu_s``)."""
        return float(statistics.median(self.cpu_sums)) if self.cpu_sums else float("nan")

    @property
    def wall_s(self) -> float:
        return float(statistics.median(self.walls))

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def outside_task_s(self) -> float:
        """Median over repetitions of (wall − Σ in-task time) / items: per item, the time the
        run spent outside the task bodies (meaningful with one worker)."""
        return float(statistics.median((w - t) / self.items
                                       for w, t in zip(self.walls, self.task_sums)))


@dataclass(frozen=True)
class BenchResult:
    """Serial in-process baseline and Ray runs over the same items; ``media_s`` = seconds of
    keypoints/video per repetition."""

    rows: tuple[BenchRow, ...]
    media_s: float

    def overhead_per_item_s(self) -> float | None:
        """(median wall of the 1-worker Ray run − median wall of the serial run) / items."""
        serial = next((r for r in self.rows if r.workers == 0), None)
        one = next((r for r in self.rows if r.workers == 1), None)
        if serial is None or one is None or not serial.items:
            return None
        return (one.wall_s - serial.wall_s) / serial.items

    def table(self) -> str:
        lines = [f"{'mode':<18} {'items':>5} {'ok':>4} {'start s':>8} {'wall s (runs)':>24} "
                 f"{'items/s':>8} {'x realtime':>10} {'outside task ms/item':>21} "
                 f"{'task CPU s':>10}"]
        for r in self.rows:
            rt = (f"{self.media_s / r.wall_s:.3g}" if r.wall_s > 0 and r.workers >= 0
                  else "-")
            runs = ", ".join(f"{w:.2f}" for w in r.walls)
            outside = f"{r.outside_task_s * 1000:.1f}" if r.workers in (0, 1, -1) else "-"
            cpu = f"{r.cpu_s:.2f}" if r.cpu_sums else "-"
            lines.append(f"{r.mode:<18} {r.items:>5} {r.ok:>4} {r.startup_s:>8.2f} "
                         f"{r.wall_s:>7.2f} ({runs:>14}) {r.items_per_s:>8.2f} {rt:>10} "
                         f"{outside:>21} {cpu:>10}")
        ov = self.overhead_per_item_s()
        if ov is not None:
            lines.append(f"Ray overhead per item, 1 worker vs in-process serial (median walls): "
                         f"{ov * 1000:.1f} ms; media per run: {self.media_s:.0f} s")
        empty = next((r for r in self.rows if r.workers == -1), None)
        if empty is not None:
            lines.append(f"Batch machinery per item with empty tasks, 1 worker (Ray dispatch + "
                         f"result + manifest line): {empty.wall_s / empty.items * 1000:.1f} ms")
        return "\n".join(lines)


def _total(records: Iterable[ItemRecord], key: str) -> float:
    return float(sum(r.timings.get(key, 0.0) for r in records))


def empty_item(item: BatchItem, out_dir: str, cfg: BatchConfig) -> ItemRecord:
    """A task body that does no work (reads nothing, writes nothing): run through
    :func:`run_batch` it measures what the batch machinery alone costs per item."""
    t0 = time.perf_counter()
    return ItemRecord(id=item.item_id, status=Status.OK, input=item.path, kind=item.kind,
                      settings=cfg.settings, host=socket.gethostname(), pid=os.getpid(),
                      timings={"total_s": time.perf_counter() - t0})


def benchmark(inputs: Sequence[str | Path], out_dir: str | Path, cfg: BatchConfig = BatchConfig(),
              workers: Sequence[int] = (1, 2), repeat: int = 3) -> BenchResult:
    """Throughput of the same items in-process serially and on a fresh local Ray per
    ``workers`` count, each ``repeat`` times (medians reported). Every repetition writes into
    its own new sub-folder of ``out_dir`` (nothing is skipped). The serial baseline loads the
    detector before timing; each Ray run's first repetition includes the workers' imports
    and model loads. Needs a process where Ray is not initialised yet."""
    import tempfile  # noqa: PLC0415

    ray = _ray()
    if ray.is_initialized():
        raise NfblError("the batch benchmark starts its own local Ray; call it in a process "
                        "where Ray is not initialised")
    if repeat < 1:
        raise NfblError(f"repeat must be >= 1, got {repeat}")
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    items = discover(inputs, exclude=out)
    if not items:
        raise NfblError("no videos or keypoint files found in " + ", ".join(map(str, inputs)))
    if cfg.model is not None:
        cfg = dataclasses.replace(cfg, model=str(Path(cfg.model).expanduser().resolve()))
    load_detector(cfg.model, cfg.threads_per_task)
    rows = []
    walls, sums, cpus, recs = [], [], [], []
    for _ in range(repeat):
        d = tempfile.mkdtemp(prefix="bench-serial-", dir=out)
        t = time.perf_counter()
        recs = [process_item(item, d, cfg) for item in items]
        walls.append(time.perf_counter() - t)
        sums.append(_total(recs, "total_s"))
        cpus.append(_total(recs, "cpu_s"))
    rows.append(BenchRow("in-process serial", 0, len(items),
                         sum(r.status is Status.OK for r in recs), 0.0, tuple(walls), tuple(sums),
                         tuple(cpus)))
    media = sum(r.media_s or 0.0 for r in recs)
    for w in workers:
        wcfg = dataclasses.replace(cfg, workers=int(w), ray_address=None)
        t = time.perf_counter()
        with ray_session(wcfg):
            startup = time.perf_counter() - t
            walls, sums, cpus = [], [], []
            for _ in range(repeat):
                d = tempfile.mkdtemp(prefix=f"bench-ray{w}-", dir=out)
                s = run_batch(inputs, d, wcfg)
                walls.append(s.tasks_s)
                sums.append(_total(s.records, "total_s"))
                cpus.append(_total(s.records, "cpu_s"))
            row = BenchRow(f"ray, {w} worker{'s' if w != 1 else ''}", int(w), len(s.records),
                           s.count(Status.OK), startup, tuple(walls), tuple(sums), tuple(cpus))
            e_walls, e_sums = [], []
            for _ in range(repeat):
                d = tempfile.mkdtemp(prefix=f"bench-empty{w}-", dir=out)
                s = run_batch(inputs, d, wcfg, item_fn=empty_item)
                e_walls.append(s.tasks_s)
                e_sums.append(_total(s.records, "total_s"))
        rows.append(row)
        rows.append(BenchRow(f"  empty tasks", -int(w), len(s.records), s.count(Status.OK),
                             0.0, tuple(e_walls), tuple(e_sums)))
    return BenchResult(tuple(rows), media)
