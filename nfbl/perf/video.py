"""Speed of the video pipeline, stage by stage, and the accuracy cost of pose every k-th frame.

    python -m nfbl.cli.videobench [VIDEO] [--seconds S] [--strides 1 3 5] [--model M.onnx]
    python -m nfbl.cli.videobench --make-720p OUT.mp4 [--seconds S]   # the test video
    python -m nfbl.cli.videobench --stride-accuracy [--videos N]      # synthetic, no video
    python -m nfbl.cli.videobench --deid-coverage [--seconds 20]       # faces covered, per setting

Without VIDEO a 1280x720, 25 fps clip is generated from ../shared/media/basketball1.png
(two people, a slow pan and zoom). Stages, each on the same frames: decoding (PyAV, to RGB),
de-identification (face detection on frame + tiles, blur; the motion-heads fallback alone),
pose (MediaPipe Holistic),
the detector (ONNX, on keypoints) and end to end (``nfbl detect`` without overlay, for each
stride). frames/s are wall-clock on this machine; the CPU seconds per frame are given too
because a shared machine inflates wall time.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
#: first seed of the synthetic videos of --stride-accuracy
SEED0 = 2_000_000


def _clock() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system


def _rate(n: int, start: tuple[float, float]) -> dict:
    wall, cpu = _clock()
    dw, dc = wall - start[0], cpu - start[1]
    return {"frames": n, "wall_s": round(dw, 3), "fps": round(n / dw, 2) if dw > 0 else None,
            "cpu_ms_per_frame": round(1000 * dc / max(n, 1), 2)}


def clip_matrix(i: int, n: int, w: int = 640, h: int = 480) -> np.ndarray:
    """Affine ``(2, 3)`` photo → frame ``i`` of ``n`` of the 1280x720 pan/zoom clip."""
    a = 0.5 - 0.5 * np.cos(2 * np.pi * i / max(n, 1))   # 0 → 1 → 0
    cw = w * (1.0 - 0.15 * a)
    ch = cw * 9 / 16
    x0 = (w - cw) * (0.3 + 0.4 * a)
    y0 = (h - ch) * 0.3
    return np.array([[1280 / cw, 0, -x0 * 1280 / cw], [0, 720 / ch, -y0 * 720 / ch]])


def make_720p(out: Path, seconds: float = 10.0, fps: float = 25.0,
              image: Path | None = None) -> Path:
    """A 1280x720 H.264 clip panning and zooming slowly over a photo (people in view)."""
    import cv2  # noqa: PLC0415

    from nfbl.pose.video import read_image  # noqa: PLC0415
    from nfbl.pose.writer import VideoWriter  # noqa: PLC0415
    img = read_image(image or MEDIA / "basketball1.png")
    h, w = img.shape[:2]
    n = int(round(seconds * fps))
    with VideoWriter(out, fps, 1280, 720, preset="veryfast") as wr:
        for i in range(n):
            mat = clip_matrix(i, n, w, h)
            wr.write(cv2.warpAffine(img, mat, (1280, 720), flags=cv2.INTER_LINEAR), i / fps)
    return out


#: faces on basketball1.png (640x480), boxes measured by hand: the man on the right (turned
#: away, seen in profile from behind; Holistic does not follow him) and the man on the left
CLIP_FACES = {"right": (505, 55, 565, 140), "left": (62, 85, 112, 140)}
#: de-identification settings compared by --deid-coverage (DeidConfig keyword arguments)
BOTH = ("full", "short")
COVERAGE_SETTINGS = (
    {"tiles": 2, "tile_models": BOTH, "hold_seconds": 0.0},          # the defaults of 0.1.0
    {"tiles": 2, "tile_models": BOTH, "hold_seconds": 2.0},
    {"tiles": 2, "tile_models": BOTH, "hold_seconds": 5.0},
    {"tiles": 2, "tile_models": BOTH, "hold_seconds": 0.0, "bystanders": 1},
    {"tiles": 3, "tile_models": BOTH, "hold_seconds": 2.0},
    {"tiles": 3, "tile_models": ("full",), "hold_seconds": 2.0},
    {"tiles": 3, "tile_models": ("short",), "hold_seconds": 2.0},     # the defaults now
    {"tiles": 3, "tile_models": ("short",), "hold_seconds": 2.0, "bystanders": 1})


def deid_coverage(video: Path, frames: int, settings=COVERAGE_SETTINGS, stride: int = 2,
                  min_share: float = 0.9) -> list[dict]:
    """For each de-identification setting, run the ``nfbl deid`` pass (pose every ``stride``
    frames) on the generated clip and count the frames where at least ``min_share`` of each
    face box of :data:`CLIP_FACES` lies under the blurred boxes; also the longest run of
    frames with a face exposed and the mean share of the frame blurred."""
    from nfbl.pose.pipeline import PoseConfig, analyse  # noqa: PLC0415
    from nfbl.pose.deid import DeidConfig  # noqa: PLC0415
    rows = []
    for kw in settings:
        cfg = PoseConfig(stride=stride, progress=False, deid=DeidConfig(**kw))
        t0 = _clock()
        res = analyse(video, cfg, keep_boxes=True, require_person=False)
        row: dict = {"setting": kw} | _rate(res.frames, t0)
        blurred = []
        covered: dict[str, list[bool]] = {k: [] for k in CLIP_FACES}
        for i in range(res.frames):
            mask = np.zeros((720, 1280), bool)
            for b in res.boxes.get(i, ()):
                x1, y1 = max(0, int(b[0])), max(0, int(b[1]))
                mask[y1:max(y1, int(np.ceil(b[3]))), x1:max(x1, int(np.ceil(b[2])))] = True
            blurred.append(mask.mean())
            m = clip_matrix(i, frames)
            for name, f in CLIP_FACES.items():
                (x1, y1), (x2, y2) = m @ [f[0], f[1], 1], m @ [f[2], f[3], 1]
                x1, y1 = max(0, int(round(x1))), max(0, int(round(y1)))
                x2, y2 = min(1280, int(round(x2))), min(720, int(round(y2)))
                covered[name].append(x2 <= x1 or y2 <= y1 or mask[y1:y2, x1:x2].mean() >= min_share)
        for name, cov in covered.items():
            longest = run = 0
            for c in cov:
                run = 0 if c else run + 1
                longest = max(longest, run)
            row[name] = {"covered": int(sum(cov)), "of": len(cov), "longest_exposed": longest}
        row["mean_share_blurred"] = round(float(np.mean(blurred)), 3)
        rows.append(row)
    return rows


def bench_stages(video: Path, seconds: float, pose_frames: int, model: Path | None) -> dict:
    """Each stage alone on the first ``seconds`` of ``video``."""
    from nfbl.pose import deid  # noqa: PLC0415
    from nfbl.pose.backends.mediapipe_backend import MediaPipeBackend  # noqa: PLC0415
    from nfbl.pose.video import iter_frames, probe  # noqa: PLC0415

    info = probe(video)
    out: dict = {"video": str(video), "size": [info.width, info.height], "fps": info.fps,
                 "codec": info.codec}
    t0 = _clock()
    frames = [f.image for f in iter_frames(video, max_seconds=seconds)]
    out["decode"] = _rate(len(frames), t0)
    for tiles in (3, 1):   # the default 3x3 tiles, and the whole frame only
        cfg = deid.DeidConfig(tiles=tiles)
        det = deid.FaceDetector(cfg)
        det.detect(frames[0])   # graph warm-up
        t0 = _clock()
        for img in frames:
            deid.anonymise(img.copy(), deid.merge_boxes(det.detect(img)), "blur")
        out[f"deid_tiles{tiles}"] = _rate(len(frames), t0)
        det.close()
    from nfbl.pose.bystanders import MotionHeads  # noqa: PLC0415
    mover = MotionHeads()   # the moving-people fallback (DeidConfig.motion_heads, default on)
    t0 = _clock()
    for img in frames:
        mover.find(img)
    out["deid_motion_heads"] = _rate(len(frames), t0)
    sub = frames[:pose_frames]
    with MediaPipeBackend() as backend:
        backend.process(sub[0])
        t0 = _clock()
        found = sum(bool(backend.process(img)) for img in sub)
        out["pose_mediapipe"] = _rate(len(sub), t0)
        out["pose_mediapipe"]["person_found_share"] = round(found / len(sub), 3)
    if model is not None:
        out["detector"] = bench_detector(model)
    return out


def bench_detector(model: Path | None, minutes: float = 10.0) -> dict:
    """The ONNX detector alone on ``minutes`` of synthetic keypoints (one person)."""
    from nfbl.exports.runtime import Detector  # noqa: PLC0415
    from nfbl.synth.corpus import SynthConfig, generate_video  # noqa: PLC0415
    det = Detector.load(model, threads=2)
    seq, _ = generate_video(SynthConfig(minutes=minutes, layout=det.card.layout), seed=0)
    det.detect(seq.with_keypoints(seq.keypoints[:, :200], timestamps=seq.timestamps[:200]))
    t0 = _clock()
    det.detect(seq)
    return _rate(seq.num_frames, t0) | {"model": det.model_tag}


def bench_end_to_end(video: Path, seconds: float, strides: list[int], model: Path | None,
                     overlay_stride: int | None = None) -> dict:
    """``run_detect`` (no overlay) for each stride; without a model only ``run_pose``.
    ``overlay_stride``: also with ``--overlay`` (every frame de-identified, face detection on
    every frame and, second, on every 3rd frame)."""
    from nfbl.pose.pipeline import DetectConfig, PoseConfig, run_detect, run_pose  # noqa: PLC0415
    from nfbl.pose.deid import DeidConfig  # noqa: PLC0415
    out = {}
    for k in strides:
        cfg = PoseConfig(stride=k, max_seconds=seconds, progress=False, all_persons=False)
        t0 = _clock()
        if model is not None:
            res = run_detect(video, DetectConfig(pose=cfg, model=model))
            n = res.sequence.num_frames
        else:
            n = run_pose(video, cfg).num_frames
        out[f"stride{k}"] = _rate(n, t0)
    if model is not None and overlay_stride:
        for every in (1, 3):
            cfg = PoseConfig(stride=overlay_stride, max_seconds=seconds, progress=False,
                             deid=DeidConfig(detect_every=every))
            with tempfile.TemporaryDirectory() as tmp:
                t0 = _clock()
                res = run_detect(video, DetectConfig(pose=cfg, model=model),
                                 overlay=Path(tmp) / "overlay.mp4")
                out[f"stride{overlay_stride}_overlay_face_every{every}"] = (
                    _rate(res.sequence.num_frames, t0)
                    | {"overlay_pass_s": round(res.timings["overlay_s"], 2)})
    return out


def bench_encode(video: Path, seconds: float) -> dict:
    """H.264 encoding alone (libx264 veryfast, crf 23) of the decoded frames."""
    from nfbl.pose.video import iter_frames  # noqa: PLC0415
    from nfbl.pose.writer import VideoWriter  # noqa: PLC0415
    frames = [(f.time, f.image) for f in iter_frames(video, max_seconds=seconds)]
    h, w = frames[0][1].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = _clock()
        with VideoWriter(Path(tmp) / "x.mp4", 25, w, h) as wr:
            for t, img in frames:
                wr.write(img, t)
        return _rate(len(frames), t0)


def stride_accuracy(strides: list[int], videos: int = 4, minutes: float = 2.0,
                    model: Path | None = None, noise: float = 0.0) -> dict:
    """Joint error of pose-every-k-th-frame + linear interpolation against every frame, on
    synthetic interviews (25 fps; ``noise`` = the synthetic pose-estimator noise level, 0 =
    perfect keypoints), in shoulder widths; with a model, also F1@0.3 of its events against
    the synthetic ground truth."""
    from nfbl.core import skeletons  # noqa: PLC0415
    from nfbl.core.events import EventStream  # noqa: PLC0415
    from nfbl.pose.stride import fill_between  # noqa: PLC0415
    from nfbl.synth.camera import NoiseConfig  # noqa: PLC0415
    from nfbl.synth.corpus import SynthConfig, generate_video  # noqa: PLC0415
    det = None
    if model is not None:
        from nfbl.exports.runtime import Detector  # noqa: PLC0415
        det = Detector.load(model, threads=2)
    lay = skeletons.CANONICAL
    body = [i for i, j in enumerate(lay.joints) if "_hand_" not in j]
    hands = [i for i, j in enumerate(lay.joints) if "_hand_" in j]
    ls, rs = lay.index["left_shoulder"], lay.index["right_shoulder"]
    res: dict = {}
    # held-out bodies/cameras, seeds outside the bundled model's training (0..239) and
    # validation (1000000..1000011) seeds
    seeds = [SEED0 + i for i in range(videos)]
    seqs = [generate_video(SynthConfig(minutes=minutes, noise=NoiseConfig(level=noise),
                                       split="heldout"), seed=s, video_id=f"synth{s}")
            for s in seeds]
    for k in strides:
        errs_b, errs_h, preds, gts = [], [], [], []
        for seq, gt in seqs:
            kp = seq.keypoints
            sub = fill_between(kp[:, ::k], seq.timestamps[::k], seq.timestamps)
            ok = (kp[..., 2] > 0) & (sub[..., 2] > 0)
            both = (kp[0, :, ls, 2] > 0) & (kp[0, :, rs, 2] > 0)
            widths = np.linalg.norm(kp[0, both, ls, :2] - kp[0, both, rs, :2], axis=-1)
            sw = float(np.median(widths))
            d = np.linalg.norm(sub[..., :2] - kp[..., :2], axis=-1) / sw   # median shoulder width
            errs_b.append(d[..., body][ok[..., body]])
            errs_h.append(d[..., hands][ok[..., hands]])
            if det is not None:
                preds.append(det.detect(seq.with_keypoints(sub)))
                gts.append(gt)
        eb, eh = np.concatenate(errs_b), np.concatenate(errs_h)
        row = {"body_mean_sw": round(float(eb.mean()), 4),
               "body_p95_sw": round(float(np.percentile(eb, 95)), 4),
               "hands_mean_sw": round(float(eh.mean()), 4),
               "hands_p95_sw": round(float(np.percentile(eh, 95)), 4)}
        if det is not None:
            from nfbl.metrics.scores import f1_at_tiou  # noqa: PLC0415
            f1 = f1_at_tiou(EventStream.concat(gts), EventStream.concat(preds), 0.3)
            row["f1_at_0.3"] = round(f1.micro.f1, 4)
        res[f"k={k}"] = row
    return {"videos": videos, "minutes_each": minutes, "fps": 25.0, "noise": noise,
            "split": "heldout", "seeds": [seeds[0], seeds[-1]], "strides": res,
            "model": None if det is None else det.model_tag}
