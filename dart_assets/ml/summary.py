"""What one training run reports: a typed record, with a JSON form to cross a process boundary (Dagster Pipes).

The same record comes back from a local training step and from an Azure ML job, so the asset's metadata and its
`candidate_sanity` check are computed from one type, whichever way the model was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class TrainingSummary:
    family: str
    mlflow_run_id: str
    bundle_uri: str
    """runs:/<run>/bundle: the bundle in the MLflow run, what promotion registers."""
    output_uri: str
    """The folder (local or abfss://) the trainer also copied the bundle into."""
    metrics: dict[str, float]
    comparison_md: str
    """Test-set metrics of the model and the naive baselines, as a Markdown table."""
    n_train: int
    n_val: int
    n_test: int
    split_boundaries: dict[str, str]
    best_iteration: int
    train_seconds: float
    feature_importance_md: str | None
    plot_png_base64: str
    mlflow_run_url: str | None = None
    """A link to the run (the MLflow UI) or where to browse it; set by whoever knows the UI's address."""
    azureml_job_url: str | None = None
    """The Azure ML studio page of the job that trained the model, when one did."""
    per_point_md: str = ""
    """Test metrics per settlement point and pooled (skill, sign accuracy, coverage...), as a Markdown table."""
    serving: dict[str, Any] = field(default_factory=dict)
    """The serving rules chosen on validation (`ml.serving.ServingRules`), as stored with the model."""

    def with_links(self, mlflow_run_url: str | None = None, azureml_job_url: str | None = None) -> TrainingSummary:
        return replace(
            self,
            mlflow_run_url=mlflow_run_url or self.mlflow_run_url,
            azureml_job_url=azureml_job_url or self.azureml_job_url,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able wire form (what the training job reports through Pipes)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingSummary:
        return cls(**data)
