"""How often a verdict replicates: from a pool of independent worlds, the share of default-sized sets of worlds
whose verdict is the pool's, and the smallest set size at which that share reaches a target.

    share = replication_share({0: -0.12, 1: -0.03, ...}, size=3, expected_sign=+1)   # 0.27: unresolved at 3 worlds
    worlds_needed(gains, expected_sign=+1, target=0.9)                              # 6

A set of worlds is drawn without replacement from the pool, as a new study would draw its own worlds, and judged
by the study's own verdict (intervals.interval_verdict on the Student-t interval of its worlds). Sets of one pool
overlap, so a small pool flatters large sets: issue 29 asks for a pool of at least 20 worlds.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Sequence

from computematch.measure.intervals import interval_verdict, world_interval
from computematch.measure.study import every_comparison
from computematch.measure.study_records import Replication, ReplicationSummary, StudySummary

TARGET_SHARE = 0.90  # a verdict that replicates in fewer sets than this is "unresolved" at that many worlds


def world_sets(worlds: Sequence, size: int, draws: int = 5000, seed: int = 0) -> list[tuple]:
    """Every set of `size` worlds of the pool when there are at most `draws` of them, else `draws` sets drawn
    uniformly (seeded, so a share is reproducible)."""
    worlds = sorted(worlds)
    if math.comb(len(worlds), size) <= draws:
        return list(itertools.combinations(worlds, size))
    rng = random.Random(seed)
    return [tuple(sorted(rng.sample(worlds, size))) for _ in range(draws)]


def verdict_of(values: Sequence[float], expected_sign: int) -> str:
    """The verdict's kind ('agrees', 'disagrees', 'tie'): one world's "tie (one world: no interval)" is a tie."""
    return interval_verdict(world_interval(list(values)), expected_sign).split(" (")[0]


def replication_share(by_world: dict, size: int, expected_sign: int, draws: int = 5000, seed: int = 0) -> float:
    """Share of `size`-world sets of the pool whose verdict is the whole pool's."""
    pool = verdict_of(by_world.values(), expected_sign)
    sets = world_sets(list(by_world), size, draws, seed)
    return sum(verdict_of([by_world[w] for w in chosen], expected_sign) == pool for chosen in sets) / len(sets)


def worlds_needed(by_world: dict, expected_sign: int, target: float = TARGET_SHARE, draws: int = 5000,
                  seed: int = 0) -> int | None:
    """The fewest worlds whose sets give the pool's verdict in at least `target` of draws; None when even sets
    one world smaller than the pool do not (the pool cannot tell)."""
    for size in range(2, len(by_world)):
        if replication_share(by_world, size, expected_sign, draws, seed) >= target:
            return size
    return None


def needed_text(needed: int | None, pool_size: int) -> str:
    """worlds_needed as the report prints it: None means sets one world smaller than the pool still fall short."""
    return str(needed) if needed else f"more than {pool_size - 1}"


# The data quantities whose WC − SE difference has a verdict (the paper: WC higher on each).
DATA_VERDICTS = ("coverage", "diversity", "fpr")


def verdict_rows(study: StudySummary) -> dict[str, tuple[dict, int, str]]:
    """Every verdict of a study: name -> (its differences by world, the paper's sign, the study's verdict)."""
    rows = {name: (row.gain.by_world or {}, row.expected_sign, row.verdict)
            for name, row in every_comparison(study.setups, study.controls).items() if row.gain is not None}
    for key in DATA_VERDICTS:
        difference = getattr(study.data, key).wc_minus_se
        if difference is not None and difference.low is not None:
            rows[key] = (difference.by_world or {}, +1, interval_verdict(difference, +1))
    return rows


def replication_summary(study: StudySummary, pool: StudySummary, pool_file: str, pool_sha256: str,
                        target: float = TARGET_SHARE) -> ReplicationSummary:
    """Each of the study's verdicts against the pool: the share of the study's-size sets of pool worlds that give the
    pool's verdict, the worlds that would need, and what the study reports: its own verdict, or "unresolved at N
    worlds (needs M)" when the pool's verdict excludes 0 but fewer than `target` of N-world sets find it, whatever
    this draw found (never a tie; a verdict this draw did reach is named beside: "...; this draw: disagrees")."""
    size, by_verdict, pool_rows = len(study.worlds), {}, verdict_rows(pool)
    for name, (_, sign, verdict) in verdict_rows(study).items():
        pool_row = pool_rows.get(name)
        if pool_row is None or len(pool_row[0]) <= size:
            continue
        pool_values, _, pool_verdict = pool_row
        share = replication_share(pool_values, size, sign)
        # a tie is what too few worlds find: only a verdict that excludes 0 has a number of worlds it needs
        needed = None if pool_verdict.startswith("tie") else worlds_needed(pool_values, sign, target)
        reported = verdict
        if not pool_verdict.startswith("tie") and share < target:  # this size cannot be trusted to find it
            this_draw = "" if verdict.startswith("tie") else f"; this draw: {verdict}"
            reported = (f"unresolved at {size} world{'s' * (size != 1)} "
                        f"(needs {needed_text(needed, len(pool_values))}{this_draw})")
        by_verdict[name] = Replication(pool_verdict=pool_verdict, share=share, worlds_needed=needed, reported=reported)
    return ReplicationSummary(pool=pool_file, pool_sha256=pool_sha256, pool_worlds=list(pool.worlds), worlds=size,
                              target_share=target, by_verdict=by_verdict)
