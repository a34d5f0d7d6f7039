"""Detector checkpoints (torch): config + weights + model-card fields + optional extras.

A checkpoint is a ``torch.save`` dict ``{"format", "version", "config", "state_dict", "card",
"extra"}`` holding only tensors and plain Python values (numpy arrays inside ``extra`` are
stored as tensors and restored), so that it loads with ``torch.load(weights_only=True)``:
a checkpoint is data, never code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from nfbl.exports import decoding
from nfbl.detectors.model import DetectorConfig, NFBLDetector, upgrade_state_dict
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.atomic import atomic_path
from nfbl.exports.modelcard import ModelCard

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "nfbl.detector_checkpoint"
CHECKPOINT_VERSION = 1
#: Default inference window (frames) written into model cards; a multiple of the stride.
DEFAULT_WINDOW = 4096

_NP_KEY = "__numpy_array__"


def _to_safe(obj: Any) -> Any:
    """numpy arrays/scalars → tensors/Python numbers (for ``weights_only`` loading)."""
    if isinstance(obj, np.ndarray):
        return {_NP_KEY: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _to_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = [_to_safe(v) for v in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    return obj


def _from_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_NP_KEY}:
            return obj[_NP_KEY].numpy()
        return {k: _from_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = [_from_safe(v) for v in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    return obj


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode), its config, card fields and extras."""

    model: NFBLDetector
    config: DetectorConfig
    card: dict | None
    extra: dict | None
    path: Path | None = None


def make_card(cfg: DetectorConfig, name: str = "nfbl-detector", version: str = "0.0.0",
              training_data: str = "", metrics: Mapping[str, Any] | None = None,
              decode: decoding.DecodeConfig | Mapping[str, Any] | None = None,
              window: int = DEFAULT_WINDOW, notes: str = "", **fields: Any) -> ModelCard:
    """A :class:`ModelCard` for a model of config ``cfg`` (layout, fps, classes, stride and
    receptive field come from the config; ``window`` is rounded up to the stride)."""
    stride = cfg.total_stride
    window = -(-max(int(window), stride) // stride) * stride
    dec = decode.to_dict() if isinstance(decode, decoding.DecodeConfig) else dict(
        decode or decoding.DecodeConfig().to_dict())
    return ModelCard(name=name, version=version, layout=cfg.layout, fps=cfg.fps,
                     class_ids=cfg.class_ids, window=window, stride=stride,
                     receptive_field=cfg.receptive_field, decode=dec,
                     training_data=training_data, metrics=dict(metrics or {}),
                     architecture=cfg.to_dict(), notes=notes,
                     **{"global_centre": cfg.global_centre, **fields})


def save_checkpoint(path: str | Path, model: NFBLDetector, card: ModelCard | Mapping | None = None,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` (config + state_dict), optional card fields and extras atomically."""
    path = Path(path)
    card_d = card.to_dict() if isinstance(card, ModelCard) else (dict(card) if card else None)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
               "config": model.cfg.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "card": _to_safe(card_d), "extra": _to_safe(dict(extra)) if extra else None}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError("no such checkpoint file", path)
    try:
        d = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFormatError(f"not a loadable nfbl checkpoint ({msg[:200]})", path) from None
    if not isinstance(d, dict) or d.get("format") != CHECKPOINT_FORMAT:
        raise InputFormatError("not an nfbl detector checkpoint (format header missing)", path)
    if int(d.get("version", 0)) > CHECKPOINT_VERSION:
        raise InputFormatError(f"checkpoint version {d['version']} is newer than this nfbl "
                               f"understands ({CHECKPOINT_VERSION}); upgrade nfbl", path)
    try:
        cfg = DetectorConfig.from_dict(d["config"])
    except NfblError as exc:
        raise InputFormatError(f"bad detector config ({exc})", path) from None
    model = NFBLDetector(cfg)
    try:
        model.load_state_dict(upgrade_state_dict(d["state_dict"]))
    except RuntimeError as exc:
        raise InputFormatError(f"weights do not fit the config "
                               f"({str(exc).splitlines()[0][:200]})", path) from None
    model.eval()
    return Checkpoint(model=model, config=cfg, card=_from_safe(d.get("card")),
                      extra=_from_safe(d.get("extra")), path=path)


def card_from_checkpoint(ck: Checkpoint, **overrides: Any) -> ModelCard:
    """The checkpoint's stored card fields (if any) completed from its config.

    Fields derived from the model (layout, fps, classes, stride, receptive field,
    architecture) always come from the config; ``overrides`` replace the rest.
    """
    stored = {k: v for k, v in (ck.card or {}).items() if k not in (
        "schema", "card_version", "layout", "fps", "class_ids", "stride", "receptive_field",
        "architecture", "class_codes", "class_names", "nfbl_version", "created")}
    stored.update(overrides)
    if "decode" in stored and isinstance(stored["decode"], decoding.DecodeConfig):
        stored["decode"] = stored["decode"].to_dict()
    return make_card(ck.config, **stored)
