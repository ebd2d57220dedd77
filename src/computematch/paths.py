"""Where each stage reads and writes, relative to the repository root (dvc.yaml says the same).

What comes first, then the world: models/base/wc/world-0, data/filter/wc/world-0.jsonl, so that a finetuning
cell depends on one folder per input (models/base/se, data/filter/wc) whatever the worlds, and a world's stages
write only inside their own world's files.
"""

from pathlib import Path

from computematch.names import member_name, world_name

DATA = Path("data")
MODELS = Path("models")
METRICS = Path("metrics")
EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")  # where `dvc exp run --queue` / `--temp` copy the repository


def repository(start: Path | None = None) -> Path | None:
    """The repository that queued this run when it runs in a DVC experiment's temporary copy
    (<repo>/.dvc/tmp/exps/<id>/), else None. Its stores and local MLflow database are the ones to use: the copy
    is deleted when the experiment ends."""
    parts = (start or Path.cwd()).resolve().parts
    for at in range(len(parts) - len(EXPERIMENT_WORKSPACES)):
        if parts[at:at + len(EXPERIMENT_WORKSPACES)] == EXPERIMENT_WORKSPACES:
            return Path(*parts[:at])
    return None


# Resumable sample stores and the member store (not DVC outputs, gitignored): the repository's own, also for a
# queued experiment, so that it reuses every finished sample and member and leaves its own behind.
RESUME = (repository() or Path()) / DATA / "resume"
PREPARE_METRICS = METRICS / "prepare.json"  # split sizes, skipped source rows, decontamination counts


def split_file(split: str) -> Path:
    return DATA / "prepare" / f"{split}.jsonl"


def base_model_dir(role: str, world: int) -> Path:
    return MODELS / "base" / role / world_name(world)


def samples_file(arm: str, world: int) -> Path:
    return DATA / "sample" / arm / f"{world_name(world)}.jsonl"


def sft_file(source: str, world: int) -> Path:
    return DATA / "filter" / source / f"{world_name(world)}.jsonl"


def metrics_file(stage: str, name: str, world: int, seed: int | None = None) -> Path:
    """metrics/STAGE/NAME/world-W.json, or metrics/STAGE/CELL/world-W/seed-S.json for one member of a cell."""
    return METRICS / stage / (f"{member_name(name, world, seed)}.json" if seed is not None
                              else f"{name}/{world_name(world)}.json")


def finetuned_model_dir(cell: str, world: int, seed: int) -> Path:
    return MODELS / "ft" / member_name(cell, world, seed)


def model_dir(name: str, world: int, seed: int | None = None) -> Path:
    """A base model ('wc', seed None) or one member of a finetuning cell ('se-wc': SE trained on WC data)."""
    return base_model_dir(name, world) if seed is None else finetuned_model_dir(name, world, seed)
