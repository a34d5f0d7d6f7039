"""Training configuration: frozen dataclasses loaded from a TOML file (``tomllib``).

A config file has the sections ``[data]``, ``[model]``, ``[optim]``, ``[loss]``,
``[sampling]``, ``[augment]`` and ``[run]``; every key is optional (defaults below). An
unknown section or key is a user error naming the file and the key, so a typo never
silently trains with a default (:mod:`nfbl.core.config`). ``extends = "other.toml"`` at the
top starts from another config file. ``[model]`` holds the keyword arguments of
:class:`nfbl.detectors.model.DetectorConfig`; they are checked when the model is built.

Example: ``configs/synthetic_default.toml``; reference: ``docs/training.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nfbl.core.config import from_dict, load_toml, to_dict
from nfbl.core.errors import NfblError
from nfbl.detectors.augment import AugmentConfig

DEFAULT_LAYOUTS = ("nfbl56", "openpose_body25_hands", "mediapipe_pose33_hands",
                   "coco_wholebody133")


@dataclass(frozen=True)
class DataConfig:
    """Where training/validation data come from and how they are cut into windows.

    ``source``: ``"synthetic"`` (videos generated from seeds by :mod:`nfbl.synth`, cached
    under ``cache_dir`` when set), ``"corpus"`` (a folder written by ``nfbl synth``:
    ``corpus_dir``) or ``"dataset"`` (a real dataset read by :mod:`nfbl.io.datasets`:
    ``dataset``, ``dataset_root``, ``train_split``/``val_split``; ``labels``: the iMiGUE
    label table, or for ``dataset = "folder"`` an event file or folder of event files in
    any format, e.g. a BORIS project or ELAN files, with ``label_map`` a label-map file for
    your own vocabulary; relative paths are relative to the working directory). ``val_holdout`` > 0
    (dataset only) validates on that share of ``train_split``'s subjects instead
    (:func:`nfbl.io.datasets.holdout`, seeded by ``[run] seed``; they are left out of
    training), so model selection never sees ``val_split`` — keep the test split for the
    final score.
    Synthetic videos ``seed = train_seed + i`` (``i < train_videos``) use ``split="train"``
    generator parameters; validation videos ``val_seed + i`` use ``split="heldout"``.
    Each video is rendered in ``layouts[seed % len(layouts)]`` and converted to the
    canonical layout, so the detector sees the joints each source really provides.
    ``window``/``stride`` in frames.
    """

    source: str = "synthetic"
    train_videos: int = 240
    val_videos: int = 12
    minutes: float = 5.0
    fps: float = 25.0
    train_seed: int = 0
    val_seed: int = 1_000_000
    layouts: tuple[str, ...] = DEFAULT_LAYOUTS
    flatten_tail: float = 0.5
    cache_dir: str = ""
    corpus_dir: str = ""
    val_corpus_dir: str = ""
    dataset: str = ""
    dataset_root: str = ""
    labels: str = ""
    label_map: str = ""
    train_split: str = "train"
    val_split: str = "test"
    val_holdout: float = 0.0
    window: int = 256
    stride: int = 128
    workers: int = 0


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay; ``steps_per_epoch`` windows batches an
    epoch (0 = one pass over all windows)."""

    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    epochs: int = 20
    steps_per_epoch: int = 200
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0


@dataclass(frozen=True)
class LossConfig:
    """Focal loss on the per-frame class logits + ``iou_weight`` × 1-D IoU loss on the
    boundary distances of positive frames (``iou_kind``: iou, giou or diou)."""

    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    iou_kind: str = "diou"
    iou_weight: float = 1.0


@dataclass(frozen=True)
class SamplingConfig:
    """Class-balanced window sampling: a window's weight is ``max over its classes of
    freq(c) ** -power`` (freq = share of windows holding class c); windows without events
    get the weight of ``background_weight`` × the median. ``power=0`` = uniform."""

    class_balanced: bool = True
    power: float = 0.5
    background_weight: float = 0.5


@dataclass(frozen=True)
class RunConfig:
    """Seeds, output folder, device, validation and stopping.

    ``device``: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
    ``patience``: epochs without a better ``monitor`` (``f1`` = F1@0.3 or ``map`` = mAP@0.5)
    before stopping (0 = never stop early). ``init_checkpoint``: start from the weights of
    this checkpoint (fine-tuning, e.g. real data after synthetic pre-training, or a second
    stage with a fresh schedule); unlike ``--resume`` it restores no optimiser, schedule or
    epoch — the model config in ``[model]`` must match it; ``"bundled"`` names the bundled
    model's checkpoint (``nfbl/models/nfbl_default.pt``, the weights of
    ``nfbl_default.onnx``). Validation decodes events from frames with
    probability ≥ ``candidate_threshold`` (mAP ranks them all); F1 counts the events scored
    ≥ ``decode_threshold``, which is also the decode threshold written into the model card.
    """

    seed: int = 0
    out_dir: str = "runs/nfbl"
    device: str = "auto"
    threads: int = 0
    patience: int = 5
    monitor: str = "f1"
    val_every: int = 1
    val_max_videos: int = 0
    decode_threshold: float = 0.5
    candidate_threshold: float = 0.2
    progress: bool = True
    name: str = "nfbl-detector"
    init_checkpoint: str = ""


@dataclass(frozen=True)
class TrainConfig:
    """The whole training configuration (see the module docstring)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: Mapping[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists): stored in checkpoints and model cards."""
        return to_dict(self)

    def replace(self, **sections: Mapping[str, Any]) -> "TrainConfig":
        """A copy with some keys changed: ``cfg.replace(run={"epochs": 2})``."""
        d = self.to_dict()
        for name, changes in sections.items():
            if name not in d:
                raise NfblError(f"unknown config section [{name}]")
            d[name] = {**d[name], **dict(changes)}
        return config_from_dict(d)


_SECTIONS = {"data": DataConfig, "optim": OptimConfig, "loss": LossConfig,
             "sampling": SamplingConfig, "augment": AugmentConfig, "run": RunConfig}


def config_from_dict(d: Mapping[str, Any], where: str = "config") -> TrainConfig:
    """Build and check a :class:`TrainConfig` from a nested dict (e.g. parsed TOML)."""
    known = list(_SECTIONS) + ["model"]
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key not in known:
            raise NfblError(f"{where}: unknown section [{key}] (known: {', '.join(known)})")
        if key == "model":
            if not isinstance(value, Mapping):
                raise NfblError(f"{where}: [model] must be a table of keys")
            kwargs[key] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items()}
        else:
            kwargs[key] = from_dict(_SECTIONS[key], value, f"{where} [{key}]")
    cfg = TrainConfig(**kwargs)
    validate(cfg, where)
    return cfg


def validate(cfg: TrainConfig, where: str = "config") -> None:
    """Check values that the types cannot (ranges, choices); raise one clear line."""
    d, o, r = cfg.data, cfg.optim, cfg.run
    if d.source not in ("synthetic", "corpus", "dataset"):
        raise NfblError(f"{where} [data] source must be synthetic, corpus or dataset, "
                        f"got {d.source!r}")
    if d.source == "corpus" and not d.corpus_dir:
        raise NfblError(f"{where} [data] source = 'corpus' needs corpus_dir")
    if d.source == "dataset" and not (d.dataset and d.dataset_root):
        raise NfblError(f"{where} [data] source = 'dataset' needs dataset and dataset_root")
    if not 0.0 <= d.val_holdout < 1.0:
        raise NfblError(f"{where} [data] val_holdout must be in [0, 1), got {d.val_holdout}")
    if (d.labels or d.label_map) and d.source != "dataset":
        raise NfblError(f"{where} [data] labels and label_map apply to source = 'dataset' only")
    if d.label_map and not d.labels:
        raise NfblError(f"{where} [data] label_map needs labels (an event file or folder)")
    if d.val_holdout > 0 and d.source != "dataset":
        raise NfblError(f"{where} [data] val_holdout applies to source = 'dataset' only")
    if d.window < 16 or d.stride < 1:
        raise NfblError(f"{where} [data] window must be >= 16 and stride >= 1")
    if o.batch_size < 1 or o.epochs < 1 or o.lr <= 0:
        raise NfblError(f"{where} [optim] batch_size and epochs must be >= 1 and lr > 0")
    if cfg.loss.iou_kind not in ("iou", "giou", "diou"):
        raise NfblError(f"{where} [loss] iou_kind must be iou, giou or diou")
    if r.device not in ("auto", "cpu", "cuda"):
        raise NfblError(f"{where} [run] device must be auto, cpu or cuda, got {r.device!r}")
    if r.monitor not in ("f1", "map"):
        raise NfblError(f"{where} [run] monitor must be f1 or map, got {r.monitor!r}")
    if not 0.0 <= cfg.augment.layout_roundtrip <= 1.0:
        raise NfblError(f"{where} [augment] layout_roundtrip must be in [0, 1], "
                        f"got {cfg.augment.layout_roundtrip}")
    lo, hi = cfg.augment.speed
    if not 0 < lo <= hi:
        raise NfblError(f"{where} [augment] speed must be [low, high] with 0 < low <= high")


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML training config; errors name the file (and the bad key). A config may
    start from another: ``extends = "base.toml"`` (relative to the file); its tables merge
    key by key, this file's keys win (:func:`nfbl.core.config.load_toml`)."""
    return config_from_dict(load_toml(path), where=str(path))
