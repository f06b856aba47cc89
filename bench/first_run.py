"""Wall time of the README's first command after the install: `dart-assets quickstart` on the built-in data.

Goal (issue 8): under 90 s on a 2-core machine. Prints the total and the quickstart's own per-phase timings.

    python bench/first_run.py
"""

import subprocess
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _common import fresh_env, machine


def main() -> None:
    env = fresh_env("first_run")
    print(f"machine: {machine()}")
    started = time.perf_counter()
    result = subprocess.run(["dart-assets", "quickstart"], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit("quickstart failed")
    phases = [line for line in result.stdout.splitlines() if line.startswith("timings:")]
    print(phases[-1] if phases else "(no phase timings printed)")
    verdict = "OK" if seconds < 90 else "OVER"
    print(f"first run (dart-assets quickstart) wall time: {seconds:.1f} s   goal < 90 s   {verdict}")


if __name__ == "__main__":
    main()
