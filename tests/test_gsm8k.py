"""GSM8K: grading (flexible and strict), calculator annotations, prompts, skips; on the fixture in
tests/fixtures/gsm8k, and on the full files too where COMPUTEMATCH_GSM8K_DIR names a folder holding them."""

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from computematch.errors import ConfigError

from computematch.config import TaskConfig
from computematch.tasks.base import StepChecks
from computematch.tasks.gsm8k import (
    GSM8KTask, check_annotations, evaluate_arithmetic, flexible_answer, normalize_number, strict_answer,
)

FIXTURE = Path(__file__).parent / "fixtures" / "gsm8k"
FULL = os.environ.get("COMPUTEMATCH_GSM8K_DIR")
DATA_DIRS = [
    pytest.param(FIXTURE, id="fixture"),
    pytest.param(Path(FULL or "."), id="full", marks=pytest.mark.skipif(
        not FULL, reason="set COMPUTEMATCH_GSM8K_DIR to a folder with GSM8K's train.jsonl and test.jsonl")),
]
TASK = GSM8KTask(TaskConfig(name="gsm8k", fewshot=0))


def _rows(directory: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (directory / name).read_text().splitlines() if line.strip()]


def _problem(answer: str):
    return TASK._problem({"question": "q", "answer": answer}, "p")


def answer_colon_pool() -> tuple[list, list[dict]]:
    """(problems, sample records) for the fixture's test problems, written as instruct models end solutions:
    each problem's gold working with its '#### n' line replaced by 'A: n' (sample 0, right) or by 'A: n+1'
    (sample 1, wrong). Flexible grading keeps the right ones; strict, which needs '#### n', keeps none."""
    problems = [TASK._problem(row, f"test-{i:05d}") for i, row in enumerate(_rows(FIXTURE, "test.jsonl"))]
    samples = []
    for problem in problems:
        working = problem.solution.split("####")[0].rstrip()
        for index, stated in enumerate((problem.answer, str(int(problem.answer) + 1))):
            completion = f"{working}\nA: {stated}"
            samples.append({"problem_id": problem.id, "sample_index": index, "completion": completion,
                            "completion_tokens": len(completion), "prompt_tokens": 5, "finished": True})
    return problems, samples


# ---------------------------------------------------------------- gold solutions, fixture and full files


@pytest.mark.parametrize("directory", DATA_DIRS)
def test_every_gold_solution_grades_correct_in_both_modes(directory):
    for name in ("train.jsonl", "test.jsonl"):
        for index, row in enumerate(_rows(directory, name)):
            problem = TASK._problem(row, f"{index:05d}")
            grade = TASK.grade(problem, problem.solution)
            assert grade.correct and grade.by_mode == {"flexible": True, "strict": True}, (name, index)


@pytest.mark.parametrize("directory", DATA_DIRS)
def test_gold_annotations_almost_all_parse_and_check_out(directory):
    totals = [check_annotations(row["answer"]) for name in ("train.jsonl", "test.jsonl")
              for row in _rows(directory, name)]
    found = sum(c.checked + c.unparsable for c in totals)
    assert found > 0
    assert sum(c.unparsable for c in totals) / found < 0.005
    assert sum(c.wrong for c in totals) / found < 0.01
    assert sum(c.checked > 0 for c in totals) / len(totals) > 0.95  # nearly every gold solution is checkable


def test_a_corrupted_final_answer_grades_wrong():
    problem = TASK._problem(_rows(FIXTURE, "test.jsonl")[0], "test-00000")  # ... #### 18
    grade = TASK.grade(problem, problem.solution.replace("#### 18", "#### 19"))
    assert not grade.correct and grade.by_mode == {"flexible": False, "strict": False}


def test_solutions_ending_a_colon_n_pass_flexible_grading_and_fail_strict():
    problems, samples = answer_colon_pool()
    strict = GSM8KTask(TaskConfig(name="gsm8k", fewshot=0, grading="strict"))
    by_id = {problem.id: problem for problem in problems}
    assert len(problems) == 32 and len(samples) == 64
    for sample in samples:
        problem, completion, right = by_id[sample["problem_id"]], sample["completion"], sample["sample_index"] == 0
        assert "####" not in completion and completion.endswith(f"A: {problem.answer}") == right
        assert TASK.grade(problem, completion).correct == right
        assert not strict.grade(problem, completion).correct


# ---------------------------------------------------------------- answer extraction and grading modes


@pytest.mark.parametrize("completion, number", [
    ("She pays 1,234 in total", "1234"),
    ("The change is -5", "-5"),
    ("It costs 3.50", "3.5"),
    ("5+13=18\nA: 18", "18"),
    ("The answer is 18.", "18"),
    ("So 3/4 of the cake is left", "0.75"),
    ("She has 18 apples", "18"),
    ("She pays $18", "18"),
    ("She pays 18 dollars", "18"),
    ("The discount is 20%", "20"),
    ("It takes 3.5 hours.", "3.5"),
    ("18. That is all we need...", "18"),
    ("The answer is 18.0", "18"),
])
def test_flexible_extraction_reads_the_last_number_as_written(completion, number):
    assert flexible_answer(completion) == number


def test_flexible_extraction_keeps_lm_eval_reading_elsewhere():
    assert flexible_answer("#### 7\nQuestion: 12 apples") == "12"  # the last number, wherever it is
    assert flexible_answer("no number here...") is None
    assert flexible_answer("She has 1/3 left") == "1/3"  # no finite decimal: kept as a fraction


def test_strict_extraction_reads_only_the_first_four_hashes():
    assert strict_answer("so 5+5=10\n#### 1,000") == "1000"
    assert strict_answer("#### 7\n#### 8") == "7"
    assert strict_answer("The answer is 10.") is None and strict_answer("A: 10") is None
    assert normalize_number("3.0") == "3" and normalize_number("abc") is None and normalize_number("1e5") is None


def test_numbers_compare_by_exact_value():
    assert TASK.grade(_problem("x\n#### 18"), "The answer is 18.0").correct
    assert TASK.grade(_problem("x\n#### 18"), "#### 18.00").by_mode["strict"]
    assert not TASK.grade(_problem("x\n#### 18"), "The answer is 18.001").correct
    assert TASK.grade(_problem("x\n#### 0.75"), "3/4 of them").correct


def test_grade_reports_both_modes_and_the_selected_one_decides():
    problem = _problem("2+3=<<2+3=5>>5\n#### 5")
    flexible = TASK.grade(problem, "2+3=5, so the answer is 5")
    assert (flexible.answer, flexible.correct, flexible.by_mode) == ("5", True, {"flexible": True, "strict": False})
    strict_task = GSM8KTask(TaskConfig(name="gsm8k", fewshot=0, grading="strict"))
    strict = strict_task.grade(problem, "2+3=5, so the answer is 5")
    assert (strict.answer, strict.correct, strict.by_mode) == (None, False, {"flexible": True, "strict": False})


def test_flexible_is_the_default_and_an_unknown_mode_is_a_config_error():
    assert TASK.grading == "flexible" and TASK.grading_modes == ("flexible", "strict")
    with pytest.raises(ConfigError, match="task.grading"):
        GSM8KTask(TaskConfig(name="gsm8k", grading="boxed"))


# ---------------------------------------------------------------- calculator annotations


def test_annotation_checker_catches_a_planted_slip():
    assert check_annotations("He has 48/2 = <<48/2=24>>24 clips and <<24+48=72>>72.") == StepChecks(2, 0, 0)
    assert check_annotations("He has 48/2 = <<48/2=23>>23 clips.") == StepChecks(1, 0, 1)
    assert check_annotations("no annotations here") == StepChecks(0, 0, 0)
    problem = _problem("<<48/2=24>>24\n#### 24")
    lucky = TASK.grade(problem, "48/2 = <<48/2=25>>25, minus 1 is 24\n#### 24")
    assert lucky.correct and lucky.steps_ok is False and lucky.false_positive and lucky.checks.wrong == 1
    unannotated = TASK.grade(problem, "half of 48 is 24\n#### 24")
    assert unannotated.correct and unannotated.steps_ok is None and unannotated.checks == StepChecks(0, 0, 0)


def test_leading_dot_decimals_are_checked_right_and_wrong():
    assert check_annotations("<<1600*.01=16>>") == StepChecks(checked=1, unparsable=0, wrong=0)
    assert check_annotations("<<1600*.01=17>>") == StepChecks(checked=1, unparsable=0, wrong=1)


@pytest.mark.parametrize("annotation", [
    "<<1600*.01=16>>", "<<3-.20=2.8>>", "<<-.25*4=-1>>", "<<+30+46=76>>", "<<1,000*3=3,000>>", "<<50%*20=10>>",
    "<<$5*3=$15>>", "<<18*.5=9.00>>", "<<3/4=3/4>>", "<<4 x 5 = 20>>", "<<(2+3)*(4-1)=15>>",
])
def test_every_annotation_form_gsm8k_writes_is_checked(annotation):
    assert check_annotations(annotation) == StepChecks(checked=1, unparsable=0, wrong=0)


def test_unparsable_annotations_are_counted_not_skipped():
    text = "<<560//10=56>> <<a+b=c>> <<no equals sign>> <<2+2=4>>"
    assert check_annotations(text) == StepChecks(checked=1, unparsable=3, wrong=0)
    grade = TASK.grade(_problem("<<2+2=4>>\n#### 4"), "<<x=4>> so 4\n#### 4")
    assert grade.steps_ok is None and grade.checks == StepChecks(checked=0, unparsable=1, wrong=0)


def test_rounded_results_are_right_but_a_rounded_whole_number_is_wrong():
    assert check_annotations("<<10/3=3.33>> <<2/3=.67>>") == StepChecks(checked=2, unparsable=0, wrong=0)
    assert check_annotations("<<10/3=3.34>> <<7/2=3>>") == StepChecks(checked=2, unparsable=0, wrong=2)


def test_arithmetic_is_parsed_never_evaluated():
    assert evaluate_arithmetic("(3+4)*2-10/4") == Fraction(23, 2)
    assert evaluate_arithmetic("20%*50") == 10 and evaluate_arithmetic("3x4") == 12
    assert evaluate_arithmetic("-.25") == Fraction(-1, 4) and evaluate_arithmetic("$1,000.50") == Fraction(2001, 2)
    for bad in ["__import__('os')", "2**10", "1+", "", "(1+2", "1/0", "1e5", "1_000", "2(3)"]:
        with pytest.raises(ValueError):
            evaluate_arithmetic(bad)


@pytest.mark.parametrize("expression", [
    "(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1", "(" * 100 + "1" + ")" * 100, "1+" * 5000 + "1",
])
def test_deep_or_long_expressions_raise_value_error_not_recursion_error(expression):
    with pytest.raises(ValueError):
        evaluate_arithmetic(expression)
    assert check_annotations(f"<<{expression}=1>>") == StepChecks(checked=0, unparsable=1, wrong=0)


# ---------------------------------------------------------------- loading and prompts


def test_local_files_make_seeded_splits_with_an_eight_shot_prompt(tmp_path, monkeypatch):
    files = {"train": str(FIXTURE / "train.jsonl"), "test": str(FIXTURE / "test.jsonl")}
    monkeypatch.chdir(tmp_path)
    config = TaskConfig(name="gsm8k", files=files, train_size=20, val_size=5, test_size=10, corpus_size=20)
    task = GSM8KTask(config)
    splits = task.make_splits()
    assert [len(splits[s]) for s in ("train", "val", "test", "corpus")] == [20, 5, 10, 20]
    ids = {s: {p.id for p in splits[s]} for s in ("train", "val", "corpus")}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["corpus"]
    assert GSM8KTask(config).make_splits()["train"] == splits["train"]
    assert task.skipped == {"train": {}, "test": {}}
    with pytest.raises(RuntimeError, match="8-shot prompts need exemplars"):
        task.prompt(splits["test"][0])  # never a prompt that silently lacks its shots
    from computematch.splits import load_task, write_split

    for split, problems in splits.items():
        write_split(split, problems)
    prompt = load_task(config).prompt(splits["test"][0])  # the exemplars: the first prepared corpus problems
    assert prompt.count("Question:") == 9 and prompt.endswith("Answer:")
    assert prompt.startswith(f"Question: {splits['corpus'][0].question}")


def test_broken_rows_are_skipped_and_counted(tmp_path):
    lines = [{"question": "a", "answer": "1+1=2\n#### 2"}, {"question": "b"}, {"question": "c", "answer": "no answer"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines * 4))
    task = GSM8KTask(TaskConfig(name="gsm8k", files={"train": str(path), "test": str(path)}, train_size=2,
                                val_size=1, test_size=2, corpus_size=0, fewshot=0))
    splits = task.make_splits()
    assert len(splits["train"]) == 2
    assert task.loader.skipped["train"] == {"broken row (missing or malformed field)": 4, "unparsable gold answer": 4}
