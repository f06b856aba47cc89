"""Dagster resources shared by both domains: storage (Parquet IO manager), MLflow, market data, training launch."""
