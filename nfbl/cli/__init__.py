"""The ``nfbl`` command: a thin adapter over the library.

Each area has a module with ``register(subparsers)``; handlers import the library lazily so
that ``nfbl --version`` and the foundation commands never import torch or mediapipe. User
errors (:class:`nfbl.NfblError`) become one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from nfbl import __version__
from nfbl.cli import (batch_cmd, bench_cmd, demo_cmd, detect_cmd, emotion_cmd, events_cmd,
                      keypoints_cmd, synth_cmd, video_cmd)
from nfbl.core.errors import NfblError

log = logging.getLogger("nfbl")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NfblError as exc:
        print(f"nfbl: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"nfbl: error: {exc.filename or exc}: no such file or folder", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(f"nfbl: error: {exc.filename or exc}: permission denied", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nfbl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
