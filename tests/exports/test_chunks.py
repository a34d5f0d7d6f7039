"""nfbl.exports.chunks: the one chunk plan."""
from __future__ import annotations

import pytest

from nfbl.core.errors import NfblError
from nfbl.exports.chunks import Chunk, chunk_at, chunk_plan, context_frames


def test_context_is_the_receptive_field_rounded_up_to_the_stride():
    assert context_frames(70, 32) == 96 and context_frames(64, 32) == 64
    assert context_frames(0, 32) == 0
    with pytest.raises(NfblError):
        context_frames(10, 0)


@pytest.mark.parametrize("n", [1, 255, 256, 257, 1000])
def test_plan_covers_every_frame_once_with_context(n):
    plan = chunk_plan(n, 256, 96)
    outs = [f for c in plan for f in range(c.out_lo, c.out_hi)]
    assert outs == list(range(n))
    for c in plan:
        assert c.out_lo % 256 == 0 and c.in_lo == max(0, c.out_lo - 96)
        assert c.in_hi == min(n, c.out_hi + 96)
        assert c == chunk_at(c.out_lo, n, 256, 96)


def test_plan_values():
    assert chunk_plan(600, 256, 64) == [Chunk(0, 320, 0, 256), Chunk(192, 576, 256, 512),
                                        Chunk(448, 600, 512, 600)]
    assert chunk_plan(0, 256, 64) == []
    with pytest.raises(NfblError):
        chunk_plan(10, 0, 0)
