"""The registry of DART model families: adding one is its module plus one line here.

The training assets, the training entry point, bundles and MLflow logging all look families up here; nothing else
names them. Order matters only for display (assets, tables, messages).
"""

from __future__ import annotations

from dart_assets.ml.ensemble import EnsembleModel
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.lgbm import LgbmModel
from dart_assets.ml.lstm import LstmModel
from dart_assets.ml.naive import NaiveModel
from dart_assets.ml.xgb import XgbModel

FAMILIES: dict[str, type[ModelFamily]] = {
    family.name: family
    for family in (
        LgbmModel,
        XgbModel,
        LstmModel,
        EnsembleModel,
        NaiveModel,
    )
}


def get(name: str) -> type[ModelFamily]:
    """The family called `name`; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; expected one of {', '.join(FAMILIES)}") from None
