"""Hands lost inside a de-identified face box (nfbl.keypoints.occlusion) and its augmentation."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.sequence import PoseSequence
from nfbl.keypoints import occlusion

LAY = skeletons.CANONICAL


def _person(t: int = 3) -> np.ndarray:
    """Shoulders 1 unit apart at y = 0, the head above them; hands far from the face."""
    x = np.zeros((t, LAY.num_joints, 3), np.float32)
    for name, xy in {"neck": (0, 0), "left_shoulder": (0.5, 0), "right_shoulder": (-0.5, 0),
                     "nose": (0, -0.8), "left_eye": (0.1, -0.9), "right_eye": (-0.1, -0.9),
                     "left_wrist": (0.6, 1.2), "right_wrist": (-0.6, 1.2)}.items():
        x[:, LAY.index[name]] = (*xy, 1.0)
    for side, cx in (("left", 0.6), ("right", -0.6)):
        idx = list(LAY.joints_matching(f"{side}_hand_"))
        x[:, idx, 0] = cx + np.linspace(-0.05, 0.05, len(idx))
        x[:, idx, 1] = 1.3
        x[:, idx, 2] = 1.0
    return x


def _move_hand(x: np.ndarray, side: str, frame: int, centre: tuple[float, float]) -> None:
    idx = list(LAY.joints_matching(f"{side}_hand_"))
    x[frame, idx, :2] += np.asarray(centre, np.float32) - x[frame, idx, :2].mean(axis=0)


def test_only_hands_whose_centre_is_in_the_box_are_lost():
    x = _person()
    head = np.array([0.0, -0.8667], np.float32)   # mean of nose and eyes
    _move_hand(x, "left", 0, head + (0.1, 0.05))      # on the face
    _move_hand(x, "right", 1, head + (0.0, 0.43))     # on the chin, just inside 0.44
    _move_hand(x, "right", 2, head + (0.0, 0.46))     # just outside
    lost = occlusion.hands_in_face_box(x, LAY)
    assert lost.tolist() == [[True, False], [False, True], [False, False]]
    y = occlusion.drop_hands_at_face(x, "nfbl56")
    left, right = (list(LAY.joints_matching(f"{s}_hand_")) for s in ("left", "right"))
    assert (y[0, left] == 0).all() and (y[1, right] == 0).all()
    assert (y[0, right] == x[0, right]).all() and (y[2] == x[2]).all()
    assert (y[:, LAY.index["left_wrist"]] == x[:, LAY.index["left_wrist"]]).all()  # body wrist stays
    assert x[0, left, 2].min() == 1.0                                               # input untouched
    # a smaller box keeps the chin hand; the box scales with the shoulder width
    assert not occlusion.hands_in_face_box(x, LAY, half_size=0.2)[1, 1]
    assert occlusion.hands_in_face_box(x * np.array([2, 2, 1], np.float32), LAY)[1, 1]


def test_nothing_is_lost_without_a_head_or_shoulders():
    x = _person()
    _move_hand(x, "left", 0, (0.0, -0.85))
    no_head = x.copy()
    no_head[:, [LAY.index[n] for n in occlusion.HEAD_JOINTS if n in LAY.index]] = 0
    assert not occlusion.hands_in_face_box(no_head, LAY).any()
    no_sh = x.copy()
    no_sh[:, [LAY.index["left_shoulder"], LAY.index["right_shoulder"]]] = 0
    assert occlusion.drop_hands_at_face(no_sh, LAY) is no_sh


def test_default_box_is_the_deid_head_box_of_a_deidentified_video():
    deid = pytest.importorskip("nfbl.pose.deid")
    side = deid.HEAD_SHOULDER * (1 + 2 * deid.DeidConfig().margin)
    assert occlusion.DEFAULT_HALF_SIZE == pytest.approx(side / 2, abs=0.005)


def test_sequence_level_keeps_every_person_and_dtype():
    a, b = _person(), _person()
    _move_hand(a, "left", 1, (0.0, -0.85))
    seq = PoseSequence(np.stack([a, b]), "nfbl56", 25.0, np.arange(3) / 25.0)
    out = occlusion.deidentified_hands(seq)
    assert out.keypoints.shape == seq.keypoints.shape and out.keypoints.dtype == np.float32
    left = list(LAY.joints_matching("left_hand_"))
    assert (out.keypoints[0, 1, left] == 0).all() and (out.keypoints[1] == b).all()


def test_augmentation_drops_face_hands_and_leaves_the_random_stream_alone_when_off():
    from nfbl.detectors import augment as A
    x = _person()
    _move_hand(x, "right", 0, (0.05, -0.8))
    y = A.face_hand_loss(x, np.random.default_rng(0), 1.0, (0.3, 0.3), LAY)
    assert (y[0, list(LAY.joints_matching("right_hand_"))] == 0).all() and (y[1:] == x[1:]).all()
    rng = np.random.default_rng(5)
    assert A.face_hand_loss(x, rng, 0.0) is x
    assert rng.random() == np.random.default_rng(5).random()   # p = 0 draws nothing


def test_hand_under_a_blur_box_is_lost_by_mediapipe_on_a_real_photo(media_dir):
    """The measurement behind the module: Holistic finds the right hand in basketball1.png and
    loses it once nfbl's blur covers it."""
    photo = media_dir / "basketball1.png"
    pytest.importorskip("mediapipe")
    cv2 = pytest.importorskip("cv2")
    from nfbl.pose.backends.mediapipe_backend import MediaPipeBackend, MediaPipeConfig
    from nfbl.pose.deid import anonymise

    img = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    hand = slice(54, 75)                                # mediapipe_pose33_hands: right hand

    def right_hand(im):
        be = MediaPipeBackend(MediaPipeConfig(static_image_mode=True))
        try:
            people = be.process(im, 0)
        finally:
            be.close()
        return [p[hand] for p in people if p[hand, 2].max() > 0]

    found = right_hand(img.copy())
    assert found, "Holistic should find the right hand on the original photo"
    h = found[0]
    box = np.array([[*h[:, :2].min(axis=0), *h[:, :2].max(axis=0)]])
    assert not right_hand(anonymise(img.copy(), box, "blur"))
    # video mode too: Holistic tracking the hand drops it on the first blurred frame
    be = MediaPipeBackend(MediaPipeConfig(static_image_mode=False))
    try:
        seen = [bool(be.process(anonymise(img.copy(), box, "blur") if f >= 6 else img.copy(),
                                f)[0][hand, 2].max() > 0) for f in range(10)]
    finally:
        be.close()
    assert seen == [True] * 6 + [False] * 4, seen
