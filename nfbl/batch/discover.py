"""Input discovery: paths, folders and globs → :class:`~nfbl.batch.config.BatchItem` (rules in
:mod:`nfbl.batch`)."""
from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Sequence

from nfbl.batch.config import BatchItem, ItemKind
from nfbl.core.errors import NfblError
from nfbl.io.keypoints import KEYPOINT_FORMATS, folder_format, match_name

log = logging.getLogger(__name__)

#: Name endings of keypoint files recognised in folders and globs, and those accepted only
#: when a file is named explicitly (mmpose JSON, pickles): derived from the one table of
#: keypoint formats, :data:`nfbl.io.keypoints.KEYPOINT_FORMATS`.
KEYPOINT_SUFFIXES: tuple[str, ...] = tuple(
    suf for spec in KEYPOINT_FORMATS.values() if spec.in_folders and spec.folder_videos is None
    for suf in spec.suffixes)
EXPLICIT_KEYPOINT_SUFFIXES: tuple[str, ...] = tuple(
    suf for spec in KEYPOINT_FORMATS.values() if not spec.in_folders for suf in spec.suffixes)
#: Video suffixes recognised by name in folders and globs (others are sniffed by content).
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .qt .mkv .mk3d .webm .avi .mpg .mpeg .mpe .m2v .m1v .ts .mts .m2ts .vob "
    ".flv .f4v .wmv .asf .3gp .3g2 .ogv .mxf .dv .y4m .nut .rm .rmvb .divx .h264 .264 .h265 "
    ".hevc .ivf .mjpeg .mjpg".split())
_GLOB_CHARS = re.compile(r"[*?\[]")
_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")


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
    """The name ending of a keypoint file (formats and endings from the one table,
    :data:`nfbl.io.keypoints.KEYPOINT_FORMATS`); folder scans (``explicit`` False) skip
    the formats that are picked up only when named (mmpose JSON, pickles)."""
    m = match_name(name, in_folders=not explicit)
    return None if m is None else m[1]


def _classify_file(path: Path, explicit: bool) -> tuple[ItemKind, str] | None:
    """(kind, stem) of a file, or None when a folder scan should ignore it."""
    suffix = _keypoint_suffix(path.name, explicit)
    if suffix is not None:
        stem = path.name[:-len(suffix)] or path.name
        return ItemKind.KEYPOINTS, stem
    if explicit or path.suffix.lower() in VIDEO_SUFFIXES or looks_like_video(path):
        return ItemKind.VIDEO, path.stem
    return None


def _folder_videos(folder: Path) -> list[str]:
    """Video ids of a folder format's files (OpenPose frames) directly inside ``folder``."""
    with contextlib.suppress(OSError, NfblError):
        found = folder_format(folder)
        if found is not None:
            return sorted(found[1])
    return []


def _scan_folder(folder: Path, exclude: Path | None, found: list[tuple[Path, ItemKind, str, str]],
                 ignored: list[Path]) -> None:
    for root, dirs, files in os.walk(folder):
        root_p = Path(root)
        if exclude is not None and (root_p == exclude or exclude in root_p.parents):
            dirs[:] = []
            continue
        vids = _folder_videos(root_p)
        if vids:
            for vid in vids:
                found.append((root_p, ItemKind.KEYPOINTS, vid or root_p.name,
                              vid if len(vids) > 1 else ""))
            dirs[:] = []
            files = [f for f in files if (m := match_name(f)) is None
                     or m[0].folder_videos is None]
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
