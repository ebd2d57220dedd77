from computematch.config import TaskConfig
from computematch.tasks.arith import MAX_CHARS, ArithTask, Chain
from computematch.tasks.base import Problem


def _problem(question: str) -> Problem:
    chain = Chain.parse(question)
    return Problem("p", question, str(chain.values()[-1]), chain.solution(), len(chain.steps))


TASK = ArithTask(TaskConfig())
P = _problem("Q: 7+2*1-4=?")  # 7+2=9. 9*1=9. 9-4=5. #### 5


def test_gold_solution_is_correct_and_verified():
    grade = TASK.grade(P, P.solution)
    assert (grade.answer, grade.correct, grade.steps_ok, grade.false_positive) == ("5", True, True, False)


def test_commuted_operands_are_a_valid_step_style():
    grade = TASK.grade(P, "2+7=9. 1*9=9. 9-4=5. #### 5")
    assert grade.correct and grade.steps_ok


def test_commuted_subtraction_is_a_wrong_step():
    grade = TASK.grade(P, "7+2=9. 9*1=9. 4-9=5. #### 5")
    assert grade.correct and grade.steps_ok is False and grade.false_positive


def test_wrong_step_with_right_answer_is_a_false_positive():
    grade = TASK.grade(P, "7+2=8. 8*1=9. 9-4=5. #### 5")
    assert grade.correct and grade.false_positive


def test_wrong_operand_with_right_answer_is_a_false_positive():
    grade = TASK.grade(P, "7+2=9. 9*1=9. 9-3=5. #### 5")
    assert grade.correct and grade.false_positive


def test_missing_or_extra_step_is_a_false_positive():
    assert TASK.grade(P, "7+2=9. 9-4=5. #### 5").false_positive
    assert TASK.grade(P, "7+2=9. 9*1=9. 9-4=5. 5*1=5. #### 5").false_positive


def test_answer_that_contradicts_the_last_step_is_not_verified():
    grade = TASK.grade(_problem("Q: 2+3=?"), "2+3=5. #### 6")
    assert not grade.correct and grade.steps_ok is False


def test_wrong_answer_is_wrong():
    grade = TASK.grade(P, "7+2=9. 9*1=9. 9-4=4. #### 4")
    assert grade.answer == "4" and not grade.correct and not grade.false_positive


def test_no_answer_is_counted_as_no_answer():
    grade = TASK.grade(P, "7+2=9. 9*1=9. 9-4=5.")
    assert grade.answer is None and not grade.correct


def test_garbage_is_graded_without_error():
    for text in ["", "####", "#### x", "=.=.=.####", "\x00\n\t", "99999999999999999999999+1=0. #### 5"]:
        grade = TASK.grade(P, text)
        assert grade.steps_ok in (False, None)
    assert TASK.grade(P, "junk #### 5").false_positive  # right answer, no reasoning


def test_leading_zeros_in_the_answer_are_ignored():
    assert TASK.grade(P, "7+2=9. 9*1=9. 9-4=5. #### 05").correct


def test_very_long_input_is_bounded():
    long = "1+1=2. " * 100_000 + "#### 5"
    grade = TASK.grade(P, long)  # the answer lies past MAX_CHARS: not read
    assert len(long) > MAX_CHARS and grade.answer is None
    assert TASK.grade(P, P.solution + " ####" * 10_000).correct


def test_splits_are_disjoint_balanced_and_seeded():
    config = TaskConfig(train_size=60, val_size=30, test_size=60, corpus_size=500)
    splits = ArithTask(config).make_splits()
    questions = {name: {p.question for p in problems} for name, problems in splits.items()}
    assert not questions["train"] & questions["test"] and not questions["val"] & questions["test"]
    assert not questions["corpus"] & (questions["train"] | questions["val"] | questions["test"])
    assert {p.difficulty for p in splits["test"]} == set(config.levels)
    assert [p.difficulty for p in splits["test"]].count(2) == 10
    again = ArithTask(config).make_splits()
    assert [p.to_dict() for p in again["train"]] == [p.to_dict() for p in splits["train"]]
    other = ArithTask(TaskConfig(seed=1, train_size=60, val_size=30, test_size=60, corpus_size=500)).make_splits()
    assert [p.question for p in other["train"]] != [p.question for p in splits["train"]]


def test_every_generated_problem_stays_in_single_digits():
    for problem in ArithTask(TaskConfig(train_size=200, val_size=1, test_size=1, corpus_size=0)).make_splits()["train"]:
        chain = Chain.parse(problem.question)
        assert all(0 <= value <= 9 for value in chain.values())
        assert TASK.grade(problem, problem.solution).steps_ok
