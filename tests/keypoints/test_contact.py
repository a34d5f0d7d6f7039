"""Contact distances and the contact check of NFBL events (nfbl.keypoints.contact)."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.events import Event
from nfbl.keypoints import contact

LAY = skeletons.CANONICAL


def _pose(t: int = 1) -> np.ndarray:
    """Normalised nfbl56 body (sw): shoulders at y = 0, head above, arms down, each hand a
    small vertical line of 21 joints below its wrist."""
    x = np.zeros((t, LAY.num_joints, 3), np.float32)
    for name, xy in {"neck": (0, 0), "left_shoulder": (0.5, 0), "right_shoulder": (-0.5, 0),
                     "left_elbow": (0.7, 0.8), "right_elbow": (-0.7, 0.8),
                     "left_wrist": (0.8, 1.5), "right_wrist": (-0.8, 1.5),
                     "nose": (0, -0.8), "left_eye": (0.1, -0.9), "right_eye": (-0.1, -0.9),
                     "left_ear": (0.2, -0.85), "right_ear": (-0.2, -0.85),
                     "left_hip": (0.3, 2.0), "right_hip": (-0.3, 2.0)}.items():
        x[:, LAY.index[name]] = (*xy, 1.0)
    for side in ("left", "right"):
        _place_hand(x, side, slice(None), tuple(x[0, LAY.index[f"{side}_wrist"], :2]))
    return x


def _place_hand(x: np.ndarray, side: str, frames, wrist: tuple[float, float]) -> None:
    """Wrist at ``wrist``; the hand's joints on a 0.2 sw line straight below it."""
    x[frames, LAY.index[f"{side}_wrist"]] = (*wrist, 1.0)
    idx = list(LAY.indices(skeletons.hand_joints(side)))
    x[frames, idx, 0] = wrist[0]
    x[frames, idx, 1] = wrist[1] + np.linspace(0.0, 0.2, len(idx))
    x[frames, idx, 2] = 1.0


def test_distances_of_a_resting_pose_golden():
    d = contact.distances(_pose())
    # nearest hand point to a head joint: left wrist (0.8, 1.5) to left ear (0.2, -0.85)
    assert d["face"][0] == pytest.approx(np.hypot(0.6, 2.35), abs=1e-5)
    # the neck (shoulders' midpoint, 0, 0) is nearer: 0.8, 1.5
    assert d["neck"][0] == pytest.approx(np.hypot(0.8, 1.5), abs=1e-5)
    assert d["hands"][0] == pytest.approx(1.6, abs=1e-5)
    # left wrist (0.8, 1.5) to the right forearm (-0.7, 0.8)-(-0.8, 1.5): the foot of the
    # perpendicular is 0.68 along it, at (-0.768, 1.276); nearer than the other hand (1.6)
    assert d["arm"][0] == pytest.approx(np.hypot(1.568, 0.224), abs=1e-5)
    assert {k: v.dtype for k, v in d.items()} == {k: np.float32 for k in contact.KINDS}


def test_touches_come_out_near_zero():
    x = _pose(4)
    _place_hand(x, "right", 0, (0.05, -0.95))        # frame 0: right hand at the eyes
    _place_hand(x, "left", 1, (-0.1, 1.0))           # frame 1: hands together
    _place_hand(x, "right", 1, (-0.1, 1.05))
    _place_hand(x, "left", 2, (-0.6, 0.4))           # frame 2: left hand on the right upper arm
    _place_hand(x, "left", 3, (0.0, -0.05))          # frame 3: left hand at the neck
    d = contact.distances(x)
    # the hand's line (0.05, -0.95..-0.75) passes 0.05 from the nose (0, -0.8)
    assert d["face"][0] == pytest.approx(0.05, abs=1e-5)
    assert d["hands"][1] == pytest.approx(0.0, abs=1e-6)
    # hands nearer to each other than to the other arm: evidence against touching the arm
    assert np.isinf(d["arm"][1])
    # left hand (-0.6, 0.4)..(-0.6, 0.6) to the segment (-0.5, 0)-(-0.7, 0.8)
    seg = np.array([-0.2, 0.8])
    p = np.array([-0.1, 0.4])  # (-0.6, 0.4) relative to the shoulder
    perp = abs(seg[0] * p[1] - seg[1] * p[0]) / np.linalg.norm(seg)
    assert d["arm"][2] == pytest.approx(perp, abs=1e-5)
    assert d["neck"][3] == pytest.approx(0.0, abs=1e-6)  # the hand line crosses (0, 0)
    assert d["face"][3] > 0.5


def test_missing_joints_give_nan_and_a_lost_hand_reaches_from_its_wrist():
    x = _pose(3)
    x[0, [*LAY.indices(skeletons.hand_joints("left")), LAY.index["left_wrist"]]] = 0.0
    x[0, [*LAY.indices(skeletons.hand_joints("right")), LAY.index["right_wrist"]]] = 0.0
    x[1, list(LAY.indices(skeletons.HEAD_JOINTS))] = 0.0
    # frame 2: the right hand model lost the hand near the face, the body kept the wrist
    _place_hand(x, "right", 2, (0.0, -0.2))
    x[2, list(LAY.indices(skeletons.hand_joints("right")))] = 0.0
    d = contact.distances(x)
    assert np.isnan(d["face"][0]) and np.isnan(d["hands"][0]) and np.isnan(d["arm"][0])
    assert np.isnan(d["face"][1]) and not np.isnan(d["hands"][1])
    # wrist (0, -0.2) to the nose (0, -0.8) = 0.6, less the fingers' reach
    assert d["face"][2] == pytest.approx(0.6 - contact.HAND_REACH, abs=1e-5)


def _ev(cls: int, start: float, end: float) -> Event:
    return Event("v", cls, start, end, 0.9)


def test_check_drops_only_contact_events_the_keypoints_contradict():
    t = 100
    x = _pose(t)
    _place_hand(x, "left", slice(0, 50), (-0.1, 1.0))   # hands together in frames 0-49
    _place_hand(x, "right", slice(0, 50), (-0.1, 1.05))
    ts = np.arange(t) / 25.0
    together, apart = _ev(22, 0.0, 1.9), _ev(22, 2.1, 3.9)
    partly = _ev(23, 1.4, 3.9)          # frames 35-97: 15 of 63 together, share 0.24 >= 0.2
    other = _ev(31, 2.1, 3.9)           # illustrative gestures need no touch
    face = _ev(6, 2.1, 3.9)             # rubbing eyes with the hands at the hips
    kept = contact.check([together, apart, partly, other, face], x, ts)
    assert kept == [together, partly, other]
    dist = contact.distances(x)
    assert contact.event_share(dist["hands"], ts, 1.4, 3.9, 0.6) == pytest.approx((15 / 63, 1.0))
    assert contact.event_share(dist["hands"], ts, 1.6, 3.9, 0.6) == pytest.approx((10 / 58, 1.0))
    assert contact.check([_ev(23, 1.6, 3.9)], x, ts) == []  # 10 of 58: share 0.17 < 0.2


def test_events_without_evidence_are_kept():
    t = 50
    x = _pose(t)
    x[:, list(LAY.indices(skeletons.HEAD_JOINTS))] = 0.0   # no face in any frame
    ts = np.arange(t) / 25.0
    e = _ev(3, 0.0, 1.0)
    assert contact.check([e], x, ts) == [e]
    x = _pose(t)
    x[:40, list(LAY.indices(skeletons.HEAD_JOINTS))] = 0.0  # face seen in 10 of 50 frames: too few
    assert contact.check([_ev(3, 0.0, 2.0)], x, ts) == [_ev(3, 0.0, 2.0)]
    assert contact.check([_ev(3, 1.6, 2.0)], x, ts) == []   # seen throughout, far away


def test_bad_input_and_config_are_clear_errors():
    with pytest.raises(NfblError, match=r"need \(T, 56, 3\) keypoints of layout nfbl56"):
        contact.distances(np.zeros((5, 17, 3)))
    with pytest.raises(NfblError, match="min_share"):
        contact.ContactConfig(min_share=1.5)
    with pytest.raises(NfblError, match=">= 0"):
        contact.ContactConfig(face=-0.1)
    assert contact.check([], np.zeros((0, 56, 3)), np.zeros(0)) == []
