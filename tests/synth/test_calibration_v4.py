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
from nfbl.synth import SynthConfig, generate_video, simulate
from nfbl.synth import camera as C
from nfbl.synth import realism as R
from nfbl.synth.camera import NoiseConfig

I = CANONICAL.index
QUIET = SynthConfig(minutes=0.5, rate_scale=1e-6, noise=NoiseConfig(level=0.0))


def test_observed_shoulders_follow_the_elbows():
    cfg = SynthConfig(
        minutes=0.5,
        classes=(3, 31),
        rate_scale=2.0,
        noise=NoiseConfig(
            profile="openpose", jitter_body=0, jitter_head=0, jitter_elbow=0, outlier=0
        ),
    )
    moving = generate_video(cfg, seed=7)[0].keypoints[0]
    rigid = generate_video(replace(cfg, noise=replace(cfg.noise, shoulder_follow=0.0)), seed=7)[
        0
    ].keypoints[0]
    sw = np.median(
        np.linalg.norm(
            rigid[:, I["left_shoulder"], :2] - rigid[:, I["right_shoulder"], :2], axis=-1
        )
    )
    for s in ("left", "right"):
        sh, el = I[f"{s}_shoulder"], I[f"{s}_elbow"]
        ok = (moving[:, sh, 2] > 0) & (rigid[:, sh, 2] > 0) & (rigid[:, el, 2] > 0)
        np.testing.assert_allclose(moving[:, el], rigid[:, el])  # the arm is unchanged
        shift = moving[ok, sh, :2] - rigid[ok, sh, :2]
        disp = rigid[ok, el, :2] - np.median(rigid[ok, el, :2], axis=0)
        assert (
            0.03 * sw < np.linalg.norm(shift, axis=-1).max() <= 0.1 * sw + 1e-3
        )  # saturates at 0.1 sw
        assert np.median(np.sum(shift * disp, -1)) > 0  # along the elbow's displacement
        small = np.linalg.norm(disp, axis=-1) < 0.05 * sw
        np.testing.assert_allclose(shift[small], 0.2 * disp[small], atol=0.002 * sw)


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


def test_resting_fingers_point_forward_not_across_the_body():
    # v4: resting index tips sit about above their wrists (real files), not near the midline
    offs = []
    for seed in range(6):
        sim = simulate(QUIET, seed=(31, seed))
        if sim.idle.rest != "table":
            continue
        for s, sg in (("left", 1.0), ("right", -1.0)):
            wrist = sim.pose.joints[f"{s}_wrist"][:, 0]
            tip = sim.pose.hands[s][:, 8, 0]
            offs.append(float(np.median(sg * (wrist - tip))))  # how far the tip points inwards (m)
    assert offs and np.median(offs) < 0.09


def test_hands_close_rest_is_a_long_still_hard_negative():
    """v4: a share of press-conference videos rest both hands together on the table (no event);
    the wrists then sit far closer than in the ordinary table rest."""
    from dataclasses import replace

    from nfbl.synth import body as B
    from nfbl.synth import motion as M

    rng = np.random.default_rng(0)
    body = B.sample_body(rng)
    idle = M.sample_idle(np.random.default_rng(1), "press")
    idle = replace(idle, rest="table")
    gaps = {}
    for close in (False, True):
        ch = M.idle_channels(np.random.default_rng(2), 25 * 20, 25.0, body, replace(idle, hands_close=close))
        p = M.pose_3d(body, ch)
        gaps[close] = float(np.median(np.linalg.norm(p.joints["left_wrist"] - p.joints["right_wrist"], axis=-1)))
    assert gaps[True] < 0.16 * body.scale < gaps[False]
    shares = [M.sample_idle(np.random.default_rng(k), "press").hands_close for k in range(400)]
    assert 0.2 < np.mean(shares) < 0.4          # 0.85 (table) x 0.35
    assert not any(M.sample_idle(np.random.default_rng(k), "mixed").hands_close for k in range(100))
