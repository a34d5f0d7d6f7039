"""Camera cuts: found where the person's size jumps at once, never where they turn or jitter."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.exports.model_input import OnlinePreparer, prepare
from nfbl.keypoints import cleaning, shots
from nfbl.synth import LAYOUTS, SynthConfig, generate_video


class _Card:
    layout, fps, max_gap = "nfbl56", 25.0, 10


def _video(seed: int, layout: str = "openpose_body25_hands", minutes: float = 1.5):
    return generate_video(SynthConfig(minutes=minutes, layout=layout, split="heldout"), seed)[0]


def _widths(x: np.ndarray, lay: skeletons.Layout) -> np.ndarray:
    """Per-frame shoulder width of ``(T, V, 3)`` (NaN where a shoulder is missing)."""
    both = cleaning.frame_centres(x, lay)[2]
    out = np.full(len(x), np.nan)
    out[both] = cleaning.scale_widths(x, lay, both)
    return out


def _scaled_about_neck(seq, factors: np.ndarray):
    """``seq`` with every frame's x scaled about the neck by ``factors[t]`` (as a person
    turning, or a camera zooming sideways, draws the shoulders narrower)."""
    kp = np.array(seq.keypoints, copy=True)
    lay = seq.layout_def
    centre = cleaning.frame_centres(kp[0], lay)[0]
    present = kp[0, ..., 2] > 0
    x = (kp[0, ..., 0] - centre[:, None, 0]) * factors[:, None] + centre[:, None, 0]
    kp[0, ..., 0] = np.where(present, x, 0.0)
    return seq.with_keypoints(kp, seq.layout)


def test_every_simulated_cut_is_found_at_its_frame():
    for i, layout in enumerate(LAYOUTS):
        seq = _video(300 + i, layout)
        cut, starts = shots.camera_cuts(seq, seed=i)
        assert len(starts) >= 2
        found = shots.shot_starts(cut.keypoints[0], cut.layout_def)
        assert len(found) == len(starts), (layout, found, starts)
        assert np.abs(found - starts).max() <= 1, (layout, found, starts)


def test_footage_without_cuts_has_one_shot():
    for i in range(8):
        seq = _video(400 + i, LAYOUTS[i % len(LAYOUTS)], minutes=1.0)
        assert len(shots.shot_starts(seq.keypoints[0], seq.layout_def)) == 0, seq.layout


def test_turning_and_shoulder_bursts_are_not_cuts_but_a_jump_is():
    seq = _video(11, "nfbl56", minutes=0.5)
    lay = seq.layout_def
    t_len = seq.num_frames
    # turning away: the shoulders narrow by 35 % over half a second, stay, and come back
    turn = np.ones(t_len)
    turn[200:212] = np.linspace(1.0, 0.65, 12)
    turn[212:400] = 0.65
    turn[400:412] = np.linspace(0.65, 1.0, 12)
    assert len(shots.shot_starts(_scaled_about_neck(seq, turn).keypoints[0], lay)) == 0
    # a burst of 6 frames with misplaced shoulders
    burst = np.ones(t_len)
    burst[300:306] = 0.5
    assert len(shots.shot_starts(_scaled_about_neck(seq, burst).keypoints[0], lay)) == 0
    # the same narrowing at once and held: a cut, at its frame
    jump = np.ones(t_len)
    jump[200:] = 0.65
    assert list(shots.shot_starts(_scaled_about_neck(seq, jump).keypoints[0], lay)) == [200]


def test_shot_scales_are_each_shots_median():
    seq = _video(5, "nfbl56", minutes=0.5)
    lay = seq.layout_def
    cut, starts = shots.camera_cuts(seq, seed=3, config=shots.CameraCuts(shot_seconds=(8, 12)))
    w = _widths(cut.keypoints[0], lay)
    scales = shots.shot_scales(cut.keypoints[0], lay, starts)
    bounds = [0, *starts, seq.num_frames]
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert np.allclose(scales[a:b], np.nanmedian(w[a:b]))
    empty = np.zeros((10, lay.num_joints, 3), np.float32)
    assert shots.shot_scales(empty, lay, np.zeros(0, np.int64)) is None


def test_prepare_normalises_each_shot_by_its_own_width(caplog):
    seq = _video(21, "openpose_body25_hands", minutes=1.0)
    plain, _ = prepare(seq, 0, _Card())
    cut, starts = shots.camera_cuts(seq, seed=4, config=shots.CameraCuts(crop=False))
    with caplog.at_level("INFO"):
        got, _ = prepare(cut, 0, _Card())
    assert f"{len(starts)} camera cut(s)" in caplog.text
    lay = skeletons.CANONICAL
    bounds = [0, *starts, seq.num_frames]
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert np.nanmedian(_widths(got[a:b], lay)) == pytest.approx(1.0, abs=0.02)
    # the shots of the same person come back at one size: the input the model knows
    ratio = np.nanmedian(_widths(got, lay) / _widths(plain, lay))
    assert ratio == pytest.approx(1.0, abs=0.05)
    # one global width (the old input) would have drawn the zoomed shots larger or smaller
    single, _ = cleaning.normalize(cut.to_layout(lay).keypoints[0], lay)
    per_shot = [np.nanmedian(_widths(single[a:b], lay)) for a, b in zip(bounds[:-1], bounds[1:])]
    assert max(per_shot) / min(per_shot) > 1.3


def test_camera_cuts_is_seeded_and_crops_to_the_frame():
    seq = _video(8, "nfbl56", minutes=0.5)
    a, sa = shots.camera_cuts(seq, seed=1)
    b, sb = shots.camera_cuts(seq, seed=1)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(sa, sb)
    w, h = seq.frame_size
    present = a.keypoints[..., 2] > 0
    xy = a.keypoints[..., :2][present]
    assert (xy[:, 0] >= 0).all() and (xy[:, 0] < w).all() and (xy[:, 1] < h).all()
    big = shots.camera_cuts(seq, seed=1, config=shots.CameraCuts(zoom=(2.5, 3.0), min_change=1.0))[0]
    assert (big.keypoints[..., 2] > 0).mean() < (seq.keypoints[..., 2] > 0).mean()  # cropped
    widths = _widths(a.keypoints[0], seq.layout_def)
    bounds = [0, *sa, seq.num_frames]
    med = [np.nanmedian(widths[x:y]) for x, y in zip(bounds[:-1], bounds[1:])]
    assert all(max(p, q) / min(p, q) > 1.25 for p, q in zip(med[:-1], med[1:]))  # min_change 1.3


def test_streaming_follows_cuts_within_a_second():
    seq = _video(31, "openpose_body25_hands", minutes=1.0)
    cut, starts = shots.camera_cuts(seq, seed=6)
    prep = OnlinePreparer(_Card(), cut.layout)
    out = [prep.push(cut.keypoints[0, a:a + 97], cut.timestamps[a:a + 97])[0]
           for a in range(0, cut.num_frames, 97)]
    out.append(prep.flush()[0])
    got = np.concatenate(out)
    assert len(got) == cut.num_frames
    assert len(prep.cuts) == len(starts) and np.abs(np.array(prep.cuts) - starts).max() <= 2
    # once a cut is confirmed (25 frames with both shoulders, about 1 s), the new shot is
    # drawn at about one shoulder width again
    w = _widths(got, skeletons.CANONICAL)
    bounds = [*starts, cut.num_frames]
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert np.nanmedian(w[a + 40:b]) == pytest.approx(1.0, abs=0.1)
