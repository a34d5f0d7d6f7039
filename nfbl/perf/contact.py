"""How fast the contact check measures keypoints (``nfbl bench contact-speed``).

``Detector.detect`` measures contact distances only on frames inside events of contact
classes; this times :func:`nfbl.keypoints.contact.distances` on EVERY frame of a seeded
random nfbl56 sequence (the worst case: every frame inside such an event) and
:func:`nfbl.keypoints.contact.check` on one event every 4 s, with ``time.perf_counter``
(best of ``repeat``).
"""
from __future__ import annotations

import time

import numpy as np

from nfbl.core import skeletons
from nfbl.core.events import Event
from nfbl.keypoints import contact


def sequence(minutes: float, seed: int = 0, fps: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Random normalised nfbl56 keypoints ``(T, 56, 3)`` (5 % of joints missing) and timestamps."""
    rng = np.random.default_rng(seed)
    t = int(round(minutes * 60 * fps))
    x = rng.normal(0, 1, size=(t, skeletons.CANONICAL.num_joints, 3)).astype(np.float32)
    x[..., 2] = rng.uniform(0.2, 1.0, size=x.shape[:2])
    x[rng.random(x.shape[:2]) < 0.05] = 0.0
    return x, np.arange(t) / fps


def run(minutes: float = 60.0, repeat: int = 3, seed: int = 0) -> list[dict]:
    """Rows (what, seconds, frames per second) for ``minutes`` of 25 fps keypoints."""
    x, ts = sequence(minutes, seed)
    classes = sorted(contact.CONTACT_KIND)
    events = [Event("bench", classes[i % len(classes)], s, s + 3.0, 0.9)
              for i, s in enumerate(np.arange(0.0, ts[-1] - 3.0, 4.0))]
    rows = []
    for what, fn in (("distances, every frame", lambda: contact.distances(x)),
                     (f"check, {len(events)} events of 3 s", lambda: contact.check(events, x, ts))):
        best = float("inf")
        for _ in range(max(1, repeat)):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        rows.append({"what": what, "frames": len(x), "seconds": best, "fps": len(x) / best})
    return rows
