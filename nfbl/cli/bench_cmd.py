"""`nfbl bench detect` (score events against ground truth), `nfbl bench speed` and the other
benchmarks (`op-profile`, `scoring-speed`, `contact-speed`, ...)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nfbl.cli.argtypes import open_unit_float, positive_float, positive_int, unit_float
from nfbl.core.paths import check_outputs


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``nfbl bench detect`` and ``nfbl bench speed``."""
    bench = sub.add_parser("bench", help="benchmark detection quality and detector speed")
    bsub = bench.add_subparsers(dest="bench_command", metavar="ACTION")

    d = bsub.add_parser("detect", help="score predicted events against ground truth "
                        "(F1@tIoU, mAP@tIoU, frame-level F1)")
    d.add_argument("--gt", required=True, help="ground-truth event file or folder of files")
    d.add_argument("--pred", required=True, help="predicted event file or folder of files")
    d.add_argument("--out", default=None, help="folder for report.json, report.md and charts")
    d.add_argument("--tiou", type=open_unit_float, default=0.3,
                   help="tIoU threshold of the MiGA F1 (default 0.3)")
    d.add_argument("--fps", type=positive_float, default=25.0,
                   help="frame rate for frame-based formats and frame metrics (default 25)")
    d.add_argument("--gt-format", default=None, help="format of --gt (default: from the name)")
    d.add_argument("--pred-format", default=None, help="format of --pred (default: from the name)")
    d.add_argument("--min-score", type=unit_float, default=None,
                   help="drop predictions below this score for F1 and frame metrics")
    d.add_argument("--protocol", default=None, metavar="NAME",
                   help="score only the test videos of a built-in protocol (imigue-xsub: the "
                        "35 test subjects; imigue-emotion: the 100 test videos); --gt must be "
                        "the iMiGUE label table")
    d.add_argument("--subset", default=None,
                   help="ActivityNet ground truth: the subset to score (e.g. validation)")
    d.add_argument("--label-map", default=None, metavar="FILE",
                   help="map non-NFBL labels to NFBL classes (JSON {label: class or null}, or "
                        "CSV label,class); for ActivityNet, ELAN and BORIS files")
    d.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    d.set_defaults(func=_detect)

    a = bsub.add_parser("agreement", help="agreement of two codings (two coders, or a coder "
                        "and a detector): frame-level Cohen's kappa and event F1 per class")
    a.add_argument("first", help="event file or folder (coder A); a BORIS project alone "
                   "compares the observations that code the same video")
    a.add_argument("second", nargs="?", default=None, help="event file or folder (coder B)")
    a.add_argument("--label-map", default=None, metavar="FILE",
                   help="map the coders' labels to NFBL classes (JSON {label: class or null}, "
                        "or CSV label,class)")
    a.add_argument("--fps", type=positive_float, default=25.0,
                   help="frame rate of the frame-level kappa and of frame-based formats "
                        "(default 25)")
    a.add_argument("--tiou", type=open_unit_float, default=0.3,
                   help="tIoU threshold of the event F1 (default 0.3)")
    a.add_argument("--format", dest="fmt", default=None, help="format of both files "
                   "(default: from the names)")
    a.add_argument("--out", default=None, help="write agreement.json into this folder")
    a.set_defaults(func=_agreement)

    s = bsub.add_parser("speed", help="frames/s and peak memory: ONNX model, torch detector "
                        "and a reference ST-GCN on the same synthetic keypoints")
    s.add_argument("--onnx", default=None, help="an ONNX model to time with onnxruntime")
    s.add_argument("--minutes", type=positive_float, nargs="+", default=[1.0, 10.0, 60.0],
                   help="sequence lengths in minutes at 25 fps (default 1 10 60)")
    s.add_argument("--threads", type=positive_int, default=2,
                   help="threads for torch and onnxruntime")
    s.add_argument("--runners", nargs="+", default=None,
                   choices=["onnx", "nfbl-torch", "stgcn-torch"],
                   help="what to time (default: onnx if --onnx is given, nfbl-torch if the "
                        "detector is importable, stgcn-torch if torch is installed)")
    s.add_argument("--window", type=positive_int, default=300,
                   help="window length (frames) for models run window by window (default 300)")
    s.add_argument("--batch", type=positive_int, default=8, help="windows per batch (default 8)")
    s.add_argument("--joints", type=positive_int, default=None,
                   help="joints V of the synthetic input when the model does not fix it")
    s.add_argument("--chunk", type=positive_int, default=8192,
                   help="frames per chunk of the nfbl torch detector (default 8192)")
    s.add_argument("--stgcn-layout", default="nfbl56",
                   help="keypoint layout of the reference ST-GCN (default nfbl56, the "
                        "detector's input; coco17 gives the paper-sized 3.1 M model)")
    s.add_argument("--out", default=None, help="folder for speed.json and speed.md")
    s.add_argument("--timeout", type=positive_float, default=1800.0,
                   help="seconds one measurement may take before it is abandoned")
    s.set_defaults(func=_speed)
    o = bsub.add_parser("op-profile", help="where an ONNX detector spends its time, per "
                        "operator and node (onnxruntime's profiler)")
    o.add_argument("--onnx", default=None,
                   help="the nfbl ONNX model to profile (default: the bundled model)")
    o.add_argument("--frames", type=positive_int, default=None,
                   help="input frames (default: the card's window plus its context on both "
                        "sides, the largest chunk the runtime runs)")
    o.add_argument("--threads", type=positive_int, default=2, help="onnxruntime threads (default 2)")
    o.add_argument("--repeat", type=positive_int, default=5,
                   help="profiled runs after one warm-up (default 5)")
    o.add_argument("--top", type=positive_int, default=15, help="rows per table (default 15)")
    o.set_defaults(func=_op_profile)
    t = bsub.add_parser("scoring-speed", help="time the metrics on a large synthetic event set")
    t.add_argument("--events", type=positive_int, default=100_000,
                   help="ground-truth events, and as many predictions (default 100000)")
    t.add_argument("--videos", type=positive_int, default=500, help="videos they spread over")
    t.add_argument("--no-frames", action="store_true", help="skip the frame-level metrics")
    t.set_defaults(func=_scoring_speed)
    c = bsub.add_parser("contact-speed", help="time the contact check's distances on keypoints")
    c.add_argument("--minutes", type=positive_float, default=60.0,
                   help="length of the seeded keypoint sequence at 25 fps (default 60)")
    c.add_argument("--repeat", type=positive_int, default=3, help="best of this many runs (default 3)")
    c.set_defaults(func=_contact_speed)
    lp = bsub.add_parser("lost-person", help="what losing the interviewee for a while costs "
                         "detection, with and without rejoining tracks")
    _heldout_args(lp, videos=6, minutes=3.0)
    lp.add_argument("--gaps", type=int, default=4,
                    help="times the interviewee is lost for 1.2-3.2 s per video (default 4)")
    lp.set_defaults(func=_lost_person)
    cl = bsub.add_parser("clips", help="clip recognition (one gesture per clip) on synthetic "
                         "event clips cut the way the iMiGUE classification kit cuts them")
    _heldout_args(cl, videos=24, minutes=5.0)
    cl.add_argument("--kit22", action="store_true",
                    help="reduce every clip to the kit's 22 joints (openpose22: fingertips only)")
    cl.set_defaults(func=_clips)
    bench.set_defaults(func=lambda a: (bench.print_help(), 2)[1])


def _heldout_args(p: argparse.ArgumentParser, videos: int, minutes: float) -> None:
    """The options of the benches that run a detector on held-out synthetic videos."""
    p.add_argument("--videos", type=positive_int, default=videos,
                   help=f"held-out videos (default {videos})")
    p.add_argument("--minutes", type=positive_float, default=minutes,
                   help=f"minutes per video (default {minutes:g})")
    p.add_argument("--seed", type=int, default=2_000_000, help="first seed (default 2000000)")
    p.add_argument("--model", default=None, help="ONNX detector (default: the bundled model)")
    p.add_argument("--threads", type=positive_int, default=2, help="onnxruntime threads")


def _detect(args: argparse.Namespace) -> int:
    from nfbl.metrics import evaluate as detection, report
    from nfbl.core.errors import NfblError

    if not 0.0 < args.tiou <= 1.0:
        raise NfblError(f"--tiou must be in (0, 1], got {args.tiou}")
    if args.fps <= 0:
        raise NfblError(f"--fps must be > 0, got {args.fps}")
    label_map = None
    if args.label_map:
        from nfbl.io.event_formats import read_label_map
        label_map = read_label_map(args.label_map)
    check_outputs(inputs=[args.gt, args.pred], out_dirs=[args.out])
    gt = detection.load_events(args.gt, fmt=args.gt_format, fps=args.fps, subset=args.subset,
                               label_map=label_map)
    pred = detection.load_events(args.pred, fmt=args.pred_format, fps=args.fps,
                                 label_map=label_map)
    if args.protocol:
        from nfbl.core.events import EventStream
        from nfbl.io import datasets
        proto = datasets.get_protocol(args.protocol)
        datasets.check_published_counts(gt, proto)
        gt = datasets.split_stream(gt, proto, "test")
        if not len(gt):
            raise NfblError(f"--gt {args.gt}: no event of the {proto.name} test split (are the "
                            "video/subject ids those of the iMiGUE label table?)")
        keep = set(gt.video_ids)
        pred = EventStream(tuple(e for e in pred if e.video_id in keep), dict(pred.meta))
        print(f"protocol {proto.name}: scoring the {len(keep)} test videos")
    result = detection.evaluate(gt, pred, tiou=args.tiou, fps=args.fps, min_score=args.min_score)
    print(detection.summary_table(result))
    if args.out:
        written = report.write_detection_report(
            result, args.out, charts=not args.no_charts,
            sources={"ground truth": str(args.gt), "predictions": str(args.pred)})
        print(f"\nwrote {', '.join(str(p) for p in written.values())}")
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from nfbl.metrics import evaluate as detection, report

    label_map = None
    if args.label_map:
        from nfbl.io.event_formats import read_label_map
        label_map = read_label_map(args.label_map)
    check_outputs(inputs=[p for p in (args.first, args.second) if p], out_dirs=[args.out])
    a = detection.load_events(args.first, fmt=args.fmt, fps=args.fps, label_map=label_map)
    b = (None if args.second is None else
         detection.load_events(args.second, fmt=args.fmt, fps=args.fps, label_map=label_map))
    res = detection.agreement(a, b, tiou=args.tiou, fps=args.fps)
    fmt = lambda x: "  -  " if x is None else f"{x:.3f}"  # noqa: E731
    f1, fr, n = res["event_f1"], res["frame"], res["counts"]
    print(f"{len(res['videos'])} video(s) compared")
    print(f"events: A {n['first']}, B {n['second']}; matched one-to-one at tIoU "
          f"{f1['tiou']:g}: {f1['tp']}; event F1 {fmt(f1['f1'])}")
    print(f"frames ({fr['fps']:g} fps, {fr['num_frames']} frames): Cohen's kappa, mean over "
          f"classes {fmt(fr['macro_kappa'])}")
    print(f"\n{'video (A ~ B)':<44} {'#A':>5} {'#B':>5} {'F1':>6} {'kappa':>6}")
    for v in res["videos"]:
        name = v["first"] if v["first"] == v["second"] else f"{v['first']} ~ {v['second']}"
        print(f"{name[:44]:<44} {v['n_first']:>5} {v['n_second']:>5} {fmt(v['event_f1']):>6} "
              f"{fmt(v['macro_kappa']):>6}")
    print(f"\n{'code':<5} {'name':<32} {'#A':>5} {'#B':>5} {'F1':>6} {'kappa':>6}")
    for r in res["classes"]:
        print(f"{r['code']:<5} {r['name'][:32]:<32} {r['n_first']:>5} {r['n_second']:>5} "
              f"{fmt(r['f1']):>6} {fmt(r['frame_kappa']):>6}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        doc = {"first": str(args.first), "second": None if args.second is None else str(args.second),
               **res}
        print(f"\nwrote {report.write_json(doc, out / 'agreement.json')}")
    return 0


def _speed(args: argparse.Namespace) -> int:
    from nfbl.perf import detector as speedbench
    from nfbl.core.errors import NfblError

    if min(args.threads, args.window, args.batch, args.chunk) < 1:
        raise NfblError("--threads, --window, --batch and --chunk must be >= 1")
    from nfbl.core import skeletons
    skeletons.get_layout(args.stgcn_layout)
    if any(m <= 0 for m in args.minutes):
        raise NfblError(f"--minutes must be > 0, got {args.minutes}")
    check_outputs(inputs=[args.onnx], out_dirs=[args.out])
    runners = speedbench.default_runners(args.onnx) if args.runners is None else args.runners
    if "onnx" in runners and not args.onnx:
        raise NfblError("runner 'onnx' needs --onnx MODEL.onnx")
    if args.onnx and not Path(args.onnx).is_file():
        raise NfblError(f"{args.onnx}: no such ONNX file")
    cfg = speedbench.SpeedConfig(minutes=tuple(args.minutes), threads=args.threads,
                                 window=args.window, batch=args.batch, joints=args.joints,
                                 onnx=args.onnx, timeout_s=args.timeout, chunk=args.chunk,
                                 stgcn_layout=args.stgcn_layout)
    result = speedbench.run(cfg, runners, progress=lambda line: print(line, flush=True))
    print()
    print(speedbench.markdown_table(result))
    if args.out:
        written = speedbench.write_result(result, args.out)
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    failed = [r for r in result["rows"] if "error" in r]
    if failed:
        print(f"nfbl: error: {len(failed)} measurement(s) failed, e.g. {failed[0]['runner']}: "
              f"{failed[0]['error']}", file=sys.stderr)
        return 1
    return 0


def _op_profile(args: argparse.Namespace) -> int:
    from nfbl.exports.runtime import bundled_model_path
    from nfbl.core.errors import NfblError
    from nfbl.perf import opprofile

    path = args.onnx or bundled_model_path()
    if path is None:
        raise NfblError("no bundled detector model is installed; pass --onnx MODEL.onnx")
    # a missing or non-nfbl file is refused in one line by nfbl.exports.runtime.Detector.load
    print(opprofile.markdown(opprofile.profile(path, args.frames, args.threads, args.repeat,
                                                args.top)))
    return 0


def _contact_speed(args: argparse.Namespace) -> int:
    from nfbl.perf import contact as contact_speed

    rows = contact_speed.run(args.minutes, args.repeat)
    print(f"contact check on {rows[0]['frames']} frames ({args.minutes:g} min at 25 fps), best of "
          f"{args.repeat}")
    for r in rows:
        print(f"{r['what']:<32} {r['seconds']:>8.3f} s  {r['fps']:>10,.0f} frames/s")
    return 0


def _lost_person(args: argparse.Namespace) -> int:
    from nfbl.core.errors import NfblError
    from nfbl.perf import tracking as lost_person

    if args.gaps < 0 or args.minutes < 0.25:
        raise NfblError("--gaps must be >= 0 and --minutes at least 0.25 (gaps need room)")
    rows = lost_person.run(args.videos, args.minutes, args.gaps, args.seed, args.model,
                           args.threads)
    print(f"{args.videos} held-out videos x {args.minutes:g} min ({rows[0]['events']} events), "
          f"interviewee lost {args.gaps} times each, a bystander throughout; events scored >= "
          f"{rows[0]['min_score']:g}")
    for r in rows:
        what = "never lost" if r["gaps"] == 0 else f"lost, max_rejoin {r['max_rejoin']:>3}"
        print(f"{what:<20}: tracks per video {r['tracks']}, F1@0.3 "
              f"{r['f1']:.3f} (P {r['precision']:.3f}, R {r['recall']:.3f})")
    return 0


def _clips(args: argparse.Namespace) -> int:
    from nfbl.perf import clips

    r = clips.run(args.videos, args.minutes, args.seed, args.kit22, args.model, args.threads)
    print(f"{r['model']}: {r['clips']} event clips of {args.videos} held-out videos (seeds "
          f"{args.seed}..{args.seed + args.videos - 1}; median {r['median_frames']:g} frames"
          f"{'; the kit' + chr(39) + 's 22 joints' if args.kit22 else ''})")
    print(f"top-1 {r['top1']:.3f}   top-5 {r['top5']:.3f}   mean class accuracy "
          f"{r['mean_class_accuracy']:.3f}")
    return 0


def _scoring_speed(args: argparse.Namespace) -> int:
    from nfbl.perf import scoring as scoring_speed
    from nfbl.core.errors import NfblError

    if args.events < 1 or args.videos < 1:
        raise NfblError("--events and --videos must be >= 1")
    rows = scoring_speed.run(args.events, args.videos, frames=not args.no_frames)
    print(f"{args.events} ground-truth events + {args.events} predictions in {args.videos} videos")
    print(f"{'metric':<26} {'seconds':>8}  value")
    for r in rows:
        print(f"{r['metric']:<26} {r['seconds']:>8.3f}  {r['value']:g}")
    return 0
