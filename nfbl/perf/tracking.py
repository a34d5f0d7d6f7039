"""What losing the interviewee for a while costs detection (``nfbl bench lost-person``).

Held-out synthetic videos (OpenPose layout) are cut into per-frame people lists as a
multi-person reader gives them: the interviewee disappears ``gaps`` times for 1.2–3.2 s
(seeded), a small bystander stays at the frame's lower left throughout. The lists are linked
into tracks by :func:`nfbl.keypoints.tracking.link_people`, once without rejoining
(``max_rejoin = 0``: nfbl before the rejoin step) and once with the default (and the same
videos never lost, as the baseline), and the bundled
(or given) ONNX detector runs on the interviewee it chooses. F1@0.3 against the videos' truth
shows what the lost stretches cost.
"""
from __future__ import annotations

import numpy as np

from nfbl.core.events import EventStream
from nfbl.keypoints import tracking


def people_frames(kp: np.ndarray, frame_size: tuple[int, int], gaps: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Per-frame people ``(P_t, V, 3)`` of one person ``kp`` ``(T, V, 3)``: lost in ``gaps``
    spans of 30–79 frames, with a bystander (the same motion at 0.3 scale, lower left)."""
    t_len = len(kp)
    lost = np.zeros(t_len, bool)
    if gaps and t_len > 300:
        for s in rng.choice(np.arange(100, t_len - 100), gaps, replace=False):
            lost[s:s + int(rng.integers(30, 80))] = True
    w, h = frame_size
    other = kp.copy()
    present = other[..., 2] > 0
    other[..., 0] = other[..., 0] * 0.3 + 0.02 * w
    other[..., 1] = other[..., 1] * 0.3 + 0.6 * h
    other[~present] = 0.0
    return [other[t][None] if lost[t] else np.stack([kp[t], other[t]]) for t in range(t_len)]


def run(videos: int = 6, minutes: float = 3.0, gaps: int = 4, seed: int = 2_000_000,
        model: str | None = None, threads: int = 2) -> list[dict]:
    """One row per setting: never lost (the baseline), lost with ``max_rejoin`` 0, lost with
    the default; each with tracks per video, F1@0.3, precision and recall at the card's
    threshold."""
    from nfbl.exports.runtime import Detector
    from nfbl.metrics.evaluate import evaluate
    from nfbl.synth import SynthConfig, generate_video

    det = Detector.load(model, threads=threads)
    threshold = det.decode_config().threshold
    cases = []
    for i in range(videos):
        s = seed + i
        seq, events = generate_video(SynthConfig(minutes=minutes, layout="openpose_body25_hands",
                                                 flatten_tail=0.5, split="heldout"), s, f"lost-{s}")
        cases.append((seq, events, {n: people_frames(seq.keypoints[0], seq.frame_size, n,
                                                     np.random.default_rng(s))
                                    for n in (0, gaps)}))
    rows = []
    for lost, rejoin in ((0, tracking.DEFAULT_MAX_REJOIN), (gaps, 0),
                         (gaps, tracking.DEFAULT_MAX_REJOIN)):
        truths, preds, counts = [], [], []
        for seq, events, people in cases:
            frames = people[lost]
            kp, ids = tracking.link_people(frames, num_joints=seq.keypoints.shape[2], min_frames=2,
                                           max_rejoin=rejoin)
            counts.append(len(ids))
            truths.append(events)
            preds.append(det.detect(seq.with_keypoints(kp, seq.layout, track_ids=ids)))
        res = evaluate(EventStream.concat(truths), EventStream.concat(preds), tiou=0.3,
                       min_score=threshold)
        rows.append({"gaps": lost, "max_rejoin": rejoin, "tracks": counts, "f1": res["f1"]["f1"],
                     "precision": res["f1"]["precision"], "recall": res["f1"]["recall"],
                     "events": len(EventStream.concat(truths)), "min_score": threshold})
    return rows
