"""Declarative keypoint layouts and converters to the canonical NFBL layout.

A :class:`Layout` names its joints, its links (bones) and its centre joint; everything else
— index lookup, left/right flip permutation, bone (child, parent) pairs, the ST-GCN spatial
partition adjacency — is *derived* from that one declaration. Joint names share one
vocabulary across layouts ("left_wrist" is the subject's left wrist in every layout), so
conversion copies joints by name; joints that a source does not have are marked missing
(score 0), and a few are derived (e.g. COCO has no neck: mid-shoulder).

Keypoint arrays are float32 ``(..., V, 3)`` = (x, y, score) in pixels; score 0 = missing.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np

from nfbl.core.errors import NfblError

HAND_JOINTS: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
_FINGER_CHAINS = (("wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"),
                  ("wrist", "index_mcp", "index_pip", "index_dip", "index_tip"),
                  ("wrist", "middle_mcp", "middle_pip", "middle_dip", "middle_tip"),
                  ("wrist", "ring_mcp", "ring_pip", "ring_dip", "ring_tip"),
                  ("wrist", "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip"))


def hand_joints(side: str, names: tuple[str, ...] = HAND_JOINTS) -> tuple[str, ...]:
    """Joint names of one hand, e.g. ``left_hand_index_tip``."""
    return tuple(f"{side}_hand_{n}" for n in names)


def hand_links(side: str, names: tuple[str, ...] = HAND_JOINTS) -> tuple[tuple[str, str], ...]:
    """Finger chains restricted to the joints present in ``names`` (skipping absent ones)."""
    links = []
    for chain in _FINGER_CHAINS:
        present = [j for j in chain if j in names]
        links += [(f"{side}_hand_{a}", f"{side}_hand_{b}") for a, b in zip(present, present[1:])]
    return tuple(links)


#: The head joints most estimators give (nose, eyes, ears): where the face is, for the face
#: boxes of de-identification (:mod:`nfbl.pose.deid`) and the hands lost inside them
#: (:mod:`nfbl.keypoints.occlusion`).
HEAD_JOINTS: tuple[str, ...] = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")

#: Body regions. Every joint belongs to one, by its name (:func:`joint_region`); consumers
#: group regions as they need (the detector pools head/torso/arms/hands, the quality
#: summary counts missing joints per part, the renderer colours by side and hand).
REGIONS: tuple[str, ...] = ("head", "face", "torso", "shoulder", "arm", "hand", "leg")

_HAND_LIKE = ("thumb", "index", "pinky", "hand")  # MediaPipe/Kinect finger points count as hand
_LEG_WORDS = ("knee", "ankle", "foot", "toe", "heel")
_HEAD_WORDS = ("nose", "eye", "ear", "head", "mouth")


def joint_side(name: str) -> str:
    """``"left"``, ``"right"`` (the subject's) or ``"center"``, from the joint name."""
    for side in ("left", "right"):
        if name.startswith(side + "_"):
            return side
    return "center"


def joint_region(name: str) -> str:
    """The region (:data:`REGIONS`) of a joint name of nfbl's shared joint vocabulary."""
    rest = name.split("_", 1)[1] if joint_side(name) != "center" else name
    if name.startswith("face_"):
        return "face"
    if joint_side(name) != "center" and rest.split("_")[0] in _HAND_LIKE:
        return "hand"
    if any(w in name for w in _LEG_WORDS):
        return "leg"
    if rest == "shoulder":
        return "shoulder"
    if rest in ("elbow", "wrist"):
        return "arm"
    if any(w in name for w in _HEAD_WORDS):
        return "head"
    return "torso"  # neck, hips, spine, pelvis


def _swap_side(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: joint names in array order, links between them and a centre.

    ``derived`` maps a canonical joint this layout lacks to the layout's joints whose mean
    approximates it (score = the minimum of theirs), e.g. COCO's neck = mid-shoulders.
    """

    name: str
    joints: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    center: str
    description: str = ""
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Normalisation: the body centre joint and the pair whose distance is the body scale
    #: (their midpoint is the centre's fallback). Names the layout lacks count as absent.
    centre_joint: str = "neck"
    scale_joints: tuple[str, str] = ("left_shoulder", "right_shoulder")

    def __post_init__(self) -> None:
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"layout {self.name}: duplicate joint names")
        known = set(self.joints)
        for a, b in self.links:
            if a not in known or b not in known:
                raise ValueError(f"layout {self.name}: link ({a}, {b}) names an unknown joint")
        if self.center not in known:
            raise ValueError(f"layout {self.name}: centre {self.center} is not a joint")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def index(self) -> Mapping[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    @cached_property
    def sides(self) -> tuple[str, ...]:
        """Per joint: ``"left"``, ``"right"`` or ``"center"`` (:func:`joint_side`)."""
        return tuple(joint_side(j) for j in self.joints)

    @cached_property
    def regions(self) -> tuple[str, ...]:
        """Per joint: its body region (:data:`REGIONS`, :func:`joint_region`)."""
        return tuple(joint_region(j) for j in self.joints)

    @cached_property
    def centre_index(self) -> int | None:
        """Index of :attr:`centre_joint` (None when the layout lacks it)."""
        return self.index.get(self.centre_joint)

    @cached_property
    def scale_indices(self) -> tuple[int, int] | None:
        """Indices of :attr:`scale_joints` (None when the layout lacks either)."""
        a, b = (self.index.get(n) for n in self.scale_joints)
        return None if a is None or b is None else (a, b)

    def indices(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        return np.array([self.index[n] for n in names], dtype=np.int64)

    @cached_property
    def edges(self) -> np.ndarray:
        """Links as an ``(E, 2)`` int array of joint indices."""
        return np.array([(self.index[a], self.index[b]) for a, b in self.links], dtype=np.int64)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """``perm[i]`` = index of the mirror joint of joint ``i`` (left <-> right)."""
        return np.array([self.index.get(_swap_side(j), i) for i, j in enumerate(self.joints)],
                        dtype=np.int64)

    @cached_property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        perm = self.flip_permutation
        return tuple((i, int(p)) for i, p in enumerate(perm) if i < p)

    @cached_property
    def hop_to_center(self) -> np.ndarray:
        """Graph distance of every joint to the centre (``-1`` if unreachable)."""
        nbrs: list[list[int]] = [[] for _ in self.joints]
        for a, b in self.edges:
            nbrs[a].append(int(b))
            nbrs[b].append(int(a))
        dist = np.full(self.num_joints, -1, dtype=np.int64)
        start = self.index[self.center]
        dist[start] = 0
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if dist[v] < 0:
                    dist[v] = dist[u] + 1
                    queue.append(v)
        return dist

    @cached_property
    def bone_pairs(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs: each joint with the neighbour one hop closer to the centre.

        The centre is its own parent, so the bone stream has one vector per joint.
        """
        dist = self.hop_to_center
        parent = {self.index[self.center]: self.index[self.center]}
        for a, b in self.edges:
            a, b = int(a), int(b)
            if dist[a] == dist[b] + 1:
                parent.setdefault(a, b)
            elif dist[b] == dist[a] + 1:
                parent.setdefault(b, a)
        return tuple((i, parent.get(i, i)) for i in range(self.num_joints))

    @cached_property
    def adjacency(self) -> np.ndarray:
        """ST-GCN spatial-partition adjacency ``(3, V, V)``, float32, column-normalised.

        Subsets: self links; centripetal (neighbour closer to the centre); centrifugal.
        ``A[k][i, j]`` weights the message from joint ``j`` to joint ``i``.
        """
        v = self.num_joints
        dist = self.hop_to_center.astype(np.float64)
        dist[dist < 0] = np.inf
        binary = np.eye(v)
        for a, b in self.edges:
            binary[a, b] = binary[b, a] = 1.0
        deg = binary.sum(axis=0)
        norm = binary / deg[None, :]
        a = np.zeros((3, v, v))
        for i in range(v):
            for j in range(v):
                if binary[i, j] == 0:
                    continue
                if i == j:
                    a[0, i, j] = norm[i, j]
                elif dist[j] < dist[i]:
                    a[1, i, j] = norm[i, j]
                else:
                    a[2, i, j] = norm[i, j]
        return a.astype(np.float32)

    def joints_matching(self, prefix: str) -> tuple[int, ...]:
        """Indices of joints whose name starts with ``prefix`` (e.g. ``"left_hand_"``)."""
        return tuple(i for i, j in enumerate(self.joints) if j.startswith(prefix))


#: Both hands (21 joints each, left then right) and their links, wrist to wrist: the tail of
#: every layout with hand-model joints.
BOTH_HANDS: tuple[str, ...] = hand_joints("left") + hand_joints("right")
BOTH_HAND_LINKS: tuple[tuple[str, str], ...] = (
    (("left_wrist", "left_hand_wrist"), ("right_wrist", "right_hand_wrist"))
    + hand_links("left") + hand_links("right"))


# --- the canonical NFBL layout ---------------------------------------------------------

_CANON_BODY = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "neck",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
               "left_wrist", "right_wrist", "left_hip", "right_hip")
_CANON_BODY_LINKS = (("neck", "nose"), ("nose", "left_eye"), ("nose", "right_eye"),
                     ("left_eye", "left_ear"), ("right_eye", "right_ear"),
                     ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"),
                     ("left_elbow", "left_wrist"), ("neck", "right_shoulder"),
                     ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                     ("neck", "left_hip"), ("neck", "right_hip"))

CANONICAL = Layout(
    name="nfbl56",
    joints=_CANON_BODY + BOTH_HANDS,
    links=_CANON_BODY_LINKS + BOTH_HAND_LINKS,
    center="neck",
    description="Canonical NFBL layout: 14 upper-body/head points (no face mesh) + 2x21 hand "
                "joints. Knees and ankles are left out: interviews rarely show them.",
)

# --- source layouts ----------------------------------------------------------------------

_BODY25 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
           "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
           "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
           "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
           "right_small_toe", "right_heel")
_BODY25_LINKS = (("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
                 ("nose", "left_eye"), ("left_eye", "left_ear"), ("neck", "right_shoulder"),
                 ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                 ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"),
                 ("left_elbow", "left_wrist"), ("neck", "mid_hip"), ("mid_hip", "right_hip"),
                 ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
                 ("mid_hip", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
                 ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
                 ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
                 ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"))

OPENPOSE_BODY25_HANDS = Layout(
    name="openpose_body25_hands",
    joints=_BODY25 + BOTH_HANDS,
    links=_BODY25_LINKS + BOTH_HAND_LINKS,
    center="neck",
    description="OpenPose BODY_25 (75 values) + hand_left (63) + hand_right (63); face dropped.",
)

# OpenPose's COCO model (18 parts; the default model before OpenPose 1.3, and the layout of
# ST-GCN's Kinetics-skeleton data): CMU-Perceptual-Computing-Lab/openpose doc/02_output.md
# "Pose Output Format (COCO)", POSE_COCO_BODY_PARTS in src/openpose/pose/poseParameters.cpp.
# BODY_25 extends it: the same 0-7 and the same names, with mid_hip and feet added.
_OPENPOSE18 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
               "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
               "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear")
_OPENPOSE18_LINKS = (("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
                     ("nose", "left_eye"), ("left_eye", "left_ear"), ("neck", "right_shoulder"),
                     ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                     ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"),
                     ("left_elbow", "left_wrist"), ("neck", "right_hip"),
                     ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
                     ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"))

OPENPOSE18 = Layout(
    name="openpose18",
    joints=_OPENPOSE18,
    links=_OPENPOSE18_LINKS,
    center="neck",
    description="OpenPose COCO model, 18 body parts (ST-GCN's Kinetics-skeleton JSON). No "
                "hand joints.",
)

OPENPOSE18_HANDS = Layout(
    name="openpose18_hands",
    joints=_OPENPOSE18 + BOTH_HANDS,
    links=_OPENPOSE18_LINKS + BOTH_HAND_LINKS,
    center="neck",
    description="OpenPose COCO model (54 values) + hand_left (63) + hand_right (63); face "
                "dropped.",
)

_COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
           "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
_COCO17_LINKS = (("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
                 ("right_eye", "right_ear"), ("nose", "left_shoulder"),
                 ("nose", "right_shoulder"), ("left_shoulder", "left_elbow"),
                 ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
                 ("right_elbow", "right_wrist"), ("left_shoulder", "left_hip"),
                 ("right_shoulder", "right_hip"), ("left_hip", "left_knee"),
                 ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
                 ("right_knee", "right_ankle"))
_MID_SHOULDER = {"neck": ("left_shoulder", "right_shoulder")}

COCO17 = Layout(
    name="coco17", joints=_COCO17, links=_COCO17_LINKS, center="nose",
    description="COCO-17 body keypoints (mmpose/RTMPose body models). Neck = mid-shoulders.",
    derived=_MID_SHOULDER,
)

_WB_FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
            "right_heel")
_WB_FACE = tuple(f"face_{i}" for i in range(68))

COCO_WHOLEBODY133 = Layout(
    name="coco_wholebody133",
    joints=_COCO17 + _WB_FEET + _WB_FACE + BOTH_HANDS,
    links=_COCO17_LINKS + (("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
                           ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
                           ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"))
    + BOTH_HAND_LINKS,
    center="nose",
    description="COCO-WholeBody 133 (RTMW/DWPose): body 17, feet 6, face 68 (never used), "
                "hands 2x21. Neck = mid-shoulders.",
    derived=_MID_SHOULDER,
)

# AlphaPose's Halpe layouts (github.com/Fang-Haoshu/Halpe-FullBody, README "Keypoints
# format"): COCO-17, then head top, neck, hip, big toes, small toes, heels; Halpe-136 adds 68
# face points (26-93), the left hand (94-114) and the right hand (115-135), 21 joints each in
# the COCO-WholeBody / OpenPose hand order. Halpe's annotated neck sits between the shoulders
# and the head, not at their midpoint as OpenPose's and nfbl's do, so it is kept under its own
# name and the canonical neck is derived from the shoulders, as for COCO.
_HALPE26 = _COCO17 + ("head_top", "halpe_neck", "mid_hip", "left_big_toe", "right_big_toe",
                      "left_small_toe", "right_small_toe", "left_heel", "right_heel")
_HALPE26_LINKS = _COCO17_LINKS + (("nose", "head_top"), ("halpe_neck", "nose"),
                                  ("mid_hip", "left_hip"), ("mid_hip", "right_hip"),
                                  ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
                                  ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
                                  ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"))

HALPE26 = Layout(
    name="halpe26", joints=_HALPE26, links=_HALPE26_LINKS, center="nose",
    description="AlphaPose Halpe-26 body keypoints (COCO-17 + head top, neck, hip, feet). "
                "Neck = mid-shoulders (Halpe's own neck point is kept as halpe_neck).",
    derived=_MID_SHOULDER,
)

HALPE136 = Layout(
    name="halpe136",
    joints=_HALPE26 + _WB_FACE + BOTH_HANDS,
    links=_HALPE26_LINKS + BOTH_HAND_LINKS,
    center="nose",
    description="AlphaPose Halpe-136 full body: Halpe-26, face 68 (never used), hands 2x21. "
                "Neck = mid-shoulders.",
    derived=_MID_SHOULDER,
)

_MP_POSE33 = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
              "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
              "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
              "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index",
              "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
              "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
              "right_heel", "left_foot_index", "right_foot_index")
_MP_POSE33_LINKS = (("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"),
                    ("left_eye", "left_eye_outer"), ("left_eye_outer", "left_ear"),
                    ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
                    ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"),
                    ("mouth_left", "mouth_right"), ("nose", "mouth_left"),
                    ("left_shoulder", "right_shoulder"), ("nose", "left_shoulder"),
                    ("left_shoulder", "left_elbow"),
                    ("left_elbow", "left_wrist"), ("left_wrist", "left_pinky"),
                    ("left_wrist", "left_index"), ("left_wrist", "left_thumb"),
                    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                    ("right_wrist", "right_pinky"), ("right_wrist", "right_index"),
                    ("right_wrist", "right_thumb"), ("left_shoulder", "left_hip"),
                    ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
                    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
                    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
                    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
                    ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"))

MEDIAPIPE_POSE33_HANDS = Layout(
    name="mediapipe_pose33_hands",
    joints=_MP_POSE33 + BOTH_HANDS,
    links=_MP_POSE33_LINKS + BOTH_HAND_LINKS,
    center="nose",
    description="MediaPipe Pose 33 landmarks + Hands 2x21 (Holistic), subject's left/right. "
                "Neck = mid-shoulders; mouth corners are never used.",
    derived=_MID_SHOULDER,
)

_KINECT25 = ("spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow",
             "left_wrist", "left_hand", "right_shoulder", "right_elbow", "right_wrist",
             "right_hand", "left_hip", "left_knee", "left_ankle", "left_foot", "right_hip",
             "right_knee", "right_ankle", "right_foot", "spine_shoulder", "left_hand_tip",
             "left_thumb", "right_hand_tip", "right_thumb")
KINECT_V2_25 = Layout(
    name="kinect_v2_25",
    joints=_KINECT25,
    links=(("spine_base", "spine_mid"), ("spine_mid", "spine_shoulder"),
           ("spine_shoulder", "neck"), ("neck", "head"), ("spine_shoulder", "left_shoulder"),
           ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
           ("left_wrist", "left_hand"), ("left_hand", "left_hand_tip"),
           ("left_wrist", "left_thumb"), ("spine_shoulder", "right_shoulder"),
           ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
           ("right_wrist", "right_hand"), ("right_hand", "right_hand_tip"),
           ("right_wrist", "right_thumb"), ("spine_base", "left_hip"),
           ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_ankle", "left_foot"),
           ("spine_base", "right_hip"), ("right_hip", "right_knee"),
           ("right_knee", "right_ankle"), ("right_ankle", "right_foot")),
    center="spine_shoulder",
    description="Kinect v2 body (SMG), subject's left/right. Approximations: nose = head "
                "centre; hand wrist = wrist; middle MCP = hand (palm) centre; middle tip = "
                "hand tip; thumb tip = thumb. Eyes, ears and other finger joints are missing.",
    derived={"nose": ("head",), "left_hand_wrist": ("left_wrist",),
             "right_hand_wrist": ("right_wrist",), "left_hand_middle_mcp": ("left_hand",),
             "right_hand_middle_mcp": ("right_hand",), "left_hand_middle_tip": ("left_hand_tip",),
             "right_hand_middle_tip": ("right_hand_tip",), "left_hand_thumb_tip": ("left_thumb",),
             "right_hand_thumb_tip": ("right_thumb",)},
)

_MIGA_FINGERS = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")
MIGA35 = Layout(
    name="miga35",
    joints=_BODY25 + hand_joints("left", _MIGA_FINGERS) + hand_joints("right", _MIGA_FINGERS),
    links=_BODY25_LINKS
    + tuple((f"{s}_wrist", f"{s}_hand_{f}") for s in ("left", "right") for f in _MIGA_FINGERS),
    center="neck",
    description="MiGA challenge '<vid>_light_hand.csv' (organisers' iMiGUEaccessSample.py, "
                "class Skeleton): the 25 OpenPose BODY_25 points in BODY_25 order, then 5 "
                "finger points of the subject's left hand (the kit's 'RightFinger1..5', linked "
                "to its 'HandRight' = BODY_25 LWrist), then 5 of the right hand ('LeftFinger1..5'). "
                "The kit names the body mirrored (its 'ShoulderLeft' is BODY_25 RShoulder); nfbl "
                "names joints by the subject's side. The finger points are read as the five "
                "fingertips, thumb to little finger (the kit links each to the wrist); see "
                "docs/keypoints.md.",
    derived={"left_hand_wrist": ("left_wrist",), "right_hand_wrist": ("right_wrist",)},
)

#: MIGA35 blocks the iMiGUE classification kit keeps (mikecheninoulu/SMG,
#: ``classification/iMiGUE/stgcn_imigue/tools/imigue_gendata.py``, ``used_joints``): Nose,
#: ShoulderCenter, ShoulderLeft, ElbowLeft, HandLeft, ShoulderRight, ElbowRight, HandRight,
#: EyeLeft, EyeRight, EarLeft, EarRight, RightFinger1..5, LeftFinger1..5.
_OPENPOSE22_BLOCKS = (0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 18, *range(25, 35))
_OPENPOSE22 = tuple(MIGA35.joints[i] for i in _OPENPOSE22_BLOCKS)
OPENPOSE22 = Layout(
    name="openpose22",
    joints=_OPENPOSE22,
    links=tuple((a, b) for a, b in MIGA35.links if a in _OPENPOSE22 and b in _OPENPOSE22),
    center="neck",
    description="iMiGUE / MiGA classification track upper body ('openpose22' in the "
                "organisers' ST-GCN kit): the 22 of miga35's points that the kit keeps "
                "(imigue_gendata.py used_joints), in that order: nose, neck, right shoulder, "
                "elbow, wrist, left shoulder, elbow, wrist, right eye, left eye, right ear, "
                "left ear, then the five fingertips of the left hand and of the right hand "
                "(subject's sides, as miga35; see docs/keypoints.md).",
    derived={"left_hand_wrist": ("left_wrist",), "right_hand_wrist": ("right_wrist",)},
)

LAYOUTS: Mapping[str, Layout] = {l.name: l for l in (
    CANONICAL, OPENPOSE_BODY25_HANDS, OPENPOSE18, OPENPOSE18_HANDS, COCO17, COCO_WHOLEBODY133,
    MEDIAPIPE_POSE33_HANDS, KINECT_V2_25, MIGA35, OPENPOSE22, HALPE26, HALPE136)}


def get_layout(name: str) -> Layout:
    """Look a layout up by name; an unknown name is a user error listing the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise NfblError(f"unknown keypoint layout {name!r}; known layouts: "
                        f"{', '.join(sorted(LAYOUTS))}") from None


@dataclass(frozen=True)
class ConversionPlan:
    """For every target joint, the source joints whose mean gives it (empty = missing)."""

    source: Layout
    target: Layout
    sources: tuple[tuple[int, ...], ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(self.target.joints[i] for i, s in enumerate(self.sources) if not s)


def plan_conversion(source: Layout, target: Layout = CANONICAL) -> ConversionPlan:
    """Match target joints to source joints by name, then by the source's ``derived`` table."""
    rows = []
    for j in target.joints:
        if j in source.index:
            rows.append((source.index[j],))
        elif j in source.derived:
            rows.append(tuple(source.index[s] for s in source.derived[j]))
        else:
            rows.append(())
    return ConversionPlan(source, target, tuple(rows))


def convert(keypoints: np.ndarray, source: Layout, target: Layout = CANONICAL) -> np.ndarray:
    """Convert ``(..., V_src, 3)`` keypoints to ``(..., V_dst, 3)``.

    A joint averaged from several sources is missing if any of them is missing; its score
    is the minimum of theirs. Missing joints are (0, 0, 0).
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim < 2 or kp.shape[-1] != 3 or kp.shape[-2] != source.num_joints:
        raise NfblError(f"keypoints of shape {kp.shape} do not fit layout {source.name} "
                        f"(expected (..., {source.num_joints}, 3))")
    if source is target:
        return kp.copy()
    plan = plan_conversion(source, target)
    out = np.zeros(kp.shape[:-2] + (target.num_joints, 3), dtype=np.float32)
    for t, srcs in enumerate(plan.sources):
        if not srcs:
            continue
        if len(srcs) == 1:
            out[..., t, :] = kp[..., srcs[0], :]
            continue
        sel = kp[..., list(srcs), :]
        score = sel[..., 2].min(axis=-1)
        out[..., t, :2] = sel[..., :2].mean(axis=-2)
        out[..., t, 2] = score
    out[out[..., 2] <= 0] = 0.0
    return out
