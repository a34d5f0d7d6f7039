"""`import nfbl` is the public API: every name resolves, lazily, without heavy imports."""
from __future__ import annotations

import subprocess
import sys

import pytest

import nfbl

HEAVY = ("torch", "onnxruntime", "av", "mediapipe", "cv2", "matplotlib", "sklearn", "ray")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip())  # noqa: S307 - our own printed list


def test_import_nfbl_pulls_nothing_heavy():
    assert _loaded_after("import nfbl") == []


def test_data_names_pull_nothing_heavy():
    code = ("import nfbl\n"
            "for n in ('PoseSequence', 'Event', 'EventStream', 'to_multihot', 'read_keypoints',"
            " 'read_events', 'write_events', 'summarise', 'NfblError'): getattr(nfbl, n)")
    assert _loaded_after(code) == []


@pytest.mark.parametrize("name", [n for n in nfbl.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    value = getattr(nfbl, name)
    assert value is not None and name in dir(nfbl)
    assert getattr(value, "__name__", name) == name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nfbl.nope  # noqa: B018


def test_round_trip_through_the_public_api(tmp_path):
    stream = nfbl.EventStream([nfbl.Event(video_id="v", class_id=16, start=1.0, end=2.5,
                                          score=0.9)])
    nfbl.write_events(stream, tmp_path / "e.jsonl")
    back = nfbl.read_events(tmp_path / "e.jsonl")
    assert [(e.class_id, e.start, e.end) for e in back] == [(16, 1.0, 2.5)]
    y = nfbl.to_multihot(back, num_frames=100, fps=25)
    assert y[:, 16].sum() == 38 and y.sum() == 38  # frames 25..62 lie in [1.0, 2.5)
    assert nfbl.summarise(back, duration_s=60.0)[0].video_id == "v"
