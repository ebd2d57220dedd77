"""Task registry: name -> "module:Class", imported only when chosen (lm-evaluation-harness style)."""

from __future__ import annotations

import importlib

from computematch.errors import ConfigError

from computematch.config import TaskConfig
from computematch.tasks.base import Grade, Problem, Task, normalize_solution

TASKS = {
    "arith": "computematch.tasks.arith:ArithTask",
    "gsm8k": "computematch.tasks.gsm8k:GSM8KTask",
    "math": "computematch.tasks.math:MathTask",
}


def get_task(config: TaskConfig) -> Task:
    if config.name not in TASKS:
        raise ConfigError(f"task.name: unknown task {config.name!r} (known: {', '.join(TASKS)})")
    module_name, class_name = TASKS[config.name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(config)


__all__ = ["TASKS", "Grade", "Problem", "Task", "get_task", "normalize_solution"]
