"""Face de-identification: MediaPipe face detection + head keypoints + temporal persistence.

Every frame passes through :class:`Deidentifier`, which

1. detects faces with MediaPipe's legacy face detector (both bundled models:
   ``model_selection=1`` full-range, faces up to ~5 m, and ``0`` short-range, within ~2 m) on
   the whole frame and on an ``n x n`` grid of overlapping tiles (small faces in a wide
   frame are found only on tiles — measured on basketball1.png, where neither model finds
   a face on the full 640x480 frame but both faces are found on tiles);
2. adds head boxes derived from pose keypoints (nose, eyes, ears; sized from the eye/ear
   spread and the shoulder width) that the pipeline registers with :meth:`add_head_boxes`
   — the fallback when the detector misses a face;
3. applies temporal persistence in both directions: a face box found at frame ``t`` is
   also applied to frames ``t - P .. t + P``. Frames are held back ``P`` frames (a short
   look-ahead buffer) so that a face is covered even on the frames *before* the detector
   first sees it; detector boxes (and bystander boxes, item 5) also *hold* for
   ``hold_seconds`` after the frame they were last seen on (forward only, no buffering);
4. blurs (a coarse mosaic, ``mosaic_cells`` across the box, then a Gaussian of one cell)
   or masks (solid grey) the boxes, enlarged by a margin;
5. optionally (``bystanders``) adds head boxes of people the pose backend does not follow,
   found by :mod:`nfbl.pose.bystanders`;
6. (``motion_heads``, on by default) adds a box over the top of every moving, upright
   region (:class:`nfbl.pose.bystanders.MotionHeads`): small and distant people whose face
   no detector finds (measured in docs/video.md with OpenCV's Haar cascades). These boxes
   blur the output only, ``persist`` frames back and ``hold`` frames forward.

Nothing of the face (landmarks, crops) is stored. What is *not* guaranteed: a face that
neither the detector nor the pose finds on any frame within ``P`` frames before or the hold
after stays visible.
"""
from __future__ import annotations

import collections
import logging
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import MissingDependencyError, NfblError

log = logging.getLogger(__name__)

MODES = ("blur", "mask")
FACE_MODELS = {"full": 1, "short": 0}
HEAD_JOINTS = skeletons.HEAD_JOINTS
MASK_COLOR = (128, 128, 128)
#: head box side = max(HEAD_SPREAD x spread of nose/eyes/ears, HEAD_SHOULDER x shoulder width)
HEAD_SPREAD = 1.4
HEAD_SHOULDER = 0.55
#: default mosaic: cells across the shorter side of a (grown) box. With the 0.3 margin the
#: face itself spans about 4 / 1.6 = 2.5 cells; 0.1.0 used 6 cells and a light blur, which
#: kept enough of the face's pattern for a Haar cascade to find it again (docs/video.md)
MOSAIC_CELLS = 4
_SUB = 8


@dataclass(frozen=True)
class DeidConfig:
    """De-identification settings.

    enabled: False passes frames through untouched (``--no-deid``).
    mode: ``"blur"`` (a mosaic of ``mosaic_cells`` cells across the box's shorter side, then
    a Gaussian blur with a sigma of one cell) or ``"mask"`` (solid grey).
    face_models: MediaPipe face-detection models run on the whole frame (``"full"``,
    ``"short"``). tile_models: the models run on each tile (the short-range model alone by
    default: on the 720p clip of docs/video.md it found the face in profile on every frame
    from the tiles while the full-range model on the tiles found it on none, at twice the
    cost).
    tiles: run the detector also on an ``n x n`` grid of overlapping tiles (1 = whole frame
    only). min_confidence: detector threshold. margin: each box grows by this share of its
    size on every side. persist_seconds: temporal persistence (both directions).
    head_min_score: pose keypoints below this score do not make a head box.
    detect_every: run the face detector on every n-th frame only (persistence is raised to
    at least n frames, so the boxes of the detection frames cover the ones in between).
    pose_margin: margin of the detector boxes blurred in the frames the *pose* sees (kept in
    memory, never stored). Measured on a 720p clip of basketball1.png: with the 0.3 output
    margin Holistic's nose started 90 px off and stayed ~20 px off; with 0 it stayed within
    5 px of the pose on the original frames.
    bystanders: on every pose frame, look for up to this many *other* people with
    :class:`nfbl.pose.bystanders.BystanderFinder` (people already found greyed out, one more
    MediaPipe Pose pass per slot) and blur their heads too; 0 = off.
    motion_heads: add a box over the top of every moving, upright region (OpenCV MOG2
    background subtraction, :class:`nfbl.pose.bystanders.MotionHeads`): the fallback for
    people too small for the face detector; output only, ``persist_seconds`` back and
    ``hold_seconds`` forward.
    mosaic_cells: cells across the shorter side of a blurred box (fewer = coarser).
    hold_seconds: detector and bystander boxes also cover this many seconds *after* the frame
    they were found on (forward only: no frames are held back for it; a face that sits still
    while the detector loses it stays covered). Head boxes of the tracked person use
    ``persist_seconds`` only (the pose follows them on every pose frame).

    Defaults measured on the 20-s 720p clip of basketball1.png (docs/video.md): 3x3 tiles
    + 2 s hold cover the face of the man turned away on 500/500 frames (2x2 tiles, no hold:
    325/500, longest gap 171 frames).
    """

    enabled: bool = True
    mode: str = "blur"
    face_models: tuple[str, ...] = ("full", "short")
    tile_models: tuple[str, ...] = ("short",)
    tiles: int = 3
    min_confidence: float = 0.4
    margin: float = 0.3
    persist_seconds: float = 1.0
    head_min_score: float = 0.2
    detect_every: int = 1
    pose_margin: float = 0.0
    bystanders: int = 0
    hold_seconds: float = 2.0
    motion_heads: bool = True
    mosaic_cells: int = MOSAIC_CELLS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise NfblError(f"de-identification mode must be one of {', '.join(MODES)}, "
                            f"got {self.mode!r}")
        for m in self.face_models + self.tile_models:
            if m not in FACE_MODELS:
                raise NfblError(f"unknown face model {m!r}; use 'full' and/or 'short'")
        if self.detect_every < 1:
            raise NfblError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.bystanders < 0:
            raise NfblError(f"bystanders must be >= 0, got {self.bystanders}")
        if self.mosaic_cells < 1:
            raise NfblError(f"mosaic_cells must be >= 1, got {self.mosaic_cells}")
        if self.tiles < 1:
            raise NfblError(f"tiles must be >= 1, got {self.tiles}")
        for name in ("persist_seconds", "hold_seconds"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise NfblError(f"{name} must be >= 0, got {v}")


# --- boxes ---------------------------------------------------------------------------------

def box_region(box: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice] | None:
    """``(rows, cols)`` slices of the pixels box ``(x1, y1, x2, y2)`` covers in an image of
    ``shape`` (rounded outwards, clipped to the image); None when nothing is left."""
    h, w = shape[:2]
    x1, y1 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x2, y2 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return None
    return slice(y1, y2), slice(x1, x2)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: Iterable[np.ndarray], iou: float = 0.3) -> np.ndarray:
    """Greedily merge overlapping boxes ``(x1, y1, x2, y2)`` into their enclosing box."""
    out: list[np.ndarray] = []
    for b in boxes:
        b = np.asarray(b, dtype=np.float32)[:4].copy()
        merged = True
        while merged:
            merged = False
            for i, o in enumerate(out):
                if box_iou(o, b) > iou:
                    b = np.array([min(o[0], b[0]), min(o[1], b[1]), max(o[2], b[2]),
                                  max(o[3], b[3])], dtype=np.float32)
                    out.pop(i)
                    merged = True
                    break
        out.append(b)
    return np.array(out, dtype=np.float32).reshape(-1, 4)


def grow(box: np.ndarray, margin: float) -> np.ndarray:
    """Enlarge a box by ``margin`` x its width/height on every side."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return np.array([x1 - mx, y1 - my, x2 + mx, y2 + my], dtype=np.float32)


def head_boxes(people: Iterable[np.ndarray], layout: skeletons.Layout | str,
               min_score: float = 0.2, frame_wh: tuple[int, int] | None = None) -> np.ndarray:
    """Head boxes ``(P, 4)`` from the head keypoints of each person ``(V, 3)``.

    Centre: mean of the present head points (nose, eyes, ears). Side: the largest of
    ``HEAD_SPREAD`` x the head points' spread, ``HEAD_SHOULDER`` x the shoulder width (a head
    is about half as wide as the shoulders), and (when only one point is known) 12% of the
    frame height. The de-identifier then grows the box by its margin. Layouts without head
    points give nothing.
    """
    layout = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    idx = [layout.index[j] for j in HEAD_JOINTS if j in layout.index]
    shoulders = [layout.index[j] for j in ("left_shoulder", "right_shoulder") if j in layout.index]
    out = []
    for p in people:
        pts = p[idx]
        pts = pts[pts[:, 2] >= max(min_score, 1e-6), :2]
        if len(pts) == 0:
            continue
        c = pts.mean(axis=0)
        spread = float(np.max(pts.max(axis=0) - pts.min(axis=0))) if len(pts) > 1 else 0.0
        side = HEAD_SPREAD * spread
        if len(shoulders) == 2:
            sh = p[shoulders]
            if (sh[:, 2] >= min_score).all():
                side = max(side, HEAD_SHOULDER * float(np.linalg.norm(sh[0, :2] - sh[1, :2])))
        if side < 4 and frame_wh is not None:
            side = 0.12 * frame_wh[1]
        if side < 4:
            continue
        out.append([c[0] - side / 2, c[1] - 0.6 * side, c[0] + side / 2, c[1] + 0.5 * side])
    return np.array(out, dtype=np.float32).reshape(-1, 4)


def tile_grid(width: int, height: int, n: int, overlap: float = 0.25
              ) -> list[tuple[int, int, int, int]]:
    """``n x n`` overlapping tiles (x1, y1, x2, y2) covering the frame (n = 1: none)."""
    if n <= 1:
        return []
    tw = int(math.ceil(width / (n - (n - 1) * overlap)))
    th = int(math.ceil(height / (n - (n - 1) * overlap)))
    xs = np.linspace(0, width - tw, n).round().astype(int)
    ys = np.linspace(0, height - th, n).round().astype(int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def _cv2():
    try:
        import cv2  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("opencv-python-headless", "pose", "face blurring") from None
    return cv2


def anonymise(image: np.ndarray, boxes: np.ndarray, mode: str = "blur",
              cells: int = MOSAIC_CELLS) -> np.ndarray:
    """Blur or mask ``boxes`` ``(N, 4)`` in ``image`` (uint8 ``(H, W, 3)``) in place.

    Blur: a mosaic of square cells, ``cells`` across the box's shorter side (area-averaged),
    then a Gaussian with a sigma of one cell, so that neither cell edges nor the luminance
    pattern of the face (eyes darker than cheeks: what Haar-like features look for) stay."""
    if len(boxes) == 0:
        return image
    cv2 = _cv2()
    for b in boxes:
        region = box_region(b, image.shape)
        if region is None:
            continue
        roi = image[region]
        if mode == "mask":
            roi[:] = MASK_COLOR
            continue
        bh, bw = roi.shape[:2]
        cell = max(1, int(math.ceil(min(bw, bh) / max(1, cells))))
        nx, ny = max(1, round(bw / cell)), max(1, round(bh / cell))
        small = cv2.resize(roi, (nx, ny), interpolation=cv2.INTER_AREA)
        # the Gaussian of one cell runs on a grid of _SUB pixels per cell, then is resized to
        # the box: the same picture as blurring at full size, without a kernel of 2 cells
        # (a 360-px box: ~190 ms at full size)
        grid = cv2.resize(small, (nx * _SUB, ny * _SUB), interpolation=cv2.INTER_NEAREST)
        grid = cv2.GaussianBlur(grid, (2 * _SUB + 1, 2 * _SUB + 1), float(_SUB),
                                borderType=cv2.BORDER_REPLICATE)
        roi[:] = cv2.resize(grid, (bw, bh), interpolation=cv2.INTER_LINEAR)
    return image


# --- detector ------------------------------------------------------------------------------

class FaceDetector:
    """MediaPipe legacy face detection on the frame and on tiles → boxes ``(N, 5)`` pixels."""

    def __init__(self, config: DeidConfig = DeidConfig()):
        try:
            import mediapipe as mp  # noqa: PLC0415
            fd = mp.solutions.face_detection
        except ImportError:
            raise MissingDependencyError("mediapipe", "pose", "face de-identification") from None
        self.config = config
        self._graphs = {m: fd.FaceDetection(model_selection=FACE_MODELS[m],
                                            min_detection_confidence=config.min_confidence)
                        for m in dict.fromkeys(config.face_models + config.tile_models)}

    def detect(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        jobs = [((0, 0, w, h), self.config.face_models)] + [
            (t, self.config.tile_models) for t in tile_grid(w, h, self.config.tiles)]
        out = []
        for (x1, y1, x2, y2), models in jobs:
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            cw, ch = x2 - x1, y2 - y1
            for g in (self._graphs[m] for m in models):
                res = g.process(crop)
                for d in res.detections or ():
                    bb = d.location_data.relative_bounding_box
                    out.append([x1 + bb.xmin * cw, y1 + bb.ymin * ch,
                                x1 + (bb.xmin + bb.width) * cw, y1 + (bb.ymin + bb.height) * ch,
                                float(d.score[0])])
        return np.array(out, dtype=np.float32).reshape(-1, 5)

    def close(self) -> None:
        graphs, self._graphs = getattr(self, "_graphs", {}), {}
        for g in graphs.values():
            g.close()


@dataclass
class DeidFrame:
    """A frame leaving the de-identifier: ``boxes`` (N, 4) were blurred/masked in ``image``."""

    index: int
    time: float
    image: np.ndarray | None
    boxes: np.ndarray


class Deidentifier:
    """Streaming de-identification with a ``persist`` frames look-ahead buffer.

    ``push(index, time, image)`` returns the frames that are ready (in order), with the
    face-detector boxes of the window ``[index - persist, index + persist]`` blurred (grown
    by ``pose_margin``: this is what the pose sees);
    ``flush()`` returns the rest. Head boxes from pose keypoints are registered with
    :meth:`add_head_boxes` and applied by :meth:`finish` to the output frame and to the
    ``persist`` frames after it. They never feed back into the frames the pose sees: a head
    box from a drifting pose would blur the body, and the next pose would drift further
    (measured: a 40-pixel nose drift over 12 frames when it did).
    With ``config.enabled`` False frames pass straight through. Use as a context manager.
    Frames with ``image=None`` (skipped by the caller) only move the window.
    """

    def __init__(self, config: DeidConfig, fps: float, detector: FaceDetector | None = None):
        self.config = config
        rate = fps if fps > 0 else 25.0
        self.persist = max(int(math.ceil(config.persist_seconds * rate)), config.detect_every)
        self._hold = int(math.ceil(config.hold_seconds * rate))
        if detector is None and config.enabled:
            detector = FaceDetector(config)
        self._detector = detector
        self._pending: collections.deque = collections.deque()
        self._boxes: dict[int, list[np.ndarray]] = {}
        self._head: dict[int, list[np.ndarray]] = {}
        self._others: dict[int, list[np.ndarray]] = {}
        self._motion: dict[int, list[np.ndarray]] = {}
        self._mover = None
        if config.enabled and config.motion_heads:
            from nfbl.pose.bystanders import MotionHeads  # noqa: PLC0415
            self._mover = MotionHeads()
        self.frames_with_boxes = 0

    def set_min_persist(self, frames: int) -> None:
        """Make persistence at least ``frames`` (e.g. the pose stride, so that head boxes from
        pose frames cover the frames in between)."""
        self.persist = max(self.persist, int(frames))

    def _register(self, store: dict, index: int, boxes: np.ndarray) -> None:
        if len(boxes):
            store.setdefault(index, []).extend(np.asarray(boxes, np.float32)[:, :4])

    def add_head_boxes(self, index: int, boxes: np.ndarray) -> None:
        """Boxes (e.g. from head keypoints) for frame ``index`` and the ``persist`` after it."""
        self._register(self._head, index, boxes)

    @property
    def hold(self) -> int:
        """Frames a detector or bystander box keeps covering after it was last seen."""
        return max(self._hold, self.persist)

    def add_bystander_boxes(self, index: int, boxes: np.ndarray) -> None:
        """Head boxes of other people (:mod:`nfbl.pose.bystanders`) for frame ``index``;
        like detector boxes they cover the following ``hold`` frames."""
        self._register(self._others, index, boxes)

    def _nearest(self, store: dict, index: int, before: int, after: int) -> list[np.ndarray]:
        """The frame's own boxes, then, going outwards in time, every box of a nearby frame
        that overlaps none already chosen: each face once, at its nearest-in-time position
        (a union over the whole window would smear a moving face into a large box)."""
        chosen: list[np.ndarray] = list(store.get(index, ()))
        for d in range(1, max(before, after) + 1):
            for j in ((index - d,) if d <= before else ()) + ((index + d,) if d <= after else ()):
                for b in store.get(j, ()):
                    if all(box_iou(b, c) <= 0.05 for c in chosen):
                        chosen.append(b)
        return chosen

    def boxes_for(self, index: int) -> np.ndarray:
        """Detector boxes blurred in the frame the pose sees (persistence both ways, grown
        by ``pose_margin``)."""
        m = self.config.pose_margin
        return merge_boxes([grow(b, m) for b in
                            self._nearest(self._boxes, index, self.persist, self.persist)])

    def output_boxes(self, index: int) -> np.ndarray:
        """All boxes for the output frame: detector boxes + head boxes of the last frames,
        grown by ``margin``."""
        m = self.config.margin
        return merge_boxes([grow(b, m) for b in
                            self._nearest(self._boxes, index, self.hold, self.persist)
                            + self._nearest(self._head, index, self.persist, 0)
                            + self._nearest(self._others, index, self.hold, 0)
                            + self._nearest(self._motion, index, self.hold, self.persist)])

    def finish(self, frame: "DeidFrame") -> "DeidFrame":
        """Apply the output boxes (and the mask, in mask mode) to a released frame."""
        if not self.config.enabled:
            return frame
        boxes = self.output_boxes(frame.index)
        if frame.image is not None and len(boxes):
            anonymise(frame.image, boxes, self.config.mode, self.config.mosaic_cells)
        if len(boxes):
            self.frames_with_boxes += 1
        frame.boxes = boxes
        return frame

    def _release(self) -> DeidFrame:
        index, time, image = self._pending.popleft()
        boxes = self.boxes_for(index)
        if image is not None and len(boxes):
            anonymise(image, boxes, "blur", self.config.mosaic_cells)
        keep = max(2 * self.persist, self.hold + self.persist) + 1
        for store in (self._boxes, self._head, self._others, self._motion):
            for j in [j for j in store if j < index - keep]:
                del store[j]
        return DeidFrame(index, time, image, boxes)

    def push(self, index: int, time: float, image: np.ndarray | None) -> list[DeidFrame]:
        if not self.config.enabled:
            return [DeidFrame(index, time, image, np.zeros((0, 4), np.float32))]
        if image is not None and index % self.config.detect_every == 0:
            self._register(self._boxes, index, self._detector.detect(image))
        if image is not None and self._mover is not None:
            self._register(self._motion, index, self._mover.find(image))
        self._pending.append((index, time, image))
        ready = []
        while self._pending and self._pending[0][0] < index - self.persist:
            ready.append(self._release())
        return ready

    def flush(self) -> list[DeidFrame]:
        out = []
        while self._pending:
            out.append(self._release())
        return out

    def close(self) -> None:
        det, self._detector = self._detector, None
        if det is not None:
            det.close()

    def __enter__(self) -> "Deidentifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
