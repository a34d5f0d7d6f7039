import json
import math
import subprocess
import sys

import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream, from_multihot, to_multihot
from nfbl.io.event_formats import read_events, write_events


def _stream():
    return EventStream((
        Event("v1", 16, 1.0, 3.48, 0.83, 0, "m@1"),
        Event("v1", 31, 2.0, 2.4, 0.5, 1, "m@1"),
        Event("v1", 34, 5.04, 6.0, 1.0, 0, ""),
        Event("v2", 3, 0.0, 0.04, 0.25, 0, "m@1"),
    ), {"model": "m@1"})


@pytest.mark.parametrize("bad", [
    dict(start=2.0, end=2.0), dict(start=3.0, end=2.0), dict(start=math.nan, end=2.0),
    dict(start=0.0, end=math.inf), dict(class_id=32), dict(class_id=99), dict(score=math.nan)])
def test_event_validation(bad):
    kw = dict(video_id="v", class_id=16, start=0.0, end=1.0, score=0.5)
    kw.update(bad)
    with pytest.raises(NfblError):
        Event(**kw)


def _key(stream):
    return sorted((e.video_id, e.track_id, e.class_id, round(e.start, 6), round(e.end, 6),
                   round(e.score, 4)) for e in stream)


@pytest.mark.parametrize("name", ["e.jsonl", "e.csv", "e.json"])
def test_multi_video_formats_round_trip(tmp_path, name):
    s = _stream()
    p = write_events(s, tmp_path / name)
    assert _key(read_events(p)) == _key(s)


def test_eaf_round_trip(tmp_path):
    pytest.importorskip("pympi")
    s = _stream().for_video("v1")
    r = read_events(write_events(s, tmp_path / "x.eaf"))
    assert _key(r) == _key(s)
    assert r.video_ids == ("v1",)


@pytest.mark.parametrize("name", ["t.imigue.csv", "v1_label.csv"])
def test_frame_based_formats_round_trip_on_frame_grid(tmp_path, name):
    # frame-aligned times at 25 fps round-trip exactly; scores/tracks are not carried
    s = EventStream((Event("v1", 16, 1.0, 3.48), Event("v1", 31, 2.0, 2.4),
                     Event("v1", 0, 0.0, 0.04)))
    r = read_events(write_events(s, tmp_path / name), fps=25)
    assert _key(r) == _key(s)


# the header of linuxsino/iMiGUE labels_20200831.csv and rows in its layout: label_id is a
# running index per video, class the raw class (99 = N31), times with at most 4 decimals and
# no trailing zeros ("35.029", "0"), frame = floor(time x 25), "F"/"M", "Win"/"Lose"
IMIGUE_HEADER = ("video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,"
                 "subject_gender,subject_nationality,win_or_lose\n")


def _imigue_rows(n):
    rows = []
    for k in range(n):  # 40 events of one video: label_id runs 1..40, classes cycle
        raw = (k % 31) + 1 if k % 9 else 99
        start = 1.2345 + 2.5 * k
        end = start + 1.1637
        t0, t1 = (f"{t:.4f}".rstrip("0").rstrip(".") for t in (start, end))
        rows.append(f"0001,{k + 1},{t0},{int(start * 25)},{t1},{int(end * 25)},{raw},"
                    "3,M,Spain,Win\n")
    return rows


def test_imigue_table_class_from_class_column_and_seconds_from_time_columns(tmp_path):
    p = tmp_path / "labels_20200831.csv"
    p.write_text(IMIGUE_HEADER + "".join(_imigue_rows(40)))
    s = read_events(p)  # format sniffed from the header
    assert len(s) == 40
    # nfbl used to take label_id (1..40) for the class: wrong classes, then an error at 32
    assert s.events[0].class_id == 31 and s.events[1].class_id == 1 and s.events[32].class_id == 1
    assert s.events[0].start == 1.2345 and s.events[0].end == pytest.approx(2.3982)
    assert s.meta["videos"]["0001"]["win_or_lose"] == "Win"
    assert s.meta["videos"]["0001"]["subject_id"] == "3"


def test_imigue_table_writer_writes_the_real_layout(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(IMIGUE_HEADER + "".join(_imigue_rows(12)))
    s = read_events(src)
    out = write_events(s, tmp_path / "out.imigue.csv")
    assert out.read_text() == src.read_text()  # byte for byte
    assert _key(read_events(out)) == _key(s)


def test_imigue_frames_are_the_fallback_and_floor_rule():
    from nfbl.io.event_formats import imigue_frame
    assert imigue_frame(1.16) == 29  # 1.16 x 25 = 29 exactly (float arithmetic gives 28.99..)
    assert imigue_frame(2.3982) == 59 and imigue_frame(0.0399) == 0


def test_imigue_table_without_time_values_reads_frames(tmp_path):
    p = tmp_path / "t.imigue.csv"
    p.write_text(IMIGUE_HEADER + "0001,1,,10,,24,17,3,male,ES,win\n")
    s = read_events(p, fps=25)
    assert [(e.class_id, e.start, e.end) for e in s] == [(16, 0.4, 0.96)]


def test_imigue_raw_label_file(tmp_path):
    # linuxsino/iMiGUE Label/raw/<video>.txt: seconds with at most 4 decimals and no trailing
    # zeros, the raw class as a float ("24.0", "99.0"); an integer class is read too
    p = tmp_path / "0007.txt"
    p.write_text("1.2345\t2.398\t17.0\n3.0\t4.5\t99.0\n22.1907\t22.989\t2.0\n")
    s = read_events(p)
    assert s.video_ids == ("0007",)
    assert [(e.class_id, e.start, e.end) for e in s] == [
        (16, 1.2345, 2.398), (31, 3.0, 4.5), (1, 22.1907, 22.989)]
    out = write_events(s, tmp_path / "back" / "0007.txt")
    assert out.read_text() == "1.2345\t2.398\t17.0\n3\t4.5\t99.0\n22.1907\t22.989\t2.0\n"
    (tmp_path / "int.txt").write_text("1.5\t2\t17\n")
    assert [e.class_id for e in read_events(tmp_path / "int.txt")] == [16]
    (tmp_path / "bad.txt").write_text("1.5\t2\t17.5\n")
    with pytest.raises(NfblError, match="17.5"):
        read_events(tmp_path / "bad.txt")


def test_miga_label_file(tmp_path):
    # iMiGUEaccessSample.py: gestureID,sframe,eframe with 0-based frames
    p = tmp_path / "0042_label.csv"
    p.write_text("17,10,25\n99,50,75\n")
    s = read_events(p)
    assert s.video_ids == ("0042",)
    assert [(e.class_id, e.start, e.end) for e in s] == [(16, 0.4, 1.0), (31, 2.0, 3.0)]
    assert write_events(s, tmp_path / "b_label.csv").read_text() == p.read_text()


@pytest.mark.parametrize("name,content,line", [
    ("bad.jsonl", '{"schema":"nfbl.core.events","version":1}\n{"video_id":"v","class_id":16,"start":1,"end":2}\n{oops\n', 3),
    ("bad.jsonl", '{"video_id":"v","class_id":16,"start":2,"end":1}\n', 1),
    ("bad.jsonl", '{"video_id":"v","class_id":77,"start":1,"end":2}\n', 1),
    ("x_label.csv", "17,10,24\n17,10\n", 2),
    ("x_label.csv", "17,10,24\n17,30,20\n", 2),
    ("neg.jsonl", '{"video_id":"v","class_id":16,"start":-1,"end":2}\n', 1),
    ("neg.csv", "video_id,class_id,start,end\nv,16,-0.5,2\n", 2),
    ("x_label.csv", "17,10,24\n0,10,20\n", 2),
    ("bad.csv", "video_id,class_id,start,end\nv,16,1,2\nv,16,abc,2\n", 3),
])
def test_malformed_files_name_file_and_line(tmp_path, name, content, line):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(NfblError) as info:
        read_events(p)
    assert f"{p}:{line}" in str(info.value)
    assert "\n" not in str(info.value)


def test_writers_are_atomic_and_keep_the_old_file_on_error(tmp_path):
    p = tmp_path / "e.eaf"
    p.write_text("precious")
    with pytest.raises(NfblError):
        write_events(_stream(), p)  # two videos cannot go into one ELAN file
    assert p.read_text() == "precious"
    assert [f.name for f in tmp_path.iterdir()] == ["e.eaf"]


def test_multihot_round_trip_and_half_open_boundaries():
    fps = 10.0
    s = EventStream((Event("v", 16, 0.2, 0.5), Event("v", 31, 0.4, 1.0), Event("v", 16, 0.7, 0.8)))
    m = to_multihot(s, num_frames=10, fps=fps)
    assert m.shape == (10, 35)
    assert m[:, 16].tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 0, 0]
    assert m[:, 31].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    back = from_multihot(m, "v", fps=fps)
    assert _key(back) == _key(s)


def test_multihot_with_variable_frame_rate():
    ts = np.array([0.0, 0.1, 0.15, 0.4, 0.5])
    m = to_multihot([Event("v", 3, 0.1, 0.41)], num_frames=5, timestamps=ts)
    assert m[:, 3].tolist() == [0, 1, 1, 1, 0]


def test_foundation_does_not_import_heavy_packages():
    code = ("import sys, nfbl, nfbl.core.taxonomy, nfbl.core.skeletons, nfbl.core.events, nfbl.core.sequence, "
            "nfbl.io.event_formats, nfbl.cli;"
            "bad=[m for m in ('torch','mediapipe','av','cv2','onnx','matplotlib','nfbl.pose',"
            "'nfbl.detectors','nfbl.exports') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_classes_and_convert(tmp_path, cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("nfbl ")
    r = cli("classes", "--json")
    rows = json.loads(r.stdout)
    assert rows[16]["name"] == "Folding arms" and rows[-1]["code"] == "N34"
    src = write_events(_stream(), tmp_path / "a.jsonl")
    r = cli("events", "convert", src, tmp_path / "a.json")
    assert r.returncode == 0, r.stderr
    assert _key(read_events(tmp_path / "a.json")) == _key(_stream())
    r = cli("events", "convert", src, tmp_path / "b.xyz")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video_id":"v","class_id":16,"start":3,"end":1}\n')
    r = cli("events", "convert", bad, tmp_path / "c.csv")
    assert r.returncode == 2 and f"{bad}:1" in r.stderr and not (tmp_path / "c.csv").exists()


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    p = write_events(_stream(), tmp_path / "perm.jsonl")
    umask = os.umask(0)
    os.umask(umask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_eaf_with_an_unknown_code_names_the_file(tmp_path):
    pytest.importorskip("pympi")
    p = write_events(_stream().for_video("v1"), tmp_path / "x.eaf")
    p.write_text(p.read_text().replace("N16 Folding arms", "N77 Nonsense"))
    with pytest.raises(NfblError, match=str(p)):
        read_events(p)


def test_concat_joins_duration_tables_and_keeps_the_first_meta():
    a = EventStream((Event("a", 3, 1.0, 2.0, 0.9),), {"model": "m", "durations": {"a": 60.0}})
    b = EventStream((), {"model": "m", "durations": {"b": 30.5}})     # no events, still a length
    c = EventStream((Event("c", 7, 0.0, 1.0, 0.8),), {"model": "other"})
    joined = EventStream.concat([a, b, c])
    assert joined.meta["durations"] == {"a": 60.0, "b": 30.5}
    assert joined.meta["model"] == "m" and len(joined) == 2
    assert "durations" not in EventStream.concat([c]).meta
