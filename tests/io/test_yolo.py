"""Ultralytics YOLO pose labels (nfbl.io.yolo) on fixtures written the way Ultralytics'
Results.save_txt writes them (tests/fixtures/keypoints/yolo/make_fixtures.py)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.io.keypoints import guess_format, read_keypoints

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints" / "yolo"
# the fixture person (COCO-17 order, pixels of a 1280 x 720 frame)
PERSON = np.array([(640, 250), (652, 238), (628, 238), (668, 246), (612, 246), (720, 340),
                   (560, 340), (745, 450), (535, 450), (670, 290), (540, 540)], np.float64)


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_predict_labels_frames_from_one_in_pixels():
    d = FIX / "predict" / "labels"
    assert guess_format(d).name == "yolo" and guess_format(d / "press_4.txt").name == "yolo"
    s = read_keypoints(d, frame_size=(1280, 720))
    assert (s.layout, s.video_id, s.frame_size, s.fps) == ("coco17", "press", (1280, 720), 25.0)
    # files press_1, _2, _4: frames 0, 1, 3 at k / 25 s; frame 2 had nobody (no file)
    assert s.keypoints.shape == (1, 4, 17, 3)
    np.testing.assert_allclose(s.timestamps, [0, 0.04, 0.08, 0.12])
    assert not s.keypoints[0, 2].any()
    # normalised x y restored to pixels (float32 through "%g": within 0.05 px)
    np.testing.assert_allclose(s.keypoints[0, 0, :11, :2], PERSON, atol=0.05)
    np.testing.assert_allclose(s.keypoints[0, 3, :11, 0], PERSON[:, 0] + 6, atol=0.05)
    assert s.keypoints[0, 0, 0, 2] == pytest.approx(0.97)
    # hips, knees, ankles zeroed by Ultralytics (confidence < 0.5): missing, not at (0, 0)
    assert not s.keypoints[0, 0, 11:].any()
    # the small bystander of frame 1 (one frame) is not the linked track
    np.testing.assert_allclose(s.keypoints[0, 1, 0, 0], 643.0, atol=0.05)
    assert s.meta["tracks_from"] == "linked"


def test_track_ids_are_kept_whatever_the_line_order():
    s = read_keypoints(FIX / "track" / "labels", frame_size=(1280, 720))
    assert list(s.track_ids) == [1, 2] and s.meta["tracks_from"] == "track id"
    # frame 1 lists track 2 first: rows still follow the ids
    np.testing.assert_allclose(s.keypoints[:, 1, 0, 0], [642.0, 1062.0], atol=0.05)


def test_frame_size_is_required_and_bad_lines_are_one_line(tmp_path):
    r = nfbl("keypoints", "info", FIX / "predict" / "labels")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--frame-size WxH" in r.stderr
    r = nfbl("keypoints", "info", FIX / "predict" / "labels", "--frame-size", "1280x720", "--json")
    assert r.returncode == 0 and '"layout": "coco17"' in r.stdout
    d = tmp_path / "labels"
    shutil.copytree(FIX / "predict" / "labels", d)
    text = (d / "press_2.txt").read_text().splitlines()
    (d / "press_2.txt").write_text(text[0] + "\n" + " ".join(text[1].split()[:-3]) + "\n")
    r = nfbl("keypoints", "info", d, "--frame-size", "1280x720")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "press_2.txt:2: expected a YOLO pose line" in r.stderr
    (d / "press_2.txt").write_bytes(b"\xff\xfe\x00 not text")
    r = nfbl("keypoints", "info", d, "--frame-size", "1280x720")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "press_2.txt: not a text (YOLO label) file" in r.stderr
    shutil.copy(FIX / "predict" / "labels" / "press_2.txt", d / "press_2.txt")
    shutil.copy(FIX / "track" / "labels" / "press_1.txt", d / "other_1.txt")
    with pytest.raises(NfblError, match="YOLO labels of 2 videos in one folder"):
        read_keypoints(d, frame_size=(1280, 720))
    assert read_keypoints(d, frame_size=(1280, 720), video_id="other").num_persons == 2


def test_detect_keypoints_reads_yolo_labels_body_only(tmp_path):
    r = nfbl("detect-keypoints", FIX / "track" / "labels", "-o", tmp_path / "e.jsonl",
             "--frame-size", "1280x720")
    assert r.returncode == 2 and "--body-only" in r.stderr
    r = nfbl("detect-keypoints", FIX / "track" / "labels", "-o", tmp_path / "e.jsonl",
             "--frame-size", "1280x720", "--body-only")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "e.jsonl").is_file()


def test_a_single_label_file_keeps_every_person(tmp_path):
    """One frame's file (press_4.txt: frame 3, frames 0-2 without a file) keeps its people;
    before, one-frame tracks were dropped unless the whole video had one frame."""
    one = FIX / "predict" / "labels" / "press_4.txt"
    people = sum(1 for ln in one.read_text().splitlines() if ln.strip())
    s = read_keypoints(one, "yolo", frame_size=(1280, 720))
    assert s.num_frames == 4 and s.num_persons == people >= 1
    assert (s.keypoints[:, 3, :, 2] > 0).any(axis=1).all() and not s.keypoints[:, :3].any()


def test_stream_sources_count_frames_from_zero(tmp_path):
    """A webcam/RTSP source (Ultralytics' LoadStreams) numbers files from 0: file k is frame
    k there, and k - 1 for a video (numbered from 1)."""
    d = tmp_path / "labels"
    d.mkdir()
    shutil.copy(FIX / "predict" / "labels" / "press_1.txt", d / "0_0.txt")
    shutil.copy(FIX / "predict" / "labels" / "press_2.txt", d / "0_2.txt")
    s = read_keypoints(d, "yolo", frame_size=(1280, 720), fps=10.0)
    assert s.num_frames == 3 and s.video_id == "0"
    video = read_keypoints(FIX / "predict" / "labels", "yolo", frame_size=(1280, 720))
    present = (s.keypoints[..., 2] > 0).any(axis=(0, 2))
    assert present.tolist() == [True, False, True]
    np.testing.assert_allclose(s.keypoints[:, 0], video.keypoints[:, 0][:s.num_persons], atol=1e-4)


def test_a_frame_number_no_video_has_is_one_line(tmp_path):
    p = tmp_path / "v_1000000000.txt"
    shutil.copy(FIX / "predict" / "labels" / "press_1.txt", p)
    with pytest.raises(NfblError, match="not a YOLO label file of a video"):
        read_keypoints(p, "yolo", frame_size=(1280, 720))
