"""Security properties read off the repository itself: no credential is committed, models are only loaded from
formats that cannot run code, and the UI is served on localhost unless an operator decides otherwise."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "dart_assets"

# Shapes of real credentials. Test fakes (dart_assets_tests/) are exempt from the URI and assignment rules only.
CREDENTIALS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Azure storage key": re.compile(r"AccountKey=[A-Za-z0-9+/]{20,}"),
    "SAS signature": re.compile(r"[?&]sig=[A-Za-z0-9%+/]{20,}"),
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
}
_SECRET_NAME = (
    r"\b\w*(?:[Pp]assword|PASSWORD|[Ss]ecret|SECRET|[Tt]oken|TOKEN|"
    r"(?:[Aa]pi|API|[Ss]ubscription|SUBSCRIPTION|[Ss]torage|STORAGE|[Aa]ccount|ACCOUNT|[Aa]ccess|ACCESS)_(?:[Kk]ey|KEY))\b"
)
FAKE_ONLY = {
    # user:password@ with a real-looking password (placeholders such as user:password@ or ${VAR} are fine).
    "password in a URI": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?!\$\{|<|\*|password@|pass@)[^/\s@'\"]{3,}@"),
    # A literal given to something named like a secret: a quoted string (not an environment variable's NAME), or
    # an unquoted value in a KEY=value / key: value line.
    "assigned secret": re.compile(
        _SECRET_NAME
        + r"\s*[=:]\s*(?:(['\"])(?![$<{])(?![A-Z0-9_]+\1)[^'\"\s]{8,}\1|(?![$<{'\"\[(]|\w+\.)[^\s,()]{8,}$)"
    ),
}
# Names, not values: Key Vault entries and settings whose *names* carry the word.
NAMES = re.compile(r"\b(secret_name|name|content_type)\s*=")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    paths = [REPO / line for line in listed.splitlines()]
    return [p for p in paths if p.is_file() and p.suffix not in {".parquet", ".zip", ".xlsx", ".png", ".mp4"}]


def test_no_credential_is_committed():
    found = []
    for path in tracked_text_files():
        if path == Path(__file__).resolve():
            continue  # the scanner's own examples below
        text = path.read_text(errors="replace")
        rules = dict(CREDENTIALS)
        if "dart_assets_tests" not in path.parts:
            rules |= FAKE_ONLY
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, pattern in rules.items():
                if pattern.search(line) and not (kind == "assigned secret" and NAMES.search(line)):
                    found.append(f"{path.relative_to(REPO)}:{number}: {kind}: {line.strip()[:100]}")
    assert found == []


@pytest.mark.parametrize(
    ("line", "caught"),
    [
        ("MLFLOW_TRACKING_URI=https://desk:hunter22@mlflow.internal", True),
        ("ERCOT_API_PASSWORD=Tr0ub4dor&3xyz", True),
        ('  password: "Tr0ub4dor&3"', True),
        ("ERCOT_PUBLIC_API_SUBSCRIPTION_KEY=0123456789abcdef", True),
        ("conn = 'AccountName=dartlake;AccountKey=c2VjcmV0LWtleS1vZi10aGUtYWNjb3VudA=='", True),
        ("-----BEGIN RSA PRIVATE KEY-----", True),
        ('PASSWORD_VAR = "ERCOT_API_PASSWORD"', False),  # a variable's name
        ("password: {env: DART_PG_PASSWORD}", False),
        ("DART_PG_PASSWORD=", False),
        ("MLFLOW_TRACKING_URI=https://user:password@host", False),  # a placeholder
        ("administrator_password = random_password.postgres.result", False),
    ],
)
def test_the_scan_tells_credentials_from_references(line, caught):
    rules = {**CREDENTIALS, **FAKE_ONLY}
    assert any(p.search(line) for p in rules.values()) is caught


def test_env_files_with_values_are_ignored_and_the_example_has_none():
    assert "deploy/.env" in (REPO / ".gitignore").read_text().splitlines()
    tracked = {p.name for p in tracked_text_files()}
    assert ".env" not in tracked
    example = (REPO / "deploy" / ".env.example").read_text().splitlines()
    assert "DART_PG_PASSWORD=" in example  # the operator fills it in deploy/.env


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_models_load_only_from_formats_that_cannot_run_code(path):
    """No pickle in any form; torch only with weights_only=True; MLflow's flavors (pickle underneath for some) are
    logged for the registry and the UI, never loaded back."""
    tree = ast.parse(path.read_text())
    unsafe_modules = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "skops"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & unsafe_modules, ast.unparse(node)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in unsafe_modules, ast.unparse(node)
    for call, name in _calls(tree):
        text = ast.unparse(call)
        assert not name.endswith(("read_pickle", "to_pickle")), text
        assert not (name.startswith("mlflow.") and name.endswith("load_model")), text
        if name == "torch.load":
            keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
            assert keywords.get("weights_only") == "True", text
        if name.endswith(("np.load", "numpy.load")):
            assert "allow_pickle=True" not in text, text


def test_the_ui_binds_to_localhost_unless_configured():
    """`dagster dev` and `dagster-webserver` default to 127.0.0.1; the documented commands keep it, and the
    containers publish on DART_BIND_ADDRESS, 127.0.0.1 unless set (test_deploy_config checks the compose file)."""
    from dagster_webserver.cli import DEFAULT_WEBSERVER_HOST

    assert DEFAULT_WEBSERVER_HOST == "127.0.0.1"
    for doc in (REPO / "README.md", REPO / "deploy" / "README.md"):
        for line in doc.read_text().splitlines():
            if re.search(r"dagster(-webserver| dev)\b", line):
                assert not re.search(r"(-h|--host)\s+0\.0\.0\.0", line), f"{doc.name}: {line}"
