"""TorchDetector (torch) and Detector (onnxruntime): the same predict() and detect()."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from model_helpers import random_detector  # noqa: E402
from nfbl.core.sequence import PoseSequence  # noqa: E402
from nfbl.detectors import checkpoint as C  # noqa: E402
from nfbl.detectors import export as X  # noqa: E402
from nfbl.detectors.adapter import TorchDetector  # noqa: E402
from nfbl.exports.decoding import DecodeConfig  # noqa: E402
from nfbl.exports.runtime import Detector  # noqa: E402


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    m = random_detector(3, zero_class_bias=True)
    card = C.make_card(m.cfg, name="adapter-test", version="0.1", window=256,
                       decode=DecodeConfig(threshold=0.5), training_data="random weights")
    path = X.export(m, card, tmp_path_factory.mktemp("ad") / "m.onnx")
    return TorchDetector(m, card), Detector.load(path, threads=1)


def _seq(t: int = 900, seed: int = 0) -> PoseSequence:
    from nfbl.synth import SynthConfig, generate_video
    return generate_video(SynthConfig(minutes=t / 25 / 60, fps=25.0), seed)[0]


def test_same_dense_outputs_across_chunks(pair):
    torch_det, onnx_det = pair
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, torch_det.num_joints, 3)).astype(np.float32)
    x[..., 2] = 1.0
    p_t, o_t = torch_det.predict(x)
    p_o, o_o = onnx_det.predict(x)
    assert torch_det.window == onnx_det.window == 256 and torch_det.overlap == onnx_det.overlap
    np.testing.assert_allclose(p_t, p_o, atol=1e-4)
    np.testing.assert_allclose(o_t, o_o, rtol=1e-4, atol=1e-3)
    whole_p, _ = torch_det.run(x)  # one run over everything: the chunk seams change nothing
    np.testing.assert_allclose(p_t, whole_p, atol=1e-4)


def test_same_events(pair):
    torch_det, onnx_det = pair
    seq = _seq()
    a, b = torch_det.detect(seq).events, onnx_det.detect(seq).events
    assert len(a) == len(b) > 0
    assert [e.class_id for e in a] == [e.class_id for e in b]
    # offsets are in frames and agree to ~1e-4 relative: boundaries within a millisecond
    np.testing.assert_allclose([(e.start, e.end) for e in a], [(e.start, e.end) for e in b],
                               atol=2e-3)
