"""`nfbl export`, `nfbl model-info`, `nfbl detect-keypoints` through the real entry point."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from nfbl.detectors import checkpoint as C  # noqa: E402
from nfbl.detectors.model import DetectorConfig, NFBLDetector  # noqa: E402
from nfbl.core.sequence import PoseSequence  # noqa: E402


def nfbl(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nfbl", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random checkpoint (class bias 0, so events come out) exported with `nfbl export`."""
    d = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    m = NFBLDetector(DetectorConfig()).eval()
    torch.nn.init.zeros_(m.head.cls_head.bias)
    card = C.make_card(m.cfg, name="cli-model", version="0.9", window=512,
                       decode={"threshold": 0.5})
    ck = C.save_checkpoint(d / "model.pt", m, card=card)
    (d / "metrics.json").write_text(json.dumps({"f1@0.3": 0.123}))
    out = nfbl("export", str(ck), "-o", str(d / "model.onnx"), "--model-version", "1.0",
               "--training-data", "random weights for a test", "--metrics", str(d / "metrics.json"))
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and "checked against torch" in out.stdout
    return d


def _npz(path, layout="nfbl56", t=800, persons=2):
    from nfbl.core import skeletons
    v = skeletons.get_layout(layout).num_joints
    rng = np.random.default_rng(0)
    kp = np.zeros((persons, t, v, 3), np.float32)
    kp[..., :2] = rng.normal(0, 20, size=(persons, t, v, 2)).cumsum(axis=1) * 0.05 + 300
    kp[..., 2] = rng.uniform(0.3, 1, size=(persons, t, v))
    PoseSequence(kp, layout, 25.0, np.arange(t) / 25.0, (640, 480), None, "talk").save(path)
    return path


def test_model_info_prints_the_card(exported):
    out = nfbl("model-info", str(exported / "model.onnx"))
    assert out.returncode == 0, out.stderr
    assert "cli-model 1.0" in out.stdout and "random weights for a test" in out.stdout
    assert "f1@0.3" in out.stdout and "N16 Folding arms" in out.stdout
    js = nfbl("model-info", str(exported / "model.onnx"), "--json")
    card = json.loads(js.stdout)
    assert card["version"] == "1.0" and card["metrics"] == {"f1@0.3": 0.123}
    assert card["window"] == 512 and card["decode"]["threshold"] == 0.5


def test_detect_keypoints_writes_events(exported, tmp_path):
    seq = _npz(tmp_path / "talk.npz")
    out = nfbl("detect-keypoints", str(seq), "-o", str(tmp_path / "ev.jsonl"), "--model",
               str(exported / "model.onnx"), "--threshold", "0.5", "--all-persons")
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "ev.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines if x.strip()]
    events = [r for r in rows if "class_id" in r]
    assert events and {e["track_id"] for e in events} == {0, 1}
    assert all(e["video_id"] == "talk" and e["model"] == "cli-model@1.0" for e in events)
    one = nfbl("detect-keypoints", str(seq), "-o", str(tmp_path / "one.jsonl"), "--model",
               str(exported / "model.onnx"))
    assert one.returncode == 0, one.stderr
    tracks = {json.loads(x).get("track_id") for x in (tmp_path / "one.jsonl").read_text().splitlines()
              if '"class_id"' in x}
    assert len(tracks) == 1


def test_detected_events_carry_the_video_length_for_rates(exported, tmp_path):
    """detect-keypoints records each video's length (meta ``durations``, seconds to the end of
    its last frame), so the aggregator's rates are true rates, not upper bounds from the last
    event, and a video whose events all fall early keeps its full length."""
    seq = _npz(tmp_path / "talk.npz", t=800, persons=1)             # 32.0 s at 25 fps
    ev = tmp_path / "ev.jsonl"
    out = nfbl("detect-keypoints", str(seq), "-o", str(ev), "--model",
               str(exported / "model.onnx"), "--threshold", "0.5")
    assert out.returncode == 0, out.stderr
    meta = json.loads(ev.read_text().splitlines()[0])["meta"]
    assert meta["durations"] == {"talk": 32.0}
    prompt = nfbl("prompt", str(ev))
    assert prompt.returncode == 0, prompt.stderr
    assert "Video length: 00:32 (32.0 s)." in prompt.stdout and "upper bound" not in prompt.stdout


def test_cli_bad_input_is_one_line(exported, tmp_path):
    bad = nfbl("detect-keypoints", str(_npz(tmp_path / "c.npz", layout="coco17", t=50)), "-o",
               str(tmp_path / "x.jsonl"), "--model", str(exported / "model.onnx"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "coco17" in bad.stderr and "nfbl56" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert "--body-only" in bad.stderr           # only the hands are missing: say how to go on
    assert not (tmp_path / "x.jsonl").exists()
    ok = nfbl("detect-keypoints", str(tmp_path / "c.npz"), "-o", str(tmp_path / "x.jsonl"),
              "--model", str(exported / "model.onnx"), "--body-only")
    assert ok.returncode == 0, ok.stderr
    assert "hands show no joint besides the wrist" in ok.stderr   # run as reduced hands
    meta = json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0])["meta"]
    assert meta["hand_detail"] == [0.0]
    (tmp_path / "fake.onnx").write_bytes(b"\x00\x01garbage")
    bad = nfbl("model-info", str(tmp_path / "fake.onnx"))
    assert bad.returncode == 2 and "not an nfbl model" in bad.stderr
    bad = nfbl("export", str(tmp_path / "nothing.pt"), "-o", str(tmp_path / "m.onnx"))
    assert bad.returncode == 2 and "no such checkpoint" in bad.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_export_untrained_says_so(tmp_path):
    out = nfbl("export", "--untrained", "-o", str(tmp_path / "u.onnx"))
    assert out.returncode == 0, out.stderr
    info = nfbl("model-info", str(tmp_path / "u.onnx"), "--benchmark", "300")
    assert info.returncode == 0, info.stderr
    assert "UNTRAINED" in info.stdout and "untrained model" in info.stdout
    assert "frames/s" in info.stdout


def test_export_with_flip_average_and_decode_settings(exported, tmp_path):
    out = nfbl("export", str(exported / "model.pt"), "-o", str(tmp_path / "tta.onnx"),
               "--flip-average", "--threshold", "0.45", "--nms-iou", "0.3",
               "--reduced-hands-bias", "0.5")
    assert out.returncode == 0, out.stderr
    card = json.loads(nfbl("model-info", str(tmp_path / "tta.onnx"), "--json").stdout)
    assert card["test_time_flip"] is True
    assert card["decode"]["threshold"] == 0.45 and card["decode"]["nms_iou"] == 0.3
    assert card["decode"]["reduced_hands_bias"] == 0.5
    info = nfbl("model-info", str(tmp_path / "tta.onnx"))
    assert "test-time flip:  yes" in info.stdout
    # the runtime runs it like any model (the graph holds both passes)
    seq = _npz(tmp_path / "talk.npz", persons=1)
    ev = nfbl("detect-keypoints", str(seq), "-o", str(tmp_path / "ev.jsonl"),
              "--model", str(tmp_path / "tta.onnx"))
    assert ev.returncode == 0, ev.stderr
    bad = nfbl("export", str(exported / "model.pt"), "-o", str(tmp_path / "bad.onnx"),
               "--nms-iou", "1.5")
    assert bad.returncode == 2 and "--nms-iou" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.onnx").exists()


def test_export_checkpoint_out_writes_weights_with_the_same_card(exported, tmp_path):
    out = nfbl("export", str(exported / "model.pt"), "-o", str(tmp_path / "m.onnx"),
               "--flip-average", "--model-version", "2.0", "--checkpoint-out", str(tmp_path / "m.pt"))
    assert out.returncode == 0, out.stderr
    ck = C.load_checkpoint(tmp_path / "m.pt")
    card = json.loads(nfbl("model-info", str(tmp_path / "m.onnx"), "--json").stdout)
    assert ck.extra is None and ck.card["version"] == card["version"] == "2.0"
    assert ck.card["test_time_flip"] is True
    src = C.load_checkpoint(exported / "model.pt")
    for k, v in src.model.state_dict().items():   # the plain network, not the flip wrapper
        assert torch.equal(v, ck.model.state_dict()[k]), k
    same = nfbl("export", str(exported / "model.pt"), "-o", str(tmp_path / "x.onnx"),
                "--checkpoint-out", str(tmp_path / "x.onnx"))
    assert same.returncode != 0 and len(same.stderr.strip().splitlines()) == 1


def test_detect_keypoints_contact_check_and_its_switch(exported, tmp_path):
    from nfbl.core import skeletons
    from nfbl.keypoints.contact import CONTACT_KIND
    lay = skeletons.CANONICAL
    path = _npz(tmp_path / "apart.npz", persons=1)
    seq = PoseSequence.load(path)
    kp = seq.keypoints.copy()
    # a body whose hands stay far from the face, each other and the arms (pixels, 200 px/sw)
    for name, off in (("nose", (0, -150)), ("left_eye", (20, -160)), ("right_eye", (-20, -160)),
                      ("left_ear", (40, -150)), ("right_ear", (-40, -150)),
                      ("left_shoulder", (100, 0)), ("right_shoulder", (-100, 0)),
                      ("left_elbow", (200, 100)), ("right_elbow", (-200, 100))):
        kp[0, :, lay.index[name], :2] += off
    for side, sign in (("left", 1), ("right", -1)):
        for j in (lay.index[f"{side}_wrist"], *lay.indices(skeletons.hand_joints(side))):
            kp[0, :, j, :2] += (sign * 300, 250)
    PoseSequence(kp, "nfbl56", 25.0, seq.timestamps, (640, 480), None, "apart").save(path)

    def events(*flags):
        out = nfbl("detect-keypoints", str(path), "-o", str(tmp_path / "e.jsonl"), "--model",
                   str(exported / "model.onnx"), *flags)
        assert out.returncode == 0, out.stderr
        rows = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines() if x.strip()]
        dropped = rows[0]["meta"].get("contact_check_dropped")
        return [(r["class_id"], r["start"], r["end"]) for r in rows if "class_id" in r], dropped

    (checked, dropped), (unchecked, none) = events(), events("--no-contact-check")
    assert set(checked) < set(unchecked) and none is None
    assert len(dropped) == len(unchecked) - len(checked)
    rows = [(r[1], r[2]) for r in dropped]
    for c, start, _ in set(unchecked) - set(checked):   # each dropped event has its row
        match = next(r for r in rows if r[0] == f"N{c}" and abs(r[1] - start) < 2e-3)
        rows.remove(match)
    assert rows == []
    assert {c for c, _, _ in set(unchecked) - set(checked)} <= set(CONTACT_KIND)


def test_bench_contact_speed_small():
    out = nfbl("bench", "contact-speed", "--minutes", "0.2", "--repeat", "1")
    assert out.returncode == 0, out.stderr
    assert "300 frames" in out.stdout and out.stdout.count("frames/s") == 2


def test_bench_lost_person_rejoins_the_interviewee():
    out = nfbl("bench", "lost-person", "--videos", "1", "--minutes", "0.5", "--gaps", "2",
               "--threads", "1")
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "tracks per video" in ln]
    assert len(lines) == 3
    assert lines[0].startswith("never lost") and "tracks per video [2]" in lines[0]
    # without rejoining the interviewee falls apart into 3 tracks (+ the bystander)
    assert lines[1].startswith("lost, max_rejoin   0: tracks per video [4]")
    assert lines[2].startswith("lost, max_rejoin 750: tracks per video [2]")
    bad = nfbl("bench", "lost-person", "--gaps", "-1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_bench_clips_names_event_clips():
    from nfbl.perf.clips import event_clips
    from nfbl.synth import SynthConfig, generate_video
    out = nfbl("bench", "clips", "--videos", "1", "--minutes", "0.5", "--kit22", "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert "event clips of 1 held-out videos" in out.stdout and "the kit's 22 joints" in out.stdout
    assert "top-1 " in out.stdout and "mean class accuracy" in out.stdout
    # the kit's cut: floor(start x fps) .. floor(end x fps), both included, the last 90 at most
    seq, events = generate_video(SynthConfig(minutes=0.5, layout="nfbl56"), seed=2_000_000)
    clips = event_clips(seq, events)
    assert len(clips) == len(events) > 0
    for (clip, cid), e in zip(clips, events):
        ef = min(int(e.end * 25), seq.num_frames - 1)
        assert cid == e.class_id and clip.num_frames == min(90, ef - int(e.start * 25) + 1)
        assert clip.timestamps[-1] == pytest.approx(ef / 25.0)
