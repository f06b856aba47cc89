"""Loaded at start-up by a Python whose PYTHONPATH holds this folder: the fake Azure ML job's process."""

import os

if os.environ.get("FAKE_AZURE_STORAGE_ROOT"):
    import fake_storage

    fake_storage.install()
