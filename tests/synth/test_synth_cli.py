"""`nfbl synth` and `nfbl render` through the real entry point; stick-figure drawing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.events import Event, EventStream
from nfbl.viz.render import active_events, draw_skeleton, render_grid
from nfbl.core.sequence import PoseSequence


def test_synth_command_writes_a_deterministic_corpus(cli, tmp_path):
    args = ["--videos", "2", "--minutes", "0.3", "--seed", "3", "--layout", "openpose_body25_hands",
            "--flatten-tail", "0.5", "--split", "heldout"]
    r = cli("synth", tmp_path / "a", *args)
    assert r.returncode == 0, r.stderr
    assert "wrote 2 videos" in r.stdout
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["corpus.json", "synth_0000.events.jsonl", "synth_0000.imigue.csv", "synth_0000.npz",
                     "synth_0001.events.jsonl", "synth_0001.imigue.csv", "synth_0001.npz"]
    man = json.loads((tmp_path / "a" / "corpus.json").read_text())
    assert man["config"]["layout"] == "openpose_body25_hands" and man["config"]["split"] == "heldout"
    seq = PoseSequence.load(tmp_path / "a" / "synth_0001.npz")
    assert seq.layout == "openpose_body25_hands" and seq.num_frames == 450
    assert cli("synth", tmp_path / "b", *args).returncode == 0
    for n in ("synth_0001.events.jsonl", "corpus.json"):
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert PoseSequence.load(tmp_path / "b" / "synth_0001.npz").keypoints.tobytes() == seq.keypoints.tobytes()


def test_synth_command_bad_input_is_one_line(cli, tmp_path):
    r = cli("synth")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "output folder" in r.stderr
    r = cli("synth", tmp_path / "x", "--classes", "N28")
    assert r.returncode == 2 and "cannot generate" in r.stderr and r.stderr.count("\n") == 1
    r = cli("synth", tmp_path / "x", "--flatten-tail", "2")
    assert r.returncode == 2 and "flatten_tail" in r.stderr
    r = cli("synth", tmp_path / "x", "--seed", "-1")
    assert r.returncode == 2 and "seed" in r.stderr and r.stderr.count("\n") == 1
    (tmp_path / "afile").write_text("x")
    r = cli("synth", tmp_path / "afile", "--videos", "1", "--minutes", "0.1")
    assert r.returncode == 2 and "not a folder" in r.stderr


def test_render_png_and_mp4(cli, tmp_path):
    assert cli("synth", tmp_path, "--videos", "1", "--minutes", "0.2", "--seed", "1").returncode == 0
    npz = tmp_path / "synth_0000.npz"
    r = cli("render", npz, "-o", tmp_path / "sheet.png")
    assert r.returncode == 0, r.stderr
    import cv2
    img = cv2.imread(str(tmp_path / "sheet.png"))
    assert img is not None and img.shape[1] == 4 * 480 and img.std() > 5
    r = cli("render", npz, "-o", tmp_path / "clip.mp4", "--end", "1.0")
    assert r.returncode == 0, r.stderr
    import av
    with av.open(str(tmp_path / "clip.mp4")) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == 25
    r = cli("render", tmp_path / "missing.npz", "-o", tmp_path / "x.png")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = cli("render", npz, "-o", tmp_path / "x.gif")
    assert r.returncode == 2 and ".mp4" in r.stderr
    assert not (tmp_path / "x.gif").exists()


def test_draw_skeleton_draws_present_joints_and_skips_missing():
    lay = skeletons.CANONICAL
    kp = np.zeros((lay.num_joints, 3), np.float32)
    i, j = lay.index["left_shoulder"], lay.index["left_elbow"]
    kp[i] = (20, 20, 0.9)
    kp[j] = (80, 20, 0.9)
    img = np.zeros((100, 100, 3), np.uint8)
    draw_skeleton(img, kp, lay)
    assert img[20, 50].any()          # the bone between the two joints
    assert not img[0, 0].any()        # a missing joint at (0, 0) is not drawn
    kp[j, 2] = 0.0
    img2 = np.zeros((100, 100, 3), np.uint8)
    draw_skeleton(img2, kp, lay)
    assert not img2[20, 50].any()     # no bone to a missing joint
    with pytest.raises(Exception):
        draw_skeleton(img, kp[:10], lay)


def test_active_events_are_half_open():
    evs = [Event("v", 16, 1.0, 2.0), Event("v", 31, 1.5, 3.0)]
    assert [e.class_id for e in active_events(evs, 1.0)] == [16]
    assert [e.class_id for e in active_events(evs, 2.0)] == [31]
    assert active_events(evs, 3.0) == []


def test_render_grid_default_frames_are_event_middles(tmp_path):
    from nfbl.synth import SynthConfig, generate_video
    seq, events = generate_video(SynthConfig(minutes=0.5, rate_scale=3.0), seed=2, video_id="g")
    assert len(events) >= 3
    out = render_grid(seq, EventStream(events.events[:3]), tmp_path / "g.png", cols=3)
    import cv2
    assert cv2.imread(str(out)).shape == (270, 3 * 480, 3)
