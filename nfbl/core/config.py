"""The one strict config helper: frozen dataclasses ⇄ plain dicts ⇄ TOML files.

* :func:`to_dict` — a (nested) config dataclass → plain JSON/TOML-friendly values (tuples as
  lists, paths as strings).
* :func:`from_dict` — a mapping → a config dataclass, checked against the field types
  (bool, int, float, str, Path, ``X | None``, ``tuple[X, ...]``, fixed tuples, mappings,
  nested config dataclasses). An unknown key is a user error naming it, so a typo never
  silently runs with a default.
* :func:`load_toml` — a TOML file; ``extends = "base.toml"`` (relative to the file) starts
  from another file: tables merge key by key, the extending file wins.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

from nfbl.core.errors import NfblError

try:
    import tomllib
except ImportError:  # Python 3.10: the 'tomli' backport (python_version < '3.11')
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - only load_toml needs it
        tomllib = None  # type: ignore[assignment]

T = TypeVar("T")

#: key that names the file a TOML config starts from
EXTENDS_KEY = "extends"


def to_dict(obj: Any) -> Any:
    """Plain values of a config: dataclasses → dicts, tuples → lists, paths → strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, where)
            except NfblError as exc:
                errors.append(str(exc))
        raise NfblError(errors[0] if errors else f"{where}: bad value {value!r}")
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise NfblError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise NfblError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NfblError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise NfblError(f"{where} must be a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise NfblError(f"{where} must be a path, got {value!r}")
        return Path(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise NfblError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], where) for v in value)
        if len(value) != len(args):
            raise NfblError(f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args))
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise NfblError(f"{where} must be a table of keys, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    return value


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build the config dataclass ``cls`` from ``data`` (strict; see the module docstring).
    ``where`` names the source in error messages (a file, a section)."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise NfblError(f"{where} must be a table of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise NfblError(f"{where}: unknown key {key!r} (known: {', '.join(names)})")
        kwargs[key] = _convert(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise NfblError(f"{where}: {exc}") from None


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_toml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A TOML file as a dict, with ``extends`` resolved (relative to the file; chains are
    followed, cycles refused). Errors name the file."""
    if tomllib is None:  # pragma: no cover
        raise NfblError("reading TOML on Python 3.10 needs tomli: pip install tomli")
    path = Path(path)
    real = path.resolve()
    if real in _seen:
        raise NfblError(f"{path}: 'extends' forms a cycle ({' -> '.join(map(str, _seen))})")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise NfblError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise NfblError(f"{path}: is a folder, not a config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise NfblError(f"{path}: not valid TOML ({exc})") from None
    parent = raw.pop(EXTENDS_KEY, None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent:
        raise NfblError(f"{path}: '{EXTENDS_KEY}' must name a TOML file, got {parent!r}")
    base = load_toml(path.parent / parent, _seen + (real,))
    return merge(base, raw)
