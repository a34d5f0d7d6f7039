"""The dependency direction, checked on the source (every import, lazy ones too).

Groups are ranked; a module may import its own group and groups of lower rank only:

    core (0) → keypoints (1) → io (2) → metrics, viz (3) → synth, prompts, exports (4)
    → detectors, pose (5) → batch (6) → perf (7) → cli (8)

Beyond the ranks: ``exports`` (the deploy contract) never imports torch; ``pose`` never
imports torch, ``nfbl.detectors`` or ``nfbl.exports`` — except ``nfbl.pose.pipeline``, the
video → events composer, which runs the ONNX detector. torch is imported only in
``detectors``, ``perf`` and ``cli``. ``nfbl/__init__.py`` (the public API) may import any group, lazily.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "nfbl"
RANK = {"core": 0, "keypoints": 1, "io": 2, "metrics": 3, "viz": 3, "synth": 4, "prompts": 4,
        "exports": 4, "detectors": 5, "pose": 5, "batch": 6, "perf": 7, "cli": 8,
        "__init__": 9, "__main__": 9}
TORCH_OK = {"detectors", "perf", "cli", "__main__"}
COMPOSERS = {"nfbl.pose.pipeline"}


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


def _group(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "nfbl" or len(parts) < 2 or parts[1] == "__version__":
        return None
    return parts[1]


def test_every_group_is_ranked():
    tops = {p.name.removesuffix(".py") for p in PKG.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert tops <= set(RANK), f"unranked groups: {sorted(tops - set(RANK))}"


@pytest.mark.parametrize("module,top,path", list(_modules()), ids=lambda v: str(v))
def test_dependency_direction(module, top, path):
    names = _imports(path)
    bad = sorted({n for n in names if (g := _group(n)) in RANK and g != top
                  and RANK[g] >= RANK[top]})
    if top == "pose" and module not in COMPOSERS:
        bad += sorted(n for n in names if _group(n) in ("detectors", "exports"))
    if top not in TORCH_OK:
        bad += sorted(n for n in names if n == "torch" or n.startswith("torch."))
    assert not bad, f"{module} imports {bad}"
