"""The code location's executor from the CLI: one step runs in the run's own process, several in step processes."""

import os
import subprocess
import sys

import dagster as dg


def _engine_messages(home, *select: str) -> tuple[list[str], set[str]]:
    """Materialize `select` (the transformer graph: no partitions, small) from the CLI; the run's engine messages
    and event types."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DART_")},
        "DAGSTER_HOME": str(home),
        "DART_STORAGE": str(home / "storage"),
    }
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "dart_assets.definitions"]
    subprocess.run([*command, "--select", ",".join(select)], env=env, check=True, capture_output=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = instance.all_logs(instance.get_runs(limit=1)[0].run_id)
    kinds = {e.dagster_event.event_type_value for e in events if e.dagster_event}
    engine = [e.user_message for e in events if e.dagster_event and e.dagster_event.event_type_value == "ENGINE_EVENT"]
    return engine, kinds


def test_one_step_runs_in_process_and_several_in_step_processes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")

    engine, kinds = _engine_messages(home, "transformer_load_history")
    assert any(m.startswith("Executing steps in process (pid: ") for m in engine), engine
    assert "STEP_WORKER_STARTED" not in kinds and "STEP_SUCCESS" in kinds

    engine, kinds = _engine_messages(home, "transformer_load_history", "transformer_load_model")
    assert any("multiprocess executor" in m for m in engine), engine
    assert "STEP_WORKER_STARTED" in kinds and not any(m.startswith("Executing steps in process") for m in engine)
