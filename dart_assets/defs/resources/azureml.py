"""Training steps as Azure ML command jobs, talking to Dagster through Pipes over Azure Blob Storage.

The job runs the same entry point as the local launcher, from a snapshot of this repository, on the cluster the
step's compute tag names. Dagster writes the Pipes context to a blob, the job writes its log lines and the
materialization back as blobs, and Dagster relays them to the run. Everything authenticates with
`DefaultAzureCredential` (developer login locally, the clusters' managed identity in Azure); nothing secret is
configured here.

azure-ai-ml costs ~2.5 s to import, so it is imported when a job is launched, never when the definitions load.
"""

from __future__ import annotations

import dataclasses
import shlex
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from dart_assets.entrypoints.train import AZURE_BLOB_TRANSPORT, PIPES_ACCOUNT_ENV, PIPES_TRANSPORT_ENV
from dart_assets.settings import AzureMLSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
TRANSIENT_HTTP_STATUS = {408, 429, 500, 502, 503, 504}
FINISHED_STATUSES = {"Completed", "Failed", "Canceled"}
Compute = Literal["cpu", "gpu"]


class AzureMLConfig(dg.Config):
    """Which workspace, clusters and environments the training jobs use, and where Pipes exchanges its blobs.

    Built from the settings (`from_settings`), which hold the defaults.
    """

    subscription_id: str
    resource_group: str
    workspace: str
    cpu_cluster: str
    gpu_cluster: str
    cpu_environment: str
    gpu_environment: str
    pipes_account_url: str = Field(
        description="Blob endpoint for the Pipes context and messages, e.g. https://<account>.blob.core.windows.net"
    )
    pipes_container: str = Field(description="Container for the Pipes blobs; Dagster and the job both write there.")
    identity_client_id: str | None = Field(
        description="Client id of the clusters' user-assigned identity: "
        "AZURE_CLIENT_ID inside the job, so DefaultAzureCredential picks it.",
    )
    n_threads: int = Field(4, description="Trainer threads: a job has its cluster node to itself.")
    poll_interval_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: AzureMLSettings, **overrides: Any) -> AzureMLConfig:
        return cls(**{**dataclasses.asdict(settings), **overrides})

    def cluster(self, compute: Compute) -> str:
        return {"cpu": self.cpu_cluster, "gpu": self.gpu_cluster}[compute]

    def environment(self, compute: Compute) -> str:
        return {"cpu": self.cpu_environment, "gpu": self.gpu_environment}[compute]


def build_command_job(
    config: AzureMLConfig,
    *,
    compute: Compute,
    argv: list[str],
    env: dict[str, str],
    name: str,
    display_name: str,
    experiment_name: str,
    tags: dict[str, str],
):
    """The Azure ML command job for one training step (PipesAzureMLClient adds the Pipes bootstrap env vars)."""
    from azure.ai.ml import command
    from azure.ai.ml.entities import ManagedIdentityConfiguration

    job_env = {**env, PIPES_TRANSPORT_ENV: AZURE_BLOB_TRANSPORT, PIPES_ACCOUNT_ENV: config.pipes_account_url}
    if config.identity_client_id:
        job_env["AZURE_CLIENT_ID"] = config.identity_client_id
    return command(
        name=name,
        display_name=display_name,
        experiment_name=experiment_name,
        tags=tags,
        command=shlex.join(["python", *argv]),
        code=str(REPO_ROOT),
        environment=config.environment(compute),
        compute=config.cluster(compute),
        environment_variables=job_env,
        identity=ManagedIdentityConfiguration(),
    )


def job_name(family: str, run_id: str) -> str:
    """Unique per attempt (a retried step submits a new job); starts with the family so the studio list reads well."""
    return f"dart-{family}-{run_id[:8]}-{uuid.uuid4().hex[:8]}"


def is_transient(exc: BaseException) -> bool:
    """Network trouble or a throttled/unavailable service: worth a step retry, unlike a rejected job spec."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_HTTP_STATUS


def run_job(context: dg.AssetExecutionContext, config: AzureMLConfig, job: Any) -> tuple[dg.MaterializeResult, str]:
    """Submit `job` under Pipes and relay its logs; return what it reported and its studio URL. A job that did not
    complete fails the step.

    A cancelled Dagster run cancels the job (forward_termination). Transient Azure errors propagate unchanged
    so the asset's RetryPolicy can retry the step; anything else fails the step without retries.
    """
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient
    from dagster_azure.pipes import (
        PipesAzureBlobStorageContextInjector,
        PipesAzureBlobStorageMessageReader,
        PipesAzureMLClient,
    )

    credential = DefaultAzureCredential()
    ml_client = MLClient(credential, config.subscription_id, config.resource_group, config.workspace)
    blobs = BlobServiceClient(config.pipes_account_url, credential=credential)
    pipes = PipesAzureMLClient(
        client=ml_client,
        context_injector=PipesAzureBlobStorageContextInjector(container=config.pipes_container, client=blobs),
        # A fresh reader per launch: it counts the message chunks it has read.
        message_reader=PipesAzureBlobStorageMessageReader(
            container=config.pipes_container, client=blobs, interval=config.poll_interval_seconds
        ),
        poll_interval_seconds=config.poll_interval_seconds,
        forward_termination=True,
    )
    context.log.info(f"submitting Azure ML job {job.name} to {job.compute} ({job.environment})")
    try:
        invocation = pipes.run(context=context, command=job)
    except Exception as exc:
        if is_transient(exc):
            raise
        _fail_unless_completed(ml_client, job.name, exc)
        raise dg.Failure(
            f"Azure ML job {job.name} completed, but Dagster lost track of it: {exc}", allow_retries=False
        ) from exc
    finished = _fail_unless_completed(ml_client, job.name)  # after a forwarded cancel, run() returns normally
    return invocation.get_materialize_result(), finished.studio_url


def cancel_jobs(config: AzureMLConfig, names: list[str], warn: Callable[[str], None]) -> None:
    """Cancel those of `names` that have not finished; best effort (a job that cannot be cancelled is reported)."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    ml_client = MLClient(DefaultAzureCredential(), config.subscription_id, config.resource_group, config.workspace)
    for name in list(names):
        try:
            if ml_client.jobs.get(name).status not in FINISHED_STATUSES:
                ml_client.jobs.begin_cancel(name)
                warn(f"cancelled Azure ML job {name}")
        except Exception as exc:
            warn(f"could not cancel Azure ML job {name}: {type(exc).__name__}: {exc}")


def _fail_unless_completed(ml_client: Any, name: str, cause: BaseException | None = None) -> Any:
    """The finished job, or a non-retried step failure naming the job, its status and its studio page."""
    try:
        job = ml_client.jobs.get(name)
    except Exception as lookup_error:
        if cause is None:
            raise
        raise dg.Failure(
            f"Azure ML job {name} could not be submitted or tracked: {cause}", allow_retries=False
        ) from lookup_error
    if job.status == "Completed":
        return job
    raise dg.Failure(
        description=f"Azure ML job {name} ended {job.status}; logs: {job.studio_url}",
        metadata={
            "azureml_job_name": name,
            "azureml_status": job.status,
            "azureml_job": dg.MetadataValue.url(job.studio_url or ""),
        },
        allow_retries=False,
    ) from cause
