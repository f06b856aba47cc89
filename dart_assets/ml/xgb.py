"""XGBoost family: a point model plus one two-output quantile model (P10, P90), early-stopped on validation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from dart_assets.ml.dataset import TARGET, FeatureTransform, quantile_frame
from dart_assets.ml.family import BoosterModel, FamilyFit, Progress

if TYPE_CHECKING:
    import xgboost as xgb

    from dart_assets.common.split import Split

DEFAULT_PARAMS = {
    # Absolute error fits the median: robust to DART spikes and aligned with the MAE the runs are scored on.
    # On the synthetic frames squared/pseudo-Huber/absolute error were within ~1-3% test MAE of each other.
    "objective": "reg:absoluteerror",
    "learning_rate": 0.05,
    "max_depth": 6,
    "min_child_weight": 5.0,
    "colsample_bytree": 0.9,
    "reg_lambda": 1.0,
    "num_boost_round": 1000,
    "early_stopping_rounds": 50,
    "log_every": 50,
}
QUANTILE_ALPHA = [0.1, 0.9]


class XgbModel(BoosterModel):
    name = "xgb"
    label = "XGBoost"
    library = "xgboost"
    flavor = "xgboost"
    default_params = DEFAULT_PARAMS
    tunable: ClassVar[Mapping[str, str]] = {
        "learning_rate": "Shrinkage per boosting round.",
        "num_boost_round": "Upper bound; early stopping on validation ends sooner.",
        "early_stopping_rounds": "Rounds without a validation gain before training stops.",
        "objective": "XGBoost objective for the point forecast.",
        "max_depth": "Deepest tree.",
        "min_child_weight": "Least hessian weight in a child.",
    }
    model_files: ClassVar[Mapping[str, str]] = {"p50": "xgb_p50.json", "quantiles": "xgb_p10_p90.json"}
    flavor_options: ClassVar[Mapping[str, Any]] = {"model_format": "json"}

    @classmethod
    def read_booster(cls, path: Path) -> xgb.Booster:
        import xgboost as xgb

        return xgb.Booster(model_file=path)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        matrix = _matrix(self.transform, frame)
        p50 = self.boosters["p50"].predict(matrix)
        bands = self.boosters["quantiles"].predict(matrix).reshape(len(frame), len(QUANTILE_ALPHA))
        return quantile_frame(frame.index, bands[:, 0], p50, bands[:, 1])

    def native_output(self, input_example: Any) -> Any:
        import xgboost as xgb

        matrix = xgb.DMatrix(
            input_example.to_numpy(),
            feature_names=self.native.feature_names,
            feature_types=self.native.feature_types,
            enable_categorical=True,
        )
        return self.native.predict(matrix)

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
        import xgboost as xgb

        train, val = _matrix(transform, split.train, labelled=True), _matrix(transform, split.val, labelled=True)
        tree_params = {
            k: params[k] for k in ("learning_rate", "max_depth", "min_child_weight", "colsample_bytree", "reg_lambda")
        }
        common = {**tree_params, "tree_method": "hist", "seed": seed, "nthread": n_threads, "verbosity": 0}
        objectives = {
            "p50": {"objective": params["objective"], "eval_metric": "mae"},
            "quantiles": {
                "objective": "reg:quantileerror",
                "quantile_alpha": np.array(QUANTILE_ALPHA),
                "eval_metric": "quantile",
            },
        }
        boosters, curves = {}, {}
        for name, objective in objectives.items():
            curve: dict = {}
            boosters[name] = xgb.train(
                {**common, **objective},
                train,
                num_boost_round=params["num_boost_round"],
                evals=[(train, "train"), (val, "val")],
                evals_result=curve,
                verbose_eval=False,
                callbacks=[
                    xgb.callback.EarlyStopping(rounds=params["early_stopping_rounds"], data_name="val", save_best=True),
                    _progress(name, params["log_every"], progress),
                ],
            )
            curves[name] = curve
        gain = boosters["p50"].get_score(importance_type="total_gain")
        importance = pd.DataFrame({"feature": transform.columns, "gain": [gain.get(c, 0.0) for c in transform.columns]})
        return FamilyFit(
            model=cls(transform, boosters),
            best_iteration=boosters["p50"].num_boosted_rounds(),
            learning_curve={"train": curves["p50"]["train"]["mae"], "val": curves["p50"]["val"]["mae"]},
            feature_importance=importance.sort_values("gain", ascending=False, ignore_index=True),
        )


def _matrix(transform: FeatureTransform, rows: pd.DataFrame, labelled: bool = False) -> xgb.DMatrix:
    """Category codes are declared categorical ("c") so trees split on sets of points/hours, not on code order."""
    import xgboost as xgb

    features = transform.booster_frame(rows)
    return xgb.DMatrix(
        features.to_numpy(),
        label=rows[TARGET].to_numpy(dtype="float64") if labelled else None,
        feature_names=list(features.columns),
        feature_types=["c" if c in transform.categorical else "q" for c in features.columns],
        enable_categorical=True,
    )


def _progress(name: str, every: int, progress: Progress) -> xgb.callback.TrainingCallback:
    """A callback reporting validation scores every `every` rounds (built here: xgboost loads only when training)."""
    import xgboost as xgb

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
            if (epoch + 1) % every == 0:
                scores = ", ".join(f"val {metric}={values[-1]:.4f}" for metric, values in evals_log["val"].items())
                progress(f"xgb {name} iteration {epoch + 1}: {scores}")
            return False

    return Report()
