"""A gain against a covariate over worlds: the least-squares line, its 95% interval, the gain it predicts at a
given covariate and where it crosses zero.

    line = fit_line({0: 0.71, 1: 0.84, 2: 0.93}, {0: -0.12, 1: -0.04, 2: +0.01})   # x: WC / SE gap, y: gain
    line.at(0.875)            # (mean, low, high) of the gain at the paper's gap
    line.zero                 # the gap at which the line predicts no gain (None for a flat line)

The interval at x is the confidence interval of the line's mean there (any regression text, e.g. Montgomery,
Peck & Vining, Introduction to Linear Regression Analysis, eq. 2.43): ŷ ± t(0.975, n−2) · s · √(1/n + (x − x̄)² / Sxx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from computematch.measure.intervals import t_quantile_975


@dataclass(frozen=True)
class Line:
    slope: float
    intercept: float
    worlds: int
    residual_sd: float | None  # None with two worlds: no degrees of freedom left for the interval
    mean_x: float
    sxx: float
    slope_low: float | None
    slope_high: float | None

    def at(self, x: float) -> tuple[float, float | None, float | None]:
        centre = self.intercept + self.slope * x
        if self.residual_sd is None:
            return centre, None, None
        spread = t_quantile_975(self.worlds - 2) * self.residual_sd * math.sqrt(
            1 / self.worlds + (x - self.mean_x) ** 2 / self.sxx)
        return centre, centre - spread, centre + spread

    @property
    def zero(self) -> float | None:
        return None if self.slope == 0 else -self.intercept / self.slope


def fit_line(x_by_world: dict, y_by_world: dict) -> Line | None:
    """Ordinary least squares of y on x over the worlds that have both; None with fewer than two distinct x."""
    worlds = [w for w in x_by_world if w in y_by_world and None not in (x_by_world[w], y_by_world[w])]
    xs, ys = [x_by_world[w] for w in worlds], [y_by_world[w] for w in worlds]
    n = len(worlds)
    if n < 2:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    intercept = mean_y - slope * mean_x
    if n < 3:
        return Line(slope, intercept, n, None, mean_x, sxx, None, None)
    residual_sd = math.sqrt(sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys)) / (n - 2))
    spread = t_quantile_975(n - 2) * residual_sd / math.sqrt(sxx)
    return Line(slope, intercept, n, residual_sd, mean_x, sxx, slope - spread, slope + spread)
