"""The NFBL detector: a fast ST-GCN++-style backbone with a dense, anchor-free head.

Input ``x``: float32 ``(N, T, V, 3)`` = NORMALISED keypoints of the model's layout (x, y in
shoulder widths around the neck, see :func:`nfbl.exports.model_input.prepare`; score 0 = missing).
Output: :class:`DetectorOutput` ``(logits, offsets)``: ``logits`` ``(N, T, C)`` (multi-label, one sigmoid per class) and ``offsets``
``(N, T, C, 2)`` = non-negative distances in FRAMES from each frame ``t`` to the start and to
the (exclusive) end of the event of that class it lies in, i.e. the event is
``[t - offsets[..., 0], t + offsets[..., 1])`` in frame units (see :mod:`nfbl.exports.decoding`).

Architecture — :class:`Backbone` (1–3) → :class:`Neck` (4) → :class:`Head` (5); all
temporal convolutions are "same"-padded and centred, so the output at frame ``t`` depends
only on input frames within :func:`receptive_field` of ``t`` (measured by impulse probes):

1. Streams, computed inside the model: joint (x, y, score, present), bone (joint minus its
   parent along ``Layout.bone_pairs``) and motion (frame-to-frame difference); every stream
   is zero wherever a joint it uses is missing, so a missing (0, 0) never looks real.
   With ``global_centre`` the centre joint (the neck) carries the body centre's
   displacement from its track median instead of (0, 0) (see :func:`nfbl.exports.model_input.prepare`):
   its joint and motion streams then hold whole-body position and velocity, and bones use
   the centre at (0, 0) as before. Optional domain-invariant streams (off by default, see
   :class:`DetectorConfig`): ``contact_streams`` (every joint's proximity to the nose, the
   nearer eye, the nearer ear and the neck: face and torso contact) and ``speed_streams``
   (log speed in shoulder widths per second from a centred difference over
   ``speed_span`` frames each way, which averages the estimator's frame-to-frame jitter);
   ``min_score`` makes joints scored below it count as missing in every stream.
2. Stem: temporal convolution with stride ``stem_stride`` (default 4) per joint.
3. Graph blocks (ST-GCN++ style) at low temporal resolution: adaptive graph convolution
   (fixed spatial-partition adjacency + learned offset, as plain MatMul) and a multi-scale
   temporal convolution (dilations ``dilations`` + max-pool + 1x1 branches), residuals.
4. Joints pooled into body parts (head, torso, arms, hands) → 1-D features; a small temporal
   U-Net (``pyramid_levels`` further stride-2 levels, up-sampled back with skips).
5. Up-sampling to frame rate with a frame-rate skip from the streams; dense head: class
   logits and softplus boundary distances.

Any ``T >= 1`` works; no data-dependent Python control flow in ``forward`` (exportable to
ONNX with dynamic batch and time axes).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Mapping, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nfbl.core import config, skeletons, taxonomy
from nfbl.core.errors import NfblError
from nfbl.detectors.layers import ConvBN1d, GraphBlock, TemporalBlock, upsample

#: Number of per-joint input features built from (x, y, score): x, y, score, present,
#: bone dx, bone dy, motion dx, motion dy (the default streams; :attr:`StreamFeatures.num_features`
#: counts the optional ones too).
NUM_STREAM_FEATURES = 8

#: Anchors of the contact streams: a joint's proximity to each group's nearest present joint.
CONTACT_ANCHORS: tuple[tuple[str, ...], ...] = (("nose",), ("left_eye", "right_eye"),
                                                 ("left_ear", "right_ear"), ("neck",))

#: Body parts the joints are pooled into (by joint-name rules, see :func:`part_groups`).
PART_NAMES: tuple[str, ...] = ("head", "torso", "left_arm", "right_arm", "left_hand",
                               "right_hand")


@dataclass(frozen=True)
class DetectorConfig:
    """Hyper-parameters of :class:`NFBLDetector` (and everything an exported model needs).

    layout: keypoint layout name of the input; class_ids: NFBL ids of the output columns;
    fps: frame rate the model works at; stem_stride: temporal stride of the stem;
    channels/strides: per graph block; dilations: of the multi-scale temporal convolutions;
    neck_channels: width of the pooled 1-D features; pyramid_levels: extra stride-2 levels of
    the temporal U-Net; head_channels: width at frame rate; max_offset_frames: boundary
    distances are clamped to this (frames); global_centre: the input's centre joint carries
    the body centre's displacement from its track median (whole-body motion, which
    neck-centring otherwise removes); the card tells :func:`nfbl.exports.model_input.prepare` to
    provide it.

    Domain-invariant inputs (all off by default; models trained without them are unchanged):
    contact_streams: add, per joint, ``exp(-d / contact_scale)`` of its distance ``d``
    (shoulder widths) to each :data:`CONTACT_ANCHORS` group (0 where either is missing), so
    a hand at the face or chest reads the same whatever the camera; speed_streams: add
    ``log1p(speed)`` with speed in shoulder widths per second, from the centred difference
    ``(p[t+k] - p[t-k]) / (2k)`` with ``k = speed_span`` frames (averaging jitter; 0 where
    either end is missing); min_score: joints scored below this count as missing (score 0)
    in every stream — training masks them the same way in its prepared records.
    """

    layout: str = skeletons.CANONICAL.name
    class_ids: tuple[int, ...] = taxonomy.SKELETON_VISIBLE_IDS
    fps: float = 25.0
    stem_channels: int = 32
    stem_stride: int = 4
    channels: tuple[int, ...] = (32, 48, 64)
    strides: tuple[int, ...] = (1, 2, 1)
    dilations: tuple[int, ...] = (1, 2)
    neck_channels: int = 96
    pyramid_levels: int = 2
    head_channels: int = 48
    dropout: float = 0.1
    max_offset_frames: float = 1000.0
    global_centre: bool = False
    contact_streams: bool = False
    contact_scale: float = 0.3
    speed_streams: bool = False
    speed_span: int = 2
    min_score: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_ids", tuple(int(c) for c in self.class_ids))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        skeletons.get_layout(self.layout)
        for c in self.class_ids:
            taxonomy.get(c)
        if len(set(self.class_ids)) != len(self.class_ids) or not self.class_ids:
            raise NfblError("DetectorConfig.class_ids must be a non-empty list of distinct ids")
        if len(self.channels) != len(self.strides) or not self.channels:
            raise NfblError("DetectorConfig.channels and strides must have the same length >= 1")
        if any(s not in (1, 2) for s in self.strides) or self.stem_stride < 1:
            raise NfblError("graph block strides must be 1 or 2 and stem_stride >= 1")
        if not self.fps > 0:
            raise NfblError(f"DetectorConfig.fps must be > 0, got {self.fps}")
        if not self.contact_scale > 0 or self.speed_span < 1 or not 0.0 <= self.min_score < 1.0:
            raise NfblError("DetectorConfig needs contact_scale > 0, speed_span >= 1 and "
                            "min_score in [0, 1)")

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def total_stride(self) -> int:
        """Frames per step of the coarsest feature level; chunk starts must be multiples."""
        s = self.stem_stride
        for st in self.strides:
            s *= st
        return s * 2 ** self.pyramid_levels

    @property
    def receptive_field(self) -> int:
        """Conservative bound R (frames): output frame t depends only on inputs [t-R, t+R]."""
        return receptive_field(self)

    def to_dict(self) -> dict:
        return config.to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "DetectorConfig") -> "DetectorConfig":
        """Strict (unknown keys and wrong types are errors): :func:`nfbl.core.config.from_dict`."""
        return config.from_dict(cls, d, where)


@functools.lru_cache(maxsize=64)
def receptive_field(cfg: DetectorConfig) -> int:
    """Half-width R (frames) of the input that can influence one output frame, measured on
    the network itself with impulse probes (never derived by hand, so it follows every
    change of the architecture).

    The temporal reach depends on the layers' kernels, strides, dilations and levels, not
    on their widths, the joints or the classes: so a narrow float64 twin of the network
    (4 channels, COCO-17 joints, one class, seeded random weights, eval mode) runs on a
    random sequence, once as it is and once per probe with one frame ``t0`` pushed (x up,
    y down), at every phase of ``t0`` modulo the coarsest stride, all in one batch. The
    outputs that change lie in ``[t0 - R, t0 + R]``; the widest response plus one coarse
    stride of margin is returned. Cached per config.
    """
    layers = {"stem_channels": 4, "channels": (4,) * len(cfg.channels), "neck_channels": 4,
              "head_channels": 4, "class_ids": cfg.class_ids[:1], "layout": "coco17",
              "dropout": 0.0, "global_centre": False}
    twin = DetectorConfig(**{**{f.name: getattr(cfg, f.name) for f in fields(cfg)}, **layers})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = NFBLDetector(twin).double().eval()
        stride = cfg.total_stride
        guess = 16 * stride
        while True:
            t = 2 * guess + 2 * stride
            x = torch.randn(1, t, net.num_joints, 3, dtype=torch.float64)
            x[..., 2] = 1.0
            t0 = guess + np.arange(stride).repeat(2)
            batch = x.repeat(len(t0) + 1, 1, 1, 1)
            for k, f in enumerate(t0):
                batch[k + 1, f, :, k % 2] += 1.0 if k % 2 == 0 else -1.0
            with torch.no_grad():
                out = net(batch)
            diff = sum((o[1:] - o[:1]).abs().reshape(len(t0), t, -1).amax(dim=2) for o in out)
            reach = 0
            for k, f in enumerate(t0):
                changed = torch.nonzero(diff[k] > 0).flatten()
                if len(changed):
                    reach = max(reach, int(f) - int(changed.min()), int(changed.max()) - int(f))
            if reach < guess - stride:
                return reach + stride
            guess *= 2  # the response reached the probe's edge: probe wider


# --- graph helpers -------------------------------------------------------------------------

#: How the layout's joint regions (:data:`nfbl.core.skeletons.REGIONS`) pool into parts;
#: sided regions become ``{side}_arm`` / ``{side}_hand``.
_REGION_TO_PART = {"head": "head", "face": "head", "torso": "torso", "leg": "torso",
                   "shoulder": "arm", "arm": "arm", "hand": "hand"}


def part_groups(layout: skeletons.Layout) -> np.ndarray:
    """Averaging matrix ``(V, P)`` pooling joints into :data:`PART_NAMES` by the regions the
    layout declares (``Layout.regions``): head (and face), torso (and legs), each arm
    (shoulder, elbow, wrist), each hand. Parts with no joint get an all-zero column."""
    m = np.zeros((layout.num_joints, len(PART_NAMES)), dtype=np.float32)
    for i, (region, side) in enumerate(zip(layout.regions, layout.sides)):
        p = _REGION_TO_PART[region]
        if p in ("arm", "hand"):
            p = f"{side}_{p}" if side != "center" else "torso"
        m[i, PART_NAMES.index(p)] = 1.0
    counts = m.sum(axis=0)
    return m / np.maximum(counts, 1.0)[None, :]


# --- the model -----------------------------------------------------------------------------

class StreamFeatures(nn.Module):
    """(x, y, score) ``(N, T, V, 3)`` → masked joint/bone/motion features ``(N, F, T, V)``
    (``F`` = :attr:`num_features`: 8, plus 4 contact and 1 speed channels when enabled).

    ``global_centre``: the layout's centre joint holds the global displacement, so bones are
    computed with the centre at (0, 0) (its local position after neck-centring); contacts
    use the same local positions. ``cfg`` (a :class:`DetectorConfig`) switches on the
    optional streams and the confidence mask; without it only the 8 default streams.
    """

    def __init__(self, layout: skeletons.Layout, global_centre: bool = False,
                 cfg: DetectorConfig | None = None):
        super().__init__()
        cfg = cfg or DetectorConfig(layout=layout.name)
        pairs = np.asarray(layout.bone_pairs, dtype=np.int64)
        self.register_buffer("parent", torch.as_tensor(pairs[:, 1]), persistent=False)
        local = torch.ones(layout.num_joints)
        if global_centre:
            local[layout.index[layout.center]] = 0.0
        self.register_buffer("local", local, persistent=False)   # (V,)
        self.min_score = float(cfg.min_score)
        self.contact = bool(cfg.contact_streams)
        self.contact_scale = float(cfg.contact_scale)
        self.speed = bool(cfg.speed_streams)
        self.span = int(cfg.speed_span)
        self.fps = float(cfg.fps)
        # anchor joint indices per contact group, padded with -1 (absent from the layout)
        width = max(len(g) for g in CONTACT_ANCHORS)
        idx = np.full((len(CONTACT_ANCHORS), width), -1, dtype=np.int64)
        for i, group in enumerate(CONTACT_ANCHORS):
            found = [layout.index[n] for n in group if n in layout.index]
            idx[i, :len(found)] = found
        self.register_buffer("anchor_idx", torch.as_tensor(np.maximum(idx, 0).reshape(-1)),
                             persistent=False)
        self.register_buffer("anchor_ok", torch.as_tensor((idx >= 0).reshape(-1),
                                                          dtype=torch.float32), persistent=False)
        self.num_anchor_groups, self.anchor_width = idx.shape

    @property
    def num_features(self) -> int:
        return (NUM_STREAM_FEATURES + (self.num_anchor_groups if self.contact else 0)
                + (1 if self.speed else 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Channel-first from the start: every broadcast then runs over whole (T, V) planes,
        # which onnxruntime executes several times faster than broadcasts over a trailing
        # axis of 2 or 1 (docs/benchmarks.md, "Stream features channel-first").
        x = x.permute(0, 3, 1, 2)                                # (N, 3, T, V)
        score = x[:, 2:3]
        present = (score > self.min_score).to(x.dtype)   # (N, 1, T, V); min_score >= 0, so score > 0
        xy = x[:, :2] * present
        lxy = xy * self.local                                   # centre at 0 for bones
        pxy = torch.index_select(lxy, 3, self.parent)
        ppres = torch.index_select(present, 3, self.parent)
        bone = (lxy - pxy) * (present * ppres)                  # zero if either is missing
        prev_xy = F.pad(xy[:, :, :-1], (0, 0, 1, 0))            # frame t-1 (zeros at t=0)
        prev_pres = F.pad(present[:, :, :-1], (0, 0, 1, 0))
        motion = (xy - prev_xy) * (present * prev_pres)
        parts = [xy, score * present, present, bone, motion]
        if self.contact:
            parts.append(self._contacts(lxy, present))
        if self.speed:
            parts.append(self._speed(xy, present))
        return torch.cat(parts, dim=1)                          # (N, F, T, V)

    def _contacts(self, lxy: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``(N, G, T, V)``: per joint, ``exp(-d / scale)`` to each anchor group's nearest
        present anchor (0 if the joint or every anchor of the group is missing);
        ``lxy`` ``(N, 2, T, V)``, ``present`` ``(N, 1, T, V)``."""
        a_xy = torch.index_select(lxy, 3, self.anchor_idx).permute(0, 3, 2, 1)   # (N, GW, T, 2)
        a_ok = (torch.index_select(present, 3, self.anchor_idx).permute(0, 3, 2, 1)
                * self.anchor_ok[:, None, None])                                # (N, GW, T, 1)
        dx = lxy[:, 0:1] - a_xy[..., 0:1]                                        # (N, GW, T, V)
        dy = lxy[:, 1:2] - a_xy[..., 1:2]
        d = torch.sqrt(dx * dx + dy * dy + 1e-8)
        prox = torch.exp(-d / self.contact_scale) * a_ok * present
        n, _, t, v = prox.shape
        prox = prox.reshape(n, self.num_anchor_groups, self.anchor_width, t, v)
        return prox.amax(dim=2)                                                  # (N, G, T, V)

    def _speed(self, xy: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``(N, 1, T, V)``: ``log1p`` of the centred-difference speed (shoulder widths/s)."""
        k = self.span
        nxt = F.pad(xy[:, :, k:], (0, 0, 0, k))                  # frame t+k (zeros past the end)
        prv = F.pad(xy[:, :, :-k], (0, 0, k, 0))                 # frame t-k (zeros before 0)
        ok = F.pad(present[:, :, k:], (0, 0, 0, k)) * F.pad(present[:, :, :-k], (0, 0, k, 0))
        v = (nxt - prv) * (self.fps / (2.0 * k))
        speed = torch.sqrt((v ** 2).sum(1, keepdim=True) + 1e-8)
        return torch.log1p(speed) * ok


class DetectorOutput(NamedTuple):
    """What every NFBL detector returns: ``logits`` ``(N, T, C)`` (one sigmoid per class) and
    ``offsets`` ``(N, T, C, 2)`` (frames from ``t`` back to the event's start and on to its
    exclusive end). A tuple, so ``logits, offsets = model(x)`` keeps working."""

    logits: torch.Tensor
    offsets: torch.Tensor


class Backbone(nn.Module):
    """Streams + stem + graph blocks: ``(N, T, V, 3)`` → frame-rate stream features
    ``(N, 8, T, V)`` and coarse joint features ``(N, C, T', V)`` (``T' = ceil(T / s)``)."""

    def __init__(self, cfg: DetectorConfig, layout: skeletons.Layout):
        super().__init__()
        self.streams = StreamFeatures(layout, cfg.global_centre, cfg)
        nf = self.streams.num_features
        self.input_bn = nn.BatchNorm2d(nf)
        s = cfg.stem_stride
        self.stem = nn.Sequential(
            nn.Conv2d(nf, cfg.stem_channels, (2 * s + 1, 1), stride=(s, 1),
                      padding=(s, 0), bias=False),
            nn.BatchNorm2d(cfg.stem_channels), nn.ReLU(inplace=True))
        blocks = []
        cin = cfg.stem_channels
        for cout, st in zip(cfg.channels, cfg.strides):
            blocks.append(GraphBlock(cin, cout, layout.adjacency, cfg.dilations, st, cfg.dropout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.input_bn(self.streams(x))                  # (N, F, T, V)
        y = self.stem(feats)                                    # (N, C0, T/s, V)
        for block in self.blocks:
            y = block(y)                                        # (N, C, T', V)
        return feats, y


class Neck(nn.Module):
    """Joints pooled into body parts (``Layout.regions``), then a temporal U-Net:
    ``(N, C, T', V)`` → ``(N, D, T')``."""

    def __init__(self, cfg: DetectorConfig, layout: skeletons.Layout, in_channels: int):
        super().__init__()
        parts = part_groups(layout)
        self.register_buffer("parts", torch.as_tensor(parts), persistent=False)
        d = cfg.neck_channels
        self.pool_proj = ConvBN1d(in_channels * parts.shape[1], d, 1)
        self.level0 = TemporalBlock(d, cfg.dropout)
        self.down = nn.ModuleList(ConvBN1d(d, d, 3, stride=2) for _ in range(cfg.pyramid_levels))
        self.down_blocks = nn.ModuleList(TemporalBlock(d, cfg.dropout)
                                         for _ in range(cfg.pyramid_levels))
        self.up_fuse = nn.ModuleList(ConvBN1d(d, d, 3) for _ in range(cfg.pyramid_levels))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        y = torch.matmul(y, self.parts)                         # (N, C, T', P)
        y = y.permute(0, 1, 3, 2).reshape(n, -1, y.shape[2])    # (N, C*P, T')
        y = self.level0(self.pool_proj(y))                      # (N, D, T')
        skips = []
        for down, blk in zip(self.down, self.down_blocks):
            skips.append(y)
            y = blk(down(y))
        for fuse, skip in zip(self.up_fuse, reversed(skips)):
            y = fuse(upsample(y, 2, skip) + skip)
        return y


class Head(nn.Module):
    """Up-sampling to frame rate with a skip from the stream features, then the dense
    class and boundary heads: ``(N, D, T')`` + ``(N, 8, T, V)`` → :class:`DetectorOutput`."""

    def __init__(self, cfg: DetectorConfig, num_joints: int, coarse_stride: int,
                 num_features: int = NUM_STREAM_FEATURES):
        super().__init__()
        h, c = cfg.head_channels, cfg.num_classes
        self.coarse_stride = coarse_stride
        self.max_offset = cfg.max_offset_frames
        self.frame_skip = ConvBN1d(num_features * num_joints, h, 1)
        self.to_frame = nn.Conv1d(cfg.neck_channels, h, 1, bias=False)
        self.frame_fuse = ConvBN1d(h, h, 3)
        self.cls_head = nn.Conv1d(h, c, 3, padding=1)
        self.reg_head = nn.Conv1d(h, 2 * c, 3, padding=1)
        nn.init.constant_(self.cls_head.bias, -4.0)  # prior ~1.8 % positives (focal-loss init)
        nn.init.constant_(self.reg_head.bias, 2.0)

    def forward(self, y: torch.Tensor, feats: torch.Tensor) -> DetectorOutput:
        n, t = feats.shape[0], feats.shape[2]
        frame = self.frame_skip(feats.permute(0, 1, 3, 2).reshape(n, -1, t))   # (N, H, T)
        y = self.frame_fuse(upsample(self.to_frame(y), self.coarse_stride, frame) + frame)
        logits = self.cls_head(y).transpose(1, 2)               # (N, T, C)
        reg = torch.clamp(F.softplus(self.reg_head(y)), max=self.max_offset)   # (N, 2C, T)
        offsets = reg.reshape(n, -1, 2, t).permute(0, 3, 1, 2)  # (N, T, C, 2)
        return DetectorOutput(logits, offsets)


#: state-dict key prefixes of checkpoints written before the backbone/neck/head split
LEGACY_PREFIXES: dict[str, str] = {
    **{k: "backbone." for k in ("streams.", "input_bn.", "stem.", "blocks.")},
    **{k: "neck." for k in ("pool_proj.", "level0.", "down.", "down_blocks.", "up_fuse.")},
    **{k: "head." for k in ("frame_skip.", "to_frame.", "frame_fuse.", "cls_head.",
                            "reg_head.")}}


def upgrade_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights of an older checkpoint (one flat module) under today's key names."""
    out = {}
    for key, value in state.items():
        prefix = next((p for p in LEGACY_PREFIXES if key.startswith(p)), None)
        out[LEGACY_PREFIXES[prefix] + key if prefix else key] = value
    return out


class NFBLDetector(nn.Module):
    """Dense multi-label NFBL detector = :class:`Backbone` → :class:`Neck` → :class:`Head`;
    see the module docstring for shapes and design."""

    def __init__(self, cfg: DetectorConfig = DetectorConfig()):
        super().__init__()
        self.cfg = cfg
        layout = skeletons.get_layout(cfg.layout)
        self.num_joints = layout.num_joints
        self.backbone = Backbone(cfg, layout)
        self.neck = Neck(cfg, layout, self.backbone.out_channels)
        self.head = Head(cfg, layout.num_joints, self.coarse_stride,
                         self.backbone.streams.num_features)

    @property
    def streams(self) -> StreamFeatures:
        return self.backbone.streams

    @property
    def coarse_stride(self) -> int:
        """Stride of the graph blocks' output relative to frames."""
        s = self.cfg.stem_stride
        for st in self.cfg.strides:
            s *= st
        return s

    def forward(self, x: torch.Tensor) -> DetectorOutput:
        """x ``(N, T, V, 3)`` normalised keypoints → ``(N, T, C)`` logits, ``(N, T, C, 2)``."""
        feats, y = self.backbone(x)
        return self.head(self.neck(y), feats)


class FlipAveraged(nn.Module):
    """Test-time flip: the average of a detector's outputs on the input and on its mirror
    image (x negated about the body centre, left and right joints swapped through
    ``Layout.flip_permutation``; NFBL classes carry no side, so labels need no swap — the
    same flip the training augmentation uses). Twice the compute; exported as one ONNX graph.

    Logits are averaged (not probabilities), offsets too. ``cfg`` is the wrapped model's.
    """

    def __init__(self, model: NFBLDetector):
        super().__init__()
        self.model = model
        self.num_joints = model.num_joints
        perm = skeletons.get_layout(model.cfg.layout).flip_permutation
        self.register_buffer("perm", torch.as_tensor(np.asarray(perm), dtype=torch.long),
                             persistent=False)
        self.register_buffer("mirror", torch.tensor([-1.0, 1.0, 1.0]), persistent=False)

    @property
    def cfg(self) -> DetectorConfig:
        return self.model.cfg

    def forward(self, x: torch.Tensor) -> DetectorOutput:
        """x ``(N, T, V, 3)`` → averaged ``(N, T, C)`` logits, ``(N, T, C, 2)`` offsets."""
        xf = torch.index_select(x, 2, self.perm) * self.mirror  # absent joints stay (0, 0, 0)
        a, oa = self.model(x)
        b, ob = self.model(xf)
        return DetectorOutput(0.5 * (a + b), 0.5 * (oa + ob))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
