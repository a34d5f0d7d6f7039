"""nfbl.exports.runtime: chunked inference, detection, streaming, bad input (random model)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from nfbl.exports import decoding, model_input  # noqa: E402
from nfbl.keypoints import contact  # noqa: E402
from nfbl.exports.decoding import DecodeConfig  # noqa: E402
from nfbl.detectors import checkpoint as C  # noqa: E402
from model_helpers import random_detector  # noqa: E402
from nfbl.detectors.model import NFBLDetector  # noqa: E402
from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.detectors import export as X  # noqa: E402
from nfbl.exports import runtime as R  # noqa: E402
from nfbl.exports.runtime import Detector, chunk_plan  # noqa: E402
from nfbl.core.sequence import PoseSequence  # noqa: E402

DECODE = DecodeConfig(threshold=0.52, max_duration_s=8.0)


def _model(seed: int = 0) -> NFBLDetector:
    return random_detector(seed, zero_class_bias=True)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    m = _model()
    card = C.make_card(m.cfg, name="rt-test", version="0.3", window=256,
                       decode=DECODE, training_data="nothing: random weights")
    path = X.export(m, card, tmp_path_factory.mktemp("rt") / "rt.onnx")
    return m, path


@pytest.fixture(scope="module")
def det(model_file):
    return Detector.load(model_file[1], threads=1)


def _x(t: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, 56, 3)).astype(np.float32)
    x[..., 2] = rng.uniform(0.2, 1.0, size=(t, 56))
    x[rng.random((t, 56)) < 0.1] = 0.0
    return x


def _torch_probs(m, x):
    with torch.no_grad():
        logits, off = m(torch.from_numpy(x[None]))
    return torch.sigmoid(logits[0]).numpy(), off[0].numpy()


def _seq(t: int = 1500, persons: int = 2, layout: str = "nfbl56", seed: int = 1) -> PoseSequence:
    from nfbl.core import skeletons
    lay = skeletons.get_layout(layout)
    rng = np.random.default_rng(seed)
    kp = np.zeros((persons, t, lay.num_joints, 3), np.float32)
    kp[..., :2] = rng.normal(0, 30, size=kp.shape[:3] + (2,)).cumsum(axis=1) * 0.05 + 300
    kp[..., 2] = rng.uniform(0.3, 1.0, size=kp.shape[:3])
    if persons > 1:
        kp[1, :, :, :2] = kp[1, :, :, :2] * 0.3 + 10  # a small person in a corner
    return PoseSequence(kp, layout, 25.0, np.arange(t) / 25.0, (640, 480),
                        np.array([11, 42][:persons]), "clip")


def test_load_reads_the_card(det):
    assert det.card.name == "rt-test" and det.model_tag == "rt-test@0.3"
    assert det.window == 256 and det.overlap == det.card.overlap >= det.card.receptive_field
    assert det.overlap % det.card.stride == 0 and det.threads == 1
    assert det.decode_config() == DECODE


def test_chunk_plan_covers_every_frame_once():
    plan = chunk_plan(1000, 256, 320)
    assert [(lo, hi) for _, _, lo, hi in plan] == [(0, 256), (256, 512), (512, 768), (768, 1000)]
    assert all(in_hi - in_lo <= 256 + 2 * 320 for in_lo, in_hi, _, _ in plan)
    assert chunk_plan(0, 256, 320) == []


def test_chunked_equals_whole_sequence_inference(model_file, det):
    m, _ = model_file
    x = _x(3000, seed=2)
    probs, offsets = det.predict(x)
    whole_p, whole_o = det.run(x)
    assert probs.shape == (3000, 31) and offsets.shape == (3000, 31, 2)
    assert float(np.max(np.abs(probs - whole_p))) <= 1e-4
    assert float(np.max(np.abs(offsets - whole_o))) <= 1e-4
    tp, to = _torch_probs(m, x)
    assert float(np.max(np.abs(probs - tp))) <= 1e-4 and float(np.max(np.abs(offsets - to))) <= 1e-4


@pytest.mark.parametrize("t", [1, 2, 7, 100, 300])
def test_sequences_shorter_than_the_receptive_field(model_file, det, t):
    m, _ = model_file
    assert t <= det.card.receptive_field
    x = _x(t, seed=t)
    probs, offsets = det.predict(x)
    tp, to = _torch_probs(m, x)
    assert probs.shape == (t, 31)
    assert float(np.max(np.abs(probs - tp))) <= 1e-4 and float(np.max(np.abs(offsets - to))) <= 1e-4


def test_bad_model_input(det):
    x = _x(600)
    x[437, 12, 0] = np.nan
    x[500, 1, 2] = np.inf
    with pytest.raises(NfblError, match="NaN or inf.*first at frame 437"):
        det.predict(x)
    with pytest.raises(NfblError, match=r"shape \(T, 56, 3\)"):
        det.predict(np.zeros((10, 33, 3), np.float32))
    p, o = det.predict(np.zeros((0, 56, 3), np.float32))
    assert p.shape == (0, 31) and o.shape == (0, 31, 2)


def test_detect_persons_tracks_and_model(det):
    seq = _seq()
    chosen = det.detect(seq, decode=DECODE)
    assert len(chosen) > 0 and {e.track_id for e in chosen} == {11}
    assert all(e.video_id == "clip" and e.model == "rt-test@0.3" for e in chosen)
    assert chosen.meta["model"] == "rt-test" and chosen.meta["tracks"] == [11]
    everyone = det.detect(seq, persons="all", decode=DECODE)
    assert {e.track_id for e in everyone} == {11, 42}
    assert [e for e in everyone if e.track_id == 11] == list(chosen)
    # the events are exactly the decoded chunked outputs of the prepared input
    x, ts = model_input.prepare(seq, 1, det.card)
    p, o = det.predict(x)
    direct = decoding.decode(p, o, ts, det.card.class_ids, DECODE, "clip", 42, det.model_tag,
                             fps=25.0)
    direct, _ = contact.split(direct, x, ts, det.card.layout)  # DECODE has the contact check on
    assert [e for e in everyone if e.track_id == 42] == direct
    with pytest.raises(NfblError, match="persons must be"):
        det.detect(seq, persons="everybody")


def test_detect_refuses_a_layout_the_model_cannot_take(det):
    with pytest.raises(NfblError, match=r"'coco17' cannot feed model 'rt-test' \(layout 'nfbl56'\)"):
        det.detect(_seq(t=50, layout="coco17"))


def test_streaming_yields_the_offline_events(det):
    seq = _seq(t=2600, persons=1, seed=4)
    offline = list(det.detect(seq, decode=DECODE))
    x, ts = model_input.prepare(seq, 0, det.card)
    stream = det.stream(video_id="clip", track_id=11, decode=DECODE)
    rng = np.random.default_rng(0)
    got, early, i = [], 0, 0
    while i < len(x):
        n = int(rng.integers(1, 180))
        new = stream.push(x[i:i + n], ts[i:i + n])
        early += len(new)
        got += new
        i += n
    got += stream.close()
    assert len(offline) > 20 and early > 0
    assert decoding.sort_events(got) == decoding.sort_events(offline)
    assert stream.close() == []
    with pytest.raises(NfblError, match="closed"):
        stream.push(x[:1], ts[:1])


def test_reduced_hands_bias_applies_to_tracks_without_inner_hand_joints(det):
    from dataclasses import replace
    full = _seq(t=2600, persons=1, seed=4)
    lay = full.layout_def
    inner = [j for j, n in enumerate(lay.joints)
             if "_hand_" in n and not n.endswith(("_hand_wrist", "_tip"))]
    kp = np.array(full.keypoints, copy=True)
    kp[:, :, inner] = 0.0
    tips = full.with_keypoints(kp)
    biased = replace(DECODE, reduced_hands_bias=1.0)
    # full hands: the offset does not apply
    assert det.detect(full, decode=biased) == det.detect(full, decode=DECODE)
    # reduced hands: exactly as if every class's logit were raised by it
    got = det.detect(tips, decode=biased)
    same = det.detect(tips, decode=replace(DECODE, class_bias=(1.0,) * len(det.card.class_ids)))
    assert list(got) == list(same) and list(got) != list(det.detect(tips, decode=DECODE))
    assert got.meta["hand_detail"] == [0.0]
    # streaming decides from its first chunk's frames and gives the offline events
    x, ts = model_input.prepare(tips, 0, det.card)
    stream = det.stream(video_id="clip", track_id=11, decode=biased)
    out = []
    for i in range(0, len(x), 333):
        out += stream.push(x[i:i + 333], ts[i:i + 333])
    out += stream.close()
    assert decoding.sort_events(out) == decoding.sort_events(list(got))


def test_decode_config_reduced_hands_bias():
    cfg = DecodeConfig(reduced_hands_bias=0.5)
    assert cfg.for_reduced_hands(3).class_bias == (0.5, 0.5, 0.5)
    assert DecodeConfig(class_bias=(1.0, -1.0), reduced_hands_bias=0.5).for_reduced_hands(
        2).class_bias == (1.5, -0.5)
    plain = DecodeConfig()
    assert plain.for_reduced_hands(3) is plain
    with pytest.raises(NfblError, match="reduced_hands_bias"):
        DecodeConfig(reduced_hands_bias=float("nan"))
    assert DecodeConfig.from_dict(cfg.to_dict()) == cfg


def test_streaming_bad_frame_is_named_by_its_absolute_index(det):
    stream = det.stream()
    x = _x(100)
    stream.push(x[:60], np.arange(60) / 25)
    x[75, 3, 1] = np.inf
    with pytest.raises(NfblError, match="first at frame 75"):
        stream.push(x[60:], np.arange(60, 100) / 25)


def test_not_an_nfbl_model(model_file, tmp_path):
    _, path = model_file
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    with pytest.raises(NfblError, match="not an nfbl model: .*plain.onnx has no 'nfbl_card'"):
        Detector.load(tmp_path / "plain.onnx")
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(NfblError, match="not an nfbl model: .*not a readable ONNX file"):
        Detector.load(tmp_path / "text.onnx")
    with pytest.raises(NfblError, match="no such model file"):
        Detector.load(tmp_path / "absent.onnx")


def test_no_bundled_model_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(R, "bundled_model_path", lambda: None)
    with pytest.raises(NfblError, match="no bundled detector model is installed"):
        Detector.load()



def test_runtime_never_imports_torch(model_file):
    code = ("import sys, numpy as np\n"
            "from nfbl.exports.runtime import Detector\n"
            f"d = Detector.load({str(model_file[1])!r}, threads=1)\n"
            "p, o = d.predict(np.zeros((40, 56, 3), np.float32))\n"
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
            "assert not bad, bad\n"
            "print('ok', p.shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok (40, 31)" in out.stdout


def test_empty_and_one_frame_sequences(det):
    for t in (0, 1):
        seq = _seq(t=t, persons=1)
        out = det.detect(seq, decode=DECODE)
        assert all(e.end > e.start and e.start >= 0 for e in out)
        x, ts = model_input.prepare(seq, 0, det.card)
        assert x.shape == (t, 56, 3) and ts.shape == (t,)


def _steady_seq(t: int, layout: str = "openpose_body25_hands") -> PoseSequence:
    """A person whose shoulders stay 80 px apart and whose joints are never missing."""
    from nfbl.core import skeletons
    lay = skeletons.get_layout(layout)
    rng = np.random.default_rng(9)
    kp = np.zeros((1, t, lay.num_joints, 3), np.float32)
    kp[..., :2] = rng.normal(0, 3, size=(1, t, lay.num_joints, 2)).cumsum(axis=1) + 300
    kp[..., 2] = rng.uniform(0.3, 1.0, size=(1, t, lay.num_joints))
    sway = np.sin(np.arange(t) / 40.0)[None, :] * 30
    for side, dx in (("left", 40.0), ("right", -40.0)):
        j = lay.index[f"{side}_shoulder"]
        kp[0, :, j, 0], kp[0, :, j, 1] = 320 + dx + sway[0], 200
    return PoseSequence(kp, layout, 25.0, np.arange(t) / 25.0, (640, 480), None, "live")


def test_streaming_from_pixel_keypoints(det):
    """With a constant shoulder width and no gaps, the causal preparation equals prepare(),
    so streaming raw keypoints gives exactly the offline events."""
    seq = _steady_seq(1800)
    offline = list(det.detect(seq, decode=DECODE))
    stream = det.stream(video_id="live", decode=DECODE, layout=seq.layout, warmup_frames=30)
    rng = np.random.default_rng(3)
    got, i = [], 0
    while i < seq.num_frames:
        n = int(rng.integers(1, 120))
        got += stream.push_keypoints(seq.keypoints[0, i:i + n], seq.timestamps[i:i + n])
        i += n
    got += stream.close()
    assert len(offline) > 10
    assert decoding.sort_events(got) == decoding.sort_events(offline)
    assert stream.preparer.scale == pytest.approx(80.0)
    with pytest.raises(NfblError, match="Detector.stream\\(layout=...\\)"):
        det.stream().push_keypoints(seq.keypoints[0, :5], seq.timestamps[:5])
    with pytest.raises(NfblError, match="'coco17' cannot feed"):
        det.stream(layout="coco17")


def test_contact_check_drops_the_same_events_offline_and_streaming(det):
    from dataclasses import replace

    from nfbl.core import skeletons
    from nfbl.keypoints import contact
    seq = _seq(t=2600, persons=1, seed=4)
    lay = skeletons.get_layout("nfbl56")
    # spread the random walk into a body whose hands stay far from the face, each other and
    # the arms, so that every touch the random model names is contradicted
    for name, off in (("nose", (0, -150)), ("left_eye", (20, -160)), ("right_eye", (-20, -160)),
                      ("left_ear", (40, -150)), ("right_ear", (-40, -150)),
                      ("left_shoulder", (100, 0)), ("right_shoulder", (-100, 0)),
                      ("left_elbow", (200, 100)), ("right_elbow", (-200, 100)),
                      ("left_hip", (80, 300)), ("right_hip", (-80, 300))):
        seq.keypoints[0, :, lay.index[name], :2] += off
    for side, sign in (("left", 1), ("right", -1)):
        for j in (lay.index[f"{side}_wrist"], *lay.indices(skeletons.hand_joints(side))):
            seq.keypoints[0, :, j, :2] += (sign * 300, 250)
    x, ts = model_input.prepare(seq, 0, det.card)
    unchecked = list(det.detect(seq, decode=replace(DECODE, contact_check=False)))
    stream = det.detect(seq, decode=DECODE)
    checked = list(stream)
    assert DECODE.contact_check  # on by default
    gone = decoding.sort_events(set(unchecked) - set(checked))
    assert stream.meta["contact_check_dropped"] == contact.describe(gone)
    assert stream.meta["contact_check_dropped"][0][:2] == [seq.video_id, f"N{gone[0].class_id}"]
    assert "contact_check_dropped" not in det.detect(seq, decode=replace(DECODE, contact_check=False)).meta
    assert set(checked) < set(unchecked)  # random keypoints contradict some touches
    assert checked == contact.check(unchecked, x, ts, det.card.layout)
    assert all(e.class_id in contact.CONTACT_KIND for e in set(unchecked) - set(checked))
    stream = det.stream(decode=DECODE, video_id=seq.video_id, track_id=int(seq.track_ids[0]))
    got = []
    for i in range(0, len(x), 97):
        got += stream.push(x[i:i + 97], ts[i:i + 97])
    got += stream.close()
    assert decoding.sort_events(got) == decoding.sort_events(checked)


def test_detect_lists_each_tracks_top_classes(det):
    seq = _seq(t=600, persons=2, seed=5)
    stream = det.detect(seq, persons="all", decode=DECODE)
    top = stream.meta["top_classes"]
    assert len(top) == 2 and all(len(t) == 5 for t in top)
    for p, t in enumerate(top):
        sc = det.clip_scores(seq, persons=[p], decode=DECODE)[0]
        want = np.argsort(-sc, kind="stable")[:5]
        assert [c for c, _ in t] == [f"N{det.card.class_ids[j]}" for j in want]
        np.testing.assert_allclose([v for _, v in t], sc[want], atol=1e-4)
    # an event's score never exceeds its class's listed maximum
    best = {c: v for c, v in top[0]}
    for e in stream:
        if e.track_id == 11 and f"N{e.class_id}" in best:
            assert e.score <= best[f"N{e.class_id}"] + 1e-4


def test_clip_contact_check_rules_out_a_face_touch_far_from_the_face(det):
    """A face class peaking while both hands rest far below the face is ruled out; a class
    without a contact never is."""
    from nfbl.core import skeletons
    from nfbl.exports.runtime import _ruled_out
    lay = skeletons.CANONICAL
    x = np.zeros((60, lay.num_joints, 3), np.float32)
    for name, (px, py) in {"nose": (0.0, -0.6), "left_eye": (0.1, -0.7), "right_eye": (-0.1, -0.7),
                           "neck": (0.0, 0.0), "left_shoulder": (0.5, 0.0),
                           "right_shoulder": (-0.5, 0.0), "left_elbow": (0.6, 0.8),
                           "right_elbow": (-0.6, 0.8), "left_wrist": (0.4, 1.5),
                           "right_wrist": (-0.4, 1.5)}.items():
        x[:, lay.index[name]] = (px, py, 0.9)
    ts = np.arange(60) / 25.0
    probs = np.full((60, len(det.card.class_ids)), 0.05, np.float32)
    col = {c: j for j, c in enumerate(det.card.class_ids)}
    probs[20:40, col[6]] = 0.9    # N6 rubbing eyes: needs a hand at the face
    probs[20:40, col[31]] = 0.9   # N31 illustrative gestures: no contact
    out = _ruled_out(probs, x, ts, det.card)
    assert col[6] in out and col[31] not in out
    x[:, lay.index["right_wrist"], :2] = (-0.05, -0.6)   # now a wrist is at the nose
    assert col[6] not in _ruled_out(probs, x, ts, det.card)


@pytest.mark.skipif(R.bundled_model_path() is None, reason="no bundled model")
def test_one_frame_runs_on_a_model_with_speed_streams():
    """The speed streams need two frames: one frame (a single image's keypoints) runs with a
    still copy added, instead of failing inside onnxruntime."""
    det = Detector.load(R.bundled_model_path(), threads=1)
    assert det.card.architecture.get("speed_streams")
    x = np.zeros((1, 56, 3), np.float32)
    x[0, :, 2] = 0.9
    x[0, :, :2] = np.random.default_rng(0).normal(size=(56, 2)) * 0.3
    probs, offsets = det.predict(x)
    two, _ = det.predict(np.concatenate([x, x]))
    assert probs.shape == (1, 31) and offsets.shape == (1, 31, 2)
    np.testing.assert_allclose(probs[0], two[0], atol=1e-6)
