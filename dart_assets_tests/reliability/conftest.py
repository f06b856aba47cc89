from dart_assets_tests.defs.dart.conftest import fresh_tracking_uri, migrated_mlflow_db  # noqa: F401
