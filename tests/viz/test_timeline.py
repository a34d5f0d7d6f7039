"""The timeline picture."""
from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.core.events import Event, EventStream  # noqa: E402
from nfbl.viz.timeline import _mmss, plot_timeline  # noqa: E402


def test_timeline_png_is_written_atomically(tmp_path):
    ev = EventStream((Event("v", 16, 12.0, 15.2, 0.83, 0), Event("v", 31, 70.0, 71.5, 0.4, 0),
                      Event("v", 16, 80.0, 82.0, 0.9, 3)))
    out = plot_timeline(ev, tmp_path / "t.png", duration=120.0, title="v.mp4")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.png"]
    empty = plot_timeline(EventStream(), tmp_path / "e.svg", duration=10.0)
    assert b"no events" in empty.read_bytes()
    with pytest.raises(NfblError, match="must end in"):
        plot_timeline(ev, tmp_path / "t.gif")


def test_mm_ss_labels():
    assert _mmss(0) == "00:00" and _mmss(125.2) == "02:05" and _mmss(59.6) == "01:00"
    assert _mmss(0.4, 1) == "00:00.4" and _mmss(61.25, 2) == "01:01.25"
