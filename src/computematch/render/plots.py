"""The paper's plots from this run's records: coverage and diversity against sampling FLOPs, coverage and FPR by
level, and accuracy per setup with the world intervals (PNG files, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from computematch.measure.records import DataRecord
from computematch.measure.study_records import StudySummary
from computematch.measure.study import METRIC
from computematch.names import ADAPTIVE, ARMS, SETUPS

MARKERS = dict(zip(ARMS, ("o", "s")))


def _save_plot(plt, figure, axes, xlabel: str, ylabel: str, path: Path) -> Path:
    """Label, lay out, write and close one line plot: the steps every plot here shares."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def make_plots(data: dict[str, DataRecord], study: StudySummary, directory: Path) -> list[Path]:
    """coverage@k and diversity@k against sampling FLOPs; coverage and FPR by level with the guessing baseline;
    accuracy per setup and data source with the world intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for key, label in (("coverage", "coverage@k"), ("diversity", "diversity@k (unique correct / problem)")):
        figure, axes = plt.subplots(figsize=(5, 3.5))
        for arm in ARMS:
            levels = data[arm].by_budget
            axes.plot([levels[k].flops for k in levels], [getattr(levels[k], key) for k in levels],
                      marker=MARKERS[arm], label=f"{arm.upper()} (k = 1..{len(levels)})")
        written.append(_save_plot(plt, figure, axes, "sampling FLOPs (measured)", label, directory / f"{key}.png"))

    levels = list(data["se"].by_difficulty)
    guess = data["se"].guessing_baseline.by_difficulty
    for key, label in (("coverage", "coverage at the full budget (%)"), ("fpr", "false positive rate (%)")):
        figure, axes = plt.subplots(figsize=(5, 3.5))
        for arm in ARMS:
            axes.plot(levels, [100 * (getattr(data[arm].by_difficulty[level], key) or 0) for level in levels],
                      marker=MARKERS[arm], label=arm.upper())
        if guess:
            axes.plot(levels, [100 * guess.get(level, 0) for level in levels], linestyle="--", color="grey",
                      label="guessing baseline (coverage)")
        written.append(_save_plot(plt, figure, axes, "difficulty (steps)", label, directory / f"{key}_by_level.png"))

    if study.adaptive is not None:
        figure, axes = plt.subplots(figsize=(5, 3.5))
        levels = list(study.adaptive.samples_by_difficulty)
        for arm, marker, label in (("wc", "o", "WC (uniform)"), ("se", "s", "SE (uniform)"),
                                   (ADAPTIVE, "^", "WC (adaptive)")):
            means = [study.adaptive.samples_by_difficulty[level][arm] for level in levels]
            axes.plot(levels, [m.mean if m else 0 for m in means], marker=marker, label=label)
        written.append(_save_plot(plt, figure, axes, "difficulty (steps)", "samples per problem",
                                  directory / "samples_by_level.png"))

    if study.gap is not None and any(fit is not None for fit in study.gap.fits.values()):
        written.append(gap_plot(plt, study, directory / "gain_vs_gap.png"))

    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.27
    for offset, label in enumerate(("base", "WC data", "SE data")):
        heights, errors = [], []
        for setup, role, *_ in SETUPS:
            row = study.setups[setup]
            interval = (study.base.models[role].pass_at_1, row.wc, row.se)[offset]
            heights.append(100 * (interval.mean if interval else 0))
            errors.append(0 if interval is None or interval.low is None else 100 * (interval.mean - interval.low))
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


def gap_plot(plt, study: StudySummary, path: Path) -> Path:
    """Each setup's WC − SE gain against the world's gap (WC / SE coverage@1), one point per world, with its line."""
    gap = study.gap
    worlds = list(gap.by_world)
    figure, axes = plt.subplots(figsize=(5, 3.5))
    xs = [gap.by_world[w] for w in worlds]
    span = [min(xs + [gap.paper_gap]) - 0.02, max(xs + [gap.paper_gap]) + 0.02]
    for (setup, *_), marker in zip(SETUPS, ("o", "s", "^")):
        row, fit = study.setups[setup], gap.fits.get(setup)
        if row.gain is None or not row.gain.by_world:
            continue
        points = [(gap.by_world[w], 100 * row.gain.by_world[w]) for w in worlds if w in row.gain.by_world]
        dots = axes.scatter([x for x, _ in points], [y for _, y in points], marker=marker, label=setup)
        if fit is not None:
            axes.plot(span, [100 * (fit.at_paper_gap + fit.slope * (x - gap.paper_gap)) for x in span],
                      color=dots.get_facecolor()[0], linewidth=1)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.axvline(gap.paper_gap, color="grey", linestyle="--", linewidth=0.8, label="the paper's gap")
    return _save_plot(plt, figure, axes, "gap: WC / SE coverage@1", "WC − SE gain (points)", path)
