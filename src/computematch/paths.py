"""Where each stage reads and writes, relative to the repository root (dvc.yaml says the same)."""

from pathlib import Path

from computematch.config import split_seed

DATA = Path("data")
MODELS = Path("models")
METRICS = Path("metrics")

RESUME = DATA / "resume"  # resumable sample stores; not DVC outputs, gitignored
PREPARE_METRICS = METRICS / "prepare.json"  # split sizes, skipped source rows, decontamination counts


def split_file(split: str) -> Path:
    return DATA / "prepare" / f"{split}.jsonl"


def base_model_dir(role: str) -> Path:
    return MODELS / "base" / role


def samples_file(arm: str) -> Path:
    return DATA / "sample" / f"{arm}.jsonl"


def sft_file(arm: str) -> Path:
    return DATA / "filter" / f"{arm}.jsonl"


def seeded(name: str) -> Path:
    """Where a seed of a finetuning cell lives below its stage's folder: 'se-wc-0' -> se-wc/seed-0.

    One DVC stage trains (or evaluates) every seed of a cell, so its seeds share the stage's output folder;
    other names ('wc', 'wc-verified') map to themselves."""
    cell, seed = split_seed(name)
    return Path(name) if seed is None else Path(cell) / f"seed-{seed}"


def metrics_file(stage: str, name: str) -> Path:
    return METRICS / stage / f"{seeded(name)}.json"


def finetuned_model_dir(name: str) -> Path:
    return MODELS / "ft" / seeded(name)


def model_dir(name: str) -> Path:
    """A base model ('wc') or a finetuned one ('se-wc-0': SE trained on WC data, seed 0)."""
    return finetuned_model_dir(name) if "-" in name else base_model_dir(name)
