"""nfbl: detect Non-Facial Body Language (NFBL) events in long, de-identified videos.

The foundation (taxonomy, skeletons, events, io, bench, prompts) needs only numpy/scipy;
``nfbl.pose``, ``nfbl.detectors`` and ``nfbl.exports`` pull heavier dependencies lazily.
"""
from __future__ import annotations

__version__ = "0.1.0"

from nfbl.core.errors import NfblError

__all__ = ["__version__", "NfblError"]
