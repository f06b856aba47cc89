"""Whether the browser tests use, install or skip Chromium (the decision only; apt-get itself is never run here)."""

from __future__ import annotations

import subprocess

import pytest

from . import chromium


@pytest.mark.parametrize(
    ("chromium_present", "driver_present", "is_root", "apt_get", "action"),
    [
        (True, True, False, None, "use"),  # installed: nothing to do, whoever runs the tests
        (True, True, True, "/usr/bin/apt-get", "use"),
        (False, False, True, "/usr/bin/apt-get", "install"),  # the fresh Debian machine of the README
        (True, False, True, "/usr/bin/apt-get", "install"),  # chromedriver alone missing
        (False, True, True, "/usr/bin/apt-get", "install"),
        (False, False, False, "/usr/bin/apt-get", "skip"),  # not root
        (False, False, True, None, "skip"),  # no apt (not Debian)
        (False, True, False, None, "skip"),
    ],
)
def test_plan_uses_installs_or_skips(chromium_present, driver_present, is_root, apt_get, action) -> None:
    assert chromium.plan(chromium_present, driver_present, is_root, apt_get).action == action


def test_skip_reasons_are_one_line_and_say_what_is_missing_and_why() -> None:
    no_root = chromium.plan(False, True, False, "/usr/bin/apt-get").reason
    no_apt = chromium.plan(True, False, True, None).reason
    assert no_root == (
        "/usr/bin/chromium missing; installing Debian's chromium chromium-driver needs root (sudo apt-get)"
    )
    assert no_apt == "/usr/bin/chromedriver missing and no apt-get to install Debian's chromium chromium-driver"
    assert "\n" not in no_root + no_apt


def test_install_plan_names_both_missing_files() -> None:
    reason = chromium.plan(False, False, True, "/usr/bin/apt-get").reason
    assert reason == (
        "/usr/bin/chromium and /usr/bin/chromedriver missing: "
        "installing Debian's chromium chromium-driver with apt-get (once)"
    )


def test_failed_apt_get_raises_with_its_output(tmp_path, monkeypatch) -> None:
    """An install that was attempted and failed is an error naming the command and apt's words, never a skip."""
    fake_apt = tmp_path / "apt-get"
    fake_apt.write_text("#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n")
    fake_apt.chmod(0o755)
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(chromium.subprocess, "run", lambda argv, **kw: calls.append(argv) or real_run(argv, **kw))
    with pytest.raises(RuntimeError, match=r"apt-get update -qq` exited with 100:\nE: Unable to locate package"):
        chromium.apt_install(str(fake_apt))
    assert calls == [[str(fake_apt), "update", "-qq"]]  # stops at the first failure


def test_apt_install_updates_then_installs_both_packages_non_interactively(tmp_path, monkeypatch) -> None:
    log = tmp_path / "apt.log"
    fake_apt = tmp_path / "apt-get"
    fake_apt.write_text(f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {log}\n')
    fake_apt.chmod(0o755)
    installed = tmp_path / "chromium"
    installed.touch()
    monkeypatch.setattr(chromium, "CHROMIUM", str(installed))
    chromium.apt_install(str(fake_apt))
    assert log.read_text().splitlines() == [
        "noninteractive update -qq",
        "noninteractive install -y -qq chromium chromium-driver",
    ]
    installed.unlink()
    with pytest.raises(RuntimeError, match="still missing"):
        chromium.apt_install(str(fake_apt))
