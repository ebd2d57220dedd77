"""Loading real benchmarks: local JSONL/JSON/parquet files named in params, or the hub through `datasets`.

Rows that cannot become a problem (a missing field, an unparsable gold answer) are skipped and counted,
never graded wrong; `SplitLoader.skipped` says how many per split and why.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Callable

from computematch.config import ConfigError, TaskConfig
from computematch.tasks.base import Problem

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


def load_rows(config: TaskConfig, split: str) -> list[dict]:
    """Raw rows of one source split ('train' or 'test'): a local file from task.files, else the hub."""
    from datasets import load_dataset

    files = config.files or {}
    if split in files:
        path = Path(files[split]).expanduser()
        if not path.exists():
            raise ConfigError(f"task.files.{split}: {path} does not exist")
        if path.suffix not in LOCAL_FORMATS:
            raise ConfigError(f"task.files.{split}: {path.name} is not one of {', '.join(LOCAL_FORMATS)}")
        dataset = load_dataset(LOCAL_FORMATS[path.suffix], data_files=str(path), split="train")
        return list(dataset)
    source = config.test_source if split == "test" and config.test_source else config.source
    if not source:
        raise ConfigError(f"task.files.{split}: no local file and no task.source hub dataset for task {config.name!r}")
    try:
        dataset = load_dataset(source, config.subset, split=split)
    except Exception as error:  # offline, unknown dataset, gated...
        raise ConfigError(f"task.source: could not load {source!r} split {split!r} from the hub "
                          f"({type(error).__name__}); offline machines need task.files") from None
    return list(dataset)


class SplitLoader:
    """Turns raw rows into problems with `make_problem(row, id)`, which returns None for a row to skip."""

    def __init__(self, config: TaskConfig, make_problem: Callable[[dict, str], Problem | None]):
        self.config, self.make_problem = config, make_problem
        self.skipped: dict[str, Counter] = {}

    def _problems(self, rows: list[dict], split: str) -> list[Problem]:
        problems, skipped = [], Counter()
        for index, row in enumerate(rows):
            try:
                problem = self.make_problem(row, f"{split}-{index:05d}")
            except (KeyError, TypeError, ValueError, AttributeError):
                skipped["broken row (missing or malformed field)"] += 1
                continue
            if problem is None:
                skipped["unparsable gold answer"] += 1
            else:
                problems.append(problem)
        self.skipped[split] = skipped
        return problems

    def make_splits(self) -> dict[str, list[Problem]]:
        """train / val carved from the source's train split (seeded), test from its test split; the rest of
        the source's train split is the corpus that built-in models pretrain on."""
        config = self.config
        pool = self._problems(load_rows(config, "train"), "train")
        random.Random(f"{config.name}/{config.seed}/split").shuffle(pool)
        val, train = pool[: config.val_size], pool[config.val_size: config.val_size + config.train_size]
        corpus = pool[config.val_size + config.train_size:] or train
        test = self._problems(load_rows(config, "test"), "test")
        test = random.Random(f"{config.name}/{config.seed}/test").sample(test, min(config.test_size, len(test)))
        for name, split in (("train", train), ("val", val), ("test", test)):
            if not split:
                raise ConfigError(f"task.{name}_size: no usable {name} problem in the data "
                                  f"(skipped: {dict(self.skipped.get(name, self.skipped.get('train', {})))})")
        return {"train": train, "val": val, "test": sorted(test, key=lambda p: p.id),
                "corpus": corpus[: config.corpus_size] if config.corpus_size else corpus}


class BenchmarkTask:
    """What GSM8K and MATH share: loading through SplitLoader and few-shot exemplars from the corpus.

    Subclasses set `default_fewshot` and implement `_problem(row, id)`, `prompt` and `grade`.
    """

    default_fewshot = 0

    def __init__(self, config: TaskConfig):
        self.config = config
        self.fewshot = self.default_fewshot if config.fewshot is None else config.fewshot
        self.loader = SplitLoader(config, self._problem)
        self.exemplars: list[Problem] = []

    @staticmethod
    def _problem(row: dict, problem_id: str) -> Problem | None:
        raise NotImplementedError

    @property
    def skipped(self) -> dict[str, dict[str, int]]:
        """Rows skipped per source split, by reason."""
        return {split: dict(counts) for split, counts in self.loader.skipped.items()}

    def make_splits(self) -> dict[str, list[Problem]]:
        splits = self.loader.make_splits()
        self.exemplars = splits["corpus"][: self.fewshot]
        return splits

    def shots(self) -> list[Problem]:
        """The few-shot exemplars: the first corpus problems (train-split problems that are never sampled)."""
        if not self.exemplars and self.fewshot:
            from computematch import paths
            from computematch.io import read_jsonl

            self.exemplars = [Problem.from_dict(r) for r in read_jsonl(paths.split_file("corpus"))[: self.fewshot]]
        return self.exemplars[: self.fewshot]
