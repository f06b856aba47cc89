"""The code location's executor: Dagster's multiprocess executor, except that a run of ONE step runs it in the run's
own process.

A step process only pays off when steps run side by side (the five trainings). For a run of one step (the morning
forecast from `dagster asset materialize`, one model retrained, a forecast backfill: one step over many partitions)
it only adds its start-up: the forkserver importing the project and MLflow before it forks the step, about 4 s of a
10 s forecast. The step then runs exactly as Dagster's in-process executor runs it (instance pools included); runs
of several steps are the multiprocess executor's, unchanged.
"""

from collections.abc import Iterator

import dagster as dg
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import InProcessExecutor


class OneStepInProcessExecutor(Executor):
    def __init__(self, several_steps: Executor) -> None:
        self._several_steps = several_steps

    @property
    def retries(self) -> RetryMode:
        return self._several_steps.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._several_steps.step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        if len(execution_plan.step_keys_to_execute) == 1:
            return InProcessExecutor(self.retries, self.step_dependency_config).execute(plan_context, execution_plan)
        return self._several_steps.execute(plan_context, execution_plan)


MULTIPROCESS = dg.multiprocess_executor


@dg.executor(
    name="multiprocess",
    config_schema=MULTIPROCESS.config_schema.as_field(),
    requirements=MULTIPROCESS.get_requirements,
)
def multiprocess_unless_one_step(init_context: dg.InitExecutorContext) -> Executor:
    """Dagster's multiprocess executor (same configuration), running a one-step run in process."""
    assert MULTIPROCESS.executor_creation_fn is not None  # the decorator always sets it
    return OneStepInProcessExecutor(MULTIPROCESS.executor_creation_fn(init_context))
