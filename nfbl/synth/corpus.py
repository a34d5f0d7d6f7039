"""Synthetic videos and corpora: :class:`SynthConfig`, :func:`generate_video`, :func:`write_corpus`.

One video = a random body, camera and idle style, an event timeline calibrated to iMiGUE,
gesture programs driving a 3D kinematic model, projection and pose-estimator noise. The
result is a :class:`~nfbl.core.sequence.PoseSequence` (float32 pixels with scores, score 0 =
missing) and the ground-truth :class:`~nfbl.core.events.EventStream` (score 1.0).
Everything is deterministic given the seed.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from nfbl.core import skeletons, taxonomy
from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.core.atomic import atomic_open
from nfbl.core.sequence import PoseSequence
from nfbl.synth import body as B
from nfbl.synth import camera as C
from nfbl.synth import motion as M
from nfbl.synth import timeline as TL
from nfbl.synth.gestures import GESTURES, GestureCtx

log = logging.getLogger(__name__)

MODEL_NAME = "nfbl.synth"
SYNTH_VERSION = 5
LAYOUTS = ("nfbl56", "openpose_body25_hands", "mediapipe_pose33_hands", "coco_wholebody133", "miga35")
#: Every class nfbl synth can generate: the skeleton-visible classes (incl. N34).
GENERATED_CLASSES: tuple[int, ...] = tuple(sorted(GESTURES))


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the generator.

    minutes: video length (None = sample from iMiGUE's video lengths); fps: frame rate;
    layout: output keypoint layout (one of :data:`LAYOUTS`); flatten_tail: 0 = iMiGUE class
    shares, 1 = uniform over ``classes``; split: "train" or "heldout" (body and camera
    parameters from disjoint ranges); classes: class ids to generate (None = all
    skeleton-visible ones); noise: pose-estimator imperfections; overlap_share: target share
    of events starting before the previous one ends (None = the file's 0.252); rate_scale:
    multiplies the sampled events per minute; beats: talking beat gestures (hard negatives);
    setting: "press" (behind a table, hips hidden; v3) or "mixed" (v2's mix of table and lap).
    """

    minutes: float | None = 5.0
    fps: float = 25.0
    layout: str = "nfbl56"
    flatten_tail: float = 0.0
    split: str = "train"
    classes: tuple[int, ...] | None = None
    noise: C.NoiseConfig = field(default_factory=C.NoiseConfig)
    overlap_share: float | None = None
    rate_scale: float = 1.0
    beats: bool = True
    setting: str = "press"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise NfblError(f"nfbl synth cannot write layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")
        if self.setting not in M.SETTINGS:
            raise NfblError(f"setting must be one of {', '.join(M.SETTINGS)}, got {self.setting!r}")
        if self.split not in ("train", "heldout"):
            raise NfblError(f"split must be 'train' or 'heldout', got {self.split!r}")
        if not (self.fps > 0 and np.isfinite(self.fps)):
            raise NfblError(f"fps must be positive, got {self.fps}")
        if self.minutes is not None and not (self.minutes > 0 and np.isfinite(self.minutes)):
            raise NfblError(f"minutes must be positive, got {self.minutes}")
        if not 0.0 <= self.flatten_tail <= 1.0:
            raise NfblError(f"flatten_tail must be in [0, 1], got {self.flatten_tail}")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
            TL.class_probabilities(self.classes, self.flatten_tail)  # validates

    @property
    def class_ids(self) -> tuple[int, ...]:
        return GENERATED_CLASSES if self.classes is None else tuple(sorted(set(self.classes)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.class_ids)
        return d


def _rngs(seed: int | Sequence[int]) -> dict[str, np.random.Generator]:
    """Independent streams per component, so that e.g. a noise change keeps the motion."""
    try:
        entropy = [int(v) for v in np.atleast_1d(np.asarray(seed, dtype=np.int64)).tolist()]
    except (TypeError, ValueError, OverflowError):
        raise NfblError(f"seed must be a non-negative integer (or a sequence of them), got {seed!r}") from None
    if any(v < 0 for v in entropy):
        raise NfblError(f"seed must be non-negative, got {seed!r}")
    ss = np.random.SeedSequence(entropy)
    names = ("body", "camera", "idle", "timeline", "gestures", "noise", "length")
    return {n: np.random.default_rng(s) for n, s in zip(names, ss.spawn(len(names)))}


def _named_points(pose: M.Pose3D) -> dict[str, np.ndarray]:
    """3D trajectories (T,3) of every named point any output layout may need."""
    j = dict(pose.joints)
    for side in M.SIDES:
        for i, n in enumerate(skeletons.HAND_JOINTS):
            j[f"{side}_hand_{n}"] = pose.hands[side][:, i]
        # MediaPipe Pose's coarse hand points
        j[f"{side}_pinky"] = pose.hands[side][:, 17]
        j[f"{side}_index"] = pose.hands[side][:, 5] * 0.5 + pose.hands[side][:, 6] * 0.5
        j[f"{side}_thumb"] = pose.hands[side][:, 3]
        j[f"{side}_foot_index"] = j[f"{side}_big_toe"]
    j["neck"] = 0.5 * (j["left_shoulder"] + j["right_shoulder"])
    j["mid_hip"] = 0.5 * (j["left_hip"] + j["right_hip"])
    return j


@dataclass
class Simulation:
    """Everything behind one synthetic video (3D motion, plan, body, camera)."""

    body: B.BodyParams
    camera: C.Camera
    idle: M.Idle
    channels: M.Channels
    plan: list[TL.PlannedEvent]
    pose: M.Pose3D
    noise_rng: np.random.Generator


def simulate(config: SynthConfig = SynthConfig(), seed: int | Sequence[int] = 0) -> Simulation:
    """The 3D motion behind :func:`generate_video` (same seed → same motion)."""
    rngs = _rngs(seed)
    fps = float(config.fps)
    minutes = config.minutes
    if minutes is None:
        minutes = float(TL.inverse_cdf(rngs["length"].random(), TL.video_seconds_knots())) / 60.0
    t = max(int(round(minutes * 60.0 * fps)), 2)
    body = B.sample_body(rngs["body"], config.split)
    cam = C.sample_camera(rngs["camera"], body, config.split)
    idle = M.sample_idle(rngs["idle"], config.setting)
    ch = M.idle_channels(rngs["idle"], t, fps, body, idle)
    if not config.beats:
        for a in ch.arms.values():
            a.beat[:] = 0.0
    probs = TL.class_probabilities(config.class_ids, config.flatten_tail)
    plan = TL.sample_timeline(rngs["timeline"], t, fps, probs, config.overlap_share, config.rate_scale)
    tempo = float(rngs["gestures"].uniform(0.75, 1.35))
    ctx = GestureCtx(ch=ch, rng=rngs["gestures"], body=body, fps=fps, table_height=idle.table_height, tempo=tempo)
    for ev in plan:
        GESTURES[ev.class_id].program(ctx, ev.start, ev.end, ev.side)
    return Simulation(body, cam, idle, ch, plan, M.pose_3d(body, ch), rngs["noise"])


def generate_video(config: SynthConfig = SynthConfig(), seed: int | Sequence[int] = 0,
                   video_id: str = "synth") -> tuple[PoseSequence, EventStream]:
    """Generate one synthetic interview video's keypoints and ground-truth events.

    Returns a PoseSequence (1, T, V, 3) float32 in ``config.layout`` and the events
    (seconds, half-open, score 1.0, model "nfbl.synth").
    """
    sim = simulate(config, seed)
    fps = float(config.fps)
    t = sim.channels.t
    points = _named_points(sim.pose)
    layout = skeletons.get_layout(config.layout)
    names = [n for n in layout.joints if n in points]
    for extra in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_wrist", "right_wrist"):
        if extra not in names:
            names.append(extra)
    pts = np.stack([points[n] for n in names], axis=1)
    info: dict = {}
    obs = C.observe(sim.noise_rng, sim.camera, pts, names, fps,
                    (sim.idle.table_height, sim.idle.table_near, sim.idle.table_far)
                    if sim.idle.rest != "lap" else None, config.noise, info)
    kp = np.zeros((t, layout.num_joints, 3), dtype=np.float32)
    for i, n in enumerate(names):
        if n in layout.index:
            kp[:, layout.index[n]] = obs[:, i]
    meta = {"synth": {"version": SYNTH_VERSION, "seed": np.atleast_1d(seed).tolist(), "split": config.split,
                      "body": asdict(sim.body), "camera": sim.camera.to_dict(), "idle": asdict(sim.idle),
                      "estimator": info.get("estimator", ""), "config": config.to_dict()}}
    seq = PoseSequence(kp[None], config.layout, fps, np.arange(t) / fps, (sim.camera.width, sim.camera.height),
                       video_id=video_id, meta=json.loads(json.dumps(meta, default=_json_default)))
    events = EventStream(tuple(Event(video_id, ev.class_id, ev.start / fps, ev.end / fps, 1.0, 0, MODEL_NAME)
                               for ev in sim.plan), {"source": MODEL_NAME, "fps": fps})
    return seq, events


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def write_corpus(out_dir: str | Path, n_videos: int = 200, minutes: float | None = None, seed: int = 0,
                 layout: str | None = None, config: SynthConfig | None = None, prefix: str = "synth",
                 progress: bool | None = None) -> Path:
    """Write ``n_videos`` videos: ``<vid>.npz``, ``<vid>.events.jsonl``, ``<vid>.imigue.csv``
    and a ``corpus.json`` manifest. ``minutes``/``layout`` override ``config`` when given.

    Video ``i`` uses the seed ``(seed, i)``: a corpus of 10 videos is the prefix of a corpus
    of 200 with the same seed. The iMiGUE CSV cannot hold N34 (no iMiGUE id): it is left out
    there and kept in the JSON Lines file. Returns the manifest path.
    """
    from nfbl.io.event_formats import write_events

    config = config or SynthConfig()
    changes = {}
    if minutes is not None:
        changes["minutes"] = float(minutes)
    if layout is not None:
        changes["layout"] = layout
    config = replace(config, **changes)
    if n_videos < 1:
        raise NfblError(f"--videos must be at least 1, got {n_videos}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NfblError(f"{out} exists and is not a folder; choose an output folder for the corpus")
    out.mkdir(parents=True, exist_ok=True)
    videos = []
    it: Iterable[int] = range(n_videos)
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="synth", unit="video")
    for i in it:
        vid = f"{prefix}_{i:04d}"
        seq, events = generate_video(config, seed=(seed, i), video_id=vid)
        seq.save(out / f"{vid}.npz")
        write_events(events, out / f"{vid}.events.jsonl", fmt="jsonl", fps=config.fps)
        imigue = EventStream(tuple(e for e in events if e.class_id <= 31), events.meta)
        write_events(imigue, out / f"{vid}.imigue.csv", fmt="imigue", fps=config.fps)
        counts: dict[str, int] = {}
        for e in events:
            counts[e.code] = counts.get(e.code, 0) + 1
        videos.append({"video_id": vid, "seed": [seed, i], "keypoints": f"{vid}.npz",
                       "events": f"{vid}.events.jsonl", "imigue_csv": f"{vid}.imigue.csv",
                       "frames": seq.num_frames, "seconds": round(seq.duration, 3), "fps": seq.fps,
                       "frame_size": list(seq.frame_size), "num_events": len(events), "class_counts": counts})
    manifest = {"schema": "nfbl.synth.corpus", "version": SYNTH_VERSION, "seed": seed,
                "config": json.loads(json.dumps(config.to_dict(), default=_json_default)),
                "classes": [{"id": c, "code": f"N{c}", "name": taxonomy.get(c).name} for c in config.class_ids],
                "videos": videos}
    path = out / "corpus.json"
    with atomic_open(path) as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    return path
