"""Datasets (folder → Samples, built-in splits) and the `nfbl keypoints` CLI."""
from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nfbl.io import datasets
from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.io.event_formats import write_events
from nfbl.core.sequence import PoseSequence

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints"


def nfbl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


# --- datasets

def test_split_tables():
    assert len(datasets.IMIGUE_TRAIN_SUBJECTS) == 37 and len(datasets.IMIGUE_TEST_SUBJECTS) == 35
    assert not datasets.IMIGUE_TRAIN_SUBJECTS & datasets.IMIGUE_TEST_SUBJECTS
    assert datasets.imigue_split_of("2") == "train" and datasets.imigue_split_of(1) == "test"
    assert datasets.imigue_split_of(99) is None and datasets.imigue_split_of("x") is None
    assert datasets.smg_split_of("35") == "train" and datasets.smg_split_of("36") == "test"
    assert datasets.smg_split_of("Sample41") is None


def test_imigue_dataset_openpose_with_label_table(tmp_path):
    shutil.copytree(FIX / "openpose" / "interview01", tmp_path / "skel" / "interview01")
    shutil.copy(FIX / "imigue" / "labels.imigue.csv", tmp_path)
    ds = datasets.open_dataset(tmp_path)
    assert ds.kind is datasets.DatasetKind.IMIGUE and len(ds) == 1
    s = ds[0]
    assert s.subject_id == "2" and s.video_label == "Win"
    assert s.sequence.keypoints.shape == (2, 5, 67, 3)
    assert [(e.class_id, e.start, e.end) for e in s.events] == [(16, 0.0, 0.08), (31, 0.08, 0.2)]
    assert len(datasets.open_dataset(tmp_path, "imigue", split="train")) == 1
    with pytest.raises(NfblError, match="no imigue sequences found in the test split"):
        datasets.open_dataset(tmp_path, "imigue", split="test")
    with pytest.raises(NfblError, match="unknown split"):
        datasets.open_dataset(tmp_path, split="val")


def test_miga_dataset_uses_companion_labels(tmp_path):
    ds = datasets.open_dataset(FIX / "miga")
    assert ds.kind is datasets.DatasetKind.MIGA and len(ds) == 1
    s = next(iter(ds))
    assert s.sequence.layout == "miga35" and len(s.events) == 2 and s.subject_id is None
    with pytest.raises(NfblError, match="needs the iMiGUE label table"):
        datasets.open_dataset(FIX / "miga", split="train")


def test_smg_dataset_split():
    ds = datasets.open_dataset(FIX / "smg")
    assert [r.video_id for r in ds.refs] == ["01", "36"]
    train = datasets.open_dataset(FIX / "smg", split="train")
    test = datasets.open_dataset(FIX / "smg", "smg", split="test")
    assert [r.video_id for r in train.refs] == ["01"] and [r.video_id for r in test.refs] == ["36"]
    sample = test[0]
    assert sample.subject_id == "36" and [e.class_id for e in sample.events] == [22]


def test_folder_dataset_npz_and_events(tmp_path):
    for k, split in enumerate(("train", "train", "test")):
        kp = np.zeros((1, 10, 56, 3), np.float32)
        kp[..., 2] = 1.0
        seq = PoseSequence(kp, "nfbl56", 25.0, np.arange(10) / 25, (640, 480), video_id=f"v{k}",
                           meta={"subject_id": 7, "video_label": "lose"})
        seq.save(tmp_path / split / f"v{k}.npz")
        write_events(EventStream((Event(f"v{k}", 16, 0.0, 0.2),)),
                     tmp_path / split / f"v{k}.events.jsonl")
    ds = datasets.open_dataset(tmp_path)
    assert ds.kind is datasets.DatasetKind.FOLDER and len(ds) == 3
    train = datasets.open_dataset(tmp_path, split="train")
    assert len(train) == 2 and len(train[:1]) == 1
    s = train[1]
    assert s.sequence.video_id == "v1" and s.subject_id == "7" and s.video_label == "lose"
    assert [e.class_id for e in s.events] == [16]


# --- CLI

def test_cli_convert_and_info_openpose(tmp_path):
    out = tmp_path / "a.npz"
    r = nfbl("keypoints", "convert", FIX / "openpose" / "interview01", out, "--format", "openpose",
             "--person", "interviewee", "--fps", "25")
    assert r.returncode == 0, r.stderr
    seq = PoseSequence.load(out)
    assert seq.num_persons == 1 and seq.num_frames == 5
    assert seq.keypoints[0, 0, 0, 0] == 600  # the central person is the interviewee
    r = nfbl("keypoints", "info", out)
    assert r.returncode == 0, r.stderr
    assert "5 frames, 25 fps" in r.stdout and "1 person(s)" in r.stdout
    assert "right_hand 20.0%" in r.stdout  # the interviewee is absent from 1 of 5 frames
    r = nfbl("keypoints", "info", FIX / "openpose" / "interview01", "--json")
    info = json.loads(r.stdout)
    assert info["persons"] == 2 and info["frames"] == 5 and info["missing_by_part"]["arms"] == 0.35


def test_cli_convert_miga_writes_events_and_canonical(tmp_path):
    out = tmp_path / "clip01.npz"
    r = nfbl("keypoints", "convert", FIX / "miga" / "clip01_light_hand.csv", out,
             "--format", "miga",
             "--canonical", "--interpolate", "5", "--smooth", "savgol", "--resample", "50")
    assert r.returncode == 0, r.stderr
    seq = PoseSequence.load(out)
    assert seq.layout == "nfbl56" and seq.fps == 50 and seq.num_frames == 9
    ev = (tmp_path / "clip01.events.jsonl").read_text().splitlines()
    assert len(ev) == 3 and '"N31"' in ev[2]


def test_cli_errors_are_one_line(tmp_path):
    cases = [
        (["keypoints", "convert", FIX / "openpose" / "truncated", tmp_path / "x.npz"],
         "broken_000000000001_keypoints.json:221"),
        (["keypoints", "info", FIX / "miga_bad" / "clip02_light_hand.csv"],
         "clip02_light_hand.csv:2: expected 106 columns"),
        (["keypoints", "info", tmp_path / "nothing.npz"], "no such file"),
        (["keypoints", "convert", FIX / "miga" / "clip01_light_hand.csv", tmp_path / "y.npz",
          "--person", "5"], "out of range"),
    ]
    for args, expect in cases:
        r = nfbl(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0], r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()


def test_cli_pickle_needs_trust(tmp_path):
    p = tmp_path / "ann.pkl"
    kp = np.ones((1, 3, 17, 2), np.float32)
    with open(p, "wb") as fh:
        pickle.dump({"split": {}, "annotations": [
            {"frame_dir": "c0", "keypoint": kp, "keypoint_score": np.ones((1, 3, 17), np.float32),
             "img_shape": (480, 640), "label": 1, "total_frames": 3},
            {"frame_dir": "c1", "keypoint": kp, "keypoint_score": np.ones((1, 3, 17), np.float32),
             "img_shape": (480, 640), "label": 2, "total_frames": 3}]}, fh)
    r = nfbl("keypoints", "convert", p, tmp_path / "out", "--format", "pyskl")
    assert r.returncode == 2 and "--trust-pickle" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = nfbl("keypoints", "convert", p, tmp_path / "out", "--format", "pyskl", "--trust-pickle")
    assert r.returncode == 0, r.stderr
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["c0.npz", "c1.npz"]


def test_cli_bench_openpose_small(tmp_path):
    r = nfbl("keypoints", "bench-openpose", "--frames", "40", "--dir", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "frames: 40" in r.stdout and "x 40 frames x 67 joints" in r.stdout
    assert not any(tmp_path.iterdir())  # the temporary folder is removed


def test_load_alias_guesses_empty_kind():
    ds = datasets.load("", FIX / "smg", split="train")
    assert ds.kind is datasets.DatasetKind.SMG and len(ds) == 1
    with pytest.raises(NfblError, match="unknown dataset kind"):
        datasets.load("ntu", FIX / "smg")


def test_protocol_names_select_dataset_and_split(tmp_path, caplog):
    shutil.copytree(FIX / "openpose" / "interview01", tmp_path / "skel" / "interview01")
    shutil.copy(FIX / "imigue" / "labels.imigue.csv", tmp_path)
    ds = datasets.open_dataset(tmp_path, "imigue-xsub", split="train")  # subject 2: train
    assert ds.kind is datasets.DatasetKind.IMIGUE and len(ds) == 1
    with pytest.raises(NfblError, match="no imigue sequences found in the test split"):
        datasets.load("imigue-xsub", tmp_path, split="test")
    # imigue-emotion splits by the table's numeric video ids: 'interview01' is in neither
    with pytest.raises(NfblError, match="no imigue sequences"):
        datasets.open_dataset(tmp_path, "imigue-emotion", split="train")
    assert "neither split of imigue-emotion" in caplog.text


def test_cli_convert_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "seq.npz"
    kp = np.ones((1, 10, 56, 3), np.float32)
    PoseSequence(kp, "nfbl56", 25.0, np.arange(10) / 25).save(src)
    before = src.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(src)
    for out in (src, link):
        r = nfbl("keypoints", "convert", src, out, "--resample", "10")
        assert r.returncode == 2 and "the output is the input" in r.stderr, r.stderr
    assert src.read_bytes() == before


def test_train_protocol_option_selects_the_split(tmp_path):
    pytest.importorskip("torch")
    root = tmp_path / "imigue"
    shutil.copytree(FIX / "openpose" / "interview01", root / "skel" / "interview01")
    shutil.copy(FIX / "imigue" / "labels.imigue.csv", root)
    cfg = Path(__file__).resolve().parents[2] / "configs" / "imigue.toml"
    text = cfg.read_text().replace('dataset_root = "/data/imigue"', f'dataset_root = "{root}"')
    (tmp_path / "c.toml").write_text(text)
    r = nfbl("train", "--config", tmp_path / "c.toml", "--protocol", "nope")
    assert r.returncode == 2 and "unknown protocol 'nope'" in r.stderr
    # interview01 is no video of the emotion protocol: its train split is empty
    r = nfbl("train", "--config", tmp_path / "c.toml", "--protocol", "imigue-emotion",
             "--out", tmp_path / "run")
    assert r.returncode == 2 and "no imigue sequences found in the train split" in r.stderr, r.stderr
    tiny = Path(__file__).resolve().parents[2] / "configs" / "tiny_smoke.toml"
    r = nfbl("train", "--config", tiny, "--protocol", "imigue-xsub")
    assert r.returncode == 2 and "source = 'dataset'" in r.stderr


def test_imigue_table_ids_match_zero_padded_file_names(tmp_path, caplog):
    from nfbl.io import openpose
    header = ("video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,"
              "subject_gender,subject_nationality,win_or_lose\n")
    (tmp_path / "labels_20200831.csv").write_text(
        header + "1,1,0.0400,1,0.1200,3,17,2,male,ES,win\n")
    people = np.ones((1, 67, 3), np.float32)
    for vid in ("0001", "0002"):
        (tmp_path / vid).mkdir()
        for n in range(4):
            openpose.write_openpose_frame(tmp_path / vid / f"{vid}_{n:012d}_keypoints.json", people)
    ds = datasets.open_dataset(tmp_path, "imigue")
    assert [r.video_id for r in ds.refs] == ["0001", "0002"]
    s = ds[0]
    assert s.subject_id == "2" and [(e.video_id, e.class_id) for e in s.events] == [("0001", 16)]
    assert "not in the label table" in caplog.text and "0002" in caplog.text
    (tmp_path / "labels_20200831.csv").write_text(header + "77,1,0.0400,1,0.1200,3,17,2,m,ES,win\n")
    with pytest.raises(NfblError, match="no keypoint video .* is in the label table"):
        datasets.open_dataset(tmp_path, "imigue")


def _folder_with_subjects(root, subjects):
    """A folder dataset: video v<k> of subject ``subjects[k]`` (None: no subject id)."""
    for k, subject in enumerate(subjects):
        kp = np.zeros((1, 40, 56, 3), np.float32)
        kp[..., 2] = 1.0
        meta = {} if subject is None else {"subject_id": subject}
        PoseSequence(kp, "nfbl56", 25.0, np.arange(40) / 25, (640, 480), video_id=f"v{k}",
                     meta=meta).save(root / "train" / f"v{k}.npz")
        write_events(EventStream((Event(f"v{k}", 16, 0.0, 0.4),)),
                     root / "train" / f"v{k}.events.jsonl")


def test_holdout_splits_by_subject_reproducibly(tmp_path):
    _folder_with_subjects(tmp_path, [1, 1, 2, 3, 3, 4, 5, None, None])
    ds = datasets.open_dataset(tmp_path, "folder", split="train")
    # folder refs carry no subject until loaded: give them the subjects as a table would
    refs = [datasets.SampleRef(r.path, r.fmt, r.video_id, s)
            for r, s in zip(ds.refs, ["1", "1", "2", "3", "3", "4", "5", None, None])]
    ds = datasets.Dataset(ds.kind, refs)
    rest, held = datasets.holdout(ds, 0.3, seed=0)
    # 7 groups (5 subjects + 2 videos without one): round(0.3 * 7) = 2 groups held out
    groups = lambda d: {r.subject_id or r.video_id for r in d.refs}  # noqa: E731
    assert len(groups(held)) == 2 and not groups(held) & groups(rest)
    assert sorted(r.video_id for r in rest.refs + held.refs) == [f"v{k}" for k in range(9)]
    again = datasets.holdout(ds, 0.3, seed=0)[1]
    assert [r.video_id for r in again.refs] == [r.video_id for r in held.refs]
    other = {tuple(r.video_id for r in datasets.holdout(ds, 0.3, seed=s)[1].refs) for s in range(8)}
    assert len(other) > 1, "the seed must choose the held-out subjects"
    assert len(datasets.holdout(ds, 0.01, seed=0)[1].refs) >= 1      # at least one group
    assert len(datasets.holdout(ds, 0.99, seed=0)[0].refs) >= 1      # never all of them
    with pytest.raises(NfblError, match="between 0 and 1"):
        datasets.holdout(ds, 1.0)
    with pytest.raises(NfblError, match="validation needs a separate split"):
        datasets.holdout(ds[:1], 0.5)


def test_train_val_holdout_never_validates_on_the_test_split(tmp_path):
    pytest.importorskip("torch")
    from nfbl.detectors import train as T
    from nfbl.detectors.config import load_config
    _folder_with_subjects(tmp_path / "d", [1, 2, 3, 4, 5, 6])
    (tmp_path / "d" / "test").mkdir()          # a test split that must never be read
    (tmp_path / "d" / "test" / "junk.npz").write_bytes(b"not a pose file")
    cfg_text = (f'[data]\nsource = "dataset"\ndataset = "folder"\ndataset_root = "{tmp_path / "d"}"\n'
                'val_holdout = 0.34\nwindow = 32\nstride = 16\n')
    (tmp_path / "c.toml").write_text(cfg_text)
    cfg = load_config(tmp_path / "c.toml")
    from nfbl.detectors.model import DetectorConfig
    mcfg = DetectorConfig.from_dict(dict(cfg.model))
    train = T.load_records(cfg, mcfg, "train")
    val = T.load_records(cfg, mcfg, "val")
    ids = lambda recs: {r.video_id.split("#")[0] for r in recs}  # noqa: E731
    assert len(ids(val)) == 2 and len(ids(train)) == 4 and not ids(val) & ids(train)
    assert "held out for validation" in T.describe_training_data(cfg)
    (tmp_path / "bad.toml").write_text(cfg_text.replace("0.34", "1.5"))
    with pytest.raises(NfblError, match="val_holdout must be in"):
        load_config(tmp_path / "bad.toml")


# --- your own data: any keypoint format + annotations in any event format

def _boris_project(path, videos):
    """A BORIS project (the layout of tests/fixtures/events/boris) coding ``videos``:
    {media file name: [(time, code)]}, every code a state event of subject 'athlete'."""
    ethogram = {str(k): {"type": "State event", "key": str(k), "code": c, "description": "",
                         "color": "", "category": "", "modifiers": {}, "excluded": "",
                         "coding map": ""}
                for k, c in enumerate(["fold arms", "scratch head", "smile"])}
    obs = {}
    for k, (media, events) in enumerate(videos.items()):
        obs[f"obs {k}"] = {"file": {"1": [f"/videos/{media}"], "2": []}, "type": "MEDIA",
                           "date": "2024-01-01T10:00:00", "description": "", "time offset": 0.0,
                           "events": [[t, "athlete", c, "", ""] for t, c in events],
                           "media_info": {"length": {f"/videos/{media}": 60.0},
                                          "fps": {f"/videos/{media}": 25.0}}}
    path.write_text(json.dumps({"project_format_version": "7.0", "behaviors_conf": ethogram,
                                "subjects_conf": {}, "observations": obs}))
    return path


def _own_data(root):
    """OpenPose frames of interview01, an mmpose file talk_preds.json, and an .npz with its
    own events companion: three formats in one folder."""
    shutil.copytree(FIX / "openpose" / "interview01", root / "interview01")
    shutil.copy(FIX / "mmpose" / "talk_preds.json", root / "talk_preds.json")
    kp = np.zeros((1, 40, 56, 3), np.float32)
    kp[..., 2] = 1.0
    PoseSequence(kp, "nfbl56", 25.0, np.arange(40) / 25, (640, 480), video_id="synth1").save(
        root / "synth1.npz")
    write_events(EventStream((Event("synth1", 22, 0.2, 0.8),)), root / "synth1.events.jsonl")


def test_folder_dataset_reads_any_keypoint_format_with_a_boris_project(tmp_path, caplog):
    _own_data(tmp_path / "d")
    labels = _boris_project(tmp_path / "coding.boris", {
        "interview01.mp4": [(0.0, "fold arms"), (0.04, "smile"), (0.08, "smile"), (0.12, "fold arms")],
        "Talk_Preds.mp4": [(0.1, "scratch head"), (0.3, "scratch head")],
        "not_extracted.mp4": [(1.0, "fold arms"), (2.0, "fold arms")]})
    lmap = tmp_path / "map.json"
    lmap.write_text(json.dumps({"fold arms": "N16", "scratch head": "N3", "smile": None}))
    with caplog.at_level("WARNING"):
        ds = datasets.open_dataset(tmp_path / "d", "folder", labels=labels, label_map=lmap)
    assert [(r.video_id, r.fmt) for r in ds.refs] == [
        ("interview01", "openpose"), ("synth1", "npz"), ("talk_preds", "mmpose")]
    ev = {s.sequence.video_id or r.video_id: [(e.video_id, e.code, e.start, e.end) for e in s.events]
          for r, s in zip(ds.refs, ds)}
    assert ev["interview01"] == [("interview01", "N16", 0.0, 0.12)]
    # matched without regard to case, renamed to the keypoint file's id
    assert ev["talk_preds"] == [("talk_preds", "N3", 0.1, 0.3)]
    assert ev["synth1"] == [("synth1", "N22", 0.2, 0.8)]  # its companion wins
    assert "1 annotated video(s) have no keypoint file: not_extracted" in caplog.text
    # a video coded with no NFBL event (only a facial code, mapped to null) is annotated: it
    # trains as a negative instead of being reported as missing
    labels = _boris_project(tmp_path / "quiet.boris", {
        "interview01.mp4": [(0.0, "smile"), (0.5, "smile")]})
    caplog.clear()
    with caplog.at_level("WARNING"):
        ds = datasets.open_dataset(tmp_path / "d", "folder", labels=labels, label_map=lmap)
    got = {r.video_id: len(s.events) for r, s in zip(ds.refs, ds)}
    assert got == {"interview01": 0, "synth1": 1, "talk_preds": 0}
    assert "talk_preds" in caplog.text and "interview01" not in caplog.text


def test_folder_dataset_labels_folder_and_mismatches(tmp_path, caplog):
    _own_data(tmp_path / "d")
    # the labels folder is the dataset folder itself: its keypoint files (talk_preds.json, an
    # mmpose file a .json event reader would refuse) are not read as annotations
    write_events(EventStream((Event("interview01", 31, 0.0, 0.1),)), tmp_path / "d" / "a.jsonl")
    with caplog.at_level("WARNING"):
        ds = datasets.open_dataset(tmp_path / "d", "folder", labels=tmp_path / "d")
    got = {r.video_id: [e.code for e in s.events] for r, s in zip(ds.refs, ds)}
    assert got == {"interview01": ["N31"], "synth1": ["N22"], "talk_preds": []}
    assert "1 video(s) have no events" in caplog.text and "talk_preds" in caplog.text
    other = tmp_path / "other.jsonl"
    write_events(EventStream((Event("someone_else", 31, 0.0, 0.1),)), other)
    (tmp_path / "d" / "synth1.events.jsonl").unlink()
    with pytest.raises(NfblError, match="no keypoint video .* has events in"):
        datasets.open_dataset(tmp_path / "d", "folder", labels=other)
    shutil.copytree(FIX / "openpose" / "interview01", tmp_path / "d" / "again" / "interview01")
    with pytest.raises(NfblError, match="video 'interview01' has two keypoint files"):
        datasets.open_dataset(tmp_path / "d", "folder")


def test_training_config_takes_labels_and_a_label_map(tmp_path):
    pytest.importorskip("torch")
    from nfbl.detectors import train as T
    from nfbl.detectors.config import load_config
    from nfbl.detectors.model import DetectorConfig
    _own_data(tmp_path / "d")
    labels = _boris_project(tmp_path / "coding.boris", {
        "interview01.mp4": [(0.0, "fold arms"), (0.12, "fold arms")],
        "talk_preds.mp4": [(0.1, "scratch head"), (0.3, "scratch head")]})
    (tmp_path / "map.csv").write_text("label,class\nfold arms,N16\nscratch head,N3\nsmile,\n")
    text = (f'[data]\nsource = "dataset"\ndataset = "folder"\ndataset_root = "{tmp_path / "d"}"\n'
            f'labels = "{labels}"\nlabel_map = "{tmp_path / "map.csv"}"\nwindow = 32\nstride = 16\n')
    (tmp_path / "c.toml").write_text(text)
    cfg = load_config(tmp_path / "c.toml")
    recs = T.load_records(cfg, DetectorConfig.from_dict(dict(cfg.model)), "train")
    with_events = {r.video_id.split("#")[0] for r in recs if r.events}
    assert with_events == {"interview01", "talk_preds", "synth1"}
    assert f"annotations {labels} mapped by {tmp_path / 'map.csv'}" in T.describe_training_data(cfg)
    (tmp_path / "bad.toml").write_text(text.replace(f'labels = "{labels}"\n', ""))
    with pytest.raises(NfblError, match="label_map needs labels"):
        load_config(tmp_path / "bad.toml")


def test_smg_finetune_config_reads_smg_sequences(tmp_path):
    """configs/smg_finetune.toml on an SMG folder: train sequences only (1-35), some held out
    for validation; the test split (36-40) never read."""
    from nfbl.detectors import train as T
    from nfbl.detectors.config import load_config
    from nfbl.detectors.model import DetectorConfig
    fix = Path(__file__).resolve().parents[1] / "fixtures" / "keypoints" / "smg"
    row = (fix / "01_skeleton.csv").read_text().splitlines()[0]
    for sid in ("01", "02", "03", "36"):
        (tmp_path / f"{sid}_skeleton.csv").write_text("\n".join([row] * 60) + "\n")
        (tmp_path / f"{sid}_finelabels.csv").write_text("3,10,40\n2,45,55\n")
    text = (Path(__file__).resolve().parents[2] / "configs" / "smg_finetune.toml").read_text()
    text = text.replace('dataset_root = "/data/smg"', f'dataset_root = "{tmp_path}"')
    text = text.replace("val_holdout = 0.15", "val_holdout = 0.34").replace(
        "window = 256", "window = 32").replace("stride = 128", "stride = 16")
    (tmp_path / "c.toml").write_text(text)
    cfg = load_config(tmp_path / "c.toml")
    mcfg = DetectorConfig.from_dict(dict(cfg.model))
    train, val = T.load_records(cfg, mcfg, "train"), T.load_records(cfg, mcfg, "val")
    ids = lambda recs: {r.video_id.split("#")[0] for r in recs}  # noqa: E731
    assert ids(train) | ids(val) == {"01", "02", "03"} and not ids(train) & ids(val)
    assert len(ids(val)) == 1
