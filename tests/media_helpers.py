"""Small media files built by tests (importable from test modules: tests/ is on sys.path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_audio_only(path: Path) -> Path:
    """An AAC file with no video stream (0.5 s of silence)."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(8):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                            layout="mono")
            fr.sample_rate, fr.pts = 16000, i * 1024
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path
