"""The report renders from fixture metrics, with the paper's numbers beside this run's."""

from computematch.report import difference_noise, make_plots, render_report, verdict


def _level(coverage, diversity, fpr, flops):
    return {"coverage": coverage, "diversity": diversity, "verified_diversity": diversity * 0.8, "fpr": fpr,
            "flops": flops, "problems": 10, "extraction_failure_rate": 0.0, "sample_accuracy": 0.5, "samples": 10}


DATA = {
    "wc": {"coverage": 0.9, "diversity": 2.0, "fpr": 0.2, "flops": 9e6, "samples_per_problem": 3,
           "by_budget": {str(k): _level(0.6 + 0.1 * k, 0.7 * k, 0.2, 3e6 * k) for k in (1, 2, 3)},
           "by_difficulty": {"2": _level(1.0, 2.5, 0.1, 0), "3": _level(0.8, 1.5, 0.3, 0)}},
    "se": {"coverage": 0.8, "diversity": 1.0, "fpr": 0.1, "flops": 9.3e6, "samples_per_problem": 1,
           "by_budget": {"1": _level(0.8, 1.0, 0.1, 9.3e6)},
           "by_difficulty": {"2": _level(0.9, 1.0, 0.05, 0), "3": _level(0.7, 1.0, 0.15, 0)}},
}
EVALS = {name: {"pass@1": acc, "greedy": acc, "maj@4": acc, "problems": 600} for name, acc in {
    "student": 0.2, "wc": 0.4, "se": 0.5, "student-wc": 0.35, "student-se": 0.30, "wc-wc": 0.45, "wc-se": 0.46,
    "se-wc": 0.50, "se-se": 0.60}.items()}
BASES = {role: {"parameters": {"non_embedding": n}} for role, n in {"student": 10, "wc": 100, "se": 300}.items()}


def test_report_renders_tables_and_verdicts(tmp_path):
    plots = make_plots(DATA, EVALS, tmp_path / "plots")
    assert [p.name for p in plots] == ["coverage.png", "diversity.png", "fpr.png", "accuracy.png"]
    assert all(p.stat().st_size > 1000 for p in plots)
    judges = {"wc": {"enabled": True, "fpr": 0.25, "fpr_ci95": [0.1, 0.5], "judged": 20, "unparsable": 2,
                     "agreement_with_step_checker": 0.9}, "se": {"enabled": False}}
    text = render_report(DATA, EVALS, BASES, [str(p) for p in plots], problems=600, judges=judges)
    assert "| WC | 25.0 | 10.0–50.0 | 20 | 2 | 90.0 |" in text and "| SE |" not in text.split("LLM-judged")[1][:200]
    assert "| 1 / 3 | 90.0 | 80.0 |" in text  # SE k=1 lines up with WC k=3
    assert "| Student-LM | 20.0 | 35.0 | 30.0 | +5.0 | +16.7% | +6.0% / +5.8% |" in text
    assert "| WC-LM | 40.0 | 45.0 | 46.0 | -1.0 |" in text and "+1.5% / ≈0" in text
    assert "SE-LM (weak-to-strong improvement on WC data vs self-improvement on SE data): WC data -10.0 points" in text
    assert "WC coverage is higher than SE's" in text and "![accuracy](plots/accuracy.png)" in text


def test_small_differences_are_called_ties():
    noise = difference_noise(0.5, 0.51, 600)
    assert verdict(0.01, noise).startswith("tie")
    assert verdict(0.2, noise) == "agrees with the paper" and verdict(-0.2, noise) == "disagrees with the paper"
