"""Real server processes for tests: free ports, readiness polling, and a teardown that leaves nothing running.

Each server starts in its own session (`start_new_session=True`), so its process group holds it and everything it
forks. Teardown sends SIGTERM to the groups in waves (clients before the database they use), waits, then SIGKILLs
whatever is left: by group, and by an environment marker for any process that left its group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def get_json(url: str, body: dict | None = None, timeout: float = 5) -> dict:
    """GET (or POST `body` as JSON) and decode the JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def processes_of(pgids: set[int], marker: str | None = None) -> list[str]:
    """Live (non-zombie) processes in one of the groups, or carrying `marker` (NAME=value) in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
            if state == "Z":
                continue
            ours = int(pgrp) in pgids or (
                marker is not None and marker.encode() in (entry / "environ").read_bytes().split(b"\0")
            )
            if ours:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
                found.append(f"{entry.name}: {cmd}")
        except (OSError, ValueError):
            continue
    return found


def stop_groups(waves: Sequence[Sequence[subprocess.Popen]], marker: str, grace_s: float = 20) -> list[str]:
    """Stop process groups wave by wave (e.g. the clients, then their database): SIGTERM every group of a wave, wait
    up to `grace_s`, SIGKILL what is left of it; finally SIGKILL any process carrying `marker`. Returns survivors."""
    for wave in waves:
        pgids = {process.pid for process in wave}
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and processes_of(pgids):
            for process in wave:
                process.poll()  # reap the direct children as soon as they exit
            time.sleep(0.2)
        _kill(processes_of(pgids))
        for process in wave:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
    everyone = {process.pid for wave in waves for process in wave}
    _kill(processes_of(everyone, marker))
    return processes_of(everyone, marker)


def _kill(processes: list[str]) -> None:
    for line in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
    if processes:
        time.sleep(1)
