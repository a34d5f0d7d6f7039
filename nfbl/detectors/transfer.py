"""Sim-to-real tools that need no retraining (numpy only; no torch import).

- :func:`frame_priors`: per-class frame prior (share of frames inside an event of the class)
  of synthetic timelines (:func:`nfbl.synth.timeline.sample_timeline`), either as they are
  (``power=None``: iMiGUE class shares with ``flatten_tail=0`` = the real interview prior)
  or as the class-balanced window sampler of training sees them
  (:func:`nfbl.detectors.data.balanced_weights` over ``window``/``stride`` windows);
- :func:`logit_adjustment`: decode-time label-shift correction, ``tau * (log-odds(real
  prior) - log-odds(training prior))`` per class, for
  :attr:`nfbl.exports.decoding.DecodeConfig.class_bias`;
- :func:`real_behaviour`: run a detector on unlabelled real keypoint sequences and report the
  event rate (events/min), class mix and the share of time covered by events, next to the
  iMiGUE reference (:func:`imigue_reference`).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

import numpy as np

from nfbl.core.events import Event
from nfbl.detectors.data import balanced_weights, window_starts
from nfbl.exports.decoding import DecodeConfig
from nfbl.prompts.aggregate import union_length
from nfbl.synth import timeline as TL

log = logging.getLogger(__name__)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def frame_priors(classes: Sequence[int], flatten_tail: float, videos: int = 200,
                 minutes: float = 5.0, fps: float = 25.0, seed: int = 0,
                 window: int = 256, stride: int = 128, power: float | None = None,
                 background_weight: float = 0.5) -> np.ndarray:
    """Per-class frame prior ``(C,)`` (share of frames, in [0, 1]) of ``videos`` synthetic
    timelines of ``minutes`` each (seeded; timelines only, no motion is generated).

    ``power=None``: the share of all frames. Otherwise every ``window``-frame window
    (``stride`` apart) is weighted as the class-balanced sampler weights it
    (``max_c freq(c) ** -power``, event-free windows ``background_weight`` × the median) and
    the prior is the weighted mean of the windows' per-class frame shares.
    """
    classes = [int(c) for c in classes]
    col = {c: i for i, c in enumerate(classes)}
    probs = TL.class_probabilities([c for c in classes if c in col], flatten_tail)
    n = int(round(minutes * 60.0 * fps))
    rng = np.random.default_rng(seed)
    shares, wclasses = [], []
    for _ in range(videos):
        plan = TL.sample_timeline(rng, n, fps, probs)
        pos = np.zeros((n, len(classes)), dtype=bool)
        for ev in plan:
            pos[max(0, ev.start):min(n, ev.end), col[ev.class_id]] = True
        if power is None:
            shares.append(pos.mean(axis=0, keepdims=True))
            continue
        starts = window_starts(n, window, stride)
        csum = np.concatenate([np.zeros((1, len(classes))), np.cumsum(pos, axis=0)])
        frac = (csum[starts + window] - csum[starts]) / float(window)
        shares.append(frac)
        wclasses.append(frac > 0)
    share = np.concatenate(shares)
    if power is None:
        return share.mean(axis=0)
    w = balanced_weights(np.concatenate(wclasses), power, background_weight)
    return (w[:, None] * share).sum(axis=0)


def real_frame_priors(classes: Sequence[int], videos: int = 500, seed: int = 0,
                      floor: float = 1e-4) -> np.ndarray:
    """The real-interview frame prior ``(C,)``: :func:`frame_priors` with iMiGUE's class
    shares (``flatten_tail=0``), scaled by the share of iMiGUE events whose class is among
    ``classes`` (the timelines hand the whole iMiGUE rate to the given classes; events of
    classes the model does not emit, e.g. N1 and N28, are no frames of these), floored at
    ``floor`` (classes iMiGUE has (almost) never seen would get unbounded offsets)."""
    stats = TL.load_stats()
    total = sum(float(r["share"]) for r in stats["classes"])
    mine = sum(TL.imigue_share(int(c), stats) for c in classes)
    prior = frame_priors(classes, 0.0, videos=videos, seed=seed) * (mine / total)
    return np.maximum(prior, floor)


def logit_adjustment(real_prior: np.ndarray, train_prior: np.ndarray, tau: float = 1.0) -> np.ndarray:
    """Logit offsets ``(C,)``: ``tau * (logit(real_prior) - logit(train_prior))`` (priors
    clipped to [1e-6, 1 - 1e-6]). Added to a per-class sigmoid's logit, it turns a posterior
    under the training prior into one under the real prior (tau = 1; Menon et al. 2021,
    "Long-tail learning via logit adjustment", in its binary one-vs-rest form)."""
    return float(tau) * (_logit(real_prior) - _logit(train_prior))


def imigue_reference() -> dict:
    """What real iMiGUE interviews look like: events per minute (quartiles), class shares,
    and the expected share of time inside at least one event (from the rate and the mean
    durations, assuming independent placement: a rough reference)."""
    stats = TL.load_stats()
    fps = float(stats["fps"])
    u = np.linspace(0.0005, 0.9995, 1000)
    rate = float(stats["events_per_minute"]["p50"])
    covered = 0.0
    shares = {}
    for row in stats["classes"]:
        share = float(row["share"])
        shares[f"N{int(row['id'])}"] = share
        mean_s = float(TL.inverse_cdf(u, TL.duration_knots(int(row["id"]), stats)).mean()) / fps
        covered += rate * share * mean_s / 60.0
    top = dict(sorted(shares.items(), key=lambda kv: -kv[1])[:6])
    return {"events_per_minute": dict(stats["events_per_minute"]),
            "top_class_shares": {k: round(v, 3) for k, v in top.items()},
            "covered_share_approx": round(1.0 - float(np.exp(-covered)), 3),
            "source": stats.get("source", "")}


def real_behaviour(detector, sequences: Sequence, names: Sequence[str] | None = None,
                   decode: DecodeConfig | None = None, min_score: float | None = None) -> dict:
    """Run ``detector`` (:class:`nfbl.exports.runtime.DenseDetector`) on unlabelled real
    :class:`~nfbl.core.sequence.PoseSequence` s (the interviewee of each) and summarise.

    Events count when scored ``>= min_score`` (default: the decode threshold). Returns
    ``{"files": [...per sequence...], "total": {...}, "reference": imigue_reference()}``;
    each summary has ``seconds``, ``events``, ``events_per_minute``, ``covered_share``
    (share of time inside at least one event), ``class_mix`` (code → count) and
    ``contact_check_removed`` (code → count of events scored ``>= min_score`` that the
    contact check dropped; empty when it is off).
    """
    cfg = detector.decode_config(decode)
    thr = cfg.threshold if min_score is None else float(min_score)
    names = list(names) if names is not None else [s.video_id for s in sequences]
    files, all_events, all_removed, total_s, total_cov = [], [], [], 0.0, 0.0
    for name, seq in zip(names, sequences):
        detector.card.check_layout(seq.layout)
        seconds = float(seq.duration)
        stream = detector.detect(seq, decode=cfg)
        got = [e for e in stream.events if e.score >= thr]
        cov = union_length(got)
        files.append(_summary(name, seconds, got, cov))
        removed = [row[1] for row in stream.meta.get("contact_check_dropped", []) if row[4] >= thr]
        files[-1]["contact_check_removed"] = _mix(removed)
        files[-1]["hand_detail"] = stream.meta.get("hand_detail")
        all_removed += removed
        all_events += got
        total_s += seconds
        total_cov += cov
    total = {**_summary("total", total_s, all_events, total_cov),
             "contact_check_removed": _mix(all_removed)}
    return {"model": detector.model_tag, "min_score": thr, "decode": cfg.to_dict(),
            "files": files, "total": total, "reference": imigue_reference()}


def _mix(codes: Sequence[str]) -> dict[str, int]:
    """Class code → count, most frequent first."""
    mix: dict[str, int] = {}
    for code in codes:
        mix[code] = mix.get(code, 0) + 1
    return dict(sorted(mix.items(), key=lambda kv: (-kv[1], kv[0])))


def _summary(name: str, seconds: float, events: Sequence[Event], covered_s: float) -> dict:
    mix = _mix([f"N{int(e.class_id)}" for e in events])
    covered = covered_s / seconds if seconds > 0 else 0.0
    return {"name": name, "seconds": round(seconds, 2), "events": len(events),
            "events_per_minute": round(60.0 * len(events) / seconds, 2) if seconds > 0 else 0.0,
            "covered_share": round(min(covered, 1.0), 3),
            "class_mix": dict(sorted(mix.items(), key=lambda kv: (-kv[1], kv[0])))}


def with_bias(cfg: DecodeConfig, bias: Sequence[float]) -> DecodeConfig:
    """``cfg`` with ``class_bias`` replaced (rounded to 4 decimals)."""
    return replace(cfg, class_bias=tuple(round(float(b), 4) for b in bias))
