"""The paper's tables and plots from this run's metrics: pure functions from metric dicts to Markdown / PNG.

    from computematch.report import render_report
    text = render_report(data={"wc": ..., "se": ...}, evals={"wc": ..., "se-wc": ...}, bases={...}, study=...)

The headline numbers come from the study summary (study.py): means over worlds with 95% intervals. The detail
tables (by budget level, by difficulty, every model) show means over worlds (study.average_records).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from computematch.budget import matched_level
from computematch.config import ARMS, CONTROLS, SETUPS, cell_name
from computematch.metrics import interval_verdict
from computematch.study import METRIC

# Relative gain of finetuning on WC over SE data reported by Bansal et al. (2024) for Gemma2-9B vs 27B data,
# pass@1, low / high budget (docs/paper.md, "Headline numbers"). None where the paper reports "about equal".
PAPER_GAINS = {
    "Student-LM": {"MATH": (6.0, 5.8), "GSM8K": (4.2, 1.3)},
    "WC-LM": {"MATH": (3.8, 2.0), "GSM8K": (1.5, None)},
    "SE-LM": {"MATH": (5.8, 4.3), "GSM8K": (1.2, 1.5)},
}
PAPER_TEMPERATURE = 0.7  # the paper samples and evaluates at T 0.7
PAPER_DATA = "MATH: coverage +11 / +6 points, diversity +86% / +125%, FPR +7 points (WC − SE; low / high budget)"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}"


def data_table(data: dict) -> list[str]:
    wc, se = data["wc"], data["se"]
    lines = ["| budget level (SE k / WC k) | coverage WC | coverage SE | diversity WC | diversity SE "
             "| verified diversity WC | verified diversity SE | FPR WC | FPR SE | FLOPs WC | FLOPs SE |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    s_se, s_wc = se["samples_per_problem"], wc["samples_per_problem"]
    for k_se in range(1, s_se + 1):
        k_wc = matched_level(k_se, s_se, s_wc)
        a, b = wc["by_budget"][str(k_wc)], se["by_budget"][str(k_se)]
        lines.append(f"| {k_se} / {k_wc} | {_pct(a['coverage'])} | {_pct(b['coverage'])} | {a['diversity']:.2f} "
                     f"| {b['diversity']:.2f} | {a['verified_diversity']:.2f} | {b['verified_diversity']:.2f} "
                     f"| {_pct(a['fpr'])} | {_pct(b['fpr'])} | {a['flops']:.3g} | {b['flops']:.3g} |")
    return lines


def difficulty_table(data: dict) -> list[str]:
    """Coverage, diversity and FPR by level at the full budget, beside what a most-common-answer guesser covers."""
    lines = ["| difficulty | coverage WC | coverage SE | guessing baseline | diversity WC | diversity SE | FPR WC "
             "| FPR SE |", "|---|---|---|---|---|---|---|---|"]
    guess = data["se"].get("guessing_baseline", {}).get("by_difficulty", {})
    for level in data["se"]["by_difficulty"]:
        a, b = data["wc"]["by_difficulty"][level], data["se"]["by_difficulty"][level]
        lines.append(f"| {level} | {_pct(a['coverage'])} | {_pct(b['coverage'])} | {_pct(guess.get(level))} "
                     f"| {a['diversity']:.2f} | {b['diversity']:.2f} | {_pct(a['fpr'])} | {_pct(b['fpr'])} |")
    return lines


def _interval(interval: dict | None, digits: int = 1) -> str:
    """'+2.3 [−0.4, +5.0]' in points: a mean over worlds and its 95% interval."""
    return _scaled(interval, 100, digits)


def _mean(interval: dict | None) -> str:
    return "n/a" if not interval else _pct(interval["mean"])


def setups_table(study: dict) -> tuple[list[str], list[str]]:
    """The paper's Table 1 over worlds: WC − SE gain as a mean over worlds and its 95% interval, and the verdict."""
    worlds = len(study["worlds"])
    lines = [f"| setup | base | on WC data | on SE data | WC − SE gain, points (95% CI over {worlds} worlds) "
             "| relative | paper: relative gain, MATH low / high | paper: GSM8K low / high | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    findings = []
    fmt = lambda pair: " / ".join("≈0" if v is None else f"+{v}%" for v in pair)  # noqa: E731
    for setup, role, wc_paradigm, se_paradigm in SETUPS:
        row, paper = study["setups"][setup], PAPER_GAINS[setup]
        relative = row.get("relative_gain")
        lines.append(f"| {setup} | {_mean(study['base']['models'][role][METRIC])} | {_mean(row.get('wc'))} "
                     f"| {_mean(row.get('se'))} "
                     f"| {_interval(row.get('gain'))} | {'n/a' if relative is None else f'{100 * relative:+.1f}%'} "
                     f"| {fmt(paper['MATH'])} | {fmt(paper['GSM8K'])} | {row['verdict']} |")
        findings.append(f"- {setup} ({wc_paradigm} on WC data vs {se_paradigm} on SE data): WC − SE "
                        f"{_interval(row.get('gain'))} points {METRIC} over worlds {row['worlds']}: {row['verdict']}.")
    return lines, findings


CONTROL_TEXT = {
    "sample-matched": ("WC at SE's sample count (S_SE each) vs SE", "SE data better (equal counts: Sec. 5)"),
    "verified-only": ("both arms' data without false positives (exact step checker)", "not run (no exact checker)"),
    "low-budget": ("the paper's low budget: SE's first sample vs the WC samples that cost the same", "WC data better"),
}


def controls_table(study: dict) -> list[str]:
    """Each control that ran, per model, with the same world intervals; the ones that did not, and how to run them."""
    lines = ["| control | model | on WC data | on SE data | WC − SE gain, points (95% CI) | paper | verdict |",
             "|---|---|---|---|---|---|---|"]
    for control, by_model in study["controls"].items():
        what, paper = CONTROL_TEXT[control]
        for role, row in by_model.items():
            lines.append(f"| {control}: {what} | {role} | {_mean(row.get('wc'))} | {_mean(row.get('se'))} "
                         f"| {_interval(row.get('gain'))} | {paper} | {row['verdict']} |")
    for control in study["controls_not_run"]:
        wc_data, se_data, _ = CONTROLS[control]
        needed = ",".join(dict.fromkeys([wc_data] + ([se_data] if se_data != "se" else [])))
        lines.append(f"| {control}: {CONTROL_TEXT[control][0]} | | | | not run by default | "
                     f"{CONTROL_TEXT[control][1]} | `dvc exp run -S 'study.controls=[...,{needed}]'` |")
    return lines


def training_table(data: dict, finetunes: dict) -> list[str]:
    """Sampling FLOPs of each arm beside the finetuning FLOPs spent on its data (means over worlds, 6·P per token).
    `finetunes`: cell -> its members' finetune metrics averaged over worlds and seeds."""
    lines = ["| model | data | sampling FLOPs (data) | finetuning FLOPs | trained tokens |", "|---|---|---|---|---|"]
    for _, role, *_ in SETUPS:
        for arm in ARMS:
            cell = finetunes.get(cell_name(role, arm))
            if not cell or not cell.get("training_flops"):
                continue
            lines.append(f"| {role} | {arm.upper()} | {data[arm]['flops']:.3g} | "
                         f"{cell['training_flops']['non_embedding']:.3g} | {cell['trained_tokens']:,.0f} |")
    return lines


DATA_LABELS = {"coverage": ("coverage", 100, "points"), "diversity": ("diversity", 1, "unique correct solutions"),
               "fpr": ("FPR", 100, "points")}
PAPER_SIGNS = {"coverage": +1, "diversity": +1, "fpr": +1}  # the paper: WC higher on each


def _scaled(interval: dict | None, scale: float, digits: int = 2, signed: bool = True) -> str:
    """'+2.31 [−0.40, +5.02]' (a difference) or '2.31 [0.40, 5.02]': a mean over worlds and its 95% interval,
    times `scale`."""
    if not interval:
        return "n/a"
    sign = "+" if signed else ""
    text = f"{scale * interval['mean']:{sign}.{digits}f}"
    if interval.get("low") is None:
        return text
    return f"{text} [{scale * interval['low']:{sign}.{digits}f}, {scale * interval['high']:{sign}.{digits}f}]"


def data_findings(study: dict) -> list[str]:
    """WC − SE in each data quantity, paired by world, and the verdict its interval gives."""
    out = []
    for key, (label, scale, unit) in DATA_LABELS.items():
        difference = study["data"][key]["wc_minus_se"]
        if not difference:
            continue
        verdict = interval_verdict(difference, PAPER_SIGNS[key])
        out.append(f"- {label}, WC − SE at matched compute: {_scaled(difference, scale)} {unit} over worlds: "
                   f"{verdict} with the paper (WC higher).")
    flops = study["data"]["flops"]
    ratios = [flops["wc"]["by_world"][w] / flops["se"]["by_world"][w] for w in flops["se"]["by_world"]
              if flops["se"]["by_world"][w]] if flops["wc"] and flops["se"] else []
    if ratios:
        out.append(f"- Measured sampling FLOPs WC / SE = {min(ratios):.2f}–{max(ratios):.2f} over worlds "
                   "(the paper assumes 1: equal solution lengths).")
    return out


def data_interval_table(study: dict) -> list[str]:
    """Every data quantity of both arms and their difference, as means over worlds with 95% intervals."""
    worlds = len(study["worlds"])
    lines = [f"| quantity (95% CI over {worlds} worlds) | WC | SE | WC − SE |", "|---|---|---|---|"]
    for key, label, scale in (("coverage", "coverage (%)", 100), ("diversity", "diversity", 1),
                              ("verified_diversity", "verified diversity", 1), ("fpr", "FPR (%)", 100)):
        row = study["data"][key]
        lines.append(f"| {label} | {_scaled(row['wc'], scale, signed=False)} | {_scaled(row['se'], scale, signed=False)} "
                     f"| {_scaled(row['wc_minus_se'], scale)} |")
    flops = study["data"]["flops"]
    if flops["wc"] and flops["se"]:
        lines.append(f"| sampling FLOPs ({study['data']['flops_by_param_count']}) | {flops['wc']['mean']:.3g} "
                     f"| {flops['se']['mean']:.3g} | {flops['wc_minus_se']['mean']:+.3g} |")
    guess = study["data"]["guessing_baseline"]
    if guess:
        lines.append(f"| guessing baseline, coverage (%) | {_scaled(guess, 100, signed=False)} | | |")
    return lines


def base_table(study: dict) -> list[str]:
    """The base models' test accuracy over worlds, and WC's greedy accuracy over SE's."""
    base, worlds = study["base"], len(study["worlds"])
    lines = [f"| base model | test {METRIC} (%, 95% CI over {worlds} worlds) | test greedy (%) | pretrained here |",
             "|---|---|---|---|"]
    for role, row in base["models"].items():
        lines.append(f"| {role} | {_scaled(row[METRIC], 100, 1, False)} | {_scaled(row['greedy'], 100, 1, False)} "
                     f"| {'yes' if base['pretrained'][role] else 'no (`load:`): a world varies sampling and finetuning only'} |")
    lines.append(f"| WC / SE (greedy) | | {_scaled(base['wc_over_se'], 1, signed=False)} | |")
    return lines


def calibration_table(study: dict) -> list[str]:
    """Each world's base models against the calibration targets, and how many worlds meet each target."""
    calibration = study["calibration"]
    low, high = calibration["targets"]["wc_over_se"]
    fpr_low, fpr_high = calibration["targets"]["wc_fpr"]
    gap_low, gap_high = calibration["targets"]["fpr_gap"]
    mark = lambda ok: "" if ok is None else (" ✓" if ok else " ✗")  # noqa: E731
    lines = [f"| world | student greedy (step) | WC greedy (step) | SE greedy (step) | WC / SE ({low:g}–{high:g}) "
             f"| coverage WC / SE | FPR WC ({_pct(fpr_low, 0)}–{_pct(fpr_high, 0)}) / SE "
             f"| FPR gap ({_pct(gap_low, 0)}–{_pct(gap_high, 0)} points) |", "|---|---|---|---|---|---|---|---|"]
    for world, row in calibration["by_world"].items():
        greedy, steps, meets = row["greedy"], row["pretrain_steps"], row["meets"]
        models = [f"{_pct(greedy.get(role))} ({steps.get(role) or 'loaded'})" for role in ("student", "wc", "se")]
        ratio = "n/a" if row["wc_over_se"] is None else f"{row['wc_over_se']:.2f}"
        gap = "n/a" if row["fpr_gap"] is None else f"{100 * row['fpr_gap']:.1f}"
        lines.append(f"| {world} | {' | '.join(models)} | {ratio}{mark(meets['wc_over_se'])} "
                     f"| {_pct(row['coverage']['wc'])} / {_pct(row['coverage']['se'])} "
                     f"| {_pct(row['fpr']['wc'])}{mark(meets['wc_fpr'])} / {_pct(row['fpr']['se'])} "
                     f"| {gap}{mark(meets['fpr_gap'])} |")
    met, n = calibration["worlds_meeting"], calibration["worlds"]
    lines += ["", f"Worlds meeting each target: WC / SE {met['wc_over_se']} of {n}, WC FPR {met['wc_fpr']} of {n}, "
                  f"FPR gap {met['fpr_gap']} of {n}."]
    return lines


def accuracy_table(evals: dict) -> list[str]:
    keys = sorted({k for result in evals.values() for k in result if k.startswith(("pass@", "maj@")) or k == "greedy"})
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, result in evals.items():
        lines.append(f"| {name} | " + " | ".join(_pct(result.get(k)) for k in keys) + " |")
    return lines


def judge_table(judges: dict) -> list[str]:
    """LLM-judged FPR per arm (only arms whose judge ran)."""
    ran = {arm: j for arm, j in judges.items() if j.get("enabled")}
    if not ran:
        return []
    lines = ["### LLM-judged false positives", "",
             "| arm | judged FPR | 95% CI | judged | unparsable | agreement with the step checker |",
             "|---|---|---|---|---|---|"]
    for arm, j in ran.items():
        low, high = j["fpr_ci95"]
        agreement = _pct(j.get("agreement_with_step_checker")) if "agreement_with_step_checker" in j else "n/a"
        lines.append(f"| {arm.upper()} | {_pct(j['fpr'])} | {_pct(low)}–{_pct(high)} | {j['judged']} "
                     f"| {j['unparsable']} | {agreement} |")
    return [*lines, ""]


def hygiene_lines(data: dict) -> list[str]:
    """Decontamination, duplicates dropped and the grading mode of the SFT data (and annotation checks)."""
    wc, se = data["wc"], data["se"]
    lines = []
    decontamination = se.get("decontamination")
    if decontamination:
        dropped = ", ".join(f"{split} {n}" for split, n in decontamination["dropped"].items()) or "off"
        lines.append(f"- Decontamination ({decontamination['ngram']}-word n-grams shared with a test problem): "
                     f"dropped {dropped}.")
    if "duplicates_dropped" in wc:
        state = "on" if wc.get("dedup") else "off"
        lines.append(f"- SFT data (dedup {state}): WC keeps {wc['kept']:,.0f} of {wc['correct_samples']:,.0f} right-answer "
                     f"samples ({wc['duplicates_dropped']:,.0f} duplicates dropped), SE {se['kept']:,.0f} of "
                     f"{se['correct_samples']:,.0f} ({se['duplicates_dropped']:,.0f} dropped).")
    grading = se.get("grading")
    if grading:
        modes = "; ".join(f"{mode}: coverage WC {_pct(wc['grading']['by_mode'][mode]['coverage'])} / "
                          f"SE {_pct(grading['by_mode'][mode]['coverage'])}" for mode in grading["by_mode"])
        lines.append(f"- Filtered and scored with `{grading['mode']}` grading. Every mode the task offers: {modes}.")
    for arm, metrics in (("WC", wc), ("SE", se)):
        checks = metrics.get("step_checks")
        if checks:
            lines.append(f"- {arm} calculator annotations: {checks['checked']:,.0f} checked, {checks['wrong']:,.0f} wrong, "
                         f"{checks['unparsable']:,.0f} unparsable.")
    return lines


def grading_table(evals: dict) -> list[str]:
    """pass@1 and greedy under every grading mode, where the task offers more than one."""
    modes = sorted({mode for result in evals.values() for mode in result.get("by_grading", {})})
    if len(modes) < 2:
        return []
    lines = ["By grading mode (pass@1 / greedy):", "",
             "| model | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for name, result in evals.items():
        cells = [f"{_pct(result['by_grading'][m]['pass@1'])} / {_pct(result['by_grading'][m]['greedy'])}"
                 if m in result.get("by_grading", {}) else "n/a" for m in modes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def environment_lines(environments: dict[str, dict]) -> list[str]:
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


def guess_reference(guess: dict) -> str:
    """The guesser's hit rate on the corpus it learned from: the world's guessability, with less noise."""
    reference = guess.get("reference")
    if not reference:
        return ""
    levels = reference["by_difficulty"].values()
    return (f"; on the {reference['problems']:,} {reference['split']} problems it is right "
            f"{_pct(reference['coverage'])}% of the time ({_pct(min(levels))}–{_pct(max(levels))}% by level)")


def temperature_note(temperatures: dict[str, float] | None) -> str:
    """The run's sampling and evaluation temperatures, beside the paper's."""
    if not temperatures:
        return ""
    return (f", sampled at T {temperatures['sampling']:g} and evaluated at T {temperatures['evaluation']:g} "
            f"(the paper: {PAPER_TEMPERATURE:g} for both)")


def render_report(data: dict, evals: dict, bases: dict, plots: list[str], problems: int, study: dict,
                  finetunes: dict | None = None, judges: dict | None = None,
                  environments: dict[str, dict] | None = None,
                  temperatures: dict[str, float] | None = None) -> str:
    """`data`, `evals`, `bases`, `finetunes`, `judges`: each quantity's record averaged over worlds (and seeds),
    keyed by arm, model or cell; `study`: the summary over worlds (study.py). `temperatures`: {"sampling": T,
    "evaluation": T}, stated beside the paper's when given."""
    setups, setup_findings = setups_table(study)
    base_line = ", ".join(f"{role} {bases[role]['parameters']['non_embedding']:,.0f}" for role in bases)
    guess = data["se"].get("guessing_baseline")
    parts = [
        "# computematch report",
        "",
        f"Base models (non-embedding parameters): {base_line}. Sampling: S_SE = {data['se']['samples_per_problem']}, "
        f"S_WC = {data['wc']['samples_per_problem']} per problem on {data['se']['by_budget']['1']['problems']} "
        f"train problems{temperature_note(temperatures)}. Test problems: {problems}. Worlds (independent draws of "
        f"the base models, samples, finetuning and evaluation): {study['worlds']}, with finetuning seeds "
        f"{study['seeds_per_world']} in each. Accuracies in %; gains in points, as a mean over worlds with a 95% "
        "Student-t interval (paired within a world). Detail tables show means over worlds.",
        "",
        "## Where this run agrees or disagrees with the paper",
        "",
        *data_findings(study),
        *setup_findings,
        "",
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
        *([f"A guesser that always states the most common answer of a problem's level covers "
           f"{_pct(guess['coverage'])}% of the train problems (per level below)" + guess_reference(guess) + "."]
          if guess else []),
        "",
        "By difficulty, at the full budget:",
        "",
        *difficulty_table(data),
        "",
        "Data hygiene:",
        "",
        *hygiene_lines(data),
        "",
        *judge_table(judges or {}),
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
        *training_table(data, finetunes or {}),
        "",
        "All evaluated models (means over worlds):",
        "",
        *accuracy_table(evals),
        "",
        *grading_table(evals),
        "## (c) Plots",
        "",
        *[f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots],
        "",
        "## Environment",
        "",
        *environment_lines(environments or {}),
        "",
    ]
    return "\n".join(parts)


def _save_plot(plt, figure, axes, xlabel: str, ylabel: str, path: Path) -> Path:
    """Label, lay out, write and close one line plot: the steps every plot here shares."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def make_plots(data: dict, study: dict, directory: Path) -> list[Path]:
    """coverage@k and diversity@k against sampling FLOPs; coverage and FPR by level with the guessing baseline;
    accuracy per setup and data source with the world intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for key, label in (("coverage", "coverage@k"), ("diversity", "diversity@k (unique correct / problem)")):
        figure, axes = plt.subplots(figsize=(5, 3.5))
        for arm, marker in (("wc", "o"), ("se", "s")):
            levels = data[arm]["by_budget"]
            axes.plot([levels[k]["flops"] for k in levels], [levels[k][key] for k in levels], marker=marker,
                      label=f"{arm.upper()} (k = 1..{len(levels)})")
        written.append(_save_plot(plt, figure, axes, "sampling FLOPs (measured)", label, directory / f"{key}.png"))

    levels = list(data["se"]["by_difficulty"])
    guess = data["se"].get("guessing_baseline", {}).get("by_difficulty", {})
    for key, label in (("coverage", "coverage at the full budget (%)"), ("fpr", "false positive rate (%)")):
        figure, axes = plt.subplots(figsize=(5, 3.5))
        for arm, marker in (("wc", "o"), ("se", "s")):
            axes.plot(levels, [100 * (data[arm]["by_difficulty"][level][key] or 0) for level in levels],
                      marker=marker, label=arm.upper())
        if guess:
            axes.plot(levels, [100 * guess.get(level, 0) for level in levels], linestyle="--", color="grey",
                      label="guessing baseline (coverage)")
        written.append(_save_plot(plt, figure, axes, "difficulty (steps)", label, directory / f"{key}_by_level.png"))

    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.27
    for offset, label in enumerate(("base", "WC data", "SE data")):
        heights, errors = [], []
        for setup, role, *_ in SETUPS:
            row = study["setups"][setup]
            interval = study["base"]["models"][role][METRIC] if offset == 0 else row.get("wc" if offset == 1 else "se")
            value = (interval or {}).get("mean")
            heights.append(100 * (value or 0))
            low = (interval or {}).get("low")
            errors.append(0 if low is None else 100 * (interval["mean"] - low))
        axes.bar([i + (offset - 1) * width for i in range(len(SETUPS))], heights, width, yerr=errors, capsize=3,
                 label=label)
    axes.set_xticks(range(len(SETUPS)), [setup for setup, *_ in SETUPS])
    axes.set_ylabel(f"test {METRIC} (%), 95% CI over worlds")
    axes.legend()
    figure.tight_layout()
    written.append(directory / "accuracy.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)
    return written
