"""MediaPipe on the real photos (positions measured by hand), the file backend, and the
every-k-th-frame interpolation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.pose.backends.file import FileBackend
from nfbl.pose.stride import fill_between
from nfbl.core.sequence import PoseSequence

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
MP = skeletons.MEDIAPIPE_POSE33_HANDS

# basketball1.png (640x480), the man on the left, facing the camera; measured by hand on a 4x
# zoom with a 10-px grid. "left"/"right" = the subject's side (his left is the image's right).
HAND_MEASURED = {
    "right_shoulder": (50, 160),
    "left_shoulder": (115, 158),
    "right_wrist": (124, 162),     # under the ball, forearm crossing the chest
    "left_wrist": (148, 168),
}
TOLERANCE_PX = 15                  # about a quarter of his shoulder width (65 px)


@pytest.fixture(scope="module")
def basketball():
    if not MEDIA.is_dir():
        pytest.skip("../shared/media is absent")
    pytest.importorskip("mediapipe")
    from nfbl.pose.video import read_image
    return read_image(MEDIA / "basketball1.png")


def _holistic(image):
    from nfbl.pose.backends.mediapipe_backend import MediaPipeBackend, MediaPipeConfig
    with MediaPipeBackend(MediaPipeConfig(static_image_mode=True)) as backend:
        assert backend.layout == MP.name and backend.single_person
        return backend.process(image)


@pytest.mark.media
@pytest.mark.pose
def test_mediapipe_finds_the_person_where_measured_by_hand(basketball):
    people = _holistic(basketball)
    assert len(people) == 1
    kp = people[0]
    assert kp.shape == (MP.num_joints, 3) and kp.dtype == np.float32
    for joint, (x, y) in HAND_MEASURED.items():
        px, py, score = kp[MP.index[joint]]
        assert score > 0.5, joint
        assert np.hypot(px - x, py - y) < TOLERANCE_PX, (joint, (px, py), (x, y))


@pytest.mark.media
@pytest.mark.pose
def test_holistic_hands_are_the_subjects_sides(basketball):
    """Holistic's right_hand_landmarks sits on the pose's right_wrist (the subject's right,
    image left for a person facing the camera): no mirroring needed."""
    kp = _holistic(basketball)[0]
    hand_wrist = kp[MP.index["right_hand_wrist"]]
    assert hand_wrist[2] > 0
    assert np.hypot(*(hand_wrist[:2] - kp[MP.index["right_wrist"], :2])) < 12
    assert np.hypot(*(hand_wrist[:2] - HAND_MEASURED["right_wrist"])) < TOLERANCE_PX


@pytest.mark.media
@pytest.mark.pose
def test_mediapipe_on_the_colour_photo_and_on_an_empty_image():
    if not MEDIA.is_dir():
        pytest.skip("../shared/media is absent")
    pytest.importorskip("mediapipe")
    from nfbl.pose.video import read_image
    img = read_image(MEDIA / "messi5.jpg")
    people = _holistic(img)
    assert len(people) == 1
    body = people[0][:33]
    assert (body[[11, 12, 23, 24], 2] > 0.5).all()          # shoulders and hips
    assert _holistic(np.full((240, 320, 3), 127, np.uint8)) == []


def test_file_backend_serves_frames_by_index():
    kp = np.zeros((2, 3, 17, 3), np.float32)
    kp[0, :, :, :] = (10, 20, 0.9)
    kp[1, 1, :, :] = (30, 40, 0.8)                          # person 2 only on frame 1
    seq = PoseSequence(kp, "coco17", 25.0, np.arange(3) / 25)
    b = FileBackend(seq)
    assert b.layout == "coco17"
    assert len(b.process(None, 0)) == 1 and len(b.process(None, 1)) == 2
    assert b.process(None, 7) == []                          # past the end: nobody
    with pytest.raises(NfblError, match="frame index"):
        b.process(None)


def test_file_backend_refuses_keypoints_of_a_longer_video():
    """Keypoints with many more frames than the video cannot be its own (5 % or 2 frames of
    slack for containers that miscount; an unknown count, 0, is not checked)."""
    kp = np.zeros((1, 106, 17, 3), np.float32)
    b = FileBackend(PoseSequence(kp, "coco17", 25.0, np.arange(106) / 25))
    b.check_video_frames(101, "v.mp4")                       # 106 <= 101 * 1.05
    b.check_video_frames(0, "v.mp4")                         # count unknown
    with pytest.raises(NfblError, match="106 keypoint frames but the video v.mp4 has 100"):
        b.check_video_frames(100, "v.mp4")


def test_file_backend_reads_normalised_keypoints_at_the_given_frame_size():
    labels = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints" / "yolo" / "track" / "labels"
    b = FileBackend(labels, "yolo", frame_size=(1280, 720))
    assert b.layout == "coco17" and len(b.process(None, 0)) == 2
    np.testing.assert_allclose(b.process(None, 0)[0][0, :2], (640, 250), atol=0.05)
    with pytest.raises(NfblError, match="--frame-size"):
        FileBackend(labels, "yolo")


def test_fill_between_interpolates_in_time_and_keeps_missing_missing():
    kp = np.zeros((1, 3, 2, 3), np.float32)
    kp[0, :, 0] = [(0, 0, 1.0), (10, 20, 0.5), (20, 40, 1.0)]
    kp[0, :, 1] = [(5, 5, 1.0), (0, 0, 0.0), (7, 7, 1.0)]   # joint 1 missing at the middle
    known = np.array([0.0, 0.4, 0.8])
    every = np.array([0.0, 0.1, 0.4, 0.6, 0.8, 0.9, 1.0, 1.3])
    out = fill_between(kp, known, every)
    np.testing.assert_allclose(out[0, :, 0, :2], [[0, 0], [2.5, 5], [10, 20], [15, 30],
                                                  [20, 40], [20, 40], [20, 40], [0, 0]])
    np.testing.assert_allclose(out[0, :, 0, 2], [1, 0.5, 0.5, 0.5, 1, 1, 1, 0])
    # held at most the largest known gap (0.4 s) after the last pose frame
    assert out[0, 1, 1, 2] == 0 and out[0, 2, 1, 2] == 0 and out[0, 4, 1, 2] == 1
    assert out.dtype == np.float32
