"""Classes of hostile or careless input at the reading side: every one gives one clear
error (or is read correctly), never a traceback, a hang or a file outside the output."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io import mmpose, openpose
from nfbl.io.event_formats import read_events
from nfbl.io.inputs import safe_name
from nfbl.io.keypoints import read_keypoints

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints"


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=60)


# --- malformed .npz headers: validated once, in PoseSequence.load

def _npz(path, header, **arrays):
    kp = np.zeros((1, 3, 56, 3), np.float32)
    data = {"keypoints": kp, "timestamps": np.arange(3) / 25.0,
            "track_ids": np.zeros(1, np.int64), "header": np.array(json.dumps(header))}
    data.update(arrays)
    np.savez(path, **data)
    return path


GOOD = {"schema": "nfbl.pose_sequence", "version": 1, "layout": "nfbl56", "fps": 25.0,
        "frame_size": [640, 480], "video_id": "v", "meta": {}}


@pytest.mark.parametrize("change,expect", [
    ({"fps": "fast"}, "fps 'fast'"),
    ({"fps": 0}, "fps 0"),
    ({"version": "abc"}, "version 'abc'"),
    ({"layout": None}, "no 'layout'"),
    ({"layout": "stick9"}, "unknown"),
    ({"frame_size": "b"}, "frame_size 'b'"),
    ({"frame_size": [640]}, "frame_size"),
    ({"video_id": 7}, "video_id 7"),
    ({"meta": [1]}, "meta must be an object"),
])
def test_malformed_npz_header_fields(tmp_path, change, expect):
    header = {**GOOD, **change}
    if change.get("layout", "") is None:
        del header["layout"]
    p = _npz(tmp_path / "s.npz", header)
    with pytest.raises(InputFormatError) as err:
        PoseSequence.load(p)
    assert expect in str(err.value) and str(p) in str(err.value)


def test_malformed_npz_structure(tmp_path):
    p = tmp_path / "list.npz"
    kp = np.zeros((1, 3, 56, 3), np.float32)
    np.savez(p, keypoints=kp, timestamps=np.arange(3) / 25.0, track_ids=np.zeros(1, np.int64),
             header=np.array(json.dumps([1, 2])))
    with pytest.raises(InputFormatError, match="expected a JSON object"):
        PoseSequence.load(p)
    p = _npz(tmp_path / "ts.npz", GOOD, timestamps=np.array(0.5))
    with pytest.raises(InputFormatError, match="timestamps must be a 1-D"):
        PoseSequence.load(p)
    p = tmp_path / "nohead.npz"
    np.savez(p, keypoints=kp)
    with pytest.raises(InputFormatError, match="no 'header' array"):
        PoseSequence.load(p)
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:
        z.writestr("x.txt", "hello")
    with pytest.raises(InputFormatError):
        PoseSequence.load(tmp_path / "zip.npz")
    r = nfbl("keypoints", "info", tmp_path / "ts.npz")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# --- FIFOs are refused, never opened

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_inputs_are_refused_without_blocking(tmp_path):
    op = tmp_path / "op"
    op.mkdir()
    (op / "v_000000000000_keypoints.json").write_text('{"people": []}')
    os.mkfifo(op / "v_000000000001_keypoints.json")
    with pytest.raises(InputFormatError, match="named pipe"):
        read_keypoints(op)
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputFormatError, match="named pipe"):
        read_events(fifo)
    os.mkfifo(tmp_path / "x_light_hand.csv")
    with pytest.raises(InputFormatError, match="named pipe"):
        read_keypoints(tmp_path / "x_light_hand.csv")
    r = nfbl("events", "convert", fifo, tmp_path / "o.csv")  # would hang if it opened it
    assert r.returncode == 2 and "named pipe" in r.stderr


# --- BOMs, deep nesting, folders named like frame files

def test_utf8_bom_in_csv_jsonl_and_json(tmp_path):
    bom = "\ufeff"
    p = tmp_path / "labels.csv"
    p.write_text(bom + "video_id,label_id,start_time,start_frame,end_time,end_frame,class,"
                 "subject_id,subject_gender,subject_nationality,win_or_lose\n"
                 "0001,1,1.0000,25,2.0000,50,17,2,male,ES,win\n", encoding="utf-8")
    assert [e.class_id for e in read_events(p)] == [16]
    j = tmp_path / "e.jsonl"
    j.write_text(bom + '{"video_id":"v","class_id":16,"start":1,"end":2}\n', encoding="utf-8")
    assert len(read_events(j)) == 1
    m = tmp_path / "v_label.csv"
    m.write_text(bom + "17,10,25\n", encoding="utf-8")
    assert len(read_events(m)) == 1
    k = tmp_path / "k_light_hand.csv"
    k.write_text(bom + (FIX / "miga" / "clip01_light_hand.csv").read_text(), encoding="utf-8")
    assert read_keypoints(k).num_frames == 5
    f = tmp_path / "v_000000000000_keypoints.json"
    f.write_bytes(b"\xef\xbb\xbf" + (FIX / "openpose" / "interview01" /
                                      "interview01_000000000000_keypoints.json").read_bytes())
    assert openpose.parse_frame(f).shape[1] == 67


def test_deeply_nested_json_is_one_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    for name in ("d.json", "d_000000000000_keypoints.json", "e.jsonl"):
        p = tmp_path / name
        p.write_text(deep if name != "e.jsonl" else deep + "\n")
        with pytest.raises(InputFormatError):
            if name == "e.jsonl":
                read_events(p)
            else:
                read_keypoints(p)
    with pytest.raises(InputFormatError, match="nested too deeply"):
        read_events(tmp_path / "d.json")


def test_openpose_folder_with_a_directory_named_like_a_frame(tmp_path):
    (tmp_path / "v_000000000000_keypoints.json").write_text('{"people": []}')
    (tmp_path / "v_000000000001_keypoints.json").mkdir()
    seq = read_keypoints(tmp_path)
    assert seq.num_frames == 1


# --- one-frame files keep their person; 3-D refused by name

def test_one_image_openpose_and_mmpose_files_keep_the_person(tmp_path):
    people = np.zeros((1, 67, 3), np.float32)
    people[0, :, :2] = np.arange(134).reshape(67, 2) + 10
    people[0, :, 2] = 0.8
    p = tmp_path / "photo_keypoints.json"
    openpose.write_openpose_frame(p, people)
    seq = read_keypoints(p)
    assert seq.num_persons == 1 and seq.num_frames == 1  # was 0 persons, exit 0
    np.testing.assert_allclose(seq.keypoints[0, 0], people[0], rtol=1e-6)
    inst = [{"keypoints": (np.arange(34).reshape(17, 2) + 5.0).tolist(),
             "keypoint_scores": [0.9] * 17}]
    m = tmp_path / "photo.json"
    m.write_text(json.dumps(inst))
    seq = read_keypoints(m)
    assert seq.num_persons == 1 and seq.layout == "coco17"


def test_mmpose_3d_is_refused_by_name(tmp_path):
    inst = [{"frame_id": 0, "instances": [{"keypoints": np.zeros((17, 3)).tolist(),
                                           "keypoint_scores": [0.9] * 17}]}]
    p = tmp_path / "pose3d.json"
    p.write_text(json.dumps(inst))
    with pytest.raises(InputFormatError, match="3-D keypoints .* not supported"):
        mmpose.read_mmpose(p)


# --- negative times, file names from inside inputs

def test_negative_event_times_are_refused(tmp_path):
    p = tmp_path / "neg.json"
    p.write_text(json.dumps({"results": {"v": [{"label": "Folding arms", "score": 0.5,
                                                "segment": [-2.0, 1.0]}]}}))
    with pytest.raises(NfblError, match="negative"):
        read_events(p)
    r = tmp_path / "0001.txt"
    r.write_text("-1.0\t2.0\t17\n")
    with pytest.raises(NfblError, match="negative"):
        read_events(r)


@pytest.mark.parametrize("name,safe", [("../../escaped_clip", "escaped_clip"),
                                       ("/etc/passwd", "etc_passwd"), ("..", "item"),
                                       ("a\\..\\b", "a_b"), ("clip 01", "clip_01"),
                                       ("ok.clip-1", "ok.clip-1")])
def test_safe_name(name, safe):
    assert safe_name(name) == safe


def test_pyskl_clip_names_cannot_escape_the_output_folder(tmp_path):
    p = tmp_path / "ann.pkl"
    kp = np.ones((1, 3, 17, 2), np.float32)
    anns = [{"frame_dir": name, "keypoint": kp, "keypoint_score": np.ones((1, 3, 17), np.float32),
             "img_shape": (480, 640), "label": 1, "total_frames": 3}
            for name in ("../../escaped_clip", "/tmp/abs_clip")]
    with open(p, "wb") as fh:
        pickle.dump({"split": {}, "annotations": anns}, fh)
    out = tmp_path / "deep" / "er" / "out"
    r = nfbl("keypoints", "convert", p, out, "--format", "pyskl", "--trust-pickle")
    assert r.returncode == 0, r.stderr
    assert sorted(x.name for x in out.iterdir()) == ["escaped_clip.npz", "tmp_abs_clip.npz"]
    assert not (tmp_path / "deep" / "escaped_clip.npz").exists()
