"""Atomic file output: write to a temporary file in the target folder, then rename.

A crash (or an exception inside the ``with`` block) never leaves a half-written file and
never destroys the file that was there before.

Temporary files are named ``.<name>.nfbl-tmp-<pid>-<random><suffix>`` beside the target, so
that they are recognisable and carry their owner:

- every live temporary file is in a registry; :func:`install_signal_cleanup` (the CLI calls
  it) makes SIGTERM and SIGINT remove them and then end the process (exit 143 / 130);
- SIGKILL cannot be caught: the first :func:`atomic_path` in a folder removes the temporary
  files there whose owner pid is no longer running (:func:`remove_stale_temp_files`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import threading
from pathlib import Path
from typing import IO, Iterator

log = logging.getLogger(__name__)

#: marker inside every temporary file name
TEMP_MARK = ".nfbl-tmp-"
_TEMP_RE = re.compile(r"^\..*\.nfbl-tmp-(\d+)-[0-9a-f]+[^/]*$")

_live: set[Path] = set()
_signalled: int | None = None   # the signal the cleanup handlers last saw (see raise_if_signalled)
_lock = threading.Lock()
_cleaned_dirs: set[str] = set()


def temp_name(path: Path, suffix: str, pid: int | None = None) -> str:
    """The temporary file name for target ``path`` (see the module docstring)."""
    pid = os.getpid() if pid is None else pid
    return f".{path.name}{TEMP_MARK}{pid}-{secrets.token_hex(4)}{suffix}"


def target_of(path: str | Path) -> Path | None:
    """The output a temporary file of :func:`atomic_path` stands for (None: not one)."""
    p = Path(path)
    m = re.match(r"^\.(.+)\.nfbl-tmp-\d+-[0-9a-f]+", p.name)
    return p.with_name(m.group(1)) if m else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - other platforms
        return True
    return True


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove nfbl temporary files in ``folder`` whose owner process is gone; return them."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_RE.match(e.name)
        if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        try:
            if e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed.append(Path(e.path))
        except OSError:
            continue
    if removed:
        log.info("removed %d stale temporary file(s) of ended runs in %s", len(removed), folder)
    return removed


def _clean_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    if key in _cleaned_dirs:
        return
    _cleaned_dirs.add(key)
    remove_stale_temp_files(folder)


def live_temp_files() -> list[Path]:
    """The temporary files this process is writing now."""
    with _lock:
        return sorted(_live)


def remove_live_temp_files() -> None:
    """Remove every temporary file this process is writing (signal cleanup)."""
    with _lock:
        paths = list(_live)
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None,
                exists: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    Use this for writers that want a file name (``numpy.savez``, matplotlib, PyAV).
    ``suffix`` defaults to the target's suffix so that libraries choosing a format by
    extension still work. ``exists=False``: the temporary path is yielded without a file
    (for writers such as pympi that back up a file they find there).
    """
    raise_if_signalled()   # a swallowed SIGINT/SIGTERM ends the run before its next output
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(path.parent)
    suffix = path.suffix if suffix is None else suffix
    while True:
        tmp_path = path.parent / temp_name(path, suffix)
        try:
            fd = os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    with _lock:
        _live.add(tmp_path)
    os.close(fd)
    # the file was created 0600; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp_path, 0o666 & ~umask)
        if not exists:
            tmp_path.unlink()
        yield tmp_path
        raise_if_signalled()   # nor is a file committed that was being written when it came
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise
    finally:
        with _lock:
            _live.discard(tmp_path)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only when the block succeeds."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (after removing live temporary files)."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def install_signal_cleanup() -> dict:
    """On SIGTERM / SIGINT: remove this process's live temporary files, then raise
    :class:`Terminated` / :class:`KeyboardInterrupt` so that ``finally`` blocks run too.

    Call from the main thread (the CLI does); elsewhere it does nothing. Returns the
    previous handlers (``{signum: handler}``) for :func:`restore_signal_handlers`.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    global _signalled
    _signalled = None
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def on_term(signum, frame):  # noqa: ARG001
        global _signalled
        _signalled = signum
        remove_live_temp_files()
        raise Terminated(signum)

    def on_int(signum, frame):  # noqa: ARG001
        global _signalled
        _signalled = signum
        remove_live_temp_files()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    return previous


def raise_if_signalled() -> None:
    """Raise again the :class:`Terminated` / :class:`KeyboardInterrupt` of a signal that
    :func:`install_signal_cleanup`'s handlers saw but whose exception was swallowed: Python
    only reports ("Exception ignored in ...") an exception raised inside a finalizer
    (``__del__``, e.g. a closing zip file) and goes on. Long loops call this once per item
    so that such a signal still ends the run."""
    if _signalled == signal.SIGINT:
        raise KeyboardInterrupt
    if _signalled is not None:
        raise Terminated(_signalled)


def restore_signal_handlers(previous: dict) -> None:
    """Put back the handlers :func:`install_signal_cleanup` replaced."""
    for signum, handler in previous.items():
        if handler is not None:
            signal.signal(signum, handler)
