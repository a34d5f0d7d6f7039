"""nfbl batch without Ray: input discovery, item ids, manifest reading, the resume plan,
and the one-line error when Ray is not installed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nfbl import batch
from nfbl.batch import BatchConfig, BatchItem, ItemKind, ItemRecord, Status
from nfbl.batch.manifest import ManifestWriter
from nfbl.batch.runner import _check_reachable
from nfbl.core.errors import NfblError
from nfbl.perf.batch import BenchResult, BenchRow
from nfbl.core.sequence import PoseSequence

MP4_HEAD = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32
MKV_HEAD = b"\x1a\x45\xdf\xa3" + b"\x00" * 32


def _npz(path: Path, video_id: str = "") -> Path:
    kp = np.ones((1, 4, 17, 3), np.float32)
    PoseSequence(kp, "coco17", 25.0, np.arange(4) / 25.0, (64, 64), video_id=video_id).save(path)
    return path


def _openpose_folder(folder: Path, vids: tuple[str, ...] = ("clip",)) -> Path:
    folder.mkdir(parents=True)
    for vid in vids:
        for i in range(2):
            (folder / f"{vid}_{i:012d}_keypoints.json").write_text('{"people": []}')
    return folder


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    a = tmp_path / "archive"
    (a / "sub").mkdir(parents=True)
    (a / "one.mp4").write_bytes(MP4_HEAD)
    (a / "sub" / "two.MKV").write_bytes(MKV_HEAD)
    (a / "sub" / "noext").write_bytes(MKV_HEAD)            # sniffed: Matroska
    (a / "sub" / "readme.txt").write_text("not a video")   # ignored
    (a / "sub" / "labels.json").write_text("{}")           # JSON only when named explicitly
    (a / ".hidden.mp4").write_bytes(MP4_HEAD)              # hidden: ignored
    _npz(a / "kp.npz")
    (a / "x1_light_hand.csv").write_text("0,1,2\n")
    (a / "s3_skeleton.csv").write_text("0,1,2\n")
    _openpose_folder(a / "op" / "frames")
    _openpose_folder(a / "op2", vids=("va", "vb"))
    (a / "out").mkdir()
    (a / "out" / "old.mp4").write_bytes(MP4_HEAD)          # inside --out: never scanned
    return a


def _by_id(items: list[BatchItem]) -> dict[str, BatchItem]:
    return {i.item_id: i for i in items}


def test_folder_scan_recognises_videos_keypoints_and_openpose(archive: Path):
    items = _by_id(batch.discover([archive], exclude=archive / "out"))
    assert sorted(items) == ["clip", "kp", "noext", "one", "s3", "two", "va", "vb", "x1"]
    kinds = {k: v.kind for k, v in items.items()}
    assert kinds["one"] is kinds["two"] is kinds["noext"] is ItemKind.VIDEO
    for k in ("kp", "x1", "s3", "clip", "va", "vb"):
        assert kinds[k] is ItemKind.KEYPOINTS, k
    assert items["clip"].path == str((archive / "op" / "frames").resolve())
    assert items["clip"].video_id == ""                     # one video in the folder
    assert (items["va"].video_id, items["vb"].video_id) == ("va", "vb")
    assert all(Path(i.path).is_absolute() for i in items.values())


def test_explicit_files_are_always_processed(archive: Path):
    txt = archive / "sub" / "readme.txt"
    js = archive / "sub" / "labels.json"
    items = _by_id(batch.discover([txt, js]))
    assert items["readme"].kind is ItemKind.VIDEO          # the decoder will judge it
    assert items["labels"].kind is ItemKind.KEYPOINTS      # mmpose JSON


def test_globs_filter_like_folders_and_dedupe(archive: Path):
    pattern = str(archive / "**" / "*")
    items = batch.discover([pattern, archive / "one.mp4"], exclude=archive / "out")
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids))
    assert "readme" not in ids and "labels" not in ids and "old" not in ids
    assert {"one", "two", "kp", "clip"} <= set(ids)


def test_colliding_stems_get_distinct_stable_ids(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "talk.mp4").write_bytes(MP4_HEAD)
    (tmp_path / "b" / "talk.mp4").write_bytes(MP4_HEAD)
    _npz(tmp_path / "b" / "talk.npz")
    (tmp_path / "b" / "we ird#name.mp4").write_bytes(MP4_HEAD)
    first = [i.item_id for i in batch.discover([tmp_path])]
    again = [i.item_id for i in batch.discover([tmp_path])]
    assert first == again
    talks = [i for i in first if i.startswith("talk")]
    assert len(talks) == 3 and len(set(talks)) == 3
    assert all(len(t) == len("talk-") + 8 for t in talks)
    assert "we_ird_name" in first


def test_missing_input_and_empty_glob_are_one_line_errors(tmp_path: Path):
    with pytest.raises(NfblError, match="no such file or folder"):
        batch.discover([tmp_path / "nope.mp4"])
    with pytest.raises(NfblError, match="no file or folder matches"):
        batch.discover([str(tmp_path / "*.mp4")])


@pytest.mark.parametrize("head, expected", [
    (b"\x00\x00\x00\x20ftypmp42", True), (b"RIFF\x00\x00\x00\x00AVI LIST", True),
    (b"\x1a\x45\xdf\xa3\x93", True), (b"OggS\x00\x02", True), (b"FLV\x01", True),
    (b"\x47" + b"\x00" * 187 + b"\x47", True), (b"YUV4MPEG2 W64", True),
    (b"PK\x03\x04", False), (b"%PDF-1.4", False), (b"RIFF\x00\x00\x00\x00WAVEfmt ", False)])
def test_container_sniffing(tmp_path: Path, head: bytes, expected: bool):
    p = tmp_path / "f"
    p.write_bytes(head + b"\x00" * 200)
    assert batch.looks_like_video(p) is expected


def _record(item_id: str, status: Status, **kw) -> ItemRecord:
    base = dict(id=item_id, status=status, input=f"/x/{item_id}.npz", kind=ItemKind.KEYPOINTS,
                model="m", model_version="1", settings=BatchConfig().settings, run="r1")
    base.update(kw)
    return ItemRecord(**base)


def test_manifest_round_trip_and_torn_last_line(tmp_path: Path):
    m = tmp_path / "manifest.jsonl"
    recs = [_record("a", Status.OK, timings={"total_s": 1.5}, events=3),
            _record("b", Status.FAILED, error="b.mp4: cannot read this file as a video")]
    with open(m, "w") as fh:
        for r in recs:
            fh.write(json.dumps(r.to_dict()) + "\n")
        fh.write('{"manifest": 1, "id": "c", "sta')  # a crash mid-line
    back = batch.read_manifest(m)
    assert [r.id for r in back] == ["a", "b"]
    assert back[0].timings == {"total_s": 1.5} and back[0].events == 3
    assert back[1].status is Status.FAILED and "cannot read" in back[1].error
    d = recs[0].to_dict()
    assert d["status"] == "ok" and d["kind"] == "keypoints" and "error" not in d
    # the next run appends on a fresh line: the torn line costs nothing but itself
    writer = ManifestWriter(m)
    writer.write(_record("c", Status.OK))
    writer.close()
    assert [r.id for r in batch.read_manifest(m)] == ["a", "b", "c"]


def test_manifest_lock_refuses_a_second_writer(tmp_path: Path):
    m = tmp_path / "manifest.jsonl"
    first = ManifestWriter(m)
    try:
        with pytest.raises(NfblError, match="another nfbl batch run"):
            ManifestWriter(m)
    finally:
        first.close()
    ManifestWriter(m).close()  # free again


def test_plan_skips_done_retries_failed_and_reruns_on_change(tmp_path: Path):
    items = [BatchItem(n, str(_npz(tmp_path / f"{n}.npz")), ItemKind.KEYPOINTS)
             for n in ("done", "bad", "new", "lost", "oldmodel")]
    for n in ("done", "oldmodel"):
        (tmp_path / f"{n}{batch.EVENTS_SUFFIX}").write_text("")
    stat = {i.item_id: i.input_stat for i in items}
    prev = {n: _record(n, Status.OK, input_size=stat[n][0], input_mtime=stat[n][1])
            for n in ("done", "lost")}
    prev["oldmodel"] = _record("oldmodel", Status.OK, model_version="0")
    prev["bad"] = _record("bad", Status.FAILED, error="boom")
    run, skipped = batch.plan(items, prev, tmp_path, ("m", "1"), BatchConfig())
    assert [i.item_id for i in run] == ["bad", "new", "lost", "oldmodel"]
    assert list(skipped) == ["done"] and skipped["done"].status is Status.SKIPPED
    run, skipped = batch.plan(items, prev, tmp_path, ("m", "1"), BatchConfig(retry_failed=False))
    assert "bad" in skipped and "not retried" in skipped["bad"].reason
    # other settings or a changed input file: run again
    run, _ = batch.plan(items, prev, tmp_path, ("m", "1"), BatchConfig(stride=2))
    assert "done" in [i.item_id for i in run]
    _npz(tmp_path / "done.npz", video_id="changed")
    run, _ = batch.plan(items, prev, tmp_path, ("m", "1"), BatchConfig())
    assert "done" in [i.item_id for i in run]


def test_latest_attempt_ignores_skipped_lines():
    recs = [_record("a", Status.FAILED), _record("a", Status.OK), _record("a", Status.SKIPPED)]
    assert batch.latest_attempts(recs)["a"].status is Status.OK


def test_bad_config_values():
    with pytest.raises(NfblError, match="--workers"):
        BatchConfig(workers=0)
    with pytest.raises(NfblError, match="--stride"):
        BatchConfig(stride=0)


def test_missing_ray_says_how_to_install(tmp_path: Path):
    v = tmp_path / "a.mp4"
    v.write_bytes(MP4_HEAD)
    code = ("import sys; sys.modules['ray'] = None\n"
            "from nfbl.cli import main\n"
            f"sys.exit(main(['batch', {str(v)!r}, '--out', {str(tmp_path / 'out')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'nfbl[cluster]'" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_bench_result_arithmetic_and_table():
    rows = (BenchRow("in-process serial", 0, 10, 10, 0.0, (2.0, 3.0, 4.0), (3.0,) * 3,
                           (1.0,) * 3),
            BenchRow("ray, 1 worker", 1, 10, 10, 6.0, (3.5, 3.1, 9.0), (3.0,) * 3,
                           (1.0,) * 3),
            BenchRow("  empty tasks", -1, 10, 10, 0.0, (0.05, 0.04, 0.06), (0.0,) * 3),
            BenchRow("ray, 2 workers", 2, 10, 10, 6.0, (1.8, 1.7, 1.9), (3.0,) * 3))
    res = BenchResult(rows, media_s=600.0)
    assert rows[1].wall_s == 3.5 and rows[3].items_per_s == pytest.approx(10 / 1.8)
    assert res.overhead_per_item_s() == pytest.approx((3.5 - 3.0) / 10)
    assert rows[1].outside_task_s == pytest.approx(0.05)   # median of (0.05, 0.01, 0.6)
    table = res.table()
    assert "50.0 ms" in table and "5.0 ms" in table        # overhead line, empty-task line
    assert len(table.splitlines()) == 1 + len(rows) + 2


def test_unreachable_cluster_fails_fast():
    import socket

    with socket.socket() as s:  # a port nobody listens on: bind, never listen
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
            with pytest.raises(NfblError, match="cannot reach the Ray cluster"):
                _check_reachable(address, timeout=5)
    _check_reachable("auto")  # left to Ray


def test_batch_options_fit_a_single_video_command():
    """``nfbl detect VIDEOS... --out DIR`` can reuse the batch options next to its own."""
    import argparse

    from nfbl.cli.batch_cmd import _config, add_batch_arguments

    p = argparse.ArgumentParser()
    p.add_argument("inputs", nargs="+")
    p.add_argument("-o", "--output")
    p.add_argument("--model")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--timeline")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--all-persons", action="store_true")
    add_batch_arguments(p, inputs=False, shared=False)
    args = p.parse_args(["a.mp4", "b/*.mkv", "--out", "res", "--workers", "2", "--stride", "3",
                         "--all-persons", "--timeline", "x.png", "--no-retry",
                         "--ray-address", "auto"])
    assert args.out == "res" and args.output is None
    cfg = _config(args)
    assert (cfg.workers, cfg.stride, cfg.persons, cfg.timeline, cfg.retry_failed) == \
        (2, 3, "all", True, False)
    assert cfg.ray_address == "auto" and cfg.threads_per_task == 2 and cfg.pose is None


def test_pose_config_joins_the_skip_settings():
    from nfbl.pose.pipeline import PoseConfig

    plain = BatchConfig(stride=2).settings
    with_pose = BatchConfig(pose=PoseConfig(stride=4, max_side=640)).settings
    assert plain == {"stride": 2, "persons": "interviewee"}
    assert with_pose["pose"]["stride"] == 4 and with_pose["pose"]["max_side"] == 640
    assert "progress" not in with_pose["pose"]
    json.dumps(with_pose)  # goes into the manifest as is


def test_body_only_is_an_output_setting_only_when_set():
    assert "body_only" not in BatchConfig().settings          # earlier manifests stay equal
    assert BatchConfig(body_only=True).settings["body_only"] is True
