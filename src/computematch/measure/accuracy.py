"""Accuracy of a model on problems: unbiased pass@k, majority vote, greedy accuracy, overall and by difficulty.

    record = accuracy_scores(problems, sampled, greedy, maj_k=(4,))   # -> scores for an EvalRecord
    problems_for_standard_error(2.0, available=600)                   # 600: at most 2 points of pass@1
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from statistics import mean
from typing import Sequence

import numpy as np

from computematch.measure.records import AccuracyRow


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, Eq. 1; numerically stable form)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def problems_for_standard_error(standard_error: float, available: int) -> int:
    """The fewest problems whose pass@1 has a standard error of at most `standard_error` points, whatever the model:
    pass@1 is a mean over problems of each problem's mean correctness, a number in [0, 1] whose variance is at most
    1/4 (Popoviciu's inequality), so the mean of n has a standard error of at most 50/sqrt(n) points, however
    many samples each problem has. At most `available`."""
    return min(available, math.ceil((50 / standard_error) ** 2))


def standard_error_bound(problems: int) -> float:
    """The most a pass@1 over `problems` problems can have as standard error, in points (above): 50/sqrt(n)."""
    return 50 / math.sqrt(problems)


def evaluation_problems(problems: list, standard_error: float | None, seed: int) -> list:
    """The test problems an evaluation scores: all of them, or the `problems_for_standard_error` drawn at random
    with `seed` (the world's evaluation seed: every model of a world scores the same problems, so its
    differences are paired), kept in the split's order."""
    if standard_error is None:
        return problems
    chosen = set(random.Random(seed).sample(range(len(problems)), problems_for_standard_error(standard_error,
                                                                                               len(problems))))
    return [problem for index, problem in enumerate(problems) if index in chosen]


def majority_answer(answers: Sequence[str | None]) -> str | None:
    """The most frequent stated answer (ties: the one stated first); samples without an answer do not vote."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None
    top = max(votes.values())
    return next(a for a in answers if a is not None and votes[a] == top)


def by_level(problems: list) -> dict[str, list]:
    """Problems grouped by difficulty level, levels in order (keys as the metrics files write them)."""
    groups = defaultdict(list)
    for problem in problems:
        groups[problem.difficulty].append(problem)
    return {str(level): groups[level] for level in sorted(groups)}


def accuracy_by_difficulty(problems: list, correct: dict[str, bool]) -> dict:
    """Greedy accuracy overall and by level: {accuracy, by_difficulty, problems} (the checks that select models)."""
    return {"accuracy": mean(correct[p.id] for p in problems),
            "by_difficulty": {level: mean(correct[p.id] for p in subset) for level, subset in by_level(problems).items()},
            "problems": len(problems)}


def accuracy_scores(problems: list, sampled: dict[str, list], greedy: dict[str, object], maj_k) -> dict:
    """pass@1, greedy accuracy and maj@k over `problems` under the task's grading mode, by difficulty, and
    pass@1 / greedy under every mode the task offers (`by_grading`): the scores of an EvalRecord. `sampled` maps
    problem id -> list of Grade, `greedy` problem id -> Grade."""
    def correct(grade, mode):
        return grade.correct if mode is None else grade.by_mode[mode]

    def row(subset, mode=None) -> AccuracyRow:
        majority = {} if mode is not None else {
            str(k): mean(majority_answer([g.answer for g in sampled[p.id][:k]]) == p.answer for p in subset)
            for k in maj_k}
        return AccuracyRow(
            pass_at_1=mean(pass_at_k(len(sampled[p.id]), sum(correct(g, mode) for g in sampled[p.id]), 1)
                           for p in subset),
            greedy=mean(correct(greedy[p.id], mode) for p in subset), majority=majority)

    overall = row(problems)
    modes = sorted({mode for grades in sampled.values() for g in grades for mode in g.by_mode})
    return {"pass_at_1": overall.pass_at_1, "greedy": overall.greedy, "majority": overall.majority,
            "problems": len(problems),
            "by_difficulty": {level: row(subset) for level, subset in by_level(problems).items()},
            "by_grading": {mode: row(problems, mode) for mode in modes}}
