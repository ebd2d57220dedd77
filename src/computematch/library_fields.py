"""Field names of the library configs that params.yaml passes through unchanged, checked when params load.

    from computematch.library_fields import check_passthrough_fields
    check_passthrough_fields(params)   # ConfigError: "finetune.learning_rat: not a TRL SFTConfig field"

`models.ROLE.pretrain` holds transformers `LlamaConfig` fields and `finetune` holds TRL `SFTConfig` fields
(as open-r1's recipes do). A misspelled key must fail when any stage loads params, not when its own stage
runs hours later; but importing transformers and TRL costs seconds, so the names are cached per library
version in the user's cache directory (as Hugging Face caches models), and a stage that only reads metrics
stays fast.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from computematch.errors import ConfigError

# Set by the stage, never by params (see finetune.sft_config).

from computematch.config import Params
STAGE_OWNED_SFT_FIELDS = ("output_dir",)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "computematch"
    return root / f"fields-transformers-{_version('transformers')}-trl-{_version('trl')}.json"


def _read_names() -> dict[str, list[str]]:
    from transformers import LlamaConfig
    from trl import SFTConfig

    llama = sorted(set(inspect.signature(LlamaConfig.__init__).parameters) - {"self", "kwargs"})
    return {"LlamaConfig": llama, "SFTConfig": sorted(f.name for f in dataclasses.fields(SFTConfig))}


def known_fields() -> dict[str, set[str]]:
    """{'LlamaConfig': names, 'SFTConfig': names} for the installed transformers and TRL."""
    path = _cache_file()
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        names = _read_names()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(names))
        except OSError:
            pass  # a read-only home: check without the cache
    return {name: set(fields) for name, fields in names.items()}


def check_llama_fields(fields: dict, key: str) -> None:
    known = known_fields()["LlamaConfig"]
    for name in fields:
        if name not in known:
            raise ConfigError(f"{key}.{name}: not a transformers LlamaConfig field")


def check_sft_fields(fields: dict) -> None:
    known = known_fields()["SFTConfig"]
    for name in fields:
        if name in STAGE_OWNED_SFT_FIELDS:
            raise ConfigError(f"finetune.{name}: set by the stage (models/ft/<model>-<data>), not in params")
        if name not in known:
            raise ConfigError(f"finetune.{name}: not a TRL SFTConfig field")


def check_passthrough_fields(params: Params) -> None:
    """Every pretrain spec's LlamaConfig fields and every finetune SFTConfig field exist."""
    for role, spec in params.models.items():
        if spec.pretrain is not None:
            check_llama_fields(spec.pretrain, f"models.{role}.pretrain")
    check_sft_fields(params.finetune)
