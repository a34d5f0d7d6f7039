"""Clip recognition metrics: golden numbers on a hand-made example."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.metrics.clips import clip_accuracy, ranking


def test_clip_accuracy_golden():
    ids = [0, 3, 31]
    scores = np.array([[0.9, 0.1, 0.2],    # true 0: rank 0
                       [0.5, 0.4, 0.6],    # true 3: rank 2
                       [0.2, 0.2, 0.1],    # true 3: tie with class 0, which is listed first: rank 1
                       [0.1, 0.3, 0.7],    # true 31: rank 0
                       [0.3, 0.2, 0.1]])   # true 22: the model has no such class
    acc = clip_accuracy([0, 3, 3, 31, 22], scores, ids, ks=(1, 2))
    assert acc["clips"] == 5 and acc["unscorable"] == 1
    assert acc["top1"] == pytest.approx(2 / 5)
    assert acc["top2"] == pytest.approx(3 / 5)
    assert acc["per_class"] == {0: (1, 1), 3: (2, 0), 22: (1, 0), 31: (1, 1)}
    assert acc["mean_class_accuracy"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert ranking(np.array([[0.2, 0.2, 0.5]])).tolist() == [[2, 0, 1]]


def test_clip_accuracy_shapes():
    with pytest.raises(NfblError, match=r"\(clips, classes\)"):
        clip_accuracy([1, 2], np.zeros((3, 4)), [0, 1, 2, 3])
    empty = clip_accuracy([], np.zeros((0, 2)), [0, 1])
    assert empty["clips"] == 0 and np.isnan(empty["top1"]) and np.isnan(empty["mean_class_accuracy"])
