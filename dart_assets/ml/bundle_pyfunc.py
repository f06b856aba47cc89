"""The MLflow pyfunc model of a bundle, logged as a model from code (`family.BundleServedModel`).

MLflow runs this file when the model is loaded (`mlflow.pyfunc.load_model`); nothing in dart-assets imports it.
Input: hourly_features rows (the day to forecast, plus the settled days before it with their `dart` for the
band); output: the served p10/p50/p90, exactly as `dart_assets.ml.artifacts.LoadedModel.predict` gives them.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext


class BundleModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        from dart_assets.ml.artifacts import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return self.bundle.predict(model_input)


mlflow.models.set_model(BundleModel())
