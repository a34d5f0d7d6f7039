"""Prompt templates: deterministic rendering, label sets, transcripts, keyframe policy."""
from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest

from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.prompts.aggregate import summarise_video
from nfbl.prompts.templates import (DEFAULT_LABELS, PromptConfig, build_prompt, list_templates,
                                    load_template, parse_labels, parse_template)

STREAM = EventStream((Event("int01", 16, 12.4, 15.2, 0.83), Event("int01", 31, 20.0, 23.0, 0.61),
                      Event("int01", 22, 14.0, 16.0, 0.55)))


def _png(path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00\x00\x00\x00"  # 1x1 grey pixel, filter byte + RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _prompt(**kw):
    s = summarise_video(STREAM, "int01", duration_s=60.0)
    return build_prompt(s, STREAM.events, **kw)


def test_bundled_template_and_deterministic_render():
    assert "eald-v1" in list_templates()
    tpl = load_template("eald-v1")
    assert tpl.name == "eald-v1" and "EALD" in tpl.description
    a, b = _prompt(), _prompt()
    assert a == b and a.to_text() == b.to_text()
    assert a.template == "eald-v1" and a.labels == DEFAULT_LABELS
    assert '{"label": <one of ["positive", "negative"]>' in a.system
    assert 'observed in video "int01"' in a.user
    assert "[00:12–00:16] N16 Folding arms (0.83)" in a.user
    assert "Video length: 01:00 (60.0 s)." in a.user
    assert "Choose exactly one label from: positive, negative." in a.user
    assert "$" not in a.user and "$" not in a.system
    msgs = a.to_messages()
    assert [m["role"] for m in msgs] == ["system", "user"] and msgs[1]["content"] == a.user
    json.dumps(a.to_dict())  # serialisable


def test_finer_labels_and_transcript():
    p = _prompt(labels="happy, neutral,sad,angry", transcript="We played well today.",
                config=PromptConfig(max_transcript_chars=10))
    assert p.labels == ("happy", "neutral", "sad", "angry")
    assert '["happy", "neutral", "sad", "angry"]' in p.system
    assert "Transcript of what the person said:\nWe played [... transcript cut here]" in p.user
    assert p.info["transcript_cut"] is True


@pytest.mark.parametrize("bad", ["positive", "a,a", "ok,{bad}", ",,"])
def test_bad_labels(bad):
    with pytest.raises(NfblError):
        parse_labels(bad)


def test_empty_stream_prompt_says_nothing_observed():
    s = summarise_video(EventStream(()), "empty")
    p = build_prompt(s, ())
    assert "No NFBL (non-facial body language) events were observed" in p.user
    assert "(no events)" in p.user


def test_keyframes_refused_unless_deidentified(tmp_path):
    img = tmp_path / "k.png"
    _png(img)
    with pytest.raises(NfblError, match="de-identified|faces"):
        _prompt(keyframes=[img])
    p = _prompt(keyframes=[img], keyframes_deidentified=True)
    parts = p.to_messages()[1]["content"]
    assert parts[0] == {"type": "text", "text": p.user}
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == img.read_bytes()
    assert "1 de-identified keyframe(s)" in p.user and str(img) in p.to_text()
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(NfblError, match="not a PNG"):
        _prompt(keyframes=[bad], keyframes_deidentified=True)


def test_custom_template_file(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("@@ meta\nname = mine-v2\n@@ system\nLabels: $labels\n@@ user\n$summary\n")
    p = _prompt(template=str(f))
    assert p.template == "mine-v2" and p.system == "Labels: positive, negative"
    with pytest.raises(NfblError, match="unknown placeholder"):
        parse_template("@@ system\n$nope\n@@ user\nx\n", "t.txt")
    with pytest.raises(NfblError, match="no '@@ user'"):
        parse_template("@@ system\nx\n", "t.txt")
    with pytest.raises(NfblError, match="unknown prompt template"):
        load_template("eald-v99")


def test_prompts_package_stays_light():
    import subprocess
    import sys

    code = ("import sys, nfbl.prompts, nfbl.prompts.llm_client, nfbl.prompts.emotion, "
            "nfbl.cli.emotion_cmd; heavy = [m for m in ('torch', 'sklearn', 'mediapipe', "
            "'onnxruntime', 'nfbl.pose', 'nfbl.detectors', 'nfbl.exports') if m in sys.modules]; "
            "print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_prompts_for_stream():
    from nfbl.prompts import prompts_for_stream

    two = EventStream(STREAM.events + (Event("int02", 3, 1.0, 2.0, 0.5),))
    ps = prompts_for_stream(two, durations={"int01": 60.0, "int02": 30.0})
    assert [p.video_id for p in ps] == ["int01", "int02"]
    assert "N3 Touching or scratching head" in ps[1].user and "N16" not in ps[1].user
    assert ps[0].user == _prompt().user
    empty = prompts_for_stream(EventStream(()), video_ids=["clip"])
    assert len(empty) == 1 and "No NFBL" in empty[0].user
