from dart_assets_tests.fakes.azure_fixtures import fake_account, features_parquet, ml_client, mlflow_uri  # noqa: F401
