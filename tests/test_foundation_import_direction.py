"""DESIGN.md's dependency direction, checked on the source (every import, lazy ones too).

foundation (taxonomy, skeletons, events, sequence, io, bench, prompts, synth, cleaning, ...)
never imports nfbl.pose / nfbl.detectors / nfbl.exports or torch; nfbl.pose never imports
nfbl.detectors / nfbl.exports; nfbl.detectors never imports nfbl.pose / nfbl.exports;
nfbl.exports.runtime never imports torch or nfbl.detectors. Only the composing modules
(cli, pipeline, batch, speedbench) combine the siblings.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "nfbl"
COMPOSERS = {"cli", "pipeline", "batch", "speedbench", "__main__"}
SIBLINGS = ("nfbl.pose", "nfbl.detectors", "nfbl.exports")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        yield ".".join(("nfbl",) + rel.parts), rel.parts[0], path


def _hits(names: set[str], banned) -> list[str]:
    return sorted(n for n in names for b in banned if n == b or n.startswith(b + "."))


@pytest.mark.parametrize("module,top,path", list(_modules()), ids=lambda v: str(v))
def test_dependency_direction(module, top, path):
    names = _imports(path)
    if top in COMPOSERS:
        return
    if top == "pose":
        banned = ("nfbl.detectors", "nfbl.exports", "torch")
    elif top == "detectors":
        banned = ("nfbl.pose", "nfbl.exports")
    elif top == "exports":
        banned = ("nfbl.pose",) + (("torch", "nfbl.detectors") if module != "nfbl.exports.onnx" else ())
    else:  # foundation
        banned = SIBLINGS + ("torch",)
    assert not _hits(names, banned), f"{module} imports {_hits(names, banned)}"
