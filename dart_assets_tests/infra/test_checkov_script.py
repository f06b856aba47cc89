""".ci/checkov.sh: a separate venv for checkov, an offline scan of infra/terraform, non-zero on any failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, TERRAFORM

SCRIPT = REPO / ".ci" / "checkov.sh"
VENV = REPO / ".venv-checkov"


def test_script_is_valid_bash_and_executable() -> None:
    assert SCRIPT.exists()
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_script_uses_its_own_venv_and_scans_offline() -> None:
    text = SCRIPT.read_text()
    assert "set -euo pipefail" in text
    assert "'checkov>=3.3,<4'" in text
    assert "/.venv-checkov" in text and "-m venv" in text
    for flag in ("-d infra/terraform", "--framework terraform", "--skip-download", "--quiet", "--compact"):
        assert flag in text, flag
    assert "Failed checks: 0" in text  # refuses a run that scanned nothing


def test_terraform_uses_no_external_modules() -> None:
    """Offline scanning (and --skip-download) only works without registry/git modules."""
    for path in TERRAFORM.glob("*.tf"):
        assert "module " not in path.read_text(), path.name


needs_checkov = pytest.mark.skipif(
    not (VENV / "bin" / "checkov").exists(), reason="no .venv-checkov (bash .ci/checkov.sh creates it)"
)


def run_script(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHECKOV_VENV": str(VENV)}
    return subprocess.run(
        ["bash", str(root / ".ci" / "checkov.sh")], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.mark.slow
@needs_checkov
def test_checkov_passes_on_the_stack() -> None:
    result = run_script(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0," in result.stdout


@pytest.mark.slow
@needs_checkov
def test_checkov_fails_the_script_on_a_failed_check(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    shutil.copy(SCRIPT, tmp_path / ".ci" / "checkov.sh")
    shutil.copytree(TERRAFORM, tmp_path / "infra" / "terraform")
    (tmp_path / "infra" / "terraform" / "bad.tf").write_text("""
resource "azurerm_storage_account" "bad" {
  name                            = "badpublicaccount"
  resource_group_name             = "rg"
  location                        = "southcentralus"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_0"
  allow_nested_items_to_be_public = true
}
""")
    result = run_script(tmp_path)
    assert result.returncode != 0
    assert "FAILED for resource: azurerm_storage_account.bad" in result.stdout
