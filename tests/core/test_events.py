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


def test_imigue_table_raw_ids_and_video_info(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text(
        "video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,"
        "subject_gender,subject_nationality,win_or_lose\n"
        "0001,17,0.4,10,1.0,24,Folding arms,3,male,ES,win\n"
        "0001,99,2.0,50,3.0,74,Illustrative hand gestures,3,male,ES,win\n")
    s = read_events(p)
    assert [(e.class_id, e.start, e.end) for e in s] == [(16, 0.4, 1.0), (31, 2.0, 3.0)]
    assert s.meta["videos"]["0001"]["win_or_lose"] == "win"
    assert s.meta["videos"]["0001"]["subject_id"] == "3"


def test_miga_label_file(tmp_path):
    p = tmp_path / "0042_label.csv"
    p.write_text("17,10,24\n99,50,74\n")
    s = read_events(p)
    assert s.video_ids == ("0042",)
    assert [(e.class_id, e.start, e.end) for e in s] == [(16, 0.4, 1.0), (31, 2.0, 3.0)]


@pytest.mark.parametrize("name,content,line", [
    ("bad.jsonl", '{"schema":"nfbl.core.events","version":1}\n{"video_id":"v","class_id":16,"start":1,"end":2}\n{oops\n', 3),
    ("bad.jsonl", '{"video_id":"v","class_id":16,"start":2,"end":1}\n', 1),
    ("bad.jsonl", '{"video_id":"v","class_id":77,"start":1,"end":2}\n', 1),
    ("x_label.csv", "17,10,24\n17,10\n", 2),
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
