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
from statistics import mean

from computematch import paths
from computematch.config import EvaluationConfig, Params, member_name, parse_model_name, world_name
from computematch.evaluation import greedy_grades
from computematch.io import read_json, write_json
from computematch.metrics import majority_answer, pass_at_k
from computematch.prompting import prompt_renderer
from computematch.provenance import GRADING_LIBRARIES, MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime, map_workers, threads_per_process, worker_processes
from computematch.sampling import backend_session
from computematch.sampling.driver import SampleStore, draw_checked, open_store
from computematch.splits import load_task, read_split
from computematch.tracking import stage_run

# What a model's worker process needs, imported once by the process it forks from (runtime.map_workers).
EVALUATION_PRELOAD = ("torch", "transformers.modeling_utils", "transformers.generation")


def score(problems, sampled: dict[str, list], greedy: dict[str, object], maj_k) -> dict:
    """pass@1, greedy accuracy and maj@k over `problems` under the task's grading mode, by difficulty, and
    pass@1 / greedy under every mode the task offers (`by_grading`). `sampled` maps problem id -> list of
    Grade, `greedy` problem id -> Grade."""
    def correct(grade, mode):
        return grade.correct if mode is None else grade.by_mode[mode]

    def summarize(subset, mode=None):
        row = {"pass@1": mean(pass_at_k(len(sampled[p.id]), sum(correct(g, mode) for g in sampled[p.id]), 1)
                              for p in subset),
               "greedy": mean(correct(greedy[p.id], mode) for p in subset)}
        if mode is None:
            for k in maj_k:
                row[f"maj@{k}"] = mean(majority_answer([g.answer for g in sampled[p.id][:k]]) == p.answer
                                       for p in subset)
        return row

    by_level = defaultdict(list)
    for problem in problems:
        by_level[problem.difficulty].append(problem)
    modes = sorted({mode for grades in sampled.values() for g in grades for mode in g.by_mode})
    return {**summarize(problems), "problems": len(problems),
            "by_difficulty": {str(level): summarize(subset) for level, subset in sorted(by_level.items())},
            "by_grading": {mode: summarize(problems, mode) for mode in modes}}


def evaluate_model(backend, render, task, problems, config: EvaluationConfig, store: SampleStore,
                   desc: str = "evaluate") -> dict:
    """Sampled (pass@1, maj@k) and greedy scores of one loaded model: both decodings share the backend's load."""
    records, _, invariant = draw_checked(backend, config.decoding(), {p.id: render(task.prompt(p)) for p in problems},
                                         config.samples, store, config.batch_size, desc)
    by_problem, sampled = {problem.id: problem for problem in problems}, defaultdict(list)
    for record in records:
        sampled[record["problem_id"]].append(task.grade(by_problem[record["problem_id"]], record["text"]))
    greedy = greedy_grades(backend, render, task, problems, config.max_new_tokens, config.batch_size)
    return {**score(problems, sampled, greedy, config.maj_k), "grading": task.grading, "samples": config.samples,
            "batch_invariant": invariant}


def model_label(name: str, world: int, seed: int | None) -> str:
    """The run's name: evaluate-base@wc/world-0 or evaluate@se-wc/world-0/seed-0."""
    if seed is None:
        return f"evaluate-base@{name}/{world_name(world)}"
    return f"evaluate@{member_name(name, world, seed)}"


def score_one(params: Params, name: str, world: int, seed: int | None, device: str) -> tuple[dict, float]:
    """One model's scores (a base role, or one member of a cell) and their seconds: what a worker runs. The
    evaluation seed is the world's (Params.in_world)."""
    config, model_dir = params.in_world(world).evaluation, paths.model_dir(name, world, seed)
    task, problems = load_task(params.task), read_split("test")
    store_name = "eval-" + model_label(name, world, seed).split("@")[1].replace("/", "-")
    store = open_store(paths.RESUME, store_name, model_dir, config.backend, config.decoding())
    with backend_session(config.backend, model_dir, device, task.stop, params.runtime, params.ray) as backend:
        started = time.perf_counter()
        scores = evaluate_model(backend, prompt_renderer(params.task, model_dir), task, problems, config, store,
                                model_label(name, world, seed))
    return scores, time.perf_counter() - started


def record_one(params: Params, name: str, world: int, seed: int | None, scores: dict, seconds: float,
               threads: int) -> None:
    """One model's metrics file and MLflow run; a finetuned member's registered version is annotated too."""
    config, (role, data) = params.in_world(world).evaluation, parse_model_name(name)
    label = model_label(name, world, seed)
    with stage_run(params, label, tags={"world": world, "model": role, "data": data, "seed": seed}) as tracker:
        tracker.log_params({"model": role, "data": data, "world": world, "seed": seed})
        tracker.log_sections(evaluation=config, ray=params.ray)
        result = {**scores, "seconds": round(seconds, 2),
                  "environment": environment(threads, config.backend, (*MODEL_LIBRARIES, *GRADING_LIBRARIES))}
        write_json(paths.metrics_file("eval", name, world, seed), result)
        top = {f"test_{k}": v for k, v in result.items() if k.startswith(("pass@", "maj@")) or k == "greedy"}
        tracker.log_metrics(top)
        if seed is not None:  # a finetuned member: annotate its registered version
            registration = read_json(paths.metrics_file("finetune", name, world, seed)).get("registered")
            tracker.annotate(registration, top, {"evaluated_by": tracker.run_id})
    print(f"{label}: pass@1 {result['pass@1']:.3f}, greedy {result['greedy']:.3f}, "
          + ", ".join(f"{k} {result[k]:.3f}" for k in result if k.startswith("maj@")))


def main(params: Params, names: tuple[str, ...], worlds: tuple[int, ...] = (), seeds: tuple[int, ...] = ()) -> None:
    """`names`: base roles (one model per world) or cells (one per world and seed), in every world and seed of
    the study or those given, side by side in worker processes on a CPU (runtime.worker_processes) when the model
    runs in this process."""
    device = apply_runtime(params.runtime)
    jobs = [(name, world, None if parse_model_name(name)[1] is None else seed) for name in names
            for world in worlds or params.study.worlds for seed in seeds or params.study.seeds]
    jobs = list(dict.fromkeys(jobs))  # a base model is one per world, whatever the seeds
    in_process = params.evaluation.backend == "transformers" and params.ray.workers == 1  # no engine of its own
    processes = worker_processes(params.runtime, len(jobs), device, in_process)
    threads = threads_per_process(params.runtime.threads, processes)  # what each metrics file records
    runs = map_workers(score_one, [(params, *job, device) for job in jobs], params.runtime.threads, processes,
                       EVALUATION_PRELOAD)
    with contextlib.closing(runs) as results:
        for job, (scores, seconds) in zip(jobs, results):
            record_one(params, *job, scores, seconds, threads)
