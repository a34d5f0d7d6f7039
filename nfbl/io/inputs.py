"""Opening user inputs safely: one place for the checks every reader needs.

- :func:`check_input` refuses anything that is not a regular file or a folder (a FIFO, a
  socket, a device would block or read forever) and names the path;
- :func:`open_text` opens a text file as UTF-8 and drops a leading byte-order mark (files
  saved by Excel or Windows tools start with one);
- :func:`load_json` parses JSON (BOM accepted) and turns a nesting too deep for the parser
  into one clear error instead of a ``RecursionError``;
- :func:`safe_name` makes a name that came from *inside* an input (a pyskl clip name, a
  video id, an ELAN tier name) safe to use as a file name: no separators, no ``..``, never
  absolute.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import IO, Any

from nfbl.core.errors import InputFormatError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def check_input(path: str | Path, want: str = "any") -> Path:
    """Return ``path`` if it is a regular file (``want="file"``), a folder (``"dir"``) or either
    (``"any"``); raise :class:`InputFormatError` otherwise. Never opens the path, so a FIFO
    cannot block."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFormatError("no such file or folder", path) from None
    except OSError as exc:
        raise InputFormatError(f"cannot access ({exc.strerror or exc})", path) from None
    if stat.S_ISDIR(st.st_mode):
        if want == "file":
            raise InputFormatError("is a folder, expected a file", path)
        return path
    if stat.S_ISREG(st.st_mode):
        if want == "dir":
            raise InputFormatError("is a file, expected a folder", path)
        return path
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
            "a socket" if stat.S_ISSOCK(st.st_mode) else "a device" if
            (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "not a regular file")
    raise InputFormatError(f"is {kind}; nfbl reads regular files and folders only", path)


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file (following links); False for folders, FIFOs, missing paths."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def open_text(path: str | Path, newline: str | None = None) -> IO[str]:
    """Open a regular text file for reading as UTF-8, a leading BOM dropped."""
    path = check_input(path, "file")
    return open(path, encoding="utf-8-sig", newline=newline)


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file (refuses FIFOs and folders, see :func:`check_input`)."""
    path = check_input(path, "file")
    with open(path, "rb") as fh:
        return fh.read()


def parse_json(data: bytes | str, path: str | Path) -> Any:
    """Parse JSON text (a UTF-8 BOM accepted); errors name ``path`` and the line."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputFormatError("not a text (JSON) file", path) from None
    elif data.startswith("\ufeff"):
        data = data[1:]
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"invalid or truncated JSON ({exc.msg}, column {exc.colno})",
                               path, exc.lineno) from None
    except RecursionError:
        raise InputFormatError("JSON nested too deeply to be a keypoint or event file", path) \
            from None


def load_json(path: str | Path) -> Any:
    """Read and parse a JSON file (see :func:`parse_json`, :func:`check_input`)."""
    return parse_json(read_bytes(path), path)


def safe_name(name: object, fallback: str = "item") -> str:
    """A file-name-safe form of a name read from inside an input.

    Path separators and every character outside ``[A-Za-z0-9._+-]`` become ``_``; leading
    dots are stripped (no ``..``, no hidden files); an empty result becomes ``fallback``.
    ``"../../escaped_clip"`` → ``"escaped_clip"``.
    """
    text = _UNSAFE.sub("_", str(name).replace("\\", "/").replace("/", "_"))
    text = re.sub(r"_+", "_", re.sub(r"\.{2,}", "_", text)).strip("._")
    return text[:200] or fallback
