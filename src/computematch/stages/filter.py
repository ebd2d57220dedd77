"""Stage `filter`: keep samples with the right final answer; measure the data at every budget level.

    computematch filter wc     # writes data/filter/wc.jsonl and metrics/data/wc.json

The SFT dataset holds `prompt`/`completion` records (every final-answer-correct sample, false positives
included, as in the paper). Metrics at each budget level k = 1..S read the first k samples per problem,
which is what a k-sample run would have drawn (nested budgets).
"""

from __future__ import annotations

from collections import defaultdict

from computematch import __version__, paths
from computematch.budget import flops_per_token
from computematch.config import ConfigError, Params
from computematch.io import read_jsonl, write_json, write_jsonl
from computematch.metrics import Graded, data_quality
from computematch.stages.prepare import read_split
from computematch.stages.sample import budget_parameters, check_arm
from computematch.tasks import Problem, Task, get_task, normalize_solution


def group_samples(problems: list[Problem], samples: list[dict]) -> dict[str, list[dict]]:
    """Samples per problem id in sample-index order; every problem must have the same count."""
    by_problem: dict[str, list[dict]] = defaultdict(list)
    known = {p.id for p in problems}
    for record in samples:
        if record["problem_id"] not in known:
            raise ConfigError(f"sample for unknown problem {record['problem_id']!r}: samples and splits disagree (rerun sample)")
        by_problem[record["problem_id"]].append(record)
    counts = {len(by_problem[p.id]) for p in problems}
    if len(counts) != 1:
        raise ConfigError(f"samples per problem differ ({sorted(counts)}): the samples file is incomplete (rerun sample)")
    for records in by_problem.values():
        records.sort(key=lambda r: r["sample_index"])
    return by_problem


def grade_all(task: Task, problems: list[Problem], by_problem: dict[str, list[dict]]) -> dict[str, list[Graded]]:
    graded = {}
    for problem in problems:
        graded[problem.id] = []
        for record in by_problem[problem.id]:
            grade = task.grade(problem, record["completion"])
            graded[problem.id].append(Graded(grade.answer, grade.correct, grade.steps_ok,
                                             normalize_solution(record["completion"])))
    return graded


def data_report(problems: list[Problem], by_problem: dict[str, list[dict]], graded: dict[str, list[Graded]],
                parameters: int) -> dict:
    """Top-level metrics at the full budget, and the detail per budget level and per difficulty."""
    budget = len(by_problem[problems[0].id])
    rows = [graded[p.id] for p in problems]
    by_budget = {}
    for k in range(1, budget + 1):
        tokens = sum(r["completion_tokens"] for p in problems for r in by_problem[p.id][:k])
        by_budget[str(k)] = {**data_quality(rows, k), "flops": float(flops_per_token(parameters) * tokens)}
    by_difficulty = {}
    for level in sorted({p.difficulty for p in problems}):
        level_rows = [graded[p.id] for p in problems if p.difficulty == level]
        by_difficulty[str(level)] = data_quality(level_rows, budget)
    full = by_budget[str(budget)]
    return {
        "coverage": full["coverage"], "diversity": full["diversity"], "fpr": full["fpr"], "flops": full["flops"],
        "samples_per_problem": budget, "verified_diversity": full["verified_diversity"],
        "extraction_failure_rate": full["extraction_failure_rate"], "sample_accuracy": full["sample_accuracy"],
        "kept": sum(g.correct for row in rows for g in row), "parameters": parameters,
        "by_budget": by_budget, "by_difficulty": by_difficulty,
    }


def main(params: Params, arm: str) -> None:
    from computematch.tracking import stage_run

    check_arm(arm)
    task, problems = get_task(params.task), read_split("train")
    samples = read_jsonl(paths.samples_file(arm))
    with stage_run(params, f"filter@{arm}") as tracker:
        by_problem = group_samples(problems, samples)
        graded = grade_all(task, problems, by_problem)
        report = data_report(problems, by_problem, graded, budget_parameters(params, arm))
        report["grader"] = {"task": task.name, "version": task.grader_version, "computematch": __version__}
        kept = [{"prompt": task.prompt(p), "completion": record["completion"], "problem_id": p.id,
                 "sample_index": record["sample_index"], "difficulty": p.difficulty, "steps_ok": grade.steps_ok}
                for p in problems for record, grade in zip(by_problem[p.id], graded[p.id]) if grade.correct]
        write_jsonl(paths.sft_file(arm), kept)
        write_json(paths.metrics_file("data", arm), report)
        top = {k: report[k] for k in ("coverage", "diversity", "verified_diversity", "fpr", "flops",
                                      "samples_per_problem", "extraction_failure_rate", "kept")}
        tracker.log_metrics({f"{arm}.{k}": v for k, v in top.items() if v is not None}, summary=True)
        for k, level in report["by_budget"].items():
            tracker.log_metrics({f"{key}_at_k": value for key, value in level.items() if value is not None}, step=int(k))
        tracker.log_artifact(paths.metrics_file("data", arm))
        fpr = "n/a" if report["fpr"] is None else f"{report['fpr']:.3f}"
        print(f"filter@{arm}: kept {len(kept)} of {len(samples)}; coverage {report['coverage']:.3f}, "
              f"diversity {report['diversity']:.2f}, FPR {fpr}")
