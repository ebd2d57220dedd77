import pytest

from computematch.budget import compute_matched_samples, flops_per_token, ledger, plan, sampling_ratio
from computematch.config import BudgetConfig, ConfigError


def test_compute_matched_ratio_is_param_ratio():
    assert sampling_ratio(BudgetConfig(ratio="auto"), 9e9, 27e9) == pytest.approx(3.0)


def test_high_budget_matches_the_paper():
    assert compute_matched_samples(se_samples=10, ratio=3.0) == 30
    assert compute_matched_samples(se_samples=1, ratio=3.0) == 3


def test_ratio_override_ignores_parameter_counts():
    assert sampling_ratio(BudgetConfig(ratio=35), 9e9, 27e9) == 35.0
    assert compute_matched_samples(1, sampling_ratio(BudgetConfig(ratio=35), 1, 1)) == 35


def test_samples_round_to_nearest_and_never_zero():
    assert compute_matched_samples(3, 3.158) == 9
    assert compute_matched_samples(1, 0.2) == 1


def test_planned_flops_are_equal_at_equal_solution_length():
    arms = plan(BudgetConfig(se_samples=10, ratio="auto"), {"wc": 9_000_000_000, "se": 27_000_000_000},
                problems=100, mean_tokens={"wc": 200.0, "se": 200.0})
    assert arms["wc"].samples_per_problem == 30 and arms["se"].samples_per_problem == 10
    assert arms["wc"].flops == pytest.approx(arms["se"].flops)
    assert arms["se"].flops == pytest.approx(100 * 10 * 200 * 2 * 27e9)


def test_ledger_counts_generated_tokens_at_two_p_per_token():
    cost = ledger({"total": 10, "non_embedding": 8}, prompt_tokens=50, completion_tokens=100, samples=4)
    assert flops_per_token(8) == 16
    assert cost["flops"] == {"total": 2000.0, "non_embedding": 1600.0}
    assert cost["flops_with_prompt"]["total"] == 3000.0 and cost["mean_completion_tokens"] == 25.0


def test_auto_ratio_rejects_zero_parameters():
    with pytest.raises(ConfigError, match="budget.ratio"):
        sampling_ratio(BudgetConfig(), 0, 10)
