"""What every task provides: problems, prompts, answer extraction, grading and (where possible) a step check."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from computematch.config import TaskConfig

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Problem:
    id: str  # stable across runs: it keys the per-sample random streams
    question: str
    answer: str  # the gold final answer, as text
    solution: str  # a worked gold solution ending with '#### <answer>'
    difficulty: int  # task-defined level (arith: the number of steps)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> "Problem":
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class StepChecks:
    """What a partial step checker (GSM8K's calculator annotations) made of one completion."""

    checked: int = 0  # annotations recomputed
    unparsable: int = 0  # annotations found but not parsable as arithmetic: left unchecked, and counted
    wrong: int = 0  # checked annotations whose stated result is wrong


@dataclass(frozen=True)
class Grade:
    """The verdict on one completion, under the task's selected grading mode and under every mode it offers."""

    answer: str | None  # the extracted final answer (selected mode); None when the completion states none
    correct: bool  # the final answer equals the gold answer under the selected mode (the paper's filter)
    steps_ok: bool | None  # every step checks out; None when the task has no exact step checker
    by_mode: dict[str, bool] = field(default_factory=dict)  # correctness under each mode the task offers
    checks: StepChecks | None = None  # annotation counts, where the task checks steps partially (GSM8K)

    @property
    def false_positive(self) -> bool | None:
        """Right final answer, wrong reasoning (None when no step check exists)."""
        if not self.correct or self.steps_ok is None:
            return False if not self.correct else None
        return not self.steps_ok


class Task(Protocol):
    name: str
    config: "TaskConfig"  # the task section of params.yaml it was built from
    grader_version: str  # recorded with every metric the grader produced
    stop: tuple[str, ...]  # generation stops at (and drops) the first of these strings
    grading_modes: tuple[str, ...]  # answer extractions the task offers; the first is its default
    grading: str  # the mode that decides `Grade.correct` (task.grading, else the default)

    def make_splits(self) -> dict[str, list[Problem]]:
        """{'train', 'val', 'test'} and optionally 'corpus' (gold solutions to pretrain built-in models on)."""

    def prompt(self, problem: Problem) -> str:
        """The text a model is given; its completion should be a worked solution."""

    def grade(self, problem: Problem, completion: str) -> Grade: ...

def grading_mode(task_name: str, modes: tuple[str, ...], requested: str | None) -> str:
    """task.grading, or the task's default mode; a mode the task does not offer is a one-line error."""
    if requested is None:
        return modes[0]
    if requested not in modes:
        from computematch.errors import ConfigError

        raise ConfigError(f"task.grading: task {task_name!r} grades {', '.join(modes)}; got {requested!r}")
    return requested


def normalize_solution(completion: str) -> str:
    """The identity of a solution for diversity: whitespace collapsed, nothing else changed.

    Two correct solutions are "unique" when they differ after this normalization; a solution that
    writes `2+7=9` where another writes `7+2=9` is a different solution (another step style).
    """
    return _WHITESPACE.sub(" ", completion).strip()
