"""Praat TextGrids (nfbl.io.praat) on fixtures written the way Praat writes them
(tests/fixtures/events/praat/make_fixtures.py), other tools' layouts, and nfbl's writer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io.event_formats import guess_format, label_counts, read_events, write_events
from nfbl.io.praat import praat_number

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "praat"
LABELS = {"scratch head": 3, "fold arms": 16, "touch nose": 34, "beat": 31}
# the coder's annotation as (code, start, end): the beats are points (one frame at 25 fps)
P03 = [("N3", 1.2837209302325581, 3.9069767441860463),
       ("N16", 5.1162790697674421, 9.4883720930232558),
       ("N31", 6.5581395348837209, 6.5981395348837209),
       ("N31", 7.4418604651162790, 7.4818604651162790),
       ("N34", 9.4883720930232558, 10.255813953488372)]


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def _events(stream):
    return [(e.code, e.start, e.end) for e in stream]


@pytest.mark.parametrize("name", ["P03_m2.TextGrid", "P03_m2_short.TextGrid",
                                  "P03_m2_utf16.TextGrid"])
def test_full_short_and_utf16_grids_give_the_coders_events(name):
    assert guess_format(FIX / name).name == "textgrid"
    s = read_events(FIX / name, label_map=LABELS, tier_map={"speech": None})
    got = _events(s)
    assert [g[0] for g in got] == [p[0] for p in P03]
    for (_, a, b), (_, x, y) in zip(got, P03):
        assert a == pytest.approx(x, abs=1e-12) and b == pytest.approx(y, abs=1e-12)
    vid = name[: -len(".TextGrid")]
    assert {e.video_id for e in s} == {vid} and s.meta["durations"] == {vid: 12.48}
    assert {e.track_id for e in s} == {0} and {e.score for e in s} == {1.0}


def test_the_same_intervals_as_pympi_reads_them():
    """pympi-ling's independent TextGrid reader agrees on Praat's own ASCII layouts."""
    pympi = pytest.importorskip("pympi")
    for name in ("P03_m2.TextGrid", "P03_m2_short.TextGrid"):
        tg = pympi.Praat.TextGrid(str(FIX / name))
        theirs = sorted((round(a, 12), round(b, 12), t) for tier in tg.get_tiers()
                        if tier.tier_type == "IntervalTier" and tier.name == "gesture"
                        for a, b, t in tier.get_intervals() if t)
        mine = sorted((round(e.start, 12), round(e.end, 12), e.code)
                      for e in read_events(FIX / name, label_map=LABELS,
                                           tier_map={"speech": None, "beats": None}))
        names = {"scratch head": "N3", "fold arms": "N16", "touch nose": "N34"}
        assert [(a, b, names[t]) for a, b, t in theirs] == mine


def test_labels_lists_every_tiers_values_with_quotes_and_utf16_text():
    counts = label_counts(FIX / "P03_m2_utf16.TextGrid")
    assert counts["beat"] == 2 and counts['we said "no" to that'] == 1
    assert counts["très bien"] == 1 and "" not in counts


def test_praat_grammar_comments_brackets_exponents_and_signs(tmp_path):
    """Everything but numbers, strings and flags is a comment to Praat: a grid written by
    another tool (no blank line, tabs, ``item[1]``, ``!`` comments, units after numbers,
    exponents, a negative zero, CRLF) reads the same."""
    text = ('File type = "ooTextFile"\r\nObject class = "TextGrid"\r\n'
            "! written by a script\r\n-0 2.5e1 <exists> 1\r\n"
            '\titem[1]: "IntervalTier" "gest" 0s 25s ! type, name, xmin, xmax\r\n'
            "\t\tintervals: size = 3\r\n"
            '\t\tintervals [1]: xmin = 0 xmax = 1e-05 text = ""\r\n'
            '\t\tintervals [2]: xmin = 1e-05 xmax = 12.5 text = "N16"\r\n'
            '\t\tintervals [3]: 12.5 25 "Folding arms|0.25"\r\n')
    path = tmp_path / "other_tool.TextGrid"
    path.write_bytes(text.encode())
    s = read_events(path)
    assert _events(s) == [("N16", 1e-05, 12.5), ("N16", 12.5, 25.0)]
    assert [e.score for e in s] == [1.0, 0.25] and s.meta["durations"] == {"other_tool": 25.0}


def test_writer_is_praats_full_text_format_and_round_trips(tmp_path):
    ev = [Event("P03_m2", 16, 5.12, 9.48, 0.83), Event("P03_m2", 3, 1.28, 3.9, 0.7),
          Event("P03_m2", 34, 6.0, 7.0, 0.91),          # overlaps N16: a second lane
          Event("P03_m2", 31, 2.0, 2.5, 0.6, track_id=2)]
    stream = EventStream(tuple(ev), {"durations": {"P03_m2": 12.48}})
    out = tmp_path / "P03_m2.TextGrid"
    write_events(stream, out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith('File type = "ooTextFile"\nObject class = "TextGrid"\n\n'
                           "xmin = 0 \nxmax = 12.48 \ntiers? <exists> \nsize = 3 \nitem []: \n"
                           '    item [1]:\n        class = "IntervalTier" \n'
                           '        name = "NFBL track 0" \n')
    assert '        name = "NFBL track 0 (2)" ' in text and '"NFBL track 2"' in text
    assert '            text = "N16 Folding arms|0.8300" ' in text
    back = read_events(out)
    assert sorted((e.track_id, e.code, e.start, e.end, e.score) for e in back) == sorted(
        (e.track_id, e.code, e.start, e.end, round(e.score, 4)) for e in ev)
    assert back.meta["durations"] == {"P03_m2": 12.48}
    pympi = pytest.importorskip("pympi")
    tg = pympi.Praat.TextGrid(str(out))            # Praat's layout: gaps are empty intervals
    for tier in tg.get_tiers():
        iv = list(tier.get_intervals())
        assert iv[0][0] == 0 and iv[-1][1] == 12.48
        assert all(a[1] == b[0] for a, b in zip(iv, iv[1:]))


def test_praat_number_format():
    """Praat's digits (15, else 16, else 17), but no exponent: pympi 1.71 reads "1e-05" as
    5.0 and praatio 6.2 refuses it; positional text is the same double to every reader."""
    assert [praat_number(x) for x in (0.0, 2.3, 12.48, 1e-05, 2 / 3, 0.1 + 0.2)] == [
        "0", "2.3", "12.48", "0.00001", "0.6666666666666666", "0.30000000000000004"]
    assert float(praat_number(3.0000000000000004e-05)) == 3.0000000000000004e-05


def test_written_tiny_times_and_empty_streams_read_in_pympi(tmp_path):
    pympi = pytest.importorskip("pympi")
    out = tmp_path / "v.TextGrid"
    write_events(EventStream((Event("v", 16, 1e-05, 0.5, 0.9),)), out)
    (tier,) = pympi.Praat.TextGrid(str(out)).get_tiers()
    assert [iv[:2] for iv in tier.get_intervals()] == [(0, 1e-05), (1e-05, 0.5)]
    write_events(EventStream(()), out)
    assert [t.name for t in pympi.Praat.TextGrid(str(out)).get_tiers()] == ["NFBL track 0"]
    assert len(read_events(out)) == 0


@pytest.mark.parametrize("content, message", [
    (b"ooBinaryFile\x08TextGrid", "binary TextGrid"),
    (b'File type = "ooTextFile"\nObject class = "PitchTier"\n0 1 2\n', "'PitchTier'"),
    (b'File type = "ooTextFile"\nObject class = "TextGrid"\n0 10 <exists> 1 "IntervalTier" '
     b'"g" 0 10 2 0 5 "N3"\n', "ends early"),
    (b'File type = "ooTextFile"\nObject class = "TextGrid"\n0 10 <exists> 1 "IntervalTier" '
     b'"g" 0 10 1 0 5 "N3\n', "not closed"),
    (b'File type = "ooTextFile"\nObject class = "TextGrid"\n0 10 <exists> 1.5\n', "not a count"),
    (b'File type = "ooTextFile"\nObject class = "TextGrid"\n0 10 <exists> 1e999\n', "not a count"),
    (b"video_id,label\n", "ooTextFile"),
])
def test_bad_grids_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.TextGrid"
    path.write_bytes(content)
    with pytest.raises(NfblError, match=message):
        read_events(path)
    res = nfbl("events", "convert", path, tmp_path / "out.jsonl")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("error:") == 1 and "bad.TextGrid" in res.stderr


def test_cli_converts_a_coders_grid_with_a_label_map_and_lists_its_labels(tmp_path):
    lm = tmp_path / "map.json"
    lm.write_text(json.dumps({**{k: f"N{v}" for k, v in LABELS.items()}}))
    out = tmp_path / "P03.jsonl"
    res = nfbl("events", "convert", FIX / "P03_m2.TextGrid", out, "--label-map", lm,
               "--tier-map", _tier_map(tmp_path))
    assert res.returncode == 0, res.stderr
    assert [e.code for e in read_events(out)] == [p[0] for p in P03]
    res = nfbl("events", "labels", FIX / "P03_m2.TextGrid", "-o", tmp_path / "t.json")
    assert res.returncode == 0, res.stderr
    assert "scratch head" in res.stdout and "beat" in res.stdout
    assert set(json.loads((tmp_path / "t.json").read_text())) >= {"scratch head", "beat"}


def _tier_map(tmp_path: Path) -> Path:
    p = tmp_path / "tiers.json"
    p.write_text(json.dumps({"speech": None}))
    return p


def test_fractions_cr_line_ends_and_labels_skipped_on_purpose(tmp_path):
    """Praat reads "1/3" as a number and ends a comment at a lone CR; mapping every label
    to null is an empty stream, not an error; a coder's "Folding arms | both" is a label
    (no score), tabs count as spaces."""
    path = tmp_path / "g.TextGrid"
    path.write_bytes(b'File type = "ooTextFile"\rObject class = "TextGrid"\r! a note\r'
                     b'0 3 <exists> 1 "IntervalTier" "g" 0 3 3\r'
                     b'0 1/3 "Folding arms | both" 1/3 2 "N3\tTouching head" 2 3 "beat"\r')
    s = read_events(path, label_map={"beat": None})
    assert _events(s) == [("N16", 0.0, 1 / 3), ("N3", 1 / 3, 2.0)] and {e.score for e in s} == {1.0}
    assert len(read_events(path, tier_map={"g": None})) == 0
    assert len(read_events(path, label_map={"Folding arms | both": None, "beat": None,
                                            "N3 Touching head": None})) == 0


def test_praat_number_forms_negative_sizes_and_empty_intervals(tmp_path, caplog):
    """Praat's number reader (Melder_a8tof) takes hex and percents; a negative size reads as
    0; a labelled interval without duration is skipped, not fatal; the chronological format
    is named when refused."""
    path = tmp_path / "g.TextGrid"
    path.write_text('File type = "ooTextFile"\nObject class = "TextGrid"\n'
                    '0 0x10 <exists> 2 "IntervalTier" "g" 0 0x10 3\n'
                    '0 200%/2 "N3" 300%/2 2 "N16" 2 2 "N34"\n'
                    '"TextTier" "p" 0 16 -10\n')
    with caplog.at_level("WARNING"):
        s = read_events(path)
    assert _events(s) == [("N3", 0.0, 1.0), ("N16", 1.5, 2.0)]
    assert s.meta["durations"] == {"g": 16.0}
    assert "read as 0" in caplog.text and "without duration" in caplog.text
    path.write_text('"Praat chronological TextGrid text file"\n0 3   ! Time domain.\n')
    with pytest.raises(NfblError, match="chronological"):
        read_events(path)
