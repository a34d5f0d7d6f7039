"""The ``nfbl`` command: a thin adapter over the library.

Each area has a module with ``register(subparsers)``; handlers import the library lazily so
that ``nfbl --version`` and the foundation commands never import torch or mediapipe. User
errors (:class:`nfbl.NfblError`) become one line on stderr and exit status 2; so do operating
system errors (a full disk, a read-only file system, a folder given as a file), which name
the path and the cause. SIGTERM / SIGINT remove the temporary files of unfinished outputs
(:func:`nfbl.core.atomic.install_signal_cleanup`) and exit 143 / 130.
"""
from __future__ import annotations

import argparse
import errno
import logging
import sys
from typing import Callable, Sequence

from nfbl import __version__
from nfbl.cli import (batch_cmd, bench_cmd, demo_cmd, detect_cmd, emotion_cmd, events_cmd,
                      keypoints_cmd, synth_cmd, video_cmd)
from nfbl.core.atomic import (Terminated, install_signal_cleanup, restore_signal_handlers,
                               target_of)
from nfbl.core.errors import NfblError

log = logging.getLogger("nfbl")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (``nfbl CMD: error: ...``) and exit 2,
    like every other user error; ``--help`` still prints the full usage. Sub-parsers inherit
    the class."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="nfbl",
        description="Detect Non-Facial Body Language (NFBL) events in de-identified videos.")
    parser.add_argument("--version", action="version", version=f"nfbl {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (events_cmd, keypoints_cmd, synth_cmd, bench_cmd, detect_cmd, video_cmd,
                   emotion_cmd, batch_cmd, demo_cmd):
        module.register(sub)
    return parser


#: one-line causes of the operating-system errors a user can cause
_OS_CAUSES = {errno.ENOENT: "no such file or folder", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied", errno.ENOSPC: "no space left on device",
              errno.EROFS: "read-only file system", errno.EISDIR: "is a folder, not a file",
              errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "file too large",
              errno.ENAMETOOLONG: "file name too long", errno.EIO: "input/output error"}


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error: the path (when known) and the cause."""
    cause = _OS_CAUSES.get(exc.errno or -1) or (exc.strerror or str(exc) or type(exc).__name__)
    where = exc.filename if exc.filename is not None else None
    if where is not None:   # name the output, not its temporary file
        where = str(target_of(where) or where)
    return f"{where}: {cause}" if where else f"{cause} ({str(exc).splitlines()[0][:200]})"


def run_tool(tool_main: Callable[[], int], prog: str) -> int:
    """Run a stand-alone tool of this package (``python -m nfbl.cli.videobench``, ...): user
    errors and operating-system errors become one line on stderr and exit status 2."""
    try:
        return int(tool_main() or 0)
    except NfblError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("nfbl: error: give a command (nfbl --help lists them)", file=sys.stderr)
        return 2
    handlers = install_signal_cleanup()
    try:
        return int(args.func(args) or 0)
    except NfblError as exc:
        print(f"nfbl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nfbl: interrupted; unfinished outputs removed", file=sys.stderr)
        return 130
    except Terminated as exc:
        print("nfbl: terminated; unfinished outputs removed", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print(f"nfbl: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        restore_signal_handlers(handlers)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
