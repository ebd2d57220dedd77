"""The study's numbers over worlds: every reported quantity with a 95% interval over worlds, the WC − SE gains and
their verdicts, and the calibration of each world's base models against the targets.

    summary = study_summary(StudyMetrics(...), params.study)   # what metrics/study.json holds

A world is an independent draw of everything random in the study (config.world_seed), so the interval is over
worlds, the independent unit: a world's several finetuning seeds are averaged inside the world first, never
counted as replicates. A gain is paired inside a world: the pass@1 of a model finetuned on WC data minus the same
model finetuned on SE data in the same world. Its mean over worlds and a Student-t 95% interval
(metrics.world_interval) decide the verdict: "agrees" only when the interval excludes 0 in the paper's direction,
"disagrees" only when it excludes 0 in the other, "tie" otherwise. Nothing here is tuned: it only reads metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Callable

from computematch.config import ARMS, CONTROLS, SETUPS, StudyConfig, cell_name
from computematch.metrics import interval_verdict, world_interval

METRIC = "pass@1"
VERSION = 2  # metrics/study.json's layout: 2 = intervals over worlds (1 was over finetuning seeds)
# The calibration targets the base models were set to (README, Calibration): WC's greedy accuracy 0.80-0.95 of
# SE's (the paper's Gemma2-9B reaches ~85-90% of 27B), WC's FPR 10-35% at the default budget (the paper's 24% on
# MATH), and SE's FPR 2-12 points below WC's (the paper: +7 on MATH, +2 on GSM8K).
TARGETS = {"wc_over_se": (0.80, 0.95), "wc_fpr": (0.10, 0.35), "fpr_gap": (0.02, 0.12)}
DATA_KEYS = ("coverage", "diversity", "verified_diversity", "fpr")


@dataclass(frozen=True)
class StudyMetrics:
    """Every metrics file the report reads, keyed by what it is about: bases[(role, world)], data[(arm, world)],
    judges[(arm, world)], evals[(name, world, seed)] (seed None for a base model), finetunes[(cell, world, seed)]."""

    bases: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    evals: dict = field(default_factory=dict)
    finetunes: dict = field(default_factory=dict)
    judges: dict = field(default_factory=dict)


def over_worlds(by_world: dict[int, float | None]) -> dict | None:
    """A quantity's value in each world, its mean and 95% interval over the worlds that have one."""
    known = {world: value for world, value in by_world.items() if value is not None}
    if not known:
        return None
    return {**world_interval(list(known.values())), "by_world": {str(w): v for w, v in known.items()}}


def average_records(records: list) -> object:
    """The mean over worlds of metric records of one shape: numbers averaged (None where none has one), other
    leaves taken from the first. The report's detail tables (by budget level, by difficulty) show this mean."""
    first = records[0]
    if isinstance(first, dict):
        return {key: average_records([r[key] for r in records if isinstance(r, dict) and key in r])
                for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        numbers = [r for r in records if isinstance(r, (int, float)) and not isinstance(r, bool)]
        return mean(numbers) if numbers else None
    if first is None:
        numbers = [r for r in records if isinstance(r, (int, float)) and not isinstance(r, bool)]
        return mean(numbers) if numbers else None
    return first


def compare(metrics: StudyMetrics, role: str, wc_data: str, se_data: str, study: StudyConfig,
            expected_sign: int) -> dict:
    """Model `role` finetuned on `wc_data` vs on `se_data`, each averaged over a world's seeds, paired by world."""
    def cell_mean(data: str, world: int) -> float | None:
        values = [metrics.evals[(cell_name(role, data), world, seed)][METRIC] for seed in study.seeds
                  if (cell_name(role, data), world, seed) in metrics.evals]
        return mean(values) if values else None

    rows = {world: (cell_mean(wc_data, world), cell_mean(se_data, world)) for world in study.worlds}
    rows = {world: pair for world, pair in rows.items() if None not in pair}
    untrained = sorted({data for world in study.worlds for seed in study.seeds for data in (wc_data, se_data)
                        if metrics.finetunes.get((cell_name(role, data), world, seed), {}).get("trained") is False})
    result = {"model": role, "wc_data": wc_data, "se_data": se_data, "expected_sign": expected_sign,
              "worlds": list(rows)}
    if not rows:
        return {**result, "verdict": "not evaluated"}
    gain = over_worlds({world: wc - se for world, (wc, se) in rows.items()})
    se = over_worlds({world: se for world, (_, se) in rows.items()})
    verdict = (f"no verdict: not trained on {' and '.join(untrained)} data (no right answers)" if untrained
               else interval_verdict(gain, expected_sign))
    return {**result, "wc": over_worlds({world: wc for world, (wc, _) in rows.items()}), "se": se, "gain": gain,
            "relative_gain": gain["mean"] / se["mean"] if se["mean"] else None, "verdict": verdict}


def arms_over_worlds(metrics: StudyMetrics, worlds, value: Callable[[dict], float | None]) -> dict:
    """One data quantity of both arms over worlds, and WC − SE paired by world."""
    by_arm = {arm: {w: value(metrics.data[(arm, w)]) if (arm, w) in metrics.data else None for w in worlds}
              for arm in ARMS}
    difference = {w: by_arm["wc"][w] - by_arm["se"][w] for w in worlds
                  if by_arm["wc"][w] is not None and by_arm["se"][w] is not None}
    return {**{arm: over_worlds(by_arm[arm]) for arm in ARMS}, "wc_minus_se": over_worlds(difference)}


def data_summary(metrics: StudyMetrics, worlds, param_count: str) -> dict:
    """Coverage, diversity, FPR, the guessing baseline and the measured sampling FLOPs of each arm, over worlds."""
    summary = {key: arms_over_worlds(metrics, worlds, lambda report, key=key: report.get(key)) for key in DATA_KEYS}
    summary["flops"] = arms_over_worlds(metrics, worlds, lambda report: report["flops"])
    summary["flops_by_param_count"] = param_count
    summary["guessing_baseline"] = over_worlds(
        {w: metrics.data[("se", w)].get("guessing_baseline", {}).get("coverage") for w in worlds
         if ("se", w) in metrics.data})
    return summary


def in_range(value: float | None, bounds: tuple[float, float]) -> bool | None:
    return None if value is None else bounds[0] <= value <= bounds[1]


def calibration(metrics: StudyMetrics, worlds, roles) -> dict:
    """Each world's base models against the calibration targets (TARGETS), and how many worlds meet each: read
    from base-model and data statistics only, never from a finetuning result."""
    by_world = {}
    for world in worlds:
        greedy = {role: metrics.evals.get((role, world, None), {}).get("greedy") for role in roles}
        steps = {role: metrics.bases.get((role, world), {}).get("pretrain_steps") for role in roles}
        fpr = {arm: metrics.data.get((arm, world), {}).get("fpr") for arm in ARMS}
        coverage = {arm: metrics.data.get((arm, world), {}).get("coverage") for arm in ARMS}
        ratio = greedy["wc"] / greedy["se"] if greedy.get("wc") is not None and greedy.get("se") else None
        gap = fpr["wc"] - fpr["se"] if None not in fpr.values() else None
        by_world[str(world)] = {
            "greedy": greedy, "pretrain_steps": steps, "coverage": coverage, "fpr": fpr, "wc_over_se": ratio,
            "fpr_gap": gap, "meets": {"wc_over_se": in_range(ratio, TARGETS["wc_over_se"]),
                                      "wc_fpr": in_range(fpr["wc"], TARGETS["wc_fpr"]),
                                      "fpr_gap": in_range(gap, TARGETS["fpr_gap"])}}
    met = {target: sum(bool(row["meets"][target]) for row in by_world.values()) for target in TARGETS}
    return {"targets": TARGETS, "by_world": by_world, "worlds_meeting": met, "worlds": len(by_world)}


def base_summary(metrics: StudyMetrics, worlds, roles) -> dict:
    """Each base model's test pass@1 and greedy accuracy over worlds, and WC's greedy accuracy over SE's."""
    out = {role: {key: over_worlds({w: metrics.evals.get((role, w, None), {}).get(key) for w in worlds})
                  for key in (METRIC, "greedy")} for role in roles}
    ratios = {}
    for world in worlds:
        wc, se = (metrics.evals.get((role, world, None), {}).get("greedy") for role in ("wc", "se"))
        ratios[world] = wc / se if wc is not None and se else None
    pretrained = {role: any(metrics.bases.get((role, w), {}).get("pretrain_steps") is not None for w in worlds)
                  for role in roles}
    return {"models": out, "wc_over_se": over_worlds(ratios), "pretrained": pretrained}


def study_summary(metrics: StudyMetrics, study: StudyConfig, roles=("student", "wc", "se"),
                  param_count: str = "non_embedding") -> dict:
    """Every number the study reports, over worlds: the data, the base models, their calibration, every setup
    (the paper's Table 1) and every control that ran, each a paired comparison."""
    setups = {setup: compare(metrics, role, "wc", "se", study, +1) for setup, role, *_ in SETUPS}
    controls = {}
    for control, (wc_data, se_data, sign) in CONTROLS.items():
        if wc_data in study.controls and (se_data == "se" or se_data in study.controls):
            controls[control] = {role: compare(metrics, role, wc_data, se_data, study, sign)
                                 for role in study.control_models}
    return {"version": VERSION, "metric": METRIC, "unit": "world", "worlds": list(study.worlds),
            "seeds_per_world": list(study.seeds), "confidence": 0.95,
            "data": data_summary(metrics, study.worlds, param_count),
            "base": base_summary(metrics, study.worlds, roles),
            "calibration": calibration(metrics, study.worlds, roles),
            "setups": setups, "controls": controls,
            "controls_not_run": [c for c in CONTROLS if c not in controls]}
