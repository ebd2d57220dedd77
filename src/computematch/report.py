"""The paper's tables and plots from this run's metrics: pure functions from metric dicts to Markdown / PNG.

    from computematch.report import render_report
    text = render_report(data={"wc": ..., "se": ...}, evals={"wc": ..., "se-wc": ...}, bases={...})
"""

from __future__ import annotations

import math
from pathlib import Path

from computematch.budget import matched_level
from computematch.config import SETUPS

# Relative gain of finetuning on WC over SE data reported by Bansal et al. (2024) for Gemma2-9B vs 27B data,
# pass@1, low / high budget (docs/paper.md, "Headline numbers"). None where the paper reports "about equal".
PAPER_GAINS = {
    "Student-LM": {"MATH": (6.0, 5.8), "GSM8K": (4.2, 1.3)},
    "WC-LM": {"MATH": (3.8, 2.0), "GSM8K": (1.5, None)},
    "SE-LM": {"MATH": (5.8, 4.3), "GSM8K": (1.2, 1.5)},
}
PAPER_DATA = "MATH: coverage +11 / +6 points, diversity +86% / +125%, FPR +7 points (WC − SE; low / high budget)"
METRIC = "pass@1"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}"


def difference_noise(p: float, q: float, n: int) -> float:
    """Two standard errors of a difference of two accuracies on n problems (binomial, independent)."""
    return 2 * math.sqrt(max(p * (1 - p), 1e-9) / n + max(q * (1 - q), 1e-9) / n)


def verdict(difference: float, noise: float, expected_sign: int = 1) -> str:
    if abs(difference) <= noise:
        return f"tie (difference within ±{100 * noise:.1f} points, two standard errors)"
    return "agrees with the paper" if difference * expected_sign > 0 else "disagrees with the paper"


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
    lines = ["| difficulty | coverage WC | coverage SE | diversity WC | diversity SE | FPR WC | FPR SE |",
             "|---|---|---|---|---|---|---|"]
    for level in data["se"]["by_difficulty"]:
        a, b = data["wc"]["by_difficulty"][level], data["se"]["by_difficulty"][level]
        lines.append(f"| {level} | {_pct(a['coverage'])} | {_pct(b['coverage'])} | {a['diversity']:.2f} "
                     f"| {b['diversity']:.2f} | {_pct(a['fpr'])} | {_pct(b['fpr'])} |")
    return lines


def setups_table(evals: dict, problems: int, finetunes: dict | None = None) -> tuple[list[str], list[str]]:
    lines = ["| setup | base | on WC data | on SE data | gain of WC data (abs, points) | gain (relative) "
             "| paper: relative gain, MATH low / high | paper: GSM8K low / high | this run |",
             "|---|---|---|---|---|---|---|---|---|"]
    findings = []
    for setup, role, wc_paradigm, se_paradigm in SETUPS:
        base, on_wc, on_se = (evals.get(name, {}).get(METRIC) for name in (role, f"{role}-wc", f"{role}-se"))
        if on_wc is None or on_se is None:
            lines.append(f"| {setup} | {_pct(base)} | {_pct(on_wc)} | {_pct(on_se)} | n/a | n/a | | | not evaluated |")
            continue
        gain = on_wc - on_se
        relative = gain / on_se if on_se else None
        paper = PAPER_GAINS[setup]
        fmt = lambda pair: " / ".join("≈0" if v is None else f"+{v}%" for v in pair)  # noqa: E731
        untrained = [arm for arm in ("wc", "se") if (finetunes or {}).get(f"{role}-{arm}", {}).get("trained") is False]
        call = (f"no verdict: not trained on {' and '.join(a.upper() for a in untrained)} data (no correct samples)"
                if untrained else verdict(gain, difference_noise(on_wc, on_se, problems)))
        lines.append(f"| {setup} | {_pct(base)} | {_pct(on_wc)} | {_pct(on_se)} | {100 * gain:+.1f} "
                     f"| {'n/a' if relative is None else f'{100 * relative:+.1f}%'} | {fmt(paper['MATH'])} "
                     f"| {fmt(paper['GSM8K'])} | {call} |")
        findings.append(f"- {setup} ({wc_paradigm} on WC data vs {se_paradigm} on SE data): WC data "
                        f"{'+' if gain >= 0 else ''}{100 * gain:.1f} points {METRIC}: {call}.")
    return lines, findings


def data_findings(data: dict) -> list[str]:
    wc, se = data["wc"], data["se"]
    out = []
    for key, label, sign in (("coverage", "coverage", 1), ("diversity", "diversity", 1), ("fpr", "FPR", 1)):
        a, b = wc[key], se[key]
        if a is None or b is None:
            continue
        relation = "higher" if a > b else "lower" if a < b else "equal"
        agrees = "agrees with" if (a - b) * sign > 0 else "disagrees with"
        out.append(f"- WC {label} is {relation} than SE's at matched compute ({a:.3f} vs {b:.3f}): {agrees} the paper.")
    ratio = wc["flops"] / se["flops"] if se["flops"] else float("nan")
    out.append(f"- Measured sampling FLOPs WC / SE = {ratio:.2f} (the paper assumes 1: equal solution lengths).")
    return out


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
        lines.append(f"- SFT data (dedup {state}): WC keeps {wc['kept']} of {wc['correct_samples']} right-answer "
                     f"samples ({wc['duplicates_dropped']} duplicates dropped), SE {se['kept']} of "
                     f"{se['correct_samples']} ({se['duplicates_dropped']} dropped).")
    grading = se.get("grading")
    if grading:
        modes = "; ".join(f"{mode}: coverage WC {_pct(wc['grading']['by_mode'][mode]['coverage'])} / "
                          f"SE {_pct(grading['by_mode'][mode]['coverage'])}" for mode in grading["by_mode"])
        lines.append(f"- Filtered and scored with `{grading['mode']}` grading. Every mode the task offers: {modes}.")
    for arm, metrics in (("WC", wc), ("SE", se)):
        checks = metrics.get("step_checks")
        if checks:
            lines.append(f"- {arm} calculator annotations: {checks['checked']} checked, {checks['wrong']} wrong, "
                         f"{checks['unparsable']} unparsable.")
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
            differing.append(f"- {key}: " + "; ".join(f"{value} ({', '.join(sources)})"
                                                       for value, sources in values.items()))
    return [f"Produced with: {', '.join(shared)}.", *differing]


def render_report(data: dict, evals: dict, bases: dict, plots: list[str], problems: int,
                  finetunes: dict | None = None, judges: dict | None = None,
                  environments: dict[str, dict] | None = None) -> str:
    setups, setup_findings = setups_table(evals, problems, finetunes)
    base_line = ", ".join(f"{role} {bases[role]['parameters']['non_embedding']:,}" for role in bases)
    parts = [
        "# computematch report",
        "",
        f"Base models (non-embedding parameters): {base_line}. Sampling: S_SE = {data['se']['samples_per_problem']}, "
        f"S_WC = {data['wc']['samples_per_problem']} per problem on {data['se']['by_budget']['1']['problems']} "
        f"train problems. Test problems: {problems}. Accuracies in %.",
        "",
        "## Where this run agrees or disagrees with the paper",
        "",
        *data_findings(data),
        *setup_findings,
        "",
        "## (a) Data quality, WC vs SE, at compute-matched budget levels",
        "",
        *data_table(data),
        "",
        f"Paper (Gemma2-9B vs 27B): {PAPER_DATA}. Verified diversity counts only solutions whose every step",
        "checks out (this task's exact step checker); the paper could not separate these from false positives.",
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
        f"## (b) Finetuning setups ({METRIC} on the test split)",
        "",
        *setups,
        "",
        "All evaluated models:",
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


def make_plots(data: dict, evals: dict, directory: Path) -> list[Path]:
    """coverage@k and diversity@k against sampling FLOPs, FPR per model, accuracy per setup and data source."""
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
        axes.set_xlabel("sampling FLOPs (measured)")
        axes.set_ylabel(label)
        axes.legend()
        figure.tight_layout()
        written.append(directory / f"{key}.png")
        figure.savefig(written[-1], dpi=100)
        plt.close(figure)

    figure, axes = plt.subplots(figsize=(4, 3.5))
    values = [100 * (data[arm]["fpr"] or 0) for arm in ("wc", "se")]
    axes.bar(["WC", "SE"], values, color=["tab:blue", "tab:orange"])
    axes.set_ylabel("false positive rate (%)")
    figure.tight_layout()
    written.append(directory / "fpr.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.27
    for offset, (suffix, label) in enumerate((("", "base"), ("-wc", "WC data"), ("-se", "SE data"))):
        heights = [100 * (evals.get(f"{role}{suffix}", {}).get(METRIC) or 0) for _, role, _, _ in SETUPS]
        axes.bar([i + (offset - 1) * width for i in range(len(SETUPS))], heights, width, label=label)
    axes.set_xticks(range(len(SETUPS)), [setup for setup, *_ in SETUPS])
    axes.set_ylabel(f"test {METRIC} (%)")
    axes.legend()
    figure.tight_layout()
    written.append(directory / "accuracy.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)
    return written
