"""The code location: every definition, built from the settings the environment gives (read here, once)."""

from dart_assets.defs import build_defs
from dart_assets.settings import load_settings

settings = load_settings()
defs = build_defs(settings)
