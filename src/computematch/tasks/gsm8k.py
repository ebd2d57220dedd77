"""GSM8K (Cobbe et al., 2021): grade-school word problems; answers graded flexible (default) and strict.

    task: {name: gsm8k, source: openai/gsm8k, subset: main}                              # from the hub
    task: {name: gsm8k, files: {train: path/to/train.jsonl, test: path/to/test.jsonl}}   # local copies
    task: {name: gsm8k, source: openai/gsm8k, subset: main, grading: strict}            # only '#### N' counts

Answer extraction follows lm-evaluation-harness's gsm8k task (lm_eval/tasks/gsm8k/gsm8k.yaml, `filter_list`):
"strict-match" reads the first `#### N`, "flexible-extract" the last number in the completion. `task.grading`
picks the mode that filters samples and scores pass@1; `Grade.by_mode` reports both, side by side, as lm-eval
does. Flexible is the default: real models' solutions end "A: 18" or "The answer is 18", and the stop strings
cut at the next "Question:", so the last number is the solution's final one. Numbers compare by exact value
(fractions), so "18.0" equals "18" and "3/4" equals "0.75".

False positives: every calculator annotation `<<48/2=24>>` in a completion is recomputed exactly (parsed,
never eval'd), which catches arithmetic slips in annotated solutions. An annotation that does not parse is
counted as unparsable, not passed over; a completion with nothing checkable has steps_ok None.
"""

from __future__ import annotations

import re
from fractions import Fraction

from computematch.config import TaskConfig
from computematch.tasks.base import Grade, Problem, StepChecks, grading_mode
from computematch.tasks.hub import BenchmarkTask

# A completion longer than this is graded on its first MAX_CHARS characters: a runaway generation can
# neither slow the grader down nor hide its answer far from where a solution ends.
MAX_CHARS = 8000
# Annotations are short (GSM8K's longest holds 36 characters); the bounds keep the recursive parser far
# from Python's recursion limit whatever text reaches it.
MAX_EXPRESSION_CHARS = 300
MAX_NESTING = 40

# lm-eval gsm8k "strict-match": the first '#### N'.
_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
# lm-eval gsm8k "flexible-extract" `(-?[$0-9.,]{2,})|(-?[0-9]+)`, extended with an optional '/denominator'
# on either alternative so that a fraction is one number: lm-eval reads "3/4" as "4".
_FLEXIBLE = re.compile(r"-?[$0-9.,]{2,}(?:/[0-9.,]*[0-9])?|-?[0-9]+(?:/[0-9.,]*[0-9])?")
# lm-eval's exact_match `regexes_to_ignore` for gsm8k: commas, dollar signs and a trailing period.
_IGNORED = re.compile(r"[,$]|\.+$")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)  # what Fraction() is given: no exponent, no '_'
_DIGIT = re.compile(r"[0-9]")
_ROUNDED = re.compile(r"\s*-?\$?[\d,]*\.(\d+)\s*", re.ASCII)  # a stated result with decimals, which may be rounded
_ANNOTATION = re.compile(r"<<([^<>]*)>>")  # GSM8K's calculator annotation <<expression=result>>
# A number as GSM8K annotations write it (12, 1,000, 3.5, .25, 5., $5, 50%) or an operator ('x' is times).
_TOKEN = re.compile(r"\s*(?:\$?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(%?)|([-+*/()x]))", re.ASCII)


# ---------------------------------------------------------------- final answers


def parse_number(text: str | None) -> Fraction | None:
    """The exact value of an extracted answer: '1,234.50' -> 2469/2, '$5.' -> 5, '3/4' -> 3/4; None if not a number.

    Commas, '$' and trailing periods are dropped first, as lm-eval's gsm8k `regexes_to_ignore` does.
    """
    if text is None:
        return None
    numerator, _, denominator = _IGNORED.sub("", text.strip()).partition("/")
    denominator = denominator or "1"
    if not (_PLAIN_NUMBER.fullmatch(numerator) and _PLAIN_NUMBER.fullmatch(denominator)):
        return None
    if Fraction(denominator) == 0:
        return None
    return Fraction(numerator) / Fraction(denominator)


def format_number(value: Fraction) -> str:
    """The canonical text of a value: '18', '3.5', '-0.25'; 'n/d' ('1/3') where no decimal of < 64 places is exact."""
    if value.denominator == 1:
        return str(value.numerator)
    for places in range(1, 64):
        scaled = abs(value) * 10**places
        if scaled.denominator == 1:
            whole, decimals = divmod(scaled.numerator, 10**places)
            return f"{'-' if value < 0 else ''}{whole}.{decimals:0{places}d}"
    return f"{value.numerator}/{value.denominator}"


def normalize_number(text: str | None) -> str | None:
    """'1,234.50' -> '1234.5'; '$5.' -> '5'; '18.0' -> '18'; None when no number is left."""
    value = parse_number(text)
    return None if value is None else format_number(value)


def strict_answer(completion: str) -> str | None:
    """lm-eval's "strict-match": the number after the first '#### ', normalized; None without one."""
    match = _STRICT.search(completion)
    return normalize_number(match.group(1)) if match else None


def flexible_answer(completion: str) -> str | None:
    """lm-eval's "flexible-extract": the last number in the completion, normalized; None without one.

    Two extensions of lm-eval: 'a/b' is read as one number (lm-eval would read "4" in "3/4"), and a match
    without a digit ('...', '$,') is passed over instead of being taken as the last "number". So "A: 18",
    "The answer is 18.", "$18", "18 dollars", "20%" and "3.5 hours" all give the number written.
    """
    numbers = [match for match in _FLEXIBLE.findall(completion) if _DIGIT.search(match)]
    return normalize_number(numbers[-1]) if numbers else None


ANSWER_EXTRACTORS = {"flexible": flexible_answer, "strict": strict_answer}


def same_number(answer: str | None, gold: str) -> bool:
    """Exact equality of values: '18.0' equals '18', '3/4' equals '0.75'; no answer is never equal."""
    value = parse_number(answer)
    return value is not None and value == parse_number(gold)


# ---------------------------------------------------------------- calculator annotations


def _tokens(expression: str) -> list:
    """Numbers (as Fractions) and operator characters; ValueError on anything else."""
    tokens, position = [], 0
    while expression[position:].strip():
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ValueError(f"unexpected {expression[position:position + 10]!r}")
        number, percent, operator = match.groups()
        if operator:
            tokens.append(operator)
        else:
            value = Fraction(number.replace(",", ""))
            tokens.append(value / 100 if percent else value)
        position = match.end()
    return tokens


def evaluate_arithmetic(expression: str) -> Fraction:
    """Exact value of + - * / ( ) and signs over numbers written as GSM8K does; ValueError otherwise.

    Numbers: 12, 1,000, 3.5, .25, 5., $5, 50% (= 1/2); 'x' is times; a sign may precede any operand (-.25,
    +7). A recursive-descent parser: the text is never handed to eval(). Text longer than
    MAX_EXPRESSION_CHARS or nested deeper than MAX_NESTING raises ValueError, never RecursionError.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    tokens = _tokens(expression)

    def operand(index: int, depth: int) -> tuple[Fraction, int]:
        if depth > MAX_NESTING:
            raise ValueError(f"nested deeper than {MAX_NESTING}")
        if index >= len(tokens):
            raise ValueError("unexpected end")
        token = tokens[index]
        if isinstance(token, Fraction):
            return token, index + 1
        if token in "+-":
            value, index = operand(index + 1, depth + 1)
            return (-value if token == "-" else value), index
        if token == "(":
            value, index = expr(index + 1, depth + 1)
            if index >= len(tokens) or tokens[index] != ")":
                raise ValueError("unbalanced parentheses")
            return value, index + 1
        raise ValueError(f"unexpected {token!r}")

    def term(index: int, depth: int) -> tuple[Fraction, int]:
        value, index = operand(index, depth)
        while index < len(tokens) and tokens[index] in ("*", "/", "x"):
            operator = tokens[index]
            right, index = operand(index + 1, depth)
            if operator == "/" and right == 0:
                raise ValueError("division by zero")
            value = value / right if operator == "/" else value * right
        return value, index

    def expr(index: int, depth: int) -> tuple[Fraction, int]:
        value, index = term(index, depth)
        while index < len(tokens) and tokens[index] in ("+", "-"):
            operator = tokens[index]
            right, index = term(index + 1, depth)
            value = value + right if operator == "+" else value - right
        return value, index

    if not tokens:
        raise ValueError("empty expression")
    value, index = expr(0, 0)
    if index != len(tokens):
        raise ValueError(f"trailing {tokens[index]!r}")
    return value


def annotation_is_right(value: Fraction, stated: Fraction, stated_text: str) -> bool:
    """The stated result is the exact value, or the value rounded to the decimals the result shows.

    Every gold annotation in GSM8K is exact, but a model that writes `<<10/3=3.33>>` has rounded, not
    slipped; a whole-number result must be exact, so `<<7/2=3>>` is wrong.
    """
    if stated == value:
        return True
    rounded = _ROUNDED.fullmatch(stated_text)
    return rounded is not None and abs(value - stated) <= Fraction(1, 2 * 10 ** len(rounded.group(1)))


def check_annotations(text: str) -> StepChecks:
    """Recompute every `<<expression=result>>` in `text`: how many were checked, unparsable, wrong."""
    checked = unparsable = wrong = 0
    for body in _ANNOTATION.findall(text):
        expression, equals, stated_text = body.rpartition("=")
        try:
            if not equals:
                raise ValueError("no '='")
            value, stated = evaluate_arithmetic(expression), evaluate_arithmetic(stated_text)
        except ValueError:
            unparsable += 1
            continue
        checked += 1
        wrong += not annotation_is_right(value, stated, stated_text)
    return StepChecks(checked=checked, unparsable=unparsable, wrong=wrong)


# ---------------------------------------------------------------- the task


class GSM8KTask(BenchmarkTask):
    name = "gsm8k"
    default_fewshot = 8  # the paper: 8-shot for GSM8K
    grader_version = "gsm8k-flexible+strict+annotations/2"
    stop = ("\n\nQuestion:", "Question:")
    grading_modes = ("flexible", "strict")  # lm-eval's "flexible-extract" and "strict-match"; the first is default

    def __init__(self, config: TaskConfig):
        super().__init__(config)
        self.grading = grading_mode(self.name, self.grading_modes, config.grading)

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
        answers = {mode: ANSWER_EXTRACTORS[mode](text) for mode in self.grading_modes}
        by_mode = {mode: same_number(answer, problem.answer) for mode, answer in answers.items()}
        checks = check_annotations(text)
        steps_ok = None if checks.checked == 0 else checks.wrong == 0
        return Grade(answer=answers[self.grading], correct=by_mode[self.grading], steps_ok=steps_ok,
                     by_mode=by_mode, checks=checks)
