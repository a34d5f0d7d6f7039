"""`nfbl synth` (synthetic corpus) and `nfbl render` (stick-figure video or contact sheet)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nfbl.cli.argtypes import nonneg_float, nonneg_int, positive_float, positive_int
from nfbl.core.paths import check_outputs

#: nfbl.synth.corpus.LAYOUTS, written out so that building the parser imports no numpy (tested equal)
LAYOUT_CHOICES = ("nfbl56", "openpose_body25_hands", "mediapipe_pose33_hands", "coco_wholebody133",
                  "miga35")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a synthetic NFBL keypoint corpus (keypoints + events)",
                       description="Write <vid>.npz (PoseSequence), <vid>.events.jsonl, <vid>.imigue.csv "
                                   "and corpus.json for every synthetic video. Deterministic by --seed.")
    p.add_argument("out", nargs="?", help="output folder (not needed with --bench or --showcase); "
                                          "the word 'realism' runs the realism report")
    p.add_argument("--videos", type=positive_int, default=200, help="number of videos (default 200)")
    p.add_argument("--minutes", type=positive_float, default=5.0, help="minutes per video (default 5)")
    p.add_argument("--sample-lengths", action="store_true",
                   help="draw each video's length from iMiGUE's video lengths instead of --minutes")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--layout", default="nfbl56", choices=LAYOUT_CHOICES, help="keypoint layout written")
    p.add_argument("--fps", type=positive_float, default=25.0, help="frame rate (default 25)")
    p.add_argument("--flatten-tail", type=float, default=0.0,
                   help="0 = iMiGUE class shares, 1 = uniform over the generated classes")
    p.add_argument("--split", default="train", choices=("train", "heldout"),
                   help="heldout: bodies and cameras from ranges disjoint from train")
    p.add_argument("--classes", default=None,
                   help="comma-separated class ids or codes to generate (default: all skeleton-visible)")
    p.add_argument("--noise", type=nonneg_float, default=1.0, help="pose-estimator noise level (0 = clean)")
    p.add_argument("--prefix", default="synth", help="video id prefix (default synth)")
    p.add_argument("--bench", action="store_true",
                   help="measure generation speed (hours of keypoints per CPU-minute) and exit")
    p.add_argument("--showcase", metavar="PNG", default=None,
                   help="write a contact sheet with one frame per class and exit")
    g = p.add_argument_group("realism report", "nfbl synth realism --real REAL... [--synthetic DIR]: "
                             "compare real pose with a synthetic corpus (speeds, jerk, spectra, posture, "
                             "presence, confidence, domain-classifier AUC; docs/synth.md). Without --synthetic it "
                             "generates --videos videos of --minutes from --seed (defaults here: 6 x 1 min)")
    g.add_argument("--real", nargs="+", metavar="REAL", default=None,
                   help="real keypoint files or folders (any format nfbl reads: .pose, PATS .h5, OpenPose, ...)")
    g.add_argument("--synthetic", metavar="DIR", default=None,
                   help="synthetic corpus folder (default: --videos videos of --minutes generated from --seed)")
    g.add_argument("--json", metavar="PATH", default=None, help="also write the full report as JSON")
    p.set_defaults(func=_synth)

    r = sub.add_parser("render", help="draw a PoseSequence as a stick figure (video or contact sheet)",
                       description="Draw keypoints (.npz PoseSequence) as a stick figure with the active "
                                   "events written on every frame: an .mp4 video or a .png grid of frames.")
    r.add_argument("seq", help="PoseSequence .npz")
    r.add_argument("--events", default=None,
                   help="event file (default: <name>.events.jsonl next to the .npz, if present)")
    r.add_argument("-o", "--output", required=True, help="out.mp4 (video) or out.png (contact sheet)")
    r.add_argument("--person", type=nonneg_int, default=0, help="person index (default 0)")
    r.add_argument("--start", type=nonneg_float, default=None, help="video: start time (s)")
    r.add_argument("--end", type=positive_float, default=None, help="video: end time (s)")
    r.add_argument("--frames", default=None,
                   help="png: comma-separated frame indices (default: the middle of each event, up to 12)")
    r.add_argument("--cols", type=positive_int, default=4, help="png: columns (default 4)")
    r.set_defaults(func=_render)


def _parse_classes(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    from nfbl.core import taxonomy

    return tuple(taxonomy.lookup(int(t) if t.strip().isdigit() else t.strip()).id
                 for t in text.split(",") if t.strip())


def _realism(args: argparse.Namespace, config) -> int:
    import json

    from nfbl.core.atomic import atomic_open
    from nfbl.core.errors import NfblError
    from nfbl.exports.model_input import prepare
    from nfbl.synth import realism

    if not args.real:
        raise NfblError("nfbl synth realism needs real keypoints: --real FILE_OR_FOLDER ...")
    check_outputs([args.json], list(args.real) + [args.synthetic])
    real = realism.read_sequences(args.real)
    if args.synthetic:
        synthetic = realism.read_sequences([args.synthetic])
    else:
        videos = 6 if args.videos == 200 else args.videos  # 200 is the corpus default
        minutes = 1.0 if args.minutes == 5.0 else args.minutes
        if videos < 2:
            raise NfblError(f"--videos must be at least 2 for the realism report, got {videos}")
        synthetic = realism.synthetic_sequences(videos, minutes, args.seed, config)
    rep = realism.realism_report(real, synthetic, prepare, seed=args.seed)
    print(f"real: {len(rep.real)} sequences; synthetic: {len(rep.synthetic)} sequences "
          f"({'generated, seed ' + str(args.seed) if not args.synthetic else args.synthetic})")
    print(rep.table())
    for note in rep.notes:
        print(f"note: {note}")
    if args.json:
        with atomic_open(args.json) as fh:
            json.dump(rep.to_dict(), fh, indent=1, allow_nan=False)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from nfbl.core.errors import NfblError
    from nfbl.synth import NoiseConfig, SynthConfig, write_corpus

    config = SynthConfig(minutes=None if args.sample_lengths else args.minutes, fps=args.fps,
                         layout=args.layout, flatten_tail=args.flatten_tail, split=args.split,
                         classes=_parse_classes(args.classes), noise=NoiseConfig(level=args.noise))
    if args.out == "realism":
        return _realism(args, config)
    if args.real or args.synthetic or args.json:
        raise NfblError("--real, --synthetic and --json belong to 'nfbl synth realism'")
    if args.bench:
        from nfbl.perf.synth import run_bench

        res = run_bench(config, seed=args.seed)
        print(res.summary())
        return 0
    if args.showcase:
        from nfbl.synth.showcase import showcase

        check_outputs([args.showcase])
        out = showcase(args.showcase, classes=config.class_ids, seed=args.seed)
        print(f"wrote {out}")
        return 0
    if not args.out:
        raise NfblError("nfbl synth needs an output folder (e.g. nfbl synth corpus/ --videos 200)")
    if args.videos < 1:
        raise NfblError(f"--videos must be at least 1, got {args.videos}")
    check_outputs(out_dirs=[args.out])
    # SIGINT/SIGTERM raise out of write_corpus (the CLI reports them and exits 130/143);
    # files already written are complete, the one being written is removed
    path = write_corpus(args.out, n_videos=args.videos, seed=args.seed, config=config, prefix=args.prefix,
                        progress=sys.stderr.isatty())
    print(f"wrote {args.videos} videos to {Path(args.out)} (manifest {path.name})")
    return 0


def _render(args: argparse.Namespace) -> int:
    from nfbl.core.errors import NfblError
    from nfbl.core.sequence import PoseSequence

    check_outputs([args.output], [args.seq, args.events])
    seq = PoseSequence.load(args.seq)
    events = None
    ev_path = Path(args.events) if args.events else None
    if ev_path is None:
        seq_path = Path(args.seq)
        guess = seq_path.with_name(seq_path.name[:-len(seq_path.suffix)] + ".events.jsonl")
        ev_path = guess if guess.exists() else None
    if ev_path is not None:
        from nfbl.io.event_formats import read_events

        events = read_events(ev_path, fps=seq.fps, video_id=seq.video_id or None)
        if seq.video_id:
            events = events.for_video(seq.video_id) if seq.video_id in events.video_ids else events
    if not 0 <= args.person < seq.num_persons:
        raise NfblError(f"--person {args.person}: {args.seq} has {seq.num_persons} person(s)")
    out = Path(args.output)
    suffix = out.suffix.lower()
    from nfbl.viz import render

    if suffix == ".png":
        frames = None
        if args.frames:
            try:
                frames = [int(f) for f in args.frames.split(",") if f.strip()]
            except ValueError:
                raise NfblError(f"--frames must be comma-separated frame numbers, got {args.frames!r}") from None
        elif args.start is not None or args.end is not None:
            import numpy as np

            lo = 0 if args.start is None else int(np.searchsorted(seq.timestamps, args.start))
            hi = seq.num_frames if args.end is None else int(np.searchsorted(seq.timestamps, args.end))
            frames = [int(i) for i in np.linspace(lo, max(lo, hi - 1), 12)]
        render.render_grid(seq, events, out, frames=frames, cols=args.cols, person=args.person)
    elif suffix in (".mp4", ".mov", ".mkv"):
        render.render_video(seq, events, out, person=args.person, start=args.start, end=args.end)
    else:
        raise NfblError(f"{out}: choose an output ending in .mp4 (video) or .png (contact sheet)")
    print(f"wrote {out}")
    return 0
