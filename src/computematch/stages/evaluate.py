"""Stage `evaluate`: base or finetuned models on the held-out test split.

    computematch evaluate se-wc                  # SE trained on WC data, every world and seed:
                                                 # metrics/eval/se-wc/world-0/seed-0.json, ...
    computematch evaluate student wc se --world 0   # world 0's base models: metrics/eval/ROLE/world-0.json

pass@1 is the mean correctness of n samples at evaluation.temperature (the unbiased pass@k estimator at
k = 1); maj@k votes over the first k of them; greedy decodes once. Also by difficulty. Results are mirrored
onto the finetune run and its registered model version, so the MLflow UI compares the six models directly.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from computematch import paths
from computematch.names import member_name, parse_model_name, world_name
from computematch.config import EvaluationConfig, Params
from computematch.greedy_checks import greedy_grades
from computematch.measure.accuracy import (
    accuracy_scores, evaluation_problems, problems_for_standard_error, standard_error_bound)
from computematch.measure.codec import to_json
from computematch.measure.records import EvalRecord, FinetuneRecord, read_record, write_record
from computematch.member_store import MEMBER_STORE, RECORD_FILE, file_digest, keep, restore, store_key
from computematch.models import model_digest
from computematch.prompting import prompt_renderer
from computematch.provenance import GRADING_LIBRARIES, MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime, map_workers, threads_per_process, worker_processes
from computematch.sampling import backend_session
from computematch.sampling.driver import SampleStore, draw_checked, open_store
from computematch.splits import load_task, read_split
from computematch.tracking import model_tags, stage_run

# What a model's worker process needs, imported once by the process it forks from (runtime.map_workers).
EVALUATION_PRELOAD = ("torch", "transformers.modeling_utils", "transformers.generation")


def evaluate_model(backend, render, task, problems, config: EvaluationConfig, store: SampleStore,
                   desc: str = "evaluate") -> EvalRecord:
    """Sampled (pass@1, maj@k) and greedy scores of one loaded model: both decodings share the backend's load."""
    records, _, invariant = draw_checked(backend, config.decoding(), {p.id: render(task.prompt(p)) for p in problems},
                                         config.samples, store, config.batch_size, desc)
    by_problem, sampled = {problem.id: problem for problem in problems}, defaultdict(list)
    for record in records:
        sampled[record["problem_id"]].append(task.grade(by_problem[record["problem_id"]], record["text"]))
    greedy = greedy_grades(backend, render, task, problems, config.max_new_tokens, config.batch_size)
    return EvalRecord(**accuracy_scores(problems, sampled, greedy, config.maj_k), grading=task.grading,
                      samples=config.samples, batch_invariant=invariant)


def model_label(name: str, world: int, seed: int | None) -> str:
    """The run's name: evaluate-base@wc/world-0 or evaluate@se-wc/world-0/seed-0."""
    if seed is None:
        return f"evaluate-base@{name}/{world_name(world)}"
    return f"evaluate@{member_name(name, world, seed)}"


def file_label(name: str, world: int, seed: int | None) -> str:
    """The model's label as a file name: wc-world-0, se-wc-world-0-seed-0 (its stores' names)."""
    return model_label(name, world, seed).split("@")[1].replace("/", "-")


def score_one(params: Params, name: str, world: int, seed: int | None, device: str) -> tuple[EvalRecord, float]:
    """One model's scores (a base role, or one member of a cell) and their seconds: what a worker runs. The
    evaluation seed is the world's (Params.in_world)."""
    config, model_dir = params.in_world(world).evaluation, paths.model_dir(name, world, seed)
    task = load_task(params.task)
    problems = evaluation_problems(read_split("test"), config.standard_error, config.seed)
    store_name = "eval-" + file_label(name, world, seed)
    store = open_store(paths.RESUME, store_name, model_dir, config.backend, config.decoding())
    with backend_session(config.backend, model_dir, device, task.stop, params.runtime, params.ray) as backend:
        started = time.perf_counter()
        scores = evaluate_model(backend, prompt_renderer(params.task, model_dir), task, problems, config, store,
                                model_label(name, world, seed))
    return scores, time.perf_counter() - started


def record_one(params: Params, name: str, world: int, seed: int | None, scores: EvalRecord, seconds: float,
               threads: int) -> None:
    """One model's metrics file and MLflow run; a finetuned member's registered version is annotated too."""
    config, (role, data) = params.in_world(world).evaluation, parse_model_name(name)
    label = model_label(name, world, seed)
    with stage_run(params, label, tags=model_tags(world, role, data, seed)) as tracker:
        tracker.log_params({"model": role, "data": data, "world": world, "seed": seed})
        tracker.log_sections(evaluation=config, ray=params.ray)
        result = replace(scores, seconds=round(seconds, 2),
                         environment=environment(threads, config.backend, (*MODEL_LIBRARIES, *GRADING_LIBRARIES)))
        write_record(paths.metrics_file("eval", name, world, seed), result)
        top = {f"test_{k}": v for k, v in to_json(result.overall).items()}
        tracker.log_metrics(top)
        if seed is not None:  # a finetuned member: annotate its registered version
            registration = read_record(paths.metrics_file("finetune", name, world, seed), FinetuneRecord).registered
            tracker.annotate(registration, top, {"evaluated_by": tracker.run_id})
    print(f"{label}: pass@1 {result.pass_at_1:.3f}, greedy {result.greedy:.3f}, "
          + ", ".join(f"maj@{k} {value:.3f}" for k, value in result.majority.items()))


def stored_scores(params: Params, name: str, world: int, seed: int | None, threads: int, device: str) -> Path:
    """Where a model's scores are kept, keyed by what decides them: the model by content (model_digest), the world's
    evaluation params, the test split and the few-shot corpus, the task, runtime and Ray params (member_store), so a
    stage rerun for a new world does not score the other worlds' models again."""
    inputs = {"model": model_digest(paths.model_dir(name, world, seed)), "evaluation": params.in_world(world).evaluation,
              "test": file_digest(paths.split_file("test")), "corpus": file_digest(paths.split_file("corpus")),
              "task": params.raw.get("task"), "runtime": params.raw.get("runtime"), "ray": params.raw.get("ray"),
              "device": device}
    key = store_key(inputs, threads, (*MODEL_LIBRARIES, *GRADING_LIBRARIES))
    return MEMBER_STORE / "evaluate" / f"{file_label(name, world, seed)}-{key}"


def restore_or_score(params: Params, jobs: list[tuple], threads: int, processes: int, device: str):
    """(scores, seconds) of every (name, world, seed) job, in order: restored from the store when its key is there,
    else scored (side by side in `processes` workers of `threads` threads each, the count the whole stage decided)
    and then stored."""
    entries = [stored_scores(params, *job, threads, device) for job in jobs]
    restored = [restore(entry) for entry in entries]
    todo = [index for index, kept in enumerate(restored) if kept is None]
    workers = max(1, min(processes, len(todo)))
    runs = map_workers(score_one, [(params, *jobs[index], device) for index in todo], threads * workers, workers,
                       EVALUATION_PRELOAD)
    with contextlib.closing(runs):
        for index, entry in enumerate(entries):
            if restored[index] is None:
                scores, seconds = next(runs)
                keep(entry, {"seconds": seconds}, record=scores)
                yield scores, seconds
            else:
                yield read_record(entry / RECORD_FILE, EvalRecord), restored[index]["seconds"]


def evaluation_size(config: EvaluationConfig, available: int) -> str:
    """What an evaluation sized from evaluation.standard_error scores, and why: printed by every evaluate stage."""
    chosen = problems_for_standard_error(config.standard_error, available)
    bound = standard_error_bound(chosen)
    short = ", the whole split: a smaller error needs a larger task.test_size" if bound > config.standard_error else ""
    return (f"evaluate: {chosen} of {available} test problems, {config.samples} samples each: a pass@1 standard "
            f"error of at most {bound:.2f} points (evaluation.standard_error: "
            f"{config.standard_error:g}{short}; each world draws its own problems)")


def main(params: Params, names: tuple[str, ...], worlds: tuple[int, ...] = (), seeds: tuple[int, ...] = ()) -> None:
    """`names`: base roles (one model per world) or cells (one per world and seed), in every world and seed of
    the study or those given, side by side in worker processes on a CPU (runtime.worker_processes) when the model
    runs in this process. A model already scored with the same inputs is restored from data/resume/evaluate/."""
    device = apply_runtime(params.runtime)
    jobs = [(name, world, None if parse_model_name(name)[1] is None else seed) for name in names
            for world in worlds or params.study.worlds for seed in seeds or params.study.seeds]
    jobs = list(dict.fromkeys(jobs))  # a base model is one per world, whatever the seeds
    in_process = params.evaluation.backend == "transformers" and params.ray.workers == 1  # no engine of its own
    processes = worker_processes(params.runtime, len(jobs), device, in_process)
    threads = threads_per_process(params.runtime.threads, processes)  # decided by the whole stage: same bits
    if params.evaluation.standard_error is not None:
        print(evaluation_size(params.evaluation, len(read_split("test"))))
    with contextlib.closing(restore_or_score(params, jobs, threads, processes, device)) as results:
        for job, (scores, seconds) in zip(jobs, results):
            record_one(params, *job, scores, seconds, threads)
