"""Peak memory of everything a shell runs while this sampler runs beside it: CI starts it before README command 2
(the test suite) and stops it after, so every CI run reports the suite's peak.

    python bench/peak_memory.py --pid $$ --label "test suite" --json suite_memory.json & sampler=$!
    pytest -q
    kill -TERM $sampler; wait $sampler

Samples every 0.5 s the RSS of each descendant of --pid (this sampler excluded): the largest single process (a
pytest worker, a Dagster step process, a PostgreSQL or MLflow server a test started) and the sum over the tree.
Prints both on SIGTERM/SIGINT and writes them as JSON under .dart/bench/.
"""

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="the shell whose descendants are sampled")
    parser.add_argument("--label", required=True)
    parser.add_argument("--json", required=True, help="file name under .dart/bench/")
    args = parser.parse_args()
    root, me = psutil.Process(args.pid), os.getpid()
    started, at_start = time.perf_counter(), machine()
    largest = total = 0.0
    largest_name = ""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        sizes = []
        with contextlib.suppress(psutil.Error):
            for process in root.children(recursive=True):
                if process.pid == me:
                    continue
                with contextlib.suppress(psutil.Error):
                    sizes.append((process.memory_info().rss / 2**20, process.name()))
        if sizes:
            biggest = max(sizes)
            if biggest[0] > largest:
                largest, largest_name = biggest
            total = max(total, sum(size for size, _ in sizes))
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    print(
        f"{args.label}: peak memory {largest:,.0f} MB in one process ({largest_name}), {total:,.0f} MB summed over "
        f"its processes, sampled every 0.5 s for {seconds:,.0f} s"
    )
    out = write_json(
        args.json,
        {
            "machine": at_start,
            "label": args.label,
            "largest_process_mb": round(largest),
            "largest_process_name": largest_name,
            "tree_peak_mb": round(total),
            "seconds": round(seconds),
        },
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
