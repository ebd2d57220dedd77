"""Stage `filter`: keep samples with the right final answer; measure the data at every budget level.

    computematch filter wc     # every world: data/filter/wc/world-W.jsonl, metrics/data/wc/world-W.json (--world W: one)

The SFT dataset holds `prompt`/`completion` records: every sample whose final answer is right under the
task's grading mode (task.grading), false positives included, as in the paper; with `filter.dedup` one copy
of each solution per problem (the same "unique" as diversity). Metrics at each budget level k = 1..S read the
first k samples per problem, which is what a k-sample run would have drawn (nested budgets); they are also
given under every grading mode the task offers, side by side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from computematch import paths
from computematch.budget import card_parameters, matched_level
from computematch.names import ADAPTIVE, arm_of, world_name
from computematch.config import Params
from computematch.errors import BadInputError
from computematch.io import read_jsonl, write_jsonl
from computematch.measure.codec import to_json
from computematch.measure.quality import Graded, data_record
from computematch.measure.records import DataRecord, PrepareRecord, SampleRecord, SftRecord, read_record, write_record
from computematch.models import load_card
from computematch.provenance import GRADING_LIBRARIES, environment
from computematch.splits import load_task, read_split
from computematch.tasks import Problem, Task, normalize_solution
from computematch.tracking import data_tags, stage_run

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


def group_samples(problems: list[Problem], samples: list, samples_per_problem: int | None,
                  source: str = "samples") -> dict[str, list[dict]]:
    """Samples per problem id in sample-index order: exactly indices 0..S-1 for every problem, each once. With
    `samples_per_problem` None (the adaptive arm) each problem has its own count n, and indices 0..n-1."""
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
        if samples_per_problem is not None and index >= samples_per_problem:
            raise BadInputError(f"{where}: sample index {index} of {problem_id} is beyond the budget "
                                f"(S = {samples_per_problem})")
        if index in by_problem[problem_id]:
            raise BadInputError(f"{where}: duplicate sample {index} of {problem_id} (was the file written twice?)")
        by_problem[problem_id][index] = record
    counts = {p.id: len(by_problem[p.id]) if samples_per_problem is None else samples_per_problem for p in problems}
    incomplete = [p.id for p in problems if set(by_problem[p.id]) != set(range(counts[p.id]))]
    if incomplete:
        raise BadInputError(f"{source}: {len(incomplete)} problems lack some of their samples 0..n-1 (first: "
                            f"{incomplete[0]}); the samples file is incomplete (rerun the stage that wrote it)")
    return {p.id: [by_problem[p.id][i] for i in range(counts[p.id])] for p in problems}


def grade_all(task: Task, problems: list[Problem], by_problem: dict[str, list[dict]]):
    """(Graded per problem under the selected mode, the raw task Grades per problem)."""
    graded, grades = {}, {}
    for problem in problems:
        grades[problem.id] = [task.grade(problem, record["completion"]) for record in by_problem[problem.id]]
        graded[problem.id] = [Graded(g.answer, g.correct, g.steps_ok, normalize_solution(r["completion"]))
                              for g, r in zip(grades[problem.id], by_problem[problem.id])]
    return graded, grades


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


def variant_levels(arm: str, samples_per_problem: int, se_samples: int) -> dict[str, int]:
    """Samples per problem each control variant reads (config.VARIANTS): `matched`, S_SE (the paper's equal-count
    ablation); `low`, the paper's low budget (SE's first sample, or the WC level that costs the same)."""
    low = 1 if arm == "se" else matched_level(1, se_samples, samples_per_problem)
    return {"verified": samples_per_problem, "matched": min(se_samples, samples_per_problem),
            "low": min(low, samples_per_problem)}


def filter_samples(task: Task, problems: list[Problem], samples: list, samples_per_problem: int | None, parameters: int,
                   dedup: bool, source: str = "samples", arm: str = "wc", se_samples: int | None = None,
                   guess_from: list[Problem] | None = None) -> tuple[dict[str, list[dict]], DataRecord]:
    """The pure core: ({'': SFT records, 'verified': ..., 'matched': ..., 'low': ...}, the arm's data record); the
    adaptive arm (samples_per_problem None: each problem its own count) has no control variants.
    `guess_from`: the problems the guesser learns each level's most common answer from (default: `problems`)."""
    by_problem = group_samples(problems, samples, samples_per_problem, source)
    graded, grades = grade_all(task, problems, by_problem)
    kept, duplicates = sft_records(task, problems, by_problem, graded, dedup)
    datasets, variants = {"": kept}, {}
    levels = {} if samples_per_problem is None else variant_levels(arm, samples_per_problem,
                                                                     se_samples or samples_per_problem)
    for variant, k in levels.items():
        datasets[variant], _ = sft_records(task, problems, by_problem, graded, dedup, k, variant == "verified")
        variants[variant] = (k, len(datasets[variant]))
    record = data_record(problems, by_problem, graded, grades, parameters, variants, len(kept), duplicates, dedup,
                         task.grading, {"task": task.name, "version": task.grader_version}, guess_from)
    return datasets, record


def sft_record(data: DataRecord, variant: str) -> SftRecord:
    """What metrics/sft/DATA.json says about one data source: the finetuning stages tag their models with it."""
    if variant:
        summary = data.variants[variant]
        return SftRecord(variant=variant, samples_per_problem=summary.samples_per_problem, examples=summary.examples,
                         coverage=summary.coverage, diversity=summary.diversity, fpr=summary.fpr)
    return SftRecord(variant="full", samples_per_problem=data.samples_per_problem, examples=data.kept,
                     coverage=data.coverage, diversity=data.diversity, fpr=data.fpr)


def log_data_metrics(tracker, record: DataRecord) -> None:
    """The arm's data metrics under one MLflow key each, and each budget level's as a curve over k."""
    top = {k: getattr(record, k) for k in ("coverage", "diversity", "verified_diversity", "fpr", "flops",
                                           "samples_per_problem", "mean_samples_per_problem",
                                           "extraction_failure_rate", "kept", "duplicates_dropped")}
    tracker.log_metrics({k: v for k, v in top.items() if v is not None})
    for k, level in record.by_budget.items():
        tracker.log_metrics({f"{key}_at_k": value for key, value in to_json(level).items() if value is not None},
                            step=int(k))


def main(params: Params, arm: str, worlds: tuple[int, ...] = ()) -> None:
    """The arm's SFT data and data metrics in every world of the study (or `worlds`), one after another."""
    for world in dict.fromkeys(worlds or params.study.worlds):
        filter_world(params, arm, world)


def filter_world(params: Params, arm: str, world: int) -> None:
    task, problems = load_task(params.task), read_split("train")
    samples, corpus = read_jsonl(paths.samples_file(arm, world)), read_split("corpus")
    planned = (None if arm == ADAPTIVE  # each problem its own count
               else read_record(paths.metrics_file("sample", arm, world), SampleRecord).samples_per_problem)
    decontamination = read_record(paths.PREPARE_METRICS, PrepareRecord).decontamination
    parameters = card_parameters(load_card(paths.base_model_dir(arm_of(arm), world)), params.budget.param_count)
    name = f"filter@{arm}/{world_name(world)}"
    with stage_run(params, name, tags=data_tags(world, arm)) as tracker:
        datasets, record = filter_samples(task, problems, samples, planned, parameters, params.filter.dedup,
                                          str(paths.samples_file(arm, world)), arm, params.budget.se_samples,
                                          corpus or None)
        record = replace(record, decontamination={"ngram": decontamination["ngram"],
                                                  "dropped": decontamination["dropped"]},
                         environment=environment(libraries=GRADING_LIBRARIES))
        for variant, records in datasets.items():
            source = f"{arm}-{variant}" if variant else arm
            write_jsonl(paths.sft_file(source, world), records)
            write_record(paths.metrics_file("sft", source, world), sft_record(record, variant))
        write_record(paths.metrics_file("data", arm, world), record)
        log_data_metrics(tracker, record)
        tracker.log_artifact(paths.metrics_file("data", arm, world))
        fpr = "n/a" if record.fpr is None else f"{record.fpr:.3f}"
        print(f"{name}: kept {len(datasets[''])} of {len(samples)} ({record.duplicates_dropped} duplicates "
              f"dropped); coverage {record.coverage:.3f}, diversity {record.diversity:.2f}, FPR {fpr}")
