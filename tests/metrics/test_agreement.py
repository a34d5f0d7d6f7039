"""Agreement of two codings (`nfbl bench agreement`, nfbl.metrics.evaluate.agreement_streams):
two coders of one video in a BORIS project, or two files; golden numbers counted by hand."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io.event_formats import read_events
from nfbl.metrics import evaluate as E
from nfbl.metrics import scores as M

BORIS = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "boris"
LABELS = {"scratch head": 3, "fold arms": 16, "touch nose": 34, "beat gesture": 31, "smile": None}


def nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_two_coders_of_one_video_in_a_boris_project():
    a, b, pairs = E.agreement_streams(read_events(BORIS / "press.boris", label_map=LABELS))
    assert pairs == [("P01 match 3 (coder A)", "P01 match 3 (coder B)")]  # P02 has one coder
    assert b.video_ids == ("P01 match 3 (coder A)",)  # coder B renamed onto coder A's video
    r = E.evaluate(a, b, fps=25.0)
    # 95.36 s of media at 25 fps = 2384 frames (the media length, not the last event)
    assert r["frame"]["num_frames"] == 2384
    rows = {x["code"]: x for x in r["classes"]}
    # N3: A athlete [3.2, 5.04) = frames 80-125 (46) + journalist [7.0, 8.5) = 175-212 (38);
    # B [3.0, 5.2) = 75-129 (55): TP 46, FP 9, FN 38, TN 2291
    assert rows["N3"]["frame_kappa"] == pytest.approx(M.cohen_kappa(46, 9, 38, 2291), abs=1e-6)
    assert rows["N3"]["frame_kappa"] == pytest.approx(0.6522, abs=1e-4)
    # N34: A [20.36, 21.2) = 509-529 (21); B left hand [20.4, 21.0) + right [20.6, 21.5) =
    # 510-537 (28): TP 20, FP 8, FN 1, TN 2355
    assert rows["N34"]["frame_kappa"] == pytest.approx(M.cohen_kappa(20, 8, 1, 2355), abs=1e-6)
    assert rows["N16"]["frame_kappa"] == 0.0  # coded by A only
    # events: A 5, B 3; N3 (tIoU 1.84/2.2) and N34 (0.6/0.84) match -> F1 2*2/(5+3)
    assert (r["f1"]["tp"], r["f1"]["f1"]) == (2, 0.5)


def test_cli_agreement_of_two_files_and_its_report(tmp_path):
    lm = tmp_path / "map.json"
    lm.write_text(json.dumps(LABELS))
    # BORIS 9's CSV and BORIS 7's TSV export of the same observation agree perfectly
    r = nfbl("bench", "agreement", BORIS / "press_tabular.csv", BORIS / "press_tabular_v7.tsv",
             "--label-map", lm, "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "1 video(s) compared" in r.stdout and "event F1 1.000" in r.stdout
    doc = json.loads((tmp_path / "o" / "agreement.json").read_text())
    assert doc["frame"]["macro_kappa"] == 1.0 and doc["pairs"] == [["P01_m3", "P01_m3"]]
    assert doc["videos"] == [{"first": "P01_m3", "second": "P01_m3", "n_first": 5,
                              "n_second": 5, "event_f1": 1.0, "macro_kappa": 1.0}]
    r = nfbl("bench", "agreement", BORIS / "press_aggregated.tsv", "--label-map", lm)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no two codings of one media file" in r.stderr


def test_agreement_per_video_rows_add_up():
    res = E.agreement(read_events(BORIS / "press.boris", label_map=LABELS))
    # one pair (P02 has one coder): the per-video row equals the pooled numbers
    (row,) = res["videos"]
    assert (row["n_first"], row["n_second"]) == (5, 3) == (res["counts"]["first"],
                                                            res["counts"]["second"])
    assert row["event_f1"] == res["event_f1"]["f1"] == 0.5
    assert row["macro_kappa"] == res["frame"]["macro_kappa"]
    assert {r["code"]: (r["n_first"], r["n_second"]) for r in res["classes"]} == {
        "N3": (2, 1), "N16": (1, 0), "N31": (1, 0), "N34": (1, 2)}


def test_two_streams_compare_the_videos_both_coded(caplog):
    a = EventStream((Event("v1", 16, 1.0, 3.0), Event("v2", 3, 0.0, 1.0)), {"durations": {"v1": 10.0}})
    b = EventStream((Event("v1", 16, 1.5, 3.0), Event("v3", 3, 0.0, 1.0)), {"durations": {"v1": 8.0}})
    with caplog.at_level("WARNING"):
        sa, sb, pairs = E.agreement_streams(a, b)
    assert pairs == [("v1", "v1")] and "2 video(s) coded on one side only" in caplog.text
    r = E.evaluate(sa, sb, fps=1.0)
    # 10 frames (the longer side's length): A frames 1-2, B frame 2 -> TP 1, FN 1, TN 8
    assert r["frame"]["num_frames"] == 10
    assert r["classes"][0]["frame_kappa"] == pytest.approx(M.cohen_kappa(1, 0, 1, 8))
    with pytest.raises(NfblError, match="share no video"):
        E.agreement_streams(a, EventStream((Event("x", 3, 0.0, 1.0),)))


def test_cli_agreement_when_the_first_coder_has_no_event(tmp_path):
    from nfbl.io.event_formats import write_events
    write_events(EventStream((Event("v1", 16, 1.0, 3.0),), {"durations": {"v1": 10.0}}),
                 tmp_path / "b.jsonl")
    write_events(EventStream((), {"durations": {"v1": 10.0}}), tmp_path / "a.jsonl")
    r = nfbl("bench", "agreement", tmp_path / "a.jsonl", tmp_path / "b.jsonl", "--fps", "1",
             "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "events: A 0, B 1" in r.stdout
    doc = json.loads((tmp_path / "o" / "agreement.json").read_text())
    # 10 frames: B marks 2 (frames 1, 2), A none -> kappa 0
    assert doc["classes"][0]["n_first"] == 0 and doc["classes"][0]["n_second"] == 1
    assert doc["classes"][0]["frame_kappa"] == 0.0 and doc["frame"]["num_frames"] == 10
