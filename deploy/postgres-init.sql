-- Run once on a new cluster, connected to the `dagster` database: MLflow's tracking and registry store gets its own
-- database on the same server (its tables and migrations never meet Dagster's).
CREATE DATABASE mlflow;
