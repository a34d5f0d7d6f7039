"""Domain-invariant input streams (contact, jitter-robust speed) and confidence-aware masking:
shapes, meaning, off by default, ONNX export with torch parity."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nfbl.core import skeletons  # noqa: E402
from nfbl.detectors import checkpoint as C  # noqa: E402
from nfbl.detectors import export as X  # noqa: E402
from nfbl.detectors.augment import mask_low_confidence  # noqa: E402
from nfbl.detectors.model import (DetectorConfig, NFBLDetector, StreamFeatures,  # noqa: E402
                                  receptive_field)

L = skeletons.CANONICAL
ALL = DetectorConfig(contact_streams=True, speed_streams=True, min_score=0.3)


def _still(t: int = 40) -> torch.Tensor:
    """A still, fully present canonical pose: joints spread on a grid, score 0.9."""
    rng = np.random.default_rng(0)
    x = np.zeros((1, t, L.num_joints, 3), np.float32)
    x[..., :2] = rng.uniform(-1.5, 1.5, size=(L.num_joints, 2))
    x[..., 2] = 0.9
    return torch.as_tensor(x)


def test_default_streams_are_unchanged():
    s = StreamFeatures(L)
    assert s.num_features == 8
    assert NFBLDetector(DetectorConfig()).backbone.streams.num_features == 8
    on = StreamFeatures(L, cfg=ALL)
    assert on.num_features == 8 + 4 + 1
    x = _still()
    torch.testing.assert_close(on(x)[:, :8], s(x))   # the first 8 channels are the same


def test_contact_stream_reads_a_hand_at_the_nose():
    s = StreamFeatures(L, cfg=DetectorConfig(contact_streams=True))
    x = _still()
    wrist, nose = L.index["left_wrist"], L.index["nose"]
    far = s(x)[0, 8, 0, wrist].item()                          # channel 8: proximity to the nose
    x[:, :, wrist, :2] = x[:, :, nose, :2]
    near = s(x)[0, 8, 0, wrist].item()
    assert near == pytest.approx(1.0, abs=1e-3) and far < 0.5
    x[:, :, nose, 2] = 0.0                                     # nose missing: no contact
    assert s(x)[0, 8, 0, wrist].item() == 0.0


def test_speed_stream_is_in_shoulder_widths_per_second_and_robust_to_jitter():
    cfg = DetectorConfig(speed_streams=True, speed_span=2, fps=25.0)
    s = StreamFeatures(L, cfg=cfg)
    x = _still(60)
    w = L.index["right_wrist"]
    x[0, :, w, 0] += torch.arange(60, dtype=torch.float32) * (0.5 / 25.0)   # 0.5 sw/s
    sp = torch.expm1(s(x)[0, -1, 10:50, w])
    torch.testing.assert_close(sp, torch.full_like(sp, 0.5), atol=1e-3, rtol=0)
    # alternating +-0.01 sw jitter: the frame-to-frame motion sees 0.5 sw/s of it, the
    # centred difference over 2 frames each way cancels it
    jit = _still(60)
    jit[0, :, w, 0] += 0.01 * (-1.0) ** torch.arange(60, dtype=torch.float32)
    assert torch.expm1(s(jit)[0, -1, 10:50, w]).abs().max() < 1e-3
    assert s(jit)[0, 6, 10:50, w].abs().mean() * 25.0 == pytest.approx(0.5, abs=1e-3)


def test_low_confidence_joints_count_as_missing_in_the_network_and_in_training():
    s = StreamFeatures(L, cfg=DetectorConfig(min_score=0.3))
    x = _still()
    j = L.index["left_elbow"]
    x[:, :, j, 2] = 0.2
    f = s(x)
    assert torch.all(f[0, :, :, j] == 0)                       # every stream of the joint
    arr = x[0].numpy()
    masked = mask_low_confidence(arr, 0.3)
    assert np.all(masked[:, j] == 0) and np.array_equal(masked[:, j + 1], arr[:, j + 1])
    assert mask_low_confidence(arr, 0.0) is arr
    # the network sees the same whether training masked the joint or not
    torch.testing.assert_close(s(torch.as_tensor(masked)[None]), f)


def test_receptive_field_grows_with_the_speed_span():
    # the probes see the speed stream's reach: +-64 frames more input per output frame
    base = receptive_field(DetectorConfig())
    wide = receptive_field(DetectorConfig(speed_streams=True, speed_span=64))
    assert base + 48 <= wide <= base + 64 + 32


def test_invariant_model_exports_with_parity(tmp_path):
    torch.manual_seed(3)
    m = NFBLDetector(ALL).eval()
    card = C.make_card(m.cfg, name="inv", version="0.0", training_data="none (random)")
    path = X.export(m, card, tmp_path / "inv.onnx")            # verify(): parity <= 1e-4
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = X.example_input(m, frames=300, batch=1, seed=1)
    x[0, 100:140, 20, 2] = 0.1                                 # some low-confidence joints
    with torch.no_grad():
        ref = [o.numpy() for o in m(x)]
    got = sess.run(None, {"keypoints": x.numpy()})
    for r, g in zip(ref, got):
        assert float(np.max(np.abs(r - g))) <= 1e-4
    ck = C.save_checkpoint(tmp_path / "inv.pt", m, card=card)
    assert C.load_checkpoint(ck).config == ALL


def test_synthetic_v3_config_switches_the_invariant_inputs_on():
    from pathlib import Path

    from nfbl.detectors.config import load_config
    from nfbl.detectors.train import build_model

    configs = Path(__file__).resolve().parents[2] / "configs"
    full = load_config(configs / "synthetic_v3.toml")
    smoke = load_config(configs / "synthetic_v3_smoke.toml")
    base = load_config(configs / "synthetic_default.toml")
    assert full.data.flatten_tail == base.data.flatten_tail and full.data.train_videos == 640
    assert full.sampling.power == pytest.approx(0.3)
    finetune = load_config(configs / "imigue_finetune.toml")
    for cfg in (full, smoke, finetune):
        model = build_model(cfg)
        assert model.cfg.contact_streams and model.cfg.speed_streams
        assert model.cfg.min_score == pytest.approx(0.1)
        assert model.backbone.streams.num_features == 13
    # the real-data fine-tuning config describes exactly the bundled network
    assert build_model(finetune).cfg == build_model(full).cfg
    assert finetune.run.init_checkpoint == "bundled" and finetune.data.dataset == "imigue"


def test_training_prepares_records_with_the_models_confidence_mask():
    from nfbl.detectors.train import _prepare
    from nfbl.synth import SynthConfig, generate_video

    seq, _ = generate_video(SynthConfig(minutes=0.2, layout="openpose_body25_hands"), 2, "s2")
    plain, _ = _prepare(seq, DetectorConfig())
    masked, _ = _prepare(seq, DetectorConfig(min_score=0.5))
    low = (plain[..., 2] > 0) & (plain[..., 2] < 0.5)
    assert low.any()                                           # the estimator imitation has some
    assert np.all(masked[low] == 0)
    np.testing.assert_array_equal(masked[~low], plain[~low])


def _reference_streams(x: np.ndarray, layout: skeletons.Layout, cfg: DetectorConfig,
                       global_centre: bool) -> np.ndarray:
    """The 13 streams written out joint by joint in numpy, ``(T, V, 3)`` → ``(F, T, V)``."""
    from nfbl.detectors.model import CONTACT_ANCHORS

    t, v, _ = x.shape
    present = (x[..., 2] > cfg.min_score) & (x[..., 2] > 0)
    xy = np.where(present[..., None], x[..., :2], 0.0)
    lxy = xy.copy()
    if global_centre:
        lxy[:, layout.index[layout.center]] = 0.0
    parent = np.asarray(layout.bone_pairs)[:, 1]
    bone = np.where((present & present[:, parent])[..., None], lxy - lxy[:, parent], 0.0)
    prev = np.r_[np.zeros((1, v, 2)), xy[:-1]]
    prev_ok = np.r_[np.zeros((1, v), bool), present[:-1]]
    motion = np.where((present & prev_ok)[..., None], xy - prev, 0.0)
    feats = [xy[..., 0], xy[..., 1], np.where(present, x[..., 2], 0.0), present * 1.0,
             bone[..., 0], bone[..., 1], motion[..., 0], motion[..., 1]]
    for group in CONTACT_ANCHORS:
        best = np.zeros((t, v))
        for name in group:
            if name not in layout.index:
                continue
            a = layout.index[name]
            d = np.sqrt(((lxy - lxy[:, a:a + 1]) ** 2).sum(-1) + 1e-8)
            prox = np.exp(-d / cfg.contact_scale) * present[:, a:a + 1] * present
            best = np.maximum(best, prox)
        feats.append(best)
    k = cfg.speed_span
    speed = np.zeros((t, v))
    for i in range(k, t - k):
        ok = present[i - k] & present[i + k]
        vel = (xy[i + k] - xy[i - k]) * cfg.fps / (2 * k)
        speed[i] = np.where(ok, np.log1p(np.sqrt((vel ** 2).sum(-1) + 1e-8)), 0.0)
    feats.append(speed)
    return np.stack(feats).astype(np.float32)


@pytest.mark.parametrize("global_centre", [False, True])
def test_every_stream_matches_a_joint_by_joint_reference(global_centre):
    """The channel-first stream code (the faster ONNX graph of 0.6.2) computes exactly the
    streams the model was trained on: missing and low-confidence joints, bones to a missing
    parent, motion from a missing frame, contacts with a missing anchor, speed at the ends."""
    rng = np.random.default_rng(3)
    t = 50
    x = np.zeros((t, L.num_joints, 3), np.float32)
    x[..., :2] = rng.normal(0.0, 1.0, (t, L.num_joints, 2))
    x[..., 2] = rng.uniform(0.05, 1.0, (t, L.num_joints))
    x[rng.random((t, L.num_joints)) < 0.15] = 0.0              # missing joints
    x[10:14, L.index["nose"], 2] = 0.0                           # an anchor missing for a while
    x[20:30, L.index["left_eye"]] = 0.0
    s = StreamFeatures(L, global_centre=global_centre, cfg=ALL)
    got = s(torch.as_tensor(x[None]))[0].numpy()
    want = _reference_streams(x, L, ALL, global_centre)
    assert got.shape == want.shape == (13, t, L.num_joints)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
