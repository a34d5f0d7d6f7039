"""Speed of one loaded ONNX detector (``nfbl model-info --benchmark N``)."""
from __future__ import annotations

import time

import numpy as np

from nfbl.exports.runtime import Detector


def predict_speed(detector: Detector, frames: int = 90_000, repeats: int = 3, seed: int = 0) -> dict:
    """Time :meth:`Detector.predict` on ``frames`` random normalised frames of one person.

    Returns ``{"frames", "seconds" (best wall time of ``repeats``), "frames_per_s",
    "cpu_seconds" (best process CPU time: all threads), "frames_per_cpu_s", "repeats",
    "threads", "window", "overlap"}``. On a busy machine the wall-clock number is too low;
    ``frames_per_cpu_s`` × threads bounds what the threads would give on idle cores.
    Random input: x, y ~ N(0, 1), ~10 % of joints missing.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(frames, detector.num_joints, 3)).astype(np.float32)
    x[..., 2] = rng.uniform(0.2, 1.0, size=(frames, detector.num_joints))
    x[rng.random((frames, detector.num_joints)) < 0.1] = 0.0
    detector.predict(x[: min(frames, detector.window)])  # warm-up
    best, cpu = np.inf, np.inf
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        detector.predict(x)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return {"frames": frames, "seconds": best, "frames_per_s": frames / best,
            "cpu_seconds": cpu, "frames_per_cpu_s": frames / max(cpu, 1e-9),
            "repeats": repeats, "threads": detector.threads, "window": detector.window,
            "overlap": detector.overlap}
