"""Data quality of an arm's samples: coverage, diversity, false-positive rate and their companions, by budget
level and by difficulty, beside a guessing baseline and under every grading mode (the filter stage's record).

A problem's samples are a list of `Graded` in sample-index order; "@k" means over the first k of them, which (by
the nested-budget property of the sampler) is exactly what a k-sample budget would have drawn.

    record = data_record(problems, by_problem, graded, grades, parameters, ...)   # -> records.DataRecord
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from statistics import mean
from typing import Sequence

from computematch.budget import generated_flops
from computematch.measure.records import (DataQuality, DataRecord, Grading, GuessingBaseline, GuessingReference,
                                          ModeQuality, StepChecks, VariantSummary)


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


def data_quality(problems: Sequence[Samples], k: int, flops: float | None = None) -> DataQuality:
    """Every data metric at budget level k (with the measured sampling FLOPs of those k samples, when given)."""
    return DataQuality(coverage=coverage_at_k(problems, k), diversity=diversity_at_k(problems, k),
                       verified_diversity=diversity_at_k(problems, k, verified_only=True),
                       fpr=false_positive_rate(problems, k), extraction_failure_rate=extraction_failure_rate(problems, k),
                       sample_accuracy=sample_accuracy(problems, k), problems=len(problems),
                       samples=sum(min(k, len(samples)) for samples in problems), flops=flops)


def by_grading_mode(problems: list, graded: dict, grades: dict, k: int) -> dict[str, ModeQuality]:
    """Coverage, diversity and sample accuracy under each grading mode the task offers, side by side."""
    modes = sorted({mode for per_problem in grades.values() for g in per_problem for mode in g.by_mode})
    report = {}
    for mode in modes:
        rows = [[replace(s, correct=g.by_mode[mode]) for s, g in zip(graded[p.id], grades[p.id])] for p in problems]
        report[mode] = ModeQuality(coverage=coverage_at_k(rows, k), diversity=diversity_at_k(rows, k),
                                   sample_accuracy=sample_accuracy(rows, k),
                                   correct=sum(s.correct for r in rows for s in r))
    return report


def step_check_totals(grades: dict) -> StepChecks | None:
    """Totals of a partial step checker's counts (GSM8K's annotations); None when the task has none."""
    checks = [g.checks for per_problem in grades.values() for g in per_problem if g.checks is not None]
    if not checks:
        return None
    return StepChecks(checked=sum(c.checked for c in checks), unparsable=sum(c.unparsable for c in checks),
                      wrong=sum(c.wrong for c in checks), samples_with_checks=sum(c.checked > 0 for c in checks))


def most_common_answers(problems: list) -> dict[int, str]:
    """The most frequent gold answer of each difficulty level (ties: the first seen): a guesser's best answer."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for problem in problems:
        counts[problem.difficulty][problem.answer] += 1
    return {level: counter.most_common(1)[0][0] for level, counter in counts.items()}


def guessing_hits(problems: list, guesses: dict[int, str]) -> tuple[float, dict[str, float]]:
    """Coverage of a guesser that always states the most common answer of the problem's level, learned from other
    problems (the pretraining corpus): it needs no reasoning, so coverage near it is luck, not skill."""
    by_level = defaultdict(list)
    for problem in problems:
        by_level[problem.difficulty].append(problem.answer == guesses.get(problem.difficulty))
    return (mean(hit for hits in by_level.values() for hit in hits),
            {str(level): mean(hits) for level, hits in sorted(by_level.items())})


def guessing_baseline(problems: list, guess_from: list | None) -> GuessingBaseline:
    """The guesser's coverage of `problems` (what coverage is compared with) and, with `guess_from` (the corpus,
    thousands of problems), its hit rate there too: the world's guessability, free of the noise of ~80 problems
    a level (in-sample, so if anything it flatters the guesser)."""
    guesses = most_common_answers(guess_from or problems)
    coverage, levels = guessing_hits(problems, guesses)
    reference = None
    if guess_from:
        ref_coverage, ref_levels = guessing_hits(guess_from, guesses)
        reference = GuessingReference(split="corpus", problems=len(guess_from), coverage=ref_coverage,
                                      by_difficulty=ref_levels)
    return GuessingBaseline(coverage=coverage, by_difficulty=levels, reference=reference)


def data_record(problems: list, by_problem: dict[str, list[dict]], graded: dict[str, list[Graded]], grades: dict,
                parameters: int, variants: dict[str, tuple[int, int]], kept: int, duplicates: int, dedup: bool,
                grading: str | None, grader: dict, guess_from: list | None = None) -> DataRecord:
    """Every data metric of one arm: at the full budget, by budget level (with the measured FLOPs of the first k
    samples: 2·P per generated token) and by difficulty; its control variants (`variants`: name -> (samples per
    problem read, examples kept)); the guessing baseline and every grading mode."""
    budget = max(len(by_problem[p.id]) for p in problems)  # S; the adaptive arm: the most any problem took
    rows = [graded[p.id] for p in problems]
    counts: dict[int, list[int]] = defaultdict(list)
    for problem in problems:
        counts[problem.difficulty].append(len(by_problem[problem.id]))
    by_budget = {}
    for k in range(1, budget + 1):
        tokens = sum(r["completion_tokens"] for p in problems for r in by_problem[p.id][:k])
        by_budget[str(k)] = data_quality(rows, k, generated_flops(parameters, tokens))
    levels = sorted({p.difficulty for p in problems})
    by_difficulty = {str(level): data_quality([graded[p.id] for p in problems if p.difficulty == level], budget)
                     for level in levels}
    summaries = {}
    for variant, (k, examples) in variants.items():
        level, verified = by_budget[str(k)], variant == "verified"
        summaries[variant] = VariantSummary(samples_per_problem=k, examples=examples, coverage=level.coverage,
                                            fpr=0.0 if verified else level.fpr,
                                            diversity=level.verified_diversity if verified else level.diversity)
    full = by_budget[str(budget)]
    return DataRecord(
        coverage=full.coverage, coverage_at_1=by_budget["1"].coverage, diversity=full.diversity, fpr=full.fpr,
        flops=full.flops, samples_per_problem=budget, mean_samples_per_problem=mean(len(r) for r in rows),
        samples_by_difficulty={str(level): mean(n) for level, n in sorted(counts.items())},
        verified_diversity=full.verified_diversity, extraction_failure_rate=full.extraction_failure_rate,
        sample_accuracy=full.sample_accuracy, correct_samples=sum(g.correct for row in rows for g in row),
        parameters=parameters, by_budget=by_budget, by_difficulty=by_difficulty, variants=summaries,
        guessing_baseline=guessing_baseline(problems, guess_from), kept=kept, duplicates_dropped=duplicates,
        dedup=dedup, grading=Grading(mode=grading, by_mode=by_grading_mode(problems, graded, grades, budget)),
        step_checks=step_check_totals(grades), grader=grader)
