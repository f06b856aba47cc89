import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd

from dart_assets.ml.artifacts import load_bundle
from dart_assets_tests.ml.conftest import served_rows

NATIVE_SUFFIXES = {".txt", ".json", ".pt"}  # the naive family's state is JSON too


def test_bundle_holds_only_native_files_and_full_metadata(trained):
    result, _ = trained
    files = sorted(p.name for p in result.bundle_dir.iterdir())
    assert "metadata.json" in files
    assert all(p.suffix in NATIVE_SUFFIXES for p in result.bundle_dir.iterdir()), files
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in result.bundle_dir.rglob("*"))
    metadata = json.loads((result.bundle_dir / "metadata.json").read_text())
    for key in (
        "family",
        "serving",
        "hour_of_week",
        "feature_columns",
        "transform",
        "params",
        "metrics",
        "data_window",
        "split_boundaries",
        "history_hours",
        "library_versions",
        "code_version",
        "seed",
    ):
        assert key in metadata, key
    assert metadata["metrics"] == result.metrics
    assert set(metadata["library_versions"]) >= {"lightgbm", "xgboost", "torch", "pandas", "numpy"}


def test_reload_in_a_new_process_reproduces_test_predictions_exactly(trained, small_frame, tmp_path):
    result, _ = trained
    served_rows(result, small_frame).to_parquet(tmp_path / "rows.parquet")
    script = (
        "import sys, pandas as pd\n"
        "from dart_assets.ml.artifacts import load_bundle\n"
        "rows = pd.read_parquet(sys.argv[2])\n"
        "load_bundle(sys.argv[1]).predict(rows).to_parquet(sys.argv[3])\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(result.bundle_dir),
            str(tmp_path / "rows.parquet"),
            str(tmp_path / "out.parquet"),
        ],
        check=True,
        timeout=120,
    )
    reloaded = pd.read_parquet(tmp_path / "out.parquet").loc[result.test_predictions.index]
    pd.testing.assert_frame_equal(reloaded, result.test_predictions, check_exact=True)


def test_predict_aligns_to_the_input_index(trained, small_frame):
    result, _ = trained
    loaded = load_bundle(result.bundle_dir)
    rows = small_frame.iloc[-200:]  # includes the unknown-DART tail: prediction does not need the target
    predictions = loaded.predict(rows)
    assert list(predictions.columns) == ["p10", "p50", "p90"] and predictions.index.equals(rows.index)
    if result.family == "lstm":
        # 200 rows / 3 points ~ 66 hours per point: the first 23 hours of each point lack a full window
        per_point = rows.groupby("settlement_point").size()
        assert predictions["p50"].isna().sum() == 23 * len(per_point)
        first_hours = rows.groupby("settlement_point")["timestamp_utc"].transform("rank") <= 23
        assert predictions.loc[first_hours, "p50"].isna().all()
    else:
        assert predictions.notna().all().all()
    assert np.isfinite(predictions.dropna().to_numpy()).all()


def test_the_bundle_records_the_history_a_prediction_needs(trained, tmp_path):
    result, _ = trained
    expected = result.params["lookback"] if result.family == "lstm" else 1
    assert load_bundle(result.bundle_dir).metadata["history_hours"] == expected
    # A bundle saved before it was recorded gets it from its family and parameters.
    old = tmp_path / "old"
    shutil.copytree(result.bundle_dir, old)
    metadata = json.loads((old / "metadata.json").read_text())
    del metadata["history_hours"]
    (old / "metadata.json").write_text(json.dumps(metadata))
    assert load_bundle(old).metadata["history_hours"] == expected
