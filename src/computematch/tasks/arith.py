"""The built-in task: multi-step arithmetic on small numbers, evaluated left to right, every step checkable.

    Q: 17+8-9+3=?
    A: 17+8=25. 25-9=16. 16+3=19. #### 19

The start and every running value lie in 0..task.max_value (default 39); each step applies one of
task.operators (default `+-`) with a one-digit operand. Difficulty is the number of steps. `+` and `*` steps
may be written with their operands commuted (`8+17=25`), so one problem has several correct solutions and
"unique solutions" means something. The step verifier parses text with regular expressions; it never evaluates it.

Why this world (docs/calibration.md): answers must be hard to hit by luck, or a model that cannot do the steps
"solves" long chains anyway and the false-positive rate is mostly guessing. In the single-digit world
(max_value 9, operators `+-*`, identity steps) the most common answer of a level is right ~20% of the time;
here it is right ~3% of the time (`guessing_baseline` in metrics/data/*.json), while the arithmetic facts stay few
enough for a tiny model to learn in a minute. Identity steps (`+0`, `-0`, `*1`) are left out by default: they
change nothing, so skipping one would be a free false positive and a bias towards the running value.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from computematch.errors import ConfigError

from computematch.config import TaskConfig
from computematch.tasks.base import Grade, Problem, grading_mode

DIGITS = range(10)  # the operands
COMMUTATIVE = "+*"
# A completion longer than this is graded on its first MAX_CHARS characters only: a runaway generation can
# neither slow the verifier down nor hide a correct answer far from where a solution ends.
MAX_CHARS = 2000
MAX_REDRAWS = 20000

# A question is a start of 1 to 3 digits (max_value <= 999), then operator-digit pairs.
_QUESTION = re.compile(r"Q: (\d{1,3})((?:[+\-*]\d)+)=\?")
# A step is `x op y=z`, spaces ignored. Numbers are bounded in length so nothing is ever huge.
_STEP = re.compile(r"(\d{1,3})([+\-*])(\d{1,3})=(\d{1,4})")
# The final answer, as in GSM8K: the first '#### N' (strict). Leading zeros are allowed and ignored.
_FINAL = re.compile(r"####[ \t]*(-?\d{1,18})")


def _apply(left: int, operator: str, right: int) -> int:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    return left * right


def _operands_in_range(left: int, operator: str, max_value: int, identity_steps: bool) -> list[int]:
    """Digits that keep the result of `left operator right` in 0..max_value.

    Never `*0`: it would erase every earlier step and make 0 the answer to over a third of long chains,
    so that guessing would solve them. Without identity steps, never a step that leaves the value unchanged.
    """
    return [right for right in DIGITS
            if 0 <= _apply(left, operator, right) <= max_value and not (operator == "*" and right == 0)
            and (identity_steps or _apply(left, operator, right) != left)]


@dataclass(frozen=True)
class Chain:
    start: int
    steps: tuple[tuple[str, int], ...]  # (operator, right operand), applied left to right

    @property
    def expression(self) -> str:
        return str(self.start) + "".join(f"{op}{right}" for op, right in self.steps)

    def values(self) -> list[int]:
        """The running value after each step."""
        values, value = [], self.start
        for operator, right in self.steps:
            value = _apply(value, operator, right)
            values.append(value)
        return values

    def solution(self, rng: random.Random | None = None) -> str:
        """A worked solution; with `rng`, each commutative step is written either way round."""
        lines, value = [], self.start
        for (operator, right), result in zip(self.steps, self.values()):
            left_text, right_text = value, right
            if rng is not None and operator in COMMUTATIVE and rng.random() < 0.5:
                left_text, right_text = right, value
            lines.append(f"{left_text}{operator}{right_text}={result}.")
            value = result
        return " ".join(lines) + f" #### {value}"

    @classmethod
    def parse(cls, question: str) -> "Chain":
        match = _QUESTION.fullmatch(question.strip())
        if match is None:
            raise ValueError(f"not an arith question: {question[:60]!r}")
        start, pairs = match.groups()
        return cls(int(start), tuple((pairs[i], int(pairs[i + 1])) for i in range(0, len(pairs), 2)))


def random_chain(rng: random.Random, length: int, max_value: int, operators: str, identity_steps: bool) -> Chain:
    """A start drawn uniformly from 0..max_value, then `length` steps, each drawn uniformly among the (operator,
    operand) pairs that keep the running value in range.

    Uniform over pairs rather than operator first: from 0 or max_value only one operator is possible, and
    forcing it half the time would pile answers up at the ends of the range; over pairs the running value is
    a random walk whose end is spread almost evenly (the most common answer of a level is right ~3% of the
    time with the defaults; tests/test_arith.py).
    """
    start = rng.choice(range(max_value + 1))
    steps, value = [], start
    for _ in range(length):
        pairs = [(op, right) for op in operators for right in _operands_in_range(value, op, max_value, identity_steps)]
        if not pairs:  # only possible for operators '*' alone from 0 without identity steps
            raise ConfigError(f"task.operators: {operators!r} leaves no step from {value}; add + or -")
        operator, right = rng.choice(pairs)
        steps.append((operator, right))
        value = _apply(value, operator, right)
    return Chain(start, tuple(steps))


def check_steps(chain: Chain, body: str) -> bool:
    """True iff `body` (the text before '####') states exactly the chain's steps, each one right.

    Each step must combine the running value with the next operand (either order for + and *, the
    question's order for -) by the question's operator, and state the right result.
    """
    stated = [part.replace(" ", "") for part in body.split(".") if part.strip()]
    if len(stated) != len(chain.steps):
        return False
    value = chain.start
    for text, (operator, right), result in zip(stated, chain.steps, chain.values()):
        match = _STEP.fullmatch(text)
        if match is None or match.group(2) != operator or int(match.group(4)) != result:
            return False
        operands = (int(match.group(1)), int(match.group(3)))
        allowed = {(value, right), (right, value)} if operator in COMMUTATIVE else {(value, right)}
        if operands not in allowed:
            return False
        value = result
    return True


class ArithTask:
    name = "arith"
    grader_version = "arith-step-verifier/2"  # bump when grading or step checking changes (2: multi-digit starts)
    stop: tuple[str, ...] = ()  # built-in models end with their end-of-sequence token
    grading_modes = ("strict",)  # the first '#### N': every solution of this task is written that way

    def __init__(self, config: TaskConfig):
        self.config = config
        self.grading = grading_mode(self.name, self.grading_modes, config.grading)

    # ------------------------------------------------------------ problems

    def _random_chain(self, rng: random.Random, level: int) -> Chain:
        config = self.config
        return random_chain(rng, level, config.max_value, config.operators, config.identity_steps)

    def _draw_split(self, split: str, size: int, taken: set[str]) -> list[Problem]:
        rng = random.Random(f"arith/{self.config.seed}/{split}")
        levels = self.config.levels
        problems = []
        for index in range(size):
            level = levels[index % len(levels)]  # splits are balanced over the difficulty levels
            for _ in range(MAX_REDRAWS):
                chain = self._random_chain(rng, level)
                question = f"Q: {chain.expression}=?"
                if question not in taken:
                    break
            else:
                raise ConfigError(
                    f"task.levels: level {level} has too few distinct problems for the split sizes; "
                    "lower task.*_size or drop the level"
                )
            taken.add(question)
            answer = str(chain.values()[-1])
            problems.append(Problem(f"{split}-{index:05d}", question, answer, chain.solution(), level))
        return problems

    def _draw_corpus(self, excluded: set[str]) -> list[Problem]:
        """Pretraining text for built-in models: gold solutions in mixed step styles, no split problem."""
        rng = random.Random(f"arith/{self.config.seed}/corpus")
        problems = []
        while len(problems) < self.config.corpus_size:
            level = rng.choices(self.config.levels, weights=self.config.corpus_weights)[0]
            chain = self._random_chain(rng, level)
            question = f"Q: {chain.expression}=?"
            if question in excluded:
                continue
            answer = str(chain.values()[-1])
            problems.append(Problem(f"corpus-{len(problems):06d}", question, answer, chain.solution(rng), level))
        return problems

    def make_splits(self) -> dict[str, list[Problem]]:
        taken: set[str] = set()
        splits = {}
        # Test first, so that growing the train split never changes the test problems.
        for split in ("test", "val", "train"):
            splits[split] = self._draw_split(split, getattr(self.config, f"{split}_size"), taken)
        splits["corpus"] = self._draw_corpus(taken)
        return splits

    # ------------------------------------------------------------ prompting and grading

    def prompt(self, problem: Problem) -> str:
        return f"{problem.question}\nA: "

    def grade(self, problem: Problem, completion: str) -> Grade:
        text = completion[:MAX_CHARS]
        final = _FINAL.search(text)
        if final is None:
            return Grade(answer=None, correct=False, steps_ok=False, by_mode={"strict": False})
        answer = str(int(final.group(1)))
        correct = answer == problem.answer
        chain = Chain.parse(problem.question)
        steps_ok = check_steps(chain, text[: final.start()]) and int(answer) == chain.values()[-1]
        return Grade(answer=answer, correct=correct, steps_ok=steps_ok, by_mode={"strict": correct})
