"""A fake `azure.ai.ml.MLClient` that runs submitted command jobs on this machine.

It takes what the real service takes (a real `azure.ai.ml` Command, serialised to its REST form) and runs the
job's command the way a cluster node would: in the code folder, with only the job's environment variables (plus
what the image and the fake storage account provide), and reports the statuses Azure ML reports.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dart_assets_tests.fakes.azure_shim.fake_storage import ROOT_ENV

SHIM_DIR = Path(__file__).parent / "azure_shim"


@dataclass
class _Run:
    job: object
    process: subprocess.Popen
    log: Path
    canceled: bool = False


class FakeMLClient:
    """`submit_errors` are raised by create_or_update before the job exists, `errors_after_create` after it was
    created (a request that timed out on the way back), `poll_errors` by jobs.get of an existing job."""

    def __init__(self, storage_root: Path, log_dir: Path, submit_errors: list[Exception] | None = None):
        self.storage_root = storage_root
        self.log_dir = log_dir
        self.submit_errors = list(submit_errors or [])
        self.errors_after_create: list[Exception] = []
        self.poll_errors: list[Exception] = []
        self.connections: list[tuple] = []  # (credential, subscription, resource group, workspace) per MLClient()
        self.submit_attempts = 0
        self.submitted: list = []  # the Command objects as submitted (Pipes bootstrap vars merged in)
        self.runs: dict[str, _Run] = {}
        self.jobs = _FakeJobs(self)
        self.workspace_id = ""

    def connect(self, credential, subscription_id, resource_group_name, workspace_name):
        """Stands in for the `MLClient(...)` constructor."""
        self.connections.append((credential, subscription_id, resource_group_name, workspace_name))
        self.workspace_id = (
            f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{workspace_name}"
        )
        return self

    def create_or_update(self, job):
        from azure.ai.ml.entities import Command

        self.submit_attempts += 1
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        if not isinstance(job, Command):
            raise TypeError(f"expected an azure.ai.ml Command, got {type(job).__name__}")
        job._to_job()._to_rest_object()  # what the real client sends; raises on an invalid spec
        if job.name in self.runs:  # never expected: the tests count submissions, this stops a second process
            raise RuntimeError(f"fake Azure ML: job {job.name} already exists")
        self.submitted.append(job)
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",  # the environment's python
            "HOME": str(self.log_dir),
            "PYTHONPATH": str(SHIM_DIR),
            ROOT_ENV: str(self.storage_root),
            **job.environment_variables,
        }
        log = self.log_dir / f"{job.name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                shlex.split(job.command), cwd=job.code, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.runs[job.name] = _Run(job, process, log)
        if self.errors_after_create:
            raise self.errors_after_create.pop(0)
        return self.jobs.describe(job.name)

    def output(self, name: str) -> str:
        return self.runs[name].log.read_text()

    def stop_all(self) -> None:
        for run in self.runs.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


class _FakeJobs:
    def __init__(self, client: FakeMLClient):
        self.client = client

    def get(self, name: str):
        from azure.core.exceptions import ResourceNotFoundError

        if name not in self.client.runs:
            raise ResourceNotFoundError(f"job {name} not found")
        if self.client.poll_errors:
            raise self.client.poll_errors.pop(0)
        return self.describe(name)

    def describe(self, name: str):
        from azure.ai.ml.entities import CommandJob

        run = self.client.runs[name]
        code = run.process.poll()
        status = "Running" if code is None else "Canceled" if run.canceled else "Completed" if code == 0 else "Failed"
        return CommandJob(
            name=name,
            status=status,
            id=f"{self.client.workspace_id}/jobs/{name}",
            command=run.job.command,
            environment=run.job.environment,
            compute=run.job.compute,
            display_name=run.job.display_name,
            experiment_name=run.job.experiment_name,
        )

    def begin_cancel(self, name: str) -> None:
        run = self.client.runs[name]
        if run.process.poll() is None:
            run.canceled = True
            run.process.kill()
            run.process.wait()
