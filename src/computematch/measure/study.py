"""The study's numbers over worlds: every reported quantity with a 95% interval over worlds, the WC − SE gains and
their verdicts, and the calibration of each world's base models against the targets.

    summary = study_summary(StudyMetrics(...), params.study)   # -> records.StudySummary, metrics/study.json

A world is an independent draw of everything random in the study (names.world_seed), so the interval is over
worlds, the independent unit: a world's several finetuning seeds are averaged inside the world first, never
counted as replicates. A gain is paired inside a world: the pass@1 of a model finetuned on WC data minus the same
model finetuned on SE data in the same world. Its mean over worlds and a Student-t 95% interval
(intervals.world_interval) decide the verdict: "agrees" only when the interval excludes 0 in the paper's direction,
"disagrees" only when it excludes 0 in the other, "tie" otherwise. Nothing here is tuned: it only reads metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Callable, TypeVar

from computematch.measure.codec import from_json, to_json
from computematch.measure.covariate import fit_line
from computematch.measure.intervals import interval_verdict, over_worlds
from computematch.measure.records import (AdaptiveRecord, BaseModelRecord, DataRecord, EvalRecord, FinetuneRecord,
                                          JudgeRecord)
from computematch.measure.study_records import (AdaptiveOutcome, AdaptiveSummary, ArmsInterval, BaseSummary, Calibration, Comparison,
                                                DataSummary, Gain, GapAnalysis, GapFit, Headline, Interval,
                                                ModelAccuracy, Paired,
                                                StudySummary, WorldCalibration)
from computematch.names import ADAPTIVE, ARMS, CONTROL_SIDES, CONTROLS, SETUPS, cell_name

METRIC = "pass@1"
# The calibration targets (docs/calibration.md, round 5; issue 29): at the default budget WC's coverage 5-11 points
# above SE's, its diversity at least 1.5x SE's, its FPR 2-12 points above SE's (the paper, Gemma2-9B vs 27B: +6 to
# +11 coverage on MATH, +86% to +158% diversity, +2 to +7 FPR), and WC / SE coverage@1 at the sampling temperature
# 0.80-0.95 (9B reaches ~85-90% of 27B's accuracy).
TARGETS = {"coverage_gap": (0.05, 0.11), "diversity_ratio": (1.5, float("inf")), "fpr_gap": (0.02, 0.12),
           "coverage_at_1_ratio": (0.80, 0.95)}
PAPER_GAP = 0.875  # the gap analysis' reference: WC / SE accuracy of Gemma2-9B / 27B, 0.85-0.90
DATA_KEYS = ("coverage", "coverage_at_1", "diversity", "verified_diversity", "fpr")
RATES = ("coverage", "coverage_at_1", "fpr")  # shares in [0, 1]: their intervals are made on the logit scale
R = TypeVar("R")


@dataclass(frozen=True)
class StudyMetrics:
    """Every metrics record the report reads, keyed by what it is about: bases[(role, world)], data[(arm, world)],
    judges[(arm, world)], evals[(name, world, seed)] (seed None for a base model), finetunes[(cell, world, seed)],
    allocations[world] (the adaptive arm's)."""

    bases: dict[tuple, BaseModelRecord] = field(default_factory=dict)
    data: dict[tuple, DataRecord] = field(default_factory=dict)
    evals: dict[tuple, EvalRecord] = field(default_factory=dict)
    finetunes: dict[tuple, FinetuneRecord] = field(default_factory=dict)
    judges: dict[tuple, JudgeRecord] = field(default_factory=dict)
    allocations: dict[int, AdaptiveRecord] = field(default_factory=dict)


def _average_json(values: list) -> object:
    """The mean of JSON values of one shape: numbers averaged (None where none has one), other leaves the first's."""
    first = values[0]
    if isinstance(first, dict):
        return {k: _average_json([v[k] for v in values if isinstance(v, dict) and k in v]) for k in first}
    if first is None or (isinstance(first, (int, float)) and not isinstance(first, bool)):
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return mean(numbers) if numbers else None
    return first


def average_records(records: list[R]) -> R:
    """The mean over worlds (and seeds) of records of one type: what the report's detail tables show."""
    return from_json(type(records[0]), _average_json([to_json(r) for r in records]), "mean of records")


def averaged(records: dict[tuple, R]) -> dict[str, R]:
    """Records keyed by tuples, averaged over everything but the key's first element (worlds, seeds)."""
    groups: dict = {}
    for key, record in records.items():
        groups.setdefault(key[0], []).append(record)
    return {name: average_records(group) for name, group in groups.items()}


def compare(metrics: StudyMetrics, role: str, wc_data: str, se_data: str, worlds, seeds,
            expected_sign: int, sides: tuple[str, str] | None = None) -> Comparison:
    """Model `role` finetuned on `wc_data` vs on `se_data`, each averaged over a world's seeds, paired by world."""
    def cell_mean(data: str, world: int) -> float | None:
        values = [metrics.evals[(cell_name(role, data), world, seed)].pass_at_1 for seed in seeds
                  if (cell_name(role, data), world, seed) in metrics.evals]
        return mean(values) if values else None

    rows = {world: (cell_mean(wc_data, world), cell_mean(se_data, world)) for world in worlds}
    rows = {world: pair for world, pair in rows.items() if None not in pair}
    untrained = sorted({data for world in worlds for seed in seeds for data in (wc_data, se_data)
                        if (member := metrics.finetunes.get((cell_name(role, data), world, seed))) is not None
                        and not member.trained})
    header = {"model": role, "wc_data": wc_data, "se_data": se_data, "expected_sign": expected_sign,
              "worlds": list(rows)}
    if not rows:
        return Comparison(**header, verdict="not evaluated")
    gain = over_worlds({world: wc - se for world, (wc, se) in rows.items()})
    se = over_worlds({world: se for world, (_, se) in rows.items()}, rate=True)
    verdict = (f"no verdict: not trained on {' and '.join(untrained)} data (no right answers)" if untrained
               else interval_verdict(gain, expected_sign, *(sides or ())))
    return Comparison(**header, wc=over_worlds({world: wc for world, (wc, _) in rows.items()}, rate=True), se=se,
                      gain=gain,
                      relative_gain=gain.mean / se.mean if se.mean else None, verdict=verdict)


def arms_over_worlds(metrics: StudyMetrics, worlds, value: Callable[[DataRecord], float | None],
                     rate: bool = False) -> ArmsInterval:
    """One data quantity of both arms over worlds (`rate`: a share in [0, 1]), and WC − SE paired by world."""
    by_arm = {arm: {w: value(metrics.data[(arm, w)]) if (arm, w) in metrics.data else None for w in worlds}
              for arm in ARMS}
    wc, se = ARMS
    difference = {w: by_arm[wc][w] - by_arm[se][w] for w in worlds
                  if by_arm[wc][w] is not None and by_arm[se][w] is not None}
    return ArmsInterval(**{arm: over_worlds(by_arm[arm], rate) for arm in ARMS}, wc_minus_se=over_worlds(difference))


def data_summary(metrics: StudyMetrics, worlds, param_count: str) -> DataSummary:
    """Coverage, diversity, FPR, the guessing baseline and the measured sampling FLOPs of each arm, over worlds."""
    return DataSummary(
        **{key: arms_over_worlds(metrics, worlds, lambda record, key=key: getattr(record, key), key in RATES)
           for key in DATA_KEYS},
        flops=arms_over_worlds(metrics, worlds, lambda record: record.flops), flops_by_param_count=param_count,
        guessing_baseline=over_worlds({w: metrics.data[("se", w)].guessing_baseline.coverage for w in worlds
                                       if ("se", w) in metrics.data}, rate=True))


def in_range(value: float | None, bounds: tuple[float, float]) -> bool | None:
    return None if value is None else bounds[0] <= value <= bounds[1]


def calibration(metrics: StudyMetrics, worlds, roles) -> Calibration:
    """Each world's base models and data against the calibration targets (TARGETS), and how many worlds meet each:
    read from base-model and data statistics only, never from a finetuning result."""
    def attribute(records: dict, key: tuple, name: str):
        return getattr(records[key], name) if key in records else None

    def both(name: str) -> dict:
        return {arm: attribute(metrics.data, (arm, world), name) for arm in ARMS}

    by_world = {}
    for world in worlds:
        greedy = {role: attribute(metrics.evals, (role, world, None), "greedy") for role in roles}
        steps = {role: attribute(metrics.bases, (role, world), "pretrain_steps") for role in roles}
        data = {name: both(name) for name in ("coverage", "sample_accuracy", "diversity", "fpr")}
        known = lambda name: None not in data[name].values()  # noqa: E731
        values = {"coverage_gap": data["coverage"]["wc"] - data["coverage"]["se"] if known("coverage") else None,
                  "diversity_ratio": data["diversity"]["wc"] / data["diversity"]["se"]
                  if known("diversity") and data["diversity"]["se"] else None,
                  "fpr_gap": data["fpr"]["wc"] - data["fpr"]["se"] if known("fpr") else None,
                  "coverage_at_1_ratio": data["sample_accuracy"]["wc"] / data["sample_accuracy"]["se"]
                  if known("sample_accuracy") and data["sample_accuracy"]["se"] else None}
        ratio = greedy["wc"] / greedy["se"] if greedy.get("wc") is not None and greedy.get("se") else None
        by_world[str(world)] = WorldCalibration(
            greedy=greedy, pretrain_steps=steps, **data, wc_over_se=ratio, values=values,
            meets={target: in_range(values[target], bounds) for target, bounds in TARGETS.items()})
    met = {target: sum(bool(row.meets[target]) for row in by_world.values()) for target in TARGETS}
    return Calibration(targets={k: list(v) for k, v in TARGETS.items()}, by_world=by_world, worlds_meeting=met,
                       worlds=len(by_world))


def gap_analysis(metrics: StudyMetrics, worlds, comparisons: dict[str, Comparison]) -> GapAnalysis | None:
    """Every gain against the world's gap, WC / SE coverage@1 at the sampling temperature (docs/calibration.md:
    chosen before the round-5 worlds were drawn), one least-squares line each."""
    gap = {}  # coverage@1 in expectation: each arm's sample accuracy, over all its samples rather than the first
    for world in worlds:
        if ("wc", world) in metrics.data and ("se", world) in metrics.data and metrics.data[("se", world)].sample_accuracy:
            gap[str(world)] = metrics.data[("wc", world)].sample_accuracy / metrics.data[("se", world)].sample_accuracy
    if not gap:
        return None
    fits = {}
    for name, row in comparisons.items():
        line = None if row.gain is None or not row.gain.by_world else fit_line(gap, row.gain.by_world)
        if line is None:
            fits[name] = None
            continue
        at, low, high = line.at(PAPER_GAP)
        excludes_zero = line.slope_low is not None and (line.slope_low > 0 or line.slope_high < 0)
        fits[name] = GapFit(worlds=line.worlds, slope=line.slope, slope_low=line.slope_low, slope_high=line.slope_high,
                            at_paper_gap=at, at_paper_low=low, at_paper_high=high,
                            zero_gap=line.zero if excludes_zero else None)
    return GapAnalysis(gap="WC / SE coverage@1 at the sampling temperature", paper_gap=PAPER_GAP, by_world=gap,
                       fits=fits)


def base_summary(metrics: StudyMetrics, worlds, roles) -> BaseSummary:
    """Each base model's test pass@1 and greedy accuracy over worlds, and WC's greedy accuracy over SE's."""
    def accuracy(role: str, world: int, name: str) -> float | None:
        record = metrics.evals.get((role, world, None))
        return None if record is None else getattr(record, name)

    models = {role: ModelAccuracy(pass_at_1=over_worlds({w: accuracy(role, w, "pass_at_1") for w in worlds}, rate=True),
                                  greedy=over_worlds({w: accuracy(role, w, "greedy") for w in worlds}, rate=True))
              for role in roles}
    ratios = {}
    for world in worlds:
        wc, se = (accuracy(role, world, "greedy") for role in ("wc", "se"))
        ratios[world] = wc / se if wc is not None and se else None
    pretrained = {role: any((role, w) in metrics.bases and metrics.bases[(role, w)].pretrain_steps is not None
                            for w in worlds) for role in roles}
    return BaseSummary(models=models, wc_over_se=over_worlds(ratios), pretrained=pretrained)


def every_comparison(setups: dict[str, Comparison], controls: dict[str, dict[str, Comparison]]) -> dict[str, Comparison]:
    """The setups and every control's comparisons, by the name the headline gives them (control/model)."""
    return {**setups, **{f"{control}/{role}": row for control, by_model in controls.items()
                         for role, row in by_model.items()}}


def study_summary(metrics: StudyMetrics, study, roles=("student", "wc", "se"),
                  param_count: str = "non_embedding") -> StudySummary:
    """Every number the study reports, over worlds: the data, the base models, their calibration, every setup
    (the paper's Table 1) and every control that ran, each a paired comparison. `study`: config.StudyConfig."""
    worlds, seeds = study.worlds, study.seeds
    setups = {setup: compare(metrics, role, "wc", "se", worlds, seeds, +1) for setup, role, *_ in SETUPS}
    controls = {}
    for control, (wc_data, se_data, sign) in CONTROLS.items():
        if wc_data in study.controls and (se_data in ARMS or se_data in study.controls):
            controls[control] = {role: compare(metrics, role, wc_data, se_data, worlds, seeds, sign,
                                               CONTROL_SIDES.get(control))
                                 for role in study.control_models}
    comparisons = every_comparison(setups, controls)
    return StudySummary(metric=METRIC, unit="world", worlds=list(worlds), seeds_per_world=list(seeds), confidence=0.95,
                        data=data_summary(metrics, worlds, param_count), base=base_summary(metrics, worlds, roles),
                        calibration=calibration(metrics, worlds, roles), setups=setups, controls=controls,
                        controls_not_run=[c for c in CONTROLS if c not in controls],
                        adaptive=adaptive_summary(metrics, worlds), gap=gap_analysis(metrics, worlds, comparisons))


def paired(metrics: StudyMetrics, worlds, first: str, second: str,
           value: Callable[[DataRecord], float | None], rate: bool = False) -> Paired:
    """One data quantity of two data sources over worlds (`rate`: a share in [0, 1]), and first − second paired by
    world."""
    by = {name: {w: value(metrics.data[(name, w)]) if (name, w) in metrics.data else None for w in worlds}
          for name in (first, second)}
    difference = {w: by[first][w] - by[second][w] for w in worlds if None not in (by[first][w], by[second][w])}
    return Paired(first=over_worlds(by[first], rate), second=over_worlds(by[second], rate),
                  difference=over_worlds(difference))


def adaptive_summary(metrics: StudyMetrics, worlds) -> AdaptiveSummary | None:
    """The adaptive WC arm against the uniform one (None when no world has it): overall, and by level the samples
    spent and the coverage reached by each of the three arms."""
    if not any((ADAPTIVE, w) in metrics.data for w in worlds):
        return None
    arms = (*ARMS, ADAPTIVE)
    levels = next(metrics.data[(ADAPTIVE, w)] for w in worlds if (ADAPTIVE, w) in metrics.data).by_difficulty

    def by_level(value: Callable[[DataRecord, str], float | None],
                 rate: bool = False) -> dict[str, dict[str, Interval | None]]:
        return {level: {arm: over_worlds({w: value(metrics.data[(arm, w)], level) for w in worlds
                                          if (arm, w) in metrics.data}, rate) for arm in arms} for level in levels}

    return AdaptiveSummary(
        **{key: paired(metrics, worlds, ADAPTIVE, "wc", lambda record, key=key: getattr(record, key), key in RATES)
           for key in ("coverage", "diversity", "fpr", "flops", "mean_samples_per_problem")},
        samples_by_difficulty=by_level(lambda record, level: record.samples_by_difficulty.get(level)),
        coverage_by_difficulty=by_level(lambda record, level: record.by_difficulty[level].coverage
                                        if level in record.by_difficulty else None, rate=True),
        outcomes={str(w): AdaptiveOutcome(k_reached=a.k_reached, cap_used=a.cap_used, flops_ratio=a.flops_ratio,
                                          matched=a.matched, stopped=a.stopped)
                  for w, a in metrics.allocations.items() if w in worlds})


HEADLINE_DATA = ("coverage", "coverage_at_1", "diversity", "fpr", "flops")


def headline(study: StudySummary) -> Headline:
    """The numbers an experiment is compared by: each arm's data, each model's pass@1, each gain and verdict."""
    def mean_of(interval: Interval | None) -> float | None:
        return None if interval is None else interval.mean

    comparisons = every_comparison(study.setups, study.controls)
    pass_at_1 = {role: mean_of(accuracy.pass_at_1) for role, accuracy in study.base.models.items()}
    for row in comparisons.values():
        pass_at_1.update({cell_name(row.model, row.wc_data): mean_of(row.wc),
                          cell_name(row.model, row.se_data): mean_of(row.se)})
    gains = {name: None if row.gain is None else Gain(mean=row.gain.mean, low=row.gain.low, high=row.gain.high)
             for name, row in comparisons.items()}
    data = {key: {arm: mean_of(getattr(study.data, key).arm(arm)) for arm in ARMS} for key in HEADLINE_DATA}
    if study.adaptive is not None:  # the difficulty-aware WC arm beside the two uniform ones
        for key in ("coverage", "diversity", "fpr", "flops"):
            data[key][ADAPTIVE] = mean_of(getattr(study.adaptive, key).first)
    return Headline(worlds=len(study.worlds), data=data,
                    pass_at_1=pass_at_1, gain=gains, verdict={name: row.verdict for name, row in comparisons.items()})
