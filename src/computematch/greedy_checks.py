"""Greedy checks of a model: its greedy completions graded on a list of problems, and its greedy accuracy overall and
by difficulty (what selects a pretraining step or a finetuning checkpoint, and the evaluate stage's greedy column).

    backend = get_backend("transformers", "models/base/wc")
    grades = greedy_grades(backend, render, task, problems, max_new_tokens=80)   # problem id -> Grade
"""

from __future__ import annotations

from typing import Callable

from computematch.config import Decoding, RuntimeConfig
from computematch.measure.accuracy import accuracy_by_difficulty
from computematch.sampling import Request
from computematch.tasks import Grade, Problem, Task


def solution_budget(problems: list[Problem]) -> int:
    """max_new_tokens for greedy checks: the longest gold solution in characters (which bound tokens) + slack."""
    return max(len(p.solution) for p in problems) + 16


def greedy_grades(backend, render: Callable[[str], str], task: Task, problems: list[Problem], max_new_tokens: int = 0,
                  batch_size: int = 512, decoding: Decoding | None = None) -> dict[str, Grade]:
    """Problem id -> the grade of the model's greedy completion (batches in problem order); with `decoding`, of
    its sample 0 under that decoding instead."""
    decoding = decoding or Decoding(temperature=0.0, max_new_tokens=max_new_tokens)
    grades = {}
    for start in range(0, len(problems), batch_size):
        batch = problems[start: start + batch_size]
        completions = backend.generate([Request(p.id, 0, render(task.prompt(p))) for p in batch], decoding)
        grades.update({p.id: task.grade(p, c.text) for p, c in zip(batch, completions)})
    return grades


def greedy_scorer(task: Task, problems: list[Problem], tokenizer, device: str = "cpu", batch_size: int = 512,
                  temperature: float = 0.0, seed: int = 0) -> Callable[[object], float]:
    """model in memory -> its accuracy on `problems` (the checks that stop a pretraining): greedy, or with a
    temperature one sample per problem (sample index 0 of the stream keyed by `seed`), the accuracy at which
    a sampling temperature draws the data (pretrain.check_temperature)."""
    import copy

    from computematch.sampling.hf import TransformersBackend

    left_padded = copy.deepcopy(tokenizer)  # generation pads on the left; the trainer's tokenizer stays as it is
    left_padded.padding_side = "left"
    decoding = Decoding(temperature=temperature, top_p=1.0, max_new_tokens=solution_budget(problems), seed=seed)

    def score(model) -> float:
        backend = TransformersBackend.from_loaded(model, left_padded, device, task.stop)
        if decoding.greedy:
            return backend_greedy_accuracy(backend, lambda text: text, task, problems, batch_size)["accuracy"]
        grades = greedy_grades(backend, lambda text: text, task, problems, batch_size=batch_size, decoding=decoding)
        return sum(grade.correct for grade in grades.values()) / len(problems)

    return score


def greedy_accuracy(model_dir, task: Task, problems: list[Problem], device: str = "cpu",
                    runtime: RuntimeConfig | None = None, backend: str = "transformers", batch_size: int = 512) -> dict:
    """Greedy accuracy of the model at `model_dir` (loaded once), with a token budget fit for the gold solutions."""
    from computematch.prompting import prompt_renderer
    from computematch.sampling import get_backend

    loaded = get_backend(backend, model_dir, device, stop=task.stop, runtime=runtime)
    return backend_greedy_accuracy(loaded, prompt_renderer(task.config, model_dir), task, problems, batch_size)


def backend_greedy_accuracy(backend, render: Callable[[str], str], task: Task, problems: list[Problem],
                            batch_size: int = 512) -> dict:
    """Greedy accuracy of a loaded backend, overall and by difficulty, with a token budget fit for the gold
    solutions: what greedy_accuracy (a saved model) and greedy_scorer (a model being pretrained) share."""
    grades = greedy_grades(backend, render, task, problems, solution_budget(problems), batch_size)
    return accuracy_by_difficulty(problems, {pid: grade.correct for pid, grade in grades.items()})
