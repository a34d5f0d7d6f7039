"""Kinematic model: rigid bones, IK reaches its targets, gestures touch what they claim."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.core.skeletons import HAND_JOINTS
from nfbl.synth import SynthConfig, simulate
from nfbl.synth import body as B
from nfbl.synth.camera import NoiseConfig


def _points(sim) -> dict[str, np.ndarray]:
    pts = dict(sim.pose.joints)
    for side in ("left", "right"):
        for i, n in enumerate(HAND_JOINTS):
            pts[f"{side}_hand_{n}"] = sim.pose.hands[side][:, i]
    return pts


def _cfg(classes, minutes=0.6, **kw):
    return SynthConfig(minutes=minutes, classes=classes, rate_scale=3.0, noise=NoiseConfig(level=0.0), **kw)


def test_bone_lengths_constant_in_3d_across_all_gestures():
    sim = simulate(_cfg(None, minutes=1.5), seed=3)
    assert len({e.class_id for e in sim.plan}) >= 5
    pts = _points(sim)
    bones = B.bones_3d()
    assert len(bones) > 50
    for a, b in bones:
        length = np.linalg.norm(pts[a] - pts[b], axis=-1)
        assert length.min() > 0.005, (a, b)
        assert np.ptp(length) < 1e-6 * max(1.0, length.mean()), (a, b, np.ptp(length))


def test_upper_and_forearm_lengths_match_the_body():
    sim = simulate(_cfg((16, 15, 31)), seed=4)
    for side in ("left", "right"):
        j = sim.pose.joints
        up = np.linalg.norm(j[f"{side}_elbow"] - j[f"{side}_shoulder"], axis=-1)
        fo = np.linalg.norm(j[f"{side}_wrist"] - j[f"{side}_elbow"], axis=-1)
        np.testing.assert_allclose(up, sim.body.upper_arm, atol=1e-9)
        np.testing.assert_allclose(fo, sim.body.forearm, atol=1e-9)


def test_two_bone_ik_reaches_reachable_targets_and_clamps_far_ones():
    rng = np.random.default_rng(0)
    t = 200
    shoulder = np.zeros((t, 3))
    direction = B.normalize(rng.standard_normal((t, 3)))
    dist = rng.uniform(0.1, 0.5, t)
    target = direction * dist[:, None]
    down = np.tile([0.3, -1.0, 0.0], (t, 1))
    elbow, wrist = B.two_bone_ik(shoulder, target, 0.3, 0.26, rng.uniform(-1, 1, t), down, 1)
    np.testing.assert_allclose(wrist, target, atol=1e-9)
    far = direction * 2.0
    _, wrist = B.two_bone_ik(shoulder, far, 0.3, 0.26, np.zeros(t), down, 1)
    np.testing.assert_allclose(np.linalg.norm(wrist, axis=-1), 0.995 * 0.56, atol=1e-9)


def test_hand_phalanges_keep_their_length_when_fingers_curl():
    t = 50
    curl = np.linspace(0, 1, t)[:, None].repeat(5, 1)
    spread = np.linspace(0.3, 1.4, t)
    local = B.hand_local(curl, spread, 1, 1.0)
    from nfbl.core.skeletons import hand_links
    idx = {n: i for i, n in enumerate(HAND_JOINTS)}
    for a, b in hand_links("left"):
        la = np.linalg.norm(local[:, idx[a.split("_hand_")[1]]] - local[:, idx[b.split("_hand_")[1]]], axis=-1)
        assert np.ptp(la) < 1e-9
    # a fist brings the fingertips close to the palm; a flat hand keeps them far
    tip_dist = np.linalg.norm(local[:, 12], axis=-1)
    assert tip_dist[0] > 0.17 and tip_dist[-1] < 0.1


def _hold_frames(sim, cid):
    """Frames of events of ``cid`` where the gesture weight of a used arm is 1 (fully reached)."""
    out = []
    for e in sim.plan:
        if e.class_id != cid:
            continue
        sides = ("left", "right") if e.side == "both" else (e.side,)
        for s in sides:
            w = sim.channels.arms[s].w[e.start:e.end]
            out += [(s, e.start + i) for i in np.flatnonzero(w > 0.999)]
    return out


def test_fingertip_touches_the_nose_during_touching_nose():
    sim = simulate(_cfg((34,)), seed=5)
    frames = _hold_frames(sim, 34)
    assert len(frames) > 20
    pts = _points(sim)
    d = np.array([np.linalg.norm(pts[f"{s}_hand_index_tip"][i] - pts["nose"][i]) for s, i in frames])
    assert np.median(d) < 0.02 and d.max() < 0.035
    # and at rest the hands are far from the nose
    idle = np.flatnonzero((sim.channels.arms["left"].w == 0) & (sim.channels.arms["right"].w == 0))
    rest = np.linalg.norm(pts["left_hand_index_tip"][idle] - pts["nose"][idle], axis=-1)
    assert rest.min() > 0.2


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    return orient(p1, p2, q1) != orient(p1, p2, q2) and orient(q1, q2, p1) != orient(q1, q2, p2)


def test_forearms_cross_during_folding_arms():
    sim = simulate(_cfg((16,)), seed=6)
    frames = sorted({i for _, i in _hold_frames(sim, 16)})
    assert len(frames) > 20
    j = sim.pose.joints
    rot = sim.pose.frames["torso"][1]
    crossed = 0
    for i in frames:
        # frontal plane of the torso: (x, y) in the torso frame
        f = {n: (rot[i].T @ j[n][i])[:2] for n in ("left_elbow", "left_wrist", "right_elbow", "right_wrist")}
        crossed += _segments_cross(f["left_elbow"], f["left_wrist"], f["right_elbow"], f["right_wrist"])
        assert f["left_wrist"][0] < 0 < f["right_wrist"][0]  # each hand on the other side
    assert crossed == len(frames)


@pytest.mark.parametrize("cid,point,joint,tol", [
    (8, "left_ear", "index_tip", 0.04), (3, "top", "middle_tip", 0.08), (10, "chin", None, 0.06),
    (29, None, None, None), (24, None, None, None)])
def test_other_contacts(cid, point, joint, tol):
    sim = simulate(_cfg((cid,)), seed=7)
    frames = _hold_frames(sim, cid)
    assert frames
    pts = _points(sim)
    if cid == 24:  # minaret: the two hands' fingertips touch
        for finger in ("index_tip", "middle_tip", "ring_tip"):
            d = [np.linalg.norm(pts[f"left_hand_{finger}"][i] - pts[f"right_hand_{finger}"][i]) for _, i in frames]
            assert np.median(d) < 0.03, finger
        return
    if cid == 29:  # akimbo: elbows out beyond the shoulders, wrists near the hips
        for s, i in frames:
            sg = 1 if s == "left" else -1
            assert sg * (pts[f"{s}_elbow"][i][0] - pts[f"{s}_shoulder"][i][0]) > 0.0
        return
    d = []
    for s, i in frames:
        target = pts[point.replace("left_", f"{s}_") if point.startswith("left_") else point][i]
        hand = pts[f"{s}_hand_{joint}"][i] if joint else sim.pose.hands[s][i].mean(axis=0)
        d.append(np.linalg.norm(hand - target))
    assert np.median(d) < tol


def test_event_span_is_exactly_the_gesture_envelope():
    """The labelling rule: an event covers exactly the frames where its motion is active."""
    sim = simulate(_cfg((34, 16, 31, 3, 22), minutes=1.0), seed=8)
    checked = 0
    for e in sim.plan:
        sides = ("left", "right") if e.side == "both" else (e.side,)
        for s in sides:
            w = sim.channels.arms[s].w
            assert (w[e.start:e.end] > 0).all()
            if e.start > 0:
                assert w[e.start - 1] == 0 or any(o is not e and o.start < e.start <= o.end and s[0].upper() in o.resources
                                                   for o in sim.plan)
            if e.end < len(w):
                assert w[e.end] == 0 or any(o is not e and o.start <= e.end < o.end for o in sim.plan)
            checked += 1
    assert checked > 10


def test_talking_beats_stay_small_and_illustrative_gestures_are_large():
    """Beats (idle, not NFBL) move the wrist a few cm; N31 lifts it well above that."""
    idle = simulate(_cfg((27,), minutes=2.0), seed=9)  # only head events: the arms stay idle
    assert all(ev.side == "" for ev in idle.plan)
    for s in ("left", "right"):
        beat = np.linalg.norm(idle.channels.arms[s].beat, axis=-1)
        assert beat.max() > 0.01  # there are beats
        assert beat.max() < 0.08
    ill = simulate(_cfg((31,), minutes=2.0), seed=9)
    lifts = []
    for e in ill.plan:
        for s in (("left", "right") if e.side == "both" else (e.side,)):
            wr = ill.pose.joints[f"{s}_wrist"]
            rest = ill.channels.arms[s].rest_target[e.start:e.end]
            lifts.append(np.linalg.norm(wr[e.start:e.end] - rest, axis=-1).max())
    assert np.median(lifts) > 0.12
