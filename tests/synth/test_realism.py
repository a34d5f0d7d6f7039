"""The realism report: statistics on known motion, the domain classifier, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfbl.core import skeletons
from nfbl.core.sequence import PoseSequence
from nfbl.exports.model_input import prepare
from nfbl.synth import realism as R

REALPOSE = Path(__file__).resolve().parents[2].parent / "shared" / "realpose"
L = skeletons.CANONICAL


def _still_person(t: int = 100, fps: float = 25.0, sw_px: float = 100.0) -> np.ndarray:
    """A still upright person in pixels (shoulder width ``sw_px``), every joint present."""
    kp = np.zeros((t, L.num_joints, 3), np.float32)
    pos = {"neck": (0, 0), "nose": (0, -0.6), "left_eye": (0.1, -0.7), "right_eye": (-0.1, -0.7),
           "left_ear": (0.2, -0.65), "right_ear": (-0.2, -0.65), "left_shoulder": (0.5, 0),
           "right_shoulder": (-0.5, 0), "left_elbow": (0.6, 0.6), "right_elbow": (-0.6, 0.6),
           "left_wrist": (0.4, 1.0), "right_wrist": (-0.4, 1.0), "left_hip": (0.3, 1.5), "right_hip": (-0.3, 1.5)}
    for n, (x, y) in pos.items():
        kp[:, L.index[n], :2] = (500 + sw_px * x, 300 + sw_px * y)
    for side in ("left", "right"):
        w = kp[0, L.index[f"{side}_wrist"], :2]
        for j in L.joints_matching(f"{side}_hand_"):
            kp[:, j, :2] = w + (0, 0.1 * sw_px)
    kp[..., 2] = 0.9
    return kp


def test_statistics_of_known_motion():
    fps, t = 25.0, 100
    kp = _still_person(t, fps)
    # the left wrist (and its hand) moves right at 0.5 sw/s = 50 px/s = 2 px/frame
    move = np.arange(t)[:, None] * (2.0, 0.0)
    for j in [L.index["left_wrist"], *L.joints_matching("left_hand_")]:
        kp[:, j, :2] += move
    kp[:, L.joints_matching("right_hand_"), :] = 0.0  # right hand never found
    seq = PoseSequence(kp[None], L.name, fps, np.arange(t) / fps)
    x = R.prepared(seq, prepare)
    s = R.sequence_statistics(x)
    assert s["wrist_speed"] == pytest.approx(0.25, abs=0.01)  # median of the two wrists: 0 and 0.5
    assert s["shoulder_speed"] == pytest.approx(0.0, abs=1e-6)
    assert s["wrist_jerk"] == pytest.approx(0.0, abs=1e-5)
    assert s["wrist_below_neck"] == pytest.approx(1.0, abs=1e-3)
    assert s["hand_presence"] == pytest.approx(0.5)
    assert s["wrist_presence"] == 1.0
    assert s["body_score"] == pytest.approx(0.9, abs=1e-5) and s["hand_score"] == pytest.approx(0.9, abs=1e-5)
    assert s["face_contact_share"] == 0.0 and np.isnan(s["face_hand_dropout"])
    assert set(s) == set(R.STATISTICS)


def test_jitter_shows_in_jerk_and_high_frequency_power():
    rng = np.random.default_rng(0)
    kp = _still_person(200)
    calm = R.sequence_statistics(R.prepared(PoseSequence(kp[None], L.name, 25.0, np.arange(200) / 25.0), prepare))
    noisy = kp.copy()
    noisy[..., :2] += rng.normal(0, 3.0, noisy[..., :2].shape)
    s = R.sequence_statistics(R.prepared(PoseSequence(noisy[None], L.name, 25.0, np.arange(200) / 25.0), prepare))
    assert s["wrist_jerk"] > 0.03 > calm["wrist_jerk"]
    assert s["wrist_hf_power"] > 0.5


def _noisy_people(n: int, sigma: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        kp = _still_person(96)
        kp[..., :2] += rng.normal(0, sigma, kp[..., :2].shape)
        out.append(R.prepared(PoseSequence(kp[None], L.name, 25.0, np.arange(96) / 25.0), prepare))
    return out


def test_domain_classifier_separates_different_and_not_same_domains():
    pytest.importorskip("sklearn")
    a = _noisy_people(6, 1.0, 1)
    auc, nr, ns = R.domain_auc(a, _noisy_people(6, 6.0, 2))
    assert auc > 0.95 and nr == ns == 6 * 5
    same, _, _ = R.domain_auc(a, _noisy_people(6, 1.0, 3))
    assert same < 0.75
    assert np.isnan(R.domain_auc(a[:1], a)[0])  # too few sequences on one side


def test_domain_classifier_names_the_odd_sequence_and_its_cue():
    """Synthetic people jitter 6x more than real ones; one 'real' sequence jitters like the
    synthetic ones: it is the real sequence read as most synthetic. The cues are named
    features, largest weight first."""
    pytest.importorskip("sklearn")
    real = {f"r{i}": x for i, x in enumerate(_noisy_people(5, 1.0, 4))}
    real["odd"] = _noisy_people(1, 6.0, 6)[0]
    syn = {f"s{i}": x for i, x in enumerate(_noisy_people(6, 6.0, 5))}
    res = R.domain_classifier(real, syn, n_cues=4)
    p_real = {n: p for (side, n), p in res.per_sequence.items() if side == "real"}
    assert set(p_real) == set(real) and len(res.per_sequence) == 12
    assert max(p_real, key=p_real.get) == "odd" and p_real["odd"] > 0.5
    assert all(p < 0.5 for n, p in p_real.items() if n != "odd")
    names = R.feature_names(R.shared_joints(list(real.values())))
    assert len(res.cues) == 4 and all(f in names for f, _ in res.cues)
    w = [abs(v) for _, v in res.cues]
    assert w == sorted(w, reverse=True) and w[0] > 0


def test_sideways_reference_is_turned_upright_and_noted():
    kp = _still_person(96)
    turned = kp.copy()
    turned[..., 0], turned[..., 1] = kp[..., 1], kp[..., 0]      # person lying on the side
    assert R.shoulder_tilt_deg(R.prepared(PoseSequence(kp[None], L.name, 25.0, np.arange(96) / 25.0), prepare)) < 1
    seqs = [PoseSequence(a[None], L.name, 25.0, np.arange(96) / 25.0, video_id=n)
            for n, a in (("upright", kp), ("turned", turned))]
    pytest.importorskip("sklearn")
    rep = R.realism_report(seqs, R.synthetic_sequences(2, 0.2, seed=0), prepare)
    flagged = [n for n in rep.notes if "turns it upright" in n]
    assert len(flagged) == 1 and flagged[0].startswith("turned")
    # prepare turned it: measured upright, its shoulders level
    assert R.shoulder_tilt_deg(R.prepared(seqs[1], prepare)) < 1


def test_realism_cli_on_npz_inputs(cli, tmp_path):
    from nfbl.synth import SynthConfig, generate_video

    real_dir, syn_dir = tmp_path / "real", tmp_path / "syn"
    real_dir.mkdir()
    for i in range(2):
        generate_video(SynthConfig(minutes=0.1), seed=(7, i), video_id=f"r{i}")[0].save(real_dir / f"r{i}.npz")
    assert cli("synth", syn_dir, "--videos", "2", "--minutes", "0.1", "--seed", "1").returncode == 0
    r = cli("synth", "realism", "--real", real_dir, "--synthetic", syn_dir, "--json", tmp_path / "rep.json")
    assert r.returncode == 0, r.stderr
    assert "| wrist speed | sw/s |" in r.stdout and "domain classifier AUC" in r.stdout
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert sorted(rep["real_sequences"]) == ["r0", "r1"] and len(rep["synthetic_sequences"]) == 2
    assert {row["key"] for row in rep["statistics"]} == set(R.STATISTICS)
    bad = cli("synth", "realism", "--synthetic", syn_dir)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--real" in bad.stderr
    bad = cli("synth", "realism", "--real", tmp_path / "nothing")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such file" in bad.stderr
    bad = cli("synth", tmp_path / "c", "--real", real_dir)
    assert bad.returncode == 2 and "belong to 'nfbl synth realism'" in bad.stderr


@pytest.mark.skipif(not REALPOSE.is_dir(), reason="../shared/realpose is absent")
def test_report_on_the_real_files():
    pytest.importorskip("pose_format")
    pytest.importorskip("h5py")
    pytest.importorskip("sklearn")
    real = R.read_sequences([REALPOSE])
    assert len(real) >= 10
    rep = R.realism_report(real, R.synthetic_sequences(3, 0.5, seed=0), prepare)
    rows = {row["key"]: row for row in rep.rows()}
    lo, _, hi = rows["wrist_speed"]["real"]
    assert 0.05 < lo < hi < 3.0  # shoulder widths per second, not pixels
    assert 0.5 <= rep.auc <= 1.0 and rep.real_windows > 20
