"""params.yaml sections -> frozen, validated dataclasses.

    from computematch.config import load_params
    params = load_params("params.yaml")
    params.budget.se_samples  # 3

Every error is a `ConfigError` whose one-line message names the offending key
(`budget.se_samples: must be a positive integer, got -1`), so the CLI can print it
and exit non-zero before any stage writes an output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from computematch.backends import BACKENDS
from computematch.errors import ConfigError  # noqa: F401  (re-exported: the error of this module)

# ---------------------------------------------------------------- the study's names (one place for each)

MODEL_ROLES = ("student", "wc", "se")  # the paper's three models: student, weaker-cheaper, stronger-expensive
ARMS = ("wc", "se")  # the two sampling arms (and data sources)
# The paper's Table 1: (setup, trained model, paradigm on WC data, paradigm on SE data).
SETUPS = (
    ("Student-LM", "student", "distillation", "distillation"),
    ("WC-LM", "wc", "self-improvement", "distillation"),
    ("SE-LM", "se", "weak-to-strong improvement", "self-improvement"),
)
PARADIGMS = {(role, arm): paradigm for _, role, *paradigms in SETUPS for arm, paradigm in zip(ARMS, paradigms)}
# What `filter` writes for each arm, besides its full data: `-verified` keeps only solutions whose every step the
# task's checker verifies (no false positives), `-matched` the first S_SE samples per problem (WC at SE's sample
# count: the paper's equal-count ablation), `-low` the paper's low budget (SE's first sample and the WC level
# that costs the same).
VARIANTS = ("verified", "matched", "low")
DATA_SOURCES = ARMS + tuple(f"{arm}-{variant}" for arm in ARMS for variant in VARIANTS)
# The controls, each a pair (data source trained on as "WC", as "SE") compared like the main setups, and the
# sign of the gain the paper reports (+1: WC data better, -1: SE data better, 0: no claim).
CONTROLS = {
    "sample-matched": ("wc-matched", "se", -1),  # equal sample counts: SE data won in the paper
    "verified-only": ("wc-verified", "se-verified", 0),  # no false positives: the paper could not run this
    "low-budget": ("wc-low", "se-low", +1),  # the paper's low budget (S_SE 1)
}


def arm_of(data_source: str) -> str:
    """The sampling arm a data source comes from: 'wc-verified' -> 'wc'."""
    return data_source.split("-")[0]


def cell_name(role: str, data: str) -> str:
    """A finetuning cell: model ROLE trained on DATA ('se-wc'); the DVC stage finetune@se trains it (with se-se),
    evaluate@se evaluates it."""
    return f"{role}-{data}"


def world_seed(seed: int, world: int) -> int:
    """The seed a world draws with: every seed of the study (pretraining, sampling, finetuning, evaluation, judge)
    shifted by the world's number, so world 0 is the single draw the study made before worlds, and world w's base
    models are those of pretraining seed w (README, calibration table)."""
    return seed + world


def world_name(world: int) -> str:
    return f"world-{world}"


def member_name(cell: str, world: int, seed: int) -> str:
    """One trained model of a cell: its folder below models/ft/, metrics file and MLflow run ('se-wc/world-0/seed-0')."""
    return f"{cell}/{world_name(world)}/seed-{seed}"


def parse_model_name(name: str) -> tuple[str, str | None]:
    """(role, data) of an evaluated model: a base role ('wc': data None) or a finetuning cell ('se-wc-verified')."""
    if name in MODEL_ROLES:
        return name, None
    role, _, data = name.partition("-")
    if role not in MODEL_ROLES or data not in DATA_SOURCES:
        raise ConfigError(f"model {name!r}: not a base model ({', '.join(MODEL_ROLES)}) nor a finetuning cell "
                          f"ROLE-DATA with DATA one of {', '.join(DATA_SOURCES)}")
    return role, data


def check_name(kind: str, name: str, known: tuple[str, ...]) -> str:
    """A model role, arm or evaluated model named on the command line; an unknown one is a one-line error."""
    if name not in known:
        raise ConfigError(f"{kind} {name!r}: unknown (known: {', '.join(known)})")
    return name


# ---------------------------------------------------------------- checking helpers


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"{key}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(key: str, value: Any, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not _is_int(value) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        _fail(key, f"must be {kind} integer, got {value!r}")


def _number(key: str, value: Any, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):  # YAML's .nan / .inf: NaN compares false with every bound below
        _fail(key, f"must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        _fail(key, f"must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        _fail(key, f"must be <= {high}, got {value!r}")


def _string(key: str, value: Any, choices: tuple[str, ...] | None = None) -> None:
    if not isinstance(value, str) or not value:
        _fail(key, f"must be a non-empty string, got {value!r}")
    if choices is not None and value not in choices:
        _fail(key, f"must be one of {', '.join(choices)}; got {value!r}")


def _build(cls, data: Any, section: str):
    """Instantiate dataclass `cls` from mapping `data`, rejecting unknown and missing keys."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(section, f"must be a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            _fail(f"{section}.{key}", f"unknown key (known: {', '.join(sorted(names))})")
    missing = [
        f.name for f in dataclasses.fields(cls)
        if f.init and f.name not in data
        and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        _fail(f"{section}.{missing[0]}", "missing")
    return cls(**data)


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class TaskConfig:
    """Which problems: a registered task, its splits and (for built-in tasks) the generator's knobs."""

    name: str = "arith"
    seed: int = 0
    train_size: int = 500
    val_size: int = 200
    test_size: int = 600
    levels: tuple[int, ...] = (2, 3, 4, 5, 6, 7)
    corpus_size: int = 20000
    corpus_weights: tuple[float, ...] = (4, 4, 4, 1, 1, 1)
    max_value: int = 39  # arith: the start and every running value lie in 0..max_value (9: the single-digit world)
    operators: str = "+-"  # arith: the step operators drawn from, any of + - *
    identity_steps: bool = False  # arith: allow steps that change nothing (+0, -0, *1)
    # Real benchmarks (gsm8k, math): local files win over the hub.
    source: str | None = None  # hub dataset id, e.g. openai/gsm8k
    subset: str | None = None  # hub config name, e.g. main
    test_source: str | None = None  # another hub dataset for the test split (e.g. MATH-500)
    files: dict | None = None  # {train: path, test: path}: local .jsonl / .json / .parquet
    prompt_style: str = "fewshot"  # fewshot (exemplars from the train split) or chat (the model's template)
    fewshot: int | None = None  # exemplars; None = the paper's (8 for GSM8K, 4 for MATH)
    grading: str | None = None  # the answer extraction that filters and scores (gsm8k: flexible or strict); None = the task's default
    decontamination_ngram: int = 8  # drop train/val/corpus problems sharing a word n-gram with a test problem; 0 = off

    def __post_init__(self):
        _string("task.name", self.name)
        _string("task.prompt_style", self.prompt_style, ("fewshot", "chat"))
        if self.grading is not None:
            _string("task.grading", self.grading)
        if self.fewshot is not None:
            _positive_int("task.fewshot", self.fewshot, allow_zero=True)
        for key in ("source", "subset", "test_source"):
            if getattr(self, key) is not None:
                _string(f"task.{key}", getattr(self, key))
        if self.files is not None:
            if not isinstance(self.files, dict) or set(self.files) - {"train", "test"}:
                _fail("task.files", f"must map train/test to file paths, got {self.files!r}")
            for split, path in self.files.items():
                _string(f"task.files.{split}", path)
        _positive_int("task.seed", self.seed, allow_zero=True)
        _positive_int("task.decontamination_ngram", self.decontamination_ngram, allow_zero=True)
        for key in ("train_size", "val_size", "test_size"):
            _positive_int(f"task.{key}", getattr(self, key))
        _positive_int("task.corpus_size", self.corpus_size, allow_zero=True)
        if not _is_int(self.max_value) or not 9 <= self.max_value <= 999:
            _fail("task.max_value", f"must be an integer from 9 to 999, got {self.max_value!r}")
        if not isinstance(self.operators, str) or not self.operators or set(self.operators) - set("+-*") \
                or len(set(self.operators)) != len(self.operators):
            _fail("task.operators", f"must be a string of distinct operators from '+-*', got {self.operators!r}")
        if not isinstance(self.identity_steps, bool):
            _fail("task.identity_steps", f"must be true or false, got {self.identity_steps!r}")
        if not isinstance(self.levels, (list, tuple)) or not self.levels:
            _fail("task.levels", f"must be a non-empty list of chain lengths, got {self.levels!r}")
        for level in self.levels:
            _positive_int("task.levels", level)
        if not isinstance(self.corpus_weights, (list, tuple)) or len(self.corpus_weights) != len(self.levels):
            _fail("task.corpus_weights", f"must list one weight per level ({len(self.levels)}), got {self.corpus_weights!r}")
        for weight in self.corpus_weights:
            _number("task.corpus_weights", weight, low=0)
        if sum(self.corpus_weights) <= 0:
            _fail("task.corpus_weights", "must not all be zero")
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "corpus_weights", tuple(float(w) for w in self.corpus_weights))


@dataclass(frozen=True)
class ModelSpec:
    """One base model: exactly one of `load` (hub id or local directory) or `pretrain` (LlamaConfig fields)."""

    role: str
    load: str | None = None
    pretrain: dict | None = None
    revision: str | None = None  # a hub revision (branch, tag or commit)
    gguf_file: str | None = None  # a GGUF file inside `load` that transformers should read
    stop_at_accuracy: float | None = None  # pretrain: stop at the first check whose val greedy accuracy reaches it

    def __post_init__(self):
        key = f"models.{self.role}"
        if (self.load is None) == (self.pretrain is None):
            _fail(key, "give exactly one of 'load' (hub id or local directory) or 'pretrain' (LlamaConfig fields)")
        if self.stop_at_accuracy is not None:
            if self.pretrain is None:
                _fail(f"{key}.stop_at_accuracy", "applies only to a model pretrained here ('pretrain'), not to 'load'")
            _number(f"{key}.stop_at_accuracy", self.stop_at_accuracy, low=0, high=1, low_open=True)
        if self.load is not None:
            _string(f"{key}.load", self.load)
        if self.pretrain is not None and not isinstance(self.pretrain, dict):
            _fail(f"{key}.pretrain", f"must be a mapping of LlamaConfig fields, got {self.pretrain!r}")
        for name in ("revision", "gguf_file"):
            if getattr(self, name) is not None:
                _string(f"{key}.{name}", getattr(self, name))


@dataclass(frozen=True)
class PretrainConfig:
    """How built-in models are pretrained from scratch on the task's corpus (shared by all roles)."""

    steps: int = 1200
    batch_size: int = 32
    learning_rate: float = 0.0015
    warmup_steps: int = 80
    weight_decay: float = 0.0
    seed: int = 0
    check_every: int = 25   # steps between validation checks of a model with `stop_at_accuracy`
    group_by_length: bool = False   # batches of similar length (pretraining.epoch_batches): less padding per step

    def __post_init__(self):
        if not isinstance(self.group_by_length, bool):
            _fail("pretrain.group_by_length", f"must be true or false, got {self.group_by_length!r}")
        _positive_int("pretrain.steps", self.steps)
        _positive_int("pretrain.check_every", self.check_every)
        _positive_int("pretrain.batch_size", self.batch_size)
        _number("pretrain.learning_rate", self.learning_rate, low=0, low_open=True)
        _positive_int("pretrain.warmup_steps", self.warmup_steps, allow_zero=True)
        _number("pretrain.weight_decay", self.weight_decay, low=0)
        _positive_int("pretrain.seed", self.seed, allow_zero=True)


PARAM_COUNTS = ("non_embedding", "total")


@dataclass(frozen=True)
class BudgetConfig:
    """Compute-matched sample counts: S_SE per problem, and S_WC = round(ratio * S_SE)."""

    se_samples: int = 3
    ratio: float | str = "auto"
    param_count: str = "non_embedding"
    # Price matching (the paper's Gemini Flash vs Pro): dollars per million output tokens of each arm's model.
    # Given, `ratio: auto` is price_se / price_wc instead of P_SE / P_WC.
    price_wc: float | None = None
    price_se: float | None = None

    def __post_init__(self):
        _positive_int("budget.se_samples", self.se_samples)
        if self.ratio != "auto":
            if isinstance(self.ratio, str):
                _fail("budget.ratio", f"must be 'auto' or a positive number, got {self.ratio!r}")
            _number("budget.ratio", self.ratio, low=0, low_open=True)
        _string("budget.param_count", self.param_count, PARAM_COUNTS)
        if (self.price_wc is None) != (self.price_se is None):
            _fail("budget.price_wc" if self.price_wc is None else "budget.price_se",
                  "give both arms' prices (or neither)")
        for key in ("price_wc", "price_se"):
            if getattr(self, key) is not None:
                _number(f"budget.{key}", getattr(self, key), low=0, low_open=True)

    @property
    def priced(self) -> bool:
        return self.price_wc is not None


@dataclass(frozen=True)
class Decoding:
    """What decides a sample besides the model and the request: a backend takes it per call."""

    temperature: float = 0.7  # 0: greedy
    top_p: float = 1.0
    max_new_tokens: int = 80
    seed: int = 0  # with (problem id, sample index), the key of a sample's random stream

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def _check_decoding(section: str, settings) -> None:
    """The decoding settings that `sampling` and `evaluation` share, named by their own section."""
    _string(f"{section}.backend", settings.backend)
    _number(f"{section}.temperature", settings.temperature, low=0)
    _number(f"{section}.top_p", settings.top_p, low=0, high=1, low_open=True)
    _positive_int(f"{section}.max_new_tokens", settings.max_new_tokens)
    _positive_int(f"{section}.batch_size", settings.batch_size)
    _positive_int(f"{section}.seed", settings.seed, allow_zero=True)


@dataclass(frozen=True)
class SamplingConfig:
    """How solutions are drawn; the same settings for both arms."""

    backend: str = "transformers"
    temperature: float = 0.35  # calibrated for the built-in study (README); the paper samples at 0.7
    top_p: float = 1.0
    max_new_tokens: int = 80
    batch_size: int = 512
    seed: int = 0

    def __post_init__(self):
        _check_decoding("sampling", self)

    @property
    def decoding(self) -> Decoding:
        return Decoding(self.temperature, self.top_p, self.max_new_tokens, self.seed)


@dataclass(frozen=True)
class FilterConfig:
    """Which sampled solutions become SFT data: the right final answer (task.grading), and optionally unique ones."""

    dedup: bool = True  # one copy of each solution per problem (the same "unique" as diversity)

    def __post_init__(self):
        if not isinstance(self.dedup, bool):
            _fail("filter.dedup", f"must be true or false, got {self.dedup!r}")


@dataclass(frozen=True)
class EvaluationConfig:
    """How every model is evaluated on the test split: n samples for pass@1 and maj@k, plus greedy."""

    samples: int = 4
    temperature: float = 0.7
    top_p: float = 1.0
    maj_k: tuple[int, ...] = (4,)
    max_new_tokens: int = 80
    batch_size: int = 512
    seed: int = 0
    backend: str = "transformers"

    def __post_init__(self):
        _positive_int("evaluation.samples", self.samples)
        if not isinstance(self.maj_k, (list, tuple)):
            _fail("evaluation.maj_k", f"must be a list of vote sizes, got {self.maj_k!r}")
        for k in self.maj_k:
            _positive_int("evaluation.maj_k", k)
            if k > self.samples:
                _fail("evaluation.maj_k", f"maj@{k} needs at least {k} samples (evaluation.samples is {self.samples})")
        object.__setattr__(self, "maj_k", tuple(self.maj_k))
        _check_decoding("evaluation", self)

    def decoding(self, greedy: bool = False) -> Decoding:
        return Decoding(0.0 if greedy else self.temperature, self.top_p, self.max_new_tokens, self.seed)


@dataclass(frozen=True)
class JudgeConfig:
    """An LLM judge of false positives where no exact step checker exists (the paper used Gemini-1.5-Pro)."""

    enabled: bool = False
    model: str | None = None  # a model role (student, wc, se), a local directory or a hub id
    backend: str = "transformers"
    sample_size: int = 200  # kept solutions judged per arm (seeded random subset)
    seed: int = 0
    prompt_file: str = "prompts/judge.txt"  # placeholders {question}, {solution}, {answer}
    max_new_tokens: int = 256
    batch_size: int = 64

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            _fail("judge.enabled", f"must be true or false, got {self.enabled!r}")
        if self.enabled and self.model is None:
            _fail("judge.model", "an enabled judge needs a model (a role, a local directory or a hub id)")
        if self.model is not None:
            _string("judge.model", self.model)
        _string("judge.backend", self.backend)
        _positive_int("judge.sample_size", self.sample_size)
        _positive_int("judge.seed", self.seed, allow_zero=True)
        _string("judge.prompt_file", self.prompt_file)
        _positive_int("judge.max_new_tokens", self.max_new_tokens)
        _positive_int("judge.batch_size", self.batch_size)


DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class RuntimeConfig:
    """Where torch runs. Thread count is a param because it changes float sums, and tiny models' accuracy with them."""

    threads: int = 2
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: str = "auto"  # auto (the checkpoint's own), float32, bfloat16 or float16
    tensor_parallel_size: int = 1  # GPUs per model (vllm backend)
    gpu_memory_utilization: float = 0.9  # share of GPU memory vllm may take
    prefix_caching: bool = True  # vllm: reuse the KV cache of shared prompt prefixes (few-shot exemplars)
    cpu_kv_cache_gib: int = 1  # vllm on CPU: KV cache size (unset, vLLM would take most of the machine's RAM)
    processes: int = 1  # finetuning processes (ranks); > 1 trains data-parallel (gloo on CPU, NCCL on GPUs)
    distributed_timeout_s: int = 300  # a rank that stops answering fails the run after this long
    worker_processes: int | str = "auto"  # models a stage trains or evaluates at once; auto: all on a CPU

    def __post_init__(self):
        _positive_int("runtime.threads", self.threads)
        _string("runtime.device", self.device, DEVICES)
        _string("runtime.dtype", self.dtype, DTYPES)
        _positive_int("runtime.tensor_parallel_size", self.tensor_parallel_size)
        _number("runtime.gpu_memory_utilization", self.gpu_memory_utilization, low=0, high=1, low_open=True)
        if not isinstance(self.prefix_caching, bool):
            _fail("runtime.prefix_caching", f"must be true or false, got {self.prefix_caching!r}")
        _positive_int("runtime.cpu_kv_cache_gib", self.cpu_kv_cache_gib)
        _positive_int("runtime.processes", self.processes)
        _positive_int("runtime.distributed_timeout_s", self.distributed_timeout_s)
        if self.worker_processes != "auto" and (not _is_int(self.worker_processes) or self.worker_processes < 1):
            _fail("runtime.worker_processes", f"must be 'auto' or a positive integer, got {self.worker_processes!r}")


@dataclass(frozen=True)
class StudyConfig:
    """Which worlds and finetuning cells run. A world is an independent draw of everything random in the study
    (world_seed); the verdicts are intervals over worlds. Inside a world every cell trains once per seed."""

    worlds: tuple[int, ...] = (0, 1, 2)  # independent draws: base models, samples, finetuning, evaluation
    seeds: tuple[int, ...] = (0,)  # finetuning seeds inside a world (TRL's `seed`, shifted by the world)
    controls: tuple[str, ...] = ("wc-matched", "wc-verified", "se-verified")  # control data sources finetuned on
    control_models: tuple[str, ...] = ("se",)  # the models the controls finetune

    def __post_init__(self):
        for key, values, known in (("worlds", self.worlds, None), ("seeds", self.seeds, None),
                                    ("controls", self.controls, DATA_SOURCES[2:]),
                                    ("control_models", self.control_models, MODEL_ROLES)):
            if not isinstance(values, (list, tuple)):
                _fail(f"study.{key}", f"must be a list, got {values!r}")
            if len(set(values)) != len(values):
                _fail(f"study.{key}", f"lists an item twice: {list(values)!r}")
            for value in values:
                if known is None:
                    _positive_int(f"study.{key}", value, allow_zero=True)
                elif value not in known:
                    _fail(f"study.{key}", f"unknown {value!r} (known: {', '.join(known)})")
        for key in ("worlds", "seeds"):
            if not getattr(self, key):
                _fail(f"study.{key}", f"must list at least one {key[:-1]}")
        for key in ("worlds", "seeds", "controls", "control_models"):
            object.__setattr__(self, key, tuple(getattr(self, key)))


@dataclass(frozen=True)
class RayConfig:
    """Spreading the requests of sample, evaluate and judge over Ray workers, each holding one model replica."""

    workers: int = 1  # 1: sample in the stage's own process, no Ray
    address: str | None = None  # join an existing cluster ('127.0.0.1:6379'); null: a local one per stage
    temp_dir: str | None = None  # Ray's session files; null: .ray/ in the repository (gitignored)

    def __post_init__(self):
        _positive_int("ray.workers", self.workers)
        for key in ("address", "temp_dir"):
            if getattr(self, key) is not None:
                _string(f"ray.{key}", getattr(self, key))


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow: where runs go. `uri: null` means a sqlite file in the repo; MLFLOW_TRACKING_URI overrides."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "computematch"

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            _fail("tracking.enabled", f"must be true or false, got {self.enabled!r}")
        if self.uri is not None:
            _string("tracking.uri", self.uri)
        _string("tracking.experiment", self.experiment)


@dataclass(frozen=True)
class Params:
    task: TaskConfig = field(default_factory=TaskConfig)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
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
