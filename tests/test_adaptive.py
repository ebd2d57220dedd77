"""The difficulty-aware WC arm: the uniform arm's FLOPs to within 2%, the uniform arm's samples reused (never redrawn),
the same allocation at any batch size, the same bytes after a kill, nested budgets, one-line errors."""

import json

import pytest

from computematch.adaptive import allocate, check_cap
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


def test_a_budget_that_cannot_be_matched_and_a_cap_below_s_wc_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"adaptive: every problem stopped .* raise adaptive.k or adaptive.cap"):
        _allocate(OUTCOMES, k=1, cap=3, target=12)  # easy stops at 1, hard and late at 3: 7 of 12
    with pytest.raises(ConfigError, match="adaptive.cap: 6 is below the uniform WC arm's S_WC = 8"):
        check_cap(6, 8)
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
