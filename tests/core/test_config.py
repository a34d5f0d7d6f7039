"""nfbl.core.config: the one strict config helper (dicts, TOML, extends)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nfbl.core import config as C
from nfbl.core.errors import NfblError


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    limit: int | None = None
    pair: tuple[float, float] = (0.5, 2.0)
    where: Path | None = None
    inner: Inner = field(default_factory=Inner)


def test_round_trip_and_types():
    o = Outer(name="a", limit=3, pair=(1.0, 2.0), where=Path("/tmp/x"), inner=Inner(2.5, (3,)))
    d = C.to_dict(o)
    assert d == {"name": "a", "limit": 3, "pair": [1.0, 2.0], "where": "/tmp/x",
                 "inner": {"rate": 2.5, "sizes": [3]}}
    assert C.from_dict(Outer, d) == o
    assert C.from_dict(Outer, {"inner": {"rate": 2}}).inner.rate == 2.0  # int → float


@pytest.mark.parametrize("data,match", [
    ({"nmae": "a"}, "unknown key 'nmae'"),
    ({"limit": "3"}, "limit must be an integer"),
    ({"limit": True}, "limit must be an integer"),
    ({"pair": [1.0]}, "pair must be a list of 2 values"),
    ({"inner": {"sizes": "12"}}, "inner.sizes must be a list"),
    ({"inner": {"bogus": 1}}, r"inner: unknown key 'bogus'"),
    ("text", "must be a table"),
])
def test_strict(data, match):
    with pytest.raises(NfblError, match=match):
        C.from_dict(Outer, data, "cfg.toml")


def test_extends_merges_tables_and_the_child_wins(tmp_path):
    (tmp_path / "base.toml").write_text('[a]\nx = 1\ny = 2\n[b]\nz = "base"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.toml").write_text('extends = "../base.toml"\n[a]\ny = 3\n')
    (tmp_path / "grand.toml").write_text('extends = "sub/child.toml"\n[b]\nz = "grand"\n')
    assert C.load_toml(tmp_path / "grand.toml") == {"a": {"x": 1, "y": 3}, "b": {"z": "grand"}}


def test_extends_errors(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(NfblError, match="cycle"):
        C.load_toml(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "missing.toml"\n')
    with pytest.raises(NfblError, match="missing.toml: no such config file"):
        C.load_toml(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text('extends = 3\n')
    with pytest.raises(NfblError, match="must name a TOML file"):
        C.load_toml(tmp_path / "d.toml")
