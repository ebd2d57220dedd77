"""Loading real benchmarks: local JSONL/JSON/parquet files named in params, or the hub through `datasets`.

Rows that cannot become a problem (a line that is not a JSON object, a missing field, an unparsable gold
answer) are skipped and counted, never graded wrong; `SplitLoader.skipped` says how many per split and why,
and a broken line's reason names where the first ones are (`broken row (not a JSON object): train.jsonl:12`).
A local file that cannot be read at all (missing, empty, not UTF-8, a directory) is a one-line ConfigError.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Callable

from computematch.errors import ConfigError

from computematch.config import TaskConfig
from computematch.tasks.base import Problem

LOCAL_FORMATS = (".jsonl", ".json", ".parquet")
BROKEN_ROW = "broken row (not a JSON object)"
NAMED_LOCATIONS = 3  # a broken-row reason names this many file:line locations, then "..."


def _broken_rows_reason(locations: list[str]) -> str:
    """'broken row (not a JSON object): a.jsonl:3, a.jsonl:9, a.jsonl:12, ...': the count's key names where."""
    shown = ", ".join(locations[:NAMED_LOCATIONS]) + (", ..." if len(locations) > NAMED_LOCATIONS else "")
    return f"{BROKEN_ROW}: {shown}"


def _objects(items: list, locations: list[str]) -> tuple[list[dict], Counter]:
    """The JSON objects among `items`; the others are counted under one reason naming their locations."""
    rows = [item for item in items if isinstance(item, dict)]
    broken = [where for item, where in zip(items, locations) if not isinstance(item, dict)]
    return rows, Counter({_broken_rows_reason(broken): len(broken)} if broken else {})


def _json_lines(text: str, name: str) -> tuple[list, list[str]]:
    """One value per non-blank line (None where the line is not valid JSON) and its 'name:line'."""
    values, locations = [], []
    # split("\n"), not splitlines(): a JSON string may hold U+2028 and other characters splitlines() breaks at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except (ValueError, RecursionError):  # JSONDecodeError; RecursionError for '[[[[...' nested too deep
            values.append(None)
        locations.append(f"{name}:{number}")
    return values, locations


def _json_document(text: str, name: str) -> tuple[list, list[str]]:
    """A .json file: a list of rows, or an object holding one under "data" or "rows" (JSON lines also work)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data" and text.lstrip().startswith("{"):  # JSON lines saved as .json
            return _json_lines(text, name)
        raise ConfigError(f"{name}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise ConfigError(f"{name}: not valid JSON (nested too deep)") from None
    if isinstance(document, dict):
        document = next((document[key] for key in ("data", "rows") if isinstance(document.get(key), list)), None)
    if not isinstance(document, list):
        raise ConfigError(f"{name}: expected a list of rows, or an object holding one under 'data' or 'rows'")
    return document, [f"{name}[{index}]" for index in range(len(document))]


def _parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as error:  # ArrowInvalid, OSError...: whatever pyarrow raises, the file is unreadable
        raise ConfigError(f"{path}: not a readable parquet file ({type(error).__name__})") from None


def read_local_rows(path: Path) -> tuple[list[dict], Counter]:
    """Rows of a local .jsonl / .json / .parquet file, and the rows skipped by reason.

    A line (or list item) that is not a JSON object is skipped and counted; a file with no row at all, or one
    that cannot be read (not UTF-8, a directory, no permission) is a one-line ConfigError naming it.
    """
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a file")
    if path.suffix == ".parquet":
        rows, skipped = _parquet(path), Counter()
    else:
        try:
            text = path.read_bytes().decode("utf-8-sig")  # -sig: a byte-order mark is not part of the first row
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
        reader = _json_lines if path.suffix == ".jsonl" else _json_document
        rows, skipped = _objects(*reader(text, str(path)))
    if not rows:
        raise ConfigError(f"{path}: no rows" + (f" ({', '.join(skipped)})" if skipped else ""))
    return rows, skipped


def load_rows(config: TaskConfig, split: str) -> tuple[list[dict], Counter]:
    """Raw rows of one source split ('train' or 'test') and the rows skipped while reading them, by reason:
    a local file from task.files, else the hub."""
    files = config.files or {}
    if split in files:
        path = Path(files[split]).expanduser()
        if not path.exists():
            raise ConfigError(f"task.files.{split}: {path} does not exist")
        if path.suffix not in LOCAL_FORMATS:
            raise ConfigError(f"task.files.{split}: {path} is not one of {', '.join(LOCAL_FORMATS)}")
        try:
            return read_local_rows(path)
        except ConfigError as error:
            raise ConfigError(f"task.files.{split}: {error}") from None
    from datasets import load_dataset

    source = config.test_source if split == "test" and config.test_source else config.source
    if not source:
        raise ConfigError(f"task.files.{split}: no local file and no task.source hub dataset for task {config.name!r}")
    try:
        dataset = load_dataset(source, config.subset, split=split)
    except Exception as error:  # offline, unknown dataset, gated...
        raise ConfigError(f"task.source: could not load {source!r} split {split!r} from the hub "
                          f"({type(error).__name__}); offline machines need task.files") from None
    return list(dataset), Counter()


class SplitLoader:
    """Turns raw rows into problems with `make_problem(row, id)`, which returns None for a row to skip."""

    def __init__(self, config: TaskConfig, make_problem: Callable[[dict, str], Problem | None]):
        self.config, self.make_problem = config, make_problem
        self.skipped: dict[str, Counter] = {}

    def _problems(self, rows: list[dict], skipped: Counter, split: str) -> list[Problem]:
        """Problems from `rows`, adding every row that cannot become one to `skipped` (by reason)."""
        problems = []
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
        pool = self._problems(*load_rows(config, "train"), "train")
        random.Random(f"{config.name}/{config.seed}/split").shuffle(pool)
        val, train = pool[: config.val_size], pool[config.val_size: config.val_size + config.train_size]
        corpus = pool[config.val_size + config.train_size:] or train
        test = self._problems(*load_rows(config, "test"), "test")
        test = random.Random(f"{config.name}/{config.seed}/test").sample(test, min(config.test_size, len(test)))
        for name, split in (("train", train), ("val", val), ("test", test)):
            if not split:
                raise ConfigError(f"task.{name}_size: no usable {name} problem in the data "
                                  f"(skipped: {dict(self.skipped.get(name, self.skipped.get('train', {})))})")
        return {"train": train, "val": val, "test": sorted(test, key=lambda p: p.id),
                "corpus": corpus[: config.corpus_size] if config.corpus_size else corpus}


class BenchmarkTask:
    """What GSM8K and MATH share: loading through SplitLoader, and few-shot exemplars given by the caller.

    Subclasses set `default_fewshot` and implement `_problem(row, id)`, `prompt` and `grade`. The exemplars are
    the first corpus problems (train-split problems that are never sampled); `splits.load_task` sets them from
    the prepared corpus, so a prompt never depends on a file read behind the caller's back.
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
        return self.loader.make_splits()

    def shots(self) -> list[Problem]:
        """The few-shot exemplars; a few-shot prompt without them would silently be another prompt."""
        if self.fewshot and self.config.prompt_style == "fewshot" and len(self.exemplars) < self.fewshot:
            raise RuntimeError(f"{self.config.name}: {self.fewshot}-shot prompts need exemplars "
                               f"(build the task with computematch.splits.load_task)")
        return self.exemplars[: self.fewshot]
