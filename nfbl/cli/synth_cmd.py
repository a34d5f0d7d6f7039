"""`nfbl` commands of this area (filled in by its issue)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `nfbl` parser."""
