"""Training losses of the NFBL detector: sigmoid focal loss and a 1-D IoU loss.

Shapes: ``logits``/``targets`` ``(B, T, K)`` (frames × classes, multi-label);
boundary distances ``(B, T, K, 2)`` = (distance to the event start, distance to the end)
in frames, non-negative; ``mask`` selects the positive (frame, class) cells on which the
boundary loss is computed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0, weight: torch.Tensor | None = None,
                       normalizer: float | torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) on independent sigmoids, summed then normalised.

    ``alpha`` weighs positives (``1 - alpha`` negatives; ``alpha < 0`` turns the weighting
    off); ``gamma`` down-weights easy cells. ``weight`` (broadcastable to ``logits``)
    masks or weighs cells (e.g. 0 on padded frames). The sum is divided by ``normalizer``
    (default: the number of positive cells, at least 1).
    """
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    if weight is not None:
        loss = loss * weight
    if normalizer is None:
        normalizer = targets.sum().clamp(min=1.0)
    return loss.sum() / normalizer


def iou_loss_1d(pred: torch.Tensor, target: torch.Tensor, kind: str = "diou",
                eps: float = 1e-6) -> torch.Tensor:
    """1-D IoU loss between segments anchored at the same frame, per element.

    ``pred``/``target``: ``(..., 2)`` = (left, right) non-negative distances from the anchor
    frame to the segment's start and end. Returns ``1 - IoU`` (``kind="iou"``), ``1 - GIoU``
    (``"giou"``) or ``1 - DIoU`` (``"diou"``: centre-distance penalty), shape ``(...)``.
    """
    pl, pr = pred[..., 0], pred[..., 1]
    tl, tr = target[..., 0], target[..., 1]
    inter = torch.minimum(pl, tl) + torch.minimum(pr, tr)
    union = (pl + pr) + (tl + tr) - inter
    iou = inter / union.clamp(min=eps)
    if kind == "iou":
        return 1.0 - iou
    enclose = (torch.maximum(pl, tl) + torch.maximum(pr, tr)).clamp(min=eps)
    if kind == "giou":
        return 1.0 - (iou - (enclose - union) / enclose)
    if kind == "diou":
        centre = 0.5 * ((pr - pl) - (tr - tl))
        return 1.0 - (iou - centre.pow(2) / enclose.pow(2))
    raise ValueError(f"unknown IoU loss kind {kind!r} (use iou, giou or diou)")


def boundary_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  kind: str = "diou") -> torch.Tensor:
    """Mean 1-D IoU loss over the positive cells ``mask`` (``(B, T, K)`` bool); 0 if none."""
    sel = mask.bool()
    if not bool(sel.any()):
        return pred.sum() * 0.0
    return iou_loss_1d(pred[sel], target[sel], kind=kind).mean()
