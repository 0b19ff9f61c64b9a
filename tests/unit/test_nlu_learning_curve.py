"""bench.nlu_learning_curve: the sampling of training threads, and the fit the curve is read with."""

import math

import pytest

from bench.nlu_learning_curve import CurvePoint, log_fit, mean_by_fraction, messages_for, sampled_groups


def test_a_share_of_threads_is_drawn_whole_and_repeatably():
    groups = [f"thread-{i % 40}" for i in range(400)]  # 40 threads, 10 messages each
    quarter = sampled_groups(groups, 0.25, seed=3)
    assert len(quarter) == 10 and quarter <= set(groups)
    assert sampled_groups(groups, 0.25, seed=3) == quarter
    assert sampled_groups(groups, 0.25, seed=4) != quarter
    assert sampled_groups(groups, 1.0, seed=0) == set(groups)
    # A share too small for one thread still trains on one.
    assert len(sampled_groups(groups, 0.001, seed=0)) == 1


def test_the_log_linear_fit_reads_the_gain_per_doubling():
    points = [(500, 0.70), (1000, 0.72), (2000, 0.74), (4000, 0.76)]
    intercept, slope = log_fit(points)
    assert slope == pytest.approx(0.02)
    # 0.85 is 4.5 doublings past 4,000 messages.
    assert messages_for(0.85, intercept, slope) == pytest.approx(4000 * 2 ** 4.5, rel=1e-6)


def test_a_curve_that_does_not_rise_never_reaches_the_target():
    intercept, slope = log_fit([(500, 0.75), (1000, 0.75), (2000, 0.74)])
    assert slope < 0
    assert messages_for(0.85, intercept, slope) is None


def test_points_of_one_share_are_averaged_over_seeds():
    points = [CurvePoint(0.5, 0, 100, {"t": 0.6}), CurvePoint(0.5, 1, 110, {"t": 0.8}),
              CurvePoint(1.0, 0, 210, {"t": 0.75})]
    table = mean_by_fraction(points, "t")
    assert [(f, n) for f, n, _ in table] == [(0.5, 105), (1.0, 210)]
    assert math.isclose(table[0][2], 0.7) and math.isclose(table[1][2], 0.75)


def test_the_report_reads_each_target_off_the_curve():
    from bench.nlu_learning_curve import SCORED, report

    def point(fraction, messages, triage):
        scores = {key: 0.5 for key, _ in SCORED}
        scores["triage_accuracy_all"] = triage
        return CurvePoint(fraction, 0, messages, scores)

    lines = report("m.tar.gz", {"threads": [point(0.25, 1000, 0.75), point(0.5, 2000, 0.77), point(1.0, 4000, 0.79)]})
    text = "\n".join(lines)
    assert "## Sampled: real training threads" in text
    assert "| 0.5 | 2,000 | 0.770 |" in text
    # +2 points per doubling from 0.79 at 4,000: 0.85 three doublings on.
    assert "| triage | 0.85 | +2.00 points | 32,000 |" in text
    # A flat score never reaches its target.
    assert [line for line in lines if line.startswith("| theft recall | 0.95 |")][0].endswith("| never |")
