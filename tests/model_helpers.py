"""A detector with random weights for tests (importable from test modules: tests/ is on sys.path)."""
from __future__ import annotations

import torch

from nfbl.detectors.model import DetectorConfig, NFBLDetector


def random_detector(seed: int = 0, zero_class_bias: bool = False,
                    global_centre: bool = False) -> NFBLDetector:
    """Default-config detector in eval mode with random weights and non-trivial BatchNorm
    statistics; ``zero_class_bias`` puts probabilities near 0.5, so decoding yields plenty
    of events; ``global_centre`` sets that DetectorConfig field (same weights either way)."""
    torch.manual_seed(seed)
    m = NFBLDetector(DetectorConfig(global_centre=global_centre))
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
    if zero_class_bias:
        torch.nn.init.zeros_(m.head.cls_head.bias)
    return m.eval()
