"""The replication share of a verdict over sets of worlds, and the gain-against-gap line (issue 29)."""

import itertools
import math
from dataclasses import replace

import pytest
from test_report import METRICS, STUDY_CONFIG, inputs

from computematch.errors import BadInputError
from computematch.measure.covariate import fit_line
from computematch.measure.intervals import over_worlds
from computematch.measure.replication import replication_share, replication_summary, world_sets, worlds_needed
from computematch.measure.study import study_summary
from computematch.render.markdown import render_report
from computematch.stages.report import pool_replication


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
    # one world has no interval: its "tie (one world: no interval)" is a tie, the pool's verdict here
    assert replication_share(gains, 1, +1) == 1.0 and replication_share(gains_without, 1, +1) == 0.0


def test_sets_are_all_combinations_when_few_and_seeded_draws_when_many():
    assert world_sets(range(5), 3) == list(itertools.combinations(range(5), 3))
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


def test_a_study_reports_each_verdicts_share_against_a_pool_and_calls_a_short_tie_unresolved(tmp_path):
    study = study_summary(METRICS, STUDY_CONFIG)
    # a pool of 12 worlds where SE-LM's gain is -0.05 ± 0.06 (agrees that SE data is better: "disagrees" with the
    # paper) but a 3-world set finds it in under 20% of draws (test above); this study's own verdict on it is a tie
    gains = {w: -0.05 + 0.06 * ((w % 3) - 1) for w in range(12)}
    pool = replace(study, worlds=list(range(12)), setups={**study.setups, "SE-LM": replace(
        study.setups["SE-LM"], gain=over_worlds(gains), verdict="disagrees"), "Student-LM": replace(
        study.setups["Student-LM"], gain=over_worlds({w: 0.05 for w in range(12)}), verdict="agrees")})
    tied = replace(study, setups={**study.setups, "SE-LM": replace(study.setups["SE-LM"], verdict="tie")})
    summary = replication_summary(tied, pool, "pool/study.json", "0" * 64)
    row = summary.by_verdict["SE-LM"]
    assert row.pool_verdict == "disagrees" and row.share < 0.2 and row.worlds_needed == 10
    assert row.reported == "unresolved at 3 worlds (needs 10)"
    # a verdict the pool shares with every 3-world set is reported as it is; one the pool has too few worlds for
    # (WC-LM: the fixture's 3) gets no share
    assert summary.by_verdict["Student-LM"].share == 1.0 and "WC-LM" not in summary.by_verdict
    assert summary.by_verdict["Student-LM"].reported == study.setups["Student-LM"].verdict
    # a draw that did find the pool's verdict, at a size that finds it in under 90% of draws: unresolved all the same
    lucky = replication_summary(replace(study, setups={**study.setups, "SE-LM": replace(
        study.setups["SE-LM"], verdict="disagrees")}), pool, "pool/study.json", "0" * 64)
    assert lucky.by_verdict["SE-LM"].reported == "unresolved at 3 worlds (needs 10; this draw: disagrees)"
    assert summary.worlds == 3 and summary.pool_worlds == list(range(12))
    text = render_report(inputs(replace(tied, replication=summary)), [])
    assert "| SE-LM | unresolved at 3 worlds (needs 10) | disagrees | " in text
    assert "No replication pool" in render_report(inputs(study), [])


def test_a_missing_pool_file_is_a_one_line_error_naming_it(tmp_path):
    with pytest.raises(BadInputError, match="study.replication_pool: .*nowhere.json is not a file"):
        pool_replication(str(tmp_path / "nowhere.json"), study_summary(METRICS, STUDY_CONFIG))
