"""Hand-edited model cards: one line naming the field, at load time, in every command."""
from __future__ import annotations

import json

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.exports.modelcard import METADATA_KEY, ModelCard  # noqa: E402
from nfbl.exports.runtime import Detector, bundled_model_path  # noqa: E402


def _with_card(tmp_path, edit) -> str:
    src = bundled_model_path()
    if src is None:
        pytest.skip("no bundled model")
    model = onnx.load(str(src))
    prop = next(p for p in model.metadata_props if p.key == METADATA_KEY)
    card = json.loads(prop.value)
    edit(card)
    prop.value = json.dumps(card)
    out = tmp_path / "edited.onnx"
    onnx.save(model, str(out))
    return str(out)


def _drop_classes(c):
    c["class_ids"] = c["class_ids"][:10]
    c.pop("class_codes", None)
    c.pop("class_names", None)


EDITS = {
    "fewer classes than the graph emits": (_drop_classes, "emits 31 classes"),
    "string card_version": (lambda c: c.update(card_version="abc"), "card_version"),
    "numeric version": (lambda c: c.update(version=1.5), "'version'"),
    "class ids as an int": (lambda c: c.update(class_ids=16), "class_ids"),
    "class ids as strings": (lambda c: c.update(class_ids=["16"]), "class_ids"),
    "threshold as a string": (lambda c: c["decode"].update(threshold="0.5"), "threshold"),
    "threshold out of range": (lambda c: c["decode"].update(threshold=7), "threshold"),
    "decode not an object": (lambda c: c.update(decode=[1]), "decode"),
    "fps as a string": (lambda c: c.update(fps="fast"), "fps"),
    "window as a string": (lambda c: c.update(window="big"), "window"),
}


@pytest.mark.parametrize("what", list(EDITS))
def test_bad_card_is_one_line_at_load(tmp_path, what):
    edit, needle = EDITS[what]
    path = _with_card(tmp_path, edit)
    with pytest.raises(NfblError) as exc:
        Detector.load(path)
    msg = str(exc.value)
    assert needle in msg and path in msg and "\n" not in msg


@pytest.mark.parametrize("what", ["fewer classes than the graph emits", "threshold as a string",
                                  "class ids as an int"])
@pytest.mark.parametrize("cmd", ["model-info", "detect-keypoints"])
def test_bad_card_in_the_commands(tmp_path, cli, what, cmd):
    path = _with_card(tmp_path, EDITS[what][0])
    if cmd == "model-info":
        argv = ["model-info", path]
    else:
        from nfbl.synth import SynthConfig, generate_video
        seq, _ = generate_video(SynthConfig(minutes=0.1), seed=1, video_id="v")
        seq.save(tmp_path / "v.npz")
        argv = ["detect-keypoints", str(tmp_path / "v.npz"), "-o", str(tmp_path / "e.jsonl"),
                "--model", path]
    res = cli(*argv)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("nfbl: error:") and len(res.stderr.strip().splitlines()) == 1


def test_good_card_round_trips():
    det = Detector.load()
    again = ModelCard.from_json(det.card.to_json())
    assert again.class_ids == det.card.class_ids
    det.card.check_outputs(det.card.num_classes)
    with pytest.raises(NfblError, match="emits 3 classes"):
        det.card.check_outputs(3)



def test_hands_optional_card_accepts_body_only_layouts_but_not_less():
    card = ModelCard(name="m", version="1", layout="nfbl56", fps=25.0, class_ids=(3, 16))
    with pytest.raises(NfblError, match="lacks left_hand_wrist, right_hand_wrist.*--body-only"):
        card.check_layout("coco17")
    relaxed = card.hands_optional()
    relaxed.check_layout("coco17")
    relaxed.check_layout("halpe26")
    assert "left_wrist" in relaxed.required_joints
    assert not any("_hand_" in j for j in relaxed.required_joints)
    # a required joint that is not a hand joint is still required, and no hint is given
    strict = ModelCard(name="m", version="1", layout="nfbl56", fps=25.0, class_ids=(3,),
                       required_joints=("left_hip", "left_hand_wrist"))
    with pytest.raises(NfblError) as err:
        strict.hands_optional().check_layout("openpose22")
    assert "left_hip" in str(err.value) and "--body-only" not in str(err.value)
