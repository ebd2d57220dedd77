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

from computematch.config import Params

# Set by the stage, never by params (see finetune.sft_config).
STAGE_OWNED_SFT_FIELDS = ("output_dir",)
PEFT_KEY = "peft"  # finetune.peft: peft.LoraConfig fields (LoRA), beside the SFTConfig fields


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "computematch"
    return root / (f"fields-transformers-{_version('transformers')}-trl-{_version('trl')}"
                   f"-peft-{_version('peft')}.json")


def _read_names() -> dict[str, list[str]]:
    from transformers import LlamaConfig
    from trl import SFTConfig

    llama = sorted(set(inspect.signature(LlamaConfig.__init__).parameters) - {"self", "kwargs"})
    names = {"LlamaConfig": llama, "SFTConfig": sorted(f.name for f in dataclasses.fields(SFTConfig))}
    if _version("peft") != "absent":
        from peft import LoraConfig

        names["LoraConfig"] = sorted(f.name for f in dataclasses.fields(LoraConfig))
    return names


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


def sft_fields(finetune: dict) -> dict:
    """The `finetune` section without its `peft` subsection: what SFTConfig takes."""
    return {name: value for name, value in finetune.items() if name != PEFT_KEY}


def check_peft_fields(fields) -> None:
    """finetune.peft: a mapping of peft.LoraConfig fields (the peft package installed)."""
    if not isinstance(fields, dict):
        raise ConfigError(f"finetune.peft: must be a mapping of peft.LoraConfig fields, got {fields!r}")
    if _version("peft") == "absent":
        raise ConfigError("finetune.peft: LoRA needs the peft package (pip install 'computematch[peft]')")
    known = known_fields().get("LoraConfig")
    if known is None:  # a cache written before peft was installed
        known = set(_read_names()["LoraConfig"])
    for name in fields:
        if name not in known:
            raise ConfigError(f"finetune.peft.{name}: not a peft LoraConfig field")


def check_sft_fields(fields: dict) -> None:
    known = known_fields()["SFTConfig"]
    for name in fields:
        if name in STAGE_OWNED_SFT_FIELDS:
            raise ConfigError(f"finetune.{name}: set by the stage (models/ft/<model>-<data>), not in params")
        if name not in known:
            raise ConfigError(f"finetune.{name}: not a TRL SFTConfig field")


def check_passthrough_fields(params: Params) -> None:
    """Every pretrain spec's LlamaConfig fields, every finetune SFTConfig field and finetune.peft LoraConfig field
    exist."""
    for role, spec in params.models.items():
        if spec.pretrain is not None:
            check_llama_fields(spec.pretrain, f"models.{role}.pretrain")
    check_sft_fields(sft_fields(params.finetune))
    if PEFT_KEY in params.finetune:
        check_peft_fields(params.finetune[PEFT_KEY])
