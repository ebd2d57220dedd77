"""Intervals and verdicts: a proportion's Wilson interval, a mean over worlds with its Student-t interval, and the
verdict an interval gives on a WC − SE difference."""

from __future__ import annotations

import math
from statistics import mean
from typing import Sequence

from computematch.measure.study_records import Interval


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% confidence interval of a proportion (Wilson 1927); sound at small n and at 0 or n successes."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)
    return (max(0.0, low), min(1.0, high))  # clamp float round-off at 0 and n successes


# Two-sided 95% quantiles of Student's t distribution by degrees of freedom (any statistics table, e.g.
# NIST/SEMATECH e-Handbook of Statistical Methods, Table 1.3.6.7.2); the normal 1.96 beyond 30.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042}


def t_quantile_975(degrees: int) -> float:
    if degrees in T_975:
        return T_975[degrees]
    return next((T_975[d] for d in sorted(T_975) if d >= degrees), 1.96)  # conservative between table rows


# How the report says its intervals are made (render/markdown.py prints it under the verdicts).
INTERVAL_METHODS = ("95% Student-t intervals over worlds; a rate or accuracy (coverage, FPR, pass@1) on the logit "
                    "scale (delta method, back-transformed), so it stays inside [0, 100]%; differences and counts "
                    "on their own scale")


def world_interval(values: Sequence[float], by_world: dict[str, float] | None = None,
                   rate: bool = False) -> Interval:
    """Mean over worlds (independent draws of everything random) and its 95% t-interval (Student 1908):
    mean ± t(0.975, n-1) · s / √n. With one world there is no interval (low and high None). For paired WC − SE
    gains pass the per-world differences; a world's several finetuning seeds are averaged before they get here.

    `rate` (values in [0, 1]): the same interval made on the logit scale and mapped back, logit(m) ± t · s /
    (√n · m(1 − m)) (the delta method; the "logit" interval of Newcombe 1998, Stat. Med. 17:857), so that it
    never leaves [0, 1]; it is asymmetric near the edges, and a mean of exactly 0 or 1 (every world alike) has
    the zero-width interval it has on the plain scale."""
    n = len(values)
    centre = mean(values)
    if n < 2:
        return Interval(mean=centre, low=None, high=None, worlds=n, by_world=by_world)
    error = math.sqrt(sum((v - centre) ** 2 for v in values) / (n - 1)) / math.sqrt(n)
    spread = t_quantile_975(n - 1) * error
    if rate and 0 < centre < 1:
        logit = math.log(centre / (1 - centre))
        spread = spread / (centre * (1 - centre))
        low, high = (1 / (1 + math.exp(-(logit + sign * spread))) for sign in (-1, 1))
        return Interval(mean=centre, low=low, high=high, worlds=n, by_world=by_world)
    return Interval(mean=centre, low=centre - spread, high=centre + spread, worlds=n, by_world=by_world)


def over_worlds(by_world: dict[int, float | None], rate: bool = False) -> Interval | None:
    """A quantity's value in each world, its mean and 95% interval over the worlds that have one (`rate`: a
    share in [0, 1], whose interval stays inside it)."""
    known = {world: value for world, value in by_world.items() if value is not None}
    if not known:
        return None
    return world_interval(list(known.values()), {str(w): v for w, v in known.items()}, rate)


def interval_verdict(interval: Interval, expected_sign: int, better: str = "WC data better",
                     worse: str = "SE data better") -> str:
    """'agrees' / 'disagrees' with the paper only when the interval excludes 0 in its direction / the other; 'tie'
    otherwise (and with one world: no interval, no verdict). Without a claim (sign 0): which data won (`better`
    when the difference is positive, `worse` when negative), or 'tie'."""
    low, high = interval.low, interval.high
    if low is None:
        return "tie (one world: no interval)"
    if low <= 0 <= high:
        return "tie"
    sign = 1 if low > 0 else -1
    if expected_sign == 0:
        return better if sign > 0 else worse
    return "agrees" if sign == expected_sign else "disagrees"
