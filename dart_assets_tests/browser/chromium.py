"""Debian's Chromium for the browser tests: use it, install it once (root + apt-get), or say why the tests skip.

The README's `pytest -q` on a fresh Debian machine must pass with no manual step, so the browser fixture installs
`chromium chromium-driver` itself when it can. Where it cannot (not root, no apt-get), the browser tests skip with
a one-line reason; an install that was attempted and failed is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = ("chromium", "chromium-driver")
APT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Plan:
    action: str  # "use", "install" or "skip"
    reason: str


def plan(chromium_present: bool, chromedriver_present: bool, is_root: bool, apt_get: str | None) -> Plan:
    """What the browser fixture does on this machine (pure: the caller looks at the machine)."""
    if chromium_present and chromedriver_present:
        return Plan("use", f"{CHROMIUM} is installed")
    missing = " and ".join(
        name for name, present in ((CHROMIUM, chromium_present), (CHROMEDRIVER, chromedriver_present)) if not present
    )
    if apt_get is None:
        return Plan("skip", f"{missing} missing and no apt-get to install Debian's {' '.join(PACKAGES)}")
    if not is_root:
        return Plan("skip", f"{missing} missing; installing Debian's {' '.join(PACKAGES)} needs root (sudo apt-get)")
    return Plan("install", f"{missing} missing: installing Debian's {' '.join(PACKAGES)} with apt-get (once)")


def machine_plan() -> Plan:
    return plan(
        chromium_present=Path(CHROMIUM).exists(),
        chromedriver_present=Path(CHROMEDRIVER).exists() or shutil.which("chromedriver") is not None,
        is_root=os.geteuid() == 0,
        apt_get=shutil.which("apt-get"),
    )


def apt_install(apt_get: str) -> None:
    """`apt-get update` then install the packages, non-interactively; raises with apt's last lines on failure."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt_get, "update", "-qq"], [apt_get, "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(argv)}` exited with {done.returncode}:\n{tail}")
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"apt-get installed {' '.join(PACKAGES)} but {CHROMIUM} is still missing")
