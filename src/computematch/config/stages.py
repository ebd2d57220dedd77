"""params.yaml sections of what the stages do with the models: decoding, sampling, filtering, evaluation, judging."""

from __future__ import annotations

from dataclasses import dataclass

from computematch.config.checks import _fail, _number, _positive_int, _string


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
    # The largest standard error of a model's pass@1 the evaluation may have, in points: it scores the fewest
    # test problems that guarantee it (measure/accuracy.problems_for_standard_error); None scores every test
    # problem, the paper's full evaluation.
    standard_error: float | None = None

    def __post_init__(self):
        _positive_int("evaluation.samples", self.samples)
        if self.standard_error is not None:
            _number("evaluation.standard_error", self.standard_error, low=0, high=50, low_open=True)
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


@dataclass(frozen=True)
class AdaptiveConfig:
    """The difficulty-aware WC arm: each problem sampled until `k` right final answers or `cap` samples, at the
    uniform WC arm's measured FLOPs (adaptive.py). Its data metrics always; its finetuning cells when study.controls
    lists wc-adaptive."""

    k: int = 4  # right final answers after which a problem takes no more samples (DART-Math's "until k correct")
    cap: int = 32  # most samples one problem may take; at least the uniform arm's S_WC

    def __post_init__(self):
        _positive_int("adaptive.k", self.k)
        _positive_int("adaptive.cap", self.cap)
