"""params.yaml -> frozen, validated dataclasses: `load_params` and the sections it builds.

    from computematch.config import load_params
    params = load_params("params.yaml")

checks.py holds the one-line checks, inputs.py / stages.py / study.py the sections, params.py `Params` and the
loader. The study's names (roles, arms, cells, worlds) are in computematch.names, errors in computematch.errors.
"""

from computematch.config.inputs import PARAM_COUNTS, BudgetConfig, ModelSpec, PretrainConfig, TaskConfig
from computematch.config.params import SECTIONS, Params, load_params, parse_params
from computematch.config.stages import AdaptiveConfig, Decoding, EvaluationConfig, FilterConfig, JudgeConfig, SamplingConfig
from computematch.config.study import DEVICES, DTYPES, RayConfig, RuntimeConfig, StudyConfig, TrackingConfig

__all__ = ["PARAM_COUNTS", "SECTIONS", "DEVICES", "DTYPES", "AdaptiveConfig", "BudgetConfig", "Decoding", "EvaluationConfig",
           "FilterConfig", "JudgeConfig", "ModelSpec", "Params", "PretrainConfig", "RayConfig", "RuntimeConfig",
           "SamplingConfig", "StudyConfig", "TaskConfig", "TrackingConfig", "load_params", "parse_params"]
