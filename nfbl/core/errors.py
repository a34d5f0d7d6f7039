"""User-facing errors: one clear line (what, where, what to do); the CLI prints it and exits 2."""
from __future__ import annotations

from pathlib import Path


class NfblError(Exception):
    """An error caused by the user's input or environment, not by a bug in nfbl.

    The message is a single line naming what went wrong, where (file, line, frame) and,
    where it helps, what to do about it.
    """


class InputFormatError(NfblError, ValueError):
    """A file or value does not follow the expected format."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(f"{where}{message}")
        self.path = None if path is None else Path(path)
        self.line = line


class MissingDependencyError(NfblError, ImportError):
    """An optional dependency (an extra) is not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed; "
            f"install it with: pip install 'nfbl[{extra}]'"
        )
