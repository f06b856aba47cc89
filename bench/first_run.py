"""Wall time and peak memory of the README's first command after the install: `dart-assets quickstart` on the
built-in data.

Goal (issues 8 and 15): under 90 s on a 2-core machine; its peak memory reported (the largest process, and the sum
over its process tree: the quickstart, the forkserver and the parallel training steps). Prints the total, the
quickstart's own per-phase timings and the memory; JSON in .dart/bench/first_run.json.

    python bench/first_run.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine, measured, write_json


def main() -> None:
    env = fresh_env("first_run")
    at_start = machine()
    print(f"machine: {at_start}")
    run = measured(["dart-assets", "quickstart"], env)
    phases = [line for line in run.output.splitlines() if line.startswith("timings:")]
    print(phases[-1] if phases else "(no phase timings printed)")
    verdict = "OK" if run.seconds < 90 else "OVER"
    print(f"first run (dart-assets quickstart) wall time: {run.seconds:.1f} s   goal < 90 s   {verdict}")
    if run.largest_process_mb is None or run.tree_peak_mb is None:
        print("peak memory: not sampled (no psutil)")
    else:
        print(f"peak memory: {run.largest_process_mb:,.0f} MB in one process, {run.tree_peak_mb:,.0f} MB over its tree")
    out = write_json(
        "first_run.json",
        {
            "machine": at_start,
            "seconds": round(run.seconds, 1),
            "phases": phases[-1] if phases else None,
            "largest_process_mb": round(run.largest_process_mb or 0),
            "tree_peak_mb": round(run.tree_peak_mb or 0),
        },
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
