"""The bundled default model: size, card honesty, and `nfbl evaluate` through the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "nfbl" / "models" / "nfbl_default.onnx"

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no bundled model")


def _card() -> dict:
    import onnx
    m = onnx.load(str(MODEL), load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    return json.loads(meta["nfbl_card"])


def test_bundled_model_is_small_and_its_card_is_honest():
    assert MODEL.stat().st_size < 20 * 1024 * 1024
    card = _card()
    text = card["training_data"]
    assert "synthetic only" in text and "no real data" in text
    # trained on the calibrated generator (versions 3/4), not on the uncalibrated version 2
    assert "generator version 4" in text and "generator version 2" not in text
    assert "20.0 h" in text or "h at 25 fps" in text
    assert card["metrics"], "the card must state held-out numbers"
    assert card["layout"] == "nfbl56" and 16 in card["class_ids"]
    assert (REPO / "nfbl" / "models" / "MODEL_CARD.md").exists()


def test_evaluate_cli_on_one_short_heldout_video(tmp_path):
    out = tmp_path / "ev.json"
    r = subprocess.run([sys.executable, "-m", "nfbl", "evaluate", str(MODEL), "--synthetic",
                        "--videos", "1", "--minutes", "0.5", "--seed", "2000000",
                        "--threads", "1", "--json", str(out), "--min-score", "0.65",
                        "--also-min-scores", "0.65", "0.3"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "F1@0.3" in r.stdout and "mAP@0.5" in r.stdout
    s = json.loads(out.read_text())["summary"]
    assert s["videos"] == 1 and s["split"] == "heldout"
    for k in ("f1_0.3", "map_0.5", "map_0.5_0.95"):
        assert 0.0 <= s[k] <= 1.0
    # the sweep scores the same events: at the headline threshold it agrees with it, and a
    # lower threshold never has fewer true positives (recall cannot fall)
    sweep = s["f1_by_min_score"]
    assert sweep["0.65"]["f1_0.3"] == s["f1_0.3"] and "events scored >= 0.3" in r.stdout
    assert sweep["0.3"]["recall_0.3"] >= sweep["0.65"]["recall_0.3"]


def test_evaluate_cli_bad_arguments_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nfbl", "evaluate", str(MODEL), "--synthetic",
                        "--videos", "0"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--videos" in r.stderr
