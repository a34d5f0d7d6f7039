"""How fast the metrics score large event sets (``nfbl bench scoring-speed``).

Builds a seeded synthetic ground truth of ``n`` events (about 9 events a minute per video,
durations 0.5–4 s, all 33 classes) and ``n`` predictions (80 % jittered copies, 20 % random,
uniform scores), then times each metric once with ``time.perf_counter``.
"""
from __future__ import annotations

import time

import numpy as np

from nfbl.core import taxonomy
from nfbl.metrics import scores as M
from nfbl.core.events import Event, EventStream


def synthetic_pair(n: int, videos: int, seed: int = 0) -> tuple[dict, dict]:
    """Column mappings (ground truth, predictions) of ``n`` events each."""
    rng = np.random.default_rng(seed)
    ids = np.array(taxonomy.ALL_IDS)
    per_video_s = n / videos / 9.0 * 60.0  # about 9 events a minute
    vid = rng.integers(0, videos, n)
    cls = ids[rng.integers(0, ids.size, n)]
    start = rng.uniform(0, per_video_s, n)
    dur = rng.uniform(0.5, 4.0, n)
    gt = {"video": np.array([f"v{v:05d}" for v in vid], dtype=object), "class_id": cls,
          "start": start, "end": start + dur, "score": np.ones(n)}
    copy = rng.random(n) < 0.8
    p_start = np.where(copy, start + rng.normal(0, 0.3, n), rng.uniform(0, per_video_s, n))
    p_start = np.maximum(p_start, 0.0)
    p_cls = np.where(copy & (rng.random(n) < 0.85), cls, ids[rng.integers(0, ids.size, n)])
    pred = {"video": gt["video"].copy(), "class_id": p_cls, "start": p_start,
            "end": p_start + dur * rng.uniform(0.6, 1.4, n), "score": rng.random(n)}
    return gt, pred


def run(n: int = 100_000, videos: int = 500, seed: int = 0, frames: bool = True) -> list[dict]:
    """Time every metric on ``n`` + ``n`` events; returns rows (name, seconds, value)."""
    gt, pred = synthetic_pair(n, videos, seed)
    rows = []

    def timed(name: str, fn, value):
        t0 = time.perf_counter()
        out = fn()
        rows.append({"metric": name, "seconds": round(time.perf_counter() - t0, 3),
                     "value": round(float(value(out)), 6)})
        return out

    g = timed("validate (segments)", lambda: M.segments(gt), len)
    p = M.segments(pred)
    timed("mAP 0.5:0.05:0.95", lambda: M.detection_ap(g, p, M.THRESHOLDS_ACTIVITYNET),
          lambda r: r.average_map)
    timed("mAP 0.3:0.1:0.7", lambda: M.detection_ap(g, p, M.THRESHOLDS_THUMOS,
                                                    keep_curves=False), lambda r: r.average_map)
    timed("F1@0.3 (MiGA)", lambda: M.f1_at_tiou(g, p, 0.3), lambda r: r.micro.f1)
    if frames:
        def to_stream(c: dict) -> EventStream:
            return EventStream(tuple(Event(v, int(k), float(a), float(b), float(s)) for v, k, a, b, s
                                     in zip(c["video"], c["class_id"], c["start"], c["end"],
                                            c["score"])))
        gs, ps = timed("build EventStreams", lambda: (to_stream(gt), to_stream(pred)),
                       lambda r: len(r[0]))
        timed("frame metrics (25 fps)", lambda: M.frame_metrics(gs, ps, fps=25.0),
              lambda r: r.macro_f1)
    return rows
