"""BORIS projects and exports (nfbl.io.boris) on fixtures written the way BORIS writes them
(tests/fixtures/events/boris/make_fixtures.py), and nfbl's own aggregated-table writer."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io.boris import AGGREGATED_COLUMNS
from nfbl.io.event_formats import guess_format, read_events, read_label_map, write_events

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "boris"
# the coder's ethogram → NFBL: smile is facial (not NFBL), skipped
LABELS = {"scratch head": 3, "fold arms": 16, "touch nose": 34, "beat gesture": 31, "smile": None}
CODER_A = "P01 match 3 (coder A)"
# coder A's bouts of P01_m3.mp4 as (track, code, start, end); the beat is a point event (one
# frame at 25 fps); the journalist (second subject) is track 1
P01 = [(0, "N3", 3.2, 5.04), (0, "N16", 10.0, 18.52), (0, "N34", 20.36, 21.2),
       (0, "N31", 22.8, 22.84), (1, "N3", 7.0, 8.5)]


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def _bouts(stream, video=None):
    return [(e.track_id, e.code, round(e.start, 6), round(e.end, 6)) for e in stream
            if video is None or e.video_id == video]


@pytest.mark.parametrize("name", ["press.boris", "press.boris.gz"])
def test_project_reads_every_observation_with_boris_pairing_and_offsets(name):
    s = read_events(FIX / name, label_map=LABELS)
    assert guess_format(FIX / name).name == "boris"
    # two coders of one video keep their observation ids; the third is named after its video
    assert set(s.video_ids) == {CODER_A, "P01 match 3 (coder B)", "P02_m1"}
    assert _bouts(s, CODER_A) == P01
    # coder B's nose touches carry modifiers: each modifier is paired on its own (left hand
    # 20.4-21.0, right hand 20.6-21.5), as BORIS does, not in time order
    assert _bouts(s, "P01 match 3 (coder B)") == [(0, "N3", 3.0, 5.2), (0, "N34", 20.4, 21.0),
                                                  (0, "N34", 20.6, 21.5)]
    # P02: BORIS times 12.5-20.0 and 30.5 with a 2.5 s time offset -> video time
    assert _bouts(s, "P02_m1") == [(0, "N16", 10.0, 17.5), (0, "N31", 28.0, 28.04)]
    assert s.meta["durations"] == {CODER_A: 95.36, "P01 match 3 (coder B)": 95.36, "P02_m1": 61.0}
    assert s.meta["subjects"][CODER_A] == {"0": "athlete", "1": "journalist"}
    assert all(e.score == 1.0 for e in s)


def test_exports_agree_with_the_project():
    project = read_events(FIX / "press.boris", label_map=LABELS)
    for name in ("press_tabular.csv", "press_tabular_v7.tsv"):
        assert guess_format(FIX / name).name == "boris-export"  # the .csv by its header
        s = read_events(FIX / name, label_map=LABELS)
        # one observation in the file: named after its video (the project had two coders of it)
        assert s.video_ids == ("P01_m3",), name
        assert _bouts(s) == _bouts(project, CODER_A), name
        assert s.meta["durations"] == {"P01_m3": 95.36}
    agg = read_events(FIX / "press_aggregated.tsv", label_map=LABELS)
    assert agg.video_ids == ("P02_m1",)  # from the "Media file name" column (Windows path)
    assert _bouts(agg) == _bouts(project, "P02_m1")  # offset from "Time offset (s)"


def test_unmapped_codes_are_named_and_partly_mapped_files_warn(tmp_path, caplog):
    r = nfbl("events", "convert", FIX / "press.boris", tmp_path / "out.jsonl")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "none of the 11 coded behaviours names an NFBL class" in r.stderr
    assert "'scratch head'" in r.stderr and "--label-map" in r.stderr
    assert not (tmp_path / "out.jsonl").exists()
    with caplog.at_level("WARNING"):
        s = read_events(FIX / "press.boris", label_map={"fold arms": 16})
    assert [e.code for e in s] == ["N16", "N16"]
    assert "behaviour 'touch nose'" in caplog.text


def test_cli_converts_a_project_with_a_label_map(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"scratch head": "Touching or scratching head", "fold arms": "N16",
                                  "touch nose": "N34", "beat gesture": 31, "smile": None}))
    out = tmp_path / "truth.jsonl"
    r = nfbl("events", "convert", FIX / "press.boris.gz", out, "--label-map", labels)
    assert r.returncode == 0, r.stderr
    assert _bouts(read_events(out), "P02_m1") == [(0, "N16", 10.0, 17.5), (0, "N31", 28.0, 28.04)]
    assert read_label_map(labels)["scratch head"] == 3


def test_writer_round_trips_in_borises_aggregated_layout(tmp_path):
    s = EventStream((Event("v1", 16, 1.0, 3.48, 0.83, 0), Event("v1", 31, 2.0, 2.4, 0.5, 1),
                     Event("v2", 3, 0.0, 0.04, 0.25, 0)), {"durations": {"v1": 10.0}})
    p = write_events(s, tmp_path / "events.tsv")
    raw = p.read_bytes()
    lines = raw.split(b"\r\n")
    assert lines[0].decode().split("\t") == list(AGGREGATED_COLUMNS)
    assert lines[1].decode().split("\t")[9:18] == [
        "track 0", "2.48", "N16 Folding arms", "arms", "STATE", "1.000", "3.480", "2.480", "v1"]
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    r = read_events(p)
    key = lambda st: sorted((e.video_id, e.track_id, e.class_id, e.start, e.end, e.score) for e in st)  # noqa: E731
    assert key(r) == key(s)
    assert r.meta["durations"] == {"v1": 10.0}
    c = write_events(s, tmp_path / "events.csv", fmt="boris-export")  # comma-separated by name
    assert c.read_text().startswith("Observation id,Observation date,")
    assert key(read_events(c)) == key(s)  # sniffed as a BORIS table, not nfbl's CSV


def test_projects_are_read_not_written_and_bad_files_are_one_line(tmp_path):
    with pytest.raises(NfblError, match="reads boris files but does not write them"):
        write_events(EventStream((Event("v", 16, 1.0, 2.0),)), tmp_path / "x.boris")
    bad = tmp_path / "bad.boris"
    bad.write_text("{not json")
    r = nfbl("events", "convert", bad, tmp_path / "o.jsonl")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    (tmp_path / "empty.boris").write_text(json.dumps({"project_name": "x"}))
    r = nfbl("events", "convert", tmp_path / "empty.boris", tmp_path / "o.jsonl")
    assert r.returncode == 2 and "not a BORIS project" in r.stderr
    (tmp_path / "trunc.boris.gz").write_bytes(gzip.compress(b'{"observations": {}}')[:-6])
    r = nfbl("events", "convert", tmp_path / "trunc.boris.gz", tmp_path / "o.jsonl")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    table = tmp_path / "notes.tsv"
    table.write_text("Observation id\tP01\n\nsomething\telse\n")
    r = nfbl("events", "convert", table, tmp_path / "o.jsonl")
    assert r.returncode == 2 and "no BORIS event table found" in r.stderr
    r = nfbl("events", "convert", FIX / "press.boris", tmp_path / "o.jsonl", "--video-id", "x")
    assert r.returncode == 2 and "holds 3 observations" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_unpaired_state_events_are_skipped_with_a_warning(tmp_path, caplog):
    src = (FIX / "press_tabular.csv").read_bytes().decode("utf-8").split("\r\n")
    stop_of_fold = next(k for k, line in enumerate(src) if ",fold arms," in line and ",STOP," in line)
    cut = tmp_path / "cut.csv"
    cut.write_bytes("\r\n".join(src[:stop_of_fold] + src[stop_of_fold + 1:]).encode("utf-8"))
    with caplog.at_level("WARNING"):
        s = read_events(cut, label_map=LABELS)
    assert "N16" not in [e.code for e in s] and len(s) == len(P01) - 1
    assert "1 unpaired" in caplog.text
    proj = json.loads((FIX / "press.boris").read_text())
    proj["observations"][CODER_A]["events"].pop(7)  # fold arms' STOP at 18.52
    one = tmp_path / "one.boris"
    one.write_text(json.dumps(proj))
    with caplog.at_level("WARNING"):
        s = read_events(one, label_map=LABELS)
    assert "N16" not in [e.code for e in s.for_video(CODER_A)]
    assert "1 state event(s) never stopped" in caplog.text


def test_bench_detect_scores_against_a_boris_project(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    pred = read_events(FIX / "press.boris", label_map=LABELS).for_video("P02_m1")
    write_events(pred, tmp_path / "pred.jsonl")
    shutil.copy(FIX / "press.boris", tmp_path / "gt.boris")
    r = nfbl("bench", "detect", "--gt", tmp_path / "gt.boris", "--pred", tmp_path / "pred.jsonl",
             "--label-map", labels, "--out", tmp_path / "rep", "--no-charts")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    # the two predicted P02 events match the project's P02 bouts; the other 8 bouts are missed
    assert rep["counts"]["gt_videos"] == 3 and rep["counts"]["gt_events"] == 10
    assert (rep["f1"]["tp"], rep["f1"]["fp"], rep["f1"]["fn"]) == (2, 0, 8)


def test_features_and_prompts_read_a_coders_project_with_a_label_map(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    out = tmp_path / "f.csv"
    r = nfbl("features", FIX / "press.boris", "--label-map", labels, "-o", out)
    assert r.returncode == 0, r.stderr
    rows = out.read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("video_id")  # header + the 3 observations
    r = nfbl("prompt", FIX / "press.boris", "--video", "P02_m1")  # no map: one line naming it
    assert r.returncode == 2 and "--label-map" in r.stderr
    r = nfbl("prompt", FIX / "press.boris", "--label-map", labels, "--video", "P02_m1")
    assert r.returncode == 0 and "Video length: 01:01 (61.0 s)" in r.stdout


def test_live_and_image_observations(tmp_path, caplog):
    proj = json.loads((FIX / "press.boris").read_text())
    # a live observation has no media ("file": [] as BORIS writes it) and times from its start
    proj["observations"]["live 1"] = {"type": "LIVE", "date": "2024-03-13T09:00:00",
                                      "description": "", "time offset": 0.0, "file": [],
                                      "events": [[2.0, "", "fold arms", "", ""],
                                                 [4.5, "", "fold arms", "", ""]]}
    # a state stopped at the time it started (two key presses on one frame): one frame
    proj["observations"]["live 1"]["events"] += [[6.0, "", "touch nose", "", ""],
                                                  [6.0, "", "touch nose", "", ""]]
    proj["observations"]["stills"] = {"type": "IMAGES", "file": {}, "events": [
        [0.0, "", "fold arms", "", "", 0, "/img/0001.jpg"]]}
    p = tmp_path / "more.boris"
    p.write_text(json.dumps(proj))
    with caplog.at_level("WARNING"):
        s = read_events(p, label_map=LABELS)
    assert _bouts(s, "live 1") == [(0, "N16", 2.0, 4.5), (0, "N34", 6.0, 6.04)]
    assert "stills" not in s.video_ids and "codes images, not a video" in caplog.text
    assert "live 1" not in s.meta["durations"]  # no media, no length


def test_events_labels_lists_a_coders_codes_and_writes_a_map_template(tmp_path):
    out = tmp_path / "map.json"
    r = nfbl("events", "labels", FIX / "press.boris", "-o", out)
    assert r.returncode == 0, r.stderr
    # bouts per code over the three observations (coder B's two nose touches count twice)
    assert json.loads(out.read_text()) == {"scratch head": None, "touch nose": None,
                                           "beat gesture": None, "fold arms": None, "smile": None}
    assert "5 labels, 5 without an NFBL class" in r.stdout
    lines = {ln.split()[0] + " " + ln.split()[1]: ln for ln in r.stdout.splitlines()[1:6]}
    assert lines["scratch head"].split()[2] == "3" and lines["touch nose"].split()[2] == "3"
    out.write_text(json.dumps(LABELS))
    r = nfbl("events", "labels", FIX / "press_tabular_v7.tsv", "--label-map", out)
    assert r.returncode == 0 and "fold arms" in r.stdout and "N16 Folding arms" in r.stdout
    assert "5 labels, 0 without an NFBL class" in r.stdout and "skipped (null in the map)" in r.stdout
    r = nfbl("events", "labels", FIX / "press.boris", "-o", tmp_path / "map.csv")
    assert r.returncode == 2 and "JSON" in r.stderr


def test_media_creation_date_as_offset_is_removed(tmp_path):
    """An observation that uses the media creation date as offset stores player time + time
    offset + the file's creation time (BORIS write_event): P02's bouts come back in video
    time; without a stored creation time it is one error."""
    doc = json.loads((FIX / "press.boris").read_text())
    obs = doc["observations"]["P02 match 1"]
    created = 1717171717.5
    obs["media_creation_date_as_offset"] = True
    obs["media_info"]["media_creation_time"] = {obs["file"]["1"][0]: created}
    for ev in obs["events"]:
        ev[0] = ev[0] + created
    p = tmp_path / "dated.boris"
    p.write_text(json.dumps(doc))
    s = read_events(p, label_map=LABELS)
    assert [(c, round(a, 6), round(b, 6)) for _, c, a, b in _bouts(s, "P02_m1")] == [
        ("N16", 10.0, 17.5), ("N31", 28.0, 28.04)]
    for bad in (None, [created], {obs["file"]["1"][0]: "2024-05-31 16:08:37"}):
        obs["media_info"]["media_creation_time"] = bad
        p.write_text(json.dumps(doc))
        with pytest.raises(NfblError, match="creation time"):
            read_events(p, label_map=LABELS)
