"""Aggregator statistics (golden numbers on a hand-made stream) and the timeline budget."""
from __future__ import annotations

import re

import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.prompts.aggregate import (DURATION_GIVEN, DURATION_LAST_EVENT, DURATION_META,
                                    FEATURE_NAMES, AggregateConfig, bursts, feature_matrix,
                                    feature_vector, read_durations, summarise, summarise_video)
from nfbl.prompts.summary_text import clock, summary_text, timeline_text


def hand_made() -> EventStream:
    """Ten events of video "v" (90 s): nine of person 0, one of person 1."""
    E = Event
    return EventStream((
        E("v", 16, 0.0, 10.0, 0.8), E("v", 22, 5.0, 8.0, 0.6), E("v", 22, 12.0, 14.0, 0.9),
        E("v", 31, 13.0, 20.0, 0.7), E("v", 3, 40.0, 42.0, 1.0), E("v", 16, 65.0, 75.0, 0.5),
        E("v", 31, 66.0, 67.0, 0.6), E("v", 31, 68.0, 69.0, 0.6), E("v", 22, 70.0, 71.0, 0.5),
        E("v", 16, 30.0, 33.0, 0.4, track_id=1),
    ))


def test_golden_video_statistics():
    s = summarise_video(hand_made(), "v", duration_s=90.0)
    assert s.duration_source == DURATION_GIVEN
    assert s.count == 10
    assert s.rate_per_min == pytest.approx(10 / 1.5)
    assert s.total_s == pytest.approx(40.0)
    assert s.mean_s == pytest.approx(4.0)
    assert s.mean_score == pytest.approx(0.66)
    assert s.coverage_s == pytest.approx(33.0)
    assert s.thirds == (4, 2, 4)
    assert s.track_ids == (0, 1)
    got = {c.key: (c.count, round(c.rate_per_min, 6), c.total_s, round(c.mean_s, 6), c.thirds)
           for c in s.classes}
    assert got == {"N16": (3, 2.0, 23.0, round(23 / 3, 6), (1, 1, 1)),
                   "N22": (3, 2.0, 6.0, 2.0, (2, 0, 1)),
                   "N31": (3, 2.0, 9.0, 3.0, (1, 0, 2)),
                   "N3": (1, round(1 / 1.5, 6), 2.0, 2.0, (0, 1, 0))}
    assert [c.key for c in s.classes] == ["N16", "N22", "N31", "N3"]  # by count, then id
    assert [(r.key, r.count, r.total_s) for r in s.regions] == [
        ("hands", 6, 15.0), ("arms", 3, 23.0), ("head", 1, 2.0)]
    assert [(c.class_a, c.class_b, c.count, c.overlap_s) for c in s.cooccurrences] == [
        (16, 22, 2, 4.0), (16, 31, 2, 2.0), (22, 31, 1, 1.0)]
    assert [(b.start, b.end, b.count, b.classes) for b in s.bursts] == [(65.0, 75.0, 4, (31, 16, 22))]
    assert [(p.track_id, p.count) for p in s.persons] == [(0, 9), (1, 1)]
    assert s.persons[1].cooccurrences == () and s.persons[1].bursts == ()


def test_golden_feature_vector():
    s = summarise_video(hand_made(), "v", duration_s=90.0)
    v = dict(zip(FEATURE_NAMES, feature_vector(s)))
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 92
    assert FEATURE_NAMES[:3] == ("duration_s", "events_per_min", "coverage_share")
    assert FEATURE_NAMES[-1] == "burst_event_share"
    expected = {"duration_s": 90.0, "events_per_min": 10 / 1.5, "coverage_share": 33 / 90,
                "mean_event_s": 4.0, "mean_score": 0.66, "n_persons": 2.0,
                "N16_per_min": 2.0, "N16_time_share": 23 / 90, "N3_per_min": 1 / 1.5,
                "N0_per_min": 0.0, "N34_per_min": 0.0, "hands_per_min": 4.0,
                "hands_time_share": 15 / 90, "face_per_min": 0.0, "third1_share": 0.4,
                "third2_share": 0.2, "third3_share": 0.4, "cooccurrence_pairs_per_min": 5 / 1.5,
                "bursts_per_min": 1 / 1.5, "burst_event_share": 0.4}
    for k, want in expected.items():
        assert v[k] == pytest.approx(want), k
    assert feature_matrix([s, s]).shape == (2, 92)
    assert feature_matrix([]).shape == (0, 92)


def test_duration_sources(tmp_path):
    st = hand_made()
    s = summarise_video(st, "v")
    assert (s.duration_s, s.duration_source) == (75.0, DURATION_LAST_EVENT)
    assert "at least 01:15" in summary_text(s)
    meta = EventStream(st.events, {"videos": {"v": {"duration": 120}}})
    assert summarise_video(meta, "v").duration_source == DURATION_META
    assert summarise_video(meta, "v").duration_s == 120.0
    p = tmp_path / "d.csv"
    p.write_text("video,duration\nv,100\n")
    assert summarise(st, durations=read_durations(p))[0].duration_s == 100.0
    with pytest.raises(NfblError, match="positive number"):
        summarise_video(st, "v", duration_s=-1)
    two = EventStream(st.events + (Event("w", 3, 1, 2),))
    with pytest.raises(NfblError, match="durations table"):
        summarise(two, duration_s=50)


def test_empty_video_summary():
    s = summarise_video(EventStream(()), "nothing")
    assert s.empty and s.duration_s is None
    text = summary_text(s)
    assert "No NFBL" in text and "Video length: unknown" in text
    assert np.all(feature_vector(s) == 0)


def test_bursts_merge_and_config():
    ev = [Event("v", 22, t, t + 0.5) for t in (0, 1, 2, 3, 4, 5, 30, 31)]
    b = bursts(ev, window_s=10.0, min_events=4)
    assert [(x.start, x.end, x.count) for x in b] == [(0.0, 5.5, 6)]
    assert bursts(ev, window_s=10.0, min_events=7) == ()
    with pytest.raises(NfblError):
        AggregateConfig(burst_min_events=1)


def test_unknown_class_is_an_error():
    with pytest.raises(NfblError, match="unknown NFBL class"):
        Event("v", 40, 0.0, 1.0)


def test_timeline_lines_golden():
    tl = timeline_text(list(hand_made()), max_chars=6000)
    lines = tl.text.splitlines()
    assert lines[0] == "[00:00–00:10] P0 N16 Folding arms (0.80)"
    assert lines[3] == "[00:13–00:20] P0 N31 Illustrative hand gestures (0.70)"
    assert len(lines) == 10 and tl.n_omitted == 0 and not tl.merged
    one = timeline_text([Event("v", 16, 61.2, 63.5, 0.834)])
    assert one.text == "[01:01–01:04] N16 Folding arms (0.83)"
    assert clock(3725.0) == "1:02:05"


def _dense_stream(minutes: float = 30.0, per_min: float = 30.0, seed: int = 0) -> EventStream:
    rng = np.random.default_rng(seed)
    n = int(minutes * per_min)
    starts = np.sort(rng.uniform(0, minutes * 60 - 5, n))
    ids = rng.choice([3, 11, 16, 19, 22, 25, 31, 34], n)
    return EventStream(tuple(Event("long", int(c), float(s), float(s + rng.uniform(0.5, 4.0)),
                                   float(rng.uniform(0.2, 1.0))) for s, c in zip(starts, ids)))


@pytest.mark.parametrize("budget", [300, 2000, 6000])
def test_timeline_budget_on_30_minute_dense_stream(budget):
    st = _dense_stream()
    tl = timeline_text(list(st), max_chars=budget)
    assert len(tl.text) <= budget
    assert tl.n_omitted > 0 and tl.n_lines > 0
    note = tl.text.splitlines()[-1]
    m = re.match(r"\(\.\.\. (\d+) more events with lower scores not listed: ", note)
    assert m and int(m.group(1)) == tl.n_omitted
    event_lines = tl.text.splitlines()[:-1]
    assert len(event_lines) == tl.n_lines
    counts = [re.search(r"(?: x(\d+))? \(\d\.\d\d\)$", line) for line in event_lines]
    shown = sum(int(m.group(1)) if m.group(1) else 1 for m in counts)
    assert shown + tl.n_omitted == len(st) == tl.n_events


def test_timeline_keeps_highest_scores():
    ev = [Event("v", 16 if i % 2 else 22, 10.0 * i, 10.0 * i + 1, 0.9 if i % 3 == 0 else 0.1)
          for i in range(300)]
    tl = timeline_text(ev, max_chars=1500)
    scores = re.findall(r"\((\d\.\d\d)\)$", tl.text, re.M)
    assert scores and set(scores) == {"0.90"}
    assert tl.n_omitted == 300 - tl.n_lines


def test_timeline_merges_before_dropping():
    ev = [Event("v", 22, 2.0 * i, 2.0 * i + 1.5, 0.5) for i in range(200)]  # one long fidget run
    tl = timeline_text(ev, max_chars=600)
    assert tl.merged and tl.n_omitted == 0
    assert tl.text == "[00:00–06:40] N22 Rubbing or holding hands x200 (0.50)"


def test_timeline_budget_too_small():
    with pytest.raises(NfblError, match="too small"):
        timeline_text([], max_chars=50)
