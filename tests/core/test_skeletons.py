import numpy as np
import pytest

from nfbl.core import skeletons as sk
from nfbl.core.errors import NfblError

# (layout, source index of: left wrist, right wrist, left shoulder, right shoulder,
#  left hand index tip, right hand index tip) — written by hand from each format's spec.
KNOWN = {
    "openpose_body25_hands": (7, 4, 5, 2, 25 + 8, 25 + 21 + 8),
    "coco17": (9, 10, 5, 6, None, None),
    "coco_wholebody133": (9, 10, 5, 6, 91 + 8, 112 + 8),
    "mediapipe_pose33_hands": (15, 16, 11, 12, 33 + 8, 33 + 21 + 8),
    "kinect_v2_25": (6, 10, 4, 8, None, None),
    "miga35": (7, 4, 5, 2, 25 + 1, 25 + 5 + 1),  # iMiGUEaccessSample.py order
}
TARGETS = ("left_wrist", "right_wrist", "left_shoulder", "right_shoulder",
           "left_hand_index_tip", "right_hand_index_tip")


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_named_joints_land_where_they_should(name):
    layout = sk.get_layout(name)
    kp = np.zeros((2, layout.num_joints, 3), np.float32)
    # give every source joint a unique position and full score
    kp[..., 0] = np.arange(layout.num_joints) * 10.0 + 1.0
    kp[..., 1] = np.arange(layout.num_joints) * 3.0 + 2.0
    kp[..., 2] = 1.0
    out = sk.convert(kp, layout)
    assert out.shape == (2, sk.CANONICAL.num_joints, 3)
    for target, src in zip(TARGETS, KNOWN[name]):
        t = sk.CANONICAL.index[target]
        if src is None:
            assert out[0, t, 2] == 0 and out[0, t, 0] == 0, target
        else:
            assert out[0, t, 0] == pytest.approx(src * 10.0 + 1.0), (name, target)
            assert out[0, t, 2] == 1.0


def test_coco_neck_is_mid_shoulders_and_missing_if_one_is_missing():
    kp = np.zeros((17, 3), np.float32)
    kp[5] = (100, 50, 0.9)
    kp[6] = (60, 54, 0.7)
    out = sk.convert(kp, sk.COCO17)
    neck = out[sk.CANONICAL.index["neck"]]
    np.testing.assert_allclose(neck, (80, 52, 0.7), rtol=1e-6)
    kp[6] = 0
    out = sk.convert(kp, sk.COCO17)
    assert (out[sk.CANONICAL.index["neck"]] == 0).all()


def test_missing_joints_are_zero_with_zero_score():
    kp = np.ones((5, 17, 3), np.float32) * 7
    kp[:, 9, 2] = 0.0  # left wrist missing in the source
    out = sk.convert(kp, sk.COCO17)
    lw = sk.CANONICAL.index["left_wrist"]
    assert (out[:, lw] == 0).all()


def test_flip_permutation_swaps_sides():
    c = sk.CANONICAL
    perm = c.flip_permutation
    assert c.joints[perm[c.index["left_wrist"]]] == "right_wrist"
    assert c.joints[perm[c.index["right_hand_thumb_tip"]]] == "left_hand_thumb_tip"
    assert c.joints[perm[c.index["neck"]]] == "neck"
    assert (perm[perm] == np.arange(c.num_joints)).all()


def test_derived_graph_structure():
    c = sk.CANONICAL
    assert (c.hop_to_center >= 0).all(), "canonical layout must be connected"
    parents = dict(c.bone_pairs)
    assert c.joints[parents[c.index["left_elbow"]]] == "left_shoulder"
    assert c.joints[parents[c.index["left_hand_index_tip"]]] == "left_hand_index_dip"
    a = c.adjacency
    assert a.shape == (3, c.num_joints, c.num_joints)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, rtol=1e-5)  # column-normalised
    i, j = c.index["left_elbow"], c.index["left_shoulder"]
    assert a[1, i, j] > 0 and a[2, j, i] > 0  # centripetal / centrifugal


def test_wrong_shape_and_unknown_layout_are_clear_errors():
    with pytest.raises(NfblError, match="coco17"):
        sk.convert(np.zeros((3, 18, 3)), sk.COCO17)
    with pytest.raises(NfblError, match="known layouts"):
        sk.get_layout("body_99")


def test_layout_declares_regions_sides_and_scale_joints():
    from nfbl.core import skeletons as S
    lay = S.CANONICAL
    region = dict(zip(lay.joints, lay.regions))
    side = dict(zip(lay.joints, lay.sides))
    assert region["nose"] == "head" and region["neck"] == "torso"
    assert region["left_shoulder"] == "shoulder" and region["right_wrist"] == "arm"
    assert region["left_hand_index_tip"] == "hand" and side["left_hand_index_tip"] == "left"
    assert side["neck"] == "center"
    assert lay.centre_index == lay.index["neck"]
    assert lay.scale_indices == (lay.index["left_shoulder"], lay.index["right_shoulder"])
    mp = S.MEDIAPIPE_POSE33_HANDS
    assert dict(zip(mp.joints, mp.regions))["left_thumb"] == "hand"
    assert mp.centre_index is None  # no neck: the centre falls back to mid-shoulders
    wb = dict(zip(S.COCO_WHOLEBODY133.joints, S.COCO_WHOLEBODY133.regions))
    assert wb["face_0"] == "face" and wb["left_knee"] == "leg"


def test_every_consumer_groups_the_declared_regions():
    import numpy as np
    from nfbl.core import skeletons as S
    from nfbl.keypoints.cleaning import body_part_of
    for lay in S.LAYOUTS.values():
        for j, r in zip(lay.joints, lay.regions):
            part = body_part_of(j)
            assert part == {"hand": f"{S.joint_side(j)}_hand", "shoulder": "torso", "arm": "arms",
                            "leg": "legs"}.get(r, r)
    try:
        from nfbl.detectors.model import PART_NAMES, part_groups
    except ImportError:  # torch absent
        return
    m = part_groups(S.CANONICAL)
    parts = [PART_NAMES[int(np.argmax(row))] for row in m]
    got = dict(zip(S.CANONICAL.joints, parts))
    assert got["left_shoulder"] == "left_arm" and got["right_hand_wrist"] == "right_hand"
    assert got["left_ear"] == "head" and got["left_hip"] == "torso"
