"""nfbl.exports.modelcard (card JSON, layout checks) and nfbl.exports.model_input.prepare (numpy only)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nfbl.keypoints import cleaning
from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.exports.model_input import check_finite, needs_resampling, prepare
from nfbl.exports.modelcard import ModelCard
from nfbl.core.sequence import PoseSequence


def _card(**kw) -> ModelCard:
    base = dict(name="m", version="1.2", layout="nfbl56", fps=25.0, class_ids=(16, 22, 34),
                window=512, stride=32, receptive_field=300, training_data="synthetic 20 h",
                metrics={"f1@0.3": 0.5}, decode={"threshold": 0.4})
    base.update(kw)
    return ModelCard(**base)


def _seq(layout: str, t: int = 120, persons: int = 2, fps: float = 25.0, seed: int = 0) -> PoseSequence:
    lay = skeletons.get_layout(layout)
    rng = np.random.default_rng(seed)
    kp = np.zeros((persons, t, lay.num_joints, 3), np.float32)
    kp[..., 0] = rng.normal(320, 40, size=kp.shape[:3])
    kp[..., 1] = rng.normal(240, 40, size=kp.shape[:3])
    kp[..., 2] = rng.uniform(0.3, 1.0, size=kp.shape[:3])
    for side, dx in (("left", 50.0), ("right", -50.0)):  # shoulders 100 px apart
        j = lay.index[f"{side}_shoulder"]
        kp[:, :, j, 0], kp[:, :, j, 1] = 320 + dx, 200
    if "nose" in lay.index:  # the head above the shoulders: an upright person
        kp[:, :, lay.index["nose"], 1] = rng.normal(140, 5, size=kp.shape[:2])
    return PoseSequence(kp, layout, fps, np.arange(t) / fps, (640, 480), np.array([3, 8][:persons]),
                        "vid")


def test_card_json_round_trip_and_fields():
    card = _card()
    again = ModelCard.from_json(card.to_json())
    assert again == card
    d = json.loads(card.to_json())
    assert d["schema"] == "nfbl.model_card" and d["class_codes"] == ["N16", "N22", "N34"]
    assert d["class_names"][0] == "Folding arms"
    assert card.overlap == 320 and card.trained
    assert "held-out metrics" in card.summary() and "f1@0.3" in card.summary()
    d["added_by_a_newer_nfbl"] = 1
    assert ModelCard.from_dict(d) == card


@pytest.mark.parametrize("change, msg", [
    ({"class_ids": (16, 33)}, "N33"),
    ({"class_ids": ()}, "class_ids"),
    ({"fps": 0}, "fps"),
    ({"window": 100}, "multiple of the stride"),
])
def test_card_validation(change, msg):
    with pytest.raises(NfblError, match=msg):
        _card(**change)


def test_card_json_errors():
    with pytest.raises(NfblError, match="not valid JSON"):
        ModelCard.from_json("{oops", source="x.onnx")
    with pytest.raises(NfblError, match="lacks the field 'fps'"):
        ModelCard.from_dict({"name": "m", "version": "1", "layout": "nfbl56", "class_ids": [16]})
    with pytest.raises(NfblError, match="newer"):
        ModelCard.from_dict({**_card().to_dict(), "card_version": 99})


def test_check_layout_names_both_layouts():
    card = _card()
    for ok in ("nfbl56", "openpose_body25_hands", "coco_wholebody133", "mediapipe_pose33_hands",
               "miga35", "kinect_v2_25"):
        card.check_layout(ok)
    with pytest.raises(NfblError, match=r"'coco17' cannot feed model 'm' \(layout 'nfbl56'\).*"
                                        r"left_hand_wrist"):
        card.check_layout("coco17")
    with pytest.raises(NfblError, match="'nope' is unknown.*'nfbl56'"):
        card.check_layout("nope")


def test_prepare_converts_selects_and_normalises():
    seq = _seq("openpose_body25_hands")
    card = _card()
    x, ts = prepare(seq, 1, card)
    assert x.shape == (120, 56, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(ts, seq.timestamps)
    canon = skeletons.convert(seq.keypoints[1], seq.layout_def)
    want, _ = cleaning.normalize(cleaning.interpolate_gaps(canon, card.max_gap), "nfbl56")
    np.testing.assert_allclose(x, want, atol=1e-6)
    # shoulders are 100 px apart → 1 shoulder width; missing joints stay (0, 0, 0)
    ls, rs = skeletons.CANONICAL.index["left_shoulder"], skeletons.CANONICAL.index["right_shoulder"]
    assert np.allclose(x[:, ls, 0] - x[:, rs, 0], 1.0)
    with pytest.raises(NfblError, match="person index 5"):
        prepare(seq, 5, card)


def test_prepare_resamples_to_the_model_rate():
    seq = _seq("nfbl56", t=100, fps=30.0, persons=1)
    x, ts = prepare(seq, 0, _card())
    assert len(x) == len(ts) == int(np.floor(99 / 30 * 25 + 1e-9)) + 1
    np.testing.assert_allclose(np.diff(ts), 1 / 25)
    assert not needs_resampling(np.arange(10) / 25, 25.0, 25.0)
    assert needs_resampling(np.r_[0, 0.04, 0.1], 25.0, 25.0)


def test_prepare_refuses_layouts_the_model_cannot_take():
    with pytest.raises(NfblError, match="coco17.*nfbl56"):
        prepare(_seq("coco17"), 0, _card())


def test_check_finite_names_the_first_bad_frame():
    x = np.zeros((50, 56, 3), np.float32)
    x[17, 3, 1] = np.inf
    x[30, 0, 0] = np.nan
    with pytest.raises(NfblError, match="first at frame 17"):
        check_finite(x)


def test_online_preparer_holds_frames_until_the_scale_is_known():
    from nfbl.exports.model_input import OnlinePreparer
    seq = _seq("openpose_body25_hands", t=40, persons=1)
    prep = OnlinePreparer(_card(), seq.layout, warmup_frames=10)
    x, ts = prep.push(seq.keypoints[0, :6], seq.timestamps[:6])
    assert len(x) == 0 and prep.scale is None
    x, ts = prep.push(seq.keypoints[0, 6:12], seq.timestamps[6:12])
    assert len(x) == 12 and prep.scale == pytest.approx(100.0)
    want, _ = prepare(seq, 0, _card())
    np.testing.assert_allclose(x, want[:12], atol=1e-6)
    kp = seq.keypoints[0, 12:20].copy()
    kp[5, 0, 0] = np.nan
    with pytest.raises(NfblError, match="first at frame 17"):
        prep.push(kp, seq.timestamps[12:20])


def test_contract_modules_import_neither_torch_nor_onnxruntime():
    import subprocess
    import sys
    code = ("import sys\n"
            "import nfbl.exports.decoding, nfbl.exports.modelcard, nfbl.exports.model_input\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'onnxruntime', 'onnx') or m.startswith(('nfbl.detectors', 'nfbl.exports.runtime', 'nfbl.pose')))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _turned_pixels(seq: PoseSequence, k: int) -> PoseSequence:
    """The sequence as a video stored turned by ``k`` quarter turns clockwise shows it."""
    kp = seq.keypoints.copy()
    w, h = seq.frame_size
    x, y = kp[..., 0].copy(), kp[..., 1].copy()
    if k == 1:        # the head ends up pointing to +x
        kp[..., 0], kp[..., 1] = h - y, x
    elif k == 2:
        kp[..., 0], kp[..., 1] = w - x, h - y
    elif k == 3:
        kp[..., 0], kp[..., 1] = y, w - x
    kp[kp[..., 2] <= 0] = 0.0
    return seq.with_keypoints(kp, seq.layout)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_prepare_turns_a_sideways_or_upside_down_person_upright(k, caplog):
    from nfbl.synth import SynthConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.2, layout="openpose_body25_hands"), seed=3)
    want, _ = prepare(seq, 0, _card())
    assert cleaning.upright_turns(want, skeletons.CANONICAL) == 0
    with caplog.at_level("WARNING"):
        got, _ = prepare(_turned_pixels(seq, k), 0, _card())
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert f"turned upright ({90 * k} degrees)" in caplog.text


def test_upright_turns_golden_and_guards():
    lay = skeletons.CANONICAL
    x = np.zeros((10, lay.num_joints, 3), np.float32)
    for name, xy in (("neck", (0, 0)), ("nose", (0, -0.6)), ("left_shoulder", (0.5, 0)),
                     ("right_shoulder", (-0.5, 0))):
        x[:, lay.index[name]] = (*xy, 0.9)
    assert cleaning.upright_turns(x, lay) == 0
    for k in (1, 2, 3):
        side = cleaning.turn(x, -k % 4)  # the person as stored turned by k
        assert cleaning.upright_turns(side, lay) == k
        np.testing.assert_array_equal(cleaning.turn(side, k), x)
    # a head bowed 40 degrees to one side stays as it is
    bowed = x.copy()
    bowed[:, lay.index["nose"], :2] = (0.6 * np.sin(np.radians(40)), -0.6 * np.cos(np.radians(40)))
    assert cleaning.upright_turns(bowed, lay) == 0
    # the head points sideways but the shoulders stay level: no turn (the cues disagree)
    odd = x.copy()
    odd[:, lay.index["nose"], :2] = (0.6, 0.0)
    assert cleaning.upright_turns(odd, lay) == 0
    # the elbows on the head's side of the shoulders: no turn
    raised = cleaning.turn(x, 1)  # the head points to -x (stored turned by 3)
    assert cleaning.upright_turns(raised, lay) == 3
    for name in ("left_elbow", "right_elbow"):
        raised[:, lay.index[name]] = (-0.8, 0.0, 0.9)
    assert cleaning.upright_turns(raised, lay) == 0
    raised[:, lay.index["left_elbow"]] = (0.8, 0.0, 0.9)
    raised[:, lay.index["right_elbow"]] = (0.8, 0.0, 0.9)
    assert cleaning.upright_turns(raised, lay) == 3
    # too few frames with a head, or no head at all: no turn
    side = cleaning.turn(x, 3)
    assert cleaning.upright_turns(side[:cleaning.UPRIGHT_MIN_FRAMES - 1], lay) == 0
    headless = side.copy()
    headless[:, lay.index["nose"]] = 0
    assert cleaning.upright_turns(headless, lay) == 0
    # missing joints stay exactly (0, 0, 0)
    assert (cleaning.turn(x, 1)[:, lay.index["left_hand_wrist"]] == 0).all()


def _streamed(prep, seq: PoseSequence) -> np.ndarray:
    """Person 0 of ``seq`` pushed through ``prep`` 7 frames at a time, then flushed."""
    parts = [prep.push(seq.keypoints[0, i:i + 7], seq.timestamps[i:i + 7])[0]
             for i in range(0, seq.num_frames, 7)]
    return np.concatenate(parts + [prep.flush()[0]])


def test_online_preparer_turns_like_prepare():
    from nfbl.exports.model_input import OnlinePreparer
    from nfbl.synth import SynthConfig, NoiseConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.1, layout="openpose_body25_hands",
                                        noise=NoiseConfig(level=0.0)), seed=5)
    got = _streamed(OnlinePreparer(_card(), seq.layout, warmup_frames=20), _turned_pixels(seq, 1))
    want, _ = prepare(seq, 0, _card())
    assert len(got) == len(want)
    # the online scale comes from the first 20 frames, the offline one from all of them
    np.testing.assert_allclose(got[..., :2], want[..., :2], atol=0.03)
    nose = skeletons.CANONICAL.index["nose"]
    assert np.median(got[:, nose, 1]) < -0.2  # the head is up


def test_upright_people_are_never_turned_or_taken_for_mirrored():
    from nfbl.synth import LAYOUTS, SynthConfig, generate_video
    for i in range(10):
        split = ("train", "heldout")[i % 2]
        seq, _ = generate_video(SynthConfig(minutes=0.2, layout=LAYOUTS[i % len(LAYOUTS)],
                                            split=split), seed=700 + i)
        x, _ = cleaning.normalize(seq.to_layout(skeletons.CANONICAL).keypoints[0], skeletons.CANONICAL)
        assert cleaning.upright_turns(x, skeletons.CANONICAL) == 0, (i, seq.layout)
        share = cleaning.mirrored_share(x, skeletons.CANONICAL)
        assert share is not None and share < 0.2, (i, seq.layout, share)
        for s in range(0, len(x) - 50, 50):
            assert cleaning.upright_turns(x[s:s + 50], skeletons.CANONICAL) == 0, (i, s)


def test_prepare_reflects_a_mirrored_person_back(caplog):
    """A mirrored image with the subject's own left/right names (their left on the image's
    left, face seen) is reflected back: the same model input as the frames as read."""
    from nfbl.synth import SynthConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.2, layout="openpose_body25_hands"), seed=3)
    with caplog.at_level("WARNING"):
        want, _ = prepare(seq, 0, _card())
    assert "reflected back" not in caplog.text
    with caplog.at_level("WARNING"):
        got, _ = prepare(cleaning.mirrored_frames(seq), 0, _card())
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert "reflected back" in caplog.text


def test_mirrored_share_golden_and_guards():
    lay = skeletons.CANONICAL
    x = np.zeros((30, lay.num_joints, 3), np.float32)
    for name, xy in (("neck", (0, 0)), ("nose", (0, -0.6)), ("left_shoulder", (0.5, 0)),
                     ("right_shoulder", (-0.5, 0)), ("left_eye", (0.1, -0.7)),
                     ("right_eye", (-0.1, -0.7))):
        x[:, lay.index[name]] = (*xy, 0.9)
    assert cleaning.mirrored_share(x, lay) == 0.0
    flipped = x.copy()
    flipped[..., 0] *= -1
    assert cleaning.mirrored_share(flipped, lay) == 1.0
    # from behind: no face pair, so no verdict; the ears stand in for the eyes
    back = flipped.copy()
    back[:, [lay.index["left_eye"], lay.index["right_eye"]]] = 0
    assert cleaning.mirrored_share(back, lay) is None
    back[:, lay.index["left_ear"]] = (-0.2, -0.6, 0.8)
    back[:, lay.index["right_ear"]] = (0.2, -0.6, 0.8)
    assert cleaning.mirrored_share(back, lay) == 1.0
    # a profile (shoulders under 0.3 sw apart in x) and too few frames give no verdict
    profile = flipped.copy()
    profile[:, lay.index["left_shoulder"], 0] = -0.1
    profile[:, lay.index["right_shoulder"], 0] = 0.1
    assert cleaning.mirrored_share(profile, lay) is None
    assert cleaning.mirrored_share(flipped[:cleaning.MIRROR_MIN_FRAMES - 1], lay) is None
    assert cleaning.mirrored_share(x, skeletons.KINECT_V2_25) is None  # no eyes or ears


def test_online_preparer_reflects_like_prepare():
    from nfbl.exports.model_input import OnlinePreparer
    from nfbl.synth import NoiseConfig, SynthConfig, generate_video
    seq, _ = generate_video(SynthConfig(minutes=0.1, layout="openpose_body25_hands",
                                        noise=NoiseConfig(level=0.0)), seed=5)
    got = _streamed(OnlinePreparer(_card(), seq.layout, warmup_frames=30),
                    cleaning.mirrored_frames(seq))
    want, _ = prepare(seq, 0, _card())
    assert len(got) == len(want)
    np.testing.assert_allclose(got[..., :2], want[..., :2], atol=0.03)  # scale from 30 frames
    ls = skeletons.CANONICAL.index["left_shoulder"]
    assert np.median(got[:, ls, 0]) > 0.2  # the subject's left on the image's right again

