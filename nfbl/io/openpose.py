"""OpenPose JSON (one file per frame) → :class:`~nfbl.core.sequence.PoseSequence`.

Files are named ``<vid>_<12-digit frame>_keypoints.json`` and hold
``{"people": [{"pose_keypoints_2d": [75 values], "hand_left_keypoints_2d": [63],
"hand_right_keypoints_2d": [63], "face_keypoints_2d": [...]}, ...]}`` (BODY_25 + hands; the
face is ignored). (0, 0, 0) marks a missing joint; a frame may hold 0, 1 or several people,
in no particular order: :func:`nfbl.keypoints.tracking.link_people` links them into tracks.
This is the raw skeleton format of iMiGUE (a 15-minute video is ~22,500 files).

OpenPose's COCO model (the default before OpenPose 1.3) writes 54 values (18 parts,
``doc/02_output.md``): such files read as ``openpose18_hands``. One sequence holds one model's
output; a folder that mixes the two is refused. The MPI models (45 values) are refused.
"""
from __future__ import annotations

import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.keypoints import tracking
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import check_input, parse_json, read_bytes

log = logging.getLogger(__name__)

LAYOUT = skeletons.OPENPOSE_BODY25_HANDS
#: The layout of each pose length OpenPose writes (values = 3 x parts): BODY_25, COCO.
LAYOUT_OF_BODY = {75: skeletons.OPENPOSE_BODY25_HANDS, 54: skeletons.OPENPOSE18_HANDS}
DEFAULT_FPS = 25.0  # iMiGUE videos
FILE_RE = re.compile(r"^(?P<vid>.*?)_?(?P<frame>\d{12})_keypoints\.json$")
_HAND = 63
_ZERO_HAND = [0.0] * _HAND


def list_frame_files(folder: str | Path, image_dir: bool = False) -> dict[str, list[tuple[int, str]]]:
    """``{video id: [(frame number, path), ...]}`` sorted by frame number, for one folder.

    ``image_dir``: when no file carries a 12-digit frame number, take the folder's other
    ``*_keypoints.json`` files (OpenPose ``--image_dir`` output, named after the images) as
    one sequence named after the folder, frames 0, 1, ... in natural name order (``img2``
    before ``img10``). One directory scan either way.
    """
    folder = Path(folder)
    videos: dict[str, list[tuple[int, str]]] = {}
    unnumbered: list[str] = []
    with os.scandir(folder) as it:
        for entry in it:
            m = FILE_RE.match(entry.name)
            if not m:
                if image_dir and entry.name.endswith("_keypoints.json") and entry.is_file():
                    unnumbered.append(entry.name)
                continue
            if entry.is_dir():
                log.warning("%s: a folder named like an OpenPose frame file; skipped", entry.path)
                continue
            if not entry.is_file():
                check_input(entry.path, "file")  # a FIFO, socket or device: one clear error
            videos.setdefault(m["vid"], []).append((int(m["frame"]), entry.path))
    for files in videos.values():
        files.sort()
    if not videos and unnumbered:
        unnumbered.sort(key=_natural_key)
        videos[folder.name] = [(i, str(folder / n)) for i, n in enumerate(unnumbered)]
    return videos


def _natural_key(name: str) -> list:
    """``img2`` before ``img10``: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _values(person: dict, key: str, sizes: tuple[int, ...], path: str, k: int) -> list:
    vals = person.get(key)
    if vals is None:  # OpenPose before 1.2 wrote pose_keypoints / hand_*_keypoints (no _2d)
        vals = person.get(key[:-len("_2d")])
    if not vals:
        if key == "pose_keypoints_2d":
            raise InputFormatError(f"person {k} has no {key}", path)
        return _ZERO_HAND
    if not isinstance(vals, list) or len(vals) not in sizes:
        n = len(vals) if isinstance(vals, list) else type(vals).__name__
        hint = (" (that is an MPI model; nfbl reads BODY_25 and COCO)"
                if key == "pose_keypoints_2d" and n == 45 else "")
        want = " or ".join(str(v) for v in sizes)
        raise InputFormatError(f"person {k}: {key} has {n} values, expected {want}{hint}", path)
    return vals


def parse_frame(path: str | Path, data: bytes | None = None) -> np.ndarray:
    """People of one OpenPose file as float32 ``(P, V, 3)``: body + left + right hand, V = 67
    for BODY_25 and 60 for the COCO model (:data:`LAYOUT_OF_BODY`; a file without people
    gives ``(0, 67, 3)``). Every person of a file has the same model."""
    path = str(path)
    if data is None:
        data = read_bytes(path)
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        doc = parse_json(data, path)  # BOM, or one clear error naming file and line
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, list):
        raise InputFormatError("not an OpenPose keypoints file (no 'people' list)", path)
    if not people:
        return np.zeros((0, LAYOUT.num_joints, 3), np.float32)
    rows = []
    sizes = tuple(LAYOUT_OF_BODY)
    for k, p in enumerate(people):
        if not isinstance(p, dict):
            raise InputFormatError(f"person {k} is not a JSON object", path)
        body = _values(p, "pose_keypoints_2d", sizes, path, k)
        sizes = (len(body),)  # the file's other people must match its first
        rows.append(body + _values(p, "hand_left_keypoints_2d", (_HAND,), path, k)
                    + _values(p, "hand_right_keypoints_2d", (_HAND,), path, k))
    layout = LAYOUT_OF_BODY[sizes[0]]
    try:
        arr = np.array(rows, dtype=np.float32).reshape(len(rows), layout.num_joints, 3)
    except (TypeError, ValueError):
        raise InputFormatError("keypoint values must be numbers", path) from None
    if not np.isfinite(arr).all():
        raise InputFormatError("keypoints contain NaN or inf", path)
    arr[arr[..., 2] <= 0] = 0.0
    return arr


def _one_layout(frames: list[np.ndarray], paths: list[str], where: Path) -> skeletons.Layout:
    """The layout of a sequence's frames (files without people fit any); frames without
    people are reshaped to it in place. Two models in one sequence is one clear error."""
    by_joints = {l.num_joints: l for l in LAYOUT_OF_BODY.values()}
    seen = {}
    for f, p in zip(frames, paths):
        if len(f):
            seen.setdefault(f.shape[1], p)
    if len(seen) > 1:
        a, b = (Path(seen[v]).name for v in sorted(seen, reverse=True))
        raise InputFormatError(f"the files mix OpenPose's BODY_25 model ({a}) and its COCO "
                               f"model ({b}); read one model's output at a time", where)
    layout = by_joints[next(iter(seen))] if seen else LAYOUT
    for i, f in enumerate(frames):
        if not len(f) and f.shape[1] != layout.num_joints:
            frames[i] = np.zeros((0, layout.num_joints, 3), np.float32)
    return layout


def _read_bytes(path: str) -> bytes:
    """Bytes of a frame file that :func:`list_frame_files` (or ``read_openpose``) has already
    checked to be a regular file: no second ``stat`` per file."""
    with open(path, "rb") as fh:
        return fh.read()


def read_openpose(path: str | Path, fps: float | None = None, video_id: str | None = None,
                  frame_size: tuple[int, int] = (0, 0), max_distance: float | None = None,
                  max_lost: int = tracking.DEFAULT_MAX_LOST, min_track_frames: int = 2,
                  io_threads: int = 1,
                  max_rejoin: int = tracking.DEFAULT_MAX_REJOIN) -> PoseSequence:
    """Read an OpenPose folder (or one ``*_keypoints.json``) into a PoseSequence.

    Frames are ordered by their 12-digit number and timestamped ``number / fps`` seconds
    (``fps`` defaults to 25, the iMiGUE rate; OpenPose JSON stores none), so a missing file
    leaves a gap in the timestamps rather than shifting later frames. Files of an
    ``--image_dir`` run carry no number: they are taken in natural name order as frames
    0, 1, ... (with a warning). People are linked
    across frames with :func:`nfbl.keypoints.tracking.link_people` (``max_distance``,
    ``max_lost``, ``max_rejoin``: 0 keeps a person lost for over ``max_lost`` frames apart);
    the result keeps every track seen in at least ``min_track_frames`` frames (default 2:
    single-frame flickers are dropped; see :func:`nfbl.keypoints.tracking.select_person`),
    except that a one-frame input (a single image's file) keeps its one-frame tracks. A folder with
    files of several videos needs ``video_id``. ``frame_size`` (width, height) is not in the
    files; pass it if known. ``io_threads`` > 1 reads files in threads (parsing stays
    serial); it may help on a cold or network file system, not on a warm local one.
    """
    path = Path(path)
    if not path.exists():
        raise InputFormatError("no such file or folder", path)
    if fps is None:
        fps = DEFAULT_FPS
        log.info("%s: OpenPose JSON has no frame rate; assuming %.3g fps (pass --fps)", path, fps)
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    check_input(path)
    if path.is_file():
        m = FILE_RE.match(path.name)
        vid = m["vid"] if m else path.stem
        files = [(int(m["frame"]) if m else 0, str(path))]
    else:
        videos = list_frame_files(path, image_dir=True)
        for files in videos.values():
            if not FILE_RE.match(Path(files[0][1]).name):
                log.warning("%s: %d OpenPose files without frame numbers (--image_dir "
                            "output); taking them as consecutive frames in name order (%s, "
                            "...)", path, len(files), Path(files[0][1]).name)
        if not videos:
            raise InputFormatError("no OpenPose '*_keypoints.json' files in this folder", path)
        if video_id is not None:
            if video_id not in videos:
                raise InputFormatError(f"no OpenPose files of video {video_id!r} here (found: "
                                       f"{', '.join(sorted(videos)[:5])})", path)
            vid = video_id
        elif len(videos) > 1:
            raise InputFormatError(f"OpenPose files of {len(videos)} videos in one folder "
                                   f"({', '.join(sorted(videos)[:5])}...); pass a video id "
                                   f"(--video-id)", path)
        else:
            vid = next(iter(videos))
        files = videos[vid]
    numbers = np.array([n for n, _ in files], dtype=np.float64)
    span = numbers.max() - numbers.min() + 1 if len(numbers) else 0
    if len(numbers) >= 2 and len(numbers) < 0.5 * span:
        log.warning("%s: the %d files of %r are numbered %d..%d (%.0f%% of those frames): "
                    "OpenPose writes a file for every frame of a video, so frames are missing, "
                    "or these are separate images whose names end in 12 digits (e.g. "
                    "COCO_val2014_000000000192.jpg with --image_dir): read each such file on "
                    "its own", path, len(numbers), vid, numbers.min(), numbers.max(),
                    100.0 * len(numbers) / span)
    paths = [p for _, p in files]
    if io_threads > 1 and len(paths) > 64:
        with ThreadPoolExecutor(io_threads) as pool:
            frames = [parse_frame(p, data) for p, data in zip(paths, pool.map(_read_bytes, paths,
                                                                              chunksize=256))]
    else:
        frames = [parse_frame(p, _read_bytes(p)) for p in paths]
    layout = _one_layout(frames, paths, path)
    kp, ids = tracking.link_people(frames, max_distance=max_distance, max_lost=max_lost,
                                   num_joints=layout.num_joints, max_rejoin=max_rejoin,
                                   min_frames=max(1, min(min_track_frames, len(frames))))
    if kp.shape[0] == 0:
        log.warning("%s: no person in any of the %d frames%s", path, len(frames),
                    " seen in two or more (one-frame detections are dropped as flickers)"
                    if len(frames) > 1 else "")
    present = kp[..., 2] > 0
    if present.sum() >= 10 and np.abs(kp[..., :2][present]).max() <= 1.0:
        log.warning("%s: every coordinate is within [-1, 1]: these look like OpenPose's "
                    "normalised output (--keypoint_scale 3 or 4); nfbl expects pixels "
                    "(--keypoint_scale 0, the default)", path)
    multi = sum(1 for f in frames if len(f) > 1)
    meta = {"source_format": "openpose", "source": str(path), "first_frame": int(numbers[0]),
            "frames_with_several_people": multi,
            "empty_frames": sum(1 for f in frames if not len(f))}
    return PoseSequence(kp, layout.name, float(fps), numbers / fps, frame_size, ids,
                        video_id or vid or path.stem, meta)


def write_openpose_frame(path: str | Path, people: np.ndarray) -> None:
    """Write one OpenPose file from float ``(P, 67, 3)`` people (BODY_25 + hands) or
    ``(P, 60, 3)`` (the COCO model + hands); the face is left empty.

    Used to produce fixtures and the reading benchmark; values are rounded to 3 decimals as
    OpenPose does.
    """
    people = np.asarray(people, dtype=np.float64)
    body = next((n for n, l in LAYOUT_OF_BODY.items()
                 if people.ndim == 3 and people.shape[1] == l.num_joints), 75)
    people = people.reshape(-1, LAYOUT_OF_BODY[body].num_joints, 3)
    doc = {"version": 1.3, "people": []}
    for p in people:
        flat = np.round(p, 3).ravel().tolist()
        doc["people"].append({"person_id": [-1], "pose_keypoints_2d": flat[:body],
                              "face_keypoints_2d": [],
                              "hand_left_keypoints_2d": flat[body:body + _HAND],
                              "hand_right_keypoints_2d": flat[body + _HAND:],
                              "pose_keypoints_3d": [], "face_keypoints_3d": [],
                              "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
