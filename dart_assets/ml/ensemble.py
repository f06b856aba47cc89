"""Ensemble family: the mean of a LightGBM and an XGBoost model's P10/P50/P90, both trained inside this family.

On the real walk-forward validation months (bench/recipe_validation.py) the mean scored about as LightGBM alone
(0.033 / 0.032 skill on the hubs / HB_WEST files vs 0.034 / 0.034), and issue 12's research found its band the
best calibrated of the candidates, so it competes as a candidate of its own. Its members keep their own default
hyperparameters (one seed each) and files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from dart_assets.ml.family import BoosterModel, BundleServedModel, FamilyFit, ModelFamily, Progress
from dart_assets.ml.lgbm import LgbmModel
from dart_assets.ml.xgb import XgbModel

if TYPE_CHECKING:
    from dart_assets.common.split import Split
    from dart_assets.ml.dataset import FeatureTransform

MEMBERS: tuple[type[BoosterModel], ...] = (LgbmModel, XgbModel)


class EnsembleModel(BundleServedModel):
    name = "ensemble"
    label = "LightGBM + XGBoost mean"
    training_cost_rank = 3
    library = MEMBERS[0].library
    # One seed per member: the mean of two models already averages away most of a single fit's noise (validation
    # months: 0.033/0.032 skill with one seed each vs 0.034/0.032 with three), at a third of the training time.
    default_params: ClassVar[Mapping[str, Any]] = {
        member.name: {**member.default_params, "seeds": 1} for member in MEMBERS
    }
    tunable: ClassVar[Mapping[str, str]] = {}
    requirements: ClassVar[tuple[str, ...]] = tuple(member.library for member in MEMBERS[1:])

    def __init__(self, transform: FeatureTransform, members: Mapping[str, ModelFamily]) -> None:
        self.transform = transform
        self.members = dict(members)

    @classmethod
    def fit(
        cls,
        split: Split,
        transform: FeatureTransform,
        params: Mapping[str, Any],
        seed: int,
        n_threads: int,
        progress: Progress,
    ) -> FamilyFit:
        fits = {
            member.name: member.fit(split, transform, params[member.name], seed, n_threads, progress)
            for member in MEMBERS
        }
        # Each member's gains as shares of its total, averaged over the members.
        shares = [_gain_shares(f.feature_importance) for f in fits.values() if f.feature_importance is not None]
        gain = pd.concat(shares).groupby(level=0).mean().sort_values(ascending=False)
        return FamilyFit(
            model=cls(transform, {name: f.model for name, f in fits.items()}),
            best_iteration=max(f.best_iteration for f in fits.values()),
            learning_curve=fits[MEMBERS[0].name].learning_curve,  # LightGBM's, as plotted
            feature_importance=pd.DataFrame({"feature": gain.index, "gain": gain.to_numpy()}),
        )

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        predictions = [member.predict(frame) for member in self.members.values()]
        return sum(predictions[1:], predictions[0]) / len(predictions)

    def save(self, directory: Path) -> None:
        for member in self.members.values():
            member.save(directory)

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> EnsembleModel:
        return cls(transform, {m.name: m.load(directory, transform, params[m.name]) for m in MEMBERS})


def _gain_shares(importance: pd.DataFrame) -> pd.Series:
    return importance.set_index("feature")["gain"] / importance["gain"].sum()
