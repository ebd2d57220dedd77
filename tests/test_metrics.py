import pytest

from computematch.measure.accuracy import (
    accuracy_scores, evaluation_problems, majority_answer, pass_at_k, problems_for_standard_error)
from computematch.measure.codec import to_json
from computematch.measure.intervals import interval_verdict, world_interval
from computematch.measure.records import EvalRecord
from computematch.measure.quality import (
    Graded, coverage_at_k, data_quality, diversity_at_k, extraction_failure_rate, false_positive_rate,
)

def scores(problems, sampled, greedy, maj_k) -> dict:
    """An EvalRecord's scores as its metrics file holds them."""
    return to_json(EvalRecord(**accuracy_scores(problems, sampled, greedy, maj_k), grading=None, samples=4))


RIGHT = Graded("5", True, True, "a")
RIGHT_OTHER_STYLE = Graded("5", True, True, "b")
LUCKY = Graded("5", True, False, "c")  # right answer, wrong step
WRONG = Graded("4", False, False, "d")
SILENT = Graded(None, False, False, "e")

PROBLEMS = [
    [WRONG, RIGHT, RIGHT],  # solved from k=2; one unique solution
    [RIGHT_OTHER_STYLE, LUCKY, RIGHT],  # solved at k=1; three unique correct solutions by k=3
    [SILENT, WRONG, WRONG],  # never solved
]


def test_coverage_at_k_counts_problems_with_any_correct_sample():
    assert coverage_at_k(PROBLEMS, 1) == pytest.approx(1 / 3)
    assert coverage_at_k(PROBLEMS, 2) == pytest.approx(2 / 3)
    assert coverage_at_k(PROBLEMS, 3) == pytest.approx(2 / 3)


def test_diversity_counts_unique_correct_solutions_over_all_problems():
    assert diversity_at_k(PROBLEMS, 1) == pytest.approx(1 / 3)
    assert diversity_at_k(PROBLEMS, 3) == pytest.approx((1 + 3 + 0) / 3)
    assert diversity_at_k(PROBLEMS, 3, verified_only=True) == pytest.approx((1 + 2 + 0) / 3)


def test_false_positive_rate_is_share_of_correct_answers_with_wrong_steps():
    assert false_positive_rate(PROBLEMS, 1) == 0.0
    assert false_positive_rate(PROBLEMS, 3) == pytest.approx(1 / 5)
    assert false_positive_rate([[WRONG]], 1) is None
    assert false_positive_rate([[Graded("5", True, None, "x")]], 1) is None  # no step checker


def test_coverage_at_1_is_what_the_first_sample_of_each_problem_covers(tiny_task):
    from computematch.stages.filter import filter_samples

    problems = tiny_task.make_splits()["train"][:2]
    gold = {p.id: p.solution for p in problems}
    wrong = "1 + 1 = 3. A: 3"
    samples = [{"problem_id": p.id, "sample_index": i, "completion": text, "completion_tokens": 5}
               for p, texts in zip(problems, [[wrong, gold[problems[0].id]], [gold[problems[1].id], wrong]])
               for i, text in enumerate(texts)]
    _, record = filter_samples(tiny_task, problems, samples, 2, parameters=10, dedup=False)
    assert record.coverage_at_1 == 0.5 and record.coverage == 1.0  # the first problem is solved only at k=2
    assert record.coverage_at_1 == record.by_budget["1"].coverage


def test_extraction_failures_are_counted():
    assert extraction_failure_rate(PROBLEMS, 3) == pytest.approx(1 / 9)
    report = data_quality(PROBLEMS, 2)
    assert report.samples == 6 and report.sample_accuracy == pytest.approx(3 / 6)


def test_evaluation_size_guarantees_its_standard_error_for_the_worst_model():
    assert problems_for_standard_error(5.0, available=600) == 100  # 50 / sqrt(100) = 5 points
    assert problems_for_standard_error(3.0, available=600) == 278  # 50 / sqrt(278) = 2.9987
    assert problems_for_standard_error(2.0, available=600) == 600  # needs 625: the whole split
    # the worst model: each problem's mean correctness 0 or 1, half each; its pass@1 over n problems drawn at
    # random from many has a standard error of 50 / sqrt(n) points, the bound the size is chosen from
    for target in (2.5, 4.0, 7.0):
        n = problems_for_standard_error(target, available=10**6)
        assert 50 / n ** 0.5 <= target < 50 / (n - 1) ** 0.5


def test_evaluation_problems_a_seeded_subset_in_the_splits_order():
    problems = list(range(600))
    assert evaluation_problems(problems, None, seed=0) is problems  # the full evaluation
    chosen = evaluation_problems(problems, 5.0, seed=3)
    assert len(chosen) == 100 and chosen == sorted(chosen)
    assert evaluation_problems(problems, 5.0, seed=3) == chosen  # every model of a world scores the same problems
    assert evaluation_problems(problems, 5.0, seed=4) != chosen  # another world, other problems
    assert evaluation_problems(problems[:50], 5.0, seed=3) == problems[:50]  # fewer than needed: all of them


def test_pass_at_k_unbiased_estimator_on_hand_cases():
    assert pass_at_k(n=5, c=0, k=1) == 0.0
    assert pass_at_k(n=5, c=2, k=1) == pytest.approx(0.4)
    assert pass_at_k(n=4, c=1, k=2) == pytest.approx(1 - (3 * 2) / (4 * 3))  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(n=4, c=3, k=2) == 1.0


def test_majority_vote_ignores_missing_answers_and_breaks_ties_by_first():
    assert majority_answer(["3", "5", "5", None]) == "5"
    assert majority_answer([None, "7", "3", "3", "7"]) == "7"
    assert majority_answer([None, None]) is None


def test_evaluation_scores_pass_at_1_greedy_and_majority_by_difficulty():
    from computematch.tasks import Grade, Problem

    problems = [Problem("a", "q", "5", "s", 2), Problem("b", "q", "3", "s", 3)]
    sampled = {"a": [Grade("5", True, True), Grade("4", False, False), Grade("5", True, True), Grade(None, False, False)],
               "b": [Grade("1", False, False), Grade("3", True, True), Grade("1", False, False), Grade("3", True, False)]}
    result = scores(problems, sampled, {"a": Grade("5", True, True), "b": Grade("2", False, False)}, maj_k=(1, 4))
    assert result["pass@1"] == pytest.approx((2 / 4 + 2 / 4) / 2)
    assert result["greedy"] == 0.5
    assert result["maj@1"] == 0.5  # a: first answer 5 (right); b: first answer 1 (wrong)
    assert result["maj@4"] == 0.5  # a: 5 wins; b: 1 and 3 tie, 1 came first
    assert result["by_difficulty"]["3"] == {"pass@1": 0.5, "greedy": 0.0, "maj@1": 0.0, "maj@4": 0.0}


def test_evaluation_reports_every_grading_mode_side_by_side():
    from computematch.tasks import Grade, Problem

    problems = [Problem("a", "q", "18", "s", 2)]
    strict_miss = Grade(None, False, None, by_mode={"strict": False, "flexible": True})  # ends "A: 18"
    hit = Grade("18", True, None, by_mode={"strict": True, "flexible": True})
    result = scores(problems, {"a": [strict_miss, hit]}, {"a": strict_miss}, maj_k=())
    assert result["pass@1"] == 0.5 and result["greedy"] == 0.0
    assert result["by_grading"] == {"flexible": {"pass@1": 1.0, "greedy": 1.0}, "strict": {"pass@1": 0.5, "greedy": 0.0}}


def test_world_intervals_use_student_t_and_the_verdict_follows_the_interval():
    seed_interval, seed_verdict = world_interval, interval_verdict

    interval = seed_interval([0.03, 0.04, 0.05])  # mean 0.04, s 0.01, t(2) 4.303
    assert interval.mean == pytest.approx(0.04)
    assert interval.high - interval.mean == pytest.approx(4.303 * 0.01 / 3 ** 0.5)
    assert seed_verdict(interval, +1) == "agrees" and seed_verdict(interval, -1) == "disagrees"
    assert seed_verdict(interval, 0) == "WC data better"
    straddles = seed_interval([-0.01, 0.03, 0.05])
    assert straddles.low < 0 < straddles.high and seed_verdict(straddles, +1) == "tie"
    assert seed_verdict(seed_interval([0.5]), +1).startswith("tie (one world")
    assert seed_interval([0.1] * 40).high == pytest.approx(0.1)  # no spread, no width


def test_a_rates_interval_stays_inside_zero_and_one_and_matches_the_plain_one_at_the_centre():
    # the committed default's SE pass@1 over worlds 0-2 once printed [45.9, 111.9]%: on the logit scale it cannot
    plain, rate = world_interval([0.95, 0.60, 0.99]), world_interval([0.95, 0.60, 0.99], rate=True)
    assert plain.high > 1 and 0 < rate.low < rate.mean == plain.mean < rate.high < 1
    fpr = world_interval([0.0, 0.017, 0.0], rate=True)  # a rate near 0: the plain interval goes below it
    assert world_interval([0.0, 0.017, 0.0]).low < 0 < fpr.low < fpr.mean < fpr.high < 1
    # near the middle the two scales agree to first order (delta method)
    middle = [0.49, 0.50, 0.51]
    assert world_interval(middle, rate=True).high == pytest.approx(world_interval(middle).high, abs=2e-4)
    assert world_interval([1.0, 1.0], rate=True).low == 1.0 and world_interval([0.0, 0.0], rate=True).high == 0.0
    assert world_interval([0.3], rate=True).low is None  # one world: no interval on either scale
