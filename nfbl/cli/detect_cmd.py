"""`nfbl export`, `nfbl detect-keypoints`, `nfbl model-info`, and (through
:mod:`nfbl.cli.train_cmd`, registered here) `nfbl train` / `nfbl evaluate`: the detector's
commands. Handlers import the library lazily. Add a command: write ``_register_<name>(sub)``
and a handler, and call it from :func:`register`."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from nfbl.cli.argtypes import frame_size, positive_float, positive_int, unit_float
from nfbl.core.paths import check_outputs


def register(sub: argparse._SubParsersAction) -> None:
    """Add the detector commands to the `nfbl` parser."""
    _register_export(sub)
    _register_detect_keypoints(sub)
    _register_classify(sub)
    _register_model_info(sub)
    _register_training(sub)


# --- nfbl export ---------------------------------------------------------------------------

def _register_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a detector checkpoint to ONNX (with its model card)",
                       description="Export a trained detector checkpoint (.pt) to an ONNX file "
                                   "with dynamic batch and time axes and the model card in its "
                                   "metadata; the file is checked with onnxruntime against torch.")
    p.add_argument("checkpoint", nargs="?", help="checkpoint written by `nfbl train` (.pt)")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--name", help="model name for the card (default: the checkpoint's)")
    p.add_argument("--model-version", help="model version for the card (default: the checkpoint's)")
    p.add_argument("--training-data", help="what the model was trained on (card text)")
    p.add_argument("--metrics", help="JSON file of held-out metrics to put in the card")
    p.add_argument("--window", type=positive_int,
                   help="inference chunk length in frames (default 4096)")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (>= 17; default 17)")
    p.add_argument("--threshold", type=unit_float,
                   help="decode score threshold to write into the card (default: the "
                        "checkpoint's)")
    p.add_argument("--nms-iou", type=unit_float,
                   help="decode per-class NMS IoU to write into the card (default: the "
                        "checkpoint's)")
    p.add_argument("--reduced-hands-bias", type=float, metavar="B",
                   help="decode logit offset for tracks whose hands are reduced (fingertips "
                        "only or no hand joints) to write into the card (default: the "
                        "checkpoint's, else 0)")
    p.add_argument("--flip-average", action="store_true",
                   help="test-time flip: the graph averages the outputs on the keypoints and on "
                        "their mirror image (twice the compute; recorded in the card)")
    p.add_argument("--untrained", action="store_true",
                   help="export a randomly initialised default model (speed tests only; its "
                        "card says so) instead of a checkpoint")
    p.add_argument("--seed", type=int, default=0, help="seed of --untrained weights")
    p.add_argument("--checkpoint-out", metavar="PT",
                   help="also write the exported weights as a training checkpoint (.pt: config, "
                        "weights and the same card, no optimiser state), the file that "
                        "fine-tuning starts from ([run] init_checkpoint)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from nfbl.core.errors import NfblError
    try:
        import torch  # noqa: F401
    except ImportError:
        from nfbl.core.errors import MissingDependencyError
        raise MissingDependencyError("torch", "train", "nfbl export") from None
    from nfbl.detectors import checkpoint as C
    from nfbl.detectors import export as X

    over: dict = {}
    if args.name:
        over["name"] = args.name
    if args.model_version:
        over["version"] = args.model_version
    if args.training_data:
        over["training_data"] = args.training_data
    if args.window:
        over["window"] = args.window
    if args.metrics:
        try:
            over["metrics"] = json.loads(Path(args.metrics).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise NfblError(f"{args.metrics}: cannot read the metrics JSON ({exc})") from None
        if not isinstance(over["metrics"], dict):
            raise NfblError(f"{args.metrics}: metrics must be a JSON object")
    if args.untrained == bool(args.checkpoint):
        raise NfblError("give either a checkpoint or --untrained")
    check_outputs([args.output] + ([args.checkpoint_out] if args.checkpoint_out else []),
                  [args.checkpoint, args.metrics])
    if args.checkpoint_out and Path(args.checkpoint_out).resolve() == Path(args.output).resolve():
        raise NfblError("--checkpoint-out and --output name the same file")
    if args.untrained:
        import torch
        from nfbl.detectors.model import DetectorConfig, NFBLDetector
        torch.manual_seed(args.seed)
        model = NFBLDetector(DetectorConfig()).eval()
        if over.get("metrics"):
            raise NfblError("an --untrained model has no held-out metrics")
        over.setdefault("name", "nfbl-untrained")
        over.setdefault("version", "0.0.0")
        over["notes"] = (f"UNTRAINED: random weights (seed {args.seed}); for speed tests only, "
                         "its events mean nothing")
        card = C.make_card(model.cfg, **over)
    else:
        ck = C.load_checkpoint(args.checkpoint)
        model = ck.model
        card = C.card_from_checkpoint(ck, **over)
    import dataclasses
    decode_over = {k: v for k, v in (("threshold", args.threshold),
                                     ("nms_iou", args.nms_iou),
                                     ("reduced_hands_bias", args.reduced_hands_bias))
                   if v is not None}
    if decode_over:
        from nfbl.exports.decoding import DecodeConfig
        dc = DecodeConfig.from_dict({**dict(card.decode), **decode_over})   # checks ranges
        card = dataclasses.replace(card, decode=dc.to_dict())
    from nfbl.detectors.model import FlipAveraged
    if args.flip_average:
        model = FlipAveraged(model).eval()
        card = dataclasses.replace(card, test_time_flip=True)
    t0 = time.perf_counter()
    path = X.export(model, card, args.output, opset=args.opset)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {card.name} {card.version}, "
          f"{card.num_classes} classes, checked against torch, {time.perf_counter() - t0:.1f} s)")
    if args.checkpoint_out:
        net = model.model if isinstance(model, FlipAveraged) else model
        ck_path = C.save_checkpoint(args.checkpoint_out, net, card)
        print(f"wrote {ck_path} ({ck_path.stat().st_size / 1e6:.2f} MB, weights and card, "
              "for [run] init_checkpoint)")
    return 0


# --- nfbl detect-keypoints -------------------------------------------------------------------

def _register_detect_keypoints(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect-keypoints", help="run the ONNX detector on a keypoint file",
                       description="Detect NFBL events in a keypoint file (an nfbl .npz or any "
                                   "format `nfbl keypoints` reads) with the ONNX runtime.")
    p.add_argument("keypoints", help="keypoint file (.npz PoseSequence, OpenPose folder, ...)")
    p.add_argument("-o", "--output", required=True,
                   help="events file (.jsonl, .csv, .json ActivityNet, .eaf ...)")
    p.add_argument("--model", help="ONNX detector (default: the bundled model)")
    p.add_argument("--threshold", type=unit_float, help="score threshold (default: the card's)")
    p.add_argument("--no-contact-check", action="store_true",
                   help="keep events of contact classes even where the keypoints show no such "
                        "touch (decode contact_check off; see docs/detector.md)")
    p.add_argument("--all-persons", action="store_true",
                   help="detect for every person (default: the interviewee only)")
    p.add_argument("--events-format", help="events format (default: from the output suffix)")
    _add_reading_args(p)
    p.set_defaults(func=_cmd_detect_keypoints)


def _add_reading_args(p: argparse.ArgumentParser) -> None:
    """The options of the commands that read keypoint files and run the ONNX detector."""
    p.add_argument("--format", dest="kp_format", help="keypoint format (default: guessed)")
    p.add_argument("--fps", type=positive_float,
                   help="frame rate of the keypoints (formats without one)")
    p.add_argument("--frame-size", type=frame_size, default=None, metavar="WxH",
                   help="frame size in pixels, for formats without one (YOLO labels need it)")
    p.add_argument("--threads", type=positive_int, default=2,
                   help="onnxruntime threads (default 2)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow reading pickle files (pyskl; the labels of ST-GCN arrays): they "
                        "can run code, so only your own")
    p.add_argument("--body-only", action="store_true",
                   help="accept keypoints without hand joints (COCO-17, Halpe-26, a body-only "
                        "pose run); the bundled model finds far fewer events in them "
                        "(docs/detector.md, 'Sources with fewer hand joints')")


def _load_detector(args: argparse.Namespace):
    """The ONNX detector of ``--model`` (default: bundled), relaxed by ``--body-only``."""
    from nfbl.exports.runtime import Detector

    return Detector.load(args.model, threads=args.threads,
                         body_only=getattr(args, "body_only", False))


def _read_sequences(path: str, fmt: str | None, fps: float | None, trust_pickle: bool,
                    size: tuple[int, int] | None = None) -> list:
    from nfbl.io import keypoints as K

    got = K.read_keypoints(path, fmt, trust_pickle=trust_pickle, fps=fps, frame_size=size)
    return list(got) if isinstance(got, (list, tuple)) else [got]


def _cmd_detect_keypoints(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nfbl.core.events import EventStream
    from nfbl.io.event_formats import write_events

    from nfbl.core.errors import NfblError

    check_outputs([args.output], [args.keypoints, args.model])
    det = _load_detector(args)
    decode = det.decode_config()
    if args.threshold is not None:
        decode = replace(decode, threshold=args.threshold)
    if args.no_contact_check:
        decode = replace(decode, contact_check=False)
    seqs = _read_sequences(args.keypoints, args.kp_format, args.fps, args.trust_pickle,
                           args.frame_size)
    for seq in seqs:  # fail on a bad layout before the (long) inference
        det.card.check_layout(seq.layout)
        if seq.num_frames == 0:
            raise NfblError(f"{args.keypoints}: {seq.video_id or 'the sequence'} has no frames; "
                            "nothing to detect (check the keypoint file)")
    t0 = time.perf_counter()
    streams = [det.detect(s, persons="all" if args.all_persons else "interviewee",
                          decode=decode) for s in seqs]
    stream = EventStream.concat(streams)
    meta = {**stream.meta, "source": str(args.keypoints)}
    if "contact_check_dropped" in meta:  # concat keeps the first stream's meta: join them all
        meta["contact_check_dropped"] = [r for s in streams for r in s.meta["contact_check_dropped"]]
    stream = EventStream(stream.events, meta)
    out = write_events(stream, args.output, args.events_format, fps=det.card.fps)
    frames = sum(s.num_frames for s in seqs)
    print(f"{len(stream)} events from {frames} frames ({len(seqs)} sequence(s)) in "
          f"{time.perf_counter() - t0:.1f} s -> {out}")
    return 0


# --- nfbl classify ---------------------------------------------------------------------------

def _register_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="name the gesture of short clips (one gesture each)",
                       description="Clip-level recognition with the ONNX detector: for each "
                                   "clip (a trimmed sample that holds one gesture, e.g. the "
                                   "iMiGUE classification track's arrays), every class's "
                                   "highest per-frame probability, best first. Where the "
                                   "clips carry their true class (ST-GCN arrays with "
                                   "--trust-pickle), prints top-1/top-5 accuracy and mean "
                                   "class accuracy.")
    p.add_argument("keypoints", nargs="+",
                   help="keypoint files (each may hold many clips) or video clips (pose is "
                        "estimated first, on de-identified frames, as `nfbl pose` does; needs "
                        "nfbl[pose])")
    p.add_argument("-o", "--output", help="write the rankings here (.csv or .json)")
    p.add_argument("--model", help="ONNX detector (default: the bundled model)")
    p.add_argument("--top", type=positive_int, default=5, help="classes listed per clip (default 5)")
    _add_reading_args(p)
    p.set_defaults(func=_cmd_classify)


def _cmd_classify(args: argparse.Namespace) -> int:
    import numpy as np

    from nfbl.core.atomic import atomic_open
    from nfbl.core.errors import NfblError
    from nfbl.metrics.clips import clip_accuracy, ranking

    out_kind = None
    if args.output:
        out_kind = Path(args.output).suffix.lower()
        if out_kind not in (".csv", ".json"):
            raise NfblError(f"{args.output}: write .csv or .json")
    check_outputs([args.output] if args.output else [], [*args.keypoints, args.model])
    det = _load_detector(args)
    from nfbl.batch.discover import VIDEO_SUFFIXES

    clips = []
    for path in args.keypoints:
        if Path(path).suffix.lower() in VIDEO_SUFFIXES and args.kp_format is None:
            from nfbl.pose.pipeline import PoseConfig, run_pose
            seqs = [run_pose(path, PoseConfig())]
        else:
            seqs = _read_sequences(path, args.kp_format, args.fps, args.trust_pickle,
                                   args.frame_size)
        for seq in seqs:
            det.card.check_layout(seq.layout)
            if seq.num_frames == 0:
                raise NfblError(f"{path}: {seq.video_id or 'a clip'} has no frames")
            clips.append(seq)
    t0 = time.perf_counter()
    scores = np.stack([det.clip_scores(seq)[0] for seq in clips]) if clips else np.zeros(
        (0, len(det.card.class_ids)), np.float32)
    ids = list(det.card.class_ids)
    order = ranking(scores)
    k = min(args.top, len(ids))
    rows = []
    for seq, sc, o in zip(clips, scores, order):
        truth = seq.meta.get("class_id")
        rows.append({"clip": seq.video_id, "frames": seq.num_frames,
                     "true": None if truth is None else f"N{int(truth)}",
                     "ranking": [[f"N{ids[j]}", round(float(sc[j]), 4)] for j in o[:k]]})
    for r in rows[:20]:
        best = ", ".join(f"{c} {v:.2f}" for c, v in r["ranking"][:3])
        true = f" (true {r['true']})" if r["true"] else ""
        print(f"{r['clip']}: {best}{true}")
    if len(rows) > 20:
        print(f"... {len(rows) - 20} more clips")
    labelled = [i for i, seq in enumerate(clips) if seq.meta.get("class_id") is not None]
    summary: dict = {"model": det.model_tag, "clips": len(clips),
                     "seconds": round(time.perf_counter() - t0, 2)}
    if labelled:
        acc = clip_accuracy([int(clips[i].meta["class_id"]) for i in labelled],
                            scores[labelled], ids)
        summary.update({key: acc[key] for key in ("top1", "top5", "mean_class_accuracy",
                                                  "unscorable")})
        summary["labelled_clips"] = len(labelled)
        print(f"{len(labelled)} labelled clips: top-1 {acc['top1']:.3f}, top-5 {acc['top5']:.3f}, "
              f"mean class accuracy {acc['mean_class_accuracy']:.3f}"
              + (f" ({acc['unscorable']} of a class the model has not)" if acc["unscorable"]
                 else ""))
    if args.output:
        with atomic_open(args.output) as fh:
            if out_kind == ".json":
                json.dump({"summary": summary, "clips": rows}, fh, indent=1)
                fh.write("\n")
            else:
                import csv
                w = csv.writer(fh)
                w.writerow(["clip", "frames", "true"] + [f"{h}{i + 1}" for i in range(k)
                                                         for h in ("class", "score")])
                for r in rows:
                    w.writerow([r["clip"], r["frames"], r["true"] or ""]
                               + [v for pair in r["ranking"] for v in pair])
        print(f"{len(rows)} clips -> {args.output}")
    return 0


# --- nfbl model-info --------------------------------------------------------------------------

def _register_model_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model-info", help="print the model card of an ONNX detector",
                       description="Print the model card of an nfbl ONNX detector (the bundled "
                                   "model when no file is given).")
    p.add_argument("model", nargs="?", help="ONNX detector (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.add_argument("--benchmark", type=positive_int, metavar="FRAMES",
                   help="also time Detector.predict on FRAMES random frames of one person")
    p.add_argument("--threads", type=positive_int, default=2,
                   help="onnxruntime threads (default 2)")
    p.set_defaults(func=_cmd_model_info)


def _cmd_model_info(args: argparse.Namespace) -> int:
    from nfbl.exports.runtime import Detector

    det = Detector.load(args.model, threads=args.threads)
    if args.json:
        print(det.card.to_json(indent=2))
    else:
        print(f"file:            {det.path}")
        print(det.card.summary())
    if args.benchmark:
        from nfbl.perf.runtime import predict_speed
        res = predict_speed(det, args.benchmark)
        print(f"speed:           {res['frames_per_s']:,.0f} frames/s wall clock (one person, "
              f"{res['frames']} frames, {args.threads} intra-op threads, best of "
              f"{res['repeats']}: {res['seconds']:.2f} s; {res['frames_per_cpu_s']:,.0f} "
              f"frames per CPU-second)")
    return 0


# --- training (nfbl train, nfbl evaluate) ----------------------------------------------------
# The commands live in nfbl/cli/train_cmd.py.

def _register_training(sub: argparse._SubParsersAction) -> None:
    """`nfbl train` and `nfbl evaluate` (see :mod:`nfbl.cli.train_cmd`)."""
    from nfbl.cli import train_cmd
    train_cmd.register(sub)
