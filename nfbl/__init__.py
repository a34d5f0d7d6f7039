"""nfbl: detect Non-Facial Body Language (NFBL) events in long, de-identified videos.

The public API, one import away (each name is imported on first use, so ``import nfbl``
pulls neither torch nor onnxruntime nor the video stack)::

    import nfbl

    seq = nfbl.read_keypoints("interview_keypoints/")       # OpenPose, MiGA, SMG, mmpose, AlphaPose, .npz
    events = nfbl.Detector.load().detect(seq)               # bundled ONNX detector
    nfbl.write_events(events, "events.jsonl")               # also .csv, ActivityNet .json, .eaf
    Y = nfbl.to_multihot(events, num_frames=seq.num_frames, fps=seq.fps)   # (T, 35) multi-hot
    summary = nfbl.summarise(events)                         # statistics for emotion models
    result = nfbl.detect_video("interview.mp4")             # video → de-identified pose → events

========================  ==========================================================
name                      what
========================  ==========================================================
``Detector``              ONNX detector runtime (``nfbl.exports.runtime``; onnxruntime)
``PoseSequence``          keypoints ``(M, T, V, 3)`` + layout, fps, timestamps
``Event``/``EventStream`` timestamped events (seconds, half-open)
``read_keypoints``        any supported keypoint file or folder → ``PoseSequence``
``read_events``           any supported event/annotation file → ``EventStream``
``write_events``          ``EventStream`` → jsonl/csv/ActivityNet/ELAN/iMiGUE/MiGA
``to_multihot``           events → per-frame multi-hot matrix ``(T, C)``
``summarise``             events → per-video statistics (``nfbl.prompts.aggregate``)
``detect_video``          video → events, on de-identified frames (needs ``nfbl[pose]``)
``NfblError``             the one error type for user errors
========================  ==========================================================
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → module that defines it (imported on first access).
_PUBLIC: dict[str, str] = {
    "NfblError": "nfbl.core.errors",
    "PoseSequence": "nfbl.core.sequence",
    "Event": "nfbl.core.events",
    "EventStream": "nfbl.core.events",
    "to_multihot": "nfbl.core.events",
    "read_keypoints": "nfbl.io.keypoints",
    "read_events": "nfbl.io.event_formats",
    "write_events": "nfbl.io.event_formats",
    "summarise": "nfbl.prompts.aggregate",
    "Detector": "nfbl.exports.runtime",
    "detect_video": "nfbl.pose.pipeline",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from nfbl.core.errors import NfblError
    from nfbl.core.events import Event, EventStream, to_multihot
    from nfbl.core.sequence import PoseSequence
    from nfbl.exports.runtime import Detector
    from nfbl.io.event_formats import read_events, write_events
    from nfbl.io.keypoints import read_keypoints
    from nfbl.pose.pipeline import detect_video
    from nfbl.prompts.aggregate import summarise


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'nfbl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
