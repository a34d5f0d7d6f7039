"""A torch model behind the same interface as the ONNX runtime (:class:`TorchDetector`).

``TorchDetector(model).detect(seq)`` gives what ``Detector.load(exported).detect(seq)`` gives
(to float rounding): the same preparation, chunk plan (:mod:`nfbl.exports.chunks`) and
decoding, only the network call differs. Training validates through it, the speed benchmark
times it, and a user can try a checkpoint before exporting it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nfbl.detectors.checkpoint import card_from_checkpoint, load_checkpoint, make_card
from nfbl.detectors.model import NFBLDetector
from nfbl.exports.modelcard import ModelCard
from nfbl.exports.runtime import DenseDetector


class TorchDetector(DenseDetector):
    """A torch NFBL detector (eval mode) as a :class:`~nfbl.exports.runtime.DenseDetector`.

    ``card``: the model card (default: one made from the model's config); ``window``: frames
    per chunk (default: the card's); ``device``: where the network runs.
    """

    def __init__(self, model: NFBLDetector, card: ModelCard | None = None,
                 window: int | None = None, device: str | torch.device = "cpu"):
        super().__init__(card or make_card(model.cfg, name="torch-model", version="dev"), window)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, window: int | None = None,
                        device: str | torch.device = "cpu") -> "TorchDetector":
        """A checkpoint written by ``nfbl train`` (its card fields, when it has them)."""
        ck = load_checkpoint(path, map_location=device)
        return cls(ck.model, card_from_checkpoint(ck), window, device)

    @torch.inference_mode()
    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass on ``x`` ``(T, V, 3)``: probs ``(T, C)``, offsets ``(T, C, 2)``."""
        logits, offsets = self.model(torch.from_numpy(np.ascontiguousarray(x))[None].to(self.device))
        return torch.sigmoid(logits[0]).cpu().numpy(), offsets[0].cpu().numpy()
