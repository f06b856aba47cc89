"""dart_forecast and forecast_accuracy on the session's trained graph and registered champion (issue 5)."""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd
import pytest
from mlflow import MlflowClient

from dart_assets import forecasting
from dart_assets.common import registry
from dart_assets.defs import build_defs
from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
from dart_assets.market import schemas
from dart_assets.market.timeutil import hours_in_day
from dart_assets.ml import MODEL_NAME
from dart_assets.settings import Settings
from dart_assets_tests.defs.dart.conftest import POINTS, metadata_of

DEFS = build_defs(Settings())

BACKFILL = ["2025-03-09", "2025-03-10"]  # the spring-forward day (23 h) and the day after
DECISION_UTC = {"2025-03-09": "2025-03-08 15:00", "2025-03-10": "2025-03-09 14:00"}


def read(storage, asset: str, day: str) -> pd.DataFrame:
    return pd.read_parquet(storage / asset / f"{day}.parquet")


@pytest.fixture(scope="module")
def backfill(trained_graph) -> dict[str, dg.ExecuteInProcessResult]:
    """dart_forecast for two delivery days, one run per partition as a backfill launches them."""
    results = {
        day: trained_graph.materialize(dg.AssetSelection.assets("dart_forecast"), partition_key=day) for day in BACKFILL
    }
    assert all(r.success for r in results.values())
    return results


@pytest.fixture(scope="module")
def champion(trained_graph):
    return registry.champion(trained_graph.client(), MODEL_NAME)


@pytest.mark.parametrize("day", BACKFILL)
def test_forecast_partition_from_the_champion(trained_graph, backfill, champion, day):
    table = read(trained_graph.storage, "dart_forecast", day)
    assert table.groupby("settlement_point").size().to_dict() == {p: hours_in_day(day) for p in POINTS}
    assert hours_in_day("2025-03-09") == 23
    assert (table["delivery_date"] == pd.Timestamp(day)).all()
    assert table[["dart_p10", "dart_forecast", "dart_p90"]].notna().all().all()
    assert (table["dart_p10"] <= table["dart_forecast"]).all() and (table["dart_forecast"] <= table["dart_p90"]).all()
    assert (table["dart_p90"] - table["dart_p10"]).mean() > 0  # a real band, not a point
    assert (table["decision_time_utc"] == pd.Timestamp(DECISION_UTC[day], tz="UTC")).all()
    assert set(table["model_version"]) == {str(champion.version)}
    assert set(table["model_family"]) == {champion.tags["family"]}

    meta = metadata_of(backfill[day], "dart_forecast")
    assert meta["model"] == f"{MODEL_NAME} v{champion.version} @champion ({champion.tags['family']})"
    assert meta["fallback"] is False and meta["served"] == champion.tags["family"]
    assert meta["decision_time_utc"] == str(pd.Timestamp(DECISION_UTC[day], tz="UTC"))
    assert meta["mean_forecast"] == pytest.approx(table["dart_forecast"].mean())
    assert meta["dagster/row_count"] == len(table)
    assert meta["chart"].startswith("![forecast](data:image/png;base64,")


def test_forecast_equals_the_core_function_on_the_decision_time_window(trained_graph, backfill, champion):
    from dart_assets.ml import tracking

    day = "2025-03-10"
    first = pd.Timestamp(day) - pd.Timedelta(days=forecasting.HISTORY_DAYS)
    stored = {
        name: pd.concat(
            [
                read(trained_graph.storage, name, d.date().isoformat())
                for d in pd.date_range(first, day)
                if (trained_graph.storage / name / f"{d.date()}.parquet").exists()  # the window starts before the data
            ],
            ignore_index=True,
        )
        for name in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts")
    }
    model = tracking.load_bundle_from_run(champion.run_id)
    expected = forecasting.forecast_days(model, *stored.values(), POINTS, [day])
    got = read(trained_graph.storage, "dart_forecast", day)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)


def test_a_backfill_range_is_one_run_writing_the_same_files_as_one_run_per_day(trained_graph, backfill, champion):
    per_day = {day: (trained_graph.storage / "dart_forecast" / f"{day}.parquet").read_bytes() for day in BACKFILL}
    tags = {"dagster/asset_partition_range_start": BACKFILL[0], "dagster/asset_partition_range_end": BACKFILL[-1]}

    one_run = trained_graph.materialize(dg.AssetSelection.assets("dart_forecast"), tags=tags)

    assert one_run.success
    assert [e.partition for e in one_run.asset_materializations_for_node("dart_forecast")] == BACKFILL
    assert {d: (trained_graph.storage / "dart_forecast" / f"{d}.parquet").read_bytes() for d in BACKFILL} == per_day
    events = one_run.asset_materializations_for_node("dart_forecast")
    means = []
    for day, event in zip(BACKFILL, events, strict=True):  # each partition's event describes its own day
        meta = {k: v.value for k, v in event.metadata.items()}
        table = read(trained_graph.storage, "dart_forecast", day)
        assert meta["decision_time_utc"] == str(pd.Timestamp(DECISION_UTC[day], tz="UTC"))
        assert meta["mean_forecast"] == pytest.approx(table["dart_forecast"].mean())
        assert meta["model"] == f"{MODEL_NAME} v{champion.version} @champion ({champion.tags['family']})"
        assert meta["days_forecast"] == len(BACKFILL)
        assert meta["versions_used"] == f"v{champion.version}: {len(BACKFILL)} day(s)"
        assert ("chart" in meta) == (day == BACKFILL[-1])  # the run's last day only
        means.append(meta["mean_forecast"])
    assert means[0] != means[1]


def test_inputs_stop_at_the_decision_time():
    dart_forecast = DEFS.get_assets_def("dart_forecast")
    mappings = {
        key.to_user_string(): dart_forecast.get_partition_mapping(key)
        for key in dart_forecast.dependency_keys
        if key.to_user_string() != "promoted_model"
    }
    windows = {k: (m.start_offset, m.end_offset) for k, m in mappings.items()}
    back = -forecasting.HISTORY_DAYS
    assert windows == {
        "dam_prices": (back, -1),
        "rtm_prices": (back, -1),  # D-1's morning hours are public at the decision time
        "system_conditions": (back, -1),
        "driver_forecasts": (back, 0),  # the forecasts for D, and for the days before (their changes, errors)
    }


def test_rematerializing_a_partition_rewrites_identical_files(trained_graph, backfill):
    before = {day: (trained_graph.storage / "dart_forecast" / f"{day}.parquet").read_bytes() for day in BACKFILL}
    again = trained_graph.materialize(dg.AssetSelection.assets("dart_forecast"), partition_key=BACKFILL[0])
    assert again.success
    assert (trained_graph.storage / "dart_forecast" / f"{BACKFILL[0]}.parquet").read_bytes() == before[BACKFILL[0]]
    assert (trained_graph.storage / "dart_forecast" / f"{BACKFILL[1]}.parquet").read_bytes() == before[BACKFILL[1]]
    assert sorted(p.name for p in (trained_graph.storage / "dart_forecast").iterdir()) == [
        f"{d}.parquet" for d in BACKFILL
    ]


def test_no_champion_and_no_fallback_fails_with_what_to_materialize(trained_graph, fresh_tracking_uri):
    with pytest.raises(
        dg.Failure,
        match=r"no champion and no fallback in the registry \(dart-spread-forecaster@champion, @fallback\): "
        r"materialize hourly_features, lgbm_model, xgb_model, lstm_model, ensemble_model, naive_model and "
        r"promoted_model first",
    ):
        trained_graph.materialize(
            dg.AssetSelection.assets("dart_forecast"),
            partition_key="2025-03-10",
            settings=trained_graph.settings(mlflow_tracking_uri=fresh_tracking_uri()),
            instance=dg.DagsterInstance.ephemeral(),
        )


def test_a_gate_that_fails_on_the_first_training_still_yields_a_labelled_forecast(trained_graph, tmp_path):
    """No candidate has ever passed the gate: the naive candidate, registered as `fallback`, forecasts, and says so."""
    db = tmp_path / "mlflow.db"
    shutil.copy(trained_graph.tracking_uri.removeprefix("sqlite:///"), db)
    client = MlflowClient(f"sqlite:///{db}")
    client.delete_registered_model(MODEL_NAME)  # the same candidate runs, but nothing was ever registered
    storage = tmp_path / "storage"
    storage.mkdir()
    for table in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
        (storage / table).symlink_to(trained_graph.storage / table)
    settings = trained_graph.settings(storage=str(storage), mlflow_tracking_uri=f"sqlite:///{db}", gate_min_skill=1.0)

    promotion = trained_graph.materialize(
        dg.AssetSelection.assets("promoted_model"), settings=settings, raise_on_error=False
    )
    [check] = promotion.get_asset_check_evaluations()
    assert not check.passed and "less than the required 100.0%" in check.description
    meta = metadata_of(promotion, "promoted_model")
    assert meta["registry"] == "unchanged: champion stays (none)"
    assert meta["fallback"] == f"{MODEL_NAME} v1 @fallback (naive_model)"
    fallback = registry.by_alias(client, MODEL_NAME, registry.FALLBACK)
    assert registry.champion(client, MODEL_NAME) is None
    assert fallback.tags["role"] == "fallback" and fallback.tags["source_asset"] == "naive_model"
    assert fallback.run_id == metadata_of(trained_graph.training, "naive_model")["mlflow_run_id"]
    # The next promotion of the same candidates registers nothing new.
    again = trained_graph.materialize(
        dg.AssetSelection.assets("promoted_model"), settings=settings, raise_on_error=False
    )
    assert metadata_of(again, "promoted_model")["fallback"] == meta["fallback"]
    assert len(client.search_model_versions(f"name='{MODEL_NAME}'")) == 1

    day = "2025-03-10"
    result = trained_graph.materialize(dg.AssetSelection.assets("dart_forecast"), settings=settings, partition_key=day)
    assert result.success
    forecast = metadata_of(result, "dart_forecast")
    assert forecast["model"] == f"{MODEL_NAME} v1 @fallback (naive)" and forecast["fallback"] is True
    assert forecast["served"].startswith("fallback: ") and any(
        name in forecast["served"] for name in ("zero spread", "last known same hour", "hour-of-week median")
    )
    table = read(storage, "dart_forecast", day)
    assert set(table["model_family"]) == {"naive"} and set(table["model_version"]) == {"1"}
    assert table.groupby("settlement_point").size().to_dict() == dict.fromkeys(POINTS, 24)
    assert (table["dart_p10"] <= table["dart_forecast"]).all() and (table["dart_forecast"] <= table["dart_p90"]).all()


def test_features_mismatch_fails_with_what_to_retrain(trained_graph, backfill, monkeypatch, tmp_path):
    from dart_assets.ml import champion, tracking

    real = champion.load_bundle

    def trained_on_other_data(path):
        model = real(path)
        model.metadata = {**model.metadata, "feature_columns": [*model.metadata["feature_columns"], "ercot_ghost_mw"]}
        return model

    # The champion comes from the cache or from an MLflow download: both load bundles the same way.
    monkeypatch.setattr(champion, "load_bundle", trained_on_other_data)
    monkeypatch.setattr(tracking, "load_bundle", trained_on_other_data)
    with pytest.raises(
        dg.Failure,
        match=r"needs features \['ercot_ghost_mw'\] that the current data source does not "
        r"provide; retrain on the current data: materialize hourly_features",
    ):
        trained_graph.materialize(
            dg.AssetSelection.assets("dart_forecast"),
            partition_key="2025-03-10",
            instance=dg.DagsterInstance.ephemeral(),
        )


def test_accuracy_scores_a_settled_day(trained_graph, backfill):
    day = "2025-03-10"
    result = trained_graph.materialize(dg.AssetSelection.assets("forecast_accuracy"), partition_key=day)
    assert result.success
    dam, rtm = read(trained_graph.storage, "dam_prices", day), read(trained_graph.storage, "rtm_prices", day)
    expected = forecasting.score_day(read(trained_graph.storage, "dart_forecast", day), dam, rtm)
    meta = metadata_of(result, "forecast_accuracy")
    assert meta["mae"] == pytest.approx(expected["mae"]) and meta["zero_spread_mae"] == pytest.approx(
        expected["zero_mae"]
    )
    assert meta["band_coverage"] == pytest.approx(expected["band_coverage"])
    stored = read(trained_graph.storage, "forecast_accuracy", day)
    assert len(stored) == 1 and stored["hours"].iloc[0] == 2 * 24
    assert stored["rmse"].iloc[0] == pytest.approx(expected["rmse"])

    # Both backfilled days are scored in the rolling view; the check verdict follows its numbers.
    rolling = meta["rolling_14d"]
    assert rolling["days"] == 2
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "no_drift" and check.passed == (rolling["mae"] <= rolling["zero_mae"])
    assert check.description.startswith(
        f"rolling 2-day MAE {rolling['mae']:.2f} vs zero-spread {rolling['zero_mae']:.2f}"
    )


def _storage_with_forecasts(trained_graph, root, error: float, rtm_days: list[str] | None = None):
    """A storage sharing the session's market files, with forecasts that miss realised DART by `error` $/MWh."""
    (root / "dam_prices").symlink_to(trained_graph.storage / "dam_prices")
    rtm = root / "rtm_prices"
    if rtm_days is None:
        rtm.symlink_to(trained_graph.storage / "rtm_prices")
    else:
        rtm.mkdir()
        for day in rtm_days:
            (rtm / f"{day}.parquet").symlink_to(trained_graph.storage / "rtm_prices" / f"{day}.parquet")
    (root / "dart_forecast").mkdir()
    for day in BACKFILL:
        table = read(trained_graph.storage, "dart_forecast", day)
        keys = ["timestamp_utc", "settlement_point"]
        actual = read(trained_graph.storage, "dam_prices", day).merge(
            read(trained_graph.storage, "rtm_prices", day), on=keys
        )
        dart = table[keys].merge(actual, on=keys, how="left").eval("dam_price - rtm_price").to_numpy()
        table["dart_forecast"], table["dart_p10"], table["dart_p90"] = dart + error, dart + error - 1, dart + error + 1
        table.to_parquet(root / "dart_forecast" / f"{day}.parquet", index=False)
    return root


def on_storage(trained_graph, storage, asset: str, day: str = "2025-03-10") -> dg.ExecuteInProcessResult:
    """Materialize one partition of `asset` from another storage folder, on a fresh instance."""
    return trained_graph.materialize(
        dg.AssetSelection.assets(asset),
        partition_key=day,
        settings=trained_graph.settings(storage=str(storage)),
        instance=dg.DagsterInstance.ephemeral(),
    )


@pytest.mark.parametrize(("error", "drifted"), [(100.0, True), (0.5, False)])
def test_no_drift_check_fails_for_a_bad_model_and_passes_for_a_good_one(
    trained_graph, backfill, tmp_path, error, drifted
):
    storage = _storage_with_forecasts(trained_graph, tmp_path, error)
    result = on_storage(trained_graph, storage, "forecast_accuracy")
    assert result.success  # a WARN check does not fail the run
    meta = metadata_of(result, "forecast_accuracy")
    assert meta["mae"] == pytest.approx(error) and meta["band_coverage"] == (0.0 if drifted else 1.0)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "no_drift" and check.passed is not drifted
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["mae"].value == pytest.approx(error)
    assert (
        "the model has drifted: retrain (weekly_retraining) or roll back the champion" in check.description
    ) is drifted


def test_missing_actuals_is_a_clear_failure(trained_graph, backfill, tmp_path):
    # The 03-10 forecast exists, but its real-time prices have not been loaded yet.
    days = [d.date().isoformat() for d in pd.date_range("2025-02-25", "2025-03-09")]
    storage = _storage_with_forecasts(trained_graph, tmp_path, 1.0, rtm_days=days)
    with pytest.raises(
        dg.Failure,
        match=r"2025-03-10: no complete actuals to score yet; materialize dam_prices and "
        r"rtm_prices for 2025-03-10 after the day has settled",
    ):
        on_storage(trained_graph, storage, "forecast_accuracy")


def test_accuracy_window_covers_the_drift_window():
    forecast_accuracy = DEFS.get_assets_def("forecast_accuracy")
    windows = {
        key.to_user_string(): (m.start_offset, m.end_offset)
        for key in forecast_accuracy.dependency_keys
        for m in [forecast_accuracy.get_partition_mapping(key)]
    }
    assert windows == {"dart_forecast": (-13, 0), "dam_prices": (-13, 0), "rtm_prices": (-13, 0)}


def test_an_empty_d_minus_1_rtm_partition_fails_naming_the_day_and_table(trained_graph, tmp_path):
    """A gap day stored as an empty partition: the forecast refuses to run on it instead of forecasting on NaN lags."""
    for name in ("dam_prices", "system_conditions", "driver_forecasts"):
        (tmp_path / name).symlink_to(trained_graph.storage / name)
    (tmp_path / "rtm_prices").mkdir()
    for day in pd.date_range("2025-02-20", "2025-03-08"):
        name = f"{day.date()}.parquet"
        (tmp_path / "rtm_prices" / name).symlink_to(trained_graph.storage / "rtm_prices" / name)
    schemas.empty("rtm_prices").to_parquet(tmp_path / "rtm_prices" / "2025-03-09.parquet", index=False)
    with pytest.raises(
        dg.Failure,
        match=r"^rtm_prices for 2025-03-09 is missing \(0 of 7 hours, HB_HOUSTON, HB_NORTH\): D-1's RTM hours "
        r"published before 09:00 Central is needed to forecast 2025-03-10$",
    ):
        on_storage(trained_graph, tmp_path, "dart_forecast")


def test_a_backfilled_day_uses_the_model_that_was_champion_at_its_decision_time(trained_graph, backfill, tmp_path):
    """A registry with a history: v1 (today's champion run) promoted on 2025-03-01, v2 (another candidate) promoted
    now. A day decided after 03-01 gets v1; a day before any promotion gets today's v2, and says so."""
    from dart_assets.common import registry

    shutil.copy(trained_graph.tracking_uri.removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    v1 = registry.champion(client, MODEL_NAME)
    client.set_model_version_tag(MODEL_NAME, v1.version, registry.PROMOTED_AT_TAG, "2025-03-01T00:00:00+00:00")
    other = next(
        metadata_of(trained_graph.training, key)["mlflow_run_id"]
        for key in MODEL_ASSET_KEYS
        if metadata_of(trained_graph.training, key)["mlflow_run_id"] != v1.run_id
    )
    v2 = registry.promote(client, MODEL_NAME, f"runs:/{other}/model", other, {"family": "other"})
    storage = tmp_path / "storage"
    storage.mkdir()
    for name in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
        (storage / name).symlink_to(trained_graph.storage / name)
    settings = trained_graph.settings(storage=str(storage), mlflow_tracking_uri=uri)

    def forecast(day: str) -> tuple[pd.DataFrame, dict]:
        result = trained_graph.materialize(
            dg.AssetSelection.assets("dart_forecast"),
            settings=settings,
            partition_key=day,
            instance=dg.DagsterInstance.ephemeral(),
        )
        return read(storage, "dart_forecast", day), metadata_of(result, "dart_forecast")

    table, meta = forecast("2025-03-10")  # decided 2025-03-09 14:00 UTC
    assert set(table["model_version"]) == {str(v1.version)}
    assert meta["model_history"] == (
        f"v{v1.version}, the champion at this day's decision time (promoted 2025-03-01 00:00 UTC); today's champion "
        f"is v{v2.version}"
    )
    pd.testing.assert_frame_equal(table, read(trained_graph.storage, "dart_forecast", "2025-03-10"))

    table, meta = forecast("2025-02-20")
    assert set(table["model_version"]) == {str(v2.version)}
    assert meta["model_history"].startswith(f"uses today's champion v{v2.version} (promoted ")
    assert meta["model_history"].endswith(
        "after this day's decision time: it may have been trained on this very day); see dart_backtest for an "
        "honest history"
    )
