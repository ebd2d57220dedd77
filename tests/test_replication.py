"""The replication share of a verdict over sets of worlds, and the gain-against-gap line (issue 29)."""

import math

import pytest

from computematch.measure.covariate import fit_line
from computematch.measure.replication import replication_share, world_sets, worlds_needed


def test_a_verdict_that_flips_in_a_known_share_of_sets():
    # six worlds: five alike and positive, one far below. The pool's interval straddles 0 (a tie); a pair of two
    # alike worlds has no spread and "agrees", a pair holding the outlier straddles 0: 5 of the 15 pairs tie
    gains = {0: 0.10, 1: 0.10, 2: 0.10, 3: 0.10, 4: 0.10, 5: -0.50}
    gains_without = {w: v for w, v in gains.items() if w != 5}
    assert replication_share(gains_without, 2, +1) == 1.0
    pool = {**gains, 5: 0.09}
    assert replication_share(pool, 2, +1) == 1.0
    assert replication_share(gains, 2, +1) == pytest.approx(5 / 15)
    assert len(world_sets(list(gains), 2)) == 15


def test_sets_are_all_combinations_when_few_and_seeded_draws_when_many():
    assert world_sets(range(5), 3) == [tuple(c) for c in __import__("itertools").combinations(range(5), 3)]
    drawn = world_sets(range(30), 10, draws=50, seed=1)
    assert len(drawn) == 50 and drawn == world_sets(range(30), 10, draws=50, seed=1)
    assert all(len(set(s)) == 10 for s in drawn)


def test_the_worlds_needed_grow_with_the_spread():
    # twelve worlds, gains 0.05 ± spread in three equal groups: the pool "agrees" in both cases
    tight = {w: 0.05 + 0.01 * ((w % 3) - 1) for w in range(12)}
    loose = {w: 0.05 + 0.06 * ((w % 3) - 1) for w in range(12)}
    assert worlds_needed(tight, +1) == 3 and replication_share(tight, 2, +1) < 0.9
    assert replication_share(loose, 3, +1) < 0.2 and worlds_needed(loose, +1) == 10
    # five worlds whose pool agrees, but whose sets of 2, 3 and 4 agree in 30%, 40% and 20%: the pool cannot tell
    assert worlds_needed({0: 0.10, 1: 0.12, 2: 0.0, 3: 0.09, 4: 0.11}, +1) is None


def test_the_line_through_known_points_and_its_interval():
    x = {0: 0.7, 1: 0.8, 2: 0.9, 3: 1.0}
    exact = fit_line(x, {w: 2 * v - 1.8 for w, v in x.items()})
    assert exact.slope == pytest.approx(2) and exact.zero == pytest.approx(0.9)
    assert exact.at(0.875)[1] == pytest.approx(exact.at(0.875)[0])  # no residual: no width
    noisy = fit_line(x, {0: -0.42, 1: -0.18, 2: 0.02, 3: 0.18})
    mean, low, high = noisy.at(0.85)
    # widest far from the mean of x, narrowest at it; the slope's interval holds the slope
    assert low < mean < high and (high - low) < (noisy.at(1.3)[2] - noisy.at(1.3)[1])
    assert noisy.slope_low < noisy.slope < noisy.slope_high
    residuals = [y - noisy.intercept - noisy.slope * x[w] for w, y in {0: -0.42, 1: -0.18, 2: 0.02, 3: 0.18}.items()]
    assert noisy.residual_sd == pytest.approx(math.sqrt(sum(r * r for r in residuals) / 2))
    assert fit_line({0: 0.8}, {0: 0.1}) is None and fit_line({0: 0.8, 1: 0.8}, {0: 0.1, 1: 0.2}) is None
