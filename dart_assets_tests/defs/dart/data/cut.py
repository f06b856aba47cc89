"""Cut the March-gap fixture from the real 2024 ERCOT hubs table in ../shared/data (see SOURCE.md there).

    python dart_assets_tests/defs/dart/data/cut.py /work/shared/data

Writes ercot_hubs_2024-03-05_2024-03-20.csv next to this script: the rows of delivery days 2024-03-05..2024-03-20
(Central), every column, unchanged. The real file's only gap lies inside: 2024-03-10 has HE01 only, 2024-03-11..16
have no rows, 2024-03-17 lacks HE01-03.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
FIRST, LAST = "2024-03-05", "2024-03-20"
NAME = "ercot_hubs_2024-01_2024-09_forecasts.csv"


def main(shared: Path) -> None:
    text = (shared / "real" / NAME).read_text().splitlines(keepends=True)
    stamps = pd.to_datetime([line.split(",", 1)[0] for line in text[1:]], utc=True)
    day = stamps.tz_convert("America/Chicago").strftime("%Y-%m-%d")
    keep = [line for line, d in zip(text[1:], day, strict=True) if FIRST <= d <= LAST]
    (HERE / f"ercot_hubs_{FIRST}_{LAST}.csv").write_text(text[0] + "".join(keep))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
