"""Stage `evaluate`: a base or finetuned model on the held-out test split.

    computematch evaluate se-wc     # writes metrics/eval/se-wc.json

pass@1 is the mean correctness of n samples at evaluation.temperature (the unbiased pass@k estimator at
k = 1); maj@k votes over the first k of them; greedy decodes once. Also by difficulty. Results are mirrored
onto the finetune run and its registered model version, so the MLflow UI compares the six models directly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from statistics import mean

from computematch import paths
from computematch.config import MODEL_ROLES, ConfigError, Params
from computematch.io import read_json, write_json
from computematch.metrics import majority_answer, pass_at_k
from computematch.stages.prepare import read_split

FINETUNED = [f"{role}-{arm}" for role in MODEL_ROLES for arm in ("wc", "se")]
EVALUATED = list(MODEL_ROLES) + FINETUNED


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


def main(params: Params, name: str) -> None:
    from computematch.evaluation import greedy_correct
    from computematch.prompting import prompt_renderer
    from computematch.provenance import environment
    from computematch.sampling import get_backend
    from computematch.sampling.driver import draw, open_store
    from computematch.tasks import get_task
    from computematch.tracking import stage_run

    if name not in EVALUATED:
        raise ConfigError(f"model {name!r}: unknown (known: {', '.join(EVALUATED)})")
    config, device = params.evaluation, params.runtime.apply()
    model_dir = paths.model_dir(name)
    task, problems = get_task(params.task), read_split("test")
    with stage_run(params, f"evaluate@{name}") as tracker:
        tracker.log_params({"model": name, **{f"evaluation.{k}": v for k, v in vars(config).items()}})
        started = time.perf_counter()
        store = open_store(paths.RESUME, f"eval-{name}", model_dir, config.sampling())
        backend = get_backend(model_dir, config.sampling(), device, stop=task.stop, runtime=params.runtime)
        render = prompt_renderer(params.task, model_dir)
        records, _ = draw(backend, {p.id: render(task.prompt(p)) for p in problems}, config.samples, store,
                          config.batch_size)
        by_problem = {problem.id: problem for problem in problems}
        sampled = defaultdict(list)
        for record in records:
            sampled[record["problem_id"]].append(task.grade(by_problem[record["problem_id"]], record["text"]))
        greedy = greedy_correct(model_dir, task, problems, config.sampling(greedy=True), device, params.runtime)
        result = {**score(problems, sampled, greedy, config.maj_k), "grading": task.grading,
                  "samples": config.samples, "seconds": round(time.perf_counter() - started, 2),
                  "environment": environment(params.runtime.threads, config.backend)}
        write_json(paths.metrics_file("eval", name), result)
        top = {k: v for k, v in result.items() if k.startswith(("pass@", "maj@")) or k == "greedy"}
        tracker.log_metrics({f"{name}.{k}": v for k, v in top.items()}, summary=True)
        tracker.log_metrics({f"test_{k}": v for k, v in top.items()})
        if name in FINETUNED:
            registration = read_json(paths.metrics_file("finetune", name)).get("registered")
            tracker.annotate(registration, {f"test_{k}": v for k, v in top.items()}, {"evaluated_by": tracker.run_id})
        print(f"evaluate@{name}: pass@1 {result['pass@1']:.3f}, greedy {result['greedy']:.3f}, "
              + ", ".join(f"{k} {result[k]:.3f}" for k in result if k.startswith("maj@")))
