"""nfbl.exports.decoding: dense outputs → events (numpy only), targets, streaming decoder."""
from __future__ import annotations

import numpy as np
import pytest

from nfbl.exports import decoding
from nfbl.exports.decoding import DecodeConfig, OnlineDecoder, decode, encode
from nfbl.core.errors import NfblError
from nfbl.core.events import Event

FPS = 25.0
CLASSES = (16, 22, 34)


def _dense(segments, t=500, noise=0.0, seed=0):
    """Ideal dense outputs for (class column, start frame, end frame) segments."""
    rng = np.random.default_rng(seed)
    probs = np.full((t, len(CLASSES)), 0.02, np.float32) + noise * rng.random((t, len(CLASSES)),
                                                                            dtype=np.float32)
    offsets = np.zeros((t, len(CLASSES), 2), np.float32)
    for c, a, b in segments:
        f = np.arange(a, b)
        centre = (a + b - 1) / 2
        probs[a:b, c] = 0.95 - 0.4 * np.abs(f - centre) / max(b - a, 1)
        offsets[a:b, c, 0] = f - a
        offsets[a:b, c, 1] = b - f
    return probs, offsets


def test_ideal_outputs_decode_to_the_segments():
    segs = [(0, 10, 60), (0, 100, 130), (1, 40, 90), (2, 200, 260), (1, 250, 400)]
    probs, offsets = _dense(segs)
    ts = np.arange(500) / FPS + 3.0
    events = decode(probs, offsets, ts, CLASSES, DecodeConfig(threshold=0.5), video_id="v",
                    track_id=4, model="m@1", fps=FPS)
    got = sorted((e.class_id, round(e.start, 6), round(e.end, 6)) for e in events)
    want = sorted((CLASSES[c], round(3.0 + a / FPS, 6), round(3.0 + b / FPS, 6)) for c, a, b in segs)
    assert got == want
    assert all(e.video_id == "v" and e.track_id == 4 and e.model == "m@1" for e in events)
    # best frame of each segment is its centre: score 0.95 - small
    assert all(0.9 < e.score <= 0.95 for e in events)


def test_overlapping_events_of_one_class_and_noise():
    # two overlapping events of class 0 whose frames predict different segments
    t = 300
    probs, offsets = _dense([(0, 50, 150)], t=t, noise=0.05, seed=3)
    probs2, offsets2 = _dense([(0, 120, 220)], t=t)
    late = np.arange(150, 220)
    probs[late, 0], offsets[late] = probs2[late, 0], offsets2[late]
    events = decode(probs, offsets, np.arange(t) / FPS, CLASSES, DecodeConfig(threshold=0.5))
    spans = sorted((round(e.start * FPS), round(e.end * FPS)) for e in events if e.class_id == 16)
    assert spans == [(50, 150), (120, 220)]


def test_min_duration_threshold_and_top_k():
    probs, offsets = _dense([(0, 10, 12), (0, 50, 90), (1, 100, 200)])
    cfg = DecodeConfig(threshold=0.5, min_duration_s=0.2)
    events = decode(probs, offsets, np.arange(500) / FPS, CLASSES, cfg)
    assert sorted((e.class_id, round(e.start * FPS)) for e in events) == [(16, 50), (22, 100)]
    assert decode(probs, offsets, np.arange(500) / FPS, CLASSES, DecodeConfig(threshold=0.99)) == []
    # no NMS (iou 1.0) keeps one candidate per frame; top_k caps them per cluster
    many = decode(probs, offsets, np.arange(500) / FPS, CLASSES,
                  DecodeConfig(threshold=0.5, nms_iou=1.0, top_k=3))
    assert sum(e.class_id == 22 for e in many) == 3


def test_soft_nms_keeps_the_best_and_decays_duplicates():
    probs, offsets = _dense([(2, 100, 160)])
    ts = np.arange(500) / FPS
    soft = decode(probs, offsets, ts, CLASSES, DecodeConfig(threshold=0.5, soft_nms=True,
                                                           min_score=0.3))
    hard = decode(probs, offsets, ts, CLASSES, DecodeConfig(threshold=0.5))
    assert len(hard) == 1
    best = max(soft, key=lambda e: e.score)
    assert (best.start, best.end, best.score) == (hard[0].start, hard[0].end, hard[0].score)
    # identical duplicates decay to exp(-1/sigma) of their score: below min_score
    assert len(soft) == 1


def test_runs_fallback_without_offsets():
    probs, _ = _dense([(0, 10, 60), (1, 70, 75)])
    events = decode(probs, None, np.arange(500) / FPS, CLASSES, DecodeConfig(threshold=0.5))
    assert [(e.class_id, round(e.start * FPS), round(e.end * FPS)) for e in events] == \
        [(16, 10, 60), (22, 70, 75)]
    assert events[0].score == pytest.approx(float(np.mean(probs[10:60, 0])))


def test_offsets_are_clamped_and_segments_clipped():
    probs, offsets = _dense([(0, 0, 40)], t=100)
    offsets[:40, 0, 0] += 1000.0  # absurd start distance → clipped at frame 0
    offsets[:40, 0, 1] += 5000.0  # absurd end distance → clamped to max_duration, clipped at T
    ev = decode(probs, offsets, np.arange(100) / FPS, CLASSES, DecodeConfig(threshold=0.5),
                fps=FPS)
    assert len(ev) == 1 and ev[0].start == 0.0 and ev[0].end == pytest.approx(100 / FPS)


def test_variable_frame_rate_uses_timestamps():
    probs, offsets = _dense([(0, 10, 20)], t=40)
    ts = np.cumsum(np.r_[0.0, np.where(np.arange(39) % 2, 0.03, 0.05)])
    ev = decode(probs, offsets, ts, CLASSES, DecodeConfig(threshold=0.5))
    assert ev[0].start == pytest.approx(ts[10]) and ev[0].end == pytest.approx(ts[20])


def test_encode_decode_round_trip():
    events = [Event("v", 16, 1.0, 2.4), Event("v", 16, 2.0, 3.0), Event("v", 34, 0.4, 0.8),
              Event("v", 22, 5.0, 7.96)]
    ts = np.arange(250) / FPS
    labels, offsets = encode(events + [Event("v", 3, 1.0, 2.0)], ts, CLASSES, FPS)
    assert labels.shape == (250, 3) and offsets.shape == (250, 3, 2)
    assert labels[:, 0].sum() == round((3.0 - 1.0) * FPS)  # union of the two N16 events
    # frame 55 (2.2 s) lies in both N16 events: it takes the shorter one [2.0, 3.0)
    assert offsets[55, 0].tolist() == pytest.approx([5.0, 20.0])
    out = decode(labels * 0.9, offsets, ts, CLASSES, DecodeConfig(threshold=0.5, nms_iou=0.95))
    got = sorted((e.class_id, round(e.start, 3), round(e.end, 3)) for e in out)
    assert got == sorted((e.class_id, e.start, e.end) for e in events)


def test_frames_seconds_conversion():
    ts = np.array([1.0, 1.04, 1.10, 1.14])
    f = np.array([-1.0, 0.0, 1.5, 3.0, 4.0])
    s = decoding.frames_to_seconds(f, ts, fps=25.0)
    assert s.tolist() == pytest.approx([0.96, 1.0, 1.07, 1.14, 1.18])
    assert decoding.seconds_to_frames(s, ts, fps=25.0).tolist() == pytest.approx(f.tolist())


def test_bad_shapes_and_config():
    with pytest.raises(NfblError, match="probs must have shape"):
        decode(np.zeros((10, 2)), None, np.arange(10) / FPS, CLASSES)
    with pytest.raises(NfblError, match="timestamps"):
        decode(np.zeros((10, 3)), None, np.arange(9) / FPS, CLASSES)
    with pytest.raises(NfblError, match="offsets must have shape"):
        decode(np.zeros((10, 3)), np.zeros((10, 3)), np.arange(10) / FPS, CLASSES)
    with pytest.raises(NfblError, match="threshold"):
        DecodeConfig(threshold=1.5)
    assert decode(np.zeros((0, 3)), None, np.zeros(0), CLASSES) == []
    assert DecodeConfig.from_dict({"threshold": 0.3}).threshold == 0.3
    with pytest.raises(NfblError, match="unknown key 'future_key'"):
        DecodeConfig.from_dict({"threshold": 0.3, "future_key": 1})
    with pytest.raises(NfblError, match="must be a number"):
        DecodeConfig.from_dict({"threshold": "0.3"})


@pytest.mark.parametrize("use_offsets", [True, False])
def test_online_decoder_equals_offline(use_offsets):
    rng = np.random.default_rng(7)
    t = 3000
    segs = []
    for c in range(3):
        f = 0
        while True:
            f += int(rng.integers(5, 120))
            d = int(rng.integers(3, 90))
            if f + d >= t:
                break
            segs.append((c, f, f + d))
            f += d - int(rng.integers(0, 20))
    probs, offsets = _dense(segs, t=t, noise=0.5, seed=8)
    offsets = offsets + rng.random(offsets.shape, dtype=np.float32) * 30
    ts = 10.0 + np.arange(t) / FPS
    cfg = DecodeConfig(threshold=0.55, max_duration_s=4.0, use_offsets=use_offsets)
    offline = decode(probs, offsets, ts, CLASSES, cfg, video_id="v", fps=FPS)
    dec = OnlineDecoder(CLASSES, cfg, FPS, video_id="v")
    online, i, early = [], 0, 0
    while i < t:
        n = int(rng.integers(1, 300))
        got = dec.push(probs[i:i + n], offsets[i:i + n], ts[i:i + n])
        early += len(got)
        online += got
        i += n
    online += dec.finish()
    assert len(offline) > 50
    assert early > len(offline) // 2  # most events came out before the end
    assert decoding.sort_events(online) == offline


# --- class_bias (label-shift correction) ------------------------------------------------------

def test_class_bias_is_a_logit_offset():
    p = np.array([[0.2, 0.5, 0.9]], np.float32)
    out = decoding.apply_class_bias(p, (np.log(4.0), 0.0, -np.log(9.0)))
    # odds 0.25 * 4 = 1 -> 0.5; unchanged; odds 9 / 9 = 1 -> 0.5
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.5]], atol=1e-6)
    assert decoding.apply_class_bias(p, ()) is p


def test_class_bias_changes_which_events_pass_offline_and_online():
    probs, offsets = _dense([(0, 50, 100), (1, 200, 260), (2, 300, 330)])
    ts = np.arange(len(probs)) / FPS
    cfg = DecodeConfig(threshold=0.5)
    base = decode(probs, offsets, ts, CLASSES, cfg, fps=FPS)
    assert sorted({e.class_id for e in base}) == [16, 22, 34]
    biased = DecodeConfig(threshold=0.5, class_bias=(0.0, -6.0, 0.0))
    got = decode(probs, offsets, ts, CLASSES, biased, fps=FPS)
    assert sorted({e.class_id for e in got}) == [16, 34]
    # a positive offset raises the scores of the class's events
    up = decode(probs, offsets, ts, CLASSES, DecodeConfig(threshold=0.5, class_bias=(1.0, 0, 0)),
                fps=FPS)
    s0 = max(e.score for e in base if e.class_id == 16)
    s1 = max(e.score for e in up if e.class_id == 16)
    assert s1 > s0
    dec = OnlineDecoder(CLASSES, biased, fps=FPS)
    online = []
    for a in range(0, len(probs), 37):
        online += dec.push(probs[a:a + 37], offsets[a:a + 37], ts[a:a + 37])
    online += dec.finish()
    assert sorted(online, key=lambda e: (e.start, e.class_id)) == sorted(
        got, key=lambda e: (e.start, e.class_id))


def test_class_bias_config_is_checked():
    with pytest.raises(NfblError, match="finite"):
        DecodeConfig(class_bias=(0.0, float("nan")))
    cfg = DecodeConfig.from_dict({"class_bias": [0.5, -1, 2]})
    assert cfg.class_bias == (0.5, -1.0, 2.0)
    assert DecodeConfig.from_dict(cfg.to_dict()) == cfg
    probs, offsets = _dense([(0, 50, 100)])
    with pytest.raises(NfblError, match="one logit offset per class"):
        decode(probs, offsets, np.arange(len(probs)) / FPS, CLASSES,
               DecodeConfig(class_bias=(1.0, 2.0)), fps=FPS)
