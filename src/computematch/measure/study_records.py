"""The study's summaries over worlds as typed, versioned records: metrics/study.json (every number with its 95%
interval over worlds, the comparisons, the calibration) and metrics/headline.json (what DVC compares).

    from computematch.measure.study_records import StudySummary
    summary = read_record("metrics/study.json", StudySummary)
    summary.setups["SE-LM"].gain.mean
"""

from __future__ import annotations

from typing import ClassVar

from computematch.measure.codec import key, omit
from computematch.measure.records import record

@record
class Interval:
    """A quantity's mean over worlds and its 95% Student-t interval (low and high None with one world)."""

    mean: float
    low: float | None
    high: float | None
    worlds: int
    by_world: dict[str, float] | None = omit()


@record
class ArmsInterval:
    """One quantity of both arms over worlds, and WC − SE paired by world."""

    wc: Interval | None
    se: Interval | None
    wc_minus_se: Interval | None

    def arm(self, name: str) -> Interval | None:
        return getattr(self, name)


@record
class DataSummary:
    coverage: ArmsInterval
    coverage_at_1: ArmsInterval
    diversity: ArmsInterval
    verified_diversity: ArmsInterval
    fpr: ArmsInterval
    flops: ArmsInterval
    flops_by_param_count: str
    guessing_baseline: Interval | None


@record
class Paired:
    """One quantity of two data sources over worlds, and first − second paired by world."""

    first: Interval | None
    second: Interval | None
    difference: Interval | None


@record
class AdaptiveOutcome:
    """One world's adaptive allocation (records.AdaptiveRecord): the k it ended at, the cap it applied, its FLOPs
    over the uniform arm's, whether that is within 2%, and the problems by why they stopped."""

    k_reached: int
    cap_used: int
    flops_ratio: float
    matched: bool
    stopped: dict[str, int]


@record
class AdaptiveSummary:
    """The difficulty-aware WC arm beside the uniform WC arm, over worlds (first: adaptive, second: uniform), and
    by difficulty level the samples each of the three arms spends and the coverage it reaches."""

    coverage: Paired
    diversity: Paired
    fpr: Paired
    flops: Paired
    mean_samples_per_problem: Paired
    samples_by_difficulty: dict[str, dict[str, Interval | None]]  # level -> arm (wc, se, wc-adaptive) -> interval
    coverage_by_difficulty: dict[str, dict[str, Interval | None]]
    outcomes: dict[str, AdaptiveOutcome]  # world -> its allocation's outcome


@record
class ModelAccuracy:
    pass_at_1: Interval | None = key("pass@1")
    greedy: Interval | None


@record
class BaseSummary:
    models: dict[str, ModelAccuracy]
    wc_over_se: Interval | None  # WC's greedy accuracy over SE's
    pretrained: dict[str, bool]


@record
class WorldCalibration:
    """One world's base models and data against the calibration targets (study.TARGETS): WC − SE and WC / SE of
    the paper's observables at the default budget."""

    greedy: dict[str, float | None]
    pretrain_steps: dict[str, int | None]
    coverage: dict[str, float | None]
    sample_accuracy: dict[str, float | None]  # coverage@1 in expectation, over every sample (less noisy)
    diversity: dict[str, float | None]
    fpr: dict[str, float | None]
    wc_over_se: float | None  # greedy accuracy
    values: dict[str, float | None]  # target -> this world's value (coverage_gap, diversity_ratio, fpr_gap, ...)
    meets: dict[str, bool | None]


@record
class Calibration:
    targets: dict[str, list[float]]
    by_world: dict[str, WorldCalibration]
    worlds_meeting: dict[str, int]
    worlds: int


@record
class Comparison:
    """A model finetuned on one data source vs another, paired by world, and the verdict of the gain's interval."""

    model: str
    wc_data: str
    se_data: str
    expected_sign: int  # the paper's: +1 WC data better, -1 SE data better, 0 no claim
    worlds: list[int]
    wc: Interval | None = omit()
    se: Interval | None = omit()
    gain: Interval | None = omit()
    relative_gain: float | None = omit()
    verdict: str


@record
class GapFit:
    """One WC − SE gain against the world's gap (WC / SE coverage@1), least squares over worlds (covariate.py)."""

    worlds: int
    slope: float  # gain per unit of gap
    slope_low: float | None
    slope_high: float | None
    at_paper_gap: float  # the gain the line predicts at GapAnalysis.paper_gap, and its 95% interval
    at_paper_low: float | None
    at_paper_high: float | None
    zero_gap: float | None  # the gap where the line crosses 0, when the slope's interval excludes 0


@record
class GapAnalysis:
    """The gains against the capability gap between WC and SE, world by world (beyond the paper)."""

    gap: str  # what the gap is
    paper_gap: float
    by_world: dict[str, float]
    fits: dict[str, GapFit | None]  # setup or control/model -> its line (None: fewer than two worlds)


@record
class Replication:
    """One verdict against a pool of worlds of the same recipe (measure/replication.py)."""

    pool_verdict: str  # the verdict over every world of the pool
    share: float  # share of sets of the study's size whose verdict is the pool's
    worlds_needed: int | None  # the fewest worlds giving the pool's verdict in TARGET_SHARE of sets; None: more than the pool holds, or a tie (no number finds one)
    reported: str  # this study's verdict, or "unresolved at N worlds (needs M)" when the pool resolves what N cannot


@record
class ReplicationSummary:
    """How often each verdict of a study of this size would come out as the pool's."""

    pool: str  # the pool's study.json (study.replication_pool)
    pool_sha256: str
    pool_worlds: list[int]
    worlds: int  # the study's size, at which the shares are counted
    target_share: float
    by_verdict: dict[str, Replication]  # setup, control/model or data quantity -> its replication


@record
class StudySummary:
    """metrics/study.json: every number the study reports, over worlds."""

    KIND: ClassVar[str] = "study"
    # 2: intervals over worlds (1 was over finetuning seeds); 3: coverage_at_1; 4: adaptive; 5: adaptive outcomes;
    # 6: round 5's calibration targets, rates' intervals on the logit scale, the gap analysis, replication
    VERSION: ClassVar[int] = 6

    version: int = VERSION
    metric: str
    unit: str
    worlds: list[int]
    seeds_per_world: list[int]
    confidence: float
    data: DataSummary
    base: BaseSummary
    calibration: Calibration
    setups: dict[str, Comparison]
    controls: dict[str, dict[str, Comparison]]
    controls_not_run: list[str]
    adaptive: AdaptiveSummary | None = omit()
    gap: GapAnalysis | None = omit()
    replication: ReplicationSummary | None = omit()


@record
class Gain:
    """A WC − SE difference over worlds: its mean and 95% interval (the worlds are the headline's)."""

    mean: float
    low: float | None
    high: float | None


@record
class Headline:
    """metrics/headline.json: the study's headline numbers, the only file DVC compares (`dvc metrics diff`,
    `dvc exp show`): each a mean over worlds; the gains with their 95% interval and verdict. The detail stays in
    study.json and the per-stage records (`dvc metrics show <file>` reads any of them)."""

    KIND: ClassVar[str] = "headline"
    VERSION: ClassVar[int] = 1

    worlds: int
    data: dict[str, dict[str, float | None]]  # quantity -> arm -> mean over worlds
    pass_at_1: dict[str, float | None]  # every base and finetuned model (role or cell) -> test pass@1
    gain: dict[str, Gain | None]  # setup or control/model -> WC − SE pass@1, paired by world
    verdict: dict[str, str]
