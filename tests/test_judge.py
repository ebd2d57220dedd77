"""The LLM judge: verdict parsing, the Wilson interval, and judged FPR from a fake backend."""

import pytest

from computematch.measure.intervals import wilson_interval
from computematch.sampling import Completion
from computematch.stages.judge import fill, judge_solutions, parse_verdict


def test_verdicts_are_parsed_from_the_last_verdict_line():
    assert parse_verdict("steps fine.\nVERDICT: CORRECT") is True
    assert parse_verdict("VERDICT: INCORRECT") is False
    assert parse_verdict("verdict: **incorrect**") is False
    assert parse_verdict("VERDICT: CORRECT ... on reflection VERDICT: INCORRECT") is False
    assert parse_verdict("The reasoning is correct.") is None
    assert parse_verdict("") is None


def test_wilson_interval_on_known_values():
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-3) and high == pytest.approx(0.1744, abs=1e-3)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(0, 20)[1] > 0.1
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_placeholders_leave_latex_braces_alone():
    assert fill("Q: {question} A: {answer}", r"\frac{1}{2}?", "s", "{1}") == r"Q: \frac{1}{2}? A: {1}"


class ScriptedJudge:
    def __init__(self, replies):
        self.replies, self.prompts = list(replies), []

    def generate(self, requests, decoding):
        self.prompts += [r.prompt for r in requests]
        return [Completion(self.replies.pop(0), 10, 5, True) for _ in requests]


def test_judged_fpr_counts_unparsable_replies_and_scores_the_judge_against_exact_steps():
    items = [{"question": f"q{i}", "solution": f"s{i}", "answer": "1", "steps_ok": ok}
             for i, ok in enumerate([True, True, False, False, True])]
    judge = ScriptedJudge(["VERDICT: CORRECT", "VERDICT: INCORRECT", "VERDICT: INCORRECT", "no idea",
                           "VERDICT: CORRECT"])
    result = judge_solutions(judge, "{question}|{solution}|{answer}", items, batch_size=2)
    assert judge.prompts[0] == "q0|s0|1"
    assert (result["sample_size"], result["judged"], result["unparsable"]) == (5, 4, 1)
    assert result["fpr"] == pytest.approx(2 / 4)
    assert result["fpr_ci95"][0] < 0.5 < result["fpr_ci95"][1]
    assert result["agreement_with_step_checker"] == pytest.approx(3 / 4)
    assert result["exact_fpr_on_judged"] == pytest.approx(1 / 4)
