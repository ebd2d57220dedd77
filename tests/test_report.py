"""The report renders from fixture records, with the paper's numbers beside this run's."""

from dataclasses import replace

import pytest
from factories import base_record, data_record, eval_record, finetune_record, judge_record, level

from computematch.config import StudyConfig
from computematch.measure.records import GuessingBaseline, GuessingReference
from computematch.measure.study import StudyMetrics, study_summary
from computematch.render.markdown import ReportInputs, render_report
from computematch.render.plots import make_plots

DATA = {
    "wc": data_record(0.9, 2.0, 0.2, 9e6, {str(k): level(0.6 + 0.1 * k, 0.7 * k, 0.2, 3e6 * k) for k in (1, 2, 3)},
                      {"2": level(1.0, 2.5, 0.1), "3": level(0.8, 1.5, 0.3)}, sample_accuracy=0.7),
    "se": data_record(0.8, 1.0, 0.1, 9.3e6, {"1": level(0.8, 1.0, 0.1, 9.3e6)},
                      {"2": level(0.9, 1.0, 0.05), "3": level(0.7, 1.0, 0.15)}, sample_accuracy=0.8),
}
# pass@1 per cell and world: on WC data the student wins by ~5 points in every world, SE-LM loses ~10.
SCORES = {"student-wc": (0.35, 0.36, 0.34), "student-se": (0.30, 0.31, 0.29), "wc-wc": (0.45, 0.40, 0.48),
          "wc-se": (0.46, 0.44, 0.45), "se-wc": (0.50, 0.51, 0.49), "se-se": (0.60, 0.62, 0.58),
          "student-wc-matched": (0.28, 0.27, 0.29)}
WORLDS = (0, 1, 2)
BASE_SCORES = {"student": eval_record(0.2), "wc": eval_record(0.4), "se": eval_record(0.5)}
BASES = {role: base_record(n) for role, n in {"student": 10, "wc": 100, "se": 300}.items()}
METRICS = StudyMetrics(
    bases={(role, w): base_record(BASES[role].parameters["non_embedding"], 600 + w) for role in BASES for w in WORLDS},
    data={(arm, w): DATA[arm] for arm in DATA for w in WORLDS},
    evals={**{(role, w, None): scores for role, scores in BASE_SCORES.items() for w in WORLDS},
           **{(cell, w, 0): eval_record(score, majority={"4": score})
              for cell, scores in SCORES.items() for w, score in zip(WORLDS, scores)}},
    finetunes={(cell, w, 0): finetune_record() for cell in SCORES for w in WORLDS})
EVALS = {**BASE_SCORES, **{cell: eval_record(sum(v) / 3) for cell, v in SCORES.items()}}
FINETUNES = {cell: finetune_record() for cell in SCORES}
STUDY_CONFIG = StudyConfig(worlds=WORLDS, seeds=(0,), controls=("wc-matched",), control_models=("student",))


def inputs(study, data=DATA, **fields) -> ReportInputs:
    return ReportInputs(study=study, data=data, evals=EVALS, bases=BASES, finetunes=FINETUNES, **fields)


def test_report_renders_tables_and_verdicts(tmp_path):
    study = study_summary(METRICS, STUDY_CONFIG)
    plots = make_plots(DATA, study, tmp_path / "plots")
    assert [p.name for p in plots] == ["coverage.png", "diversity.png", "coverage_by_level.png",
                                       "fpr_by_level.png", "accuracy.png"]
    assert all(p.stat().st_size > 1000 for p in plots)
    judges = {"wc": judge_record(enabled=True, fpr=0.25, fpr_ci95=[0.1, 0.5], judged=20, unparsable=2,
                                 agreement_with_step_checker=0.9), "se": judge_record(enabled=False)}
    text = render_report(inputs(study, judges=judges), [str(p) for p in plots])
    assert "| WC | 25.0 | 10.0–50.0 | 20 | 2 | 90.0 |" in text and "| SE |" not in text.split("LLM-judged")[1][:200]
    assert "| 1 / 3 | 90.0 | 80.0 |" in text  # SE k=1 lines up with WC k=3
    assert "| Student-LM | 20.0 | 35.0 | 30.0 | +5.0 [+5.0, +5.0] | +16.7% | +6.0% / +5.8% |" in text
    assert "95% CI over 3 worlds" in text
    assert "| agrees |" in text.split("| Student-LM |")[1].splitlines()[0]
    assert "| WC-LM | 40.0 | 44.3 | 45.0 |" in text and "+1.5% / ≈0" in text
    assert text.split("| WC-LM |")[1].splitlines()[0].endswith("| tie |")
    assert text.split("| SE-LM |")[1].splitlines()[0].endswith("| disagrees |")
    assert "| sample-matched: WC at SE's sample count (S_SE each) vs SE | student | 28.0 | 30.0 |" in text
    assert "| verified-only:" in text and "not run by default" in text  # with the command that runs it
    assert "| student | WC | 9e+06 | 6e+09 | 1,000 |" in text  # sampling and finetuning FLOPs side by side
    assert "coverage, WC − SE at matched compute: +10.00 [+10.00, +10.00] points over worlds: agrees" in text
    assert "| coverage (%) | 90.00 [90.00, 90.00] | 80.00 [80.00, 80.00] | +10.00 [+10.00, +10.00] |" in text
    assert "| coverage@1: first sample (%) | 70.00 [70.00, 70.00] | 80.00 [80.00, 80.00] | -10.00 [-10.00, -10.00] |" in text
    assert "![accuracy](plots/accuracy.png)" in text
    # calibration, world by world: coverage +10 points (5-11), diversity 2x (>= 1.5), FPR +10 points (2-12),
    # sample accuracy (coverage@1) 0.70 / 0.80 = 0.875, printed 0.87 (0.80-0.95)
    assert "| 1 | 20.0 (601) | 40.0 (601) | 50.0 (601) | +10.0 ✓ | 2.00 ✓ | +10.0 ✓ | 0.87 ✓ |" in text
    assert ("Worlds meeting each target (at the default budget, the sampling temperature): coverage WC − SE 3 of 3, "
            "diversity WC / SE 3 of 3, FPR WC − SE 3 of 3, coverage@1 WC / SE 3 of 3.") in text
    assert "| coverage WC − SE (+5 to +11 points) | diversity WC / SE (≥ 1.5) |" in text
    # the data are alike in every world: one gap, no line
    assert "| Student-LM | n/a (fewer than two worlds) |" in text


def test_the_study_pairs_worlds_and_calls_ties_and_untrained_cells():
    evals = {(f"student-{arm}", world, 0): eval_record(value) for arm, values in
             (("wc", (0.30, 0.34, 0.29)), ("se", (0.31, 0.30, 0.31))) for world, value in enumerate(values)}
    row = study_summary(StudyMetrics(evals=evals), StudyConfig(controls=())).setups["Student-LM"]
    assert row.worlds == [0, 1, 2] and row.gain.mean == pytest.approx(0.01 / 3)
    assert row.gain.low < 0 < row.gain.high and row.verdict == "tie"
    assert row.gain.by_world == pytest.approx({"0": -0.01, "1": 0.04, "2": -0.02})
    untrained = study_summary(StudyMetrics(evals=evals, finetunes={("student-wc", 1, 0): finetune_record(False)}),
                              StudyConfig(controls=()))
    assert untrained.setups["Student-LM"].verdict.startswith("no verdict: not trained on wc")
    assert study_summary(StudyMetrics(), StudyConfig(controls=())).setups["SE-LM"].verdict == "not evaluated"


def test_a_worlds_seeds_are_averaged_before_the_interval_over_worlds():
    """Two finetuning seeds in each of two worlds: the interval has two values (one per world), not four."""
    values = {("wc", 0): (0.40, 0.50), ("se", 0): (0.30, 0.30), ("wc", 1): (0.20, 0.30), ("se", 1): (0.20, 0.20)}
    evals = {(f"se-{arm}", world, seed): eval_record(v) for (arm, world), pair in values.items()
             for seed, v in enumerate(pair)}
    row = study_summary(StudyMetrics(evals=evals), StudyConfig(worlds=(0, 1), seeds=(0, 1), controls=()))
    gain = row.setups["SE-LM"].gain
    assert gain.worlds == 2 and gain.by_world == pytest.approx({"0": 0.15, "1": 0.05})
    assert gain.mean == pytest.approx(0.10)


def test_the_report_gives_the_guessers_rate_on_the_corpus_beside_the_train_problems(tmp_path):
    study = study_summary(METRICS, STUDY_CONFIG)
    guess = GuessingBaseline(coverage=0.04, by_difficulty={"2": 0.05, "3": 0.03},
                             reference=GuessingReference(split="corpus", problems=20000, coverage=0.035,
                                                         by_difficulty={"2": 0.031, "3": 0.04}))
    data = {arm: replace(DATA[arm], guessing_baseline=guess) for arm in DATA}
    text = render_report(inputs(study, data), [])
    assert ("covers 4.0% of the train problems (per level below); on the 20,000 corpus problems it is right "
            "3.5% of the time (3.1–4.0% by level).") in text


def test_the_report_states_the_sampling_and_evaluation_temperatures_beside_the_papers():
    study = study_summary(METRICS, STUDY_CONFIG)
    text = render_report(inputs(study, temperatures={"sampling": 0.3, "evaluation": 0.7}), [])
    assert "train problems, sampled at T 0.3 and evaluated at T 0.7 (the paper: 0.7 for both)." in text
    assert "sampled at" not in render_report(inputs(study), [])


def test_the_environment_names_what_every_stage_shared_and_counts_many_that_differ():
    from computematch.render.markdown import environment_lines

    environments = {"bootstrap@wc": {"torch": "2.13", "threads": 2}, "evaluate@wc": {"torch": "2.13", "threads": 2},
                    **{f"finetune@se-wc-{seed}": {"torch": "2.13", "threads": 1} for seed in range(4)},
                    **{f"evaluate@se-wc-{seed}": {"torch": "2.13", "threads": 1} for seed in range(4)},
                    "filter@wc": {}}
    assert environment_lines(environments) == [
        "Produced with: torch 2.13.", "- threads: 2 (bootstrap@wc, evaluate@wc); 1 (4 finetune, 4 evaluate)"]


def test_the_headline_holds_each_arms_data_each_models_pass_at_1_and_each_gain_with_its_verdict():
    from computematch.measure.study import headline
    from computematch.stages.report import headline_metrics

    summary = headline(study_summary(METRICS, STUDY_CONFIG))
    assert summary.data["coverage"] == {"wc": pytest.approx(0.9), "se": pytest.approx(0.8)}
    assert summary.data["coverage_at_1"] == {"wc": pytest.approx(0.7), "se": pytest.approx(0.8)}
    assert summary.pass_at_1["student"] == pytest.approx(0.2) and summary.pass_at_1["se-se"] == pytest.approx(0.6)
    assert summary.pass_at_1["student-wc-matched"] == pytest.approx(0.28)
    assert summary.gain["Student-LM"].mean == pytest.approx(0.05) and summary.verdict["SE-LM"] == "disagrees"
    assert summary.verdict["sample-matched/student"] == "tie" and summary.gain["sample-matched/student"].mean < 0
    metrics = headline_metrics(summary)  # one MLflow key per number, the same in every run
    assert metrics["data.coverage.wc"] == pytest.approx(0.9) and metrics["gain.SE-LM.low"] < 0
    assert all(isinstance(v, float) for v in metrics.values()) and "verdict.SE-LM" not in metrics


def test_the_adaptive_arm_is_reported_beside_the_uniform_arms_with_its_samples_by_level(tmp_path):
    from computematch.measure.study import headline

    adaptive = replace(DATA["wc"], coverage=0.95, flops=8.9e6, mean_samples_per_problem=3.0,
                       samples_by_difficulty={"2": 2.0, "3": 4.0})
    metrics = replace(METRICS, data={**METRICS.data, **{("wc-adaptive", w): adaptive for w in WORLDS}})
    study = study_summary(metrics, STUDY_CONFIG)
    assert study.adaptive.coverage.difference.mean == pytest.approx(0.05)
    assert study.adaptive.samples_by_difficulty["3"]["wc-adaptive"].mean == 4.0
    text = render_report(inputs(study), [])
    assert "| coverage (%) | 95.00 [95.00, 95.00] | 90.00 [90.00, 90.00] | +5.00 [+5.00, +5.00] |" in text
    assert "| 3 | 3.00 | 1.00 | 4.00 | 80.0 | 70.0 | 80.0 |" in text  # samples per problem, then coverage, by arm
    assert [p.name for p in make_plots(DATA, study, tmp_path)][-2:] == ["samples_by_level.png", "accuracy.png"]
    assert headline(study).data["coverage"]["wc-adaptive"] == pytest.approx(0.95)


def test_the_gains_against_the_gap_are_fitted_reported_and_plotted(tmp_path):
    # WC / SE coverage@1 of 0.70, 0.80, 0.90 in worlds 0-2; SE-LM's gain -0.15, -0.10, -0.05: a line of slope 0.5
    # per unit of gap that crosses 0 at a gap of 1.0 and predicts -0.0875 at the paper's 0.875
    data = {("se", w): replace(DATA["se"], sample_accuracy=0.8) for w in WORLDS}
    data.update({("wc", w): replace(DATA["wc"], sample_accuracy=0.8 * gap) for w, gap in zip(WORLDS, (0.7, 0.8, 0.9))})
    scores = {**SCORES, "se-wc": (0.45, 0.50, 0.55), "se-se": (0.60, 0.60, 0.60)}
    metrics = replace(METRICS, data=data, evals={**METRICS.evals, **{
        (cell, w, 0): eval_record(score) for cell in ("se-wc", "se-se") for w, score in zip(WORLDS, scores[cell])}})
    study = study_summary(metrics, STUDY_CONFIG)
    fit = study.gap.fits["SE-LM"]
    assert study.gap.by_world == pytest.approx({"0": 0.7, "1": 0.8, "2": 0.9})
    assert fit.slope == pytest.approx(0.5) and fit.at_paper_gap == pytest.approx(-0.0625)
    assert fit.zero_gap == pytest.approx(1.0) and fit.slope_low == pytest.approx(0.5)  # no residual: no width
    text = render_report(inputs(study, data=DATA), [])
    row = text.split("## Beyond the paper: the gains against the gap")[1].split("| SE-LM | ")[1].splitlines()[0]
    assert row.startswith("+5.0 [+5.0, +5.0] | -6.2 [-6.") and row.endswith("| 1.00 |")
    assert "gain_vs_gap.png" in [p.name for p in make_plots(DATA, study, tmp_path)]
