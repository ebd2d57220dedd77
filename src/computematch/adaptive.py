"""The difficulty-aware WC arm: sample each problem until it has k right final answers (DART-Math's "uniform"
allocation: Tong et al., 2024, "DART-Math: Difficulty-Aware Rejection Tuning"), capped per problem, at the uniform WC
arm's measured FLOPs.

    allocation = allocate(problems, fetch, is_right, cost, k=4, cap=32, target=uniform_flops)

Samples come in rounds, one per problem still sampling (fewer than k right and fewer than `cap` samples), in problem
order; round r asks for sample index r of each, so the arm draws from the same per-sample streams as the uniform arm
and its first S_WC indices are the uniform arm's own samples, reused, never redrawn. A sample joins the arm while the
arm's generated-token FLOPs stay within the target; the first that would cross it ends the arm, so the arm spends
the target to within one sample.

When every problem has stopped (k right or the cap) and budget is left, which happens when WC solves its problems
fast or the budget is large, the arm raises k by one for every problem below the cap and goes on, hardest first
(most samples taken so far), until the budget is spent or every problem is at the cap. The cap is never below the
uniform arm's S_WC (`effective_cap`): at that cap the uniform allocation itself is reachable, so the arm always
spends the target. Everything here is a function of the samples' contents, and each sample a pure function of its
key (sampling/streams.py): the same seed gives the same allocation at any batch size, a resumed run the same bytes,
and a larger target an allocation that extends a smaller one's (nested budgets: the order in which samples are
asked for does not depend on the target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

MATCH_TOLERANCE = 0.02  # the arm spends at least 98% of the uniform arm's FLOPs


@dataclass(frozen=True)
class Allocation:
    """The adaptive arm's samples, why each problem stopped ('k right', 'cap' or 'budget') and the k it ended at
    (adaptive.k, or higher when the budget outlasted every problem's k right answers)."""

    records: list[dict]  # in problem order, then sample index
    samples: dict[str, int]
    right: dict[str, int]
    stopped: dict[str, str]
    flops: float
    target: float
    rounds: int
    k_reached: int

    @property
    def matched(self) -> bool:
        """Spent the target to within MATCH_TOLERANCE (never more than the target)."""
        return self.flops >= (1 - MATCH_TOLERANCE) * self.target


def allocate(problem_ids: Sequence[str], fetch: Callable[[list[tuple[str, int]]], list[dict]],
             is_right: Callable[[str, dict], bool], cost: Callable[[dict], float], k: int, cap: int,
             target: float) -> Allocation:
    """`fetch([(problem id, sample index), ...])` returns those samples (reused or drawn), `cost(sample)` its FLOPs.
    Never fails: a target it cannot reach (every problem at `cap`) ends with `matched` False, its FLOPs recorded."""
    samples, right = dict.fromkeys(problem_ids, 0), dict.fromkeys(problem_ids, 0)
    kept: dict[str, list[dict]] = {pid: [] for pid in problem_ids}
    spent, rounds, level, order, exhausted = 0.0, 0, k, list(problem_ids), False
    while not exhausted:
        active = [pid for pid in order if right[pid] < level and samples[pid] < cap]
        if not active:
            if all(samples[pid] >= cap for pid in problem_ids):
                break
            # budget left and every problem at k right or the cap: one more right answer each, hardest first
            level += 1
            order = sorted(problem_ids, key=lambda pid: -samples[pid])
            continue
        rounds += 1
        for pid, record in zip(active, fetch([(pid, samples[pid]) for pid in active])):
            if spent + cost(record) > target:
                exhausted = True
                break
            spent += cost(record)
            kept[pid].append(record)
            samples[pid] += 1
            right[pid] += bool(is_right(pid, record))
    stopped = {pid: "k right" if right[pid] >= level else "cap" if samples[pid] >= cap else "budget"
               for pid in problem_ids}
    return Allocation([record for pid in problem_ids for record in kept[pid]], samples, right, stopped, spent, target,
                      rounds, level)


def effective_cap(cap: int, uniform_samples: int) -> int:
    """The cap a problem's samples stop at: adaptive.cap, but never below the uniform arm's S_WC, so that a problem
    may always take what the uniform arm gives it (and the uniform arm's FLOPs are always within reach)."""
    return max(cap, uniform_samples)
