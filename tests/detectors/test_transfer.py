"""Sim-to-real without retraining: frame priors, logit adjustment, behaviour on real files
(nfbl.detectors.transfer; `nfbl class-bias`, `nfbl evaluate --real`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfbl.detectors import transfer
from nfbl.exports.decoding import DecodeConfig
from nfbl.exports.runtime import Detector, bundled_model_path

REALPOSE = Path(__file__).resolve().parents[2].parent / "shared" / "realpose"
CLASSES = (9, 16, 22, 31)   # a rare class (N9) and three common ones


def test_flattening_and_balanced_sampling_raise_rare_class_priors():
    real = transfer.frame_priors(CLASSES, 0.0, videos=30, minutes=2.0, seed=1)
    flat = transfer.frame_priors(CLASSES, 0.5, videos=30, minutes=2.0, seed=1)
    balanced = transfer.frame_priors(CLASSES, 0.5, videos=30, minutes=2.0, seed=1, power=0.5)
    assert real.shape == flat.shape == balanced.shape == (4,)
    assert np.all((real >= 0) & (real <= 1))
    # N9 is rare in iMiGUE: flattening the shares and the balanced sampler both show it more
    assert real[0] < flat[0] < balanced[0]
    # N31 is the most common real class
    assert int(np.argmax(real)) == 3
    # the same seed gives the same priors
    np.testing.assert_array_equal(real, transfer.frame_priors(CLASSES, 0.0, videos=30,
                                                              minutes=2.0, seed=1))


def test_logit_adjustment():
    real, train = np.array([0.1, 0.02, 0.5]), np.array([0.1, 0.2, 0.25])
    b = transfer.logit_adjustment(real, train, tau=1.0)
    assert b[0] == pytest.approx(0.0)
    assert b[1] < 0 < b[2]
    # applied to a probability equal to the training prior it gives the real prior
    z = np.log(train / (1 - train)) + b
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), real)
    np.testing.assert_allclose(transfer.logit_adjustment(real, train, tau=0.5), 0.5 * b)
    floor = transfer.real_frame_priors((29, 31), videos=5, seed=0, floor=1e-3)
    assert floor.min() >= 1e-3


def test_imigue_reference():
    ref = transfer.imigue_reference()
    assert ref["events_per_minute"]["p50"] == pytest.approx(8.92)
    assert next(iter(ref["top_class_shares"])) == "N31"
    assert 0.0 < ref["covered_share_approx"] < 1.0


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_real_behaviour_counts_and_rates_agree():
    from nfbl.synth import SynthConfig, generate_video

    det = Detector.load(threads=1)
    seq, _ = generate_video(SynthConfig(minutes=0.5, layout="openpose_body25_hands"), 5, "s5")
    res = transfer.real_behaviour(det, [seq], ["s5"], min_score=0.3)
    row = res["files"][0]
    assert row["seconds"] == pytest.approx(30.0, abs=0.05)
    assert row["events_per_minute"] == pytest.approx(row["events"] * 60.0 / row["seconds"], abs=0.01)
    assert sum(row["class_mix"].values()) == row["events"] > 0
    assert 0.0 < row["covered_share"] <= 1.0
    # a strongly negative offset on every class silences the detector
    mute = DecodeConfig.from_dict({**det.card.decode,
                                   "class_bias": [-20.0] * det.card.num_classes})
    assert transfer.real_behaviour(det, [seq], decode=mute)["total"]["events"] == 0


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_cli_class_bias_then_evaluate_real(cli, tmp_path):
    from nfbl.synth import SynthConfig, generate_video

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "bias.json"
    r = cli("class-bias", "--config", repo / "configs" / "synthetic_default.toml", "--tau", "0.5",
            "--videos", "20", "-o", out)
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())
    card = Detector.load(threads=1).card
    assert len(got["class_bias"]) == card.num_classes
    assert got["class_bias"][card.class_ids.index(9)] < 0 < got["class_bias"][card.class_ids.index(31)]

    seq, _ = generate_video(SynthConfig(minutes=0.4, layout="mediapipe_pose33_hands"), 3, "v3")
    kp = seq.save(tmp_path / "v3.npz")
    plain, biased = tmp_path / "plain.json", tmp_path / "biased.json"
    r = cli("evaluate", "--real", kp, "--threads", "1", "--json", plain)
    assert r.returncode == 0, r.stderr
    assert "events/min" in r.stdout and "real iMiGUE reference" in r.stdout
    r = cli("evaluate", "--real", kp, "--threads", "1", "--class-bias", out, "--json", biased)
    assert r.returncode == 0, r.stderr
    a, b = json.loads(plain.read_text()), json.loads(biased.read_text())
    assert a["decode"]["class_bias"] == [] and len(b["decode"]["class_bias"]) == card.num_classes
    assert a["total"]["seconds"] == b["total"]["seconds"] == pytest.approx(24.0, abs=0.05)


def test_cli_evaluate_real_bad_input(cli, tmp_path):
    r = cli("evaluate", "--real", tmp_path / "missing.npz")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "missing.npz" in r.stderr
    bad = tmp_path / "bias.json"
    bad.write_text("[1, 2]")
    r = cli("evaluate", "--synthetic", "--videos", "1", "--minutes", "0.1", "--class-bias", bad)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--class-bias" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("evaluate", "--synthetic", "--real", tmp_path / "x.npz")
    assert r.returncode != 0 and "not allowed with" in r.stderr


@pytest.mark.skipif(not REALPOSE.is_dir(), reason="../shared/realpose is absent")
def test_cli_evaluate_real_on_shared_realpose(cli, tmp_path):
    files = [REALPOSE / "pats" / "cmu0000033570.h5", REALPOSE / "signers" / "openpose.pose"]
    out = tmp_path / "real.json"
    r = cli("evaluate", "--real", *files, "--threads", "1", "--json", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert [f["name"] for f in res["files"]] == ["cmu0000033570.h5", "openpose.pose"]
    assert res["files"][0]["seconds"] == pytest.approx(109 / 15.0, abs=0.01)
    assert res["total"]["events"] == sum(f["events"] for f in res["files"])
    checked = res["files"][0]
    # both real files show inner hand joints: no reduced-hands warning (docs/detector.md)
    assert all(f["hand_detail"][0] > 0.05 for f in res["files"]) and "fingertips" not in r.stderr
    r = cli("evaluate", "--real", files[0], "--threads", "1", "--no-contact-check", "--json", out)
    assert r.returncode == 0, r.stderr
    row = json.loads(out.read_text())["files"][0]
    assert row["contact_check_removed"] == {}
    # without the check, exactly the removed events come back
    back = dict(checked["class_mix"])
    for code, n in checked["contact_check_removed"].items():
        back[code] = back.get(code, 0) + n
    assert back == row["class_mix"]
    # reduced to MiGA's fingertips, the real files read as reduced (and say so)
    r = cli("evaluate", "--real", *files, "--threads", "1", "--fingertips", "--json", out)
    assert r.returncode == 0, r.stderr
    tips = json.loads(out.read_text())
    assert tips["fingertips"] is True and all(f["hand_detail"][0] == 0.0 for f in tips["files"])
    assert "fingertips only" in r.stdout and "fingertips in 100% of the frames" in r.stderr


@pytest.mark.skipif(not REALPOSE.is_dir(), reason="../shared/realpose is absent")
def test_contact_check_on_the_real_host_with_clasped_hands():
    """The real talk-show host clasps his hands on the desk at the end: "touching arms" (N21)
    there is ruled out by the keypoints, "holding hands" (N22) is not. 0.5.0 called that span
    N21 (0.68); docs/benchmarks.md, "Contact check"."""
    from nfbl.core.events import Event
    from nfbl.exports.model_input import prepare
    from nfbl.io.keypoints import read_keypoints
    from nfbl.keypoints import contact
    det = Detector.load(None, threads=1)
    seq = read_keypoints(REALPOSE / "pats" / "cmu0000033570.h5")
    x, ts = prepare(seq, 0, det.card)
    arms, hands = (Event("host", c, 4.65, 7.24, 0.68) for c in (21, 22))
    kept, dropped = contact.split([arms, hands], x, ts)
    assert [e.class_id for e in dropped] == [21] and [e.class_id for e in kept] == [22]


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_cli_evaluate_deid_hands_removes_face_hands_before_detection(cli, tmp_path):
    plain, deid = tmp_path / "plain.json", tmp_path / "deid.json"
    common = ("evaluate", "--synthetic", "--videos", "1", "--minutes", "0.5", "--seed", "7",
              "--layouts", "nfbl56", "--threads", "1")
    r = cli(*common, "--json", plain)
    assert r.returncode == 0, r.stderr
    r = cli(*common, "--deid-hands", "0.6", "--json", deid)
    assert r.returncode == 0, r.stderr
    assert "hands inside a 0.6-sw face box removed" in r.stdout
    a, b = (json.loads(p.read_text())["summary"] for p in (plain, deid))
    assert a["deid_hands"] is None and b["deid_hands"] == 0.6
    r = cli(*common, "--deid-hands", "-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    bare = tmp_path / "bare.json"
    r = cli(*common, "--no-hands", "--json", bare)
    assert r.returncode == 0, r.stderr
    assert "hand joints removed" in r.stdout
    c = json.loads(bare.read_text())["summary"]
    assert c["no_hands"] is True and a["no_hands"] is False
    # the card's offset for reduced hands, and --reduced-hands-bias in its place
    assert c["decode"]["reduced_hands_bias"] == 0.5
    unbiased = tmp_path / "unbiased.json"
    r = cli(*common, "--no-hands", "--reduced-hands-bias", "0", "--json", unbiased)
    assert r.returncode == 0, r.stderr
    d = json.loads(unbiased.read_text())["summary"]
    assert d["decode"]["reduced_hands_bias"] == 0.0
    assert d["recall_0.3"] <= c["recall_0.3"]  # raised logits find at least as many


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_cli_evaluate_turned_frames_score_as_upright(cli, tmp_path):
    """Frames stored turned are turned back upright by prepare: the same events, the same F1."""
    common = ("evaluate", "--synthetic", "--videos", "1", "--minutes", "0.5", "--seed", "7",
              "--layouts", "openpose_body25_hands", "--threads", "1")
    plain, side = tmp_path / "plain.json", tmp_path / "side.json"
    assert cli(*common, "--json", plain).returncode == 0
    r = cli(*common, "--turned", "90", "--json", side)
    assert r.returncode == 0, r.stderr
    assert "frames turned 90 degrees" in r.stdout and "turned upright (90 degrees)" in r.stderr
    a, b = (json.loads(p.read_text()) for p in (plain, side))
    assert b["summary"]["turned"] == 90 and a["summary"]["turned"] == 0
    assert b["summary"]["f1_0.3"] == pytest.approx(a["summary"]["f1_0.3"], abs=1e-9)
    assert b["metrics"]["f1"]["tp"] == a["metrics"]["f1"]["tp"]
    r = cli("evaluate", "--real", tmp_path / "x.npz", "--turned", "90")
    assert r.returncode == 2 and "--turned applies to --synthetic" in r.stderr
    r = cli("evaluate", "--real", tmp_path / "x.npz", "--mirrored")
    assert r.returncode == 2 and "--mirrored applies to --synthetic" in r.stderr
    r = cli(*common, "--turned", "45")
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_cli_evaluate_mirrored_frames(cli, tmp_path):
    """--mirrored reflects the frames with the names kept (a mirrored image labelled with the
    subject's own sides); prepare reflects the person back: the same score as read."""
    common = ("evaluate", "--synthetic", "--videos", "1", "--minutes", "0.5", "--seed", "7",
              "--layouts", "openpose_body25_hands", "--threads", "1")
    out, plain = tmp_path / "m.json", tmp_path / "p.json"
    r = cli(*common, "--mirrored", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "frames mirrored, names kept" in r.stdout and "reflected back" in r.stderr
    r = cli(*common, "--json", plain)
    assert r.returncode == 0 and "reflected back" not in r.stderr
    m, p = (json.loads(f.read_text()) for f in (out, plain))
    assert m["summary"]["mirrored"] is True and p["summary"]["mirrored"] is False
    # without the step: mAP@0.5 0.643 against 0.786 as read
    assert m["summary"]["map_0.5"] == pytest.approx(p["summary"]["map_0.5"], abs=1e-9)
    assert m["metrics"]["f1"]["tp"] == p["metrics"]["f1"]["tp"]


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_cli_evaluate_camera_cuts(cli, tmp_path):
    """--camera-cuts films the videos in shots (counted in the summary); real files refuse it."""
    common = ("evaluate", "--synthetic", "--videos", "1", "--minutes", "0.5", "--seed", "7",
              "--layouts", "openpose_body25_hands", "--threads", "1")
    out = tmp_path / "cuts.json"
    r = cli("-v", *common, "--camera-cuts", "--json", out)
    assert r.returncode == 0, r.stderr
    n = json.loads(out.read_text())["summary"]["camera_cuts"]
    assert n >= 1 and f"filmed in shots, {n} camera cuts" in r.stdout
    assert f"{n} camera cut(s)" in r.stderr  # prepare found them all
    r = cli("evaluate", "--real", tmp_path / "x.npz", "--camera-cuts")
    assert r.returncode == 2 and "--camera-cuts applies to --synthetic" in r.stderr


def test_without_hands_removes_hand_model_joints_only():
    from nfbl.keypoints.occlusion import without_hands
    from nfbl.synth import SynthConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.05, layout="mediapipe_pose33_hands"), seed=1)
    bare = without_hands(seq)
    lay = seq.layout_def
    hands = [j for j, n in enumerate(lay.joints) if "_hand_" in n]
    assert hands and (bare.keypoints[:, :, hands] == 0).all()
    others = [j for j in range(lay.num_joints) if j not in hands]
    np.testing.assert_array_equal(bare.keypoints[:, :, others], seq.keypoints[:, :, others])
    assert (seq.keypoints[:, :, hands, 2] > 0).any()  # the input kept its hands
    assert (bare.keypoints[:, :, lay.index["left_index"], 2] > 0).any()  # MediaPipe Pose's point stays


def test_turned_frames_round_trip_and_guards():
    from nfbl.core.errors import NfblError
    from nfbl.keypoints.cleaning import turned_frames
    from nfbl.synth import SynthConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.05, layout="openpose_body25_hands"), seed=1)
    assert turned_frames(seq, 0) is seq
    side = turned_frames(seq, 90)
    assert side.frame_size == (seq.frame_size[1], seq.frame_size[0])
    back = turned_frames(turned_frames(turned_frames(side, 90), 90), 90)
    assert back.frame_size == seq.frame_size
    np.testing.assert_allclose(back.keypoints, seq.keypoints, atol=1e-3)
    with pytest.raises(NfblError, match="multiples of 90"):
        turned_frames(seq, 45)


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_detect_reports_and_warns_about_hands_without_inner_joints(caplog):
    from nfbl.exports.model_input import hand_detail
    from nfbl.core import skeletons
    from nfbl.synth import SynthConfig, generate_video
    det = Detector.load(None, threads=1)
    full, _ = generate_video(SynthConfig(minutes=0.2, layout="openpose_body25_hands"), seed=2)
    tips, _ = generate_video(SynthConfig(minutes=0.2, layout="miga35"), seed=2)
    with caplog.at_level("WARNING"):
        assert det.detect(full).meta["hand_detail"] == [1.0]
    assert "fingertips" not in caplog.text
    with caplog.at_level("WARNING"):
        assert det.detect(tips).meta["hand_detail"] == [0.0]
    assert "no joint besides the wrist and fingertips in 100% of the frames" in caplog.text
    x = np.zeros((4, 56, 3), np.float32)
    assert hand_detail(x, skeletons.CANONICAL) is None  # no wrist seen
    x[:, skeletons.CANONICAL.index["left_wrist"], 2] = 0.9
    x[:2, skeletons.CANONICAL.index["left_hand_index_mcp"], 2] = 0.8
    x[:, skeletons.CANONICAL.index["left_hand_index_tip"], 2] = 0.8
    assert hand_detail(x, skeletons.CANONICAL) == 0.5
