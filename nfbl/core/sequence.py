"""``PoseSequence``: the one in-memory and on-disk form of keypoints in nfbl.

Keypoints are float32 ``(M, T, V, 3)`` = (x, y, score) in pixels for M persons (tracks),
T frames and V joints of a named layout; score 0 marks a missing joint. Every frame has its
own timestamp in seconds (variable frame rate is allowed).
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.atomic import atomic_path

NPZ_SCHEMA = "nfbl.pose_sequence"
NPZ_VERSION = 1


@dataclass(frozen=True, eq=False)
class PoseSequence:
    """Keypoints of one video.

    keypoints: float32 ``(M, T, V, 3)``; timestamps: float64 ``(T,)`` seconds, increasing;
    fps: nominal frame rate; frame_size: (width, height) in pixels; track_ids: ``(M,)`` int.
    """

    keypoints: np.ndarray
    layout: str
    fps: float
    timestamps: np.ndarray
    frame_size: tuple[int, int] = (0, 0)
    track_ids: np.ndarray | None = None
    video_id: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        if kp.ndim == 3:
            kp = kp[None]
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "timestamps", np.asarray(self.timestamps, dtype=np.float64))
        ids = np.arange(kp.shape[0]) if self.track_ids is None else self.track_ids
        object.__setattr__(self, "track_ids", np.asarray(ids, dtype=np.int64))
        object.__setattr__(self, "frame_size", (int(self.frame_size[0]), int(self.frame_size[1])))
        self.validate()

    # -- shape helpers
    @property
    def num_persons(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the last frame's end."""
        if self.num_frames == 0:
            return 0.0
        return float(self.timestamps[-1] - self.timestamps[0] + 1.0 / self.fps)

    @property
    def layout_def(self) -> skeletons.Layout:
        return skeletons.get_layout(self.layout)

    def validate(self, where: str = "") -> None:
        """Check shapes, dtypes and finiteness; raise :class:`NfblError` naming the problem."""
        pre = f"{where}: " if where else ""
        kp = self.keypoints
        layout = skeletons.get_layout(self.layout)
        if kp.ndim != 4 or kp.shape[-1] != 3:
            raise NfblError(f"{pre}keypoints must have shape (M, T, V, 3), got {kp.shape}")
        if kp.shape[2] != layout.num_joints:
            raise NfblError(f"{pre}keypoints have {kp.shape[2]} joints but layout {self.layout} "
                            f"has {layout.num_joints}")
        if self.timestamps.shape != (kp.shape[1],):
            raise NfblError(f"{pre}{self.timestamps.shape[0]} timestamps for {kp.shape[1]} frames")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise NfblError(f"{pre}fps must be a positive number, got {self.fps}")
        bad = ~np.isfinite(kp)
        if bad.any():
            frame = int(np.argwhere(bad.any(axis=(0, 2, 3)))[0, 0])
            raise NfblError(f"{pre}keypoints contain NaN or inf (first at frame {frame})")
        if not np.isfinite(self.timestamps).all() or np.any(np.diff(self.timestamps) <= 0):
            raise NfblError(f"{pre}timestamps must be finite and strictly increasing")
        if self.track_ids.shape != (kp.shape[0],):
            raise NfblError(f"{pre}{self.track_ids.shape[0]} track ids for {kp.shape[0]} persons")

    def person(self, index: int) -> np.ndarray:
        """Keypoints ``(T, V, 3)`` of one person."""
        return self.keypoints[index]

    def with_keypoints(self, keypoints: np.ndarray, layout: str | None = None, **changes) -> "PoseSequence":
        return replace(self, keypoints=keypoints, layout=layout or self.layout, **changes)

    def to_layout(self, target: skeletons.Layout = skeletons.CANONICAL) -> "PoseSequence":
        """Convert to another layout (default canonical) by joint name; see ``skeletons.convert``."""
        if self.layout == target.name:
            return self
        return self.with_keypoints(skeletons.convert(self.keypoints, self.layout_def, target),
                                   layout=target.name)

    # -- files
    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (versioned schema) atomically."""
        path = Path(path)
        header = {"schema": NPZ_SCHEMA, "version": NPZ_VERSION, "layout": self.layout,
                  "fps": self.fps, "frame_size": list(self.frame_size), "video_id": self.video_id,
                  "meta": self.meta}
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, keypoints=self.keypoints, timestamps=self.timestamps,
                                track_ids=self.track_ids, header=np.array(json.dumps(header)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PoseSequence":
        """Read a file written by :meth:`save`; the whole header is checked here, once, and
        every problem is one :class:`InputFormatError` naming the file."""
        path = Path(path)
        if not path.exists():
            raise InputFormatError("no such file", path)
        if not path.is_file():
            raise InputFormatError("not a regular file (a folder, FIFO or device); expected "
                                   "an nfbl .npz", path)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("header", "keypoints", "timestamps", "track_ids")
                           if k not in z.files]
                if missing:
                    raise InputFormatError(f"not an nfbl PoseSequence .npz (no {missing[0]!r} "
                                           "array)", path)
                raw_header = z["header"]
                kp, ts, ids = z["keypoints"], z["timestamps"], z["track_ids"]
        except InputFormatError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputFormatError(f"not an nfbl PoseSequence .npz ({exc})", path) from None
        header = _parse_header(raw_header, path)
        if kp.dtype != np.float32:
            raise InputFormatError(f"keypoints dtype {kp.dtype}, expected float32", path)
        if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.number):
            raise InputFormatError(f"timestamps must be a 1-D number array, got shape "
                                   f"{ts.shape} of {ts.dtype}", path)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise InputFormatError(f"track_ids must be a 1-D integer array, got shape "
                                   f"{ids.shape} of {ids.dtype}", path)
        try:
            return cls(kp, header["layout"], header["fps"], ts, header["frame_size"], ids,
                       header["video_id"], header["meta"])
        except NfblError as exc:
            raise InputFormatError(str(exc), path) from None


def _parse_header(raw: np.ndarray, path: Path) -> dict:
    """The checked header of a PoseSequence ``.npz``: schema, version, layout, fps,
    frame_size, video_id and meta, each of the right type (defaults for the optional ones)."""
    def bad(what: str) -> InputFormatError:
        return InputFormatError(f"bad PoseSequence header: {what}", path)

    if raw.ndim != 0 or raw.dtype.kind not in "US":
        raise bad("expected one JSON string")
    try:
        header = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise bad(f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise bad(f"expected a JSON object, got {type(header).__name__}")
    if header.get("schema") != NPZ_SCHEMA:
        raise InputFormatError("not an nfbl PoseSequence .npz (schema header missing)", path)
    version = header.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise bad(f"version {version!r} is not a non-negative integer")
    if version > NPZ_VERSION:
        raise InputFormatError(f"PoseSequence schema version {version} is newer than this "
                               f"nfbl understands ({NPZ_VERSION}); upgrade nfbl", path)
    layout = header.get("layout")
    if not isinstance(layout, str):
        raise bad("no 'layout' name" if layout is None else f"layout {layout!r} is not a name")
    try:
        skeletons.get_layout(layout)
    except NfblError as exc:
        raise bad(str(exc)) from None
    fps = header.get("fps")
    if (not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps)
            or fps <= 0):
        raise bad(f"fps {fps!r} is not a positive number")
    size = header.get("frame_size", [0, 0])
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)):
        raise bad(f"frame_size {size!r} is not [width, height] in whole pixels")
    vid = header.get("video_id", path.stem)
    if not isinstance(vid, str):
        raise bad(f"video_id {vid!r} is not a string")
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise bad(f"meta must be an object, got {type(meta).__name__}")
    return {"layout": layout, "fps": float(fps), "frame_size": (size[0], size[1]),
            "video_id": vid, "meta": meta}
