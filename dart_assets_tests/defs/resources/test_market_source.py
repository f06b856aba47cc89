"""MarketDataSource: the same three validated tables whichever registered source is configured."""

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from dart_assets.defs.resources.market_source import MarketDataSource
from dart_assets.market import schemas, synthetic
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.market import fixtures as fx

D = dt.date
DAYS = [D(2025, 3, 8), D(2025, 3, 9)]  # 2025-03-09 is the spring-forward day


def test_synthetic_source_is_the_generator():
    source = MarketDataSource(settlement_points=["HB_NORTH", "HB_WEST"])
    tables = source.read(D(2025, 3, 8), D(2025, 3, 9))
    expected = synthetic.generate(D(2025, 3, 8), D(2025, 3, 9), ["HB_NORTH", "HB_WEST"])
    assert set(tables) == set(schemas.MARKET_TABLES)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(tables[name], frame)
    assert len(tables["system_conditions"]) == 24 + 23
    assert len(tables["driver_forecasts"]) == 3 * (24 + 23)  # three postings per delivery hour
    assert source.label == "synthetic"


def test_table_source_without_drivers_gives_the_hours_alone(tmp_path):
    path = tmp_path / "tidy.csv"
    fx.tidy_table(DAYS).drop(columns="load_mw").to_csv(path, index=False)
    source = MarketDataSource(source="table", path=str(path), settlement_points=list(fx.POINTS))
    tables = source.read(*DAYS)
    assert source.label == f"table:{path}"
    assert len(tables["dam_prices"]) == len(tables["rtm_prices"]) == 2 * 47
    system = tables["system_conditions"]
    assert list(system.columns) == schemas.KEY_COLUMNS and len(system) == 47
    forecasts = tables["driver_forecasts"]
    assert forecasts.empty and list(forecasts.columns) == schemas.FORECAST_KEY_COLUMNS
    rtm = tables["rtm_prices"].set_index(["settlement_point", "delivery_date", "hour_ending"]).rtm_price
    assert rtm[("HB_NORTH", pd.Timestamp("2025-03-09"), 4)] == fx.dam_price(DAYS[1], 4, False, "HB_NORTH") + 4.0


def test_ercot_source_reads_report_files(tmp_path):
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2025.xlsx", fx.dam_rows(DAYS))
    fx.rtm_workbook(tmp_path / "RTMLZHBSPP_2025.xlsx", fx.rtm_rows(DAYS))
    fx.load_workbook(tmp_path / "Native_Load_2025.xlsx", fx.load_rows(DAYS))
    source = MarketDataSource(source="ercot", path=str(tmp_path), settlement_points=["LZ_HOUSTON"])
    tables = source.read(*DAYS)
    dam = tables["dam_prices"].set_index(["delivery_date", "hour_ending"]).dam_price
    rtm = tables["rtm_prices"].set_index(["delivery_date", "hour_ending"]).rtm_price
    assert len(dam) == len(rtm) == 47
    assert dam[(pd.Timestamp("2025-03-09"), 24)] == fx.dam_price(DAYS[1], 24, False, "LZ_HOUSTON") == 214.0
    assert rtm[(pd.Timestamp("2025-03-09"), 24)] == 214.0 + 4.0  # mean of the four intervals
    system = tables["system_conditions"]
    assert len(system) == 47 and system.load_mw.iloc[0] == fx.ercot_load(DAYS[0], 1, False)


@pytest.mark.parametrize(
    ("source", "path", "message"),
    [
        ("caiso", None, r"source\n  Input should be 'synthetic', 'ercot', 'table' or 'ercot_api'"),
        ("ercot", None, r"market source 'ercot' needs a path \(DART_DATA_PATH\)"),
    ],
)
def test_misconfigured_source_is_refused_when_configured(source, path, message):
    with pytest.raises(ValidationError, match=message):
        MarketDataSource(source=source, path=path, settlement_points=["HB_NORTH"])


def test_bad_data_names_the_file(tmp_path):
    path = tmp_path / "tidy.csv"
    frame = fx.tidy_table(DAYS)
    frame["dam_price"] = frame["dam_price"].astype(object)
    frame.loc[3, "dam_price"] = "n/a"
    frame.to_csv(path, index=False)
    source = MarketDataSource(source="table", path=str(path), settlement_points=list(fx.POINTS))
    with pytest.raises(MarketDataError, match=rf"{path}, row 5: dam_price 'n/a' is not a number"):
        source.read(*DAYS)
