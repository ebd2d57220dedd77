"""params.yaml -> a frozen, validated `Params` (one dataclass per section).

    from computematch.config import load_params
    params = load_params("params.yaml")
    params.budget.se_samples  # 3

Every error is a `ConfigError` whose one-line message names the offending key, so the CLI can print it and exit
non-zero before any stage writes an output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from computematch.backends import BACKENDS
from computematch.config.checks import _build, _fail
from computematch.config.inputs import BudgetConfig, ModelSpec, PretrainConfig, TaskConfig
from computematch.config.stages import AdaptiveConfig, EvaluationConfig, FilterConfig, JudgeConfig, SamplingConfig
from computematch.config.study import RayConfig, RuntimeConfig, StudyConfig, TrackingConfig
from computematch.errors import ConfigError
from computematch.names import ARMS, MODEL_ROLES, world_seed


@dataclass(frozen=True)
class Params:
    task: TaskConfig = field(default_factory=TaskConfig)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    adaptive: AdaptiveConfig = field(default_factory=AdaptiveConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    finetune: dict = field(default_factory=dict)  # TRL SFTConfig fields, checked against SFTConfig when used
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def model(self, role: str) -> ModelSpec:
        """The spec of one model role; an unknown role is a one-line error naming it."""
        if role not in self.models:
            raise ConfigError(f"models.{role}: unknown model key (known: {', '.join(self.models) or 'none'})")
        return self.models[role]

    def in_world(self, world: int) -> "Params":
        """These params as world `world` draws them: every seed shifted by world_seed (finetuning's seeds are
        shifted where a cell's seed is chosen, stages/finetune.py)."""
        shift = lambda section: dataclasses.replace(section, seed=world_seed(section.seed, world))  # noqa: E731
        return dataclasses.replace(self, pretrain=shift(self.pretrain), sampling=shift(self.sampling),
                                   evaluation=shift(self.evaluation), judge=shift(self.judge))

    def fingerprint(self) -> str:
        """A short hash of every parameter: the group id of one pipeline configuration in MLflow."""
        canonical = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


SECTIONS = {
    "task": TaskConfig,
    "pretrain": PretrainConfig,
    "budget": BudgetConfig,
    "sampling": SamplingConfig,
    "filter": FilterConfig,
    "adaptive": AdaptiveConfig,
    "runtime": RuntimeConfig,
    "evaluation": EvaluationConfig,
    "judge": JudgeConfig,
    "study": StudyConfig,
    "ray": RayConfig,
    "tracking": TrackingConfig,
}


def parse_params(raw: Any) -> Params:
    """Validate a parsed params.yaml mapping; sections that are absent take their defaults."""
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: must be a mapping of sections, got {type(raw).__name__}")
    known = set(SECTIONS) | {"models", "finetune"}
    for key in raw:
        if key not in known:
            _fail(str(key), f"unknown section (known: {', '.join(sorted(known))})")
    sections = {name: _build(cls, raw.get(name), name) for name, cls in SECTIONS.items()}
    models_raw = raw.get("models")
    if not isinstance(models_raw, dict) or not models_raw:
        _fail("models", "must map model keys (student, wc, se) to a 'load' or 'pretrain' spec")
    models = {}
    for role, spec in models_raw.items():
        if role not in MODEL_ROLES:
            _fail(f"models.{role}", f"unknown model key (known: {', '.join(MODEL_ROLES)})")
        if not isinstance(spec, dict):
            _fail(f"models.{role}", f"must be a mapping with 'load' or 'pretrain', got {spec!r}")
        models[role] = _build(ModelSpec, {"role": role, **spec}, f"models.{role}")
    for role in ARMS:
        if role not in models:
            _fail(f"models.{role}", "missing (both sampling arms, wc and se, are required)")
    finetune = raw.get("finetune") or {}
    if not isinstance(finetune, dict):
        _fail("finetune", f"must be a mapping of TRL SFTConfig fields, got {finetune!r}")
    for key, backend in (("sampling.backend", sections["sampling"].backend),
                         ("evaluation.backend", sections["evaluation"].backend),
                         ("judge.backend", sections["judge"].backend)):
        if backend not in BACKENDS:
            _fail(key, f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    return Params(models=models, finetune=finetune, raw=raw, **sections)


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(error, 'problem', error)})") from None
    return parse_params(raw)
