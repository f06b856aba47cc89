"""The DART spread models: dataset, model families, training, scoring, bundles and MLflow tracking. No Dagster."""

MODEL_NAME = "dart-spread-forecaster"
"""The registered model of the DART forecasters, and the MLflow experiment their training runs go to."""
