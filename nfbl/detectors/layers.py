"""Building blocks of the NFBL detector (:mod:`nfbl.detectors.model`): ST-GCN++ adaptive
graph convolution, multi-scale temporal convolution, 1-D temporal blocks, up-sampling.
Shapes: ``(N, C, T, V)`` for joint features, ``(N, C, T)`` for pooled ones."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ConvBN1d(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 relu: bool = True):
        layers: list[nn.Module] = [
            nn.Conv1d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2,
                      dilation=dilation, bias=False),
            nn.BatchNorm1d(cout)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class AdaptiveGraphConv(nn.Module):
    """ST-GCN++ graph convolution: ``sum_k W_k x (A_k + B_k)^T`` as one MatMul + one Conv.

    x ``(N, C_in, T, V)`` → ``(N, C_out, T, V)``. ``A`` ``(K, V, V)`` is the fixed
    spatial-partition adjacency (``A[k][i, j]`` weighs the message j → i); ``B`` is a
    learned offset initialised to zero.
    """

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray):
        super().__init__()
        a = torch.as_tensor(adjacency, dtype=torch.float32)
        self.k, self.v = a.shape[0], a.shape[1]
        self.cout = cout
        self.register_buffer("A", a.transpose(1, 2).contiguous())  # stored as A^T
        self.offset = nn.Parameter(torch.zeros_like(a))
        self.conv = nn.Conv2d(cin, cout * self.k, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.residual = (nn.Identity() if cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Adjacency first, as ONE MatMul with the K matrices side by side, then the K channel
        # mixings as one Conv of kernel (K, 1) and stride (K, 1) over the interleaved axis:
        # sum_k W_k (x M_k) with no ReduceSum and no transposes (fast in onnxruntime).
        n, cin, t, v = x.shape
        m = (self.A + self.offset).permute(1, 0, 2).reshape(v, self.k * v)   # (V, K*V)
        z = torch.matmul(x, m).reshape(n, cin, t * self.k, v)              # (N, Cin, T*K, V)
        w = self.conv.weight.reshape(self.k, self.cout, cin).permute(1, 2, 0).unsqueeze(-1)
        y = F.conv2d(z, w, stride=(self.k, 1))                               # (N, Cout, T, V)
        return F.relu(self.bn(y) + self.residual(x))


class MultiScaleTemporalConv(nn.Module):
    """Multi-scale temporal convolution (ST-GCN++ ``mstcn``) on ``(N, C, T, V)``.

    Branches: one dilated ``(3, 1)`` conv per dilation, a max-pool, and a 1x1 branch, each
    on ``C_out / branches`` channels; concatenated, normalised; residual added.
    Stride 2 halves T (``ceil(T / 2)``).
    """

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...], stride: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        nb = len(dilations) + 2
        mid = max(cout // nb, 4)
        self.mid, self.nb = mid, nb
        self.reduce = nn.Sequential(nn.Conv2d(cin, mid * nb, 1, bias=False),
                                    nn.BatchNorm2d(mid * nb), nn.ReLU(inplace=True))
        self.dilated = nn.ModuleList(
            nn.Conv2d(mid, mid, (3, 1), stride=(stride, 1), padding=(d, 0), dilation=(d, 1),
                      bias=False) for d in dilations)
        self.pool = nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))
        self.point = nn.Conv2d(mid, mid, 1, stride=(stride, 1), bias=False)
        self.bn = nn.BatchNorm2d(mid * nb)
        self.transform = nn.Sequential(nn.ReLU(inplace=True),
                                       nn.Conv2d(mid * nb, cout, 1, bias=False),
                                       nn.BatchNorm2d(cout))
        self.drop = nn.Dropout(dropout)
        if cin == cout and stride == 1:
            self.residual: nn.Module = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1), bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(self.reduce(x), self.mid, dim=1)
        outs = [conv(p) for conv, p in zip(self.dilated, parts)]
        outs.append(self.pool(parts[-2]))
        outs.append(self.point(parts[-1]))
        y = self.transform(self.bn(torch.cat(outs, dim=1)))
        return F.relu(self.drop(y) + self.residual(x))


class GraphBlock(nn.Module):
    """Adaptive graph convolution followed by a multi-scale temporal convolution."""

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray, dilations: tuple[int, ...],
                 stride: int, dropout: float):
        super().__init__()
        self.gcn = AdaptiveGraphConv(cin, cout, adjacency)
        self.tcn = MultiScaleTemporalConv(cout, cout, dilations, stride, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tcn(self.gcn(x))


class TemporalBlock(nn.Module):
    """1-D residual block: convs of kernel 3 with dilation 1 and 2 on ``(N, C, T)``."""

    def __init__(self, c: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(ConvBN1d(c, c, 3, dilation=1),
                                  ConvBN1d(c, c, 3, dilation=2, relu=False))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.drop(self.body(x)))


def upsample(x: torch.Tensor, factor: int, like: torch.Tensor) -> torch.Tensor:
    """Nearest up-sampling of ``(N, C, T)`` by ``factor``, cropped to ``like``'s length."""
    n, c, t = x.shape
    y = x.unsqueeze(-1).expand(n, c, t, factor).reshape(n, c, t * factor)
    return y[:, :, : like.shape[-1]]
