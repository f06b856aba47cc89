"""What the DART and transformer domains share: gate results, chronological splits, the registry aliases, the code
version and MLflow run logging. Plain Python: nothing here knows Dagster."""
