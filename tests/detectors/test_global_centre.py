"""The global-centre input: whole-body displacement carried by the centre joint (the neck).

prepare() writes it for a card with ``global_centre``; the streaming preparer matches it; the
model's bones ignore it; training augmentation moves only it; the card is written as
version 2; a model fine-tuned from a neck-centred checkpoint starts where that one was.
"""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.keypoints import cleaning
from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.exports.model_input import OnlinePreparer, add_global_centre, prepare
from nfbl.exports.modelcard import ModelCard
from nfbl.core.sequence import PoseSequence

LAY = skeletons.CANONICAL
NECK = LAY.index[LAY.center]


def _card(global_centre: bool) -> ModelCard:
    return ModelCard(name="m", version="1", layout="nfbl56", fps=25.0, class_ids=(16, 19, 20),
                     window=512, stride=32, receptive_field=300, global_centre=global_centre)


def _moving_person(t: int = 100, seed: int = 0) -> PoseSequence:
    """A person (every joint present) whose body drifts 60 px right and 20 px up over the clip."""
    rng = np.random.default_rng(seed)
    base = np.zeros((LAY.num_joints, 3), np.float32)
    base[:, :2] = rng.normal(0, 40, size=(LAY.num_joints, 2))
    base[:, 2] = 0.9
    base[LAY.index["left_shoulder"], :2] = (50, 0)     # shoulders 100 px apart
    base[LAY.index["right_shoulder"], :2] = (-50, 0)
    base[NECK, :2] = (0, 0)
    kp = np.repeat(base[None], t, axis=0)
    drift = np.stack([np.linspace(0, 60, t), np.linspace(0, -20, t)], -1).astype(np.float32)
    kp[..., :2] += np.float32([320, 240]) + drift[:, None, :]
    kp[..., :2] += rng.normal(0, 1.0, size=kp[..., :2].shape).astype(np.float32)
    return PoseSequence(kp[None], "nfbl56", 25.0, np.arange(t) / 25.0, (640, 480), video_id="v")


def test_prepare_puts_the_displacement_into_the_neck_only():
    seq = _moving_person()
    xg, _ = prepare(seq, 0, _card(True))
    x0, _ = prepare(seq, 0, _card(False))
    others = np.arange(LAY.num_joints) != NECK
    np.testing.assert_array_equal(xg[:, others], x0[:, others])
    assert np.all(x0[:, NECK, :2] == 0)                        # neck-centred: always (0, 0)
    neck_px = seq.keypoints[0, :, NECK, :2].astype(np.float64)
    _, norm = cleaning.normalize(seq.keypoints[0], LAY)
    want = (neck_px - np.median(neck_px, axis=0)) / norm.scale
    np.testing.assert_allclose(xg[:, NECK, :2], want, atol=1e-5)
    assert xg[-1, NECK, 0] - xg[0, NECK, 0] == pytest.approx(0.6, abs=0.05)   # 60 px / 100 px
    assert xg[-1, NECK, 1] - xg[0, NECK, 1] == pytest.approx(-0.2, abs=0.05)
    np.testing.assert_array_equal(xg[:, NECK, 2], x0[:, NECK, 2])


def test_add_global_centre_leaves_frames_without_a_neck_alone():
    x = np.zeros((4, LAY.num_joints, 3), np.float32)
    x[:, NECK, 2] = [0.9, 0.0, 0.8, 0.7]
    centre = np.array([[10.0, 0], [99.0, 99], [20, 0], [30, 10]])
    out = add_global_centre(x, centre, 10.0, LAY)
    np.testing.assert_allclose(out[:, NECK, :2], [[-1, 0], [0, 0], [0, 0], [1, 1]])
    assert np.all(x[:, NECK, :2] == 0)                         # input untouched
    ref = add_global_centre(x, centre, 10.0, LAY, reference=np.array([0.0, 0.0]))
    np.testing.assert_allclose(ref[:, NECK, :2], [[1, 0], [0, 0], [2, 0], [3, 1]])


def test_online_preparer_gives_the_offline_global_centre():
    seq = _moving_person(t=60)
    want, _ = prepare(seq, 0, _card(True))
    prep = OnlinePreparer(_card(True), "nfbl56", warmup_frames=10 ** 6)   # reference = whole clip
    prep.push(seq.keypoints[0], seq.timestamps)
    got, _ = prep.flush()
    np.testing.assert_allclose(got, want, atol=1e-5)
    more, _ = prep.push(seq.keypoints[0, -5:], seq.timestamps[-5:])
    np.testing.assert_allclose(more, want[-5:], atol=1e-5)     # keeps its reference
    # streaming with a short warm-up: the reference is the warm-up median
    prep = OnlinePreparer(_card(True), "nfbl56", warmup_frames=10)
    got, _ = prep.push(seq.keypoints[0, :20], seq.timestamps[:20])
    neck_px = seq.keypoints[0, :20, NECK, :2].astype(np.float64)
    want_neck = (neck_px - np.median(neck_px, axis=0)) / prep.scale
    np.testing.assert_allclose(got[:, NECK, :2], want_neck, atol=1e-5)


def test_card_with_global_centre_is_version_2_and_round_trips():
    card = _card(True)
    d = card.to_dict()
    assert d["card_version"] == 2 and d["global_centre"] is True
    assert "global_centre" in card.normalization
    back = ModelCard.from_json(card.to_json())
    assert back.global_centre is True and back == card
    assert _card(False).to_dict()["card_version"] == 1
    old = {k: v for k, v in _card(False).to_dict().items() if k != "global_centre"}
    assert ModelCard.from_dict(old).global_centre is False    # cards written before the field
    with pytest.raises(NfblError, match="newer than this"):
        ModelCard.from_dict({**d, "card_version": 3})


torch = pytest.importorskip("torch")


def _zero_neck_xy(x: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[..., NECK, :2] = 0.0
    return y


def test_bones_ignore_the_global_centre_and_joint_and_motion_carry_it():
    from nfbl.detectors.model import StreamFeatures
    xg, _ = prepare(_moving_person(), 0, _card(True))
    plain = StreamFeatures(LAY)(torch.from_numpy(_zero_neck_xy(xg))[None])[0].numpy()
    glob = StreamFeatures(LAY, global_centre=True)(torch.from_numpy(xg)[None])[0].numpy()
    # feature rows: x, y, score, present, bone dx, bone dy, motion dx, motion dy
    np.testing.assert_array_equal(glob[2:6], plain[2:6])            # score, present, bones
    others = np.arange(LAY.num_joints) != NECK
    np.testing.assert_array_equal(glob[:, :, others], plain[:, :, others])
    np.testing.assert_allclose(glob[0:2, :, NECK].T, xg[:, NECK, :2], atol=1e-6)
    np.testing.assert_allclose(glob[6:8, 1:, NECK].T, np.diff(xg[:, NECK, :2], axis=0), atol=1e-6)
    assert np.all(plain[6:8, :, NECK] == 0)


def test_global_model_starts_where_its_neck_centred_checkpoint_was():
    from model_helpers import random_detector
    m0 = random_detector(seed=2)
    mg = random_detector(seed=9, global_centre=True)
    mg.load_state_dict(m0.state_dict())                       # same weight shapes
    xg, _ = prepare(_moving_person(), 0, _card(True))
    still = torch.from_numpy(_zero_neck_xy(xg))[None]
    with torch.no_grad():
        a, oa = m0(still)
        b, ob = mg(still)
        c, _ = mg(torch.from_numpy(xg)[None])
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.testing.assert_close(oa, ob, atol=0, rtol=0)
    assert not torch.allclose(a, c, atol=1e-4)                  # the displacement is seen


def test_augmentation_translates_only_the_global_centre():
    from nfbl.detectors.augment import AugmentConfig, augment_window
    xg, _ = prepare(_moving_person(), 0, _card(True))
    shift_only = AugmentConfig(rotate_deg=0.0, scale=(1.0, 1.0), aspect=0.0, shear=0.0,
                               translate=0.3, flip_prob=0.0, joint_dropout=0.0,
                               hand_dropout_prob=0.0, noise_sigma=0.0, score_jitter=0.0)
    y, _ = augment_window(xg, np.random.default_rng(1), shift_only, LAY, global_centre=True)
    others = np.arange(LAY.num_joints) != NECK
    np.testing.assert_allclose(y[:, others], xg[:, others], atol=1e-6)
    d = y[:, NECK, :2] - xg[:, NECK, :2]
    assert np.abs(d).max() > 1e-3 and np.allclose(d, d[0], atol=1e-6)   # one shift per window
    z, _ = augment_window(xg, np.random.default_rng(1), shift_only, LAY)   # neck-centred model
    assert np.abs(z[:, others] - xg[:, others]).max() > 1e-3


def test_global_model_exports_with_flip_and_runs_through_the_runtime(tmp_path):
    pytest.importorskip("onnxruntime")
    from model_helpers import random_detector
    from nfbl.detectors import checkpoint as C
    from nfbl.detectors.model import FlipAveraged
    from nfbl.detectors import export as X
    from nfbl.exports.runtime import Detector
    m = random_detector(seed=5, zero_class_bias=True, global_centre=True)
    card = C.make_card(m.cfg, name="g", version="0.1", test_time_flip=True)
    assert card.global_centre is True
    path = X.export(FlipAveraged(m).eval(), card, tmp_path / "g.onnx")   # parity <= 1e-4
    det = Detector.load(path, threads=1)
    assert det.card.global_centre is True
    seq = _moving_person(t=200)
    xg, _ = prepare(seq, 0, det.card)
    probs, _ = det.predict(xg)
    with torch.no_grad():
        logits, _ = FlipAveraged(m).eval()(torch.from_numpy(xg)[None])
    np.testing.assert_allclose(probs, torch.sigmoid(logits[0]).numpy(), atol=1e-4)
