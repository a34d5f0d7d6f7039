"""Generator version 4: changes made against the realism report (docs/synth.md).

Each test pins one v4 behaviour and fails if it is switched off or drifts out of the range
measured on real pose.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nfbl.core.skeletons import CANONICAL
from nfbl.exports.model_input import prepare
from nfbl.synth import SynthConfig, generate_video
from nfbl.synth import camera as C
from nfbl.synth import realism as R
from nfbl.synth.camera import NoiseConfig

I = CANONICAL.index
def _face_dropout(monkeypatch, keep: bool) -> float:
    monkeypatch.setitem(
        C.PROFILES,
        "mediapipe",
        replace(C.PROFILES["mediapipe"], keep_face_hands=keep, low_hand_miss=0.0),
    )
    cfg = SynthConfig(
        minutes=1.0,
        classes=(7, 10, 34),
        rate_scale=4.0,
        noise=NoiseConfig(profile="mediapipe", hand_loss_per_min=20.0),
    )
    vals = [
        R.sequence_statistics(R.prepared(generate_video(cfg, seed=(4, i))[0], prepare))[
            "face_hand_dropout"
        ]
        for i in range(2)
    ]
    return float(np.nanmean(vals))


def test_hands_at_the_face_are_not_lost(monkeypatch):
    # real MediaPipe and OpenPose files never lose a hand whose wrist is within 0.9 sw of the nose
    assert _face_dropout(monkeypatch, keep=False) > 0.01
    assert _face_dropout(monkeypatch, keep=True) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_mediapipe_profile_moves_like_real_mediapipe(seed):
    # real MediaPipe files: shoulders 0.026-0.036 sw/s, wrist second difference 0.003-0.0135 sw/frame;
    # v3's MediaPipe profile gave 0.012 sw/s and 0.002 sw/frame
    cfg = SynthConfig(minutes=1.0, rate_scale=1e-6, noise=NoiseConfig(profile="mediapipe"))
    s = R.sequence_statistics(R.prepared(generate_video(cfg, seed=(9, seed))[0], prepare))
    assert 0.022 < s["shoulder_speed"] < 0.05
    assert 0.003 < s["wrist_jerk"] < 0.011
