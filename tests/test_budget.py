import pytest

from computematch.budget import compute_matched_samples, flops_per_token, ledger, plan, sampling_ratio
from computematch.errors import ConfigError
from computematch.config import BudgetConfig


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


def test_price_matching_sets_the_ratio_from_prices_per_output_token():
    """The paper's Gemini-1.5 Flash vs Pro: matched on price, about 35 Flash samples per Pro sample."""
    budget = BudgetConfig(se_samples=1, price_wc=0.3, price_se=10.5)
    assert sampling_ratio(budget, 9, 27) == pytest.approx(35.0)  # prices, not parameters
    assert sampling_ratio(BudgetConfig(ratio=5, price_wc=0.3, price_se=10.5), 9, 27) == 5.0  # an explicit ratio wins
    arms = plan(budget, {"wc": 9, "se": 27}, problems=100, mean_tokens={"wc": 200.0, "se": 200.0})
    assert arms["wc"].samples_per_problem == 35
    assert arms["wc"].dollars == pytest.approx(100 * 35 * 200 * 0.3 / 1e6)
    assert arms["se"].dollars == pytest.approx(100 * 1 * 200 * 10.5 / 1e6)
    assert arms["wc"].dollars == pytest.approx(arms["se"].dollars)  # equal spend


def test_one_price_alone_is_an_error_naming_the_missing_one():
    with pytest.raises(ConfigError, match=r"^budget.price_se: give both"):
        BudgetConfig(price_wc=0.3)
    with pytest.raises(ConfigError, match=r"^budget.price_wc: must be > 0"):
        BudgetConfig(price_wc=0, price_se=1)


def test_the_budget_command_prints_a_price_matched_plan_in_dollars_and_flops(tmp_path, monkeypatch):
    import json

    from computematch.config import parse_params
    from computematch.budget_plan import render_plan

    monkeypatch.chdir(tmp_path)
    for role, p in (("wc", 100), ("se", 300)):
        (tmp_path / "models" / "base" / role / "world-1").mkdir(parents=True)
        (tmp_path / "models" / "base" / role / "world-1" / "card.json").write_text(
            json.dumps({"parameters": {"total": p, "non_embedding": p}}))
    (tmp_path / "data" / "prepare").mkdir(parents=True)
    (tmp_path / "data" / "prepare" / "train.jsonl").write_text(
        json.dumps({"id": "p", "question": "q", "answer": "1", "solution": "123456789", "difficulty": 2}) + "\n")
    params = parse_params({"models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "task": {"train_size": 10},
                           "budget": {"se_samples": 2, "price_wc": 0.3, "price_se": 10.5}})
    text = render_plan(params, world=1)
    assert "ratio: 35.000" in text and "auto matches on price: $10.5 / $0.3" in text
    wc = next(line for line in text.splitlines() if line.startswith("wc "))
    assert wc.split()[2] == "70" and wc.split()[6] == "0.0021"  # S_WC = 35 x 2; 10 x 70 x 10 tokens x $0.3 / 1e6
