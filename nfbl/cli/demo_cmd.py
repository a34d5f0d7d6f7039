"""`make demo`: the whole job on bundled defaults, end to end, in a few seconds.

Synthesises a short interview (held-out body/camera parameters), runs the bundled ONNX
detector on its keypoints, scores the events against the synthetic truth, writes the events
in every format plus a timeline picture, and prints the prompt-ready summary.

Run: ``nfbl demo [OUT_DIR] [--minutes M] [--seed S]`` (``make demo``). Like the rest of the
CLI, it composes the library's parts and adds no logic of its own.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from nfbl.cli.argtypes import positive_float

log = logging.getLogger("nfbl.cli.demo")


def run(out_dir: Path, minutes: float = 2.0, seed: int = 2026) -> dict:
    """Run the demo; returns the scores. Writes into ``out_dir``."""
    from nfbl.core import taxonomy
    from nfbl.metrics.scores import THRESHOLDS_ACTIVITYNET, detection_ap, f1_at_tiou
    from nfbl.exports.runtime import Detector
    from nfbl.io.event_formats import write_events
    from nfbl.prompts import prompts_for_stream
    from nfbl.synth import SynthConfig, generate_video
    from nfbl.viz.timeline import plot_timeline

    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"nfbl demo -> {out_dir}/")
    print(f"taxonomy: {len(taxonomy.CLASSES)} classes (N0-N31 iMiGUE, N34 EALD); "
          f"{len(taxonomy.SKELETON_VISIBLE_IDS)} visible to a body+hands skeleton")

    # 1. a synthetic interview with a body and camera unlike any seen in training
    seq, truth = generate_video(SynthConfig(minutes=minutes, split="heldout"), seed=seed,
                                video_id="demo_interview")
    seq.save(out_dir / "demo_interview.npz")
    write_events(truth, out_dir / "truth.events.jsonl")
    print(f"1. synthesised {seq.duration:.0f} s of keypoints ({seq.num_frames} frames, layout "
          f"{seq.layout}) with {len(truth)} ground-truth events")

    # 2. the bundled ONNX detector (onnxruntime + numpy only)
    detector = Detector.load()
    events = detector.detect(seq)
    print(f"2. {detector.model_tag} found {len(events)} events")
    for name in ("events.jsonl", "events.csv", "events.json", "events.eaf", "events.imigue.csv"):
        write_events(events.filter(classes=taxonomy.IMIGUE_IDS) if "imigue" in name else events,
                     out_dir / name)
    plot_timeline(events, out_dir / "timeline.png", duration=seq.duration)
    print("   wrote events as JSON Lines, CSV, ActivityNet JSON, ELAN and iMiGUE CSV, "
          "and timeline.png")

    # 3. score against the truth
    f1 = f1_at_tiou(truth, events, 0.3)
    ap = detection_ap(truth, events, [0.5])
    avg = detection_ap(truth, events, THRESHOLDS_ACTIVITYNET)
    scores = {"f1@0.3": f1.micro.f1, "precision@0.3": f1.micro.precision,
              "recall@0.3": f1.micro.recall, "mAP@0.5": float(ap.mAP[0]),
              "avg_mAP@0.5:0.95": float(avg.average_map)}
    print("3. against the synthetic truth: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))

    # 4. the prompt-ready summary for a multimodal LLM
    prompt = prompts_for_stream(events, duration_s=seq.duration, video_ids=[seq.video_id])[0]
    from nfbl.core.atomic import atomic_open
    with atomic_open(out_dir / "prompt.txt") as fh:
        fh.write(prompt.to_text())
    print("4. prompt for a multimodal LLM (prompt.txt):\n")
    print(prompt.user)
    return scores


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole job on bundled defaults (what `make demo` runs)",
                       description=__doc__.split("\n")[0])
    p.add_argument("out_dir", nargs="?", default="demo-out", type=Path)
    p.add_argument("--minutes", type=positive_float, default=2.0, help="length of the interview")
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from nfbl.core.paths import check_outputs

    check_outputs(out_dirs=[args.out_dir])
    run(args.out_dir, args.minutes, args.seed)
    return 0
