import pandas as pd
import pytest
from matplotlib.image import imread

from dart_assets.transformer.chart import overload_chart
from dart_assets.transformer.overload import forecast, horizon_hours, summarize

LIMIT = 85.0
HISTORY_END = pd.Timestamp("2025-12-31 23:00")
# What the model must recover from the noisy history, compared with the generator's noise-free curve:
FIRST_OVERLOAD_TOLERANCE = pd.Timedelta(days=7)
OVERLOAD_HOURS_TOLERANCE = 0.03  # relative
MAX_KW_TOLERANCE = 0.5


@pytest.fixture(scope="module")
def predicted(fitted):
    return forecast(fitted, HISTORY_END, 5, LIMIT)


@pytest.fixture(scope="module")
def summary(predicted):
    return summarize(predicted, LIMIT)


def test_horizon_is_five_years_hourly_after_history():
    hours = horizon_hours(HISTORY_END, 5)
    assert hours[0] == pd.Timestamp("2026-01-01 00:00") and hours[-1] == pd.Timestamp("2030-12-31 23:00")
    assert len(hours) == 5 * 8760 + 24  # 2028 is a leap year


def test_overload_matches_the_generators_known_trend(summary, generator):
    hours = horizon_hours(HISTORY_END, 5)
    truth = pd.DataFrame({"timestamp": hours, "kw": generator.mean_kw(hours)})
    truth["kw_low"] = truth["kw_high"] = truth["kw"]
    truth["overload"] = truth["kw"] > LIMIT
    expected = summarize(truth, LIMIT)
    assert expected["first_overload"] == "2028-06-20 15:00"  # the generator is built to cross mid-horizon

    first_gap = abs(pd.Timestamp(summary["first_overload"]) - pd.Timestamp(expected["first_overload"]))
    assert first_gap <= FIRST_OVERLOAD_TOLERANCE
    assert abs(summary["overload_hours"] / expected["overload_hours"] - 1) <= OVERLOAD_HOURS_TOLERANCE
    assert abs(summary["max_kw"] - expected["max_kw"]) <= MAX_KW_TOLERANCE
    assert abs(pd.Timestamp(summary["max_at"]) - pd.Timestamp(expected["max_at"])) <= FIRST_OVERLOAD_TOLERANCE
    assert summary["overload_hours_by_year"]["2026"] == summary["overload_hours_by_year"]["2027"] == 0


def test_band_edges_bracket_the_first_overload(summary):
    earliest, first, latest = (
        pd.Timestamp(summary[k]) for k in ("earliest_first_overload", "first_overload", "latest_first_overload")
    )
    assert earliest <= first <= latest


def test_no_overload_in_horizon_reports_none(fitted):
    summary = summarize(forecast(fitted, HISTORY_END, 5, 200.0), 200.0)
    assert summary["first_overload"] is None and summary["overload_hours"] == 0
    assert summary["earliest_first_overload"] is None and summary["latest_first_overload"] is None


def test_chart_is_a_real_png(history, predicted, summary, tmp_path):
    png = overload_chart(history, predicted, summary)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    path = tmp_path / "chart.png"
    path.write_bytes(png)
    height, width, _ = imread(path).shape
    assert width > 600 and height > 250
