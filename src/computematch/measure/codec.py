"""Typed records to JSON files and back: one pair of functions, `write_record` and `read_record`.

    write_record(path, DataRecord(...))           # {"schema": "data/1", "coverage": ..., ...}
    record = read_record(path, DataRecord)         # a DataRecord again, or a one-line error naming file and key

A record is a dataclass with a KIND and a VERSION (the file's `schema` is "KIND/VERSION"). Fields nest records,
`dict[str, X]`, `list[X]`, `X | None`, numbers, strings and booleans. Two field options keep the files' keys as
readers know them: `key("pass@1")` stores a field under a key that is no Python name, and `flat("maj@")` stores a
`dict[str, float]` field as top-level keys `maj@4`, `maj@8`, ... A field whose default is None and that is marked
`omit` is left out of the file while None (keys that only some records have).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from computematch.errors import BadInputError
from computematch.io import read_json, write_json

SCHEMA = "schema"
R = TypeVar("R")


class RecordError(BadInputError):
    """A metrics file that is not the record it should be: unreadable, old, foreign or malformed."""


def key(name: str, **options) -> Any:
    """A field stored under JSON key `name` (e.g. 'pass@1')."""
    return dataclasses.field(metadata={"key": name}, **options)


def flat(prefix: str) -> Any:
    """A dict[str, number] field stored as top-level keys PREFIX + its keys ('maj@4')."""
    return dataclasses.field(default_factory=dict, metadata={"flat": prefix})


def omit(**options) -> Any:
    """A field left out of the file while it is None."""
    return dataclasses.field(default=None, metadata={"omit": True}, **options)


def schema_of(cls) -> str:
    return f"{cls.KIND}/{cls.VERSION}"


def to_json(value: Any) -> Any:
    """A record (or a value inside one) as plain JSON data, fields in their declared order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if "flat" in field.metadata:
                out.update({f"{field.metadata['flat']}{k}": v for k, v in item.items()})
            elif not (field.metadata.get("omit") and item is None):
                out[field.metadata.get("key", field.name)] = to_json(item)
        return out
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _describe(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind).replace("typing.", ""))


def from_json(kind: Any, data: Any, where: str) -> Any:
    """`data` read as type `kind`; `where` names the file and key path for the error message."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any or kind is object:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return from_json(option, data, where)
            except RecordError as error:
                errors.append(error)
        raise errors[0]
    if data is None:
        raise RecordError(f"{where}: must be {_describe(kind)}, got null")
    if dataclasses.is_dataclass(kind):
        return _record_from_json(kind, data, where)
    if origin is dict or kind is dict:
        if not isinstance(data, dict):
            raise RecordError(f"{where}: must be a mapping, got {type(data).__name__}")
        value_kind = args[1] if args else Any
        return {k: from_json(value_kind, v, f"{where}.{k}") for k, v in data.items()}
    if origin in (list, tuple) or kind in (list, tuple):
        if not isinstance(data, list):
            raise RecordError(f"{where}: must be a list, got {type(data).__name__}")
        item_kind = args[0] if args else Any
        items = [from_json(item_kind, v, f"{where}[{i}]") for i, v in enumerate(data)]
        return tuple(items) if origin is tuple or kind is tuple else items
    if kind is bool:
        if not isinstance(data, bool):
            raise RecordError(f"{where}: must be true or false, got {data!r:.40}")
        return data
    if kind in (int, float):  # a mean over worlds of an integer count is a float: both read as numbers
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise RecordError(f"{where}: must be a number, got {data!r:.40}")
        return data
    if kind is str:
        if not isinstance(data, str):
            raise RecordError(f"{where}: must be a string, got {data!r:.40}")
        return data
    raise TypeError(f"{where}: no JSON reading for type {kind!r}")  # a programming error, not bad input


def _record_from_json(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise RecordError(f"{where}: must be a mapping, got {type(data).__name__}")
    hints, values = _hints(cls), {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if "flat" in field.metadata:
            prefix = field.metadata["flat"]
            values[field.name] = {k[len(prefix):]: from_json(float, v, f"{where}.{k}")
                                  for k, v in data.items() if k.startswith(prefix)}
            continue
        name = field.metadata.get("key", field.name)
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}: key {name!r} missing")
            continue
        values[field.name] = from_json(hints[field.name], data[name], f"{where}.{name}")
    return cls(**values)


def write_record(path: Path, record) -> None:
    """The record as JSON at `path` (atomically), its schema first."""
    write_json(path, {SCHEMA: schema_of(type(record)), **to_json(record)})


def read_record(path: Path, cls: type[R]) -> R:
    """The record of type `cls` at `path`; an unreadable, old, foreign or malformed file is a one-line
    RecordError naming the file (and the key)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a computematch record (a JSON {type(data).__name__})")
    found, wanted = data.get(SCHEMA), schema_of(cls)
    if found is None:
        raise RecordError(f"{path}: key {SCHEMA!r} missing: not a computematch record, or written by an older "
                          f"version (rerun the stage that writes it: `dvc repro`)")
    kind, _, version = str(found).partition("/")
    if kind != cls.KIND:
        raise RecordError(f"{path}: a {kind!r} record, expected {cls.KIND!r} ({wanted})")
    if version != str(cls.VERSION):
        newer = version.isdigit() and int(version) > cls.VERSION
        raise RecordError(f"{path}: schema {found} is {'newer' if newer else 'older'} than this computematch reads "
                          f"({wanted}); " + ("upgrade computematch" if newer else "rerun `dvc repro`"))
    return _record_from_json(cls, {k: v for k, v in data.items() if k != SCHEMA}, str(path))
