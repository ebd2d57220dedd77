"""Checks of params.yaml values: each failure is a one-line `ConfigError` naming the key
(`budget.se_samples: must be a positive integer, got -1`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from computematch.errors import ConfigError


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"{key}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(key: str, value: Any, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not _is_int(value) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        _fail(key, f"must be {kind} integer, got {value!r}")


def _number(key: str, value: Any, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):  # YAML's .nan / .inf: NaN compares false with every bound below
        _fail(key, f"must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        _fail(key, f"must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        _fail(key, f"must be <= {high}, got {value!r}")


def _string(key: str, value: Any, choices: tuple[str, ...] | None = None) -> None:
    if not isinstance(value, str) or not value:
        _fail(key, f"must be a non-empty string, got {value!r}")
    if choices is not None and value not in choices:
        _fail(key, f"must be one of {', '.join(choices)}; got {value!r}")


def _build(cls, data: Any, section: str):
    """Instantiate dataclass `cls` from mapping `data`, rejecting unknown and missing keys."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(section, f"must be a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            _fail(f"{section}.{key}", f"unknown key (known: {', '.join(sorted(names))})")
    missing = [
        f.name for f in dataclasses.fields(cls)
        if f.init and f.name not in data
        and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        _fail(f"{section}.{missing[0]}", "missing")
    return cls(**data)
