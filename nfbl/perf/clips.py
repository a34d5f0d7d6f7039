"""Clip recognition on synthetic gesture clips (``nfbl bench clips``).

Held-out synthetic videos are cut into one clip per labelled event the way the iMiGUE
classification kit cuts its videos (mikecheninoulu/SMG, ``tools/imigue_gendata.py``): frames
``floor(start x fps)`` to ``floor(end x fps)``, both included, and a clip longer than 90
frames keeps its last 90. With ``kit22`` every clip is also reduced to the kit's 22 joints
(``openpose22``: upper body and five fingertips per hand), as the track's arrays hold them.
The detector names each clip by :meth:`nfbl.exports.runtime.DenseDetector.clip_scores`;
:func:`nfbl.metrics.clips.clip_accuracy` scores the names. A smoke test of the clip path on
our own generator, not a result on iMiGUE.
"""
from __future__ import annotations

import math

import numpy as np

from nfbl.core import skeletons
from nfbl.detectors.config import DEFAULT_LAYOUTS as LAYOUTS  # what nfbl evaluate rotates over
from nfbl.metrics.clips import clip_accuracy

MAX_FRAMES = 90


def event_clips(seq, events, max_frames: int = MAX_FRAMES) -> list[tuple[object, int]]:
    """``(clip PoseSequence, class id)`` per event of one video (see the module docstring)."""
    out = []
    fps = float(seq.fps)
    for e in events:
        sf = int(math.floor(e.start * fps))
        ef = min(int(math.floor(e.end * fps)), seq.num_frames - 1)
        if ef < sf:
            continue
        sf = max(sf, ef - max_frames + 1)
        kp = seq.keypoints[:, sf:ef + 1]
        clip = seq.with_keypoints(kp, seq.layout, timestamps=seq.timestamps[sf:ef + 1],
                                  video_id=f"{seq.video_id}_{len(out)}")
        out.append((clip, int(e.class_id)))
    return out


def run(videos: int = 24, minutes: float = 5.0, seed: int = 2_000_000, kit22: bool = False,
        model: str | None = None, threads: int = 2) -> dict:
    """Top-1/top-5 accuracy and mean class accuracy of the detector on the event clips of
    ``videos`` held-out videos (seeds ``seed``..)."""
    from nfbl.exports.runtime import Detector
    from nfbl.synth import SynthConfig, generate_video

    det = Detector.load(model, threads=threads)
    truth, scores, frames = [], [], []
    for i in range(videos):
        s = seed + i
        cfg = SynthConfig(minutes=minutes, layout=LAYOUTS[s % len(LAYOUTS)], split="heldout")
        seq, events = generate_video(cfg, s, f"synth-heldout-{s:07d}")
        for clip, cid in event_clips(seq, events):
            if kit22:
                clip = clip.to_layout(skeletons.OPENPOSE22)
            truth.append(cid)
            scores.append(det.clip_scores(clip)[0])
            frames.append(clip.num_frames)
    acc = clip_accuracy(truth, np.stack(scores) if scores else np.zeros(
        (0, len(det.card.class_ids))), det.card.class_ids)
    acc.update({"model": det.model_tag, "videos": videos, "seed": seed, "kit22": kit22,
                "median_frames": float(np.median(frames)) if frames else 0.0})
    return acc
