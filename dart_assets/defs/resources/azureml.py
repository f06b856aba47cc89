"""Training steps as Azure ML command jobs, talking to Dagster through Pipes over Azure Blob Storage.

The job runs the same entry point as the local launcher, from a snapshot of this repository, on the cluster the
step's compute tag names. Dagster writes the Pipes context to a blob, the job writes its log lines and the
materialization back as blobs, and Dagster relays them to the run. Everything authenticates with
`DefaultAzureCredential` (developer login locally, the clusters' managed identity in Azure); nothing secret is
configured here.

One job per training step of a Dagster run, never two: the job is named after the run and the family, transient
Azure errors while submitting or polling are ridden out on the same job, and a retried step (after the errors
outlasted `transient_patience_seconds`) follows the job by its name and reads its summary from the output folder.

azure-ai-ml costs ~2.5 s to import, so it is imported when a job is launched, never when the definitions load.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import dagster as dg
from pydantic import Field

from dart_assets.entrypoints.train import AZURE_BLOB_TRANSPORT, PIPES_ACCOUNT_ENV, PIPES_TRANSPORT_ENV
from dart_assets.settings import AzureMLSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
TRANSIENT_HTTP_STATUS = {408, 429, 500, 502, 503, 504}
FINISHED_STATUSES = {"Completed", "Failed", "Canceled"}
Compute = Literal["cpu", "gpu"]
T = TypeVar("T")


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
    transient_patience_seconds: float = Field(
        600.0,
        description="How long transient Azure errors (network, throttling, 5xx) are ridden out while submitting or "
        "polling a job before the step fails and its retry policy takes over (the retry follows the same job).",
    )

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
    """One job per training step of a Dagster run: a retried step finds the job an earlier attempt submitted
    (still running, or finished while Dagster lost track) by this name instead of paying for a second one."""
    return f"dart-{family}-{run_id}"


def is_transient(exc: BaseException) -> bool:
    """Network trouble or a throttled/unavailable service: worth trying again, unlike a rejected job spec."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_HTTP_STATUS


class Patience:
    """Calls to Azure ML that ride out transient errors: retried with backoff (the poll interval doubling, at most
    a minute) until `seconds` have passed since the first failure in a row, then the last error is raised."""

    def __init__(self, seconds: float, interval: float, warn: Callable[[str], None]):
        self.seconds, self.interval, self.warn = seconds, interval, warn

    def call(self, what: str, fn: Callable[[], T]) -> T:
        first_failure: float | None = None
        tries = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                if now - first_failure >= self.seconds:
                    raise
                delay = min(self.interval * 2**tries, 60.0)
                tries += 1
                self.warn(f"{what}: transient Azure error ({type(exc).__name__}: {exc}); trying again in {delay:.1f}s")
                time.sleep(delay)


def _get_or_none(ml_client: Any, name: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return ml_client.jobs.get(name)
    except ResourceNotFoundError:
        return None


def _pipes_client_class() -> type:
    """PipesAzureMLClient with transient errors ridden out: a failed submission that did create the job, and a
    failed status poll, continue with the SAME job; never a second submission. (A class built on first use:
    dagster_azure.pipes imports azure-ai-ml, ~2.5 s.)"""
    from dagster._core.errors import DagsterExecutionInterruptedError, DagsterPipesExecutionError
    from dagster._core.pipes.client import PipesClientCompletedInvocation
    from dagster._core.pipes.utils import open_pipes_session
    from dagster_azure.pipes import PipesAzureMLClient

    class ResilientPipesAzureMLClient(PipesAzureMLClient):
        def __init__(self, *, patience: Patience, **kwargs: Any):
            super().__init__(**kwargs)
            self.patience = patience

        def _status(self, job_name: str) -> str:
            return self.patience.call(f"polling Azure ML job {job_name}", lambda: self.client.jobs.get(job_name).status)

        def _poll_til_success(self, context: Any, job_name: str) -> None:
            last_observed_status = None
            while True:
                status = self._status(job_name)
                if status != last_observed_status:
                    context.log.info(f"[pipes] Azure ML job {job_name} observed state transition to {status}")
                last_observed_status = status
                if status == "Completed":
                    return
                if status in {"Canceled", "Failed"}:
                    raise DagsterPipesExecutionError(f"Error running Azure ML job: {status}")
                time.sleep(self.poll_interval_seconds)

        def _poll_til_terminating(self, job_name: str) -> None:
            while self._status(job_name) not in {"Completed", "Canceled", "Failed"}:
                time.sleep(self.poll_interval_seconds)

        def _submit(self, context: Any, command: Any) -> Any:
            """create_or_update once; after a transient failure, look the job up by name first: the failed
            request may have created it."""
            tried = False

            def submit() -> Any:
                nonlocal tried
                if tried and (found := _get_or_none(self.client, command.name)) is not None:
                    context.log.warning(
                        f"Azure ML job {command.name} was created by a submission that reported an error: "
                        "following it, not submitting a second job"
                    )
                    return found
                tried = True
                return self.client.create_or_update(command)

            return self.patience.call(f"submitting Azure ML job {command.name}", submit)

        def _cancel(self, context: Any, job_name: str) -> None:
            context.log.info("[pipes] execution interrupted, canceling Azure ML job.")
            self.patience.call(f"canceling Azure ML job {job_name}", lambda: self.client.jobs.begin_cancel(job_name))
            self._poll_til_terminating(job_name)

        def run(self, *, context: Any, extras: Any = None, command: Any) -> Any:  # type: ignore[override]
            """The parent's run, submitting through _submit."""
            with open_pipes_session(
                context=context,
                extras=extras,
                context_injector=self.context_injector,
                message_reader=self.message_reader,
            ) as pipes_session:
                command.environment_variables = {
                    **command.environment_variables,
                    **pipes_session.get_bootstrap_env_vars(),
                }
                job = self._submit(context, command)
                try:
                    self._poll_til_success(context, job.name)
                except DagsterExecutionInterruptedError:
                    if self.forward_termination:
                        self._cancel(context, job.name)
            return PipesClientCompletedInvocation(pipes_session, metadata={"AzureML Job Name": job.name})

        def follow(self, context: Any, job_name: str) -> None:
            """Poll a job an earlier attempt of this step submitted until it ends (cancelling it if interrupted);
            its Pipes messages went to that attempt, its summary is in the output folder."""
            try:
                self._poll_til_success(context, job_name)
            except DagsterPipesExecutionError:
                pass  # the caller reports the final status
            except DagsterExecutionInterruptedError:
                if self.forward_termination:
                    self._cancel(context, job_name)

    return ResilientPipesAzureMLClient


def run_job(
    context: dg.AssetExecutionContext, config: AzureMLConfig, job: Any
) -> tuple[dg.MaterializeResult | None, str]:
    """Run `job` under Pipes and relay its logs; return what it reported and its studio URL. A job that did not
    complete fails the step.

    If a job of this name exists already (an earlier attempt of the step submitted it, then lost it to transient
    errors), it is followed instead, and the report is None: the caller reads the summary from the output folder.
    A cancelled Dagster run cancels the job (forward_termination). Transient Azure errors are ridden out for
    `transient_patience_seconds`, then propagate so the asset's RetryPolicy retries the step (which finds the job
    by name); anything else fails the step without retries.
    """
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient
    from dagster_azure.pipes import PipesAzureBlobStorageContextInjector, PipesAzureBlobStorageMessageReader

    credential = DefaultAzureCredential()
    ml_client = MLClient(credential, config.subscription_id, config.resource_group, config.workspace)
    blobs = BlobServiceClient(config.pipes_account_url, credential=credential)
    patience = Patience(config.transient_patience_seconds, config.poll_interval_seconds, context.log.warning)
    pipes = _pipes_client_class()(
        client=ml_client,
        context_injector=PipesAzureBlobStorageContextInjector(container=config.pipes_container, client=blobs),
        # A fresh reader per launch: it counts the message chunks it has read.
        message_reader=PipesAzureBlobStorageMessageReader(
            container=config.pipes_container, client=blobs, interval=config.poll_interval_seconds
        ),
        poll_interval_seconds=config.poll_interval_seconds,
        forward_termination=True,
        patience=patience,
    )
    earlier = patience.call(f"looking up Azure ML job {job.name}", lambda: _get_or_none(ml_client, job.name))
    if earlier is not None:
        context.log.warning(
            f"Azure ML job {job.name} was submitted by an earlier attempt of this step ({earlier.status}): "
            f"following it instead of submitting a second job; its log lines are in the studio: {earlier.studio_url}"
        )
        pipes.follow(context, job.name)
        return None, _fail_unless_completed(ml_client, job.name, patience).studio_url
    context.log.info(f"submitting Azure ML job {job.name} to {job.compute} ({job.environment})")
    try:
        invocation = pipes.run(context=context, command=job)
    except Exception as exc:
        if is_transient(exc):
            raise
        _fail_unless_completed(ml_client, job.name, patience, exc)
        raise dg.Failure(
            f"Azure ML job {job.name} completed, but Dagster lost track of it: {exc}", allow_retries=False
        ) from exc
    finished = _fail_unless_completed(ml_client, job.name, patience)  # a forwarded cancel: run() returns normally
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


def _fail_unless_completed(ml_client: Any, name: str, patience: Patience, cause: BaseException | None = None) -> Any:
    """The finished job, or a non-retried step failure naming the job, its status and its studio page."""
    try:
        job = patience.call(f"reading Azure ML job {name}", lambda: ml_client.jobs.get(name))
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
