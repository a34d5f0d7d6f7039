"""`nfbl bench detect` through the real entry point, and the report files it writes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.metrics import evaluate as detection, report
from nfbl.core.events import Event, EventStream
from nfbl.io.event_formats import write_events

A = 16


def nfbl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture()
def issue_example(tmp_path: Path) -> tuple[Path, Path]:
    gt = EventStream((Event("v1", A, 0, 10), Event("v1", A, 20, 30)))
    pred = EventStream((Event("v1", A, 0, 10, .9), Event("v1", A, 1, 10, .8),
                        Event("v1", A, 20, 28, .7), Event("v2", A, 0, 5, .6)))
    g = write_events(gt, tmp_path / "gt.jsonl")
    p = write_events(pred, tmp_path / "pred.csv")
    return g, p


def test_bench_detect_cli_writes_report(issue_example, tmp_path):
    g, p = issue_example
    out = tmp_path / "rep"
    res = nfbl("bench", "detect", "--gt", g, "--pred", p, "--out", out)
    assert res.returncode == 0, res.stderr
    # the printed table carries the golden numbers (see test_bench_metrics)
    assert "F1@tIoU 0.3 (MiGA, micro): 0.667" in res.stdout
    assert "avg 0.5:0.95 0.733" in res.stdout
    data = json.loads((out / "report.json").read_text())
    assert data["map"]["activitynet"]["average_map"] == pytest.approx(0.733333, abs=1e-6)
    assert data["map"]["activitynet"]["map"][0] == pytest.approx(0.833333, abs=1e-6)
    assert data["map"]["thumos"]["average_map"] == pytest.approx(0.833333, abs=1e-6)
    assert (data["f1"]["tp"], data["f1"]["fp"], data["f1"]["fn"]) == (2, 2, 0)
    row = data["classes"][0]
    assert row["code"] == "N16" and row["n_gt"] == 2 and row["n_pred"] == 4
    md = (out / "report.md").read_text()
    assert "| N16 | Folding arms | 2 | 4 | 0.833 |" in md
    for name in report.CHART_FILES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in md


def test_bench_detect_folder_input_and_tiou(tmp_path):
    gdir, pdir = tmp_path / "gt", tmp_path / "pred"
    gdir.mkdir()
    pdir.mkdir()
    write_events(EventStream((Event("a", A, 0, 10),)), gdir / "a.jsonl")
    write_events(EventStream((Event("b", A, 0, 10),)), gdir / "b.jsonl")
    # a: tIoU 4/10 = 0.4 ; b: exact
    write_events(EventStream((Event("a", A, 0, 4, .9), Event("b", A, 0, 10, .8))),
                 pdir / "all.jsonl")
    res = nfbl("bench", "detect", "--gt", gdir, "--pred", pdir, "--tiou", "0.5")
    assert res.returncode == 0, res.stderr
    # θ=0.5: a misses -> TP 1 FP 1 FN 1 -> F1 0.5
    assert "F1@tIoU 0.5 (MiGA, micro): 0.500" in res.stdout
    assert "2 events in 2 videos" in res.stdout


def test_bench_detect_bad_inputs_one_line(tmp_path, issue_example):
    g, _ = issue_example
    bad = tmp_path / "bad.csv"
    bad.write_text("video_id,track_id,class_id,code,label,start,end,score,model\n"
                   "v1,0,16,N16,Folding arms,5.0,4.0,0.9,\n")
    res = nfbl("bench", "detect", "--gt", g, "--pred", bad)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nfbl: error:") and "end" in lines[0]
    res = nfbl("bench", "detect", "--gt", tmp_path / "nope.jsonl", "--pred", bad)
    assert res.returncode == 2 and "nope.jsonl" in res.stderr and "Traceback" not in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = nfbl("bench", "detect", "--gt", empty, "--pred", bad)
    assert res.returncode == 2 and "no event files" in res.stderr
    res = nfbl("bench", "detect", "--gt", g, "--pred", g, "--tiou", "0")
    assert res.returncode == 2 and "--tiou" in res.stderr


def test_report_with_many_classes_and_missing_predictions(tmp_path):
    # 33 GT classes, predictions for half of them only: every chart still renders and the
    # classes without predictions show AP 0 and "no predictions" panels.
    from nfbl.core import taxonomy

    gt = EventStream(tuple(Event("v", c, 10.0 * i, 10.0 * i + 5) for i, c in
                           enumerate(taxonomy.ALL_IDS)))
    pred = EventStream(tuple(Event("v", c, 10.0 * i, 10.0 * i + 4, 0.5) for i, c in
                             enumerate(taxonomy.ALL_IDS) if i % 2 == 0))
    result = detection.evaluate(gt, pred)
    assert len(result["classes"]) == 33
    # tIoU 4/5 = 0.8: AP 1 for predicted classes up to θ 0.8, 0 for the others
    aps = {r["class_id"]: r["ap_50"] for r in result["classes"]}
    assert aps[taxonomy.ALL_IDS[0]] == 1.0 and aps[taxonomy.ALL_IDS[1]] == 0.0
    written = report.write_detection_report(result, tmp_path)
    assert all(Path(p).stat().st_size > 1000 for p in written.values())
    table = detection.summary_table(result)
    assert table.count("\n") >= 33 + 5


def test_scoring_speed_command_small():
    res = nfbl("bench", "scoring-speed", "--events", "300", "--videos", "4")
    assert res.returncode == 0, res.stderr
    for name in ("mAP 0.5:0.05:0.95", "F1@0.3 (MiGA)", "frame metrics (25 fps)"):
        assert name in res.stdout
    # 80 % of the predictions are jittered copies of the truth: F1 well above chance
    f1 = float(next(ln for ln in res.stdout.splitlines() if ln.startswith("F1@0.3")).split()[-1])
    assert 0.4 < f1 < 1.0
