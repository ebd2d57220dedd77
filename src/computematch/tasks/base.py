"""What every task provides: problems, prompts, answer extraction, grading and (where possible) a step check."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
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
class Grade:
    """The verdict on one completion."""

    answer: str | None  # the extracted final answer; None when the completion states none
    correct: bool  # the final answer equals the gold answer (the paper's filter)
    steps_ok: bool | None  # every step checks out; None when the task has no exact step checker
    flexible_correct: bool | None = None  # a looser extraction's verdict, where the task has one (GSM8K)

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

    def make_splits(self) -> dict[str, list[Problem]]:
        """{'train', 'val', 'test'} and optionally 'corpus' (gold solutions to pretrain built-in models on)."""

    def prompt(self, problem: Problem) -> str:
        """The text a model is given; its completion should be a worked solution."""

    def grade(self, problem: Problem, completion: str) -> Grade: ...



def normalize_solution(completion: str) -> str:
    """The identity of a solution for diversity: whitespace collapsed, nothing else changed.

    Two correct solutions are "unique" when they differ after this normalization; a solution that
    writes `2+7=9` where another writes `7+2=9` is a different solution (another step style).
    """
    return _WHITESPACE.sub(" ", completion).strip()
