"""Greedy correctness of a model directory on a list of problems, overall and by difficulty."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from computematch.config import RuntimeConfig, SamplingConfig
from computematch.sampling import Request, get_backend
from computematch.tasks import Grade, Problem, Task


def solution_budget(problems: list[Problem]) -> int:
    """max_new_tokens for greedy checks: the longest gold solution in characters (which bound tokens) + slack."""
    return max(len(p.solution) for p in problems) + 16


def greedy_correct(model_dir, task: Task, problems: list[Problem], config: SamplingConfig,
                   device: str = "cpu", runtime: RuntimeConfig | None = None) -> dict[str, Grade]:
    """Problem id -> the grade of the model's greedy completion."""
    from computematch.prompting import prompt_renderer

    render = prompt_renderer(task.config, model_dir)
    sampler = get_backend(model_dir, config, device, stop=task.stop, runtime=runtime)
    correct = {}
    for start in range(0, len(problems), config.batch_size):
        batch = problems[start: start + config.batch_size]
        completions = sampler.generate([Request(p.id, 0, render(task.prompt(p))) for p in batch])
        correct.update({p.id: task.grade(p, c.text) for p, c in zip(batch, completions)})
    return correct


def greedy_accuracy(model_dir, task: Task, problems: list[Problem], max_new_tokens: int, batch_size: int = 512,
                    device: str = "cpu", backend: str = "transformers", runtime: RuntimeConfig | None = None) -> dict:
    config = SamplingConfig(backend=backend, temperature=0.0, max_new_tokens=max_new_tokens, batch_size=batch_size)
    correct = {pid: grade.correct for pid, grade in greedy_correct(model_dir, task, problems, config, device,
                                                                   runtime).items()}
    by_level = defaultdict(list)
    for problem in problems:
        by_level[problem.difficulty].append(correct[problem.id])
    return {
        "accuracy": mean(correct.values()),
        "by_difficulty": {str(level): mean(values) for level, values in sorted(by_level.items())},
        "problems": len(problems),
    }
