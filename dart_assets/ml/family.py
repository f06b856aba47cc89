"""What a model family is: one class per family (`lgbm.py`, `xgb.py`, `lstm.py`), listed once in `families.py`.

A family class carries what the rest of the project needs to know about it: its name, its library and MLflow
flavor, the compute it prefers, its default and tunable hyperparameters, how many consecutive hours of feature rows
one prediction needs, and how to fit, save, load, predict and log itself. Everything that must be identical across
families for their metrics to be comparable (split, transforms, calibration, scoring, bundle, plot) stays in
`training.py`; generic code only talks to this interface.

Family modules import their heavy library (LightGBM, XGBoost, torch) inside the methods that use it: the Dagster
definitions read the class attributes of every family without paying for every ML library at load time.
"""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from dart_assets.ml.dataset import TARGET

if TYPE_CHECKING:
    import pandas as pd

    from dart_assets.common.split import Split
    from dart_assets.ml.dataset import FeatureTransform

Progress = Callable[[str], None]


class ModelFamily(ABC):
    """A fitted model of one family; the class attributes and classmethods describe the family itself."""

    name: ClassVar[str]
    """Short id: the bundle's and the MLflow run's `family`, and the training asset `<name>_model`."""
    label: ClassVar[str]
    """Human name, e.g. "LightGBM"."""
    library: ClassVar[str]
    """Import name of the library the logged model needs (its version is pinned with the MLflow model)."""
    requirements: ClassVar[tuple[str, ...]] = ()
    """Import names of further libraries the logged model needs besides `library`."""
    flavor: ClassVar[str]
    """MLflow flavor the P50 model is logged in (`mlflow.<flavor>.log_model`); also the asset's kind in the UI."""
    flavor_options: ClassVar[Mapping[str, Any]] = {}
    """Extra arguments of the flavor's log_model."""
    compute: ClassVar[Literal["cpu", "gpu"]] = "cpu"
    """Where training runs best: the asset's `dart/compute` tag, which picks the Azure ML cluster."""
    training_cost_rank: ClassVar[int] = 0
    """Where the family's training time ranks among the families' (higher: longer), so that a run training them
    all starts the longest first rather than leaving it to run alone at the end (bench/scale.py
    --models-together: at 10 years x 15 points XGBoost took 2,494 s, the ensemble 1,695, LightGBM 1,528, the LSTM
    881, the naive baselines 30)."""
    default_params: ClassVar[Mapping[str, Any]]
    """Every hyperparameter with its default; callers may override any of them, and only them."""
    tunable: ClassVar[Mapping[str, str]]
    """The hyperparameters offered per run (the Dagster launchpad), with what each one does."""
    learned: ClassVar[bool] = True
    """Fitted to the data: a constant forecast from it means training failed (a naive baseline may be constant)."""

    transform: FeatureTransform

    @classmethod
    def history_hours(cls, params: Mapping[str, Any]) -> int:
        """Consecutive hours of feature rows of one settlement point a prediction needs, its own hour included."""
        return 1

    @classmethod
    @abstractmethod
    def fit(
        cls,
        split: Split,
        transform: FeatureTransform,
        params: Mapping[str, Any],
        seed: int,
        n_threads: int,
        progress: Progress,
    ) -> FamilyFit:
        """Fit on split.train, early-stopped on split.val."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> ModelFamily:
        """The model `save` wrote into `directory`."""

    def baseline(self) -> str | None:
        """The naive baseline(s) this model forecasts with, if it is a baseline rather than a learned model."""
        return None

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the model's native, pickle-free files into `directory`."""

    @abstractmethod
    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p10/p50/p90 aligned to `frame`'s index (NaN where the model lacks history for a row)."""

    @property
    @abstractmethod
    def native(self) -> Any:
        """The library's own P50 model object (lgb.Booster, xgb.Booster, torch.nn.Module)."""

    @abstractmethod
    def native_input(self, frame: pd.DataFrame) -> Any:
        """What `native` takes as input for these rows."""

    @abstractmethod
    def native_output(self, input_example: Any) -> Any:
        """What `native` returns for `input_example`: the output side of the logged model's signature."""

    def log_native(self, input_example: Any, pip_requirements: list[str], bundle_dir: Path) -> None:
        """Log `native` as the model `model` of the active MLflow run, in this family's flavor, with a signature."""
        import mlflow
        from mlflow.models import infer_signature

        getattr(mlflow, self.flavor).log_model(
            self.native,
            name="model",
            signature=infer_signature(input_example, self.native_output(input_example)),
            input_example=input_example,
            pip_requirements=pip_requirements,
            **self.flavor_options,
        )


@dataclass
class FamilyFit:
    """What a family's `fit` returns to the shared trainer."""

    model: ModelFamily
    best_iteration: int
    learning_curve: dict[str, list[float]]
    feature_importance: pd.DataFrame | None


class BoosterModel(ModelFamily):
    """Gradient-boosted trees: named boosters saved one native file each; input is the booster feature frame.

    Each name holds `params["seeds"]` boosters fitted with different seeds (row and feature sampling differ), whose
    predictions are averaged: on the real validation months three seeds scored ~0.2-0.3 points of skill above one
    and varied less. The P50 booster boosts from `anchor_weight` x the anchor (`dataset.anchor`) rather than from a
    constant, so it predicts the correction to it; `predict` adds the anchor back.
    """

    model_files: ClassVar[Mapping[str, str]]
    """Booster name -> file name inside the bundle (seed 0; `seed_file` names the others); `p50` is the point model."""

    @staticmethod
    def booster_tunable(library: str, **specific: str) -> dict[str, str]:
        """The launchpad descriptions every booster family shares, with its library's own knobs."""
        return {
            "learning_rate": "Shrinkage per boosting round.",
            "num_boost_round": "Upper bound; early stopping on validation ends sooner.",
            "early_stopping_rounds": "Rounds without a validation gain before training stops.",
            "objective": f"{library} objective for the point forecast.",
            "anchor_weight": "Share of the same hour's 28-day median DART the P50 model boosts from (0: a constant).",
            **specific,
            "seeds": "Differently seeded fits averaged per quantile (1: a single fit, a third of the time).",
        }

    def __init__(
        self, transform: FeatureTransform, boosters: Mapping[str, Sequence[Any]], anchor_weight: float = 0.0
    ) -> None:
        self.transform = transform
        self.boosters = {name: list(seeded) for name, seeded in boosters.items()}
        self.anchor_weight = anchor_weight

    @property
    def native(self) -> Any:
        """The first seed's P50 booster (what MLflow logs in the library's flavor)."""
        return self.boosters["p50"][0]

    def native_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.transform.booster_frame(frame)

    def mean_prediction(self, name: str, predict: Callable[[Any], np.ndarray]) -> np.ndarray:
        """`predict(booster)` averaged over the seeds of booster `name`."""
        return np.mean([predict(booster) for booster in self.boosters[name]], axis=0)

    def save(self, directory: Path) -> None:
        for name, seeded in self.boosters.items():
            for k, booster in enumerate(seeded):
                booster.save_model(directory / seed_file(self.model_files[name], k))

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> BoosterModel:
        # Bundles saved before bagging and the anchor existed: one seed, boosted from a constant.
        seeds = range(params.get("seeds", 1))
        boosters = {
            name: [cls.read_booster(directory / seed_file(file, k)) for k in seeds]
            for name, file in cls.model_files.items()
        }
        return cls(transform, boosters, params.get("anchor_weight", 0.0))

    @classmethod
    @abstractmethod
    def read_booster(cls, path: Path) -> Any:
        """One booster back from its native file."""


BAG_SEED_STEP = 1000


def bag_seeds(seed: int, seeds: int) -> list[int]:
    """The seeds of a bag of `seeds` fits: `seed`, seed + 1000, ..."""
    return [seed + BAG_SEED_STEP * k for k in range(seeds)]


def seed_file(file: str, k: int) -> str:
    """The file of the k-th seed's booster: `file` itself for the first, "<stem>_seed<k><suffix>" after."""
    if k == 0:
        return file
    path = Path(file)
    return f"{path.stem}_seed{k}{path.suffix}"


PYFUNC_CODE = Path(__file__).with_name("bundle_pyfunc.py")


class BundleServedModel(ModelFamily):
    """A family with no single library model (a combination of models, or a rule): what MLflow registers for it is
    the bundle itself as a pyfunc model, whose `predict` is `LoadedModel.predict` (the served forecast).

    Logged as a model from code: MLflow stores `bundle_pyfunc.py` and the bundle's native files, never a pickle.
    Loading it (`mlflow.pyfunc.load_model`) needs the dart-assets package, which holds that code.
    """

    flavor = "pyfunc"

    @property
    def native(self) -> Any:
        return self

    def native_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Hourly feature rows as `LoadedModel.predict` reads them: the delivery date, the model's columns and the
        target (NaN where not known yet; known on the days before, it recalibrates the band)."""
        return frame[list(dict.fromkeys(["delivery_date", *self.transform.columns, TARGET]))]

    def native_output(self, input_example: Any) -> Any:
        return self.predict(input_example)

    def log_native(self, input_example: Any, pip_requirements: list[str], bundle_dir: Path) -> None:
        import mlflow
        from mlflow.models import infer_signature

        mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={"bundle": str(bundle_dir)},
            signature=infer_signature(input_example, self.native_output(input_example)),
            input_example=input_example,
            pip_requirements=pip_requirements,
        )


def import_for_serving(library: str) -> ModuleType:
    """`library` (lightgbm, xgboost) imported to read and predict boosters.

    Both import scikit-learn at import time only to define their scikit-learn estimator classes, which this project
    never uses (it trains and serves native Boosters): 1.4 of the 2 s an import costs, a quarter of a morning
    forecast. When neither they nor scikit-learn are loaded yet, scikit-learn is hidden while they import, so they
    skip those classes; a process that loads scikit-learn first (training: MLflow's flavors import it) is untouched.
    """
    if library in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module(library)
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # `import sklearn` now raises ImportError
    try:
        return importlib.import_module(library)
    finally:
        if sys.modules.get("sklearn", ...) is None:
            del sys.modules["sklearn"]
