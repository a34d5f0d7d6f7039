"""nfbl batch on a real local Ray (2 CPUs, started once for this module): a handful of
keypoint files and tiny videos, two of them corrupt; the manifest, the outputs, the resume,
a worker crash, and the command line connecting to the running Ray."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra nfbl[cluster]")

from nfbl import batch  # noqa: E402
from nfbl.batch import BatchConfig, Status  # noqa: E402
from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.io.event_formats import read_events  # noqa: E402

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for img in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _synth_npz(path: Path, seed: int) -> Path:
    from nfbl.synth import SynthConfig, generate_video

    seq, _ = generate_video(SynthConfig(minutes=0.2), seed=seed, video_id=path.stem)
    return seq.save(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised, tiny detector exported with its card (not the bundled model)."""
    torch = pytest.importorskip("torch")
    from nfbl.detectors.checkpoint import make_card
    from nfbl.detectors.model import DetectorConfig, NFBLDetector
    from nfbl.detectors.export import export

    torch.manual_seed(0)
    cfg = DetectorConfig(stem_channels=8, channels=(8,), strides=(1,), neck_channels=8,
                         pyramid_levels=1, head_channels=8)
    card = make_card(cfg, name="tiny-batch-test", version="0.0.1", window=256)
    return export(NFBLDetector(cfg), card, tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """kp_a/kp_b: good keypoint files; broken.npz: not a zip; corrupt.mp4: an MP4 header and
    garbage; empty.mp4: a real video nobody is in; people.mp4: real people (if media exist)."""
    pytest.importorskip("av")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("the video items need mediapipe (the pose extra)")
    a = tmp_path_factory.mktemp("archive")
    _synth_npz(a / "kp_a.npz", 1)
    _synth_npz(a / "kp_b.npz", 2)
    (a / "broken.npz").write_bytes(b"PK\x03\x04 this is not a keypoint file")
    (a / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    grey = [np.full((64, 64, 3), 20 * i, np.uint8) for i in range(6)]
    _write_video(a / "empty.mp4", grey)
    if (MEDIA / "basketball1.png").is_file():
        import cv2

        img = cv2.cvtColor(cv2.imread(str(MEDIA / "basketball1.png")), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (320, 240))
        (a / "sub").mkdir()
        _write_video(a / "sub" / "people.mp4",
                     [np.ascontiguousarray(np.roll(img, 2 * i, axis=1)) for i in range(6)])
    return a


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=100 * 2**20, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def first_run(local_ray, archive, tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = batch.run_batch([archive], out, BatchConfig(model=str(tiny_model)))
    return out, summary


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_first_run_records_every_item(first_run, archive):
    out, summary = first_run
    status = {r.id: r.status for r in summary.records}
    expected = {"kp_a": Status.OK, "kp_b": Status.OK, "broken": Status.FAILED,
                "corrupt": Status.FAILED, "empty": Status.FAILED}
    if (archive / "sub" / "people.mp4").exists():
        expected["people"] = Status.OK
    assert status == expected
    assert not summary.ok and summary.cpus == 2
    lines = _manifest(out)
    assert sorted(d["id"] for d in lines) == sorted(expected)
    for d in lines:
        assert d["model"] == "tiny-batch-test" and d["model_version"] == "0.0.1"
        assert d["nfbl_version"] and d["host"] and d["run"] == summary.run
        assert d["timings"]["total_s"] >= 0 and d["timings"]["wall_s"] >= d["timings"]["total_s"]
        assert Path(d["input"]).is_absolute()


def test_failed_items_carry_one_clear_line(first_run):
    out, _ = first_run
    by_id = {d["id"]: d for d in _manifest(out)}
    for vid in ("broken", "corrupt", "empty"):
        err = by_id[vid]["error"]
        assert "\n" not in err and vid in err, err
        assert "output" not in by_id[vid]
        assert not (out / f"{vid}.events.jsonl").exists()
    assert "cannot read this file as a video" in by_id["corrupt"]["error"]
    assert "no person found" in by_id["empty"]["error"]


def test_ok_items_have_events_files_and_timings(first_run, archive):
    out, summary = first_run
    for r in summary.records:
        if r.status is not Status.OK:
            continue
        stream = read_events(r.output)
        assert Path(r.output) == out / f"{r.id}.events.jsonl"
        assert r.frames and r.media_s and r.events == len(stream)
        assert all(e.video_id == r.video_id for e in stream)
        stage = "pose_s" if r.kind is batch.ItemKind.VIDEO else "load_s"
        assert {stage, "detect_s", "write_s", "total_s"} <= set(r.timings)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    table = summary.table()
    assert "2 ok" in table or "3 ok" in table
    assert "failed" in table and "manifest" in table


def test_resume_skips_done_and_retries_failed(first_run, archive, tiny_model):
    out, first = first_run
    ok_before = {r.id: Path(r.output).stat().st_mtime_ns for r in first.records
                 if r.status is Status.OK}
    # the broken keypoint file gets repaired between the runs
    _synth_npz(archive / "broken.npz", 3)
    second = batch.run_batch([archive], out, BatchConfig(model=str(tiny_model)))
    status = {r.id: r.status for r in second.records}
    for vid in ok_before:
        assert status[vid] is Status.SKIPPED
        assert Path(first.out_dir / f"{vid}.events.jsonl").stat().st_mtime_ns == ok_before[vid]
    assert status["broken"] is Status.OK
    assert status["corrupt"] is status["empty"] is Status.FAILED
    lines = _manifest(out)
    assert len(lines) == 2 * len(first.records)
    latest = batch.latest_attempts(batch.read_manifest(out / "manifest.jsonl"))
    assert latest["broken"].status is Status.OK and latest["kp_a"].run == first.run

    # --no-retry: nothing left to run, failed items are skipped with a reason
    third = batch.run_batch([archive], out, BatchConfig(model=str(tiny_model),
                                                        retry_failed=False))
    assert {r.status for r in third.records} == {Status.SKIPPED}
    assert "not retried" in {r.id: r for r in third.records}["corrupt"].reason
    assert third.startup_s == 0.0  # Ray not even touched


def crashing_item(item, out_dir, cfg):
    """Task body that kills its worker process for one item (a segfault, an OOM kill)."""
    if item.item_id == "kp_b":
        os._exit(3)
    return batch.process_item(item, out_dir, cfg)


def test_worker_crash_fails_one_item_only(local_ray, archive, tiny_model, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    inputs = [archive / "kp_b.npz", archive / "kp_a.npz"]
    s = batch.run_batch(inputs, tmp_path, BatchConfig(model=str(tiny_model), max_retries=1),
                        item_fn=crashing_item)
    status = {r.id: r for r in s.records}
    assert status["kp_a"].status is Status.OK
    assert (tmp_path / "kp_a.events.jsonl").is_file()
    crashed = status["kp_b"]
    assert crashed.status is Status.FAILED
    assert "Ray task failed" in crashed.error and "after 1 retry" in crashed.error


def test_cli_connects_to_a_running_ray_and_resumes(local_ray, archive, tiny_model, tmp_path):
    address = ray.get_runtime_context().gcs_address
    inputs = [str(archive / "kp_*.npz"), str(archive / "corrupt.mp4")]
    cmd = [sys.executable, "-m", "nfbl", "batch", *inputs, "--out", str(tmp_path),
           "--model", str(tiny_model), "--ray-address", address]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1, r.stderr  # one item failed, the others finished
    assert "Traceback" not in r.stderr
    assert "3 items: 2 ok, 1 failed, 0 skipped" in r.stdout, r.stdout
    assert "corrupt" in r.stdout and "cannot read" in r.stdout
    r2 = subprocess.run(cmd + ["--no-retry"], capture_output=True, text=True, timeout=180)
    assert r2.returncode == 0, r2.stderr
    assert "3 items: 0 ok, 0 failed, 3 skipped" in r2.stdout, r2.stdout
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 6


def test_nfbl_detect_with_out_dir_runs_the_batch(local_ray, archive, tiny_model, tmp_path):
    """The issue's spelling: `nfbl detect VIDEOS_OR_GLOBS... --out DIR` delegates to the batch."""
    address = ray.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "nfbl", "detect", str(archive / "kp_*.npz"),
           str(archive / "corrupt.mp4"), "--out", str(tmp_path), "--model", str(tiny_model),
           "--ray-address", address, "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1, r.stderr
    assert "3 items: 2 ok, 1 failed, 0 skipped" in r.stdout, r.stdout
    assert (tmp_path / "kp_a.events.jsonl").is_file()


@pytest.mark.parametrize("extra,needle", [
    ((), "need --out DIR"),
    (("--out", "OUT", "--overlay", "x.mp4"), "--overlay"),
])
def test_nfbl_detect_batch_usage_errors(tmp_path, extra, needle):
    extra = tuple(str(tmp_path / "o") if e == "OUT" else e for e in extra)
    r = subprocess.run([sys.executable, "-m", "nfbl", "detect", "a.mp4", "b.mp4", *extra],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_model_fails_before_any_task(local_ray, archive, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(NfblError, match="not an nfbl model"):
        batch.run_batch([archive], tmp_path / "out", BatchConfig(model=str(bad)))
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_timeline_pictures_and_rerun_when_missing(local_ray, archive, tiny_model, tmp_path):
    cfg = BatchConfig(model=str(tiny_model), timeline=True)
    s = batch.run_batch([archive / "kp_a.npz"], tmp_path, cfg)
    (rec,) = s.records
    assert rec.status is Status.OK and rec.timeline == str(tmp_path / "kp_a.timeline.png")
    assert (tmp_path / "kp_a.timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "kp_a.timeline.png").unlink()
    again = batch.run_batch([archive / "kp_a.npz"], tmp_path, cfg)
    assert again.records[0].status is Status.OK  # ran again: its picture was missing
    assert batch.run_batch([archive / "kp_a.npz"], tmp_path, cfg).records[0].status \
        is Status.SKIPPED


def hanging_item(item, out_dir, cfg):
    """Task body that hangs for one item (a decoder stuck on a damaged file)."""
    if item.item_id == "kp_b":
        import time

        time.sleep(120)
    return batch.process_item(item, out_dir, cfg)


def test_item_timeout_cancels_one_item_only(local_ray, archive, tiny_model, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    inputs = [archive / "kp_b.npz", archive / "kp_a.npz"]
    # 10 s: the healthy item (worker start, model load, detection) must finish well inside it
    # even on a loaded 2-core box; with 4 s it failed there while training jobs ran
    s = batch.run_batch(inputs, tmp_path, BatchConfig(model=str(tiny_model), item_timeout=10),
                        item_fn=hanging_item)
    status = {r.id: r for r in s.records}
    assert status["kp_a"].status is Status.OK
    assert status["kp_b"].status is Status.FAILED
    assert "took longer than --item-timeout 10 s" in status["kp_b"].error
    assert 10 <= status["kp_b"].timings["wall_s"] < 60
