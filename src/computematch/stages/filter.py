"""Stage `filter`: keep samples with the right final answer; measure the data at every budget level.

    computematch filter wc     # writes data/filter/wc.jsonl and metrics/data/wc.json

The SFT dataset holds `prompt`/`completion` records: every sample whose final answer is right under the
task's grading mode (task.grading), false positives included, as in the paper; with `filter.dedup` one copy
of each solution per problem (the same "unique" as diversity). Metrics at each budget level k = 1..S read the
first k samples per problem, which is what a k-sample run would have drawn (nested budgets); they are also
given under every grading mode the task offers, side by side.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from statistics import mean

from computematch import paths
from computematch.budget import card_parameters, generated_flops, matched_level
from computematch.config import Params, world_name
from computematch.errors import BadInputError
from computematch.io import read_json, read_jsonl, write_json, write_jsonl
from computematch.metrics import Graded, coverage_at_k, data_quality, diversity_at_k, sample_accuracy
from computematch.models import load_card
from computematch.provenance import GRADING_LIBRARIES, environment
from computematch.splits import load_task, read_split
from computematch.tasks import Problem, Task, normalize_solution
from computematch.tracking import stage_run

RECORD_FIELDS = {"problem_id": str, "sample_index": int, "completion": str, "completion_tokens": int}


def check_record(record, where: str) -> None:
    """A sample record has the fields filter reads, of the right types (one line naming the file and line if not)."""
    if not isinstance(record, dict):
        raise BadInputError(f"{where}: a sample record must be a JSON object, got {type(record).__name__}")
    for name, kind in RECORD_FIELDS.items():
        value = record.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BadInputError(f"{where}: field {name!r} must be {kind.__name__}, got {value!r:.60}")
    if record["sample_index"] < 0 or record["completion_tokens"] < 0:
        raise BadInputError(f"{where}: sample_index and completion_tokens must be non-negative")


def group_samples(problems: list[Problem], samples: list, samples_per_problem: int,
                  source: str = "samples") -> dict[str, list[dict]]:
    """Samples per problem id in sample-index order: exactly indices 0..S-1 for every problem, each once."""
    if not samples:
        raise BadInputError(f"{source}: no samples (rerun `dvc repro sample`)")
    known = {p.id for p in problems}
    by_problem: dict[str, dict[int, dict]] = defaultdict(dict)
    for line, record in enumerate(samples, start=1):
        where = f"{source}:{line}"
        check_record(record, where)
        problem_id, index = record["problem_id"], record["sample_index"]
        if problem_id not in known:
            raise BadInputError(f"{where}: sample for unknown problem {problem_id!r}: samples and splits disagree "
                                "(rerun sample)")
        if index >= samples_per_problem:
            raise BadInputError(f"{where}: sample index {index} of {problem_id} is beyond the budget "
                                f"(S = {samples_per_problem})")
        if index in by_problem[problem_id]:
            raise BadInputError(f"{where}: duplicate sample {index} of {problem_id} (was the file written twice?)")
        by_problem[problem_id][index] = record
    incomplete = [p.id for p in problems if len(by_problem[p.id]) != samples_per_problem]
    if incomplete:
        raise BadInputError(f"{source}: {len(incomplete)} problems lack some of their {samples_per_problem} samples "
                            f"(first: {incomplete[0]}); the samples file is incomplete (rerun sample)")
    return {p.id: [by_problem[p.id][i] for i in range(samples_per_problem)] for p in problems}


def grade_all(task: Task, problems: list[Problem], by_problem: dict[str, list[dict]]):
    """(Graded per problem under the selected mode, the raw task Grades per problem)."""
    graded, grades = {}, {}
    for problem in problems:
        grades[problem.id] = [task.grade(problem, record["completion"]) for record in by_problem[problem.id]]
        graded[problem.id] = [Graded(g.answer, g.correct, g.steps_ok, normalize_solution(r["completion"]))
                              for g, r in zip(grades[problem.id], by_problem[problem.id])]
    return graded, grades


def by_grading_mode(problems: list[Problem], graded: dict, grades: dict, k: int) -> dict:
    """Coverage, diversity and sample accuracy under each grading mode the task offers, side by side."""
    modes = sorted({mode for per_problem in grades.values() for g in per_problem for mode in g.by_mode})
    report = {}
    for mode in modes:
        rows = [[replace(s, correct=g.by_mode[mode]) for s, g in zip(graded[p.id], grades[p.id])] for p in problems]
        report[mode] = {"coverage": coverage_at_k(rows, k), "diversity": diversity_at_k(rows, k),
                        "sample_accuracy": sample_accuracy(rows, k), "correct": sum(s.correct for r in rows for s in r)}
    return report


def step_check_totals(grades: dict) -> dict | None:
    """Totals of a partial step checker's counts (GSM8K's annotations); None when the task has none."""
    checks = [g.checks for per_problem in grades.values() for g in per_problem if g.checks is not None]
    if not checks:
        return None
    return {"checked": sum(c.checked for c in checks), "unparsable": sum(c.unparsable for c in checks),
            "wrong": sum(c.wrong for c in checks), "samples_with_checks": sum(c.checked > 0 for c in checks)}


def sft_records(task: Task, problems: list[Problem], by_problem: dict, graded: dict, dedup: bool,
                k: int | None = None, verified_only: bool = False) -> tuple[list, int]:
    """The right-answer samples among the first k per problem as prompt/completion records (only step-verified
    ones with `verified_only`), and how many duplicates `dedup` dropped."""
    kept, duplicates = [], 0
    for problem in problems:
        seen = set()
        for record, grade in list(zip(by_problem[problem.id], graded[problem.id]))[:k]:
            if not grade.correct or (verified_only and grade.steps_ok is not True):
                continue
            if dedup and grade.solution in seen:
                duplicates += 1
                continue
            seen.add(grade.solution)
            kept.append({"prompt": task.prompt(problem), "completion": record["completion"], "problem_id": problem.id,
                         "sample_index": record["sample_index"], "difficulty": problem.difficulty,
                         "steps_ok": grade.steps_ok})
    return kept, duplicates


def data_report(problems: list[Problem], by_problem: dict[str, list[dict]], graded: dict[str, list[Graded]],
                parameters: int) -> dict:
    """Top-level metrics at the full budget, and the detail per budget level and per difficulty."""
    budget = len(by_problem[problems[0].id])
    rows = [graded[p.id] for p in problems]
    by_budget = {}
    for k in range(1, budget + 1):
        tokens = sum(r["completion_tokens"] for p in problems for r in by_problem[p.id][:k])
        by_budget[str(k)] = {**data_quality(rows, k), "flops": generated_flops(parameters, tokens)}
    by_difficulty = {}
    for level in sorted({p.difficulty for p in problems}):
        level_rows = [graded[p.id] for p in problems if p.difficulty == level]
        by_difficulty[str(level)] = data_quality(level_rows, budget)
    full = by_budget[str(budget)]
    return {
        "coverage": full["coverage"], "diversity": full["diversity"], "fpr": full["fpr"], "flops": full["flops"],
        "samples_per_problem": budget, "verified_diversity": full["verified_diversity"],
        "extraction_failure_rate": full["extraction_failure_rate"], "sample_accuracy": full["sample_accuracy"],
        "correct_samples": sum(g.correct for row in rows for g in row), "parameters": parameters,
        "by_budget": by_budget, "by_difficulty": by_difficulty,
    }


def variant_levels(arm: str, samples_per_problem: int, se_samples: int) -> dict[str, int]:
    """Samples per problem each control variant reads (config.VARIANTS): `matched`, S_SE (the paper's equal-count
    ablation); `low`, the paper's low budget (SE's first sample, or the WC level that costs the same)."""
    low = 1 if arm == "se" else matched_level(1, se_samples, samples_per_problem)
    return {"verified": samples_per_problem, "matched": min(se_samples, samples_per_problem),
            "low": min(low, samples_per_problem)}


def most_common_answers(problems: list[Problem]) -> dict[int, str]:
    """The most frequent gold answer of each difficulty level (ties: the first seen): a guesser's best answer."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for problem in problems:
        counts[problem.difficulty][problem.answer] += 1
    return {level: counter.most_common(1)[0][0] for level, counter in counts.items()}


def guessing_baseline(problems: list[Problem], guesses: dict[int, str]) -> dict:
    """Coverage of a guesser that always states the most common answer of the problem's level, learned from other
    problems (the pretraining corpus): it needs no reasoning, so coverage near it is luck, not skill."""
    by_level = defaultdict(list)
    for problem in problems:
        by_level[problem.difficulty].append(problem.answer == guesses.get(problem.difficulty))
    return {"coverage": mean(hit for hits in by_level.values() for hit in hits),
            "by_difficulty": {str(level): mean(hits) for level, hits in sorted(by_level.items())}}


def guessing_report(problems: list[Problem], guess_from: list[Problem] | None) -> dict:
    """The guesser's coverage of `problems` (what coverage is compared with) and, with `guess_from` (the corpus,
    thousands of problems), its hit rate there too: the world's guessability, free of the noise of ~80 problems
    a level (in-sample, so if anything it flatters the guesser)."""
    guesses = most_common_answers(guess_from or problems)
    report = guessing_baseline(problems, guesses)
    if guess_from:
        reference = guessing_baseline(guess_from, guesses)
        report["reference"] = {"split": "corpus", "problems": len(guess_from), **reference}
    return report


def filter_samples(task: Task, problems: list[Problem], samples: list, samples_per_problem: int, parameters: int,
                   dedup: bool, source: str = "samples", arm: str = "wc", se_samples: int | None = None,
                   guess_from: list[Problem] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """The pure core: ({'': SFT records, 'verified': ..., 'matched': ..., 'low': ...}, data metrics) of one arm.
    `guess_from`: the problems the guesser learns each level's most common answer from (default: `problems`)."""
    by_problem = group_samples(problems, samples, samples_per_problem, source)
    graded, grades = grade_all(task, problems, by_problem)
    report = data_report(problems, by_problem, graded, parameters)
    kept, duplicates = sft_records(task, problems, by_problem, graded, dedup)
    datasets, variants = {"": kept}, {}
    for variant, k in variant_levels(arm, samples_per_problem, se_samples or samples_per_problem).items():
        datasets[variant], _ = sft_records(task, problems, by_problem, graded, dedup, k, variant == "verified")
        level = report["by_budget"][str(k)]
        variants[variant] = {"samples_per_problem": k, "examples": len(datasets[variant]),
                             "coverage": level["coverage"], "fpr": 0.0 if variant == "verified" else level["fpr"],
                             "diversity": level["verified_diversity" if variant == "verified" else "diversity"]}
    report.update({
        "variants": variants,
        "guessing_baseline": guessing_report(problems, guess_from),
        "kept": len(kept), "duplicates_dropped": duplicates, "dedup": dedup,
        "grading": {"mode": task.grading, "by_mode": by_grading_mode(problems, graded, grades, samples_per_problem)},
        "step_checks": step_check_totals(grades),
        "grader": {"task": task.name, "version": task.grader_version},
    })
    return datasets, report


def sft_metrics(report: dict, variant: str) -> dict:
    """What metrics/sft/DATA.json says about one data source: the finetuning stages tag their models with it."""
    if variant:
        return {"variant": variant, **report["variants"][variant]}
    return {"variant": "full", "samples_per_problem": report["samples_per_problem"], "examples": report["kept"],
            **{key: report[key] for key in ("coverage", "diversity", "fpr")}}


def main(params: Params, arm: str, world: int) -> None:
    task, problems = load_task(params.task), read_split("train")
    samples, corpus = read_jsonl(paths.samples_file(arm, world)), read_split("corpus")
    planned = read_json(paths.metrics_file("sample", arm, world))["samples_per_problem"]
    decontamination = read_json(paths.PREPARE_METRICS)["decontamination"]
    parameters = card_parameters(load_card(paths.base_model_dir(arm, world)), params.budget.param_count)
    name = f"filter@{arm}/{world_name(world)}"
    with stage_run(params, name, tags={"world": world, "arm": arm, "data": arm}) as tracker:
        datasets, report = filter_samples(task, problems, samples, planned, parameters, params.filter.dedup,
                                          str(paths.samples_file(arm, world)), arm, params.budget.se_samples,
                                          corpus or None)
        report["decontamination"] = {"ngram": decontamination["ngram"], "dropped": decontamination["dropped"]}
        report["environment"] = environment(libraries=GRADING_LIBRARIES)
        for variant, records in datasets.items():
            source = f"{arm}-{variant}" if variant else arm
            write_jsonl(paths.sft_file(source, world), records)
            write_json(paths.metrics_file("sft", source, world), sft_metrics(report, variant))
        write_json(paths.metrics_file("data", arm, world), report)
        top = {k: report[k] for k in ("coverage", "diversity", "verified_diversity", "fpr", "flops",
                                      "samples_per_problem", "extraction_failure_rate", "kept", "duplicates_dropped")}
        tracker.log_metrics({k: v for k, v in top.items() if v is not None})
        for k, level in report["by_budget"].items():
            tracker.log_metrics({f"{key}_at_k": value for key, value in level.items() if value is not None}, step=int(k))
        tracker.log_artifact(paths.metrics_file("data", arm, world))
        fpr = "n/a" if report["fpr"] is None else f"{report['fpr']:.3f}"
        print(f"{name}: kept {len(datasets[''])} of {len(samples)} ({report['duplicates_dropped']} duplicates "
              f"dropped); coverage {report['coverage']:.3f}, diversity {report['diversity']:.2f}, FPR {fpr}")
