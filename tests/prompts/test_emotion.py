"""Supervised emotion baselines, label readers, `nfbl features` and `nfbl prompt` via the CLI."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.prompts import emotion
from nfbl.prompts.aggregate import FEATURE_NAMES, feature_vector, summarise

pytest.importorskip("sklearn")


def synthetic_set(n_subjects: int = 15, per_subject: int = 2, seed: int = 0):
    """Videos whose label depends on event rates: 'positive' = many illustrative gestures (N31),
    'negative' = more folding arms (N16) and hand rubbing (N22). Returns (stream, labels)."""
    rng = np.random.default_rng(seed)
    events, labels = [], {}
    for s in range(n_subjects):
        for k in range(per_subject):
            vid = f"s{s:02d}_v{k}"
            pos = (s + k) % 2 == 0
            dur = float(rng.uniform(120, 240))
            rates = {31: 6.0, 16: 1.0, 22: 2.0, 3: 1.5} if pos else {31: 2.0, 16: 3.5, 22: 5.0, 3: 1.5}
            for cid, rate in rates.items():
                n = rng.poisson(rate * dur / 60.0)
                for t in rng.uniform(0, dur - 4, n):
                    events.append(Event(vid, cid, float(t), float(t + rng.uniform(0.5, 3.5)),
                                        float(rng.uniform(0.3, 1.0))))
            labels[vid] = ("positive" if pos else "negative", f"subj{s}", dur)
    return EventStream(tuple(events)).sorted(), labels


def _write(tmp_path: Path, seed: int, name: str):
    stream, labels = synthetic_set(seed=seed)
    ev = tmp_path / f"{name}.jsonl"
    ev.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in stream.events))
    lab = tmp_path / f"{name}_labels.csv"
    lab.write_text("video,label,subject\n" + "".join(f"{v},{l},{s}\n" for v, (l, s, _) in labels.items()))
    dur = tmp_path / f"{name}_durations.csv"
    dur.write_text("video,duration\n" + "".join(f"{v},{d}\n" for v, (_, _, d) in labels.items()))
    return ev, lab, dur


def _nfbl(*args):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_library_cross_validation_beats_chance():
    stream, labels = synthetic_set()
    durs = {v: d for v, (_, _, d) in labels.items()}
    feats = {s.video_id: feature_vector(s) for s in summarise(stream, durations=durs)}
    data = emotion.make_dataset(feats, {v: emotion.VideoLabel(v, l, s) for v, (l, s, _) in labels.items()})
    assert data.X.shape == (30, len(FEATURE_NAMES)) and data.groups is not None
    for kind in emotion.CLASSIFIERS:
        cv = emotion.cross_validate(data, kind, folds=5, seed=0)
        assert cv.splitter.startswith("StratifiedGroupKFold") and cv.n_splits == 5
        assert cv.accuracy >= 0.8 and cv.macro_f1 >= 0.8, (kind, cv.accuracy)
        # grouped: no subject on both sides is checked by sklearn; predictions cover every video
        assert set(cv.predictions) == set(data.video_ids)


def test_cli_train_then_eval_on_held_out(tmp_path):
    ev, lab, dur = _write(tmp_path, 0, "train")
    model, report = tmp_path / "model.json", tmp_path / "report.json"
    r = _nfbl("emotion", "train", ev, "--labels-file", lab, "--durations", dur, "-o", model,
              "--report", report)
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    assert rep["n_videos"] == 30 and rep["grouped_by_subject"] is True
    assert rep["cross_validation"]["accuracy"] >= 0.8
    doc = json.loads(model.read_text())
    assert doc["format"] == "nfbl.emotion.logreg" and doc["feature_names"] == list(FEATURE_NAMES)
    ev2, lab2, dur2 = _write(tmp_path, 1, "test")
    rep2 = tmp_path / "report2.json"
    r = _nfbl("emotion", "eval", ev2, "--labels-file", lab2, "--durations", dur2,
              "--model-file", model, "--report", rep2)
    assert r.returncode == 0, r.stderr
    res = json.loads(rep2.read_text())
    assert res["accuracy"] >= 0.8 and res["macro_f1"] >= 0.8
    assert "accuracy" in r.stdout


def test_json_model_matches_sklearn(tmp_path):
    stream, labels = synthetic_set()
    feats = {s.video_id: feature_vector(s) for s in summarise(stream)}
    data = emotion.make_dataset(feats, {v: emotion.VideoLabel(v, l) for v, (l, _, _) in labels.items()})
    assert data.groups is None
    sk = emotion.make_classifier("logreg").fit(data.X, data.y.astype(str))
    lm = emotion.linear_model_from_sklearn(sk)
    np.testing.assert_allclose(lm.predict_proba(data.X), sk.predict_proba(data.X), atol=1e-9)
    path = emotion.save_model(lm, tmp_path / "m.json")
    back = emotion.load_model(path)
    assert list(back.predict(data.X)) == list(sk.predict(data.X))


def test_gboost_pickle_needs_trust(tmp_path):
    stream, labels = synthetic_set(n_subjects=6)
    feats = {s.video_id: feature_vector(s) for s in summarise(stream)}
    data = emotion.make_dataset(feats, {v: emotion.VideoLabel(v, l) for v, (l, _, _) in labels.items()})
    gb = emotion.fit(data, "gboost")
    with pytest.raises(NfblError, match=r"\.pkl"):
        emotion.save_model(gb, tmp_path / "gb.json")
    path = emotion.save_model(gb, tmp_path / "gb.pkl")
    with pytest.raises(NfblError, match="trust-pickle"):
        emotion.load_model(path)
    back = emotion.load_model(path, trust_pickle=True)
    assert list(emotion.predict(back, data.X)) == list(gb.predict(data.X))


def test_label_readers(tmp_path):
    table = tmp_path / "imigue.csv"
    rows = [("video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame", "class",
             "subject_id", "subject_gender", "subject_nationality", "win_or_lose"),
            ("0001", "1", "0.4000", "10", "2.0000", "50", "17", "7", "m", "x", "win"),
            ("0001", "2", "2.4000", "60", "3.6000", "90", "99", "7", "m", "x", "win"),
            ("0002", "1", "0.2000", "5", "1.2000", "30", "23", "8", "f", "y", "lose")]
    with open(table, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    labs = emotion.read_video_labels(table)
    assert {v: (x.label, x.subject_id) for v, x in labs.items()} == {
        "0001": ("positive", "7"), "0002": ("negative", "8")}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,emotion\na,b\n")
    with pytest.raises(NfblError, match="video,label"):
        emotion.read_video_labels(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("video,label\na,pos\na,neg\n")
    with pytest.raises(NfblError, match="two labels"):
        emotion.read_video_labels(dup)
    with pytest.raises(NfblError, match="neither win nor lose"):
        emotion.imigue_label("draw")


def test_too_few_videos_for_cv():
    data = emotion.Dataset(np.zeros((3, len(FEATURE_NAMES))), np.array(["a", "a", "b"], object),
                           None, ("1", "2", "3"))
    with pytest.raises(NfblError, match="too few"):
        emotion.cross_validate(data)


def test_cli_features_export(tmp_path):
    ev, lab, dur = _write(tmp_path, 0, "f")
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"video_id": "extra", "class_id": 16, "start": 1, "end": 3}) + "\n")
    out = tmp_path / "X.csv"
    r = _nfbl("features", ev, one, "-o", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["video_id", *FEATURE_NAMES]
    assert len(rows) == 32 and rows[-1][0] == "extra"
    # values equal the in-process vector (duration = last event end, no table given)
    s = summarise(EventStream((Event("extra", 16, 1, 3),)))[0]
    np.testing.assert_allclose(np.array(rows[-1][1:], float), feature_vector(s))


def test_cli_prompt_text_json_and_errors(tmp_path):
    ev = tmp_path / "ev.jsonl"
    ev.write_text(json.dumps({"video_id": "v", "class_id": 16, "start": 12.4, "end": 15.2,
                              "score": 0.83}) + "\n")
    r = _nfbl("prompt", ev, "--duration", 60)
    assert r.returncode == 0, r.stderr
    assert "[00:12–00:16] N16 Folding arms (0.83)" in r.stdout and r.stdout.startswith("### system")
    tr = tmp_path / "t.txt"
    tr.write_text("Tough game.")
    out = tmp_path / "p.json"
    r = _nfbl("prompt", ev, "--json", "--labels", "happy,sad,neutral", "--transcript", tr,
              "-o", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["labels"] == ["happy", "sad", "neutral"] and doc["template"] == "eald-v1"
    assert "Tough game." in doc["messages"][1]["content"]
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    r = _nfbl("prompt", empty)
    assert r.returncode == 0 and "No NFBL (non-facial body language) events were observed" in r.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"video_id": "v", "class_id": 40, "start": 1, "end": 2}) + "\n")
    r = _nfbl("prompt", bad)
    assert r.returncode == 2 and "unknown NFBL class" in r.stderr and "Traceback" not in r.stderr
    r = _nfbl("prompt", ev, "--template", "nope")
    assert r.returncode == 2 and "unknown prompt template" in r.stderr


def test_emotion_protocol_train_and_eval_use_the_official_video_lists(tmp_path):
    pytest.importorskip("sklearn")
    from nfbl.io.datasets import IMIGUE_EMOTION_TEST_VIDEOS, IMIGUE_EMOTION_TRAIN_VIDEOS

    rng = np.random.default_rng(3)
    ids = sorted(IMIGUE_EMOTION_TRAIN_VIDEOS)[:24] + sorted(IMIGUE_EMOTION_TEST_VIDEOS)[:16] + [999]
    events, rows = [], ["video,label"]
    for k, n in enumerate(ids):
        vid = f"{n:04d}"
        pos = k % 2 == 0
        rates = {31: 6.0, 16: 1.0} if pos else {31: 2.0, 16: 4.0}
        for cid, rate in rates.items():
            for t in rng.uniform(0, 170, rng.poisson(rate * 3)):
                events.append(Event(vid, cid, float(t), float(t) + 2.0))
        rows.append(f"{vid},{'positive' if pos else 'negative'}")
    ev = tmp_path / "ev.jsonl"
    ev.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in EventStream(tuple(events)).sorted()))
    lab = tmp_path / "labels.csv"
    lab.write_text("\n".join(rows) + "\n")
    rep = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "nfbl", "emotion", "eval", ev, "--labels-file", lab,
                        "--protocol", "imigue-emotion", "--tune", "--folds", "3",
                        "--report", rep], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "24 train / 16 test videos" in r.stdout and "C chosen on train-video CV" in r.stdout
    assert "accuracy" in r.stdout and "macro-F1" in r.stdout and "TSM+LSTM" in r.stdout
    assert "ST-GCN (skeleton based) 0.50" in r.stdout and "0999" in r.stderr
    report = json.loads(rep.read_text())
    assert set(report["predictions"]) == {f"{n:04d}" for n in ids[24:40]}  # test videos only
    assert report["accuracy"] >= 0.75  # the rates separate the labels


def test_prompt_transcript_must_be_a_file(tmp_path):
    ev, _, _ = _write(tmp_path, 0, "t")
    r = subprocess.run([sys.executable, "-m", "nfbl", "prompt", ev, "--video", "s00_v0",
                        "--transcript", tmp_path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "is a folder" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
