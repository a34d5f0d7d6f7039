"""`nfbl bench op-profile`: per-operator shares of the bundled detector (behaviour, not timing)."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("onnxruntime")

from nfbl.exports.runtime import bundled_model_path  # noqa: E402
from nfbl.perf import opprofile  # noqa: E402


@pytest.fixture(scope="module")
def bundled():
    path = bundled_model_path()
    if path is None:
        pytest.skip("no bundled model")
    return path


def test_profile_sums_the_kernels_of_the_profiled_runs(bundled):
    p = opprofile.profile(bundled, frames=320, threads=1, repeat=2, top=50)
    assert (p.frames, p.joints, p.repeat) == (320, 56, 2)
    assert p.kernel_ms_per_run > 0
    # every operator type is listed (top 50 > the graph's types), so the shares sum to 1
    assert sum(r.share for r in p.ops) == pytest.approx(1.0, abs=1e-6)
    assert {"Conv", "MatMul"} <= {r.name for r in p.ops}
    assert all(r.count >= 1 for r in p.ops)
    assert p.nodes[0].share >= p.nodes[-1].share and p.nodes[0].shapes.startswith("[[")


def test_cli_prints_both_tables_and_refuses_a_bad_file_in_one_line(cli, tmp_path):
    r = cli("bench", "op-profile", "--frames", "320", "--repeat", "1", "--top", "3",
            "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "input (1, 320, 56, 3)" in r.stdout
    rows = [ln for ln in r.stdout.splitlines() if re.match(r"\| \S+ \| [\d.]+ % \|", ln)]
    assert len(rows) == 6                                       # 3 operators + 3 nodes
    bad = tmp_path / "model.onnx"
    bad.write_text("not a model")
    r = cli("bench", "op-profile", "--onnx", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "not an nfbl model" in r.stderr
