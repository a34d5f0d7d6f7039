"""Output-path checks (nfbl.core.paths) and temporary files (nfbl.core.atomic)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nfbl.core import atomic, paths
from nfbl.core.errors import NfblError


@pytest.fixture
def src(tmp_path: Path) -> Path:
    p = tmp_path / "in.jsonl"
    p.write_text("data\n")
    return p


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotted"])
def test_output_that_is_the_input_is_refused(tmp_path, src, how):
    out = {"same": lambda: src, "dotted": lambda: tmp_path / "." / "in.jsonl",
           "symlink": lambda: (tmp_path / "s.jsonl").symlink_to(src) or tmp_path / "s.jsonl",
           "hardlink": lambda: os.link(src, tmp_path / "h.jsonl") or tmp_path / "h.jsonl"}[how]()
    with pytest.raises(NfblError, match="the output is the input"):
        paths.check_outputs([out], [src])
    assert src.read_text() == "data\n"


def test_distinct_output_passes_and_leaves_nothing(tmp_path, src):
    paths.check_outputs([tmp_path / "new" / "out.csv"], [src], out_dirs=[tmp_path / "o"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_two_outputs_on_one_file_refused(tmp_path, src):
    with pytest.raises(NfblError, match="two different outputs"):
        paths.check_outputs([tmp_path / "a.mp4", tmp_path / "a.mp4"], [src])


def test_output_folder_that_is_the_input_folder(tmp_path, src):
    with pytest.raises(NfblError, match="output folder is the input folder"):
        paths.check_outputs(out_dirs=[tmp_path], input_dirs=[tmp_path])


def test_path_under_a_regular_file(tmp_path, src):
    with pytest.raises(NfblError, match=r"is a file, not a folder"):
        paths.check_outputs([src / "sub" / "out.csv"])


def test_existing_folder_as_file_output_and_file_as_folder_output(tmp_path, src):
    with pytest.raises(NfblError, match="existing folder"):
        paths.check_outputs([tmp_path])
    with pytest.raises(NfblError, match="output folder given is a file, not a folder"):
        paths.check_outputs(out_dirs=[src])


@pytest.mark.parametrize("err,cause", [(errno.EROFS, "read-only file system"),
                                       (errno.EACCES, "permission denied"),
                                       (errno.ENOSPC, "no space left on device")])
def test_unwritable_folder_named_with_its_cause(tmp_path, monkeypatch, err, cause):
    real_open = os.open

    def fake_open(path, flags, *a, **k):
        if ".nfbl-probe-" in str(path):
            raise OSError(err, os.strerror(err), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(NfblError, match=cause) as exc:
        paths.check_outputs([tmp_path / "out.mp4"])
    assert str(tmp_path / "out.mp4") in str(exc.value)
    assert "\n" not in str(exc.value)


def test_full_disk_seen_by_statvfs(tmp_path, monkeypatch):
    class Full:
        f_bavail, f_frsize = 0, 4096
    monkeypatch.setattr(os, "statvfs", lambda p: Full())
    with pytest.raises(NfblError, match="no space left"):
        paths.check_outputs([tmp_path / "out.csv"])


# --- temporary files ---------------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temp_name_carries_the_pid_and_is_removed_on_error(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("good")
    seen = []
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            seen.append(tmp)
            assert f"{atomic.TEMP_MARK}{os.getpid()}-" in tmp.name and tmp.name.startswith(".")
            assert tmp in atomic.live_temp_files()
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not seen[0].exists() and target.read_text() == "good"
    assert seen[0] not in atomic.live_temp_files()


def test_stale_temp_files_of_dead_owners_removed_live_ones_kept(tmp_path):
    dead = tmp_path / atomic.temp_name(tmp_path / "a.npz", ".npz", pid=_dead_pid())
    live = tmp_path / atomic.temp_name(tmp_path / "b.npz", ".npz", pid=os.getppid())
    other = tmp_path / ".b.npz.abcd.npz"   # not ours: never touched
    for p in (dead, live, other):
        p.write_text("x")
    with atomic.atomic_open(tmp_path / "c.txt") as fh:
        fh.write("ok")
    assert not dead.exists() and live.exists() and other.exists()
    assert (tmp_path / "c.txt").read_text() == "ok"


def test_exists_false_yields_no_file(tmp_path):
    with atomic.atomic_path(tmp_path / "x.eaf", exists=False) as tmp:
        assert not tmp.exists()
        tmp.write_text("e")
    assert (tmp_path / "x.eaf").read_text() == "e"
    assert [p.name for p in tmp_path.iterdir()] == ["x.eaf"]


_SWALLOWED = r'''
import os, signal, sys, time
from pathlib import Path
from nfbl.core import atomic
atomic.install_signal_cleanup()
out = Path(sys.argv[1])

class Closing:                      # like a zip file closed by its finalizer
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)             # the handler's KeyboardInterrupt lands here: only reported

try:
    with atomic.atomic_open(out / "half.txt") as fh:
        fh.write("half")
        Closing()                   # the signal arrives while the file is being written
    print("committed half.txt")
except KeyboardInterrupt:
    print("half.txt not committed")
try:
    with atomic.atomic_open(out / "next.txt") as fh:
        fh.write("next")
    print("wrote next.txt")
except KeyboardInterrupt:
    print("stopped before next.txt")
'''


def test_a_signal_swallowed_by_a_finalizer_still_stops_the_run(tmp_path):
    """Python only reports an exception raised inside ``__del__``; the SIGINT handler's
    KeyboardInterrupt can land there. The atomic writer then neither commits the file being
    written nor starts another one."""
    res = subprocess.run([sys.executable, "-c", _SWALLOWED, str(tmp_path)], capture_output=True,
                         text=True, timeout=60)
    assert "Exception ignored" in res.stderr                    # the swallowed interrupt
    assert res.stdout.split("\n")[:2] == ["half.txt not committed", "stopped before next.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []     # no output, no temporary file
