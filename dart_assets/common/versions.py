"""Which code produced a model: recorded with every DART bundle and transformer model, and in their MLflow runs."""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from pathlib import Path


@functools.cache
def code_version() -> str:
    """The git commit of the working tree when available, else the installed dart-assets version."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        try:
            return f"dart-assets {importlib.metadata.version('dart-assets')}"
        except importlib.metadata.PackageNotFoundError:
            return "unknown"
