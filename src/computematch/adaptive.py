"""The difficulty-aware WC arm: sample each problem until it has k right final answers (DART-Math's "uniform"
allocation: Tong et al., 2024, "DART-Math: Difficulty-Aware Rejection Tuning"), capped per problem, at the uniform WC
arm's measured FLOPs.

    allocation = allocate(problems, fetch, is_right, cost, k=4, cap=32, target=uniform_flops)

Samples come in rounds, one per problem still sampling (fewer than k right and fewer than `cap` samples), in problem
order; round r asks for sample index r of each, so the arm draws from the same per-sample streams as the uniform arm
and its first S_WC indices are the uniform arm's own samples, reused, never redrawn. A sample joins the arm while the
arm's generated-token FLOPs stay within the target; the first that would cross it ends the arm, so the arm spends
the target to within one sample. Everything here is a function of the samples' contents, and each sample a pure
function of its key (sampling/streams.py): the same seed gives the same allocation at any batch size, a resumed run
the same bytes, and a larger target an allocation that extends a smaller one's (nested budgets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from computematch.errors import ConfigError

MATCH_TOLERANCE = 0.02  # the arm must spend at least 98% of the uniform arm's FLOPs


@dataclass(frozen=True)
class Allocation:
    """The adaptive arm's samples and why each problem stopped ('k right', 'cap' or 'budget')."""

    records: list[dict]  # in problem order, then sample index
    samples: dict[str, int]
    right: dict[str, int]
    stopped: dict[str, str]
    flops: float
    target: float
    rounds: int


def allocate(problem_ids: Sequence[str], fetch: Callable[[list[tuple[str, int]]], list[dict]],
             is_right: Callable[[str, dict], bool], cost: Callable[[dict], float], k: int, cap: int,
             target: float) -> Allocation:
    """`fetch([(problem id, sample index), ...])` returns those samples (reused or drawn), `cost(sample)` its FLOPs.
    Raises a one-line ConfigError when every problem stops (k right or cap) below 98% of `target`."""
    samples, right = dict.fromkeys(problem_ids, 0), dict.fromkeys(problem_ids, 0)
    kept: dict[str, list[dict]] = {pid: [] for pid in problem_ids}
    spent, rounds, exhausted = 0.0, 0, False
    while not exhausted:
        active = [pid for pid in problem_ids if right[pid] < k and samples[pid] < cap]
        if not active:
            break
        rounds += 1
        for pid, record in zip(active, fetch([(pid, samples[pid]) for pid in active])):
            if spent + cost(record) > target:
                exhausted = True
                break
            spent += cost(record)
            kept[pid].append(record)
            samples[pid] += 1
            right[pid] += bool(is_right(pid, record))
    if not exhausted and spent < (1 - MATCH_TOLERANCE) * target:
        raise ConfigError(f"adaptive: every problem stopped (k = {k} right or cap = {cap} samples) after "
                          f"{spent:.3e} FLOPs, below the uniform WC arm's {target:.3e} by more than "
                          f"{MATCH_TOLERANCE:.0%}: raise adaptive.k or adaptive.cap")
    stopped = {pid: "k right" if right[pid] >= k else "cap" if samples[pid] >= cap else "budget" for pid in problem_ids}
    return Allocation([record for pid in problem_ids for record in kept[pid]], samples, right, stopped, spent, target,
                      rounds)


def check_cap(cap: int, uniform_samples: int) -> None:
    """The cap must leave room for the uniform arm's own samples: below S_WC no problem could take what it takes."""
    if cap < uniform_samples:
        raise ConfigError(f"adaptive.cap: {cap} is below the uniform WC arm's S_WC = {uniform_samples} samples per "
                          "problem; give at least that")
