"""Reading and writing: keypoint formats (:mod:`nfbl.io.keypoints`), event formats
(:mod:`nfbl.io.event_formats`), datasets and protocols (:mod:`nfbl.io.datasets`), and the
checks every reader shares (:mod:`nfbl.io.inputs`).

``read_keypoints``, ``read_events`` and ``write_events`` are importable from here; they load
on first use, so ``import nfbl.io`` stays light.
"""
from __future__ import annotations

__all__ = ["read_keypoints", "read_events", "write_events"]


def __getattr__(name: str):
    if name == "read_keypoints":
        from nfbl.io.keypoints import read_keypoints
        return read_keypoints
    if name in ("read_events", "write_events"):
        from nfbl.io import event_formats
        return getattr(event_formats, name)
    raise AttributeError(f"module 'nfbl.io' has no attribute {name!r}")
