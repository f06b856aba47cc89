""".ci/pip_audit_gate.py: CI fails on a known vulnerability nobody accepted with a reason, and says loudly when the
advisory data could not be reached instead of passing as if the audit were clean."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib

import pytest

from .conftest import REPO

SCRIPT = REPO / ".ci" / "pip_audit_gate.py"
spec = importlib.util.spec_from_file_location("pip_audit_gate", SCRIPT)
gate = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = gate  # a script, not a package module: registered so its dataclass resolves
spec.loader.exec_module(gate)

# pip-audit 2.10's JSON report shape (`pip-audit --format json`).
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"]}],
}
CLEAN = {"name": "pandas", "version": "2.3.3", "vulns": []}
UNREACHABLE = {
    "name": "mlflow",
    "skip_reason": "Dependency not found on PyPI and could not be audited: mlflow (3.17.2)",
}
THIS_PROJECT = {"name": "dart-assets", "skip_reason": "Dependency not found on PyPI and could not be audited: x"}


def verdict(*dependencies, allowlist=None):
    return gate.judge({"dependencies": list(dependencies), "fixes": []}, allowlist or {})


def test_an_unaccepted_vulnerability_fails_ci_naming_it_and_its_fix():
    result = verdict(VULNERABLE, CLEAN)
    assert result.exit_code == 1
    assert "VULNERABLE jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3)" in result.lines
    assert result.lines[-1] == "pip-audit: 2 packages checked, 1 unaccepted vulnerabilities, 0 accepted, 0 unchecked"


def test_an_accepted_vulnerability_passes_with_its_reason_shown():
    reason = "Only the xmlattr filter is affected; no template here renders user input."
    result = verdict(VULNERABLE, allowlist={"CVE-2024-22195": {"package": "jinja2", "reason": reason}})
    assert result.exit_code == 0
    assert f"accepted   jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3) - accepted: {reason}" in result.lines


def test_an_allowlist_entry_without_a_reason_fails_and_a_stale_one_is_pointed_out():
    result = verdict(CLEAN, allowlist={"GHSA-xxxx": {"package": "x", "reason": ""}})
    assert result.exit_code == 1
    assert "ALLOWLIST  GHSA-xxxx: needs a non-empty reason" in result.lines
    assert "note: allowlist entry GHSA-xxxx matched nothing installed; remove it" in result.lines


def test_unreachable_advisory_data_passes_but_says_nothing_was_checked():
    """What this machine gets: the index answers, but not with PyPI's per-release advisory JSON."""
    result = verdict(UNREACHABLE, THIS_PROJECT)
    assert result.exit_code == 0
    assert result.lines[0].startswith("WARNING: pip-audit reached no advisory data: all 1 packages went UNCHECKED")
    assert "NOT a clean audit" in result.lines[0]
    partly = verdict(UNREACHABLE, CLEAN)
    assert partly.exit_code == 0 and "WARNING: 1 packages could not be checked: mlflow" in partly.lines


def test_main_judges_a_saved_report(tmp_path, capsys):
    report = tmp_path / "audit.json"
    report.write_text(json.dumps({"dependencies": [VULNERABLE], "fixes": []}))
    empty = tmp_path / "allowlist.toml"
    empty.write_text("")
    assert gate.main(["--report", str(report), "--allowlist", str(empty)]) == 1
    assert "VULNERABLE jinja2" in capsys.readouterr().out


def test_the_committed_allowlist_parses_and_every_entry_has_a_reason():
    entries = tomllib.loads(gate.ALLOWLIST.read_text()).get("accepted", [])
    assert all(e.get("id") and e.get("package") and e.get("reason") and e.get("review_by") for e in entries)


@pytest.mark.parametrize("needle", ["python .ci/pip_audit_gate.py", "bash .ci/checkov.sh"])
def test_ci_runs_the_audit_and_the_infra_scan(needle):
    assert needle in (REPO / ".ci" / "run").read_text()
    assert any(
        d.startswith("pip-audit")
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    )
