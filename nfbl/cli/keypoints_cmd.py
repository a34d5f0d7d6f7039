"""``nfbl keypoints``: convert keypoint files to nfbl's ``.npz``, describe them, benchmark."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from nfbl.cli.argtypes import frame_size, nonneg_int, positive_float, positive_int
from nfbl.io.keypoints import format_names

FORMATS = format_names()  # the one table of keypoint formats (nfbl.io.keypoints)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``nfbl keypoints convert|info|bench-openpose``."""
    p = sub.add_parser("keypoints", help="read, convert and describe keypoint files",
                       description="Read keypoints from OpenPose (BODY_25 or COCO), MiGA, SMG, "
                                   "NTU RGB+D, mmpose, AlphaPose, YOLO pose, pyskl, ST-GCN (iMiGUE "
                                   "classification track and Kinetics-skeleton JSON), "
                                   "pose-format or PATS files into nfbl's PoseSequence .npz.")
    ksub = p.add_subparsers(dest="keypoints_command", metavar="SUBCOMMAND")

    c = ksub.add_parser("convert", help="convert a keypoint file/folder to nfbl .npz",
                        description="Convert keypoints to nfbl's .npz. Annotation companions "
                                    "(MiGA <vid>_label.csv, SMG <ID>_finelabels.csv) are written "
                                    "next to OUT as <OUT stem>.events.jsonl.")
    c.add_argument("input", help="file or folder (OpenPose: the folder of *_keypoints.json)")
    c.add_argument("output", help="OUT.npz (a file of several clips, pyskl or ST-GCN arrays: "
                                  "a folder)")
    c.add_argument("--format", choices=FORMATS, default=None,
                   help="input format (default: guessed from the name)")
    c.add_argument("--trust-pickle", action="store_true",
                   help="allow reading a pyskl/mmaction2 pickle or the labels of ST-GCN arrays "
                        "(pickles can run code)")
    c.add_argument("--fps", type=positive_float, default=None,
                   help="frame rate of the input (defaults: 25; SMG, pyskl and "
                        "Kinetics-skeleton 30)")
    c.add_argument("--video-id", default=None, help="video id (OpenPose folder with several)")
    c.add_argument("--frame-size", type=frame_size, default=None, metavar="WxH",
                   help="frame size in pixels, when the input does not say (YOLO labels need it)")
    c.add_argument("--person", default="all",
                   help="'all' tracks (default), 'interviewee' (largest, most central, "
                        "longest track) or a track index")
    c.add_argument("--interpolate", type=nonneg_int, default=0, metavar="MAX_GAP",
                   help="fill gaps of missing joints up to MAX_GAP frames (0 = off)")
    c.add_argument("--smooth", choices=("savgol", "one_euro"), default=None,
                   help="smooth joint trajectories")
    c.add_argument("--resample", type=positive_float, default=None, metavar="FPS",
                   help="resample to a constant frame rate")
    c.add_argument("--canonical", action="store_true",
                   help="convert to the canonical nfbl56 layout")
    c.set_defaults(func=_convert)

    i = ksub.add_parser("info", help="frames, fps, persons and missing joints of a file")
    i.add_argument("file", help="nfbl .npz or any readable keypoint file/folder")
    i.add_argument("--format", choices=FORMATS, default=None)
    i.add_argument("--trust-pickle", action="store_true")
    i.add_argument("--fps", type=positive_float, default=None)
    i.add_argument("--video-id", default=None, help="video to read (a folder with several)")
    i.add_argument("--frame-size", type=frame_size, default=None, metavar="WxH",
                   help="frame size in pixels, when the input does not say (YOLO labels need it)")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    i.set_defaults(func=_info)

    b = ksub.add_parser("bench-openpose",
                        help="time reading a synthetic OpenPose folder",
                        description="Write a synthetic OpenPose JSON folder (BODY_25 + hands, "
                                    "face filled like OpenPose, a second person in 10% of the "
                                    "frames) to a temporary folder and time read_keypoints on it.")
    b.add_argument("--frames", type=positive_int, default=22500)
    b.add_argument("--repeat", type=positive_int, default=1,
                   help="timed reads (the best is reported)")
    b.add_argument("--io-threads", type=positive_int, default=1,
                   help="threads reading files (parsing stays serial); default 1")
    b.add_argument("--dir", default=None, help="where to create the temporary folder")
    b.set_defaults(func=_bench_openpose)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _read(args, path):
    from nfbl.io.keypoints import read_keypoints

    return read_keypoints(path, args.format, trust_pickle=args.trust_pickle, fps=args.fps,
                          video_id=getattr(args, "video_id", None),
                          frame_size=getattr(args, "frame_size", None))


def _process(seq, args):
    from nfbl.keypoints import cleaning, tracking
    from nfbl.core import skeletons

    seq = tracking.Persons.parse(args.person).apply(seq)
    if args.interpolate:
        seq = seq.with_keypoints(cleaning.interpolate_gaps(seq.keypoints, args.interpolate))
    if args.smooth:
        seq = seq.with_keypoints(cleaning.smooth(seq.keypoints, args.smooth,
                                                 timestamps=seq.timestamps, fps=seq.fps))
    if args.resample:
        seq = cleaning.resample(seq, args.resample)
    if args.canonical:
        seq = seq.to_layout(skeletons.CANONICAL)
    return seq


def _convert(args) -> int:
    from nfbl.io.event_formats import write_events
    from nfbl.io.inputs import safe_name
    from nfbl.io.keypoints import parse_format, guess_format, read_companion_events

    src = Path(args.input)
    out = Path(args.output)
    fmt = parse_format(args.format) or guess_format(src)
    from nfbl.core.paths import check_outputs
    check_outputs([out] if out.name.endswith(".npz") else [out.with_name(out.name + ".npz")],
                  [src])
    result = _read(args, src)
    seqs = result if isinstance(result, list) else [result]
    if len(seqs) > 1 or (isinstance(result, list) and not out.name.endswith(".npz")):
        # clip names come from inside the input: never let one leave the output folder
        targets = [out / f"{safe_name(s.video_id, f'clip{k}')}.npz" for k, s in enumerate(seqs)]
    else:
        targets = [out if out.name.endswith(".npz") else out.with_name(out.name + ".npz")]
    check_outputs(targets, [src])
    for seq, target in zip(seqs, targets):
        events = None if isinstance(result, list) else read_companion_events(src, seq, fmt)
        seq = _process(seq, args)
        seq.save(target)
        line = (f"{target}: {seq.num_frames} frames, {seq.num_persons} person(s), "
                f"layout {seq.layout}, {seq.fps:g} fps")
        if events is not None:
            ev_path = target.with_name(target.name[:-4] + ".events.jsonl")
            write_events(events, ev_path, fmt="jsonl")
            line += f"; {len(events)} events -> {ev_path}"
        print(line)
    return 0


def _summary(seq) -> dict:
    from nfbl.keypoints import cleaning

    persons = []
    for m in range(seq.num_persons):
        kp = seq.keypoints[m]
        seen = (kp[..., 2] > 0).any(axis=1)
        shares = cleaning.missing_share_by_part(kp, seq.layout)
        persons.append({"track_id": int(seq.track_ids[m]),
                        "frames_present": int(seen.sum()),
                        "missing_by_part": {k: round(v, 4) for k, v in shares.items()}})
    return {"video_id": seq.video_id, "layout": seq.layout, "frames": seq.num_frames,
            "fps": seq.fps, "duration_s": round(seq.duration, 3),
            "frame_size": list(seq.frame_size), "persons": seq.num_persons,
            "missing_by_part": {k: round(v, 4) for k, v in
                                cleaning.missing_share_by_part(seq.keypoints, seq.layout).items()},
            "tracks": persons}


def _info(args) -> int:
    result = _read(args, Path(args.file))
    seqs = result if isinstance(result, list) else [result]
    summaries = [_summary(s) for s in seqs]
    if args.json:
        print(json.dumps(summaries if isinstance(result, list) else summaries[0], indent=1))
        return 0
    for s in summaries:
        w, h = s["frame_size"]
        print(f"{s['video_id']}: {s['frames']} frames, {s['fps']:g} fps, "
              f"{s['duration_s']:.2f} s, {s['persons']} person(s), layout {s['layout']}, "
              f"frame size {f'{w}x{h}' if w else 'unknown'}")
        print("  missing joints (all tracks, all frames): " + ", ".join(
            f"{k} {100 * v:.1f}%" for k, v in s["missing_by_part"].items()))
        for t in s["tracks"]:
            print(f"  track {t['track_id']}: present in {t['frames_present']} frames; missing " +
                  ", ".join(f"{k} {100 * v:.1f}%" for k, v in t["missing_by_part"].items()))
    return 0


def _bench_openpose(args) -> int:
    from nfbl.perf.keypoints import openpose_read_speed

    r = openpose_read_speed(args.frames, repeat=args.repeat, io_threads=args.io_threads,
                            workdir=args.dir)
    print(f"frames: {r['frames']}  folder: {r['folder_mb']:.1f} MB  (written in "
          f"{r['write_s']:.1f} s)")
    print(f"read_openpose wall s: {', '.join(f'{t:.2f}' for t in r['walls'])}; CPU s: "
          f"{', '.join(f'{t:.2f}' for t in r['cpus'])}")
    print(f"read_openpose: best {r['best_s']:.2f} s of {len(r['walls'])} "
          f"({r['frames'] / r['best_s']:.0f} frames/s), io_threads={args.io_threads}, "
          f"cpus={r['cpu_count']}")
    print(f"result: {r['tracks']} tracks x {r['seq_frames']} frames x {r['joints']} joints")
    return 0
