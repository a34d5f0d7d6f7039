"""Hostile input and faults through the real `nfbl` entry point (issues 16 and 18).

Classes, not cases: every command that writes refuses an output that is one of its inputs
(same path, symlink, hard link) before any work and leaves the input byte for byte intact;
numeric options are range-checked at the command line; operating-system errors are one line;
SIGTERM / SIGINT remove unfinished temporary files and keep the previous good output.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nfbl.core.sequence import PoseSequence

PY = [sys.executable, "-m", "nfbl"]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _one_line_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode != 0, res.stdout
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("nfbl: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A keypoint file, its events, a tiny video, a transcript and an exported model."""
    from nfbl.io.event_formats import write_events
    from nfbl.synth import SynthConfig, generate_video

    d = tmp_path_factory.mktemp("hostile")
    seq, events = generate_video(SynthConfig(minutes=0.2), seed=3, video_id="talk")
    seq.save(d / "talk.npz")
    write_events(events, d / "talk.events.jsonl")
    (d / "transcript.txt").write_text("hello\n")
    (d / "fake.mp4").write_bytes(b"\x00" * 64)   # refused before it is decoded
    (d / "config.toml").write_text("[run]\nname = 'x'\n")
    return d


def _link(files: Path, tmp_path: Path, name: str, how: str) -> Path:
    """``how`` = same | symlink | hardlink: a path that resolves to files/name."""
    src = files / name
    if how == "same":
        return src
    dst = tmp_path / f"{how}-{name}"
    if how == "symlink":
        dst.symlink_to(src)
    else:
        os.link(src, dst)
    return dst


#: (command, the input it reads that the output aims at); {IN} = that input, {OUT} = the output
#: path resolving to it, {D} = the fixture folder
WRITERS = [
    ("deid {IN} -o {OUT}", "fake.mp4"),
    ("detect {IN} -o {D}/e.jsonl --overlay {OUT}", "fake.mp4"),
    ("detect {IN} -o {D}/e.jsonl --deid-video {OUT}", "fake.mp4"),
    ("pose {IN} -o {D}/k.npz --deid-video {OUT}", "fake.mp4"),
    ("pose {D}/fake.mp4 --backend file --keypoints {IN} -o {OUT}", "talk.npz"),
    ("detect {D}/fake.mp4 -o {D}/e.jsonl --backend file --keypoints {IN} --keypoints-out {OUT}",
     "talk.npz"),
    ("keypoints convert {IN} {OUT} --resample 10", "talk.npz"),
    ("events convert {IN} {OUT}", "talk.events.jsonl"),
    ("render {IN} -o {OUT}", "talk.npz"),
    ("render {D}/talk.npz --events {IN} -o {OUT}", "talk.events.jsonl"),
    ("detect-keypoints {IN} -o {OUT}", "talk.events.jsonl"),
    ("detect-keypoints {IN} -o {OUT}", "talk.npz"),
    ("prompt {IN} -o {OUT}", "talk.events.jsonl"),
    ("prompt {D}/talk.events.jsonl --transcript {IN} -o {OUT}", "transcript.txt"),
    ("features {IN} -o {OUT}", "talk.events.jsonl"),
    ("emotion {IN} -o {OUT}", "talk.events.jsonl"),
    ("evaluate --synthetic {IN} --json {OUT}", "talk.npz"),
    ("export {IN} -o {OUT}", "talk.npz"),
]


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("cmd,name", WRITERS, ids=[f"{c.split()[0]}:{i}" for i, (c, _) in
                                                    enumerate(WRITERS)])
def test_every_writer_refuses_an_output_that_is_an_input(files, tmp_path, cmd, name, how, cli):
    if how != "same" and cmd.startswith(("detect-keypoints", "export", "evaluate")):
        pytest.skip("one link kind is enough for the commands that need onnx/torch")
    before = _sha(files / name)
    out = _link(files, tmp_path, name, how)
    argv = cmd.format(IN=files / name, OUT=out, D=files).split()
    line = _one_line_error(cli(*argv))
    assert "the output is the input" in line, line
    assert _sha(files / name) == before
    assert not (files / "e.jsonl").exists()


@pytest.mark.parametrize("cmd", [
    "batch {D} --out {D}",
    "detect {D} --out {D}",
    "bench detect --gt {D}/talk.events.jsonl --pred {D}/talk.events.jsonl --out {D}/talk.npz",
    "synth {D}/talk.npz --videos 1 --minutes 0.05",
    "demo {D}/talk.npz",
    "train --config {D}/config.toml --out {D}/talk.npz",
])
def test_output_folders_checked_before_work(files, cli, cmd):
    line = _one_line_error(cli(*cmd.format(D=files).split()))
    assert "output folder" in line or "holds input files" in line, line


@pytest.mark.parametrize("cmd", [
    "events convert {D}/talk.events.jsonl {D}/talk.npz/sub/out.csv",
    "render {D}/talk.npz -o {D}/transcript.txt/x.png",
    "keypoints convert {D}/talk.npz {D}/talk.events.jsonl/out.npz",
])
def test_output_under_a_regular_file(files, cli, cmd):
    line = _one_line_error(cli(*cmd.format(D=files).split()))
    assert "is a file, not a folder" in line


@pytest.mark.parametrize("argv,option", [
    ("detect-keypoints {D}/talk.npz -o {D}/o.jsonl --threads 0", "--threads"),
    ("detect-keypoints {D}/talk.npz -o {D}/o.jsonl --threads -1", "--threads"),
    ("detect {D}/fake.mp4 -o {D}/o.jsonl --threads -1", "--threads"),
    ("keypoints convert {D}/talk.npz {D}/o.npz --resample 0", "--resample"),
    ("bench detect --gt {D}/talk.events.jsonl --pred {D}/talk.events.jsonl --min-score nan",
     "--min-score"),
    ("evaluate --synthetic --min-score nan", "--min-score"),
    ("events convert {D}/talk.events.jsonl {D}/o.csv --fps 0", "--fps"),
    ("model-info --benchmark -5", "--benchmark"),
    ("render {D}/talk.npz -o {D}/o.png --cols 0", "--cols"),
    ("deid {D}/fake.mp4 -o {D}/o.mp4 --stride 0", "--stride"),
    ("synth {D}/corpus --videos 0", "--videos"),
    ("synth {D}/corpus --fps inf", "--fps"),
])
def test_ranges_checked_at_the_command_line(files, cli, argv, option):
    res = cli(*argv.format(D=files).split())
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"argument {option}" in res.stderr.splitlines()[-1]


def test_no_command_is_an_error_with_usage(cli):
    res = cli()
    assert res.returncode == 2 and "usage: nfbl" in res.stderr and "give a command" in res.stderr


def test_bench_openpose_help_has_no_doubled_percent(cli):
    res = cli("keypoints", "bench-openpose", "--help")
    assert res.returncode == 0 and "%%" not in res.stdout and "10% of the" in res.stdout


def test_prompt_transcript_folder_is_one_line(files, cli):
    line = _one_line_error(cli("prompt", files / "talk.events.jsonl", "--transcript", files))
    assert "folder" in line


def test_zero_frame_sequence_is_an_error(files, tmp_path, cli):
    seq = PoseSequence.load(files / "talk.npz")
    import dataclasses
    dataclasses.replace(seq, keypoints=seq.keypoints[:, :0],
                        timestamps=seq.timestamps[:0]).save(tmp_path / "zero.npz")
    line = _one_line_error(cli("detect-keypoints", tmp_path / "zero.npz", "-o",
                               tmp_path / "z.jsonl"))
    assert "no frames" in line and not (tmp_path / "z.jsonl").exists()


def test_eaf_output_leaves_no_side_file(files, tmp_path, cli):
    res = cli("events", "convert", files / "talk.events.jsonl", tmp_path / "e.eaf")
    assert res.returncode == 0, res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["e.eaf"]
    res = cli("events", "convert", files / "talk.events.jsonl", tmp_path / "e.eaf")
    assert [p.name for p in tmp_path.iterdir()] == ["e.eaf"]


@pytest.mark.parametrize("err,cause", [(errno.ENOSPC, "no space left on device"),
                                       (errno.EROFS, "read-only file system"),
                                       (errno.EISDIR, "is a folder, not a file")])
def test_os_errors_are_one_line_naming_the_path(monkeypatch, capsys, err, cause):
    """An OSError during the work (e.g. ENOSPC from PyAV while encoding) → one line."""
    from nfbl import cli as nfbl_cli
    from nfbl.cli import events_cmd

    def boom(args):
        raise OSError(err, os.strerror(err), "/data/out.mp4")

    monkeypatch.setattr(events_cmd, "_classes", boom)
    assert nfbl_cli.main(["classes"]) == 2
    errline = capsys.readouterr().err.strip()
    assert errline == f"nfbl: error: /data/out.mp4: {cause}"


def test_os_error_on_a_temporary_file_names_the_output(monkeypatch, capsys):
    """PyAV reports ENOSPC on the temporary file it writes; the user sees the output's name."""
    from nfbl import cli as nfbl_cli
    from nfbl.cli import events_cmd
    from nfbl.core.atomic import temp_name

    tmp = "/data/" + temp_name(Path("/data/out.mp4"), ".mp4")

    def boom(args):
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    monkeypatch.setattr(events_cmd, "_classes", boom)
    assert nfbl_cli.main(["classes"]) == 2
    assert capsys.readouterr().err.strip() == "nfbl: error: /data/out.mp4: no space left on device"


# --- interrupted runs ----------------------------------------------------------------------

def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".nfbl-tmp-" in p.name)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_synth_removes_temp_files_and_is_not_success(tmp_path, sig, code):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "corpus.json").write_text('{"good": true}')   # an earlier good output
    proc = subprocess.Popen([*PY, "synth", str(out), "--videos", "400", "--minutes", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*.npz")):
        time.sleep(0.05)
    assert list(out.glob("*.npz")), "synth wrote nothing in 120 s"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and ("terminated" in err or "interrupted" in err)
    assert _temps(out) == []
    assert json.loads((out / "corpus.json").read_text()) == {"good": True}


def test_stale_temp_files_of_killed_runs_are_removed_by_the_next_run(files, tmp_path, cli):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.csv.nfbl-tmp-{dead.pid}-deadbeef.csv"
    stale.write_text("half")
    (tmp_path / "out.csv").write_text("good")
    res = cli("events", "convert", files / "talk.events.jsonl", tmp_path / "other.csv")
    assert res.returncode == 0, res.stderr
    assert not stale.exists() and (tmp_path / "out.csv").read_text() == "good"


def test_failed_run_keeps_the_previous_output(files, tmp_path, cli):
    (tmp_path / "bad.jsonl").write_text('{"start": 1}\n')
    (tmp_path / "out.csv").write_text("good")
    res = cli("events", "convert", tmp_path / "bad.jsonl", tmp_path / "out.csv")
    _one_line_error(res)
    assert (tmp_path / "out.csv").read_text() == "good" and _temps(tmp_path) == []


def test_sigterm_during_deid_removes_the_partial_video(media_dir, tmp_path):
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([*PY, "deid", str(media_dir / "vtest.avi"), "-o", str(out),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not _temps(tmp_path) and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"deid ended before it was signalled: {proc.communicate()[1]}")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert _temps(tmp_path) == [] and not out.exists()
    assert "W0000" not in err and "XNNPACK" not in err   # native log lines hidden


def test_file_backend_with_far_more_frames_than_the_video(media_dir, tmp_path, cli):
    from nfbl.pose.video import probe
    n = probe(media_dir / "vtest.avi").num_frames
    t = 3 * n
    kp = np.zeros((1, t, 56, 3), np.float32)
    PoseSequence(kp, "nfbl56", 10.0, np.arange(t) / 10.0, (768, 576), None, "v").save(
        tmp_path / "k.npz")
    line = _one_line_error(cli("detect", media_dir / "vtest.avi", "-o", tmp_path / "e.jsonl",
                               "--backend", "file", "--keypoints", tmp_path / "k.npz"))
    assert f"{t} keypoint frames" in line and f"{n} frames" in line


def test_render_cells_refuses_zero_columns(tmp_path):
    from nfbl.core.errors import NfblError
    from nfbl.viz.render import render_cells
    with pytest.raises(NfblError, match="at least 1 column"):
        render_cells([], tmp_path / "x.png", cols=0)
    assert list(tmp_path.iterdir()) == []


def test_library_video_entry_points_refuse_the_input_as_output(files):
    """The pipeline's own entry points check too (API users, not only the CLI)."""
    from nfbl.core.errors import NfblError
    from nfbl.pose.pipeline import DetectConfig, PoseConfig, run_deid, run_detect, run_pose
    video = files / "fake.mp4"
    with pytest.raises(NfblError, match="the output is the input"):
        run_deid(video, video, PoseConfig())
    with pytest.raises(NfblError, match="the output is the input"):
        run_pose(video, PoseConfig(), deid_video=video)
    with pytest.raises(NfblError, match="the output is the input"):
        run_detect(video, DetectConfig(), overlay=video)


def test_native_log_lines_shown_with_vv_only(media_dir, tmp_path, cli):
    pytest.importorskip("mediapipe")
    args = ["deid", media_dir / "vtest.avi", "-o", tmp_path / "o.mp4", "--max-seconds", "0.3",
            "--no-progress"]
    quiet = cli(*args)
    assert quiet.returncode == 0, quiet.stderr
    assert "W0000" not in quiet.stderr and "XNNPACK" not in quiet.stderr
    loud = cli("-vv", *args)
    assert loud.returncode == 0, loud.stderr
    assert "XNNPACK" in loud.stderr or "W0000" in loud.stderr


def test_pyav_enospc_while_encoding_is_one_line():
    """A real ENOSPC from PyAV's muxer (writing to /dev/full) becomes one line."""
    av = pytest.importorskip("av")
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    from nfbl.cli import os_error_line
    c = av.open("/dev/full", mode="w", format="mp4")
    s = c.add_stream("libx264", rate=25)
    s.width = s.height = 64
    s.pix_fmt = "yuv420p"
    with pytest.raises(OSError) as exc:
        for _ in range(50):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
        c.close()
    assert os_error_line(exc.value) == "/dev/full: no space left on device"


def test_stand_alone_tools_turn_user_and_os_errors_into_one_line(capsys):
    from nfbl.cli import run_tool
    from nfbl.core.errors import NfblError

    def bad_input() -> int:
        raise NfblError("no such file: x.mp4")

    def read_only() -> int:
        raise PermissionError(13, "Permission denied", "/ro/out.json")

    assert run_tool(bad_input, "nfbl videobench") == 2
    assert capsys.readouterr().err == "nfbl videobench: error: no such file: x.mp4\n"
    assert run_tool(read_only, "nfbl facesbench") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nfbl facesbench: error: /ro/out.json")
    assert run_tool(lambda: 0, "t") == 0
