"""Datasets: a folder of keypoint sequences + annotations → :class:`Sample` items.

:func:`open_dataset` indexes a folder (cheap: names only) and returns a :class:`Dataset`
whose items are read on access, so a training loop can iterate, index or split it without
loading every video first. Supported layouts (:class:`DatasetKind`):

- ``imigue``: OpenPose folders (``<vid>_<frame>_keypoints.json``, anywhere below ``root``)
  and/or MiGA ``<vid>_light_hand.csv`` files, with the iMiGUE label table
  (``*.imigue.csv`` or any CSV starting ``video_id,label_id``) giving events, subject ids and
  win/lose labels. Split: the iMiGUE cross-subject protocol.
- ``miga``: ``<vid>_light_hand.csv`` + ``<vid>_label.csv`` (subjects from an optional
  iMiGUE label table; the cross-subject split needs it).
- ``smg``: ``<ID>_skeleton.csv`` + ``<ID>_finelabels.csv``; split: sequences 1-35 train,
  36-40 test.
- ``folder``: your own data. Keypoint files of any format nfbl recognises by name
  (``<vid>.npz``, OpenPose folders, mmpose/AlphaPose JSON, pose-format, ...) with their
  annotations: a companion file (``<vid>.events.jsonl`` next to an ``.npz``, what
  ``nfbl synth`` writes; MiGA/SMG label files) or ``labels=`` an event file or folder of
  event files in any event format (a BORIS project, ELAN files, ActivityNet ground truth,
  nfbl JSONL/CSV), matched to the keypoint files by video id, with ``label_map`` for your
  own vocabulary. ``split`` selects the sub-folder ``root/<split>`` when there is one.
  Subject id and video label come from an ``.npz``'s ``meta`` (``subject_id``,
  ``video_label``).
"""
from __future__ import annotations

import enum
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import EventStream
from nfbl.io.inputs import check_input, is_regular_file
from nfbl.io.keypoints import KEYPOINT_FORMATS, read_companion_events, read_keypoints
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

#: iMiGUE cross-subject protocol (subject ids as in the label table).
IMIGUE_TRAIN_SUBJECTS = frozenset({2, 4, 5, 6, 9, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 23,
                                   25, 28, 29, 30, 31, 35, 36, 38, 39, 41, 42, 43, 44, 46, 47,
                                   48, 52, 53, 59, 61, 62})
IMIGUE_TEST_SUBJECTS = frozenset({1, 3, 7, 8, 11, 16, 19, 24, 26, 27, 32, 33, 34, 37, 40, 45,
                                  49, 50, 51, 54, 55, 56, 57, 58, 60, 63, 64, 65, 66, 67, 68,
                                  69, 70, 71, 72})
#: iMiGUE emotion protocol (video level, win = positive): video ids as in the label table.
IMIGUE_EMOTION_TRAIN_VIDEOS = frozenset({
    1, 7, 8, 11, 26, 27, 46, 47, 48, 53, 55, 57, 63, 66, 67, 74, 77, 84, 85, 86, 91, 96, 102,
    103, 104, 105, 106, 108, 109, 112, 114, 117, 124, 132, 134, 140, 148, 157, 161, 162, 163,
    164, 167, 169, 170, 172, 176, 186, 196, 216, 233, 236, 237, 239, 240, 241, 242, 243, 249,
    252, 266, 290, 297, 300, 306, 310, 314, 318, 319, 320, 324, 334, 339, 359, 360, 365, 369,
    377, 381, 385, 392, 402, 407, 410, 411, 413, 414, 415, 420, 429, 433, 435, 436, 440, 441,
    445, 448, 449, 450, 451, 452, 453})
IMIGUE_EMOTION_TEST_VIDEOS = frozenset({
    9, 10, 12, 16, 28, 35, 43, 49, 50, 51, 52, 54, 56, 60, 71, 72, 83, 89, 95, 100, 107, 110,
    111, 121, 131, 136, 144, 145, 165, 166, 168, 171, 174, 179, 185, 191, 193, 212, 220, 223,
    230, 231, 232, 234, 235, 238, 244, 246, 254, 258, 262, 263, 268, 270, 276, 280, 282, 303,
    304, 311, 312, 313, 315, 316, 317, 322, 323, 325, 327, 328, 329, 333, 337, 341, 343, 344,
    363, 374, 400, 401, 403, 404, 405, 406, 408, 416, 417, 419, 421, 428, 430, 431, 437, 438,
    439, 442, 443, 444, 446, 447})


@dataclass(frozen=True)
class Protocol:
    """A published train/test split, selectable by name (``--protocol``).

    unit: what the id sets hold (``"subject"`` or ``"video"`` ids); published: the
    (train, test) sample counts the paper gives, checked when the whole table is given.
    """

    name: str
    unit: str
    train: frozenset[int]
    test: frozenset[int]
    description: str
    published: tuple[int, int] | None = None


#: The built-in protocols, by name.
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("imigue-xsub", "subject", IMIGUE_TRAIN_SUBJECTS, IMIGUE_TEST_SUBJECTS,
             "iMiGUE cross-subject, micro-gesture level (37 train / 35 test subjects)",
             published=(13936, 4563)),
    Protocol("imigue-emotion", "video", IMIGUE_EMOTION_TRAIN_VIDEOS, IMIGUE_EMOTION_TEST_VIDEOS,
             "iMiGUE emotion, video level, win = positive (102 train / 100 test videos)"),
)}


def get_protocol(name: "str | Protocol") -> Protocol:
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[str(name)]
    except KeyError:
        raise NfblError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") \
            from None


def _int_id(value) -> int | None:
    m = re.fullmatch(r"0*(\d+)", str(value).strip()) if value is not None else None
    return int(m.group(1)) if m else None


def protocol_split(protocol: "str | Protocol", video_id: str,
                   subject_id: str | int | None = None) -> str | None:
    """``"train"``/``"test"`` of a video under a protocol (None: not in it)."""
    p = get_protocol(protocol)
    key = _int_id(subject_id if p.unit == "subject" else video_id)
    if key is None:
        return None
    return "train" if key in p.train else "test" if key in p.test else None


def split_stream(stream: EventStream, protocol: "str | Protocol", split: str) -> EventStream:
    """The events of the videos in ``split`` of ``protocol``. Subject ids come from the
    iMiGUE table's ``meta["videos"]``; a subject-level protocol needs them."""
    p = get_protocol(protocol)
    _check_split(split)
    videos = stream.meta.get("videos", {}) if isinstance(stream.meta, dict) else {}
    if p.unit == "subject" and not videos:
        raise NfblError(f"the {p.name} protocol needs subject ids: give the iMiGUE label table "
                        "(with its subject_id column)")
    keep = {v for v in stream.video_ids
            if protocol_split(p, v, videos.get(v, {}).get("subject_id")) == split}
    return EventStream(tuple(e for e in stream if e.video_id in keep), dict(stream.meta))


def check_published_counts(stream: EventStream, protocol: "str | Protocol") -> tuple[int, int] | None:
    """When ``stream`` is the whole iMiGUE table (all 72 subjects), count its train/test
    samples and compare with the published counts: raise if they differ by more than one
    sample per split (the public table has 18,498 rows, one fewer than the paper's 13,936 +
    4,563), log any difference. Returns the counts, or None for a partial table."""
    p = get_protocol(protocol)
    if p.published is None or p.unit != "subject":
        return None
    videos = stream.meta.get("videos", {}) if isinstance(stream.meta, dict) else {}
    subjects = {_int_id(info.get("subject_id")) for info in videos.values()}
    if not (p.train | p.test) <= subjects:
        return None
    counts = {"train": 0, "test": 0}
    for e in stream:
        sp = protocol_split(p, e.video_id, videos.get(e.video_id, {}).get("subject_id"))
        if sp is not None:
            counts[sp] += 1
    got = (counts["train"], counts["test"])
    if got != p.published:
        msg = (f"{p.name}: {got[0]} train / {got[1]} test samples in this table, the "
               f"published counts are {p.published[0]} / {p.published[1]}")
        if any(abs(a - b) > 1 for a, b in zip(got, p.published)):
            raise NfblError(msg + "; is this the whole, unmodified label table?")
        log.warning("%s", msg)
    return got


#: SMG protocol: sequence ids.
SMG_TRAIN_SEQUENCES = frozenset(range(1, 36))
SMG_TEST_SEQUENCES = frozenset(range(36, 41))
SPLITS = ("train", "test")


class DatasetKind(str, enum.Enum):
    IMIGUE = "imigue"
    MIGA = "miga"
    SMG = "smg"
    FOLDER = "folder"


@dataclass(frozen=True, eq=False)
class Sample:
    """One video: its keypoints, ground-truth events, subject id and video-level label
    (e.g. iMiGUE ``win``/``lose``; None when the dataset has none)."""

    sequence: PoseSequence
    events: EventStream
    subject_id: str | None
    video_label: str | None


@dataclass(frozen=True)
class SampleRef:
    """Where one sample's files are (what :func:`open_dataset` indexes)."""

    path: Path
    fmt: str  #: a name in nfbl.io.keypoints.KEYPOINT_FORMATS
    video_id: str
    subject_id: str | None = None
    video_label: str | None = None
    table_id: str | None = None  #: the video's id in the iMiGUE label table, when it differs


class Dataset(Sequence[Sample]):
    """An indexed dataset; items are read from disk on access."""

    def __init__(self, kind: DatasetKind, refs: Sequence[SampleRef],
                 table: EventStream | None = None, fps: float | None = None) -> None:
        self.kind = kind
        self.refs = tuple(refs)
        self._table = table
        self._fps = fps

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Dataset(self.kind, self.refs[i], self._table, self._fps)
        return self.load(self.refs[i])

    def __iter__(self) -> Iterator[Sample]:
        for ref in self.refs:
            yield self.load(ref)

    def load(self, ref: SampleRef) -> Sample:
        seq = read_keypoints(ref.path, ref.fmt, fps=self._fps, video_id=ref.video_id)
        assert isinstance(seq, PoseSequence)
        events = None
        if KEYPOINT_FORMATS[ref.fmt].companion is not None:
            events = read_companion_events(ref.path, seq, ref.fmt)  # MiGA, SMG, nfbl
        if events is None and self._table is not None:
            events = self._table.for_video(ref.table_id or ref.video_id)  # iMiGUE label table
            if ref.table_id and ref.table_id != ref.video_id:
                events = EventStream(tuple(replace(e, video_id=ref.video_id) for e in events),
                                     events.meta)
        if events is None:
            log.info("%s: no annotations found; empty event stream", ref.path)
            events = EventStream()
        subject, label = ref.subject_id, ref.video_label
        if ref.fmt == "npz":
            subject = subject or _opt_str(seq.meta.get("subject_id"))
            label = label or _opt_str(seq.meta.get("video_label"))
        return Sample(seq, events, subject, label)


def holdout(ds: Dataset, share: float, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into ``(rest, held_out)`` by **subject**, so no person is in both (by
    video where the index has no subject id: iMiGUE/MiGA take it from the label table, SMG
    from the sequence id; a folder dataset keeps it inside each file, so it is split by
    video). ``round(share × groups)`` groups, at least one and never all, chosen by a
    permutation seeded with ``seed`` of the sorted group ids: the same folder, share and seed
    give the same split on every machine. For a validation set carved from a training split,
    so that the published test split is only used for the final score.
    """
    if not 0.0 < share < 1.0:
        raise NfblError(f"a held-out share must be between 0 and 1, got {share}")

    def group(r: SampleRef) -> str:
        return r.subject_id or f"video:{r.video_id}"

    groups = sorted({group(r) for r in ds.refs})
    if len(groups) < 2:
        raise NfblError(f"cannot hold out part of {len(groups)} subject/video group(s): "
                        "validation needs a separate split")
    import numpy as np

    n = min(max(1, round(share * len(groups))), len(groups) - 1)
    held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))[:n]}
    rest = [r for r in ds.refs if group(r) not in held]
    out = [r for r in ds.refs if group(r) in held]
    return Dataset(ds.kind, rest, ds._table, ds._fps), Dataset(ds.kind, out, ds._table, ds._fps)


def _opt_str(v) -> str | None:
    return None if v is None or v == "" else str(v)


def imigue_split_of(subject_id: str | int | None) -> str | None:
    """``"train"``/``"test"`` under the iMiGUE cross-subject protocol (None if unknown)."""
    try:
        s = int(str(subject_id).strip())
    except (TypeError, ValueError):
        return None
    return "train" if s in IMIGUE_TRAIN_SUBJECTS else "test" if s in IMIGUE_TEST_SUBJECTS else None


def smg_split_of(sequence_id: str | int) -> str | None:
    """``"train"``/``"test"`` under the SMG protocol (sequences 1-35 / 36-40)."""
    m = re.search(r"\d+", str(sequence_id))
    if not m:
        return None
    n = int(m.group())
    return "train" if n in SMG_TRAIN_SEQUENCES else "test" if n in SMG_TEST_SEQUENCES else None


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise NfblError(f"unknown split {split!r}; choose train or test (or none for all)")


def _find_label_table(root: Path) -> Path | None:
    cands = sorted(root.rglob("*.imigue.csv"))
    if not cands:
        for p in sorted(root.rglob("*.csv")):
            if p.name.endswith(("_label.csv", "_light_hand.csv", "_skeleton.csv",
                                "_finelabels.csv")):
                continue
            if not is_regular_file(p):
                continue
            with open(p, encoding="utf-8-sig", errors="replace") as fh:
                if fh.readline().strip().lower().startswith("video_id,label_id"):
                    cands.append(p)
    if len(cands) > 1:
        raise InputFormatError(f"several iMiGUE label tables ({', '.join(map(str, cands[:3]))}); "
                               "pass the one to use (labels=...)", root)
    return cands[0] if cands else None


def _scan(root: Path) -> tuple[dict[str, list[tuple[str, Path]]], list[tuple[str, Path, str]]]:
    """One walk below ``root``: ``{format: [(video id, file)]}`` for the single-file formats
    of :data:`~nfbl.io.keypoints.KEYPOINT_FORMATS` and ``[(video id, folder, format)]`` for
    its folder formats (OpenPose), both sorted."""
    from nfbl.io.keypoints import folder_format, match_name

    files: dict[str, list[tuple[str, Path]]] = {}
    folders: list[tuple[str, Path, str]] = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder_hit = False
        for name in sorted(names):
            m = match_name(name)
            if m is None:
                continue
            spec, suf = m
            if spec.folder_videos is not None:
                folder_hit = True
            else:  # a fixed name (alphapose-results.json) is named after its folder
                vid = name[: -len(suf)] or Path(dirpath).name
                files.setdefault(spec.name, []).append((vid, Path(dirpath) / name))
        if folder_hit:
            found = folder_format(dirpath)
            if found is not None:
                folders += [(vid, Path(dirpath), found[0].name) for vid in sorted(found[1])]
    return files, folders


def open_dataset(root: str | Path, kind: DatasetKind | str | None = None,
                 split: str | None = None, labels: str | Path | None = None,
                 fps: float | None = None, protocol: str | None = None,
                 label_map: "str | Path | Mapping[str, int | None] | None" = None) -> Dataset:
    """Index a dataset folder. ``kind`` is guessed from the file names when None; ``split``
    is ``"train"``, ``"test"`` or None (everything) under ``protocol`` (iMiGUE/MiGA: one of
    :data:`PROTOCOLS`, default ``imigue-xsub``; a protocol name given as ``kind`` selects
    both, as a training config's ``dataset = "imigue-emotion"`` does); ``labels`` is the
    iMiGUE label table (found under ``root`` when not given) or, for ``folder``, an event
    file or folder of event files in any format, read with ``label_map`` (a mapping or a
    label-map file, see :func:`nfbl.io.event_formats.read_label_map`); ``fps`` overrides the
    formats' defaults."""
    from nfbl.io import miga
    from nfbl.io.event_formats import read_events

    root = Path(root)
    if not root.is_dir():
        raise InputFormatError("dataset root is not a folder", root)
    _check_split(split)
    if isinstance(kind, str) and kind in PROTOCOLS:  # a protocol name: iMiGUE/MiGA + its split
        if protocol is not None and protocol != kind:
            raise NfblError(f"dataset {kind!r} and protocol {protocol!r} disagree")
        protocol, kind = kind, None
        guessed = _guess_kind(root)
        kind = guessed if guessed in (DatasetKind.IMIGUE, DatasetKind.MIGA) else DatasetKind.IMIGUE
    if kind is None:
        kind = _guess_kind(root)
    try:
        kind = DatasetKind(kind)
    except ValueError:
        raise NfblError(f"unknown dataset kind {kind!r}; choose one of "
                        f"{', '.join(k.value for k in DatasetKind)}") from None
    files, folders = _scan(root)
    if kind is DatasetKind.SMG:
        refs = []
        for sid, p in files.get("smg", []):
            if split is None or smg_split_of(sid) == split:
                refs.append(SampleRef(p, "smg", sid, sid, None))
        return _nonempty(Dataset(kind, refs, None, fps), root, split)
    if kind is DatasetKind.FOLDER:
        return _folder_dataset(root, split, files, folders, labels, label_map, fps)
    # iMiGUE / MiGA
    proto = get_protocol(protocol or "imigue-xsub")
    table_path = Path(labels) if labels is not None else _find_label_table(root)
    table = None
    videos: dict = {}
    if table_path is not None:
        table = read_events(table_path, fmt="imigue", fps=fps or miga.DEFAULT_FPS)
        videos = table.meta.get("videos", {})
        check_published_counts(table, proto)
    elif kind is DatasetKind.IMIGUE:
        raise InputFormatError("no iMiGUE label table (*.imigue.csv, or a CSV starting "
                               "'video_id,label_id') found; pass labels=...", root)
    found: list[tuple[str, Path, str]] = []
    for vid, p in files.get("miga", []):
        found.append((vid, p, "miga"))
    if kind is DatasetKind.IMIGUE:
        have = {v for v, _, _ in found}
        found += [(v, f, fmt) for v, f, fmt in folders if v not in have]
    refs = []
    by_number = {}
    for tid in videos:
        if _int_id(tid) is not None:
            by_number.setdefault(_int_id(tid), tid)
    table_ids = {}
    for vid, _, _ in found:  # "0001" in file names, "1" in the table: the same video
        tid = vid if vid in videos else by_number.get(_int_id(vid))
        if tid is not None:
            table_ids[vid] = tid
    if table is not None and found:
        missing = sorted({v for v, _, _ in found} - set(table_ids))
        if len(missing) == len({v for v, _, _ in found}):
            raise InputFormatError(f"no keypoint video ({', '.join(missing[:3])}...) is in the "
                                   f"label table {table_path} (videos there: "
                                   f"{', '.join(sorted(videos)[:3])}...); check the video ids",
                                   root)
        if missing:
            log.warning("%s: %d video(s) are not in the label table and have no events: %s",
                        root, len(missing), ", ".join(missing[:5]))
    for vid, p, fmt in sorted(found, key=lambda x: x[0]):
        tid = table_ids.get(vid)
        info = videos.get(tid, {}) if tid is not None else {}
        subject = _opt_str(info.get("subject_id"))
        if split is not None:
            if table is None and proto.unit == "subject":
                raise NfblError(f"the {split} split of {kind.value} needs the iMiGUE label "
                                "table (subject ids); pass labels=...")
            side = protocol_split(proto, vid, subject)
            if side is None:
                log.warning("%s: video %s is in neither split of %s; left out of the %s split",
                            root, vid, proto.name, split)
                continue
            if side != split:
                continue
        refs.append(SampleRef(p, fmt, vid, subject, _opt_str(info.get("win_or_lose")),
                              tid if tid not in (None, vid) else None))
    return _nonempty(Dataset(kind, refs, table, fps), root, split)


def _read_label_files(labels: Path, fps: float | None,
                      label_map: "str | Path | Mapping[str, int | None] | None",
                      keypoint_files: set[Path]) -> tuple[EventStream, set[Path]]:
    """Every event file of ``labels`` (a file, or a folder read recursively by the event
    formats' name endings, keypoint files left out) as one stream, and the files read."""
    from nfbl.io.event_formats import event_files, read_event_files, read_label_map

    lmap = read_label_map(label_map) if isinstance(label_map, (str, Path)) else dict(label_map or {})
    if labels.is_dir():
        paths = [p for p in event_files(labels, recursive=True, exclude=keypoint_files)
                 if not p.name.lower().endswith(_KEYPOINT_ONLY_ENDINGS)]
        if not paths:
            raise InputFormatError("no event file (.jsonl, .csv, .json, .eaf, .boris, .tsv, ...) "
                                   "in the labels folder", labels)
    else:
        paths = [check_input(labels, "file")]
    stream = read_event_files(paths, fps=fps, label_map=lmap, source=str(labels))
    return stream, {p.resolve() for p in paths}


#: name endings of keypoint files that an event format's ending would also match
_KEYPOINT_ONLY_ENDINGS = ("_keypoints.json", "_light_hand.csv", "_skeleton.csv")


def _folder_dataset(root: Path, split: str | None, files: dict, folders: list,
                    labels: str | Path | None, label_map, fps: float | None) -> Dataset:
    base = root / split if split is not None and (root / split).is_dir() else root
    if split is not None and base is root:
        log.warning("%s has no '%s' sub-folder: using every sequence", root, split)
    table, label_files = (None, set())
    if labels is not None:
        kp_files = {p.resolve() for items in files.values() for _, p in items}
        table, label_files = _read_label_files(Path(labels), fps, label_map, kp_files)
    found: list[tuple[str, Path, str]] = [
        (vid, p, fmt) for fmt, items in files.items() for vid, p in items
        if p.resolve() not in label_files and (base == root or base in p.parents)]
    found += [(vid, f, fmt) for vid, f, fmt in folders if base == root or base == f or base in f.parents]
    seen: dict[str, Path] = {}
    for vid, p, _ in found:
        if vid in seen:
            raise InputFormatError(f"video {vid!r} has two keypoint files ({seen[vid]} and {p}); "
                                   "keep one per video", root)
        seen[vid] = p
    table_ids: dict[str, str] = {}
    if table is not None:  # annotated videos: with events, or without any but of known length
        durations = table.meta.get("durations") if isinstance(table.meta, dict) else None
        have = set(table.video_ids) | (set(map(str, durations)) if isinstance(durations, dict) else set())
        lower = {v.lower(): v for v in have}
        for vid in seen:
            tid = vid if vid in have else lower.get(vid.lower())
            if tid is not None:
                table_ids[vid] = tid
        with_companion = {vid for vid, p, fmt in found
                          if KEYPOINT_FORMATS[fmt].companion is not None
                          and is_regular_file(KEYPOINT_FORMATS[fmt].companion(p))}
        missing = sorted(set(seen) - set(table_ids) - with_companion)
        if seen and len(missing) == len(seen):
            raise InputFormatError(f"no keypoint video ({', '.join(missing[:3])}...) has events "
                                   f"in {labels} (videos there: {', '.join(sorted(have)[:3])}...); "
                                   "name the keypoint files after the annotated videos", root)
        if missing:
            log.warning("%s: %d video(s) have no events in %s: %s", root, len(missing), labels,
                        ", ".join(missing[:5]))
        unused = sorted(have - set(table_ids.values()))
        if unused:
            log.warning("%s: %d annotated video(s) have no keypoint file: %s", labels, len(unused),
                        ", ".join(unused[:5]))
    refs = [SampleRef(p, fmt, vid, table_id=table_ids.get(vid) if table_ids.get(vid) != vid else None)
            for vid, p, fmt in sorted(found, key=lambda x: x[0])]
    return _nonempty(Dataset(DatasetKind.FOLDER, refs, table, fps), root, split)


def _guess_kind(root: Path) -> DatasetKind:
    files, folders = _scan(root)
    if files.get("smg"):
        return DatasetKind.SMG
    if files.get("miga"):
        return DatasetKind.MIGA
    if files.get("npz"):
        return DatasetKind.FOLDER
    if folders:
        return DatasetKind.IMIGUE
    raise InputFormatError("cannot tell the dataset kind (no *_skeleton.csv, "
                           "*_light_hand.csv, *.npz or *_keypoints.json files)", root)


def _nonempty(ds: Dataset, root: Path, split: str | None) -> Dataset:
    if not len(ds):
        raise InputFormatError(f"no {ds.kind.value} sequences found"
                               + (f" in the {split} split" if split else ""), root)
    return ds


def load(kind: DatasetKind | str | None, root: str | Path, split: str | None = None,
         labels: str | Path | None = None, fps: float | None = None,
         protocol: str | None = None, label_map=None) -> Dataset:
    """:func:`open_dataset` with the kind first (an empty kind is guessed), as a training
    config names it: ``load(cfg.data.dataset, cfg.data.dataset_root, split="train")``."""
    return open_dataset(root, kind or None, split=split, labels=labels, fps=fps,
                        protocol=protocol, label_map=label_map)
