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
- ``folder``: nfbl's own ``<vid>.npz`` + ``<vid>.events.jsonl`` (what ``nfbl synth``
  writes); ``split`` selects the sub-folder ``root/<split>`` when there is one. Subject id
  and video label come from the sequence's ``meta`` (``subject_id``, ``video_label``).
"""
from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import EventStream
from nfbl.io.keypoints import KeypointFormat, read_companion_events, read_keypoints
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

#: iMiGUE cross-subject protocol (subject ids as in the label table).
IMIGUE_TRAIN_SUBJECTS = frozenset({2, 4, 5, 6, 9, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 23,
                                   25, 28, 29, 30, 31, 35, 36, 38, 39, 41, 42, 43, 44, 46, 47,
                                   48, 52, 53, 59, 61, 62})
IMIGUE_TEST_SUBJECTS = frozenset({1, 3, 7, 8, 11, 16, 19, 24, 26, 27, 32, 33, 34, 37, 40, 45,
                                  49, 50, 51, 54, 55, 56, 57, 58, 60, 63, 64, 65, 66, 67, 68,
                                  69, 70, 71, 72})
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
    fmt: KeypointFormat
    video_id: str
    subject_id: str | None = None
    video_label: str | None = None


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
        if ref.fmt is not KeypointFormat.OPENPOSE:
            events = read_companion_events(ref.path, seq, ref.fmt)  # MiGA, SMG, nfbl
        if events is None and self._table is not None:
            events = self._table.for_video(ref.video_id)  # iMiGUE label table
        if events is None:
            log.info("%s: no annotations found; empty event stream", ref.path)
            events = EventStream()
        subject, label = ref.subject_id, ref.video_label
        if ref.fmt is KeypointFormat.NPZ:
            subject = subject or _opt_str(seq.meta.get("subject_id"))
            label = label or _opt_str(seq.meta.get("video_label"))
        return Sample(seq, events, subject, label)


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
            with open(p, encoding="utf-8", errors="replace") as fh:
                if fh.readline().strip().lower().startswith("video_id,label_id"):
                    cands.append(p)
    if len(cands) > 1:
        raise InputFormatError(f"several iMiGUE label tables ({', '.join(map(str, cands[:3]))}); "
                               "pass the one to use (labels=...)", root)
    return cands[0] if cands else None


def _openpose_videos(root: Path) -> list[tuple[str, Path]]:
    from nfbl.io import openpose

    out = []
    for folder in sorted({p.parent for p in root.rglob("*_keypoints.json")}):
        for vid in sorted(openpose.list_frame_files(folder)):
            out.append((vid, folder))
    return out


def open_dataset(root: str | Path, kind: DatasetKind | str | None = None,
                 split: str | None = None, labels: str | Path | None = None,
                 fps: float | None = None) -> Dataset:
    """Index a dataset folder. ``kind`` is guessed from the file names when None; ``split``
    is ``"train"``, ``"test"`` or None (everything); ``labels`` is the iMiGUE label table
    (found under ``root`` when not given); ``fps`` overrides the formats' defaults."""
    from nfbl.io import miga, smg
    from nfbl.io.event_formats import read_events

    root = Path(root)
    if not root.is_dir():
        raise InputFormatError("dataset root is not a folder", root)
    _check_split(split)
    if kind is None:
        kind = _guess_kind(root)
    try:
        kind = DatasetKind(kind)
    except ValueError:
        raise NfblError(f"unknown dataset kind {kind!r}; choose one of "
                        f"{', '.join(k.value for k in DatasetKind)}") from None
    if kind is DatasetKind.SMG:
        refs = []
        for p in sorted(root.rglob("*" + smg.SKELETON_SUFFIX)):
            sid = miga.video_id_of(p, smg.SKELETON_SUFFIX)
            if split is None or smg_split_of(sid) == split:
                refs.append(SampleRef(p, KeypointFormat.SMG, sid, sid, None))
        return _nonempty(Dataset(kind, refs, None, fps), root, split)
    if kind is DatasetKind.FOLDER:
        base = root / split if split is not None and (root / split).is_dir() else root
        if split is not None and base is root:
            log.warning("%s has no '%s' sub-folder: using every sequence", root, split)
        refs = [SampleRef(p, KeypointFormat.NPZ, p.name[:-4]) for p in sorted(base.rglob("*.npz"))]
        return _nonempty(Dataset(kind, refs, None, fps), root, split)
    # iMiGUE / MiGA
    table_path = Path(labels) if labels is not None else _find_label_table(root)
    table = None
    videos: dict = {}
    if table_path is not None:
        table = read_events(table_path, fmt="imigue", fps=fps or miga.DEFAULT_FPS)
        videos = table.meta.get("videos", {})
    elif kind is DatasetKind.IMIGUE:
        raise InputFormatError("no iMiGUE label table (*.imigue.csv, or a CSV starting "
                               "'video_id,label_id') found; pass labels=...", root)
    found: list[tuple[str, Path, KeypointFormat]] = []
    for p in sorted(root.rglob("*" + miga.SKELETON_SUFFIX)):
        found.append((miga.video_id_of(p, miga.SKELETON_SUFFIX), p, KeypointFormat.MIGA))
    if kind is DatasetKind.IMIGUE:
        have = {v for v, _, _ in found}
        found += [(v, f, KeypointFormat.OPENPOSE) for v, f in _openpose_videos(root)
                  if v not in have]
    refs = []
    for vid, p, fmt in sorted(found, key=lambda x: x[0]):
        info = videos.get(vid, {})
        subject = _opt_str(info.get("subject_id"))
        if split is not None:
            if table is None:
                raise NfblError(f"the {split} split of {kind.value} needs the iMiGUE label "
                                "table (subject ids); pass labels=...")
            if imigue_split_of(subject) is None:
                log.warning("%s: video %s has no known subject id; left out of the %s split",
                            root, vid, split)
                continue
            if imigue_split_of(subject) != split:
                continue
        refs.append(SampleRef(p, fmt, vid, subject, _opt_str(info.get("win_or_lose"))))
    return _nonempty(Dataset(kind, refs, table, fps), root, split)


def _guess_kind(root: Path) -> DatasetKind:
    from nfbl.io import miga, smg

    if next(root.rglob("*" + smg.SKELETON_SUFFIX), None) is not None:
        return DatasetKind.SMG
    if next(root.rglob("*" + miga.SKELETON_SUFFIX), None) is not None:
        return DatasetKind.MIGA
    if next(root.rglob("*.npz"), None) is not None:
        return DatasetKind.FOLDER
    if next(root.rglob("*_keypoints.json"), None) is not None:
        return DatasetKind.IMIGUE
    raise InputFormatError("cannot tell the dataset kind (no *_skeleton.csv, "
                           "*_light_hand.csv, *.npz or *_keypoints.json files)", root)


def _nonempty(ds: Dataset, root: Path, split: str | None) -> Dataset:
    if not len(ds):
        raise InputFormatError(f"no {ds.kind.value} sequences found"
                               + (f" in the {split} split" if split else ""), root)
    return ds


def load(kind: DatasetKind | str | None, root: str | Path, split: str | None = None,
         labels: str | Path | None = None, fps: float | None = None) -> Dataset:
    """:func:`open_dataset` with the kind first (an empty kind is guessed), as a training
    config names it: ``load(cfg.data.dataset, cfg.data.dataset_root, split="train")``."""
    return open_dataset(root, kind or None, split=split, labels=labels, fps=fps)
