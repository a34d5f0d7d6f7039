"""Contact sheets of synthetic gestures, one cell per class, for a person to check them."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from nfbl.synth.camera import NoiseConfig
from nfbl.synth.corpus import GENERATED_CLASSES, SynthConfig, generate_video


def showcase(out_png: str | Path, classes: Sequence[int] = GENERATED_CLASSES, seed: int = 0,
             config: SynthConfig | None = None, cols: int = 4, at: float = 0.5,
             cell: tuple[int, int] = (360, 300)) -> Path:
    """Draw, for each class, the frame at fraction ``at`` of its first event (clean keypoints
    by default) from a short single-class video."""
    from nfbl.viz.render import render_cells

    base = config or SynthConfig(minutes=0.75, noise=NoiseConfig(level=0.0), beats=False)
    cells = []
    for k, cid in enumerate(classes):
        cfg = replace(base, classes=(cid,), rate_scale=3.0)
        seq, events = generate_video(cfg, seed=(seed, k), video_id=f"N{cid}")
        evs = [e for e in events if e.class_id == cid]
        if not evs:
            continue
        e = evs[0]
        i = min(int((e.start + at * (e.end - e.start)) * seq.fps), seq.num_frames - 1)
        cells.append((seq, i, evs))
    return render_cells(cells, out_png, cols=cols, cell=cell)
