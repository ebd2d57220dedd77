"""Decontamination, dedup of SFT data, and the filter's checks on what it is given."""

import json

import pytest

from computematch.decontamination import decontaminate, ngrams
from computematch.errors import BadInputError
from computematch.stages.filter import filter_samples
from computematch.tasks import Problem, get_task
from conftest import TINY_TASK


def _problem(pid, question, answer="5", difficulty=2):
    return Problem(pid, question, answer, f"... #### {answer}", difficulty)


def test_word_ngrams_lowercase_and_short_texts_are_one_ngram():
    assert ngrams("A b C d", 2) == {"a b", "b c", "c d"}
    assert ngrams("Q: 7+2=?", 8) == {"q: 7+2=?"}
    assert ngrams("", 8) == set()


def test_arith_splits_are_disjoint_by_construction_and_the_check_reports_zero(tiny_task):
    splits, report = decontaminate(tiny_task.make_splits(), 8)
    assert report["dropped"] == {"train": 0, "val": 0, "corpus": 0}
    assert len(splits["train"]) == TINY_TASK.train_size


def test_a_planted_test_problem_in_train_is_dropped_and_counted(tiny_task):
    splits = tiny_task.make_splits()
    planted = Problem("train-planted", splits["test"][0].question, splits["test"][0].answer, "x", 2)
    splits["train"] = splits["train"] + [planted]
    clean, report = decontaminate(splits, 8)
    assert report["dropped"]["train"] == 1 and planted not in clean["train"]
    assert report["examples"][0]["id"] == "train-planted"
    assert clean["test"] == splits["test"]


def test_a_shared_eight_word_run_is_contamination_and_seven_is_not():
    test = [_problem("t", "Natalia sold clips to 48 of her friends in April and May")]
    train = [_problem("a", "Yesterday natalia sold clips to 48 of her friends at school"),  # 8 shared words
             _problem("b", "Tom sold clips to 48 of her friends at noon")]  # 7 shared words
    clean, report = decontaminate({"train": train, "val": [], "test": test}, 8)
    assert [p.id for p in clean["train"]] == ["b"] and report["dropped"]["train"] == 1


def test_decontamination_off_changes_nothing():
    splits = {"train": [_problem("a", "same")], "val": [], "test": [_problem("t", "same")]}
    clean, report = decontaminate(splits, 0)
    assert clean == splits and not report["enabled"]


# ---------------------------------------------------------------- filter: dedup and record checks


def _samples(problems, completions_per_problem):
    return [{"problem_id": p.id, "sample_index": i, "completion": text, "completion_tokens": len(text),
             "prompt_tokens": 5, "finished": True}
            for p, texts in zip(problems, completions_per_problem) for i, text in enumerate(texts)]


@pytest.fixture()
def two_problems(tiny_task):
    return tiny_task.make_splits()["train"][:2]


def _gold(problem):
    return problem.solution


def test_dedup_keeps_one_copy_of_each_solution_per_problem(tiny_task, two_problems):
    a, b = two_problems
    samples = _samples(two_problems, [[_gold(a), _gold(a) + "  ", "#### 99"], [_gold(b), "#### 99", _gold(b)]])
    datasets, report = filter_samples(tiny_task, two_problems, samples, 3, parameters=10, dedup=True)
    assert len(datasets[""]) == 2 and report.duplicates_dropped == 2 and report.correct_samples == 4
    datasets_all, report_all = filter_samples(tiny_task, two_problems, samples, 3, parameters=10, dedup=False)
    assert len(datasets_all[""]) == 4 and report_all.duplicates_dropped == 0
    assert report.diversity == report_all.diversity == 1.0  # dedup uses diversity's notion of unique


@pytest.mark.parametrize("corrupt, message", [
    (lambda s: s + s, "duplicate sample 0"),  # the file concatenated with itself
    (lambda s: [{**s[0], "sample_index": 5}] + s[1:], "beyond the budget"),
    (lambda s: [{}] + s[1:], "field 'problem_id'"),
    (lambda s: [[1, 2]] + s[1:], "must be a JSON object"),
    (lambda s: [{k: v for k, v in s[0].items() if k != "completion"}] + s[1:], "field 'completion'"),
    (lambda s: [], "no samples"),
    (lambda s: s[:-1], "incomplete"),
])
def test_malformed_sample_files_are_one_line_errors(tiny_task, two_problems, corrupt, message):
    samples = _samples(two_problems, [[_gold(p)] * 2 for p in two_problems])
    with pytest.raises(BadInputError, match=message) as error:
        filter_samples(tiny_task, two_problems, corrupt(samples), 2, parameters=10, dedup=True,
                       source="data/sample/wc.jsonl")
    assert "\n" not in str(error.value) and str(error.value).startswith("data/sample/wc.jsonl")


def test_filter_reports_the_grading_mode_it_used(tiny_task, two_problems):
    samples = _samples(two_problems, [[_gold(p)] for p in two_problems])
    _, report = filter_samples(tiny_task, two_problems, samples, 1, parameters=10, dedup=True)
    assert report.grading.mode == "strict" and report.grading.by_mode["strict"].coverage == 1.0
    assert report.step_checks is None  # arith's step checker is exact, not a count of annotations


def test_a_flexible_gsm8k_pool_keeps_what_strict_would_drop():
    """Solutions that end 'A: n' (as GPT-3's GSM8K solutions do): flexible keeps the right ones, strict none."""
    from test_gsm8k import answer_colon_pool

    from computematch.config import TaskConfig

    problems, samples = answer_colon_pool()
    per_problem = len(samples) // len(problems)
    reports = {}
    for mode in ("flexible", "strict"):
        task = get_task(TaskConfig(name="gsm8k", grading=mode, fewshot=0))
        datasets, reports[mode] = filter_samples(task, problems, samples, per_problem, parameters=10, dedup=False)
        assert reports[mode].kept == len(datasets[""])
    assert reports["flexible"].kept > 0 and reports["strict"].kept == 0
    assert reports["strict"].grading.by_mode == reports["flexible"].grading.by_mode  # both, side by side
    right = sum(json.dumps(s).count("A: ") > 0 and s["completion"].endswith(f"A: {p.answer}")
                for p in problems for s in samples if s["problem_id"] == p.id)
    assert reports["flexible"].kept == right


def test_control_variants_take_the_right_samples(tiny_task, two_problems):
    """verified: no false positive; matched: the first S_SE samples; low: the WC level matching SE's first sample."""
    a, b = two_problems
    lucky = "#### " + a.answer  # right answer, no steps: a false positive
    samples = _samples(two_problems, [[lucky, _gold(a), "#### 99", _gold(a) + " ", "#### 99", "#### 99"],
                                      ["#### 99", "#### 99", _gold(b), "#### 99", "#### 99", "#### 99"]])
    datasets, report = filter_samples(tiny_task, two_problems, samples, 6, parameters=10, dedup=False, arm="wc",
                                      se_samples=2)
    assert {r["completion"] for r in datasets["verified"]} == {_gold(a), _gold(a) + " ", _gold(b)}
    assert [r["sample_index"] for r in datasets["matched"]] == [0, 1]  # first 2 of 6: a's two right ones
    assert report.variants["matched"].samples_per_problem == 2
    assert report.variants["low"].samples_per_problem == 3  # 1 SE sample costs 6 / 2 = 3 WC samples
    assert [r["sample_index"] for r in datasets["low"]] == [0, 1, 2]  # and b's right one at index 2
    assert report.variants["verified"].fpr == 0.0 and report.fpr > 0


def test_the_guessing_baseline_is_the_share_a_most_common_answer_guesser_solves():
    from computematch.measure.quality import guessing_baseline, guessing_hits, most_common_answers

    corpus = [_problem(f"c{i}", "q", answer, difficulty) for i, (answer, difficulty) in
              enumerate([("7", 2), ("7", 2), ("3", 2), ("12", 3), ("40", 3), ("40", 3)])]
    assert most_common_answers(corpus) == {2: "7", 3: "40"}
    train = [_problem("a", "q", "7", 2), _problem("b", "q", "1", 2), _problem("c", "q", "5", 3), _problem("d", "q", "2", 3)]
    assert guessing_hits(train, most_common_answers(corpus)) == (0.25, {"2": 0.5, "3": 0.0})
    baseline = guessing_baseline(train, corpus)  # the guesser's hit rate on the corpus it learned from, beside
    assert (baseline.coverage, baseline.by_difficulty) == (0.25, {"2": 0.5, "3": 0.0})
    assert (baseline.reference.split, baseline.reference.problems, baseline.reference.coverage) == ("corpus", 6, 4 / 6)
    assert baseline.reference.by_difficulty == {"2": 2 / 3, "3": 2 / 3}
    in_sample = guessing_baseline(train, None)
    assert in_sample.reference is None and in_sample.coverage == guessing_hits(train, most_common_answers(train))[0]
