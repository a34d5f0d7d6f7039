"""Faces that an independent detector still finds after de-identification.

    python -m nfbl.cli.facesbench [--seconds 3] [--json OUT.json]     # the table of docs/video.md
    python -m nfbl.cli.facesbench --mosaic                              # the mosaic alone

The judge is OpenCV's Haar cascades (``frontalface_default`` and ``profileface``, the latter
also on the mirrored image), not MediaPipe, which de-identification itself uses. They ship
with ``opencv-python-headless`` 4.x (``cv2.data.haarcascades``); OpenCV 5 wheels dropped
them, so the pose extras pin ``<5``. Without the cascades this module raises
:class:`nfbl.core.errors.MissingDependencyError` and its tests skip.

For each medium of ``../shared/media`` (``vtest.avi``: the first ``--seconds``; the two
photos) and each setting of :data:`SETTINGS`, the ``nfbl deid`` pass (pose every 2nd frame,
as the command does) writes an H.264 video; Haar runs on every input frame and on the same
frame of the output, and a face of the input counts as *still found* when an output
detection lies on it (IoU >= 0.2, or its centre within half a face width).

The small faces of the street video (~9 px) are found only on frames upscaled 4x, which costs
seconds per frame on the whole frame; there the upscaled pass runs only on the regions that
differ from the clip's median background (where the people are), and input detections whose
centre lies on the static background are dropped as the cascades' false positives (they
fire on cones, a tripod and window frames in that clip). The photos get the full frame at 1x
and 2x. On every medium the 1x pass covers the whole frame.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nfbl.core.errors import MissingDependencyError

log = logging.getLogger(__name__)

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
CASCADES = ("frontalface_default", "profileface")
#: de-identification settings compared (DeidConfig keyword arguments) and their names
SETTINGS = {
    "0.1.0 mosaic (6 cells, light blur), no motion heads": {"mosaic_cells": 0,
                                                            "motion_heads": False},
    "4-cell mosaic + blur, no motion heads": {"motion_heads": False},
    "default: 4-cell mosaic + blur, motion heads": {},
}


def cascade_dir() -> Path | None:
    """The folder of OpenCV's Haar cascade files, or None when this OpenCV has none."""
    try:
        import cv2  # noqa: PLC0415
    except ImportError:
        return None
    data = getattr(cv2, "data", None)
    folder = Path(getattr(data, "haarcascades", "") or "/nonexistent")
    if all((folder / f"haarcascade_{n}.xml").is_file() for n in CASCADES):
        return folder
    return None


def mosaic_010(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The blur of nfbl 0.1.0, kept to measure it: ~6 blocks across the shorter side, then a
    Gaussian of one block's size (sigma ~ 0.15 block). In place."""
    import cv2  # noqa: PLC0415

    from nfbl.pose.deid import box_region  # noqa: PLC0415
    for b in boxes:
        region = box_region(b, image.shape)
        if region is None:
            continue
        roi = image[region]
        bh, bw = roi.shape[:2]
        blocks = max(1, min(bw, bh) // 6) if min(bw, bh) >= 6 else 1
        small = cv2.resize(roi, (max(1, bw // blocks), max(1, bh // blocks)),
                           interpolation=cv2.INTER_AREA)
        big = cv2.resize(small, (bw, bh), interpolation=cv2.INTER_NEAREST)
        k = max(3, (blocks | 1))
        roi[:] = cv2.GaussianBlur(big, (k, k), 0)
    return image


class HaarFaces:
    """Face boxes ``(N, 4)`` (pixels) from OpenCV Haar cascades.

    The whole frame at 1x (faces of >= 20 px); then each ``(upscale, rois)`` pass: the regions
    (whole frame when None) enlarged ``upscale`` times, faces up to 30 px of the original.
    Overlapping detections of the cascades are merged.
    """

    def __init__(self, min_neighbors: int = 3, scale_factor: float = 1.1):
        folder = cascade_dir()
        if folder is None:
            raise MissingDependencyError("opencv-python-headless<5", "pose",
                                         "the Haar face check (OpenCV 5 ships no cascades)")
        import cv2  # noqa: PLC0415
        self._cv2 = cv2
        self._cascades = {n: cv2.CascadeClassifier(str(folder / f"haarcascade_{n}.xml"))
                          for n in CASCADES}
        self.min_neighbors, self.scale_factor = int(min_neighbors), float(scale_factor)

    def _run(self, grey: np.ndarray, up: float, min_side: int, max_side: int) -> list:
        cv2 = self._cv2
        g = grey if up == 1 else cv2.resize(grey, None, fx=up, fy=up,
                                            interpolation=cv2.INTER_CUBIC)
        out = []
        for name, casc in self._cascades.items():
            views = [(g, False)] + ([(np.ascontiguousarray(g[:, ::-1]), True)]
                                    if name == "profileface" else [])
            for img, flipped in views:
                found = casc.detectMultiScale(img, scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors,
                                              minSize=(min_side, min_side),
                                              maxSize=(max_side, max_side))
                for x, y, w, h in (found if len(found) else ()):
                    if flipped:
                        x = img.shape[1] - x - w
                    out.append([x / up, y / up, (x + w) / up, (y + h) / up])
        return out

    def detect(self, image: np.ndarray, passes: tuple = ((2.0, None),)) -> np.ndarray:
        from nfbl.pose.deid import merge_boxes  # noqa: PLC0415
        grey = self._cv2.cvtColor(image, self._cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        boxes = self._run(grey, 1.0, 20, 0)
        for up, rois in passes:
            for x1, y1, x2, y2 in rois if rois is not None else [(0, 0, w, h)]:
                x1, y1 = max(0, int(x1)), max(0, int(y1))
                x2, y2 = min(w, int(x2)), min(h, int(y2))
                if x2 - x1 < 8 or y2 - y1 < 8:
                    continue
                for b in self._run(grey[y1:y2, x1:x2], up, 20, int(30 * up)):
                    boxes.append([b[0] + x1, b[1] + y1, b[2] + x1, b[3] + y1])
        return merge_boxes(boxes, iou=0.2)


def same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two face boxes lie on the same face (IoU >= 0.2, or centres within half a
    face width)."""
    from nfbl.pose.deid import box_iou  # noqa: PLC0415
    if box_iou(a, b) >= 0.2:
        return True
    ca, cb = (a[:2] + a[2:4]) / 2, (b[:2] + b[2:4]) / 2
    return float(np.linalg.norm(ca - cb)) <= 0.5 * min(a[2] - a[0], b[2] - b[0])


@dataclass
class Motion:
    """Where a clip differs from its median background: ``mask(frame)`` (bool) and padded
    region boxes ``rois(frame)``; a measuring aid, independent of the de-identifier's MOG2."""

    background: np.ndarray   # grey (H, W) uint8
    threshold: int = 30

    @classmethod
    def of(cls, video: Path, samples: int = 40, seconds: float | None = None) -> "Motion":
        """The median of ``samples`` frames spread over the clip (its first ``seconds``)."""
        from nfbl.pose.video import iter_frames, probe  # noqa: PLC0415
        import cv2  # noqa: PLC0415
        info = probe(video)
        n = max(1, info.num_frames or 1)
        if seconds is not None and info.fps > 0:
            n = min(n, max(1, int(seconds * info.fps)))
        step = max(1, n // samples)
        greys = [cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY)
                 for f in iter_frames(video, stride=step, max_seconds=seconds)]
        return cls(np.median(np.stack(greys), axis=0).astype(np.uint8))

    def mask(self, image: np.ndarray) -> np.ndarray:
        import cv2  # noqa: PLC0415
        diff = cv2.absdiff(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), self.background)
        fg = (diff > self.threshold).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return cv2.dilate(fg, np.ones((15, 15), np.uint8)) > 0

    def rois(self, mask: np.ndarray, pad: int = 12, min_area: int = 60) -> list:
        import cv2  # noqa: PLC0415
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        return [(x - pad, y - pad, x + w + pad, y + h + pad)
                for x, y, w, h, a in stats[1:] if a >= min_area]


def _frames(path: Path, seconds: float | None) -> list:
    from nfbl.pose.video import iter_frames  # noqa: PLC0415
    return [f.image for f in iter_frames(path, max_seconds=seconds)]


def faces_per_frame(haar: HaarFaces, frames: list, motion: Motion | None,
                    input_faces: list | None = None) -> list:
    """Haar faces of each frame. With ``motion`` (a video): 4x on the moving regions, and
    (for the input, ``input_faces`` None) only faces whose centre lies on a moving region.
    ``input_faces``: the regions are those of the input frame (the same for input and
    output, so both are searched alike)."""
    out = []
    for i, img in enumerate(frames):
        if motion is None:
            out.append(haar.detect(img, ((2.0, None),)))
            continue
        mask = motion.mask(img if input_faces is None else input_faces[i][1])
        boxes = haar.detect(img, ((4.0, motion.rois(mask)),))
        if input_faces is None:
            keep = [b for b in boxes
                    if mask[min(mask.shape[0] - 1, int((b[1] + b[3]) / 2)),
                            min(mask.shape[1] - 1, int((b[0] + b[2]) / 2))]]
            out.append((np.array(keep, np.float32).reshape(-1, 4), img))
        else:
            out.append(boxes)
    return out


def deid_output(path: Path, seconds: float | None, setting: dict, folder: Path) -> list:
    """Run the ``nfbl deid`` pass with ``setting`` (DeidConfig keywords; ``mosaic_cells`` 0
    = the 0.1.0 blur) and return the output video's frames."""
    from nfbl.pose import deid as deid_mod  # noqa: PLC0415
    from nfbl.pose.pipeline import PoseConfig, run_deid  # noqa: PLC0415
    kw = dict(setting)
    old = kw.get("mosaic_cells") == 0
    if old:
        kw.pop("mosaic_cells")
    cfg = PoseConfig(stride=2, progress=False, max_seconds=seconds,
                     deid=deid_mod.DeidConfig(**kw))
    out = folder / f"{path.stem}.deid.mp4"
    real = deid_mod.anonymise
    if old:   # swap the blur for the one of 0.1.0 (blur mode only; masks are unchanged)
        deid_mod.anonymise = lambda img, boxes, mode="blur", cells=0: (  # type: ignore
            mosaic_010(img, boxes) if mode == "blur" else real(img, boxes, mode))
    try:
        run_deid(path, out, cfg)
    finally:
        deid_mod.anonymise = real
    return _frames(out, None)


def measure(path: Path, seconds: float | None, settings: dict = SETTINGS,
            haar: HaarFaces | None = None, background_seconds: float | None = None) -> dict:
    """Faces found in the input, and still found in each setting's output, frame by frame.
    ``background_seconds``: the median background comes from this much of the clip (None:
    all of it)."""
    haar = haar or HaarFaces()
    video = path.suffix.lower() not in (".png", ".jpg", ".jpeg")
    frames = _frames(path, seconds if video else None)
    motion = (Motion.of(path, seconds=background_seconds)
              if video and len(frames) > 1 else None)
    found = faces_per_frame(haar, frames, motion)
    faces_in = [f[0] if motion is not None else f for f in found]
    result: dict = {"medium": path.name, "frames": len(frames),
                    "frames_with_face": sum(len(f) > 0 for f in faces_in),
                    "faces": int(sum(len(f) for f in faces_in)),
                    "input_faces": [[[round(float(v)) for v in b] for b in f] for f in faces_in],
                    "settings": {}}
    with tempfile.TemporaryDirectory(prefix="nfbl-faces-") as tmp:
        for name, setting in settings.items():
            out_frames = deid_output(path, seconds if video else None, setting, Path(tmp))
            out_frames = out_frames[:len(frames)]
            got = faces_per_frame(haar, out_frames, motion,
                                  found if motion is not None else None)
            still = []
            for i, (fin, fout) in enumerate(zip(faces_in, got)):
                for b in fin:
                    if any(same_face(b, o) for o in fout):
                        still.append({"frame": i, "box": [round(float(v)) for v in b]})
            result["settings"][name] = {
                "faces_still_found": len(still),
                "frames_with_face_still_found": len({s["frame"] for s in still}),
                "output_detections": int(sum(len(f) for f in got)),
                "still_found": still}
            log.info("%s / %s: %d of %d faces still found", path.name, name, len(still),
                     result["faces"])
    return result


def mosaic_check(images: list, cells: tuple = (6, 4), margin: float = 0.3,
                 haar: HaarFaces | None = None) -> dict:
    """The mosaic alone: blur every Haar face of each image (grown by ``margin``, as the
    de-identifier does) with the 0.1.0 blur and with ``cells``-cell mosaics; count the faces
    Haar still finds. ``images``: RGB arrays."""
    from nfbl.pose.deid import anonymise, grow  # noqa: PLC0415
    haar = haar or HaarFaces()
    rows: dict = {"faces": 0, "0.1.0": 0} | {f"{c} cells": 0 for c in cells}
    for img in images:
        faces = haar.detect(img, ())
        rows["faces"] += len(faces)
        boxes = np.array([grow(b, margin) for b in faces], np.float32).reshape(-1, 4)
        variants = {"0.1.0": mosaic_010(img.copy(), boxes)}
        variants |= {f"{c} cells": anonymise(img.copy(), boxes, "blur", c) for c in cells}
        for name, out in variants.items():
            again = haar.detect(out, ())
            rows[name] += sum(any(same_face(f, o) for o in again) for f in faces)
    return rows


def _table(results: list) -> str:
    lines = ["| medium | frames | Haar faces in the input (frames) | setting | "
             "faces still found in the output (frames) |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        for name, s in r["settings"].items():
            lines.append(f"| {r['medium']} | {r['frames']} | {r['faces']} "
                         f"({r['frames_with_face']}) | {name} | {s['faces_still_found']} "
                         f"({s['frames_with_face_still_found']}) |")
    return "\n".join(lines)
