"""MATH (Hendrycks et al., 2021): last-\\boxed extraction, math-verify equivalence, skips, prompts, bounded grading."""

import json
import os
import subprocess
import sys
import threading
import time
from importlib.metadata import version

import pytest

from computematch.config import TaskConfig
from computematch.tasks import get_task
from computematch.tasks import math_worker
from computematch.tasks.base import Problem
from computematch.tasks.math import MathTask, difficulty, last_boxed
from computematch.tasks.math_worker import bounded_call, equivalent

TASK = MathTask(TaskConfig(name="math", fewshot=0))
# These tests check equivalence, not the time bound (its own test below sets 0.5 s): on a loaded 2-core machine a
# first call, which starts the worker and its sympy, outran the 5 s default and graded an equivalent answer wrong.
TASK.timeout_s = 60.0


def _problem(gold: str) -> Problem:
    return Problem("p", "q", gold, f"So the answer is $\\boxed{{{gold}}}$.", 1)


def _grade(gold: str, pred: str):
    return TASK.grade(_problem(gold), f"Working...\nThe final answer is $\\boxed{{{pred}}}$.")


def _slow_equivalent(gold: str, pred: str) -> bool:  # module level: the spawned worker imports it by name
    time.sleep(30)
    return True


# ---------------------------------------------------------------- extraction


def test_boxed_content_keeps_nested_braces():
    assert last_boxed(r"so $\boxed{\frac{1}{2}}$.") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{\frac{\sqrt{3}}{2}} and more") == r"\frac{\sqrt{3}}{2}"
    assert last_boxed(r"\boxed{\{1,2\}}") == r"\{1,2\}"  # escaped set braces do not close the box


def test_the_last_box_wins_whether_boxed_or_fbox():
    assert last_boxed(r"first \boxed{3}, then \boxed{4}") == "4"
    assert last_boxed(r"\boxed{3} and finally \fbox{5}") == "5"
    assert last_boxed(r"\fbox{5} and finally \boxed{ 6 }") == "6"


def test_missing_empty_or_unclosed_box_gives_no_answer():
    assert last_boxed("The answer is 5.") is None
    assert last_boxed(r"\boxed{}") is None
    assert last_boxed(r"\boxed{3} then cut off \boxed{\frac{1}{2") is None  # not the earlier box


def test_braceless_boxed_reads_one_token_as_the_paper_does():
    assert last_boxed(r"$\boxed 5$.") == "5"
    assert last_boxed(r"\boxed {7}") == "7"


def test_gold_comes_from_the_answer_field_when_present_else_the_last_box():
    solution = r"Thus $x=\boxed{8}$."
    with_answer = MathTask._problem({"problem": "q", "solution": solution, "answer": "7", "level": "Level 3"}, "a")
    without = MathTask._problem({"problem": "q", "solution": solution, "level": "Level 5"}, "b")
    empty = MathTask._problem({"problem": "q", "solution": solution, "answer": ""}, "c")
    assert (with_answer.answer, with_answer.difficulty) == ("7", 3)
    assert (without.answer, without.difficulty) == ("8", 5)
    assert (empty.answer, empty.difficulty) == ("8", 0)
    assert MathTask._problem({"problem": "q", "solution": "no box here"}, "d") is None


def test_level_parses_to_an_integer_or_zero():
    assert [difficulty(x) for x in ("Level 1", "Level 5", "Level ?", None, "", 4)] == [1, 5, 0, 0, 0, 4]


# ---------------------------------------------------------------- equivalence (math-verify)


@pytest.mark.parametrize("gold, pred", [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", "1/2"),
    (r"\frac{1}{2}", r"\dfrac{1}{2}"),
    (r"\dfrac{1}{2}", r"\frac12"),
    ("(1, 2]", "(1,2]"),
    (r"1 \pm \sqrt{2}", r"1-\sqrt{2}, 1+\sqrt{2}"),
    (r"1 \pm \sqrt{2}", r"1\pm\sqrt2"),
    (r"10 \text{ cm}", "10"),
    ("10", r"10\text{ cm}"),
    (r"\text{Tuesday}", "Tuesday"),
    (r"\text{Tuesday}", r"\text{tuesday}"),
    (r"2\sqrt{3}", r"\sqrt{12}"),
    (r"x^2+2x+1", r"(x+1)^2"),
    ("3, 2", "2, 3"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
])
def test_equivalent_answers_grade_correct(gold, pred):
    grade = _grade(gold, pred)
    assert grade.correct and grade.answer == pred and grade.steps_ok is None and grade.false_positive is None


@pytest.mark.parametrize("gold, pred", [
    ("5", "6"),
    (r"\frac{1}{2}", "0.51"),
    ("(1, 2]", "[1,2]"),
    ("(1, 2]", "(1,2)"),
    (r"1 \pm \sqrt{2}", r"1+\sqrt{2}"),  # one root of two
    (r"10 \text{ cm}", "11"),
    (r"\text{Tuesday}", r"\text{Monday}"),
    (r"\text{Tuesday}", "Monday"),
])
def test_wrong_answers_grade_wrong(gold, pred):
    grade = _grade(gold, pred)
    assert not grade.correct and grade.answer == pred


def test_verify_is_asymmetric_so_the_gold_goes_first():
    # math-verify: a gold inequality accepts the interval it describes, a gold interval rejects the inequality.
    assert _grade("x<3", r"(-\infty,3)").correct and not _grade(r"(-\infty,3)", "x<3").correct


def test_math_verify_rounds_decimals_to_six_places():
    # Surprising but documented (verify's float_rounding=6): 0.5000001 counts as 1/2, 0.500001 does not.
    assert equivalent(r"\frac{1}{2}", "0.5000001") and not equivalent(r"\frac{1}{2}", "0.500001")


def test_a_completion_without_a_box_is_not_correct_and_states_no_answer():
    grade = TASK.grade(_problem("5"), "The answer is 5.")
    assert (grade.answer, grade.correct, grade.steps_ok) == (None, False, None)


def test_a_gold_solution_grades_correct_on_itself():
    problem = MathTask._problem({"problem": "q", "solution": r"$\frac{2}{4} = \boxed{\frac{1}{2}}$"}, "p")
    assert TASK.grade(problem, problem.solution).correct


def test_identical_text_is_correct_without_asking_the_worker(monkeypatch):
    def no_worker(*args, **kwargs):
        raise AssertionError("identical answers must not reach math-verify")

    monkeypatch.setattr(math_worker, "bounded_call", no_worker)
    assert _grade(r"\frac{1}{2}", r"\frac{1}{2}").correct and _grade("1,  2", "1, 2").correct


def test_an_answer_with_a_lone_surrogate_grades_wrong_without_asking_the_worker(monkeypatch):
    assert equivalent("5", "5\udcff")  # math-verify drops the surrogate and compares what is left

    def no_worker(*args, **kwargs):
        raise AssertionError("text that is not UTF-8 must not reach math-verify")

    monkeypatch.setattr(math_worker, "bounded_call", no_worker)
    grade = _grade("5", "5\udcff")
    assert grade.answer == "5\udcff" and not grade.correct and grade.by_mode == {"boxed": False}


def test_a_gold_math_verify_parses_to_nothing_still_matches_identical_text():
    # math-verify falls back to the raw string for most unparsable LaTeX (so '???' equals '???'), but a lone
    # '$' breaks the $...$ wrapping and parses to nothing, which verify calls unequal to everything.
    assert equivalent("???", "???") and not equivalent("$", "$")
    assert _grade("$", "$").correct and not _grade("$", "5").correct


# ---------------------------------------------------------------- loading, prompts, registry


def test_rows_without_a_gold_answer_are_skipped_and_counted(tmp_path):
    good = [{"problem": f"p{i}", "solution": f"so $\\boxed{{{i}}}$", "level": "Level 2", "type": "Algebra"}
            for i in range(6)]
    unboxed = [{"problem": "u", "solution": "the answer is 3", "level": "Level 1"}] * 3
    broken = [{"problem": "no solution field", "level": "Level 1"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in good + unboxed + broken))
    task = MathTask(TaskConfig(name="math", files={"train": str(path), "test": str(path)}, train_size=2,
                               val_size=1, test_size=2, corpus_size=0))
    splits = task.make_splits()
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 2]
    for split in ("train", "test"):
        skipped = task.loader.skipped[split]
        assert skipped["unparsable gold answer"] == 3 and sum(skipped.values()) == 4  # + the broken row
    assert all(p.difficulty == 2 and p.solution.endswith("$") for s in splits.values() for p in s)


def test_fewshot_prompt_shows_four_exemplars_then_the_problem():
    task = MathTask(TaskConfig(name="math"))
    task.exemplars = [Problem(f"e{i}", f"Q{i}", str(i), f"S{i} $\\boxed{{{i}}}$", 1) for i in range(6)]
    prompt = task.prompt(_problem("9"))
    assert task.fewshot == 4 and prompt.count("Problem:\n") == 5
    assert prompt.startswith("Problem:\nQ0\n\nSolution:\nS0 $\\boxed{0}$\n\nProblem:\nQ1")
    assert prompt.endswith("Problem:\nq\n\nSolution:\n") and "Q4" not in prompt
    assert all(stop in task.stop for stop in ("\n\nProblem:", "Problem:"))


def test_fewshot_config_and_chat_style_change_the_prompt():
    assert MathTask(TaskConfig(name="math", fewshot=0)).prompt(_problem("9")) == "Problem:\nq\n\nSolution:\n"
    chat = MathTask(TaskConfig(name="math", prompt_style="chat")).prompt(_problem("9"))
    assert chat.startswith("q\n") and "\\boxed{}" in chat and "Problem:" not in chat


def test_registry_builds_the_task_and_versions_the_grader():
    assert isinstance(get_task(TaskConfig(name="math")), MathTask)
    assert version("math-verify") in MathTask.grader_version


# ---------------------------------------------------------------- bounded grading


def test_grading_works_outside_the_main_thread():
    results = []
    thread = threading.Thread(target=lambda: results.append(_grade(r"\frac{1}{2}", "0.5")))
    thread.start()
    thread.join(timeout=60)
    assert len(results) == 1 and results[0].correct


def test_grading_from_several_threads_at_once_gives_every_verdict():
    cases = [(r"\frac{1}{2}", "0.5", True), ("(1, 2]", "(1,2]", True), ("5", "6", False), ("10", r"10\text{ cm}", True)]
    results = {}

    def grade_all(worker):
        results[worker] = [_grade(gold, pred).correct for gold, pred, _ in cases]

    threads = [threading.Thread(target=grade_all, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {worker: [expected for *_, expected in cases] for worker in range(4)}


def test_bounded_call_kills_a_slow_call_and_the_next_call_gets_a_fresh_worker():
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        bounded_call(time.sleep, 30, timeout=0.5)
    assert time.monotonic() - start < 10 and math_worker._pool is None
    assert bounded_call(equivalent, r"\frac{1}{2}", "0.5", timeout=5.0) is True


def test_a_grader_timeout_grades_wrong_and_is_counted(monkeypatch):
    task = MathTask(TaskConfig(name="math", fewshot=0))
    task.timeout_s = 0.5
    monkeypatch.setattr(math_worker, "equivalent", _slow_equivalent)
    grade = task.grade(_problem(r"\frac{1}{2}"), r"$\boxed{0.5}$")
    assert (grade.answer, grade.correct, task.grader_timeouts) == ("0.5", False, 1)
    monkeypatch.undo()
    assert task.grade(_problem(r"\frac{1}{2}"), r"$\boxed{0.5}$").correct and task.grader_timeouts == 1


def test_the_worker_exits_when_the_process_that_started_it_dies_abruptly():
    # os._exit skips the executor's clean shutdown, as SIGTERM or SIGKILL would.
    script = "import os; from computematch.tasks.math_worker import bounded_call; print(bounded_call(os.getpid, timeout=5.0)); os._exit(0)"
    worker = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout)
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    """Running, not merely unreaped: an orphan's zombie lingers until whoever is PID 1 reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = f"/proc/{pid}/stat"
    return not os.path.exists(stat) or open(stat).read().rsplit(")", 1)[1].split()[0] != "Z"
