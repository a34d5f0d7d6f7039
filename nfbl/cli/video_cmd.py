"""`nfbl pose`, `nfbl deid` and `nfbl detect`: videos → de-identified keypoints → events."""
from __future__ import annotations

import argparse
from pathlib import Path

from nfbl.cli.argtypes import nonneg_float, nonneg_int, positive_float, positive_int
from nfbl.cli.batch_cmd import add_batch_arguments, run_batch_command
from nfbl.core.errors import NfblError
from nfbl.core.paths import check_outputs

#: defaults of nfbl.pose.deid.DeidConfig, repeated here so that `nfbl --help` does not import
#: the video stack (tests/test_video_pipeline.py checks that they agree)
DEID_DEFAULTS = {"persist_seconds": 1.0, "hold_seconds": 2.0, "tiles": 3, "bystanders": 0}

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")
#: default pose stride of `nfbl pose` / `nfbl detect`: 26 frames/s end to end on 720p with 2
#: cores (docs/benchmarks/video.md) at ~1.8% of a shoulder width of interpolation error
DEFAULT_STRIDE = 3


def _add_pose_options(p: argparse.ArgumentParser, stride_default: int = DEFAULT_STRIDE) -> None:
    g = p.add_argument_group("pose estimation")
    from nfbl.pose.backends import BACKENDS  # noqa: PLC0415 - no heavy import: factories are lazy
    g.add_argument("--backend", choices=tuple(BACKENDS), default="mediapipe",
                   help="pose estimator: " + "; ".join(f"{b.name}: {b.help}"
                                                       for b in BACKENDS.values()))
    g.add_argument("--pose-model", type=Path, metavar="POSE.onnx",
                   help="onnx backend: top-down SimCC pose model (COCO-17 or WholeBody-133)")
    g.add_argument("--det-model", type=Path, metavar="DET.onnx",
                   help="onnx backend: person detector exported with NMS (dets (1,N,5) "
                        "[, labels (1,N)]); without it the whole frame is one person box")
    g.add_argument("--det-preset", choices=("yolox", "rtmdet"), default="yolox",
                   help="onnx backend: the detector's pre-processing (yolox: raw BGR, the "
                        "default; rtmdet: BGR normalised by mmdet's mean/std)")
    g.add_argument("--pose-bgr", action="store_true",
                   help="onnx backend: feed the pose model BGR, as rtmlib and mmpose's ONNX "
                        "demo do (default: RGB, as mmpose trains it)")
    g.add_argument("--keypoints", type=Path, metavar="FILE",
                   help="file backend: precomputed keypoints of this video")
    g.add_argument("--keypoints-format", metavar="FMT", help="file backend: format of --keypoints "
                   "(YOLO labels are read at the video's frame size)")
    g.add_argument("--stride", type=positive_int, default=None, metavar="K",
                   help="pose on every K-th frame, linear interpolation in between "
                        f"(default {stride_default}; 1 with --backend file)")
    p.set_defaults(stride_default=stride_default)
    g.add_argument("--max-side", type=positive_int, metavar="PX",
                   help="resize frames so that the longer side is at most PX before "
                        "de-identification and pose (keypoints stay in video pixels)")
    g.add_argument("--crop", type=_crop, metavar="X,Y,W,H",
                   help="process only this region of the frame (pixels), e.g. the interview "
                        "camera of a split screen, or small people in a wide shot")
    g.add_argument("--max-seconds", type=positive_float, metavar="S",
                   help="only the first S seconds of the video")
    g.add_argument("--threads", type=positive_int, default=2,
                   help="onnxruntime threads (default 2)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    d = p.add_argument_group("de-identification")
    d.add_argument("--deid-mode", "--mode", dest="deid_mode", choices=("blur", "mask"),
                   default="blur", help="blur (pixelate) or mask (solid grey) faces")
    d.add_argument("--persist", type=nonneg_float, default=None, metavar="S",
                   help="keep a face box S seconds before and after each detection "
                        f"(default {DEID_DEFAULTS['persist_seconds']:g}; frames are held back "
                        "S seconds for that)")
    d.add_argument("--hold", type=nonneg_float, default=None, metavar="S",
                   help="a face box also covers the S seconds after it was last seen (no "
                        f"buffering; default {DEID_DEFAULTS['hold_seconds']:g})")
    d.add_argument("--face-tiles", type=positive_int, default=None, metavar="N",
                   help="also search faces on an NxN grid of tiles (small faces); 1 = whole "
                        f"frame only (default {DEID_DEFAULTS['tiles']})")
    d.add_argument("--bystanders", type=nonneg_int, default=None, metavar="N",
                   help="on pose frames, look for up to N more people with MediaPipe Pose (the "
                        "people found greyed out) and blur their heads too (default "
                        f"{DEID_DEFAULTS['bystanders']}; +1 pose pass per frame and person)")
    d.add_argument("--face-every", type=positive_int, default=1, metavar="N",
                   help="run face detection on every N-th frame only; persistence covers the "
                        "frames in between (default 1: every frame)")
    d.add_argument("--no-motion-heads", dest="motion_heads", action="store_false",
                   help="no box over the heads of small moving people that no face detector "
                        "finds (MOG2 motion; output video only)")
    d.add_argument("--mosaic-cells", type=int, default=None, metavar="N",
                   help="blur: mosaic cells across a face box, then a Gaussian (default 4)")


def _crop(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H in pixels, got {text!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"X,Y must be >= 0 and W,H >= 1, got {text!r}")
    return x, y, w, h


def _inputs(args: argparse.Namespace, video: Path | None = None) -> list:
    """Every file a video command reads (an output may not be one of them)."""
    return [video if video is not None else getattr(args, "video", None),
            getattr(args, "keypoints", None), getattr(args, "pose_model", None),
            getattr(args, "det_model", None), getattr(args, "model", None)]


def _check_file_backend(args: argparse.Namespace) -> None:
    """--backend file needs --keypoints (the frame count is checked where they are read,
    ``nfbl.pose.pipeline.analyse``, so a long file is read once)."""
    if args.backend == "file" and args.keypoints is None:
        raise NfblError("--backend file needs --keypoints FILE (the keypoints of this video)")


def _pose_config(args: argparse.Namespace, deid_enabled: bool = True):
    from nfbl.pose.pipeline import PoseConfig  # noqa: PLC0415
    from nfbl.pose.deid import DeidConfig  # noqa: PLC0415
    given = {"tiles": args.face_tiles, "persist_seconds": args.persist,
             "hold_seconds": args.hold, "bystanders": args.bystanders,
             "mosaic_cells": args.mosaic_cells, "motion_heads": None if args.motion_heads else False}
    deid = DeidConfig(enabled=deid_enabled, mode=args.deid_mode, detect_every=args.face_every,
                      **{k: v for k, v in given.items() if v is not None})
    from nfbl.pose.backends import BACKENDS  # noqa: PLC0415
    stride = args.stride if args.stride is not None else (
        BACKENDS[args.backend].default_stride or args.stride_default)
    return PoseConfig(backend=args.backend, stride=stride, max_side=args.max_side,
                      all_persons=getattr(args, "all_persons", False), deid=deid,
                      onnx_pose=args.pose_model, onnx_detector=args.det_model,
                      onnx_detector_preset=args.det_preset, onnx_pose_bgr=args.pose_bgr,
                      keypoints=args.keypoints, keypoints_format=args.keypoints_format,
                      max_seconds=args.max_seconds, crop=args.crop,
                      progress=not args.no_progress,
                      threads=args.threads)


def _quiet_native_logs(args: argparse.Namespace) -> None:
    """MediaPipe/TFLite native log lines hidden unless -vv (see silence_native_logs)."""
    if getattr(args, "backend", "mediapipe") == "file" and getattr(args, "no_deid", False):
        return
    from nfbl.pose.backends.mediapipe_backend import silence_native_logs  # noqa: PLC0415
    silence_native_logs()


def _check_suffix(path: Path | None, suffixes: tuple[str, ...], what: str) -> None:
    from nfbl.core.errors import NfblError  # noqa: PLC0415
    if path is not None and path.suffix.lower() not in suffixes:
        raise NfblError(f"{path}: {what} must end in {', '.join(suffixes)}")


def _check_video(video: Path) -> None:
    from nfbl.core.errors import NfblError  # noqa: PLC0415
    if not video.exists():
        raise NfblError(f"{video}: no such video file")


def _pose(args: argparse.Namespace) -> int:
    from nfbl.pose.pipeline import run_pose  # noqa: PLC0415
    _check_video(args.video)
    _check_suffix(args.output, (".npz",), "the keypoint output")
    _check_suffix(args.deid_video, VIDEO_SUFFIXES, "--deid-video")
    check_outputs([args.output, args.deid_video], _inputs(args))
    if args.benchmark:
        from nfbl.cli.videobench import main as bench_main  # noqa: PLC0415
        return bench_main([str(args.video), "--stride",
                           str(args.stride or DEFAULT_STRIDE)])
    _check_file_backend(args)
    _quiet_native_logs(args)
    cfg = _pose_config(args, deid_enabled=not args.no_deid)
    seq = run_pose(args.video, cfg, deid_video=args.deid_video)
    seq.save(args.output)
    present = (seq.keypoints[..., 2] > 0).any(axis=2).mean()
    print(f"{args.output}: {seq.num_persons} person(s), {seq.num_frames} frames, layout "
          f"{seq.layout}, person visible in {present:.0%} of frames")
    if args.deid_video:
        print(f"{args.deid_video}: de-identified video")
    return 0


def _deid(args: argparse.Namespace) -> int:
    from nfbl.pose.pipeline import run_deid  # noqa: PLC0415
    _check_video(args.video)
    _check_suffix(args.output, VIDEO_SUFFIXES, "the de-identified video")
    check_outputs([args.output], _inputs(args))
    _check_file_backend(args)
    _quiet_native_logs(args)
    cfg = _pose_config(args)
    boxed = run_deid(args.video, args.output, cfg)
    print(f"{args.output}: faces covered in {boxed} frames")
    return 0


#: options that name one output file of one video: meaningless for a batch.
_SINGLE_VIDEO_OUTPUTS = ("output", "overlay", "timeline", "deid_video", "keypoints_out")


def _detect(args: argparse.Namespace) -> int:
    if args.out is not None or len(args.inputs) > 1:
        return _detect_batch(args)
    if args.output is None:
        raise NfblError("nfbl detect VIDEO needs -o EVENTS_FILE (or --out DIR for a batch of "
                        "videos on Ray)")
    args.video = Path(args.inputs[0])
    return _detect_one(args)


def _detect_batch(args: argparse.Namespace) -> int:
    """Several inputs or --out DIR: one Ray task per video / keypoint file (nfbl.batch)."""
    given = [f"--{n.replace('_', '-')}" for n in _SINGLE_VIDEO_OUTPUTS if getattr(args, n)]
    if args.out is None:
        raise NfblError(f"{len(args.inputs)} inputs need --out DIR (one events file per "
                        "video there, plus manifest.jsonl)")
    if given:
        raise NfblError(f"{', '.join(given)} name(s) one video's output; with --out DIR each "
                        "video gets <id>.events.jsonl there (per-video timelines: nfbl batch "
                        "--timeline)")
    check_outputs(inputs=_inputs(args, video=Path(args.inputs[0])) + list(args.inputs),
                  out_dirs=[args.out], input_dirs=[p for p in args.inputs if Path(p).is_dir()])
    _quiet_native_logs(args)
    pose = _pose_config(args, deid_enabled=not args.no_deid)
    args.stride = pose.stride  # resolved default (batch settings record it)
    return run_batch_command(args, pose=pose)


def _detect_one(args: argparse.Namespace) -> int:
    from nfbl.io.event_formats import guess_format, write_events  # noqa: PLC0415
    from nfbl.pose.pipeline import DetectConfig, run_detect  # noqa: PLC0415
    _check_video(args.video)
    if args.format is None:
        guess_format(args.output, for_reading=False)  # fail before the long pass
    _check_suffix(args.overlay, VIDEO_SUFFIXES, "--overlay")
    _check_suffix(args.timeline, (".png", ".svg", ".pdf"), "--timeline")
    _check_suffix(args.deid_video, VIDEO_SUFFIXES, "--deid-video")
    check_outputs([args.output, args.overlay, args.timeline, args.deid_video,
                   args.keypoints_out], _inputs(args))
    _check_file_backend(args)
    _quiet_native_logs(args)
    cfg = DetectConfig(pose=_pose_config(args, deid_enabled=not args.no_deid), model=args.model,
                       threads=args.threads, body_only=args.body_only)
    res = run_detect(args.video, cfg, overlay=args.overlay, timeline=args.timeline,
                     deid_video=args.deid_video)
    write_events(res.events, args.output, fmt=args.format, fps=res.sequence.fps)
    if args.keypoints_out:
        res.sequence.save(args.keypoints_out)
    print(f"{args.output}: {len(res.events)} events, {res.sequence.num_persons} person(s), "
          f"{res.sequence.num_frames} frames")
    for what, path in (("overlay", res.overlay), ("timeline", res.timeline)):
        if path:
            print(f"{path}: {what}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``pose``, ``deid`` and ``detect``."""
    p = sub.add_parser("pose", help="video → keypoints (.npz), on de-identified frames",
                       description="Estimate body + hand keypoints of a video on de-identified "
                                   "frames, track persons, keep the interviewee (default) or "
                                   "everybody, and save a PoseSequence .npz.")
    p.add_argument("video", type=Path, help="any video PyAV/FFmpeg reads")
    p.add_argument("-o", "--output", type=Path, required=True, help="keypoints .npz")
    p.add_argument("--deid-video", type=Path, metavar="OUT.mp4",
                   help="also write the de-identified video the pose ran on (H.264)")
    p.add_argument("--all-persons", action="store_true", help="keep every track")
    p.add_argument("--no-deid", action="store_true",
                   help="run pose on the original frames (no face blurring)")
    p.add_argument("--benchmark", action="store_true",
                   help="measure frames/s of each stage on VIDEO instead "
                        "(see python -m nfbl.cli.videobench)")
    _add_pose_options(p)
    p.set_defaults(func=_pose)

    d = sub.add_parser("deid", help="blur or mask every face of a video",
                       description="Write a de-identified copy of a video: MediaPipe face "
                                   "detection + head keypoints as fallback + temporal "
                                   "persistence; H.264 output.")
    d.add_argument("video", type=Path)
    d.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4)")
    _add_pose_options(d, stride_default=2)
    d.set_defaults(func=_deid)

    t = sub.add_parser("detect", help="video → NFBL events (+ overlay video, timeline)",
                       description="The whole pipeline: decode, de-identify, pose, track, "
                                   "detect NFBL events; optional overlay video and timeline.")
    t.add_argument("inputs", nargs="+", metavar="VIDEO",
                   help="a video; or, with --out DIR, several videos, keypoint files, folders "
                        "or quoted globs processed as a batch on Ray (see docs/batch.md)")
    t.add_argument("-o", "--output", type=Path,
                   help="events file of a single video (.jsonl, .csv, .json, .eaf, ...)")
    t.add_argument("--format", help="events format (default: from the suffix)")
    t.add_argument("--model", type=Path, metavar="M.onnx",
                   help="detector ONNX (default: the bundled nfbl model)")
    t.add_argument("--overlay", type=Path, metavar="OUT.mp4",
                   help="video with de-identified frames, skeleton and current events")
    t.add_argument("--timeline", type=Path, metavar="OUT.png", help="timeline picture")
    t.add_argument("--deid-video", type=Path, metavar="OUT.mp4",
                   help="also write the de-identified video")
    t.add_argument("--keypoints-out", type=Path, metavar="SEQ.npz",
                   help="also save the keypoints the detector saw")
    t.add_argument("--all-persons", action="store_true",
                   help="events for every tracked person (default: the interviewee)")
    t.add_argument("--body-only", action="store_true",
                   help="accept pose without hand joints (a COCO-17 ONNX pose model, YOLO or "
                        "other body-only --keypoints); far fewer events are found")
    t.add_argument("--no-deid", action="store_true", help="no face blurring")
    _add_pose_options(t)
    add_batch_arguments(t, inputs=False, shared=False)
    t.set_defaults(func=_detect)
