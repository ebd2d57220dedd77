"""Stage `prepare`: the task's train/val/test splits (and pretraining corpus) as JSONL, decontaminated.

    computematch prepare      # writes data/prepare/{train,val,test,corpus}.jsonl and metrics/prepare.json

Train, val and corpus problems that share a word n-gram with a test problem (task.decontamination_ngram)
are dropped before anything is sampled or trained on, and counted (decontamination.py).
"""

from __future__ import annotations

from collections import Counter

from computematch import paths
from computematch.errors import ConfigError
from computematch.config import Params
from computematch.decontamination import decontaminate
from computematch.measure.records import PrepareRecord, write_record
from computematch.provenance import environment
from computematch.splits import REQUIRED_SPLITS, write_split
from computematch.tasks import Problem, Task, get_task
from computematch.tracking import stage_run


def prepare_splits(task: Task, ngram: int) -> tuple[dict[str, list[Problem]], dict]:
    """The task's splits with contaminated problems dropped, and what prepare reports about them."""
    splits, decontamination = decontaminate(task.make_splits(), ngram)
    for split in REQUIRED_SPLITS:
        if not splits[split]:
            raise ConfigError(f"task.{split}_size: the {split} split is empty after loading and decontamination "
                              f"({decontamination['dropped'].get(split, 0)} dropped as contaminated)")
    skipped = getattr(task, "skipped", {})  # benchmark rows that could not become problems (never graded)
    summary = {
        "problems": {split: len(problems) for split, problems in splits.items()},
        "by_difficulty": {split: dict(sorted(Counter(p.difficulty for p in problems).items()))
                          for split, problems in splits.items()},
        "skipped_source_rows": {split: dict(reasons) for split, reasons in skipped.items()},
        "decontamination": decontamination,
    }
    return splits, summary


def main(params: Params) -> None:
    with stage_run(params, "prepare") as tracker:
        splits, summary = prepare_splits(get_task(params.task), params.task.decontamination_ngram)
        for split, problems in splits.items():
            write_split(split, problems)
        write_record(paths.PREPARE_METRICS, PrepareRecord(**summary, environment=environment(libraries=("datasets",))))
        tracker.log_sections(task=params.task)
        tracker.log_metrics({f"{split}_problems": n for split, n in summary["problems"].items()})
        tracker.log_metrics({f"decontaminated_{split}": n for split, n in summary["decontamination"]["dropped"].items()})
        for split, levels in summary["by_difficulty"].items():
            print(f"{split}: {summary['problems'][split]} problems, by difficulty {levels}")
        for split, reasons in summary["skipped_source_rows"].items():
            if reasons:
                print(f"skipped in the source {split} split: {reasons}")
                tracker.log_metrics({f"skipped_{split}": sum(reasons.values())})
        dropped = summary["decontamination"]["dropped"]
        print(f"decontamination ({params.task.decontamination_ngram}-grams against test): dropped {dropped}")
