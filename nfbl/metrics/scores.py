"""Detection, frame-level and emotion metrics — the community's definitions, numpy only.

Segments are half-open ``[start, end)`` in float64 seconds with ``end > start``.

* :func:`temporal_iou` — pairwise tIoU, vectorised.
* :func:`detection_ap` — ActivityNet detection mAP@tIoU: per class, predictions of all
  videos pooled and sorted by descending score (stable: ties keep input order); for each
  threshold a prediction greedily takes the *unmatched* ground truth of its own video with
  the highest tIoU ≥ θ (ties between ground truths: the first in input order), otherwise it
  is a false positive. AP is the all-point interpolated area (prepend (0, 0), append (1, 0),
  precision made monotone from the right, Σ Δrecall·precision). mAP is the unweighted mean
  over the classes present in the ground truth (a class without predictions has AP 0 and
  counts); predictions of classes absent from the ground truth are ignored.
* :func:`f1_at_tiou` — the MiGA online-recognition F1: same one-to-one greedy matching at one
  threshold (default 0.3); precision/recall pooled over all videos (micro) and per class.
  The MiGA organisers' reference code lets one prediction match several ground truths;
  here matching is strictly one-to-one.
* :func:`frame_metrics` — per-class frame F1 and multi-label frame accuracy (exact match,
  Hamming, Jaccard) from :func:`nfbl.core.events.to_multihot`.
* :func:`emotion_metrics` — accuracy and macro-F1 of video-level labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from nfbl.core import taxonomy
from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream, to_multihot

#: ActivityNet's threshold set 0.5:0.05:0.95 (10 values), built as the reference scorer does.
THRESHOLDS_ACTIVITYNET: np.ndarray = np.linspace(0.5, 0.95, 10)
#: The THUMOS-style threshold set 0.3:0.1:0.7 (5 values).
THRESHOLDS_THUMOS: np.ndarray = np.linspace(0.3, 0.7, 5)
#: Default tIoU threshold of the MiGA online-recognition F1.
MIGA_TIOU: float = 0.3


# --- segment arrays -------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Segments:
    """Column arrays of N scored segments (the form every detection metric works on).

    video: ``(N,)`` object (str); class_id: ``(N,)`` int64; start/end: ``(N,)`` float64
    seconds; score: ``(N,)`` float64 (1.0 for ground truth).
    """

    video: np.ndarray
    class_id: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])


def segments(data: "EventStream | Iterable[Event] | Mapping[str, Sequence] | Segments",
             name: str = "events") -> Segments:
    """Validate and convert events to :class:`Segments`.

    ``data`` is an :class:`EventStream`, an iterable of :class:`Event`, an existing
    :class:`Segments`, or a mapping with columns ``video``, ``class_id``, ``start``, ``end``
    and optionally ``score`` (default 1.0). Raises :class:`NfblError` on columns of unequal
    length, non-finite values or segments with ``end <= start`` (zero-length or reversed).
    """
    if isinstance(data, Segments):
        cols = {"video": data.video, "class_id": data.class_id, "start": data.start,
                "end": data.end, "score": data.score}
    elif isinstance(data, Mapping):
        missing = [k for k in ("video", "class_id", "start", "end") if k not in data]
        if missing:
            raise NfblError(f"{name}: missing column(s) {', '.join(missing)}; need video, "
                            "class_id, start, end and optionally score")
        cols = dict(data)
        if "score" not in cols:
            cols["score"] = np.ones(len(np.asarray(cols["start"])), dtype=np.float64)
    else:
        stream = data if isinstance(data, EventStream) else EventStream(tuple(data))
        cols = stream.to_arrays()
    try:
        video = np.asarray(cols["video"], dtype=object).astype(str).astype(object)
        class_id = np.asarray(cols["class_id"])
        start = np.asarray(cols["start"], dtype=np.float64)
        end = np.asarray(cols["end"], dtype=np.float64)
        score = np.asarray(cols["score"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NfblError(f"{name}: a column has a non-numeric value ({exc})") from None
    arrays = (video, class_id, start, end, score)
    if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
        raise NfblError(f"{name}: columns video, class_id, start, end, score must be 1-D and of "
                        f"equal length, got shapes {[a.shape for a in arrays]}")
    if class_id.size and not np.issubdtype(class_id.dtype, np.integer):
        as_int = class_id.astype(np.int64) if np.issubdtype(class_id.dtype, np.number) else None
        if as_int is None or not np.array_equal(as_int, class_id):
            raise NfblError(f"{name}: class ids must be integers, got dtype {class_id.dtype}")
        class_id = as_int
    class_id = class_id.astype(np.int64)
    for col_name, col in (("start", start), ("end", end), ("score", score)):
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise NfblError(f"{name}: segment {int(bad[0])} (video {video[bad[0]]!r}) has a "
                            f"non-finite {col_name} {col[bad[0]]}; fix the input")
    bad = np.flatnonzero(~(end > start))
    if bad.size:
        i = int(bad[0])
        kind = "zero-length" if end[i] == start[i] else "reversed"
        raise NfblError(f"{name}: segment {i} (video {video[i]!r}, N{class_id[i]}) is {kind}: "
                        f"end {end[i]} <= start {start[i]}; segments need end > start "
                        f"({bad.size} such segment(s))")
    return Segments(video, class_id, start, end, score)


def temporal_iou(start_a: np.ndarray, end_a: np.ndarray, start_b: np.ndarray,
                 end_b: np.ndarray) -> np.ndarray:
    """Pairwise temporal IoU ``(N, M)`` of segments a ``(N,)`` and b ``(M,)`` (float64 s).

    ``tIoU = |a ∩ b| / |a ∪ b|`` with union = ``(end_a - start_a) + (end_b - start_b) - inter``
    (the ActivityNet formula). Inputs must satisfy ``end > start``.
    """
    sa = np.asarray(start_a, np.float64)[:, None]
    ea = np.asarray(end_a, np.float64)[:, None]
    sb = np.asarray(start_b, np.float64)[None, :]
    eb = np.asarray(end_b, np.float64)[None, :]
    inter = np.clip(np.minimum(ea, eb) - np.maximum(sa, sb), 0.0, None)
    union = (ea - sa) + (eb - sb) - inter
    return inter / union


# --- greedy matching ------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Matching:
    """Result of greedy one-to-one matching of predictions to ground truth.

    order: ``(P,)`` prediction indices, grouped by class (ascending id) and, within a class,
    by descending score (stable). tp: ``(K, P)`` bool, ``tp[k, i]`` = prediction
    ``order[i]`` is a true positive at ``thresholds[k]``. matched_gt: ``(K, P)`` int64, the
    ground-truth index it took (-1 if none).
    """

    thresholds: np.ndarray
    order: np.ndarray
    tp: np.ndarray
    matched_gt: np.ndarray


def match_greedy(gt: Segments, pred: Segments, thresholds: Sequence[float] | np.ndarray) -> Matching:
    """Match predictions to ground truth, one-to-one, greedily by descending score.

    For every threshold θ, in score order (per class, all videos pooled, ties in input order)
    each prediction takes the unmatched ground truth of the same class and video with the
    highest tIoU ≥ θ (ties: the first ground truth in input order); otherwise it is a false
    positive. Groups (class, video) are independent, so each is matched on its own small
    tIoU matrix; all thresholds are handled at once.
    """
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    n_th, n_pred = th.shape[0], len(pred)
    by_score = np.argsort(-pred.score, kind="stable")
    order = by_score[np.argsort(pred.class_id[by_score], kind="stable")]
    tp = np.zeros((n_th, n_pred), dtype=bool)
    matched = np.full((n_th, n_pred), -1, dtype=np.int64)
    if n_pred == 0 or len(gt) == 0:
        return Matching(th, order, tp, matched)

    videos, codes = np.unique(np.concatenate([gt.video, pred.video]).astype(str),
                              return_inverse=True)
    n_vid = max(len(videos), 1)
    gt_key = gt.class_id * n_vid + codes[:len(gt)]
    pred_key = (pred.class_id * n_vid + codes[len(gt):])[order]  # in matching order
    gt_order = np.argsort(gt_key, kind="stable")
    gt_sorted_key = gt_key[gt_order]
    pos_order = np.argsort(pred_key, kind="stable")  # positions into `order`, grouped by key
    pred_sorted_key = pred_key[pos_order]
    keys, first = np.unique(pred_sorted_key, return_index=True)
    bounds = np.append(first, n_pred)
    g_lo = np.searchsorted(gt_sorted_key, keys, side="left")
    g_hi = np.searchsorted(gt_sorted_key, keys, side="right")
    min_th = th.min()
    rows = np.arange(n_th)
    for k in np.flatnonzero(g_hi > g_lo):
        pos = pos_order[bounds[k]:bounds[k + 1]]      # positions in `order`, score order
        p_idx = order[pos]
        g_idx = gt_order[g_lo[k]:g_hi[k]]             # input order
        iou = temporal_iou(pred.start[p_idx], pred.end[p_idx], gt.start[g_idx], gt.end[g_idx])
        taken = np.zeros((n_th, g_idx.shape[0]), dtype=bool)
        for r in np.flatnonzero(iou.max(axis=1) >= min_th):
            cand = np.where(taken | (iou[r][None, :] < th[:, None]), -np.inf, iou[r][None, :])
            best = np.argmax(cand, axis=1)
            ok = np.isfinite(cand[rows, best])
            if ok.any():
                taken[rows[ok], best[ok]] = True
                tp[ok, pos[r]] = True
                matched[ok, pos[r]] = g_idx[best[ok]]
    return Matching(th, order, tp, matched)


# --- ActivityNet detection AP ------------------------------------------------------------

def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP (ActivityNet): prepend (0, 0), append (1, 0), make precision
    monotone from the right, sum Δrecall·precision where recall changes."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


@dataclass(frozen=True, eq=False)
class DetectionAP:
    """mAP@tIoU. thresholds ``(K,)``; classes ``(C,)`` (ids present in the ground truth);
    ap ``(K, C)``; mAP ``(K,)``; average_map = mean of mAP over thresholds. ``curves[c][k]`` =
    (precision, recall) arrays of class ``c`` at ``thresholds[k]``; n_gt/n_pred per class."""

    thresholds: np.ndarray
    classes: np.ndarray
    ap: np.ndarray
    mAP: np.ndarray
    average_map: float
    n_gt: np.ndarray
    n_pred: np.ndarray
    curves: dict = field(default_factory=dict, repr=False)

    def ap_of(self, class_id: int) -> np.ndarray:
        """AP ``(K,)`` of one class over the thresholds."""
        hit = np.flatnonzero(self.classes == class_id)
        if not hit.size:
            raise NfblError(f"class N{class_id} is not in the ground truth")
        return self.ap[:, hit[0]]


def detection_ap(gt, pred, thresholds: Sequence[float] | np.ndarray = THRESHOLDS_ACTIVITYNET,
                 keep_curves: bool = True) -> DetectionAP:
    """ActivityNet detection mAP@tIoU of ``pred`` against ``gt`` (see the module docstring).

    ``gt``/``pred``: anything :func:`segments` accepts. Returns :class:`DetectionAP`.
    With no ground truth at all, mAP is NaN (nothing to average over).
    """
    g, p = segments(gt, "ground truth"), segments(pred, "predictions")
    m = match_greedy(g, p, thresholds)
    th = m.thresholds
    classes, n_gt = np.unique(g.class_id, return_counts=True)
    pred_cls = p.class_id[m.order]
    ap = np.zeros((th.shape[0], classes.shape[0]), dtype=np.float64)
    n_pred = np.zeros(classes.shape[0], dtype=np.int64)
    curves: dict = {}
    lo_all = np.searchsorted(pred_cls, classes, side="left")
    hi_all = np.searchsorted(pred_cls, classes, side="right")
    for ci, c in enumerate(classes):
        lo, hi = lo_all[ci], hi_all[ci]
        n_pred[ci] = hi - lo
        if hi == lo:
            if keep_curves:
                curves[int(c)] = [(np.zeros(0), np.zeros(0))] * th.shape[0]
            continue
        tp = m.tp[:, lo:hi].astype(np.float64)
        tp_cum = np.cumsum(tp, axis=1)
        fp_cum = np.cumsum(1.0 - tp, axis=1)
        recall = tp_cum / n_gt[ci]
        precision = tp_cum / (tp_cum + fp_cum)
        for k in range(th.shape[0]):
            ap[k, ci] = interpolated_ap(precision[k], recall[k])
        if keep_curves:
            curves[int(c)] = [(precision[k], recall[k]) for k in range(th.shape[0])]
    if classes.shape[0]:
        mean_ap = ap.mean(axis=1)
    else:
        mean_ap = np.full(th.shape[0], np.nan)
    return DetectionAP(th, classes, ap, mean_ap, float(np.mean(mean_ap)) if th.size else math.nan,
                       n_gt.astype(np.int64), n_pred, curves)


# --- MiGA F1@tIoU ---------------------------------------------------------------------------

def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 with 0 where a denominator is 0."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return p, r, f


@dataclass(frozen=True)
class PRF:
    """Counts and precision/recall/F1 (0 where undefined)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> "PRF":
        return cls(int(tp), int(fp), int(fn), *_prf(int(tp), int(fp), int(fn)))


@dataclass(frozen=True, eq=False)
class F1Result:
    """F1@tIoU: ``micro`` pooled over all videos and classes; ``per_class`` by class id (every
    class present in the ground truth or the predictions); ``macro_f1`` = mean per-class F1
    over the classes present in the ground truth (NaN without ground truth)."""

    threshold: float
    micro: PRF
    per_class: dict[int, PRF]
    macro_f1: float


def f1_at_tiou(gt, pred, threshold: float = MIGA_TIOU, min_score: float | None = None) -> F1Result:
    """MiGA online-recognition F1@tIoU (one-to-one greedy matching by descending score).

    ``min_score`` drops predictions scored below it first (``None`` keeps all).
    """
    g, p = segments(gt, "ground truth"), segments(pred, "predictions")
    if min_score is not None:
        keep = p.score >= min_score
        p = Segments(p.video[keep], p.class_id[keep], p.start[keep], p.end[keep], p.score[keep])
    m = match_greedy(g, p, [threshold])
    tp_flags = m.tp[0]
    pred_cls = p.class_id[m.order]
    classes = np.union1d(g.class_id, p.class_id).astype(np.int64)
    n_gt = np.array([np.count_nonzero(g.class_id == c) for c in classes], dtype=np.int64)
    n_pr = np.array([np.count_nonzero(pred_cls == c) for c in classes], dtype=np.int64)
    n_tp = np.array([np.count_nonzero(tp_flags[pred_cls == c]) for c in classes], dtype=np.int64)
    per_class = {int(c): PRF.from_counts(t, n - t, gn - t)
                 for c, t, n, gn in zip(classes, n_tp, n_pr, n_gt)}
    tp = int(n_tp.sum())
    micro = PRF.from_counts(tp, len(p) - tp, len(g) - tp)
    gt_classes = [int(c) for c in np.unique(g.class_id)]
    macro = float(np.mean([per_class[c].f1 for c in gt_classes])) if gt_classes else math.nan
    return F1Result(float(threshold), micro, per_class, macro)


# --- frame level ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class FrameMetrics:
    """Frame-level metrics pooled over all frames of all videos.

    per_class: class id → :class:`PRF` over frames (classes active in gt or pred);
    macro_f1: mean per-class F1 over classes with ground-truth frames;
    exact_match: share of frames whose predicted label set equals the true set (subset
    accuracy; frames with no label on either side count as correct);
    hamming_accuracy: 1 − share of wrong (frame, class) cells over the known taxonomy classes;
    jaccard: mean over frames of |Y∩Ŷ| / |Y∪Ŷ| (1 where both are empty);
    num_frames: total frames scored;
    kappa: class id → Cohen's kappa of the two sides' frame labels for that class
    (present/absent over all ``num_frames`` frames; NaN when both sides mark every frame);
    macro_kappa: mean kappa over the classes either side marks (``per_class``'s classes),
    NaN kappas left out — the agreement statistic of two human coders, symmetric in the sides.
    """

    fps: float
    per_class: dict[int, PRF]
    macro_f1: float
    exact_match: float
    hamming_accuracy: float
    jaccard: float
    num_frames: int
    kappa: dict[int, float] = field(default_factory=dict)
    macro_kappa: float = math.nan


def cohen_kappa(tp: int, fp: int, fn: int, tn: int) -> float:
    """Cohen's kappa of two binary raters from their 2×2 table: (p_o − p_e) / (1 − p_e) with
    p_o = (tp + tn) / n and p_e = ((tp + fp)(tp + fn) + (fn + tn)(fp + tn)) / n²; NaN when
    p_e = 1 (both raters give one value to every item) or n = 0."""
    n = tp + fp + fn + tn
    if n <= 0:
        return math.nan
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return math.nan if pe >= 1.0 else (po - pe) / (1.0 - pe)


def _as_event_list(data, name: str) -> list[Event]:
    if isinstance(data, (EventStream, list, tuple)):
        return list(data)
    if isinstance(data, Segments) or isinstance(data, Mapping):
        s = segments(data, name)
        return [Event(str(v), int(c), float(a), float(b), float(sc))
                for v, c, a, b, sc in zip(s.video, s.class_id, s.start, s.end, s.score)]
    return list(data)


def frame_metrics(gt, pred, fps: float = 25.0, num_frames: Mapping[str, int] | None = None,
                  min_score: float | None = None) -> FrameMetrics:
    """Frame-level per-class F1 and multi-label accuracy of ``pred`` against ``gt``.

    Each video is rasterised with :func:`nfbl.core.events.to_multihot` at ``fps`` (a frame is
    active when its start time lies in ``[start, end)``). ``num_frames`` gives each video's
    length in frames; by default it is ``ceil(latest end × fps)`` over both sides. Videos
    that appear only in the predictions are scored too (all their frames are background in
    the ground truth).
    """
    if not fps or fps <= 0:
        raise NfblError(f"frame metrics need fps > 0, got {fps}")
    g_events, p_events = _as_event_list(gt, "ground truth"), _as_event_list(pred, "predictions")
    if min_score is not None:
        p_events = [e for e in p_events if e.score >= min_score]
    by_video: dict[str, tuple[list[Event], list[Event]]] = {}
    for e in g_events:
        by_video.setdefault(e.video_id, ([], []))[0].append(e)
    for e in p_events:
        by_video.setdefault(e.video_id, ([], []))[1].append(e)
    k = taxonomy.NUM_SLOTS
    known = np.array(taxonomy.ALL_IDS, dtype=np.int64)
    tp = np.zeros(k, np.int64)
    fp = np.zeros(k, np.int64)
    fn = np.zeros(k, np.int64)
    exact = wrong_cells = total = 0
    jacc = 0.0
    for vid, (ge, pe) in by_video.items():
        if num_frames is not None and vid in num_frames:
            n = int(num_frames[vid])
        else:
            n = int(math.ceil(max(e.end for e in ge + pe) * fps - 1e-9))
        y = to_multihot(ge, n, fps=fps).astype(bool)
        yh = to_multihot(pe, n, fps=fps).astype(bool)
        tp += np.count_nonzero(y & yh, axis=0)
        fp += np.count_nonzero(~y & yh, axis=0)
        fn += np.count_nonzero(y & ~yh, axis=0)
        diff = y[:, known] != yh[:, known]
        exact += int(np.count_nonzero(~diff.any(axis=1)))
        wrong_cells += int(np.count_nonzero(diff))
        inter = np.count_nonzero(y & yh, axis=1)
        union = np.count_nonzero(y | yh, axis=1)
        jacc += float(np.sum(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))
        total += n
    per_class = {int(c): PRF.from_counts(tp[c], fp[c], fn[c])
                 for c in range(k) if tp[c] + fp[c] + fn[c] > 0}
    gt_cls = [c for c in per_class if tp[c] + fn[c] > 0]
    macro = float(np.mean([per_class[c].f1 for c in gt_cls])) if gt_cls else math.nan
    kappa = {c: cohen_kappa(int(tp[c]), int(fp[c]), int(fn[c]), int(total - tp[c] - fp[c] - fn[c]))
             for c in per_class}
    finite = [v for v in kappa.values() if not math.isnan(v)]
    macro_kappa = float(np.mean(finite)) if finite else math.nan
    if total == 0:
        return FrameMetrics(float(fps), per_class, macro, math.nan, math.nan, math.nan, 0)
    return FrameMetrics(float(fps), per_class, macro, exact / total,
                        1.0 - wrong_cells / (total * known.shape[0]), jacc / total, total,
                        kappa, macro_kappa)


# --- emotion ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class EmotionMetrics:
    """Video-level label metrics: accuracy, macro-F1 over ``labels`` (union of true and
    predicted labels, sorted; like scikit-learn's default), per-label F1, sample count."""

    accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    per_label_f1: dict[str, float]
    n: int


def emotion_metrics(y_true: Sequence | Mapping[str, str], y_pred: Sequence | Mapping[str, str]
                    ) -> EmotionMetrics:
    """Accuracy and macro-F1 of video-level emotion labels.

    Pass two equal-length sequences, or two mappings video id → label (every ground-truth
    video needs a prediction; extra predicted videos are ignored).
    """
    if isinstance(y_true, Mapping):
        if not isinstance(y_pred, Mapping):
            raise NfblError("emotion labels: pass both truths and predictions as mappings "
                            "video id → label, or both as sequences")
        missing = [v for v in y_true if v not in y_pred]
        if missing:
            raise NfblError(f"emotion labels: {len(missing)} ground-truth video(s) have no "
                            f"prediction, e.g. {missing[0]!r}")
        keys = list(y_true)
        t = np.array([str(y_true[v]) for v in keys], dtype=object)
        pr = np.array([str(y_pred[v]) for v in keys], dtype=object)
    else:
        t = np.array([str(v) for v in y_true], dtype=object)
        pr = np.array([str(v) for v in y_pred], dtype=object)
    if t.shape != pr.shape:
        raise NfblError(f"emotion labels: {t.shape[0]} true labels but {pr.shape[0]} predictions")
    if t.shape[0] == 0:
        raise NfblError("emotion labels: nothing to score (no videos)")
    labels = tuple(sorted(set(t.tolist()) | set(pr.tolist())))
    per = {}
    for lab in labels:
        tp = int(np.count_nonzero((t == lab) & (pr == lab)))
        fp = int(np.count_nonzero((t != lab) & (pr == lab)))
        fn = int(np.count_nonzero((t == lab) & (pr != lab)))
        per[lab] = _prf(tp, fp, fn)[2]
    return EmotionMetrics(float(np.mean(t == pr)), float(np.mean(list(per.values()))), labels,
                          per, int(t.shape[0]))
