"""Checkpoints (weights_only) and ONNX export: parity with torch, dynamic axes, card."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nfbl.detectors import checkpoint as C  # noqa: E402
from model_helpers import random_detector  # noqa: E402
from nfbl.detectors.model import NFBLDetector  # noqa: E402
from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.detectors import export as X  # noqa: E402
from nfbl.exports.modelcard import METADATA_KEY, ModelCard  # noqa: E402


def _model(seed: int = 0) -> NFBLDetector:
    return random_detector(seed, zero_class_bias=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    m = _model()
    card = C.make_card(m.cfg, name="parity", version="0.1", training_data="none (random)")
    path = X.export(m, card, tmp_path_factory.mktemp("onnx") / "m.onnx")
    return m, card, path


def test_checkpoint_round_trip(tmp_path):
    m = _model(seed=2)
    extra = {"rng": ("MT19937", np.arange(5, dtype=np.uint32), 3, 0, 0.0),
             "history": [{"loss": np.float64(1.5)}], "t": torch.ones(2)}
    card = C.make_card(m.cfg, name="ck", version="2.0", metrics={"f1": 0.4})
    path = C.save_checkpoint(tmp_path / "a.pt", m, card=card, extra=extra)
    # a plain weights_only load works: the file holds data only
    torch.load(path, weights_only=True)
    ck = C.load_checkpoint(path)
    x = torch.randn(1, 50, 56, 3)
    with torch.no_grad():
        for a, b in zip(m(x), ck.model(x)):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert ck.config == m.cfg and not ck.model.training
    assert isinstance(ck.extra["rng"][1], np.ndarray) and ck.extra["rng"][1].tolist() == [0, 1, 2, 3, 4]
    assert ck.extra["history"][0]["loss"] == 1.5
    again = C.card_from_checkpoint(ck, version="2.1")
    assert (again.name, again.version, again.metrics) == ("ck", "2.1", {"f1": 0.4})
    assert again.receptive_field == m.cfg.receptive_field and again.stride == 32


def test_bad_checkpoints(tmp_path):
    with pytest.raises(NfblError, match="no such checkpoint"):
        C.load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(NfblError, match="not a loadable nfbl checkpoint"):
        C.load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(NfblError, match="not an nfbl detector checkpoint"):
        C.load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("t", [64, 5000])
def test_onnx_parity_with_torch(exported, t):
    m, _, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = X.example_input(m, frames=t, batch=2, seed=t)
    with torch.no_grad():
        ref = [o.numpy() for o in m(x)]
    got = sess.run(None, {"keypoints": x.numpy()})
    for r, g in zip(ref, got):
        assert r.shape == g.shape
        assert float(np.max(np.abs(r - g))) <= 1e-4


def test_onnx_axes_are_dynamic_and_card_is_embedded(exported):
    m, card, path = exported
    proto = onnx.load(str(path))
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and isinstance(dims[1], str) and dims[2:] == [56, 3]
    assert proto.opset_import[0].version >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert ModelCard.from_json(meta[METADATA_KEY]) == card
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n, t in ((1, 1), (3, 7), (1, 333)):
        out = sess.run(None, {"keypoints": np.zeros((n, t, 56, 3), np.float32)})
        assert out[0].shape == (n, t, 31) and out[1].shape == (n, t, 31, 2)
    assert path.stat().st_size < 20e6


def test_export_refuses_a_card_that_does_not_match(tmp_path):
    m = _model()
    wrong = ModelCard(name="x", version="1", layout="nfbl56", fps=30.0, class_ids=m.cfg.class_ids)
    with pytest.raises(NfblError, match="fps 30.0 vs model 25.0"):
        X.export(m, wrong, tmp_path / "bad.onnx")
    assert not list(tmp_path.iterdir())  # nothing written, not even a temp file


def test_flip_averaged_model_is_mirror_invariant_and_exports_with_parity(tmp_path):
    from nfbl.detectors.augment import flip
    from nfbl.detectors.model import FlipAveraged
    from nfbl.exports.runtime import Detector
    m = _model(seed=4)
    x = X.example_input(m, frames=64, batch=1, seed=3)
    x[0, 5:9, 40:] = 0.0                                     # some absent joints
    xf = torch.from_numpy(flip(x[0].numpy())[None])
    tta = FlipAveraged(m).eval()
    with torch.no_grad():
        a, oa = tta(x)
        b, ob = tta(xf)
        p, op = m(x)
        q, oq = m(xf)
    # the average of the model on x and on numpy's flip(x) (the training augmentation)
    torch.testing.assert_close(a, 0.5 * (p + q), atol=1e-5, rtol=0)
    torch.testing.assert_close(oa, 0.5 * (op + oq), atol=1e-5, rtol=0)
    # mirror invariance: x and its mirror image give the same outputs
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    torch.testing.assert_close(oa, ob, atol=1e-5, rtol=0)
    assert not torch.allclose(p, q, atol=1e-3)               # the plain model is not invariant
    card = C.make_card(m.cfg, name="tta", version="0.1", test_time_flip=True)
    path = X.export(tta, card, tmp_path / "tta.onnx")      # verify(): parity <= 1e-4
    det = Detector.load(path, threads=1)
    assert det.card.test_time_flip is True
