"""A hand-edited manifest.jsonl: bad lines are reported with their number and skipped."""
from __future__ import annotations

import json
import logging

from nfbl.batch.manifest import ItemRecord, read_manifest
from nfbl.batch.config import ItemKind, Status


def _good(i: int) -> str:
    return json.dumps(ItemRecord(id=f"v{i}", status=Status.OK, input=f"v{i}.npz",
                                 kind=ItemKind.KEYPOINTS, events=3,
                                 timings={"total_s": 1.0}).to_dict())


GARBAGE = ["not json at all", "[1, 2, 3]", "42", '"a string"', "null", "{}",
           '{"id": "x", "status": "bogus", "input": "a", "kind": "keypoints"}',
           '{"id": 5, "status": "ok", "input": "a", "kind": "keypoints"}',
           '{"id": "x", "status": "ok", "input": "a", "kind": "keypoints", "timings": [1]}',
           '{"id": "x", "status": "ok", "input": "a", "kind": "keypoints", "timings": {"a": "s"}}',
           '{"id": "x", "status": "ok", "input": "a", "kind": "keypoints", "settings": "s"}',
           '{"manifest": "abc", "id": "x"}', "[" * 100_000, '{"id": "torn", "sta']


def test_garbage_lines_skipped_good_lines_kept(tmp_path, caplog):
    path = tmp_path / "manifest.jsonl"
    lines = [_good(0), *GARBAGE, _good(1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="nfbl.batch.manifest"):
        recs = read_manifest(path)
    assert [r.id for r in recs] == ["v0", "v1"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == len(GARBAGE)
    assert all(f"manifest.jsonl:{n}:" in w for n, w in zip(range(2, 2 + len(GARBAGE)), warned))
