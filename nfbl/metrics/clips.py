"""Clip-level recognition metrics: top-k accuracy and mean class accuracy (numpy only).

For trimmed samples that hold one gesture each (the iMiGUE / MiGA classification track, SMG
clips): every clip has one true class and a score per class. Top-k accuracy counts a clip as
right when its true class is among its k best-scored classes (ties: the class listed first
wins, a stable order); mean class accuracy is the top-1 accuracy of each true class, averaged
over the classes that occur (the iMiGUE kit's and pyskl's ``mean_class_accuracy``). A clip
whose true class the model cannot output counts as wrong (and is counted in ``unscorable``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from nfbl.core.errors import NfblError


def ranking(scores: np.ndarray) -> np.ndarray:
    """Column indices of ``scores`` ``(N, C)`` from best to worst per row, ``(N, C)``
    (a stable sort: equal scores keep the column order)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")


def clip_accuracy(truth: Sequence[int], scores: np.ndarray, class_ids: Sequence[int],
                  ks: Sequence[int] = (1, 5)) -> dict:
    """``truth``: the true class id of each of N clips; ``scores`` ``(N, C)`` with columns
    ``class_ids``. Returns ``{"clips": N, "top1": .., "top5": .., "mean_class_accuracy": ..,
    "per_class": {id: (clips, top-1 right)}, "unscorable": n}`` (accuracies in [0, 1]; NaN
    with no clips)."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = [int(t) for t in truth]
    ids = [int(c) for c in class_ids]
    if scores.ndim != 2 or scores.shape != (len(truth), len(ids)):
        raise NfblError(f"scores must be (clips, classes) = ({len(truth)}, {len(ids)}), "
                        f"got {scores.shape}")
    col = {c: i for i, c in enumerate(ids)}
    order = ranking(scores) if len(truth) else np.zeros((0, len(ids)), np.int64)
    # rank of the true class per clip (len(ids) when the model has no such class)
    rank = np.array([int(np.flatnonzero(order[i] == col[t])[0]) if t in col else len(ids)
                     for i, t in enumerate(truth)], dtype=np.int64)
    out: dict = {"clips": len(truth), "unscorable": int(sum(t not in col for t in truth))}
    for k in ks:
        out[f"top{int(k)}"] = float(np.mean(rank < int(k))) if len(truth) else float("nan")
    per: dict[int, tuple[int, int]] = {}
    for t, r in zip(truth, rank):
        n, right = per.get(t, (0, 0))
        per[t] = (n + 1, right + int(r == 0))
    out["per_class"] = dict(sorted(per.items()))
    out["mean_class_accuracy"] = (float(np.mean([r / n for n, r in per.values()]))
                                  if per else float("nan"))
    return out
