"""nfbl.perf.runtime.predict_speed on a small random model."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from model_helpers import random_detector  # noqa: E402
from nfbl.detectors import checkpoint as C  # noqa: E402
from nfbl.detectors import export as X  # noqa: E402
from nfbl.exports.runtime import Detector  # noqa: E402
from nfbl.perf.runtime import predict_speed  # noqa: E402


def test_predict_speed_reports_frames_per_second(tmp_path):
    m = random_detector(0)
    card = C.make_card(m.cfg, name="speed-test", version="0.1", window=256,
                       training_data="nothing: random weights")
    det = Detector.load(X.export(m, card, tmp_path / "m.onnx"), threads=1)
    res = predict_speed(det, frames=600, repeats=1)
    assert res["frames"] == 600 and res["frames_per_s"] > 0 and res["window"] == 256
    assert res["cpu_seconds"] > 0
