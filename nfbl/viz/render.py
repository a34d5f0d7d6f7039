"""Stick-figure drawing of keypoints: one frame, a video, or a contact sheet of frames.

``draw_skeleton`` draws one person's keypoints of any layout onto an image in place (cv2
lines and circles); ``render_video`` writes an H.264 video via PyAV; ``render_grid`` writes
a PNG contact sheet. Active events are written on each frame. numpy at import time; cv2
and PyAV are imported lazily.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.core.events import Event, EventStream
from nfbl.core.atomic import atomic_path
from nfbl.core.sequence import PoseSequence

#: BGR colours by body part
COLORS = {"left": (80, 200, 80), "right": (60, 120, 255), "center": (230, 200, 60),
          "left_hand": (40, 230, 160), "right_hand": (40, 170, 255)}


def _cv2():
    try:
        import cv2
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("opencv-python-headless", "video", "drawing skeletons") from None
    return cv2


def _part(name: str) -> str:
    """Colour key of a joint: its side, or ``{side}_hand`` for hand joints."""
    side = skeletons.joint_side(name)
    return f"{side}_hand" if side != "center" and skeletons.joint_region(name) == "hand" else side


def draw_skeleton(frame: np.ndarray, kp: np.ndarray, layout: skeletons.Layout | str,
                  color: tuple[int, int, int] | None = None, min_score: float = 0.05,
                  thickness: int | None = None, offset: tuple[float, float] = (0.0, 0.0),
                  scale: float = 1.0) -> None:
    """Draw one person's keypoints ``kp`` (V, 3) onto ``frame`` (H, W, 3) uint8, in place.

    Joints with score < ``min_score`` are skipped (and so are links touching them).
    ``color`` None colours by side (left green, right orange, hands lighter). ``offset`` and
    ``scale`` map keypoint pixels to frame pixels: ``p * scale + offset``.
    """
    cv2 = _cv2()
    layout = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    kp = np.asarray(kp, dtype=np.float32)
    if kp.shape != (layout.num_joints, 3):
        raise NfblError(f"keypoints of shape {kp.shape} do not fit layout {layout.name}")
    h, w = frame.shape[:2]
    th = thickness or max(1, int(round(min(h, w) / 300)))
    ok = (kp[:, 2] >= min_score) & np.isfinite(kp[:, :2]).all(axis=1)
    pts = kp[:, :2] * scale + np.asarray(offset, dtype=np.float32)
    ipts = np.round(pts).astype(np.int64)
    for a, b in layout.edges:
        if ok[a] and ok[b]:
            name = layout.joints[b]
            c = color or COLORS[_part(name)]
            t = th if "_hand_" not in name else max(1, th - 1)
            cv2.line(frame, (int(ipts[a, 0]), int(ipts[a, 1])), (int(ipts[b, 0]), int(ipts[b, 1])), c, t,
                     cv2.LINE_AA)
    r = max(1, th)
    for i in np.flatnonzero(ok):
        name = layout.joints[i]
        c = color or COLORS[_part(name)]
        cv2.circle(frame, (int(ipts[i, 0]), int(ipts[i, 1])), r if "_hand_" not in name else max(1, r - 1), c,
                   -1, cv2.LINE_AA)


def active_events(events: Iterable[Event], t: float, track_id: int | None = None) -> list[Event]:
    """Events whose half-open span contains time ``t`` (seconds)."""
    return [e for e in events if e.start <= t < e.end and (track_id is None or e.track_id == track_id)]


def _caption(frame: np.ndarray, lines: Sequence[str], origin: tuple[int, int] = (8, 8),
             scale: float | None = None) -> None:
    cv2 = _cv2()
    h = frame.shape[0]
    fs = scale or max(0.4, h / 900)
    y = origin[1]
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        y += th + base + 2
        cv2.rectangle(frame, (origin[0] - 3, y - th - 3), (origin[0] + tw + 3, y + base), (0, 0, 0), -1)
        cv2.putText(frame, line, (origin[0], y), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), 1, cv2.LINE_AA)


def _labels(evs: Sequence[Event]) -> list[str]:
    return [f"{e.code} {e.label}" + (f" {e.score:.2f}" if e.score < 1.0 else "") for e in evs]


def _frame_image(seq: PoseSequence, i: int, events: Sequence[Event], person: int,
                 size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 24, dtype=np.uint8)
    fw, fh = seq.frame_size if seq.frame_size[0] > 0 else (w, h)
    scale = min(w / fw, h / fh)
    draw_skeleton(img, seq.keypoints[person, i], seq.layout_def, scale=scale)
    t = float(seq.timestamps[i])
    track = int(seq.track_ids[person])
    _caption(img, [f"{seq.video_id} t={t:7.2f}s f={i}"] + _labels(active_events(events, t, track)))
    return img


def render_video(seq: PoseSequence, events: EventStream | Sequence[Event] | None, out_path: str | Path,
                 person: int = 0, size: tuple[int, int] | None = None, start: float | None = None,
                 end: float | None = None) -> Path:
    """Write the stick figure of one person as an H.264 ``.mp4`` (atomic), events written on it.

    ``size`` (width, height) defaults to the sequence's frame size (even numbers, ≤ 1280
    wide); ``start``/``end`` (seconds) cut a time window.
    """
    try:
        import av
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("av", "video", "rendering videos") from None
    if not 0 <= person < seq.num_persons:
        raise NfblError(f"person {person} not in the sequence ({seq.num_persons} persons)")
    evs = list(events or ())
    fw, fh = seq.frame_size if seq.frame_size[0] > 0 else (1280, 720)
    if size is None:
        f = min(1.0, 1280 / fw)
        size = (int(fw * f) // 2 * 2, int(fh * f) // 2 * 2)
    ts = seq.timestamps
    lo = 0 if start is None else int(np.searchsorted(ts, start))
    hi = len(ts) if end is None else int(np.searchsorted(ts, end))
    if hi <= lo:
        raise NfblError("nothing to render: the time window holds no frames")
    out_path = Path(out_path)
    fps = seq.fps
    with atomic_path(out_path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            from fractions import Fraction
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"}
            for i in range(lo, hi):
                img = _frame_image(seq, i, evs, person, size)
                frame = av.VideoFrame.from_ndarray(img[..., ::-1].copy(), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return out_path


def grid_frames(seq: PoseSequence, events: Sequence[Event], n: int = 12) -> list[int]:
    """Default frames for a contact sheet: the middle of events (up to ``n``), else evenly spaced."""
    ts = seq.timestamps
    if events:
        picks = [int(np.searchsorted(ts, 0.5 * (e.start + e.end))) for e in events][:n]
        return [min(p, seq.num_frames - 1) for p in picks]
    return [int(i) for i in np.linspace(0, seq.num_frames - 1, n)]


def render_grid(seq: PoseSequence, events: EventStream | Sequence[Event] | None, out_png: str | Path,
                frames: Sequence[int] | None = None, cols: int = 4, person: int = 0,
                cell: tuple[int, int] = (480, 270), crop: bool = True) -> Path:
    """Write a PNG contact sheet of the given frames (default: the middle of each event).

    ``crop`` zooms every cell onto the person (their keypoints' bounding box over the
    sequence) so that hands are visible at small cell sizes.
    """
    evs = list(events or ())
    frames = list(frames) if frames is not None else grid_frames(seq, evs)
    if not frames:
        raise NfblError("no frames to draw")
    if any(not 0 <= f < seq.num_frames for f in frames):
        raise NfblError(f"frame index out of range 0..{seq.num_frames - 1}")
    return render_cells([(seq, f, evs) for f in frames], out_png, cols=cols, person=person, cell=cell, crop=crop)


def _view(seq: PoseSequence, person: int, crop: bool) -> tuple[float, float, float, float]:
    kp = seq.keypoints[person]
    if crop:
        ok = kp[..., 2] > 0
        xs, ys = kp[..., 0][ok], kp[..., 1][ok]
        if xs.size:
            x0, x1 = np.percentile(xs, [0.05, 99.95])
            y0, y1 = np.percentile(ys, [0.05, 99.95])
            pad = 0.1 * max(x1 - x0, y1 - y0)
            return x0 - pad, y0 - pad, x1 + pad, y1 + pad
    return 0.0, 0.0, float(seq.frame_size[0] or 1280), float(seq.frame_size[1] or 720)


def render_cells(cells: Sequence[tuple[PoseSequence, int, Sequence[Event]]], out_png: str | Path,
                 cols: int = 4, person: int = 0, cell: tuple[int, int] = (480, 270),
                 crop: bool = True, titles: Sequence[str] | None = None) -> Path:
    """Contact sheet of frames from one or several sequences: ``cells`` = (seq, frame, events)."""
    if int(cols) < 1:
        raise NfblError(f"a contact sheet needs at least 1 column, got {cols}")
    cv2 = _cv2()
    w, h = cell
    rows = (len(cells) + cols - 1) // cols
    sheet = np.full((rows * h, cols * w, 3), 255, dtype=np.uint8)
    views: dict[int, tuple] = {}
    for k, (seq, i, evs) in enumerate(cells):
        if id(seq) not in views:
            views[id(seq)] = _view(seq, person, crop)
        x0, y0, x1, y1 = views[id(seq)]
        scale = min(w / max(x1 - x0, 1), h / max(y1 - y0, 1))
        offset = (-x0 * scale + (w - (x1 - x0) * scale) / 2, -y0 * scale + (h - (y1 - y0) * scale) / 2)
        img = np.full((h, w, 3), 24, dtype=np.uint8)
        draw_skeleton(img, seq.keypoints[person, i], seq.layout_def, scale=scale, offset=offset)
        t = float(seq.timestamps[i])
        head = [titles[k]] if titles else []
        _caption(img, head + [f"t={t:.2f}s"] + _labels(active_events(evs, t, int(seq.track_ids[person]))),
                 scale=0.42)
        r, c = divmod(k, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
        cv2.rectangle(sheet, (c * w, r * h), ((c + 1) * w - 1, (r + 1) * h - 1), (255, 255, 255), 1)
    out_png = Path(out_png)
    with atomic_path(out_png, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), sheet):
            raise NfblError(f"could not write the image {out_png}")
    return out_png
