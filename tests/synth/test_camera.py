"""Camera projection and the pose-estimator imitation (occlusion, swaps, drops, scores)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from nfbl.core.skeletons import CANONICAL
from nfbl.synth import NoiseConfig, SynthConfig, generate_video
from nfbl.synth import body as B
from nfbl.synth import camera as C

QUIET = NoiseConfig(level=1.0, jitter_body=0, jitter_head=0, jitter_hand=0, jitter_tip=0, drop_joint=0,
                    hand_loss_per_min=0, swap_per_min=0, drop_frame=0, person_loss_per_min=0, outlier=0,
                    hallucinate=0, face_hand_loss=0)


def test_projection_puts_the_subject_in_the_frame_and_left_on_the_right():
    rng = np.random.default_rng(0)
    for split in ("train", "heldout"):
        body = B.sample_body(rng, split)
        cam = C.sample_camera(rng, body, split)
        pts = np.array([[body.shoulder_half, body.torso, 0.0], [-body.shoulder_half, body.torso, 0.0],
                        [0.0, body.torso + 0.25, 0.08]])
        uv, depth = cam.project(pts)
        assert (depth > 0.5).all()
        assert (uv[:, 0] > 0).all() and (uv[:, 0] < cam.width).all() and (uv[:, 1] > 0).all()
        assert uv[0, 0] > uv[1, 0]           # subject's left shoulder on the image's right
        assert uv[2, 1] < uv[0, 1]           # head above the shoulders (image y grows down)


def test_table_hides_points_below_its_top_only():
    cam_pos = np.array([0.0, 0.8, 2.5])
    pts = np.array([[0.1, 0.10, 0.25],    # on the lap under a table top at 0.2: hidden
                    [0.1, 0.25, 0.35],    # on the table: visible
                    [0.1, 0.10, -0.3],    # behind the table's near edge, seen over it? below top, far behind: visible
                    [1.5, 0.10, 0.25]])   # beside the table: visible
    hidden = C.table_hides(cam_pos, pts, height=0.2, near=0.2, far=1.0)
    assert hidden.tolist() == [True, False, False, False]


def test_hand_swaps_exchange_the_two_hands():
    clean_cfg = SynthConfig(minutes=0.5, noise=QUIET)
    clean, _ = generate_video(clean_cfg, seed=2)
    swapped, _ = generate_video(replace(clean_cfg, noise=replace(QUIET, swap_per_min=20.0)), seed=2)
    L = list(CANONICAL.joints_matching("left_hand_"))
    R = list(CANONICAL.joints_matching("right_hand_"))
    a, b = clean.keypoints[0], swapped.keypoints[0]
    same = np.all(a[:, L, :2] == b[:, L, :2], axis=(1, 2))
    crossed = np.all(a[:, R, :2] == b[:, L, :2], axis=(1, 2)) & np.all(a[:, L, :2] == b[:, R, :2], axis=(1, 2))
    visible = (a[:, L, 2] > 0).all(axis=1) & (a[:, R, 2] > 0).all(axis=1)
    assert crossed[visible].mean() > 0.05          # some frames have the hands swapped
    assert (same | crossed)[visible].all()          # and every frame is either as is or swapped
    body = [CANONICAL.index[n] for n in ("left_wrist", "right_wrist")]
    np.testing.assert_array_equal(a[:, body, :2], b[:, body, :2])  # body wrists are not swapped


def test_dropped_frames_and_scores():
    cfg = SynthConfig(minutes=0.5, noise=replace(QUIET, drop_frame=0.3))
    seq, _ = generate_video(cfg, seed=4)
    kp = seq.keypoints[0]
    empty = (kp[..., 2] == 0).all(axis=1)
    assert 0.2 < empty.mean() < 0.4
    assert (kp[empty] == 0).all()
    ok = kp[..., 2] > 0
    assert (kp[..., 2][ok] <= 1).all() and (kp[..., 2][ok] >= 0.05).all()


def test_hands_are_noisier_than_the_body():
    clean, _ = generate_video(SynthConfig(minutes=0.5, noise=QUIET), seed=6)
    noisy, _ = generate_video(SynthConfig(minutes=0.5, noise=replace(NoiseConfig(), drop_joint=0,
                                                                    hand_loss_per_min=0, swap_per_min=0,
                                                                    drop_frame=0, person_loss_per_min=0,
                                                                    outlier=0, hallucinate=0)), seed=6)
    a, b = clean.keypoints[0], noisy.keypoints[0]
    both = (a[..., 2] > 0) & (b[..., 2] > 0)
    err = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
    body = [CANONICAL.index[n] for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow")]
    tips = [CANONICAL.index[f"{s}_hand_{f}_tip"] for s in ("left", "right") for f in ("index", "middle")]
    eb = np.median(err[:, body][both[:, body]])
    et = np.median(err[:, tips][both[:, tips]])
    assert 0 < eb < et
