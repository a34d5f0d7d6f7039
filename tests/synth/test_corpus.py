"""Timelines match the iMiGUE statistics; videos are deterministic; every layout converts."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from nfbl.core import skeletons, taxonomy
from nfbl.core.errors import NfblError
from nfbl.synth import LAYOUTS, NoiseConfig, SynthConfig, generate_video, write_corpus
from nfbl.synth import timeline as TL
from nfbl.synth.corpus import GENERATED_CLASSES


def test_generated_classes_are_the_skeleton_visible_ones():
    assert set(GENERATED_CLASSES) == set(taxonomy.SKELETON_VISIBLE_IDS)
    assert 34 in GENERATED_CLASSES and 1 not in GENERATED_CLASSES and 28 not in GENERATED_CLASSES


def test_calibration_file_ships_with_the_package():
    from importlib import resources
    assert resources.files("nfbl.synth").joinpath("imigue_event_stats.json").is_file()
    assert TL.load_stats()["consecutive_pairs_overlapping_share"] == pytest.approx(0.252)


@pytest.fixture(scope="module")
def timelines():
    probs = TL.class_probabilities(GENERATED_CLASSES, 0.0)
    out = []
    for i in range(150):
        out.append(TL.sample_timeline(np.random.default_rng([7, i]), 5 * 60 * 25, 25.0, probs))
    return probs, out


def test_timeline_statistics_match_the_calibration_file(timelines):
    probs, videos = timelines
    stats = TL.load_stats()
    events = [e for v in videos for e in v]
    n = len(events)
    counts = Counter(e.class_id for e in events)
    # class shares: the big classes within 2 points, every class within 3 standard errors + 0.5 point
    for cid, p in probs.items():
        se = np.sqrt(p * (1 - p) / n)
        assert abs(counts[cid] / n - p) < 3 * se + 0.005, cid
    # median durations per class (classes with enough events) within 15 %
    rows = {r["id"]: r for r in stats["classes"]}
    for cid in (31, 30, 19, 7, 22, 23):
        d = np.array([e.end - e.start for e in events if e.class_id == cid])
        assert abs(np.median(d) / rows[cid]["duration_frames"]["p50"] - 1) < 0.15, cid
    # one in four events starts before the previous one ends
    ov = np.mean([TL.overlap_share(v) for v in videos])
    assert abs(ov - stats["consecutive_pairs_overlapping_share"]) < 0.04
    # events per minute: median across videos
    rate = np.median([len(v) / 5.0 for v in videos])
    assert abs(rate / stats["events_per_minute"]["p50"] - 1) < 0.15
    # overlapping events never share a body resource
    for v in videos:
        for a in v:
            for b in v:
                if a is not b and a.start < b.end and b.start < a.end:
                    assert not (a.resources & b.resources)


def test_flatten_tail_moves_towards_uniform():
    p0 = TL.class_probabilities(GENERATED_CLASSES, 0.0)
    p1 = TL.class_probabilities(GENERATED_CLASSES, 1.0)
    ph = TL.class_probabilities(GENERATED_CLASSES, 0.5)
    assert max(p1.values()) == pytest.approx(1 / len(GENERATED_CLASSES))
    assert p0[31] > ph[31] > p1[31] and p0[18] < ph[18] < p1[18]
    with pytest.raises(NfblError):
        TL.class_probabilities(GENERATED_CLASSES, 1.5)
    with pytest.raises(NfblError):
        TL.class_probabilities((28,), 0.0)  # Pressing lips is not skeleton-visible


def test_duration_inverse_cdf_goes_through_the_quantiles():
    knots = TL.duration_knots(16)
    q = TL.load_stats()["classes"][16]["duration_frames"]
    assert TL.inverse_cdf(0.5, knots) == pytest.approx(q["p50"])
    assert TL.inverse_cdf(0.05, knots) == pytest.approx(q["p5"])


def test_generate_video_shapes_and_ground_truth():
    cfg = SynthConfig(minutes=0.5)
    seq, events = generate_video(cfg, seed=0, video_id="v0")
    assert seq.keypoints.dtype == np.float32 and seq.keypoints.shape == (1, 750, 56, 3)
    assert seq.layout == "nfbl56" and seq.fps == 25.0 and seq.video_id == "v0"
    kp = seq.keypoints[0]
    assert np.all(kp[kp[..., 2] == 0] == 0)  # missing joints are (0, 0, 0)
    ok = kp[..., 2] > 0
    w, h = seq.frame_size
    assert (kp[..., 0][ok] >= 0).all() and (kp[..., 0][ok] < w).all() and (kp[..., 1][ok] < h).all()
    assert ok[:, :12].mean() > 0.8  # head and upper body mostly visible
    assert all(e.score == 1.0 and e.video_id == "v0" and e.class_id in GENERATED_CLASSES for e in events)
    assert all(0 <= e.start < e.end <= seq.duration + 1e-9 for e in events)
    # the subject's left shoulder appears on the image's right (camera in front)
    lsx, rsx = kp[:, 6, 0], kp[:, 7, 0]
    both = (kp[:, 6, 2] > 0) & (kp[:, 7, 2] > 0)
    assert np.mean(lsx[both] > rsx[both]) > 0.95


def test_same_seed_same_bytes_and_different_seed_differs():
    cfg = SynthConfig(minutes=0.3, layout="openpose_body25_hands")
    a, ea = generate_video(cfg, seed=11, video_id="x")
    b, eb = generate_video(cfg, seed=11, video_id="x")
    c, _ = generate_video(cfg, seed=12, video_id="x")
    assert a.keypoints.tobytes() == b.keypoints.tobytes()
    assert [e.to_dict() for e in ea] == [e.to_dict() for e in eb]
    assert a.keypoints.tobytes() != c.keypoints.tobytes()


def test_noise_level_does_not_change_the_motion():
    clean = SynthConfig(minutes=0.3, noise=NoiseConfig(level=0.0))
    a, ea = generate_video(clean, seed=3)
    b, eb = generate_video(replace(clean, noise=NoiseConfig(level=1.0)), seed=3)
    assert [e.to_dict() for e in ea] == [e.to_dict() for e in eb]
    both = (a.keypoints[..., 2] > 0) & (b.keypoints[..., 2] > 0)
    diff = np.abs(a.keypoints[..., :2] - b.keypoints[..., :2])[both]
    assert 0 < np.median(diff) < 20  # jitter of a few pixels, same motion
    assert (a.keypoints[..., 2] > 0).mean() > (b.keypoints[..., 2] > 0).mean()  # drops


@pytest.mark.parametrize("layout", [l for l in LAYOUTS if l != "nfbl56"])
def test_every_layout_converts_to_canonical_with_joints_in_place(layout):
    clean = SynthConfig(minutes=0.2, noise=NoiseConfig(level=0.0))
    ref, _ = generate_video(clean, seed=5)
    seq, _ = generate_video(replace(clean, layout=layout), seed=5)
    assert seq.layout == layout
    conv = seq.to_layout(skeletons.CANONICAL).keypoints[0]
    r = ref.keypoints[0]
    idx = skeletons.CANONICAL.index
    for name in ("left_wrist", "right_wrist", "left_shoulder", "right_elbow", "left_hand_index_tip",
                 "right_hand_thumb_tip", "nose"):
        j = idx[name]
        both = (conv[:, j, 2] > 0) & (r[:, j, 2] > 0)
        assert both.mean() > 0.3, name
        np.testing.assert_allclose(conv[both, j, :2], r[both, j, :2], atol=1e-3, err_msg=name)
    # neck: derived from the 2D shoulders in COCO/MediaPipe, the projected 3D mid-shoulder point
    # in BODY_25 and nfbl56: equal up to perspective (well under 1 % of the frame width)
    j = idx["neck"]
    both = (conv[:, j, 2] > 0) & (r[:, j, 2] > 0)
    np.testing.assert_allclose(conv[both, j, :2], r[both, j, :2], atol=0.01 * seq.frame_size[0])
    if layout == "coco_wholebody133":
        lay = skeletons.get_layout(layout)
        face = [lay.index[f"face_{i}"] for i in range(68)]
        assert (seq.keypoints[0][:, face, 2] == 0).all()
    if layout == "openpose_body25_hands":
        lay = skeletons.get_layout(layout)
        assert (seq.keypoints[0][:, lay.index["mid_hip"], 2] > 0).any() or (seq.keypoints[0][:, lay.index["left_hip"], 2] == 0).all()


def test_synth_cli_offers_every_generator_layout():
    from nfbl.cli.synth_cmd import LAYOUT_CHOICES
    assert LAYOUT_CHOICES == LAYOUTS


def test_miga35_videos_carry_fingertips_only():
    seq, _ = generate_video(SynthConfig(minutes=0.1, layout="miga35"), seed=2)
    lay = skeletons.get_layout("miga35")
    assert seq.keypoints.shape[2] == lay.num_joints == 35
    canon = seq.to_layout(skeletons.CANONICAL).keypoints[0]
    idx = skeletons.CANONICAL.index
    assert (canon[:, idx["left_hand_index_pip"], 2] == 0).all()
    assert (canon[:, idx["right_hand_pinky_tip"], 2] > 0).mean() > 0.5


def test_heldout_split_uses_other_bodies_and_cameras():
    for i in range(8):
        tr, _ = generate_video(SynthConfig(minutes=0.1), seed=i)
        ho, _ = generate_video(SynthConfig(minutes=0.1, split="heldout"), seed=i)
        assert abs(tr.meta["synth"]["camera"]["yaw_deg"]) <= 25.0 <= abs(ho.meta["synth"]["camera"]["yaw_deg"])
        assert 1.58 <= tr.meta["synth"]["body"]["height"] <= 1.86
        h = ho.meta["synth"]["body"]["height"]
        assert h < 1.58 or h > 1.86
        assert tuple(ho.frame_size) not in ((1280, 720), (1920, 1080))


def test_sampled_video_lengths_come_from_the_file():
    lengths = [generate_video(SynthConfig(minutes=None, fps=5.0), seed=i)[0].duration for i in range(6)]
    d = TL.load_stats()["video_duration_s"]
    assert all(d["min"] - 1 <= s <= d["max"] + 1 for s in lengths)
    assert len(set(round(s) for s in lengths)) > 3


def test_bad_config_is_a_user_error():
    with pytest.raises(NfblError, match="layout"):
        SynthConfig(layout="kinect_v2_25")
    with pytest.raises(NfblError, match="split"):
        SynthConfig(split="test")
    with pytest.raises(NfblError):
        SynthConfig(minutes=-1)


def test_write_corpus_files_and_manifest(tmp_path):
    from nfbl.io.event_formats import read_events
    from nfbl.core.sequence import PoseSequence

    cfg = SynthConfig(minutes=0.4, classes=(34, 16, 31))
    path = write_corpus(tmp_path / "a", n_videos=2, seed=4, config=cfg)
    man = json.loads(path.read_text())
    assert [v["video_id"] for v in man["videos"]] == ["synth_0000", "synth_0001"]
    for v in man["videos"]:
        seq = PoseSequence.load(tmp_path / "a" / v["keypoints"])
        ev = read_events(tmp_path / "a" / v["events"])
        assert seq.video_id == v["video_id"] and len(ev) == v["num_events"]
        im = read_events(tmp_path / "a" / v["imigue_csv"], fmt="imigue", fps=25.0)
        assert len(im) == sum(1 for e in ev if e.class_id != 34)
    # deterministic: same seed → identical keypoints and event files
    write_corpus(tmp_path / "b", n_videos=2, seed=4, config=cfg)
    for name in ("synth_0001.events.jsonl", "synth_0001.imigue.csv", "corpus.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    ka = PoseSequence.load(tmp_path / "a" / "synth_0001.npz").keypoints
    kb = PoseSequence.load(tmp_path / "b" / "synth_0001.npz").keypoints
    assert ka.tobytes() == kb.tobytes()
