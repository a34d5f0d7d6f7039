"""Golden tests of nfbl.metrics.scores, every number computed by hand in the comments."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.metrics import scores as M
from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream

A, B = 16, 24  # two real NFBL ids (Folding arms, Minaret gesture)


def seg(rows, score=True):
    """rows: (video, class, start, end[, score]) → column mapping."""
    cols = {"video": [r[0] for r in rows], "class_id": [r[1] for r in rows],
            "start": [r[2] for r in rows], "end": [r[3] for r in rows]}
    if score:
        cols["score"] = [r[4] for r in rows]
    return cols


EMPTY = {"video": [], "class_id": [], "start": [], "end": [], "score": []}

# --- the issue's example ----------------------------------------------------------------------
GT1 = seg([("v1", A, 0, 10), ("v1", A, 20, 30)], score=False)
PRED1 = seg([("v1", A, 0, 10, 0.9), ("v1", A, 1, 10, 0.8), ("v1", A, 20, 28, 0.7),
             ("v2", A, 0, 5, 0.6)])


def test_issue_example_ap_per_threshold():
    # Sorted by score: p1 v1[0,10] tIoU(g1)=1; p2 v1[1,10] tIoU(g1)=9/10, tIoU(g2)=0;
    # p3 v1[20,28] tIoU(g2)=8/10=0.8; p4 is in v2 (no ground truth) -> always FP.
    # θ <= 0.8: p1 TP(g1); p2 FP (g1 taken, g2 tIoU 0); p3 TP(g2); p4 FP.
    #   tp=[1,0,1,0] recall=[.5,.5,1,1] precision=[1,.5,2/3,.5]
    #   mprec=[0,1,.5,2/3,.5,0] -> monotone from the right [1,1,2/3,2/3,.5,0]
    #   mrec=[0,.5,.5,1,1,1]; recall changes at 1 and 3: AP = .5*1 + .5*2/3 = 0.8333
    # θ >= 0.85: p3 FP too: tp=[1,0,0,0] recall=[.5]*4 -> AP = .5*1 = 0.5
    # linspace(0.5, 0.95, 10)[6] is exactly 0.8 and 8/10 == 0.8, so 0.8 still matches.
    r = M.detection_ap(GT1, PRED1)
    np.testing.assert_allclose(r.thresholds, np.linspace(0.5, 0.95, 10))
    expected = np.array([5 / 6] * 7 + [0.5] * 3)
    np.testing.assert_allclose(r.ap[:, 0], expected, rtol=0, atol=1e-12)
    assert round(float(r.ap[0, 0]), 4) == 0.8333
    # mAP = AP (one class); average over the 10 thresholds = (7*5/6 + 3*0.5)/10 = 0.73333
    assert r.average_map == pytest.approx((7 * 5 / 6 + 1.5) / 10, abs=1e-12)
    # the 0.3:0.1:0.7 set: every θ <= 0.8 -> 0.8333 everywhere
    r2 = M.detection_ap(GT1, PRED1, M.THRESHOLDS_THUMOS)
    np.testing.assert_allclose(r2.mAP, [5 / 6] * 5, atol=1e-12)
    assert r.n_gt.tolist() == [2] and r.n_pred.tolist() == [4]


def test_issue_example_f1():
    # θ=0.3: p1->g1, p2 FP, p3->g2 (0.8), p4 FP: TP=2 FP=2 FN=0
    # P=2/4=.5 R=2/2=1 F1=2*2/(2*2+2+0)=4/6
    r = M.f1_at_tiou(GT1, PRED1)
    assert (r.micro.tp, r.micro.fp, r.micro.fn) == (2, 2, 0)
    assert r.micro.precision == 0.5 and r.micro.recall == 1.0
    assert r.micro.f1 == pytest.approx(2 / 3)
    assert r.per_class[A].f1 == pytest.approx(2 / 3) and r.macro_f1 == pytest.approx(2 / 3)
    # min_score=0.75 keeps p1, p2: TP=1 FP=1 FN=1 -> F1 = 2/(2+1+1) = 0.5
    assert M.f1_at_tiou(GT1, PRED1, min_score=0.75).micro.f1 == pytest.approx(0.5)


def test_no_predictions():
    # nothing predicted: recall 0, AP 0 for the class, mAP 0; F1: TP=0 FP=0 FN=2 -> 0
    r = M.detection_ap(GT1, EMPTY)
    assert r.ap.shape == (10, 1) and np.all(r.ap == 0) and r.average_map == 0.0
    f = M.f1_at_tiou(GT1, EMPTY)
    assert (f.micro.tp, f.micro.fp, f.micro.fn, f.micro.f1) == (0, 0, 2, 0.0)


def test_predictions_only_in_videos_without_ground_truth():
    # all predictions are in v9: every one is a FP -> precision 0 everywhere -> AP 0
    pred = seg([("v9", A, 0, 10, 0.9), ("v9", A, 20, 30, 0.5)])
    r = M.detection_ap(GT1, pred)
    assert np.all(r.ap == 0)
    f = M.f1_at_tiou(GT1, pred)
    assert (f.micro.tp, f.micro.fp, f.micro.fn, f.micro.f1) == (0, 2, 2, 0.0)


def test_gt_class_without_predictions_counts_as_zero():
    # class A: one GT, one exact prediction -> AP 1; class B: GT, no prediction -> AP 0;
    # mAP = (1 + 0)/2 = 0.5 at every threshold.
    gt = seg([("v1", A, 0, 10), ("v1", B, 0, 10)], score=False)
    pred = seg([("v1", A, 0, 10, 0.9)])
    r = M.detection_ap(gt, pred)
    assert r.classes.tolist() == [A, B]
    np.testing.assert_array_equal(r.ap_of(A), np.ones(10))
    np.testing.assert_array_equal(r.ap_of(B), np.zeros(10))
    np.testing.assert_allclose(r.mAP, 0.5)
    # F1: TP=1 FP=0 FN=1 -> P=1 R=.5 F1=2/3; class B F1 0; macro=(1+0)/2
    f = M.f1_at_tiou(gt, pred)
    assert f.micro.f1 == pytest.approx(2 / 3) and f.per_class[B].f1 == 0.0
    assert f.macro_f1 == pytest.approx(0.5)


def test_prediction_class_absent_from_ground_truth_is_ignored_by_map_not_by_f1():
    # a class-B prediction with no class-B GT: not in mAP's classes (mAP = AP_A = 1), but it
    # is a FP for F1: TP=1 FP=1 FN=0 -> F1 = 2/(2+1) = 2/3
    gt = seg([("v1", A, 0, 10)], score=False)
    pred = seg([("v1", A, 0, 10, 0.5), ("v1", B, 0, 10, 0.9)])
    r = M.detection_ap(gt, pred)
    assert r.classes.tolist() == [A] and np.all(r.mAP == 1.0)
    f = M.f1_at_tiou(gt, pred)
    assert f.micro.f1 == pytest.approx(2 / 3) and f.per_class[B].fp == 1


def test_duplicate_predictions():
    # GT v1[0,10]; the same prediction twice: first TP, the duplicate FP (GT already taken).
    # precision=[1,.5] recall=[1,1] -> mprec [0,1,.5,0]->[1,1,.5,0], mrec [0,1,1,1]: AP=1*1=1
    gt = seg([("v1", A, 0, 10)], score=False)
    pred = seg([("v1", A, 0, 10, 0.9), ("v1", A, 0, 10, 0.9)])
    r = M.detection_ap(gt, pred)
    np.testing.assert_array_equal(r.ap[:, 0], np.ones(10))
    # F1: TP=1 FP=1 FN=0 -> P=.5 R=1 F1=2/3
    f = M.f1_at_tiou(gt, pred)
    assert (f.micro.tp, f.micro.fp, f.micro.fn) == (1, 1, 0)
    # equal scores: the stable order keeps input order, so the FIRST copy is the TP
    m = M.match_greedy(M.segments(gt), M.segments(pred), [0.5])
    assert m.order.tolist() == [0, 1] and m.tp[0].tolist() == [True, False]


def test_duplicate_ground_truth():
    # GT v1[0,10] twice, one prediction: TP=1, recall 1/2 -> AP = .5*1 = 0.5
    # F1: TP=1 FP=0 FN=1 -> 2/3
    gt = seg([("v1", A, 0, 10), ("v1", A, 0, 10)], score=False)
    pred = seg([("v1", A, 0, 10, 0.9)])
    assert np.all(M.detection_ap(gt, pred).ap == 0.5)
    assert M.f1_at_tiou(gt, pred).micro.f1 == pytest.approx(2 / 3)


def test_false_positive_ranked_first_halves_ap():
    # p1 v1[50,60] 0.9 FP, p2 v1[0,10] 0.8 TP: precision [0,.5], recall [0,1]
    # mprec [0,0,.5,0] -> [.5,.5,.5,0]; mrec [0,0,1,1]: recall changes at 2 -> AP = 1*.5
    gt = seg([("v1", A, 0, 10)], score=False)
    pred = seg([("v1", A, 50, 60, 0.9), ("v1", A, 0, 10, 0.8)])
    assert np.all(M.detection_ap(gt, pred).ap == 0.5)


def test_one_prediction_overlapping_two_truths():
    # GT g1 v1[0,10], g2 v1[10,20]; p1 v1[4,20] 0.9: tIoU(g1)=6/20=0.3, tIoU(g2)=10/16=0.625
    # -> p1 takes g2 (highest tIoU) and only g2 (one-to-one; MiGA's reference code would
    # count g1 as well at θ=0.3). F1@0.3: TP=1 FP=0 FN=1 -> 2/3.
    gt = seg([("v1", A, 0, 10), ("v1", A, 10, 20)], score=False)
    p1 = seg([("v1", A, 4, 20, 0.9)])
    f = M.f1_at_tiou(gt, p1)
    assert (f.micro.tp, f.micro.fp, f.micro.fn) == (1, 0, 1)
    m = M.match_greedy(M.segments(gt), M.segments(p1), [0.3])
    assert m.matched_gt[0].tolist() == [1]
    # add p2 v1[0,9] 0.8: tIoU(g1)=9/10, tIoU(g2)=0.
    # θ=0.5: p1->g2, p2->g1: precision [1,1] recall [.5,1] -> AP = .5+.5 = 1
    # θ=0.7: p1 FP (0.625<0.7), p2->g1: precision [0,.5] recall [0,.5]
    #   mprec [0,0,.5,0]->[.5,.5,.5,0] mrec [0,0,.5,1] -> AP = .5*.5 + .5*0 = 0.25
    both = seg([("v1", A, 4, 20, 0.9), ("v1", A, 0, 9, 0.8)])
    r = M.detection_ap(gt, both, [0.5, 0.7])
    np.testing.assert_allclose(r.ap[:, 0], [1.0, 0.25], atol=1e-12)


def test_ground_truth_tie_takes_first_in_input_order():
    # p v1[5,15] against g1 v1[0,10] and g2 v1[10,20]: both tIoU 5/15 -> the first (g1)
    gt = seg([("v1", A, 0, 10), ("v1", A, 10, 20)], score=False)
    m = M.match_greedy(M.segments(gt), M.segments(seg([("v1", A, 5, 15, 1.0)])), [0.3])
    assert m.matched_gt[0].tolist() == [0]


def test_tiou_exactly_on_threshold():
    # GT [0,8], pred [0,6]: tIoU = 6/8 = 0.75 exactly; linspace(.5,.95,10)[5] == 0.75 exactly,
    # so it matches at 0.75 (≥) and not at 0.8: AP = 1 for θ<=0.75, 0 above.
    gt = seg([("v1", A, 0, 8)], score=False)
    pred = seg([("v1", A, 0, 6, 0.9)])
    th = np.linspace(0.5, 0.95, 10)
    assert th[5] == 0.75
    r = M.detection_ap(gt, pred, th)
    np.testing.assert_array_equal(r.ap[:, 0], [1.0] * 6 + [0.0] * 4)
    # MiGA default θ=0.3: GT [0,10], pred [0,3] -> tIoU 3/10 == 0.3 -> TP; at 0.3+1ulp: FP
    gt2 = seg([("v1", A, 0, 10)], score=False)
    pred2 = seg([("v1", A, 0, 3, 0.9)])
    assert M.f1_at_tiou(gt2, pred2).micro.tp == 1
    assert M.f1_at_tiou(gt2, pred2, np.nextafter(0.3, 1.0)).micro.tp == 0


def test_f1_two_classes_two_videos():
    # GT: v1 A[0,10], v1 B[5,15], v2 A[0,4]
    # pred: v1 A[1,9] .9 (tIoU 8/10 -> TP), v1 B[20,25] .8 (no overlap -> FP),
    #       v2 A[0,1] .7 (tIoU 1/4=.25 < .3 -> FP), v2 B[0,4] .6 (no B in v2 -> FP)
    # micro: TP=1 FP=3 FN=2 -> P=1/4 R=1/3 F1=2/(2+3+2)=2/7
    # class A: TP=1 FP=1 FN=1 -> .5/.5/.5; class B: TP=0 FP=2 FN=1 -> 0; macro = .25
    gt = seg([("v1", A, 0, 10), ("v1", B, 5, 15), ("v2", A, 0, 4)], score=False)
    pred = seg([("v1", A, 1, 9, .9), ("v1", B, 20, 25, .8), ("v2", A, 0, 1, .7),
                ("v2", B, 0, 4, .6)])
    f = M.f1_at_tiou(gt, pred)
    assert (f.micro.tp, f.micro.fp, f.micro.fn) == (1, 3, 2)
    assert f.micro.precision == 0.25 and f.micro.recall == pytest.approx(1 / 3)
    assert f.micro.f1 == pytest.approx(2 / 7)
    assert f.per_class[A].f1 == 0.5 and f.per_class[B].f1 == 0.0
    assert f.macro_f1 == pytest.approx(0.25)


def test_event_stream_input_matches_columns():
    gt = EventStream(tuple(Event("v1", A, s, e) for s, e in ((0, 10), (20, 30))))
    pred = EventStream(tuple(Event(v, A, s, e, sc) for v, s, e, sc in
                             (("v1", 0, 10, .9), ("v1", 1, 10, .8), ("v1", 20, 28, .7),
                              ("v2", 0, 5, .6))))
    np.testing.assert_array_equal(M.detection_ap(gt, pred).ap, M.detection_ap(GT1, PRED1).ap)


@pytest.mark.parametrize("start,end,word", [(5.0, 5.0, "zero-length"), (6.0, 5.0, "reversed")])
def test_bad_segments_rejected(start, end, word):
    bad = seg([("v1", A, 0, 10, .9), ("v1", A, start, end, .5)])
    with pytest.raises(NfblError, match=word) as info:
        M.detection_ap(GT1, bad)
    assert "segment 1" in str(info.value) and "end > start" in str(info.value)
    with pytest.raises(NfblError, match=word):
        M.f1_at_tiou(bad, GT1)


def test_bad_columns_rejected():
    with pytest.raises(NfblError, match="equal length"):
        M.segments({"video": ["a"], "class_id": [1, 2], "start": [0], "end": [1]})
    with pytest.raises(NfblError, match="non-finite"):
        M.segments({"video": ["a"], "class_id": [1], "start": [np.nan], "end": [1]})
    with pytest.raises(NfblError, match="missing column"):
        M.segments({"video": ["a"], "start": [0], "end": [1]})


def test_temporal_iou_values():
    # [0,10] vs [5,15]: 5/15; vs [10,20]: touching -> 0; vs [2,4]: 2/10
    iou = M.temporal_iou(np.array([0.0]), np.array([10.0]), np.array([5.0, 10.0, 2.0]),
                         np.array([15.0, 20.0, 4.0]))
    np.testing.assert_allclose(iou, [[1 / 3, 0.0, 0.2]])


# --- cross-check against a plain loop port of the ActivityNet algorithm -----------------------

def _activitynet_loop_ap(gt, pred, thresholds):
    """Straight per-prediction loop (as in ActivityNet's compute_average_precision_detection)."""
    out = []
    classes = sorted(set(gt["class_id"]))
    for c in classes:
        g = [i for i in range(len(gt["class_id"])) if gt["class_id"][i] == c]
        p = [i for i in range(len(pred["class_id"])) if pred["class_id"][i] == c]
        p = [p[i] for i in np.argsort(-np.array([pred["score"][i] for i in p]), kind="stable")]
        aps = []
        for th in thresholds:
            locked = set()
            tp = []
            for i in p:
                cands = [j for j in g if gt["video"][j] == pred["video"][i]]
                best, best_iou = None, -1.0
                for j in cands:
                    inter = max(0.0, min(pred["end"][i], gt["end"][j])
                                - max(pred["start"][i], gt["start"][j]))
                    union = (pred["end"][i] - pred["start"][i]) + (gt["end"][j] - gt["start"][j]) - inter
                    iou = inter / union
                    if j not in locked and iou >= th and iou > best_iou:
                        best, best_iou = j, iou
                if best is None:
                    tp.append(0.0)
                else:
                    locked.add(best)
                    tp.append(1.0)
            tp = np.array(tp)
            rec = np.cumsum(tp) / len(g)
            prec = np.cumsum(tp) / np.arange(1, len(tp) + 1)
            aps.append(M.interpolated_ap(prec, rec) if len(tp) else 0.0)
        out.append(aps)
    return np.array(out).T


def test_matches_loop_reference_on_random_data():
    rng = np.random.default_rng(7)
    n = 300
    gt = {"video": [f"v{v}" for v in rng.integers(0, 4, n)], "class_id": rng.integers(0, 5, n),
          "start": rng.uniform(0, 100, n)}
    gt["end"] = gt["start"] + rng.uniform(0.5, 6, n)
    m = 400
    pick = rng.integers(0, n, m)
    pred = {"video": [gt["video"][i] if rng.random() < .9 else "v9" for i in pick],
            "class_id": np.where(rng.random(m) < .8, gt["class_id"][pick], rng.integers(0, 5, m)),
            "start": gt["start"][pick] + rng.normal(0, 1, m),
            "score": np.round(rng.uniform(size=m), 2)}  # rounded: many score ties
    pred["end"] = pred["start"] + (gt["end"] - gt["start"])[pick] * rng.uniform(.5, 1.5, m)
    th = M.THRESHOLDS_ACTIVITYNET
    got = M.detection_ap(gt, pred, th)
    np.testing.assert_allclose(got.ap, _activitynet_loop_ap(gt, pred, th), rtol=0, atol=1e-12)


# --- frame level and emotion -----------------------------------------------------------------

def test_frame_metrics_golden():
    # fps 1, 8 frames (t = 0..7). GT: A [0,4) -> frames 0-3; B [2,3) -> frame 2.
    # pred: A [2,6) -> frames 2-5; B [0,1) -> frame 0.
    # A: TP 2 (2,3) FP 2 (4,5) FN 2 (0,1) -> P=R=F1=.5; B: TP 0 FP 1 FN 1 -> 0; macro .25
    # exact match: frames 3, 6, 7 -> 3/8
    # Jaccard: f2 {A,B} vs {A} = .5; f3 = 1; f6, f7 empty = 1 each -> 3.5/8
    # Hamming: wrong cells f0: A,B (2); f1: A; f2: B; f4: A; f5: A -> 6 of 8*33 cells
    gt = EventStream((Event("v1", A, 0, 4), Event("v1", B, 2, 3)))
    pred = EventStream((Event("v1", A, 2, 6, .9), Event("v1", B, 0, 1, .8)))
    r = M.frame_metrics(gt, pred, fps=1.0, num_frames={"v1": 8})
    assert r.num_frames == 8
    assert (r.per_class[A].tp, r.per_class[A].fp, r.per_class[A].fn) == (2, 2, 2)
    assert r.per_class[A].f1 == 0.5 and r.per_class[B].f1 == 0.0
    assert r.macro_f1 == 0.25
    assert r.exact_match == 3 / 8 and r.jaccard == 3.5 / 8
    assert r.hamming_accuracy == pytest.approx(1 - 6 / (8 * 33))
    # default length = ceil(latest end * fps) = 6 frames: exact match 1/6 (frame 3 only)
    assert M.frame_metrics(gt, pred, fps=1.0).exact_match == pytest.approx(1 / 6)
    # Cohen's kappa over the 8 frames. A: TP 2 FP 2 FN 2 TN 2 -> po .5, pe (4*4 + 4*4)/64 = .5
    # -> 0; B: TP 0 FP 1 FN 1 TN 6 -> po .75, pe (1*1 + 7*7)/64 -> -1/7; macro -1/14
    assert r.kappa[A] == 0.0 and r.kappa[B] == pytest.approx(-1 / 7)
    assert r.macro_kappa == pytest.approx(-1 / 14)


def test_cohen_kappa_golden_and_against_scikit_learn():
    # the textbook table (50 items: yes/yes 20, A yes B no 5, A no B yes 10, no/no 15):
    # po .7, pe .5 -> .4
    assert M.cohen_kappa(tp=20, fp=10, fn=5, tn=15) == pytest.approx(0.4)
    assert M.cohen_kappa(5, 0, 0, 5) == 1.0 and np.isnan(M.cohen_kappa(5, 0, 0, 0))
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    a = rng.random(500) < 0.3
    b = np.where(rng.random(500) < 0.8, a, rng.random(500) < 0.3)
    tp, fp = int(np.sum(a & b)), int(np.sum(~a & b))
    fn, tn = int(np.sum(a & ~b)), int(np.sum(~a & ~b))
    assert M.cohen_kappa(tp, fp, fn, tn) == pytest.approx(metrics.cohen_kappa_score(a, b), abs=1e-12)


def test_emotion_metrics_golden():
    # acc 3/5; pos: TP1 FP1 FN1 -> F1 .5; neg: TP2 FP1 FN1 -> 4/6; macro = (.5 + 2/3)/2
    r = M.emotion_metrics(["pos", "pos", "neg", "neg", "neg"], ["pos", "neg", "neg", "neg", "pos"])
    assert r.accuracy == 0.6 and r.labels == ("neg", "pos")
    assert r.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    by_video = M.emotion_metrics({"a": "win", "b": "lose"}, {"b": "lose", "a": "lose", "c": "x"})
    assert by_video.accuracy == 0.5 and by_video.n == 2
    with pytest.raises(NfblError, match="no prediction"):
        M.emotion_metrics({"a": "win"}, {"b": "win"})
    with pytest.raises(NfblError, match="2 true labels but 1"):
        M.emotion_metrics(["a", "b"], ["a"])
