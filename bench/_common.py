"""Shared set-up for the benchmarks: a throwaway Dagster home and storage, and a timed subprocess."""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fresh_env(prefix: str, root: Path | None = None) -> dict[str, str]:
    """Environment for a run that touches nothing of the user's: temp DAGSTER_HOME, DART_STORAGE, MLflow store; or
    those an earlier bench run made in `root`, to go on there."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix=f"dart_bench_{prefix}_"))
        (root / "home").mkdir()
        (root / "home" / "dagster.yaml").touch()
    elif not (root / "home" / "dagster.yaml").is_file():
        raise SystemExit(f"{root}: not a bench run's folder (no home/dagster.yaml)")
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "home"),
        "DART_STORAGE": str(root / "storage"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'storage' / 'mlflow.db'}",
    }


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds


@dataclass(frozen=True)
class Measured:
    seconds: float
    largest_process_mb: float | None
    """Peak RSS of the largest single process of the command's tree (Dagster's step processes are forked by its
    forkserver, so the command's own ru_maxrss misses them); sampled every 0.2 s, None without psutil."""
    tree_peak_mb: float | None
    """Peak of the summed RSS of the whole process tree, sampled likewise."""
    output: str = ""
    """What the command printed (stdout and stderr)."""


def measured(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Measured:
    """Run `command` like `timed`, also recording its peak memory: Dagster steps run in child processes, so the
    peak of the whole tree matters, not only the CLI's own."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    largest: list[float] = []
    totals: list[float] = []
    sampler = threading.Thread(target=_sample_tree, args=(process.pid, largest, totals), daemon=True)
    sampler.start()
    output = process.stdout.read() if process.stdout else ""
    process.wait()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        sys.stderr.write(output[-6000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return Measured(seconds, max(largest, default=None), max(totals, default=None), output)


def _sample_tree(pid: int, largest: list[float], totals: list[float]) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(pid)
        while root.status() != psutil.STATUS_ZOMBIE:
            sizes = []
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    sizes.append(process.memory_info().rss / 2**20)
            largest.append(max(sizes, default=0.0))
            totals.append(sum(sizes))
            time.sleep(0.2)
    except psutil.Error:
        return


def last_run_steps(dagster_home: str) -> dict[str, float]:
    """The last run of a bench's instance, from its event log: each step's seconds (STEP_START to STEP_SUCCESS),
    the seconds from the run's first event to its first step (`before steps`: planning, one planned event per
    partition and asset, the executor and step process start-up) and the run's own length (`run`)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.all_logs(run.run_id)
    first, started, seconds = records[0].timestamp, {}, {}
    for record in records:
        kind = record.dagster_event.event_type_value if record.dagster_event else None
        if kind == "STEP_START":
            started[record.step_key] = record.timestamp
        elif kind == "STEP_SUCCESS":
            seconds[record.step_key] = round(record.timestamp - started[record.step_key], 1)
    seconds["before steps"] = round(min(started.values()) - first, 1)
    seconds["run"] = round(records[-1].timestamp - first, 1)
    return seconds


def write_json(name: str, payload: dict) -> Path:
    """The figures as JSON under .dart/bench/, with the machine and its load at the end of the run."""
    out = REPO / ".dart" / "bench" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cores": os.cpu_count(), "load_average_end": os.getloadavg(), **payload}, indent=2))
    return out


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
