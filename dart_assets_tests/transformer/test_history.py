import re

import pandas as pd
import pytest

from dart_assets.transformer.history import LoadGenerator, TransformerDataError, read_sensor_csv


def sensor_export(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the sensors write, derived from the tidy frame."""
    ts = frame["timestamp"]
    return pd.DataFrame(
        {
            "timestamp": ts.dt.strftime("%Y-%m-%d %H:%M"),
            "hour": ts.dt.hour,
            "day": ts.dt.day,
            "month": ts.dt.month,
            "year": ts.dt.year,
            "day_of_week": ts.dt.dayofweek,
            "is_weekend": ts.dt.dayofweek >= 5,
            "season": ts.dt.month.map(lambda m: ["winter", "spring", "summer", "autumn"][(m % 12) // 3]),
            "kw": frame["kw"].round(3).astype(str),
        }
    )


@pytest.fixture
def small_export() -> pd.DataFrame:
    return sensor_export(LoadGenerator(start="2025-03-01 00:00", end="2025-03-03 23:00").history())


def write(tmp_path, export: pd.DataFrame):
    path = tmp_path / "load.csv"
    export.to_csv(path, index=False)
    return path


def read_error(tmp_path, export: pd.DataFrame) -> str:
    path = write(tmp_path, export)
    with pytest.raises(TransformerDataError) as caught:
        read_sensor_csv(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_generator_is_reproducible_hourly_and_ends_at_fixed_date(history):
    again = LoadGenerator().history()
    pd.testing.assert_frame_equal(history, again)
    assert history["timestamp"].iloc[-1] == pd.Timestamp("2025-12-31 23:00")
    assert (history["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert len(history) == 3 * 365 * 24 + 24  # 2024 is a leap year
    assert (history["kw"] >= 0).all()


def test_sensor_csv_round_trip(tmp_path, small_export):
    frame = read_sensor_csv(write(tmp_path, small_export))
    assert list(frame.columns) == ["timestamp", "kw"]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 00:00")
    assert len(frame) == 72
    assert frame["kw"].tolist() == pd.to_numeric(small_export["kw"]).tolist()


def test_only_timestamp_and_kw_are_required(tmp_path, small_export):
    frame = read_sensor_csv(write(tmp_path, small_export[["kw", "timestamp"]]))
    assert len(frame) == 72


@pytest.mark.parametrize("column", ["kw", "timestamp"])
def test_missing_required_column(tmp_path, small_export, column):
    message = read_error(tmp_path, small_export.drop(columns=column))
    assert f"missing column(s) {column}" in message


def test_unparseable_timestamp_names_the_spreadsheet_row(tmp_path, small_export):
    small_export.loc[4, "timestamp"] = "2025-03-01T04:00"
    message = read_error(tmp_path, small_export)
    assert "row 6:" in message and "'2025-03-01T04:00'" in message and "YYYY-MM-DD HH:MM" in message


def test_duplicate_hour(tmp_path, small_export):
    small_export.loc[10, "timestamp"] = small_export.loc[9, "timestamp"]
    message = read_error(tmp_path, small_export)
    assert "row 12:" in message and "2025-03-01 09:00 repeats row 11" in message


def test_unsorted_hours(tmp_path, small_export):
    swapped = small_export.iloc[[0, 1, 3, 2, *range(4, 72)]]
    message = read_error(tmp_path, swapped)
    assert "row 5:" in message and "sorted" in message


def test_gaps_list_first_missing_hours_and_count(tmp_path, small_export):
    holes = small_export.drop(index=[*range(5, 12), 30])
    message = read_error(tmp_path, holes)
    assert "row 6:" in message  # the last reading before the first gap
    assert "8 missing hour(s)" in message
    assert (
        "2025-03-01 05:00, 2025-03-01 06:00, 2025-03-01 07:00, 2025-03-01 08:00, 2025-03-01 09:00 and 3 more" in message
    )


@pytest.mark.parametrize("value", ["abc", "", "nan", "inf"])
def test_non_numeric_load(tmp_path, small_export, value):
    small_export.loc[7, "kw"] = value
    message = read_error(tmp_path, small_export)
    assert "row 9:" in message and f"kw {value!r} is not a number" in message


def test_negative_load(tmp_path, small_export):
    small_export.loc[0, "kw"] = "-1.5"
    message = read_error(tmp_path, small_export)
    assert re.search(r"row 2: kw -1\.5 is negative", message)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(TransformerDataError, match="file not found"):
        read_sensor_csv(tmp_path / "nope.csv")
    (tmp_path / "header.csv").write_text("timestamp,kw\n")
    with pytest.raises(TransformerDataError, match="no readings"):
        read_sensor_csv(tmp_path / "header.csv")
