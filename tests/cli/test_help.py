"""Every ``nfbl`` command and subcommand prints its help (argparse expands ``%`` in help
strings, so one unescaped ``%`` turned ``nfbl evaluate --help`` into a traceback)."""
from __future__ import annotations

import argparse
import subprocess
import sys

from nfbl.cli import build_parser


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


def test_every_command_formats_its_help():
    seen = []
    for path, parser in _walk(build_parser()):
        text = parser.format_help()          # raises on a bad help string
        assert text.startswith("usage: nfbl"), path
        seen.append(" ".join(path))
    for name in ("evaluate", "train", "export", "detect", "bench speed", "keypoints convert"):
        assert name in seen, name


def test_help_through_the_entry_point():
    r = subprocess.run([sys.executable, "-m", "nfbl", "evaluate", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--json" in r.stdout and not r.stderr
