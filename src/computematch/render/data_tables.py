"""The report's data section: both arms' coverage, diversity and FPR by budget level and difficulty, over worlds
with intervals, the guessing baseline, data hygiene and the LLM judge (the paper's Figure 3 and 4 as tables)."""

from __future__ import annotations

from computematch.budget import matched_level
from computematch.measure.intervals import interval_verdict
from computematch.measure.records import DataRecord, JudgeRecord
from computematch.measure.study_records import StudySummary
from computematch.names import ARMS
from computematch.render.formatting import pct, scaled


def _arm_columns(label: str) -> str:
    return " | ".join(f"{label} {arm.upper()}" for arm in ARMS)


def data_table(data: dict[str, DataRecord]) -> list[str]:
    """Both arms at each compute-matched budget level: SE's k samples against the WC samples that cost the same."""
    quantities = ("coverage", "diversity", "verified diversity", "FPR", "FLOPs")
    lines = ["| budget level (SE k / WC k) | " + " | ".join(_arm_columns(q) for q in quantities) + " |",
             "|---|" + "---|" * (len(quantities) * len(ARMS))]
    s_se, s_wc = data["se"].samples_per_problem, data["wc"].samples_per_problem
    for k_se in range(1, s_se + 1):
        levels = {"wc": data["wc"].by_budget[str(matched_level(k_se, s_se, s_wc))], "se": data["se"].by_budget[str(k_se)]}
        row = [pct(levels[a].coverage) for a in ARMS] + [f"{levels[a].diversity:.2f}" for a in ARMS] \
            + [f"{levels[a].verified_diversity:.2f}" for a in ARMS] + [pct(levels[a].fpr) for a in ARMS] \
            + [f"{levels[a].flops:.3g}" for a in ARMS]
        lines.append(f"| {k_se} / {matched_level(k_se, s_se, s_wc)} | " + " | ".join(row) + " |")
    return lines


def difficulty_table(data: dict[str, DataRecord]) -> list[str]:
    """Coverage, diversity and FPR by level at the full budget, beside what a most-common-answer guesser covers."""
    lines = [f"| difficulty | {_arm_columns('coverage')} | guessing baseline | {_arm_columns('diversity')} "
             f"| {_arm_columns('FPR')} |", "|---|" + "---|" * (3 * len(ARMS) + 1)]
    guess = data["se"].guessing_baseline.by_difficulty
    for level in data["se"].by_difficulty:
        rows = {arm: data[arm].by_difficulty[level] for arm in ARMS}
        lines.append(f"| {level} | " + " | ".join(pct(rows[a].coverage) for a in ARMS) + f" | {pct(guess.get(level))} | "
                     + " | ".join(f"{rows[a].diversity:.2f}" for a in ARMS) + " | "
                     + " | ".join(pct(rows[a].fpr) for a in ARMS) + " |")
    return lines


DATA_LABELS = {"coverage": ("coverage", 100, "points"), "diversity": ("diversity", 1, "unique correct solutions"),
               "fpr": ("FPR", 100, "points")}
PAPER_SIGNS = {"coverage": +1, "diversity": +1, "fpr": +1}  # the paper: WC higher on each


def data_findings(study: StudySummary) -> list[str]:
    """WC − SE in each data quantity, paired by world, and the verdict its interval gives."""
    out = []
    for key, (label, scale, unit) in DATA_LABELS.items():
        difference = getattr(study.data, key).wc_minus_se
        if not difference:
            continue
        verdict = interval_verdict(difference, PAPER_SIGNS[key])
        out.append(f"- {label}, WC − SE at matched compute: {scaled(difference, scale)} {unit} over worlds: "
                   f"{verdict} with the paper (WC higher).")
    flops = study.data.flops
    ratios = [flops.wc.by_world[w] / flops.se.by_world[w] for w in flops.se.by_world
              if flops.se.by_world[w]] if flops.wc and flops.se else []
    if ratios:
        out.append(f"- Measured sampling FLOPs WC / SE = {min(ratios):.2f}–{max(ratios):.2f} over worlds "
                   "(the paper assumes 1: equal solution lengths).")
    return out


def data_interval_table(study: StudySummary) -> list[str]:
    """Every data quantity of both arms and their difference, as means over worlds with 95% intervals."""
    lines = [f"| quantity (95% CI over {len(study.worlds)} worlds) | " + " | ".join(a.upper() for a in ARMS)
             + " | WC − SE |", "|---|" + "---|" * (len(ARMS) + 1)]
    for key, label, scale in (("coverage", "coverage (%)", 100), ("coverage_at_1", "coverage@1: first sample (%)", 100),
                              ("diversity", "diversity", 1),
                              ("verified_diversity", "verified diversity", 1), ("fpr", "FPR (%)", 100)):
        row = getattr(study.data, key)
        lines.append(f"| {label} | " + " | ".join(scaled(row.arm(a), scale, signed=False) for a in ARMS)
                     + f" | {scaled(row.wc_minus_se, scale)} |")
    flops = study.data.flops
    if flops.wc and flops.se:
        lines.append(f"| sampling FLOPs ({study.data.flops_by_param_count}) | "
                     + " | ".join(f"{flops.arm(a).mean:.3g}" for a in ARMS) + f" | {flops.wc_minus_se.mean:+.3g} |")
    guess = study.data.guessing_baseline
    if guess:
        lines.append(f"| guessing baseline, coverage (%) | {scaled(guess, 100, signed=False)} | | |")
    return lines


def judge_table(judges: dict[str, JudgeRecord]) -> list[str]:
    """LLM-judged FPR per arm (only arms whose judge ran)."""
    ran = {arm: j for arm, j in judges.items() if j.enabled}
    if not ran:
        return []
    lines = ["### LLM-judged false positives", "",
             "| arm | judged FPR | 95% CI | judged | unparsable | agreement with the step checker |",
             "|---|---|---|---|---|---|"]
    for arm, j in ran.items():
        low, high = j.fpr_ci95
        lines.append(f"| {arm.upper()} | {pct(j.fpr)} | {pct(low)}–{pct(high)} | {j.judged} "
                     f"| {j.unparsable} | {pct(j.agreement_with_step_checker)} |")
    return [*lines, ""]


def hygiene_lines(data: dict[str, DataRecord]) -> list[str]:
    """Decontamination, duplicates dropped and the grading mode of the SFT data (and annotation checks)."""
    lines = []
    decontamination = data["se"].decontamination
    if decontamination:
        dropped = ", ".join(f"{split} {n}" for split, n in decontamination["dropped"].items()) or "off"
        lines.append(f"- Decontamination ({decontamination['ngram']}-word n-grams shared with a test problem): "
                     f"dropped {dropped}.")
    state = "on" if data["wc"].dedup else "off"
    kept = [f"{arm.upper()} {data[arm].kept:,.0f} of {data[arm].correct_samples:,.0f}" for arm in ARMS]
    dropped = [f"{data[arm].duplicates_dropped:,.0f}" for arm in ARMS]
    first = f"{ARMS[0].upper()} keeps {kept[0][3:]} right-answer samples ({dropped[0]} duplicates dropped)"
    lines.append(f"- SFT data (dedup {state}): " + ", ".join([first, *(f"{k} ({d} dropped)" for k, d in
                                                                         zip(kept[1:], dropped[1:]))]) + ".")
    grading = data["se"].grading
    if grading.by_mode:
        modes = "; ".join(f"{mode}: coverage " + " / ".join(
            f"{arm.upper()} {pct(data[arm].grading.by_mode[mode].coverage)}" for arm in ARMS) for mode in grading.by_mode)
        lines.append(f"- Filtered and scored with `{grading.mode}` grading. Every mode the task offers: {modes}.")
    for arm in ARMS:
        checks = data[arm].step_checks
        if checks:
            lines.append(f"- {arm.upper()} calculator annotations: {checks.checked:,.0f} checked, {checks.wrong:,.0f} "
                         f"wrong, {checks.unparsable:,.0f} unparsable.")
    return lines


def guess_reference(data: DataRecord) -> str:
    """The guesser's hit rate on the corpus it learned from: the world's guessability, with less noise."""
    reference = data.guessing_baseline.reference
    if not reference:
        return ""
    levels = reference.by_difficulty.values()
    return (f"; on the {reference.problems:,} {reference.split} problems it is right "
            f"{pct(reference.coverage)}% of the time ({pct(min(levels))}–{pct(max(levels))}% by level)")


def allocation_lines(adaptive) -> list[str]:
    """Each world's allocation: the k it ended at (above adaptive.k when WC solved its problems before the budget was
    spent), its FLOPs over the uniform arm's, the problems by why they stopped; a budget it could not spend said so."""
    if not adaptive.outcomes:
        return []
    lines = ["Allocation by world: " + "; ".join(
        f"world {w}: k {o.k_reached}, cap {o.cap_used}, {o.flops_ratio:.4f} of uniform WC's FLOPs ("
        + ", ".join(f"{n} at {reason}" for reason, n in o.stopped.items()) + ")" for w, o in adaptive.outcomes.items())
        + "."]
    short = [w for w, o in adaptive.outcomes.items() if not o.matched]
    if short:
        lines.append(f"**World {', '.join(short)}: the adaptive arm spent less than 98% of the uniform arm's FLOPs** "
                     "(every problem at the cap, or one sample more than 2% of the budget): the comparison there is not "
                     "at matched compute.")
    return lines


def adaptive_table(study: StudySummary) -> list[str]:
    """The difficulty-aware WC arm beside the uniform arms: overall with intervals over worlds, and by level the
    samples each arm spent per problem and the coverage it reached (means over worlds)."""
    adaptive = study.adaptive
    if adaptive is None:
        return []
    lines = ["### Beyond the paper: WC samples allocated by difficulty", "",
             "Each problem sampled until it has `adaptive.k` right final answers or `adaptive.cap` samples (DART-Math), "
             "from the uniform WC arm's own per-sample streams, until the arm has spent the uniform WC arm's measured "
             "FLOPs; when every problem stops first, k rises by one, hardest problems first, until it has.", "",
             f"| quantity (95% CI over {len(study.worlds)} worlds) | adaptive WC | uniform WC | adaptive − uniform |",
             "|---|---|---|---|"]
    for key, label, scale, digits in (("coverage", "coverage (%)", 100, 2), ("diversity", "diversity", 1, 2),
                                      ("fpr", "FPR (%)", 100, 2), ("mean_samples_per_problem", "samples per problem", 1, 2),
                                      ("flops", "sampling FLOPs (G)", 1e-9, 3)):
        row = getattr(adaptive, key)
        lines.append(f"| {label} | {scaled(row.first, scale, digits, False)} | {scaled(row.second, scale, digits, False)} "
                     f"| {scaled(row.difference, scale, digits)} |")
    lines += ["", *allocation_lines(adaptive)]
    arms = ("wc", "se", "wc-adaptive")
    names = {"wc": "WC", "se": "SE", "wc-adaptive": "adaptive WC"}
    lines += ["", "| difficulty | " + " | ".join(f"samples / problem {names[a]}" for a in arms) + " | "
              + " | ".join(f"coverage {names[a]}" for a in arms) + " |", "|---|" + "---|" * (2 * len(arms))]
    for level, samples in adaptive.samples_by_difficulty.items():
        coverage = adaptive.coverage_by_difficulty[level]
        lines.append(f"| {level} | " + " | ".join("n/a" if samples[a] is None else f"{samples[a].mean:.2f}" for a in arms)
                     + " | " + " | ".join(pct(None if coverage[a] is None else coverage[a].mean) for a in arms) + " |")
    return [*lines, ""]
