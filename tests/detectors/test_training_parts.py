"""Training building blocks: dense targets, augmentations, losses, config (no model needed)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nfbl.core import skeletons  # noqa: E402
from nfbl.detectors import augment as A  # noqa: E402
from nfbl.detectors import data as D  # noqa: E402
from nfbl.detectors.config import TrainConfig, config_from_dict, load_config  # noqa: E402
from nfbl.detectors.losses import boundary_loss, iou_loss_1d, sigmoid_focal_loss  # noqa: E402
from nfbl.core.errors import NfblError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_dense_targets_from_hand_made_events_are_exact():
    fps = 10.0
    times = np.arange(20) / fps
    # class 0: [0.3, 0.7) -> frames 3..6; class 1: [0.25, 0.5) -> frames 3, 4;
    # class 0 again overlapping [0.6, 1.2) -> frames 6..11; frame 6 belongs to both, the
    # shorter one ([0.3, 0.7), 0.4 s) is regressed there.
    labels = np.array([0, 1, 0])
    starts = np.array([0.3, 0.25, 0.6])
    ends = np.array([0.7, 0.5, 1.2])
    cls, dist = D.dense_targets(labels, starts, ends, times, 1 / fps, 3)
    want0 = np.zeros(20)
    want0[3:12] = 1
    want1 = np.zeros(20)
    want1[3:5] = 1
    np.testing.assert_array_equal(cls[:, 0], want0)
    np.testing.assert_array_equal(cls[:, 1], want1)
    assert not cls[:, 2].any()
    np.testing.assert_allclose(dist[3, 0], [0.0, 4.0], atol=1e-5)
    np.testing.assert_allclose(dist[6, 0], [3.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(dist[7, 0], [1.0, 5.0], atol=1e-5)
    np.testing.assert_allclose(dist[11, 0], [5.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(dist[3, 1], [0.5, 2.0], atol=1e-5)
    np.testing.assert_allclose(dist[4, 1], [1.5, 1.0], atol=1e-5)
    assert (dist[cls == 0] == 0).all()
    # decoding a positive frame's distances gives the event back exactly
    for t in range(7, 12):
        s = times[t] - dist[t, 0, 0] / fps
        e = times[t] + dist[t, 0, 1] / fps
        assert s == pytest.approx(0.6) and e == pytest.approx(1.2)


def _record(T=100, V=56, fps=25.0):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, V, 3)).astype(np.float32)
    x[..., 2] = 1.0
    from nfbl.core.events import Event, EventStream
    ev = EventStream((Event("v", 16, 1.0, 2.0), Event("v", 22, 0.2, 0.6), Event("v", 1, 0, 1)))
    return D.make_record("v", x, np.arange(T) / fps, fps, ev, class_ids=[16, 22])


def test_make_record_keeps_model_classes_and_windows_cover_video():
    r = _record()
    assert list(r.labels) == [0, 1]
    np.testing.assert_array_equal(D.window_starts(100, 32, 16), [0, 16, 32, 48, 64, 68])
    idx = D.window_index([r], 32, 16)
    wc = D.window_classes([r], idx, 32, 2)
    assert wc[0].tolist() == [True, True] and wc[3].tolist() == [True, False]
    assert wc[4].tolist() == [False, False]


def test_balanced_weights_favour_rare_classes():
    classes = np.zeros((10, 2), dtype=bool)
    classes[:8, 0] = True
    classes[8, 1] = True
    w = D.balanced_weights(classes, power=1.0, background_weight=0.5)
    assert w[8] > w[0] > w[9] > 0 and w.sum() == pytest.approx(1.0)
    assert w[8] / w[0] == pytest.approx(8.0)


def test_cut_window_speed_and_padding():
    r = _record()
    spec = D.WindowSpec(0, 80, 1.0, 1)
    w = D.cut_window(r, spec, 32, 2)
    assert w["x"].shape == (32, 56, 3) and w["valid"].sum() == 20
    assert not w["cls"][20:].any()
    fast = D.cut_window(r, D.WindowSpec(0, 0, 2.0, 1), 32, 2)
    # at speed 2 output frame i is source frame 2i; class 0 (16) covers source frames 25..49
    np.testing.assert_array_equal(np.flatnonzero(fast["cls"][:, 0]), np.arange(13, 25))
    # distances are in output frames: source frame 26 = output 13, 1 source frame after start
    np.testing.assert_allclose(fast["dist"][13, 0], [0.5, 12.0], atol=1e-4)
    np.testing.assert_allclose(fast["x"][5], r.x[10].astype(np.float32))


def test_shard_splits_epoch_between_ranks():
    specs = [D.WindowSpec(0, i, 1.0, i) for i in range(7)]
    a, b = D.shard(specs, 0, 2), D.shard(specs, 1, 2)
    assert len(a) == len(b) == 3 and not {s.start for s in a} & {s.start for s in b}


def test_augment_keeps_missing_joints_missing_and_flip_swaps_wrists():
    lay = skeletons.CANONICAL
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, lay.num_joints, 3)).astype(np.float32)
    x[..., 2] = 0.9
    missing = rng.random((40, lay.num_joints)) < 0.3
    x[missing] = 0.0
    cfg = A.AugmentConfig(flip_prob=1.0)
    for seed in range(5):
        y, flipped = A.augment_window(x, np.random.default_rng(seed), cfg, lay)
        assert flipped
        # every joint missing before is missing after (at its mirrored index)
        assert (y[:, lay.flip_permutation][missing] == 0).all()
    lw, rw = lay.index["left_wrist"], lay.index["right_wrist"]
    f = A.flip(x, lay)
    np.testing.assert_array_equal(f[:, rw, 1], x[:, lw, 1])
    np.testing.assert_array_equal(f[:, rw, 0][~missing[:, lw]], -x[:, lw, 0][~missing[:, lw]])
    np.testing.assert_array_equal(A.flip(f, lay), x)
    np.testing.assert_array_equal(A.identity_class_flip(4), [0, 1, 2, 3])


def test_resample_never_blends_missing_joints():
    x = np.zeros((3, 1, 3), dtype=np.float32)
    x[0] = [1, 1, 1]
    x[2] = [3, 3, 1]
    y = A.resample(x, np.array([0.0, 0.25, 0.75, 1.5, 2.0]))
    assert y[1, 0, 2] == 1 and y[1, 0, 0] == 1  # nearest (frame 0), not a blend with missing
    assert y[2, 0, 2] == 0  # nearest is the missing frame 1
    assert y[4, 0, 0] == 3
    z = A.resample(np.concatenate([x[:1], x[2:]]), np.array([0.5]))
    assert z[0, 0, 0] == pytest.approx(2.0)


def test_hand_dropout_drops_whole_hand():
    lay = skeletons.CANONICAL
    x = np.ones((30, lay.num_joints, 3), dtype=np.float32)
    y = A.hand_dropout(x, np.random.default_rng(0), 1.0, (1.0, 1.0), lay)
    for side in ("left", "right"):
        assert (y[:, list(lay.joints_matching(f"{side}_hand_"))] == 0).all()
    assert (y[:, lay.index["left_wrist"]] == 1).all()


def test_layout_roundtrip_is_what_prepare_makes_of_a_miga35_file():
    from types import SimpleNamespace
    from nfbl.exports.model_input import prepare
    from nfbl.synth import SynthConfig, generate_video
    lay = skeletons.CANONICAL
    seq, _ = generate_video(SynthConfig(minutes=0.1, layout="openpose_body25_hands"), seed=4)
    spec = SimpleNamespace(layout="nfbl56", fps=25.0)
    x, _ = prepare(seq, 0, spec)
    miga = skeletons.get_layout("miga35")
    reduced = seq.with_keypoints(skeletons.convert(seq.keypoints, seq.layout_def, miga), "miga35")
    want, _ = prepare(reduced, 0, spec)
    got = A.layout_roundtrip(x, np.random.default_rng(0), 1.0, ("miga35",), lay)
    np.testing.assert_array_equal(got, want)
    # fingertips and the hand's wrist (derived from the body's wrist) stay, the rest goes
    assert (got[:, lay.index["left_hand_index_mcp"]] == 0).all()
    assert (got[:, lay.index["right_hand_thumb_cmc"]] == 0).all()
    assert (got[:, lay.index["left_hand_index_tip"], 2] > 0).mean() > 0.5
    np.testing.assert_array_equal(got[:, lay.index["right_hand_wrist"]], x[:, lay.index["right_wrist"]])
    # p = 0 returns the window untouched and draws nothing (older configs keep their streams)
    rng = np.random.default_rng(1)
    assert A.layout_roundtrip(x, rng, 0.0) is x
    assert rng.random() == np.random.default_rng(1).random()
    with pytest.raises(NfblError):
        A.AugmentConfig(roundtrip_layouts=("no_such_layout",))
    with pytest.raises(NfblError, match="layout_roundtrip"):
        config_from_dict({"augment": {"layout_roundtrip": 1.5}})


def test_losses():
    logits = torch.tensor([[[5.0, -5.0]]])
    good = sigmoid_focal_loss(logits, torch.tensor([[[1.0, 0.0]]]))
    bad = sigmoid_focal_loss(logits, torch.tensor([[[0.0, 1.0]]]))
    assert good < 1e-3 < bad
    p = torch.tensor([[2.0, 3.0]])
    assert iou_loss_1d(p, p).item() == pytest.approx(0.0, abs=1e-6)
    # IoU of [−2, 3] and [−1, 1] = 2/5
    assert iou_loss_1d(p, torch.tensor([[1.0, 1.0]]), kind="iou").item() == pytest.approx(0.6)
    for kind in ("giou", "diou"):
        assert iou_loss_1d(p, torch.tensor([[1.0, 1.0]]), kind=kind).item() >= 0.6
    mask = torch.zeros(1, 1, 2, dtype=torch.bool)
    assert boundary_loss(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), mask).item() == 0.0


def test_config_roundtrip_and_unknown_key(tmp_path):
    cfg = TrainConfig()
    assert config_from_dict(cfg.to_dict()) == cfg
    with pytest.raises(NfblError, match="unknown key 'lrr'"):
        config_from_dict({"optim": {"lrr": 1.0}})
    with pytest.raises(NfblError, match="must be an integer"):
        config_from_dict({"data": {"window": "big"}})
    for f in sorted((REPO / "configs").glob("*.toml")):
        load_config(f)


def test_cli_unknown_config_key_is_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[optim]\nlearning_rate = 0.1\n")
    r = subprocess.run([sys.executable, "-m", "nfbl", "train", "--config", str(cfg)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'learning_rate'" in lines[0] and "bad.toml" in lines[0]


def test_dense_targets_agree_with_decoding_encode():
    from nfbl.exports import decoding
    from nfbl.core.events import Event
    rng = np.random.default_rng(5)
    events = []
    for _ in range(30):
        s = float(rng.uniform(0, 18))
        events.append(Event("v", int(rng.choice([16, 22, 31])), s, s + float(rng.uniform(0.2, 3))))
    times = np.arange(500) / 25.0
    ids = [16, 22, 31]
    labels, offsets = decoding.encode(events, times, ids, fps=25.0)
    idx = {c: k for k, c in enumerate(ids)}
    cls, dist = D.dense_targets(np.array([idx[e.class_id] for e in events]),
                                np.array([e.start for e in events]),
                                np.array([e.end for e in events]), times, 1 / 25.0, 3)
    np.testing.assert_array_equal(cls, labels)
    np.testing.assert_allclose(dist, offsets, atol=1e-3)


def test_cli_max_epochs_stops_early_and_resume_finishes(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'extends = "{(REPO / "configs" / "tiny_smoke.toml").as_posix()}"\n'
                   '[data]\ntrain_videos = 2\nval_videos = 1\nminutes = 0.3\n'
                   '[optim]\nsteps_per_epoch = 2\n')
    run = [sys.executable, "-m", "nfbl", "train", "--config", str(cfg), "--device", "cpu",
           "--out", str(tmp_path / "run")]
    r = subprocess.run(run + ["--max-epochs", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1]
    r = subprocess.run(run + ["--resume", str(tmp_path / "run" / "last.pt")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    bad = subprocess.run(run + ["--max-epochs", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
