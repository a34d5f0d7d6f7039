"""nfbl.detectors.model: shapes, masking, receptive field, config (torch, random weights)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nfbl.core import skeletons, taxonomy  # noqa: E402
from nfbl.detectors.model import (DetectorConfig, NFBLDetector, count_parameters,  # noqa: E402
                                  part_groups)
from nfbl.core.errors import NfblError  # noqa: E402


def _model(seed: int = 0, **cfg) -> NFBLDetector:
    """A seeded random model with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    m = NFBLDetector(DetectorConfig(**cfg))
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
    return m.eval()


def _input(n: int, t: int, seed: int = 0, missing: float = 0.1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, 56, 3, generator=g)
    x[..., 2] = torch.rand(n, t, 56, generator=g) * 0.8 + 0.2
    x[torch.rand(n, t, 56, generator=g) < missing] = 0.0
    return x


def test_config_defaults_and_round_trip():
    cfg = DetectorConfig()
    assert cfg.layout == "nfbl56" and cfg.class_ids == taxonomy.SKELETON_VISIBLE_IDS
    assert cfg.num_classes == 31 and cfg.fps == 25.0
    assert cfg.total_stride == 32
    assert DetectorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(NfblError, match="DetectorConfig: unknown key .bogus."):
        DetectorConfig.from_dict({"bogus": 1})
    with pytest.raises(NfblError):
        DetectorConfig(class_ids=(1, 33))
    with pytest.raises(NfblError):
        DetectorConfig(strides=(1, 3, 1))


def test_small_and_fast_by_design():
    m = NFBLDetector(DetectorConfig())
    assert 200_000 < count_parameters(m) <= 2_000_000


@pytest.mark.parametrize("t", [1, 2, 5, 31, 33, 64, 101])
def test_any_length_gives_frame_aligned_outputs(t):
    m = _model()
    with torch.no_grad():
        logits, offsets = m(_input(2, t))
    assert logits.shape == (2, t, 31) and offsets.shape == (2, t, 31, 2)
    assert torch.isfinite(logits).all() and (offsets >= 0).all()


def test_batch_items_are_independent():
    m = _model()
    x = _input(3, 70)
    with torch.no_grad():
        full = m(x)
        one = m(x[1:2])
    for a, b in zip(full, one):
        torch.testing.assert_close(a[1:2], b, atol=1e-5, rtol=0)


def test_missing_joints_are_masked():
    """The coordinates of a joint with score 0 must not matter (not (0, 0) as a real point)."""
    m = _model()
    x = _input(1, 80, missing=0.3)
    y = x.clone()
    miss = x[..., 2] == 0
    y[..., 0][miss] = 123.0
    y[..., 1][miss] = -55.0
    with torch.no_grad():
        a, b = m(x), m(y)
    torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[1], b[1], atol=1e-5, rtol=0)


def test_streams_are_zero_where_joints_are_missing():
    m = _model()
    x = _input(1, 10, missing=0.0)
    elbow = skeletons.CANONICAL.index["left_elbow"]
    x[0, 4, elbow] = 0.0
    f = m.streams(x)  # (1, 8, T, V)
    assert f.shape == (1, 8, 10, 56)
    assert (f[0, :, 4, elbow] == 0).all()                   # all streams of the missing joint
    wrist = skeletons.CANONICAL.index["left_wrist"]          # its child: bone needs the parent
    assert (f[0, 4:6, 4, wrist] == 0).all() and (f[0, 0:2, 4, wrist] != 0).all()
    assert (f[0, 6:8, 5, elbow] == 0).all()                 # motion needs the previous frame
    assert (f[0, 6:8, 0] == 0).all()                        # no motion at frame 0


def test_receptive_field_bounds_the_impulse_response():
    """Changing input frame t0 changes outputs only within the declared receptive field,
    and the model really uses context (the response is not trivially narrow)."""
    m = _model(seed=3)
    r = m.cfg.receptive_field
    t, t0 = 4 * r + 64, 2 * r + 5
    x = _input(1, t, seed=5)
    y = x.clone()
    y[0, t0, :, :2] += 2.0
    with torch.no_grad():
        d = [(a - b).abs().amax(dim=tuple(range(2, a.ndim)))[0] for a, b in zip(m(x), m(y))]
    changed = np.flatnonzero(((d[0] + d[1]) > 0).numpy())
    assert changed.min() >= t0 - r and changed.max() <= t0 + r
    assert changed.max() - changed.min() > r  # the context is wide, as designed


def test_part_groups_cover_every_joint():
    p = part_groups(skeletons.CANONICAL)
    assert p.shape == (56, 6)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-6)  # averages
    assert ((p > 0).sum(axis=1) == 1).all()
    hand = skeletons.CANONICAL.index["left_hand_index_tip"]
    assert p[hand, 4] > 0


def test_other_layout_and_classes():
    m = _model(layout="openpose_body25_hands", class_ids=(16, 34), channels=(16, 24),
               strides=(2, 1), pyramid_levels=1)
    x = torch.zeros(1, 40, skeletons.OPENPOSE_BODY25_HANDS.num_joints, 3)
    with torch.no_grad():
        logits, offsets = m(x)
    assert logits.shape == (1, 40, 2) and offsets.shape == (1, 40, 2, 2)
    assert m.cfg.total_stride == 16


def test_backbone_neck_head_and_named_outputs():
    m = _model()
    x = _input(1, 64)
    with torch.no_grad():
        out = m(x)
        feats, coarse = m.backbone(x)
        again = m.head(m.neck(coarse), feats)
    assert out._fields == ("logits", "offsets")
    assert torch.equal(out.logits, again.logits) and torch.equal(out.offsets, again.offsets)
    assert coarse.shape[2] == -(-64 // m.coarse_stride)


def test_checkpoints_from_before_the_split_still_load(tmp_path):
    from nfbl.detectors.checkpoint import load_checkpoint, save_checkpoint
    from nfbl.detectors.model import LEGACY_PREFIXES
    m = _model(seed=2)
    path = save_checkpoint(tmp_path / "new.pt", m)
    d = torch.load(path, weights_only=True)
    flat = {}
    for key, value in d["state_dict"].items():   # back to the old flat names
        for old, new in LEGACY_PREFIXES.items():
            if key.startswith(new + old):
                key = key[len(new):]
                break
        flat[key] = value
    assert "cls_head.bias" in flat and "backbone.stem.0.weight" not in flat
    d["state_dict"] = flat
    torch.save(d, tmp_path / "old.pt")
    back = load_checkpoint(tmp_path / "old.pt").model
    x = _input(1, 40)
    with torch.no_grad():
        assert torch.equal(back(x).logits, m(x).logits)


def test_receptive_field_is_measured_and_follows_the_architecture():
    from nfbl.detectors.model import receptive_field
    small = DetectorConfig(pyramid_levels=0, dilations=(1,))
    assert receptive_field(small) < receptive_field(DetectorConfig())
    assert receptive_field(DetectorConfig()) % 1 == 0 and receptive_field(DetectorConfig()) > 32
