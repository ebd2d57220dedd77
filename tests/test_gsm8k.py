"""GSM8K from the shared files: grading (strict and flexible), annotations, prompts, skips."""

import json
from pathlib import Path

import pytest

from computematch.config import TaskConfig
from computematch.tasks.gsm8k import (
    GSM8KTask, check_annotations, evaluate_arithmetic, flexible_answer, normalize_number, strict_answer,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"
needs_shared = pytest.mark.skipif(not (SHARED / "test.jsonl").exists(), reason="../shared/data/gsm8k not present")


def _rows(name):
    return [json.loads(line) for line in (SHARED / name).read_text().splitlines()]


@needs_shared
def test_every_gold_solution_grades_correct():
    task = GSM8KTask(TaskConfig(name="gsm8k"))
    for index, row in enumerate(_rows("test.jsonl")):
        problem = task._problem(row, f"test-{index:05d}")
        grade = task.grade(problem, problem.solution)
        assert grade.correct and grade.flexible_correct, (index, problem.solution[-80:])


@needs_shared
def test_gold_annotations_check_out_in_almost_every_solution():
    rows = _rows("test.jsonl")
    checked = wrong = annotated = 0
    for row in rows:
        c, w = check_annotations(row["answer"])
        checked, wrong, annotated = checked + c, wrong + w, annotated + (c > 0)
    assert annotated / len(rows) > 0.95 and wrong / checked < 0.01


@needs_shared
def test_a_corrupted_final_answer_grades_wrong():
    task = GSM8KTask(TaskConfig(name="gsm8k"))
    problem = task._problem(_rows("test.jsonl")[0], "test-00000")  # ... #### 18
    assert not task.grade(problem, problem.solution.replace("#### 18", "#### 19")).correct


def test_strict_and_flexible_extraction_on_hand_cases():
    assert strict_answer("so 5+5=10\n#### 1,000") == "1000"
    assert strict_answer("The answer is 10.") is None
    assert flexible_answer("The answer is 10.") == "10"
    assert flexible_answer("She pays $1,234.50 in total.") == "1234.5"
    assert flexible_answer("#### 7\nQuestion: 12 apples") == "12"  # flexible reads the last number
    assert strict_answer("#### 7\nQuestion: 12 apples") == "7"
    assert normalize_number("3.0") == "3" and normalize_number("abc") is None


def test_flexible_credit_is_reported_beside_strict():
    task = GSM8KTask(TaskConfig(name="gsm8k", fewshot=0))
    problem = task._problem({"question": "q", "answer": "2+3=<<2+3=5>>5\n#### 5"}, "p")
    grade = task.grade(problem, "2+3=5, so the answer is 5")
    assert not grade.correct and grade.flexible_correct and grade.answer is None


def test_annotation_checker_catches_a_planted_slip():
    assert check_annotations("He has 48/2 = <<48/2=24>>24 clips and <<24+48=72>>72.") == (2, 0)
    assert check_annotations("He has 48/2 = <<48/2=23>>23 clips.") == (1, 1)
    assert check_annotations("no annotations here") == (0, 0)
    task = GSM8KTask(TaskConfig(name="gsm8k", fewshot=0))
    problem = task._problem({"question": "q", "answer": "<<48/2=24>>24\n#### 24"}, "p")
    lucky = task.grade(problem, "48/2 = <<48/2=25>>25, minus 1 is 24\n#### 24")
    assert lucky.correct and lucky.steps_ok is False and lucky.false_positive
    unannotated = task.grade(problem, "half of 48 is 24\n#### 24")
    assert unannotated.correct and unannotated.steps_ok is None


def test_arithmetic_is_parsed_never_evaluated():
    assert evaluate_arithmetic("(3+4)*2-10/4") == 11.5
    assert evaluate_arithmetic("20%*50") == 10 and evaluate_arithmetic("3x4") == 12
    for bad in ["__import__('os')", "2**10", "1+", "", "(1+2"]:
        with pytest.raises(ValueError):
            evaluate_arithmetic(bad)


@needs_shared
def test_local_files_make_seeded_splits_with_an_eight_shot_prompt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = TaskConfig(name="gsm8k", files={"train": str(SHARED / "train.jsonl"), "test": str(SHARED / "test.jsonl")},
                        train_size=20, val_size=5, test_size=10, corpus_size=30)
    task = GSM8KTask(config)
    splits = task.make_splits()
    assert [len(splits[s]) for s in ("train", "val", "test", "corpus")] == [20, 5, 10, 30]
    ids = {s: {p.id for p in splits[s]} for s in ("train", "val", "corpus")}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["corpus"]
    prompt = task.prompt(splits["test"][0])
    assert prompt.count("Question:") == 9 and prompt.endswith("Answer:")
    assert GSM8KTask(config).make_splits()["train"] == splits["train"]


def test_broken_rows_are_skipped_and_counted(tmp_path):
    lines = [{"question": "a", "answer": "1+1=2\n#### 2"}, {"question": "b"}, {"question": "c", "answer": "no answer"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines * 4))
    task = GSM8KTask(TaskConfig(name="gsm8k", files={"train": str(path), "test": str(path)}, train_size=2,
                                val_size=1, test_size=2, corpus_size=0, fewshot=0))
    splits = task.make_splits()
    assert len(splits["train"]) == 2
    assert task.loader.skipped["train"] == {"broken row (missing or malformed field)": 4, "unparsable gold answer": 4}
