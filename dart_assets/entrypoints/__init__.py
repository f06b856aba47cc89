"""Programs that jobs run: `python -m dart_assets.entrypoints.<name>`, locally or on Azure ML, under Dagster Pipes."""
