"""Cut the ercot_api test fixtures from the real ERCOT files in ../shared/data (see SOURCE.md there).

    python dart_assets_tests/market/data/ercot_api/cut.py /work/shared/data

Writes, next to this script, the rows of a few delivery days, unchanged:
- hubs_2024-03-07_2024-03-12.csv: the tidy 2024 hubs table (DAM and hourly RTM per hub, day-ahead system load
  forecast); it has no rows after 2024-03-10 HE01 (the real file's March gap), so 03-11 and 03-12 are gap days.
- np4-742-cd_... / np4-745-cd_2024-03-07_2024-03-12.parquet: ERCOT public-API pulls of the wind and solar
  forecasts (the D-1 09:55 posting per delivery day), 2024-03-10 being the spring-forward day.
- np4-180-er_2025-03-09.csv, np6-785-er_2025-03-09.csv: DAM hourly and RTM 15-minute prices of the 2025
  spring-forward day for three hubs and LZ_WEST (both its LZ and LZEW rows), from ERCOT's yearly workbooks.
- np4-180-er_2021-11-07.csv: DAM prices of the 2021 fall-back day (25 hours, the second HE02 flagged) for three hubs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
FIRST, LAST = "2024-03-07", "2024-03-12"
DST_2025 = "03/09/2025"
HUBS = ("HB_HOUSTON", "HB_NORTH", "HB_WEST")
POINTS_2025 = (*HUBS, "LZ_WEST")
FALL_BACK_2021 = "11/07/2021"


def main(shared: Path) -> None:
    real = shared / "real"
    hubs = pd.read_csv(real / "ercot_hubs_2024-01_2024-09_forecasts.csv")
    local = pd.to_datetime(hubs["timestamp_utc"], utc=True).dt.tz_convert("America/Chicago")
    day = local.dt.strftime("%Y-%m-%d")
    hubs = hubs[day.between(FIRST, LAST)]
    columns = ["timestamp_utc", "settlement_point", "dam_price", "rtm_price", "load_forecast_mw"]
    hubs[columns].to_csv(HERE / f"hubs_{FIRST}_{LAST}.csv", index=False)

    for report, name in (("np4-742-cd", "wind"), ("np4-745-cd", "solar")):
        frame = pd.read_parquet(real / f"{report}_{name}_forecast_2024-01_2024-09.parquet")
        frame[frame["deliveryDate"].between(FIRST, LAST)].to_parquet(HERE / f"{report}_{FIRST}_{LAST}.parquet")

    for year, sheet, day, points in (("2025", "Mar", DST_2025, POINTS_2025), ("2021", "Nov", FALL_BACK_2021, HUBS)):
        dam = pd.read_excel(shared / f"DAMLZHBSPP_{year}.xlsx", sheet_name=sheet, dtype=str)
        dam = dam[(dam["Delivery Date"] == day) & dam["Settlement Point"].isin(points)]
        month, date, _ = day.split("/")
        dam.to_csv(HERE / f"np4-180-er_{year}-{month}-{date}.csv", index=False)

    rtm = pd.read_excel(shared / "rtm_spp_mar-2025_gridstatus.xlsx", dtype=str)
    rtm = rtm[rtm["Delivery Date"].str.startswith(DST_2025) & rtm["Settlement Point Name"].isin(POINTS_2025)]
    rtm.to_csv(HERE / "np6-785-er_2025-03-09.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[5] / "shared" / "data")
