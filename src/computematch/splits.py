"""The prepared problems on disk (data/prepare/*.jsonl), and a task built with its few-shot exemplars.

    from computematch.splits import load_task, read_split
    task = load_task(params.task)          # few-shot exemplars from the prepared corpus
    problems = read_split("train")
"""

from __future__ import annotations

from typing import Iterable

from computematch import paths
from computematch.config import TaskConfig
from computematch.errors import BadInputError
from computematch.io import read_jsonl, write_jsonl
from computematch.tasks import Problem, Task, get_task

REQUIRED_SPLITS = ("train", "val", "test")


def read_split(split: str) -> list[Problem]:
    """Problems of one split; a broken row is an error naming its file and line, an empty split an error naming it."""
    path = paths.split_file(split)
    problems = []
    for number, record in enumerate(read_jsonl(path), start=1):
        try:
            problems.append(Problem.from_dict(record))
        except (KeyError, TypeError, AttributeError) as error:
            raise BadInputError(f"{path}:{number}: broken problem record ({error!r})") from None
    if not problems and split in REQUIRED_SPLITS:
        raise BadInputError(f"{path}: the {split} split is empty (rerun `dvc repro prepare`; check task.{split}_size)")
    return problems


def write_split(split: str, problems: Iterable[Problem]) -> None:
    write_jsonl(paths.split_file(split), (p.to_dict() for p in problems))


def load_task(config: TaskConfig) -> Task:
    """The task, given its few-shot exemplars: the first corpus problems (never sampled), when it prompts with any."""
    task = get_task(config)
    if getattr(task, "fewshot", 0):
        task.exemplars = read_split("corpus")[: task.fewshot]
    return task
