"""CI gate over `pip-audit` of the installed dependencies (the environment CI just built from pyproject.toml).

    python .ci/pip_audit_gate.py                   run pip-audit on this interpreter's environment, then judge
    python .ci/pip_audit_gate.py --report r.json   judge a saved `pip-audit --format json` report

Fails (exit 1) on any known vulnerability not accepted in .ci/pip-audit-allowlist.toml, and on an allowlist entry
without a reason. Does NOT fail when the advisory data cannot be reached (no network, or a package index mirror
that does not serve PyPI's per-release JSON): it says so loudly, with how many packages went unchecked, so a green
run is never mistaken for a clean audit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ALLOWLIST = Path(__file__).with_name("pip-audit-allowlist.toml")
# pip-audit's skip reason for a package whose advisory record could not be fetched (not on the index it reached).
UNAUDITED = "could not be audited"
# Installed from this checkout, not from an index: nothing to look up.
LOCAL_PROJECTS = {"dart-assets"}


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    lines: list[str]


def load_allowlist(path: Path) -> dict[str, dict[str, str]]:
    """Accepted vulnerability id -> its entry (package, reason, review_by)."""
    entries = tomllib.loads(path.read_text()).get("accepted", []) if path.exists() else []
    return {str(entry.get("id", "")): entry for entry in entries}


def judge(report: dict, allowlist: dict[str, dict[str, str]]) -> Verdict:
    lines: list[str] = []
    bad = [f"{key or '(no id)'}: needs a non-empty reason" for key, e in allowlist.items() if not e.get("reason")]
    dependencies = [d for d in report.get("dependencies", []) if d.get("name") not in LOCAL_PROJECTS]
    unaudited = [d for d in dependencies if UNAUDITED in str(d.get("skip_reason", ""))]
    audited = [d for d in dependencies if "skip_reason" not in d]
    findings, accepted, seen = [], [], set()
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            seen |= ids
            entry = next((allowlist[i] for i in ids if i in allowlist), None)
            fix = ", ".join(vuln.get("fix_versions") or []) or "none"
            label = f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in: {fix})"
            (accepted if entry else findings).append(label + (f" - accepted: {entry['reason']}" if entry else ""))
    lines += [f"VULNERABLE {f}" for f in findings]
    lines += [f"accepted   {a}" for a in accepted]
    lines += [f"ALLOWLIST  {b}" for b in bad]
    lines += [
        f"note: allowlist entry {key} matched nothing installed; remove it" for key in allowlist if key not in seen
    ]
    if unaudited and not audited:
        lines.append(
            f"WARNING: pip-audit reached no advisory data: all {len(unaudited)} packages went UNCHECKED "
            f"(e.g. {unaudited[0]['name']}: {unaudited[0]['skip_reason']}). This is NOT a clean audit; run it where "
            "pypi.org's JSON API (or --vulnerability-service osv) is reachable."
        )
    elif unaudited:
        names = ", ".join(sorted(d["name"] for d in unaudited))
        lines.append(f"WARNING: {len(unaudited)} packages could not be checked: {names}")
    lines.append(
        f"pip-audit: {len(audited)} packages checked, {len(findings)} unaccepted vulnerabilities, "
        f"{len(accepted)} accepted, {len(unaudited)} unchecked"
    )
    return Verdict(1 if findings or bad else 0, lines)


def run_pip_audit() -> dict | None:
    """pip-audit's JSON report of this environment, or None (with its error shown) if it produced none."""
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        print(done.stderr.strip()[-2000:], file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, help="a saved `pip-audit --format json` report")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text()) if args.report else run_pip_audit()
    if report is None:
        print("WARNING: pip-audit produced no report (advisory data unreachable?): dependencies UNCHECKED")
        return 0
    verdict = judge(report, load_allowlist(args.allowlist))
    print("\n".join(verdict.lines))
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
