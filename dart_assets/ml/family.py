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

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
    flavor: ClassVar[str]
    """MLflow flavor the P50 model is logged in (`mlflow.<flavor>.log_model`); also the asset's kind in the UI."""
    flavor_options: ClassVar[Mapping[str, Any]] = {}
    """Extra arguments of the flavor's log_model."""
    compute: ClassVar[Literal["cpu", "gpu"]] = "cpu"
    """Where training runs best: the asset's `dart/compute` tag, which picks the Azure ML cluster."""
    default_params: ClassVar[Mapping[str, Any]]
    """Every hyperparameter with its default; callers may override any of them, and only them."""
    tunable: ClassVar[Mapping[str, str]]
    """The hyperparameters offered per run (the Dagster launchpad), with what each one does."""

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

    def log_native(self, input_example: Any, pip_requirements: list[str]) -> None:
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
    """Gradient-boosted trees: named boosters saved one native file each; input is the booster feature frame."""

    model_files: ClassVar[Mapping[str, str]]
    """Booster name -> file name inside the bundle; `p50` is the point model."""

    def __init__(self, transform: FeatureTransform, boosters: Mapping[str, Any]) -> None:
        self.transform = transform
        self.boosters = dict(boosters)

    @property
    def native(self) -> Any:
        return self.boosters["p50"]

    def native_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.transform.booster_frame(frame)

    def save(self, directory: Path) -> None:
        for name, booster in self.boosters.items():
            booster.save_model(directory / self.model_files[name])

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> BoosterModel:
        return cls(transform, {name: cls.read_booster(directory / file) for name, file in cls.model_files.items()})

    @classmethod
    @abstractmethod
    def read_booster(cls, path: Path) -> Any:
        """One booster back from its native file."""
