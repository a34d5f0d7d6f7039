"""NTU RGB+D ``.skeleton`` files (tests/fixtures/keypoints/ntu/make_fixtures.py: the dataset's
layout, CRLF, exponents, 64-bit body ids) and the Kinect mirror that the Kinect readers undo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError
from nfbl.io import ntu
from nfbl.io.keypoints import guess_format, read_keypoints
from nfbl.keypoints.cleaning import mirror_x

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints"
NTU = FIX / "ntu" / "S001C002P003R001A044.skeleton"
I = skeletons.KINECT_V2_25.index


def test_ntu_layout_tracks_scores_and_meta():
    assert guess_format(NTU).name == "ntu"
    seq = read_keypoints(NTU)
    assert seq.layout == "kinect_v2_25" and seq.fps == 30 and seq.frame_size == (1920, 1080)
    assert seq.keypoints.shape == (2, 4, 25, 3) and seq.video_id == "S001C002P003R001A044"
    np.testing.assert_allclose(seq.timestamps, np.arange(4) / 30)
    person, chair = seq.keypoints
    assert (person[:3, I["neck"], 2] == 1).all() and not (person[3, :, 2] > 0).any()
    assert (chair[1:3, :, 2] == 0.5).all() and not (chair[[0, 3], :, 2] > 0).any()
    assert person[0, I["right_hand_tip"], 2] == 0.5 and person[1, I["right_hand_tip"], 2] == 1
    assert not (person[:, I["left_foot"], 2] > 0).any()  # trackingState 0
    assert seq.meta["body_ids"] == ["72057594037928193", "72057594037928197"]  # exact
    assert (seq.meta["action"], seq.meta["label"], seq.meta["camera"]) == (44, 43, 2)


def test_ntu_points_are_unmirrored_colour_pixels():
    seq = read_keypoints(NTU)
    assert seq.meta["unmirrored"] is True
    # the file's colour x of the subject's left shoulder: 960 + 1060 * (-0.18) / 2.508
    file_x = 960 + 1060 * -0.18 / (2.5 + 0.002 * 4)
    assert seq.keypoints[0, 0, I["left_shoulder"], 0] == pytest.approx(1919 - file_x, abs=1e-3)
    # as an ordinary camera shows a person facing it: the subject's left on the image's right
    kp = seq.keypoints[0, 0]
    assert kp[I["left_shoulder"], 0] > kp[I["spine_shoulder"], 0] > kp[I["right_shoulder"], 0]
    # the right hand rises to the head from frame 1
    assert seq.keypoints[0, 1, I["right_wrist"], 1] < seq.keypoints[0, 0, I["right_wrist"], 1] - 200


def test_smg_points_are_unmirrored_too():
    seq = read_keypoints(FIX / "smg" / "01_skeleton.csv")
    assert seq.meta["unmirrored"] is True
    assert seq.keypoints[0, 0, 0, 0] == pytest.approx(511 - 180)


def test_mirror_x_keeps_missing_joints_and_is_its_own_inverse():
    kp = np.array([[[10.0, 5.0, 0.9], [0.0, 0.0, 0.0]]], np.float32)
    once = mirror_x(kp, 100)
    assert once[0, 0].tolist() == pytest.approx([89.0, 5.0, 0.9]) and not once[0, 1].any()
    np.testing.assert_array_equal(mirror_x(once, 100), kp)


def _edit(tmp_path, old: str, new: str, count: int = 1) -> Path:
    p = tmp_path / NTU.name
    p.write_bytes(NTU.read_bytes().replace(old.encode(), new.encode(), count))
    return p


@pytest.mark.parametrize("old, new, message", [
    ("4\r\n1\r\n", "4x\r\n1\r\n", "frame count must be a whole number"),
    ("4\r\n1\r\n", "0\r\n", "holds no frames"),
    ("4\r\n1\r\n", "5\r\n1\r\n", "the file ends after line .* frame 5 .*truncated"),
    ("4\r\n1\r\n", "3\r\n1\r\n", "more lines after the 3 frames"),
    ("\r\n25\r\n", "\r\n24\r\n", "has 24 joints; Kinect v2 files have 25"),
    (" 0.0198 ", " ", "9 values, expected 10"),
    (" 960 688.4 ", " 960 abc ", "joint values must be numbers"),
    (" 0 2\r\n", " 0 inf\r\n", "trackingState is 0, 1 or 2, got 'inf'"),
    (" 0 2\r\n", " 0 2.5\r\n", "trackingState is 0, 1 or 2, got '2.5'"),
])
def test_ntu_bad_files_are_one_line(tmp_path, old, new, message):
    with pytest.raises(InputFormatError, match=message) as err:
        ntu.read_ntu(_edit(tmp_path, old, new))
    assert "\n" not in str(err.value)


def test_ntu_odd_files(tmp_path, caplog):
    p = tmp_path / "utf16.skeleton"
    p.write_bytes(NTU.read_text().encode("utf-16"))
    with pytest.raises(InputFormatError, match="not a text file"):
        ntu.read_ntu(p)
    # one body id twice in a frame: both kept, as two tracks
    text = NTU.read_bytes().decode()
    second = text.replace("72057594037928197", "72057594037928193")
    p = tmp_path / "twice.skeleton"
    p.write_bytes(second.encode())
    seq = ntu.read_ntu(p)
    assert seq.num_persons == 2 and "occurs twice in one frame 2 time(s)" in caplog.text
    assert seq.meta["body_ids"] == ["72057594037928193", "72057594037928193+"]


def test_ntu_cli_info(cli):
    r = cli("keypoints", "info", NTU)
    assert r.returncode == 0, r.stderr
    assert "2 person(s), layout kinect_v2_25, frame size 1920x1080" in r.stdout
