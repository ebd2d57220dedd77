"""Data-quality and accuracy metrics: small pure functions over graded samples, formulas cited.

A problem's samples are a list of `Graded` in sample-index order; "@k" means over the first k of them,
which (by the nested-budget property of the sampler) is exactly what a k-sample budget would have drawn.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from statistics import mean
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Graded:
    answer: str | None
    correct: bool
    steps_ok: bool | None  # None: the task has no exact step checker
    solution: str  # normalized text (tasks.base.normalize_solution): the identity of a solution

    @property
    def false_positive(self) -> bool:
        return self.correct and self.steps_ok is False


Samples = Sequence[Graded]


def coverage_at_k(problems: Sequence[Samples], k: int) -> float:
    """Share of problems with at least one correct answer among their first k samples (Bansal et al., Sec. 4)."""
    return mean(any(s.correct for s in samples[:k]) for samples in problems)


def diversity_at_k(problems: Sequence[Samples], k: int, verified_only: bool = False) -> float:
    """Mean number of unique correct solutions per problem among the first k samples, over all problems.

    "Unique" = distinct normalized text (whitespace collapsed). With `verified_only`, only solutions whose
    every step checks out count: the paper could not separate these from false positives.
    """
    def unique(samples: Samples) -> int:
        return len({s.solution for s in samples[:k] if s.correct and (not verified_only or s.steps_ok)})

    return mean(unique(samples) for samples in problems)


def false_positive_rate(problems: Sequence[Samples], k: int) -> float | None:
    """Share of final-answer-correct samples whose reasoning is wrong; None when nothing is correct or checkable."""
    checked = [s for samples in problems for s in samples[:k] if s.correct and s.steps_ok is not None]
    if not checked:
        return None
    return sum(s.false_positive for s in checked) / len(checked)


def extraction_failure_rate(problems: Sequence[Samples], k: int) -> float:
    """Share of samples that state no final answer at all."""
    flat = [s for samples in problems for s in samples[:k]]
    return sum(s.answer is None for s in flat) / len(flat)


def sample_accuracy(problems: Sequence[Samples], k: int) -> float:
    """Share of samples with the right final answer (the filter's yield)."""
    flat = [s for samples in problems for s in samples[:k]]
    return sum(s.correct for s in flat) / len(flat)


def data_quality(problems: Sequence[Samples], k: int) -> dict:
    """Every data metric at budget level k."""
    return {
        "coverage": coverage_at_k(problems, k),
        "diversity": diversity_at_k(problems, k),
        "verified_diversity": diversity_at_k(problems, k, verified_only=True),
        "fpr": false_positive_rate(problems, k),
        "extraction_failure_rate": extraction_failure_rate(problems, k),
        "sample_accuracy": sample_accuracy(problems, k),
        "problems": len(problems),
        "samples": sum(min(k, len(samples)) for samples in problems),
    }


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, Eq. 1; numerically stable form)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority_answer(answers: Sequence[str | None]) -> str | None:
    """The most frequent stated answer (ties: the one stated first); samples without an answer do not vote."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None
    top = max(votes.values())
    return next(a for a in answers if a is not None and votes[a] == top)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% confidence interval of a proportion (Wilson 1927); sound at small n and at 0 or n successes."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)
    return (max(0.0, low), min(1.0, high))  # clamp float round-off at 0 and n successes


# Two-sided 95% quantiles of Student's t distribution by degrees of freedom (any statistics table, e.g.
# NIST/SEMATECH e-Handbook of Statistical Methods, Table 1.3.6.7.2); the normal 1.96 beyond 30.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042}


def t_quantile_975(degrees: int) -> float:
    if degrees in T_975:
        return T_975[degrees]
    return next((T_975[d] for d in sorted(T_975) if d >= degrees), 1.96)  # conservative between table rows


def world_interval(values: Sequence[float]) -> dict:
    """Mean over worlds (independent draws of everything random) and its 95% t-interval (Student 1908):
    mean ± t(0.975, n-1) · s / √n. With one world there is no interval (low and high None). For paired WC − SE
    gains pass the per-world differences; a world's several finetuning seeds are averaged before they get here."""
    n = len(values)
    centre = mean(values)
    if n < 2:
        return {"mean": centre, "low": None, "high": None, "worlds": n}
    spread = t_quantile_975(n - 1) * math.sqrt(sum((v - centre) ** 2 for v in values) / (n - 1)) / math.sqrt(n)
    return {"mean": centre, "low": centre - spread, "high": centre + spread, "worlds": n}


def interval_verdict(interval: dict, expected_sign: int) -> str:
    """'agrees' / 'disagrees' with the paper only when the interval excludes 0 in its direction / the other; 'tie'
    otherwise (and with one world: no interval, no verdict). Without a claim (sign 0): which data won, or 'tie'."""
    low, high = interval["low"], interval["high"]
    if low is None:
        return "tie (one world: no interval)"
    if low <= 0 <= high:
        return "tie"
    sign = 1 if low > 0 else -1
    if expected_sign == 0:
        return "WC data better" if sign > 0 else "SE data better"
    return "agrees" if sign == expected_sign else "disagrees"
