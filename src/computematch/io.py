"""Files: JSON and JSONL written atomically (a killed stage never leaves a half-written output for DVC)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from computematch.errors import BadInputError, MissingInputError


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            write(stream)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data) -> None:
    _atomic_write(path, lambda stream: stream.write(json.dumps(data, indent=2, default=float) + "\n"))


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    def write(stream):
        for record in records:
            stream.write(json.dumps(record) + "\n")

    _atomic_write(path, write)


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: not found (run the stage that writes it first: `dvc repro`)")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise BadInputError(f"{path}:{number}: not a JSON line") from None
    return records


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: not found (run the stage that writes it first: `dvc repro`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise BadInputError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None


def replace_dir(staging: Path, target: Path) -> None:
    """Move a finished directory into place, replacing what was there."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)


@contextlib.contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A fresh hidden sibling of `target` (`.NAME.xxxx`) to build a directory output in, removed on exit.

    Move the finished result into place with `replace_dir` inside the block. Staging directories that a killed
    run left behind for the same target (gigabytes with real checkpoints) are removed first; DVC's repository
    lock means no other run of this stage is using them.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    for stale in target.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
