"""Linking unordered per-frame people into tracks, and choosing the interviewee.

Readers such as OpenPose give 0, 1 or several people per frame in no particular order;
:func:`link_people` turns them into tracks ``(M, T, V, 3)`` and :func:`choose_interviewee`
picks the track an interview analysis is about. numpy/scipy only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nfbl.core.errors import NfblError
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

#: A track that has not been matched for more than this many frames is closed.
DEFAULT_MAX_LOST = 25
#: A closed track is continued by a later track that starts where it ended, up to this many
#: frames later (30 s at 25 fps): the same person lost for a while, not a new one.
DEFAULT_MAX_REJOIN = 750
#: Without ``max_distance``, a match needs mean joint distance <= this x the person's size
#: (the larger bounding-box diagonal of the two poses compared).
RELATIVE_MAX_DISTANCE = 0.5
_BIG = 1e12


@dataclass
class _Track:
    last_pose: np.ndarray  # (V, 3)
    last_frame: int
    frames: list[int] = field(default_factory=list)
    poses: list[np.ndarray] = field(default_factory=list)


def _diag(pose: np.ndarray) -> float:
    pts = pose[pose[:, 2] > 0, :2]
    if len(pts) < 2:
        return 0.0
    return float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))


def _cost(tracks: list[_Track], people: np.ndarray) -> np.ndarray:
    """Mean distance (pixels) over joints present in both; inf when none is shared."""
    last = np.stack([t.last_pose for t in tracks])  # (K, V, 3)
    both = (last[:, None, :, 2] > 0) & (people[None, :, :, 2] > 0)  # (K, P, V)
    dist = np.linalg.norm(last[:, None, :, :2] - people[None, :, :, :2], axis=-1)
    n = both.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.where(n > 0, (dist * both).sum(axis=-1) / n, np.inf)
    return cost


def _limit(a: np.ndarray, b: np.ndarray, max_distance: float | None) -> float:
    """The largest accepted mean joint distance between poses ``a`` and ``b`` ``(V, 3)``."""
    if max_distance is not None:
        return float(max_distance)
    lim = RELATIVE_MAX_DISTANCE * max(_diag(a), _diag(b))
    return lim if lim > 0 else np.inf


def _rejoin(tracks: list[_Track], max_rejoin: int, max_distance: float | None) -> list[_Track]:
    """Chain each track to the closed track it continues (see :func:`link_people`); returns
    the chains, each a track whose frames run on through its continuations. Tracks that start
    in the same frame are assigned together (Hungarian, on the same cost as frame linking)."""
    if max_rejoin <= 0 or len(tracks) < 2:
        return tracks
    chains: list[_Track] = []
    ordered = sorted(tracks, key=lambda x: x.frames[0])
    i = 0
    while i < len(ordered):
        start = ordered[i].frames[0]
        group = [tr for tr in ordered[i:] if tr.frames[0] == start]
        i += len(group)
        ended = [c for c in chains if 0 < start - c.last_frame <= max_rejoin]
        taken: set[int] = set()
        if ended:
            firsts = np.stack([tr.poses[0] for tr in group])
            cost = _cost(ended, firsts)
            for r, c in zip(*_assign(cost)):
                if np.isfinite(cost[r, c]) and cost[r, c] <= _limit(ended[r].last_pose, firsts[c],
                                                                     max_distance):
                    chain, tr = ended[r], group[c]
                    log.debug("link_people: a track starting at frame %d continues one last "
                              "seen at frame %d", start, chain.last_frame)
                    chain.frames += tr.frames
                    chain.poses += tr.poses
                    chain.last_pose, chain.last_frame = tr.last_pose, tr.last_frame
                    taken.add(int(c))
        chains += [tr for c, tr in enumerate(group) if c not in taken]
    return chains


def link_people(frames: Sequence[np.ndarray], max_distance: float | None = None,
                max_lost: int = DEFAULT_MAX_LOST, num_joints: int | None = None,
                min_frames: int = 1,
                max_rejoin: int = DEFAULT_MAX_REJOIN) -> tuple[np.ndarray, np.ndarray]:
    """Link unordered people of every frame into tracks.

    frames: one array ``(P_t, V, 3)`` per frame (x, y, score pixels; ``P_t`` may be 0;
    people without any present joint are ignored).
    Each frame, the people are assigned to the open tracks by the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``) on the mean distance of the joints present
    in both the track's last pose and the person. A pair is accepted when that distance is
    at most ``max_distance`` pixels or, when ``max_distance`` is None, at most
    ``0.5 x`` the larger bounding-box diagonal of the two poses (scale-free). Unmatched
    people start new tracks. A track may disappear and come back: it stays open for
    ``max_lost`` frames after it was last seen (default 25, one second at 25 fps) and is
    compared with its last seen pose; after that it is closed. A closed track is continued by
    a track that starts after it ended, at most ``max_rejoin`` frames later (default 750, 30 s
    at 25 fps; 0 switches this off), with its first pose within the same distance of the
    closed track's last pose (assigned like frames are; each track is continued once): a
    person lost for a while — turned away, occluded, a camera cut — and back in the same
    place stays one track instead of several, of which an interview analysis would keep one.

    Returns ``(keypoints, track_ids)``: float32 ``(M, T, V, 3)`` with missing = (0, 0, 0)
    where a track is absent, tracks in order of first appearance, and int64 ids ``0..M-1``.
    ``num_joints`` (V) fixes the shape of the result when no frame has anyone (M = 0).
    Tracks seen in fewer than ``min_frames`` frames are dropped (spurious detections; each
    kept track costs ``T x V x 12`` bytes).
    """
    frames = list(frames)
    t_len = len(frames)
    for t, f in enumerate(frames):
        f = np.asarray(f)
        if f.size and (f.ndim != 3 or f.shape[-1] != 3):
            raise NfblError(f"frame {t}: people must have shape (P, V, 3), got {f.shape}")
        if f.size:
            if num_joints is None:
                num_joints = f.shape[1]
            elif f.shape[1] != num_joints:
                raise NfblError(f"frame {t}: {f.shape[1]} joints per person, expected {num_joints}")
    if num_joints is None or not any(np.asarray(f).size for f in frames):
        return np.zeros((0, t_len, num_joints or 0, 3), np.float32), np.zeros(0, np.int64)
    open_tracks: list[_Track] = []
    all_tracks: list[_Track] = []
    for t, f in enumerate(frames):
        people = np.asarray(f, dtype=np.float32).reshape(-1, num_joints, 3)
        people = people[(people[..., 2] > 0).any(axis=1)]
        open_tracks = [tr for tr in open_tracks if t - tr.last_frame <= max_lost]
        matched_people: set[int] = set()
        if len(people) and open_tracks:
            cost = _cost(open_tracks, people)
            if max_distance is None:
                sizes_t = np.array([_diag(tr.last_pose) for tr in open_tracks])
                sizes_p = np.array([_diag(p) for p in people])
                limit = RELATIVE_MAX_DISTANCE * np.maximum(sizes_t[:, None], sizes_p[None, :])
                limit = np.where(limit > 0, limit, np.inf)
            else:
                limit = np.full(cost.shape, float(max_distance))
            rows, cols = _assign(cost)
            for r, c in zip(rows, cols):
                if np.isfinite(cost[r, c]) and cost[r, c] <= limit[r, c]:
                    tr = open_tracks[r]
                    tr.last_pose, tr.last_frame = people[c], t
                    tr.frames.append(t)
                    tr.poses.append(people[c])
                    matched_people.add(int(c))
        for c in range(len(people)):
            if c not in matched_people:
                tr = _Track(people[c], t, [t], [people[c]])
                open_tracks.append(tr)
                all_tracks.append(tr)
    short = sum(1 for tr in all_tracks if len(tr.frames) < min_frames)
    if short:
        log.info("link_people: dropped %d track(s) seen in fewer than %d frames", short, min_frames)
        all_tracks = [tr for tr in all_tracks if len(tr.frames) >= min_frames]
    before = len(all_tracks)
    all_tracks = _rejoin(all_tracks, int(max_rejoin), max_distance)
    if len(all_tracks) < before:
        log.info("link_people: %d track(s) continue an earlier one (lost up to %d frames)",
                 before - len(all_tracks), max_rejoin)
    out = np.zeros((len(all_tracks), t_len, num_joints, 3), dtype=np.float32)
    for m, tr in enumerate(all_tracks):
        out[m, tr.frames] = np.stack(tr.poses)
    out[out[..., 2] <= 0] = 0.0
    return out, np.arange(len(all_tracks), dtype=np.int64)


def _assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if cost.shape == (1, 1):  # the common case: skip scipy
        return np.zeros(1, np.int64), np.zeros(1, np.int64)
    from scipy.optimize import linear_sum_assignment

    finite = np.where(np.isfinite(cost), cost, _BIG)
    return linear_sum_assignment(finite)


@dataclass(frozen=True)
class TrackScore:
    """Why a track was (not) chosen: each factor in [0, 1]; ``total`` = their product."""

    presence: float
    size: float
    centrality: float

    @property
    def total(self) -> float:
        return self.presence * self.size * self.centrality


def score_tracks(kp: np.ndarray, frame_size: tuple[int, int] = (0, 0)) -> list[TrackScore]:
    """Interviewee score of every track of ``kp`` ``(M, T, V, 3)``; see
    :func:`choose_interviewee`."""
    kp = np.asarray(kp, dtype=np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise NfblError(f"keypoints must have shape (M, T, V, 3), got {kp.shape}")
    width, height = frame_size
    present = kp[..., 2] > 0
    if not (width > 0 and height > 0):
        # unknown frame size: the extent of all present joints stands in for the frame
        pts = kp[present][:, :2]
        width, height = (float(pts[:, 0].max()), float(pts[:, 1].max())) if len(pts) else (1.0, 1.0)
        width, height = max(width, 1.0), max(height, 1.0)
    frame_diag = float(np.hypot(width, height))
    centre = np.array([width / 2.0, height / 2.0])
    scores = []
    for m in range(kp.shape[0]):
        seen = present[m].any(axis=1)
        presence = float(seen.mean()) if kp.shape[1] else 0.0
        diags, dists = [], []
        for t in np.flatnonzero(seen):
            pts = kp[m, t, present[m, t], :2]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            diags.append(float(np.linalg.norm(hi - lo)))
            dists.append(float(np.linalg.norm((lo + hi) / 2.0 - centre)))
        size = min(float(np.median(diags)) / frame_diag, 1.0) if diags else 0.0
        centrality = (float(np.clip(1.0 - np.median(dists) / (frame_diag / 2.0), 0.05, 1.0))
                      if dists else 0.0)
        scores.append(TrackScore(presence, size, centrality))
    return scores


def choose_interviewee(kp: np.ndarray, frame_size: tuple[int, int] = (0, 0)) -> int:
    """Index of the track most likely to be the interviewee.

    kp: float32 ``(M, T, V, 3)`` pixels; frame_size: (width, height) pixels, or (0, 0) when
    unknown (then the extent of all keypoints stands in for the frame).
    Score of a track = presence x size x centrality, where presence = share of frames in
    which the track has any joint; size = median over those frames of the bounding-box
    diagonal of its present joints / frame diagonal (capped at 1); centrality = 1 - median
    distance of the box centre from the frame centre / half the frame diagonal (clipped to
    [0.05, 1]). The largest score wins; ties go to the lower index. Raises if ``M == 0``.
    """
    scores = score_tracks(kp, frame_size)
    if not scores:
        raise NfblError("no person found in the keypoints (0 tracks)")
    totals = [s.total for s in scores]
    best = int(np.argmax(totals))
    log.debug("interviewee scores: %s -> track %d", totals, best)
    return best


def select_person(seq: PoseSequence, index: int | None = None) -> PoseSequence:
    """A PoseSequence with only person ``index`` (``None`` = :func:`choose_interviewee`);
    the person's track id is kept. Shorthand for ``Persons.parse(index).apply(seq)``."""
    return Persons.parse(index).apply(seq)


@dataclass(frozen=True)
class Persons:
    """Which persons of a sequence to use — the one selection type of nfbl.

    ``mode``: ``"interviewee"`` (one person, :func:`choose_interviewee`), ``"all"``, or
    ``"indices"`` with ``indices`` (track positions in the sequence, negative from the end).
    Build it from what a user typed with :meth:`parse`.
    """

    mode: str = "interviewee"
    indices: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in ("interviewee", "all", "indices"):
            raise NfblError(f"persons must be 'interviewee', 'all' or indices, got {self.mode!r}")
        if (self.mode == "indices") != bool(self.indices):
            raise NfblError("person indices are given with mode 'indices' and only then")

    @classmethod
    def parse(cls, value: "Persons | str | int | Sequence[int] | None") -> "Persons":
        """``"interviewee"`` / None, ``"all"``, an index, ``"0,2"`` or a list of indices."""
        if isinstance(value, Persons):
            return value
        if value is None or value == "interviewee":
            return cls()
        if value == "all":
            return cls("all")
        if isinstance(value, (int, np.integer)):
            return cls("indices", (int(value),))
        if isinstance(value, str):
            try:
                return cls("indices", tuple(int(v) for v in value.split(",")))
            except ValueError:
                raise NfblError(f"persons must be 'interviewee', 'all' or track indices such as "
                                f"'0' or '0,2', got {value!r}") from None
        return cls("indices", tuple(int(v) for v in value))

    def __str__(self) -> str:
        return ",".join(map(str, self.indices)) if self.mode == "indices" else self.mode

    def resolve(self, seq: PoseSequence) -> list[int]:
        """Positions of the chosen persons in ``seq`` (raises when there is nobody or an
        index is out of range)."""
        m = seq.num_persons
        if m == 0:
            raise NfblError(f"{seq.video_id or 'sequence'}: no person in the keypoints (0 tracks)")
        if self.mode == "all":
            return list(range(m))
        if self.mode == "interviewee":
            return [0] if m == 1 else [choose_interviewee(seq.keypoints, seq.frame_size)]
        for i in self.indices:
            if not -m <= i < m:
                raise NfblError(f"person index {i} is out of range: the sequence has {m} "
                                f"person(s)")
        return [i % m for i in self.indices]

    def apply(self, seq: PoseSequence) -> PoseSequence:
        """``seq`` with only the chosen persons (their track ids kept)."""
        if self.mode == "all":
            return seq
        idx = self.resolve(seq)
        return seq.with_keypoints(seq.keypoints[idx].copy(), track_ids=seq.track_ids[idx].copy())
