"""XGBoost family: a median point model boosted from the anchor (base_margin) plus one two-output quantile model
(P10, P90), early-stopped on validation. As for LightGBM, the saved P50 booster predicts the correction to the
anchor and `predict` adds it back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from dart_assets.ml.dataset import ANCHOR_WEIGHT, TARGET, FeatureTransform, anchor, quantile_frame
from dart_assets.ml.family import BoosterModel, FamilyFit, Progress, bag_seeds, import_for_serving

if TYPE_CHECKING:
    import xgboost as xgb

    from dart_assets.common.split import Split

DEFAULT_PARAMS = {
    # Absolute error fits the median: robust to DART spikes and aligned with the MAE the runs are scored on. The tree
    # settings are issue 12's research's (walk-forward months on real ERCOT data).
    "objective": "reg:absoluteerror",
    "learning_rate": 0.03,
    "max_depth": 4,
    "min_child_weight": 20.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
    "num_boost_round": 600,
    "early_stopping_rounds": 60,
    "seeds": 3,  # fits averaged per booster (see family.BoosterModel)
    # The P50 model starts from this share of the same hour's 28-day median DART (base_margin), see lgbm.py.
    "anchor_weight": ANCHOR_WEIGHT,
    "log_every": 50,
}
TREE_PARAMS = ("learning_rate", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda")
QUANTILE_ALPHA = [0.1, 0.9]


class XgbModel(BoosterModel):
    name = "xgb"
    label = "XGBoost"
    training_cost_rank = 4
    library = "xgboost"
    flavor = "xgboost"
    default_params = DEFAULT_PARAMS
    tunable: ClassVar[Mapping[str, str]] = BoosterModel.booster_tunable(
        "XGBoost",
        max_depth="Deepest tree.",
        min_child_weight="Least hessian weight in a child.",
    )
    model_files: ClassVar[Mapping[str, str]] = {"p50": "xgb_p50.json", "quantiles": "xgb_p10_p90.json"}
    flavor_options: ClassVar[Mapping[str, Any]] = {"model_format": "json"}

    @classmethod
    def read_booster(cls, path: Path) -> xgb.Booster:
        return import_for_serving("xgboost").Booster(model_file=path)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        anchored, plain = (
            _matrix(self.transform, frame, anchor_weight=self.anchor_weight),
            _matrix(self.transform, frame),
        )
        p50 = self.mean_prediction("p50", lambda b: b.predict(anchored))
        bands = self.mean_prediction("quantiles", lambda b: b.predict(plain)).reshape(len(frame), len(QUANTILE_ALPHA))
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

        tree_params = {k: params[k] for k in TREE_PARAMS}
        common = {**tree_params, "tree_method": "hist", "nthread": n_threads, "verbosity": 0}
        weight = params["anchor_weight"]
        objectives = {
            "p50": ({"objective": params["objective"], "eval_metric": "mae"}, weight),
            "quantiles": (
                {
                    "objective": "reg:quantileerror",
                    "quantile_alpha": np.array(QUANTILE_ALPHA),
                    "eval_metric": "quantile",
                },
                0.0,
            ),
        }
        matrices = {
            name: tuple(
                _matrix(transform, rows, labelled=True, anchor_weight=init) for rows in (split.train, split.val)
            )
            for name, (_, init) in objectives.items()
        }
        boosters: dict[str, list[xgb.Booster]] = {name: [] for name in objectives}
        curves: dict[str, dict] = {}
        for bag_seed in bag_seeds(seed, params["seeds"]):
            for name, (objective, _) in objectives.items():
                train, val = matrices[name]
                curve: dict = {}
                boosters[name].append(
                    xgb.train(
                        {**common, "seed": bag_seed, **objective},
                        train,
                        num_boost_round=params["num_boost_round"],
                        evals=[(train, "train"), (val, "val")],
                        evals_result=curve,
                        verbose_eval=False,
                        callbacks=[
                            xgb.callback.EarlyStopping(
                                rounds=params["early_stopping_rounds"], data_name="val", save_best=True
                            ),
                            _progress(f"{name} seed {bag_seed}", params["log_every"], progress),
                        ],
                    )
                )
                curves.setdefault(name, curve)  # the first seed's learning curve is the one plotted
        gains = [b.get_score(importance_type="total_gain") for b in boosters["p50"]]
        importance = pd.DataFrame(
            {"feature": transform.columns, "gain": [np.mean([g.get(c, 0.0) for g in gains]) for c in transform.columns]}
        )
        return FamilyFit(
            model=cls(transform, boosters, weight),
            best_iteration=round(np.mean([b.num_boosted_rounds() for b in boosters["p50"]])),
            learning_curve={"train": curves["p50"]["train"]["mae"], "val": curves["p50"]["val"]["mae"]},
            feature_importance=importance.sort_values("gain", ascending=False, ignore_index=True),
        )


def _matrix(
    transform: FeatureTransform, rows: pd.DataFrame, labelled: bool = False, anchor_weight: float = 0.0
) -> xgb.DMatrix:
    """Category codes are declared categorical ("c") so trees split on sets of points/hours, not on code order.
    A non-zero `anchor_weight` starts the trees from that share of the anchor (base_margin)."""
    import xgboost as xgb

    features = transform.booster_frame(rows)
    return xgb.DMatrix(
        features.to_numpy(),
        label=rows[TARGET].to_numpy(dtype="float64") if labelled else None,
        base_margin=anchor(rows, anchor_weight) if anchor_weight else None,
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
