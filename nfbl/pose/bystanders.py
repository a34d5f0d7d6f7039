"""Head boxes of the *other* people in view, for de-identification only.

Legacy MediaPipe Holistic and Pose follow one person per instance, and MediaPipe face
detection misses profiles and the backs of heads, so a bystander's head can stay visible
for seconds (measured in docs/video.md). :class:`BystanderFinder` narrows that gap with the
pose weights that ship in ``mediapipe==0.10.21``: it greys out every person already known
on the frame (their keypoint box, padded) and runs a single-person MediaPipe Pose
(``pose_landmark_full``, the only pose model in the wheel) on what is left; a person found
there gives a head box and is greyed out in turn, up to ``slots`` extra people. Each slot
is its own Pose instance in static-image mode: every pass detects afresh (in tracking mode the
pose drifted; on the basketball1.png clip it slid from the man's head to his chest).

Only head boxes leave this module; the keypoints of bystanders are not stored.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from nfbl.core.errors import MissingDependencyError

log = logging.getLogger(__name__)

#: grey used to hide the people already found
FILL = 128
#: a known person's keypoint box grows by this share of its size on every side before it is
#: greyed out (keypoints sit inside the silhouette: wrists, not fingertips; ears, not hair)
PAD = 0.15
#: keypoints below this visibility do not widen a bystander's grey-out box
_POSE_VIS_MIN = 0.3
#: frames are shrunk (area interpolation) so their longer side is at most this before the
#: search; Pose looks at a 224-pixel input anyway. What mattered on the 1280x720 clip frame
#: with the man on the left greyed out was the confidence: Pose found the man on the right
#: at 0.3 (both at 1280x720 and at 640x360) and at neither size at 0.5, hence the default 0.3
MAX_SIDE = 640
#: MediaPipe Pose landmarks: nose, eyes (inner, centre, outer), ears; shoulders
_HEAD = (0, 1, 2, 3, 4, 5, 6, 7, 8)
_SHOULDERS = (11, 12)


def person_box(person: np.ndarray, min_score: float = 0.2) -> np.ndarray | None:
    """Padded box ``(x1, y1, x2, y2)`` around one person's present keypoints ``(V, 3)``
    (pixels), or None when fewer than 2 keypoints are present."""
    pts = person[person[:, 2] >= max(min_score, 1e-6), :2]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = hi - lo
    pad = PAD * np.maximum(size, 0.25 * float(size.max()))
    return np.concatenate([lo - pad, hi + pad]).astype(np.float32)


def grey_out(image: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
    """A copy of ``image`` (uint8 ``(H, W, 3)``) with ``boxes`` filled with grey."""
    from nfbl.pose.deid import box_region  # noqa: PLC0415 - deid imports this module lazily
    out = image.copy()
    for b in boxes:
        region = box_region(b, out.shape)
        if region is not None:
            out[region] = FILL
    return out


def above_shoulders(person: np.ndarray, min_score: float = 0.2) -> np.ndarray | None:
    """A generous head box ``(x1, y1, x2, y2)`` from MediaPipe Pose landmarks ``(33, 3)``:
    everything above the shoulder line, from half a shoulder width left of the leftmost
    head/shoulder point to half a width right of the rightmost, and from one shoulder width
    above the highest head point down to the shoulders. Deliberately larger than
    :func:`nfbl.pose.deid.head_boxes`: the pose of someone seen from behind, in profile or
    cut by the frame edge is often too small (on the basketball1.png clip Pose put a skeleton
    of about half the man's size on his neck). None when no head point is present."""
    ok = person[:, 2] >= max(min_score, 1e-6)
    head = person[[i for i in _HEAD if ok[i]], :2]
    if len(head) == 0:
        return None
    sh = person[[i for i in _SHOULDERS if ok[i]], :2]
    spread = float(np.max(head.max(axis=0) - head.min(axis=0)))
    width = float(np.linalg.norm(sh[0] - sh[1])) if len(sh) == 2 else 0.0
    unit = max(width, 1.4 * spread, 4.0)
    pts = np.vstack([head, sh]) if len(sh) else head
    x1, x2 = pts[:, 0].min() - 0.5 * unit, pts[:, 0].max() + 0.5 * unit
    y1 = head[:, 1].min() - unit
    y2 = max(head[:, 1].max() + 0.3 * unit, float(sh[:, 1].mean()) if len(sh) else -np.inf)
    return np.array([x1, y1, x2, y2], dtype=np.float32)


class BystanderFinder:
    """Find up to ``slots`` people other than the known ones; return their head boxes.

    ``find(image, known)``: ``image`` uint8 RGB ``(H, W, 3)`` (the frame the pose backend
    saw), ``known`` ``(P, V, 3)`` keypoints in pixels of the people already found (any
    layout) → head boxes ``(B, 4)`` pixels of the extra people (not yet grown by the
    de-identification margin). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, slots: int = 1, min_confidence: float = 0.3, head_min_score: float = 0.2,
                 max_side: int = MAX_SIDE, static: bool = True):
        try:
            import mediapipe as mp  # noqa: PLC0415
            pose = mp.solutions.pose
        except ImportError:
            raise MissingDependencyError("mediapipe", "pose", "finding bystanders") from None
        self.slots = int(slots)
        self.head_min_score = head_min_score
        self.max_side = int(max_side)
        self._graphs = [pose.Pose(static_image_mode=static, model_complexity=1,
                                  smooth_landmarks=False, enable_segmentation=False,
                                  min_detection_confidence=min_confidence,
                                  min_tracking_confidence=min_confidence)
                        for _ in range(self.slots)]
        self.found = 0   # people found over all calls (a counter for logs and tests)

    def _run(self, graph, image: np.ndarray) -> np.ndarray | None:
        """One Pose pass; landmarks ``(33, 3)`` in ``image`` pixels, or None."""
        h, w = image.shape[:2]
        f = self.max_side / max(h, w)
        if f < 1.0:
            import cv2  # noqa: PLC0415
            image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))),
                               interpolation=cv2.INTER_AREA)
        res = graph.process(image)
        if res.pose_landmarks is None:
            return None
        arr = np.array([[lm.x * w, lm.y * h, lm.visibility]
                        for lm in res.pose_landmarks.landmark], dtype=np.float32)
        arr[:, 2] = np.clip(arr[:, 2], 1e-3, 1.0)
        return arr

    def find(self, image: np.ndarray, known: np.ndarray) -> np.ndarray:
        masks = [b for b in (person_box(p, self.head_min_score) for p in known) if b is not None]
        heads: list[np.ndarray] = []
        for graph in self._graphs:
            person = self._run(graph, grey_out(image, masks) if masks else image)
            if person is None:
                continue
            head = above_shoulders(person, self.head_min_score)
            box = person_box(person, _POSE_VIS_MIN)
            if head is None or box is None:
                continue
            heads.append(head)
            masks.append(box)
            self.found += 1
        return np.array(heads, dtype=np.float32).reshape(-1, 4)

    def close(self) -> None:
        graphs, self._graphs = getattr(self, "_graphs", []), []
        for g in graphs:
            g.close()

    def __enter__(self) -> "BystanderFinder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MotionHeads:
    """Head boxes on top of moving, person-shaped regions: the fallback for people too small or
    too far away for the face detector and the pose (a ~9-pixel face in a street scene).

    OpenCV's MOG2 background subtraction (no weights, no download) on a frame shrunk to
    ``max_side``; the foreground is cleaned (open, then close), and every connected region
    whose height is between ``min_height`` and ``max_height`` of the frame height and that is
    at least ``min_aspect`` times as tall as wide (an upright person or a group of them) gives
    one box over its top: the columns the region fills in its top ``HEAD_BAND`` of its height,
    widened by ``HEAD_PAD`` of the height on each side, from ``HEAD_PAD`` above its top to
    ``HEAD_BAND`` below it. Only moving people are found: the background model absorbs a
    person who stops (measured on a synthetic scene: after ~220 frames with ``history``
    2000 once the model has settled, ~30 with 300; the de-identifier's hold adds 2 s);
    when more than ``max_foreground`` of the frame moves (a pan, a cut, a light change) the
    frame gives no boxes.

    ``find(image)`` takes every frame in order (uint8 RGB ``(H, W, 3)``) and returns boxes
    ``(B, 4)`` in its pixels. The boxes blur only the output video, never the frames the pose
    sees (a box over a moving hand must not hide the hand from the pose).
    """

    HEAD_BAND = 0.25
    HEAD_PAD = 0.06

    def __init__(self, max_side: int = 384, min_height: float = 0.04, max_height: float = 0.5,
                 min_aspect: float = 1.0, history: int = 2000, max_foreground: float = 0.4):
        try:
            import cv2  # noqa: PLC0415
        except ImportError:  # pragma: no cover
            raise MissingDependencyError("opencv-python-headless", "pose",
                                         "finding moving people") from None
        self._cv2 = cv2
        self.max_side = int(max_side)
        self.min_height, self.max_height = float(min_height), float(max_height)
        self.min_aspect, self.max_foreground = float(min_aspect), float(max_foreground)
        self._sub = cv2.createBackgroundSubtractorMOG2(history=int(history), varThreshold=16,
                                                       detectShadows=False)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 13))  # joins head and body
        self.frames = 0

    def find(self, image: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        h, w = image.shape[:2]
        f = min(1.0, self.max_side / max(h, w))
        small = image if f >= 1.0 else cv2.resize(
            image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        fg = self._sub.apply(small)
        self.frames += 1
        if self.frames == 1:        # the first frame only starts the background model
            return np.zeros((0, 4), np.float32)
        fg = (fg > 0).astype(np.uint8)
        if fg.mean() > self.max_foreground:
            return np.zeros((0, 4), np.float32)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        sh = fg.shape[0]
        out = []
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if not (self.min_height * sh <= bh <= self.max_height * sh) \
                    or bh < self.min_aspect * bw or area < 0.25 * bw * bh:
                continue
            band = labels[y:y + max(1, int(math.ceil(self.HEAD_BAND * bh))), x:x + bw] == i
            cols = np.flatnonzero(band.any(axis=0))
            pad = self.HEAD_PAD * bh
            x1, x2 = x + cols[0] - pad, x + cols[-1] + 1 + pad
            out.append([x1 / f, (y - pad) / f, x2 / f, (y + self.HEAD_BAND * bh) / f])
        return np.array(out, dtype=np.float32).reshape(-1, 4)
