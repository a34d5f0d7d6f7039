"""``python -m nfbl.cli.videobench``: the video pipeline benchmark (stages, end to end, stride
accuracy, de-identification coverage); the measuring code is :mod:`nfbl.perf.video`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from nfbl.perf.video import (__doc__ as PERF_DOC, bench_encode, bench_end_to_end, bench_stages, deid_coverage, make_720p, stride_accuracy)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nfbl.cli.videobench", description=PERF_DOC,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", nargs="?", type=Path, help="video to measure (default: a "
                   "generated 720p clip)")
    p.add_argument("--seconds", type=float, default=None,
                   help="seconds of video (default 8; 20 for --deid-coverage)")
    p.add_argument("--pose-frames", type=int, default=60, help="frames for the pose stage")
    p.add_argument("--strides", "--stride", type=int, nargs="+", default=[1, 3, 5],
                   help="end-to-end strides (default 1 3 5)")
    p.add_argument("--model", type=Path, help="detector ONNX (default: bundled, if present)")
    p.add_argument("--make-720p", type=Path, metavar="OUT.mp4", help="only write the test clip")
    p.add_argument("--stride-accuracy", action="store_true",
                   help="only the synthetic accuracy cost of the stride")
    p.add_argument("--videos", type=int, default=4, help="synthetic videos for --stride-accuracy")
    p.add_argument("--noise", type=float, default=0.0,
                   help="--stride-accuracy: synthetic pose noise level (0 = perfect, 1 = typical)")
    p.add_argument("--overlay-stride", type=int, default=5,
                   help="also time detect --overlay at this stride (0: no)")
    p.add_argument("--skip-end-to-end", action="store_true")
    p.add_argument("--deid-coverage", action="store_true",
                   help="only: faces covered by each de-identification setting on the "
                        "generated clip (--seconds long, default 20 here)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    model = args.model
    if model is None:
        from nfbl.exports.runtime import bundled_model_path  # noqa: PLC0415
        model = bundled_model_path()
    if args.seconds is None:
        args.seconds = 20.0 if args.deid_coverage else 8.0
    if args.make_720p:
        print(make_720p(args.make_720p, args.seconds))
        return 0
    if args.deid_coverage:
        seconds = args.seconds
        with tempfile.TemporaryDirectory() as tmp:
            clip = make_720p(Path(tmp) / "clip.mp4", seconds)
            rows = deid_coverage(clip, int(round(seconds * 25.0)))
        print(json.dumps({"machine": f"{os.cpu_count()} CPUs (load average "
                                     f"{os.getloadavg()[0]:.1f})", "seconds": seconds,
                          "rows": rows}, indent=1))
        return 0
    if args.stride_accuracy:
        print(json.dumps(stride_accuracy(sorted(set([1] + args.strides + [2, 4, 8])),
                                         args.videos, model=model, noise=args.noise),
                         indent=1))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or make_720p(Path(tmp) / "bench720p.mp4", args.seconds)
        report = {"machine": f"{os.cpu_count()} CPUs (load average at start "
                             f"{os.getloadavg()[0]:.1f})",
                  "stages": bench_stages(video, args.seconds, args.pose_frames, model)}
        report["stages"]["encode_h264"] = bench_encode(video, args.seconds)
        if not args.skip_end_to_end:
            report["end_to_end"] = bench_end_to_end(video, args.seconds, args.strides, model,
                                                    args.overlay_stride)
        report["model"] = str(model) if model else None
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    from nfbl.cli import run_tool
    sys.exit(run_tool(main, "nfbl videobench"))
