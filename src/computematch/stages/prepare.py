"""Stage `prepare`: the task's train/val/test splits (and pretraining corpus) as JSONL.

    computematch prepare      # writes data/prepare/{train,val,test,corpus}.jsonl
"""

from __future__ import annotations

from collections import Counter

from computematch import paths
from computematch.config import ConfigError, Params
from computematch.io import read_jsonl, write_jsonl
from computematch.tasks import Problem, get_task


def read_split(split: str) -> list[Problem]:
    """Problems of one split; a broken row is an error naming its file and line."""
    path = paths.split_file(split)
    problems = []
    for number, record in enumerate(read_jsonl(path), start=1):
        try:
            problems.append(Problem.from_dict(record))
        except (KeyError, TypeError) as error:
            raise ConfigError(f"{path}:{number}: broken problem record ({error})") from None
    return problems


def main(params: Params) -> None:
    from computematch.tracking import stage_run

    with stage_run(params, "prepare") as tracker:
        task = get_task(params.task)
        splits = task.make_splits()
        for split, problems in splits.items():
            write_jsonl(paths.split_file(split), (p.to_dict() for p in problems))
        sizes = {f"{split}_problems": len(problems) for split, problems in splits.items()}
        tracker.log_params({f"task.{k}": v for k, v in vars(params.task).items()})
        tracker.log_metrics(sizes)
        for split, problems in splits.items():
            levels = Counter(p.difficulty for p in problems)
            print(f"{split}: {len(problems)} problems, by difficulty {dict(sorted(levels.items()))}")
        skipped = getattr(task, "skipped", {})  # benchmark rows that could not become problems (never graded)
        for split, reasons in skipped.items():
            if reasons:
                print(f"skipped in the source {split} split: {reasons}")
                tracker.log_metrics({f"skipped_{split}": sum(reasons.values())})
