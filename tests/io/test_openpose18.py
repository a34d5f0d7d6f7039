"""18-part OpenPose skeletons: the COCO model's JSON (OpenPose before 1.3 by default) and
ST-GCN's Kinetics-skeleton JSON, on fixtures in their real layouts
(tests/fixtures/keypoints/{openpose_coco,kinetics}/make_fixtures.py)."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError
from nfbl.io import kinetics, openpose
from nfbl.io.keypoints import guess_format, read_keypoints

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints"
COCO = FIX / "openpose_coco" / "talk"
KIN = FIX / "kinetics" / "talk_kinetics.json"
PACK = FIX / "kinetics" / "json_pack.json"


def joint(seq, name: str, track: int = 0, frame: int = 0) -> np.ndarray:
    return seq.keypoints[track, frame, skeletons.get_layout(seq.layout).index[name]]


# --- OpenPose COCO model ----------------------------------------------------------------

def test_openpose_coco_model_reads_as_openpose18_hands():
    seq = read_keypoints(COCO)
    assert seq.layout == "openpose18_hands" and seq.keypoints.shape[2] == 60
    assert seq.num_persons == 2 and seq.num_frames == 4
    # the seated person stays track 0 although frame 1 lists the other person first
    assert joint(seq, "nose", 0, 1)[0] == pytest.approx(640.2 + 1.3, abs=1e-3)
    assert tuple(joint(seq, "right_shoulder")) == pytest.approx((561.3, 305.8, 0.82), abs=1e-4)
    assert tuple(joint(seq, "left_ear")) == pytest.approx((677.4, 202.8, 0.8), abs=1e-4)
    assert joint(seq, "right_knee")[2] == 0 and joint(seq, "left_hand_wrist")[2] == 0
    assert joint(seq, "nose", 1, 2)[0] == pytest.approx(1190.5 - 0.8, abs=1e-3)
    assert not (seq.keypoints[:, 3, :, 2] > 0).any()  # nobody in frame 3
    # every body joint lands on its canonical name
    canon = skeletons.convert(seq.keypoints, skeletons.OPENPOSE18_HANDS)
    c = skeletons.CANONICAL.index
    assert canon[0, 0, c["neck"], 1] == pytest.approx(300.1, abs=1e-4)
    assert canon[0, 0, c["left_wrist"], 0] == pytest.approx(702.9, abs=1e-4)
    assert canon[0, 0, c["right_hip"], 0] == pytest.approx(583.2, abs=1e-4)


def test_openpose_coco_with_hands_and_writer_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    people = np.zeros((1, 60, 3))
    people[0, :, :2] = rng.uniform(100, 500, (60, 2))
    people[0, :, 2] = 0.6
    for n in range(3):
        openpose.write_openpose_frame(tmp_path / f"v_{n:012d}_keypoints.json", people)
    doc = json.loads((tmp_path / "v_000000000000_keypoints.json").read_text())
    assert len(doc["people"][0]["pose_keypoints_2d"]) == 54
    assert len(doc["people"][0]["hand_right_keypoints_2d"]) == 63
    seq = openpose.read_openpose(tmp_path)
    assert seq.layout == "openpose18_hands"
    np.testing.assert_allclose(seq.keypoints[0, 0], people[0], atol=1e-3)


def test_openpose_folder_mixing_models_is_one_error(tmp_path):
    for f in COCO.iterdir():
        shutil.copy(f, tmp_path / f.name)
    body25 = np.zeros((1, 67, 3))
    body25[0, :, :2], body25[0, :, 2] = 300.0, 0.5
    openpose.write_openpose_frame(tmp_path / "talk_000000000003_keypoints.json", body25)
    with pytest.raises(InputFormatError, match="mix OpenPose's BODY_25 model") as err:
        openpose.read_openpose(tmp_path)
    assert "\n" not in str(err.value)


def test_openpose_people_of_two_models_in_one_file_is_one_error(tmp_path):
    doc = json.loads((COCO / "talk_000000000001_keypoints.json").read_text())
    doc["people"][1]["pose_keypoints_2d"] += [1.0, 1.0, 0.5] * 7
    p = tmp_path / "x_000000000000_keypoints.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputFormatError, match="person 1: pose_keypoints_2d has 75 values, "
                                               "expected 54"):
        openpose.read_openpose(p)


def test_openpose_coco_runs_through_the_detector_cli(cli, tmp_path):
    out = tmp_path / "talk.events.jsonl"
    r = cli("detect-keypoints", COCO, "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("{")


# --- Kinetics-skeleton ------------------------------------------------------------------

def test_kinetics_is_told_from_mmpose_by_content():
    assert guess_format(KIN).name == "kinetics" and guess_format(PACK).name == "kinetics"
    assert guess_format(FIX / "mmpose" / "talk_preds.json").name == "mmpose"


def test_kinetics_published_layout(caplog):
    with caplog.at_level(logging.WARNING):
        seq = read_keypoints(KIN)
    assert "assuming 340x256" in caplog.text
    assert seq.layout == "openpose18" and seq.fps == 30 and seq.frame_size == (340, 256)
    assert seq.video_id == "talk_kinetics"
    # frame_index counts from 1 here: frame i is at i / fps, the feeder's column i
    np.testing.assert_allclose(seq.timestamps, np.arange(1, 7) / 30)
    assert seq.meta["label"] == 41 and seq.meta["label_name"] == "scratching head"
    assert seq.num_persons == 2
    # back to pixels (3 decimals of x / 340, y / 256), the seated person is track 0 in
    # every frame although frame 3 lists the other person first
    nose = joint(seq, "nose", 0, 0)
    assert nose[0] == pytest.approx(170, abs=0.4) and nose[1] == pytest.approx(70, abs=0.4)
    wrist = seq.keypoints[0, :, skeletons.OPENPOSE18.index["right_wrist"]]
    assert wrist[2, 1] == pytest.approx(74, abs=1.5) and wrist[0, 1] == pytest.approx(172, abs=1.5)
    assert joint(seq, "right_ear")[2] == 0 and tuple(joint(seq, "right_ear")[:2]) == (0, 0)
    assert joint(seq, "left_ear")[2] == pytest.approx(0.7)
    other = seq.keypoints[1]  # the second person: frames 2-4 (rows 1-3)
    assert (other[1:4, 0, 2] > 0).all() and not (other[[0, 4, 5], :, 2] > 0).any()
    assert not (seq.keypoints[:, 5, :, 2] > 0).any()  # an empty skeleton list


def test_kinetics_frame_size_and_writer_order(caplog):
    with caplog.at_level(logging.WARNING):
        seq = kinetics.read_kinetics(PACK, frame_size=(680, 512))
    assert "assuming" not in caplog.text
    np.testing.assert_allclose(seq.timestamps, np.arange(4) / 30)  # sorted, 0-based
    assert "label" not in seq.meta and seq.meta["label_name"] == "unknown"
    assert joint(seq, "nose")[0] == pytest.approx(340, abs=2)
    wrist = seq.keypoints[0, :, skeletons.OPENPOSE18.index["right_wrist"], 1]
    assert wrist[2] < 2 * 100 < wrist[0]  # raised in frames 2-3 (file frames 3, 4)


def test_kinetics_without_scores_pixels_and_repeats(tmp_path, caplog):
    doc = json.loads(KIN.read_text())
    for fr in doc["data"]:
        for sk in fr["skeleton"]:
            sk["score"] = [0.0] * 18
            sk["pose"] = [v * 640 for v in sk["pose"]]
    doc["data"].append(doc["data"][0])
    p = tmp_path / "clip.json"
    p.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING):
        seq = read_keypoints(p)
    assert "every score is 0" in caplog.text and "occur twice" in caplog.text
    assert "assuming" not in caplog.text and seq.frame_size == (0, 0)
    nose = joint(seq, "nose")
    assert nose[2] == 1.0 and nose[0] == pytest.approx(170 / 340 * 640, abs=1)
    assert joint(seq, "right_ear")[2] == 0  # no coordinates: still missing
    assert seq.meta["scores_missing"] is True


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("data"), "no 'data' list"),
    (lambda d: d.update(data=[]), "holds no frames"),
    (lambda d: d["data"][0].update(frame_index=-1), "whole number from 0 to"),
    (lambda d: d["data"][0].update(frame_index=1.5), "whole number from 0 to"),
    (lambda d: d["data"][0].update(frame_index=10 ** 400), "whole number from 0 to"),
    (lambda d: d["data"][0].update(frame_index=True), "whole number from 0 to"),
    (lambda d: d["data"][0]["skeleton"][0]["pose"].__setitem__(0, True), "must be numbers"),
    (lambda d: d["data"][0]["skeleton"][0]["pose"].__setitem__(0, [1]), "must be numbers"),
    (lambda d: d["data"][0]["skeleton"][0].update(pose=[0.1] * 50), "has 50 values, expected 36"),
    (lambda d: d["data"][0]["skeleton"][0].update(score=[0.1] * 17), "has 17 values, expected 18"),
    (lambda d: d["data"][0]["skeleton"][0]["pose"].__setitem__(0, "x"), "must be numbers"),
    (lambda d: d["data"][0].update(skeleton={}), "'skeleton' is not a list"),
])
def test_kinetics_bad_files_are_one_line(tmp_path, edit, message):
    doc = json.loads(KIN.read_text())
    edit(doc)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputFormatError, match=message) as err:
        kinetics.read_kinetics(p)
    assert "\n" not in str(err.value) and "bad.json" in str(err.value)


def test_kinetics_is_found_in_a_pretty_printed_file_and_mmpose_says_how(tmp_path, cli):
    doc = json.loads(KIN.read_text())
    p = tmp_path / "pretty.json"
    p.write_text(json.dumps({"label": "x", "data": doc["data"] * 20}, indent=4))
    assert guess_format(p).name == "kinetics"  # "data" .. "frame_index" beyond the first 4 KiB
    q = tmp_path / "other.json"
    q.write_text(json.dumps({"skeleton": 1, "frame_index": 2}))
    r = cli("keypoints", "info", q)
    assert r.returncode != 0 and "--format kinetics" in r.stderr and "Traceback" not in r.stderr


def test_a_huge_gap_in_frame_numbers_is_one_error_not_gigabytes(tmp_path, cli):
    doc = json.loads(KIN.read_text())
    doc["data"][-2]["frame_index"] = 9_000_000
    p = tmp_path / "gap.json"
    p.write_text(json.dumps(doc))
    r = cli("detect-keypoints", p, "-o", tmp_path / "e.jsonl", "--body-only")
    assert r.returncode != 0 and "huge gap" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3  # warnings, then one error line


def test_kinetics_cli_info_and_detect(cli, tmp_path):
    r = cli("keypoints", "info", KIN, "--frame-size", "340x256")
    assert r.returncode == 0, r.stderr
    assert "layout openpose18" in r.stdout and "2 person(s)" in r.stdout
    out = tmp_path / "talk.events.jsonl"
    r = cli("detect-keypoints", KIN, "-o", out)
    assert r.returncode != 0 and "--body-only" in r.stderr  # 18 parts have no hands
    r = cli("detect-keypoints", KIN, "-o", out, "--body-only")
    assert r.returncode == 0, r.stderr
    assert out.is_file()
