"""The paper's tables from this run's records: pure functions from typed records to Markdown.

    text = render_report(ReportInputs(study=summary, data={"wc": ..., "se": ...}, evals=..., bases=...), plots)

The headline numbers come from the study summary (measure/study.py): means over worlds with 95% intervals. The
detail tables (by budget level, by difficulty, every model) show records averaged over worlds (and seeds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from computematch.measure.intervals import INTERVAL_METHODS
from computematch.measure.replication import needed_text
from computematch.measure.records import BaseModelRecord, DataRecord, EvalRecord, FinetuneRecord, JudgeRecord
from computematch.measure.study_records import StudySummary
from computematch.measure.study import METRIC
from computematch.names import ARMS, CONTROLS, MODEL_ROLES, SETUPS, cell_name
from computematch.render.data_tables import (adaptive_table, data_findings, data_interval_table, data_table, difficulty_table,
                                             guess_reference, hygiene_lines, judge_table)
from computematch.render.formatting import mean_pct, pct, points, scaled

# Relative gain of finetuning on WC over SE data reported by Bansal et al. (2024) for Gemma2-9B vs 27B data,
# pass@1, low / high budget (docs/paper.md, "Headline numbers"). None where the paper reports "about equal".
PAPER_GAINS = {
    "Student-LM": {"MATH": (6.0, 5.8), "GSM8K": (4.2, 1.3)},
    "WC-LM": {"MATH": (3.8, 2.0), "GSM8K": (1.5, None)},
    "SE-LM": {"MATH": (5.8, 4.3), "GSM8K": (1.2, 1.5)},
}
PAPER_TEMPERATURE = 0.7  # the paper samples and evaluates at T 0.7
PAPER_DATA = "MATH: coverage +11 / +6 points, diversity +86% / +125%, FPR +7 points (WC − SE; low / high budget)"


@dataclass(frozen=True)
class ReportInputs:
    """What the report renders: the summary over worlds, and each record averaged over worlds (and seeds), keyed by
    arm (data, judges), model (bases), evaluated model (evals) or cell (finetunes). `environments`: stage run ->
    its environment; `temperatures`: {"sampling": T, "evaluation": T}, stated beside the paper's."""

    study: StudySummary
    data: dict[str, DataRecord]
    evals: dict[str, EvalRecord]
    bases: dict[str, BaseModelRecord]
    finetunes: dict[str, FinetuneRecord] = field(default_factory=dict)
    judges: dict[str, JudgeRecord] = field(default_factory=dict)
    environments: dict[str, dict | None] = field(default_factory=dict)
    temperatures: dict[str, float] | None = None


def setups_table(study: StudySummary) -> tuple[list[str], list[str]]:
    """The paper's Table 1 over worlds: WC − SE gain as a mean over worlds and its 95% interval, and the verdict."""
    lines = [f"| setup | base | on WC data | on SE data | WC − SE gain, points (95% CI over {len(study.worlds)} worlds) "
             "| relative | paper: relative gain, MATH low / high | paper: GSM8K low / high | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    findings = []
    fmt = lambda pair: " / ".join("≈0" if v is None else f"+{v}%" for v in pair)  # noqa: E731
    for setup, role, wc_paradigm, se_paradigm in SETUPS:
        row, paper = study.setups[setup], PAPER_GAINS[setup]
        relative = "n/a" if row.relative_gain is None else f"{100 * row.relative_gain:+.1f}%"
        lines.append(f"| {setup} | {mean_pct(study.base.models[role].pass_at_1)} | {mean_pct(row.wc)} | {mean_pct(row.se)} "
                     f"| {points(row.gain)} | {relative} | {fmt(paper['MATH'])} | {fmt(paper['GSM8K'])} "
                     f"| {row.verdict} |")
        findings.append(f"- {setup} ({wc_paradigm} on WC data vs {se_paradigm} on SE data): WC − SE "
                        f"{points(row.gain)} points {METRIC} over worlds {row.worlds}: {row.verdict}.")
    return lines, findings


CONTROL_TEXT = {
    "sample-matched": ("WC at SE's sample count (S_SE each) vs SE", "SE data better (equal counts: Sec. 5)"),
    "verified-only": ("both arms' data without false positives (exact step checker)", "not run (no exact checker)"),
    "low-budget": ("the paper's low budget: SE's first sample vs the WC samples that cost the same", "WC data better"),
    "adaptive": ("adaptive WC data (until k right per problem) vs uniform WC data, at the same FLOPs",
                 "not in the paper (DART-Math: adaptive better)"),
}


def controls_table(study: StudySummary) -> list[str]:
    """Each control that ran, per model, with the same world intervals; the ones that did not, and how to run them."""
    lines = ["| control | model | on WC data | on SE data | WC − SE gain, points (95% CI) | paper | verdict |",
             "|---|---|---|---|---|---|---|"]
    for control, by_model in study.controls.items():
        what, paper = CONTROL_TEXT[control]
        for role, row in by_model.items():
            lines.append(f"| {control}: {what} | {role} | {mean_pct(row.wc)} | {mean_pct(row.se)} "
                         f"| {points(row.gain)} | {paper} | {row.verdict} |")
    for control in study.controls_not_run:
        wc_data, se_data, _ = CONTROLS[control]
        needed = ",".join(dict.fromkeys([wc_data] + ([se_data] if se_data not in ARMS else [])))
        lines.append(f"| {control}: {CONTROL_TEXT[control][0]} | | | | not run by default | "
                     f"{CONTROL_TEXT[control][1]} | `dvc exp run -S 'study.controls=[...,{needed}]'` |")
    return lines


def training_table(data: dict[str, DataRecord], finetunes: dict[str, FinetuneRecord]) -> list[str]:
    """Sampling FLOPs of each arm beside the finetuning FLOPs spent on its data (means over worlds, 6·P per token)."""
    lines = ["| model | data | sampling FLOPs (data) | finetuning FLOPs | trained tokens |", "|---|---|---|---|---|"]
    for _, role, *_ in SETUPS:
        for arm in ARMS:
            cell = finetunes.get(cell_name(role, arm))
            if not cell or not cell.training_flops:
                continue
            lines.append(f"| {role} | {arm.upper()} | {data[arm].flops:.3g} | "
                         f"{cell.training_flops['non_embedding']:.3g} | {cell.trained_tokens:,.0f} |")
    return lines


def base_table(study: StudySummary) -> list[str]:
    """The base models' test accuracy over worlds, and WC's greedy accuracy over SE's."""
    base = study.base
    lines = [f"| base model | test {METRIC} (%, 95% CI over {len(study.worlds)} worlds) | test greedy (%) "
             "| pretrained here |", "|---|---|---|---|"]
    for role, row in base.models.items():
        pretrained = "yes" if base.pretrained[role] else "no (`load:`): a world varies sampling and finetuning only"
        lines.append(f"| {role} | {scaled(row.pass_at_1, 100, 1, False)} | {scaled(row.greedy, 100, 1, False)} "
                     f"| {pretrained} |")
    lines.append(f"| WC / SE (greedy) | | {scaled(base.wc_over_se, 1, signed=False)} | |")
    return lines


TARGET_LABELS = {"coverage_gap": "coverage WC − SE", "diversity_ratio": "diversity WC / SE",
                 "fpr_gap": "FPR WC − SE", "coverage_at_1_ratio": "coverage@1 WC / SE"}


def target_text(target: str, bounds: list[float]) -> str:
    """'coverage WC − SE (+5 to +11 points)', 'diversity WC / SE (≥ 1.5)': a calibration target as the report names it."""
    low, high = bounds
    if target.endswith("_gap"):
        return f"{TARGET_LABELS[target]} (+{100 * low:g} to +{100 * high:g} points)"
    return f"{TARGET_LABELS[target]} ({'≥ ' + f'{low:g}' if high == float('inf') else f'{low:.2f}–{high:.2f}'})"


def calibration_table(study: StudySummary) -> list[str]:
    """Each world's base models and data against the calibration targets, and how many worlds meet each target."""
    calibration = study.calibration
    mark = lambda ok: "" if ok is None else (" ✓" if ok else " ✗")  # noqa: E731
    value = lambda target, v: "n/a" if v is None else (f"{100 * v:+.1f}" if target.endswith("_gap") else f"{v:.2f}")  # noqa: E731
    targets = list(calibration.targets)
    lines = ["| world | " + " | ".join(f"{'WC' if r == 'wc' else 'SE' if r == 'se' else r} greedy (step)"
                                      for r in MODEL_ROLES)
             + " | " + " | ".join(target_text(t, calibration.targets[t]) for t in targets) + " |",
             "|---|" + "---|" * (len(MODEL_ROLES) + len(targets))]
    for world, row in calibration.by_world.items():
        models = [f"{pct(row.greedy.get(role))} ({row.pretrain_steps.get(role) or 'loaded'})" for role in MODEL_ROLES]
        lines.append(f"| {world} | {' | '.join(models)} | "
                     + " | ".join(f"{value(t, row.values.get(t))}{mark(row.meets.get(t))}" for t in targets) + " |")
    met, n = calibration.worlds_meeting, calibration.worlds
    lines += ["", "Worlds meeting each target (at the default budget, the sampling temperature): "
              + ", ".join(f"{TARGET_LABELS[t]} {met[t]} of {n}" for t in targets) + "."]
    return lines


def replication_table(study: StudySummary) -> list[str]:
    """Each verdict against the pool of worlds (study.replication_pool): how often a study of this size finds the
    pool's verdict, and how many worlds would find it in the target share of draws."""
    replication = study.replication
    if replication is None:
        return ["No replication pool (`study.replication_pool`): how often these verdicts replicate is not measured.", ""]
    n = replication.worlds
    lines = [f"Against the pool of {len(replication.pool_worlds)} worlds in `{replication.pool}` (every set of {n} of its "
             f"worlds, or 5,000 drawn): the share of {n}-world studies whose verdict is the pool's.", "",
             f"| verdict of | this study | the pool | share of {n}-world sets with the pool's verdict | worlds for "
             f"{100 * replication.target_share:.0f}% |", "|---|---|---|---|---|"]
    for name, row in replication.by_verdict.items():
        needed = ("— (a tie)" if row.pool_verdict.startswith("tie")
                  else needed_text(row.worlds_needed, len(replication.pool_worlds)))
        lines.append(f"| {name} | {row.reported} | {row.pool_verdict} | {100 * row.share:.0f}% | {needed} |")
    return lines + [""]


def gap_table(study: StudySummary) -> list[str]:
    """Each gain against the world's gap (WC / SE coverage@1): the line's slope, the gain it predicts at the paper's
    gap, and where it crosses zero."""
    gap = study.gap
    if gap is None:
        return []
    interval = lambda mean, low, high, scale: (f"{scale * mean:+.1f}" if low is None  # noqa: E731
                                               else f"{scale * mean:+.1f} [{scale * low:+.1f}, {scale * high:+.1f}]")
    lines = [f"## Beyond the paper: the gains against the gap ({gap.gap})", "",
             "Gap by world: " + ", ".join(f"{w}: {v:.2f}" for w, v in gap.by_world.items())
             + f". A least-squares line per gain over the {len(gap.by_world)} worlds, 95% intervals (Student-t, "
             f"n − 2 degrees of freedom); the paper's gap is about {gap.paper_gap} (Gemma2-9B / 27B).", "",
             "| gain (WC − SE, points) | slope, points per 0.1 of gap | gain at the paper's gap | gap where WC data "
             "stops losing |", "|---|---|---|---|"]
    for name, fit in gap.fits.items():
        if fit is None:
            lines.append(f"| {name} | n/a (fewer than two worlds) | | |")
            continue
        zero = ("— (the slope's interval holds 0)" if fit.zero_gap is None else f"{fit.zero_gap:.2f}")
        lines.append(f"| {name} | {interval(fit.slope, fit.slope_low, fit.slope_high, 10)} | "
                     f"{interval(fit.at_paper_gap, fit.at_paper_low, fit.at_paper_high, 100)} | {zero} |")
    return lines + [""]


def accuracy_table(evals: dict[str, EvalRecord]) -> list[str]:
    def columns(result: EvalRecord) -> dict[str, float]:
        return {"greedy": result.greedy, "pass@1": result.pass_at_1,
                **{f"maj@{k}": value for k, value in result.majority.items()}}

    keys = sorted({k for result in evals.values() for k in columns(result)})
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, result in evals.items():
        lines.append(f"| {name} | " + " | ".join(pct(columns(result).get(k)) for k in keys) + " |")
    return lines


def grading_table(evals: dict[str, EvalRecord]) -> list[str]:
    """pass@1 and greedy under every grading mode, where the task offers more than one."""
    modes = sorted({mode for result in evals.values() for mode in result.by_grading})
    if len(modes) < 2:
        return []
    lines = ["By grading mode (pass@1 / greedy):", "",
             "| model | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for name, result in evals.items():
        cells = [f"{pct(result.by_grading[m].pass_at_1)} / {pct(result.by_grading[m].greedy)}"
                 if m in result.by_grading else "n/a" for m in modes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def environment_lines(environments: dict[str, dict | None]) -> list[str]:
    """What produced the metrics: the settings every stage shared, then any that differed, with their stages."""
    recorded = {source: env for source, env in environments.items() if env}
    if not recorded:
        return ["No environment recorded (metrics from an older version)."]
    keys = list(dict.fromkeys(key for env in recorded.values() for key in env))
    shared, differing = [], []
    for key in keys:
        values: dict[str, list[str]] = {}
        for source, env in recorded.items():
            if env.get(key) is not None:
                values.setdefault(str(env[key]), []).append(source)
        if len(values) == 1:
            shared.append(f"{key} {next(iter(values))}")
        elif values:
            differing.append(f"- {key}: " + "; ".join(f"{value} ({_stage_list(sources)})"
                                                       for value, sources in values.items()))
    return [f"Produced with: {', '.join(shared)}.", *differing]


def _stage_list(sources: list[str]) -> str:
    """A few stage runs by name; many as counts by stage ('27 finetune, 27 evaluate'): 54 names say no more."""
    if len(sources) <= 6:
        return ", ".join(sources)
    families = Counter(source.split("@")[0] for source in sources)
    return ", ".join(f"{count} {family}" for family, count in families.items())


def temperature_note(temperatures: dict[str, float] | None) -> str:
    """The run's sampling and evaluation temperatures, beside the paper's."""
    if not temperatures:
        return ""
    return (f", sampled at T {temperatures['sampling']:g} and evaluated at T {temperatures['evaluation']:g} "
            f"(the paper: {PAPER_TEMPERATURE:g} for both)")


def render_report(inputs: ReportInputs, plots: list[str]) -> str:
    """metrics/report.md: the findings, then the paper's tables (a) data, (b) finetuning, (c) plots."""
    study, data, evals = inputs.study, inputs.data, inputs.evals
    setups, setup_findings = setups_table(study)
    base_line = ", ".join(f"{role} {record.parameters['non_embedding']:,.0f}" for role, record in inputs.bases.items())
    guess = data["se"].guessing_baseline
    problems = next(iter(evals.values())).problems
    parts = [
        "# computematch report",
        "",
        f"Base models (non-embedding parameters): {base_line}. Sampling: S_SE = {data['se'].samples_per_problem}, "
        f"S_WC = {data['wc'].samples_per_problem} per problem on {data['se'].by_budget['1'].problems} "
        f"train problems{temperature_note(inputs.temperatures)}. Test problems: {problems}. Worlds (independent draws "
        f"of the base models, samples, finetuning and evaluation): {study.worlds}, with finetuning seeds "
        f"{study.seeds_per_world} in each. Accuracies in %; gains in points (paired within a world). Intervals: "
        f"{INTERVAL_METHODS}. Detail tables show means over worlds.",
        "",
        "## Where this run agrees or disagrees with the paper",
        "",
        *data_findings(study),
        *setup_findings,
        "",
        *replication_table(study),
        "## (a) Data quality, WC vs SE, at compute-matched budget levels",
        "",
        *data_interval_table(study),
        "",
        "By budget level (means over worlds):",
        "",
        *data_table(data),
        "",
        f"Paper (Gemma2-9B vs 27B): {PAPER_DATA}. Verified diversity counts only solutions whose every step",
        "checks out (this task's exact step checker); the paper could not separate these from false positives.",
        f"A guesser that always states the most common answer of a problem's level covers {pct(guess.coverage)}% "
        f"of the train problems (per level below){guess_reference(data['se'])}.",
        "",
        "By difficulty, at the full budget:",
        "",
        *difficulty_table(data),
        "",
        "Data hygiene:",
        "",
        *hygiene_lines(data),
        "",
        *adaptive_table(study),
        *judge_table(inputs.judges),
        "## Base models and their calibration, world by world",
        "",
        *base_table(study),
        "",
        *calibration_table(study),
        "",
        f"## (b) Finetuning setups ({METRIC} on the test split)",
        "",
        *setups,
        "",
        "### Controls",
        "",
        *controls_table(study),
        "",
        "### Compute: sampling and finetuning",
        "",
        *training_table(data, inputs.finetunes),
        "",
        "All evaluated models (means over worlds):",
        "",
        *accuracy_table(evals),
        "",
        *grading_table(evals),
        *gap_table(study),
        "## (c) Plots",
        "",
        *[f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots],
        "",
        "## Environment",
        "",
        *environment_lines(inputs.environments),
        "",
    ]
    return "\n".join(parts)
