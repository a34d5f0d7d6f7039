"""Synthetic NFBL motion corpus: seated 3D interviewee, gestures, calibrated timelines,
camera projection and pose-estimator noise. See docs/synth.md.

Foundation module: numpy/scipy/stdlib only.
"""
from __future__ import annotations

from nfbl.synth.camera import NoiseConfig
from nfbl.synth.corpus import (GENERATED_CLASSES, LAYOUTS, SynthConfig, generate_video, simulate,
                               write_corpus)

__all__ = ["GENERATED_CLASSES", "LAYOUTS", "NoiseConfig", "SynthConfig", "generate_video",
           "simulate", "write_corpus"]
