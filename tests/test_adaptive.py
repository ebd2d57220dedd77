"""The difficulty-aware WC arm: the uniform arm's FLOPs to within 2% at any budget (k rises when every problem is done
early), the uniform arm's samples reused (never redrawn), the same allocation at any batch size, the same bytes after
a kill, nested budgets, one-line errors."""

import json

import pytest

from computematch.adaptive import allocate, effective_cap
from computematch.config import Decoding
from computematch.errors import ConfigError
from computematch.sampling.driver import SampleStore, draw, sample_records


def _fetch_from(outcomes: dict[str, list[bool]], asked: list):
    def fetch(keys):
        asked.extend(keys)
        return [{"problem_id": pid, "sample_index": index, "right": outcomes[pid][index], "completion_tokens": 1}
                for pid, index in keys]
    return fetch


def _allocate(outcomes, k, cap, target, asked=None):
    return allocate(list(outcomes), _fetch_from(outcomes, [] if asked is None else asked),
                    lambda pid, record: record["right"], lambda record: record["completion_tokens"], k, cap, target)


OUTCOMES = {"easy": [True] * 40, "hard": [False] * 40, "late": [False] * 5 + [True] * 35}


def test_easy_problems_stop_at_k_and_their_budget_goes_to_the_unsolved_ones():
    allocation = _allocate(OUTCOMES, k=2, cap=40, target=12)  # the uniform arm: 4 samples × 3 problems
    assert allocation.samples == {"easy": 2, "hard": 5, "late": 5} and allocation.flops == 12
    assert allocation.stopped == {"easy": "k right", "hard": "budget", "late": "budget"}
    assert allocation.flops >= 0.98 * allocation.target


def test_a_larger_budget_extends_a_smaller_ones_allocation():
    small, large = _allocate(OUTCOMES, 2, 40, 12), _allocate(OUTCOMES, 2, 40, 20)
    assert all(small.samples[pid] <= large.samples[pid] for pid in OUTCOMES)
    for pid in OUTCOMES:
        kept = [r for r in large.records if r["problem_id"] == pid][: small.samples[pid]]
        assert kept == [r for r in small.records if r["problem_id"] == pid]


def test_budget_left_after_every_problem_has_k_right_raises_k_hardest_problems_first():
    outcomes = {"a": [True] * 40, "b": [False, True] * 20}  # k = 1: a done after 1 sample, b after 2
    allocation = _allocate(outcomes, k=1, cap=40, target=4)
    assert allocation.samples == {"a": 1, "b": 3}  # at k = 2 the harder b (more samples so far) goes first
    assert allocation.k_reached == 2 and allocation.matched and allocation.flops == 4
    assert allocation.stopped == {"a": "budget", "b": "budget"}
    small, large = _allocate(outcomes, 1, 40, 4), _allocate(outcomes, 1, 40, 9)  # nested across a raised k
    for pid in outcomes:
        assert [r for r in large.records if r["problem_id"] == pid][: small.samples[pid]] == \
            [r for r in small.records if r["problem_id"] == pid]


def test_at_a_cap_of_s_wc_the_uniform_budget_is_always_spent_and_a_lower_cap_is_recorded_not_raised():
    spent = _allocate(OUTCOMES, k=1, cap=effective_cap(3, 4), target=12)  # the uniform arm: 4 samples × 3 problems
    assert spent.matched and spent.flops == 12 and spent.samples == {"easy": 4, "hard": 4, "late": 4}
    short = _allocate(OUTCOMES, k=1, cap=3, target=12)  # every problem at the cap after 9 of 12
    assert not short.matched and short.flops == 9 and short.stopped["hard"] == "cap"
    assert effective_cap(32, 8) == 32 and effective_cap(6, 8) == 8
    with pytest.raises(ConfigError, match="adaptive.k: must be a positive integer, got 0"):
        from computematch.config import AdaptiveConfig

        AdaptiveConfig(k=0)


class Killed(Exception):
    pass


class Dying:
    """A real backend that dies after some generate calls (a kill mid-run)."""

    def __init__(self, backend, calls: int):
        self.backend, self.calls, self.name = backend, calls, backend.name

    def generate(self, requests, decoding):
        if self.calls == 0:
            raise Killed()
        self.calls -= 1
        return self.backend.generate(requests, decoding)


@pytest.fixture(scope="module")
def uniform(tiny_model_dir, tiny_task, tmp_path_factory):
    """The uniform WC arm's samples of a tiny model (S = 3) and its backend."""
    from computematch.sampling.hf import TransformersBackend

    backend = TransformersBackend(tiny_model_dir, device="cpu", stop=tiny_task.stop)
    problems = tiny_task.make_splits()["train"]
    prompts = {p.id: tiny_task.prompt(p) for p in problems}
    decoding = Decoding(temperature=1.0, max_new_tokens=24, seed=0)
    store = SampleStore(tmp_path_factory.mktemp("uniform") / "store.jsonl")
    records, _ = draw(backend, decoding, prompts, 3, store, batch_size=64)
    return backend, problems, prompts, decoding, sample_records(records, {p.id: p.difficulty for p in problems})


class HalfEasy:
    """A grader under which the first half of the problems is always right and the rest never: the tiny model's
    own answers are wrong, and the allocation needs problems that stop early to move budget."""

    def __init__(self, problems):
        self.easy = {p.id for p in problems[: len(problems) // 2]}

    def grade(self, problem, text):
        return type("Grade", (), {"correct": problem.id in self.easy})()


def _run(uniform, tiny_task, store_path, batch_size, backend=None):
    from computematch.stages.adaptive import adaptive_samples

    real, problems, prompts, decoding, samples = uniform
    return adaptive_samples(problems, HalfEasy(problems), prompts, samples, 10, k=1, cap=12, backend=backend or real,
                            decoding=decoding, store=SampleStore(store_path), batch_size=batch_size)


def test_the_arm_reuses_the_uniform_samples_matches_their_flops_and_is_the_same_at_any_batch_size(
        uniform, tiny_task, tmp_path):
    allocation, counts = _run(uniform, tiny_task, tmp_path / "a.jsonl", batch_size=64)
    again, _ = _run(uniform, tiny_task, tmp_path / "b.jsonl", batch_size=1)
    assert allocation.records == again.records and allocation.samples == again.samples
    assert abs(allocation.flops / allocation.target - 1) <= 0.02
    below = sum(min(n, 3) for n in allocation.samples.values())  # indices the uniform arm drew
    assert counts["reused"] >= below and counts["drawn"] == len(SampleStore(tmp_path / "a.jsonl").records)
    assert all(r["sample_index"] >= 3 for r in SampleStore(tmp_path / "a.jsonl").records.values())  # none twice
    assert any(n > 3 for n in allocation.samples.values())  # the unsolved took more than S_WC
    _, rerun = _run(uniform, tiny_task, tmp_path / "a.jsonl", batch_size=7)
    assert rerun["drawn"] == 0  # everything from the uniform file or the store


def test_a_killed_run_resumes_to_the_same_bytes(uniform, tiny_task, tmp_path):
    whole, _ = _run(uniform, tiny_task, tmp_path / "whole.jsonl", batch_size=4)
    with pytest.raises(Killed):
        _run(uniform, tiny_task, tmp_path / "killed.jsonl", batch_size=1, backend=Dying(uniform[0], calls=2))
    assert 0 < len(SampleStore(tmp_path / "killed.jsonl").records)
    resumed, counts = _run(uniform, tiny_task, tmp_path / "killed.jsonl", batch_size=4)
    assert counts["stored"] > 0
    assert json.dumps(resumed.records, sort_keys=True) == json.dumps(whole.records, sort_keys=True)


@pytest.fixture(scope="module")
def sweep(tiny_model_dir, tmp_path_factory):
    """48 problems of the tiny task (one sample is then under 2% of any budget from S_WC 5 on; below that the arm
    is the uniform arm itself), the tiny model's backend, and one store that every budget's samples share."""
    from computematch.config import TaskConfig
    from computematch.sampling.hf import TransformersBackend
    from computematch.tasks import get_task
    from conftest import TINY_TASK

    task = get_task(TaskConfig(**{**TINY_TASK.__dict__, "train_size": 48}))
    problems = task.make_splits()["train"]
    backend = TransformersBackend(tiny_model_dir, device="cpu", stop=task.stop)
    store = SampleStore(tmp_path_factory.mktemp("sweep") / "store.jsonl")
    return task, problems, {p.id: task.prompt(p) for p in problems}, backend, store


@pytest.mark.parametrize("grader", ["half-easy", "real"])
def test_every_budget_is_spent_to_within_two_percent(sweep, grader):
    """budget.ratio 1, 2, 3, 4, 6, 8, 12 at budget.se_samples 1, 3, 10 (S_WC 1 to 120), the default k = 4 and cap = 32:
    with half the problems always right (the failure this replaced: k right everywhere long before the budget) and
    with the tiny model's own grades (mostly wrong: the budget binds)."""
    from computematch.budget import compute_matched_samples
    from computematch.stages.adaptive import adaptive_samples

    task, problems, prompts, backend, store = sweep
    decoding = Decoding(temperature=1.0, max_new_tokens=24, seed=0)
    grading = HalfEasy(problems) if grader == "half-easy" else task
    outcomes = {}
    for se_samples in (1, 3, 10):
        for ratio in (1, 2, 3, 4, 6, 8, 12):
            uniform_samples = compute_matched_samples(se_samples, ratio)
            records, _ = draw(backend, decoding, prompts, uniform_samples, store, batch_size=512)
            uniform = sample_records(records, {p.id: p.difficulty for p in problems})
            allocation, _ = adaptive_samples(problems, grading, prompts, uniform, 10, k=4,
                                             cap=effective_cap(32, uniform_samples), backend=backend,
                                             decoding=decoding, store=store, batch_size=512)
            outcomes[(se_samples, ratio)] = (allocation.flops / allocation.target, allocation.k_reached)
            assert allocation.matched and allocation.flops <= allocation.target, (se_samples, ratio, outcomes)
    if grader == "half-easy":  # the easy half had 4 right long before S_WC 120: k rose
        assert outcomes[(10, 12)][1] > 4 and outcomes[(1, 1)][1] == 4
