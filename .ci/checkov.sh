#!/usr/bin/env bash
# Static security scan of infra/terraform with checkov, fully offline.
#
#   bash .ci/checkov.sh
#
# checkov pins versions that conflict with the project's own dependencies, so
# it lives in its own venv, .venv-checkov at the repo root, created on first
# use (pip, through the machine's configured index). The scan itself needs no
# network: --skip-download (no platform/policy download) and the stack uses no
# external modules. Exits non-zero on any failed check, and also when checkov
# cannot run or scanned nothing. Skips live in the .tf files, next to the
# resource, each with its written reason (#checkov:skip=CKV_...:<reason>).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/checkov" ]; then
    echo "checkov.sh: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'checkov>=3.3,<4' >&2
fi

cd "$ROOT"
echo "checkov $("$VENV/bin/checkov" --version) on infra/terraform"

# Terraform's CLI (which checkov may call) warns about a missing ~/.terraformrc;
# an empty config is all the scan needs.
if [ -z "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$HOME/.terraformrc" ]; then
    export TF_CLI_CONFIG_FILE="$VENV/terraformrc"
    : > "$TF_CLI_CONFIG_FILE"
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
"$VENV/bin/checkov" \
    -d infra/terraform \
    --framework terraform \
    --skip-download \
    --quiet \
    --compact \
    2>&1 | tee "$report" || status=$?

if [ "$status" -ne 0 ]; then
    echo "checkov.sh: FAILED (checkov exit $status)" >&2
    exit "$status"
fi
if ! grep -Eq 'Passed checks: [1-9][0-9]*, Failed checks: 0,' "$report"; then
    echo "checkov.sh: FAILED (no 'Passed checks: N, Failed checks: 0' summary: nothing scanned?)" >&2
    exit 1
fi
echo "checkov.sh: OK"
