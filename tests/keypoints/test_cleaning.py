"""Cleaning and tracking: interpolation, smoothing, normalisation, resampling, linking."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.keypoints import cleaning, tracking
from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.sequence import PoseSequence

COCO = skeletons.COCO17
LS, RS = COCO.index["left_shoulder"], COCO.index["right_shoulder"]


def linear_person(t_len: int = 30, v: int = 17, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(100, 400, size=(v, 2))
    vel = rng.uniform(-3, 3, size=(v, 2))
    t = np.arange(t_len)[:, None, None]
    kp = np.zeros((t_len, v, 3), np.float32)
    kp[..., :2] = base[None] + vel[None] * t
    kp[..., 2] = rng.uniform(0.5, 1.0, size=(t_len, v))
    return kp


def assert_missing_is_zero(kp: np.ndarray) -> None:
    missing = kp[..., 2] <= 0
    assert np.all(kp[missing] == 0.0)


# --- interpolate_gaps

def test_interpolation_exact_on_linear_motion():
    truth = linear_person()
    kp = truth.copy()
    kp[5:9, 3] = 0.0            # 4-frame gap
    kp[12:14, 7, :] = 0.0       # 2-frame gap
    out = cleaning.interpolate_gaps(kp, max_gap=10)
    np.testing.assert_allclose(out[5:9, 3, :2], truth[5:9, 3, :2], atol=1e-3)
    np.testing.assert_allclose(out[12:14, 7, :2], truth[12:14, 7, :2], atol=1e-3)
    expected = 0.5 * min(truth[4, 3, 2], truth[9, 3, 2])
    np.testing.assert_allclose(out[5:9, 3, 2], expected, rtol=1e-6)
    # untouched joints unchanged
    np.testing.assert_array_equal(out[:, 0], truth[:, 0])


def test_interpolation_leaves_long_gaps_and_edges_missing():
    kp = linear_person()
    kp[2:15, 1] = 0.0   # 13 frames > max_gap
    kp[:3, 2] = 0.0     # leading run: no left neighbour
    kp[-2:, 4] = 0.0    # trailing run
    kp[:, 5] = 0.0      # never present
    kp[0, 6, :2] = 55.0  # garbage coordinates of a missing joint
    kp[0, 6, 2] = 0.0
    out = cleaning.interpolate_gaps(kp, max_gap=10)
    assert np.all(out[2:15, 1] == 0) and np.all(out[:3, 2] == 0)
    assert np.all(out[-2:, 4] == 0) and np.all(out[:, 5] == 0)
    assert np.all(out[0, 6] == 0)
    assert_missing_is_zero(out)


def test_interpolation_batched_persons():
    kp = np.stack([linear_person(seed=1), linear_person(seed=2)])
    kp[1, 4:6, 0] = 0
    out = cleaning.interpolate_gaps(kp, max_gap=3)
    assert out.shape == kp.shape
    np.testing.assert_allclose(out[1, 4:6, 0, :2], linear_person(seed=2)[4:6, 0, :2], atol=1e-3)
    np.testing.assert_array_equal(out[0], kp[0])


# --- smooth

@pytest.mark.parametrize("method", ["savgol", cleaning.SmoothMethod.ONE_EURO])
def test_smooth_keeps_missing_missing_and_reduces_noise(method):
    rng = np.random.default_rng(3)
    truth = linear_person(60)
    noisy = truth.copy()
    noisy[..., :2] += rng.normal(0, 2.0, size=noisy[..., :2].shape)
    noisy[20:25, 2] = 0.0
    out = cleaning.smooth(noisy, method=method, window=7)
    assert_missing_is_zero(out)
    assert np.all(out[20:25, 2] == 0)
    np.testing.assert_array_equal(out[..., 2], noisy[..., 2])
    present = out[..., 2] > 0
    err_in = np.abs(noisy[..., :2] - truth[..., :2])[present].mean()
    err_out = np.abs(out[..., :2] - truth[..., :2])[present].mean()
    assert err_out < err_in


def test_savgol_is_identity_on_linear_motion():
    truth = linear_person(40)
    out = cleaning.smooth(truth, "savgol", window=7, polyorder=2)
    np.testing.assert_allclose(out, truth, atol=1e-3)


def test_smooth_rejects_bad_window():
    with pytest.raises(NfblError):
        cleaning.smooth(linear_person(), "savgol", window=4)
    with pytest.raises(ValueError):
        cleaning.smooth(linear_person(), "kalman")


# --- normalize

def test_normalize_centre_scale_and_invert():
    kp = linear_person(20)
    kp[:, LS, :2] = [300, 200]
    kp[:, RS, :2] = [200, 200]     # width 100, mid (250, 200)
    kp[3, 0] = 0.0                 # a missing joint
    kp[5, LS] = 0.0                # frame without a centre → nearest frame's centre
    out, norm = cleaning.normalize(kp, COCO)
    assert norm.scale.shape == () and float(norm.scale) == pytest.approx(100.0)
    assert norm.center.shape == (20, 2)
    np.testing.assert_allclose(norm.center[5], norm.center[4])
    np.testing.assert_allclose(out[0, LS, :2], [0.5, 0.0], atol=1e-6)
    np.testing.assert_array_equal(out[..., 2], kp[..., 2])
    assert np.all(out[3, 0] == 0) and np.all(out[5, LS] == 0)
    back = norm.invert(out)
    np.testing.assert_allclose(back, kp, atol=1e-3)
    assert_missing_is_zero(back)


def test_normalize_uses_neck_when_layout_has_one():
    lay = skeletons.OPENPOSE_BODY25_HANDS
    kp = np.zeros((4, lay.num_joints, 3), np.float32)
    neck, ls, rs = lay.index["neck"], lay.index["left_shoulder"], lay.index["right_shoulder"]
    kp[:, neck] = [100, 50, 0.9]
    kp[:, ls] = [160, 60, 0.9]
    kp[:, rs] = [40, 60, 0.9]
    kp[2, neck] = 0.0  # this frame falls back to mid-shoulders
    out, norm = cleaning.normalize(kp[None], lay)
    assert out.shape == (1, 4, lay.num_joints, 3) and norm.scale.shape == (1,)
    np.testing.assert_allclose(norm.center[0, 0], [100, 50])
    np.testing.assert_allclose(norm.center[0, 2], [100, 60])
    assert float(norm.scale[0]) == pytest.approx(120.0)
    assert_missing_is_zero(out)


def test_normalize_without_shoulders_falls_back():
    kp = np.zeros((3, COCO.num_joints, 3), np.float32)
    kp[:, 0] = [10, 10, 1]
    kp[:, 9] = [50, 40, 1]
    out, norm = cleaning.normalize(kp, "coco17")
    assert norm.scale_source == "bbox_diagonal/4"
    assert float(norm.scale) == pytest.approx(12.5)
    np.testing.assert_allclose(norm.invert(out), kp, atol=1e-4)


# --- resample

def make_seq(kp, fps=25.0, ts=None):
    ts = np.arange(kp.shape[-3]) / fps if ts is None else ts
    return PoseSequence(kp, "coco17", fps, ts, (640, 480), video_id="v")


def test_resample_same_rate_keeps_timestamps_and_values():
    seq = make_seq(linear_person(25))
    out = cleaning.resample(seq, 25.0)
    np.testing.assert_array_equal(out.timestamps, seq.timestamps)
    np.testing.assert_allclose(out.keypoints, seq.keypoints, atol=1e-4)


def test_resample_variable_rate_to_constant():
    kp = linear_person(11)  # linear in frame index
    ts = np.array([0.0, 0.1, 0.15, 0.3, 0.4, 0.5, 0.55, 0.6, 0.8, 0.9, 1.0])
    kp[..., :2] = ts[:, None, None] * 100.0 + np.arange(17)[None, :, None]  # linear in time
    kp[4, 2] = 0.0  # joint 2 missing at t=0.4
    seq = make_seq(kp, fps=10.0, ts=ts)
    out = cleaning.resample(seq, 20.0)
    assert out.fps == 20.0 and out.num_frames == 21
    np.testing.assert_allclose(out.timestamps, np.arange(21) / 20.0)
    present = out.keypoints[0, ..., 2] > 0
    expect = out.timestamps[:, None] * 100.0 + np.arange(17)[None, :]
    np.testing.assert_allclose(out.keypoints[0, ..., 0][present],
                               np.broadcast_to(expect, present.shape)[present], atol=1e-3)
    # t=0.35 and 0.45 have a neighbour with joint 2 missing; t=0.40 hits it exactly
    for t in (0.35, 0.40, 0.45):
        k = int(round(t * 20))
        assert np.all(out.keypoints[0, k, 2] == 0)
    assert out.keypoints[0, 10, 2, 2] > 0  # t=0.5 exact hit, present
    assert_missing_is_zero(out.keypoints)


# --- tracking

def person_at(x: float, y: float, v: int = 17, size: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(int(x * 7 + y))
    pose = np.zeros((v, 3), np.float32)
    pose[:, 0] = x + rng.uniform(-size / 2, size / 2, v)
    pose[:, 1] = y + rng.uniform(-size, size, v)
    pose[:, 2] = 0.9
    return pose


def test_link_people_two_persons_swapped_order_and_gap():
    a, b = person_at(200, 300), person_at(500, 300)
    frames = [np.stack([a, b]), np.stack([b + [2, 0, 0], a + [1, 1, 0]]),
              np.zeros((0, 17, 3), np.float32),           # empty frame
              np.stack([a + [3, 0, 0]]),                    # b has left
              np.stack([b + [4, 0, 0], a + [4, 0, 0]])]     # b comes back
    kp, ids = tracking.link_people(frames)
    assert kp.shape == (2, 5, 17, 3) and list(ids) == [0, 1]
    np.testing.assert_allclose(kp[0, 1, :, 0], a[:, 0] + 1)
    np.testing.assert_allclose(kp[1, 4, :, 0], b[:, 0] + 4)
    assert np.all(kp[:, 2] == 0) and np.all(kp[1, 3] == 0)


def test_link_people_closes_lost_tracks_and_starts_new():
    a = person_at(200, 300)
    frames = [a[None]] + [np.zeros((0, 17, 3))] * 3 + [a[None]]
    kp, ids = tracking.link_people(frames, max_lost=2, max_rejoin=0)
    assert kp.shape[0] == 2
    kp, ids = tracking.link_people(frames, max_lost=5)
    assert kp.shape[0] == 1


def test_link_people_rejoins_a_person_lost_for_a_while():
    a, b = person_at(200, 300), person_at(600, 300)
    gap = [b[None]] * 60  # only the bystander for 60 frames (> max_lost)
    frames = [np.stack([a, b])] * 10 + gap + [np.stack([b, a])] * 10
    kp, ids = tracking.link_people(frames, max_lost=25)
    assert kp.shape[:2] == (2, 80) and list(ids) == [0, 1]
    assert (kp[0, :10, :, 2] > 0).all() and (kp[0, 70:, :, 2] > 0).all()
    assert (kp[0, 10:70, :, 2] == 0).all()
    np.testing.assert_array_equal(kp[0, 75], a)
    assert (kp[1, :, :, 2] > 0).all()  # the bystander is one track throughout
    # switched off, or back after more than max_rejoin frames: a new track
    assert tracking.link_people(frames, max_lost=25, max_rejoin=0)[0].shape[0] == 3
    assert tracking.link_people(frames, max_lost=25, max_rejoin=40)[0].shape[0] == 3
    # someone else at another place is not a continuation
    c = person_at(400, 100)
    other = [np.stack([a, b])] * 10 + gap + [np.stack([b, c])] * 10
    assert tracking.link_people(other, max_lost=25)[0].shape[0] == 3
    # each lost track is continued once, by the nearest newcomer
    near = a + np.array([5.0, 0.0, 0.0], np.float32)
    two = [a[None]] * 5 + [np.zeros((0, 17, 3))] * 30 + [np.stack([near, a])] * 5
    kp, _ = tracking.link_people(two, max_lost=25)
    assert kp.shape[0] == 2
    np.testing.assert_array_equal(kp[0, 36], a)


def test_link_people_min_frames_drops_flickers():
    a, b = person_at(200, 300), person_at(600, 300)
    frames = [np.stack([a, b]), a[None], a[None]]
    assert tracking.link_people(frames)[0].shape[0] == 2
    kp, ids = tracking.link_people(frames, min_frames=2)
    assert kp.shape == (1, 3, 17, 3) and list(ids) == [0]


def test_link_people_max_distance_and_empty_input():
    a = person_at(200, 300)
    kp, _ = tracking.link_people([a[None], (a + [30, 0, 0])[None]], max_distance=10.0)
    assert kp.shape[0] == 2
    kp, ids = tracking.link_people([np.zeros((0, 17, 3))] * 3, num_joints=17)
    assert kp.shape == (0, 3, 17, 3) and ids.shape == (0,)


def test_choose_interviewee_and_select_person():
    t_len = 10
    kp = np.zeros((3, t_len, 17, 3), np.float32)
    for t in range(t_len):
        kp[0, t] = person_at(100, 100, size=40)      # small, off-centre
        kp[1, t] = person_at(640, 360, size=200)     # big, central
    kp[2, :2] = person_at(640, 360, size=200)        # big, central, brief
    assert tracking.choose_interviewee(kp, (1280, 720)) == 1
    seq = PoseSequence(kp, "coco17", 25.0, np.arange(t_len) / 25, (1280, 720),
                       track_ids=np.array([4, 7, 9]))
    one = tracking.select_person(seq)
    assert one.num_persons == 1 and list(one.track_ids) == [7]
    assert list(tracking.select_person(seq, 2).track_ids) == [9]
    with pytest.raises(NfblError):
        tracking.select_person(seq, 3)


def test_missing_never_becomes_zero_with_positive_score():
    rng = np.random.default_rng(7)
    kp = np.zeros((2, 40, 17, 3), np.float32)
    kp[..., :2] = rng.uniform(100, 500, kp[..., :2].shape)
    kp[..., 2] = rng.uniform(0.2, 1.0, kp.shape[:-1])
    kp[rng.random(kp.shape[:-1]) < 0.3] = 0.0   # 30% missing, scattered
    kp[0, 10:30, 5] = 0.0                        # a long gap
    seq = make_seq(kp, fps=25.0)

    def leaks(x):
        return bool(((x[..., 0] == 0) & (x[..., 1] == 0) & (x[..., 2] > 0)).any())

    filled = cleaning.interpolate_gaps(kp, max_gap=4)
    assert not leaks(filled) and np.all(filled[0, 10:30, 5] == 0)
    assert not leaks(cleaning.smooth(filled, "savgol", window=5))
    assert not leaks(cleaning.smooth(filled, "one_euro"))
    assert not leaks(cleaning.resample(seq, 30.0).keypoints)
    norm_kp, norm = cleaning.normalize(kp, COCO)
    assert_missing_is_zero(norm_kp)
    assert not leaks(norm.invert(norm_kp))
    for out in (filled, cleaning.resample(seq, 30.0).keypoints, norm_kp):
        assert_missing_is_zero(out)


def test_normalize_accepts_an_empty_sequence():
    import numpy as np

    from nfbl.keypoints import cleaning
    from nfbl.core import skeletons
    out, norm = cleaning.normalize(np.zeros((0, 56, 3), np.float32), skeletons.CANONICAL)
    assert out.shape == (0, 56, 3) and norm.center.shape == (0, 2)


def test_persons_is_the_one_selection_type():
    import numpy as np
    from nfbl.core.sequence import PoseSequence
    from nfbl.keypoints.tracking import Persons
    kp = np.zeros((3, 4, 56, 3), np.float32)
    kp[..., 2] = 1.0
    kp[0, ..., :2] = np.random.default_rng(0).uniform(0, 50, (4, 56, 2))     # small, corner
    kp[1, ..., :2] = np.random.default_rng(1).uniform(300, 700, (4, 56, 2))  # big, central
    kp[2, ..., :2] = np.random.default_rng(2).uniform(900, 950, (4, 56, 2))
    seq = PoseSequence(kp, "nfbl56", fps=25.0, timestamps=np.arange(4) / 25.0,
                       frame_size=(1000, 1000), track_ids=np.array([7, 8, 9]))
    assert Persons.parse(None).resolve(seq) == [1] == Persons.parse("interviewee").resolve(seq)
    assert Persons.parse("all").resolve(seq) == [0, 1, 2]
    assert Persons.parse("0,2").resolve(seq) == [0, 2] == Persons.parse([0, -1]).resolve(seq)
    assert list(Persons.parse(2).apply(seq).track_ids) == [9]
    assert str(Persons.parse("0,2")) == "0,2" and str(Persons()) == "interviewee"
    with pytest.raises(NfblError, match="out of range"):
        Persons.parse(5).resolve(seq)
    with pytest.raises(NfblError, match="track indices"):
        Persons.parse("someone")


def test_resample_refuses_a_huge_gap_instead_of_allocating_it():
    kp = linear_person(4)
    seq = make_seq(kp, ts=np.array([0.0, 0.04, 0.08, 4e7]))  # a frame number 1e9 at 25 fps
    with pytest.raises(NfblError, match="huge gap"):
        cleaning.resample(seq, 25.0)
    sparse = make_seq(linear_person(3), ts=np.array([0.0, 600.0, 1200.0]))  # 20 min, 3 frames
    assert cleaning.resample(sparse, 25.0).num_frames == 30001  # under 3 h: allowed


def test_mirrored_frames_reflect_x_and_keep_the_names():
    seq = make_seq(linear_person(5))
    out = cleaning.mirrored_frames(seq)
    present = seq.keypoints[..., 2] > 0
    np.testing.assert_allclose(out.keypoints[..., 0][present], 639 - seq.keypoints[..., 0][present])
    np.testing.assert_array_equal(out.keypoints[..., 1:], seq.keypoints[..., 1:])
    assert out.layout == seq.layout
    with pytest.raises(NfblError, match="frame size"):
        cleaning.mirrored_frames(PoseSequence(seq.keypoints, "coco17", 25.0, seq.timestamps, (0, 0)))
