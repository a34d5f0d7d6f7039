"""Contact geometry: how far the hands are from the face, the neck, each other and the arms.

Most NFBL classes are defined by a touch: scratching the head, rubbing the eyes, rubbing or
holding the hands, folding the arms. A detector trained on synthetic motion can still name
such a class when the keypoints show no such touch (measured on a real talk-show host in
``shared/realpose``: "scratching or touching arms" at 0.68 while the hands were clasped
together on the desk; docs/detector.md, "Contact check"). This module measures, per frame,
the distance that each kind of contact needs to be small, and :func:`check_events` drops
events whose keypoints mostly contradict their contact. numpy only.

Input: one person's normalised keypoints ``x`` ``(T, V, 3)`` (x, y, score) in a layout's
joint order, coordinates in shoulder widths (sw) as :func:`nfbl.exports.model_input.prepare`
gives them. A joint with score <= ``min_score`` is missing. Distances are in sw; a frame where
either side of a contact is missing has distance NaN ("no evidence"), and so has a frame
where one hand is lost entirely (wrist and fingers: it may be the touching hand); an event
without enough evidence is kept.

Kinds (:data:`CONTACT_KIND`, one plain table of class id → kind):

- ``face``: nearest hand point (wrist or hand joint, either hand) to a head joint (nose,
  eyes, ears);
- ``head``: the same distance, for the classes that touch the top and back of the head
  (hat, head, hair), which lie further from the nose, eyes and ears;
- ``neck``: nearest hand point to the neck (the shoulders' midpoint) or a head joint;
- ``hands``: nearest left-hand point to a right-hand point;
- ``arm``: nearest hand point to the segments of the *other* arm (shoulder-elbow,
  elbow-wrist); a frame where the hands are nearer to each other than to the other arm has
  distance +inf (evidence against): hands held together are "rubbing or holding hands"
  (N22), not "touching arms" (N21).

Hand points are the body wrist and the 21 hand joints. Where a hand's joints are all missing
but its wrist is present (hand model lost, body model kept, as at a de-identified face), the
distance is taken from the wrist less :data:`HAND_REACH`, so a lost hand never looks far.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.events import Event

#: The contact each class needs (classes not listed are never checked).
CONTACT_KIND: Mapping[int, str] = {
    **{c: "face" for c in (4, 5, 6, 7, 8, 9, 10, 34)},
    **{c: "head" for c in (2, 3, 12)},
    **{c: "neck" for c in (11, 13, 14)},
    **{c: "hands" for c in (22, 23, 24)},
    **{c: "arm" for c in (16, 21)},
}
KINDS: tuple[str, ...] = ("face", "head", "neck", "hands", "arm")
#: how far (sw) the fingers reach beyond a wrist whose hand joints are all missing (the
#: body model keeps the wrist when the hand model loses the hand, e.g. at a blurred face);
#: wrist to middle fingertip is about half a shoulder width
HAND_REACH = 0.5


@dataclass(frozen=True)
class ContactConfig:
    """When an event counts as "in contact".

    max_distance: per kind, the largest distance (sw) that still counts as touching; set
    from the synthetic training corpus with a wide margin (see docs/detector.md).
    min_share: an event is kept when at least this share of its frames with evidence is
    within ``max_distance`` (events with fewer than ``min_evidence`` frames of evidence are
    kept: the check needs keypoints to disprove a touch).
    min_score: keypoints with a score at or below this are missing.
    """

    face: float = 0.6
    head: float = 1.0
    neck: float = 0.6
    hands: float = 0.6
    arm: float = 0.45
    min_share: float = 0.2
    min_evidence: float = 0.25
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not all(getattr(self, k) >= 0 for k in KINDS):
            raise NfblError("contact distances must be >= 0 (shoulder widths)")
        if not (0.0 <= self.min_share <= 1.0 and 0.0 <= self.min_evidence <= 1.0):
            raise NfblError("contact min_share and min_evidence must be in [0, 1]")

    def max_distance(self, kind: str) -> float:
        return float(getattr(self, kind))


def _side_points(layout: skeletons.Layout, side: str) -> np.ndarray:
    """Indices of one hand's points: the body wrist and the 21 hand joints present."""
    names = [f"{side}_wrist", *skeletons.hand_joints(side)]
    return np.array([layout.index[n] for n in names if n in layout.index], dtype=np.int64)


def _xy(x: np.ndarray, idx: np.ndarray, min_score: float) -> np.ndarray:
    """``(T, K, 2)`` coordinates with NaN where the joint is missing."""
    pts = x[:, idx, :2].astype(np.float32)
    pts[x[:, idx, 2] <= min_score] = np.nan
    return pts


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame, the smallest distance between any point of ``a`` ``(T, K, 2)`` and any of
    ``b`` ``(T, L, 2)``; NaN where either side has no point."""
    if a.shape[1] == 0 or b.shape[1] == 0:
        return np.full(a.shape[0], np.nan)
    diff = a[:, :, None, :] - b[:, None, :, :]
    d2 = np.einsum("tklc,tklc->tkl", diff, diff).reshape(len(a), -1)
    return np.sqrt(np.fmin.reduce(d2, axis=1))   # fmin skips NaN; all-NaN stays NaN


def _to_segments(p: np.ndarray, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """Per frame, the smallest distance from points ``p`` ``(T, K, 2)`` to the segment
    ``s0``-``s1`` (each ``(T, 2)``); NaN where nothing is present."""
    seg = s1 - s0
    den = np.maximum((seg ** 2).sum(-1), 1e-12)[:, None]
    t = np.clip(((p - s0[:, None]) * seg[:, None]).sum(-1) / den, 0.0, 1.0)
    diff = p - (s0[:, None] + t[..., None] * seg[:, None])
    return np.sqrt(np.fmin.reduce((diff ** 2).sum(-1), axis=1))


def distances(x: np.ndarray, layout: str | skeletons.Layout = "nfbl56",
              min_score: float = 0.0, block: int = 2048) -> dict[str, np.ndarray]:
    """Per-frame contact distances ``{kind: (T,)}`` float32 in the units of ``x`` (sw after
    normalisation); NaN where a side of the contact is missing, +inf for ``arm`` where the
    hands are nearer to each other than to the other arm. Frames are independent; they are
    measured ``block`` at a time (memory about 8 MB per 1,000 frames of a block)."""
    lay = skeletons.get_layout(layout) if isinstance(layout, str) else layout
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != lay.num_joints or x.shape[2] < 3:
        raise NfblError(f"contact distances need (T, {lay.num_joints}, 3) keypoints of layout "
                        f"{lay.name}, got shape {x.shape}")
    parts = [_distances(x[i:i + block], lay, min_score) for i in range(0, len(x), max(1, block))]
    if not parts:
        return {k: np.zeros(0, dtype=np.float32) for k in KINDS}
    return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in KINDS}


def _distances(x: np.ndarray, lay: skeletons.Layout, min_score: float) -> dict[str, np.ndarray]:
    hands = {s: _xy(x, _side_points(lay, s), min_score) for s in ("left", "right")}
    # a side whose hand joints are all missing has only its wrist: its fingers reach HAND_REACH
    reach = {s: np.where(np.isnan(h[:, 1:, 0]).all(axis=1), HAND_REACH, 0.0)
             for s, h in hands.items()}
    head_idx = np.array([lay.index[n] for n in skeletons.HEAD_JOINTS if n in lay.index], dtype=np.int64)
    head = _xy(x, head_idx, min_score)
    # the neck as the shoulders' midpoint: the neck joint itself may hold the body's
    # displacement instead (model cards with ``global_centre``)
    sh = np.array([lay.index[n] for n in ("left_shoulder", "right_shoulder") if n in lay.index], dtype=np.int64)
    neck = (_xy(x, sh, min_score).mean(axis=1, keepdims=True) if len(sh) == 2
            else np.full((len(x), 1, 2), np.nan, dtype=np.float32))
    per: dict[str, list[np.ndarray]] = {"face": [], "neck": [], "arm": []}
    for side, other in (("left", "right"), ("right", "left")):
        face = _nearest(hands[side], head) - reach[side]
        per["face"].append(face)
        per["neck"].append(np.fmin(face, _nearest(hands[side], neck) - reach[side]))
        chain = [f"{other}_shoulder", f"{other}_elbow", f"{other}_wrist"]
        arm = np.full(len(x), np.nan, dtype=np.float32)
        if all(n in lay.index for n in chain):
            j = _xy(x, np.array([lay.index[n] for n in chain], dtype=np.int64), min_score)
            arm = np.fmin(_to_segments(hands[side], j[:, 0], j[:, 1]),
                          _to_segments(hands[side], j[:, 1], j[:, 2])) - reach[side]
        per["arm"].append(arm)
    # the nearer hand; NaN where either hand is lost entirely: it may be the touching one
    out = {k: np.minimum(a, b) for k, (a, b) in per.items()}
    out["hands"] = _nearest(hands["left"], hands["right"]) - reach["left"] - reach["right"]
    # a hand nearer to the other hand than to the other arm is holding hands, not the arm
    # (judged only where both hands were found: a lost hand's reach says nothing about it)
    seen = (reach["left"] == 0) & (reach["right"] == 0)
    out["arm"] = np.where(seen & (out["hands"] < out["arm"]), np.inf, out["arm"])
    out["head"] = out["face"]   # the same distance, with a longer reach (see ContactConfig)
    return {k: np.maximum(v, 0.0) for k, v in out.items()}


def _span(ts: np.ndarray, start: float, end: float) -> slice:
    """Frames of ``[start, end)`` seconds in sorted ``ts`` ``(T,)``, at least one (T > 0)."""
    lo, hi = (int(i) for i in np.searchsorted(ts, [start, end], side="left"))
    lo = min(lo, len(ts) - 1)
    return slice(lo, max(hi, lo + 1))


def event_share(dist: np.ndarray, timestamps: np.ndarray, start: float, end: float,
                max_distance: float) -> tuple[float, float]:
    """For the frames of ``[start, end)`` (seconds; at least the frame at ``start``): the
    share of those with evidence whose distance is within ``max_distance`` (NaN when none
    has evidence), and the share of frames with evidence."""
    d = np.asarray(dist)[_span(np.asarray(timestamps, dtype=np.float64), start, end)]
    seen = ~np.isnan(d)
    if not seen.any():
        return float("nan"), 0.0
    return float((d[seen] <= max_distance).mean()), float(seen.mean())


def check_events(events: Iterable[Event], dist: Mapping[str, np.ndarray], timestamps: np.ndarray,
                 cfg: ContactConfig = ContactConfig()) -> tuple[list[Event], list[Event]]:
    """Split ``events`` of one person into (kept, dropped): an event of a contact class
    (:data:`CONTACT_KIND`) is dropped when fewer than ``cfg.min_share`` of its frames with
    evidence are within the kind's ``max_distance``; events of other classes, and events
    with evidence in fewer than ``cfg.min_evidence`` of their frames, are kept.

    ``dist``: :func:`distances` of that person's detector input, frame-aligned with
    ``timestamps`` ``(T,)`` seconds.
    """
    kept, dropped = [], []
    for e in events:
        kind = CONTACT_KIND.get(e.class_id)
        if kind is None or len(timestamps) == 0:
            kept.append(e)
            continue
        share, evidence = event_share(dist[kind], timestamps, e.start, e.end, cfg.max_distance(kind))
        if np.isnan(share) or evidence < cfg.min_evidence or share >= cfg.min_share:
            kept.append(e)
        else:
            dropped.append(e)
    return kept, dropped


def check(events: Iterable[Event], x: np.ndarray, timestamps: np.ndarray,
          layout: str | skeletons.Layout = "nfbl56",
          cfg: ContactConfig = ContactConfig()) -> list[Event]:
    """The events of one person that pass the contact check (:func:`split`)."""
    return split(events, x, timestamps, layout, cfg)[0]


def split(events: Iterable[Event], x: np.ndarray, timestamps: np.ndarray,
          layout: str | skeletons.Layout = "nfbl56",
          cfg: ContactConfig = ContactConfig()) -> tuple[list[Event], list[Event]]:
    """(kept, dropped) by the contact check (:func:`check_events`), from one person's
    detector input ``x`` ``(T, V, 3)`` and its ``timestamps`` ``(T,)`` seconds. Only the
    frames inside contact-class events are measured."""
    events = list(events)
    ts = np.asarray(timestamps, dtype=np.float64)
    inside = np.zeros(len(ts), dtype=bool)
    for e in events:
        if e.class_id in CONTACT_KIND and len(ts):
            inside[_span(ts, e.start, e.end)] = True
    if not inside.any():
        return events, []
    part = distances(np.asarray(x)[inside], layout, cfg.min_score)
    dist = {}
    for k, v in part.items():
        dist[k] = np.full(len(ts), np.nan, dtype=np.float32)
        dist[k][inside] = v
    return check_events(events, dist, ts, cfg)


def describe(dropped: Iterable[Event]) -> list[list]:
    """Dropped events as compact JSON rows ``[video_id, code, start_s, end_s, score,
    track_id]`` (for an event stream's metadata, so that users can see what the check
    removed)."""
    return [[e.video_id, f"N{e.class_id}", round(float(e.start), 3), round(float(e.end), 3),
             round(float(e.score), 4), int(e.track_id)] for e in dropped]
