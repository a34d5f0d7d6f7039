"""Video → de-identified frames → keypoints → tracks → events: the library API.

Call :func:`run_pose` (video → :class:`PoseSequence`), :func:`run_deid` (video →
de-identified video) or :func:`run_detect` (video → events, plus an overlay video and a
timeline picture) directly; the ``nfbl pose`` / ``nfbl deid`` / ``nfbl detect`` commands are
thin adapters over them.

One decoding pass does everything frame by frame: decode (PyAV, each frame's own
timestamp) → de-identify (faces blurred, with look-ahead persistence) → pose on every
``stride``-th frame, on the de-identified frame → head boxes from the pose (and from
:class:`nfbl.pose.bystanders.BystanderFinder` for the other people in view) feed the
de-identification → the de-identified video is encoded sequentially in the same pass.
After the pass: link people into tracks (:func:`nfbl.keypoints.tracking.link_people`), fill the
frames between pose frames by linear interpolation, pick the interviewee
(:func:`nfbl.keypoints.tracking.choose_interviewee`) unless all persons are kept, run the detector.
The overlay needs the events, which exist only after the whole sequence went through the
detector, so it is written by one more *sequential* decode (no seeking) that re-applies the
stored face boxes and draws the stored keypoints — no face detection or pose is re-run.
"""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.events import EventStream
from nfbl.core.paths import check_outputs
from nfbl.pose.backends import BACKENDS
from nfbl.pose.deid import DeidConfig
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class PoseConfig:
    """How ``run_pose`` turns a video into keypoints.

    backend: ``"mediapipe"`` (default, Holistic body + hands, one person), ``"onnx"``
    (``onnx_pose`` + optional ``onnx_detector`` files, everybody in view;
    ``onnx_detector_preset`` ``"yolox"`` or ``"rtmdet"`` names the detector's
    pre-processing, ``onnx_pose_bgr`` feeds the pose model BGR as rtmlib does) or ``"file"``
    (precomputed ``keypoints`` in any format the keypoint readers know; ``keypoints_frame_size``
    (width, height), by default the video's, for keypoints normalised by the frame: YOLO
    labels).
    stride: pose on every ``stride``-th frame, linear interpolation in between.
    max_side: resize frames so the longer side is at most this (None: original size);
    crop: ``(x, y, w, h)`` region of interest in video pixels (e.g. the interview camera of a
    split screen, or small people in a wide shot), applied first; keypoints are always
    returned in the original video's pixels.
    all_persons: keep every track (default: only the interviewee).
    max_seconds: only the first seconds of the video. progress: tqdm bars on a terminal.
    """

    backend: str = "mediapipe"
    stride: int = 1
    max_side: int | None = None
    all_persons: bool = False
    deid: DeidConfig = field(default_factory=DeidConfig)
    onnx_pose: Path | None = None
    onnx_detector: Path | None = None
    onnx_detector_preset: str = "yolox"
    onnx_pose_bgr: bool = False
    keypoints: Path | None = None
    keypoints_format: str | None = None
    keypoints_frame_size: tuple[int, int] | None = None
    max_seconds: float | None = None
    crop: tuple[int, int, int, int] | None = None
    progress: bool = True
    threads: int = 2

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise NfblError(f"unknown pose backend {self.backend!r}; use one of "
                            f"{', '.join(BACKENDS)}")
        if self.stride < 1:
            raise NfblError(f"--stride must be >= 1, got {self.stride}")
        for field_name, message in BACKENDS[self.backend].requires:
            if getattr(self, field_name) is None:
                raise NfblError(message)
        if self.max_side is not None and self.max_side < 16:
            raise NfblError(f"--max-side must be >= 16 pixels, got {self.max_side}")


@dataclass(frozen=True)
class DetectConfig:
    """``run_detect`` settings: the pose settings plus the detector model (None: bundled);
    ``body_only``: accept keypoints without hand joints (a COCO-17 pose model)."""

    pose: PoseConfig = field(default_factory=PoseConfig)
    model: Path | None = None
    threads: int = 2
    body_only: bool = False


@dataclass
class DetectResult:
    """What :func:`run_detect` produced. ``events`` carry each person's track id."""

    sequence: PoseSequence
    events: EventStream
    overlay: Path | None = None
    timeline: Path | None = None
    deid_video: Path | None = None
    timings: dict = field(default_factory=dict)


@dataclass
class PassResult:
    """Internals of one decoding pass (used by the overlay and the benchmark)."""

    sequence: PoseSequence            # all tracks, original pixels
    boxes: dict[int, np.ndarray]      # frame index → face boxes applied (processing pixels)
    scale: tuple[float, float]        # original = processing * scale + offset
    offset: tuple[float, float]
    frames: int
    pose_frames: int
    deid_frames: int


def make_backend(cfg: PoseConfig, static_images: bool = False):
    """The pose backend that ``cfg`` names (caller closes it)."""
    return BACKENDS[cfg.backend].build(cfg, static_images)


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm import tqdm  # noqa: PLC0415
    return tqdm(total=total or None, desc=desc, unit="frame", leave=False, dynamic_ncols=True,
                disable=not (enabled and sys.stderr.isatty()))


def _expected_frames(info, max_seconds: float | None) -> int:
    n = info.num_frames
    if max_seconds is not None and info.fps > 0:
        n = min(n, int(math.ceil(max_seconds * info.fps))) if n else int(max_seconds * info.fps)
    return n


def analyse(video: str | Path, cfg: PoseConfig, deid_video: str | Path | None = None,
            keep_boxes: bool = False, require_person: bool = True,
            on_frame: Callable | None = None) -> PassResult:
    """The decoding pass: decode → de-identify → pose every k-th frame → (write de-id video).

    Returns all tracks (not yet the interviewee). ``keep_boxes`` de-identifies every frame
    and keeps its face boxes (for the overlay). Raises :class:`NfblError` when nobody is
    found (``require_person``); then no output file is left behind.
    """
    from nfbl.pose import deid as deid_mod  # noqa: PLC0415
    from nfbl.pose.stride import fill_between  # noqa: PLC0415
    from nfbl.pose.video import check_crop, iter_frames, output_size, probe  # noqa: PLC0415
    from nfbl.pose.writer import VideoWriter  # noqa: PLC0415
    from nfbl.keypoints.tracking import link_people  # noqa: PLC0415

    video = Path(video)
    check_outputs([deid_video], [video, cfg.keypoints])   # never overwrite an input
    if deid_video is not None and not cfg.deid.enabled:
        raise NfblError(f"{deid_video}: a de-identified video was asked for with "
                        f"de-identification switched off (--no-deid); drop one of the two")
    info = probe(video)
    crop = check_crop(cfg.crop, info.width, info.height, video)
    src_w, src_h = (crop[2], crop[3]) if crop else (info.width, info.height)
    w, h = output_size(src_w, src_h, cfg.max_side)
    scale = (src_w / w, src_h / h)
    offset = (float(crop[0]), float(crop[1])) if crop else (0.0, 0.0)
    fps = info.fps if info.fps > 0 else 25.0
    all_images = deid_video is not None or keep_boxes
    times: list[float] = []
    pose_times: list[float] = []
    people: list[np.ndarray] = []
    boxes: dict[int, np.ndarray] = {}
    layout_name = ""
    counts = {"pose": 0, "deid": 0}
    writer = None
    if cfg.backend == "file" and cfg.keypoints_frame_size is None:
        cfg = replace(cfg, keypoints_frame_size=(info.width, info.height))  # YOLO labels need it
    backend = make_backend(cfg)
    finder = None
    try:
        if cfg.backend == "file":   # read once, here: the keypoints must be this video's
            backend.check_video_frames(info.num_frames, video)
        if cfg.deid.enabled and cfg.deid.bystanders > 0:
            from nfbl.pose.bystanders import BystanderFinder  # noqa: PLC0415
            finder = BystanderFinder(cfg.deid.bystanders,
                                     head_min_score=cfg.deid.head_min_score)
        # motion heads blur output frames only: without output frames they are wasted work
        deid = deid_mod.Deidentifier(
            cfg.deid if all_images else replace(cfg.deid, motion_heads=False), fps)
        deid.set_min_persist(cfg.stride)
        if deid_video is not None:
            writer = VideoWriter(deid_video, fps, w, h)
        with deid, _progress(_expected_frames(info, cfg.max_seconds), video.name,
                             cfg.progress) as bar:

            def handle(out: deid_mod.DeidFrame) -> None:
                nonlocal layout_name
                if out.index % cfg.stride == 0:
                    found = backend.process(out.image, out.index)
                    if cfg.backend == "file" and found:   # file keypoints are in video pixels
                        found = [_to_processing(p, scale, offset) for p in found]
                    layout_name = layout_name or backend.layout
                    counts["pose"] += 1
                    arr = (np.stack(found).astype(np.float32) if found
                           else np.zeros((0, skeletons.get_layout(backend.layout).num_joints, 3),
                                         np.float32))
                    people.append(arr)
                    pose_times.append(out.time)
                    if cfg.deid.enabled and len(arr):
                        deid.add_head_boxes(out.index, deid_mod.head_boxes(
                            arr, backend.layout, cfg.deid.head_min_score, (w, h)))
                    if finder is not None and out.image is not None:
                        deid.add_bystander_boxes(out.index, finder.find(out.image, arr))
                deid.finish(out)
                if out.image is not None:
                    counts["deid"] += 1
                    if keep_boxes:
                        boxes[out.index] = out.boxes
                    if writer is not None:
                        writer.write(out.image, out.time)
                if on_frame is not None:
                    on_frame(out)

            for frame in iter_frames(video, stride=1 if all_images else cfg.stride,
                                     max_side=cfg.max_side, max_seconds=cfg.max_seconds,
                                     decode_all=True, crop=crop):
                times.append(frame.time)
                for out in deid.push(frame.index, frame.time, frame.image):
                    handle(out)
                bar.update(1)
            for out in deid.flush():
                handle(out)
        if not layout_name:
            layout_name = backend.layout
        v = skeletons.get_layout(layout_name).num_joints
        kp_sub, track_ids = link_people(people, num_joints=v)
        if require_person and (kp_sub.shape[0] == 0 or not (kp_sub[..., 2] > 0).any()):
            raise NfblError(f"{video}: no person found in {counts['pose']} frames looked at "
                            f"(backend {cfg.backend}); is a person visible? For small people "
                            f"try --crop X,Y,W,H around them")
        kp = fill_between(kp_sub, np.array(pose_times), np.array(times))
        present = kp[..., 2] > 0
        kp[..., 0] = np.where(present, kp[..., 0] * scale[0] + offset[0], 0.0)
        kp[..., 1] = np.where(present, kp[..., 1] * scale[1] + offset[1], 0.0)
        seq = PoseSequence(kp, layout_name, fps, np.array(times), (info.width, info.height),
                           np.asarray(track_ids), video.stem,
                           {"source": str(video), "backend": cfg.backend, "stride": cfg.stride,
                            "deidentified": cfg.deid.enabled, "processing_size": [w, h],
                            "crop": list(crop) if crop else None,
                            "pose_frames": counts["pose"]})
        if writer is not None:
            writer.close()
            writer = None
        return PassResult(seq, boxes, scale, offset, len(times), counts["pose"], counts["deid"])
    finally:
        if writer is not None:
            writer.abort()
        if finder is not None:
            if finder.found:
                log.info("%s: bystanders' heads found on %d pose frames", video.name,
                         finder.found)
            finder.close()
        backend.close()


def _to_processing(person: np.ndarray, scale: tuple[float, float],
                   offset: tuple[float, float]) -> np.ndarray:
    """Video pixels → processing pixels (inverse of the crop + resize)."""
    out = person.astype(np.float32).copy()
    ok = out[:, 2] > 0
    out[ok, 0] = (out[ok, 0] - offset[0]) / scale[0]
    out[ok, 1] = (out[ok, 1] - offset[1]) / scale[1]
    return out


def choose(seq: PoseSequence, all_persons: bool) -> PoseSequence:
    """All tracks, or only the interviewee (largest, most central, longest track)."""
    if all_persons or seq.num_persons <= 1:
        return seq
    from nfbl.keypoints.tracking import Persons  # noqa: PLC0415
    return Persons().apply(seq)


def run_pose(video: str | Path, cfg: PoseConfig = PoseConfig(),
             deid_video: str | Path | None = None) -> PoseSequence:
    """Video → keypoints of the interviewee (or of all persons), on de-identified frames.

    ``deid_video``: also write the de-identified frames the pose ran on (H.264 .mp4).
    """
    return choose(analyse(video, cfg, deid_video).sequence, cfg.all_persons)


def run_deid(video: str | Path, out: str | Path, cfg: PoseConfig = PoseConfig()) -> int:
    """Write a de-identified copy of ``video`` (every face blurred/masked); returns the
    number of frames with at least one face box. Head keypoints of ``cfg.backend`` serve as
    the fallback (a video without people is fine here)."""
    if not cfg.deid.enabled:
        raise NfblError("nfbl deid with de-identification switched off makes no sense")
    boxed = [0]

    def count(frame) -> None:
        boxed[0] += int(len(frame.boxes) > 0)

    analyse(video, cfg, out, require_person=False, on_frame=count)
    return boxed[0]


def run_detect(video: str | Path, cfg: DetectConfig = DetectConfig(),
               overlay: str | Path | None = None, timeline: str | Path | None = None,
               deid_video: str | Path | None = None) -> DetectResult:
    """Video → events (+ overlay video, timeline picture, de-identified video).

    The detector is loaded first, so a bad model fails before the long video pass.
    """
    import time as _time  # noqa: PLC0415

    from nfbl.exports.runtime import Detector  # noqa: PLC0415
    check_outputs([overlay, timeline, deid_video], [video, cfg.pose.keypoints, cfg.model])
    # body_only: keypoints without hand joints (COCO-17 pose) run as reduced-hand tracks
    detector = Detector.load(cfg.model, threads=cfg.threads, body_only=cfg.body_only)
    t0 = _time.perf_counter()
    result = analyse(video, cfg.pose, deid_video, keep_boxes=overlay is not None)
    t1 = _time.perf_counter()
    seq = choose(result.sequence, cfg.pose.all_persons)
    events = detector.detect(seq, persons="all")
    # the input video, so that an ELAN file of these events, written now or later from the
    # JSONL, opens with it (absolute: a relative path would resolve against a later cwd)
    events = EventStream(events.events, {**events.meta,
                                         "media": {seq.video_id: str(Path(video).absolute())}})
    t2 = _time.perf_counter()
    res = DetectResult(seq, events, deid_video=None if deid_video is None else Path(deid_video))
    if overlay is not None:
        res.overlay = write_overlay(video, overlay, seq, events, result, cfg.pose)
    t3 = _time.perf_counter()
    if timeline is not None:
        from nfbl.viz.timeline import plot_timeline  # noqa: PLC0415
        res.timeline = plot_timeline(events, timeline, duration=seq.duration,
                                     title=Path(video).name)
    res.timings = {"pass_s": t1 - t0, "detector_s": t2 - t1, "overlay_s": t3 - t2,
                   "frames": result.frames, "pose_frames": result.pose_frames}
    return res


def detect_video(video: str | Path, model: str | Path | None = None, *,
                 pose: PoseConfig | None = None, threads: int = 2,
                 overlay: str | Path | None = None, timeline: str | Path | None = None,
                 deid_video: str | Path | None = None) -> DetectResult:
    """Video → NFBL events in one call (the public ``nfbl.detect_video``).

    ``model``: an nfbl ONNX detector (None: the bundled one); ``pose``: how keypoints are
    taken (default :class:`PoseConfig`: MediaPipe Holistic on de-identified frames, the
    interviewee only); ``overlay`` / ``timeline`` / ``deid_video``: optional extra outputs.
    Returns a :class:`DetectResult` (``.events``, ``.sequence``, the written paths).
    """
    cfg = DetectConfig(pose=pose or PoseConfig(), model=None if model is None else Path(model),
                       threads=threads)
    return run_detect(video, cfg, overlay=overlay, timeline=timeline, deid_video=deid_video)


# --- overlay -------------------------------------------------------------------------------

TRACK_COLORS = ((255, 80, 80), (80, 200, 255), (120, 255, 120), (255, 200, 60),
                (220, 120, 255), (255, 255, 255))


def _draw_person(image: np.ndarray, kp: np.ndarray, layout: skeletons.Layout,
                 color: tuple[int, int, int] | None) -> None:
    """Skeleton of one person ``(V, 3)`` (processing pixels) drawn in place."""
    from nfbl.viz.render import draw_skeleton  # noqa: PLC0415
    draw_skeleton(image, kp, layout, color=color)


def _draw_events(image: np.ndarray, header: str,
                 lines: list[tuple[str, tuple[int, int, int]]]) -> None:
    """Time in the top-left corner; the active events stacked from the bottom-left corner."""
    import cv2  # noqa: PLC0415
    h = image.shape[0]
    fs = max(0.4, h / 1100)
    th = max(1, int(round(fs * 1.6)))

    def label(text: str, color, x: int, y: int) -> int:
        (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, th)
        cv2.rectangle(image, (x - 4, y - tht - 4), (x + tw + 4, y + base + 2), (0, 0, 0), -1)
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, fs, color, th, cv2.LINE_AA)
        return tht + base + 8

    label(header, (255, 255, 255), 8, int(22 * fs) + 6)
    y = h - 10
    for text, color in reversed(lines):
        (_, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, th)
        label(text, color, 8, y - base)
        y -= tht + base + 8


def _clock(t: float) -> str:
    return f"{int(t // 60):02d}:{t % 60:04.1f}"


def write_overlay(video: str | Path, out: str | Path, seq: PoseSequence, events: EventStream,
                  result: PassResult, cfg: PoseConfig) -> Path:
    """Overlay video: the de-identified frames (face boxes stored by the first pass), each
    person's skeleton and the events active at each frame. One sequential decode, no seeking,
    no face detection or pose re-run."""
    from nfbl.pose import deid as deid_mod  # noqa: PLC0415
    from nfbl.pose.video import iter_frames  # noqa: PLC0415
    from nfbl.pose.writer import VideoWriter  # noqa: PLC0415

    w, h = (int(v) for v in seq.meta["processing_size"])
    layout = seq.layout_def
    kp = seq.keypoints.copy()
    kp[..., 0] = (kp[..., 0] - result.offset[0]) / result.scale[0]
    kp[..., 1] = (kp[..., 1] - result.offset[1]) / result.scale[1]
    arr = events.to_arrays()
    order = {int(t): i for i, t in enumerate(seq.track_ids)}
    fps = seq.fps
    with VideoWriter(out, fps, w, h) as writer, \
            _progress(result.frames, f"overlay {Path(out).name}", cfg.progress) as bar:
        for frame in iter_frames(video, max_side=cfg.max_side, max_seconds=cfg.max_seconds,
                                 crop=cfg.crop):
            if frame.index >= seq.num_frames:
                break
            img = frame.image
            if cfg.deid.enabled:
                bx = result.boxes.get(frame.index, np.zeros((0, 4), np.float32))
                deid_mod.anonymise(img, bx, cfg.deid.mode)
            for m in range(seq.num_persons):
                color = None if seq.num_persons == 1 else TRACK_COLORS[m % len(TRACK_COLORS)]
                _draw_person(img, kp[m, frame.index], layout, color)
            t = frame.time
            active = np.flatnonzero((arr["start"] <= t) & (t < arr["end"]))
            lines = []
            for i in active[np.argsort(-arr["score"][active], kind="stable")][:5]:
                e = events[int(i)]
                color = TRACK_COLORS[order.get(e.track_id, 0) % len(TRACK_COLORS)]
                who = f" [track {e.track_id}]" if seq.num_persons > 1 else ""
                color = (255, 230, 120) if seq.num_persons == 1 else color
                lines.append((f"{e.code} {e.label} {e.score:.2f}{who}", color))
            _draw_events(img, f"{_clock(t)}  {len(active)} active / {len(events)} events", lines)
            writer.write(img, frame.time)
            bar.update(1)
    return Path(out)
