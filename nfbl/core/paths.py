"""Output-path checks done before any long work starts.

Every command that writes calls :func:`check_outputs` with its inputs and its outputs first:

- an output that *is* an input (same path, a symlink or a hard link: :func:`os.path.samefile`)
  is refused, so that no command ever overwrites the file it reads;
- an output folder that is an input folder is refused with a message that says so;
- the output's folder must be creatable and writable: a path under a regular file, a
  read-only file system, a folder without write permission or a full disk are reported in
  one line that names the path and the cause (a probe file is created and removed);
- a file output must not be an existing folder, and a folder output not an existing file.

numpy-free, stdlib only (foundation).
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterable

from nfbl.core.errors import NfblError

def _paths(items: Iterable | None) -> list[Path]:
    out = []
    for p in items or ():
        if p is None or p == "":
            continue
        out.append(Path(p))
    return out


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` exist and are the same file (symlinks, hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _existing_ancestor(path: Path) -> Path:
    cur = Path(os.path.abspath(path))
    for parent in (cur, *cur.parents):
        if os.path.lexists(parent):
            return parent
    return Path("/")  # pragma: no cover - the root always exists


def check_writable(path: str | os.PathLike, what: str = "output", folder: bool = False) -> None:
    """Raise :class:`NfblError` when ``path`` cannot be written (one line, path + cause).

    folder: ``path`` is an output folder (else an output file). Nothing is left behind.
    """
    p = Path(path)
    if os.path.lexists(p):
        if folder and not p.is_dir():
            raise NfblError(f"{p}: the {what} folder given is a file, not a folder; choose a "
                           "folder")
        if not folder and p.is_dir():
            raise NfblError(f"{p}: the {what} is an existing folder; give a file name")
    base = _existing_ancestor(p if folder else p.parent)
    if not base.is_dir():
        raise NfblError(f"{p}: cannot write the {what}: {base} is a file, not a folder")
    probe = base / f".nfbl-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise NfblError(f"{p}: cannot write the {what} in {base}: {_cause(exc)}") from None
    try:
        os.close(fd)
    finally:
        try:
            os.unlink(probe)
        except OSError:
            pass
    try:
        st = os.statvfs(base)
    except (OSError, AttributeError):
        return
    if st.f_bavail == 0 and st.f_frsize:
        raise NfblError(f"{p}: cannot write the {what} in {base}: no space left on device")


def _cause(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return exc.strerror or str(exc)


def check_outputs(outputs: Iterable | None = None, inputs: Iterable | None = None, *,
                  out_dirs: Iterable | None = None, input_dirs: Iterable | None = None,
                  check_space: bool = True) -> None:
    """Check every output before any work; raise :class:`NfblError` with one line.

    outputs: output files; out_dirs: output folders; inputs: input files or folders (an
    output may not be one of them); input_dirs: folders read as a batch (an output folder may
    not be one of them).
    """
    outs, dirs = _paths(outputs), _paths(out_dirs)
    ins, in_dirs = _paths(inputs), _paths(input_dirs)
    seen: list[Path] = []
    for o in outs:
        for i in ins:
            if same_file(o, i) or os.path.abspath(o) == os.path.abspath(i):
                raise NfblError(f"{o}: the output is the input {i}; refusing to overwrite "
                                "it; choose another output path")
        for s in seen:
            if same_file(o, s) or os.path.abspath(o) == os.path.abspath(s):
                raise NfblError(f"{o}: given as two different outputs ({s}); choose distinct "
                                "paths")
        seen.append(o)
    for d in dirs:
        if d.exists() and not d.is_dir():
            continue  # check_writable says it is a file, not a folder
        for i in ins + in_dirs:
            if same_file(d, i) or os.path.abspath(d) == os.path.abspath(i):
                raise NfblError(f"{d}: the output folder is the input folder {i}; choose a "
                                "separate output folder")
    if check_space:
        for o in outs:
            check_writable(o)
        for d in dirs:
            check_writable(d, folder=True)
