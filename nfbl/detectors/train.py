"""Training loop of the NFBL detector (``nfbl train --config cfg.toml``).

One epoch = ``optim.steps_per_epoch`` batches of ``optim.batch_size`` windows *per process*,
drawn (class-balanced, see :mod:`nfbl.detectors.data`) from a random generator seeded by
``(run.seed, epoch)`` — so an epoch's windows never depend on what ran before, and a resumed
run sees exactly the windows an uninterrupted one would. After every ``run.val_every``
epochs the model decodes the validation videos into events and is scored with F1@0.3
(MiGA, events scored ≥ ``run.decode_threshold``) and mAP@0.5 (ActivityNet) from
:mod:`nfbl.metrics.scores`. ``last.pt`` is written every epoch and ``best.pt`` whenever the
monitored metric improves; training stops early after ``run.patience`` epochs without
improvement.

Devices: CPU by default (``run.device = "auto"`` picks CUDA when present). Several
processes under ``torchrun`` (``WORLD_SIZE > 1``) train with DistributedDataParallel
(NCCL on CUDA, gloo on CPU): each rank trains on its shard of the same drawn epoch, only
rank 0 validates and writes files.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist

from nfbl.exports import decoding
from nfbl.core import skeletons
from nfbl.detectors import data as D
from nfbl.detectors.augment import identity_class_flip
from nfbl.detectors.config import TrainConfig
from nfbl.detectors.losses import boundary_loss, sigmoid_focal_loss
from nfbl.detectors.model import DetectorConfig, NFBLDetector
from nfbl.core.errors import NfblError
from nfbl.core.events import EventStream
from nfbl.core.atomic import atomic_open
from nfbl.keypoints import contact

log = logging.getLogger(__name__)


# --- devices, seeds, processes ---------------------------------------------------------------

def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` → CUDA (this process's local rank) when available, else CPU."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise NfblError("--device cuda was asked for but torch sees no CUDA device; "
                            "use --device cpu")
        return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU runs are then deterministic)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE > 1``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if not dist.is_initialized():
        use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank,
                                world_size=world)
    return DistInfo(rank, world, local)


# --- data ----------------------------------------------------------------------------------

def _prepare(seq, model_cfg: DetectorConfig, person: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of one person → the model's normalised input ``(T, V, 3)`` and timestamps,
    through :func:`nfbl.exports.model_input.prepare` with the model's card (the same function and
    settings inference uses)."""
    from nfbl.exports import model_input
    from nfbl.detectors.augment import mask_low_confidence
    from nfbl.detectors.checkpoint import make_card
    x, ts = model_input.prepare(seq, person, make_card(model_cfg))
    # confidence-aware masking: low-scored joints are missing for augmentation and resampling
    # too (the network masks them itself, so deployment needs no change in prepare())
    return mask_low_confidence(x, model_cfg.min_score), ts


def synthetic_video(split: str, seed: int, cfg: TrainConfig) -> tuple[Any, EventStream]:
    """Generate (or read from ``data.cache_dir``) one synthetic video of ``split``."""
    from nfbl.synth import SynthConfig, generate_video
    d = cfg.data
    layout = d.layouts[seed % len(d.layouts)]
    vid = f"synth-{split}-{seed:07d}"
    cache = None
    if d.cache_dir:
        from nfbl.synth.corpus import SYNTH_VERSION
        key = f"v{SYNTH_VERSION}-{d.minutes:g}min-{d.fps:g}fps-tail{d.flatten_tail:g}"
        cache = Path(d.cache_dir) / key / f"{vid}-{layout}"
        if cache.with_suffix(".events.json").exists():
            return D.load_video(cache)
    seq, events = generate_video(SynthConfig(minutes=d.minutes, fps=d.fps, layout=layout,
                                             flatten_tail=d.flatten_tail, split=split),
                                 seed, vid)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        D.save_video(cache, seq, events)
    return seq, events


def _records_from(pairs, model_cfg: DetectorConfig, desc: str, progress: bool) -> list[D.VideoRecord]:
    """(PoseSequence, EventStream) pairs → one :class:`VideoRecord` per person track."""
    from tqdm import tqdm
    out = []
    layout = skeletons.get_layout(model_cfg.layout)
    for seq, events in tqdm(pairs, desc=desc, disable=not progress, leave=False):
        seq = seq.to_layout(layout)
        for p in range(seq.num_persons):
            x, ts = _prepare(seq, model_cfg, p)
            tid = int(seq.track_ids[p])
            evs = EventStream(tuple(e for e in events if e.track_id == tid or seq.num_persons == 1))
            out.append(D.make_record(seq.video_id or "video", x, ts, seq.fps, evs,
                                     model_cfg.class_ids, track_id=None,
                                     dtype=np.float16))
    return out


def _corpus_pairs(folder: str):
    """(PoseSequence, EventStream) of every video in a folder written by ``nfbl synth``
    (``<vid>.npz`` + ``<vid>.events.jsonl``, read as an :mod:`nfbl.io.datasets` folder)."""
    from nfbl.io import datasets
    for sample in datasets.open_dataset(folder, kind="folder"):
        yield sample.sequence, sample.events


def _dataset_pairs(cfg: TrainConfig, which: str):
    """(PoseSequence, EventStream) of the training or validation part of a real dataset
    (:mod:`nfbl.io.datasets`): ``train_split`` / ``val_split``, or with ``val_holdout`` the
    two parts of ``train_split`` that :func:`nfbl.io.datasets.holdout` separates."""
    from nfbl.io import datasets
    d = cfg.data
    split = d.train_split if which == "train" or d.val_holdout > 0 else d.val_split
    ds = datasets.open_dataset(d.dataset_root, kind=d.dataset, split=split or None,
                               labels=d.labels or None, label_map=d.label_map or None)
    if d.val_holdout > 0:
        rest, held = datasets.holdout(ds, d.val_holdout, cfg.run.seed)
        ds = rest if which == "train" else held
        if which == "val":
            log.info("validation: %d of the %d videos of split %r (%.0f%% of its subjects "
                     "held out, seed %d)", len(held), len(rest) + len(held), split or "all",
                     100 * d.val_holdout, cfg.run.seed)
    for sample in ds:
        yield sample.sequence, sample.events


def load_records(cfg: TrainConfig, model_cfg: DetectorConfig, which: str,
                 progress: bool = False) -> list[D.VideoRecord]:
    """Training (``which="train"``) or validation (``"val"``) records of the configured source."""
    d = cfg.data
    if d.source == "synthetic":
        n, base, split = ((d.train_videos, d.train_seed, "train") if which == "train"
                          else (d.val_videos, d.val_seed, "heldout"))
        pairs = (synthetic_video(split, base + i, cfg) for i in range(n))
        pairs = list(pairs) if n <= 0 else _Sized(pairs, n)
    elif d.source == "corpus":
        folder = d.corpus_dir if which == "train" else (d.val_corpus_dir or "")
        if not folder:
            return []
        pairs = list(_corpus_pairs(folder))
    else:
        pairs = list(_dataset_pairs(cfg, which))
    return _records_from(pairs, model_cfg, f"{which} data", progress)


class _Sized:
    """An iterator with a length (so tqdm shows a total)."""

    def __init__(self, it, n: int):
        self.it, self.n = it, n

    def __iter__(self):
        return iter(self.it)

    def __len__(self) -> int:
        return self.n


# --- validation ----------------------------------------------------------------------------

def predict_record(model: NFBLDetector, record: D.VideoRecord, device: torch.device,
                   chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame class probabilities ``(T, K)`` and offsets ``(T, K, 2)`` (frames) of one
    record: :class:`nfbl.detectors.adapter.TorchDetector` with ``chunk``-frame chunks (the
    one chunk plan of :mod:`nfbl.exports.chunks`, so seams do not change the result).
    Leaves the model in eval mode."""
    from nfbl.detectors.adapter import TorchDetector
    return TorchDetector(model, window=chunk, device=device).predict(record.x)


def decode_record(record: D.VideoRecord, probs: np.ndarray, offsets: np.ndarray,
                  class_ids: Sequence[int], model_name: str = "", decode_cfg=None,
                  layout: str | None = None) -> EventStream:
    """Model outputs of one record → events, via :func:`nfbl.exports.decoding.decode`, then
    the contact check (:mod:`nfbl.keypoints.contact`) on the record's keypoints when
    ``layout`` (the record's) is given and the decode settings ask for it, as
    :meth:`nfbl.exports.runtime.DenseDetector.detect` does (also its ``reduced_hands_bias``
    for a record whose hands are reduced, when ``layout`` is given)."""
    cfg = decode_cfg or decoding.DecodeConfig()
    if layout is not None and cfg.reduced_hands_bias:
        from nfbl.exports.model_input import hand_detail, is_reduced
        from nfbl.core import skeletons
        if is_reduced(hand_detail(np.asarray(record.x), skeletons.get_layout(layout))):
            cfg = cfg.for_reduced_hands(len(class_ids))
    events = decoding.decode(probs, offsets, record.times, class_ids, cfg=cfg,
                             video_id=record.video_id, fps=record.fps, model=model_name)
    if layout is not None and cfg.contact_check:
        events = contact.check(events, np.asarray(record.x, dtype=np.float32), record.times, layout)
    return EventStream(tuple(events))


def score_events(truth: EventStream, pred: EventStream, min_score: float) -> dict[str, float]:
    """F1@0.3 (events scored ≥ ``min_score``) and mAP@0.5 (all events) of ``pred``."""
    from nfbl.metrics import scores as M
    if len(truth) == 0:
        return {"f1": math.nan, "precision": math.nan, "recall": math.nan, "map50": math.nan}
    f1 = M.f1_at_tiou(truth, pred, 0.3, min_score=min_score)
    ap = M.detection_ap(truth, pred, [0.5], keep_curves=False)
    return {"f1": f1.micro.f1, "precision": f1.micro.precision, "recall": f1.micro.recall,
            "macro_f1": f1.macro_f1, "map50": float(ap.mAP[0])}


def validate(model: NFBLDetector, records: Sequence[D.VideoRecord], device: torch.device,
             min_score: float, model_name: str = "", candidate_threshold: float = 0.2
             ) -> dict[str, float]:
    """Decode every validation record (frames with probability ≥ ``candidate_threshold``
    propose events) and score the events against its ground truth: F1@0.3 on events scored
    ≥ ``min_score``, mAP@0.5 on all."""
    preds, truths = [], []
    dcfg = decoding.DecodeConfig(threshold=candidate_threshold)
    for rec in records:
        probs, offs = predict_record(model, rec, device)
        preds.append(decode_record(rec, probs, offs, model.cfg.class_ids, model_name, dcfg,
                                   model.cfg.layout))
        truths.append(rec.events)
    return score_events(EventStream.concat(truths), EventStream.concat(preds), min_score)


def synth_source_digest() -> str:
    """First 12 hex digits of the sha256 of the generator's source files (``nfbl/synth``;
    its speed benchmark lives in ``nfbl/perf``), so a card pins the
    exact generator even while its version number stays the same."""
    import hashlib
    import nfbl.synth
    h = hashlib.sha256()
    root = Path(nfbl.synth.__file__).parent
    for f in sorted(root.glob("*")):
        if f.suffix in (".py", ".json") and f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def describe_training_data(cfg: TrainConfig) -> str:
    """One paragraph saying exactly what the model was trained on (for its card)."""
    d = cfg.data
    if d.source == "synthetic":
        from nfbl.synth.corpus import SYNTH_VERSION
        hours = d.train_videos * d.minutes / 60.0
        return (f"synthetic only (nfbl.synth generator version {SYNTH_VERSION}, source "
                f"sha256 {synth_source_digest()}): "
                f"{d.train_videos} videos x {d.minutes:g} min = {hours:.1f} h at {d.fps:g} fps, "
                f"split 'train', seeds {d.train_seed}..{d.train_seed + d.train_videos - 1}, "
                f"flatten_tail {d.flatten_tail:g}, layouts {', '.join(d.layouts)} (video i in "
                f"layouts[seed % {len(d.layouts)}]) converted to the canonical layout; "
                f"validation: {d.val_videos} videos split 'heldout' (unseen body/camera "
                f"parameters), seeds {d.val_seed}..{d.val_seed + d.val_videos - 1}; no real data")
    if d.source == "corpus":
        return f"synthetic corpus folder {d.corpus_dir} (written by nfbl synth); no real data"
    held = (f" minus {100 * d.val_holdout:g}% of its subjects held out for validation (seed "
            f"{cfg.run.seed})" if d.val_holdout > 0 else "")
    labels = (f", annotations {d.labels}" + (f" mapped by {d.label_map}" if d.label_map else "")
              if d.labels else "")
    return f"dataset {d.dataset} at {d.dataset_root}{labels}, split {d.train_split}{held}"


# --- the loop ------------------------------------------------------------------------------

@dataclass
class TrainState:
    """What a checkpoint restores besides the weights."""

    epoch: int = 0                      # epochs completed
    step: int = 0
    best: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list = field(default_factory=list)


def init_checkpoint_path(name: str) -> Path:
    """The file of ``[run] init_checkpoint``: a path, or ``"bundled"`` for the bundled model's
    checkpoint (``nfbl/models/nfbl_default.pt``)."""
    if name == "bundled":
        from nfbl.exports.runtime import bundled_checkpoint_path
        path = bundled_checkpoint_path()
        if path is None:
            raise NfblError("init_checkpoint = \"bundled\": this installation has no "
                            "nfbl/models/nfbl_default.pt")
        return path
    path = Path(name)
    if not path.is_file():
        raise NfblError(f"init_checkpoint {name}: no such file")
    return path


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Linear warm-up to ``lr`` then cosine decay to ``min_lr_ratio × lr``."""
    o = cfg.optim
    total = max(1, o.epochs * o.steps_per_epoch)
    warm = max(0, min(o.warmup_steps, total - 1))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = min(1.0, (step - warm) / max(1, total - warm))
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))
    return f


def compute_loss(logits: torch.Tensor, offsets: torch.Tensor, batch: dict[str, torch.Tensor],
                 cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Focal loss over valid frames + weighted 1-D IoU loss over positive cells."""
    valid = batch["valid"][..., None]
    cls_t = batch["cls"]
    norm = (cls_t * valid).sum().clamp(min=1.0)
    lc = sigmoid_focal_loss(logits, cls_t, cfg.loss.focal_alpha, cfg.loss.focal_gamma,
                            weight=valid, normalizer=norm)
    pos = (cls_t > 0) & (valid > 0)
    lr_ = boundary_loss(offsets, batch["dist"], pos, cfg.loss.iou_kind)
    return lc + cfg.loss.iou_weight * lr_, lc, lr_


def build_model(cfg: TrainConfig) -> NFBLDetector:
    """The detector of ``[model]`` (DetectorConfig keyword arguments)."""
    try:
        mcfg = DetectorConfig.from_dict(dict(cfg.model))
    except TypeError as exc:
        raise NfblError(f"[model]: {exc}") from None
    return NFBLDetector(mcfg)


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if s.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def save_checkpoint(path: Path, model: NFBLDetector, cfg: TrainConfig, state: TrainState,
                    optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, metrics: dict | None = None,
                    training_data: str | None = None) -> Path:
    """Write a checkpoint atomically through :mod:`nfbl.detectors.checkpoint`; training
    state (optimiser, scheduler, epoch, RNG states, history) goes in its ``extra`` part and
    the model card states the training data and the validation numbers of this epoch."""
    from nfbl.detectors import checkpoint
    m = metrics or {}
    card = checkpoint.make_card(
        model.cfg, name=cfg.run.name, version=f"epoch{state.epoch}",
        training_data=training_data or describe_training_data(cfg),
        metrics={f"val_{k}": float(v) for k, v in m.items()
                 if k in ("f1", "precision", "recall", "macro_f1", "map50")},
        decode={**decoding.DecodeConfig().to_dict(),
                "threshold": cfg.run.decode_threshold})
    extra = {"train_config": cfg.to_dict(), "state": state.__dict__.copy(),
             "rng": _rng_state(), "metrics": metrics or {},
             "optimizer": optimizer.state_dict() if optimizer is not None else None,
             "scheduler": scheduler.state_dict() if scheduler is not None else None}
    return checkpoint.save_checkpoint(path, model, card=card, extra=extra)


def train(cfg: TrainConfig, resume: str | Path | None = None, device: str | None = None,
          train_records: Sequence[D.VideoRecord] | None = None,
          val_records: Sequence[D.VideoRecord] | None = None,
          max_epochs: int | None = None) -> dict:
    """Train as configured; returns a summary dict (best epoch, metrics, history, paths).

    ``train_records``/``val_records`` bypass data loading (tests, notebooks). ``max_epochs``
    stops after that many epochs *of this call* (the schedule still spans ``optim.epochs``).
    """
    info = init_distributed(device or cfg.run.device)
    dev = resolve_device(device or cfg.run.device, info.local_rank)
    if cfg.run.threads > 0:
        torch.set_num_threads(cfg.run.threads)
    seed_everything(cfg.run.seed)
    show = cfg.run.progress and info.main and sys.stderr.isatty()
    out = Path(cfg.run.out_dir)

    model = build_model(cfg)
    mcfg = model.cfg
    data_desc = describe_training_data(cfg)  # before generating: pins the generator used
    if train_records is None:
        train_records = load_records(cfg, mcfg, "train", show)
    if val_records is None:
        val_records = load_records(cfg, mcfg, "val", show) if info.main else []
    if cfg.run.val_max_videos > 0:
        val_records = list(val_records)[:cfg.run.val_max_videos]
    if not train_records:
        raise NfblError("no training videos found; check the [data] section of the config")
    k = mcfg.num_classes
    w, st = cfg.data.window, cfg.data.stride
    index = D.window_index(train_records, w, st)
    weights = None
    if cfg.sampling.class_balanced or cfg.optim.steps_per_epoch > 0:
        wc = D.window_classes(train_records, index, w, k)
        weights = (D.balanced_weights(wc, cfg.sampling.power, cfg.sampling.background_weight)
                   if cfg.sampling.class_balanced else np.full(len(index), 1.0 / len(index)))
    per_epoch = cfg.optim.steps_per_epoch * cfg.optim.batch_size * info.world
    if per_epoch <= 0:
        per_epoch = len(index)
    class_flip = identity_class_flip(k)
    log.info("training on %d videos (%.1f h), %d windows of %d frames; %d validation videos; "
             "device %s, world %d", len(train_records),
             sum(r.num_frames / r.fps for r in train_records) / 3600, len(index), w,
             len(val_records), dev, info.world)

    if cfg.run.init_checkpoint and not resume:
        from nfbl.detectors import checkpoint
        init_path = init_checkpoint_path(cfg.run.init_checkpoint)
        init = checkpoint.load_checkpoint(init_path, map_location="cpu")
        # global_centre changes what the centre joint carries, not any weight's shape: a
        # neck-centred model can be fine-tuned into a global-centre one.
        if replace(init.config, global_centre=mcfg.global_centre) != mcfg:
            raise NfblError(f"{cfg.run.init_checkpoint}: its model config differs from [model] "
                            "of the training config; copy its [model] settings"
                            + (" (configs/synthetic_v3.toml has the bundled model's)"
                               if cfg.run.init_checkpoint == "bundled" else ""))
        model.load_state_dict(init.model.state_dict())
        log.info("initialised the weights from %s%s", init_path,
                 " (adding the global-centre input)" if mcfg.global_centre
                 and not init.config.global_centre else "")
        before = (init.card or {}).get("training_data")
        data_desc += (f"; fine-tuned from the weights of {init_path.name}"
                      + (f", itself trained on: {before}" if before else ""))
    model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr,
                                  weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    state = TrainState()
    if resume:
        from nfbl.detectors import checkpoint
        ck = checkpoint.load_checkpoint(resume, map_location="cpu")
        model.load_state_dict(ck.model.state_dict())
        extra = ck.extra or {}
        if extra.get("optimizer") is None:
            raise NfblError(f"{resume}: checkpoint holds no training state (was it exported "
                            "for inference only?); cannot resume from it")
        optimizer.load_state_dict(extra["optimizer"])
        scheduler.load_state_dict(extra["scheduler"])
        state = TrainState(**extra["state"])
        _set_rng_state(extra["rng"])
        log.info("resumed from %s at epoch %d", resume, state.epoch)
    net: torch.nn.Module = model
    if info.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)

    from tqdm import tqdm
    start_epoch = state.epoch
    last_epoch = cfg.optim.epochs if max_epochs is None else min(cfg.optim.epochs,
                                                                  start_epoch + max_epochs)
    for epoch in range(start_epoch, last_epoch):
        t0 = time.time()
        rng = np.random.default_rng([cfg.run.seed, epoch])
        specs = D.draw_epoch(index, weights, per_epoch, w, st, train_records, cfg.augment, rng)
        specs = D.shard(specs, info.rank, info.world)
        net.train()
        sums = np.zeros(3)
        nb = 0
        bar = tqdm(total=math.ceil(len(specs) / cfg.optim.batch_size), disable=not show,
                   desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", leave=False)
        for chunk in D.batches(specs, cfg.optim.batch_size):
            items = [D.cut_window(train_records[s.record], s, w, k, cfg.augment, class_flip,
                                  mcfg.global_centre) for s in chunk]
            batch = {name: torch.from_numpy(a).to(dev) for name, a in D.collate(items).items()}
            logits, offsets = net(batch["x"])
            loss, lc, lreg = compute_loss(logits, offsets, batch, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            state.step += 1
            sums += [loss.item(), lc.item(), lreg.item()]
            nb += 1
            bar.update(1)
            bar.set_postfix(loss=f"{sums[0] / nb:.4f}")
        bar.close()
        state.epoch = epoch + 1
        row: dict[str, Any] = {"epoch": state.epoch, "loss": float(sums[0] / max(nb, 1)),
                               "cls_loss": float(sums[1] / max(nb, 1)),
                               "iou_loss": float(sums[2] / max(nb, 1)),
                               "lr": optimizer.param_groups[0]["lr"], "train_s": time.time() - t0}
        improved = False
        if info.main and val_records and state.epoch % cfg.run.val_every == 0:
            t1 = time.time()
            row.update(validate(model, val_records, dev, cfg.run.decode_threshold, cfg.run.name,
                                cfg.run.candidate_threshold))
            row["val_s"] = time.time() - t1
            value = row["f1"] if cfg.run.monitor == "f1" else row["map50"]
            if value > state.best:
                state.best, state.best_epoch, state.bad_epochs, improved = value, state.epoch, 0, True
            else:
                state.bad_epochs += 1
        elif info.main and not val_records:
            improved = True  # without validation, the last epoch is the best
            state.best_epoch = state.epoch
        state.history.append(row)
        if info.main:
            log.info("epoch %d: %s", state.epoch, ", ".join(
                f"{k_}={v:.4g}" if isinstance(v, float) else f"{k_}={v}" for k_, v in row.items()))
            out.mkdir(parents=True, exist_ok=True)
            save_checkpoint(out / "last.pt", model, cfg, state, optimizer, scheduler, row,
                            data_desc)
            if improved:
                save_checkpoint(out / "best.pt", model, cfg, state, optimizer, scheduler, row,
                                data_desc)
            with atomic_open(out / "history.json") as fh:
                json.dump(state.history, fh, indent=1, default=float)
        stop = (cfg.run.patience > 0 and state.bad_epochs >= cfg.run.patience)
        if info.world > 1:
            flag = [stop]
            dist.broadcast_object_list(flag, src=0)
            stop = bool(flag[0])
        if stop:
            log.info("early stop: no better %s for %d epochs", cfg.run.monitor, state.bad_epochs)
            break
    return {"epochs": state.epoch, "best_epoch": state.best_epoch, "best": state.best,
            "history": state.history, "out_dir": str(out),
            "best_checkpoint": str(out / "best.pt"), "last_checkpoint": str(out / "last.pt"),
            "model": model}
