"""params.yaml sections of the study's inputs: the task, the models, their pretraining and the sampling budget."""

from __future__ import annotations

from dataclasses import dataclass

from computematch.config.checks import _fail, _is_int, _number, _positive_int, _string


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
    pack: bool = True       # a step's examples packed into rows without padding (pretraining._pack_collate)
    check_temperature: float = 0.35  # the checks' decoding: 0 greedy; > 0 one sample per validation problem at it

    def __post_init__(self):
        for name in ("group_by_length", "pack"):
            if not isinstance(getattr(self, name), bool):
                _fail(f"pretrain.{name}", f"must be true or false, got {getattr(self, name)!r}")
        _positive_int("pretrain.steps", self.steps)
        _positive_int("pretrain.check_every", self.check_every)
        _positive_int("pretrain.batch_size", self.batch_size)
        _number("pretrain.learning_rate", self.learning_rate, low=0, low_open=True)
        _positive_int("pretrain.warmup_steps", self.warmup_steps, allow_zero=True)
        _number("pretrain.weight_decay", self.weight_decay, low=0)
        _positive_int("pretrain.seed", self.seed, allow_zero=True)
        _number("pretrain.check_temperature", self.check_temperature, low=0)


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
