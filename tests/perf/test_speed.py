"""The reference ST-GCN and `nfbl bench speed` (tiny sequences: behaviour, not timing)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from nfbl.perf import detector as speedbench  # noqa: E402
from nfbl.detectors.reference_stgcn import (ReferenceSTGCN, STGCNConfig,  # noqa: E402
                                            count_parameters, export_onnx)
from nfbl.core.errors import NfblError  # noqa: E402


def nfbl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def stgcn_onnx(tmp_path_factory) -> Path:
    return Path(export_onnx(str(tmp_path_factory.mktemp("onnx") / "stgcn.onnx"),
                            STGCNConfig(layout="coco17"), window=300))


def test_reference_stgcn_size_and_shapes():
    model = ReferenceSTGCN(STGCNConfig(layout="coco17", num_classes=33)).eval()
    # the classic design on COCO-17: ~3.08 M parameters (3.07 M convs/BN + 33-way classifier
    # + 10 x 3 x 17 x 17 edge-importance weights)
    n = count_parameters(model)
    assert 3.0e6 < n < 3.2e6
    assert [u.gcn.cout for u in model.units] == [64, 64, 64, 64, 128, 128, 128, 256, 256, 256]
    assert model.units[0].residual is None
    assert model.units[4].tcn[2].stride == (2, 1) and model.units[7].tcn[2].stride == (2, 1)
    assert model.units[1].tcn[2].kernel_size == (9, 1)
    with torch.inference_mode():
        y = model(torch.randn(2, 64, 17, 3))
    assert y.shape == (2, 33)


def test_graph_conv_follows_adjacency():
    # a single spatial graph conv with identity 1x1 weights: output at joint i = sum over
    # subsets k and joints j of A[k][i, j] * x[j]
    from nfbl.core import skeletons
    from nfbl.detectors.reference_stgcn import SpatialGraphConv

    adj = skeletons.COCO17.adjacency
    g = SpatialGraphConv(1, 1, adj)
    with torch.no_grad():
        g.conv.weight.fill_(1.0)
        g.conv.bias.zero_()
    x = torch.randn(1, 1, 1, 17)
    expected = torch.from_numpy(adj.sum(axis=0)) @ x[0, 0, 0]
    torch.testing.assert_close(g(x)[0, 0, 0], expected)


def test_onnx_export_matches_torch(stgcn_onnx):
    torch.manual_seed(0)
    model = ReferenceSTGCN(STGCNConfig(layout="coco17")).eval()
    x = np.random.default_rng(0).standard_normal((3, 300, 17, 3)).astype(np.float32)
    with torch.inference_mode():
        want = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(stgcn_onnx), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"keypoints": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_onnx_layout_resolution():
    cfg = speedbench.SpeedConfig()
    assert speedbench._onnx_layout(["batch", 300, 17, 3], cfg) == ("NTVC", None, 300, 17)
    assert speedbench._onnx_layout([1, "T", "V", 3], cfg) == ("NTVC", 1, None, 56)
    assert speedbench._onnx_layout(["N", 3, 300, 25, 2], cfg) == ("NCTVM", None, 300, 25)
    assert speedbench._onnx_layout(["N", 3, "T", 17], cfg) == ("NCTV", None, None, 17)
    assert speedbench._onnx_layout(["N", "T", 51], cfg) == ("NTF", None, None, 17)
    with pytest.raises(NfblError, match="not a keypoint tensor"):
        speedbench._onnx_layout(["N", 224], cfg)


def test_windows_cover_every_frame_once():
    kp = speedbench.synthetic_keypoints(650, 5, seed=1)
    w = speedbench.windows(kp, 300)
    assert w.shape == (3, 300, 5, 3)
    np.testing.assert_array_equal(w.reshape(-1, 5, 3)[:650], kp)
    assert not w.reshape(-1, 5, 3)[650:].any()


def test_bench_speed_cli_with_onnx_and_reference(stgcn_onnx, tmp_path):
    out = tmp_path / "speed"
    res = nfbl("bench", "speed", "--onnx", stgcn_onnx, "--minutes", "0.05", "0.1",
               "--runners", "onnx", "stgcn-torch", "--stgcn-layout", "coco17", "--batch", "2",
               "--threads", "1", "--out", out)
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "speed.json").read_text())
    rows = {(r["runner"], r["minutes"]): r for r in data["rows"]}
    assert set(rows) == {("onnx", 0.05), ("stgcn-torch", 0.05), ("onnx", 0.1),
                         ("stgcn-torch", 0.1)}
    for r in rows.values():
        assert "error" not in r, r
        assert r["frames"] == round(r["minutes"] * 60 * 25)
        assert r["fps"] > 0 and r["peak_rss_mb"] >= r["base_rss_mb"] > 0
    assert rows[("stgcn-torch", 0.1)]["params"] == count_parameters(
        ReferenceSTGCN(STGCNConfig(layout="coco17")))
    assert "NTVC V=17" in rows[("onnx", 0.1)]["protocol"]
    ratio = {(q["runner"], q["minutes"]): q for q in data["ratios"]}
    assert ratio[("stgcn-torch", 0.1)]["speed_ratio"] == 1.0
    assert ratio[("onnx", 0.1)]["versus"] == "stgcn-torch"
    assert "| onnx | 0.1 | 150 |" in (out / "speed.md").read_text()


def test_bench_speed_errors(tmp_path):
    res = nfbl("bench", "speed", "--runners", "onnx", "--minutes", "0.01")
    assert res.returncode == 2 and "needs --onnx" in res.stderr
    res = nfbl("bench", "speed", "--onnx", tmp_path / "missing.onnx")
    assert res.returncode == 2 and "no such ONNX file" in res.stderr
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    res = nfbl("bench", "speed", "--onnx", junk, "--runners", "onnx", "--minutes", "0.01")
    # a model that cannot load becomes an error row, not a traceback
    assert res.returncode == 1 and "ERROR" in res.stdout and "cannot load" in res.stdout
    assert "1 measurement(s) failed" in res.stderr and "Traceback" not in res.stderr


def test_bench_speed_routes_nfbl_models_through_the_runtime(tmp_path):
    # an exported nfbl detector (it carries a model card) is timed by
    # nfbl.exports.runtime.Detector.predict, not by the generic window feeder
    pytest.importorskip("nfbl.exports.runtime")
    onnx_export = pytest.importorskip("nfbl.detectors.export")
    from nfbl.detectors.model import DetectorConfig, NFBLDetector
    from nfbl.exports.modelcard import ModelCard

    torch.manual_seed(0)
    model = NFBLDetector(DetectorConfig()).eval()
    c = model.cfg
    card = ModelCard(name="speedtest", version="0", layout=c.layout, fps=c.fps,
                     class_ids=c.class_ids, window=1024, stride=c.total_stride,
                     receptive_field=c.receptive_field)
    path = onnx_export.export(model, card, tmp_path / "det.onnx")
    res = nfbl("bench", "speed", "--onnx", path, "--runners", "onnx", "nfbl-torch",
               "--minutes", "0.05", "--threads", "1", "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    rows = json.loads((tmp_path / "out" / "speed.json").read_text())["rows"]
    assert "Detector.predict" in rows[0]["protocol"] and "V=56" in rows[0]["protocol"]
    assert rows[1]["runner"] == "nfbl-torch" and rows[1]["params"] > 0
