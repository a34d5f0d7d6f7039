"""Keypoint readers on small hand-written fixtures in the exact source formats."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.io import keypoints, miga, mmpose, openpose, pyskl, smg
from nfbl.io.keypoints import KEYPOINT_FORMATS, read_keypoints
from nfbl.core.sequence import PoseSequence

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints"
OP = skeletons.OPENPOSE_BODY25_HANDS


def assert_missing_is_zero(kp):
    assert np.all(kp[kp[..., 2] <= 0] == 0)


# --- OpenPose

def test_openpose_two_persons_empty_frame_leave_and_return():
    seq = read_keypoints(FIX / "openpose" / "interview01")
    assert isinstance(seq, PoseSequence)
    assert seq.layout == OP.name and seq.video_id == "interview01"
    assert seq.keypoints.shape == (2, 5, 67, 3)
    np.testing.assert_allclose(seq.timestamps, np.arange(5) / 25.0)
    a, b = seq.keypoints  # A appears first in frame 0
    nose = OP.index["nose"]
    # A: x0 = 600 + dx, nose at (x0, 200); B: x0 = 100 + dx
    np.testing.assert_allclose(a[[0, 1, 3, 4], nose, 0], [600, 601, 603, 604])
    np.testing.assert_allclose(b[[0, 1, 4], nose, 0], [100, 102, 104])
    assert np.all(seq.keypoints[:, 2] == 0)      # the empty frame
    assert np.all(b[3] == 0)                     # B left in frame 3 and came back in 4
    # A's wrists (BODY_25 4 and 7) are missing in frame 1, stay (0, 0, 0)
    assert np.all(a[1, [OP.index["right_wrist"], OP.index["left_wrist"]]] == 0)
    # hands are read: left hand wrist of A at x0 + 60
    assert a[0, OP.index["left_hand_wrist"], 0] == pytest.approx(660)
    assert_missing_is_zero(seq.keypoints)
    assert seq.meta["empty_frames"] == 1


def test_openpose_interviewee_lost_for_two_seconds_stays_one_track(tmp_path):
    rng = np.random.default_rng(0)
    person = np.zeros((67, 3))
    person[:, 0], person[:, 1], person[:, 2] = rng.uniform(500, 700, 67), rng.uniform(200, 600, 67), 0.8
    for n in range(90):
        lost = 20 <= n < 70  # 50 frames (2 s) with nobody found
        openpose.write_openpose_frame(tmp_path / f"v_{n:012d}_keypoints.json",
                                      np.zeros((0, 67, 3)) if lost else person[None])
    seq = openpose.read_openpose(tmp_path)
    assert seq.num_persons == 1
    assert (seq.keypoints[0, 80, :, 2] > 0).any() and not (seq.keypoints[0, 40, :, 2] > 0).any()
    assert openpose.read_openpose(tmp_path, max_rejoin=0).num_persons == 2


def test_openpose_truncated_json_names_file_and_line():
    with pytest.raises(InputFormatError) as err:
        read_keypoints(FIX / "openpose" / "truncated", "openpose")
    msg = str(err.value)
    assert "broken_000000000001_keypoints.json:221" in msg and "truncated JSON" in msg
    assert "\n" not in msg


def test_openpose_bad_structures(tmp_path):
    src = FIX / "openpose" / "interview01" / "interview01_000000000003_keypoints.json"
    good = json.loads(src.read_text())
    p = tmp_path / "v_000000000000_keypoints.json"
    good["people"][0]["pose_keypoints_2d"] = good["people"][0]["pose_keypoints_2d"][:45]
    p.write_text(json.dumps(good))
    with pytest.raises(InputFormatError, match="45 values, expected 75 or 54.*MPI"):
        openpose.read_openpose(tmp_path)
    p.write_text(json.dumps({"version": 1.3}))
    with pytest.raises(InputFormatError, match="no 'people' list"):
        openpose.read_openpose(tmp_path)
    (tmp_path / "w_000000000000_keypoints.json").write_text('{"people": []}')
    with pytest.raises(InputFormatError, match="2 videos"):
        openpose.read_openpose(tmp_path)
    with pytest.raises(InputFormatError, match="no OpenPose"):
        openpose.read_openpose(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_openpose_frame_gaps_keep_timestamps_and_writer_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    people = np.zeros((1, 67, 3))
    people[0, :, :2] = rng.uniform(100, 500, (67, 2))
    people[0, :, 2] = 0.7
    people[0, 30] = 0
    for n in (0, 1, 5):  # frames 2..4 have no file
        openpose.write_openpose_frame(tmp_path / f"x_{n:012d}_keypoints.json", people)
    seq = read_keypoints(tmp_path, fps=10.0)
    np.testing.assert_allclose(seq.timestamps, [0.0, 0.1, 0.5])
    np.testing.assert_allclose(seq.keypoints[0, 0], np.round(people[0], 3), atol=1e-4)
    # a folder of > 64 files takes the threaded path: same result
    for n in range(6, 80):
        openpose.write_openpose_frame(tmp_path / f"x_{n:012d}_keypoints.json", people)
    a = openpose.read_openpose(tmp_path, io_threads=1)
    b = openpose.read_openpose(tmp_path, io_threads=3)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_openpose_legacy_keys_and_normalised_coordinates(tmp_path, caplog):
    rng = np.random.default_rng(3)
    body = np.column_stack([rng.uniform(0, 1, (25, 2)), np.full(25, 0.8)]).round(3)
    hand = np.column_stack([rng.uniform(0, 1, (21, 2)), np.full(21, 0.6)]).round(3)
    person = {"pose_keypoints": body.ravel().tolist(),           # OpenPose < 1.2: no "_2d"
              "hand_left_keypoints": hand.ravel().tolist(), "hand_right_keypoints": []}
    for n in range(2):
        (tmp_path / f"old_{n:012d}_keypoints.json").write_text(
            json.dumps({"version": 1.0, "people": [person]}))
    with caplog.at_level("WARNING"):
        seq = read_keypoints(tmp_path)
    np.testing.assert_allclose(seq.keypoints[0, 0, :25], body, atol=1e-6)
    np.testing.assert_allclose(seq.keypoints[0, 0, 25:46], hand, atol=1e-6)
    assert np.all(seq.keypoints[0, :, 46:] == 0)
    # --keypoint_scale 3 writes [0, 1] coordinates: nfbl says so instead of taking them for pixels
    assert "look like OpenPose's normalised output" in caplog.text


# --- MiGA

def test_miga_reads_skeleton_and_labels():
    # columns as iMiGUEaccessSample.py (class Skeleton) reads them: frame index, then the 25
    # BODY_25 points in BODY_25 order, then 5 finger points of the subject's left hand and 5
    # of the right hand
    path = FIX / "miga" / "clip01_light_hand.csv"
    seq = read_keypoints(path)
    assert seq.layout == "miga35" and seq.keypoints.shape == (1, 5, 35, 3)
    assert seq.video_id == "clip01"
    kp = seq.keypoints[0]
    np.testing.assert_allclose(kp[0, 0], [640, 200, 0.85], rtol=1e-6)   # nose
    np.testing.assert_allclose(kp[3, 2, :2], [560 + 7.5, 295])          # BODY_25 2 = RShoulder
    assert np.all(kp[2, 7] == 0)                                        # left wrist missing
    assert np.all(kp[0, 10] == 0)                                       # knees not visible
    assert np.all(kp[1:4, 34] == 0) and kp[0, 34, 2] > 0                # right pinky tip
    ev = keypoints.read_companion_events(path, seq)
    # gestureID,sframe,eframe with 0-based frames: [sframe, eframe) at 25 fps
    assert [(e.class_id, e.start, e.end) for e in ev] == [(2, 0.0, 0.12), (31, 0.08, 0.2)]
    assert all(e.video_id == "clip01" for e in ev)


def test_miga_real_column_order_lands_on_the_right_canonical_joints():
    # the layout nfbl used before (13 body points + 2 x 11 hand points) read joint 9 on
    # wrongly: the right eye came from BODY_25's right hip (column block 9)
    seq = read_keypoints(FIX / "miga" / "clip01_light_hand.csv").to_layout()
    raw = np.loadtxt(FIX / "miga" / "clip01_light_hand.csv", delimiter=",")[0, 1:].reshape(35, 3)
    canon = skeletons.CANONICAL.index
    for name, block in (("right_eye", 15), ("left_eye", 16), ("right_ear", 17),
                        ("left_ear", 18), ("left_wrist", 7), ("right_shoulder", 2),
                        ("left_hand_thumb_tip", 25), ("left_hand_pinky_tip", 29),
                        ("right_hand_thumb_tip", 30), ("left_hand_wrist", 7)):
        np.testing.assert_allclose(seq.keypoints[0, 0, canon[name]], raw[block], err_msg=name)
    assert seq.keypoints[0, 0, canon["left_hand_index_mcp"], 2] == 0  # not in the file


def test_miga_wrong_column_count_names_file_and_line():
    with pytest.raises(InputFormatError) as err:
        read_keypoints(FIX / "miga_bad" / "clip02_light_hand.csv")
    assert "clip02_light_hand.csv:2: expected 106 columns" in str(err.value)


def test_miga_non_numeric_and_non_increasing(tmp_path):
    lines = (FIX / "miga" / "clip01_light_hand.csv").read_text().splitlines()
    p = tmp_path / "x_light_hand.csv"
    p.write_text("\n".join([lines[0], lines[1].replace(",0.85,", ",abc,", 1)]) + "\n")
    with pytest.raises(InputFormatError, match=r"x_light_hand.csv:2: value 'abc'"):
        miga.read_miga(p)
    p.write_text("\n".join([lines[1], lines[0]]) + "\n")
    with pytest.raises(InputFormatError, match="does not increase"):
        miga.read_miga(p)


def test_miga_column_0_that_is_not_a_frame_number_falls_back_to_rows(tmp_path, caplog):
    """Column 0 counting frames keeps its gaps; a column 0 in milliseconds (steps of 40) is
    not a frame number: rows are frames then, as the organisers' kit always reads them."""
    lines = (FIX / "miga" / "clip01_light_hand.csv").read_text().splitlines()
    rows = [ln.split(",", 1)[1] for ln in lines[:4]]
    p = tmp_path / "x_light_hand.csv"
    p.write_text("\n".join(f"{k},{r}" for k, r in zip((0, 1, 2, 5), rows)) + "\n")
    np.testing.assert_allclose(miga.read_miga(p).timestamps, [0, 0.04, 0.08, 0.2])
    p.write_text("\n".join(f"{k},{r}" for k, r in zip((0, 40, 80, 120), rows)) + "\n")
    with caplog.at_level("WARNING"):
        ts = miga.read_miga(p).timestamps
    np.testing.assert_allclose(ts, [0, 0.04, 0.08, 0.12])
    assert "not a frame number" in caplog.text


# --- SMG

def test_smg_pixels_missing_and_labels(caplog):
    # 275 columns = 25 joints x 11 values (SMGaccessSample.py, mg_read_skeleton.read_xyz);
    # the 2-D point (values 7-8) is in the 512 x 424 depth image
    path = FIX / "smg" / "01_skeleton.csv"
    seq = read_keypoints(path)
    assert seq.layout == "kinect_v2_25" and seq.fps == 30.0
    assert seq.keypoints.shape == (1, 3, 25, 3) and seq.frame_size == (512, 424)
    kp = seq.keypoints[0]
    # x reflected back: Kinect's depth image is mirrored (nfbl.io.smg)
    np.testing.assert_allclose(kp[0, 3], [511 - (180 + 5.5 * 3), 120 + 8.25 * 3, 1.0])
    np.testing.assert_allclose(kp[2, 24, :2], [511 - (180 + 5.5 * 24 + 0.5), 120 + 8.25 * 24])
    assert np.all(kp[1, 7] == 0)  # -inf pixel = untracked
    with caplog.at_level("WARNING"):
        ev = keypoints.read_companion_events(path, seq)
    # label 3 (folding arms) -> N16, 10 (crossing legs) skipped, 2 -> N6; [start, end) frames
    assert [(e.class_id, round(e.start, 4), round(e.end, 4)) for e in ev] == \
        [(16, 0.0, round(2 / 30, 4)), (6, round(2 / 30, 4), 0.1)]
    assert "Crossing legs" in caplog.text


def test_smg_recorder_225_columns_and_data_file(tmp_path):
    # RecordingSceneToVideo.cpp writes 9 values per joint; <ID>_data.csv gives the fps
    rows = (FIX / "smg" / "01_skeleton.csv").read_text().splitlines()
    short = [",".join(v for k, v in enumerate(r.split(",")) if k % 11 < 9) for r in rows]
    p = tmp_path / "Sample0001_skeleton.csv"
    p.write_text("\n".join(short) + "\n")
    (tmp_path / "Sample0001_data.csv").write_text("3,20,4500\n")
    seq = read_keypoints(p)
    assert seq.fps == 20.0 and seq.video_id == "Sample0001"
    np.testing.assert_array_equal(seq.keypoints, read_keypoints(FIX / "smg" / "01_skeleton.csv").keypoints)
    p.write_text("\n".join("0," + r for r in rows) + "\n")  # a frame-index column: unknown
    with pytest.raises(InputFormatError, match="expected 275 or 225 columns"):
        read_keypoints(p)


def test_smg_bad_label_file(tmp_path):
    p = tmp_path / "01_finelabels.csv"
    p.write_text("3,0,1\n3,4\n")
    with pytest.raises(InputFormatError, match=r"01_finelabels.csv:2: expected 3 columns"):
        smg.read_smg_labels(p)
    p.write_text("18,0,1\n")
    with pytest.raises(InputFormatError, match=r":1: SMG label 18"):
        smg.read_smg_labels(p)


# --- mmpose

def test_mmpose_inferencer_video_output():
    default = read_keypoints(FIX / "mmpose" / "talk_preds.json")
    assert default.keypoints.shape == (1, 3, 17, 3)  # the one-frame track is dropped
    seq = mmpose.read_mmpose(FIX / "mmpose" / "talk_preds.json", min_track_frames=1)
    assert seq.layout == "coco17" and seq.keypoints.shape == (2, 3, 17, 3)
    np.testing.assert_allclose(seq.keypoints[0, 1, 0], [502, 201, 0.9], rtol=1e-6)
    assert np.all(seq.keypoints[0, 0, 15] == 0)  # score 0 -> missing
    assert np.all(seq.keypoints[:, 2] == 0)
    assert seq.keypoints[1, 1, 0, 0] == 50


def test_mmpose_topdown_wholebody_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    inst = {"keypoints": rng.uniform(0, 500, (133, 2)).tolist(),
            "keypoint_scores": rng.uniform(0.1, 1, 133).tolist()}
    p = tmp_path / "demo.json"
    p.write_text(json.dumps({"meta_info": {"dataset_name": "coco_wholebody"},
                             "instance_info": [{"frame_id": 1, "instances": [inst]},
                                               {"frame_id": 2, "instances": [inst]}]}))
    seq = mmpose.read_mmpose(p, min_score=0.5)
    assert seq.layout == "coco_wholebody133" and seq.keypoints.shape == (1, 2, 133, 3)
    assert np.all(seq.keypoints[0, 0, np.array(inst["keypoint_scores"]) <= 0.5] == 0)
    # RTMPose (SimCC) scores above 1 are confidences: clipped to 1
    hot = dict(inst, keypoint_scores=[3.2] * 133)
    p.write_text(json.dumps({"instance_info": [{"frame_id": 1, "instances": [hot]},
                                               {"frame_id": 2, "instances": [hot]}]}))
    assert mmpose.read_mmpose(p).keypoints[..., 2].max() == 1.0
    inst["keypoints"] = inst["keypoints"][:20]
    inst["keypoint_scores"] = inst["keypoint_scores"][:20]
    p.write_text(json.dumps([inst]))
    with pytest.raises(InputFormatError, match="20 keypoints"):
        mmpose.read_mmpose(p)
    p.write_text('[{"frame_id": 0, "instances": [')
    with pytest.raises(InputFormatError, match=r"demo.json:1: invalid or truncated JSON"):
        mmpose.read_mmpose(p)


# --- pyskl

def _pyskl_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    anns = [{"frame_dir": f"clip{k}",
             "keypoint": rng.uniform(0, 300, (2, 4, 17, 2)).astype(np.float32),
             "keypoint_score": rng.uniform(0, 1, (2, 4, 17)).astype(np.float32),
             "total_frames": 4, "img_shape": (480, 640), "label": k} for k in range(3)]
    anns[0]["keypoint_score"][0, 0, 0] = 0.0
    p = tmp_path / "ann.pkl"
    with open(p, "wb") as fh:
        pickle.dump({"split": {"xsub_train": ["clip0", "clip1"], "xsub_val": ["clip2"]},
                     "annotations": anns}, fh)
    return p


def test_pyskl_refused_without_trust(tmp_path):
    p = _pyskl_file(tmp_path)
    with pytest.raises(NfblError) as err:
        read_keypoints(p)
    assert "--trust-pickle" in str(err.value) and str(p) in str(err.value)


def test_pyskl_trusted(tmp_path):
    p = _pyskl_file(tmp_path)
    seqs = read_keypoints(p, trust_pickle=True)
    assert isinstance(seqs, list) and len(seqs) == 3
    s = seqs[0]
    assert s.layout == "coco17" and s.keypoints.shape == (2, 4, 17, 3)
    assert s.frame_size == (640, 480) and s.meta["label"] == 0
    assert s.meta["splits"] == ["xsub_train"]
    assert np.all(s.keypoints[0, 0, 0] == 0)
    assert [x.video_id for x in pyskl.read_pyskl(p, True, split="xsub_val")] == ["clip2"]
    with pytest.raises(NfblError, match="no split"):
        pyskl.read_pyskl(p, True, split="nope")


def _dump(path: Path, doc) -> Path:
    with open(path, "wb") as fh:
        pickle.dump(doc, fh)
    return path


def test_pyskl_layouts_the_owners_write(tmp_path, caplog):
    """What pyskl and mmaction2 code writes besides the canonical file (checked against their
    writers, 2026-12-07): one video's annotation alone (mmaction2 ntu_pose_extraction.py),
    None entries (pyskl ntu_preproc.py), 'filename' as the clip name (PoseDataset's
    identifier), img_shape as an array, padding after total_frames, no keypoint_score."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(10, 300, (1, 6, 17, 2)).astype(np.float16)
    one = {"frame_dir": "S001C001P001R001A001", "label": 3, "img_shape": (1080, 1920),
           "original_shape": (1080, 1920), "total_frames": 6, "keypoint": xy,
           "keypoint_score": np.full((1, 6, 17), 0.9, np.float16)}
    (s,) = read_keypoints(_dump(tmp_path / "one.pkl", one), trust_pickle=True)
    assert s.video_id == "S001C001P001R001A001" and s.frame_size == (1920, 1080)
    np.testing.assert_allclose(s.keypoints[0, :, :, :2], xy[0].astype(np.float32))
    named = dict(one, filename="clips/a.mp4", img_shape=np.array([480, 640]))
    padded = dict(one, frame_dir="b", total_frames=4)
    padded["keypoint"] = xy.copy()
    padded["keypoint"][:, 4:] = 0
    no_score = {k: v for k, v in one.items() if k != "keypoint_score"}
    no_score["frame_dir"] = "c"
    no_score["keypoint"] = np.concatenate([xy, np.zeros_like(xy)])     # a padded 2nd person
    doc = {"split": {"train": ["clips/a.mp4", "b", "c"]},
           "annotations": [named, None, padded, no_score]}
    with caplog.at_level("WARNING"):
        seqs = pyskl.read_pyskl(_dump(tmp_path / "many.pkl", doc), True, split="train")
    assert "1 empty (None) annotation" in caplog.text
    assert [q.video_id for q in seqs] == ["clips/a.mp4", "b", "c"]
    assert seqs[0].frame_size == (640, 480) and seqs[1].num_frames == 4
    assert (seqs[2].keypoints[0, ..., 2] == 1).all() and not seqs[2].keypoints[1].any()


def test_pyskl_odd_values_are_one_line_or_read(tmp_path):
    ann = {"frame_dir": "x", "total_frames": 6.0, "img_shape": (-480, -640),
           "keypoint": np.ones((1, 6, 17, 2)), "keypoint_score": np.ones((1, 6, 17)),
           "label": np.int64(4)}
    (s,) = read_keypoints(_dump(tmp_path / "ok.pkl", [ann]), trust_pickle=True)
    assert s.num_frames == 6 and s.frame_size == (0, 0) and s.meta["label"] == 4
    for i, (bad, message) in enumerate((
            ({"keypoint_score": "high"}, "'keypoint_score' is not numeric"),
            ({"label": "x"}, "is not one class index"),
            ({"total_frames": "6 frames"}, "is not a number"),
            ({"total_frames": 7.0}, "6 frames but total_frames is 7"))):
        p = _dump(tmp_path / f"bad{i}.pkl", [dict(ann, **bad)])
        with pytest.raises(InputFormatError, match=message):
            read_keypoints(p, trust_pickle=True)
    with pytest.raises(InputFormatError, match="'split' is not a table"):
        read_keypoints(_dump(tmp_path / "s.pkl", {"split": ["x"], "annotations": [ann]}),
                       trust_pickle=True)
    with pytest.raises(InputFormatError, match="no clip"):
        read_keypoints(_dump(tmp_path / "n.pkl", [None]), trust_pickle=True)


@pytest.mark.parametrize("change, message", [
    ({"total_frames": 9}, "6 frames but total_frames is 9"),
    ({"keypoint": np.ones((3, 6, 25, 2)), "keypoint_score": np.ones((3, 6, 25))},
     r"older NTU RGB\+D layout"),
    ({"keypoint": np.ones((6, 17, 3)), "frame_inds": np.arange(6)}, "--compress"),
])
def test_pyskl_layouts_that_would_be_misread_are_one_line(tmp_path, change, message):
    ann = {"frame_dir": "x", "total_frames": 6, "img_shape": (480, 640),
           "keypoint": np.ones((1, 6, 17, 2)), "keypoint_score": np.ones((1, 6, 17))}
    p = _dump(tmp_path / "bad.pkl", {"split": {}, "annotations": [dict(ann, **change)]})
    with pytest.raises(InputFormatError, match=message):
        read_keypoints(p, trust_pickle=True)


# --- iMiGUE classification track: ST-GCN feeder arrays and the MiGA 2023 pyskl pickle

#: the kit's used_joints (imigue_gendata.py) as MiGA CSV column blocks
KIT22_BLOCKS = (0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 18, *range(25, 35))


def _kit_arrays(tmp_path: Path, part: str = "train", max_frame: int = 90,
                csv: Path = FIX / "miga" / "clip01_light_hand.csv") -> tuple[Path, list]:
    """``<part>_data.npy`` + ``<part>_label.pkl`` made from the MiGA fixture the way the
    organisers' kit does it (mikecheninoulu/SMG classification/iMiGUE/stgcn_imigue,
    tools/imigue_gendata.py with iMiGUEaccessSample.GestureSample): one clip per label row,
    rows sframe..eframe of the CSV (both included), the last max_frame kept, the kit's joints
    in its order, zero frames up to max_frame, label = gestureID - 1 with 99 read as 32."""
    raw = np.loadtxt(csv, delimiter=",")[:, 1:].reshape(-1, 35, 3)
    rows = [r.split(",") for r in (FIX / "miga" / "clip01_label.csv").read_text().split()]
    data = np.lib.format.open_memmap(str(tmp_path / f"{part}_data.npy"), dtype="float32",
                                     mode="w+", shape=(len(rows), 3, max_frame, 22, 1))
    names, labels = [], []
    clips = []
    for k, (gid, sf, ef) in enumerate(rows):
        # the fixture's last gesture ends at 5, past its 5 rows (the kit would stop there)
        sf, ef = int(sf), min(int(ef), len(raw) - 1)
        if ef - sf > max_frame - 1:
            sf = ef - max_frame + 1
        clip = raw[sf:ef + 1][:, KIT22_BLOCKS]            # (t, 22, 3)
        data[k, :, :len(clip), :, 0] = clip.transpose(2, 0, 1)
        names.append(f"clip01_{k}")
        labels.append((32 if int(gid) == 99 else int(gid)) - 1)
        clips.append((gid, sf, ef))
    data.flush()
    del data
    with open(tmp_path / f"{part}_label.pkl", "wb") as fh:
        pickle.dump((names, labels), fh)
    return tmp_path / f"{part}_data.npy", clips


def test_stgcn_arrays_land_on_the_joints_the_miga_csv_gives(tmp_path):
    path, rows = _kit_arrays(tmp_path)
    assert keypoints.guess_format(path).name == "stgcn"
    clips = read_keypoints(path, trust_pickle=True)
    assert [c.video_id for c in clips] == ["clip01_0", "clip01_1"]
    # labels: 3 -> 2 (N2), 99 -> 31 (N31): the kit's label is the NFBL id
    assert [c.meta["label"] for c in clips] == [2, 31]
    assert [c.meta["class_id"] for c in clips] == [2, 31]
    whole = read_keypoints(FIX / "miga" / "clip01_light_hand.csv").to_layout()
    canon = skeletons.CANONICAL.index
    for clip, (_, sf, ef) in zip(clips, rows):
        assert clip.layout == "openpose22" and clip.fps == 25.0
        assert clip.num_frames == int(ef) - int(sf) + 1  # the zero padding is dropped
        got = clip.to_layout()
        for name in skeletons.OPENPOSE22.joints:
            np.testing.assert_allclose(got.keypoints[0, :, canon[name]],
                                       whole.keypoints[0, int(sf):int(ef) + 1, canon[name]],
                                       err_msg=name)
    # by name: the kit's 'HandRight' (block 7) is the subject's left wrist, and its
    # 'RightFinger1' (block 25) the left thumb tip, as in miga35
    raw = np.load(path)
    lay = skeletons.OPENPOSE22.index
    np.testing.assert_allclose(clips[0].keypoints[0, 0, lay["left_wrist"]], raw[0, :, 0, 7, 0])
    np.testing.assert_allclose(clips[0].keypoints[0, 0, lay["left_hand_thumb_tip"]],
                               raw[0, :, 0, 12, 0])


def test_stgcn_labels_need_trust_and_guards(tmp_path, caplog):
    path, _ = _kit_arrays(tmp_path)
    with caplog.at_level("WARNING"):
        clips = read_keypoints(path)
    assert "--trust-pickle" in caplog.text
    assert [c.video_id for c in clips] == ["train#0", "train#1"]
    assert "label" not in clips[0].meta
    bad = tmp_path / "x_data.npy"
    np.save(bad, np.zeros((2, 3, 90, 25, 1), np.float32))
    with pytest.raises(InputFormatError, match="25 joints"):
        read_keypoints(bad)
    np.save(bad, np.zeros((2, 2, 90, 22, 1), np.float32))
    with pytest.raises(InputFormatError, match="2 channels"):
        read_keypoints(bad)
    np.save(bad, np.zeros((2, 90, 22), np.float32))
    with pytest.raises(InputFormatError, match=r"\(N, C, T, V, M\)"):
        read_keypoints(bad)
    np.save(bad, np.zeros((3, 3, 90, 22, 1), np.float32))
    with open(tmp_path / "x_label.pkl", "wb") as fh:
        pickle.dump((["a", "b"], [1, 2]), fh)
    with pytest.raises(InputFormatError, match="2 names and 2 labels for 3 clips"):
        read_keypoints(bad, trust_pickle=True)


def _winners_pickle(path: Path) -> Path:
    """VUT-HFUT/MiGA2023_Track1 tools/readlabel.py: the kit's arrays as a pyskl pickle."""
    data = np.load(path)
    names, labels = pickle.loads(path.with_name(path.name.replace("_data.npy", "_label.pkl"))
                                 .read_bytes())
    anns = []
    for i in range(len(names)):
        anns.append({"frame_dir": names[i], "label": labels[i], "img_shape": (1080, 1920),
                     "original_shape": (1080, 1920), "total_frames": 90,
                     "keypoint": data[i][:2].transpose(3, 1, 2, 0),
                     "keypoint_score": data[i][2:3].reshape(1, 90, 22)})
    p = path.with_name(path.name.replace("_data.npy", ".pkl"))
    with open(p, "wb") as fh:
        pickle.dump({"split": {"train": list(names)}, "annotations": anns}, fh)
    return p


def test_pyskl_22_joints_from_the_miga_2023_winners_script(tmp_path):
    path, _ = _kit_arrays(tmp_path)
    p = _winners_pickle(path)
    seqs = read_keypoints(p, trust_pickle=True)
    ref = read_keypoints(path, trust_pickle=True)
    assert [s.layout for s in seqs] == ["openpose22"] * 2
    assert seqs[0].frame_size == (1920, 1080) and seqs[1].meta["label"] == 31
    assert {s.fps for s in seqs} == {25.0} == {r.fps for r in ref}   # iMiGUE video, as the arrays
    for s, r in zip(seqs, ref):
        np.testing.assert_array_equal(s.keypoints[:, :r.num_frames], r.keypoints)
        assert not s.keypoints[:, r.num_frames:].any()  # pyskl keeps the padding, as written


# --- dispatcher

def test_guess_format_and_npz_roundtrip(tmp_path):
    assert keypoints.guess_format(FIX / "openpose" / "interview01").name == "openpose"
    assert keypoints.guess_format("a_light_hand.csv").name == "miga"
    assert keypoints.guess_format("01_skeleton.csv").name == "smg"
    assert keypoints.guess_format("p.json").name == "mmpose"
    assert keypoints.guess_format("v_000000000001_keypoints.json").name == "openpose"
    assert keypoints.guess_format("p.pkl") is KEYPOINT_FORMATS["pyskl"]
    with pytest.raises(NfblError, match="--format"):
        keypoints.guess_format("thing.txt")
    with pytest.raises(NfblError, match="unknown keypoint format"):
        read_keypoints(FIX / "smg" / "01_skeleton.csv", "kinect")
    seq = read_keypoints(FIX / "smg" / "01_skeleton.csv")
    out = seq.save(tmp_path / "s.npz")
    back = read_keypoints(out)
    np.testing.assert_array_equal(back.keypoints, seq.keypoints)
    assert back.layout == seq.layout and back.fps == seq.fps


def test_format_table_agrees_with_the_reader_modules():
    # the table (nfbl.io.keypoints) stays import-light; these constants must not drift
    t = KEYPOINT_FORMATS
    assert t["miga"].suffixes == (miga.SKELETON_SUFFIX,) and t["miga"].default_fps == miga.DEFAULT_FPS
    assert t["smg"].suffixes == (smg.SKELETON_SUFFIX,) and t["smg"].default_fps == smg.DEFAULT_FPS
    assert t["openpose"].default_fps == openpose.DEFAULT_FPS
    assert t["mmpose"].default_fps == mmpose.DEFAULT_FPS and t["pyskl"].default_fps == pyskl.DEFAULT_FPS
    assert openpose.FILE_RE.match("v_000000000001" + t["openpose"].suffixes[0])
    from nfbl.batch.discover import EXPLICIT_KEYPOINT_SUFFIXES, KEYPOINT_SUFFIXES
    assert set(KEYPOINT_SUFFIXES) == {"_light_hand.csv", "_skeleton.csv", ".npz", ".pose",
                                      "alphapose-results.json", ".skeleton"}
    from nfbl.io import alphapose, kinetics, ntu
    assert t["ntu"].default_fps == ntu.DEFAULT_FPS and t["kinetics"].default_fps == kinetics.DEFAULT_FPS
    assert t["alphapose"].default_fps == alphapose.DEFAULT_FPS
    assert set(EXPLICIT_KEYPOINT_SUFFIXES) == {".json", ".pkl", ".pickle", ".h5", ".hdf5",
                                               "_data.npy"} | {f"{d}.txt" for d in range(10)}
    from nfbl.io import yolo
    assert t["yolo"].default_fps == yolo.DEFAULT_FPS
    # every name the reader accepts (<video>_<frame>.txt) ends in one of the table's endings
    assert all(yolo.FILE_RE.match(n) and t["yolo"].match(n) for n in ("press_1.txt", "a_b_10.txt"))
    assert t["yolo"].match("notes.txt") is None
    from nfbl.io import stgcn
    assert t["stgcn"].suffixes == (stgcn.SUFFIX,) and t["stgcn"].default_fps == stgcn.DEFAULT_FPS
    from nfbl.io import pats
    assert t["pats"].default_fps == pats.DEFAULT_FPS


def test_io_package_exposes_the_public_readers_lazily():
    import subprocess
    import sys
    code = ("import sys, nfbl.io; assert 'numpy' not in sys.modules, 'numpy loaded'; "
            "from nfbl.io import read_keypoints, read_events, write_events; "
            "from nfbl.io.keypoints import read_keypoints as r; assert r is read_keypoints")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_mmpose_dataset_name_guards_the_keypoint_order(tmp_path, caplog):
    # the demo writes meta_info.dataset_name; 17 PoseTrack18 keypoints are not COCO's 17
    inst = {"keypoints": [[float(10 + i), float(20 + i)] for i in range(17)],
            "keypoint_scores": [0.9] * 17}
    frames = [{"frame_id": 1, "instances": [inst]}, {"frame_id": 2, "instances": [inst]}]
    p = tmp_path / "pt.json"
    p.write_text(json.dumps({"meta_info": {"dataset_name": "posetrack18"}, "instance_info": frames}))
    with pytest.raises(InputFormatError, match="'posetrack18': its keypoints are not in COCO order"):
        mmpose.read_mmpose(p)
    p.write_text(json.dumps({"meta_info": {"dataset_name": "Human-Art"}, "instance_info": frames}))
    assert mmpose.read_mmpose(p).layout == "coco17"
    p.write_text(json.dumps({"meta_info": {"dataset_name": "my_coco_like"}, "instance_info": frames}))
    with caplog.at_level("WARNING"):
        assert mmpose.read_mmpose(p).layout == "coco17"
    assert "not a COCO-ordered dataset nfbl knows" in caplog.text


def test_openpose_image_dir_output_is_read_in_natural_name_order(tmp_path, caplog):
    # `openpose --image_dir imgs --write_json out` names files after the images, no frame number
    people = np.zeros((1, 67, 3))
    for k, name in enumerate(("img2", "img10", "img1")):
        people[0, :, :2] = 100 + {"img1": 1, "img2": 2, "img10": 10}[name]
        people[0, :, 2] = 0.9
        openpose.write_openpose_frame(tmp_path / f"{name}_keypoints.json", people)
    with caplog.at_level("WARNING"):
        seq = read_keypoints(tmp_path, fps=5.0)
    assert seq.video_id == tmp_path.name and "--image_dir" in caplog.text
    np.testing.assert_allclose(seq.keypoints[0, :, 0, 0], [101, 102, 110])
    np.testing.assert_allclose(seq.timestamps, [0.0, 0.2, 0.4])


# --- which wrist the fingertips belong to (nfbl.keypoints.hands)

def _swapped_miga_csv(tmp_path: Path) -> Path:
    """The MiGA fixture with its two fingertip blocks (25-29, 30-34) exchanged: a file that
    pairs them the way the kit's ST-GCN graph does, not its drawing code."""
    rows = np.loadtxt(FIX / "miga" / "clip01_light_hand.csv", delimiter=",")
    body = rows[:, 1:].reshape(len(rows), 35, 3).copy()
    body[:, 25:30], body[:, 30:35] = body[:, 30:35].copy(), body[:, 25:30].copy()
    p = tmp_path / "swapped" / "clip01_light_hand.csv"
    p.parent.mkdir(parents=True)
    np.savetxt(p, np.concatenate([rows[:, :1], body.reshape(len(rows), -1)], axis=1),
               delimiter=",", fmt="%g")
    return p


def test_fingertips_at_the_other_wrists_are_swapped_back(tmp_path, caplog):
    plain = read_keypoints(FIX / "miga" / "clip01_light_hand.csv")
    assert "fingertips_swapped" not in plain.meta   # the fixture pairs them as nfbl reads them
    with caplog.at_level("WARNING"):
        fixed = read_keypoints(_swapped_miga_csv(tmp_path))
    assert "lies at the other wrist" in caplog.text and fixed.meta["fingertips_swapped"] is True
    np.testing.assert_allclose(fixed.keypoints, plain.keypoints, atol=1e-4)
    # the same for the classification track's arrays and their pyskl repack
    (tmp_path / "kit").mkdir()
    path, _ = _kit_arrays(tmp_path / "kit", csv=_swapped_miga_csv(tmp_path / "b"))
    ref, _ = _kit_arrays(tmp_path / "kit", part="ref")
    for got, want in zip(read_keypoints(path, trust_pickle=True),
                         read_keypoints(ref, trust_pickle=True)):
        assert got.meta["fingertips_swapped"] is True and "fingertips_swapped" not in want.meta
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1e-4)
    for got, want in zip(read_keypoints(_winners_pickle(path), trust_pickle=True),
                         read_keypoints(_winners_pickle(ref), trust_pickle=True)):
        assert got.meta["fingertips_swapped"] is True and "fingertips_swapped" not in want.meta
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1e-4)


def test_fingertip_sides_need_clear_evidence():
    from nfbl.keypoints import hands
    lay = skeletons.MIGA35
    kp = read_keypoints(FIX / "miga" / "clip01_light_hand.csv").keypoints[0]
    assert not hands.swapped_tip_groups(kp, lay)
    assert hands.swapped_tip_groups(hands.swap_tip_groups(kp, lay), lay)
    assert not hands.swapped_tip_groups(hands.swap_tip_groups(kp, lay)[:2], lay)  # < 3 frames
    # hands held together: both groups equally near both wrists, no swap either way
    together = kp.copy()
    lw, rw = lay.index["left_wrist"], lay.index["right_wrist"]
    together[:, rw, :2] = together[:, lw, :2]
    tips = hands.tip_groups(lay)
    together[:, tips["right"], :2] = together[:, tips["left"], :2]
    assert not hands.swapped_tip_groups(together, lay)
    assert not hands.swapped_tip_groups(hands.swap_tip_groups(together, lay), lay)


# --- clips through the detector: nfbl classify and DenseDetector.clip_scores

def test_classify_cli_on_the_kit_arrays(tmp_path, cli):
    from nfbl.exports.runtime import Detector, bundled_model_path
    if bundled_model_path() is None:
        pytest.skip("no bundled model")
    path, _ = _kit_arrays(tmp_path)
    out = tmp_path / "ranks.csv"
    r = cli("classify", path, "--trust-pickle", "-o", out, "--top", "3", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "2 labelled clips: top-1" in r.stdout and "(true N2)" in r.stdout
    rows = out.read_text().splitlines()
    assert rows[0] == "clip,frames,true,class1,score1,class2,score2,class3,score3"
    assert rows[1].startswith("clip01_0,4,N2,") and rows[2].startswith("clip01_1,3,N31,")
    # the scores are the detector's clip scores, best first
    det = Detector.load(None, threads=1)
    clip = read_keypoints(path, trust_pickle=True)[0]
    sc = det.clip_scores(clip)[0]
    best = int(np.argmax(sc))
    assert rows[1].split(",")[3] == f"N{det.card.class_ids[best]}"
    assert float(rows[1].split(",")[4]) == pytest.approx(float(sc[best]), abs=1e-4)
    js = tmp_path / "ranks.json"
    assert cli("classify", path, "-o", js, "--threads", "1").returncode == 0  # no labels
    doc = json.loads(js.read_text())
    assert doc["summary"]["clips"] == 2 and "top1" not in doc["summary"]
    bad = cli("classify", path, "-o", tmp_path / "ranks.txt")
    assert bad.returncode != 0 and "write .csv or .json" in bad.stderr and "Traceback" not in bad.stderr


def test_clip_scores_are_the_max_of_the_frame_probabilities():
    from dataclasses import replace
    from nfbl.exports.decoding import apply_class_bias
    from nfbl.exports.model_input import prepare
    from nfbl.exports.runtime import Detector, bundled_model_path
    from nfbl.synth import SynthConfig, generate_video
    if bundled_model_path() is None:
        pytest.skip("no bundled model")
    det = Detector.load(None, threads=1)
    seq, _ = generate_video(SynthConfig(minutes=0.1, layout="openpose_body25_hands"), seed=3)
    probs, _ = det.predict(prepare(seq, 0, det.card)[0])
    plain = replace(det.decode_config(), contact_check=False)
    np.testing.assert_allclose(det.clip_scores(seq, decode=plain)[0], probs.max(axis=0), atol=1e-6)
    # with the contact check (the card's default) a class is either kept as is or ruled out
    checked = det.clip_scores(seq)[0]
    assert np.all((checked == 0) | np.isclose(checked, probs.max(axis=0), atol=1e-6))
    # reduced hands: the card's offset raises every class alike, so the order stays
    tips = seq.to_layout(skeletons.OPENPOSE22)
    raw = det.predict(prepare(tips, 0, det.card)[0])[0].max(axis=0)
    b = det.decode_config().reduced_hands_bias
    np.testing.assert_allclose(det.clip_scores(tips, decode=plain)[0],
                               apply_class_bias(raw[None], [b] * len(raw))[0], atol=1e-6)
    off = det.clip_scores(tips, decode=replace(plain, reduced_hands_bias=0.0))[0]
    np.testing.assert_allclose(off, raw, atol=1e-6)


def test_openpose_sparse_frame_numbers_warn_they_may_be_separate_images(tmp_path, caplog):
    """OpenPose writes a file for every video frame; ``--image_dir`` output of images named
    like COCO_val2014_000000000192.jpg reads as one video with huge gaps: say so."""
    people = np.zeros((1, 67, 3))
    people[0, :, :2], people[0, :, 2] = 200.0, 0.9
    for n in (192, 241):
        openpose.write_openpose_frame(tmp_path / f"COCO_val2014_{n:012d}_keypoints.json", people)
    with caplog.at_level("WARNING"):
        seq = read_keypoints(tmp_path)
    assert seq.num_frames == 2 and "separate images" in caplog.text
    caplog.clear()
    for n in range(193, 241):
        openpose.write_openpose_frame(tmp_path / f"COCO_val2014_{n:012d}_keypoints.json", people)
    with caplog.at_level("WARNING"):
        read_keypoints(tmp_path)
    assert "separate images" not in caplog.text
