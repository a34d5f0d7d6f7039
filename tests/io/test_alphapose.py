"""AlphaPose results JSON (`alphapose-results.json`) on fixtures written the way AlphaPose's
`write_json` writes them (tests/fixtures/keypoints/alphapose/make_fixtures.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError
from nfbl.io import alphapose, mmpose
from nfbl.io.keypoints import guess_format, read_keypoints

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints" / "alphapose"
HALPE = FIX / "halpe136" / "alphapose-results.json"
FLOW = FIX / "poseflow" / "alphapose-results.json"


def test_halpe136_frames_come_from_image_id_not_list_order():
    assert guess_format(HALPE).name == "alphapose"
    seq = read_keypoints(HALPE, fps=30)
    # frames 0, 1, 3 have a person, frame 2 none: four frames at their own times
    assert seq.layout == "halpe136" and seq.keypoints.shape == (1, 4, 136, 3)
    np.testing.assert_allclose(seq.timestamps, [0, 1 / 30, 2 / 30, 3 / 30])
    assert np.all(seq.keypoints[0, 2] == 0)
    raw = json.loads(HALPE.read_text())
    third = [e for e in raw if e["image_id"] == "3.jpg"][0]["keypoints"]
    np.testing.assert_allclose(seq.keypoints[0, 3, 9], third[27:30], rtol=1e-6)   # left wrist
    # the bystander of frame 1 (listed first, one frame only) is not the interviewee's track
    interviewee = [e for e in raw if e["image_id"] == "1.jpg"][1]["keypoints"]
    np.testing.assert_allclose(seq.keypoints[0, 1, 0], interviewee[:3], rtol=1e-6)
    assert seq.meta["tracks_from"] == "linked"
    assert seq.video_id == "halpe136"           # the output folder: the file name is fixed


def test_halpe136_converts_with_both_hands_and_the_shoulder_neck():
    seq = read_keypoints(HALPE)
    can = skeletons.convert(seq.keypoints, skeletons.HALPE136)
    L, H = skeletons.CANONICAL, skeletons.HALPE136
    kp = seq.keypoints[0, 0]
    # canonical hands are Halpe's 94-114 (left) and 115-135 (right)
    np.testing.assert_allclose(can[0, 0, L.index["left_hand_index_tip"]], kp[94 + 8])
    np.testing.assert_allclose(can[0, 0, L.index["right_hand_wrist"]], kp[115])
    # the neck is the shoulders' mid-point, not Halpe's neck point (index 18)
    mid = (kp[5, :2] + kp[6, :2]) / 2
    np.testing.assert_allclose(can[0, 0, L.index["neck"], :2], mid, rtol=1e-6)
    assert not np.allclose(mid, kp[H.index["halpe_neck"], :2], atol=5)
    assert skeletons.plan_conversion(H).missing == ()


def test_poseflow_ids_are_tracks_whatever_the_order():
    seq = read_keypoints(FLOW)
    assert seq.layout == "coco17" and list(seq.track_ids) == [1, 2]
    assert seq.meta["tracks_from"] == "idx"
    x = seq.keypoints[:, :, 0, 0]            # nose x: person 1 near 400, person 2 near 900
    assert np.all(np.abs(x[0] - 400) < 15) and np.all(np.abs(x[1] - 900) < 15)


def test_bad_files_fail_in_one_line(tmp_path):
    p = tmp_path / "alphapose-results.json"
    entry = {"image_id": "0.jpg", "category_id": 1, "keypoints": [1.0] * 30, "score": 1.0}
    p.write_text(json.dumps([entry]))
    with pytest.raises(InputFormatError, match="10 keypoints per person"):
        alphapose.read_alphapose(p)
    p.write_text(json.dumps([dict(entry, keypoints=[1.0] * 50)]))
    with pytest.raises(InputFormatError, match="flat x, y, score list"):
        alphapose.read_alphapose(p)
    p.write_text(json.dumps({"version": "AlphaPose v0.3", "people": []}))
    with pytest.raises(InputFormatError, match="--format open/cmu"):
        alphapose.read_alphapose(p)
    p.write_text(json.dumps([dict(entry, keypoints=[1.0] * 51),
                             dict(entry, image_id="x/0.png", keypoints=[1.0] * 51)]))
    with pytest.raises(InputFormatError, match="both frame 0"):
        alphapose.read_alphapose(p)
    p.write_text("[]")
    with pytest.raises(InputFormatError, match="no person"):
        alphapose.read_alphapose(p)
    # renamed to a plain .json, the mmpose reader points to the right format
    q = tmp_path / "results.json"
    q.write_text(FLOW.read_text())
    with pytest.raises(InputFormatError, match="--format alphapose"):
        mmpose.read_mmpose(q)


def test_cli_reads_it_and_refuses_a_bad_one_in_one_line(cli, tmp_path):
    r = cli("keypoints", "info", str(HALPE))
    assert r.returncode == 0, r.stderr
    assert "4 frames" in r.stdout and "halpe136" in r.stdout
    bad = tmp_path / "alphapose-results.json"
    bad.write_text('[{"image_id": "0.jpg", "keypoints": [1, 2')
    r = cli("keypoints", "info", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_one_image_results_keep_their_people(tmp_path):
    """AlphaPose on an image folder: every entry of one image ("out-002.jpg": frame 2, frames
    0 and 1 empty) is a person, not a one-frame flicker to drop (real files gave 0 persons)."""
    p = tmp_path / "alphapose-results.json"
    rng = np.random.default_rng(3)
    entries = [{"image_id": "out-002.jpg", "category_id": 1, "score": 2.5,
                "keypoints": np.column_stack([rng.uniform(0, 600, (17, 2)),
                                              np.full(17, 0.8)]).ravel().tolist()}
               for _ in range(3)]
    p.write_text(json.dumps(entries))
    s = alphapose.read_alphapose(p)
    assert s.num_persons == 3 and s.num_frames == 3
    assert (s.keypoints[:, 2, :, 2] > 0).all() and not (s.keypoints[:, :2] != 0).any()


def test_combined_open_format_file_gets_the_hint(tmp_path):
    """--format open written to one file nests {"people": ...} under each image name."""
    p = tmp_path / "alphapose-results.json"
    p.write_text(json.dumps({"1.jpg": {"people": [{"pose_keypoints_2d": [1.0] * 54}]}}))
    with pytest.raises(InputFormatError, match="--format open/cmu"):
        alphapose.read_alphapose(p)


def test_image_names_with_timestamps_are_ordered_not_allocated(tmp_path, caplog):
    """An image folder named by capture time (1700000000123.jpg) is not 1.7e12 frames."""
    p = tmp_path / "alphapose-results.json"
    kp = np.column_stack([np.linspace(10, 300, 17), np.linspace(20, 400, 17),
                          np.full(17, 0.9)]).ravel().tolist()
    names = ["1700000000500.jpg", "1700000000123.jpg", "1700000000900.jpg"]
    p.write_text(json.dumps([{"image_id": n, "category_id": 1, "keypoints": kp, "score": 2.0}
                             for n in names]))
    with caplog.at_level("WARNING"):
        s = alphapose.read_alphapose(p)
    assert s.num_frames == 3 and "too large for frame numbers" in caplog.text
