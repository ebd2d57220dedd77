"""Finished members kept outside DVC's outputs, keyed by what decided them, so that a stage holding every world
restores the members it already computed instead of recomputing them: base models (bootstrap), finetuned models
(finetune@MODEL, control@...), a model's test scores (evaluate-base, evaluate@MODEL, evaluate-control@...).

    key = store_key({"base": ..., "data": ..., "seed": 3}, threads=1, libraries=TRAINING_LIBRARIES)
    entry = MEMBER_STORE / "finetune" / "se-wc" / f"world-3-seed-0-{key}"
    kept = restore(entry, work / "best")        # the stored result, or None (then train, and keep(...))
    keep(entry, {"seconds": 41.5}, source=work / "best")

DVC deletes a stage's outputs before it runs the stage, so the store lives in data/resume/ (gitignored, like the
resumable sample stores). A key covers the stage's own inputs plus what every member shares: the package's
source, the library versions, the CPU and the thread count (each can change float sums, so the bits).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from computematch import paths
from computematch.io import read_json, write_json
from computematch.measure.codec import write_record
from computematch.provenance import environment, source_digest

MEMBER_STORE = paths.RESUME
RESULT_FILE = "result.json"  # written last: an entry without it is unfinished and ignored
RECORD_FILE = "record.json"  # a member's record (measure.records), when it has one


def file_digest(path: Path) -> str:
    from computematch.models import file_content_digest

    return file_content_digest(path)


def store_key(inputs: dict, threads: int, libraries: tuple[str, ...]) -> str:
    """A short hash of `inputs`, this code and the environment that would compute the member."""
    full = {**inputs, "threads": threads, "source": source_digest(),
            "environment": environment(threads, libraries=libraries)}
    return hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:16]


def restore(entry: Path, target: Path | None = None) -> dict | None:
    """A stored member's result (with `restored_from`), its folder copied whole to `target`; None if not stored."""
    if not (entry / RESULT_FILE).exists():
        return None
    if target is not None:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(entry / "model", target)
    return {**read_json(entry / RESULT_FILE), "restored_from": str(entry)}


def keep(entry: Path, result: dict, source: Path | None = None, record=None) -> None:
    """Store a finished member: its folder (`source`), its record (measure.records, as RECORD_FILE) and its result;
    the result file last, so an entry is whole or ignored."""
    staging = entry.with_name(f"{entry.name}.staging-{os.getpid()}")  # renamed whole: a store two runs share
    shutil.rmtree(staging, ignore_errors=True)
    if source is not None:
        shutil.copytree(source, staging / "model")
    if record is not None:
        write_record(staging / RECORD_FILE, record)
    write_json(staging / RESULT_FILE, result)
    if (entry / RESULT_FILE).exists():  # another run stored the same member meanwhile: same key, same content
        shutil.rmtree(staging)
        return
    shutil.rmtree(entry, ignore_errors=True)  # an unfinished entry of a killed run
    os.replace(staging, entry)
