"""The study's metrics files as typed, versioned records: what each stage writes and the report reads.

    from computematch.measure.records import DataRecord, read_record, write_record
    data = read_record("metrics/data/wc/world-0.json", DataRecord)
    data.by_budget["1"].coverage

The summaries over worlds (metrics/study.json, metrics/headline.json) are in study_records.py. Each record's KIND/VERSION is the file's `schema`; change a record's fields and its VERSION goes up (readers of
the old version then say so in one line). Field names are the files' keys (`key(...)` where a key is no Python
name). Numbers are fractions (0.35, not 35%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from computematch.measure.codec import RecordError, flat, key, omit, read_record, write_record  # noqa: F401

record = dataclass(frozen=True, kw_only=True)


# ---------------------------------------------------------------- data (stage filter)

@record
class DataQuality:
    """The data metrics of one budget level (the first k samples of every problem) or of one difficulty level."""

    coverage: float  # share of problems with a right final answer (Bansal et al., Sec. 4)
    diversity: float  # unique right solutions per problem
    verified_diversity: float  # ... counting only solutions whose every step checks out
    fpr: float | None  # share of right-answer samples with wrong reasoning (None: nothing checkable)
    extraction_failure_rate: float  # share of samples stating no final answer
    sample_accuracy: float  # share of samples with the right final answer (the filter's yield)
    problems: int
    samples: int
    flops: float | None = omit()  # measured sampling FLOPs of the first k samples (by budget level only)


@record
class ModeQuality:
    """Coverage, diversity and yield under one grading mode of the task (e.g. GSM8K's strict / flexible)."""

    coverage: float
    diversity: float
    sample_accuracy: float
    correct: int


@record
class Grading:
    mode: str | None  # the mode that filtered and scored
    by_mode: dict[str, ModeQuality]


@record
class StepChecks:
    """Totals of a partial step checker (GSM8K's calculator annotations)."""

    checked: int
    unparsable: int
    wrong: int
    samples_with_checks: int


@record
class GuessingReference:
    split: str
    problems: int
    coverage: float
    by_difficulty: dict[str, float]


@record
class GuessingBaseline:
    """Coverage of a guesser that states the most common answer of a problem's level: luck, not skill."""

    coverage: float
    by_difficulty: dict[str, float]
    reference: GuessingReference | None = omit()


@record
class VariantSummary:
    """A control variant of an arm's data (config VARIANTS): how many samples per problem it reads, what it holds."""

    samples_per_problem: int
    examples: int
    coverage: float
    fpr: float | None
    diversity: float


@record
class DataRecord:
    """metrics/data/ARM/world-W.json: one arm's data at the full budget, by budget level and by difficulty."""

    KIND: ClassVar[str] = "data"
    VERSION: ClassVar[int] = 3  # 2: coverage_at_1; 3: samples per problem (the adaptive arm's vary)

    coverage: float
    coverage_at_1: float  # share of problems whose first sample is right: what one sample per problem covers
    diversity: float
    fpr: float | None
    flops: float
    samples_per_problem: int  # S (the adaptive arm: the most one problem took)
    mean_samples_per_problem: float
    samples_by_difficulty: dict[str, float]  # mean samples per problem of each level
    verified_diversity: float
    extraction_failure_rate: float
    sample_accuracy: float
    correct_samples: int
    parameters: int  # the P that priced a generated token (budget.param_count)
    by_budget: dict[str, DataQuality]
    by_difficulty: dict[str, DataQuality]
    variants: dict[str, VariantSummary]
    guessing_baseline: GuessingBaseline
    kept: int
    duplicates_dropped: int
    dedup: bool
    grading: Grading
    step_checks: StepChecks | None
    grader: dict[str, str | int | None]
    decontamination: dict | None = omit()
    environment: dict | None = omit()


@record
class SftRecord:
    """metrics/sft/SOURCE/world-W.json: what one data source holds (the finetuning stages tag their models with it)."""

    KIND: ClassVar[str] = "sft"
    VERSION: ClassVar[int] = 1

    variant: str
    samples_per_problem: int
    examples: int
    coverage: float
    diversity: float
    fpr: float | None


@record
class SampleRecord:
    """metrics/sample/ARM/world-W.json: what the sampler drew and what it cost."""

    KIND: ClassVar[str] = "sample"
    VERSION: ClassVar[int] = 1

    samples_per_problem: int
    ratio: float
    problems: int
    drawn: int
    reused: int
    seconds: float
    generated_tokens_per_second: float | None
    unfinished: int
    samples: int
    completion_tokens: int
    prompt_tokens: int
    mean_completion_tokens: float
    flops: dict[str, float]
    flops_with_prompt: dict[str, float]
    batch_invariant: bool | None = None
    environment: dict | None = omit()


@record
class AdaptiveRecord:
    """metrics/sample/wc-adaptive/world-W.json: the difficulty-aware WC arm's allocation and its FLOPs ledger."""

    KIND: ClassVar[str] = "adaptive"
    VERSION: ClassVar[int] = 2  # 2: k_reached, cap_used, matched (the arm raises k instead of failing)

    k: int  # adaptive.k
    cap: int  # adaptive.cap
    cap_used: int  # the cap applied: adaptive.cap, or S_WC when that is larger (adaptive.effective_cap)
    k_reached: int  # the k the arm ended at: above adaptive.k when the budget outlasted every problem's k right answers
    uniform_samples_per_problem: int  # S_WC of the uniform arm whose FLOPs it matches
    target_flops: float  # the uniform WC arm's measured generated-token FLOPs
    flops: float  # what the adaptive arm's samples cost (2·P per generated token)
    flops_ratio: float
    matched: bool  # flops within 2% of the target (False only when every problem is at the cap)
    rounds: int
    problems: int
    samples: int
    reused: int  # the uniform arm's own samples (indices below S_WC)
    stored: int  # read from the shared resume store
    drawn: int  # drawn by this run
    stopped: dict[str, int]  # problems by why they stopped: 'k right', 'cap', 'budget'
    max_samples_per_problem: int
    samples_by_difficulty: dict[str, float]
    seconds: float
    batch_invariant: bool | None = None
    environment: dict | None = omit()


@record
class PrepareRecord:
    """metrics/prepare.json: the splits' sizes, skipped source rows and decontamination counts."""

    KIND: ClassVar[str] = "prepare"
    VERSION: ClassVar[int] = 1

    problems: dict[str, int]
    by_difficulty: dict[str, dict[str, int]]
    skipped_source_rows: dict[str, dict[str, int]]
    decontamination: dict
    environment: dict | None = omit()


@record
class JudgeRecord:
    """metrics/judge/ARM/world-W.json: an LLM judge's verdicts on a sample of the kept solutions."""

    KIND: ClassVar[str] = "judge"
    VERSION: ClassVar[int] = 1

    enabled: bool
    judge_model: str | None = omit()
    sample_size: int | None = omit()
    judged: int | None = omit()
    unparsable: int | None = omit()
    fpr: float | None = omit()
    fpr_ci95: list[float] | None = omit()  # Wilson 95% interval
    agreement_with_step_checker: float | None = omit()
    exact_fpr_on_judged: float | None = omit()
    environment: dict | None = omit()


# ---------------------------------------------------------------- models (stages bootstrap, finetune, evaluate)

@record
class BaseModelRecord:
    """metrics/bootstrap/ROLE/world-W.json: one base model of one world."""

    KIND: ClassVar[str] = "base-model"
    VERSION: ClassVar[int] = 1

    parameters: dict[str, int]
    val_greedy_accuracy: float
    val_greedy_by_difficulty: dict[str, float]
    final_loss: float | None
    pretrain_steps: int | None  # None: loaded, not pretrained here
    pretrain_seed: int | None
    stop_at_accuracy: float | None
    weights_sha256: str  # which model: a world's draw, distinct from every other's
    seconds: float
    environment: dict | None = omit()


@record
class FinetuneRecord:
    """metrics/finetune/CELL/world-W/seed-S.json: one finetuned model."""

    KIND: ClassVar[str] = "finetune"
    VERSION: ClassVar[int] = 1

    trained: bool  # false: no training data (no right answers); the base model stands in
    val_greedy_accuracy: float
    processes: int
    global_batch: int
    checkpoint_step: int | None
    examples: int
    trained_tokens: int
    training_flops: dict[str, float]  # 6·P per trained token, by parameter count
    seconds: float
    final_train_loss: float | None
    registered: dict | None = None  # the MLflow registered model version
    environment: dict | None = omit()


@record
class AccuracyRow:
    """pass@1, greedy accuracy and majority-vote accuracies of a model on some problems."""

    pass_at_1: float = key("pass@1")
    greedy: float
    majority: dict[str, float] = flat("maj@")  # maj@k by k


@record
class EvalRecord:
    """metrics/eval/ROLE/world-W.json (a base model) or metrics/eval/CELL/world-W/seed-S.json: test accuracy."""

    KIND: ClassVar[str] = "eval"
    VERSION: ClassVar[int] = 1

    pass_at_1: float = key("pass@1")
    greedy: float
    majority: dict[str, float] = flat("maj@")
    problems: int
    by_difficulty: dict[str, AccuracyRow]
    by_grading: dict[str, AccuracyRow]  # pass@1 and greedy under every grading mode the task offers
    grading: str | None
    samples: int
    batch_invariant: bool | None = None
    seconds: float | None = omit()
    environment: dict | None = omit()

    @property
    def overall(self) -> AccuracyRow:
        return AccuracyRow(pass_at_1=self.pass_at_1, greedy=self.greedy, majority=self.majority)
