"""The classic ST-GCN (Yan, Xiong & Lin, AAAI 2018) as a speed reference — clip classifier.

Built from the paper's description: input batch-normalisation over (joint, channel); ten
ST-GCN units with output channels 64, 64, 64, 64, 128, 128, 128, 256, 256, 256 and temporal
stride 2 in the 5th and 8th unit; each unit is a spatial graph convolution over the
spatial-partition adjacency (root / centripetal / centrifugal subsets, from
:attr:`nfbl.core.skeletons.Layout.adjacency`) with a learnable edge-importance mask, followed by
BN-ReLU, a temporal convolution of kernel 9, BN, dropout, a residual connection (none in the
first unit; a strided 1x1 convolution + BN where shape changes) and ReLU; global average
pooling over time and joints; a linear classifier. On COCO-17 with 33 classes it has about
3.1 M parameters.

The graph convolution is written as one MatMul against a stacked ``(K*V, V)`` adjacency
(not einsum) so that onnxruntime runs it fast.

Input ``x``: float32 ``(N, T, V, 3)`` keypoints (x, y, score) of one person per clip.
Output: class logits ``(N, num_classes)``. It is used only by ``nfbl bench speed``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nfbl.core import skeletons, taxonomy

#: Output channels of the ten units and their temporal strides (the paper's design).
CHANNELS: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
STRIDES: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


@dataclass(frozen=True)
class STGCNConfig:
    """layout: keypoint layout name; num_classes: output logits; temporal_kernel: frames;
    dropout: inside each unit (inactive in eval mode)."""

    layout: str = "coco17"
    num_classes: int = len(taxonomy.ALL_IDS)
    temporal_kernel: int = 9
    dropout: float = 0.5


class SpatialGraphConv(nn.Module):
    """x ``(N, Cin, T, V)`` → ``(N, Cout, T, V)``: 1x1 conv to K·Cout channels, then for each
    partition subset k aggregate neighbours with ``A[k] ⊙ M[k]`` and sum over k."""

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray):
        super().__init__()
        k, v, _ = adjacency.shape
        self.k, self.v, self.cout = k, v, cout
        self.conv = nn.Conv2d(cin, k * cout, kernel_size=1)
        self.register_buffer("A", torch.as_tensor(adjacency, dtype=torch.float32))
        self.importance = nn.Parameter(torch.ones(k, v, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, _ = x.shape
        y = self.conv(x).reshape(n, self.k, self.cout, t, self.v)
        # A[k][i, j] weights joint j -> joint i; stack as (K*V_src, V_dst) for one MatMul
        a = (self.A * self.importance).permute(0, 2, 1).reshape(self.k * self.v, self.v)
        y = y.permute(0, 2, 3, 1, 4).reshape(n, self.cout, t, self.k * self.v)
        return torch.matmul(y, a)


class STGCNUnit(nn.Module):
    """Spatial graph conv → BN → ReLU → temporal conv (kernel ``kt``, stride) → BN → dropout,
    plus residual, then ReLU."""

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray, stride: int, kt: int,
                 dropout: float, residual: bool = True):
        super().__init__()
        self.gcn = SpatialGraphConv(cin, cout, adjacency)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, (kt, 1), stride=(stride, 1), padding=((kt - 1) // 2, 0)),
            nn.BatchNorm2d(cout), nn.Dropout(dropout, inplace=True))
        if not residual:
            self.residual = None
        elif cin == cout and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1)),
                                          nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class ReferenceSTGCN(nn.Module):
    """Classic 10-unit ST-GCN clip classifier: ``(N, T, V, 3)`` → logits ``(N, num_classes)``."""

    def __init__(self, cfg: STGCNConfig = STGCNConfig()):
        super().__init__()
        self.cfg = cfg
        layout = skeletons.get_layout(cfg.layout)
        adj = layout.adjacency
        v = layout.num_joints
        self.num_joints = v
        self.data_bn = nn.BatchNorm1d(3 * v)
        units, cin = [], 3
        for i, (cout, stride) in enumerate(zip(CHANNELS, STRIDES)):
            units.append(STGCNUnit(cin, cout, adj, stride, cfg.temporal_kernel, cfg.dropout,
                                   residual=i > 0))
            cin = cout
        self.units = nn.ModuleList(units)
        self.fc = nn.Linear(cin, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, v, c = x.shape
        y = x.permute(0, 2, 3, 1).reshape(n, v * c, t)          # (N, V*3, T)
        y = self.data_bn(y).reshape(n, v, c, t).permute(0, 2, 3, 1)  # (N, 3, T, V)
        for unit in self.units:
            y = unit(y)
        y = y.mean(dim=(2, 3))                                   # (N, 256)
        return self.fc(y)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def export_onnx(path: str, cfg: STGCNConfig = STGCNConfig(), window: int = 300,
                seed: int = 0) -> str:
    """Export a randomly initialised reference ST-GCN (eval mode) to ONNX for speed tests.

    Input ``keypoints`` ``(batch, window, V, 3)`` with a dynamic batch axis; output
    ``logits`` ``(batch, num_classes)``. Uses the TorchScript-based exporter (fast, no
    onnxscript needed). Returns ``path``.
    """
    import warnings

    from nfbl.core.atomic import atomic_path

    torch.manual_seed(seed)
    model = ReferenceSTGCN(cfg).eval()
    x = torch.zeros(2, window, model.num_joints, 3)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp), input_names=["keypoints"],
                          output_names=["logits"], dynamic_axes={"keypoints": {0: "batch"},
                                                                 "logits": {0: "batch"}},
                          dynamo=False)
    return str(path)
