"""Event formats on the layouts their owners publish: ELAN files from other tools, the
ActivityNet ground truth with subsets, label maps, and the iMiGUE protocols."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io import datasets
from nfbl.io.event_formats import read_events, read_label_map, write_events


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


# --- ELAN

def _foreign_eaf(path):
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf(author="someone else")
    eaf.add_linked_file("interview.mp4", mimetype="video/mp4")
    eaf.add_tier("gestures")
    eaf.add_annotation("gestures", 1000, 2500, "folding arms")
    eaf.add_annotation("gestures", 3000, 3400, "beat")
    eaf.add_tier("speech")
    eaf.add_annotation("speech", 0, 4000, "so I think we played well")
    eaf.add_tier("nfbl codes")
    eaf.add_annotation("nfbl codes", 5000, 5600, "N34")
    eaf.to_file(str(path))
    return path


def test_eaf_from_another_tool_reads_tiers_whose_values_name_classes(tmp_path, caplog):
    p = _foreign_eaf(tmp_path / "interview.eaf")
    with caplog.at_level("WARNING"):
        s = read_events(p)
    # "folding arms" (a class name, any case) on 'gestures', N34 on 'nfbl codes'
    assert [(e.class_id, e.start, e.end) for e in s] == [(16, 1.0, 2.5), (34, 5.0, 5.6)]
    assert "'gestures': 1 of 2" in caplog.text and "'speech'" in caplog.text


def test_eaf_label_map_and_tier_map(tmp_path):
    p = _foreign_eaf(tmp_path / "interview.eaf")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"beat": "Illustrative hand gestures", "folding arms": None}))
    s = read_events(p, label_map=read_label_map(labels))
    assert sorted((e.class_id, e.start) for e in s) == [(31, 3.0), (34, 5.0)]
    tiers = tmp_path / "tiers.csv"
    tiers.write_text("tier,class\nspeech,N31\n")
    s = read_events(p, tier_map=read_label_map(tiers))
    assert (31, 0.0, 4.0) in [(e.class_id, e.start, e.end) for e in s]


def test_events_labels_of_elan_and_activitynet_files(tmp_path):
    from nfbl.io.event_formats import label_counts
    p = _foreign_eaf(tmp_path / "interview.eaf")
    assert label_counts(p) == {"folding arms": 1, "beat": 1, "so I think we played well": 1,
                               "N34": 1}
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {
        "v1": {"subset": "validation", "annotations": [{"label": "beat", "segment": [1, 2]}]},
        "v2": {"subset": "training", "annotations": [{"label": "nod", "segment": [1, 2]},
                                                       {"label": "nod", "segment": [3, 4]}]}}}))
    assert label_counts(gt) == {"beat": 1, "nod": 2}
    assert label_counts(gt, subset="training") == {"nod": 2}
    r = nfbl("events", "labels", tmp_path / "missing.eaf")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    write_events(EventStream((Event("v", 16, 1.0, 2.0),)), tmp_path / "e.jsonl")
    r = nfbl("events", "labels", tmp_path / "e.jsonl")
    assert r.returncode == 2 and "name NFBL classes themselves" in r.stderr


def test_eaf_with_nothing_readable_is_one_line_error(tmp_path):
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf()
    eaf.add_tier("gestures")
    for k in range(5):
        eaf.add_annotation("gestures", 1000 * k, 1000 * k + 500, "beat")
    p = tmp_path / "g.eaf"
    eaf.to_file(str(p))
    r = nfbl("events", "convert", p, tmp_path / "out.jsonl")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "none of the 5 annotations names an NFBL class" in r.stderr
    assert "--label-map" in r.stderr and not (tmp_path / "out.jsonl").exists()


def test_eaf_writer_puts_overlapping_events_on_separate_tiers_and_leaves_no_side_file(tmp_path):
    pympi = pytest.importorskip("pympi")
    s = EventStream((Event("v", 16, 1.0, 3.0), Event("v", 31, 2.0, 2.5), Event("v", 22, 2.2, 4.0),
                     Event("v", 3, 3.0, 3.5), Event("v", 0, 1.0, 2.0, track_id=1)))
    p = tmp_path / "v.events.eaf"
    p.write_text("old")  # an existing output is replaced, not backed up
    write_events(s, p)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["v.events.eaf"]
    eaf = pympi.Elan.Eaf(str(p))  # the tool that owns the format opens it
    for tier in eaf.get_tier_names():
        anns = sorted(eaf.get_annotation_data_for_tier(tier))
        assert all(a[1] <= b[0] for a, b in zip(anns, anns[1:])), tier  # no overlap in a tier
    assert len(eaf.get_tier_names()) == 4  # track 0 needs 3 lanes, track 1 one
    back = read_events(p)
    assert sorted((e.class_id, e.start, e.end, e.track_id) for e in back) == \
        sorted((e.class_id, e.start, e.end, e.track_id) for e in s)


# --- ActivityNet

def _anet_gt(path):
    db = {"a1": {"subset": "training", "duration": 10.0,
                 "annotations": [{"label": "Folding arms", "segment": [1.0, 2.0]}]},
          "a2": {"subset": "validation", "duration": 12.0,
                 "annotations": [{"label": "Arms akimbo", "segment": [3.0, 4.5]},
                                 {"label": "Waving", "segment": [5.0, 6.0]}]}}
    path.write_text(json.dumps({"version": "1.3", "taxonomy": [], "database": db}))
    return path


def test_activitynet_subset_and_label_map(tmp_path):
    p = _anet_gt(tmp_path / "gt.json")
    with pytest.raises(NfblError, match=r"'Waving' \(1\).*--label-map"):
        read_events(p)
    s = read_events(p, subset="training")
    assert s.video_ids == ("a1",) and s.meta["subset"] == "training"
    s = read_events(p, subset="validation", label_map={"Waving": 31})
    assert [(e.video_id, e.class_id) for e in s] == [("a2", 29), ("a2", 31)]
    s = read_events(p, subset="validation", label_map={"waving": None})
    assert [e.class_id for e in s] == [29]
    with pytest.raises(NfblError, match="no video of subset 'testing'"):
        read_events(p, subset="testing")


def test_activitynet_results_have_the_fields_the_official_evaluator_reads(tmp_path):
    s = EventStream((Event("a2", 29, 3.0, 4.5, 0.8),))
    doc = json.loads(write_events(s, tmp_path / "r.json").read_text())
    assert {"version", "results", "external_data"} <= set(doc)
    entry = doc["results"]["a2"][0]
    assert entry["label"] == "Arms akimbo" and entry["segment"] == [3.0, 4.5]
    assert entry["score"] == 0.8


# --- protocols

def test_protocol_tables():
    x, e = datasets.PROTOCOLS["imigue-xsub"], datasets.PROTOCOLS["imigue-emotion"]
    assert len(x.train) == 37 and len(x.test) == 35 and x.train | x.test == set(range(1, 73))
    assert len(e.train) == 102 and len(e.test) == 100 and not e.train & e.test
    assert datasets.protocol_split("imigue-emotion", "0009") == "test"
    assert datasets.protocol_split("imigue-emotion", "1") == "train"
    assert datasets.protocol_split("imigue-xsub", "0009", "2") == "train"
    with pytest.raises(NfblError, match="unknown protocol"):
        datasets.get_protocol("imigue")


def _table(subject_rows):
    events, videos = [], {}
    for k, (subject, n) in enumerate(subject_rows):
        vid = f"{k + 1:04d}"
        videos[vid] = {"subject_id": str(subject)}
        events += [Event(vid, 16, float(i), i + 0.5) for i in range(n)]
    return EventStream(tuple(events), {"videos": videos})


def test_published_counts_are_checked_on_the_whole_table_only():
    proto = datasets.PROTOCOLS["imigue-xsub"]
    partial = _table([(2, 3), (1, 2)])
    assert datasets.check_published_counts(partial, proto) is None
    assert [e.video_id for e in datasets.split_stream(partial, proto, "test")] == ["0002"] * 2
    # all 72 subjects: spread the published counts over them
    tr, te = sorted(proto.train), sorted(proto.test)
    rows = [(s, 13936 // 37 + (i < 13936 % 37)) for i, s in enumerate(tr)] + \
           [(s, 4563 // 35 + (i < 4563 % 35)) for i, s in enumerate(te)]
    assert datasets.check_published_counts(_table(rows), proto) == (13936, 4563)
    rows[0] = (rows[0][0], rows[0][1] - 1)  # the public table: one row fewer
    assert datasets.check_published_counts(_table(rows), proto) == (13935, 4563)
    rows[1] = (rows[1][0], rows[1][1] - 50)
    with pytest.raises(NfblError, match="published counts are 13936 / 4563"):
        datasets.check_published_counts(_table(rows), proto)


def test_bench_detect_protocol_and_video_mismatch(tmp_path):
    header = ("video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,"
              "subject_gender,subject_nationality,win_or_lose\n")
    gt = tmp_path / "labels_20200831.csv"
    gt.write_text(header + "0001,1,1.0000,25,2.0000,50,17,2,male,ES,win\n"
                           "0002,1,1.0000,25,2.0000,50,17,1,male,ES,lose\n")
    pred = tmp_path / "pred.jsonl"
    write_events(EventStream((Event("0001", 16, 1.0, 2.0, 0.9), Event("0002", 16, 1.0, 2.0, 0.9))),
                 pred)
    r = nfbl("bench", "detect", "--gt", gt, "--pred", pred, "--protocol", "imigue-xsub",
             "--no-charts")
    assert r.returncode == 0, r.stderr
    assert "scoring the 1 test videos" in r.stdout and "1 events in 1 videos" in r.stdout
    other = tmp_path / "other.jsonl"
    write_events(EventStream((Event("9999", 16, 1.0, 2.0, 0.9),)), other)
    r = nfbl("bench", "detect", "--gt", gt, "--pred", other)
    assert r.returncode == 2 and "share no video" in r.stderr and "9999" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    half = tmp_path / "half.jsonl"
    write_events(EventStream((Event("0001", 16, 1.0, 2.0, 0.9), Event("0003", 3, 1.0, 2.0))), half)
    r = nfbl("bench", "detect", "--gt", gt, "--pred", half, "--no-charts")
    assert r.returncode == 0 and "0003" in r.stderr and "0002" in r.stderr


def test_eaf_values_that_only_look_like_classes_are_not_read(tmp_path):
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf()
    eaf.add_tier("counts")
    eaf.add_annotation("counts", 0, 500, "16")
    eaf.add_annotation("counts", 600, 900, "16 people were there")
    eaf.add_tier("codes")
    eaf.add_annotation("codes", 1000, 1500, "N22 Rubbing or holding hands")
    p = tmp_path / "c.eaf"
    eaf.to_file(str(p))
    assert [(e.class_id, e.start) for e in read_events(p)] == [(22, 1.0)]
    assert [e.class_id for e in read_events(p, label_map={"16": 16})] == [16, 22]


def test_eaf_with_unaligned_time_slots(tmp_path):
    # ELAN's demo files (dopefishh/pympi test/sample_3.0.eaf) hold time slots without a
    # time value
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf()
    eaf.add_tier("gestures")
    eaf.add_annotation("gestures", 1000, 2000, "Folding arms")
    eaf.add_annotation("gestures", 3000, 4000, "Arms akimbo")
    slot = eaf.tiers["gestures"][0][next(iter(eaf.tiers["gestures"][0]))][1]
    eaf.timeslots[slot] = None  # the second slot of the first annotation: unaligned
    p = tmp_path / "demo.eaf"
    eaf.to_file(str(p))
    s = read_events(p)
    assert [(e.class_id, e.start) for e in s] == [(29, 3.0)]


def test_event_commands_validate_ranges_and_paths_first(tmp_path):
    ev = tmp_path / "e.jsonl"
    write_events(EventStream((Event("v", 16, 1.0, 2.0, 0.9),)), ev)
    cases = [
        (["events", "convert", ev, tmp_path / "o_label.csv", "--fps", "0"], "--fps: must be a number > 0"),
        (["events", "convert", ev, ev], "the output is the input"),
        (["bench", "detect", "--gt", ev, "--pred", ev, "--min-score", "nan"], "--min-score: must be a finite number"),
        (["bench", "detect", "--gt", ev, "--pred", ev, "--out", ev], "is a file, not a folder"),
    ]
    for args, expect in cases:
        r = nfbl(*args)
        assert r.returncode == 2 and expect in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o_label.csv").exists()


def test_activitynet_ground_truth_writer_round_trips_and_has_the_evaluator_fields(tmp_path):
    s = EventStream((Event("0001", 16, 1.0, 2.0), Event("0001", 31, 3.0, 4.5),
                     Event("0002", 29, 0.5, 1.0)), {"subset": "validation",
                                                    "durations": {"0001": 60.0}})
    p = write_events(s, tmp_path / "gt.gt.json")
    doc = json.loads(p.read_text())
    assert set(doc) == {"version", "taxonomy", "database"}
    v1 = doc["database"]["0001"]
    assert v1["subset"] == "validation" and v1["duration"] == 60.0
    assert v1["annotations"][0] == {"label": "Folding arms", "segment": [1.0, 2.0]}
    assert doc["database"]["0002"]["duration"] == 1.0  # no duration given: the last end
    back = read_events(p, subset="validation")
    assert sorted((e.video_id, e.class_id, e.start, e.end) for e in back) == \
        sorted((e.video_id, e.class_id, e.start, e.end) for e in s)


def test_eaf_mapped_value_with_a_bar_is_not_a_score(tmp_path):
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf(author="someone else")
    eaf.add_tier("gestures")
    eaf.add_annotation("gestures", 1000, 2000, "nod|strong")
    eaf.add_annotation("gestures", 3000, 4000, "N16 Folding arms|0.75")
    eaf.to_file(str(tmp_path / "bar.eaf"))
    s = read_events(tmp_path / "bar.eaf", label_map={"nod|strong": 31})
    assert [(e.class_id, e.score) for e in s] == [(31, 1.0), (16, 0.75)]


def test_activitynet_class_id_of_another_tool_is_not_taken_for_nfbl_ids(tmp_path):
    # the official evaluator reads only "label"; a foreign "class_id" (its own numbering) must
    # not override it; nfbl's own files carry a matching "code" and keep their ids
    doc = {"version": "1.3", "results": {"v": [
        {"label": "Folding arms", "class_id": 3, "score": 0.9, "segment": [1.0, 2.0]},
        {"label": "Touching nose", "class_id": 34, "code": "N34", "score": 0.8, "segment": [3.0, 4.0]}]}}
    (tmp_path / "r.json").write_text(json.dumps(doc))
    assert [e.class_id for e in read_events(tmp_path / "r.json")] == [16, 34]


# --- SMG fine labels and MiGA labels: bare integer triples both, told apart by name

SMG_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints" / "smg"


def test_smg_fine_labels_are_not_read_as_miga_labels(tmp_path):
    """``3,0,2`` is SMG class 3 (Folding arms → N16) at 30 fps in ``*_finelabels.csv`` and
    iMiGUE raw class 3 (N2) at 25 fps in ``*_label.csv``; SMG class 10 (Crossing legs) has no
    NFBL class and is skipped."""
    from nfbl.io.event_formats import event_files, guess_format, read_event_files
    from nfbl.io.smg import read_smg_labels
    src = SMG_DIR / "01_finelabels.csv"
    assert guess_format(src).name == "smg"
    s = read_events(src)
    own = read_smg_labels(src)
    assert [(e.video_id, e.class_id, e.start, e.end) for e in s] == [
        (e.video_id, e.class_id, e.start, e.end) for e in own]
    assert s.events[0].class_id == 16 and s.events[0].end == pytest.approx(2 / 30)
    assert 10 not in {e.class_id for e in s} and s.events[0].video_id == "01"
    (tmp_path / "v_label.csv").write_text("3,0,2\n")
    (tmp_path / "01_finelabels.csv").write_bytes(src.read_bytes())
    both = read_event_files(event_files(tmp_path))
    assert sorted((e.video_id, e.code) for e in both if e.start == 0) == [("01", "N16"), ("v", "N2")]
    res = nfbl("events", "convert", src, tmp_path / "o.jsonl")
    assert res.returncode == 0, res.stderr
    assert read_events(tmp_path / "o.jsonl").events[0].code == "N16"


def test_smg_fine_labels_take_the_fps_of_their_data_file_or_the_users(tmp_path):
    (tmp_path / "07_finelabels.csv").write_text("3,0,30\n")
    assert read_events(tmp_path / "07_finelabels.csv").events[0].end == pytest.approx(1.0)
    (tmp_path / "07_data.csv").write_text("300,15,4500\n")        # numFrames,fps,maxDepth
    assert read_events(tmp_path / "07_finelabels.csv").events[0].end == pytest.approx(2.0)
    assert read_events(tmp_path / "07_finelabels.csv", fps=60).events[0].end == pytest.approx(0.5)


def test_python_label_maps_take_ids_codes_and_names():
    """read_events(label_map=...) takes what read_label_map files take: 16, "N16",
    "Folding arms", None; a class that names nothing is one error naming the label."""
    src = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "praat" / "P03_m2.TextGrid"
    s = read_events(src, label_map={"scratch head": "N3", "fold arms": "folding arms",
                                    "touch nose": 34, "beat": None}, tier_map={"speech": None})
    assert [e.code for e in s] == ["N3", "N16", "N34"]
    with pytest.raises(NfblError, match="label map: label 'beat'"):
        read_events(src, label_map={"beat": "N99"})
    with pytest.raises(NfblError, match="tier map: label 'speech'"):
        read_events(src, tier_map={"speech": "talking"})


def test_sniffed_headers_beat_name_endings_and_keypoint_files_are_not_labels(tmp_path):
    """An iMiGUE table or a BORIS export named like MiGA labels is still read by its header
    (only MiGA's integer-triple sniff, which SMG labels share, yields to a name ending); a
    folder of SMG or MiGA data holds keypoints and metadata beside the labels."""
    from nfbl.io.event_formats import event_files, guess_format
    (tmp_path / "x_label.csv").write_text(
        "video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,"
        "subject_gender,subject_nationality,win_or_lose\n")
    (tmp_path / "y_label.csv").write_text("Observation id,Observation date\n")
    (tmp_path / "z_label.csv").write_text("3,0,2\n")
    assert [guess_format(tmp_path / f).name for f in ("x_label.csv", "y_label.csv", "z_label.csv")
            ] == ["imigue", "boris-export", "miga"]
    smg = tmp_path / "smg"
    smg.mkdir()
    for name, text in (("S1_data.csv", "100,30,4000\n"), ("S1_skeleton.csv", "0,0\n"),
                       ("S1_finelabels.csv", "3,0,2\n"), ("v_light_hand.csv", "0,1\n"),
                       ("v_000000000000_keypoints.json", "{}"), ("v_label.csv", "3,0,2\n")):
        (smg / name).write_text(text)
    assert [p.name for p in event_files(smg)] == ["S1_finelabels.csv", "v_label.csv"]


def test_smg_labels_with_an_infinite_frame_are_one_line(tmp_path):
    p = tmp_path / "X_finelabels.csv"
    p.write_text("3,0,2\n3,inf,20\n")
    res = nfbl("events", "convert", p, tmp_path / "o.jsonl")
    assert res.returncode == 2 and "Traceback" not in res.stderr and "finite" in res.stderr


# --- MiGA labels read by the organisers' kit

def _kit_reads(label: Path, num_frames: int) -> list[tuple[int, int]]:
    """The 1-based skeleton frames the kit's ST-GCN generator reads for each row
    (mikecheninoulu/SMG imigue_gendata.py: getSkeleton(sframe + 1 .. eframe + 1), which stops
    at a frame the file does not have)."""
    out = []
    for line in label.read_text().splitlines():
        _, sf, ef = (int(v) for v in line.split(","))
        frames = range(sf + 1, ef + 2)
        if frames[-1] > num_frames:
            raise IndexError(f"Invalid frame number <{frames[-1]}>")
        out.append((frames[0], frames[-1]))
    return out


def test_miga_labels_of_an_event_ending_at_the_video_end_stay_inside_it(tmp_path):
    ev = (Event("S001", 16, 0.0, 1.0), Event("S001", 7, 1.5, 1.54), Event("S001", 31, 3.0, 4.0))
    path = tmp_path / "S001_label.csv"
    write_events(EventStream(ev, {"durations": {"S001": 4.0}}), path, fmt="miga", fps=25)
    assert path.read_text().splitlines() == ["17,0,25", "8,37,38", "99,75,99"]
    assert _kit_reads(path, 100)[-1] == (76, 100)
    # without a known length nothing is clamped (the video may go on)
    write_events(EventStream(ev), path, fmt="miga", fps=25)
    assert path.read_text().splitlines()[-1] == "99,75,100"


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -4.0, True, "4.0"])
def test_miga_clamp_ignores_lengths_that_are_not_positive_numbers(tmp_path, bad):
    path = tmp_path / "S001_label.csv"
    stream = EventStream((Event("S001", 31, 3.0, 4.0),), {"durations": {"S001": bad}})
    write_events(stream, path, fmt="miga", fps=25)
    assert path.read_text().splitlines() == ["99,75,100"]
