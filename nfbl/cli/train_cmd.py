"""`nfbl train` and `nfbl evaluate`: train a detector from a TOML config, score a model on
held-out synthetic videos. Registered from :mod:`nfbl.cli.detect_cmd`; handlers import the
library lazily (torch only where a checkpoint is trained or read)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from nfbl.cli.argtypes import positive_float, positive_int, unit_float
from nfbl.core.paths import check_outputs

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `train` and `evaluate` to the `nfbl` parser."""
    p = sub.add_parser("train", help="train a detector from a TOML config",
                       description="Train an NFBL detector as a TOML config says (see "
                                   "docs/training.md and configs/*.toml). Checkpoints go to "
                                   "[run] out_dir: last.pt every epoch, best.pt on the best "
                                   "validation score. Under torchrun (WORLD_SIZE > 1) every "
                                   "process trains its shard with DDP.")
    p.add_argument("--config", required=True, help="TOML training config")
    p.add_argument("--resume", help="checkpoint (last.pt) to continue from")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="device (default: the config's [run] device, 'auto' = CUDA if present)")
    p.add_argument("--out", help="output folder (overrides [run] out_dir)")
    p.add_argument("--max-epochs", type=positive_int, metavar="N",
                   help="stop after N epochs of this invocation (the learning-rate schedule "
                        "still spans [optim] epochs; continue later with --resume)")
    p.add_argument("--eval-only", metavar="CKPT",
                   help="do not train: score this checkpoint on the config's validation data")
    p.add_argument("--protocol", default=None, metavar="NAME",
                   help="a built-in split of a real dataset (imigue-xsub, imigue-emotion): "
                        "sets [data] dataset to it (needs [data] source = 'dataset')")
    p.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="score a detector on held-out synthetic videos, or "
                                        "measure its behaviour on unlabelled real keypoints",
                       description="--synthetic: run a detector (ONNX file, default the "
                                   "bundled model, or a training checkpoint .pt) on synthetic "
                                   "videos generated from seeds and score its events against "
                                   "their ground truth: F1@0.3 (MiGA, events scored >= "
                                   "--min-score) and mAP@0.5 / mAP@0.5:0.95 (ActivityNet, all "
                                   "events). --real FILE...: run an ONNX detector on unlabelled "
                                   "real keypoint files (any format nfbl reads) and report "
                                   "events per minute, class mix and the share of time covered "
                                   "by events, next to the real iMiGUE reference.")
    e.add_argument("model", nargs="?", help="ONNX model or .pt checkpoint (default: bundled)")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", action="store_true",
                     help="evaluate on synthetic videos generated from seeds")
    src.add_argument("--real", nargs="+", metavar="FILE",
                     help="unlabelled real keypoint files (.json folder, .csv, .pose, PATS .h5, "
                          "...): report event rate, class mix and time covered")
    e.add_argument("--kp-format", help="keypoint format of the --real files (default: guessed)")
    e.add_argument("--class-bias", metavar="JSON",
                   help="per-class logit offsets for decoding (decode class_bias): a JSON list "
                        "(one value per model class) or an object code -> offset (others 0); "
                        "replaces the card's")
    e.add_argument("--reduced-hands-bias", type=float, default=None, metavar="B",
                   help="logit offset for every class of a track whose hands are reduced "
                        "(fingertips only or no hand joints); replaces the card's "
                        "decode reduced_hands_bias")
    e.add_argument("--no-contact-check", action="store_true",
                   help="keep events of contact classes even where the keypoints show no such "
                        "touch (decode contact_check off)")
    e.add_argument("--split", choices=("train", "heldout"), default="heldout",
                   help="generator parameter ranges (default heldout: unseen body/camera)")
    e.add_argument("--videos", type=positive_int, default=24, help="number of videos (default 24)")
    e.add_argument("--seed", type=int, default=2_000_000,
                   help="first seed; video i uses seed + i (default 2000000)")
    e.add_argument("--minutes", type=positive_float, default=5.0, help="minutes per video (default 5)")
    e.add_argument("--flatten-tail", type=unit_float, default=0.5,
                   help="class-share flattening of the generator (default 0.5)")
    e.add_argument("--layouts", nargs="+",
                   default=["nfbl56", "openpose_body25_hands", "mediapipe_pose33_hands",
                            "coco_wholebody133"],
                   help="keypoint layouts; video with seed s uses layouts[s %% n]")
    e.add_argument("--candidate-threshold", type=unit_float, default=0.2,
                   help="frames with probability >= this propose events (default 0.2; the "
                        "other decoding settings come from the model card)")
    e.add_argument("--min-score", type=unit_float, default=None,
                   help="F1 counts events scored >= this (default: the card's decode "
                        "threshold, else 0.5)")
    e.add_argument("--also-min-scores", type=unit_float, nargs="+", default=(), metavar="S",
                   help="--synthetic: F1@0.3 at these score thresholds too, from the same "
                        "decoded events (a threshold sweep in one run; events exist only "
                        "from --candidate-threshold up)")
    e.add_argument("--deid-hands", nargs="?", type=positive_float, const=0.44, default=None,
                   metavar="HALF",
                   help="remove every hand inside the face's blur box first, as pose on "
                        "de-identified frames loses it (nfbl.keypoints.occlusion); HALF = the "
                        "box's half-side in shoulder widths (default 0.44: a de-identified "
                        "video's box)")
    e.add_argument("--no-hands", action="store_true",
                   help="remove every hand-model joint first, as a body-only pose run gives "
                        "them (OpenPose without --hand, its default; nfbl.keypoints.occlusion)")
    e.add_argument("--fingertips", action="store_true",
                   help="keep only the five fingertips of each hand first, as the MiGA "
                        "challenge's iMiGUE skeletons give them (conversion to miga35; "
                        "synthetic and --real)")
    e.add_argument("--turned", type=int, choices=(0, 90, 180, 270), default=0, metavar="DEG",
                   help="--synthetic: turn every video's frames DEG degrees clockwise first "
                        "(0, 90, 180, 270), as keypoints of a video stored turned are; the "
                        "detector turns such a person upright (docs/detector.md)")
    e.add_argument("--mirrored", action="store_true",
                   help="--synthetic: reflect every video's frames left-right first, joint "
                        "names kept, as a mirrored video or the Kinect SDK's images give them "
                        "(the detector reflects such a person back, docs/detector.md step 9; "
                        "the Kinect readers do it for Kinect)")
    e.add_argument("--camera-cuts", action="store_true",
                   help="--synthetic: film every video as a camera operator would, in shots of "
                        "6-30 s, each zoomed about the person by its own factor (0.6-1.7, at "
                        "least 1.3x apart) and cropped to the frame (nfbl.keypoints.shots)")
    e.add_argument("--threads", type=positive_int, default=2, help="onnxruntime/torch threads")
    e.add_argument("--json", dest="json_out", help="write the full metrics JSON here")
    e.set_defaults(func=_cmd_evaluate)

    b = sub.add_parser("class-bias", help="derive per-class logit offsets (label-shift "
                                          "correction) for a model trained on synthetic data",
                       description="Logit adjustment without retraining: offset_c = tau * "
                                   "(log-odds of class c's frame prior in real iMiGUE "
                                   "interviews - log-odds of its frame prior as the training "
                                   "config's class-balanced sampler saw it). Both priors are "
                                   "measured on seeded synthetic timelines (no motion), real "
                                   "with iMiGUE's class shares, training with the config's "
                                   "flatten_tail, windows and [sampling]. Writes JSON for "
                                   "`nfbl evaluate --class-bias` (see docs/detector.md).")
    b.add_argument("model", nargs="?", help="ONNX model (default: bundled): its classes")
    b.add_argument("--config", required=True, help="the model's training config (TOML)")
    b.add_argument("--tau", type=float, default=1.0, help="scale of the offsets (default 1)")
    b.add_argument("--videos", type=int, default=500,
                   help="synthetic timelines per prior (default 500)")
    b.add_argument("--seed", type=int, default=0, help="timeline seed (default 0)")
    b.add_argument("-o", "--output", required=True, help="JSON file to write")
    b.set_defaults(func=_cmd_class_bias)


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        from nfbl.core.errors import MissingDependencyError
        raise MissingDependencyError("torch", "train", "nfbl train") from None
    from nfbl.detectors.config import load_config
    from nfbl.detectors import train as T

    check_outputs(inputs=[args.config, args.resume, args.eval_only], out_dirs=[args.out])
    cfg = load_config(args.config)
    if args.protocol:
        from nfbl.core.errors import NfblError
        from nfbl.io.datasets import get_protocol
        get_protocol(args.protocol)
        if cfg.data.source != "dataset":
            raise NfblError(f"--protocol needs [data] source = 'dataset' in {args.config}")
        cfg = cfg.replace(data={"dataset": args.protocol})
    if args.out:
        cfg = cfg.replace(run={"out_dir": args.out})
    if args.eval_only:
        from nfbl.detectors import checkpoint
        ck = checkpoint.load_checkpoint(args.eval_only)
        dev = T.resolve_device(args.device or cfg.run.device)
        recs = T.load_records(cfg, ck.config, "val", sys.stderr.isatty())
        if cfg.run.val_max_videos > 0:
            recs = recs[:cfg.run.val_max_videos]
        res = T.validate(ck.model.to(dev), recs, dev, cfg.run.decode_threshold, cfg.run.name,
                         cfg.run.candidate_threshold)
        print(json.dumps({"checkpoint": str(args.eval_only), "videos": len(recs), **res},
                         indent=1, default=float))
        return 0
    t0 = time.time()
    res = T.train(cfg, resume=args.resume, device=args.device, max_epochs=args.max_epochs)
    hist = res["history"]
    if hist:
        last = hist[-1]
        print(f"trained {res['epochs']} epochs in {time.time() - t0:.0f} s; last epoch loss "
              f"{last['loss']:.4f}" + (f", F1@0.3 {last['f1']:.3f}, mAP@0.5 {last['map50']:.3f}"
                                       if "f1" in last else ""))
    print(f"best epoch {res['best_epoch']}; checkpoints in {res['out_dir']} (best.pt, last.pt)")
    return 0


def _synthetic_pairs(args: argparse.Namespace):
    from nfbl.synth import SynthConfig, generate_video
    for i in range(args.videos):
        seed = args.seed + i
        layout = args.layouts[seed % len(args.layouts)]
        cfg = SynthConfig(minutes=args.minutes, layout=layout, flatten_tail=args.flatten_tail,
                          split=args.split)
        yield generate_video(cfg, seed, f"synth-{args.split}-{seed:07d}")


def _class_bias(path: str, class_ids) -> tuple[float, ...]:
    """Read ``--class-bias``: a JSON list (one offset per class) or {code or id: offset}."""
    from nfbl.core.errors import NfblError
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NfblError(f"--class-bias {path}: not a readable JSON file ({exc}); give a list "
                        f"of {len(class_ids)} numbers or an object code -> offset") from None
    if isinstance(data, dict) and "class_bias" in data:
        data = data["class_bias"]
    if isinstance(data, dict):
        col = {f"N{c}": i for i, c in enumerate(class_ids)}
        col.update({str(c): i for i, c in enumerate(class_ids)})
        out = [0.0] * len(class_ids)
        for k, v in data.items():
            if str(k) not in col or not isinstance(v, (int, float)):
                raise NfblError(f"--class-bias {path}: {k!r}: {v!r} is not a class of the model "
                                f"with a number (classes N{', N'.join(map(str, class_ids))})")
            out[col[str(k)]] = float(v)
        return tuple(out)
    if (not isinstance(data, list) or len(data) != len(class_ids)
            or not all(isinstance(v, (int, float)) for v in data)):
        raise NfblError(f"--class-bias {path}: expected a list of {len(class_ids)} numbers (one "
                        f"per model class) or an object code -> offset")
    return tuple(float(v) for v in data)


def _cmd_class_bias(args: argparse.Namespace) -> int:
    from nfbl.core.atomic import atomic_open
    from nfbl.core.errors import NfblError
    from nfbl.detectors import transfer
    from nfbl.detectors.config import load_config
    from nfbl.exports.runtime import Detector

    if args.videos < 1 or not 0.0 <= args.tau <= 4.0:
        raise NfblError("--videos must be >= 1 and --tau in [0, 4]")
    det = Detector.load(args.model, threads=1)
    cfg = load_config(args.config)
    classes = det.card.class_ids
    real = transfer.real_frame_priors(classes, videos=args.videos, seed=args.seed)
    power = cfg.sampling.power if cfg.sampling.class_balanced else 0.0
    train = transfer.frame_priors(classes, cfg.data.flatten_tail, videos=args.videos,
                                  minutes=cfg.data.minutes, fps=cfg.data.fps, seed=args.seed,
                                  window=cfg.data.window, stride=cfg.data.stride, power=power,
                                  background_weight=cfg.sampling.background_weight)
    bias = transfer.logit_adjustment(real, train, args.tau)
    out = {"model": det.model_tag, "config": str(args.config), "tau": args.tau,
           "videos": args.videos, "seed": args.seed,
           "class_ids": list(classes),
           "real_prior": {f"N{c}": round(float(v), 6) for c, v in zip(classes, real)},
           "train_prior": {f"N{c}": round(float(v), 6) for c, v in zip(classes, train)},
           "class_bias": [round(float(v), 4) for v in bias]}
    with atomic_open(args.output) as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    order = sorted(range(len(classes)), key=lambda i: bias[i])
    show = lambda ix: ", ".join(f"N{classes[i]} {bias[i]:+.2f}" for i in ix)  # noqa: E731
    print(f"class_bias (tau {args.tau:g}) for {det.model_tag} -> {args.output}; most lowered: "
          f"{show(order[:4])}; most raised: {show(order[::-1][:4])}")
    return 0


def _hand_loss(seq, half: float | None, no_hands: bool = False, fingertips: bool = False):
    """``seq`` as pose on de-identified frames sees it (``--deid-hands HALF``), without
    hand joints (``--no-hands``) or with fingertips only (``--fingertips``), else as is."""
    from nfbl.keypoints import occlusion
    if fingertips:
        from nfbl.core import skeletons
        seq = seq.to_layout(skeletons.MIGA35)
    if no_hands:
        seq = occlusion.without_hands(seq)
    if half is None:
        return seq
    return occlusion.deidentified_hands(seq, half)


def _cmd_evaluate_real(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nfbl.core.atomic import atomic_open
    from nfbl.core.errors import NfblError
    from nfbl.detectors import transfer
    from nfbl.exports.runtime import Detector
    from nfbl.io import keypoints as K

    for flag, on in (("--turned", args.turned), ("--mirrored", args.mirrored)):
        if on:
            raise NfblError(f"{flag} applies to --synthetic videos; real files are read as "
                            "stored")
    if args.also_min_scores:
        raise NfblError("--also-min-scores applies to --synthetic videos (F1 needs labels); "
                        "run --real once per --min-score")
    if args.camera_cuts:
        raise NfblError("--camera-cuts applies to --synthetic videos; real files are read as "
                        "filmed")
    if args.model and args.model.endswith(".pt"):
        raise NfblError("--real runs an exported ONNX model; export the checkpoint first: "
                        "nfbl export CKPT -o model.onnx")
    det = Detector.load(args.model, threads=args.threads)
    dcfg = det.decode_config()
    if args.class_bias:
        dcfg = replace(dcfg, class_bias=_class_bias(args.class_bias, det.card.class_ids))
    if args.no_contact_check:
        dcfg = replace(dcfg, contact_check=False)
    if args.reduced_hands_bias is not None:
        dcfg = replace(dcfg, reduced_hands_bias=args.reduced_hands_bias)
    seqs, names = [], []
    for f in args.real:
        got = K.read_keypoints(f, args.kp_format)
        got = list(got) if isinstance(got, (list, tuple)) else [got]
        for i, seq in enumerate(got):
            det.card.check_layout(seq.layout)
            seqs.append(_hand_loss(seq, args.deid_hands, args.no_hands, args.fingertips))
            names.append(Path(f).name + (f"#{i}" if len(got) > 1 else ""))
    res = transfer.real_behaviour(det, seqs, names, decode=dcfg, min_score=args.min_score)
    res["deid_hands"] = args.deid_hands
    res["no_hands"] = args.no_hands
    res["fingertips"] = args.fingertips
    ref = res["reference"]
    how = "".join(t for f, t in ((args.no_hands, "; hand joints removed"),
                                 (args.fingertips, "; fingertips only"),
                                 (args.deid_hands is not None, "; hands at the face removed"))
                  if f)
    print(f"{res['model']} on {len(seqs)} real sequence(s), unlabelled (events scored >= "
          f"{res['min_score']:g}{', class_bias set' if dcfg.class_bias else ''}{how}):")
    for row in res["files"] + [res["total"]]:
        mix = ", ".join(f"{k} {v}" for k, v in list(row["class_mix"].items())[:5]) or "-"
        gone = ", ".join(f"{k} {v}" for k, v in row["contact_check_removed"].items())
        print(f"  {row['name']}: {row['seconds']:.1f} s, {row['events']} events = "
              f"{row['events_per_minute']:.1f}/min, time covered {row['covered_share']:.0%}; {mix}"
              + (f" (contact check removed {gone})" if gone else ""))
    r = ref["events_per_minute"]
    top = ", ".join(f"{k} {v:.0%}" for k, v in ref["top_class_shares"].items())
    print(f"real iMiGUE reference: {r['p50']:g} events/min (quartiles {r['p25']:g}-{r['p75']:g}), "
          f"about {ref['covered_share_approx']:.0%} of the time covered; class shares {top}")
    if args.json_out:
        with atomic_open(args.json_out) as fh:
            json.dump(res, fh, indent=1)
            fh.write("\n")
    return 0


def _evaluation_decode(card_decode, classes, args: argparse.Namespace):
    """The card's decode settings with ``--candidate-threshold``, ``--class-bias`` and
    ``--no-contact-check`` applied (synthetic evaluation)."""
    from dataclasses import replace
    dcfg = replace(card_decode, threshold=args.candidate_threshold)
    if args.class_bias:
        dcfg = replace(dcfg, class_bias=_class_bias(args.class_bias, classes))
    if args.no_contact_check:
        dcfg = replace(dcfg, contact_check=False)
    if args.reduced_hands_bias is not None:
        dcfg = replace(dcfg, reduced_hands_bias=args.reduced_hands_bias)
    return dcfg


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from nfbl.exports import decoding
    if args.real:
        return _cmd_evaluate_real(args)
    from nfbl.metrics.evaluate import evaluate, f1_sweep
    from nfbl.core.errors import NfblError
    from nfbl.core.events import EventStream
    from nfbl.core.atomic import atomic_open

    check_outputs([args.json_out], [args.model])
    if args.videos < 1:
        raise NfblError(f"--videos must be at least 1, got {args.videos}")
    if not 0.0 <= args.candidate_threshold <= 1.0 or not 0.0 <= (
            0.5 if args.min_score is None else args.min_score) <= 1.0:
        raise NfblError("--candidate-threshold and --min-score must be in [0, 1]")
    t0 = time.time()
    if args.model and args.model.endswith(".pt"):
        import torch
        from nfbl.detectors import checkpoint
        from nfbl.detectors import train as T
        torch.set_num_threads(max(1, args.threads))
        ck = checkpoint.load_checkpoint(args.model)
        name, classes = str(args.model), ck.config.class_ids
        card_decode = decoding.DecodeConfig.from_dict((ck.card or {}).get("decode"))
        dcfg = _evaluation_decode(card_decode, classes, args)

        def detect(seq):
            rec = T._records_from([(seq, EventStream())], ck.config, "", False)[0]
            probs, offs = T.predict_record(ck.model, rec, torch.device("cpu"))
            return T.decode_record(rec, probs, offs, classes, name, dcfg, ck.config.layout)
    else:
        from nfbl.exports.runtime import Detector
        det = Detector.load(args.model, threads=args.threads)
        name, classes = f"{det.card.name}@{det.card.version}", det.card.class_ids
        card_decode = det.decode_config()
        dcfg = _evaluation_decode(card_decode, classes, args)

        def detect(seq):
            return det.detect(seq, decode=dcfg)
    if args.min_score is None:
        args.min_score = card_decode.threshold
    from nfbl.keypoints.cleaning import mirrored_frames, turned_frames
    from nfbl.keypoints.shots import camera_cuts
    truths, preds, frames, cuts = [], [], 0, 0
    for i, (seq, events) in enumerate(_synthetic_pairs(args)):
        seq = turned_frames(_hand_loss(seq, args.deid_hands, args.no_hands, args.fingertips),
                            args.turned)
        if args.mirrored:
            seq = mirrored_frames(seq)
        if args.camera_cuts:
            seq, starts = camera_cuts(seq, args.seed + i)
            cuts += len(starts)
        truths.append(events)
        preds.append(detect(seq))
        frames += seq.num_frames
    gt, pred = EventStream.concat(truths), EventStream.concat(preds)
    res = evaluate(gt, pred, tiou=0.3, min_score=args.min_score)
    anet = res["map"]["activitynet"]
    map50 = anet["map"][anet["thresholds"].index(0.5)]
    summary = {"model": name, "videos": args.videos, "split": args.split, "seed": args.seed,
               "minutes": args.minutes, "flatten_tail": args.flatten_tail,
               "layouts": list(args.layouts), "deid_hands": args.deid_hands,
               "turned": args.turned, "mirrored": args.mirrored, "no_hands": args.no_hands,
               "fingertips": args.fingertips,
               "camera_cuts": cuts if args.camera_cuts else None,
               "candidate_threshold": args.candidate_threshold,
               "min_score": args.min_score, "decode": dcfg.to_dict(),
               "hours": round(frames / 25.0 / 3600.0, 3),
               "f1_0.3": res["f1"]["f1"], "precision_0.3": res["f1"]["precision"],
               "recall_0.3": res["f1"]["recall"], "macro_f1_0.3": res["f1"]["macro_f1"],
               "map_0.5": map50, "map_0.5_0.95": anet["average_map"],
               "seconds": round(time.time() - t0, 1)}
    deid = ("" if args.deid_hands is None
            else f"; hands inside a {args.deid_hands:g}-sw face box removed")
    deid += f"; frames turned {args.turned} degrees" if args.turned else ""
    deid += "; frames mirrored, names kept" if args.mirrored else ""
    deid += "; hand joints removed" if args.no_hands else ""
    deid += "; fingertips only" if args.fingertips else ""
    deid += f"; filmed in shots, {cuts} camera cuts" if args.camera_cuts else ""
    print(f"{name}: {args.videos} synthetic {args.split} videos (seeds {args.seed}.."
          f"{args.seed + args.videos - 1}, {summary['hours']:.2f} h, {len(gt)} events, "
          f"classes {len(classes)}{deid})")
    print(f"F1@0.3 {summary['f1_0.3']:.3f} (P {summary['precision_0.3']:.3f}, R "
          f"{summary['recall_0.3']:.3f}, events scored >= {args.min_score:g}; macro-F1 "
          f"{summary['macro_f1_0.3']:.3f})")
    print(f"mAP@0.5 {map50:.3f}   mAP@0.5:0.95 {anet['average_map']:.3f}")
    sweep = {}
    if any(s < args.candidate_threshold for s in args.also_min_scores):
        log.warning("--also-min-scores below --candidate-threshold %g score the same events "
                    "as at %g", args.candidate_threshold, args.candidate_threshold)
    for key, f in f1_sweep(gt, pred, args.also_min_scores, tiou=0.3).items():
        sweep[key] = {"f1_0.3": f["f1"], "precision_0.3": f["precision"],
                      "recall_0.3": f["recall"], "macro_f1_0.3": f["macro_f1"]}
        print(f"  events scored >= {key}: F1@0.3 {f['f1']:.3f} (P {f['precision']:.3f}, R "
              f"{f['recall']:.3f}; macro-F1 {f['macro_f1']:.3f})")
    if sweep:
        summary["f1_by_min_score"] = sweep
    if args.json_out:
        with atomic_open(args.json_out) as fh:
            json.dump({"summary": summary, "metrics": res}, fh, indent=1)
            fh.write("\n")
    return 0
