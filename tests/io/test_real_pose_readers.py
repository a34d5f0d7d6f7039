"""Readers of the real-pose formats: pose-format ``.pose`` and PATS ``.h5``.

Tiny fixtures are written by code in the exact layouts; tests on the real files of
``../shared/realpose`` skip when that folder is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError
from nfbl.io.keypoints import guess_format, read_keypoints

REALPOSE = Path(__file__).resolve().parents[2].parent / "shared" / "realpose"
_OP_BODY = ["Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
            "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
            "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"]
_MP_HAND = ["WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
            "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
            "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
            "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
            "PINKY_DIP", "PINKY_TIP"]


def _write_pose(path: Path, components: list[tuple[str, list[str]]], dims: int, t: int = 6, people: int = 1,
                fps: float = 24.0, seed: int = 0, size: tuple[int, int] = (640, 480)
                ) -> tuple[np.ndarray, np.ndarray]:
    pf = pytest.importorskip("pose_format")
    from pose_format.numpy.pose_body import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    fmt = "XYZC" if dims == 3 else "XYC"
    comps = [PoseHeaderComponent(name=n, points=pts, limbs=[], colors=[(255, 0, 0)], point_format=fmt)
             for n, pts in components]
    header = PoseHeader(version=0.1, dimensions=PoseHeaderDimensions(width=size[0], height=size[1], depth=0),
                        components=comps)
    v = sum(len(p) for _, p in components)
    rng = np.random.default_rng(seed)
    data = rng.uniform(10, 400, (t, people, v, dims)).astype(np.float32)
    conf = rng.uniform(0.2, 1.0, (t, people, v)).astype(np.float32)
    conf[1, 0, 0] = 0.0  # one missing point
    body = NumPyPoseBody(fps=fps, data=data, confidence=conf)
    with open(path, "wb") as fh:
        pf.Pose(header, body).write(fh)
    return data, conf


def test_pose_openpose_maps_by_name(tmp_path):
    hand = ["BASE", "T_STT", "T_BCMC", "T_MCP", "T_IP"] + [f"{f}_{p}" for f in "IMRP" for p in ("CMC", "MCP", "PIP", "DIP")]
    comps = [("pose_keypoints_2d", _OP_BODY), ("face_keypoints_2d", [f"F_{i}" for i in range(5)]),
             ("hand_left_keypoints_2d", hand), ("hand_right_keypoints_2d", hand)]
    path = tmp_path / "clip.pose"
    data, conf = _write_pose(path, comps, dims=2)
    assert guess_format(path).name == "pose"
    seq = read_keypoints(path)
    lay = skeletons.OPENPOSE_BODY25_HANDS
    assert seq.layout == lay.name and seq.fps == pytest.approx(24.0) and seq.frame_size == (640, 480)
    assert seq.video_id == "clip" and seq.keypoints.shape == (1, 6, lay.num_joints, 3)
    kp = seq.keypoints[0]
    # RShoulder is point 2 of the body; the left hand's index tip is point 8 of hand_left (after 25 + 5)
    np.testing.assert_allclose(kp[2, lay.index["right_shoulder"], :2], data[2, 0, 2], rtol=1e-6)
    np.testing.assert_allclose(kp[3, lay.index["left_hand_index_tip"], :2], data[3, 0, 30 + 8], rtol=1e-6)
    np.testing.assert_allclose(kp[3, lay.index["right_hand_thumb_cmc"], 2], conf[3, 0, 51 + 1], rtol=1e-6)
    assert (kp[1, lay.index["nose"]] == 0).all()  # confidence 0 → missing, not a real (x, y)


def test_pose_openpose_converter_defaults_are_flagged(tmp_path, caplog):
    # pose_format.utils.openpose.load_openpose(fps=24, width=1000, height=1000) writes its
    # defaults when the caller gives none: say so instead of trusting them silently
    comps = [("pose_keypoints_2d", _OP_BODY)]
    _write_pose(tmp_path / "conv.pose", comps, dims=2, size=(1000, 1000))
    with caplog.at_level("WARNING"):
        read_keypoints(tmp_path / "conv.pose")
    assert "pose-format's OpenPose defaults" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert read_keypoints(tmp_path / "conv.pose", fps=30).fps == 30
    assert "defaults" not in caplog.text


def test_pose_mediapipe_reduced_and_two_people(tmp_path):
    body = ["LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST",
            "LEFT_HIP", "RIGHT_HIP"]
    comps = [("POSE_LANDMARKS", body), ("FACE_LANDMARKS", ["0", "7"]),
             ("LEFT_HAND_LANDMARKS", _MP_HAND), ("RIGHT_HAND_LANDMARKS", _MP_HAND)]
    path = tmp_path / "mp.pose"
    data, _ = _write_pose(path, comps, dims=3, people=2)
    seq = read_keypoints(path, fps=30)
    lay = skeletons.MEDIAPIPE_POSE33_HANDS
    assert seq.layout == lay.name and seq.num_persons == 2 and seq.fps == 30
    kp = seq.keypoints
    np.testing.assert_allclose(kp[1, 4, lay.index["right_wrist"], :2], data[4, 1, 5, :2], rtol=1e-6)
    np.testing.assert_allclose(kp[0, 2, lay.index["right_hand_pinky_tip"], :2], data[2, 0, 10 + 21 + 20, :2],
                               rtol=1e-6)
    assert (kp[:, :, lay.index["nose"]] == 0).all()  # not in the reduced file: missing
    assert (kp[0, 1, lay.index["left_shoulder"]] == 0).all()


def test_pose_without_body_component_is_a_user_error(tmp_path):
    path = tmp_path / "face.pose"
    _write_pose(path, [("FACE_LANDMARKS", ["0", "1"])], dims=3)
    with pytest.raises(InputFormatError, match="no body component"):
        read_keypoints(path)
    bad = tmp_path / "trunc.pose"
    bad.write_bytes(path.read_bytes()[:20])
    with pytest.raises(InputFormatError, match="trunc.pose"):
        read_keypoints(bad)


def _write_pats(path: Path, t: int = 5) -> tuple[np.ndarray, np.ndarray]:
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    data = rng.uniform(-150, 150, (t, 104))
    data[:, 0], data[:, 52] = 400.0, 300.0  # neck in pixels
    conf = np.repeat(rng.uniform(0.1, 1.0, (t, 52)), 2, axis=0).reshape(t, 2, 52).reshape(t, 104)
    conf[:, 52:] = conf[:, :52]
    conf[2, 6] = conf[2, 52 + 6] = 0.0  # left wrist missing in frame 2
    with h5py.File(path, "w") as fh:
        fh["pose/data"] = data
        fh["pose/confidence"] = conf
    return data, conf


def test_pats_offsets_from_neck(tmp_path):
    path = tmp_path / "cmu0001.h5"
    data, conf = _write_pats(path)
    assert guess_format(path).name == "pats"
    seq = read_keypoints(path)
    lay = skeletons.OPENPOSE_BODY25_HANDS
    assert seq.layout == lay.name and seq.fps == 15.0 and seq.video_id == "cmu0001"
    kp = seq.keypoints[0]
    np.testing.assert_allclose(kp[0, lay.index["neck"], :2], (400, 300))
    # joint 3 = right wrist: neck + offset
    np.testing.assert_allclose(kp[1, lay.index["right_wrist"], :2], (400 + data[1, 3], 300 + data[1, 55]), rtol=1e-6)
    # joint 10 = left hand wrist, joint 31 + 8 = right hand index tip
    np.testing.assert_allclose(kp[4, lay.index["left_hand_wrist"], :2], (400 + data[4, 10], 300 + data[4, 62]), rtol=1e-6)
    np.testing.assert_allclose(kp[0, lay.index["right_hand_index_tip"], 2], conf[0, 39], rtol=1e-6)
    assert (kp[2, lay.index["left_wrist"]] == 0).all()
    assert (kp[:, lay.index["left_hip"]] == 0).all()


def test_pats_wrong_layout_is_a_user_error(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as fh:
        fh["pose/data"] = np.zeros((3, 50))
        fh["pose/confidence"] = np.zeros((3, 50))
    with pytest.raises(InputFormatError, match="x of 52 joints"):
        read_keypoints(path)
    other = tmp_path / "y.h5"
    with h5py.File(other, "w") as fh:
        fh["audio"] = np.zeros(3)
    with pytest.raises(InputFormatError, match="PATS"):
        read_keypoints(other)


@pytest.mark.skipif(not REALPOSE.is_dir(), reason="../shared/realpose is absent")
def test_real_files_read_with_bodies_and_hands():
    pytest.importorskip("pose_format")
    pytest.importorskip("h5py")
    files = sorted(REALPOSE.glob("signers/*.pose")) + sorted(REALPOSE.glob("pats/*.h5"))
    assert files
    for f in files:
        seq = read_keypoints(f)
        lay = seq.layout_def
        kp = seq.keypoints[0]
        assert seq.fps > 10 and seq.num_frames >= 5, f
        for j in ("left_shoulder", "right_shoulder", "left_wrist", "right_wrist"):
            assert (kp[:, lay.index[j], 2] > 0).mean() > 0.5, (f, j)
        hands = kp[:, list(lay.joints_matching("left_hand_")) + list(lay.joints_matching("right_hand_")), 2]
        assert (hands > 0).any(), f
        sw = np.linalg.norm(kp[:, lay.index["left_shoulder"], :2] - kp[:, lay.index["right_shoulder"], :2], axis=-1)
        assert np.median(sw) > 5, f  # pixels, not normalised units
    pats = read_keypoints(REALPOSE / "pats" / "cmu0000033570.h5")
    lay = pats.layout_def
    kp = pats.keypoints[0]
    # a seated host: wrists below the neck, the subject's left shoulder on the image right
    assert np.median(kp[:, lay.index["left_wrist"], 1] - kp[:, lay.index["neck"], 1]) > 0
    assert np.median(kp[:, lay.index["left_shoulder"], 0] - kp[:, lay.index["right_shoulder"], 0]) > 0
