"""MATH (Hendrycks et al., 2021, "Measuring Mathematical Problem Solving With the MATH Dataset"): competition
problems whose worked solutions end in `\\boxed{answer}`; graded by math-verify's equivalence (Hugging Face).

    task: {name: math, source: EleutherAI/hendrycks_math, subset: algebra}              # from the hub
    task: {name: math, files: {train: .../math/train.jsonl, test: .../math500/test.jsonl}}  # local files

Rows carry `problem`, `solution`, `level` ("Level 3") and optionally `type`; MATH-500 rows also carry the
`answer`, which is then the gold answer. Otherwise the gold answer is the content of the last `\\boxed{}`
(or `\\fbox{}`) in the solution, as in the paper's `last_boxed_only_string`; a row without one is skipped.

Grading: the last `\\boxed{}` of the completion is the model's answer, and it is correct when math-verify
finds it equivalent to the gold answer (`verify(gold, pred)`, gold first: it is not symmetric, e.g. a gold
`x<3` accepts `(-\\infty,3)` but a gold `(-\\infty,3)` rejects `x<3`). math-verify bounds its own time with
signal.alarm, which only works in the main thread; so it runs here with its timeouts off, in one persistent
worker process (spawned) that is killed when a call outruns `MathTask.timeout_s` (the sample then grades
wrong and `grader_timeouts` counts it).
MATH has no exact step checker, so `steps_ok` is always None. Model output is only ever parsed, never eval'd.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import version

from computematch.config import TaskConfig
from computematch.tasks.base import Grade, Problem, grading_mode
from computematch.tasks.hub import BenchmarkTask

# Longer "answers" are never a MATH answer (gold answers are tens of characters): they grade wrong without
# being handed to sympy, where a runaway expression would only burn the timeout.
MAX_ANSWER_CHARS = 1000
TIMEOUT_S = 5.0  # per math-verify call (its own default), in the worker (math_worker.py)
_BOX_COMMANDS = ("\\boxed", "\\fbox")
_LEVEL = re.compile(r"(\d+)")
_SPACE = re.compile(r"\s+")
_BARE = re.compile(r"[^\s$]+")  # the brace-less `\\boxed 5`


# ---------------------------------------------------------------- answer extraction


def _braced(text: str, start: int) -> str | None:
    """The content of the `{...}` group opening at text[start], braces balanced; None if it never closes.

    A backslash escapes the next character, so `\\{` and `\\}` (literal set braces) do not count.
    """
    depth, position = 0, start
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1: position]
        position += 1
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` in text; None when there is none or it never closes.

    Also reads the brace-less `\\boxed 5` that a few MATH solutions use (up to a space or `$`, as the
    paper's `last_boxed_only_string` does). An unclosed last box (a cut-off completion) gives None rather
    than an earlier box: that earlier box was not the final answer.
    """
    start, command = max((text.rfind(c), c) for c in _BOX_COMMANDS)
    if start < 0:
        return None
    position = start + len(command)
    while position < len(text) and text[position].isspace():
        position += 1
    if text.startswith("{", position):
        content = _braced(text, position)
    elif position > start + len(command):
        match = _BARE.match(text, position)
        content = match.group(0) if match else None
    else:
        return None  # '\\boxedx': another command, not a box
    return content.strip() or None if content is not None else None  # an empty box states no answer


def difficulty(level) -> int:
    """'Level 3' -> 3; missing or unparsable ('Level ?', which MATH has) -> 0."""
    match = _LEVEL.search(str(level or ""))
    return int(match.group(1)) if match else 0


# ---------------------------------------------------------------- the task


class MathTask(BenchmarkTask):
    name = "math"
    default_fewshot = 4  # the paper: 4-shot for MATH
    grader_version = f"math-last-boxed+math-verify-{version('math-verify')}/1"
    stop = ("\n\nProblem:", "Problem:")
    grading_modes = ("boxed",)  # the last \boxed{} of the completion, checked for equivalence by math-verify

    def __init__(self, config: TaskConfig):
        super().__init__(config)
        self.grading = grading_mode(self.name, self.grading_modes, config.grading)
        self.timeout_s = TIMEOUT_S
        self.grader_timeouts = 0  # samples graded wrong because math-verify outran timeout_s
        self.grader_crashes = 0  # samples graded wrong because the worker process died
        self._count_lock = threading.Lock()

    @staticmethod
    def _problem(row: dict, problem_id: str) -> Problem | None:
        question, solution = row["problem"], row["solution"]
        given = row.get("answer")  # MATH-500's field; may be absent, None or empty
        answer = (str(given).strip() if given is not None else "") or last_boxed(solution)
        if not answer:
            return None
        return Problem(problem_id, question.strip(), answer, solution.strip(), difficulty(row.get("level")))

    def prompt(self, problem: Problem) -> str:
        """Few-shot 'Problem: ... Solution: ...' with train exemplars, or the bare problem for chat templates."""
        if self.config.prompt_style == "chat":
            return f"{problem.question}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
        shots = "".join(f"Problem:\n{p.question}\n\nSolution:\n{p.solution}\n\n" for p in self.shots())
        return f"{shots}Problem:\n{problem.question}\n\nSolution:\n"

    def _count(self, counter: str) -> None:
        with self._count_lock:  # grade may run in several threads at once
            setattr(self, counter, getattr(self, counter) + 1)

    def is_equivalent(self, gold: str, pred: str) -> bool:
        """math-verify's verdict. Identical text (runs of spaces aside) is equivalent without a worker round trip,
        and even where math-verify parses nothing (a lone `$`). A timeout or a dead worker is counted, and wrong."""
        if _SPACE.sub(" ", gold).strip() == _SPACE.sub(" ", pred).strip():
            return True
        if len(pred) > MAX_ANSWER_CHARS:
            return False
        from computematch.tasks import math_worker  # the worker starts only when a MATH answer needs it

        try:
            return math_worker.bounded_call(math_worker.equivalent, gold, pred, timeout=self.timeout_s)
        except TimeoutError:
            self._count("grader_timeouts")
        except BrokenProcessPool:
            self._count("grader_crashes")
        return False

    def grade(self, problem: Problem, completion: str) -> Grade:
        answer = last_boxed(completion)
        try:
            (answer or "").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate is no answer: math-verify dropped it and graded the rest,
            answer_is_text = False  # so `\boxed{5\udcff}` matched a gold 5
        else:
            answer_is_text = answer is not None
        correct = answer_is_text and self.is_equivalent(problem.answer, answer)
        return Grade(answer=answer, correct=correct, steps_ok=None, by_mode={"boxed": correct})
