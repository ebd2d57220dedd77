"""GSM8K (Cobbe et al., 2021): grade-school word problems; answers graded strict and flexible.

    task: {name: gsm8k, source: openai/gsm8k, subset: main}                    # from the hub
    task: {name: gsm8k, files: {train: ../shared/data/gsm8k/train.jsonl, test: ...}}   # local files

Extraction follows lm-evaluation-harness's gsm8k task: "strict-match" reads the first `#### N`,
"flexible-extract" the last number in the completion. The filter and pass@1 use strict (the format the
few-shot exemplars teach); flexible is reported beside it. False positives: every calculator annotation
`<<48/2=24>>` in a solution is recomputed exactly (fractions, never eval), which catches arithmetic slips
in annotated solutions; solutions without annotations are not checkable (steps_ok None).
"""

from __future__ import annotations

import re
from fractions import Fraction

from computematch.tasks.base import Grade, Problem
from computematch.tasks.hub import BenchmarkTask

MAX_CHARS = 8000
_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")  # lm-evaluation-harness gsm8k "strict-match"
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")  # lm-evaluation-harness gsm8k "flexible-extract"
_ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>]{1,60})>>")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?%?|[-+*/()x])")


def normalize_number(text: str | None) -> str | None:
    """'1,234.50' -> '1234.5'; '$5.' -> '5'; None when no number is left."""
    if text is None:
        return None
    cleaned = text.replace(",", "").replace("$", "").rstrip(".")
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def strict_answer(completion: str) -> str | None:
    match = _STRICT.search(completion)
    return normalize_number(match.group(1)) if match else None


def flexible_answer(completion: str) -> str | None:
    matches = _FLEXIBLE.findall(completion)
    if not matches:
        return None
    last = next(group for group in matches[-1] if group)
    return normalize_number(last)


def evaluate_arithmetic(expression: str) -> Fraction:
    """Exact value of + - * / ( ) over decimals (and 'x' for times, '%' as /100); raises ValueError otherwise.

    A recursive-descent parser: the text is never handed to eval().
    """
    tokens, position = [], 0
    expression = expression.replace(",", "").replace("$", "")
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            if expression[position:].strip() == "":
                break
            raise ValueError(f"unexpected {expression[position:position + 10]!r}")
        tokens.append(match.group(1))
        position = match.end()

    def number(index: int) -> tuple[Fraction, int]:
        if index >= len(tokens):
            raise ValueError("unexpected end")
        token = tokens[index]
        if token == "-":
            value, index = number(index + 1)
            return -value, index
        if token == "(":
            value, index = expr(index + 1)
            if index >= len(tokens) or tokens[index] != ")":
                raise ValueError("unbalanced parentheses")
            return value, index + 1
        if token[0].isdigit():
            return (Fraction(token[:-1]) / 100 if token.endswith("%") else Fraction(token)), index + 1
        raise ValueError(f"unexpected {token!r}")

    def term(index: int) -> tuple[Fraction, int]:
        value, index = number(index)
        while index < len(tokens) and tokens[index] in "*/x":
            operator = tokens[index]
            right, index = number(index + 1)
            value = value / right if operator == "/" else value * right
        return value, index

    def expr(index: int) -> tuple[Fraction, int]:
        value, index = term(index)
        while index < len(tokens) and tokens[index] in "+-":
            operator = tokens[index]
            right, index = term(index + 1)
            value = value + right if operator == "+" else value - right
        return value, index

    if not tokens:
        raise ValueError("empty expression")
    value, index = expr(0)
    if index != len(tokens):
        raise ValueError(f"trailing {tokens[index]!r}")
    return value


def check_annotations(solution: str) -> tuple[int, int]:
    """(annotations checked, annotations wrong); an annotation that does not parse is not counted."""
    checked = wrong = 0
    for expression, stated in _ANNOTATION.findall(solution):
        try:
            value, claimed = evaluate_arithmetic(expression), evaluate_arithmetic(stated)
        except (ValueError, ZeroDivisionError):
            continue
        checked += 1
        if abs(value - claimed) > Fraction(1, 10**4) * max(1, abs(value)):
            wrong += 1
    return checked, wrong


class GSM8KTask(BenchmarkTask):
    name = "gsm8k"
    default_fewshot = 8  # the paper: 8-shot for GSM8K
    grader_version = "gsm8k-strict+flexible+annotations/1"
    stop = ("\n\nQuestion:", "Question:")

    @staticmethod
    def _problem(row: dict, problem_id: str) -> Problem | None:
        question, solution = row["question"], row["answer"]
        answer = strict_answer(solution)
        if answer is None:
            return None
        steps = solution.split("####")[0].strip().count("\n") + 1
        return Problem(problem_id, question.strip(), answer, solution.strip(), steps)

    def prompt(self, problem: Problem) -> str:
        """Few-shot 'Question: ... Answer: ...' with train exemplars, or the bare question for chat templates."""
        if self.config.prompt_style == "chat":
            return f"{problem.question}\nSolve step by step and end with '#### <answer>'."
        shots = "".join(f"Question: {p.question}\nAnswer: {p.solution}\n\n" for p in self.shots())
        return f"{shots}Question: {problem.question}\nAnswer:"

    def grade(self, problem: Problem, completion: str) -> Grade:
        text = completion[:MAX_CHARS]
        answer = strict_answer(text)
        flexible = flexible_answer(text)
        correct = answer is not None and answer == problem.answer
        checked, wrong = check_annotations(text)
        steps_ok = None if checked == 0 else wrong == 0
        return Grade(answer=answer, correct=correct, steps_ok=steps_ok,
                     flexible_correct=flexible is not None and flexible == problem.answer)
