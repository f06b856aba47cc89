"""LightGBM family: a median-ish point model plus P10/P90 quantile models, each early-stopped on validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from dart_assets.ml.dataset import TARGET, FeatureTransform, quantile_frame
from dart_assets.ml.family import BoosterModel, FamilyFit, Progress

if TYPE_CHECKING:
    import lightgbm as lgb

    from dart_assets.common.split import Split

DEFAULT_PARAMS = {
    # Huber keeps price spikes from dominating the fit while staying smooth near zero; "alpha" is Huber's delta
    # in $/MWh. On the synthetic frames L2/Huber/L1 were within ~1-2% test MAE; real DART spikes are far fatter.
    "objective": "huber",
    "alpha": 5.0,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "num_boost_round": 1000,
    "early_stopping_rounds": 50,
    "log_every": 50,
}
QUANTILES = {"p10": 0.1, "p90": 0.9}


class LgbmModel(BoosterModel):
    name = "lgbm"
    label = "LightGBM"
    library = "lightgbm"
    flavor = "lightgbm"
    default_params = DEFAULT_PARAMS
    tunable: ClassVar[Mapping[str, str]] = {
        "learning_rate": "Shrinkage per boosting round.",
        "num_boost_round": "Upper bound; early stopping on validation ends sooner.",
        "early_stopping_rounds": "Rounds without a validation gain before training stops.",
        "objective": "LightGBM objective for the point forecast.",
        "num_leaves": "Leaves per tree.",
        "min_data_in_leaf": "Fewest training rows in a leaf.",
    }
    model_files: ClassVar[Mapping[str, str]] = {"p50": "lgbm_p50.txt", "p10": "lgbm_p10.txt", "p90": "lgbm_p90.txt"}

    @classmethod
    def read_booster(cls, path: Path) -> lgb.Booster:
        import lightgbm as lgb

        return lgb.Booster(model_file=path)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        inputs = self.native_input(frame)
        p10, p50, p90 = (self.boosters[name].predict(inputs) for name in ("p10", "p50", "p90"))
        return quantile_frame(frame.index, p10, p50, p90)

    def native_output(self, input_example: Any) -> Any:
        return self.native.predict(input_example)

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
        import lightgbm as lgb

        train = _dataset(transform, split.train)
        val = _dataset(transform, split.val, reference=train)
        objectives = [("p50", {"objective": params["objective"], "alpha": params["alpha"], "metric": "l1"})] + [
            (name, {"objective": "quantile", "alpha": alpha, "metric": "quantile"}) for name, alpha in QUANTILES.items()
        ]
        boosters, curves = {}, {}
        for name, objective in objectives:
            curve: dict = {}
            booster = lgb.train(
                {**_booster_params(params, seed, n_threads), **objective},
                train,
                num_boost_round=params["num_boost_round"],
                valid_sets=[train, val],
                valid_names=["train", "val"],
                callbacks=[
                    lgb.early_stopping(params["early_stopping_rounds"], first_metric_only=True, verbose=False),
                    lgb.record_evaluation(curve),
                    _progress_callback(name, params["log_every"], progress),
                ],
            )
            boosters[name] = _truncated(booster)
            curves[name] = curve
        importance = pd.DataFrame(
            {"feature": transform.columns, "gain": boosters["p50"].feature_importance(importance_type="gain")}
        ).sort_values("gain", ascending=False, ignore_index=True)
        return FamilyFit(
            model=cls(transform, boosters),
            best_iteration=boosters["p50"].num_trees(),
            learning_curve={"train": curves["p50"]["train"]["l1"], "val": curves["p50"]["val"]["l1"]},
            feature_importance=importance,
        )


def _booster_params(params: Mapping[str, Any], seed: int, n_threads: int) -> dict:
    tree_params = {
        k: params[k] for k in ("learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction", "lambda_l2")
    }
    return {
        **tree_params,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": n_threads,
        "verbosity": -1,
    }


def _dataset(transform: FeatureTransform, rows: pd.DataFrame, reference: lgb.Dataset | None = None) -> lgb.Dataset:
    import lightgbm as lgb

    return lgb.Dataset(
        transform.booster_frame(rows),
        label=rows[TARGET].to_numpy(dtype="float64"),
        categorical_feature=transform.categorical,
        reference=reference,
        free_raw_data=False,
    )


def _truncated(booster: lgb.Booster) -> lgb.Booster:
    """The booster cut at its best iteration, rebuilt from its own model string: what is saved is exactly what
    training evaluated, so a reloaded bundle reproduces the test predictions bit for bit."""
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration or None))


def _progress_callback(name: str, every: int, progress: Progress) -> Callable[[lgb.callback.CallbackEnv], None]:
    def report(env: lgb.callback.CallbackEnv) -> None:
        if (env.iteration + 1) % every == 0:
            scores = ", ".join(
                f"{data} {metric}={value:.4f}"
                for data, metric, value, *_ in env.evaluation_result_list or []
                if data == "val"
            )
            progress(f"lgbm {name} iteration {env.iteration + 1}: {scores}")

    return report
