import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from dart_assets.ml.artifacts import BundleIntegrityError, load_bundle
from dart_assets_tests.ml.conftest import served_rows

NATIVE_SUFFIXES = {".txt", ".json", ".pt", ".npz"}  # the naive family's state is JSON too


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


def test_reload_in_a_new_process_reproduces_test_predictions_exactly_without_torch(trained, small_frame, tmp_path):
    """Serving any family, the LSTM included, never imports torch (~2 s of the morning forecast, issue 15), nor
    scikit-learn (the boosters' libraries import it for estimator classes serving never uses: ~1.4 s)."""
    result, _ = trained
    served_rows(result, small_frame).to_parquet(tmp_path / "rows.parquet")
    script = (
        "import sys, pandas as pd\n"
        "from dart_assets.ml.artifacts import load_bundle\n"
        "rows = pd.read_parquet(sys.argv[2])\n"
        "load_bundle(sys.argv[1]).predict(rows).to_parquet(sys.argv[3])\n"
        "assert 'torch' not in sys.modules, 'serving imported torch'\n"
        "assert 'sklearn' not in sys.modules, 'serving imported scikit-learn'\n"
        "import sklearn.base\n"  # and the process can still import it later
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


def _copy(result, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(result.bundle_dir, bundle)
    return bundle


def test_the_bundle_records_the_sha256_of_every_model_file(trained):
    result, _ = trained
    metadata = json.loads((result.bundle_dir / "metadata.json").read_text())
    model_files = sorted(p.name for p in result.bundle_dir.iterdir() if p.name != "metadata.json")
    assert sorted(metadata["files"]) == model_files and model_files
    for name, digest in metadata["files"].items():
        assert digest == hashlib.sha256((result.bundle_dir / name).read_bytes()).hexdigest()
    assert load_bundle(result.bundle_dir).directory == result.bundle_dir


def test_a_changed_model_file_is_refused_naming_it(trained, tmp_path):
    result, _ = trained
    bundle = _copy(result, tmp_path)
    name = sorted(json.loads((bundle / "metadata.json").read_text())["files"])[-1]
    data = bytearray((bundle / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit: a damaged or doctored file
    (bundle / name).write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=rf"{bundle / name}: sha256 [0-9a-f]{{64}} does not match"):
        load_bundle(bundle)


def test_missing_extra_and_unrecorded_files_are_refused(trained, tmp_path):
    result, _ = trained
    bundle = _copy(result, tmp_path)
    (bundle / "model.pkl").write_bytes(b"not recorded at save time")
    with pytest.raises(BundleIntegrityError, match=r"model\.pkl: not recorded in metadata\.json at save time"):
        load_bundle(bundle)
    (bundle / "model.pkl").unlink()
    name = sorted(json.loads((bundle / "metadata.json").read_text())["files"])[0]
    (bundle / name).unlink()
    with pytest.raises(BundleIntegrityError, match=rf"{name}: recorded in metadata\.json but missing"):
        load_bundle(bundle)
    (bundle / "metadata.json").unlink()
    with pytest.raises(BundleIntegrityError, match=r"metadata\.json: missing; .* is not a complete model bundle"):
        load_bundle(bundle)


def test_a_bundle_without_checksums_is_refused(trained, tmp_path):
    result, _ = trained
    bundle = _copy(result, tmp_path)
    metadata = json.loads((bundle / "metadata.json").read_text())
    del metadata["files"]
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(BundleIntegrityError, match="records no checksums of the model files"):
        load_bundle(bundle)


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (print, ("pickle payload executed",))


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_lstm_weights_are_read_without_unpickling_even_with_a_matching_checksum(trained, suffix, tmp_path, capsys):
    """Defence in depth: someone who can rewrite metadata.json can match any checksum; neither NumPy nor torch (which
    reads the weights of bundles saved before the NumPy file) runs code from the file."""
    import pickle

    result, _ = trained
    if result.family != "lstm":
        pytest.skip("only the LSTM bundle holds array files")
    bundle = _copy(result, tmp_path)
    metadata = json.loads((bundle / "metadata.json").read_text())
    [weights] = [p for p in bundle.iterdir() if p.suffix == suffix]
    if suffix == ".npz":
        np.savez(weights, **{"head.bias": np.array([_RunsCodeWhenUnpickled()], dtype=object)})
        refused = pytest.raises(ValueError, match=rf"{weights}: Object arrays cannot be loaded when allow_pickle=False")
    else:
        [arrays] = [p for p in bundle.iterdir() if p.suffix == ".npz"]
        arrays.unlink()
        del metadata["files"][arrays.name]
        torch.save({"weights": _RunsCodeWhenUnpickled()}, weights, pickle_protocol=pickle.HIGHEST_PROTOCOL)
        refused = pytest.raises(pickle.UnpicklingError, match="Weights only load failed")
    metadata["files"][weights.name] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    with refused:
        load_bundle(bundle)
    assert "pickle payload executed" not in capsys.readouterr().out
