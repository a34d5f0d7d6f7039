"""Score a detector's event files against ground truth: load, compute every metric, summarise.

The summary is a plain JSON-serialisable dict (:func:`evaluate`) that :mod:`nfbl.metrics.report`
turns into a table, Markdown and charts.
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from nfbl.core import taxonomy
from nfbl.metrics import scores as M
from nfbl.core.errors import NfblError
from nfbl.core.events import EventStream

log = logging.getLogger(__name__)

def event_suffixes() -> tuple[str, ...]:
    """File name endings read when a folder of event files is given
    (:func:`nfbl.io.event_formats.folder_suffixes`: every event format's but ``.txt``)."""
    from nfbl.io.event_formats import folder_suffixes

    return folder_suffixes()


def load_events(path: str | Path, fmt: str | None = None, fps: float = 25.0,
                subset: str | None = None, label_map: dict | None = None) -> EventStream:
    """Read one event file, or every event file of a folder (sorted by name, concatenated),
    in any format :func:`nfbl.io.event_formats.read_events` reads (``subset``, ``label_map``:
    see there). The video tables and lengths of the files are kept in ``meta``."""
    from nfbl.io.event_formats import event_files, read_event_files, read_events
    from nfbl.io.inputs import check_input

    p = check_input(path)
    if not p.is_dir():
        return read_events(p, fmt=fmt, fps=fps, subset=subset, label_map=label_map)
    files = (event_files(p) if fmt is None else
             sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")))
    if not files:
        raise NfblError(f"{p}: folder holds no event files ({', '.join(event_suffixes())})")
    log.info("read %d event files from %s", len(files), p)
    return read_event_files(files, fmt=fmt, fps=fps, subset=subset, label_map=label_map,
                            source=str(p))


def check_videos(gt: EventStream, pred: EventStream) -> tuple[str, ...]:
    """The videos both streams name. Warns naming the videos missing from either side, and
    raises when predictions exist but share no video with the ground truth (a wrong file or
    a video-id mismatch would otherwise score a silent 0)."""
    g, p = set(gt.video_ids), set(pred.video_ids)
    common = g & p
    if p and not common:
        raise NfblError(f"predictions and ground truth share no video (ground truth: "
                        f"{_names(g)}; predictions: {_names(p)}); check the files and the "
                        "video ids")
    if p - g:
        log.warning("%d predicted video(s) are not in the ground truth and are scored as "
                    "false positives: %s", len(p - g), _names(p - g))
    if g - p:
        log.warning("%d ground-truth video(s) have no predictions: %s", len(g - p),
                    _names(g - p))
    return tuple(sorted(common))


def video_frames(gt: EventStream, pred: EventStream, fps: float) -> dict[str, int]:
    """Frames per video for the frame metrics where a stream knows the video's length
    (``meta["durations"]``: ActivityNet ground truth, BORIS media lengths, detected events):
    the longer side's length, never shorter than the latest event of either side."""
    lengths: dict[str, float] = {}
    for s in (gt, pred):
        d = s.meta.get("durations") if isinstance(s.meta, dict) else None
        for v, x in (d.items() if isinstance(d, dict) else ()):
            try:
                x = float(x)
            except (TypeError, ValueError):
                continue
            if math.isfinite(x) and x > 0:
                lengths[str(v)] = max(lengths.get(str(v), 0.0), x)
    latest: dict[str, float] = {}
    for e in (*gt, *pred):
        latest[e.video_id] = max(latest.get(e.video_id, 0.0), e.end)
    return {v: int(math.ceil(max(x, latest.get(v, 0.0)) * fps - 1e-9)) for v, x in lengths.items()}


def _names(videos: set, limit: int = 5) -> str:
    v = sorted(videos)
    return ", ".join(v[:limit]) + (f" and {len(v) - limit} more" if len(v) > limit else "")


def _num(x: float) -> float | None:
    """JSON-safe float (NaN → None), rounded to 6 decimals."""
    x = float(x)
    return None if math.isnan(x) else round(x, 6)


def class_name(class_id: int) -> str:
    return taxonomy.get(class_id).name if taxonomy.is_known(class_id) else f"class {class_id}"


def f1_sweep(gt: EventStream, pred: EventStream, min_scores: Sequence[float],
             tiou: float = M.MIGA_TIOU) -> dict[str, dict]:
    """F1@``tiou`` at each score threshold, from the same events (``evaluate``'s ``f1``
    entry per threshold, keyed by the threshold as text; no mAP or frame metrics)."""
    g, p = M.segments(gt, "ground truth"), M.segments(pred, "predictions")
    return {f"{s:g}": _f1_entry(M.f1_at_tiou(g, p, tiou, min_score=s), tiou, s)
            for s in min_scores}


def _f1_entry(f1, tiou: float, min_score: float | None) -> dict:
    return {"tiou": float(tiou), "min_score": min_score, "precision": _num(f1.micro.precision),
            "recall": _num(f1.micro.recall), "f1": _num(f1.micro.f1), "tp": f1.micro.tp,
            "fp": f1.micro.fp, "fn": f1.micro.fn, "macro_f1": _num(f1.macro_f1)}


def evaluate(gt: EventStream, pred: EventStream, tiou: float = M.MIGA_TIOU, fps: float = 25.0,
             min_score: float | None = None, curve_points: int = 400) -> dict:
    """All detection metrics of ``pred`` against ``gt`` as a JSON-serialisable dict.

    Keys: ``counts``, ``f1`` (MiGA F1@``tiou``), ``map`` (ActivityNet mAP for 0.5:0.05:0.95
    and 0.3:0.1:0.7), ``frame`` (frame-level at ``fps``), ``classes`` (one row per class of
    the ground truth or predictions) and ``pr_curves`` (per ground-truth class at tIoU 0.5,
    at most ``curve_points`` points each). ``min_score`` filters predictions for F1 and the
    frame metrics only (AP ranks all predictions).
    """
    check_videos(gt, pred)
    g, p = M.segments(gt, "ground truth"), M.segments(pred, "predictions")
    if len(g) == 0:
        raise NfblError("ground truth holds no events: nothing to score against")
    anet = M.detection_ap(g, p, M.THRESHOLDS_ACTIVITYNET)
    thumos = M.detection_ap(g, p, M.THRESHOLDS_THUMOS, keep_curves=False)
    f1 = M.f1_at_tiou(g, p, tiou, min_score=min_score)
    frame = M.frame_metrics(gt, pred, fps=fps, num_frames=video_frames(gt, pred, fps),
                            min_score=min_score)

    k50 = int(np.flatnonzero(np.isclose(anet.thresholds, 0.5))[0])
    classes = sorted(set(f1.per_class) | set(int(c) for c in anet.classes))
    rows = []
    for c in classes:
        in_gt = c in set(int(x) for x in anet.classes)
        ap_row = anet.ap_of(c) if in_gt else None
        ap_th = thumos.ap_of(c) if in_gt else None
        prf = f1.per_class.get(c, M.PRF.from_counts(0, 0, 0))
        fr = frame.per_class.get(c)
        rows.append({
            "class_id": c, "code": f"N{c}", "name": class_name(c),
            "n_gt": int(np.count_nonzero(g.class_id == c)),
            "n_pred": int(np.count_nonzero(p.class_id == c)),
            "ap_50": _num(ap_row[k50]) if in_gt else None,
            "ap_50_95": _num(ap_row.mean()) if in_gt else None,
            "ap_30_70": _num(ap_th.mean()) if in_gt else None,
            "f1": _num(prf.f1), "precision": _num(prf.precision), "recall": _num(prf.recall),
            "tp": prf.tp, "fp": prf.fp, "fn": prf.fn,
            "frame_f1": None if fr is None else _num(fr.f1),
            "frame_kappa": _num(frame.kappa[c]) if c in frame.kappa else None,
        })
    curves = {}
    for c, per_th in anet.curves.items():
        prec, rec = per_th[k50]
        if prec.size > curve_points:
            idx = np.unique(np.linspace(0, prec.size - 1, curve_points).round().astype(int))
            prec, rec = prec[idx], rec[idx]
        curves[f"N{c}"] = {"precision": [round(float(x), 5) for x in prec],
                           "recall": [round(float(x), 5) for x in rec]}
    return {
        "counts": {"gt_events": len(g), "pred_events": len(p),
                   "gt_videos": int(np.unique(g.video.astype(str)).size),
                   "pred_videos": int(np.unique(p.video.astype(str)).size),
                   "gt_classes": int(anet.classes.size)},
        "f1": _f1_entry(f1, tiou, min_score),
        "map": {
            "activitynet": {"thresholds": [round(float(t), 4) for t in anet.thresholds],
                            "map": [_num(x) for x in anet.mAP],
                            "average_map": _num(anet.average_map)},
            "thumos": {"thresholds": [round(float(t), 4) for t in thumos.thresholds],
                       "map": [_num(x) for x in thumos.mAP],
                       "average_map": _num(thumos.average_map)},
        },
        "frame": {"fps": float(fps), "num_frames": frame.num_frames,
                  "macro_f1": _num(frame.macro_f1), "exact_match": _num(frame.exact_match),
                  "hamming_accuracy": _num(frame.hamming_accuracy),
                  "jaccard": _num(frame.jaccard), "macro_kappa": _num(frame.macro_kappa)},
        "classes": rows,
        "pr_curves": {"tiou": 0.5, "curves": curves},
    }


def summary_table(result: dict, classes: Sequence[dict] | None = None) -> str:
    """Plain-text table of the headline numbers and the per-class rows (for the terminal)."""
    f1, anet, th, fr, n = (result["f1"], result["map"]["activitynet"], result["map"]["thumos"],
                           result["frame"], result["counts"])
    fmt = lambda x: "  -  " if x is None else f"{x:.3f}"  # noqa: E731
    lines = [
        f"ground truth: {n['gt_events']} events in {n['gt_videos']} videos, "
        f"{n['gt_classes']} classes; predictions: {n['pred_events']} events",
        f"F1@tIoU {f1['tiou']:g} (MiGA, micro): {fmt(f1['f1'])}  P {fmt(f1['precision'])}  "
        f"R {fmt(f1['recall'])}  (TP {f1['tp']}, FP {f1['fp']}, FN {f1['fn']}); "
        f"macro-F1 {fmt(f1['macro_f1'])}",
        f"mAP (ActivityNet) @0.5 {fmt(anet['map'][0])}  @0.75 {fmt(anet['map'][5])}  "
        f"avg 0.5:0.95 {fmt(anet['average_map'])};  avg 0.3:0.7 {fmt(th['average_map'])}",
        f"frame level ({fr['fps']:g} fps, {fr['num_frames']} frames): macro-F1 "
        f"{fmt(fr['macro_f1'])}  exact-match {fmt(fr['exact_match'])}  "
        f"Hamming acc {fmt(fr['hamming_accuracy'])}  Jaccard {fmt(fr['jaccard'])}  "
        f"macro-kappa {fmt(fr.get('macro_kappa'))}",
        "",
        f"{'code':<5} {'name':<32} {'#gt':>6} {'#pred':>6} {'AP@.5':>6} {'AP.5:.95':>8} "
        f"{'F1':>6} {'P':>6} {'R':>6} {'frameF1':>7} {'kappa':>6}",
    ]
    for r in classes if classes is not None else result["classes"]:
        lines.append(f"{r['code']:<5} {r['name'][:32]:<32} {r['n_gt']:>6} {r['n_pred']:>6} "
                     f"{fmt(r['ap_50']):>6} {fmt(r['ap_50_95']):>8} {fmt(r['f1']):>6} "
                     f"{fmt(r['precision']):>6} {fmt(r['recall']):>6} {fmt(r['frame_f1']):>7} "
                     f"{fmt(r.get('frame_kappa')):>6}")
    return "\n".join(lines)


def _media_stem(path: str) -> str:
    return Path(str(path).replace("\\", "/")).stem


def coder_pairs(stream: EventStream) -> list[tuple[str, str]]:
    """``(video A, video B)`` for the videos of one stream that code the same media file
    (``meta["media"]``, e.g. two coders' observations in one BORIS project), matched by the
    media file's stem. With more than two codings of one media file the first two (by video
    id) are paired and the others named in a warning."""
    media = stream.meta.get("media") if isinstance(stream.meta, dict) else None
    groups: dict[str, list[str]] = {}
    for vid, m in (media.items() if isinstance(media, dict) else ()):
        groups.setdefault(_media_stem(m), []).append(str(vid))
    pairs = []
    for stem, vids in sorted(groups.items()):
        vids = sorted(vids)
        if len(vids) > 2:
            log.warning("%s is coded %d times (%s); comparing %s with %s only", stem, len(vids),
                        ", ".join(vids), vids[0], vids[1])
        if len(vids) >= 2:
            pairs.append((vids[0], vids[1]))
    return pairs


def agreement_streams(a: EventStream, b: EventStream | None = None
                      ) -> tuple[EventStream, EventStream, list[tuple[str, str]]]:
    """The two sides of an agreement score, on the same video ids, and the videos compared.

    With ``b``: the videos both streams name (by event or by ``meta["durations"]``); the
    others are named in a warning. Without ``b``: the coder pairs of ``a``
    (:func:`coder_pairs`), the second coder's videos renamed to the first's. A side's
    ``meta["durations"]`` is kept so that frames after the last event count."""
    def known(s: EventStream) -> set[str]:
        d = s.meta.get("durations") if isinstance(s.meta, dict) else None
        return set(s.video_ids) | (set(map(str, d)) if isinstance(d, dict) else set())

    def durations(s: EventStream, rename: dict[str, str]) -> dict:
        d = s.meta.get("durations") if isinstance(s.meta, dict) else None
        return {rename[v]: x for v, x in (d.items() if isinstance(d, dict) else ()) if v in rename}

    if b is None:
        pairs = coder_pairs(a)
        if not pairs:
            raise NfblError("the file holds no two codings of one media file (e.g. two coders' "
                            "observations of one video in a BORIS project); give a second "
                            "event file to compare with")
        ra = {x: x for x, _ in pairs}
        rb = {y: x for x, y in pairs}
        side_a = EventStream(tuple(e for e in a if e.video_id in ra), {"durations": durations(a, ra)})
        side_b = EventStream(tuple(replace(e, video_id=rb[e.video_id]) for e in a
                                   if e.video_id in rb), {"durations": durations(a, rb)})
        return side_a, side_b, pairs
    ka, kb = known(a), known(b)
    common = sorted(ka & kb)
    if not common:
        raise NfblError(f"the two files share no video ({_names(ka)}; {_names(kb)}); check the "
                        "video ids")
    if ka ^ kb:
        log.warning("%d video(s) coded on one side only are left out: %s", len(ka ^ kb),
                    _names(ka ^ kb))
    keep = {v: v for v in common}
    return (EventStream(tuple(e for e in a if e.video_id in keep), {"durations": durations(a, keep)}),
            EventStream(tuple(e for e in b if e.video_id in keep), {"durations": durations(b, keep)}),
            [(v, v) for v in common])


def agreement(a: EventStream, b: EventStream | None = None, tiou: float = M.MIGA_TIOU,
              fps: float = 25.0) -> dict:
    """How two codings agree (two coders, or a coder and a detector), as a JSON-able dict.

    The sides come from :func:`agreement_streams` (``b`` None: the coder pairs of a BORIS
    project). Keys: ``pairs``; ``event_f1`` (one-to-one F1@``tiou``, symmetric up to ties);
    ``frame`` (frame metrics with ``macro_kappa``); ``classes`` (per class: events of each
    side ``n_first``/``n_second``, F1, frame F1, frame Cohen's kappa); ``videos`` (per
    compared video: events of each side, event F1, macro kappa). A side without events is
    scored the other way round (both statistics are symmetric)."""
    side_a, side_b, pairs = agreement_streams(a, b)
    if not len(side_a) and not len(side_b):
        raise NfblError("neither coding has an NFBL event in the videos compared")

    def score(x: EventStream, y: EventStream) -> tuple[dict, bool]:
        swapped = not len(x)
        return (evaluate(y, x, tiou=tiou, fps=fps) if swapped else
                evaluate(x, y, tiou=tiou, fps=fps)), swapped

    def sub(s: EventStream, vid: str) -> EventStream:
        d = s.meta.get("durations") or {}
        return EventStream(s.for_video(vid).events, {"durations": {vid: d[vid]} if vid in d else {}})

    result, swapped = score(side_a, side_b)
    first, second = ("n_pred", "n_gt") if swapped else ("n_gt", "n_pred")
    videos = []
    for x, y in pairs:
        va, vb = sub(side_a, x), sub(side_b, x)
        row = {"first": x, "second": y, "n_first": len(va), "n_second": len(vb),
               "event_f1": None, "macro_kappa": None}
        if len(va) or len(vb):
            r, _ = score(va, vb)
            row["event_f1"], row["macro_kappa"] = r["f1"]["f1"], r["frame"]["macro_kappa"]
        videos.append(row)
    return {"pairs": [list(p) for p in pairs], "event_f1": result["f1"], "frame": result["frame"],
            "counts": {"first": len(side_a), "second": len(side_b)},
            "classes": [{"class_id": r["class_id"], "code": r["code"], "name": r["name"],
                         "n_first": r[first], "n_second": r[second], "f1": r["f1"],
                         "frame_f1": r["frame_f1"], "frame_kappa": r["frame_kappa"]}
                        for r in result["classes"]],
            "videos": videos}
